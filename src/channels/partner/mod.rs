//! `partner`: a versioned, checksummed bundle for partner municipalities
//! that import our content into a katalog of their own, add their local
//! facts per module and keep receiving our updates.
//!
//! ```text
//! manifest.json                 what the bundle is and holds (below)
//! schemas/<type>.schema.json    every content type
//! entries/<type>/<slug>.json    an entry: every published locale's document, with provenance per module
//! deletions.json                every entry withdrawn so far, with its change-log position
//! cpsv-ap/service/<slug>.jsonld services as EU CPSV-AP 3.2.0 JSON-LD
//! cpsv-ap/office/<slug>.jsonld  offices likewise
//! ```
//!
//! `manifest.json` holds the format name and version, the source (site
//! name, address, municipality), the content version (the change-log
//! position the bundle reflects), the schema of each type, an index of the
//! entries (id, type, slug, version, locales, path), and the SHA-256 and
//! size of every other file. A reader verifies the files against it before
//! applying anything.
//!
//! An entry's `version` is the change-log position of its newest change at
//! or before the content version. Each locale carries its published
//! revision number, for a translation the German revision it was made
//! from, the document as stored (translations hold only translated
//! fields), and per top-level field (module) the revision and author that
//! gave the field its published value. German modules of a type with a
//! subject-matter approval (`approval.date`) carry that date as `approved`
//! when the approval was recorded in the same revision as the module's
//! value or later; a module changed after the last approval has none.
//!
//! Deletions are cumulative, not only those since the previous bundle: a
//! partner that skipped bundles still learns of every withdrawal. It
//! applies those with a `version` above the content version it last
//! applied, and ignores ids it never had. An entry published again is
//! listed as an entry, not as a deletion.
//!
//! Determinism: the same content gives byte-identical files, on either
//! database. The bundle records no wall-clock time — not when it was made,
//! nor when revisions were saved or published, since those are the times
//! of whoever imported or edited the content. Order comes from change-log
//! positions and revision numbers instead; the only dates are the
//! content's own (approval, validity, opening-hour exceptions).

mod cpsv_ap;
mod history;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

pub use history::History;
use history::{EntryHistory, LocaleHistory};

use super::snapshot::{Snapshot, SnapshotEntry};
use super::{ChannelError, Output, Site, missing_for, pretty_json};
use crate::digest::sha256_hex;

const CHANNEL: &str = "partner";
pub const FORMAT: &str = "katalog-partner-bundle";
/// Raised when a reader of the previous version would misread the bundle.
pub const FORMAT_VERSION: u32 = 1;
pub const MANIFEST: &str = "manifest.json";
const DELETIONS: &str = "deletions.json";
/// The subject-matter approval module (FIM "fachliche Freigabe"): `{date, by}`.
const APPROVAL_FIELD: &str = "approval";

#[derive(Serialize)]
struct Manifest<'a> {
    format: &'static str,
    format_version: u32,
    source: Source<'a>,
    content_version: i64,
    schemas: BTreeMap<&'a str, String>,
    entries: Vec<IndexedEntry<'a>>,
    files: Vec<FileSum>,
}

#[derive(Serialize)]
struct Source<'a> {
    name: &'a str,
    url: &'a str,
    municipality: &'a str,
}

#[derive(Serialize)]
struct IndexedEntry<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    content_type: &'a str,
    slug: &'a str,
    version: i64,
    locales: Vec<&'static str>,
    path: String,
}

#[derive(Serialize)]
struct FileSum {
    path: String,
    sha256: String,
    size: usize,
}

#[derive(Serialize)]
struct EntryFile<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    content_type: &'a str,
    slug: &'a str,
    version: i64,
    locales: BTreeMap<&'static str, LocaleFile<'a>>,
}

#[derive(Serialize)]
struct LocaleFile<'a> {
    revision: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    translated_from: Option<i32>,
    fields: &'a Value,
    provenance: BTreeMap<&'a str, Provenance<'a>>,
}

#[derive(Serialize)]
struct Provenance<'a> {
    revision: i32,
    author: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    approved: Option<&'a str>,
}

#[derive(Serialize)]
struct Deletions<'a> {
    deletions: Vec<Deletion<'a>>,
}

#[derive(Serialize)]
struct Deletion<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    content_type: &'a str,
    slug: &'a str,
    /// `unpublish`, `archive` or `delete`.
    action: &'a str,
    version: i64,
}

