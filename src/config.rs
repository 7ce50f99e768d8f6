//! The configuration file, `katalog.toml`.
//!
//! Every setting can come from a flag, an environment variable or this
//! file, in that order of precedence, before the built-in default. clap
//! reads flags and environment variables; what it filled only from its
//! default is then replaced by the file's value (see `cli::fill_from_file`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Read from the working directory when no file is named.
pub const DEFAULT_FILE: &str = "katalog.toml";

/// The file's keys. Unknown keys are refused, so that a misspelt setting
/// is reported instead of silently ignored.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub database: Option<String>,
    pub schemas: Option<PathBuf>,
    pub content: Option<PathBuf>,
    pub templates: Option<PathBuf>,
    pub search_index: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "ServeSection::is_empty")]
    pub serve: ServeSection,
    #[serde(default, skip_serializing_if = "WebhookSection::is_empty")]
    pub webhooks: WebhookSection,
    #[serde(default, skip_serializing_if = "LimitsSection::is_empty")]
    pub limits: LimitsSection,
    #[serde(default, skip_serializing_if = "RetentionSection::is_empty")]
    pub retention: RetentionSection,
    #[serde(default, skip_serializing_if = "OutboundSection::is_empty")]
    pub outbound: OutboundSection,
    #[serde(default, skip_serializing_if = "PartnerSection::is_empty")]
    pub partner: PartnerSection,
}

/// Hosts that webhooks and partner fetches may reach although they are,
/// or resolve to, non-public addresses (loopback, private networks).
#[derive(Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OutboundSection {
    pub allow_hosts: Option<Vec<String>>,
}

impl OutboundSection {
    fn is_empty(&self) -> bool {
        *self == OutboundSection::default()
    }
}

/// Bounds of reading a partner's bundle.
#[derive(Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PartnerSection {
    pub max_file_mb: Option<u64>,
    pub sync_timeout_secs: Option<u64>,
}

impl PartnerSection {
    fn is_empty(&self) -> bool {
        *self == PartnerSection::default()
    }
}

/// Days history is kept; a missing key keeps it forever.
#[derive(Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RetentionSection {
    pub audit_days: Option<u32>,
    pub revision_days: Option<u32>,
}

impl RetentionSection {
    fn is_empty(&self) -> bool {
        *self == RetentionSection::default()
    }
}

#[derive(Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServeSection {
    pub addr: Option<String>,
    pub partner_bundle: Option<PathBuf>,
    pub cache_mb: Option<u64>,
    pub ready_max_lag: Option<u64>,
    pub cors_origins: Option<Vec<String>>,
    pub metrics_token: Option<String>,
}

/// Requests a minute per client address (0 for no limit), and whose
/// address that is.
#[derive(Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LimitsSection {
    pub manage_per_minute: Option<u32>,
    pub search_per_minute: Option<u32>,
    pub read_per_minute: Option<u32>,
    pub behind_proxy: Option<bool>,
}

#[derive(Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WebhookSection {
    pub debounce_ms: Option<u64>,
    pub backoff_ms: Option<u64>,
    pub max_backoff_ms: Option<u64>,
    pub retry_hours: Option<u64>,
}

impl ServeSection {
    fn is_empty(&self) -> bool {
        *self == ServeSection::default()
    }
}

impl WebhookSection {
    fn is_empty(&self) -> bool {
        *self == WebhookSection::default()
    }
}

impl LimitsSection {
    fn is_empty(&self) -> bool {
        *self == LimitsSection::default()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}:{line}:{column}: {message}")]
    Invalid { path: String, line: usize, column: usize, message: String },
    /// Values `serve` cannot use, one line each, named where they were set.
    #[error("{}", .0.join("\n"))]
    Unusable(Vec<String>),
}

/// A configuration file that was found and read.
#[derive(Debug)]
pub struct Loaded {
    pub path: PathBuf,
    pub config: FileConfig,
    text: String,
}

