//! The public web site at `/` (the `web` channel made from the live
//! published content) and previews of drafts at
//! `/preview/<locale>/<type>/<slug>/` for holders of a token, sent as
//! `Authorization: Bearer …` or, for links opened in a browser, as
//! `?token=…`, or signed in to the editor UI. The partner bundle of the
//! published content is at `/partner/` (`/partner/manifest.json` and every
//! file it lists). Both answer with every change committed before the
//! request: the change feed catches up first.

use poem::http::{Method, StatusCode, header};
use poem::web::Data;
use poem::{Endpoint, IntoResponse, Request, Response, handler};

use super::caching::{CACHE_CONTROL, etag_of};
use crate::channels::live::SiteFile;
use crate::content::Locale;
use crate::feed::Needs;
use crate::http::AppState;
use crate::http::problem::{self, Problem, ProblemKind};

/// The paths the site answers besides `/` and its locale folders.
pub const SITE_FILES: [&str; 5] = ["/style.css", "/open-now.js", "/holidays.js", "/sitemap.xml", "/favicon.ico"];

/// `/` is the site's: answered here, before the API nested at `/` would.
/// A page's address without its trailing slash is sent on to the page,
/// and a browser asking for an address that has nothing gets the site's
/// page saying so (clients of the API keep getting problem+json).
pub async fn root<E: Endpoint>(next: E, request: Request) -> poem::Result<Response> {
    let reading = matches!(*request.method(), Method::GET | Method::HEAD);
    if request.uri().path() == "/" && reading {
        let mut response = published.call(request).await?;
        // Answered before routing: name the route for the metrics.
        response.set_data(poem::PathPattern("/".into()));
        return Ok(response);
    }
    if reading && let Some(location) = with_trailing_slash(&request) {
        let mut response = Response::builder().status(StatusCode::MOVED_PERMANENTLY).header(header::LOCATION, location).finish();
        response.set_data(poem::PathPattern("(redirect to the page)".into()));
        return Ok(response);
    }
    let wants_page = reading && wants_html(&request) && !request.uri().path().starts_with("/api/");
    let state = request.data::<AppState>().cloned();
    let answer = next.call(request).await.map(IntoResponse::into_response);
    // A page of the site's own (its locale's) stays as it is.
    let missing = match &answer {
        Ok(response) => response.status() == StatusCode::NOT_FOUND && !response.content_type().is_some_and(|kind| kind.starts_with("text/html")),
        Err(error) => error.status() == StatusCode::NOT_FOUND,
    };
    match state {
        Some(state) if wants_page && missing => {
            Ok(not_found_page(&state, Locale::SOURCE).await.unwrap_or_else(|| answer.unwrap_or_else(|e| e.into_response())))
        }
        _ => answer,
    }
}

/// Where a page's address without its trailing slash goes: `/de` →
/// `/de/`, `/de/service/x` → `/de/service/x/` (files, with a dot in their
/// last part, keep their address).
fn with_trailing_slash(request: &Request) -> Option<String> {
    let path = request.uri().path();
    let mut parts = path.trim_start_matches('/').split('/');
    let first = parts.next()?;
    let last = path.rsplit('/').next().unwrap_or_default();
    if path.ends_with('/') || Locale::parse(first).is_none_or(|locale| locale.code() != first) || last.contains('.') {
        return None;
    }
    Some(match request.uri().query() {
        Some(query) => format!("{path}/?{query}"),
        None => format!("{path}/"),
    })
}

/// Whether the client takes an HTML page (a browser) rather than data.
fn wants_html(request: &Request) -> bool {
    request.header(header::ACCEPT).is_some_and(|accept| accept.split(',').any(|kind| kind.trim().starts_with("text/html")))
}

/// The site's "not found" page in `locale`, answered with status 404.
async fn not_found_page(state: &AppState, locale: Locale) -> Option<Response> {
    let path = format!("/{}", crate::channels::web::not_found_file(locale));
    let file = state.site.file(&state.store, &state.registry, &path).await.ok()??;
    Some(Response::builder().status(StatusCode::NOT_FOUND).content_type(file.media_type).header(header::CACHE_CONTROL, "no-store").body(file.body))
}

