//! Markdown fields to HTML: CommonMark (with tables and strikethrough) by
//! pulldown-cmark, then sanitised by ammonia, so that no script, event
//! handler or `javascript:` URL survives whatever an editor typed.

use std::sync::LazyLock;

use pulldown_cmark::{Options, Parser};

static SANITIZER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut builder = ammonia::Builder::default();
    builder.link_rel(Some("noopener noreferrer"));
    builder
});

pub fn to_html(markdown: &str) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let mut html = String::with_capacity(markdown.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, Parser::new_ext(markdown, options));
    SANITIZER.clean(&html).to_string()
}

/// The words of Markdown without markup, for formats that carry none (RDF
/// literals): block ends become line breaks, raw HTML is dropped.
pub fn to_plain_text(markdown: &str) -> String {
    use pulldown_cmark::{Event, TagEnd};
    let mut text = String::with_capacity(markdown.len());
    for event in Parser::new_ext(markdown, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH) {
        match event {
            Event::Text(words) | Event::Code(words) => text.push_str(&words),
            Event::SoftBreak => text.push(' '),
            Event::HardBreak | Event::End(TagEnd::Paragraph | TagEnd::Item | TagEnd::Heading(_) | TagEnd::TableRow | TagEnd::CodeBlock) => text.push('\n'),
            _ => {}
        }
    }
    text.lines().map(str::trim).filter(|line| !line.is_empty()).collect::<Vec<_>>().join("\n")
}

/// Every Markdown field of a document rendered, by field name.
pub fn fields_to_html(content_type: &crate::content::ContentType, fields: &serde_json::Value) -> std::collections::BTreeMap<String, String> {
    content_type.markdown_fields.iter().filter_map(|field| Some((field.clone(), to_html(fields.get(field)?.as_str()?)))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
