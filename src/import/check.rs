//! Checking one entry's files: parse, validate against the schema, lay
//! translations over the source, check references.

use std::collections::HashSet;

use serde_json::Value;

use super::Problem;
use super::scan::{EntryFiles, SourceFile};
use crate::content::file_format::{self, ParsedFile};
use crate::content::{ContentType, Locale, Registry, document};
use crate::store::{Link, links_of};

/// An entry whose files are all valid: the document of every locale
/// (translations hold only their localised fields).
#[derive(Debug)]
pub struct CheckedEntry {
    pub content_type: String,
    pub slug: String,
    pub documents: Vec<(Locale, Value)>,
    /// The LeiKa key, from the field the schema marks `x-external-key: leika`.
    pub leika: Option<String>,
    /// References of the German source, for the link index.
    pub links: Vec<Link>,
}

/// Slugs that references may point to, by type.
pub type KnownSlugs = HashSet<(String, String)>;

pub fn check_entry(files: &EntryFiles, registry: &Registry, known: &KnownSlugs) -> Result<CheckedEntry, Vec<Problem>> {
    let Some(content_type) = registry.get(&files.content_type) else {
        return Err(vec![Problem::in_file(&files.source.relative, format!("no content type `{}`", files.content_type))]);
    };
    let mut problems = Vec::new();
    let source = parse_file(&files.source, content_type, &mut problems);
    let mut documents = Vec::new();
    if let Some(source) = source {
        for violation in content_type.validate(&source.document) {
            problems.push(Problem::new(
                &files.source.relative,
                Some(source.line_of(&violation.pointer)),
                Some(violation.pointer),
                violation.message,
            ));
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
                    for violation in content_type.validate(&merged) {
                        problems.push(Problem::new(&file.relative, at(&violation.pointer), Some(violation.pointer), violation.message));
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
        documents.insert(0, (Locale::SOURCE, source.document));
    }
    if problems.is_empty() {
        let leika = content_type
            .external_keys
            .get("leika")
            .and_then(|field| documents.first()?.1.get(field)?.as_str())
            .map(str::to_owned);
        let links = documents.first().map(|(_, source)| links_of(content_type, source)).unwrap_or_default();
        Ok(CheckedEntry { content_type: files.content_type.clone(), slug: files.slug.clone(), documents, leika, links })
    } else {
        Err(problems)
    }
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
    file.take(file_format::MAX_FILE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read the file: {e}"))?;
    Ok(bytes)
}
