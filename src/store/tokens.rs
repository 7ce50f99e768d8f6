//! API tokens: only a hash of each secret is stored.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder};

use super::entity::token;
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

impl From<token::Model> for StoredToken {
    fn from(row: token::Model) -> Self {
        StoredToken { id: row.id, name: row.name, role: row.role, secret_hash: row.secret_hash, expires_at: row.expires_at, revoked_at: row.revoked_at }
    }
}

impl From<token::Model> for TokenInfo {
    fn from(row: token::Model) -> Self {
        TokenInfo { id: row.id, name: row.name, role: row.role, created_at: row.created_at, expires_at: row.expires_at, revoked_at: row.revoked_at }
    }
}

impl Store {
    pub async fn insert_token(&self, token: &StoredToken) -> Result<(), StoreError> {
        let row = token::Model {
            id: token.id.clone(),
            name: token.name.clone(),
            role: token.role.clone(),
            secret_hash: token.secret_hash.clone(),
            created_at: Utc::now(),
            expires_at: token.expires_at,
            revoked_at: None,
        };
        token::Entity::insert(row.into_active_model()).exec_without_returning(&self.db).await?;
        Ok(())
    }

    pub async fn find_token(&self, id: &str) -> Result<Option<StoredToken>, StoreError> {
        Ok(token::Entity::find_by_id(id).one(&self.db).await?.map(StoredToken::from))
    }

    /// Every token, newest first, without secrets.
    pub async fn list_tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        let rows = token::Entity::find().order_by_desc(token::Column::CreatedAt).order_by_asc(token::Column::Id).all(&self.db).await?;
        Ok(rows.into_iter().map(TokenInfo::from).collect())
    }

    /// Marks a token revoked; returns whether it existed.
    pub async fn revoke_token(&self, id: &str) -> Result<bool, StoreError> {
        let result = token::Entity::update_many()
            .col_expr(token::Column::RevokedAt, Expr::value(Utc::now()))
            .filter(token::Column::Id.eq(id))
            .filter(token::Column::RevokedAt.is_null())
            .exec(&self.db)
            .await?;
        Ok(result.rows_affected == 1)
    }
}
