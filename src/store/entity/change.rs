use sea_orm::entity::prelude::*;

/// The ordered change log: every publish, unpublish, archive and delete.
/// Search, exports, webhooks and sync feeds read it with a cursor (`seq`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "changes")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub seq: i64,
    pub entry_id: String,
    pub content_type: String,
    pub slug: String,
    pub locale: String,
    /// publish, unpublish, archive or delete.
    pub action: String,
    pub revision_number: Option<i32>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
