use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tokens {
    Table,
    Id,
    Name,
    Role,
    SecretHash,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Publications {
    Table,
    ReviewComment,
    ScheduledNumber,
}

#[derive(DeriveIden)]
enum Entries {
    Table,
    TrashedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Tokens::Table)
                    .col(string(Tokens::Id).primary_key())
                    .col(string(Tokens::Name))
                    .col(string(Tokens::Role))
                    .col(string(Tokens::SecretHash))
                    .col(timestamp_with_time_zone(Tokens::CreatedAt))
                    .col(timestamp_with_time_zone_null(Tokens::ExpiresAt))
                    .col(timestamp_with_time_zone_null(Tokens::RevokedAt))
                    .check(Expr::col(Tokens::Role).is_in(["reader", "editor", "publisher", "admin"]))
                    .to_owned(),
            )
            .await?;
        // The reviewer's comment of the last transition ("request changes").
        manager.alter_table(Table::alter().table(Publications::Table).add_column(text_null(Publications::ReviewComment)).to_owned()).await?;
        // The revision a scheduled publish will publish (the one approved).
        manager.alter_table(Table::alter().table(Publications::Table).add_column(integer_null(Publications::ScheduledNumber)).to_owned()).await?;
        // Entries in the trash: off every channel, restorable, deletable by admins.
        manager.alter_table(Table::alter().table(Entries::Table).add_column(timestamp_with_time_zone_null(Entries::TrashedAt)).to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Entries::Table).drop_column(Entries::TrashedAt).to_owned()).await?;
        manager.alter_table(Table::alter().table(Publications::Table).drop_column(Publications::ScheduledNumber).to_owned()).await?;
        manager.alter_table(Table::alter().table(Publications::Table).drop_column(Publications::ReviewComment).to_owned()).await?;
        manager.drop_table(Table::drop().table(Tokens::Table).to_owned()).await
    }
}
