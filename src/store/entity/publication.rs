use sea_orm::entity::prelude::*;

/// Workflow state of one locale of an entry. The primary key makes "at most
/// one published revision per entry and locale" a database rule.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "publications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub entry_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub locale: String,
    /// draft, in_review, published or archived.
    pub state: String,
    /// The revision readers get while the state is `published`.
    pub published_number: Option<i32>,
    pub published_at: Option<DateTimeUtc>,
    pub publish_at: Option<DateTimeUtc>,
    pub unpublish_at: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
    /// The reviewer's comment with the last transition, e.g. what to change.
    #[sea_orm(column_type = "Text", nullable)]
    pub review_comment: Option<String>,
    /// The revision `publish_at` will publish.
    pub scheduled_number: Option<i32>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
