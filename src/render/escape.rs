//! Escaping text for HTML and XML: one escaper for templates, snippets and
//! sitemaps. `& < > " '` become entities; everything else, slashes
//! included, stays as written. And JSON for `<script>` elements, which
//! entities do not work in.

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

/// JSON for a `<script>` element (JSON-LD, data for scripts). The HTML
/// parser ends the element at `</script` and reads `<!--<script>` as the
/// start of a nested script that swallows the rest of the page, whatever
/// JSON quoting says; so `<`, `>` and `&` are written as `\u003c`,
/// `\u003e` and `\u0026`. Outside strings JSON has none of them, and
/// inside strings these escapes mean the same characters: the text still
/// parses to the same value.
pub fn json_for_script(value: &serde_json::Value) -> String {
    let json = value.to_string();
    let mut out = String::with_capacity(json.len() + json.len() / 8);
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{escape, json_for_script};
    use serde_json::json;

    #[test]
    fn escapes_what_html_and_xml_need() {
        assert_eq!(escape("<b>\"A&B\"</b> it's a/b"), "&lt;b&gt;&quot;A&amp;B&quot;&lt;/b&gt; it&#39;s a/b");
        assert_eq!(escape("Straße – ohne Sonderzeichen"), "Straße – ohne Sonderzeichen");
        assert_eq!(escape(""), "");
    }

    #[test]
    fn json_in_a_script_cannot_end_or_restart_it() {
        let value = json!({
            "name": "Amt <!--<script> für </script> & Co",
            "<key>": ["</SCRIPT", "a & b", "-->", "\\u003c schon escaped", "Straße \"zitiert\" \\"],
            "number": 1.5,
            "empty": null,
        });
        let text = json_for_script(&value);
        for forbidden in ["<", ">", "&"] {
            assert!(!text.contains(forbidden), "{forbidden} in {text}");
        }
        assert!(text.contains("Amt \\u003c!--\\u003cscript\\u003e für \\u003c/script\\u003e \\u0026 Co"), "{text}");
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed, value, "the escaped text is JSON for the same value");
    }
}
