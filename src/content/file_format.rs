//! The editorial file format (`content/README.md`): TOML front matter
//! between `+++` lines for the structured fields, a Markdown body split at
//! level-2 headings for the Markdown fields.

use std::collections::BTreeMap;

use pulldown_cmark::{Event, HeadingLevel, Parser, Tag, TagEnd};
use serde_json::{Number, Value};
use toml::de::{DeTable, DeValue};

use super::schema::escape_pointer;
use super::{ContentType, Locale};
use crate::render::markdown::{MAX_NESTING, excess_marker};

/// Files larger than this are refused: an entry is a page of text, and a
/// huge file is almost always a mistake (a pasted export, a binary).
pub const MAX_FILE_BYTES: usize = 1024 * 1024;

const DELIMITER: &str = "+++";

/// Something wrong in one file, located as precisely as the input allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileProblem {
    pub line: Option<usize>,
    pub pointer: Option<String>,
    pub message: String,
}

impl FileProblem {
    fn at_line(line: usize, message: impl Into<String>) -> Self {
        FileProblem { line: Some(line), pointer: None, message: message.into() }
    }
}

/// A parsed file: its document and where each value was written.
#[derive(Debug)]
pub struct ParsedFile {
    pub document: Value,
    lines: BTreeMap<String, usize>,
}

impl ParsedFile {
    /// The line a JSON pointer's value was written on, or the nearest
    /// enclosing value's line (a missing field is reported where its
    /// parent is).
    pub fn line_of(&self, pointer: &str) -> usize {
        let mut at = pointer;
        loop {
            if let Some(line) = self.lines.get(at) {
                return *line;
            }
            match at.rfind('/') {
                Some(cut) => at = &at[..cut],
                None => return 1,
            }
        }
    }
}

/// The problem reported for a file over [`MAX_FILE_BYTES`].
pub fn too_large(size: u64) -> FileProblem {
    FileProblem { line: None, pointer: None, message: format!("file is {:.1} MiB; the limit is 1 MiB per file", size as f64 / (1024.0 * 1024.0)) }
}

/// Parses one editorial file of the given type and locale.
pub fn parse(bytes: &[u8], content_type: &ContentType, locale: Locale) -> Result<ParsedFile, Vec<FileProblem>> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(vec![too_large(bytes.len() as u64)]);
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let line = bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count() + 1;
            return Err(vec![FileProblem::at_line(line, "file is not valid UTF-8; save it as UTF-8")]);
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // Line endings must not make a difference: the same text saved on
    // Windows is the same content (and must not create a revision).
    let unix_text;
    let text = if text.contains('\r') {
        unix_text = text.replace("\r\n", "\n");
        unix_text.as_str()
    } else {
        text
    };
    if text.trim().is_empty() {
        return Err(vec![FileProblem::at_line(1, "file is empty; it needs +++ front matter +++ and a body")]);
    }
    let split = split_front_matter(text)?;
    let mut problems = Vec::new();
    let mut lines = BTreeMap::new();

    let mut document = front_matter_document(split.front_matter, split.front_matter_line, &mut lines, &mut problems);
    for field in document.as_object().into_iter().flat_map(|m| m.keys()) {
        if let Some(section) = content_type.sections.iter().find(|s| &s.field == field) {
            let pointer = format!("/{}", escape_pointer(field));
            problems.push(FileProblem {
                line: lines.get(&pointer).copied(),
                message: format!("`{field}` is a Markdown section: write it in the body under `## {}`", section.heading(locale).unwrap_or(field)),
                pointer: Some(pointer),
            });
        }
    }
    for (field, line, markdown) in body_sections(split.body, split.body_line, content_type, locale, &mut problems) {
        let pointer = format!("/{}", escape_pointer(&field));
        if document.get(&field).is_some() && !content_type.is_section_field(&field) {
            problems.push(FileProblem {
                line: Some(line),
                pointer: Some(pointer),
                message: format!("`{field}` is given both in the front matter and in the body"),
            });
            continue;
        }
        lines.insert(pointer, line);
        if let Value::Object(map) = &mut document {
            map.insert(field, Value::String(markdown));
        }
    }
    if problems.is_empty() { Ok(ParsedFile { document, lines }) } else { Err(problems) }
}

struct Split<'a> {
    front_matter: &'a str,
    front_matter_line: usize,
    body: &'a str,
    body_line: usize,
}

