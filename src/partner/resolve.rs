//! Deciding a conflict: take upstream's value of the module (a new draft
//! revision with it) or keep the partner's own (the override stays, and
//! the next upstream change to the module raises a new conflict).

use serde_json::Value;

use super::SyncError;
use crate::content::Locale;
use crate::store::{AuditEvent, NewRevision, Store, StoreError};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolution {
    TakeUpstream,
    KeepMine,
}

/// Which module of which entry.
#[derive(Clone, Copy, Debug)]
pub struct ConflictKey<'a> {
    pub content_type: &'a str,
    pub slug: &'a str,
    pub module: &'a str,
    pub locale: Locale,
}

/// Who decides, for the revision and the audit log.
pub struct Decider {
    pub actor: String,
    pub request_id: String,
}

/// Resolves the open conflict of `module` in an entry from `partner`;
/// returns the revision taking upstream's value made, if any.
pub async fn resolve(store: &Store, partner: &str, key: &ConflictKey<'_>, resolution: Resolution, decider: &Decider) -> Result<Option<i32>, SyncError> {
    let ConflictKey { content_type, slug, module, locale } = *key;
    let no_conflict = || SyncError::NoConflict { entry: format!("{content_type}/{slug}"), module: module.to_owned(), locale: locale.code().to_owned() };
    let conflict = store
        .conflicts(Some(partner))
        .await?
        .into_iter()
        .find(|c| c.content_type == content_type && c.slug == slug && c.row.module == module && c.row.locale == locale)
        .ok_or_else(no_conflict)?;
    let event = |action: &str| AuditEvent {
        request_id: decider.request_id.clone(),
        actor: decider.actor.clone(),
        action: action.to_owned(),
        locale: Some(locale.code().to_owned()),
        detail: serde_json::json!({"partner": partner, "module": module, "upstream_revision": conflict.row.upstream_revision}),
    };
    let made = match resolution {
        Resolution::KeepMine => {
            store.record_audit_event(&event("partner.keep_mine")).await?;
            None
        }
        Resolution::TakeUpstream => {
            let record = store.entry_record(content_type, slug).await?.ok_or_else(no_conflict)?;
            let latest = record.locale(locale).ok_or_else(no_conflict)?.latest_number;
            let current = store.revision(&record.id, locale, latest).await?.ok_or_else(no_conflict)?;
            let mut document = current.document;
            let fields = document.as_object_mut().ok_or_else(no_conflict)?;
            match conflict.row.upstream_value.as_deref().map(serde_json::from_str::<Value>).transpose() {
                Ok(Some(value)) => fields.insert(module.to_owned(), value),
                Ok(None) => fields.remove(module),
                Err(source) => return Err(StoreError::CorruptDocument { entry: record.id.clone(), locale: locale.code().to_owned(), source }.into()),
            };
            let message = format!("took {module} from upstream revision {}", conflict.row.upstream_revision);
            let revision = NewRevision { locale, document: &document, source_number: current.source_number, author: &decider.actor, message: &message };
            let (_, number) = store.save_revision(&record, record.version, None, revision, &event("partner.take_upstream")).await?;
            Some(number)
        }
    };
    store.remove_conflict(&conflict.row.entry_id, locale, module).await?;
    Ok(made)
}
