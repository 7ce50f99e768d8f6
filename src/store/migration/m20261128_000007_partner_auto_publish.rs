use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Partners {
    Table,
    /// Whether a sync publishes what arrives (and unpublishes what upstream
    /// withdrew) without being asked each time; modules overridden here
    /// and the partner's own work waiting for review stay drafts anyway.
    AutoPublish,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Partners::Table).add_column(boolean(Partners::AutoPublish).default(false)).to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Partners::Table).drop_column(Partners::AutoPublish).to_owned()).await
    }
}
