//! Delivery API: published content for the channels.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::types::ToJSON;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::caching::{Conditional, SerializedJson};
use super::response_cache::{CachedResponse, Dependency, Rendered};
use super::{ApiTags, caching};
use crate::content::{Audience, ContentType, Locale, document};
use crate::http::AppState;
use crate::http::grouped::{Found, Grouped, Member, ParamGroup, date_time, string};
use crate::http::params::{Page, ParamError, ReaderLocale, decode_cursor, encode_cursor};
use crate::http::problem::{ApiError, ProblemKind, ReadError};
use crate::store::{ListFilter, Localised, PublishedEntry, localise};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A published entry in one locale.
#[derive(Object, Debug)]
#[oai(rename = "Entry")]
pub struct EntryBody {
    pub id: String,
    #[oai(rename = "type")]
    pub content_type: String,
    pub slug: String,
    /// The locale served: the requested one when a published translation
    /// exists, otherwise `de`.
    pub locale: String,
    /// The locale that was asked for (query `locale` or `Accept-Language`).
    pub requested_locale: String,
    /// JSON pointers (into `fields`) of localised values that the
    /// translation lacks and that were filled from German.
    pub fallback_fields: Vec<String>,
    /// Number of the published revision of the served locale.
    pub revision: i32,
    /// Version of the entry (increases with every revision of any locale).
    pub version: i64,
    #[oai(skip_serializing_if_is_none)]
    pub published_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    /// The entry's fields as its content type's schema describes them
    /// (see the per-type paths and `…Fields` schemas).
    pub fields: serde_json::Value,
    /// Each Markdown field rendered to sanitised HTML, by field name.
    #[oai(skip_serializing_if_is_empty)]
    pub html: BTreeMap<String, String>,
    /// With `expand=`: the referenced entries, keyed `type/slug`, each with
    /// the fields its type shows when expanded.
    #[oai(skip_serializing_if_is_none)]
    pub included: Option<BTreeMap<String, LinkedEntry>>,
    /// With `expand=referenced_by`: published entries that refer to this one.
    #[oai(skip_serializing_if_is_none)]
    pub referenced_by: Option<Vec<LinkedEntry>>,
}

/// Another entry, shown with the fields its type exposes when expanded.
#[derive(Object, Debug, Clone)]
pub struct LinkedEntry {
    pub id: String,
    #[oai(rename = "type")]
    pub content_type: String,
    pub slug: String,
    pub locale: String,
    /// For `referenced_by`: the field of the referring entry.
    #[oai(skip_serializing_if_is_none)]
    pub via: Option<String>,
    pub fields: serde_json::Value,
}

#[derive(Object, Debug)]
#[oai(rename = "EntryList")]
pub struct EntryListBody {
    pub items: Vec<EntryBody>,
    /// With `expand=`: the entries the items refer to, keyed `type/slug`.
    #[oai(skip_serializing_if_is_none)]
    pub included: Option<BTreeMap<String, LinkedEntry>>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[oai(skip_serializing_if_is_none)]
    pub next_cursor: Option<String>,
}

/// Responses depend on these request headers; shared caches must know.
const VARY: &str = "Accept-Language, Accept-Encoding";

