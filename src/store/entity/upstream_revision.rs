use sea_orm::entity::prelude::*;

/// An upstream revision as received, and the local revision made from it.
/// Append-only, like revisions.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "upstream_revisions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub entry_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub locale: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub upstream_revision: i32,
    /// None when every module it changed was overridden here.
    pub number: Option<i32>,
    #[sea_orm(column_type = "Text")]
    pub document: String,
    pub content_hash: String,
    pub translated_from: Option<i32>,
    /// The bundle's provenance of each module, as JSON.
    #[sea_orm(column_type = "Text")]
    pub provenance: String,
    pub received_in: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
