//! The HTTP API: delivery of published content, health, the OpenAPI
//! document and its interactive docs. Every error is problem+json.

// ApiError carries its problem body inline; it is built at most once per
// request, so its size does not matter.
#![allow(clippy::result_large_err)]

mod delivery;
mod health;
mod openapi;
pub mod problem;

use std::sync::Arc;

use poem::endpoint::make_sync;
use poem::http::StatusCode;
use poem::middleware::{CatchPanic, Tracing};
use poem::web::Html;
use poem::{Endpoint, EndpointExt, IntoEndpoint, Response, Route};
use poem_openapi::{OpenApiService, Tags};

use crate::content::{ContentType, Registry};
use crate::store::Store;
use problem::ApiError;

#[derive(Tags)]
pub enum ApiTags {
    /// Published content for the channels.
    Delivery,
    /// Health and operations.
    Operations,
}

/// What every request handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub registry: Arc<Registry>,
}

impl AppState {
    fn content_type(&self, name: &str) -> Result<Arc<ContentType>, ApiError> {
        self.registry.get(name).cloned().ok_or_else(|| {
            let known: Vec<&str> = self.registry.names().collect();
            ApiError::not_found(format!("no content type `{name}`; known types: {}", known.join(", ")))
        })
    }
}

/// The whole HTTP application.
pub async fn app(state: AppState) -> impl Endpoint {
    let service = OpenApiService::new((delivery::DeliveryApi, health::HealthApi), "katalog", env!("CARGO_PKG_VERSION"))
        .description("Public-service information, written once and published to every channel. Errors are RFC 9457 problem+json.");
    let generated = service.spec();
    let merged = openapi::with_content_types(&generated, &state.registry).to_string();
    let docs_html = swagger_html(&service, &generated, &merged).await;

    let spec_json = merged.clone();
    Route::new()
        .at(
            "/openapi.json",
            make_sync(move |_| Response::builder().content_type("application/json").body(spec_json.clone())),
        )
        .at("/docs", make_sync(move |_| Html(docs_html.clone())))
        .nest("/", service)
        .catch_all_error(problem::problem_for_any_error)
        .with(CatchPanic::new().with_handler(problem::problem_for_panic))
        .with(Tracing)
        .data(state)
}

/// poem-openapi's self-contained Swagger UI page (no external assets),
/// showing the merged document instead of the generated one.
async fn swagger_html(service: &OpenApiService<(delivery::DeliveryApi, health::HealthApi), ()>, generated: &str, merged: &str) -> String {
    let endpoint = service.swagger_ui().into_endpoint();
    let request = poem::Request::builder().uri(poem::http::Uri::from_static("/")).finish();
    let response = endpoint.get_response(request).await;
    if response.status() != StatusCode::OK {
        return String::new();
    }
    let page = response.into_body().into_string().await.unwrap_or_default();
    page.replacen(generated, merged, 1)
}
