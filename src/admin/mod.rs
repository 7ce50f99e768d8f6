//! The editor UI at `/admin`: server-rendered pages (minijinja) for
//! writing, reviewing and publishing entries in the browser, in German
//! with an English toggle. JavaScript only adds a live Markdown preview
//! and a warning before leaving unsaved changes; everything works without it.
//!
//! Every change goes through [`crate::workflow::editing`], as the
//! management API's do: the same checks, version precondition and audit.

mod entries;
pub mod form;
mod pages;
mod quality;
mod session;
mod session_pages;

use poem::http::StatusCode;
use poem::web::Html;
use poem::{EndpointExt, IntoEndpoint, Request, Response, Route, get, handler};

use crate::workflow::Role;
use session::Needs;

/// The interface language.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Lang {
    #[default]
    De,
    En,
}

const LANG_COOKIE: &str = "katalog_lang";

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::De => "de",
            Lang::En => "en",
        }
    }

    fn of(request: &Request) -> Lang {
        match crate::http::session::cookie(request.headers(), LANG_COOKIE) {
            Some("en") => Lang::En,
            _ => Lang::De,
        }
    }
}

/// The routes below `/admin`, each behind the role it needs.
pub fn routes() -> impl IntoEndpoint {
    let (reader, editor, publisher) = (Needs(Role::Reader), Needs(Role::Editor), Needs(Role::Publisher));
    Route::new()
        .at("/", get(start))
        .at("/signin", get(session_pages::sign_in_form).post(session_pages::sign_in))
        .at("/signout", poem::post(session_pages::sign_out.with(reader)))
        .at("/language", get(session_pages::switch_language))
        .at("/assets/:name", get(asset))
        .at("/preview", poem::post(entries::markdown_preview.with(reader)))
        .at("/quality", get(quality::dashboard.with(reader)))
        .at("/entries", get(entries::list.with(reader)))
        .at("/entries/new", get(entries::new_form.with(editor)).post(entries::create.with(editor)))
        .at("/entries/:content_type/:slug", get(entries::edit.with(reader)).post(entries::save.with(editor)))
        // Each step needs its own role too, which the form names; editors may take the least of them.
        .at("/entries/:content_type/:slug/workflow", poem::post(entries::workflow.with(editor)))
        .at("/entries/:content_type/:slug/schedule", poem::post(entries::schedule.with(publisher)))
        .at("/entries/:content_type/:slug/history", get(entries::history.with(reader)))
        .at("/entries/:content_type/:slug/restore", poem::post(entries::restore.with(editor)))
        .with(pages::NoStore)
}

#[handler]
fn start() -> Response {
    session::redirect("/admin/entries")
}

#[handler]
fn asset(poem::web::Path(name): poem::web::Path<String>) -> Response {
    match pages::asset(&name) {
        Some((media_type, body)) => Response::builder().content_type(media_type).header("Cache-Control", "no-cache").body(body),
        None => Response::builder().status(StatusCode::NOT_FOUND).finish(),
    }
}

/// A page for a request that cannot be answered as asked.
fn error_page(status: StatusCode, lang: Lang, message: &str) -> Response {
    let body = pages::render("error.html", lang, None, minijinja::context! { message }).unwrap_or_else(|_| Html(crate::render::escape::escape(message)));
    Response::builder().status(status).content_type("text/html; charset=utf-8").body(body.0)
}
