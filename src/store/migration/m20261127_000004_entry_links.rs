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
                    // No foreign key: it is an index rebuilt from documents, and
                    // per-row key checks made bulk imports several times slower
                    // on PostgreSQL. Deleting an entry deletes its links.
                    .primary_key(Index::create().col(EntryLinks::FromEntryId).col(EntryLinks::Field).col(EntryLinks::ToType).col(EntryLinks::ToSlug))
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
