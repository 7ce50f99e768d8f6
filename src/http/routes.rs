//! The whole HTTP application: the API, the web site and its previews, the
//! partner bundle and the editor UI in one route, inside the layers every
//! request passes.

use poem::middleware::CatchPanic;
use poem::{Endpoint, EndpointExt, IntoResponse, Response, Route};

use super::{AppState, body, limits, metrics, problem, request_id, security};
use crate::api::site;
use crate::feed::Needs;

/// The whole HTTP application.
pub async fn app(state: AppState) -> impl Endpoint {
    let mut routes = crate::api::mount(Route::new(), &state.registry)
        .await
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
        .around(body::limit)
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