#[derive(ApiResponse)]
pub enum GetEntryResponse {
    #[oai(status = 200)]
    Ok(
        SerializedJson<EntryBody>,
        #[oai(header = "ETag")] String,
        #[oai(header = "Last-Modified")] Option<String>,
        #[oai(header = "Cache-Control")] String,
        #[oai(header = "Content-Language")] String,
        #[oai(header = "Vary")] String,
    ),
    /// The representation named in `If-None-Match` is current.
    #[oai(status = 304)]
    NotModified(#[oai(header = "ETag")] String, #[oai(header = "Cache-Control")] String, #[oai(header = "Vary")] String),
}

#[derive(ApiResponse)]
pub enum ListEntriesResponse {
    #[oai(status = 200)]
    Ok(SerializedJson<EntryListBody>, #[oai(header = "ETag")] String, #[oai(header = "Cache-Control")] String, #[oai(header = "Vary")] String),
    /// The representation named in `If-None-Match` is current.
    #[oai(status = 304)]
    NotModified(#[oai(header = "ETag")] String, #[oai(header = "Cache-Control")] String, #[oai(header = "Vary")] String),
}

/// Which entries a list page shows and what it includes of the entries they refer to.
pub struct ListSelection {
    topic: Option<String>,
    office: Option<String>,
    leika: Option<String>,
    changed_since: Option<DateTime<Utc>>,
    expand: Option<String>,
}

impl ParamGroup for ListSelection {
    fn members() -> Vec<Member> {
        vec![
            Member::query("topic", string, "Only entries that refer to this topic (slug)."),
            Member::query("office", string, "Only entries that refer to this office (slug)."),
            Member::query("leika", string, "Only the entry with this LeiKa service key."),
            Member::query("changed_since", date_time, "Only entries published at or after this time (RFC 3339)."),
            Member::query("expand", string, "References to include for all items (see the single-entry operation)."),
        ]
    }

    fn read(found: &Found<'_>) -> Result<Self, ParamError> {
        let text = |name: &str| found.query(name).map(str::to_owned);
        Ok(ListSelection {
            topic: text("topic"),
            office: text("office"),
            leika: text("leika"),
            changed_since: found.parsed("changed_since")?,
            expand: text("expand"),
        })
    }
}

pub struct DeliveryApi;

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Delivery")]
impl DeliveryApi {
    /// One published entry by id or slug.
    ///
    /// A translation that is not published falls back to German; the
    /// response names the locale it served and the fields that fell back.
    #[oai(path = "/:content_type/:id_or_slug", method = "get", operation_id = "getEntry")]
    async fn get_entry(
        &self,
        state: Data<&AppState>,
        /// Content type, e.g. `service`, `office`, `topic`, `article`.
        content_type: Path<String>,
        /// The entry's id or its slug.
        id_or_slug: Path<String>,
        locale: Grouped<ReaderLocale>,
        conditional: Grouped<Conditional>,
        /// References to include: field names (`responsible_offices`), type names (`offices`),
        /// `all`, and `referenced_by` for the entries that refer to this one.
        expand: Query<Option<String>>,
    ) -> Result<GetEntryResponse, ReadError> {
        let content_type = state.content_type(&content_type)?;
        let locale = locale.0.0;
        let expansion = Expansion::parse(&content_type, expand.0.as_deref())?;
        let key = format!("entry\n{}\n{}\n{}\n{}", content_type.name, id_or_slug.0, locale.code(), expansion.cache_key());
        let response = state.responses.get_or_build(key, |key| render_entry(&state, &content_type, &id_or_slug, locale, &expansion, key)).await?;
        let representation = response.representation(conditional.gzip);
        if caching::not_modified(conditional.if_none_match.as_deref(), &representation.etag) {
            return Ok(GetEntryResponse::NotModified(representation.etag, caching::CACHE_CONTROL.into(), VARY.into()));
        }
        Ok(GetEntryResponse::Ok(
            SerializedJson::new(representation.body, representation.content_encoding),
            representation.etag,
            response.last_modified.clone(),
            caching::CACHE_CONTROL.into(),
            response.content_language.clone().unwrap_or_default(),
            VARY.into(),
        ))
    }

    /// Published entries of a type, in slug order, one page at a time.
    ///
    /// Pages are keyset-paginated: follow `next_cursor` until it is absent.
    /// There is deliberately no total count.
    #[oai(path = "/:content_type", method = "get", operation_id = "listEntries")]
    async fn list_entries(
        &self,
        state: Data<&AppState>,
        /// Content type, e.g. `service`, `office`, `topic`, `article`.
        content_type: Path<String>,
        page: Grouped<Page<20, 100>>,
        locale: Grouped<ReaderLocale>,
        conditional: Grouped<Conditional>,
        selection: Grouped<ListSelection>,
    ) -> Result<ListEntriesResponse, ReadError> {
        let content_type = state.content_type(&content_type)?;
        let locale = locale.0.0;
        let limit = page.limit;
        let after: Option<String> = page.cursor.as_deref().map(|c| decode_cursor(&content_type.name, c)).transpose()?;
        let expansion = Expansion::parse(&content_type, selection.expand.as_deref())?;
        if expansion.referenced_by {
            return Err(ApiError::new(ProblemKind::InvalidExpand, "referenced_by is available for single entries").into());
        }
        let mut filter = ListFilter { leika: selection.leika.clone(), published_since: selection.changed_since, ..Default::default() };
        for (to_type, slug) in [("topic", &selection.topic), ("office", &selection.office)] {
            if let Some(slug) = slug {
                filter.links_to.push((to_type.to_owned(), slug.clone()));
            }
        }
        // Every time between the same two publications asks for the same
        // list: the key counts the publications before it, not the time.
        let since = match filter.published_since {
            Some(since) => {
                let times = state.responses.publication_times(&state.store, &content_type.name).await?;
                format!("after {}", times.partition_point(|at| *at < since))
            }
            None => String::new(),
        };
        let key = format!(
            "list\n{}\n{}\n{}\n{}\n{}\n{:?}\n{}\n{}",
            content_type.name,
            locale.code(),
            limit,
            after.as_deref().unwrap_or_default(),
            expansion.cache_key(),
            filter.links_to,
            filter.leika.as_deref().unwrap_or_default(),
            since,
        );
        let wanted = ListWanted { after: after.as_deref(), limit, locale, filter: &filter, expansion: &expansion };
        let response = state.responses.get_or_build(key, |key| render_list(&state, &content_type, &wanted, key)).await?;
        let representation = response.representation(conditional.gzip);
        if caching::not_modified(conditional.if_none_match.as_deref(), &representation.etag) {
            return Ok(ListEntriesResponse::NotModified(representation.etag, caching::CACHE_CONTROL.into(), VARY.into()));
        }
        Ok(ListEntriesResponse::Ok(
            SerializedJson::new(representation.body, representation.content_encoding),
            representation.etag,
            caching::CACHE_CONTROL.into(),
            VARY.into(),
        ))
    }
}

/// Builds a single-entry response from the database and caches it.
async fn render_entry(
    state: &AppState,
    content_type: &ContentType,
    id_or_slug: &str,
    locale: Locale,
    expansion: &Expansion,
    key: String,
) -> Result<Arc<CachedResponse>, ReadError> {
    let ticket = state.responses.ticket();
    let entry = state
        .store
        .published_entry(&content_type.name, id_or_slug, locale)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no published {} with id or slug `{}`", content_type.name, id_or_slug)))?;
    let mut body = entry_body(content_type, entry, locale);
    let mut sources = Sources::default();
    sources.entries.push(body.id.clone());
    if !expansion.fields.is_empty() {
        body.included = Some(expansion.included(state, content_type, std::slice::from_ref(&body), locale, &mut sources).await?);
    }
    if expansion.referenced_by {
        body.referenced_by = Some(referenced_by(state, &content_type.name, &body.slug, locale, &mut sources).await?);
    }
    let json = body.to_json_string();
    let mut dependencies = sources.dependencies();
    dependencies.push(Dependency::Slug(&content_type.name, id_or_slug));
    let rendered = Rendered::json(json, body.published_at.map(caching::http_date), Some(body.locale.clone()));
    Ok(state.responses.insert(key, ticket, rendered, &dependencies))
}

/// Which page of a list, in which locale, with what included.
struct ListWanted<'a> {
    after: Option<&'a str>,
    limit: u64,
    locale: Locale,
    filter: &'a ListFilter,
    expansion: &'a Expansion,
}

/// Builds a list page from the database and caches it.
async fn render_list(state: &AppState, content_type: &ContentType, wanted: &ListWanted<'_>, key: String) -> Result<Arc<CachedResponse>, ReadError> {
    let ListWanted { after, limit, locale, filter, expansion } = *wanted;
    let ticket = state.responses.ticket();
    let page = state.store.list_published(&content_type.name, after, limit, locale, filter).await?;
    let items: Vec<EntryBody> = page.entries.into_iter().map(|e| entry_body(content_type, e, locale)).collect();
    let mut sources = Sources::default();
    let included = if expansion.fields.is_empty() { None } else { Some(expansion.included(state, content_type, &items, locale, &mut sources).await?) };
    let body = EntryListBody { items, included, next_cursor: page.next_after.as_deref().map(|slug| encode_cursor(&content_type.name, slug)) };
    let rendered = state.responses.build(move || Rendered::json(body.to_json_string(), None, None)).await.map_err(ApiError::internal)?;
    let mut dependencies = sources.dependencies();
    dependencies.push(Dependency::Type(&content_type.name));
    Ok(state.responses.insert(key, ticket, rendered, &dependencies))
}

/// The entries and lookups a response was built from, beyond the
/// requested entry or list itself.
#[derive(Default)]
struct Sources {
    /// Ids of the entries shown.
    entries: Vec<String>,
    /// `type/slug` keys looked up, found or not.
    slugs: Vec<(String, String)>,
    /// `type/slug` keys whose referring entries were listed.
    referrers_of: Vec<(String, String)>,
}

impl Sources {
    fn dependencies(&self) -> Vec<Dependency<'_>> {
        self.entries
            .iter()
            .map(|id| Dependency::Entry(id))
            .chain(self.slugs.iter().map(|(t, s)| Dependency::Slug(t, s)))
            .chain(self.referrers_of.iter().map(|(t, s)| Dependency::ReferrersOf(t, s)))
            .collect()
    }
}

/// An entry as the public API serves it: every response of the delivery
/// API and the sync feed is made here, so no internal field gets past.
pub(super) fn entry_body(content_type: &ContentType, mut entry: PublishedEntry, requested: Locale) -> EntryBody {
    entry.hide_from(content_type, Audience::Public);
    let Localised { locale: served, fields, fallback_fields, revision, published_at } =
        localise(content_type, &entry.source, entry.translation.as_ref(), requested);
    EntryBody {
        id: entry.id,
        content_type: entry.content_type,
        slug: entry.slug,
        locale: served.code().to_owned(),
        requested_locale: requested.code().to_owned(),
        fallback_fields,
        revision,
        version: entry.version,
        published_at,
        updated_at: entry.updated_at,
        html: crate::render::markdown::fields_to_html(content_type, &fields),
        fields,
        included: None,
        referenced_by: None,
    }
}

/// What `expand=` asked for.
struct Expansion {
    /// Top-level reference fields whose targets to include.
    fields: Vec<String>,
    referenced_by: bool,
}

impl Expansion {
    fn parse(content_type: &ContentType, expand: Option<&str>) -> Result<Expansion, ApiError> {
        let mut expansion = Expansion { fields: Vec::new(), referenced_by: false };
        let reference_fields: Vec<(&str, &str)> = content_type
            .references
            .iter()
            .filter_map(|site| match site.path.first() {
                Some(crate::content::schema::Step::Key(field)) => Some((field.as_str(), site.target_type.as_str())),
                _ => None,
            })
            .collect();
        for word in expand.unwrap_or_default().split(',').map(str::trim).filter(|w| !w.is_empty()) {
            let matched: Vec<&str> = match word {
                "referenced_by" => {
                    expansion.referenced_by = true;
                    continue;
                }
                "all" => reference_fields.iter().map(|(field, _)| *field).collect(),
                _ => reference_fields
                    .iter()
                    .filter(|(field, target)| *field == word || *target == word || word.strip_suffix('s') == Some(target))
                    .map(|(field, _)| *field)
                    .collect(),
            };
            if matched.is_empty() {
                let mut known: Vec<String> = reference_fields.iter().map(|(field, _)| field.to_string()).collect();
                known.extend(["all".into(), "referenced_by".into()]);
                return Err(ApiError::new(ProblemKind::InvalidExpand, format!("cannot expand `{word}` on {}; one of {}", content_type.name, known.join(", "))));
            }
            expansion.fields.extend(matched.into_iter().map(str::to_owned));
        }
        expansion.fields.sort();
        expansion.fields.dedup();
        Ok(expansion)
    }