pub fn render(snapshot: &Snapshot, history: &History, site: &Site) -> Result<Output, ChannelError> {
    let mut output = Output::default();
    // What the bundle carries: published entries with every field partners need.
    let mut carried: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for entry in snapshot.all() {
        let missing = missing_for(CHANNEL, &entry.content_type, &entry.source.document);
        if missing.is_empty() {
            carried.entry(entry.content_type.name.as_str()).or_default().insert(entry.slug.as_str());
        } else {
            output.problems.push(format!("{}/{}: missing {} (required for {CHANNEL})", entry.content_type.name, entry.slug, missing.join(", ")));
        }
    }
    let included = |content_type: &str, slug: &str| carried.get(content_type).is_some_and(|slugs| slugs.contains(slug));

    let mut entries = Vec::new();
    for entry in snapshot.all().filter(|e| included(&e.content_type.name, &e.slug)) {
        let (content_type, slug) = (entry.content_type.name.as_str(), entry.slug.as_str());
        let file = entry_file(entry, history.of(&entry.id));
        let path = format!("entries/{content_type}/{slug}.json");
        entries.push(IndexedEntry { id: &entry.id, content_type, slug, version: file.version, locales: file.locales.keys().copied().collect(), path: path.clone() });
        output.files.insert(path, pretty_json(&file)?);
        let linked_data = match content_type {
            "service" => Some(cpsv_ap::service(site, entry, &included)),
            "office" => Some(cpsv_ap::office(site, entry)),
            _ => None,
        };
        if let Some(linked_data) = linked_data {
            output.files.insert(format!("cpsv-ap/{content_type}/{slug}.jsonld"), pretty_json(&linked_data)?);
        }
    }
    let mut schemas = BTreeMap::new();
    for content_type in &snapshot.content_types {
        let path = format!("schemas/{}.schema.json", content_type.name);
        output.files.insert(path.clone(), pretty_json(&content_type.schema)?);
        schemas.insert(content_type.name.as_str(), path);
    }
    let deletions = history
        .withdrawn
        .iter()
        .map(|change| Deletion { id: &change.entry_id, content_type: &change.content_type, slug: &change.slug, action: &change.action, version: change.seq })
        .collect();
    output.files.insert(DELETIONS.to_owned(), pretty_json(&Deletions { deletions })?);

    let files = output.files.iter().map(|(path, bytes)| FileSum { path: path.clone(), sha256: sha256_hex(bytes), size: bytes.len() }).collect();
    let manifest = Manifest {
        format: FORMAT,
        format_version: FORMAT_VERSION,
        source: Source { name: &site.name, url: &site.url, municipality: &site.municipality },
        content_version: snapshot.content_version,
        schemas,
        entries,
        files,
    };
    let manifest = pretty_json(&manifest)?;
    output.files.insert(MANIFEST.to_owned(), manifest);
    Ok(output)
}

fn entry_file<'a>(entry: &'a SnapshotEntry, history: Option<&'a EntryHistory>) -> EntryFile<'a> {
    let mut locales = BTreeMap::new();
    for locale in entry.locales() {
        let Some(published) = (if locale.is_source() { Some(&entry.source) } else { entry.translations.get(&locale) }) else { continue };
        let locale_history = history.and_then(|h| h.locales.get(&locale));
        let approval = if locale.is_source() { approval(&published.document, locale_history) } else { None };
        let provenance = locale_history
            .into_iter()
            .flat_map(|h| &h.modules)
            .map(|(module, origin)| {
                let approved = approval.filter(|(approved_in, _)| origin.revision <= *approved_in).map(|(_, date)| date);
                (module.as_str(), Provenance { revision: origin.revision, author: &origin.author, approved })
            })
            .collect();
        locales.insert(
            locale.code(),
            LocaleFile { revision: published.number, translated_from: locale_history.and_then(|h| h.translated_from), fields: &published.document, provenance },
        );
    }
    EntryFile { id: &entry.id, content_type: &entry.content_type.name, slug: &entry.slug, version: history.map_or(0, |h| h.version), locales }
}

/// The revision that recorded the published approval, and its date.
fn approval<'a>(document: &'a Value, history: Option<&LocaleHistory>) -> Option<(i32, &'a str)> {
    let date = document.get(APPROVAL_FIELD)?.get("date")?.as_str()?;
    Some((history?.modules.get(APPROVAL_FIELD)?.revision, date))
}
