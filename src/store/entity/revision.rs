use sea_orm::entity::prelude::*;

/// An immutable revision of one locale of an entry. Rows are only ever
/// inserted; restoring an old revision appends a copy.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "revisions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub entry_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub locale: String,
    /// 1, 2, 3 … per entry and locale.
    #[sea_orm(primary_key, auto_increment = false)]
    pub number: i32,
    /// The whole document as JSON; for a translation, its localised fields.
    #[sea_orm(column_type = "Text")]
    pub document: String,
    /// sha256 of the document, to recognise unchanged content.
    pub content_hash: String,
    /// For a translation: the number of the German revision it was made from.
    pub source_number: Option<i32>,
    pub author: String,
    #[sea_orm(column_type = "Text")]
    pub message: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
