//! Signing in to the editor UI. An editor signs in with the API token an
//! administrator gave them (`katalog token create --role editor`); the UI
//! then keeps a session: a random secret in an `HttpOnly`,
//! `SameSite=Strict` cookie (`Secure` behind TLS), stored only as a hash,
//! ending after [`SESSION_HOURS`], at sign-out, or when the token is
//! revoked or expires. Every form carries the session's CSRF token, and
//! every post is checked against it. Each route names the role it needs
//! ([`Needs`]); the check runs before the handler reads the request.

use chrono::{Duration, Utc};
use poem::http::{StatusCode, header};
use poem::{Endpoint, FromRequest, IntoResponse, Middleware, Request, RequestBody, Response};

use super::{Lang, error_page, pages};
use crate::auth::{self, Principal, Refused, random_secret};
use crate::digest::sha256_hex;
use crate::http::AppState;
use crate::http::session::{self, SESSION_COOKIE, cookie};
use crate::store::{EditorSession, StoreError};
use crate::workflow::Role;

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
        self.principal.require(role).is_ok()
    }

    /// The page that refuses a step this editor's role does not include.
    pub fn refused(&self, refused: &Refused) -> Response {
        error_page(StatusCode::FORBIDDEN, self.lang, &pages::word(self.lang, &format!("needs_{}", refused.needed)))
    }

    /// Refuses a post whose CSRF token is not this session's.
    pub fn check_csrf(&self, sent: Option<&str>) -> Result<(), SessionError> {
        match sent {
            Some(sent) if auth::constant_time_eq(sent.as_bytes(), self.csrf.as_bytes()) => Ok(()),
            _ => Err(SessionError::Forged),
        }
    }
}

/// The check in front of every page and post of the UI that needs a
/// session: a signed-in editor whose role includes the route's, before the
/// handler reads anything else of the request (its form above all). The
/// handler then finds the [`Editor`] among the request's extensions.
#[derive(Clone, Copy)]
pub struct Needs(pub Role);

impl<E: Endpoint> Middleware<E> for Needs {
    type Output = NeedsEndpoint<E>;
    fn transform(&self, inner: E) -> Self::Output {
        NeedsEndpoint { inner, role: self.0 }
    }
}

pub struct NeedsEndpoint<E> {
    inner: E,
    role: Role,
}

impl<E: Endpoint> Endpoint for NeedsEndpoint<E> {
    type Output = Response;
    async fn call(&self, mut request: Request) -> poem::Result<Response> {
        let state = request.data::<AppState>().ok_or_else(|| poem::Error::from_status(StatusCode::INTERNAL_SERVER_ERROR))?;
        let editor = match signed_in(&request, state).await {
            Ok(Some(editor)) => editor,
            Ok(None) => {
                let back = request.original_uri().path_and_query().map(|p| p.as_str()).unwrap_or("/admin/");
                return Ok(redirect(&format!("/admin/signin?back={}", encode_component(back))));
            }
            Err(error) => {
                tracing::error!(%error, "checking an editor session failed");
                return Err(poem::Error::from_status(StatusCode::INTERNAL_SERVER_ERROR));
            }
        };
        if let Err(refused) = editor.principal.require(self.role) {
            return Ok(editor.refused(&refused));
        }
        request.extensions_mut().insert(editor);
        self.inner.call(request).await.map(IntoResponse::into_response)
    }
}

impl<'a> FromRequest<'a> for Editor {
    async fn from_request(request: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        request.extensions().get::<Editor>().cloned().ok_or_else(|| {
            tracing::error!(path = request.uri().path(), "an editor UI route is not behind its role check");
            poem::Error::from_status(StatusCode::INTERNAL_SERVER_ERROR)
        })
    }
}

/// The editor whose session cookie came with the request, if it is valid.
pub async fn signed_in(request: &Request, state: &AppState) -> Result<Option<Editor>, SessionError> {
    let session = session::of(request, &state.store).await?;
    Ok(session.map(|session| Editor { principal: session.principal, csrf: session.csrf, lang: Lang::of(request) }))
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
    let tls =
        request.scheme() == &poem::http::uri::Scheme::HTTPS || request.header("X-Forwarded-Proto").is_some_and(|proto| proto.eq_ignore_ascii_case("https"));
    format!("{name}={value}; Path=/; Max-Age={max_age_seconds}; HttpOnly; SameSite=Strict{}", if tls { "; Secure" } else { "" })
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
    fn encodes_a_return_path() {
        assert_eq!(encode_component("/admin/entries?type=service&q=a b"), "/admin/entries%3Ftype%3Dservice%26q%3Da%20b");
    }
}
