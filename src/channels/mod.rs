//! Channels: the published content, written once, projected into the files
//! each audience receives — the city app (`app`) and the 115 knowledge
//! base (`kb115`). Every channel reads the same [`Snapshot`] and returns
//! its files; [`export`] writes them deterministically (the same content
//! gives byte-identical files; no timestamps but the content's own) and
//! incrementally (only changed files are rewritten, files of removed
//! entries deleted, an interrupted export leaves the previous one intact).

pub mod app;
pub mod kb115;
mod output;
mod snapshot;

use std::path::Path;

use serde::Serialize;
use serde_json::Value;

pub use output::{Files, WriteSummary};
pub use snapshot::{Snapshot, SnapshotEntry};

use crate::content::{ContentType, Registry};
use crate::store::{Store, StoreError};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Channel {
    App,
    Kb115,
}

impl Channel {
    pub const ALL: [Channel; 2] = [Channel::App, Channel::Kb115];

    pub fn name(self) -> &'static str {
        match self {
            Channel::App => "app",
            Channel::Kb115 => "kb115",
        }
    }

    pub fn render(self, snapshot: &Snapshot) -> Result<Output, ChannelError> {
        match self {
            Channel::App => app::render(snapshot),
            Channel::Kb115 => kb115::render(snapshot),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("refusing to write `{0}`: export paths must stay inside the export folder")]
    UnsafePath(String),
    #[error("template: {0}")]
    Template(#[from] minijinja::Error),
    #[error("JSON: {0}")]
    Json(serde_json::Error),
}

/// A channel's files, and what it could not export and why.
#[derive(Debug, Default)]
pub struct Output {
    pub files: Files,
    pub problems: Vec<String>,
}

/// What an export did for one channel.
#[derive(Debug)]
pub struct ChannelReport {
    pub channel: Channel,
    pub summary: WriteSummary,
    pub problems: Vec<String>,
}

/// Exports the published content into `out/<channel>/` for each channel.
pub async fn export(store: &Store, registry: &Registry, channels: &[Channel], out: &Path, progress: bool) -> Result<Vec<ChannelReport>, ChannelError> {
    let bar = if progress { indicatif::ProgressBar::new(0) } else { indicatif::ProgressBar::hidden() };
    bar.set_style(
        indicatif::ProgressStyle::with_template("reading {bar:40} {pos}/{len} entries, {eta} left").unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let snapshot = Snapshot::load(store, registry, &bar).await?;
    bar.finish_and_clear();
    let mut reports = Vec::new();
    for &channel in channels {
        let output = channel.render(&snapshot)?;
        let summary = output::write_folder(&out.join(channel.name()), &output.files)?;
        reports.push(ChannelReport { channel, summary, problems: output.problems });
    }
    Ok(reports)
}

/// Top-level fields that `channel` requires (`x-required-by`) but
/// `document` leaves absent or empty.
pub fn missing_for(channel: &str, content_type: &ContentType, document: &Value) -> Vec<String> {
    let properties = content_type.schema.get("properties").and_then(Value::as_object);
    properties
        .into_iter()
        .flatten()
        .filter(|(_, property)| property.get("x-required-by").and_then(Value::as_array).is_some_and(|by| by.iter().any(|c| c == channel)))
        .filter(|(name, _)| match document.get(name.as_str()) {
            None | Some(Value::Null) => true,
            Some(Value::String(s)) => s.trim().is_empty(),
            Some(Value::Array(items)) => items.is_empty(),
            Some(Value::Object(fields)) => fields.is_empty(),
            Some(_) => false,
        })
        .map(|(name, _)| name.clone())
        .collect()
}

/// Indented JSON with a final newline: files meant to be read and diffed.
fn pretty_json(value: &impl Serialize) -> Result<Vec<u8>, ChannelError> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(ChannelError::Json)?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// RFC 4180 CSV: fields with commas, quotes or line breaks quoted, quotes doubled.
fn csv<const N: usize>(rows: &[[String; N]]) -> Vec<u8> {
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .map(|cell| if cell.contains([',', '"', '\n', '\r']) { format!("\"{}\"", cell.replace('"', "\"\"")) } else { cell.clone() })
            .collect();
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_needs_quoting() {
        let rows = [["a".to_owned(), "b, c".to_owned(), "say \"hi\"".to_owned()]];
        assert_eq!(String::from_utf8(csv(&rows)).unwrap(), "a,\"b, c\",\"say \"\"hi\"\"\"\r\n");
    }
}
