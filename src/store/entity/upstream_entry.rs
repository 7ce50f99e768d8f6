use sea_orm::entity::prelude::*;

/// An entry that came from a partner: its upstream identity and what the syncs did to it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "upstream_entries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub entry_id: String,
    pub partner: String,
    pub municipality: String,
    pub upstream_id: String,
    pub upstream_version: i64,
    /// Content versions of the syncs that created, last changed and withdrew the entry.
    pub arrived_in: i64,
    pub changed_in: i64,
    pub withdrawn_in: Option<i64>,
    /// `unpublish`, `archive` or `delete`, as upstream said.
    pub withdrawn_action: Option<String>,
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
