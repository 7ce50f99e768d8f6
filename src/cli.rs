//! The `katalog` command line.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::parser::ValueSource;
use clap::{ArgMatches, Args, Parser, Subcommand};

use crate::app::{App, AppError, WhenHeld, redact};
use crate::clock::Clock;
use crate::config::{FileConfig, LimitsSection, OutboundSection, PartnerSection, RetentionSection, ServeSection, WebhookSection};
use crate::content::{Locale, Registry};
use crate::import::{self, ImportError, ImportOptions, ImportReport};
use crate::search::{SearchIndex, Synonyms};
use crate::store::{DEFAULT_DATABASE_URL, Retention, Store};
use crate::workflow::Role;

#[derive(Parser, Debug)]
#[command(name = "katalog", version, about = "Public-service information, written once and published to every channel")]
pub struct Cli {
    /// Configuration file [default: katalog.toml in the working directory, if present].
    #[arg(long, env = "KATALOG_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create and migrate the database, import the content folder on first start, and serve the API.
    Serve(ServeArgs),
    /// Check the configuration file, or show the settings `serve` would use.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Import a content folder (all-or-nothing; unchanged files create no revision).
    Import(ImportArgs),
    /// Check a content folder without writing anything.
    Validate(ValidateArgs),
    /// Create or update the database schema.
    Migrate(DatabaseArgs),
    /// Delete the audit events and superseded revisions the retention settings no longer keep, once.
    Prune(PruneArgs),
    /// Write a consistent snapshot of the database to FILE while katalog keeps serving.
    Backup(BackupArgs),
    /// Load a backup into an empty database, all or nothing. Backups are portable between databases: a SQLite backup restores into PostgreSQL.
    Restore(BackupArgs),
    /// Write deterministic synthetic content for benchmarks.
    Generate(GenerateArgs),
    /// Create or revoke API tokens (the first admin token comes only from here).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Subscribe to partner municipalities' bundles and keep their content in step.
    #[command(subcommand)]
    Partner(PartnerCommand),
    /// Rebuild the search index from the published content.
    Reindex(SearchArgs),
    /// Write the published content for channels into OUT/<channel>/ (only what changed).
    Export(ExportArgs),
    /// Search the published content and print the top hits with scores.
    Search {
        /// What a visitor would type.
        query: String,
        /// de, en or de-x-ls.
        #[arg(long, default_value = "de")]
        locale: String,
        /// Only entries of this content type.
        #[arg(long = "type")]
        content_type: Option<String>,
        /// How many hits to print.
        #[arg(long, default_value_t = 10)]
        limit: usize,
        #[command(flatten)]
        search: SearchArgs,
    },
    /// Score a relevance test set (Recall@3, MRR) and list every miss; fails below --min-recall.
    SearchEval {
        /// A TOML file of [[query]] cases, each a query and the entries expected among the top hits.
        file: PathBuf,
        /// The lowest Recall@3 (0 to 1) that passes.
        #[arg(long, default_value_t = 0.95)]
        min_recall: f64,
        #[command(flatten)]
        search: SearchArgs,
    },
}

// Parsed once per process: the size of the variants does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Check the settings exactly as `serve` does before it starts: unknown keys and unusable values are reported with their file, line and column (or their flag or environment variable); exits non-zero on any.
    Check(ServeArgs),
    /// Print the settings `serve` would use (flags > environment > file > defaults) as a configuration file.
    Show(ServeArgs),
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The channel to export (repeat for several).
    #[arg(long = "channel", value_enum, required_unless_present = "all")]
    pub channels: Vec<crate::channels::Channel>,
    /// Every channel.
    #[arg(long, conflicts_with = "channels")]
    pub all: bool,
    /// The export folder; each channel writes into its own subfolder.
    #[arg(long, default_value = "exports")]
    pub out: PathBuf,
    /// Content folder whose site.toml names the site (name, url, municipality).
    #[arg(long, env = "KATALOG_CONTENT", default_value = "content")]
    pub content: PathBuf,
    /// Folder of web templates that replace the built-in ones of the same name.
    #[arg(long, env = "KATALOG_TEMPLATES")]
    pub templates: Option<PathBuf>,
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub schemas: SchemaArgs,
}

