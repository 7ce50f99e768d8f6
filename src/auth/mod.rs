//! API tokens: random, shown once, stored as a hash, compared in constant
//! time, expirable and revocable. A token is `kat_<id>_<secret>`: the id
//! finds the stored hash, the secret proves possession.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};

use crate::store::{Store, StoreError, StoredToken};
use crate::workflow::Role;

const PREFIX: &str = "kat_";

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("the token is not one katalog issued")]
    Malformed,
    #[error("no such token, or the secret does not match")]
    Unknown,
    #[error("the token expired at {0}")]
    Expired(DateTime<Utc>),
    #[error("the token was revoked at {0}")]
    Revoked(DateTime<Utc>),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the system has no random source: {0}")]
    Random(String),
}

/// A principal whose role does not include the one a step needs.
#[derive(Debug, thiserror::Error)]
#[error("needs the role `{needed}`; this token has `{held}`")]
pub struct Refused {
    pub needed: Role,
    pub held: Role,
}

/// Who is making a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub token_id: String,
    pub name: String,
    pub role: Role,
}

impl Principal {
    /// How the principal is named as the author of revisions and audit entries.
    pub fn author(&self) -> String {
        format!("{} (token {})", self.name, self.token_id)
    }

    /// The one check of a role, for the management API and the editor UI
    /// alike: refused unless the principal's role includes `needed`.
    pub fn require(&self, needed: Role) -> Result<&Principal, Refused> {
        if self.role.includes(needed) { Ok(self) } else { Err(Refused { needed, held: self.role }) }
    }
}

/// A newly created token; the secret is not stored and cannot be shown again.
pub struct IssuedToken {
    pub id: String,
    pub token: String,
}

/// `bytes` random bytes as lower-case hex: an identifier.
pub fn random_hex(bytes: usize) -> Result<String, AuthError> {
    Ok(random_bytes(bytes)?.iter().map(|b| format!("{b:02x}")).collect())
}

/// 256 random bits, URL-safe: a secret.
pub fn random_secret() -> Result<String, AuthError> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes(32)?))
}

fn random_bytes(count: usize) -> Result<Vec<u8>, AuthError> {
    let mut bytes = vec![0u8; count];
    getrandom::fill(&mut bytes).map_err(|e| AuthError::Random(e.to_string()))?;
    Ok(bytes)
}

pub async fn create_token(store: &Store, name: &str, role: Role, expires_at: Option<DateTime<Utc>>) -> Result<IssuedToken, AuthError> {
    let id = random_hex(6)?;
    let secret = random_secret()?;
    store
        .insert_token(&StoredToken {
            id: id.clone(),
            name: name.to_owned(),
            role: role.code().to_owned(),
            secret_hash: hash(&secret),
            expires_at,
            revoked_at: None,
        })
        .await?;
    Ok(IssuedToken { token: format!("{PREFIX}{id}_{secret}"), id })
}

pub async fn authenticate(store: &Store, token: &str) -> Result<Principal, AuthError> {
    let (id, secret) = token.trim().strip_prefix(PREFIX).and_then(|rest| rest.split_once('_')).ok_or(AuthError::Malformed)?;
    if id.len() != 12 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AuthError::Malformed);
    }
    let stored = store.find_token(id).await?.ok_or(AuthError::Unknown)?;
    if !constant_time_eq(hash(secret).as_bytes(), stored.secret_hash.as_bytes()) {
        return Err(AuthError::Unknown);
    }
    principal_of(stored)
}

/// The principal of a token known by its id (a signed-in session's), if
/// the token is still valid.
pub async fn principal_of_token(store: &Store, id: &str) -> Result<Principal, AuthError> {
    principal_of(store.find_token(id).await?.ok_or(AuthError::Unknown)?)
}

fn principal_of(stored: StoredToken) -> Result<Principal, AuthError> {
    if let Some(at) = stored.revoked_at {
        return Err(AuthError::Revoked(at));
    }
    if let Some(at) = stored.expires_at.filter(|at| *at <= Utc::now()) {
        return Err(AuthError::Expired(at));
    }
    let role = stored.role.parse().map_err(|_| AuthError::Unknown)?;
    Ok(Principal { token_id: stored.id, name: stored.name, role })
}

fn hash(secret: &str) -> String {
    crate::digest::sha256_hex(secret)
}

/// Equality whose time does not depend on where the inputs differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_comparison() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
