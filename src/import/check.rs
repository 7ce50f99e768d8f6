//! Checking one entry's files: parse, validate against the schema, lay
//! translations over the source, check references.

use std::collections::HashSet;

use serde_json::Value;

use super::Problem;
use super::scan::{EntryFiles, SourceFile};
use crate::content::file_format::{self, ParsedFile};
use crate::content::{ContentType, Locale, Registry, document};
use crate::workflow::{self, Publishable};

/// An entry whose files are all valid: the document of every locale
/// (translations hold only their localised fields).
#[derive(Debug)]
pub struct CheckedEntry {
    pub content_type: String,
    pub slug: String,
    pub documents: Vec<(Locale, Value)>,
    /// The LeiKa key, from the field the schema marks `x-external-key: leika`.
    pub leika: Option<String>,
    /// Per locale, in the order of `documents`: the approval to publish
    /// it, when the check was asked to look at publishing.
    pub publishable: Vec<Publishable>,
}

/// Slugs that references may point to, by type.
pub type KnownSlugs = HashSet<(String, String)>;

/// Checks an entry's files against its schema and references to `known`
/// entries; with `live` (the entries that are or will be live), also
/// whether each locale may be published, by the rule every publish follows.
pub fn check_entry(files: &EntryFiles, registry: &Registry, known: &KnownSlugs, live: Option<&KnownSlugs>) -> Result<CheckedEntry, Vec<Problem>> {
    let Some(content_type) = registry.get(&files.content_type) else {
        return Err(vec![Problem::in_file(&files.source.relative, format!("no content type `{}`", files.content_type))]);
    };
    let mut problems = Vec::new();
    let source = parse_file(&files.source, content_type, &mut problems);
    let mut documents = Vec::new();
    let mut publishable = Vec::new();
    if let Some(source) = source {
        for violation in content_type.validate(&source.document) {
            problems.push(Problem::new(&files.source.relative, Some(source.line_of(&violation.pointer)), Some(violation.pointer), violation.message));
        }
        for reference in document::references(content_type, &source.document) {
            if !known.contains(&(reference.target_type.clone(), reference.target_slug.clone())) {
                problems.push(Problem::new(
                    &files.source.relative,
                    Some(source.line_of(&reference.pointer)),
                    Some(reference.pointer),
                    format!("refers to the {} `{}`, which does not exist", reference.target_type, reference.target_slug),
                ));
            }
        }
        for file in &files.translations {
            let Some(translation) = parse_file(file, content_type, &mut problems) else { continue };
            let at = |pointer: &str| Some(translation.line_of(pointer));
            match document::overlay_translation(content_type, &source.document, &translation.document) {
                Ok(merged) => {
                    let violations = content_type.validate(&merged);
                    let checked = violations.is_empty() && problems.is_empty();
                    for violation in violations {
                        problems.push(Problem::new(&file.relative, at(&violation.pointer), Some(violation.pointer), violation.message));
                    }
                    if let (Some(live), true) = (live, checked) {
                        match publishing_check(content_type, file.locale, &merged, live) {
                            Ok(approval) => publishable.push(approval),
                            Err(violations) => {
                                problems.extend(violations.into_iter().map(|v| Problem::new(&file.relative, at(&v.pointer), Some(v.pointer), v.message)))
                            }
                        }
                    }
                }
                Err(violations) => {
                    for violation in violations {
                        problems.push(Problem::new(&file.relative, at(&violation.pointer), Some(violation.pointer), violation.message));
                    }
                }
            }
            documents.push((file.locale, translation.document));
        }
        if let (Some(live), true) = (live, problems.is_empty()) {
            match publishing_check(content_type, Locale::SOURCE, &source.document, live) {
                Ok(approval) => publishable.insert(0, approval),
                Err(violations) => problems
                    .extend(violations.into_iter().map(|v| Problem::new(&files.source.relative, Some(source.line_of(&v.pointer)), Some(v.pointer), v.message))),
            }
        }
        documents.insert(0, (Locale::SOURCE, source.document));
    }
    if problems.is_empty() {
        let leika = documents.first().and_then(|(_, source)| content_type.leika(source)).map(str::to_owned);
        Ok(CheckedEntry { content_type: files.content_type.clone(), slug: files.slug.clone(), documents, leika, publishable })
    } else {
        Err(problems)
    }
}

/// The publishing rule, with what it needs said in a file's terms: a gap
/// names the channel that would refuse it.
fn publishing_check(content_type: &ContentType, locale: Locale, served: &Value, live: &KnownSlugs) -> Result<Publishable, Vec<crate::content::Violation>> {
    let violations = match workflow::approve(content_type, locale, served, |t, s| live.contains(&(t.to_owned(), s.to_owned()))) {
        Ok(approval) => return Ok(approval),
        Err(violations) => violations,
    };
    Err(violations.into_iter().map(|v| crate::content::Violation { message: format!("cannot be published: {}", v.message), ..v }).collect())
}

fn parse_file(file: &SourceFile, content_type: &ContentType, problems: &mut Vec<Problem>) -> Option<ParsedFile> {
    let bytes = match read_limited(&file.path) {
        Ok(bytes) => bytes,
        Err(message) => {
            problems.push(Problem::in_file(&file.relative, message));
            return None;
        }
    };
    if bytes.len() > file_format::MAX_FILE_BYTES {
        let size = std::fs::metadata(&file.path).map_or(bytes.len() as u64, |m| m.len());
        problems.push(Problem::from_file_problem(&file.relative, file_format::too_large(size)));
        return None;
    }
    match file_format::parse(&bytes, content_type, file.locale) {
        Ok(parsed) => Some(parsed),
        Err(found) => {
            problems.extend(found.into_iter().map(|p| Problem::from_file_problem(&file.relative, p)));
            None
        }
    }
}

/// Reads a file, but never more than one byte over the limit: a huge file
/// is reported, not loaded.
fn read_limited(path: &std::path::Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read the file: {e}"))?;
    let mut bytes = Vec::new();
    file.take(file_format::MAX_FILE_BYTES as u64 + 1).read_to_end(&mut bytes).map_err(|e| format!("cannot read the file: {e}"))?;
    Ok(bytes)
}
