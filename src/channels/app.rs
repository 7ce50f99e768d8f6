//! `app`: compact JSON per entry and published locale for the city app,
//! and an index with a content hash per file, so the app downloads only
//! what changed. (The sync feed of the delivery API is the live
//! counterpart.)

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::snapshot::Snapshot;
use super::{ChannelError, Output};

/// Raised when the shape of the files changes incompatibly.
const FORMAT: u32 = 1;

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
    files: Vec<IndexItem<'a>>,
}

#[derive(Serialize)]
struct IndexItem<'a> {
    path: String,
    #[serde(rename = "type")]
    content_type: &'a str,
    slug: &'a str,
    id: &'a str,
    locale: &'a str,
    sha256: String,
}

pub fn render(snapshot: &Snapshot) -> Result<Output, ChannelError> {
    let mut output = Output::default();
    let mut index = Index { format: FORMAT, files: Vec::new() };
    for entry in snapshot.all() {
        for locale in entry.locales() {
            let localised = entry.in_locale(locale);
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
            let path = format!("{}/{}.{}.json", entry.content_type.name, entry.slug, locale.code());
            index.files.push(IndexItem {
                path: path.clone(),
                content_type: &entry.content_type.name,
                slug: &entry.slug,
                id: &entry.id,
                locale: locale.code(),
                sha256: crate::digest::sha256_hex(&bytes),
            });
            output.files.insert(path, bytes);
        }
    }
    index.files.sort_by(|a, b| a.path.cmp(&b.path));
    output.files.insert("index.json".to_owned(), super::pretty_json(&index)?);
    Ok(output)
}