/// Reads the file named by `--config`/`KATALOG_CONFIG`, or `katalog.toml`
/// when it exists; a named file must exist, the default one need not.
pub fn load(named: Option<&Path>) -> Result<Option<Loaded>, ConfigError> {
    let path = match named {
        Some(path) => path.to_owned(),
        None if Path::new(DEFAULT_FILE).is_file() => PathBuf::from(DEFAULT_FILE),
        None => return Ok(None),
    };
    let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
    let config = parse(&text, &path)?;
    Ok(Some(Loaded { path, config, text }))
}

/// Parses the file's text; errors name the file, line and column. Values
/// of the right type are checked once merged with flags and environment
/// (`cli::check_settings`), where [`Loaded::locate`] finds them.
pub fn parse(text: &str, path: &Path) -> Result<FileConfig, ConfigError> {
    toml::from_str(text).map_err(|error| {
        let (line, column) = line_and_column(text, error.span().map_or(0, |span| span.start));
        ConfigError::Invalid { path: path.display().to_string(), line, column, message: error.message().trim().to_owned() }
    })
}

impl Loaded {
    /// Line and column of the value of `key` (dotted, as `serve.addr`), or
    /// of one `element` of a list; `None` when the file does not set it.
    fn position(&self, key: &str, element: Option<usize>) -> Option<(usize, usize)> {
        let root = toml::de::DeTable::parse(&self.text).ok()?;
        let mut table = root.get_ref();
        let mut parts = key.split('.').peekable();
        let mut value = None;
        while let Some(part) = parts.next() {
            let (_, found) = table.iter().find(|(name, _)| name.get_ref() == part)?;
            match (found.get_ref(), parts.peek()) {
                (toml::de::DeValue::Table(inner), Some(_)) => table = inner,
                (_, None) => value = Some(found),
                (_, Some(_)) => return None,
            }
        }
        let value = value?;
        let span = match (value.get_ref(), element) {
            (toml::de::DeValue::Array(items), Some(index)) => items.get(index)?.span(),
            _ => value.span(),
        };
        Some(line_and_column(&self.text, span.start))
    }

    /// `file:line:column` of the value of `key`, when the file sets it.
    pub fn locate(&self, key: &str, element: Option<usize>) -> Option<String> {
        let (line, column) = self.position(key, element)?;
        Some(format!("{}:{line}:{column}", self.path.display()))
    }
}

/// 1-based line and column of a byte offset.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loaded(text: &str) -> Loaded {
        Loaded { path: PathBuf::from("k.toml"), config: parse(text, Path::new("k.toml")).unwrap(), text: text.to_owned() }
    }

    #[test]
    fn values_are_located_however_their_table_is_written() {
        assert_eq!(loaded("[serve]\naddr = \"x:1\"\n").locate("serve.addr", None).as_deref(), Some("k.toml:2:8"));
        assert_eq!(loaded("serve.addr = \"x:1\"\n").locate("serve.addr", None).as_deref(), Some("k.toml:1:14"));
        assert_eq!(loaded("serve = { cache_mb = 1, addr = \"x:1\" }\n").locate("serve.addr", None).as_deref(), Some("k.toml:1:32"));
        assert_eq!(loaded("database = \"sqlite://k.db\"\n").locate("database", None).as_deref(), Some("k.toml:1:12"));
    }

    #[test]
    fn list_elements_are_located_one_by_one() {
        let file = loaded("[serve]\ncors_origins = [\n  \"https://a.example\",\n  \"b.example\",\n]\n");
        assert_eq!(file.locate("serve.cors_origins", Some(1)).as_deref(), Some("k.toml:4:3"));
        assert_eq!(file.locate("serve.cors_origins", Some(2)), None);
    }

    #[test]
    fn what_the_file_leaves_out_is_not_located() {
        let file = loaded("[serve]\ncache_mb = 1\n");
        assert_eq!(file.locate("serve.addr", None), None);
        assert_eq!(file.locate("serve.cache_mb.deeper", None), None);
        assert_eq!(file.locate("database", None), None);
    }
}
