//! Editorial reads and writes: the newest revisions, saving with a version
//! precondition, and workflow transitions with the change log.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder};
use serde_json::Value;

use super::audit::{AuditEvent, EntryRef};
use super::entity::{entry, publication, revision};
use super::publishing::{Going, LiveChange, Subject, Withdrawal};
use super::{Store, StoreError};
use crate::content::Locale;
use crate::digest::sha256_hex;
use crate::workflow::{Action, Approved, Effect, State};

/// An entry with the workflow state of each of its locales.
#[derive(Clone, Debug)]
pub struct EntryRecord {
    pub id: String,
    pub content_type: String,
    pub slug: String,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub trashed_at: Option<DateTime<Utc>>,
    pub locales: Vec<LocaleRecord>,
}

#[derive(Clone, Debug)]
pub struct LocaleRecord {
    pub locale: Locale,
    pub state: State,
    pub latest_number: i32,
    pub published_number: Option<i32>,
    pub published_at: Option<DateTime<Utc>>,
    /// For a translation: the German revision it was made from.
    pub source_number: Option<i32>,
    pub review_comment: Option<String>,
    pub publish_at: Option<DateTime<Utc>>,
    pub scheduled_number: Option<i32>,
    pub unpublish_at: Option<DateTime<Utc>>,
}

impl EntryRecord {
    pub fn locale(&self, locale: Locale) -> Option<&LocaleRecord> {
        self.locales.iter().find(|l| l.locale == locale)
    }
}

#[derive(Clone, Debug)]
pub struct RevisionRecord {
    pub locale: Locale,
    pub number: i32,
    pub document: Value,
    pub source_number: Option<i32>,
    pub author: String,
    pub message: String,
    pub created_at: DateTime<Utc>,
}

/// A workflow step to take on one locale.
pub struct Step<'a> {
    pub action: Action,
    /// For `publish`: the revision that passed the check; when it is no
    /// longer the newest, the step is refused.
    pub approved: Option<Approved>,
    pub comment: Option<&'a str>,
}

/// A revision to append.
pub struct NewRevision<'a> {
    pub locale: Locale,
    pub document: &'a Value,
    pub source_number: Option<i32>,
    pub author: &'a str,
    pub message: &'a str,
}

#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("the entry is at version {current}, not {expected}")]
    VersionConflict { expected: i64, current: i64 },
    #[error("the slug `{0}` is taken")]
    SlugTaken(String),
    #[error("no such entry")]
    NotFound,
    #[error("`{action}` is not allowed from `{state}`")]
    NotAllowed { action: Action, state: State, allowed: Vec<Action> },
    #[error("revision {requested} is not the newest ({newest}); look at the newest before publishing it")]
    StaleRevision { requested: i32, newest: i32 },
    #[error("the entry is in the trash; restore it first")]
    InTrash,
    #[error("only entries in the trash can be deleted; move it to the trash first")]
    NotInTrash,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sea_orm::DbErr> for EditError {
    fn from(error: sea_orm::DbErr) -> Self {
        EditError::Store(StoreError::Database(error))
    }
}

impl Store {
    /// An entry by type and id or slug, with every locale's state.
    pub async fn entry_record(&self, content_type: &str, id_or_slug: &str) -> Result<Option<EntryRecord>, StoreError> {
        entry_record_in(self, &self.db, content_type, id_or_slug).await
    }

    pub async fn revision(&self, entry_id: &str, locale: Locale, number: i32) -> Result<Option<RevisionRecord>, StoreError> {
        let row = revision::Entity::find_by_id((entry_id.to_owned(), locale.code().to_owned(), number)).one(&self.db).await?;
        row.map(revision_of).transpose()
    }

    /// Revisions of one locale, newest first.
    pub async fn revisions(&self, entry_id: &str, locale: Locale) -> Result<Vec<RevisionRecord>, StoreError> {
        let rows = revision::Entity::find()
            .filter(revision::Column::EntryId.eq(entry_id))
            .filter(revision::Column::Locale.eq(locale.code()))
            .order_by_desc(revision::Column::Number)
            .all(&self.db)
            .await?;
        rows.into_iter().map(revision_of).collect()
    }

