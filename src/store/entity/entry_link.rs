use sea_orm::entity::prelude::*;

/// One reference of a published German source, by the top-level field that holds it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "entry_links")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub from_entry_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub field: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub to_type: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub to_slug: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
