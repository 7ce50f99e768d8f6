use sea_orm::entity::prelude::*;

/// One event for one subscription in the outbox.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub subscription_id: String,
    pub entry_id: String,
    pub content_type: String,
    pub slug: String,
    pub event: String,
    /// Comma-separated.
    pub locales: String,
    pub change_seq: i64,
    pub occurred_at: DateTimeUtc,
    /// pending, delivered or failed.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    /// Taken for an attempt until then.
    pub claimed_until: Option<DateTimeUtc>,
    pub last_attempt_at: Option<DateTimeUtc>,
    pub last_status: Option<i32>,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub delivered_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
