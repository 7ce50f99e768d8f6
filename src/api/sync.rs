//! The sync feed: every change to published content since a cursor, so
//! that an app or a partner keeps an exact copy of the published state.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use poem::web::Data;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};

use super::delivery::{EntryBody, entry_body};
use super::problem::{ApiError, ReadError};
use super::{ApiTags, AppState};
use crate::content::Locale;

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum SyncOp {
    /// Store `entry` (it replaces what you had for this id).
    Upsert,
    /// Forget this id: unpublished, archived, trashed or deleted.
    Delete,
}

#[derive(Object, Debug)]
pub struct SyncItem {
    /// Position in the change log.
    pub seq: i64,
    pub op: SyncOp,
    pub id: String,
    #[oai(rename = "type")]
    pub content_type: String,
    pub slug: String,
    /// The published entry in the feed's locale (with fallback), for upserts.
    #[oai(skip_serializing_if_is_none)]
    pub entry: Option<EntryBody>,
}

#[derive(Object, Debug)]
pub struct SyncPage {
    pub items: Vec<SyncItem>,
    /// Pass as `cursor` next time; store it only after applying the items.
    pub next_cursor: String,
    /// More changes are waiting: ask again at once.
    pub has_more: bool,
}

#[derive(ApiResponse)]
pub enum SyncResponse {
    #[oai(status = 200)]
    Ok(Json<SyncPage>, #[oai(header = "Cache-Control")] String),
}

pub const DEFAULT_PAGE: u64 = 100;
pub const MAX_PAGE: u64 = 1000;

pub struct SyncApi;

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Delivery")]
impl SyncApi {
    /// Changes of published content since `cursor` (from the start without
    /// one), in the order they were committed. Each item carries the
    /// entry's current published state in the feed's locale, or a
    /// tombstone. Applying every page in order gives exactly the server's
    /// published state; the same entry may appear again later.
    #[oai(path = "/sync", method = "get", operation_id = "sync")]
    async fn sync(
        &self,
        state: Data<&AppState>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
        /// Only entries of this type.
        #[oai(name = "type")]
        content_type: Query<Option<String>>,
        /// The locale of the documents (default `de`); translations fall back to German.
        locale: Query<Option<String>>,
        /// Changes per page, 1 to 1000 (default 100).
        limit: Query<Option<u64>>,
    ) -> Result<SyncResponse, ReadError> {
        let locale = match locale.0.as_deref() {
            None => Locale::SOURCE,
            Some(code) => Locale::parse(code).ok_or_else(|| ApiError::bad_request("unknown-locale", format!("unknown locale `{code}`")))?,
        };
        let content_type = match content_type.0.as_deref() {
            None => None,
            Some(name) => Some(state.content_type(name)?),
        };
        let limit = limit.0.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(ApiError::bad_request("invalid-limit", format!("limit must be between 1 and {MAX_PAGE}, not {limit}")).into());
        }
        let after = cursor.0.as_deref().map(decode).transpose()?.unwrap_or(0);
        // A change of the German source changes every locale's document.
        let locales: Vec<Locale> = if locale.is_source() { vec![Locale::SOURCE] } else { vec![Locale::SOURCE, locale] };
        let mut changes = state.store.changes_after(after, content_type.as_ref().map(|t| t.name.as_str()), &locales, limit + 1).await?;
        let has_more = changes.len() as u64 > limit;
        changes.truncate(limit as usize);
        let next = changes.last().map_or(after, |c| c.seq);

        // One item per entry, at its last change in this page.
        let mut latest: Vec<&crate::store::ChangeRow> = Vec::new();
        for change in changes.iter().rev() {
            if !latest.iter().any(|c| c.entry_id == change.entry_id) {
                latest.push(change);
            }
        }
        latest.reverse();
        let ids: Vec<String> = latest.iter().map(|c| c.entry_id.clone()).collect();
        let mut published = state.store.published_entries(&ids, locale).await?;
        let mut items = Vec::with_capacity(latest.len());
        for change in latest {
            let current = published.iter().position(|e| e.id == change.entry_id).map(|i| published.swap_remove(i));
            let entry = match (current, state.registry.get(&change.content_type)) {
                (Some(entry), Some(content_type)) => Some(entry_body(content_type, entry, locale)),
                _ => None,
            };
            items.push(SyncItem {
                seq: change.seq,
                op: if entry.is_some() { SyncOp::Upsert } else { SyncOp::Delete },
                id: change.entry_id.clone(),
                content_type: change.content_type.clone(),
                slug: change.slug.clone(),
                entry,
            });
        }
        Ok(SyncResponse::Ok(Json(SyncPage { items, next_cursor: encode(next), has_more }), "no-store".into()))
    }
}

fn encode(seq: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("seq:{seq}"))
}

fn decode(cursor: &str) -> Result<i64, ApiError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.strip_prefix("seq:")?.parse().ok())
        .ok_or_else(|| ApiError::bad_request("invalid-cursor", "the cursor is not one this feed handed out; start again without it"))
}