#[handler]
pub async fn published(request: &Request, state: Data<&AppState>) -> Response {
    if let Err(error) = state.feed.catch_up(Needs::Latest).await {
        return failed(&error);
    }
    let path = request.uri().path();
    match state.site.file(&state.store, &state.registry, path).await {
        Ok(Some(file)) => cached(request, file),
        Ok(None) if wants_html(request) => {
            let locale = path.trim_start_matches('/').split('/').next().and_then(Locale::parse).unwrap_or(Locale::SOURCE);
            not_found_page(&state, locale).await.unwrap_or_else(|| not_found(path))
        }
        Ok(None) => not_found(path),
        Err(error) => failed(&error),
    }
}

#[handler]
pub async fn bundle(request: &Request, state: Data<&AppState>) -> Response {
    let path = request.uri().path();
    if let Err(error) = state.feed.catch_up(Needs::Latest).await {
        return failed(&error);
    }
    match state.bundle.file(&state.store, &state.registry, path.trim_start_matches("/partner/")).await {
        Ok(Some(file)) => cached(request, file),
        Ok(None) => not_found(path),
        Err(error) => failed(&error),
    }
}

#[handler]
pub async fn preview(request: &Request, state: Data<&AppState>) -> Response {
    let bearer = request.header(header::AUTHORIZATION).and_then(|value| value.strip_prefix("Bearer "));
    let query_token = request.uri().query().into_iter().flat_map(|q| q.split('&')).find_map(|pair| pair.strip_prefix("token="));
    match bearer.or(query_token) {
        Some(token) => {
            if let Err(error) = crate::auth::authenticate(&state.store, token).await {
                return problem::token_refused(&error).into_response();
            }
        }
        // Signed-in editors preview from the editor UI with their session.
        None => match crate::http::session::of(request, &state.store).await {
            Ok(Some(_)) => {}
            Ok(None) => {
                return Problem::new(ProblemKind::Unauthorized, "previews need a token (`Authorization: Bearer …` or `?token=…`) or an editor session")
                    .into_response();
            }
            Err(error) => {
                tracing::error!(%error, "checking an editor session failed");
                return Problem::new(ProblemKind::Internal, "the session could not be checked").into_response();
            }
        },
    }
    let path = request.uri().path();
    let parts: Vec<&str> = path.trim_start_matches("/preview/").trim_end_matches('/').split('/').collect();
    let [locale, content_type, slug] = parts[..] else { return not_found(path) };
    let Some(locale) = Locale::parse(locale) else { return not_found(path) };
    if let Err(error) = state.feed.catch_up(Needs::Latest).await {
        return failed(&error);
    }
    match state.site.preview(&state.store, &state.registry, locale, content_type, slug).await {
        Ok(Some(file)) => {
            Response::builder().content_type(file.media_type).header(header::CACHE_CONTROL, "no-store").header("X-Robots-Tag", "noindex").body(file.body)
        }
        Ok(None) => not_found(path),
        Err(error) => failed(&error),
    }
}

/// A published file with a strong ETag; 304 when the client has it.
fn cached(request: &Request, file: SiteFile) -> Response {
    let etag = etag_of(&file.body);
    let builder = Response::builder().header(header::ETAG, etag.as_str()).header(header::CACHE_CONTROL, CACHE_CONTROL);
    if request.header(header::IF_NONE_MATCH).is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == etag)) {
        return builder.status(StatusCode::NOT_MODIFIED).finish();
    }
    builder.content_type(file.media_type).body(file.body)
}

fn not_found(path: &str) -> Response {
    Problem::new(ProblemKind::NotFound, format!("nothing at {path}")).into_response()
}

fn failed(error: &dyn std::fmt::Display) -> Response {
    tracing::error!(%error, "making a file of the site or the partner bundle failed");
    Problem::new(ProblemKind::Internal, "the file could not be made; the log says why").into_response()
}
