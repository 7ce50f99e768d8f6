//! Finding the editorial files in a content folder and checking their
//! names: type folder, slug, locale, duplicates and missing sources.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::Problem;
use crate::content::{Locale, Registry, slug};

/// One editorial file.
#[derive(Clone, Debug)]
pub struct SourceFile {
    pub path: PathBuf,
    /// Path relative to the content folder, used in every message.
    pub relative: PathBuf,
    pub locale: Locale,
}

/// The files of one entry: the German source and its translations.
#[derive(Clone, Debug)]
pub struct EntryFiles {
    pub content_type: String,
    pub slug: String,
    pub source: SourceFile,
    pub translations: Vec<SourceFile>,
}

/// All entries found, in type and slug order, and what was wrong with names.
pub fn scan(root: &Path, registry: &Registry) -> (Vec<EntryFiles>, Vec<Problem>) {
    let mut problems = Vec::new();
    let mut found: BTreeMap<(String, String), Vec<SourceFile>> = BTreeMap::new();
    let top = match std::fs::read_dir(root) {
        Ok(top) => top,
        Err(e) => {
            problems.push(Problem::in_file(root, format!("cannot read the content folder: {e}")));
            return (Vec::new(), problems);
        }
    };
    let mut type_dirs: Vec<PathBuf> = top.filter_map(Result::ok).map(|e| e.path()).collect();
    type_dirs.sort();
    for dir in type_dirs {
        let Some(name) = dir.file_name().and_then(|n| n.to_str()).map(str::to_owned) else { continue };
        if name.starts_with('.') {
            continue;
        }
        match kind_of(&dir) {
            Kind::Folder => {}
            // Files beside the type folders (README.md, synonyms.toml) are not entries.
            Kind::File => continue,
            Kind::Link => {
                problems.push(Problem::in_file(Path::new(&name), SYMLINK_MESSAGE));
                continue;
            }
        }
        if registry.get(&name).is_none() {
            let known: Vec<&str> = registry.names().collect();
            problems.push(Problem::in_file(
                Path::new(&name),
                format!("no content type `{name}`: there is no schemas/{name}.schema.json (known types: {})", known.join(", ")),
            ));
            continue;
        }
        let mut files = Vec::new();
        collect_files(&dir, &mut files, &mut problems, root);
        for path in files {
            let relative = path.strip_prefix(root).unwrap_or(&path).to_owned();
            match classify(&path) {
                Ok((slug, locale)) => found.entry((name.clone(), slug)).or_default().push(SourceFile { path: path.clone(), relative, locale }),
                Err(message) => problems.push(Problem::in_file(relative, message)),
            }
        }
    }

    let mut entries = Vec::new();
    for ((content_type, slug), files) in found {
        let mut source = None;
        let mut translations: Vec<SourceFile> = Vec::new();
        for file in files {
            let twin = if file.locale.is_source() { source.as_ref() } else { translations.iter().find(|t| t.locale == file.locale) };
            if let Some(first) = twin {
                problems.push(Problem::in_file(
                    &file.relative,
                    format!("duplicate slug `{slug}` of type `{content_type}`: {} has the same slug and locale", first.relative.display()),
                ));
                continue;
            }
            if file.locale.is_source() {
                source = Some(file);
            } else {
                translations.push(file);
            }
        }
        match source {
            Some(source) => entries.push(EntryFiles { content_type, slug, source, translations }),
            None => {
                for translation in translations {
                    problems
                        .push(Problem::in_file(&translation.relative, format!("translation without its German source: {content_type}/…/{slug}.md is missing")));
                }
            }
        }
    }
    (entries, problems)
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>, problems: &mut Vec<Problem>, root: &Path) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            problems.push(Problem::in_file(dir.strip_prefix(root).unwrap_or(dir), format!("cannot read folder: {e}")));
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    paths.sort();
    for path in paths {
        let hidden = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        match kind_of(&path) {
            Kind::Folder => collect_files(&path, out, problems, root),
            Kind::File => out.push(path),
            Kind::Link => problems.push(Problem::in_file(path.strip_prefix(root).unwrap_or(&path), SYMLINK_MESSAGE)),
        }
    }
}

/// Symbolic links are refused rather than followed: they can loop, lead
/// out of the content folder, or make one file count as two entries.
const SYMLINK_MESSAGE: &str = "symbolic links are not followed in a content folder; copy or move the file instead";

enum Kind {
    Folder,
    File,
    Link,
}

fn kind_of(path: &Path) -> Kind {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Kind::Link,
        Ok(meta) if meta.is_dir() => Kind::Folder,
        _ => Kind::File,
    }
}

/// Slug and locale from `slug.md` or `slug.<locale>.md`.
fn classify(path: &Path) -> Result<(String, Locale), String> {
    let name = path.file_name().and_then(|n| n.to_str()).ok_or("file name is not valid UTF-8")?;
    let stem =
        name.strip_suffix(".md").ok_or_else(|| format!("`{name}` is not a content file: entries are Markdown files named <slug>.md or <slug>.<locale>.md"))?;
    let (slug, locale) = match stem.split_once('.') {
        None => (stem, Locale::SOURCE),
        Some((slug, code)) => {
            let locale = Locale::parse(code).ok_or_else(|| {
                let known: Vec<&str> = Locale::ALL.iter().filter(|l| !l.is_source()).map(|l| l.code()).collect();
                format!("unknown locale `{code}` in the file name; translations are named <slug>.<locale>.md with locale one of {}", known.join(", "))
            })?;
            if locale.is_source() {
                return Err(format!("the German source is written as `{slug}.md`, not `{name}`"));
            }
            (slug, locale)
        }
    };
    slug::check(slug)?;
    Ok((slug.to_owned(), locale))
}
