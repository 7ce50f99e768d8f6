//! The sign-in and sign-out pages and the language switch.

use minijinja::context;
use poem::http::{StatusCode, header};
use poem::web::{Data, Form, Query};
use poem::{Request, Response, handler};
use serde::Deserialize;

use super::session::{self, Editor, SIGN_IN_COOKIE, SessionError, redirect, set_cookie};
use super::{LANG_COOKIE, Lang, error_page, pages};
use crate::http::AppState;

#[derive(Deserialize)]
pub struct Back {
    back: Option<String>,
}

#[derive(Deserialize)]
pub struct SignIn {
    token: String,
    #[serde(rename = "_signin")]
    form_check: String,
    back: Option<String>,
}

#[handler]
pub async fn sign_in_form(request: &Request, Query(back): Query<Back>) -> Response {
    sign_in_page(request, StatusCode::OK, back.back.as_deref(), None)
}

#[handler]
pub async fn sign_in(request: &Request, state: Data<&AppState>, Form(form): Form<SignIn>) -> Response {
    let lang = Lang::of(request);
    let expected = crate::http::session::cookie(request.headers(), SIGN_IN_COOKIE);
    if !expected.is_some_and(|expected| crate::auth::constant_time_eq(expected.as_bytes(), form.form_check.as_bytes())) {
        return sign_in_page(request, StatusCode::FORBIDDEN, form.back.as_deref(), Some(SessionError::Forged.to_string()));
    }
    match session::sign_in(request, &state, &form.token).await {
        Ok(cookie) => {
            let mut response = redirect(&local_target(form.back.as_deref()));
            response.headers_mut().append(header::SET_COOKIE, cookie.parse().expect("cookie values are ASCII"));
            response.headers_mut().append(header::SET_COOKIE, set_cookie(request, SIGN_IN_COOKIE, "", 0).parse().expect("ASCII"));
            response
        }
        Err(SessionError::Token(error)) => {
            let message = match lang {
                Lang::De => format!("Anmeldung nicht möglich: {error}"),
                Lang::En => format!("Cannot sign in: {error}"),
            };
            sign_in_page(request, StatusCode::UNAUTHORIZED, form.back.as_deref(), Some(message))
        }
        Err(error) => {
            tracing::error!(%error, "signing in failed");
            error_page(StatusCode::INTERNAL_SERVER_ERROR, lang, &error.to_string())
        }
    }
}

#[derive(Deserialize)]
pub struct SignOut {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
}

#[handler]
pub async fn sign_out(request: &Request, state: Data<&AppState>, editor: Editor, Form(form): Form<SignOut>) -> Response {
    if let Err(error) = editor.check_csrf(form.csrf.as_deref()) {
        return error_page(StatusCode::FORBIDDEN, editor.lang, &error.to_string());
    }
    match session::sign_out(request, &state).await {
        Ok(cookie) => {
            let mut response = redirect("/admin/signin");
            response.headers_mut().append(header::SET_COOKIE, cookie.parse().expect("cookie values are ASCII"));
            response
        }
        Err(error) => error_page(StatusCode::INTERNAL_SERVER_ERROR, editor.lang, &error.to_string()),
    }
}

#[derive(Deserialize)]
pub struct SwitchLanguage {
    to: String,
    back: Option<String>,
}

/// Remembers the interface language for a year and goes back.
#[handler]
pub fn switch_language(request: &Request, Query(switch): Query<SwitchLanguage>) -> Response {
    let lang = if switch.to == "en" { Lang::En } else { Lang::De };
    let mut response = redirect(&local_target(switch.back.as_deref()));
    let cookie = set_cookie(request, LANG_COOKIE, lang.code(), 365 * 24 * 3600);
    response.headers_mut().append(header::SET_COOKIE, cookie.parse().expect("cookie values are ASCII"));
    response
}

fn sign_in_page(request: &Request, status: StatusCode, back: Option<&str>, error: Option<String>) -> Response {
    let lang = Lang::of(request);
    let check = match crate::auth::random_secret() {
        Ok(check) => check,
        Err(error) => return error_page(StatusCode::INTERNAL_SERVER_ERROR, lang, &error.to_string()),
    };
    let page = context! { check => check.clone(), back => local_target(back), error, here => "/admin/signin" };
    match pages::render("signin.html", lang, None, page) {
        Ok(html) => Response::builder()
            .status(status)
            .header(header::SET_COOKIE, set_cookie(request, SIGN_IN_COOKIE, &check, 3600))
            .content_type("text/html; charset=utf-8")
            .body(html.0),
        Err(error) => error_page(StatusCode::INTERNAL_SERVER_ERROR, lang, &error.to_string()),
    }
}

/// Where to go after signing in or switching language: a page of the
/// editor UI, never another site.
pub fn local_target(back: Option<&str>) -> String {
    match back {
        Some(path) if path.starts_with("/admin") && !path.starts_with("//") && !path.contains('\\') => path.to_owned(),
        _ => "/admin/entries".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::local_target;

    #[test]
    fn only_goes_back_within_the_editor_ui() {
        assert_eq!(local_target(Some("/admin/entries?type=office")), "/admin/entries?type=office");
        assert_eq!(local_target(Some("https://evil.example/admin")), "/admin/entries");
        assert_eq!(local_target(Some("//evil.example")), "/admin/entries");
        assert_eq!(local_target(None), "/admin/entries");
    }
}
