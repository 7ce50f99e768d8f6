//! Search and autocomplete over published content.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use poem::web::Data;
use poem_openapi::param::{Header, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::problem::{ApiError, ReadError};
use super::delivery::requested_locale;
use super::{ApiTags, AppState};
use crate::search::{FACETS, Hit, SearchRequest};

#[derive(Object, Debug)]
#[oai(rename = "SearchHit")]
pub struct HitBody {
    pub id: String,
    #[oai(rename = "type")]
    pub content_type: String,
    pub slug: String,
    /// The locale of the matched text: the requested one, or German for
    /// entries without a translation into it.
    pub locale: String,
    pub title: String,
    /// An excerpt as HTML: matched words in `<mark>`, all else escaped.
    pub snippet: String,
    pub score: f32,
}

#[derive(Object, Debug)]
pub struct FacetCount {
    pub value: String,
    pub count: u64,
}

#[derive(Object, Debug)]
pub struct SearchResponseBody {
    pub items: Vec<HitBody>,
    /// How many entries match in all.
    pub total: u64,
    /// Counts of the matching entries by `type`, `topic` and `office`: the
    /// 100 most frequent values of each, most frequent first.
    pub facets: std::collections::BTreeMap<String, Vec<FacetCount>>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[oai(skip_serializing_if_is_none)]
    pub next_cursor: Option<String>,
}

#[derive(Object, Debug)]
pub struct Suggestion {
    pub title: String,
    #[oai(rename = "type")]
    pub content_type: String,
    pub slug: String,
    pub locale: String,
}

#[derive(Object, Debug)]
pub struct SuggestResponseBody {
    pub items: Vec<Suggestion>,
}

#[derive(ApiResponse)]
pub enum SearchResponse {
    #[oai(status = 200)]
    Ok(Json<SearchResponseBody>),
}

#[derive(ApiResponse)]
pub enum SuggestResponse {
    #[oai(status = 200)]
    Ok(Json<SuggestResponseBody>),
}

const DEFAULT_LIMIT: u64 = 10;
const MAX_LIMIT: u64 = 50;
/// Paging stops here: nobody reads the 1,000th result.
const MAX_OFFSET: usize = 1000;

pub struct SearchApi;

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Delivery")]
impl SearchApi {
    /// Full-text search over published content.
    ///
    /// German-aware (umlaut spellings, stems, compounds), typo-tolerant,
    /// with synonyms; results in the requested locale, falling back to
    /// German for entries without a translation.
    #[oai(path = "/search", method = "get", operation_id = "search")]
    #[allow(clippy::too_many_arguments)]
    async fn search(
        &self,
        state: Data<&AppState>,
        /// What to look for.
        q: Query<String>,
        /// Locale: `de`, `en` or `de-x-ls`. Overrides `Accept-Language`.
        locale: Query<Option<String>>,
        #[oai(name = "Accept-Language")] accept_language: Header<Option<String>>,
        /// Only entries of this content type.
        #[oai(name = "type")]
        content_type: Query<Option<String>>,
        /// Only entries that refer to this topic (slug).
        topic: Query<Option<String>>,
        /// Only entries that refer to this office (slug).
        office: Query<Option<String>>,
        /// Page size, 1 to 50 (default 10).
        limit: Query<Option<u64>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> Result<SearchResponse, ReadError> {
        let locale = requested_locale(locale.0.as_deref(), accept_language.0.as_deref())?;
        if let Some(name) = content_type.0.as_deref() {
            state.content_type(name).map_err(|_| unknown_type(&state, name))?;
        }
        let limit = limit.0.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::bad_request("invalid-limit", format!("limit must be between 1 and {MAX_LIMIT}, not {limit}")).into());
        }
        let offset = cursor.0.as_deref().map(decode_cursor).transpose()?.unwrap_or(0);
        let request = SearchRequest {
            text: &q.0,
            locale,
            content_type: content_type.0.as_deref(),
            topic: topic.0.as_deref(),
            office: office.0.as_deref(),
            limit: limit as usize,
            offset,
        };
        let results = state.search.search(&request, &state.synonyms).map_err(ApiError::internal)?;
        let next = offset + results.hits.len();
        let next_cursor = (next < results.total && next < MAX_OFFSET && !results.hits.is_empty()).then(|| URL_SAFE_NO_PAD.encode(format!("search:{next}")));
        let facets = FACETS
            .iter()
            .map(|name| {
                let counts = results.facets.get(*name).map(|values| values.iter().map(|(value, count)| FacetCount { value: value.clone(), count: *count }).collect());
                (name.to_string(), counts.unwrap_or_default())
            })
            .collect();
        Ok(SearchResponse::Ok(Json(SearchResponseBody { items: results.hits.into_iter().map(hit_body).collect(), total: results.total as u64, facets, next_cursor })))
    }

    /// Autocomplete: entries whose names complete what was typed so far.
    #[oai(path = "/suggest", method = "get", operation_id = "suggest")]
    async fn suggest(
        &self,
        state: Data<&AppState>,
        /// What was typed so far.
        q: Query<String>,
        /// Locale: `de`, `en` or `de-x-ls`. Overrides `Accept-Language`.
        locale: Query<Option<String>>,
        #[oai(name = "Accept-Language")] accept_language: Header<Option<String>>,
        /// How many suggestions, 1 to 20 (default 8).
        limit: Query<Option<u64>>,
    ) -> Result<SuggestResponse, ReadError> {
        let locale = requested_locale(locale.0.as_deref(), accept_language.0.as_deref())?;
        let limit = limit.0.unwrap_or(8);
        if !(1..=20).contains(&limit) {
            return Err(ApiError::bad_request("invalid-limit", format!("limit must be between 1 and 20, not {limit}")).into());
        }
        let hits = state.search.suggest(&q.0, locale, limit as usize, &state.synonyms).map_err(ApiError::internal)?;
        let items = hits.into_iter().map(|hit| Suggestion { title: hit.title, content_type: hit.content_type, slug: hit.slug, locale: hit.locale }).collect();
        Ok(SuggestResponse::Ok(Json(SuggestResponseBody { items })))
    }
}

fn unknown_type(state: &AppState, name: &str) -> ApiError {
    let known: Vec<&str> = state.registry.names().collect();
    ApiError::bad_request("unknown-type", format!("no content type `{name}`; known types: {}", known.join(", ")))
}

fn decode_cursor(cursor: &str) -> Result<usize, ApiError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.strip_prefix("search:")?.parse::<usize>().ok())
        .filter(|offset| *offset < MAX_OFFSET)
        .ok_or_else(|| ApiError::bad_request("invalid-cursor", "the cursor is not one a search handed out; start again without it"))
}

fn hit_body(hit: Hit) -> HitBody {
    HitBody { id: hit.entry_id, content_type: hit.content_type, slug: hit.slug, locale: hit.locale, title: hit.title, snippet: hit.snippet, score: hit.score }
}
