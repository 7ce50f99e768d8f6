use sea_orm::entity::prelude::*;

/// A module changed upstream that the partner had overridden.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "partner_conflicts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub entry_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub locale: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub module: String,
    pub partner: String,
    pub upstream_revision: i32,
    /// JSON of the module before and after the upstream change, and the
    /// partner's own value; absent values are NULL.
    #[sea_orm(column_type = "Text", nullable)]
    pub base_value: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub upstream_value: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub local_value: Option<String>,
    pub raised_in: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(belongs_to = "super::entry::Entity", from = "Column::EntryId", to = "super::entry::Column::Id")]
    Entry,
}

impl Related<super::entry::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Entry.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
