//! Signed-in editors of the web UI. Only the hash of a session's secret is
//! stored; the session lives as long as its token is valid and at most
//! until it expires.

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;

use super::{Store, StoreError};

#[derive(Clone, Debug)]
pub struct EditorSession {
    pub token_id: String,
    /// Sent back with every form; a request without it was not made by our page.
    pub csrf: String,
    pub expires_at: DateTime<Utc>,
}

impl Store {
    pub async fn insert_session(&self, secret_hash: &str, session: &EditorSession) -> Result<(), StoreError> {
        self.db
            .execute_raw(self.statement(
                "INSERT INTO editor_sessions (id, token_id, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                [secret_hash.into(), session.token_id.clone().into(), session.csrf.clone().into(), Utc::now().into(), session.expires_at.into()],
            ))
            .await?;
        // Expired sessions are cleared as new ones begin: the table stays small without a sweeper.
        self.db.execute_raw(self.statement("DELETE FROM editor_sessions WHERE expires_at < ?", [Utc::now().into()])).await?;
        Ok(())
    }

    /// The session with this secret hash, if it has not expired.
    pub async fn find_session(&self, secret_hash: &str) -> Result<Option<EditorSession>, StoreError> {
        let row =
            self.db
                .query_one_raw(self.statement(
                    "SELECT token_id, csrf, expires_at FROM editor_sessions WHERE id = ? AND expires_at > ?",
                    [secret_hash.into(), Utc::now().into()],
                ))
                .await?;
        row.map(|row| Ok(EditorSession { token_id: row.try_get("", "token_id")?, csrf: row.try_get("", "csrf")?, expires_at: row.try_get("", "expires_at")? }))
            .transpose()
    }

    pub async fn delete_session(&self, secret_hash: &str) -> Result<(), StoreError> {
        self.db.execute_raw(self.statement("DELETE FROM editor_sessions WHERE id = ?", [secret_hash.into()])).await?;
        Ok(())
    }
}