/// Where the search index and the synonyms are.
#[derive(Args, Debug)]
pub struct SearchArgs {
    /// Folder of the search index [default: beside a SQLite database; data/search-<name> for PostgreSQL].
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

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create a token and print it once; only its hash is stored.
    Create {
        /// reader, editor, publisher or admin.
        #[arg(long)]
        role: Role,
        /// Who or what uses the token (shown as the author of its revisions).
        #[arg(long)]
        name: String,
        /// Days until the token expires; it never expires without this.
        #[arg(long)]
        expires_in_days: Option<u32>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Revoke a token by its id (the part after `kat_` up to the next `_`).
    Revoke {
        /// The token's id, as `token create` reported it.
        id: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Subcommand, Debug)]
pub enum PartnerCommand {
    /// Subscribe to a partner's bundles: a bundle folder or an http(s) URL of one.
    Add {
        /// Lower-case letters and digits joined by hyphens; revisions it brings are authored `partner:NAME`.
        name: String,
        /// The partner's bundle: a folder, or the http(s) URL it is published at.
        #[arg(long)]
        source: String,
        /// Syncs publish what arrives and unpublish what upstream withdrew,
        /// as `sync --publish` does; without it, changes wait as drafts.
        #[arg(long)]
        auto_publish: bool,
        #[command(flatten)]
        fence: FenceArgs,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Verify the partner's bundle and apply what changed, all or nothing.
    Sync {
        /// The partner, as named by `partner add`.
        name: String,
        /// Publish what arrives and unpublish what upstream withdrew; without
        /// it (and without `add --auto-publish`), changes wait as drafts for
        /// review and withdrawals are only marked.
        #[arg(long)]
        publish: bool,
        #[command(flatten)]
        fetch: PartnerFetchArgs,
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(flatten)]
        schemas: SchemaArgs,
    },
    /// Decide a conflict: take upstream's value of the module, or keep ours.
    Resolve {
        /// The partner, as named by `partner add`.
        name: String,
        /// The entry as TYPE/SLUG.
        entry: String,
        /// The module (top-level field) in conflict.
        module: String,
        /// The locale of the conflict: de, en or de-x-ls.
        #[arg(long, default_value = "de")]
        locale: String,
        /// A new draft revision with upstream's value.
        #[arg(long, conflicts_with = "keep_mine", required_unless_present = "keep_mine")]
        take_upstream: bool,
        /// Keep our value; the next upstream change to the module raises a new conflict.
        #[arg(long)]
        keep_mine: bool,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// What the last sync brought (new, changed), what upstream withdrew and what is in conflict.
    Status {
        /// One partner; every partner without it.
        name: Option<String>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

/// How long history is kept; without a setting, everything is kept.
#[derive(Args, Debug)]
pub struct RetentionArgs {
    /// Delete audit events older than this many days.
    #[arg(long, env = "KATALOG_KEEP_AUDIT_DAYS", value_parser = clap::value_parser!(u32).range(1..))]
    pub keep_audit_days: Option<u32>,
    /// Delete revisions superseded more than this many days ago; published, scheduled and newest revisions, and those translations or partner bookkeeping refer to, stay.
    #[arg(long, env = "KATALOG_KEEP_REVISION_DAYS", value_parser = clap::value_parser!(u32).range(1..))]
    pub keep_revision_days: Option<u32>,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    #[command(flatten)]
    pub retention: RetentionArgs,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Args, Debug)]
pub struct BackupArgs {
    /// The backup file (gzip'd JSON lines).
    pub file: PathBuf,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Args, Debug)]
pub struct DatabaseArgs {
    /// sqlite://PATH (default) or postgres://USER@HOST/DB.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    pub database: String,
}

#[derive(Args, Debug)]
pub struct SchemaArgs {
    /// Folder with one <type>.schema.json per content type.
    #[arg(long, env = "KATALOG_SCHEMAS", default_value = "schemas")]
    pub schemas: PathBuf,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "KATALOG_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: String,
    /// Content folder imported when the database is empty.
    #[arg(long, env = "KATALOG_CONTENT", default_value = "content")]
    pub content: PathBuf,
    /// Folder of the search index [default: beside a SQLite database; data/search-<name> for PostgreSQL].
    #[arg(long, env = "KATALOG_SEARCH_INDEX")]
    pub search_index: Option<PathBuf>,
    /// Folder of the partner bundle served at /partner/ [default: beside a SQLite database; data/partner-bundle-<name> for PostgreSQL].
    #[arg(long, env = "KATALOG_PARTNER_BUNDLE")]
    pub partner_bundle: Option<PathBuf>,
    /// Memory for rendered delivery responses, in MiB.
    #[arg(long, env = "KATALOG_CACHE_MB", default_value_t = 128)]
    pub cache_mb: u64,
    /// Requests a minute per client address to the management API and the editor UI (429 beyond); 0 for no limit.
    #[arg(long, env = "KATALOG_RATE_LIMIT_MANAGE", default_value_t = 600)]
    pub rate_limit_manage: u32,
    /// Requests a minute per client address to search and suggestions (429 beyond); 0 for no limit.
    #[arg(long, env = "KATALOG_RATE_LIMIT_SEARCH", default_value_t = 600)]
    pub rate_limit_search: u32,
    /// Requests a minute per client address to the lists of entries and the sync feed (429 beyond); 0 for no limit.
    #[arg(long, env = "KATALOG_RATE_LIMIT_READ", default_value_t = 0)]
    pub rate_limit_read: u32,
    /// One reverse proxy stands in front: rate limits count against the address it appends to X-Forwarded-For.
    #[arg(long, env = "KATALOG_BEHIND_PROXY")]
    pub behind_proxy: bool,
    /// An origin whose pages may read the delivery API, as scheme://host[:port], or * for any (repeat, or separate by commas).
    #[arg(long = "cors-origin", env = "KATALOG_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,
    /// A secret that /metrics requires as `Authorization: Bearer …`; without one, /metrics is open to all.
    #[arg(long, env = "KATALOG_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// /readyz answers 503 while a change-log consumer (search index, response cache, webhooks) is more changes behind than this.
    #[arg(long, env = "KATALOG_READY_MAX_LAG", default_value_t = 1000)]
    pub ready_max_lag: u64,
    /// Templates that replace the web site's built-in ones of the same name.
    #[arg(long, env = "KATALOG_TEMPLATES")]
    pub templates: Option<PathBuf>,
    #[command(flatten)]
    pub webhooks: WebhookArgs,
    #[command(flatten)]
    pub partner_fetch: PartnerFetchArgs,
    #[command(flatten)]
    pub retention: RetentionArgs,
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub schemas: SchemaArgs,
}

/// Which hosts webhooks and partner fetches may reach beyond the public
/// internet; none by default.
#[derive(Args, Debug)]
pub struct FenceArgs {
    /// A host (name or IP address) that webhooks and partner bundle fetches may reach although it is, or resolves to, a loopback, private or otherwise non-public address (repeat, or separate by commas).
    #[arg(long = "outbound-allow-host", env = "KATALOG_OUTBOUND_ALLOW_HOSTS", value_delimiter = ',')]
    pub outbound_allow_hosts: Vec<String>,
}

/// How partner bundles are read.
#[derive(Args, Debug)]
pub struct PartnerFetchArgs {
    /// The largest file of a partner bundle that is read, in MiB.
    #[arg(long, env = "KATALOG_PARTNER_MAX_FILE_MB", default_value_t = crate::partner::FetchSettings::DEFAULT_MAX_FILE_MB, value_parser = clap::value_parser!(u64).range(1..))]
    pub partner_max_file_mb: u64,
    /// Seconds a partner sync may spend reading and verifying the bundle.
    #[arg(long, env = "KATALOG_PARTNER_SYNC_TIMEOUT_SECS", default_value_t = crate::partner::FetchSettings::DEFAULT_DEADLINE_SECS, value_parser = clap::value_parser!(u64).range(1..))]
    pub partner_sync_timeout_secs: u64,
    #[command(flatten)]
    pub fence: FenceArgs,
}

impl FenceArgs {
    fn fill_from(&mut self, file: &FileConfig, given: &Given) {
        given.fill("outbound_allow_hosts", &mut self.outbound_allow_hosts, file.outbound.allow_hosts.clone());
    }

    fn fence(&self) -> crate::outbound::Fence {
        crate::outbound::Fence::allowing(&self.outbound_allow_hosts)
    }
}

impl PartnerFetchArgs {
    fn fill_from(&mut self, file: &FileConfig, given: &Given) {
        given.fill("partner_max_file_mb", &mut self.partner_max_file_mb, file.partner.max_file_mb);
        given.fill("partner_sync_timeout_secs", &mut self.partner_sync_timeout_secs, file.partner.sync_timeout_secs);
        self.fence.fill_from(file, given);
    }

