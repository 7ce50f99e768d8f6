//! Every setting, declared once as a clap argument: its doc comment is its
//! help, `long` its flag, `env` its environment variable, its default and
//! value parser what it takes, and its `id` its key in the configuration
//! file (`serve.addr` is `addr` under `[serve]`). A setting is an argument
//! with an environment variable, except the one that names the file.
//!
//! From that declaration [`resolve`] reads flags, environment and file
//! (every value through the argument's own parser, so a value is refused
//! alike wherever it comes from), and [`describe`] prints `config show`
//! and the README's table of settings.

use std::path::PathBuf;

use clap::Args;

use crate::store::{DEFAULT_DATABASE_URL, Retention};

pub mod describe;
pub mod file;
pub mod resolve;

pub use resolve::{Resolved, Setting, Source, parse};

/// clap's id of the argument naming the configuration file, the one
/// argument with an environment variable that the file cannot set.
pub const FILE_ARG: &str = "config";

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A mistake on the command line itself (and `--help`, `--version`).
    #[error(transparent)]
    CommandLine(#[from] clap::Error),
    #[error("cannot read the configuration file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}:{line}:{column}: {message}")]
    Invalid { path: String, line: usize, column: usize, message: String },
    /// Unknown keys and unusable values, one line each, named where they were set.
    #[error("{}", .0.join("\n"))]
    Refused(Vec<String>),
}

/// Whether an argument is a setting (see the module's documentation).
pub fn is_setting(arg: &clap::Arg) -> bool {
    arg.get_env().is_some() && arg.get_id() != FILE_ARG
}

#[derive(Args, Debug)]
pub struct DatabaseArgs {
    /// The database: sqlite://PATH or postgres://USER@HOST/DB.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, value_parser = database_url)]
    pub database: String,
}

#[derive(Args, Debug)]
pub struct SchemaArgs {
    /// Folder with one TYPE.schema.json per content type.
    #[arg(long, env = "KATALOG_SCHEMAS", default_value = "schemas")]
    pub schemas: PathBuf,
}

