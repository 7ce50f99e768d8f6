//! Escaping text for HTML and XML: one escaper for templates, snippets and
//! sitemaps. `& < > " '` become entities; everything else, slashes
//! included, stays as written.

use std::fmt::Write;

/// Writes `text` escaped into `out`, copying the runs between special
/// characters at once.
pub fn escape_into(out: &mut impl Write, text: &str) -> std::fmt::Result {
    let mut plain_from = 0;
    for (at, byte) in text.bytes().enumerate() {
        let entity = match byte {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            _ => continue,
        };
        out.write_str(&text[plain_from..at])?;
        out.write_str(entity)?;
        plain_from = at + 1;
    }
    out.write_str(&text[plain_from..])
}

pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    // Writing into a String cannot fail.
    let _ = escape_into(&mut out, text);
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escapes_what_html_and_xml_need() {
        assert_eq!(escape("<b>\"A&B\"</b> it's a/b"), "&lt;b&gt;&quot;A&amp;B&quot;&lt;/b&gt; it&#39;s a/b");
        assert_eq!(escape("Straße – ohne Sonderzeichen"), "Straße – ohne Sonderzeichen");
        assert_eq!(escape(""), "");
    }
}
