use sea_orm::entity::prelude::*;

/// A subscription to a partner's bundles, and how far it was applied.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "partners")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    /// A bundle folder or an http(s) URL.
    #[sea_orm(column_type = "Text")]
    pub source: String,
    /// The municipality the bundles come from, learnt at the first sync.
    pub municipality: Option<String>,
    /// The content version of the last bundle applied (0: never synced).
    pub content_version: i64,
    pub synced_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub auto_publish: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