/// Where the search index and the synonyms are.
#[derive(Args, Debug)]
pub struct SearchArgs {
    /// Folder of the search index [default: beside a SQLite database; data/search-NAME for a PostgreSQL database NAME].
    #[arg(long, env = "KATALOG_SEARCH_INDEX")]
    pub search_index: Option<PathBuf>,
    /// Content folder whose synonyms.toml expands queries.
    #[arg(long, env = "KATALOG_CONTENT", default_value = "content")]
    pub content: PathBuf,
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub schemas: SchemaArgs,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub schemas: SchemaArgs,
    /// Content folder: imported when the database is empty; its site.toml names the site, its synonyms.toml expands search queries.
    #[arg(long, env = "KATALOG_CONTENT", default_value = "content")]
    pub content: PathBuf,
    /// Folder of web templates that replace the built-in ones of the same name.
    #[arg(long, env = "KATALOG_TEMPLATES")]
    pub templates: Option<PathBuf>,
    /// Folder of the search index [default: beside a SQLite database; data/search-NAME for a PostgreSQL database NAME].
    #[arg(long, env = "KATALOG_SEARCH_INDEX")]
    pub search_index: Option<PathBuf>,
    /// Address to listen on, HOST:PORT; port 0 picks a free port.
    #[arg(id = "serve.addr", long = "addr", value_name = "ADDR", env = "KATALOG_ADDR", default_value = "127.0.0.1:8080", value_parser = listen_addr)]
    pub addr: String,
    /// Folder of the partner bundle served at /partner/, kept up to date on request [default: beside a SQLite database; data/partner-bundle-NAME for a PostgreSQL database NAME].
    #[arg(id = "serve.partner_bundle", long = "partner-bundle", value_name = "PARTNER_BUNDLE", env = "KATALOG_PARTNER_BUNDLE")]
    pub partner_bundle: Option<PathBuf>,
    /// Memory for rendered delivery responses, in MiB (at most a TiB).
    #[arg(id = "serve.cache_mb", long = "cache-mb", value_name = "CACHE_MB", env = "KATALOG_CACHE_MB", default_value_t = 128, value_parser = bounded::<0, MAX_CACHE_MB>)]
    pub cache_mb: u64,
    /// /readyz answers 503 while a change-log consumer (search index, response cache, webhooks) is more changes behind than this.
    #[arg(id = "serve.ready_max_lag", long = "ready-max-lag", value_name = "READY_MAX_LAG", env = "KATALOG_READY_MAX_LAG", default_value_t = 1000)]
    pub ready_max_lag: u64,
    /// An origin whose pages may read the delivery API, as scheme://host[:port], or * for any (repeat, or separate by commas).
    #[arg(id = "serve.cors_origins", long = "cors-origin", value_name = "ORIGIN", env = "KATALOG_CORS_ORIGINS", value_delimiter = ',', value_parser = origin)]
    pub cors_origins: Vec<String>,
    /// A secret that /metrics requires as `Authorization: Bearer …` (401 without it); without one, /metrics is open to all who reach the server.
    #[arg(id = "serve.metrics_token", long = "metrics-token", value_name = "METRICS_TOKEN", env = "KATALOG_METRICS_TOKEN", hide_env_values = true, value_parser = secret)]
    pub metrics_token: Option<String>,
    /// Requests a minute per client address to the management API and the editor UI (429 beyond); 0 for no limit.
    #[arg(id = "limits.manage_per_minute", long = "rate-limit-manage", value_name = "PER_MINUTE", env = "KATALOG_RATE_LIMIT_MANAGE", default_value_t = 600)]
    pub rate_limit_manage: u32,
    /// Requests a minute per client address to search and suggestions (429 beyond); 0 for no limit.
    #[arg(id = "limits.search_per_minute", long = "rate-limit-search", value_name = "PER_MINUTE", env = "KATALOG_RATE_LIMIT_SEARCH", default_value_t = 600)]
    pub rate_limit_search: u32,
    /// Requests a minute per client address to the lists of entries and the sync feed (429 beyond); 0 for no limit, as suits a delivery API read through a CDN or the web site's server.
    #[arg(id = "limits.read_per_minute", long = "rate-limit-read", value_name = "PER_MINUTE", env = "KATALOG_RATE_LIMIT_READ", default_value_t = 0)]
    pub rate_limit_read: u32,
    /// One reverse proxy stands in front: rate limits count against the address it appends to X-Forwarded-For.
    #[arg(id = "limits.behind_proxy", long = "behind-proxy", env = "KATALOG_BEHIND_PROXY")]
    pub behind_proxy: bool,
    #[command(flatten)]
    pub webhooks: WebhookArgs,
    #[command(flatten)]
    pub partner_fetch: PartnerFetchArgs,
    #[command(flatten)]
    pub retention: RetentionArgs,
}

/// Webhook timing; the defaults suit production.
#[derive(Args, Debug)]
pub struct WebhookArgs {
    /// How long a new webhook event waits for more changes of its entry, in ms.
    #[arg(id = "webhooks.debounce_ms", long = "webhook-debounce-ms", value_name = "MS", env = "KATALOG_WEBHOOK_DEBOUNCE_MS", default_value_t = 1000, value_parser = bounded::<0, MAX_WEBHOOK_WAIT_MS>)]
    pub webhook_debounce_ms: u64,
    /// Wait after the first failed webhook delivery, in ms; it doubles with each attempt.
    #[arg(id = "webhooks.backoff_ms", long = "webhook-backoff-ms", value_name = "MS", env = "KATALOG_WEBHOOK_BACKOFF_MS", default_value_t = 10_000, value_parser = bounded::<1, MAX_WEBHOOK_WAIT_MS>)]
    pub webhook_backoff_ms: u64,
    /// The longest wait between webhook delivery attempts, in ms (at most a day).
    #[arg(id = "webhooks.max_backoff_ms", long = "webhook-max-backoff-ms", value_name = "MS", env = "KATALOG_WEBHOOK_MAX_BACKOFF_MS", default_value_t = 1_800_000, value_parser = bounded::<1, MAX_WEBHOOK_WAIT_MS>)]
    pub webhook_max_backoff_ms: u64,
    /// How long failed webhook deliveries are retried, in hours (at most a year).
    #[arg(id = "webhooks.retry_hours", long = "webhook-retry-hours", value_name = "HOURS", env = "KATALOG_WEBHOOK_RETRY_HOURS", default_value_t = 24, value_parser = bounded::<0, MAX_WEBHOOK_RETRY_HOURS>)]
    pub webhook_retry_hours: u64,
}