    pub(crate) fn settings(&self) -> crate::partner::FetchSettings {
        crate::partner::FetchSettings {
            fence: self.fence.fence(),
            max_file_bytes: self.partner_max_file_mb.saturating_mul(crate::partner::MIB),
            deadline: std::time::Duration::from_secs(self.partner_sync_timeout_secs),
        }
    }
}

/// Webhook timing; the defaults suit production.
#[derive(Args, Debug)]
pub struct WebhookArgs {
    /// How long a new event waits for more changes of its entry, in ms.
    #[arg(long, env = "KATALOG_WEBHOOK_DEBOUNCE_MS", default_value_t = 1000)]
    pub webhook_debounce_ms: u64,
    /// Wait after the first failed attempt, in ms; it doubles with each.
    #[arg(long, env = "KATALOG_WEBHOOK_BACKOFF_MS", default_value_t = 10_000)]
    pub webhook_backoff_ms: u64,
    /// The longest wait between attempts, in ms.
    #[arg(long, env = "KATALOG_WEBHOOK_MAX_BACKOFF_MS", default_value_t = 1_800_000)]
    pub webhook_max_backoff_ms: u64,
    /// How long failed deliveries are retried, in hours.
    #[arg(long, env = "KATALOG_WEBHOOK_RETRY_HOURS", default_value_t = 24)]
    pub webhook_retry_hours: u64,
}

/// The values clap found on the command line or in the environment; the
/// configuration file fills only the others.
struct Given<'a>(&'a ArgMatches);

impl Given<'_> {
    fn fill<T>(&self, id: &str, target: &mut T, from_file: Option<T>) {
        let given = matches!(self.0.value_source(id), Some(ValueSource::CommandLine | ValueSource::EnvVariable));
        if !given && let Some(value) = from_file {
            *target = value;
        }
    }
}

/// The matches of the subcommand that runs (flattened arguments live there).
fn innermost(matches: &ArgMatches) -> &ArgMatches {
    match matches.subcommand() {
        Some((_, sub)) => innermost(sub),
        None => matches,
    }
}

fn fill_from_file(command: &mut Command, file: &FileConfig, given: &Given) {
    match command {
        Command::Serve(args) | Command::Config(ConfigCommand::Show(args) | ConfigCommand::Check(args)) => args.fill_from(file, given),
        Command::Generate(_) => {}
        Command::Import(args) => {
            args.database.fill_from(file, given);
            args.schemas.fill_from(file, given);
        }
        Command::Validate(args) => args.schemas.fill_from(file, given),
        Command::Prune(args) => {
            args.retention.fill_from(file, given);
            args.database.fill_from(file, given);
        }
        Command::Migrate(database)
        | Command::Backup(BackupArgs { database, .. })
        | Command::Restore(BackupArgs { database, .. })
        | Command::Token(TokenCommand::Create { database, .. } | TokenCommand::Revoke { database, .. })
        | Command::Partner(PartnerCommand::Resolve { database, .. } | PartnerCommand::Status { database, .. }) => database.fill_from(file, given),
        Command::Partner(PartnerCommand::Add { database, fence, .. }) => {
            database.fill_from(file, given);
            fence.fill_from(file, given);
        }
        Command::Partner(PartnerCommand::Sync { database, schemas, fetch, .. }) => {
            database.fill_from(file, given);
            schemas.fill_from(file, given);
            fetch.fill_from(file, given);
        }
        Command::Reindex(search) | Command::Search { search, .. } | Command::SearchEval { search, .. } => search.fill_from(file, given),
        Command::Export(args) => {
            given.fill("content", &mut args.content, file.content.clone());
            given.fill("templates", &mut args.templates, file.templates.clone().map(Some));
            args.database.fill_from(file, given);
            args.schemas.fill_from(file, given);
        }
    }
}

impl DatabaseArgs {
    fn fill_from(&mut self, file: &FileConfig, given: &Given) {
        given.fill("database", &mut self.database, file.database.clone());
    }
}

impl SchemaArgs {
    fn fill_from(&mut self, file: &FileConfig, given: &Given) {
        given.fill("schemas", &mut self.schemas, file.schemas.clone());
    }
}

impl SearchArgs {
    fn fill_from(&mut self, file: &FileConfig, given: &Given) {
        given.fill("search_index", &mut self.search_index, file.search_index.clone().map(Some));
        given.fill("content", &mut self.content, file.content.clone());
        self.database.fill_from(file, given);
        self.schemas.fill_from(file, given);
    }
}

impl ServeArgs {
    fn fill_from(&mut self, file: &FileConfig, given: &Given) {
        given.fill("addr", &mut self.addr, file.serve.addr.clone());
        given.fill("content", &mut self.content, file.content.clone());
        given.fill("search_index", &mut self.search_index, file.search_index.clone().map(Some));
        given.fill("partner_bundle", &mut self.partner_bundle, file.serve.partner_bundle.clone().map(Some));
        given.fill("cache_mb", &mut self.cache_mb, file.serve.cache_mb);
        given.fill("ready_max_lag", &mut self.ready_max_lag, file.serve.ready_max_lag);
        given.fill("cors_origins", &mut self.cors_origins, file.serve.cors_origins.clone());
        given.fill("rate_limit_manage", &mut self.rate_limit_manage, file.limits.manage_per_minute);
        given.fill("rate_limit_search", &mut self.rate_limit_search, file.limits.search_per_minute);
        given.fill("rate_limit_read", &mut self.rate_limit_read, file.limits.read_per_minute);
        given.fill("metrics_token", &mut self.metrics_token, file.serve.metrics_token.clone().map(Some));
        given.fill("behind_proxy", &mut self.behind_proxy, file.limits.behind_proxy);
        given.fill("templates", &mut self.templates, file.templates.clone().map(Some));
        self.webhooks.fill_from(file, given);
        self.partner_fetch.fill_from(file, given);
        self.retention.fill_from(file, given);
        self.database.fill_from(file, given);
        self.schemas.fill_from(file, given);
    }

