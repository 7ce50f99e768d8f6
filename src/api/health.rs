//! Operations endpoints: liveness, readiness and metrics.

use poem::web::Data;
use poem_openapi::param::Header;
use poem_openapi::payload::{Json, PlainText};
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::ApiTags;
use crate::feed;
use crate::http::AppState;
use crate::http::metrics;
use crate::http::problem::{HealthError, Problem, ProblemKind};

#[derive(Object)]
pub struct Health {
    /// `ok` when the database answers.
    pub status: String,
    pub version: String,
}

#[derive(ApiResponse)]
pub enum HealthResponse {
    #[oai(status = 200)]
    Ok(Json<Health>),
}

#[derive(Object)]
pub struct Readiness {
    /// `ready`.
    pub status: String,
    /// Change-log entries each consumer of the change feed has not applied yet.
    pub lag: Vec<Lag>,
}

#[derive(Object)]
pub struct Lag {
    /// `search`, `response_cache`, `webhooks`, `web_site` or `partner_bundle`.
    pub consumer: String,
    pub behind: i64,
    /// It catches up when asked for a page or file, so it falls behind
    /// between requests by design and readiness does not count it.
    pub on_request: bool,
}

#[derive(ApiResponse)]
pub enum ReadinessResponse {
    #[oai(status = 200)]
    Ready(Json<Readiness>),
}

#[derive(ApiResponse)]
pub enum MetricsResponse {
    /// Prometheus text exposition format 0.0.4.
    #[oai(status = 200, content_type = "text/plain; version=0.0.4; charset=utf-8")]
    Metrics(PlainText<String>),
}

/// Why `/metrics` did not answer.
#[derive(ApiResponse, Debug)]
pub enum MetricsError {
    /// A metrics token is configured, and the request does not carry it.
    #[oai(status = 401, content_type = "application/problem+json")]
    Unauthorized(Json<Problem>, #[oai(header = "WWW-Authenticate")] String),
    /// The database does not answer.
    #[oai(status = 503, content_type = "application/problem+json")]
    Unavailable(Json<Problem>),
}

pub struct HealthApi;

#[OpenApi(tag = "ApiTags::Operations")]
impl HealthApi {
    /// Liveness: 200 when the database answers, 503 otherwise.
    #[oai(path = "/healthz", method = "get", operation_id = "health")]
    async fn health(&self, state: Data<&AppState>) -> Result<HealthResponse, HealthError> {
        state.store.ping().await.map_err(|error| {
            tracing::warn!(%error, "health check: database unreachable");
            unavailable("the database does not answer".into())
        })?;
        Ok(HealthResponse::Ok(Json(Health { status: "ok".into(), version: env!("CARGO_PKG_VERSION").into() })))
    }

    /// Readiness: 200 when the database answers, its schema is up to date
    /// and every change-log consumer that follows the log continuously (all
    /// but the web site and the partner bundle, which catch up on request)
    /// is within the configured lag; 503 with
    /// what is not ready otherwise.
    #[oai(path = "/readyz", method = "get", operation_id = "readiness")]
    async fn readiness(&self, state: Data<&AppState>) -> Result<ReadinessResponse, HealthError> {
        let not_ready = |what: String| {
            tracing::warn!(reason = %what, "not ready");
            unavailable(what)
        };
        state.store.ping().await.map_err(|_| not_ready("the database does not answer".into()))?;
        let pending = state.store.pending_migrations().await.map_err(|error| not_ready(format!("cannot read the schema version: {error}")))?;
        if pending > 0 {
            return Err(not_ready(format!("{pending} database migration(s) not applied; run `katalog migrate`")));
        }
        let lags = metrics::consumer_lags(&state).await.map_err(|error| not_ready(format!("cannot read the change log: {error}")))?;
        let behind: Vec<String> = lags
            .iter()
            .filter(|lag| !lag.on_request && lag.behind > i64::try_from(state.ready_max_lag).unwrap_or(i64::MAX))
            .map(|lag| format!("{} is {} changes behind", lag.consumer, lag.behind))
            .collect();
        if !behind.is_empty() {
            return Err(not_ready(format!("{} (at most {} allowed)", behind.join("; "), state.ready_max_lag)));
        }
        let lag = lags.into_iter().map(|feed::Lag { consumer, behind, on_request }| Lag { consumer: consumer.into(), behind, on_request }).collect();
        Ok(ReadinessResponse::Ready(Json(Readiness { status: "ready".into(), lag })))
    }

    /// Metrics in the Prometheus text format: requests and latency per route
    /// template, response-cache hits, change-log lag per consumer, webhook
    /// backlog and scheduler state. With a metrics token configured, only
    /// for requests that carry it as a bearer token.
    #[oai(path = "/metrics", method = "get", operation_id = "metrics")]
    async fn metrics(
        &self,
        state: Data<&AppState>,
        /// `Bearer <metrics token>`, when one is configured.
        #[oai(name = "Authorization")]
        authorization: Header<Option<String>>,
    ) -> Result<MetricsResponse, MetricsError> {
        if let Some(required) = &state.metrics_token {
            let given =
                authorization.0.as_deref().and_then(|value| value.strip_prefix("Bearer ")).map(|token| crate::digest::sha256_hex(token.trim().as_bytes()));
            // Digests are compared, so the time taken tells nothing about the token.
            if given.as_deref() != Some(&**required) {
                let problem = Problem::new(ProblemKind::Unauthorized, "/metrics needs the metrics token as `Authorization: Bearer …`");
                return Err(MetricsError::Unauthorized(Json(problem), "Bearer".into()));
            }
        }
        let text = metrics::render(&state).await.map_err(|error| {
            tracing::warn!(%error, "metrics: reading the database failed");
            MetricsError::Unavailable(Json(Problem::new(ProblemKind::Unavailable, "the database does not answer")))
        })?;
        Ok(MetricsResponse::Metrics(PlainText(text)))
    }
}

fn unavailable(detail: String) -> HealthError {
    HealthError::Unavailable(Json(Problem::new(ProblemKind::Unavailable, detail)))
}
