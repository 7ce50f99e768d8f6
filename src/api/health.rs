use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::problem::{HealthError, Problem};
use super::{ApiTags, AppState};

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

pub struct HealthApi;

#[OpenApi(tag = "ApiTags::Operations")]
impl HealthApi {
    /// Liveness and readiness: 200 when the database answers, 503 otherwise.
    #[oai(path = "/healthz", method = "get", operation_id = "health")]
    async fn health(&self, state: Data<&AppState>) -> Result<HealthResponse, HealthError> {
        state.store.ping().await.map_err(|error| {
            tracing::warn!(%error, "health check: database unreachable");
            HealthError::Unavailable(Json(Problem::new(
                poem::http::StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the database does not answer",
            )))
        })?;
        Ok(HealthResponse::Ok(Json(Health { status: "ok".into(), version: env!("CARGO_PKG_VERSION").into() })))
    }
}
