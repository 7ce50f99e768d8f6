//! API tokens: only a hash of each secret is stored.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, Value as SqlValue};

use super::{Store, StoreError};

#[derive(Clone, Debug)]
pub struct TokenInfo {
    pub id: String,
    pub name: String,
    pub role: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug)]
pub struct StoredToken {
    pub id: String,
    pub name: String,
    pub role: String,
    pub secret_hash: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Store {
    pub async fn insert_token(&self, token: &StoredToken) -> Result<(), StoreError> {
        let values: [SqlValue; 6] = [
            token.id.clone().into(),
            token.name.clone().into(),
            token.role.clone().into(),
            token.secret_hash.clone().into(),
            Utc::now().into(),
            token.expires_at.into(),
        ];
        self.db
            .execute_raw(self.statement("INSERT INTO tokens (id, name, role, secret_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)", values))
            .await?;
        Ok(())
    }

    pub async fn find_token(&self, id: &str) -> Result<Option<StoredToken>, StoreError> {
        let row =
            self.db.query_one_raw(self.statement("SELECT id, name, role, secret_hash, expires_at, revoked_at FROM tokens WHERE id = ?", [id.into()])).await?;
        row.map(|row| {
            Ok(StoredToken {
                id: row.try_get("", "id")?,
                name: row.try_get("", "name")?,
                role: row.try_get("", "role")?,
                secret_hash: row.try_get("", "secret_hash")?,
                expires_at: row.try_get("", "expires_at")?,
                revoked_at: row.try_get("", "revoked_at")?,
            })
        })
        .transpose()
    }

    /// Every token, newest first, without secrets.
    pub async fn list_tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        let rows = self
            .db
            .query_all_raw(self.statement("SELECT id, name, role, created_at, expires_at, revoked_at FROM tokens ORDER BY created_at DESC, id", []))
            .await?;
        rows.iter()
            .map(|row| {
                Ok(TokenInfo {
                    id: row.try_get("", "id")?,
                    name: row.try_get("", "name")?,
                    role: row.try_get("", "role")?,
                    created_at: row.try_get("", "created_at")?,
                    expires_at: row.try_get("", "expires_at")?,
                    revoked_at: row.try_get("", "revoked_at")?,
                })
            })
            .collect()
    }

    /// Marks a token revoked; returns whether it existed.
    pub async fn revoke_token(&self, id: &str) -> Result<bool, StoreError> {
        let result =
            self.db.execute_raw(self.statement("UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", [Utc::now().into(), id.into()])).await?;
        Ok(result.rows_affected() == 1)
    }
}