    /// The settings as a configuration file would give them.
    fn as_file_config(&self) -> FileConfig {
        let w = &self.webhooks;
        FileConfig {
            database: Some(self.database.database.clone()),
            schemas: Some(self.schemas.schemas.clone()),
            content: Some(self.content.clone()),
            templates: self.templates.clone(),
            search_index: self.search_index.clone(),
            serve: ServeSection {
                addr: Some(self.addr.clone()),
                partner_bundle: self.partner_bundle.clone(),
                cache_mb: Some(self.cache_mb),
                ready_max_lag: Some(self.ready_max_lag),
                cors_origins: Some(self.cors_origins.clone()),
                // A secret is not printed, only that there is one.
                metrics_token: self.metrics_token.as_ref().map(|_| "(hidden)".to_owned()),
            },
            limits: LimitsSection {
                manage_per_minute: Some(self.rate_limit_manage),
                search_per_minute: Some(self.rate_limit_search),
                read_per_minute: Some(self.rate_limit_read),
                behind_proxy: Some(self.behind_proxy),
            },
            webhooks: WebhookSection {
                debounce_ms: Some(w.webhook_debounce_ms),
                backoff_ms: Some(w.webhook_backoff_ms),
                max_backoff_ms: Some(w.webhook_max_backoff_ms),
                retry_hours: Some(w.webhook_retry_hours),
            },
            retention: RetentionSection { audit_days: self.retention.keep_audit_days, revision_days: self.retention.keep_revision_days },
            outbound: OutboundSection { allow_hosts: Some(self.partner_fetch.fence.outbound_allow_hosts.clone()) },
            partner: PartnerSection {
                max_file_mb: Some(self.partner_fetch.partner_max_file_mb),
                sync_timeout_secs: Some(self.partner_fetch.partner_sync_timeout_secs),
            },
        }
    }
}

/// The largest response cache, in MiB (a TiB): a larger number is a slip.
const MAX_CACHE_MB: u64 = 1 << 20;
/// The longest webhook wait (debounce, backoff), in ms: a day.
const MAX_WEBHOOK_WAIT_MS: u64 = 24 * 3600 * 1000;
/// The longest time failed webhook deliveries are retried, in hours: a year.
const MAX_WEBHOOK_RETRY_HOURS: u64 = 366 * 24;

/// A value a command cannot use.
struct Unusable {
    /// clap's id of the argument, which names its flag and environment variable.
    id: &'static str,
    /// Its key in the configuration file.
    key: &'static str,
    /// Which element of a list.
    element: Option<usize>,
    message: String,
}

/// The values a command cannot use, as they are found.
#[derive(Default)]
struct Verdicts(Vec<Unusable>);

impl Verdicts {
    fn check(&mut self, id: &'static str, key: &'static str, element: Option<usize>, verdict: Result<(), String>) {
        if let Err(message) = verdict {
            self.0.push(Unusable { id, key, element, message });
        }
    }
}

impl Command {
    /// Every value the command cannot use, found before it opens anything.
    fn unusable(&self) -> Vec<Unusable> {
        let mut verdicts = Verdicts::default();
        let v = &mut verdicts;
        match self {
            Command::Serve(args) | Command::Config(ConfigCommand::Check(args)) => args.check(v),
            // Shown as they are, unusable or not.
            Command::Config(ConfigCommand::Show(_)) | Command::Generate(_) | Command::Validate(_) => {}
            Command::Prune(args) => {
                args.retention.check(v);
                args.database.check(v);
            }
            Command::Partner(PartnerCommand::Sync { database, fetch, .. }) => {
                fetch.check(v);
                database.check(v);
            }
            Command::Import(ImportArgs { database, .. })
            | Command::Migrate(database)
            | Command::Backup(BackupArgs { database, .. })
            | Command::Restore(BackupArgs { database, .. })
            | Command::Token(TokenCommand::Create { database, .. } | TokenCommand::Revoke { database, .. })
            | Command::Partner(PartnerCommand::Add { database, .. } | PartnerCommand::Resolve { database, .. } | PartnerCommand::Status { database, .. })
            | Command::Reindex(SearchArgs { database, .. })
            | Command::Search { search: SearchArgs { database, .. }, .. }
            | Command::SearchEval { search: SearchArgs { database, .. }, .. }
            | Command::Export(ExportArgs { database, .. }) => database.check(v),
        }
        verdicts.0
    }
}

impl ServeArgs {
    fn check(&self, v: &mut Verdicts) {
        v.check("addr", "serve.addr", None, check_addr(&self.addr));
        for (index, origin) in self.cors_origins.iter().enumerate() {
            v.check("cors_origins", "serve.cors_origins", Some(index), crate::http::check_origin(origin).map_err(|error| error.to_string()));
        }
        v.check("cache_mb", "serve.cache_mb", None, at_most(self.cache_mb, MAX_CACHE_MB));
        let empty_token = self.metrics_token.as_deref().is_some_and(str::is_empty);
        v.check("metrics_token", "serve.metrics_token", None, if empty_token { Err("is empty; leave it out to keep /metrics open".into()) } else { Ok(()) });
        self.webhooks.check(v);
        self.partner_fetch.check(v);
        self.retention.check(v);
        self.database.check(v);
    }
}

impl WebhookArgs {
    fn check(&self, v: &mut Verdicts) {
        v.check("webhook_debounce_ms", "webhooks.debounce_ms", None, at_most(self.webhook_debounce_ms, MAX_WEBHOOK_WAIT_MS));
        v.check(
            "webhook_backoff_ms",
            "webhooks.backoff_ms",
            None,
            at_least_one(self.webhook_backoff_ms).and(at_most(self.webhook_backoff_ms, MAX_WEBHOOK_WAIT_MS)),
        );
        v.check(
            "webhook_max_backoff_ms",
            "webhooks.max_backoff_ms",
            None,
            at_least_one(self.webhook_max_backoff_ms).and(at_most(self.webhook_max_backoff_ms, MAX_WEBHOOK_WAIT_MS)),
        );
        v.check("webhook_retry_hours", "webhooks.retry_hours", None, at_most(self.webhook_retry_hours, MAX_WEBHOOK_RETRY_HOURS));
    }
}

impl PartnerFetchArgs {
    fn check(&self, v: &mut Verdicts) {
        v.check("partner_max_file_mb", "partner.max_file_mb", None, at_least_one(self.partner_max_file_mb));
        v.check("partner_sync_timeout_secs", "partner.sync_timeout_secs", None, at_least_one(self.partner_sync_timeout_secs));
    }
}

impl RetentionArgs {
    fn check(&self, v: &mut Verdicts) {
        for (id, key, days) in
            [("keep_audit_days", "retention.audit_days", self.keep_audit_days), ("keep_revision_days", "retention.revision_days", self.keep_revision_days)]
        {
            v.check(id, key, None, if days == Some(0) { Err("0 would delete all of it; leave the setting out to keep everything".into()) } else { Ok(()) });
        }
    }
}

impl DatabaseArgs {
    fn check(&self, v: &mut Verdicts) {
        v.check("database", "database", None, check_database_url(&self.database));
    }
}

