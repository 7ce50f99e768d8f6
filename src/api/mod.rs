//! The HTTP API: delivery of published content, search, sync,
//! management, health, the OpenAPI document and its interactive docs; and
//! the web site, previews and the partner bundle made from the live
//! content ([`site`]). Every error is problem+json ([`crate::http::problem`]).

// ApiError carries its problem body inline; it is built at most once per
// request, so its size does not matter.
#![allow(clippy::result_large_err)]

mod auth;
mod caching;
mod delivery;
mod health;
mod manage;
mod openapi;
mod partners;
pub mod response_cache;
mod search;
pub mod site;
mod sync;
mod tokens;
mod webhooks;

use poem::endpoint::make_sync;
use poem::http::StatusCode;
use poem::web::Html;
use poem::{Endpoint, IntoEndpoint, IntoResponse, Response, Route};
use poem_openapi::{OpenApiService, Tags};

use crate::content::Registry;
use crate::http::security;

#[derive(Tags)]
pub enum ApiTags {
    /// Published content for the channels.
    Delivery,
    /// Editorial management: drafts, revisions, workflow (token required).
    Manage,
    /// Health and operations.
    Operations,
}

type Apis = (
    delivery::DeliveryApi,
    search::SearchApi,
    sync::SyncApi,
    manage::ManageApi,
    tokens::TokensApi,
    webhooks::WebhooksApi,
    partners::PartnersApi,
    health::HealthApi,
);

fn apis() -> Apis {
    (
        delivery::DeliveryApi,
        search::SearchApi,
        sync::SyncApi,
        manage::ManageApi,
        tokens::TokensApi,
        webhooks::WebhooksApi,
        partners::PartnersApi,
        health::HealthApi,
    )
}

/// Adds the API to `routes`, with its OpenAPI document (`/openapi.json`,
/// the content types' schemas merged in) and its interactive docs (`/docs`).
pub async fn mount(routes: Route, registry: &Registry) -> Route {
    let service = OpenApiService::new(apis(), "katalog", env!("CARGO_PKG_VERSION"))
        .description("Public-service information, written once and published to every channel. Errors are RFC 9457 problem+json.");
    let generated = service.spec();
    let merged = openapi::with_content_types(&generated, registry);
    let docs_html = swagger_html(&service, &generated, &merged).await;
    // Swagger UI is inline: its scripts are allowed by their hashes.
    let docs_policy = security::policy_for_inline(&docs_html);

    let spec_json = merged.to_string();
    routes
        .at("/openapi.json", make_sync(move |_| Response::builder().content_type("application/json").body(spec_json.clone())))
        .at("/docs", make_sync(move |_| Html(docs_html.clone()).with_header(poem::http::header::CONTENT_SECURITY_POLICY, docs_policy.clone())))
        .nest("/", service)
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