    /// The same for every spelling of the same expansion.
    fn cache_key(&self) -> String {
        format!("{}{}", self.fields.join(","), if self.referenced_by { ";referenced_by" } else { "" })
    }

    /// The entries the bodies refer to through the expanded fields.
    async fn included(
        &self,
        state: &AppState,
        content_type: &ContentType,
        bodies: &[EntryBody],
        locale: Locale,
        sources: &mut Sources,
    ) -> Result<BTreeMap<String, LinkedEntry>, ApiError> {
        let mut keys: Vec<(String, String)> = bodies
            .iter()
            .flat_map(|body| document::references(content_type, &body.fields))
            .filter(|r| self.fields.iter().any(|f| r.pointer.trim_start_matches('/').split('/').next() == Some(f.as_str())))
            .map(|r| (r.target_type, r.target_slug))
            .collect();
        keys.sort();
        keys.dedup();
        let entries = state.store.published_by_slugs(&keys, locale).await?;
        sources.slugs.extend(keys);
        sources.entries.extend(entries.iter().map(|entry| entry.id.clone()));
        Ok(entries
            .into_iter()
            .filter_map(|entry| {
                let target = state.registry.get(&entry.content_type)?.clone();
                let linked = linked_entry(&target, entry, locale, None);
                Some((format!("{}/{}", linked.content_type, linked.slug), linked))
            })
            .collect())
    }
}

async fn referenced_by(state: &AppState, content_type: &str, slug: &str, locale: Locale, sources: &mut Sources) -> Result<Vec<LinkedEntry>, ApiError> {
    let referring = state.store.referring_entries(content_type, slug, locale).await?;
    sources.referrers_of.push((content_type.to_owned(), slug.to_owned()));
    sources.entries.extend(referring.iter().map(|(_, entry)| entry.id.clone()));
    Ok(referring
        .into_iter()
        .filter_map(|(field, entry)| {
            let source_type = state.registry.get(&entry.content_type)?.clone();
            Some(linked_entry(&source_type, entry, locale, Some(field)))
        })
        .collect())
}

/// An entry reduced to the fields its type shows when expanded.
fn linked_entry(content_type: &ContentType, entry: PublishedEntry, locale: Locale, via: Option<String>) -> LinkedEntry {
    let full = entry_body(content_type, entry, locale);
    let subset: serde_json::Map<String, serde_json::Value> =
        content_type.expand_fields.iter().filter_map(|field| full.fields.get(field).map(|value| (field.clone(), value.clone()))).collect();
    LinkedEntry { id: full.id, content_type: full.content_type, slug: full.slug, locale: full.locale, via, fields: serde_json::Value::Object(subset) }
}
