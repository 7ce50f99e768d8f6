//! The sync feed: every change to published content since a cursor, so
//! that an app or a partner keeps an exact copy of the published state.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::{Header, Query};
use poem_openapi::types::ToJSON;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};

use super::ApiTags;
use super::caching::{self, SerializedJson};
use super::delivery::{EntryBody, entry_body};
use super::response_cache::{CachedResponse, Dependency, Rendered};
use crate::content::{ContentType, Locale, Registry};
use crate::http::AppState;
use crate::http::params::{self, Limit};
use crate::http::problem::{ApiError, ReadError};
use crate::store::{ChangeRow, PublishedEntry};

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
    Ok(SerializedJson<SyncPage>, #[oai(header = "Cache-Control")] String, #[oai(header = "Vary")] String),
}

/// At most 200 changes a page: building a page costs time in proportion
/// to its size (each entry is rendered), and clients page anyway.
pub const PAGE_SIZE: Limit = Limit { default: 100, max: 200 };

pub struct SyncApi;

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Delivery")]
impl SyncApi {
    /// Changes of published content since `cursor` (from the start without
    /// one), in the order they were committed. Each item carries the
    /// entry's current published state in the feed's locale, or a
    /// tombstone. Applying every page in order gives exactly the server's
    /// published state; the same entry may appear again later.
    ///
    /// A page holds at most 200 changes, whatever `limit` asks for: follow
    /// `has_more`.
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
        /// Changes per page, at least 1 (default 100); more than 200 are served as 200.
        limit: Query<Option<u64>>,
        /// `gzip` gets bodies of a kilobyte or more gzipped.
        #[oai(name = "Accept-Encoding")]
        accept_encoding: Header<Option<String>>,
    ) -> Result<SyncResponse, ReadError> {
        let locale = params::locale(locale.0.as_deref())?;
        let content_type = match content_type.0.as_deref() {
            None => None,
            Some(name) => Some(state.content_type(name)?),
        };
        let limit = PAGE_SIZE.of(limit.0)?;
        let after = cursor.0.as_deref().map(crate::feed::sync_position).transpose()?.unwrap_or(0);
        let key = format!("sync\n{after}\n{}\n{}\n{limit}", content_type.as_ref().map_or("", |t| t.name.as_str()), locale.code());
        let response = state.responses.get_or_build(key, |key| render_page(&state, after, content_type.as_deref(), locale, limit, key)).await?;
        let representation = response.representation(caching::accepts_gzip(accept_encoding.0.as_deref()));
        Ok(SyncResponse::Ok(SerializedJson::new(representation.body, representation.content_encoding), "no-store".into(), "Accept-Encoding".into()))
    }
}

/// Builds a page from the database and caches it. A full page shows
/// changes that are written once and for all, in the current state of
/// their entries: it lasts until one of them changes. The last page also
/// grows with every new change.
async fn render_page(
    state: &AppState,
    after: i64,
    content_type: Option<&ContentType>,
    locale: Locale,
    limit: u64,
    key: String,
) -> Result<Arc<CachedResponse>, ReadError> {
    let ticket = state.responses.ticket();
    // A change of the German source changes every locale's document.
    let locales: Vec<Locale> = if locale.is_source() { vec![Locale::SOURCE] } else { vec![Locale::SOURCE, locale] };
    let mut changes = state.store.changes_after(after, content_type.map(|t| t.name.as_str()), &locales, limit + 1).await?;
    let has_more = changes.len() as u64 > limit;
    changes.truncate(limit as usize);
    let next = changes.last().map_or(after, |c| c.seq);

    // One item per entry, at its last change in this page.
    let mut latest: Vec<ChangeRow> = Vec::new();
    for change in changes.into_iter().rev() {
        if !latest.iter().any(|c| c.entry_id == change.entry_id) {
            latest.push(change);
        }
    }
    latest.reverse();
    let ids: Vec<String> = latest.iter().map(|c| c.entry_id.clone()).collect();
    let published = state.store.published_entries(&ids, locale).await?;
    // Rendering and serialising a page of entries is CPU work of tens of milliseconds.
    let registry = state.registry.clone();
    let rendered = state
        .responses
        .build(move || {
            let page = SyncPage { items: items(&registry, latest, published, locale), next_cursor: crate::feed::sync_cursor(next), has_more };
            Rendered::json(page.to_json_string(), None, None)
        })
        .await
        .map_err(ApiError::internal)?;
    let mut dependencies: Vec<Dependency<'_>> = ids.iter().map(|id| Dependency::Entry(id)).collect();
    if !has_more {
        dependencies.push(Dependency::ChangeLog);
    }
    Ok(state.responses.insert(key, ticket, rendered, &dependencies))
}

/// The page's items: each change with its entry's published state, or a tombstone.
fn items(registry: &Registry, changes: Vec<ChangeRow>, mut published: Vec<PublishedEntry>, locale: Locale) -> Vec<SyncItem> {
    changes
        .into_iter()
        .map(|change| {
            let current = published.iter().position(|e| e.id == change.entry_id).map(|i| published.swap_remove(i));
            let entry = match (current, registry.get(&change.content_type)) {
                (Some(entry), Some(content_type)) => Some(entry_body(content_type, entry, locale)),
                _ => None,
            };
            SyncItem {
                seq: change.seq,
                op: if entry.is_some() { SyncOp::Upsert } else { SyncOp::Delete },
                id: change.entry_id,
                content_type: change.content_type,
                slug: change.slug,
                entry,
            }
        })
        .collect()
}
