use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Entries {
    Table,
    Id,
    ContentType,
    Slug,
    Leika,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Revisions {
    Table,
    EntryId,
    Locale,
    Number,
    Document,
    ContentHash,
    SourceNumber,
    Author,
    Message,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Publications {
    Table,
    EntryId,
    Locale,
    State,
    PublishedNumber,
    PublishedAt,
    PublishAt,
    UnpublishAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Changes {
    Table,
    Seq,
    EntryId,
    ContentType,
    Slug,
    Locale,
    Action,
    RevisionNumber,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Slugs sort and page in byte order on both databases; PostgreSQL
        // gets it from the column's collation (so the index serves it).
        let mut slug = string(Entries::Slug);
        if manager.get_database_backend() == sea_orm::DbBackend::Postgres {
            slug.extra("COLLATE \"C\"");
        }
        manager
            .create_table(
                Table::create()
                    .table(Entries::Table)
                    .col(string(Entries::Id).primary_key())
                    .col(string(Entries::ContentType))
                    .col(slug)
                    .col(string_null(Entries::Leika))
                    .col(big_integer(Entries::Version))
                    .col(timestamp_with_time_zone(Entries::CreatedAt))
                    .col(timestamp_with_time_zone(Entries::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("entries_type_slug_unique").table(Entries::Table).col(Entries::ContentType).col(Entries::Slug).unique().to_owned(),
            )
            .await?;
        manager.create_index(Index::create().name("entries_leika").table(Entries::Table).col(Entries::Leika).to_owned()).await?;

        manager
            .create_table(
                Table::create()
                    .table(Revisions::Table)
                    .col(string(Revisions::EntryId))
                    .col(string(Revisions::Locale))
                    .col(integer(Revisions::Number))
                    .col(text(Revisions::Document))
                    .col(string(Revisions::ContentHash))
                    .col(integer_null(Revisions::SourceNumber))
                    .col(string(Revisions::Author))
                    .col(text(Revisions::Message))
                    .col(timestamp_with_time_zone(Revisions::CreatedAt))
                    .primary_key(Index::create().col(Revisions::EntryId).col(Revisions::Locale).col(Revisions::Number))
                    .foreign_key(
                        ForeignKey::create().from(Revisions::Table, Revisions::EntryId).to(Entries::Table, Entries::Id).on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Publications::Table)
                    .col(string(Publications::EntryId))
                    .col(string(Publications::Locale))
                    .col(string(Publications::State))
                    .col(integer_null(Publications::PublishedNumber))
                    .col(timestamp_with_time_zone_null(Publications::PublishedAt))
                    .col(timestamp_with_time_zone_null(Publications::PublishAt))
                    .col(timestamp_with_time_zone_null(Publications::UnpublishAt))
                    .col(timestamp_with_time_zone(Publications::UpdatedAt))
                    .primary_key(Index::create().col(Publications::EntryId).col(Publications::Locale))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Publications::Table, (Publications::EntryId, Publications::Locale, Publications::PublishedNumber))
                            .to(Revisions::Table, (Revisions::EntryId, Revisions::Locale, Revisions::Number)),
                    )
                    .check(Expr::col(Publications::State).is_in(["draft", "in_review", "published", "archived"]))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Changes::Table)
                    .col(big_pk_auto(Changes::Seq))
                    .col(string(Changes::EntryId))
                    .col(string(Changes::ContentType))
                    .col(string(Changes::Slug))
                    .col(string(Changes::Locale))
                    .col(string(Changes::Action))
                    .col(integer_null(Changes::RevisionNumber))
                    .col(timestamp_with_time_zone(Changes::CreatedAt))
                    .check(Expr::col(Changes::Action).is_in(["publish", "unpublish", "archive", "delete"]))
                    .to_owned(),
            )
            .await?;
        manager.create_index(Index::create().name("changes_type_seq").table(Changes::Table).col(Changes::ContentType).col(Changes::Seq).to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [Changes::Table.into_iden(), Publications::Table.into_iden(), Revisions::Table.into_iden(), Entries::Table.into_iden()] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
