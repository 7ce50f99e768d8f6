//! Signed-in editors of the web UI. Only the hash of a session's secret is
//! stored; the session lives as long as its token is valid and at most
//! until it expires.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter};

use super::entity::editor_session;
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
        let row = editor_session::Model {
            id: secret_hash.to_owned(),
            token_id: session.token_id.clone(),
            csrf: session.csrf.clone(),
            created_at: Utc::now(),
            expires_at: session.expires_at,
        };
        editor_session::Entity::insert(row.into_active_model()).exec_without_returning(&self.db).await?;
        // Expired sessions are cleared as new ones begin: the table stays small without a sweeper.
        editor_session::Entity::delete_many().filter(editor_session::Column::ExpiresAt.lt(Utc::now())).exec(&self.db).await?;
        Ok(())
    }

    /// The session with this secret hash, if it has not expired.
    pub async fn find_session(&self, secret_hash: &str) -> Result<Option<EditorSession>, StoreError> {
        let row = editor_session::Entity::find_by_id(secret_hash).filter(editor_session::Column::ExpiresAt.gt(Utc::now())).one(&self.db).await?;
        Ok(row.map(|row| EditorSession { token_id: row.token_id, csrf: row.csrf, expires_at: row.expires_at }))
    }

    pub async fn delete_session(&self, secret_hash: &str) -> Result<(), StoreError> {
        editor_session::Entity::delete_by_id(secret_hash).exec(&self.db).await?;
        Ok(())
    }
}
