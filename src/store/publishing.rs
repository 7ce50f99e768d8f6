//! The one step that puts revisions live and takes them off the
//! channels. Every door — a workflow transition, a due schedule, an
//! import, a partner sync, the trash — comes here, inside its own
//! transaction: the publication row, the links of a German source and the
//! change log are written the same way whoever publishes. Going live takes
//! an [`Approved`] revision, which only the publishing check hands out.

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{DatabaseTransaction, EntityTrait, IntoActiveModel};

use super::entity::{change, publication};
use super::links::Link;
use super::write::rows_per_insert;
use super::{Store, StoreError};
use crate::content::Locale;
use crate::workflow::{Approved, State};

/// The entry a change is about.
#[derive(Clone, Debug)]
pub struct Subject {
    pub entry_id: String,
    pub content_type: String,
    pub slug: String,
}

/// One locale going live or coming off the channels.
#[derive(Debug)]
pub struct LiveChange {
    pub subject: Subject,
    /// The workflow state of the locale afterwards.
    pub state: State,
    pub going: Going,
}

#[derive(Debug)]
pub enum Going {
    /// An approved revision goes live.
    Live(Approved),
    /// The live revision `was` comes off the channels.
    Off { locale: Locale, was: i32, why: Withdrawal },
}

/// Why a live revision comes off, as the change log names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Withdrawal {
    Unpublish,
    Archive,
}

impl Subject {
    pub(super) fn of(entry: &super::EntryRecord) -> Subject {
        Subject { entry_id: entry.id.clone(), content_type: entry.content_type.clone(), slug: entry.slug.clone() }
    }

    pub(super) fn of_ref(entry: super::EntryRef<'_>) -> Subject {
        Subject { entry_id: entry.entry_id.to_owned(), content_type: entry.content_type.to_owned(), slug: entry.slug.to_owned() }
    }
}

impl LiveChange {
    fn locale(&self) -> Locale {
        match &self.going {
            Going::Live(approved) => approved.locale(),
            Going::Off { locale, .. } => *locale,
        }
    }
}

impl Store {
    /// Applies live changes inside the caller's transaction; they take
    /// effect (and are dated) when it commits.
    pub(super) async fn apply_live_changes(&self, txn: &DatabaseTransaction, changes: Vec<LiveChange>) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        let now = Utc::now();
        for rows in changes.chunks(rows_per_insert::<publication::Entity>()) {
            let models = rows.iter().map(|change| {
                let published_number = match &change.going {
                    Going::Live(approved) => Some(approved.number()),
                    Going::Off { .. } => None,
                };
                publication::Model {
                    entry_id: change.subject.entry_id.clone(),
                    locale: change.locale().code().to_owned(),
                    state: change.state.code().to_owned(),
                    published_number,
                    published_at: published_number.map(|_| now),
                    publish_at: None,
                    unpublish_at: None,
                    updated_at: now,
                    review_comment: None,
                    scheduled_number: None,
                }
                .into_active_model()
            });
            let updated = [publication::Column::State, publication::Column::PublishedNumber, publication::Column::PublishedAt, publication::Column::UpdatedAt];
            publication::Entity::insert_many(models)
                .on_conflict(OnConflict::columns([publication::Column::EntryId, publication::Column::Locale]).update_columns(updated).to_owned())
                .exec_without_returning(txn)
                .await?;
        }
        let links: Vec<(String, Vec<Link>)> = changes
            .iter()
            .filter(|change| change.locale().is_source())
            .map(|change| {
                let links = match &change.going {
                    Going::Live(approved) => approved.links().to_vec(),
                    Going::Off { .. } => Vec::new(),
                };
                (change.subject.entry_id.clone(), links)
            })
            .collect();
        self.set_links_many(txn, &links).await?;
        let log = changes
            .into_iter()
            .map(|change| {
                let locale = change.locale();
                let (action, number) = match change.going {
                    Going::Live(approved) => ("publish", approved.number()),
                    Going::Off { was, why: Withdrawal::Unpublish, .. } => ("unpublish", was),
                    Going::Off { was, why: Withdrawal::Archive, .. } => ("archive", was),
                };
                change::Model {
                    seq: 0,
                    entry_id: change.subject.entry_id,
                    content_type: change.subject.content_type,
                    slug: change.subject.slug,
                    locale: locale.code().to_owned(),
                    action: action.to_owned(),
                    revision_number: Some(number),
                    created_at: now,
                }
            })
            .collect();
        self.append_changes(txn, log).await
    }
}
