//! The `katalog` command line.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::app::{App, AppError, WhenHeld};
use crate::clock::Clock;
use crate::content::{Locale, Registry};
use crate::import::{self, ImportError, ImportOptions, ImportReport};
use crate::search::{SearchIndex, Synonyms};
use crate::settings::Resolved;
pub use crate::settings::{DatabaseArgs, FenceArgs, PartnerFetchArgs, RetentionArgs, SchemaArgs, SearchArgs, ServeArgs, WebhookArgs};
use crate::store::Store;
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
    /// Print the settings `serve` would use (flags > environment > file > defaults) as a configuration file, each with where it comes from.
    Show(ServeArgs),
    /// Print the README's table of settings.
    #[command(hide = true)]
    Table,
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

/// Runs a command line parsed with [`crate::settings::parse`].
pub async fn run(resolved: Resolved<Cli>) -> anyhow::Result<ExitCode> {
    match resolved.command.command {
        Command::Serve(args) => serve(args).await,
        Command::Config(ConfigCommand::Check(_)) => {
            match &resolved.file {
                Some(file) => println!("{}: valid", file.path.display()),
                None => println!("no configuration file ({} not found): flags, environment and defaults apply", crate::settings::file::DEFAULT_FILE),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Config(ConfigCommand::Show(_)) => {
            print!("{}", crate::settings::describe::show("serve", &resolved.settings));
            Ok(ExitCode::SUCCESS)
        }
        Command::Config(ConfigCommand::Table) => {
            print!("{}", crate::settings::describe::table(&<Cli as clap::CommandFactory>::command()));
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
    let [_, upstream, here] = row.values().map(Option::unwrap_or_default);
    println!(
        "  in conflict: {}/{} {} ({}), upstream revision {}:\n    upstream: {upstream}\n    here:     {here}",
        conflict.content_type,
        conflict.slug,
        row.module,
        row.locale.code(),
        row.upstream_revision
    );
    for change in row.changes() {
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
    fn every_argument_has_help() {
        let mut command = super::Cli::command();
        command.build();
        let mut found = Vec::new();
        unexplained(&command, "katalog", &mut found);
        assert!(found.is_empty(), "without help text:\n{}", found.join("\n"));
    }

    /// Every setting of every command, with the command that declares it.
    fn settings(command: &clap::Command, path: &str, found: &mut Vec<(String, clap::Arg)>) {
        for argument in command.get_arguments().filter(|argument| crate::settings::is_setting(argument)) {
            found.push((path.to_owned(), argument.clone()));
        }
        for sub in command.get_subcommands() {
            settings(sub, &format!("{path} {}", sub.get_name()), found);
        }
    }

    #[test]
    fn a_setting_is_spelt_alike_in_every_command_that_takes_it() {
        let mut found = Vec::new();
        settings(&super::Cli::command(), "katalog", &mut found);
        let spelling = |argument: &clap::Arg| {
            let defaults: Vec<_> = argument.get_default_values().to_vec();
            (argument.get_long().map(str::to_owned), argument.get_env().map(ToOwned::to_owned), defaults, format!("{:?}", argument.get_action()))
        };
        for (path, argument) in &found {
            assert!(argument.get_long().is_some(), "`{path}` {}: a setting has a flag", argument.get_id());
            let (first_path, first) = found.iter().find(|(_, other)| other.get_id() == argument.get_id()).unwrap();
            assert_eq!(spelling(argument), spelling(first), "{} differs between `{first_path}` and `{path}`", argument.get_id());
        }
    }

    #[test]
    fn the_readme_lists_every_setting_as_declared() {
        let table = crate::settings::describe::table(&super::Cli::command());
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
        let header = table.lines().next().unwrap();
        let in_readme: String =
            readme.lines().skip_while(|line| *line != header).take_while(|line| line.starts_with('|')).map(|line| format!("{line}\n")).collect();
        assert!(
            in_readme == table,
            "README.md's table of settings differs from their declaration; replace it with the output of `katalog config table`:\n\n{table}"
        );
    }

    #[test]
    fn the_readme_example_configuration_is_valid() {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
        let example = readme.split("For example:\n\n```toml\n").nth(1).and_then(|rest| rest.split("```").next()).expect("the example in README.md");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("katalog.toml");
        std::fs::write(&file, example).unwrap();
        let args = ["katalog", "config", "show", "--config", file.to_str().unwrap()].map(std::ffi::OsString::from);
        // The file is checked whole, even where the environment overrides it.
        if let Err(error) = crate::settings::parse::<super::Cli>(args) {
            panic!("{error}\n{example}");
        }
    }

    #[test]
    fn restore_help_says_backups_move_between_databases() {
        let mut command = super::Cli::command();
        let help = command.find_subcommand_mut("restore").unwrap().render_long_help().to_string();
        assert!(help.contains("SQLite backup restores into PostgreSQL"), "{help}");
    }
}
