//! Editing an entry, the same through every door into katalog (the
//! management API, the editor UI): what a draft may contain, what
//! publishing needs, the version check, and the audit event of each step.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::publishing::{self, PublishError};
use super::{Action, draft_violations};
use crate::content::{ContentType, Locale, Violation, document, slug};
use crate::store::{AuditEvent, EditError, EntryRecord, NewRevision, RevisionRecord, Step, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum EditingError {
    #[error("the slug `{0}` is not valid: use lower-case letters a–z, digits and single hyphens")]
    InvalidSlug(String),
    #[error("{what}: {} problem(s)", violations.len())]
    Invalid { what: &'static str, violations: Vec<Violation> },
    #[error("say what to change: a comment is required when requesting changes")]
    CommentRequired,
    #[error("publish the German source before its translations")]
    SourceNotPublished,
    #[error("the schedule ends before it starts: unpublish_at must be after publish_at")]
    ScheduleEndsBeforeStart,
    #[error("{slug} has no revision {number} in locale {locale}")]
    NoRevision { slug: String, locale: Locale, number: i32 },
    #[error("{slug} has no revision in locale {locale}")]
    NoLocale { slug: String, locale: Locale },
    #[error(transparent)]
    Edit(#[from] EditError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One locale of one entry: what an editing step acts on.
#[derive(Clone, Copy)]
pub struct Target<'a> {
    pub content_type: &'a ContentType,
    pub entry: &'a EntryRecord,
    pub locale: Locale,
}

/// Who makes a change, and in which request: what the revision and the
/// audit log name.
pub struct Actor {
    pub author: String,
    pub request_id: String,
}

impl Actor {
    fn audit(&self, action: &str, locale: Option<Locale>, detail: Value) -> AuditEvent {
        AuditEvent {
            request_id: self.request_id.clone(),
            actor: self.author.clone(),
            action: action.to_owned(),
            locale: locale.map(|l| l.code().to_owned()),
            detail,
        }
    }
}

/// A new entry: its German source as a draft.
pub async fn create(
    store: &Store,
    content_type: &ContentType,
    slug: &str,
    fields: &Value,
    message: Option<&str>,
    actor: &Actor,
) -> Result<EntryRecord, EditingError> {
    if !slug::is_valid(slug) {
        return Err(EditingError::InvalidSlug(slug.to_owned()));
    }
    reject(draft_violations(content_type, fields))?;
    let message = message.unwrap_or("created");
    let revision = NewRevision { locale: Locale::SOURCE, document: fields, source_number: None, author: &actor.author, message };
    let event = actor.audit("entry.create", Some(Locale::SOURCE), json!({"message": message}));
    Ok(store.create_entry(&content_type.name, slug, content_type.leika(fields), revision, &event).await?)
}

/// A new draft revision of one locale, if the entry is still at
/// `expected_version`. A translation is checked together with the German
/// source it overlays.
pub async fn save(
    store: &Store,
    target: Target<'_>,
    expected_version: i64,
    fields: &Value,
    message: Option<&str>,
    actor: &Actor,
) -> Result<(EntryRecord, i32), EditingError> {
    let Target { content_type, entry, locale } = target;
    let source_number = if locale.is_source() {
        reject(draft_violations(content_type, fields))?;
        None
    } else {
        let source = newest(store, entry, Locale::SOURCE).await?;
        let merged = overlay(content_type, &source.document, fields)?;
        reject(draft_violations(content_type, &merged))?;
        Some(source.number)
    };
    let message = message.unwrap_or("updated");
    let revision = NewRevision { locale, document: fields, source_number, author: &actor.author, message };
    let leika = if locale.is_source() { content_type.leika(fields) } else { None };
    let event = actor.audit("entry.update", Some(locale), json!({"from_version": expected_version, "message": message}));
    Ok(store.save_revision(entry, expected_version, leika, revision, &event).await?)
}

/// A workflow step on one locale. Publishing checks the whole document
/// (with its German source, for a translation) and records its links.
pub async fn transition(
    store: &Store,
    target: Target<'_>,
    action: Action,
    revision: Option<i32>,
    comment: Option<&str>,
    actor: &Actor,
) -> Result<(), EditingError> {
    let Target { content_type, entry, locale } = target;
    let comment = comment.map(str::trim).filter(|c| !c.is_empty());
    if action == Action::RequestChanges && comment.is_none() {
        return Err(EditingError::CommentRequired);
    }
    let approved = if action == Action::Publish {
        // The revision named, else the newest; the store refuses it when it is no longer the newest.
        let approved =
            publishing::check(store, content_type, entry, locale, revision).await.map_err(|e| publish_error(e, "the document is not ready to publish"))?;
        Some(approved)
    } else {
        None
    };
    let checked_revision = approved.as_ref().map(|a| a.number()).or(revision);
    let event = actor.audit(&format!("entry.{action}"), Some(locale), json!({"revision": checked_revision, "comment": comment}));
    let step = Step { action, approved, comment };
    store.transition(entry, locale, step, &event).await?;
    Ok(())
}

/// Publishing and/or withdrawal of one locale at a later time. The
/// revision to publish (the newest when not named) is checked now, and
/// again when due.
pub async fn schedule(
    store: &Store,
    target: Target<'_>,
    publish: Option<(DateTime<Utc>, Option<i32>)>,
    unpublish_at: Option<DateTime<Utc>>,
    actor: &Actor,
) -> Result<(), EditingError> {
    let Target { content_type, entry, locale } = target;
    if entry.trashed_at.is_some() {
        return Err(EditError::InTrash.into());
    }
    if let (Some((publish_at, _)), Some(unpublish_at)) = (publish, unpublish_at)
        && unpublish_at <= publish_at
    {
        return Err(EditingError::ScheduleEndsBeforeStart);
    }
    let publish = match publish {
        None => None,
        Some((at, revision)) => {
            let approved =
                publishing::check(store, content_type, entry, locale, revision).await.map_err(|e| publish_error(e, "the revision could not be published"))?;
            Some((at, approved.number()))
        }
    };
    let detail = json!({"publish_at": publish.map(|p| p.0), "revision": publish.map(|p| p.1), "unpublish_at": unpublish_at});
    store.set_schedule(entry, locale, publish, unpublish_at, &actor.audit("entry.schedule", Some(locale), detail)).await?;
    Ok(())
}

/// An old revision's document as a new draft revision: nothing is overwritten.
pub async fn restore_revision(
    store: &Store,
    target: Target<'_>,
    number: i32,
    expected_version: i64,
    actor: &Actor,
) -> Result<(EntryRecord, i32, Value), EditingError> {
    let Target { content_type, entry, locale } = target;
    let old = revision(store, entry, locale, number).await?;
    let source_number = if locale.is_source() { None } else { entry.locale(Locale::SOURCE).map(|l| l.latest_number) };
    let message = format!("restored revision {}", old.number);
    let new = NewRevision { locale, document: &old.document, source_number, author: &actor.author, message: &message };
    let leika = if locale.is_source() { content_type.leika(&old.document) } else { None };
    let event = actor.audit("revision.restore", Some(locale), json!({"from_version": expected_version, "restored": old.number}));
    let (entry, number) = store.save_revision(entry, expected_version, leika, new, &event).await?;
    Ok((entry, number, old.document))
}

/// Into the trash (every live locale is withdrawn), out of it (locales
/// come back as drafts), or, from the trash, gone for good.
pub async fn trash(store: &Store, entry: &EntryRecord, step: TrashStep, actor: &Actor) -> Result<(), EditingError> {
    let event = |action: &str| actor.audit(action, None, json!({}));
    match step {
        TrashStep::Trash => store.trash(entry, &event("entry.trash")).await?,
        TrashStep::Restore => store.restore_from_trash(entry, &event("entry.untrash")).await?,
        TrashStep::DeleteForever => store.delete_forever(entry, &event("entry.delete")).await?,
    }
    Ok(())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrashStep {
    Trash,
    Restore,
    DeleteForever,
}

/// A failed publishing check in the words of editing.
fn publish_error(error: PublishError, what: &'static str) -> EditingError {
    match error {
        PublishError::SourceNotPublished => EditingError::SourceNotPublished,
        PublishError::NoRevision { slug, locale, number } => EditingError::NoRevision { slug, locale, number },
        PublishError::NoLocale { slug, locale } => EditingError::NoLocale { slug, locale },
        PublishError::Invalid(violations) => EditingError::Invalid { what, violations },
        PublishError::Store(error) => EditingError::Store(error),
    }
}

/// The newest revision of one locale.
pub async fn newest(store: &Store, entry: &EntryRecord, locale: Locale) -> Result<RevisionRecord, EditingError> {
    let number = entry.locale(locale).map(|l| l.latest_number).ok_or_else(|| EditingError::NoLocale { slug: entry.slug.clone(), locale })?;
    revision(store, entry, locale, number).await
}

pub async fn revision(store: &Store, entry: &EntryRecord, locale: Locale, number: i32) -> Result<RevisionRecord, EditingError> {
    store.revision(&entry.id, locale, number).await?.ok_or_else(|| EditingError::NoRevision { slug: entry.slug.clone(), locale, number })
}

fn overlay(content_type: &ContentType, source: &Value, translation: &Value) -> Result<Value, EditingError> {
    document::overlay_translation(content_type, source, translation).map_err(|violations| EditingError::Invalid { what: "the translation", violations })
}

fn reject(violations: Vec<Violation>) -> Result<(), EditingError> {
    if violations.is_empty() { Ok(()) } else { Err(EditingError::Invalid { what: "the document does not match its schema", violations }) }
}
