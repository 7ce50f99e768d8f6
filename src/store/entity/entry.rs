use sea_orm::entity::prelude::*;

/// An entry: stable id, type and slug. Its content lives in revisions.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "entries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub content_type: String,
    pub slug: String,
    /// LeiKa service key, mirrored from the document for lookups.
    pub leika: Option<String>,
    /// Increases with every revision of any locale; the precondition for writes.
    pub version: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// Set while the entry is in the trash.
    pub trashed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
