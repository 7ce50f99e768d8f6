use sea_orm::entity::prelude::*;

/// A signed-in editor of the web UI.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "editor_sessions")]
pub struct Model {
    /// The hash of the cookie's secret, so a copy of the table signs no one in.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub token_id: String,
    pub csrf: String,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