impl WebhookArgs {
    pub fn timing(&self) -> crate::webhooks::Timing {
        use std::time::Duration;
        crate::webhooks::Timing {
            debounce: Duration::from_millis(self.webhook_debounce_ms),
            backoff: Duration::from_millis(self.webhook_backoff_ms),
            max_backoff: Duration::from_millis(self.webhook_max_backoff_ms),
            retry_for: Duration::from_secs(self.webhook_retry_hours * 3600),
            ..Default::default()
        }
    }
}

/// Which hosts webhooks and partner fetches may reach beyond the public
/// internet; none by default.
#[derive(Args, Debug)]
pub struct FenceArgs {
    /// A host (name or IP address) that webhooks and partner bundle fetches (`serve`, `partner add`, `partner sync`) may reach although it is, or resolves to, a loopback, private or otherwise non-public address (repeat, or separate by commas).
    #[arg(id = "outbound.allow_hosts", long = "outbound-allow-host", value_name = "HOST", env = "KATALOG_OUTBOUND_ALLOW_HOSTS", value_delimiter = ',')]
    pub outbound_allow_hosts: Vec<String>,
}

impl FenceArgs {
    pub fn fence(&self) -> crate::outbound::Fence {
        crate::outbound::Fence::allowing(&self.outbound_allow_hosts)
    }
}

/// How partner bundles are read.
#[derive(Args, Debug)]
pub struct PartnerFetchArgs {
    /// The largest file of a partner bundle that is read, in MiB (`serve`, `partner sync`).
    #[arg(id = "partner.max_file_mb", long = "partner-max-file-mb", value_name = "MB", env = "KATALOG_PARTNER_MAX_FILE_MB", default_value_t = crate::partner::FetchSettings::DEFAULT_MAX_FILE_MB, value_parser = bounded::<1, { u64::MAX }>)]
    pub partner_max_file_mb: u64,
    /// Seconds a partner sync may spend reading and verifying the bundle (`serve`, `partner sync`).
    #[arg(id = "partner.sync_timeout_secs", long = "partner-sync-timeout-secs", value_name = "SECS", env = "KATALOG_PARTNER_SYNC_TIMEOUT_SECS", default_value_t = crate::partner::FetchSettings::DEFAULT_DEADLINE_SECS, value_parser = bounded::<1, { u64::MAX }>)]
    pub partner_sync_timeout_secs: u64,
    #[command(flatten)]
    pub fence: FenceArgs,
}

impl PartnerFetchArgs {
    pub fn settings(&self) -> crate::partner::FetchSettings {
        crate::partner::FetchSettings {
            fence: self.fence.fence(),
            max_file_bytes: self.partner_max_file_mb.saturating_mul(crate::partner::MIB),
            deadline: std::time::Duration::from_secs(self.partner_sync_timeout_secs),
        }
    }
}

/// How long history is kept; without a setting, everything is kept.
#[derive(Args, Debug)]
pub struct RetentionArgs {
    /// Delete audit events older than this many days (`serve` hourly, `prune` once) [default: kept forever].
    #[arg(id = "retention.audit_days", long = "keep-audit-days", value_name = "DAYS", env = "KATALOG_KEEP_AUDIT_DAYS", value_parser = days)]
    pub keep_audit_days: Option<u32>,
    /// Delete revisions superseded more than this many days ago; published, scheduled and newest revisions, and those translations or partner bookkeeping refer to, stay [default: kept forever].
    #[arg(id = "retention.revision_days", long = "keep-revision-days", value_name = "DAYS", env = "KATALOG_KEEP_REVISION_DAYS", value_parser = days)]
    pub keep_revision_days: Option<u32>,
}

impl RetentionArgs {
    pub fn retention(&self) -> Retention {
        Retention { audit_days: self.keep_audit_days, revision_days: self.keep_revision_days }
    }
}

/// The largest response cache, in MiB (a TiB): a larger number is a slip.
const MAX_CACHE_MB: u64 = 1 << 20;
/// The longest webhook wait (debounce, backoff), in ms: a day.
const MAX_WEBHOOK_WAIT_MS: u64 = 24 * 3600 * 1000;
/// The longest time failed webhook deliveries are retried, in hours: a year.
const MAX_WEBHOOK_RETRY_HOURS: u64 = 366 * 24;

