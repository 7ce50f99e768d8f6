//! The HTTP API: delivery of published content, health, the OpenAPI
//! document and its interactive docs. Every error is problem+json.

// ApiError carries its problem body inline; it is built at most once per
// request, so its size does not matter.
#![allow(clippy::result_large_err)]

mod auth;
mod caching;
mod delivery;
mod health;
mod limits;
mod manage;
pub mod metrics;
mod security;
pub mod request_id;
mod search;
mod site;
pub mod response_cache;
mod sync;
mod tokens;
mod webhooks;
mod partners;
mod openapi;
pub mod params;
pub mod problem;

use std::sync::Arc;

use poem::endpoint::make_sync;
use poem::http::StatusCode;
use poem::middleware::CatchPanic;
use poem::web::Html;
use poem::{Endpoint, EndpointExt, IntoEndpoint, IntoResponse, Response, Route};
use poem_openapi::{OpenApiService, Tags};

use crate::channels::live::{LiveBundle, LiveSite};
use crate::content::{ContentType, Registry};
use crate::feed::{ChangeFeed, Consumer, Needs};
use crate::search::{SearchIndex, Synonyms};
use crate::store::Store;
use limits::Limiters;
pub use limits::RateLimits;
use metrics::Metrics;
use security::CorsOrigins;
pub use security::{BadOrigin, check_origin};
use problem::ApiError;
use response_cache::ResponseCache;

#[derive(Tags)]
pub enum ApiTags {
    /// Published content for the channels.
    Delivery,
    /// Editorial management: drafts, revisions, workflow (token required).
    Manage,
    /// Health and operations.
    Operations,
}

/// Request bodies above this get 413: an entry is a page of text.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

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
    /// `/readyz` fails while a change-log consumer is further behind.
    pub ready_max_lag: u64,
    /// How partner bundles are fetched; its fence also guards webhook URLs.
    pub partner_fetch: Arc<crate::partner::FetchSettings>,
    /// SHA-256 (hex) of the token `/metrics` requires; none: it is open.
    metrics_token: Option<Arc<str>>,
    limiters: Arc<Limiters>,
    cors: Arc<CorsOrigins>,
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
}

impl AppState {
    pub fn new(store: Store, registry: Arc<Registry>, search: Arc<SearchIndex>, synonyms: Arc<Synonyms>, site: Arc<LiveSite>, bundle: Arc<LiveBundle>, settings: &Settings) -> Result<AppState, BadOrigin> {
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
            ready_max_lag: settings.ready_max_lag,
            partner_fetch: Arc::new(settings.partner_fetch.clone()),
            metrics_token: settings.metrics_token.as_deref().filter(|token| !token.is_empty()).map(|token| Arc::from(crate::digest::sha256_hex(token.as_bytes()))),
            limiters: Arc::new(Limiters::new(settings.rate_limits)),
            cors: Arc::new(CorsOrigins::new(&settings.cors_origins)?),
        })
    }

    fn content_type(&self, name: &str) -> Result<Arc<ContentType>, ApiError> {
        self.registry.get(name).cloned().ok_or_else(|| {
            let known: Vec<&str> = self.registry.names().collect();
            ApiError::not_found(format!("no content type `{name}`; known types: {}", known.join(", ")))
        })
    }
}

type Apis = (delivery::DeliveryApi, search::SearchApi, sync::SyncApi, manage::ManageApi, tokens::TokensApi, webhooks::WebhooksApi, partners::PartnersApi, health::HealthApi);

fn apis() -> Apis {
    (delivery::DeliveryApi, search::SearchApi, sync::SyncApi, manage::ManageApi, tokens::TokensApi, webhooks::WebhooksApi, partners::PartnersApi, health::HealthApi)
}

