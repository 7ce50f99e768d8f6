use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum EntryLinks {
    Table,
    FromEntryId,
    Field,
    ToType,
    ToSlug,
}

#[derive(DeriveIden)]
enum Entries {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(EntryLinks::Table)
                    .col(string(EntryLinks::FromEntryId))
                    .col(string(EntryLinks::Field))
                    .col(string(EntryLinks::ToType))
                    .col(string(EntryLinks::ToSlug))
                    .primary_key(Index::create().col(EntryLinks::FromEntryId).col(EntryLinks::Field).col(EntryLinks::ToType).col(EntryLinks::ToSlug))
                    .foreign_key(
                        ForeignKey::create()
                            .from(EntryLinks::Table, EntryLinks::FromEntryId)
                            .to(Entries::Table, Entries::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(Index::create().name("entry_links_target").table(EntryLinks::Table).col(EntryLinks::ToType).col(EntryLinks::ToSlug).to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(EntryLinks::Table).to_owned()).await
    }
}