/// `HOST:PORT` as `serve` binds it (the host is resolved only then).
fn listen_addr(addr: &str) -> Result<String, String> {
    let (host, port) = addr.rsplit_once(':').ok_or_else(|| format!("`{addr}` is not HOST:PORT"))?;
    if host.is_empty() {
        return Err(format!("`{addr}` names no host"));
    }
    port.parse::<u16>().map_err(|_| format!("`{port}` in `{addr}` is not a port (0 to 65535)"))?;
    Ok(addr.to_owned())
}

fn database_url(url: &str) -> Result<String, String> {
    if !crate::store::is_supported_url(url) {
        return Err(format!("`{}` is not sqlite://PATH or postgres://…", crate::app::redact(url)));
    }
    if !url.starts_with("sqlite:") {
        reqwest::Url::parse(url).map_err(|error| format!("`{}` is not a URL: {error}", crate::app::redact(url)))?;
    }
    Ok(url.to_owned())
}

fn origin(origin: &str) -> Result<String, String> {
    crate::http::check_origin(origin).map_err(|error| error.to_string())?;
    Ok(origin.to_owned())
}

/// A secret is never repeated, not even in the message refusing it.
fn secret(text: &str) -> Result<String, String> {
    if text.is_empty() { Err("is empty; leave it out to keep /metrics open".into()) } else { Ok(text.to_owned()) }
}

/// A whole number from `MIN` to `MAX`.
fn bounded<const MIN: u64, const MAX: u64>(text: &str) -> Result<u64, String> {
    let value: u64 = text.parse().map_err(|_| format!("`{text}` is not a whole number from {MIN} to {MAX}"))?;
    match value {
        _ if value < MIN => Err(format!("must be at least {MIN}")),
        _ if value > MAX => Err(format!("{value} is more than the largest allowed, {MAX}")),
        _ => Ok(value),
    }
}

/// Days history is kept.
fn days(text: &str) -> Result<u32, String> {
    match text.parse::<u32>() {
        Ok(0) => Err("0 would delete all of it; leave the setting out to keep everything".into()),
        Ok(days) => Ok(days),
        Err(_) => Err(format!("`{text}` is not a number of days")),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn listen_addresses_are_a_host_and_a_port() {
        for good in ["127.0.0.1:8080", "0.0.0.0:0", "[::1]:65535", "localhost:80"] {
            assert!(super::listen_addr(good).is_ok(), "{good}");
        }
        for bad in ["127.0.0.1:80800", "127.0.0.1", ":8080", "127.0.0.1:-1", "127.0.0.1:http", ""] {
            assert!(super::listen_addr(bad).is_err(), "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn every_port_is_taken_and_no_address_panics(port: u16, host in "[a-z0-9.]{1,20}", text in "\\PC*") {
            let addr = format!("{host}:{port}");
            proptest::prop_assert!(super::listen_addr(&addr).is_ok(), "{}", addr);
            let _ = super::listen_addr(&text);
        }
    }

    #[test]
    fn database_urls_are_sqlite_or_well_formed_postgres() {
        for good in ["sqlite://data/katalog.db", "sqlite::memory:", "postgres://postgres@127.0.0.1:5432/katalog", "postgresql://u:p@db/k?sslmode=require"] {
            assert!(super::database_url(good).is_ok(), "{good}");
        }
        for bad in ["mysql://db", "postgres://u@db:99999/k", "postgres://u@[db/k", "data/katalog.db"] {
            assert!(super::database_url(bad).is_err(), "{bad}");
        }
        let message = super::database_url("postgres://u:secret@db:99999/k").unwrap_err();
        assert!(!message.contains("secret"), "the password is not repeated: {message}");
    }

    #[test]
    fn bounded_numbers_say_which_bound_they_cross() {
        assert_eq!(super::bounded::<1, 10>("0").unwrap_err(), "must be at least 1");
        assert_eq!(super::bounded::<1, 10>("11").unwrap_err(), "11 is more than the largest allowed, 10");
        assert_eq!(super::bounded::<1, 10>("10"), Ok(10));
        assert!(super::bounded::<0, 10>("-1").unwrap_err().contains("`-1` is not a whole number"));
    }
}