/// The whole HTTP application.
pub async fn app(state: AppState) -> impl Endpoint {
    let service = OpenApiService::new(apis(), "katalog", env!("CARGO_PKG_VERSION"))
        .description("Public-service information, written once and published to every channel. Errors are RFC 9457 problem+json.");
    let generated = service.spec();
    let merged = openapi::with_content_types(&generated, &state.registry);
    let docs_html = swagger_html(&service, &generated, &merged).await;
    // Swagger UI is inline: its scripts are allowed by their hashes.
    let docs_policy = security::policy_for_inline(&docs_html);

    let spec_json = merged.to_string();
    let mut routes = Route::new()
        .at(
            "/openapi.json",
            make_sync(move |_| Response::builder().content_type("application/json").body(spec_json.clone())),
        )
        .at("/docs", make_sync(move |_| Html(docs_html.clone()).with_header(poem::http::header::CONTENT_SECURITY_POLICY, docs_policy.clone())))
        .nest("/", service)
        .at("/problems/:slug", poem::get(problem::problem_page))
        .at("/preview/*rest", poem::get(site::preview))
        .at("/partner/*rest", poem::get(site::bundle))
        .nest("/admin", crate::admin::routes());
    // The web site: its own files and one folder per locale.
    for path in site::SITE_FILES {
        routes = routes.at(path, poem::get(site::published));
    }
    for locale in crate::content::Locale::ALL {
        routes = routes.at(format!("/{}/*rest", locale.code()), poem::get(site::published));
    }
    routes
        .around(site::root)
        .around(follow_own_writes)
        .around(limit_body)
        .around(limits::guard)
        .around(metrics::record)
        // One allocation per request spares the compiler a type nested
        // beyond its depth limit (each layer names the ones inside twice).
        .boxed()
        .catch_all_error(problem::problem_for_any_error)
        .with(CatchPanic::new().with_handler(problem::problem_for_panic))
        .around(security::cors)
        .around(security::headers)
        .around(request_id::assign)
        .data(state)
}

/// After a request that may have written, the change feed applies its
/// commits before answering, so that whoever wrote reads their own write
/// at once (the round the commit woke usually has).
async fn follow_own_writes<E: Endpoint>(next: E, request: poem::Request) -> poem::Result<Response> {
    if request.method().is_safe() {
        return next.call(request).await.map(IntoResponse::into_response);
    }
    let state = request.data::<AppState>().cloned();
    let response = next.call(request).await.map(IntoResponse::into_response);
    if let Some(state) = state
        && let Err(error) = state.feed.catch_up(Needs::OwnCommits).await
    {
        // The feed's next round catches up; the write itself succeeded.
        tracing::warn!(%error, "following the change log after a write failed");
    }
    response
}

/// Refuses bodies over [`MAX_BODY_BYTES`] with 413, whether they announce
/// their length or not (chunked), before any handler parses them.
async fn limit_body<E: Endpoint>(next: E, mut request: poem::Request) -> poem::Result<Response> {
    let announced = request
        .headers()
        .get(poem::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let too_large = || {
        problem::Problem::new(problem::ProblemKind::PayloadTooLarge, format!("request bodies are limited to {MAX_BODY_BYTES} bytes"))
            .into_response()
    };
    match announced {
        Some(length) if length > MAX_BODY_BYTES => return Ok(too_large()),
        Some(_) => {}
        None => {
            let body = request.take_body();
            match body.into_bytes_limit(MAX_BODY_BYTES).await {
                Ok(bytes) => request.set_body(bytes),
                Err(poem::error::ReadBodyError::PayloadTooLarge) => return Ok(too_large()),
                Err(error) => return Err(error.into()),
            }
        }
    }
    next.call(request).await.map(IntoResponse::into_response)
}

/// poem-openapi's self-contained Swagger UI page (no external assets),
/// showing the merged document instead of the generated one (inside the
/// page's script, so escaped as JSON in scripts is).
async fn swagger_html(service: &OpenApiService<Apis, ()>, generated: &str, merged: &serde_json::Value) -> String {
    let endpoint = service.swagger_ui().into_endpoint();
    let request = poem::Request::builder().uri(poem::http::Uri::from_static("/")).finish();
    let response = endpoint.get_response(request).await;
    if response.status() != StatusCode::OK {
        return String::new();
    }
    let page = response.into_body().into_string().await.unwrap_or_default();
    page.replacen(generated, &crate::render::escape::json_for_script(merged), 1)
}
