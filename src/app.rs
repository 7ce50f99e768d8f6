//! The whole server assembled from its settings: what `katalog serve`
//! runs, and what the integration tests start in their own process.
//!
//! [`App::build`] reads every folder, opens and migrates the database
//! (importing the content folder into an empty one), opens the search
//! index and the partner bundle, and binds the address; [`App::serve`]
//! runs the background beats beside the requests until shutdown, then
//! queues the last changes and flushes the webhook outbox.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::channels::ChannelError;
use crate::channels::live::{LiveBundle, LiveSite};
use crate::cli::ServeArgs;
use crate::clock::Clock;
use crate::content::{Registry, SchemaError};
use crate::feed::FeedError;
use crate::http::{AppState, BadOrigin};
use crate::import::{ImportError, ImportOptions, ImportReport};
use crate::search::{SearchError, SearchIndex, Synonyms};
use crate::store::{Pruned, Retention, Store, StoreError};
use crate::webhooks::{Dispatcher, WebhookError};

/// How often the retention settings are applied (and once at start):
/// history ages in days, so an hourly look keeps it within an hour of them.
const RETENTION_BEAT: Duration = Duration::from_secs(3600);

/// How long a stopping server spends delivering webhooks still queued.
const SHUTDOWN_FLUSH: Duration = Duration::from_secs(15);

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Schemas(#[from] SchemaError),
    #[error(transparent)]
    Search(#[from] SearchError),
    #[error(transparent)]
    Channels(#[from] ChannelError),
    #[error("cannot open the database {url}")]
    Database { url: String, source: StoreError },
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Importing the content folder into an empty database failed; a
    /// folder with problems lists them in [`ImportError::Invalid`].
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error("--cors-origin / KATALOG_CORS_ORIGINS")]
    Cors(#[from] BadOrigin),
    #[error(transparent)]
    Feed(#[from] FeedError),
    #[error(transparent)]
    Webhooks(#[from] WebhookError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// A server ready to answer: built, bound, not yet serving.
pub struct App {
    state: AppState,
    dispatcher: Dispatcher,
    retention: Retention,
    bound: crate::server::Bound,
    imported: Option<ImportReport>,
}

impl App {
    /// Everything `serve` needs, from its settings; schedules fall due by
    /// `clock`.
    pub async fn build(args: &ServeArgs, clock: Clock) -> Result<App, AppError> {
        // Everything read from folders is read before the database is opened:
        // a mistake there stops the start before anything is written.
        let registry = Arc::new(Registry::load_dir(&args.schemas.schemas)?);
        let synonyms = Synonyms::load(&args.content.join("synonyms.toml"))?;
        let channels = crate::channels::Settings { site: crate::channels::Site::load(&args.content.join("site.toml"))?, templates: args.templates.clone() };
        let site = LiveSite::new(&channels)?;
        let store = open_store(&args.database.database).await?;
        store.migrate().await?;
        let mut imported = None;
        if store.count_entries().await?.is_empty() {
            tracing::info!(content = %args.content.display(), "empty database: importing the content folder");
            // The sample content of a new installation goes live at once.
            let options = ImportOptions { publish: true, progress: true, ..Default::default() };
            imported = Some(crate::import::import(&store, &registry, &args.content, &options).await?);
        }
        let search = open_search_index(args.search_index.as_deref(), &args.database.database, registry.clone(), WhenHeld::InMemory)?;
        let bundle = LiveBundle::open(&channels, &folder_for_database(args.partner_bundle.as_deref(), &args.database.database, "partner-bundle"))?;
        let settings = crate::http::Settings {
            cache_bytes: args.cache_mb * 1024 * 1024,
            ready_max_lag: args.ready_max_lag,
            rate_limits: crate::http::RateLimits {
                manage_per_minute: args.rate_limit_manage,
                search_per_minute: args.rate_limit_search,
                read_per_minute: args.rate_limit_read,
                behind_proxy: args.behind_proxy,
            },
            cors_origins: args.cors_origins.clone(),
            partner_fetch: args.partner_fetch.settings(),
            metrics_token: args.metrics_token.clone(),
            webhooks: args.webhooks.timing(),
            clock,
        };
        let state = AppState::new(store, registry, Arc::new(search), Arc::new(synonyms), Arc::new(site), Arc::new(bundle), &settings)?;
        state.feed.start().await?;
        let dispatcher = Dispatcher::new(state.store.clone(), settings.webhooks, &state.partner_fetch.fence)?;
        let bound = crate::server::bind(&args.addr).await?;
        Ok(App { state, dispatcher, retention: args.retention.retention(), bound, imported })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.bound.addr()
    }

    /// What the start imported into an empty database.
    pub fn imported(&self) -> Option<&ImportReport> {
        self.imported.as_ref()
    }

    /// Answers requests and does the background work until `shutdown`
    /// resolves; then the requests in flight are answered, the last
    /// changes queued and the webhook outbox flushed, for a bounded time.
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send) -> Result<(), AppError> {
        let App { state, dispatcher, retention, bound, .. } = self;
        let beats = start_beats(&state, &dispatcher, retention);
        let feed = state.feed.clone();
        let served = bound.serve(state, shutdown).await;
        beats.stop().await;
        let flush = async {
            feed.catch_up(crate::feed::Needs::OwnCommits).await?;
            dispatcher.flush().await.map_err(AppError::from)
        };
        match tokio::time::timeout(SHUTDOWN_FLUSH, flush).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "flushing the webhook outbox failed; it is retried at the next start"),
            Err(_) => tracing::warn!("flushing the webhook outbox took too long; the rest is delivered after the next start"),
        }
        Ok(served?)
    }
}

/// The work besides requests: schedules, the change feed, the web site's
/// first read, webhooks and, when set, retention.
fn start_beats(state: &AppState, dispatcher: &Dispatcher, retention: Retention) -> crate::background::Beats {
    let mut beats = crate::background::Beats::default();
    let (store, registry, metrics, clock) = (state.store.clone(), state.registry.clone(), state.metrics.clone(), state.clock.clone());
    beats.every("applying due schedules", crate::workflow::scheduler::TICK, move || {
        let (store, registry, metrics, now) = (store.clone(), registry.clone(), metrics.clone(), clock.now());
        async move {
            crate::workflow::scheduler::apply_due(&store, &registry, now).await?;
            metrics.scheduler_ran();
            Ok::<_, StoreError>(())
        }
    });
    let feed = state.feed.clone();
    beats.run(move |stop| async move { feed.follow(stop).await });
    let (store, registry, site) = (state.store.clone(), state.registry.clone(), state.site.clone());
    tokio::spawn(async move {
        if let Err(error) = site.warm_up(&store, &registry).await {
            tracing::warn!(%error, "reading the web site's catalogue failed; the first visitor retries");
        }
    });
    let dispatcher = dispatcher.clone();
    beats.every("delivering webhooks", crate::webhooks::BEAT, move || {
        let dispatcher = dispatcher.clone();
        async move { dispatcher.run_once().await }
    });
    if !retention.keeps_everything() {
        let (store, clock) = (state.store.clone(), state.clock.clone());
        beats.every("pruning history", RETENTION_BEAT, move || {
            let (store, now) = (store.clone(), clock.now());
            async move {
                let pruned = store.prune(retention, now).await?;
                if pruned != Pruned::default() {
                    tracing::info!(revisions = pruned.revisions, audit_events = pruned.audit_events, "pruned history past its retention");
                }
                Ok::<_, StoreError>(())
            }
        });
    }
    beats
}

pub async fn open_store(url: &str) -> Result<Store, AppError> {
    Store::connect(url).await.map_err(|source| AppError::Database { url: redact(url), source })
}

/// The URL without its password, for messages.
pub(crate) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// A folder of serve's own (`name`: `search`, `partner-bundle`): given,
/// or derived from the database so that every database has its own.
pub fn folder_for_database(given: Option<&Path>, database: &str, name: &str) -> PathBuf {
    if let Some(folder) = given {
        return folder.to_owned();
    }
    let without_options = database.split('?').next().unwrap_or(database);
    match without_options.strip_prefix("sqlite://") {
        Some(file) => PathBuf::from(format!("{file}.{name}")),
        None => PathBuf::from("data").join(format!("{name}-{}", without_options.rsplit('/').next().unwrap_or("katalog"))),
    }
}

/// Whether whoever finds the index folder unavailable (another process
/// holds it) reads an index in memory, built from the database.
#[derive(Clone, Copy, PartialEq)]
pub enum WhenHeld {
    InMemory,
    Refuse,
}

/// Opens the index in its folder, or in memory when the folder is
/// unavailable and the caller may do with that.
pub fn open_search_index(given: Option<&Path>, database: &str, registry: Arc<Registry>, when_held: WhenHeld) -> Result<SearchIndex, SearchError> {
    let folder = folder_for_database(given, database, "search");
    match SearchIndex::open(Some(&folder), registry.clone()) {
        Ok(index) => Ok(index),
        Err(error) if when_held == WhenHeld::Refuse => Err(error),
        Err(error) => {
            tracing::warn!(%error, folder = %folder.display(), "search index folder unavailable; keeping the index in memory");
            SearchIndex::open(None, registry)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite://data/k.db"), "sqlite://data/k.db");
    }
}