/// `HOST:PORT` as `serve` binds it (the host is resolved only then).
fn check_addr(addr: &str) -> Result<(), String> {
    let (host, port) = addr.rsplit_once(':').ok_or_else(|| format!("`{addr}` is not HOST:PORT"))?;
    if host.is_empty() {
        return Err(format!("`{addr}` names no host"));
    }
    port.parse::<u16>().map(drop).map_err(|_| format!("`{port}` in `{addr}` is not a port (0 to 65535)"))
}

fn check_database_url(url: &str) -> Result<(), String> {
    if !crate::store::is_supported_url(url) {
        return Err(format!("`{}` is not sqlite://PATH or postgres://…", redact(url)));
    }
    if !url.starts_with("sqlite:") {
        reqwest::Url::parse(url).map_err(|error| format!("`{}` is not a URL: {error}", redact(url)))?;
    }
    Ok(())
}

fn at_least_one(value: u64) -> Result<(), String> {
    if value == 0 { Err("must be at least 1".into()) } else { Ok(()) }
}

fn at_most(value: u64, max: u64) -> Result<(), String> {
    if value > max { Err(format!("{value} is more than the largest allowed, {max}")) } else { Ok(()) }
}

/// Refuses settings the command cannot use, naming for each value the
/// file, line and column it was set at, or its flag or environment
/// variable. Every command asks this before it opens anything; `config
/// check` asks it for the settings of `serve`.
fn check_settings(command: &Command, loaded: Option<&crate::config::Loaded>, matches: &ArgMatches) -> Result<(), crate::config::ConfigError> {
    let unusable = command.unusable();
    if unusable.is_empty() {
        return Ok(());
    }
    let cli = <Cli as clap::CommandFactory>::command();
    let lines = unusable
        .iter()
        .map(|problem| {
            let argument = find_argument(&cli, problem.id);
            let given = match matches.value_source(problem.id) {
                Some(ValueSource::CommandLine) => argument.and_then(clap::Arg::get_long).map(|long| format!("--{long}")),
                Some(ValueSource::EnvVariable) => argument.and_then(clap::Arg::get_env).map(|name| name.to_string_lossy().into_owned()),
                _ => None,
            };
            match (given, loaded.and_then(|file| file.locate(problem.key, problem.element))) {
                (Some(given), _) => format!("{given}: {}", problem.message),
                (None, Some(at)) => format!("{at}: {}: {}", problem.key, problem.message),
                (None, None) => format!("{} (default): {}", problem.key, problem.message),
            }
        })
        .collect();
    Err(crate::config::ConfigError::Unusable(lines))
}

/// The argument of that id in any command: a setting is spelt the same
/// in every command that takes it.
fn find_argument<'a>(command: &'a clap::Command, id: &str) -> Option<&'a clap::Arg> {
    command.get_arguments().find(|argument| argument.get_id() == id).or_else(|| command.get_subcommands().find_map(|sub| find_argument(sub, id)))
}

impl RetentionArgs {
    fn fill_from(&mut self, file: &FileConfig, given: &Given) {
        let r = &file.retention;
        given.fill("keep_audit_days", &mut self.keep_audit_days, r.audit_days.map(Some));
        given.fill("keep_revision_days", &mut self.keep_revision_days, r.revision_days.map(Some));
    }

    pub(crate) fn retention(&self) -> Retention {
        Retention { audit_days: self.keep_audit_days, revision_days: self.keep_revision_days }
    }
}

impl WebhookArgs {
    fn fill_from(&mut self, file: &FileConfig, given: &Given) {
        let w = &file.webhooks;
        given.fill("webhook_debounce_ms", &mut self.webhook_debounce_ms, w.debounce_ms);
        given.fill("webhook_backoff_ms", &mut self.webhook_backoff_ms, w.backoff_ms);
        given.fill("webhook_max_backoff_ms", &mut self.webhook_max_backoff_ms, w.max_backoff_ms);
        given.fill("webhook_retry_hours", &mut self.webhook_retry_hours, w.retry_hours);
    }

    pub(crate) fn timing(&self) -> crate::webhooks::Timing {
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

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The content folder.
    pub dir: PathBuf,
    /// Recorded as the author of the new revisions.
    #[arg(long, default_value = "import")]
    pub author: String,
    /// Publish what changed. Without it, new and changed files become
    /// draft revisions for review, and published content stays as it is.
    #[arg(long)]
    pub publish: bool,
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub schemas: SchemaArgs,
}

#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// The content folder.
    pub dir: PathBuf,
    /// Check only what an import as drafts needs; by default also what
    /// publishing would refuse (fields a channel requires), as `import --publish` does.
    #[arg(long)]
    pub drafts: bool,
    #[command(flatten)]
    pub schemas: SchemaArgs,
}

#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// Number of services; offices (N/50) and topics follow from it.
    #[arg(long)]
    pub services: usize,
    /// Output folder (created; must be empty or absent).
    #[arg(long)]
    pub out: PathBuf,
    /// Seed of the pseudo-random text; the same seed gives the same files.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Also write an English translation of every service.
    #[arg(long)]
    pub english: bool,
}

