//! Search and autocomplete over published content.

use poem::web::Data;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::ApiTags;
use crate::http::AppState;
use crate::http::grouped::{Found, Grouped, Member, ParamGroup, string};
use crate::http::params::{Limit, Page, ParamError, ReaderLocale, decode_cursor, encode_cursor};
use crate::http::problem::{ApiError, ProblemKind, ReadError};
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

const SUGGESTIONS: Limit = Limit { default: 8, max: 20 };
/// The namespace of search cursors.
const CURSORS: &str = "search";
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
    async fn search(
        &self,
        state: Data<&AppState>,
        /// What to look for.
        q: Query<String>,
        locale: Grouped<ReaderLocale>,
        filters: Grouped<SearchFilters>,
        page: Grouped<Page<10, 50>>,
    ) -> Result<SearchResponse, ReadError> {
        let locale = locale.0.0;
        if let Some(name) = filters.content_type.as_deref() {
            state.content_type(name).map_err(|_| unknown_type(&state, name))?;
        }
        let limit = page.limit;
        let offset = match page.cursor.as_deref() {
            // A search hands out no cursor past MAX_OFFSET: such a one is made up.
            Some(cursor) => Some(decode_cursor::<usize>(CURSORS, cursor)?).filter(|offset| *offset < MAX_OFFSET).ok_or(ParamError::InvalidCursor)?,
            None => 0,
        };
        let request = SearchRequest {
            text: &q.0,
            locale,
            content_type: filters.content_type.as_deref(),
            topic: filters.topic.as_deref(),
            office: filters.office.as_deref(),
            limit: limit as usize,
            offset,
        };
        let results = state.search.search(&request, &state.synonyms).map_err(ApiError::internal)?;
        let next = offset + results.hits.len();
        let next_cursor = (next < results.total && next < MAX_OFFSET && !results.hits.is_empty()).then(|| encode_cursor(CURSORS, next));
        let facets = FACETS
            .iter()
            .map(|name| {
                let counts =
                    results.facets.get(*name).map(|values| values.iter().map(|(value, count)| FacetCount { value: value.clone(), count: *count }).collect());
                (name.to_string(), counts.unwrap_or_default())
            })
            .collect();
        Ok(SearchResponse::Ok(Json(SearchResponseBody {
            items: results.hits.into_iter().map(hit_body).collect(),
            total: results.total as u64,
            facets,
            next_cursor,
        })))
    }

    /// Autocomplete: entries whose names complete what was typed so far.
    #[oai(path = "/suggest", method = "get", operation_id = "suggest")]
    async fn suggest(
        &self,
        state: Data<&AppState>,
        /// What was typed so far.
        q: Query<String>,
        locale: Grouped<ReaderLocale>,
        /// How many suggestions, 1 to 20 (default 8); more are served as 20.
        limit: Query<Option<u64>>,
    ) -> Result<SuggestResponse, ReadError> {
        let locale = locale.0.0;
        let limit = SUGGESTIONS.of(limit.0)?;
        let hits = state.search.suggest(&q.0, locale, limit as usize, &state.synonyms).map_err(ApiError::internal)?;
        let items = hits.into_iter().map(|hit| Suggestion { title: hit.title, content_type: hit.content_type, slug: hit.slug, locale: hit.locale }).collect();
        Ok(SuggestResponse::Ok(Json(SuggestResponseBody { items })))
    }
}

/// Which entries a search looks among.
struct SearchFilters {
    content_type: Option<String>,
    topic: Option<String>,
    office: Option<String>,
}

impl ParamGroup for SearchFilters {
    fn members() -> Vec<Member> {
        vec![
            Member::query("type", string, "Only entries of this content type."),
            Member::query("topic", string, "Only entries that refer to this topic (slug)."),
            Member::query("office", string, "Only entries that refer to this office (slug)."),
        ]
    }

    fn read(found: &Found<'_>) -> Result<Self, ParamError> {
        let text = |name: &str| found.query(name).map(str::to_owned);
        Ok(SearchFilters { content_type: text("type"), topic: text("topic"), office: text("office") })
    }
}

fn unknown_type(state: &AppState, name: &str) -> ApiError {
    let known: Vec<&str> = state.registry.names().collect();
    ApiError::new(ProblemKind::UnknownType, format!("no content type `{name}`; known types: {}", known.join(", ")))
}

fn hit_body(hit: Hit) -> HitBody {
    HitBody { id: hit.entry_id, content_type: hit.content_type, slug: hit.slug, locale: hit.locale, title: hit.title, snippet: hit.snippet, score: hit.score }
}
