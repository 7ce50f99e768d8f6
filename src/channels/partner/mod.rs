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

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

use super::history::{EntryHistory, LocaleHistory};
use super::snapshot::SnapshotEntry;
use super::{Aggregates, ChannelError, EntryOutput, Projection, Site, Sources, pretty_json};
use crate::digest::sha256_hex;

const CHANNEL: &str = "partner";
pub const FORMAT: &str = "katalog-partner-bundle";
/// Raised when a reader of the previous version would misread the bundle.
pub const FORMAT_VERSION: u32 = 1;
pub const MANIFEST: &str = "manifest.json";
pub const DELETIONS: &str = "deletions.json";
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
    files: Vec<FileSum<'a>>,
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
    locales: Vec<&'a str>,
    path: String,
}

#[derive(Serialize)]
struct FileSum<'a> {
    path: &'a str,
    sha256: &'a str,
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

/// Where the bundle keeps an entry's file.
pub fn entry_path(content_type: &str, slug: &str) -> String {
    format!("entries/{content_type}/{slug}.json")
}

pub struct Partner {
    site: Site,
}

impl Partner {
    pub fn new(site: &Site) -> Partner {
        Partner { site: site.clone() }
    }
}

impl Projection for Partner {
    fn fingerprint(&self) -> String {
        let site = serde_json::to_string(&self.site).unwrap_or_default();
        format!("partner-{FORMAT_VERSION}-{}", sha256_hex(site))
    }

    fn needs_history(&self) -> bool {
        true
    }

    fn aggregates_list_files(&self) -> bool {
        true
    }

    fn entry_files(&self, entry: &SnapshotEntry, sources: &Sources<'_>) -> Result<EntryOutput, ChannelError> {
        let mut output = EntryOutput::default();
        let (content_type, slug) = (entry.content_type.name.as_str(), entry.slug.as_str());
        let missing = entry.content_type.missing_for(CHANNEL, &entry.source.document);
        if !missing.is_empty() {
            output.problem = Some(format!("{content_type}/{slug}: missing {} (required for {CHANNEL})", missing.join(", ")));
            return Ok(output);
        }
        let file = entry_file(entry, sources.history.and_then(|history| history.of(&entry.id)));
        output.digest = Some(json!({ "version": file.version, "locales": file.locales.keys().collect::<Vec<_>>() }));
        output.files.push((entry_path(content_type, slug), pretty_json(&file)?));
        // What the bundle carries: published entries with every field partners need.
        let carried = |content_type: &str, slug: &str| {
            sources.snapshot.get(content_type, slug).is_some_and(|target| target.content_type.missing_for(CHANNEL, &target.source.document).is_empty())
        };
        let linked_data = match content_type {
            "service" => Some(cpsv_ap::service(&self.site, entry, &carried)),
            "office" => Some(cpsv_ap::office(&self.site, entry)),
            _ => None,
        };
        if let Some(linked_data) = linked_data {
            output.files.push((format!("cpsv-ap/{content_type}/{slug}.jsonld"), pretty_json(&linked_data)?));
        }
        Ok(output)
    }

    fn aggregate_files(&self, all: &Aggregates<'_>) -> Result<Vec<(String, Vec<u8>)>, ChannelError> {
        let mut files = Vec::new();
        let mut schemas = BTreeMap::new();
        for content_type in all.registry.iter() {
            let path = format!("schemas/{}.schema.json", content_type.name);
            files.push((path.clone(), pretty_json(&content_type.schema)?));
            schemas.insert(content_type.name.as_str(), path);
        }
        let deletions = all
            .withdrawn
            .iter()
            .map(|change| Deletion {
                id: &change.entry_id,
                content_type: &change.content_type,
                slug: &change.slug,
                action: &change.action,
                version: change.seq,
            })
            .collect();
        files.push((DELETIONS.to_owned(), pretty_json(&Deletions { deletions })?));

        let entries = all
            .catalogue
            .all()
            .filter_map(|summary| {
                let digest = all.entries.get(&summary.id)?.digest.as_ref()?;
                Some(IndexedEntry {
                    id: &summary.id,
                    content_type: &summary.content_type,
                    slug: &summary.slug,
                    version: digest["version"].as_i64().unwrap_or(0),
                    locales: digest["locales"].as_array().into_iter().flatten().filter_map(Value::as_str).collect(),
                    path: entry_path(&summary.content_type, &summary.slug),
                })
            })
            .collect();
        let own: Vec<(String, String)> = files.iter().map(|(path, bytes)| (path.clone(), sha256_hex(bytes))).collect();
        let mut sums: Vec<FileSum> = all
            .files
            .iter()
            .filter(|(path, _)| path.as_str() != MANIFEST && !own.iter().any(|(p, _)| p == *path))
            .map(|(path, sha256)| FileSum { path, sha256 })
            .chain(own.iter().map(|(path, sha256)| FileSum { path, sha256 }))
            .collect();
        sums.sort_by(|a, b| a.path.cmp(b.path));
        let manifest = Manifest {
            format: FORMAT,
            format_version: FORMAT_VERSION,
            source: Source { name: &self.site.name, url: &self.site.url, municipality: &self.site.municipality },
            content_version: all.change_seq,
            schemas,
            entries,
            files: sums,
        };
        files.push((MANIFEST.to_owned(), pretty_json(&manifest)?));
        Ok(files)
    }
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
            // Only modules the bundle carries: a field meant for other channels is not named either.
            .filter(|(module, _)| published.document.get(module.as_str()).is_some())
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
