//! Markdown fields to HTML: CommonMark (with tables and strikethrough) by
//! pulldown-cmark, then sanitised by ammonia, so that no script, event
//! handler or `javascript:` URL survives whatever an editor typed.

use std::borrow::Cow;
use std::sync::LazyLock;

use pulldown_cmark::{Options, Parser};

/// How many block containers (block quotes, list items) one line may open.
/// The parser's time grows with the square of the depth (20,000 levels take
/// seconds), and no reader follows a text nested a hundred levels deep.
pub const MAX_NESTING: usize = 100;

static SANITIZER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut builder = ammonia::Builder::default();
    builder.link_rel(Some("noopener noreferrer"));
    builder
});

pub fn to_html(markdown: &str) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let mut html = String::with_capacity(markdown.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, Parser::new_ext(&with_bounded_nesting(markdown), options));
    SANITIZER.clean(&html).to_string()
}

/// The words of Markdown without markup, for formats that carry none (RDF
/// literals): block ends become line breaks, raw HTML is dropped.
pub fn to_plain_text(markdown: &str) -> String {
    use pulldown_cmark::{Event, TagEnd};
    let mut text = String::with_capacity(markdown.len());
    for event in Parser::new_ext(&with_bounded_nesting(markdown), Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH) {
        match event {
            Event::Text(words) | Event::Code(words) => text.push_str(&words),
            Event::SoftBreak => text.push(' '),
            Event::HardBreak | Event::End(TagEnd::Paragraph | TagEnd::Item | TagEnd::Heading(_) | TagEnd::TableRow | TagEnd::CodeBlock) => text.push('\n'),
            _ => {}
        }
    }
    text.lines().map(str::trim).filter(|line| !line.is_empty()).collect::<Vec<_>>().join("\n")
}

/// Markdown whose lines open at most [`MAX_NESTING`] containers: a marker
/// beyond that is escaped and reads as text.
pub fn with_bounded_nesting(markdown: &str) -> Cow<'_, str> {
    if !markdown.lines().any(|line| excess_marker(line).is_some()) {
        return Cow::Borrowed(markdown);
    }
    let mut bounded = String::with_capacity(markdown.len() + 16);
    for line in markdown.split_inclusive('\n') {
        match excess_marker(line) {
            Some(at) => {
                bounded.push_str(&line[..at]);
                bounded.push('\\');
                bounded.push_str(&line[at..]);
            }
            None => bounded.push_str(line),
        }
    }
    Cow::Owned(bounded)
}

/// The byte offset of the first container marker at the start of `line`
/// beyond [`MAX_NESTING`]: of `>`, of a bullet `-`, `*` or `+`, or of the
/// `.` or `)` after an ordered item's number.
pub fn excess_marker(line: &str) -> Option<usize> {
    let bytes = line.as_bytes();
    let spaced = |at: usize| bytes.get(at).is_none_or(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
    let (mut at, mut depth) = (0, 0);
    loop {
        while bytes.get(at).is_some_and(|b| *b == b' ' || *b == b'\t') {
            at += 1;
        }
        let marker = match *bytes.get(at)? {
            b'>' => at,
            b'-' | b'*' | b'+' if spaced(at + 1) => at,
            b'0'..=b'9' => {
                let digits = bytes[at..].iter().take_while(|b| b.is_ascii_digit()).count();
                let end = at + digits;
                if digits > 9 || !matches!(bytes.get(end), Some(b'.' | b')')) || !spaced(end + 1) {
                    return None;
                }
                end
            }
            _ => return None,
        };
        depth += 1;
        if depth > MAX_NESTING {
            return Some(marker);
        }
        at = marker + 1;
    }
}

/// Every Markdown field of a document rendered, by field name.
pub fn fields_to_html(content_type: &crate::content::ContentType, fields: &serde_json::Value) -> std::collections::BTreeMap<String, String> {
    content_type.markdown_fields.iter().filter_map(|field| Some((field.clone(), to_html(fields.get(field)?.as_str()?)))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_beyond_the_bound_read_as_text() {
        for opener in ["> ", "- ", "* ", "1. ", "  - ", "> - ", "3) "] {
            let markdown = format!("{}deep", opener.repeat(20_000));
            let html = to_html(&markdown);
            let opened = html.matches("<blockquote>").count() + html.matches("<li>").count();
            assert!(opened <= MAX_NESTING, "{opener:?}: {opened} containers");
            assert!(html.contains("deep"), "{opener:?}: the text is kept");
        }
        let shallow = "> quote\n- item\n1. first\n-not a marker\n";
        assert!(matches!(with_bounded_nesting(shallow), Cow::Borrowed(_)));
        assert_eq!(excess_marker("> ".repeat(MAX_NESTING).as_str()), None);
        assert_eq!(excess_marker(&format!("{}> x", "> ".repeat(MAX_NESTING))), Some(2 * MAX_NESTING));
    }

    #[test]
    fn renders_markdown() {
        let html = to_html("## Unterlagen\n\n- Ausweis\n- **Foto**\n\n[Termin](https://example.org)");
        assert!(html.contains("<h2>Unterlagen</h2>"));
        assert!(html.contains("<li><strong>Foto</strong></li>"));
        assert!(html.contains("href=\"https://example.org\""));
        assert!(html.contains("rel=\"noopener noreferrer\""));
    }

    #[test]
    fn plain_text_keeps_the_words_only() {
        let text = to_plain_text("Bringen Sie **Ausweis** und\n`Foto` mit.\n\n- eins\n- zwei <b>drei</b>\n\n<script>x()</script>");
        assert_eq!(text, "Bringen Sie Ausweis und Foto mit.\neins\nzwei drei");
    }

    #[test]
    fn nothing_executable_survives() {
        let attacks = [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "[klick](javascript:alert(1))",
            "<a href=\"javascript:alert(1)\">x</a>",
            "<iframe src=\"https://evil.example\"></iframe>",
            "<svg onload=alert(1)>",
            "<a href=\"JaVaScRiPt:alert(1)\">x</a>",
            "<div style=\"background:url(javascript:alert(1))\">x</div>",
        ];
        for attack in attacks {
            let html = to_html(attack).to_lowercase();
            for forbidden in ["<script", "onerror", "onload", "javascript:", "<iframe", "style="] {
                assert!(!html.contains(forbidden), "{attack} → {html}");
            }
        }
    }

    #[test]
    fn deep_nesting_renders_without_overflow() {
        for depth in [10_000usize] {
            // "- - - item": each marker opens a list inside the previous one.
            let nested_lists = "- ".repeat(depth) + "item";
            let nested_quotes = ">".repeat(depth) + " deep";
            let nested_html = "<div>".repeat(depth) + "text";
            for markdown in [nested_lists, nested_quotes, nested_html] {
                let run = std::thread::Builder::new().stack_size(2 << 20).spawn(move || to_html(&markdown).len()).unwrap();
                assert!(run.join().is_ok(), "rendering {depth} levels overflowed a 2 MiB stack");
            }
        }
    }
}
