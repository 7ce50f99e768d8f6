//! `app`: compact JSON per entry and published locale for the city app,
//! and an index with a content hash per file, so the app downloads only
//! what changed. (The sync feed of the delivery API is the live
//! counterpart.)

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::snapshot::SnapshotEntry;
use super::{Aggregates, ChannelError, EntryOutput, Projection, Sources};
use crate::content::Locale;

/// Raised when the shape of the files changes (so that existing exports
/// are made anew).
const FORMAT: u32 = 2;

#[derive(Serialize)]
struct Document<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    content_type: &'a str,
    slug: &'a str,
    locale: &'a str,
    revision: i32,
    /// JSON pointers of values the translation lacks, taken from German.
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    fallback_fields: &'a [String],
    fields: &'a Value,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    html: &'a BTreeMap<String, String>,
}

#[derive(Serialize)]
struct Index<'a> {
    format: u32,
    /// The change-log position the files reflect (at least: entries may
    /// show later changes too).
    change_seq: i64,
    /// Where an app continues with the sync feed (`/api/v1/sync?cursor=…`)
    /// after taking these files. Changes the files already show may come
    /// again; applying them again changes nothing.
    sync_cursor: String,
    files: Vec<IndexItem<'a>>,
}

#[derive(Serialize)]
struct IndexItem<'a> {
    path: String,
    #[serde(rename = "type")]
    content_type: &'a str,
    slug: &'a str,
    id: &'a str,
    locale: &'static str,
    sha256: &'a str,
}

fn path(content_type: &str, slug: &str, locale: Locale) -> String {
    format!("{content_type}/{slug}.{}.json", locale.code())
}

pub struct App;

impl Projection for App {
    fn fingerprint(&self) -> String {
        format!("app-{FORMAT}")
    }

    fn aggregates_list_files(&self) -> bool {
        true
    }

    fn entry_files(&self, entry: &SnapshotEntry, _: &Sources<'_>) -> Result<EntryOutput, ChannelError> {
        let mut output = EntryOutput::default();
        for locale in entry.locales() {
            let localised = entry.localised(locale);
            let document = Document {
                id: &entry.id,
                content_type: &entry.content_type.name,
                slug: &entry.slug,
                locale: locale.code(),
                revision: localised.revision,
                fallback_fields: &localised.fallback_fields,
                fields: &localised.fields,
                html: entry.html(locale),
            };
            let bytes = serde_json::to_vec(&document).map_err(ChannelError::Json)?;
            output.files.push((path(&entry.content_type.name, &entry.slug, locale), bytes));
        }
        Ok(output)
    }

    fn aggregate_files(&self, all: &Aggregates<'_>) -> Result<Vec<(String, Vec<u8>)>, ChannelError> {
        let mut index = Index { format: FORMAT, change_seq: all.change_seq, sync_cursor: crate::feed::sync_cursor(all.change_seq), files: Vec::new() };
        for summary in all.catalogue.all() {
            for locale in summary.locales() {
                let path = path(&summary.content_type, &summary.slug, locale);
                let Some(sha256) = all.files.get(&path) else { continue };
                index.files.push(IndexItem { path, content_type: &summary.content_type, slug: &summary.slug, id: &summary.id, locale: locale.code(), sha256 });
            }
        }
        index.files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(vec![("index.json".to_owned(), super::pretty_json(&index)?)])
    }
}
