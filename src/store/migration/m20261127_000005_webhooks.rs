use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WebhookSubscriptions {
    Table,
    Id,
    Url,
    Secret,
    /// Comma-separated; empty: every type.
    ContentTypes,
    /// Comma-separated; empty: every event.
    Events,
    /// Changes up to this sequence number happened before it existed.
    FromSeq,
    CreatedAt,
    CreatedBy,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    Id,
    SubscriptionId,
    EntryId,
    ContentType,
    Slug,
    Event,
    Locales,
    ChangeSeq,
    OccurredAt,
    Status,
    Attempts,
    NextAttemptAt,
    ClaimedUntil,
    LastAttemptAt,
    LastStatus,
    LastError,
    CreatedAt,
    DeliveredAt,
}

/// Where each follower of the change log has got to.
#[derive(DeriveIden)]
enum ChangeCursors {
    Table,
    Name,
    Seq,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WebhookSubscriptions::Table)
                    .col(string(WebhookSubscriptions::Id).primary_key())
                    .col(text(WebhookSubscriptions::Url))
                    .col(string(WebhookSubscriptions::Secret))
                    .col(string(WebhookSubscriptions::ContentTypes))
                    .col(string(WebhookSubscriptions::Events))
                    .col(big_integer(WebhookSubscriptions::FromSeq))
                    .col(timestamp_with_time_zone(WebhookSubscriptions::CreatedAt))
                    .col(string(WebhookSubscriptions::CreatedBy))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookDeliveries::Table)
                    .col(big_pk_auto(WebhookDeliveries::Id))
                    .col(string(WebhookDeliveries::SubscriptionId))
                    .col(string(WebhookDeliveries::EntryId))
                    .col(string(WebhookDeliveries::ContentType))
                    .col(string(WebhookDeliveries::Slug))
                    .col(string(WebhookDeliveries::Event))
                    .col(string(WebhookDeliveries::Locales))
                    .col(big_integer(WebhookDeliveries::ChangeSeq))
                    .col(timestamp_with_time_zone(WebhookDeliveries::OccurredAt))
                    .col(string(WebhookDeliveries::Status))
                    .col(integer(WebhookDeliveries::Attempts))
                    .col(timestamp_with_time_zone(WebhookDeliveries::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(WebhookDeliveries::ClaimedUntil))
                    .col(timestamp_with_time_zone_null(WebhookDeliveries::LastAttemptAt))
                    .col(integer_null(WebhookDeliveries::LastStatus))
                    .col(text_null(WebhookDeliveries::LastError))
                    .col(timestamp_with_time_zone(WebhookDeliveries::CreatedAt))
                    .col(timestamp_with_time_zone_null(WebhookDeliveries::DeliveredAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(WebhookDeliveries::Table, WebhookDeliveries::SubscriptionId)
                            .to(WebhookSubscriptions::Table, WebhookSubscriptions::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .check(Expr::col(WebhookDeliveries::Status).is_in(["pending", "delivered", "failed"]))
                    .to_owned(),
            )
            .await?;
        // The queue: pending deliveries per subscription and entry, oldest first.
        manager
            .create_index(
                Index::create()
                    .name("webhook_deliveries_queue")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::Status)
                    .col(WebhookDeliveries::SubscriptionId)
                    .col(WebhookDeliveries::EntryId)
                    .col(WebhookDeliveries::Id)
                    .to_owned(),
            )
            .await?;
        // The delivery log of a subscription, newest first.
        manager
            .create_index(
                Index::create()
                    .name("webhook_deliveries_log")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::SubscriptionId)
                    .col(WebhookDeliveries::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create().table(ChangeCursors::Table).col(string(ChangeCursors::Name).primary_key()).col(big_integer(ChangeCursors::Seq)).to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ChangeCursors::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(WebhookDeliveries::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(WebhookSubscriptions::Table).to_owned()).await
    }
}
