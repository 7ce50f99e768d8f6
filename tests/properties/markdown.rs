//! Rendered Markdown carries no script, no event handler and no
//! `javascript:` URL, whatever the editor typed, and rendering never
//! panics, however deep the nesting.

use katalog::render::markdown::to_html;
use proptest::prelude::*;

use crate::corpus;

/// The attributes of every tag in sanitised HTML, as (tag, name, value).
/// The serialiser escapes `<` in text and `"` in values, so a `<` always
/// opens a tag and a value always ends at the next `"`.
fn attributes(html: &str) -> Vec<(String, String, String)> {
    let mut found = Vec::new();
    for tag in html.split('<').skip(1) {
        let mut rest = tag.trim_start_matches('/');
        let name_end = rest.find(|c: char| c.is_whitespace() || c == '>' || c == '/').unwrap_or(rest.len());
        let tag_name = rest[..name_end].to_ascii_lowercase();
        rest = &rest[name_end..];
        loop {
            rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
            if rest.is_empty() || rest.starts_with('>') {
                break;
            }
            let name_end = rest.find(|c: char| c.is_whitespace() || c == '=' || c == '>').unwrap_or(rest.len());
            let name = rest[..name_end].to_ascii_lowercase();
            rest = &rest[name_end..];
            let mut value = String::new();
            if let Some(quoted) = rest.strip_prefix("=\"") {
                let end = quoted.find('"').unwrap_or(quoted.len());
                value = quoted[..end].to_owned();
                rest = &quoted[(end + 1).min(quoted.len())..];
            }
            found.push((tag_name.clone(), name, value));
        }
    }
    found
}

fn renders_safely(markdown: &str) {
    let html = to_html(markdown);
    let lower = html.to_ascii_lowercase();
    assert!(!lower.contains("<script"), "a script survived: {html}");
    assert!(!lower.contains("<iframe") && !lower.contains("<object") && !lower.contains("<embed"), "an embedding survived: {html}");
    for (tag, name, value) in attributes(&html) {
        assert!(!name.starts_with("on"), "an event handler survived on <{tag}>: {html}");
        assert!(name != "style", "a style attribute survived on <{tag}>: {html}");
        let value: String = value.chars().filter(|c| !c.is_whitespace() && !c.is_control()).collect::<String>().to_ascii_lowercase();
        assert!(
            !value.contains("javascript:") && !value.contains("vbscript:") && !value.starts_with("data:"),
            "a script URL survived in <{tag} {name}>: {html}"
        );
    }
}

#[test]
fn the_corpus_renders_safely() {
    for (name, bytes) in corpus("markdown") {
        let markdown = String::from_utf8(bytes).unwrap_or_else(|_| panic!("{name} is UTF-8"));
        renders_safely(&markdown);
    }
}

#[test]
fn the_attribute_reader_finds_what_it_checks() {
    let found = attributes(r#"<p><a href="https://x.example/?a=&quot;b" rel="noopener">x</a><img src="y.png" alt="on=1"></p>"#);
    let names: Vec<_> = found.iter().map(|(tag, name, _)| format!("{tag} {name}")).collect();
    assert_eq!(names, ["a href", "a rel", "img src", "img alt"]);
}

/// Markdown and HTML pieces that attacks are made of.
fn hostile_markdown() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("<script>alert(1)</script>"),
        Just("<scr<script>ipt>"),
        Just("<img src=x onerror=alert(1)>"),
        Just("<a href=\"javascript:alert(1)\">x</a>"),
        Just("[x](javascript:alert(1))"),
        Just("[x](JaVaScRiPt&#58;alert(1))"),
        Just("[x](java\tscript:alert(1))"),
        Just("![x](javascript:alert(1))"),
        Just("[x]: javascript:alert(1)\n"),
        Just("<svg onload=alert(1)>"),
        Just("<iframe src=//x>"),
        Just("<div style=\"background:url(javascript:x)\">"),
        Just("<a href=\"data:text/html;base64,PHNjcmlwdD4=\">d</a>"),
        Just("<!-- "),
        Just(" -->"),
        Just("<"),
        Just(">"),
        Just("\""),
        Just("`"),
        Just("```\n"),
        Just("> "),
        Just("- "),
        Just("1. "),
        Just("**"),
        Just("|a|b|\n|-|-|\n"),
        Just("\n"),
        Just("\n\n"),
        Just("    "),
        Just("[link](https://example.org \"t\")"),
        Just("&#x6A;avascript:"),
    ];
    let text = "\\PC{0,20}";
    prop::collection::vec(prop_oneof![3 => piece.prop_map(str::to_owned), 1 => text], 0..60).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn hostile_markdown_renders_safely(markdown in hostile_markdown()) {
        renders_safely(&markdown);
    }

    #[test]
    fn any_text_renders_safely(markdown in "\\PC{0,500}") {
        renders_safely(&markdown);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    // Nested block containers would cost the parser time quadratic in their
    // depth; the renderer opens at most `MAX_NESTING` of them per line, so
    // any depth renders in moments.
    #[test]
    fn deep_nesting_renders(opener in prop::sample::select(vec!["> ", "- ", "1. ", "  - ", "> - ", "<div>"]), depth in 1usize..20_000) {
        renders_safely(&format!("{}text", opener.repeat(depth)));
    }

    #[test]
    fn deep_inline_nesting_renders(opener in prop::sample::select(vec!["*", "[", "<b><i>", "`", "![", "<a href=x>"]), depth in 1usize..20_000) {
        renders_safely(&format!("{}text", opener.repeat(depth)));
    }
}
