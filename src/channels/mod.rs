//! Channels: the published content, written once, projected into the files
//! each audience receives — the public web site (`web`), the city app
//! (`app`), the 115 knowledge base (`kb115`) and partner municipalities
//! (`partner`). Every channel is a
//! [`Projection`]: the files of one entry, and the files made from all
//! entries together. [`export`] writes them deterministically (the same
//! content gives byte-identical files; no timestamps but the content's
//! own) and incrementally (following the change log, only the files of
//! changed entries and of the entries showing them are remade; only
//! changed files are rewritten, files of removed entries deleted, and an
//! interrupted export never leaves a half-written file).

pub mod app;
pub mod catalogue;
mod export;
mod history;
pub mod kb115;
pub mod live;
mod output;
pub mod partner;
mod snapshot;
pub mod views;
pub mod web;

use std::path::Path;

use serde::Serialize;

pub use catalogue::Catalogue;
pub use export::{Aggregates, ChannelReport, EntryOutput, EntryRecord, Projection, Sources};
pub use output::WriteSummary;
pub use snapshot::{Snapshot, SnapshotEntry};

use crate::content::{Audience, Registry};
use crate::holidays::State;
use crate::store::{Store, StoreError};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Channel {
    Web,
    App,
    Kb115,
    Partner,
}

impl Channel {
    pub const ALL: [Channel; 4] = [Channel::Web, Channel::App, Channel::Kb115, Channel::Partner];

    pub const fn name(self) -> &'static str {
        match self {
            Channel::Web => "web",
            Channel::App => "app",
            Channel::Kb115 => "kb115",
            Channel::Partner => "partner",
        }
    }

    /// Who reads the channel's files: decides which fields they carry.
    pub const fn audience(self) -> Audience {
        Audience::Channel(self.name())
    }

    pub fn projection(self, settings: &Settings) -> Result<Box<dyn Projection>, ChannelError> {
        Ok(match self {
            Channel::Web => Box::new(web::Web::new(&settings.site, settings.templates.as_deref())?),
            Channel::App => Box::new(app::App),
            Channel::Kb115 => Box::new(kb115::Kb115::new()?),
            Channel::Partner => Box::new(partner::Partner::new(&settings.site)),
        })
    }
}

/// Who publishes, and where the site lives (`content/site.toml`).
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    pub name: String,
    /// The public address of the web site, without a trailing slash.
    pub url: String,
    pub municipality: String,
    /// Where opening hours are kept (IANA name).
    #[serde(default = "Site::default_time_zone")]
    pub time_zone: String,
    /// The federal state whose public holidays close the offices; without
    /// one, only the holidays kept all over Germany do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub federal_state: Option<State>,
}

impl Default for Site {
    fn default() -> Site {
        Site {
            name: "katalog".into(),
            url: "http://localhost:8080".into(),
            municipality: String::new(),
            time_zone: Site::default_time_zone(),
            federal_state: None,
        }
    }
}

impl Site {
    fn default_time_zone() -> String {
        "Europe/Berlin".into()
    }

    /// Reads `site.toml`; the defaults when there is none.
    pub fn load(path: &Path) -> Result<Site, ChannelError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Site::default()),
            Err(source) => return Err(ChannelError::Io { path: path.display().to_string(), source }),
        };
        let mut site: Site = toml::from_str(&text).map_err(|e| ChannelError::Settings { path: path.display().to_string(), message: e.to_string() })?;
        site.url = site.url.trim_end_matches('/').to_owned();
        if site.time_zone.parse::<chrono_tz::Tz>().is_err() {
            let message = format!("time_zone `{}` is not an IANA time zone name such as Europe/Berlin", site.time_zone);
            return Err(ChannelError::Settings { path: path.display().to_string(), message });
        }
        Ok(site)
    }

    /// The time zone of the site's opening hours and of the times editors enter.
    pub fn zone(&self) -> chrono_tz::Tz {
        // Checked when the settings were loaded.
        self.time_zone.parse().unwrap_or(chrono_tz::Europe::Berlin)
    }
}

/// What channels need besides the content.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub site: Site,
    /// A folder whose templates replace the built-in ones of the same name.
    pub templates: Option<std::path::PathBuf>,
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
    #[error("CSV: {0}")]
    Csv(String),
    #[error("{path}: {message}")]
    Settings { path: String, message: String },
}

/// Exports the published content into `out/<channel>/` for each channel.
pub async fn export(
    store: &Store,
    registry: &std::sync::Arc<Registry>,
    channels: &[Channel],
    settings: &Settings,
    out: &Path,
    progress: bool,
) -> Result<Vec<ChannelReport>, ChannelError> {
    let bar = if progress { indicatif::ProgressBar::new(0) } else { indicatif::ProgressBar::hidden() };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} entries, {eta} left").unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    // Read before the content: a change committed during the export is
    // taken up by the next one.
    let change_seq = store.latest_change_seq().await?;
    let change_time = store.change_time(change_seq).await?;
    let mut run = export::ExportRun { store, registry, out, bar: bar.clone(), change_seq, change_time, full_catalogue: None };
    let mut reports = Vec::new();
    for &channel in channels {
        let projection = channel.projection(settings)?;
        reports.push(run.channel(channel, projection.as_ref()).await?);
    }
    bar.finish_and_clear();
    Ok(reports)
}

/// Indented JSON with a final newline: files meant to be read and diffed.
fn pretty_json(value: &impl Serialize) -> Result<Vec<u8>, ChannelError> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(ChannelError::Json)?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// A table for spreadsheet programs as German offices use them:
/// semicolon-separated, UTF-8 with a byte-order mark (without one they
/// read umlauts wrongly), CRLF line ends.
fn csv(rows: &[Vec<String>]) -> Result<Vec<u8>, ChannelError> {
    let mut writer = ::csv::WriterBuilder::new().delimiter(b';').terminator(::csv::Terminator::CRLF).from_writer(b"\xEF\xBB\xBF".to_vec());
    for row in rows {
        writer.write_record(row).map_err(|error| ChannelError::Csv(error.to_string()))?;
    }
    writer.into_inner().map_err(|error| ChannelError::Csv(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_needs_quoting() {
        let rows = [vec!["a".to_owned(), "b; c".to_owned(), "say \"hi\"".to_owned(), "Grüße".to_owned()]];
        assert_eq!(String::from_utf8(csv(&rows).unwrap()).unwrap(), "\u{feff}a;\"b; c\";\"say \"\"hi\"\"\";Grüße\r\n");
    }

    #[test]
    fn site_toml_names_a_federal_state() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("site.toml");
        let site = |text: &str| {
            std::fs::write(&path, text).unwrap();
            Site::load(&path)
        };
        let base = "name = \"Stadt\"\nurl = \"https://example.org\"\nmunicipality = \"Stadt\"\n";
        assert_eq!(site(&format!("{base}federal_state = \"BY\"\n")).unwrap().federal_state, Some(State::Bayern));
        assert_eq!(site(base).unwrap().federal_state, None);
        let error = site(&format!("{base}federal_state = \"Bavaria\"\n")).unwrap_err().to_string();
        assert!(error.starts_with(&path.display().to_string()) && error.contains("federal_state") && error.contains("Bavaria"), "{error}");
        assert!(error.contains("BY (Bayern)"), "the states are listed: {error}");
    }
}