fn split_front_matter(text: &str) -> Result<Split<'_>, Vec<FileProblem>> {
    let mut offset = 0;
    let mut opening = None;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let content = line.trim_end_matches(['\n', '\r']);
        match opening {
            None => {
                if content.trim_end() != DELIMITER {
                    return Err(vec![FileProblem::at_line(index + 1, "the file must start with a line `+++` that opens the TOML front matter")]);
                }
                opening = Some(offset + line.len());
            }
            Some(start) if content.trim_end() == DELIMITER => {
                return Ok(Split { front_matter: &text[start..offset], front_matter_line: 2, body: &text[offset + line.len()..], body_line: index + 2 });
            }
            Some(_) => {}
        }
        offset += line.len();
    }
    Err(vec![FileProblem::at_line(1, "the front matter opened by `+++` on line 1 is never closed by a second `+++` line")])
}

fn front_matter_document(source: &str, first_line: usize, lines: &mut BTreeMap<String, usize>, problems: &mut Vec<FileProblem>) -> Value {
    let line_at = |offset: usize| first_line + source[..offset.min(source.len())].matches('\n').count();
    let table: toml::Table = match toml::from_str(source) {
        Ok(table) => table,
        Err(e) => {
            let line = e.span().map(|span| line_at(span.start)).unwrap_or(first_line);
            problems.push(FileProblem::at_line(line, format!("invalid TOML in the front matter: {}", e.message())));
            return Value::Object(Default::default());
        }
    };
    if let Ok(spanned) = DeTable::parse(source) {
        record_table_lines(spanned.get_ref(), "", &line_at, lines);
    }
    let mut document = toml_to_json(toml::Value::Table(table), "", lines, problems);
    if let Value::Object(map) = &mut document {
        map.retain(|_, v| !v.is_null());
    }
    document
}

fn record_table_lines(table: &DeTable<'_>, at: &str, line_at: &dyn Fn(usize) -> usize, lines: &mut BTreeMap<String, usize>) {
    for (key, value) in table.iter() {
        let pointer = format!("{at}/{}", escape_pointer(key.get_ref()));
        lines.insert(pointer.clone(), line_at(key.span().start));
        record_value_lines(value.get_ref(), &pointer, line_at, lines);
    }
}

fn record_value_lines(value: &DeValue<'_>, at: &str, line_at: &dyn Fn(usize) -> usize, lines: &mut BTreeMap<String, usize>) {
    match value {
        DeValue::Table(table) => record_table_lines(table, at, line_at, lines),
        DeValue::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                let pointer = format!("{at}/{index}");
                lines.insert(pointer.clone(), line_at(item.span().start));
                record_value_lines(item.get_ref(), &pointer, line_at, lines);
            }
        }
        _ => {}
    }
}

fn toml_to_json(value: toml::Value, at: &str, lines: &BTreeMap<String, usize>, problems: &mut Vec<FileProblem>) -> Value {
    match value {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::Number(i.into()),
        toml::Value::Float(f) => match Number::from_f64(f) {
            Some(n) => Value::Number(n),
            None => {
                problems.push(FileProblem { line: lines.get(at).copied(), pointer: Some(at.to_owned()), message: format!("{f} is not a finite number") });
                Value::Null
            }
        },
        toml::Value::Boolean(b) => Value::Bool(b),
        // Dates are strings in JSON; an editor may write them bare in TOML.
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(items) => Value::Array(items.into_iter().enumerate().map(|(i, v)| toml_to_json(v, &format!("{at}/{i}"), lines, problems)).collect()),
        toml::Value::Table(table) => Value::Object(
            table
                .into_iter()
                .map(|(k, v)| {
                    let pointer = format!("{at}/{}", escape_pointer(&k));
                    (k, toml_to_json(v, &pointer, lines, problems))
                })
                .collect(),
        ),
    }
}