/// Runs a parsed command line; `matches` tell which values clap took from
/// its defaults, for the configuration file to replace.
pub async fn run(cli: Cli, matches: &ArgMatches) -> anyhow::Result<ExitCode> {
    let loaded = crate::config::load(cli.config.as_deref())?;
    let mut command = cli.command;
    if let Some(loaded) = &loaded {
        fill_from_file(&mut command, &loaded.config, &Given(innermost(matches)));
    }
    check_settings(&command, loaded.as_ref(), innermost(matches))?;
    match command {
        Command::Serve(args) => serve(args).await,
        Command::Config(ConfigCommand::Check(_)) => {
            match &loaded {
                Some(loaded) => println!("{}: valid", loaded.path.display()),
                None => println!("no configuration file ({} not found): flags, environment and defaults apply", crate::config::DEFAULT_FILE),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Config(ConfigCommand::Show(args)) => {
            print!("{}", toml::to_string(&args.as_file_config())?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Import(args) => import_command(args).await,
        Command::Validate(args) => validate_command(args),
        Command::Migrate(args) => {
            let store = open_store(&args).await?;
            store.migrate().await?;
            println!("database is up to date");
            Ok(ExitCode::SUCCESS)
        }
        Command::Prune(args) => {
            let retention = args.retention.retention();
            if retention.keeps_everything() {
                println!("no retention set (--keep-audit-days, --keep-revision-days or [retention] in katalog.toml): nothing to prune");
                return Ok(ExitCode::SUCCESS);
            }
            let store = open_store(&args.database).await?;
            store.migrate().await?;
            let pruned = store.prune(retention, chrono::Utc::now()).await?;
            println!("removed {} superseded revisions and {} audit events", pruned.revisions, pruned.audit_events);
            Ok(ExitCode::SUCCESS)
        }
        Command::Backup(args) => {
            let store = open_store(&args.database).await?;
            let started = std::time::Instant::now();
            let summary = crate::backup::backup(&store, &args.file, &rows_progress("backing up")).await?;
            println!("backed up {} rows of {} tables to {} in {:.1} s", summary.rows, summary.tables, args.file.display(), started.elapsed().as_secs_f64());
            Ok(ExitCode::SUCCESS)
        }
        Command::Restore(args) => {
            let store = open_store(&args.database).await?;
            let started = std::time::Instant::now();
            let summary = crate::backup::restore(&store, &args.file, &rows_progress("restoring")).await?;
            println!("restored {} rows of {} tables from {} in {:.1} s", summary.rows, summary.tables, args.file.display(), started.elapsed().as_secs_f64());
            Ok(ExitCode::SUCCESS)
        }
        Command::Token(command) => token_command(command).await,
        Command::Partner(command) => partner_command(command).await,
        Command::Generate(args) => {
            let written = crate::generate::write(&args.out, args.services, args.seed, args.english)?;
            println!("wrote {written} files to {}", args.out.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Reindex(args) => {
            // An index rebuilt in memory would be thrown away: refuse instead.
            let (store, index, _) = open_search_command(&args, WhenHeld::Refuse).await?;
            let started = std::time::Instant::now();
            let documents = index.rebuild(&store, true).await?;
            let peak = peak_memory_mb().map(|mb| format!(", peak memory {mb:.0} MB")).unwrap_or_default();
            println!("indexed {documents} documents in {:.1} s{peak}", started.elapsed().as_secs_f64());
            Ok(ExitCode::SUCCESS)
        }
        Command::Export(args) => {
            let registry = load_registry(&args.schemas)?;
            let store = open_store(&args.database).await?;
            store.migrate().await?;
            let channels = if args.all { crate::channels::Channel::ALL.to_vec() } else { args.channels.clone() };
            let started = std::time::Instant::now();
            let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
            let settings = crate::channels::Settings { site: crate::channels::Site::load(&args.content.join("site.toml"))?, templates: args.templates.clone() };
            let reports = crate::channels::export(&store, &registry, &channels, &settings, &args.out, progress).await?;
            for report in &reports {
                let s = report.summary;
                println!(
                    "{}: {} written, {} deleted, {} unchanged; {} entries remade{}",
                    report.channel.name(),
                    s.written,
                    s.deleted,
                    s.unchanged,
                    report.rendered,
                    if report.problems.is_empty() { String::new() } else { format!(", {} left out", report.problems.len()) }
                );
                for problem in &report.problems {
                    println!("  left out of {}: {problem}", report.channel.name());
                }
            }
            let peak = peak_memory_mb().map(|mb| format!(", peak memory {mb:.0} MB")).unwrap_or_default();
            println!("exported to {} in {:.2} s{peak}", args.out.display(), started.elapsed().as_secs_f64());
            Ok(ExitCode::SUCCESS)
        }
        Command::Search { query, locale, content_type, limit, search } => {
            let (index, synonyms) = caught_up_search(&search).await?;
            let locale = Locale::parse(&locale).with_context(|| format!("unknown locale `{locale}`"))?;
            let request =
                crate::search::SearchRequest { text: &query, locale, content_type: content_type.as_deref(), topic: None, office: None, limit, offset: 0 };
            let results = index.search(&request, &synonyms)?;
            println!("{} matching entries", results.total);
            for hit in results.hits {
                println!("{:>8.3}  {}/{} ({})  {}", hit.score, hit.content_type, hit.slug, hit.locale, hit.title);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::SearchEval { file, min_recall, search } => {
            let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let cases: crate::search::eval::QueryFile = toml::from_str(&text).with_context(|| format!("{} is not a query file", file.display()))?;
            let (index, synonyms) = caught_up_search(&search).await?;
            let report = crate::search::eval::evaluate(&index, &synonyms, &cases.query)?;
            print!("{report}");
            Ok(if report.recall_at_3 >= min_recall { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
    }
}

async fn open_search_command(args: &SearchArgs, when_held: WhenHeld) -> anyhow::Result<(Store, SearchIndex, Synonyms)> {
    let registry = load_registry(&args.schemas)?;
    let store = open_store(&args.database).await?;
    store.migrate().await?;
    let index = crate::app::open_search_index(args.search_index.as_deref(), &args.database.database, registry, when_held)?;
    let synonyms = Synonyms::load(&args.content.join("synonyms.toml"))?;
    Ok((store, index, synonyms))
}

/// The index of a search command, caught up with the change log.
async fn caught_up_search(args: &SearchArgs) -> anyhow::Result<(Arc<SearchIndex>, Synonyms)> {
    let (store, index, synonyms) = open_search_command(args, WhenHeld::InMemory).await?;
    let index = Arc::new(index);
    crate::feed::ChangeFeed::new(store, vec![index.clone()]).catch_up(crate::feed::Needs::Latest).await?;
    Ok((index, synonyms))
}

async fn token_command(command: TokenCommand) -> anyhow::Result<ExitCode> {
    match command {
        TokenCommand::Create { role, name, expires_in_days, database } => {
            let store = open_store(&database).await?;
            store.migrate().await?;
            let expires_at = expires_in_days.map(|days| chrono::Utc::now() + chrono::Duration::days(i64::from(days)));
            let issued = crate::auth::create_token(&store, &name, role, expires_at).await?;
            println!("{}", issued.token);
            eprintln!("token {} ({role}) for {name}; it is shown only this once", issued.id);
            Ok(ExitCode::SUCCESS)
        }
        TokenCommand::Revoke { id, database } => {
            let store = open_store(&database).await?;
            if store.revoke_token(&id).await? {
                println!("token {id} revoked");
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("no active token {id}");
                Ok(ExitCode::FAILURE)
            }
        }
    }
}

async fn partner_command(command: PartnerCommand) -> anyhow::Result<ExitCode> {
    use crate::partner::{self, BundleSource, SyncError, SyncOptions};
    match command {
        PartnerCommand::Add { name, source, auto_publish, fence, database } => {
            // A folder is kept as an absolute path: syncs may run from anywhere.
            let source = match BundleSource::parse(&source) {
                BundleSource::Folder(folder) => {
                    anyhow::ensure!(folder.is_dir(), "{} is not a folder", folder.display());
                    std::path::absolute(&folder)?.display().to_string()
                }
                BundleSource::Http(url) => url,
            };
            let store = open_store(&database).await?;
            store.migrate().await?;
            partner::add(&store, &name, &source, auto_publish, &fence.fence()).await?;
            let arrives = if auto_publish { "published" } else { "as drafts" };
            println!("partner {name} added: bundles from {source}, changes arrive {arrives}; `katalog partner sync {name}` applies the current one");
            Ok(ExitCode::SUCCESS)
        }
        PartnerCommand::Sync { name, publish, fetch, database, schemas } => {
            let registry = load_registry(&schemas)?;
            let store = open_store(&database).await?;
            store.migrate().await?;
            let report = match partner::sync(&store, &registry, &name, SyncOptions { publish, fetch: fetch.settings() }).await {
                Ok(report) => report,
                Err(SyncError::Rejected(problems)) => {
                    for problem in &problems {
                        eprintln!("error: {problem}");
                    }
                    eprintln!("{} problem(s): the bundle of {name} was rejected; nothing was applied", problems.len());
                    return Ok(ExitCode::FAILURE);
                }
                Err(error) => return Err(error.into()),
            };
            println!(
                "partner {}: content version {} from {}: {} new, {} changed, {} withdrawn, {} unchanged, {} conflicts; {} new revisions ({}); {} files read in {:.2} s{}",
                report.partner,
                report.content_version,
                report.municipality,
                report.new.len(),
                report.changed.len(),
                report.withdrawn.len(),
                report.unchanged,
                report.conflicts.len(),
                report.new_revisions,
                if report.published { "published" } else { "drafts" },
                report.files_read,
                report.elapsed.as_secs_f64(),
                peak_memory_mb().map(|mb| format!(", peak memory {mb:.0} MB")).unwrap_or_default()
            );
            for (label, entries) in [
                ("new", &report.new),
                ("changed", &report.changed),
                ("withdrawn upstream", &report.withdrawn),
                ("kept as a draft", &report.held_back),
                ("in conflict", &report.conflicts),
                ("refers to an entry not received", &report.unresolved),
            ] {
                for entry in entries {
                    println!("  {label}: {entry}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        PartnerCommand::Resolve { name, entry, module, locale, take_upstream, keep_mine: _, database } => {
            let (content_type, slug) = entry.split_once('/').with_context(|| format!("`{entry}` is not TYPE/SLUG"))?;
            let locale = Locale::parse(&locale).with_context(|| format!("unknown locale `{locale}`"))?;
            let store = open_store(&database).await?;
            store.migrate().await?;
            let resolution = if take_upstream { partner::Resolution::TakeUpstream } else { partner::Resolution::KeepMine };
            let decider =
                partner::Decider { actor: format!("partner:{name}"), request_id: format!("partner-resolve-{}", chrono::Utc::now().timestamp_millis()) };
            let key = partner::ConflictKey { content_type, slug, module: &module, locale };
            match partner::resolve(&store, &name, &key, resolution, &decider).await? {
                Some(number) => println!("{entry}: {module} ({}) taken from upstream as draft revision {number}", locale.code()),
                None => println!("{entry}: {module} ({}) kept as it is here", locale.code()),
            }
            Ok(ExitCode::SUCCESS)
        }
        PartnerCommand::Status { name, database } => {
            let store = open_store(&database).await?;
            store.migrate().await?;
            let statuses = partner::status(&store, name.as_deref()).await?;
            if statuses.is_empty() {
                println!("no partners; add one with `katalog partner add NAME --source PATH-or-URL`");
            }
            for status in &statuses {
                let p = &status.partner;
                match p.synced_at {
                    None => println!("{}: {} (never synced)", p.name, p.source),
                    Some(at) => println!(
                        "{}: {} ({}), content version {}, synced {}",
                        p.name,
                        p.source,
                        p.municipality.as_deref().unwrap_or("?"),
                        p.content_version,
                        at.format("%Y-%m-%d %H:%M:%S UTC")
                    ),
                }
                let withdrawn = status.withdrawn();
                println!("  {} entries from upstream, {} withdrawn upstream", status.entries.len(), withdrawn.len());
                println!("  {}", if p.auto_publish { "syncs publish upstream changes (auto-publish)" } else { "syncs keep upstream changes as drafts" });
                for entry in status.new_in_last_sync() {
                    println!("  new in the last sync: {}/{}", entry.content_type, entry.slug);
                }
                for entry in status.changed_in_last_sync() {
                    println!("  changed in the last sync: {}/{}", entry.content_type, entry.slug);
                }
                for entry in withdrawn {
                    println!(
                        "  withdrawn upstream ({}, content version {}): {}/{}",
                        entry.withdrawn_action.as_deref().unwrap_or("withdrawn"),
                        entry.withdrawn_in.unwrap_or_default(),
                        entry.content_type,
                        entry.slug
                    );
                }
                for conflict in &status.conflicts {
                    print_conflict(conflict);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// A conflict with both versions and what upstream's would change here.
fn print_conflict(conflict: &crate::store::Conflict) {
    let row = &conflict.row;
    let parse = |value: &Option<String>| value.as_deref().and_then(|v| serde_json::from_str::<serde_json::Value>(v).ok()).unwrap_or(serde_json::Value::Null);
    let (upstream, here) = (parse(&row.upstream_value), parse(&row.local_value));
    println!(
        "  in conflict: {}/{} {} ({}), upstream revision {}:\n    upstream: {upstream}\n    here:     {here}",
        conflict.content_type,
        conflict.slug,
        row.module,
        row.locale.code(),
        row.upstream_revision
    );
    for change in crate::content::diff::diff(&here, &upstream) {
        let show = |value: &Option<serde_json::Value>| value.as_ref().map_or_else(|| "(none)".to_owned(), ToString::to_string);
        println!("    {}{}: {} -> {}", row.module, change.pointer, show(&change.before), show(&change.after));
    }
}

fn load_registry(args: &SchemaArgs) -> anyhow::Result<Arc<Registry>> {
    Ok(Arc::new(Registry::load_dir(&args.schemas)?))
}

async fn open_store(args: &DatabaseArgs) -> anyhow::Result<Store> {
    Ok(crate::app::open_store(&args.database).await?)
}

async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let app = match App::build(&args, Clock::System).await {
        Ok(app) => app,
        Err(AppError::Import(ImportError::Invalid(problems))) => {
            print_invalid(&args.content, &problems);
            return Ok(ExitCode::FAILURE);
        }
        Err(error) => return Err(error.into()),
    };
    if let Some(report) = app.imported() {
        eprintln!("{}", summary(report));
    }
    print_banner(app.addr());
    app.serve(crate::server::shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

/// The first line tells whoever started `serve` where it listens.
fn print_banner(addr: std::net::SocketAddr) {
    // Whoever started us may have stopped reading stdout: not a reason to fail.
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "katalog is serving http://{addr}/\n  web site:  http://{addr}/de/\n  editors:   http://{addr}/admin/ (sign in with a token from `katalog token create`)\n  \
         API docs:  http://{addr}/docs\n  OpenAPI:   http://{addr}/openapi.json\n  \
         example:   http://{addr}/api/v1/service/personalausweis-beantragen"
    );
    let _ = out.flush();
}

async fn import_command(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let registry = load_registry(&args.schemas)?;
    let store = open_store(&args.database).await?;
    store.migrate().await?;
    let options = ImportOptions { author: args.author, publish: args.publish, progress: true };
    match run_import(&store, &registry, &args.dir, &options).await? {
        Some(report) => {
            println!("{}", summary(&report));
            Ok(ExitCode::SUCCESS)
        }
        None => Ok(ExitCode::FAILURE),
    }
}

/// Imports and prints every problem; `None` when the folder had problems.
async fn run_import(store: &Store, registry: &Arc<Registry>, dir: &Path, options: &ImportOptions) -> anyhow::Result<Option<ImportReport>> {
    match import::import(store, registry, dir, options).await {
        Ok(report) => Ok(Some(report)),
        Err(ImportError::Invalid(problems)) => {
            print_invalid(dir, &problems);
            Ok(None)
        }
        Err(error) => Err(error.into()),
    }
}

fn print_invalid(dir: &Path, problems: &[import::Problem]) {
    print_problems(dir, problems);
    eprintln!("{} problem(s) in {}; nothing was imported", problems.len(), dir.display());
}

fn validate_command(args: ValidateArgs) -> anyhow::Result<ExitCode> {
    let registry = load_registry(&args.schemas)?;
    match import::validate(&args.dir, &registry, args.drafts) {
        Ok(report) => {
            let what = if args.drafts { "valid as drafts" } else { "valid and publishable in every channel" };
            println!("{}: {} entries in {} files are {what}", args.dir.display(), report.entries, report.files);
            Ok(ExitCode::SUCCESS)
        }
        Err(problems) => {
            print_problems(&args.dir, &problems);
            eprintln!("{} problem(s) in {}", problems.len(), args.dir.display());
            Ok(ExitCode::FAILURE)
        }
    }
}

fn print_problems(dir: &Path, problems: &[import::Problem]) {
    for problem in problems {
        let mut located = problem.clone();
        if located.file.is_relative() && !located.file.starts_with(dir) {
            located.file = dir.join(&located.file);
        }
        eprintln!("error: {located}");
    }
}

fn summary(report: &ImportReport) -> String {
    let seconds = report.elapsed.as_secs_f64();
    let rate = if seconds > 0.0 { report.entries as f64 / seconds } else { 0.0 };
    let mut line = format!(
        "imported {} entries from {} files: {} new entries, {} new revisions ({}), {} unchanged, in {seconds:.2} s ({rate:.0} entries/s)",
        report.entries,
        report.files,
        report.created_entries,
        report.new_revisions,
        if report.published { "published" } else { "drafts" },
        report.unchanged
    );
    if let Some(peak) = peak_memory_mb() {
        line.push_str(&format!(", peak memory {peak:.0} MB"));
    }
    line
}

/// Peak resident memory of this process (Linux), for import reports and benchmarks.
fn peak_memory_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb / 1024.0)
}

/// A progress bar over rows, on the terminal only.
fn rows_progress(doing: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} rows, {eta} left").unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message(doing.to_owned());
    bar
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    /// Every argument of every command, with where it sits, that `--help` leaves unexplained.
    fn unexplained(command: &clap::Command, path: &str, found: &mut Vec<String>) {
        if command.get_about().is_none() {
            found.push(format!("`{path}` itself"));
        }
        for argument in command.get_arguments().filter(|argument| argument.get_help().is_none()) {
            found.push(format!("`{path}` {}", argument.get_id()));
        }
        for sub in command.get_subcommands() {
            unexplained(sub, &format!("{path} {}", sub.get_name()), found);
        }
    }

    #[test]
    fn listen_addresses_are_a_host_and_a_port() {
        for good in ["127.0.0.1:8080", "0.0.0.0:0", "[::1]:65535", "localhost:80"] {
            assert!(super::check_addr(good).is_ok(), "{good}");
        }
        for bad in ["127.0.0.1:80800", "127.0.0.1", ":8080", "127.0.0.1:-1", "127.0.0.1:http", ""] {
            assert!(super::check_addr(bad).is_err(), "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn every_port_is_taken_and_no_address_panics(port: u16, host in "[a-z0-9.]{1,20}", text in "\\PC*") {
            let addr = format!("{host}:{port}");
            proptest::prop_assert!(super::check_addr(&addr).is_ok(), "{}", addr);
            let _ = super::check_addr(&text);
        }
    }

    #[test]
    fn database_urls_are_sqlite_or_well_formed_postgres() {
        for good in ["sqlite://data/katalog.db", "sqlite::memory:", "postgres://postgres@127.0.0.1:5432/katalog", "postgresql://u:p@db/k?sslmode=require"] {
            assert!(super::check_database_url(good).is_ok(), "{good}");
        }
        for bad in ["mysql://db", "postgres://u@db:99999/k", "postgres://u@[db/k", "data/katalog.db"] {
            assert!(super::check_database_url(bad).is_err(), "{bad}");
        }
        let message = super::check_database_url("postgres://u:secret@db:99999/k").unwrap_err();
        assert!(!message.contains("secret"), "the password is not repeated: {message}");
    }

    #[test]
    fn every_argument_has_help() {
        let mut command = super::Cli::command();
        command.build();
        let mut found = Vec::new();
        unexplained(&command, "katalog", &mut found);
        assert!(found.is_empty(), "without help text:\n{}", found.join("\n"));
    }

    #[test]
    fn restore_help_says_backups_move_between_databases() {
        let mut command = super::Cli::command();
        let help = command.find_subcommand_mut("restore").unwrap().render_long_help().to_string();
        assert!(help.contains("SQLite backup restores into PostgreSQL"), "{help}");
    }
}
