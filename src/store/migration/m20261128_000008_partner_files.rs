use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Partners {
    Table,
    Name,
}

/// The SHA-256 of every file of the bundle last applied from a partner, as
/// its manifest listed it: the next sync fetches and verifies only files
/// whose hash changed.
#[derive(DeriveIden)]
enum PartnerFiles {
    Table,
    Partner,
    Path,
    Sha256,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PartnerFiles::Table)
                    .col(string(PartnerFiles::Partner))
                    .col(text(PartnerFiles::Path))
                    .col(string(PartnerFiles::Sha256))
                    .primary_key(Index::create().col(PartnerFiles::Partner).col(PartnerFiles::Path))
                    .foreign_key(ForeignKey::create().from(PartnerFiles::Table, PartnerFiles::Partner).to(Partners::Table, Partners::Name))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(PartnerFiles::Table).to_owned()).await
    }
}