/// Splits the body into (field, line, Markdown) at level-2 headings.
///
/// Only `## ` headings at the top level split the body: a heading inside a
/// block quote or list, or a Setext heading (a line underlined with `---`),
/// is part of the section's own Markdown.
fn body_sections(body: &str, first_line: usize, content_type: &ContentType, locale: Locale, problems: &mut Vec<FileProblem>) -> Vec<(String, usize, String)> {
    // Deeper nesting would cost the parser time quadratic in its depth.
    if let Some(index) = body.lines().position(|line| excess_marker(line).is_some()) {
        problems.push(FileProblem::at_line(
            first_line + index,
            format!("this line opens more than {MAX_NESTING} nested block quotes or list items; write it flatter"),
        ));
        return Vec::new();
    }
    let line_at = |offset: usize| first_line + body[..offset].matches('\n').count();
    // (heading text, start of heading, end of heading)
    let mut headings: Vec<(String, usize, usize)> = Vec::new();
    let mut current: Option<(String, usize)> = None;
    let mut container_depth = 0usize;
    for (event, range) in Parser::new(body).into_offset_iter() {
        match event {
            Event::Start(Tag::BlockQuote(_) | Tag::List(_) | Tag::Item) => container_depth += 1,
            Event::End(TagEnd::BlockQuote(_) | TagEnd::List(_) | TagEnd::Item) => container_depth = container_depth.saturating_sub(1),
            Event::Start(Tag::Heading { level: HeadingLevel::H2, .. })
                if container_depth == 0 && body[range.start..].trim_start_matches(' ').starts_with("##") =>
            {
                current = Some((String::new(), range.start))
            }
            Event::Text(text) | Event::Code(text) => {
                if let Some((title, _)) = current.as_mut() {
                    title.push_str(&text);
                }
            }
            Event::SoftBreak | Event::HardBreak => {
                if let Some((title, _)) = current.as_mut() {
                    title.push(' ');
                }
            }
            Event::End(TagEnd::Heading(HeadingLevel::H2)) => {
                if let Some((title, start)) = current.take() {
                    headings.push((title.trim().to_owned(), start, range.end));
                }
            }
            _ => {}
        }
    }

    let mut sections = Vec::new();
    let lead_end = headings.first().map_or(body.len(), |h| h.1);
    let lead = body[..lead_end].trim();
    if !lead.is_empty() {
        match &content_type.lead_field {
            Some(field) => {
                let line = line_at(body.len() - body.trim_start().len());
                sections.push((field.clone(), line, lead.to_owned()));
            }
            None => problems.push(FileProblem::at_line(
                first_line,
                format!("the `{}` type has no lead field: start the body with a `##` section heading", content_type.name),
            )),
        }
    }
    let mut seen: Vec<&str> = Vec::new();
    for (index, (title, start, end)) in headings.iter().enumerate() {
        let next = headings.get(index + 1).map_or(body.len(), |h| h.1);
        let line = line_at(*start);
        let Some(section) = content_type.section_for_heading(locale, title) else {
            let known: Vec<String> = content_type.sections.iter().filter_map(|s| s.heading(locale)).map(|h| format!("`{h}`")).collect();
            problems.push(FileProblem::at_line(
                line,
                format!("the heading `## {title}` is not a section of `{}` in locale {locale}; known sections: {}", content_type.name, known.join(", ")),
            ));
            continue;
        };
        if seen.contains(&section.field.as_str()) {
            problems.push(FileProblem::at_line(line, format!("the section `## {title}` appears twice")));
            continue;
        }
        seen.push(&section.field);
        let markdown = body[*end..next].trim();
        if markdown.is_empty() {
            problems.push(FileProblem::at_line(line, format!("the section `## {title}` is empty: write its text or remove the heading")));
            continue;
        }
        sections.push((section.field.clone(), line, markdown.to_owned()));
    }
    sections
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::ContentType;
    use serde_json::json;
    use std::path::Path;

    fn content_type() -> ContentType {
        let schema = json!({
            "type": "object",
            "x-lead-section": "text",
            "properties": {
                "name": {"type": "string"},
                "when": {"type": "string"},
                "fees": {"type": "array", "items": {"type": "object"}},
                "text": {"type": "string", "x-markdown": true},
                "steps": {"type": "string", "x-markdown": true, "x-section": {"de": "Ablauf", "en": "Procedure"}}
            }
        });
        ContentType::from_schema("test", schema, Path::new("test.schema.json")).unwrap()
    }

    #[test]
    fn parses_front_matter_and_sections_with_lines() {
        let file = "+++\nname = \"Ausweis\"\nwhen = 2025-01-01\n\n[[fees]]\namount = 3\n+++\nLead text.\n\n## Ablauf\n\n1. Go\n\n### Detail\nmore\n";
        let parsed = parse(file.as_bytes(), &content_type(), Locale::De).unwrap();
        assert_eq!(parsed.document["name"], "Ausweis");
        assert_eq!(parsed.document["when"], "2025-01-01");
        assert_eq!(parsed.document["text"], "Lead text.");
        assert_eq!(parsed.document["steps"], "1. Go\n\n### Detail\nmore");
        assert_eq!(parsed.line_of("/name"), 2);
        assert_eq!(parsed.line_of("/fees/0/amount"), 6);
        assert_eq!(parsed.line_of("/fees/0/missing"), 5);
        assert_eq!(parsed.line_of("/steps"), 10);
        assert_eq!(parsed.line_of("/text"), 8);
    }

    #[test]
    fn headings_follow_the_locale() {
        let file = "+++\nname = \"ID\"\n+++\n## Procedure\nGo.\n";
        let parsed = parse(file.as_bytes(), &content_type(), Locale::En).unwrap();
        assert_eq!(parsed.document["steps"], "Go.");
        let problems = parse(file.as_bytes(), &content_type(), Locale::De).unwrap_err();
        assert_eq!(problems[0].line, Some(4));
        assert!(problems[0].message.contains("`## Procedure` is not a section"), "{}", problems[0].message);
    }

    #[test]
    fn headings_inside_code_blocks_do_not_split() {
        let file = "+++\n+++\nText\n\n```\n## Ablauf\n```\n";
        let parsed = parse(file.as_bytes(), &content_type(), Locale::De).unwrap();
        assert!(parsed.document.get("steps").is_none());
    }

    #[test]
    fn nested_and_setext_headings_do_not_split() {
        let file = "+++\n+++\nLead\n\n> ## Ablauf\n> quoted\n\n- ## Ablauf\n\nUnderlined\nheading\n---\n\n## Ablauf\nSteps\n";
        let parsed = parse(file.as_bytes(), &content_type(), Locale::De).unwrap();
        let lead = parsed.document["text"].as_str().unwrap();
        assert!(lead.starts_with("Lead") && lead.contains("> ## Ablauf") && lead.contains("heading\n---"), "{lead}");
        assert_eq!(parsed.document["steps"], "Steps");
    }

    #[test]
    fn nesting_deeper_than_a_reader_follows_is_refused_at_its_line() {
        let file = format!("+++\n+++\nLead\n\n{}deep\n", "> ".repeat(MAX_NESTING + 1));
        let problems = parse(file.as_bytes(), &content_type(), Locale::De).unwrap_err();
        assert_eq!(problems[0].line, Some(5));
        assert!(problems[0].message.contains("nested"), "{}", problems[0].message);
        let file = format!("+++\n+++\nLead\n\n{}deep\n", "> ".repeat(MAX_NESTING));
        assert!(parse(file.as_bytes(), &content_type(), Locale::De).is_ok());
    }

    #[test]
    fn line_endings_and_case_of_headings_do_not_matter() {
        let unix = "+++\nname = \"x\"\n+++\nLead\n\n## ablauf\nSteps\n";
        let windows = unix.replace('\n', "\r\n");
        let a = parse(unix.as_bytes(), &content_type(), Locale::De).unwrap();
        let b = parse(windows.as_bytes(), &content_type(), Locale::De).unwrap();
        assert_eq!(a.document, b.document);
        assert_eq!(a.document["steps"], "Steps");
    }

    #[test]
    fn bad_files_are_located() {
        let ct = content_type();
        let cases: Vec<(&[u8], Option<usize>, &str)> = vec![
            (b"", Some(1), "empty"),
            (b"name = 1\n", Some(1), "must start with a line `+++`"),
            (b"+++\nname = \"x\"\n", Some(1), "never closed"),
            (b"+++\nname = \"x\"\nbroken = \n+++\n", Some(3), "invalid TOML"),
            (b"+++\n+++\nok\n\xff\xfe\n", Some(4), "not valid UTF-8"),
            (b"+++\nsteps = \"x\"\n+++\n", Some(2), "write it in the body under `## Ablauf`"),
            (b"+++\n+++\n## Ablauf\na\n## Ablauf\nb\n", Some(5), "appears twice"),
            (b"+++\n+++\nLead\n\n## Ablauf\n\n", Some(5), "is empty"),
            (b"+++\nname = \"x\"\nwhen = nan\n+++\n", Some(3), "not a finite number"),
        ];
        for (input, line, needle) in cases {
            let problems = parse(input, &ct, Locale::De).unwrap_err();
            assert_eq!(problems[0].line, line, "{needle}: {problems:?}");
            assert!(problems[0].message.contains(needle), "{needle}: {problems:?}");
        }
        let big = vec![b'a'; MAX_FILE_BYTES + 1];
        assert!(parse(&big, &ct, Locale::De).unwrap_err()[0].message.contains("limit"));
    }
}
