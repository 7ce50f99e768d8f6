use sea_orm::entity::prelude::*;

/// Who did what, when, in which request.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub request_id: String,
    pub at: DateTimeUtc,
    pub actor: String,
    pub action: String,
    pub content_type: Option<String>,
    pub entry_id: Option<String>,
    pub slug: Option<String>,
    pub locale: Option<String>,
    /// JSON.
    #[sea_orm(column_type = "Text")]
    pub detail: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
