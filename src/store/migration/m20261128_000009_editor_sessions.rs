use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum EditorSessions {
    Table,
    Id,
    TokenId,
    Csrf,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Tokens {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // A signed-in editor: the id is the hash of the cookie's secret, so
        // a copy of this table signs no one in.
        manager
            .create_table(
                Table::create()
                    .table(EditorSessions::Table)
                    .col(string(EditorSessions::Id).primary_key())
                    .col(string(EditorSessions::TokenId))
                    .col(string(EditorSessions::Csrf))
                    .col(timestamp_with_time_zone(EditorSessions::CreatedAt))
                    .col(timestamp_with_time_zone(EditorSessions::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(EditorSessions::Table, EditorSessions::TokenId)
                            .to(Tokens::Table, Tokens::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(EditorSessions::Table).to_owned()).await
    }
}
