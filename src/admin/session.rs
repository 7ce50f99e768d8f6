//! Signing in to the editor UI. An editor signs in with the API token an
//! administrator gave them (`katalog token create --role editor`); the UI
//! then keeps a session: a random secret in an `HttpOnly`,
//! `SameSite=Strict` cookie (`Secure` behind TLS), stored only as a hash,
//! ending after [`SESSION_HOURS`], at sign-out, or when the token is
//! revoked or expires. Every form carries the session's CSRF token, and
//! every post is checked against it.

use chrono::{Duration, Utc};
use poem::http::{HeaderMap, StatusCode, header};
use poem::{FromRequest, Request, RequestBody, Response};

use super::Lang;
use crate::api::AppState;
use crate::auth::{self, Principal, random_secret};
use crate::digest::sha256_hex;
use crate::store::{EditorSession, StoreError};
use crate::workflow::Role;

pub const SESSION_COOKIE: &str = "katalog_session";
/// Proves that a sign-in form was sent by our own page (the session's CSRF
/// token does not exist yet).
pub const SIGN_IN_COOKIE: &str = "katalog_signin";
pub const SESSION_HOURS: i64 = 8;

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("the form is out of date or was not sent by this page; reload it and try again")]
    Forged,
    #[error(transparent)]
    Token(#[from] auth::AuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A signed-in editor: who they are, their session's CSRF token and the
/// interface language they chose.
#[derive(Clone, Debug)]
pub struct Editor {
    pub principal: Principal,
    pub csrf: String,
    pub lang: Lang,
}

impl Editor {
    pub fn may(&self, role: Role) -> bool {
        self.principal.role.includes(role)
    }

    /// Refuses a post whose CSRF token is not this session's.
    pub fn check_csrf(&self, sent: Option<&str>) -> Result<(), SessionError> {
        match sent {
            Some(sent) if auth::constant_time_eq(sent.as_bytes(), self.csrf.as_bytes()) => Ok(()),
            _ => Err(SessionError::Forged),
        }
    }
}

impl<'a> FromRequest<'a> for Editor {
    async fn from_request(request: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        let state = request.data::<AppState>().ok_or_else(|| poem::Error::from_status(StatusCode::INTERNAL_SERVER_ERROR))?;
        match signed_in(request, state).await {
            Ok(Some(editor)) => Ok(editor),
            Ok(None) => {
                let back = request.original_uri().path_and_query().map(|p| p.as_str()).unwrap_or("/admin/");
                Err(poem::Error::from_response(redirect(&format!("/admin/signin?back={}", encode_component(back)))))
            }
            Err(error) => {
                tracing::error!(%error, "checking an editor session failed");
                Err(poem::Error::from_status(StatusCode::INTERNAL_SERVER_ERROR))
            }
        }
    }
}

/// The editor whose session cookie came with the request, if it is valid.
pub async fn signed_in(request: &Request, state: &AppState) -> Result<Option<Editor>, SessionError> {
    let Some(secret) = cookie(request.headers(), SESSION_COOKIE) else { return Ok(None) };
    let Some(session) = state.store.find_session(&sha256_hex(secret)).await? else { return Ok(None) };
    match auth::principal_of_token(&state.store, &session.token_id).await {
        Ok(principal) => Ok(Some(Editor { principal, csrf: session.csrf, lang: Lang::of(request) })),
        Err(auth::AuthError::Store(error)) => Err(error.into()),
        // A revoked or expired token ends its sessions.
        Err(_) => Ok(None),
    }
}

/// Signs in with a token: a new session, and the cookie that carries it.
pub async fn sign_in(request: &Request, state: &AppState, token: &str) -> Result<String, SessionError> {
    let principal = auth::authenticate(&state.store, token).await?;
    let secret = random_secret()?;
    let session = EditorSession { token_id: principal.token_id, csrf: random_secret()?, expires_at: Utc::now() + Duration::hours(SESSION_HOURS) };
    state.store.insert_session(&sha256_hex(&secret), &session).await?;
    Ok(set_cookie(request, SESSION_COOKIE, &secret, SESSION_HOURS * 3600))
}

pub async fn sign_out(request: &Request, state: &AppState) -> Result<String, SessionError> {
    if let Some(secret) = cookie(request.headers(), SESSION_COOKIE) {
        state.store.delete_session(&sha256_hex(secret)).await?;
    }
    Ok(set_cookie(request, SESSION_COOKIE, "", 0))
}

/// A `Set-Cookie` value for the editor UI's path. `Secure` when the
/// request came over TLS, directly or through a proxy that says so.
pub fn set_cookie(request: &Request, name: &str, value: &str, max_age_seconds: i64) -> String {
    let tls = request.scheme() == &poem::http::uri::Scheme::HTTPS
        || request.header("X-Forwarded-Proto").is_some_and(|proto| proto.eq_ignore_ascii_case("https"));
    format!("{name}={value}; Path=/; Max-Age={max_age_seconds}; HttpOnly; SameSite=Strict{}", if tls { "; Secure" } else { "" })
}

/// The value of one cookie of the request's `Cookie` headers.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(key, value)| (key == name).then_some(value))
}

/// 303 See Other: after a post, the browser fetches the page with GET.
pub fn redirect(to: &str) -> Response {
    Response::builder().status(StatusCode::SEE_OTHER).header(header::LOCATION, to).finish()
}

/// Percent-encodes everything but unreserved characters and `/`.
pub fn encode_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_cookie_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, "a=1; katalog_session=abc; b=2".parse().unwrap());
        headers.append(header::COOKIE, "c=3".parse().unwrap());
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&headers, "c"), Some("3"));
        assert_eq!(cookie(&headers, "katalog"), None);
    }

    #[test]
    fn encodes_a_return_path() {
        assert_eq!(encode_component("/admin/entries?type=service&q=a b"), "/admin/entries%3Ftype%3Dservice%26q%3Da%20b");
    }
}
