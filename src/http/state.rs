//! What every request handler can reach, and how `serve` configures it.

use std::sync::Arc;

use super::limits::{Limiters, RateLimits};
use super::metrics::Metrics;
use super::problem::ApiError;
use super::security::{BadOrigin, CorsOrigins};
use crate::api::response_cache::ResponseCache;
use crate::channels::live::{LiveBundle, LiveSite};
use crate::clock::Clock;
use crate::content::{ContentType, Registry};
use crate::feed::{ChangeFeed, Consumer};
use crate::search::{SearchIndex, Synonyms};
use crate::store::Store;

/// What every request handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub registry: Arc<Registry>,
    pub responses: Arc<ResponseCache>,
    /// Follows the change log for the search index, the response cache,
    /// the webhook outbox, the web site and the partner bundle.
    pub feed: Arc<ChangeFeed>,
    pub search: Arc<SearchIndex>,
    pub synonyms: Arc<Synonyms>,
    pub site: Arc<LiveSite>,
    /// The partner bundle of the live content, served at `/partner/`.
    pub bundle: Arc<LiveBundle>,
    pub metrics: Arc<Metrics>,
    /// The time schedules fall due by.
    pub clock: Clock,
    /// `/readyz` fails while a change-log consumer is further behind.
    pub ready_max_lag: u64,
    /// How partner bundles are fetched; its fence also guards webhook URLs.
    pub partner_fetch: Arc<crate::partner::FetchSettings>,
    /// SHA-256 (hex) of the token `/metrics` requires; none: it is open.
    pub(crate) metrics_token: Option<Arc<str>>,
    pub(super) limiters: Arc<Limiters>,
    pub(super) cors: Arc<CorsOrigins>,
}

/// How `serve` is configured to answer requests.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Memory for rendered delivery responses.
    pub cache_bytes: u64,
    pub ready_max_lag: u64,
    pub rate_limits: RateLimits,
    /// Origins whose pages may read the delivery API (`*` for any).
    pub cors_origins: Vec<String>,
    pub partner_fetch: crate::partner::FetchSettings,
    /// The bearer token `/metrics` requires; none leaves it open.
    pub metrics_token: Option<String>,
    /// How webhook events wait for further changes of their entry.
    pub webhooks: crate::webhooks::Timing,
    /// The system clock, or one that tests move.
    pub clock: Clock,
}

impl AppState {
    pub fn new(
        store: Store,
        registry: Arc<Registry>,
        search: Arc<SearchIndex>,
        synonyms: Arc<Synonyms>,
        site: Arc<LiveSite>,
        bundle: Arc<LiveBundle>,
        settings: &Settings,
    ) -> Result<AppState, BadOrigin> {
        let responses = Arc::new(ResponseCache::new(settings.cache_bytes));
        let consumers: Vec<Arc<dyn Consumer>> =
            vec![search.clone(), responses.clone(), Arc::new(crate::webhooks::Outbox::new(settings.webhooks)), site.clone(), bundle.clone()];
        Ok(AppState {
            feed: Arc::new(ChangeFeed::new(store.clone(), consumers)),
            store,
            registry,
            responses,
            search,
            synonyms,
            site,
            bundle,
            metrics: Arc::default(),
            clock: settings.clock.clone(),
            ready_max_lag: settings.ready_max_lag,
            partner_fetch: Arc::new(settings.partner_fetch.clone()),
            metrics_token: settings
                .metrics_token
                .as_deref()
                .filter(|token| !token.is_empty())
                .map(|token| Arc::from(crate::digest::sha256_hex(token.as_bytes()))),
            limiters: Arc::new(Limiters::new(settings.rate_limits)),
            cors: Arc::new(CorsOrigins::new(&settings.cors_origins)?),
        })
    }

    pub(crate) fn content_type(&self, name: &str) -> Result<Arc<ContentType>, ApiError> {
        self.registry.get(name).cloned().ok_or_else(|| {
            let known: Vec<&str> = self.registry.names().collect();
            ApiError::not_found(format!("no content type `{name}`; known types: {}", known.join(", ")))
        })
    }
}