    /// Every revision of the given entries with its document, oldest first
    /// within each entry and locale: the history provenance is read from.
    pub async fn revisions_of_entries(&self, ids: &[String]) -> Result<Vec<(String, RevisionRecord)>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = revision::Entity::find()
            .filter(revision::Column::EntryId.is_in(ids.iter().cloned()))
            .order_by_asc(revision::Column::EntryId)
            .order_by_asc(revision::Column::Locale)
            .order_by_asc(revision::Column::Number)
            .all(&self.db)
            .await?;
        rows.into_iter().map(|row| Ok((row.entry_id.clone(), revision_of(row)?))).collect()
    }

    /// Creates an entry with its first (draft) revision.
    pub async fn create_entry(
        &self,
        content_type: &str,
        slug: &str,
        leika: Option<&str>,
        revision: NewRevision<'_>,
        audit: &AuditEvent,
    ) -> Result<EntryRecord, EditError> {
        let txn = self.begin_write().await?;
        let id = crate::content::slug::entry_id(content_type, slug).to_string();
        let exists = txn
            .query_one_raw(
                self.statement("SELECT id FROM entries WHERE (content_type = ? AND slug = ?) OR id = ?", [content_type.into(), slug.into(), id.clone().into()]),
            )
            .await?;
        if exists.is_some() {
            return Err(EditError::SlugTaken(slug.to_owned()));
        }
        let now = Utc::now();
        let row = entry::Model {
            id: id.clone(),
            content_type: content_type.to_owned(),
            slug: slug.to_owned(),
            leika: leika.map(str::to_owned),
            version: 1,
            created_at: now,
            updated_at: now,
            trashed_at: None,
        };
        let inserted = entry::Entity::insert(row.into_active_model()).exec_without_returning(&*txn).await;
        if let Err(error) = inserted {
            // A concurrent create of the same slug won the unique index.
            return Err(if is_unique_violation(&error) { EditError::SlugTaken(slug.to_owned()) } else { error.into() });
        }
        self.append_revision(&txn, &id, &revision, Some(0), now).await?;
        self.mark_draft(&txn, &id, revision.locale, now).await?;
        self.record_audit(&*txn, audit, Some(EntryRef { content_type, entry_id: &id, slug })).await?;
        txn.commit().await?;
        self.entry_record(content_type, &id).await?.ok_or(EditError::NotFound)
    }

    /// Appends a revision if the entry is still at `expected_version`.
    /// Of two writers with the same expectation exactly one succeeds; the
    /// other gets `VersionConflict` and its document stays with it.
    /// Returns the entry as it is after the save (without another query)
    /// and the new revision's number.
    pub async fn save_revision(
        &self,
        entry: &EntryRecord,
        expected_version: i64,
        leika: Option<&str>,
        revision: NewRevision<'_>,
        audit: &AuditEvent,
    ) -> Result<(EntryRecord, i32), EditError> {
        let entry_id = entry.id.as_str();
        let txn = self.begin_write().await?;
        let now = Utc::now();
        // The conditional increment is the lock: the loser matches no row.
        let bumped = txn
            .execute_raw(self.statement(
                "UPDATE entries SET version = version + 1, updated_at = ?, leika = COALESCE(?, leika) \
                 WHERE id = ? AND version = ? AND trashed_at IS NULL",
                [now.into(), leika.map(str::to_owned).into(), entry_id.into(), expected_version.into()],
            ))
            .await?;
        if bumped.rows_affected() != 1 {
            let row = txn
                .query_one_raw(self.statement("SELECT version, trashed_at FROM entries WHERE id = ?", [entry_id.into()]))
                .await?
                .ok_or(EditError::NotFound)?;
            if row.try_get::<Option<DateTime<Utc>>>("", "trashed_at")?.is_some() {
                return Err(EditError::InTrash);
            }
            let current = row.try_get::<i64>("", "version")?;
            return Err(EditError::VersionConflict { expected: expected_version, current });
        }
        // The record's revision numbers are current exactly when it was
        // read at the version the increment just matched.
        let known_newest = (entry.version == expected_version).then(|| entry.locale(revision.locale).map_or(0, |l| l.latest_number));
        let number = self.append_revision(&txn, entry_id, &revision, known_newest, now).await?;
        let already_draft = known_newest.is_some() && entry.locale(revision.locale).is_some_and(|l| l.state == State::Draft);
        if !already_draft {
            self.mark_draft(&txn, entry_id, revision.locale, now).await?;
        }
        self.record_audit(&*txn, audit, Some(subject(entry))).await?;
        txn.commit().await?;

        let mut saved = entry.clone();
        saved.version = expected_version + 1;
        saved.updated_at = now;
        match saved.locales.iter_mut().find(|l| l.locale == revision.locale) {
            Some(record) => {
                record.latest_number = number;
                record.state = State::Draft;
                record.source_number = revision.source_number;
            }
            None => {
                saved.locales.push(LocaleRecord {
                    locale: revision.locale,
                    state: State::Draft,
                    latest_number: number,
                    published_number: None,
                    published_at: None,
                    source_number: revision.source_number,
                    review_comment: None,
                    publish_at: None,
                    scheduled_number: None,
                    unpublish_at: None,
                });
                saved.locales.sort_by_key(|l| l.locale);
            }
        }
        Ok((saved, number))
    }

    async fn append_revision(
        &self,
        txn: &DatabaseTransaction,
        entry_id: &str,
        revision: &NewRevision<'_>,
        known_newest: Option<i32>,
        now: DateTime<Utc>,
    ) -> Result<i32, EditError> {
        let locale = revision.locale.code();
        let newest = match known_newest {
            Some(newest) => newest,
            None => txn
                .query_one_raw(
                    self.statement("SELECT COALESCE(MAX(number), 0) AS n FROM revisions WHERE entry_id = ? AND locale = ?", [entry_id.into(), locale.into()]),
                )
                .await?
                .map(|r| r.try_get::<i32>("", "n"))
                .transpose()?
                .unwrap_or(0),
        };
        let number = newest + 1;
        let document = serde_json::to_string(revision.document).map_err(|e| StoreError::Database(sea_orm::DbErr::Custom(e.to_string())))?;
        let row = revision::Model {
            entry_id: entry_id.to_owned(),
            locale: locale.to_owned(),
            number,
            content_hash: sha256_hex(&document),
            document,
            source_number: revision.source_number,
            author: revision.author.to_owned(),
            message: revision.message.to_owned(),
            created_at: now,
        };
        revision::Entity::insert(row.into_active_model()).exec_without_returning(txn).await?;
        Ok(number)
    }

    /// A new revision is a draft; what is published keeps being served.
    async fn mark_draft(&self, txn: &DatabaseTransaction, entry_id: &str, locale: Locale, now: DateTime<Utc>) -> Result<(), StoreError> {
        let draft = publication::ActiveModel {
            entry_id: Set(entry_id.to_owned()),
            locale: Set(locale.code().to_owned()),
            state: Set(State::Draft.code().to_owned()),
            updated_at: Set(now),
            ..Default::default()
        };
        publication::Entity::insert(draft)
            .on_conflict(
                OnConflict::columns([publication::Column::EntryId, publication::Column::Locale])
                    .update_columns([publication::Column::State, publication::Column::UpdatedAt])
                    .to_owned(),
            )
            .exec_without_returning(txn)
            .await?;
        Ok(())
    }

    /// Applies a workflow action to one locale. `revision` names the
    /// revision the caller checked, for `publish`; a newer one refuses.
    pub async fn transition(&self, entry: &EntryRecord, locale: Locale, step: Step<'_>, audit: &AuditEvent) -> Result<(State, Effect), EditError> {
        let Step { action, approved, comment } = step;
        let txn = self.begin_write().await?;
        if self.backend() == DbBackend::Postgres {
            // Transitions of one locale are serialised by its publication row.
            txn.execute_raw(
                self.statement("SELECT 1 FROM publications WHERE entry_id = ? AND locale = ? FOR UPDATE", [entry.id.clone().into(), locale.code().into()]),
            )
            .await?;
        }
        let current = entry_record_in(self, &*txn, &entry.content_type, &entry.id).await?.ok_or(EditError::NotFound)?;
        if current.trashed_at.is_some() {
            return Err(EditError::InTrash);
        }
        let record = current.locale(locale).ok_or(EditError::NotFound)?;
        let live = record.published_number.is_some();
        let (state, effect) = record.state.apply(action, live).map_err(|allowed| EditError::NotAllowed { action, state: record.state, allowed })?;
        let now = Utc::now();
        let going = match effect {
            Effect::None => None,
            Effect::PublishNewest => {
                let approved = approved.filter(|a| a.entry_id() == entry.id && a.locale() == locale).ok_or(EditError::Store(StoreError::Unchecked))?;
                if approved.number() != record.latest_number {
                    return Err(EditError::StaleRevision { requested: approved.number(), newest: record.latest_number });
                }
                Some(Going::Live(approved))
            }
            Effect::Withdraw => {
                let why = if action == Action::Archive { Withdrawal::Archive } else { Withdrawal::Unpublish };
                record.published_number.map(|was| Going::Off { locale, was, why })
            }
        };
        txn.execute_raw(self.statement(
            "UPDATE publications SET state = ?, updated_at = ?, review_comment = ? WHERE entry_id = ? AND locale = ?",
            [state.code().into(), now.into(), comment.map(str::to_owned).into(), entry.id.clone().into(), locale.code().into()],
        ))
        .await?;
        if let Some(going) = going {
            self.apply_live_changes(&txn, vec![LiveChange { subject: Subject::of(&current), state, going }]).await?;
        }
        self.record_audit(&*txn, audit, Some(subject(entry))).await?;
        txn.commit().await?;
        Ok((state, effect))
    }

    /// Appends one change to the change log inside `txn`.
    async fn append_change(
        &self,
        txn: &DatabaseTransaction,
        entry: EntryRef<'_>,
        locale: Locale,
        action: &str,
        number: Option<i32>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.append_changes(
            txn,
            vec![super::entity::change::Model {
                seq: 0,
                entry_id: entry.entry_id.to_owned(),
                content_type: entry.content_type.to_owned(),
                slug: entry.slug.to_owned(),
                locale: locale.code().to_owned(),
                action: action.to_owned(),
                revision_number: number,
                created_at: now,
            }],
        )
        .await
    }

    /// Moves an entry to the trash: every live locale is withdrawn (and the
    /// change log says so); revisions stay, so it can be restored.
    pub async fn trash(&self, entry: &EntryRecord, audit: &AuditEvent) -> Result<(), EditError> {
        let txn = self.begin_write().await?;
        let now = Utc::now();
        let moved = txn
            .execute_raw(self.statement(
                "UPDATE entries SET trashed_at = ?, version = version + 1, updated_at = ? WHERE id = ? AND trashed_at IS NULL",
                [now.into(), now.into(), entry.id.clone().into()],
            ))
            .await?;
        if moved.rows_affected() != 1 {
            return Err(EditError::InTrash);
        }
        self.unpublish_in(&txn, subject(entry)).await?;
        self.record_audit(&*txn, audit, Some(subject(entry))).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Takes an entry out of the trash, as drafts.
    pub async fn restore_from_trash(&self, entry: &EntryRecord, audit: &AuditEvent) -> Result<(), EditError> {
        let txn = self.begin_write().await?;
        let restored = txn
            .execute_raw(self.statement(
                "UPDATE entries SET trashed_at = NULL, version = version + 1, updated_at = ? WHERE id = ? AND trashed_at IS NOT NULL",
                [Utc::now().into(), entry.id.clone().into()],
            ))
            .await?;
        if restored.rows_affected() != 1 {
            return Err(EditError::NotInTrash);
        }
        self.record_audit(&*txn, audit, Some(subject(entry))).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Deletes a trashed entry and all its revisions for good; consumers
    /// get a `delete` tombstone per locale.
    pub async fn delete_forever(&self, entry: &EntryRecord, audit: &AuditEvent) -> Result<(), EditError> {
        let txn = self.begin_write().await?;
        let trashed =
            txn.query_one_raw(self.statement("SELECT 1 AS t FROM entries WHERE id = ? AND trashed_at IS NOT NULL", [entry.id.clone().into()])).await?;
        if trashed.is_none() {
            return Err(EditError::NotInTrash);
        }
        let now = Utc::now();
        for locale in &entry.locales {
            self.append_change(&txn, subject(entry), locale.locale, "delete", None, now).await?;
        }
        for table in ["entry_links", "partner_conflicts", "upstream_revisions", "upstream_entries", "publications", "revisions"] {
            let column = if table == "entry_links" { "from_entry_id" } else { "entry_id" };
            txn.execute_raw(self.statement(&format!("DELETE FROM {table} WHERE {column} = ?"), [entry.id.clone().into()])).await?;
        }
        txn.execute_raw(self.statement("DELETE FROM entries WHERE id = ?", [entry.id.clone().into()])).await?;
        self.record_audit(&*txn, audit, Some(subject(entry))).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Of the given (type, slug) references, those with no published German revision.
    pub async fn unpublished_references(&self, references: &[(String, String)]) -> Result<Vec<(String, String)>, StoreError> {
        let mut missing = Vec::new();
        for (content_type, slug) in references {
            let live = self
                .db
                .query_one_raw(self.statement(
                    "SELECT 1 AS live FROM entries e JOIN publications p ON p.entry_id = e.id \
                     WHERE e.content_type = ? AND e.slug = ? AND p.locale = 'de' AND p.published_number IS NOT NULL",
                    [content_type.clone().into(), slug.clone().into()],
                ))
                .await?;
            if live.is_none() {
                missing.push((content_type.clone(), slug.clone()));
            }
        }
        Ok(missing)
    }
}

pub(super) fn subject(entry: &EntryRecord) -> EntryRef<'_> {
    EntryRef { content_type: &entry.content_type, entry_id: &entry.id, slug: &entry.slug }
}

fn revision_of(row: revision::Model) -> Result<RevisionRecord, StoreError> {
    let document = serde_json::from_str(&row.document).map_err(|source| StoreError::CorruptDocument {
        entry: row.entry_id.clone(),
        locale: row.locale.clone(),
        source,
    })?;
    Ok(RevisionRecord {
        locale: Locale::parse(&row.locale).unwrap_or(Locale::SOURCE),
        number: row.number,
        document,
        source_number: row.source_number,
        author: row.author,
        message: row.message,
        created_at: row.created_at,
    })
}

async fn entry_record_in(store: &Store, db: &impl ConnectionTrait, content_type: &str, id_or_slug: &str) -> Result<Option<EntryRecord>, StoreError> {
    // One round trip: the entry with one row per locale (or one row without a locale).
    let (key, value) = Store::entry_key(id_or_slug);
    let rows = db
        .query_all_raw(store.statement(
            &format!(
                "SELECT e.id, e.content_type, e.slug, e.version, e.created_at, e.updated_at, e.trashed_at, \
             p.locale, p.state, p.published_number, p.published_at, p.review_comment, p.publish_at, p.scheduled_number, p.unpublish_at, \
             (SELECT MAX(number) FROM revisions r WHERE r.entry_id = p.entry_id AND r.locale = p.locale) AS latest, \
             (SELECT source_number FROM revisions r WHERE r.entry_id = p.entry_id AND r.locale = p.locale ORDER BY number DESC LIMIT 1) AS source_number \
             FROM entries e LEFT JOIN publications p ON p.entry_id = e.id \
             WHERE e.content_type = ? AND {key}"
            ),
            [content_type.into(), value],
        ))
        .await?;
    let Some(first) = rows.first() else { return Ok(None) };
    let id: String = first.try_get("", "id")?;
    let mut locales = Vec::new();
    for row in &rows {
        if row.try_get::<String>("", "id")? != id {
            continue;
        }
        let code: Option<String> = row.try_get("", "locale")?;
        let state: Option<String> = row.try_get("", "state")?;
        let (Some(locale), Some(Ok(state))) = (code.as_deref().and_then(Locale::parse), state.map(|s| s.parse::<State>())) else {
            continue;
        };
        locales.push(LocaleRecord {
            locale,
            state,
            latest_number: row.try_get::<Option<i32>>("", "latest")?.unwrap_or(0),
            published_number: row.try_get("", "published_number")?,
            published_at: row.try_get("", "published_at")?,
            source_number: row.try_get("", "source_number")?,
            review_comment: row.try_get("", "review_comment")?,
            publish_at: row.try_get("", "publish_at")?,
            scheduled_number: row.try_get("", "scheduled_number")?,
            unpublish_at: row.try_get("", "unpublish_at")?,
        });
    }
    locales.sort_by_key(|l| l.locale);
    Ok(Some(EntryRecord {
        content_type: first.try_get("", "content_type")?,
        slug: first.try_get("", "slug")?,
        version: first.try_get("", "version")?,
        created_at: first.try_get("", "created_at")?,
        updated_at: first.try_get("", "updated_at")?,
        trashed_at: first.try_get("", "trashed_at")?,
        locales,
        id,
    }))
}

fn is_unique_violation(error: &sea_orm::DbErr) -> bool {
    let text = error.to_string().to_lowercase();
    text.contains("unique") || text.contains("duplicate key")
}
