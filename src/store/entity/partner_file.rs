use sea_orm::entity::prelude::*;

/// The SHA-256 of a file of the bundle last applied from a partner.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "partner_files")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub partner: String,
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub path: String,
    pub sha256: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
