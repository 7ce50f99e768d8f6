//! The editor session a browser request carries: a random secret in a
//! cookie, stored only as a hash, of a token still valid. The editor UI
//! signs in and out ([`crate::admin`]); previews of drafts accept a session
//! as they accept a token, so finding it belongs to both.

use poem::Request;
use poem::http::{HeaderMap, header};

use crate::auth::{self, Principal};
use crate::digest::sha256_hex;
use crate::store::{Store, StoreError};

pub const SESSION_COOKIE: &str = "katalog_session";

/// A valid session: whose it is, and the CSRF token its forms carry.
pub struct Session {
    pub principal: Principal,
    pub csrf: String,
}

/// The session whose cookie came with the request, if it is valid.
pub async fn of(request: &Request, store: &Store) -> Result<Option<Session>, StoreError> {
    let Some(secret) = cookie(request.headers(), SESSION_COOKIE) else { return Ok(None) };
    let Some(session) = store.find_session(&sha256_hex(secret)).await? else { return Ok(None) };
    match auth::principal_of_token(store, &session.token_id).await {
        Ok(principal) => Ok(Some(Session { principal, csrf: session.csrf })),
        Err(auth::AuthError::Store(error)) => Err(error),
        // A revoked or expired token ends its sessions.
        Err(_) => Ok(None),
    }
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
}
