//! Partner subscriptions as the partner's editors see them: what came from
//! upstream, what upstream withdrew, and the conflicts to decide. Adding
//! and syncing stay on the command line: they read folders and URLs of the
//! operator's choosing.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use serde_json::Value;

use super::auth::TokenAuth;
use super::problem::{ApiError, FieldProblem};
use super::{ApiTags, AppState};
use crate::content::Locale;
use crate::partner::{self, ConflictKey, Decider, PartnerStatus, Resolution, SyncError};
use crate::workflow::Role;

/// A partner whose bundles this katalog applies.
#[derive(Object, Debug)]
#[oai(rename = "Partner")]
pub struct PartnerBody {
    pub name: String,
    /// The bundle folder or URL.
    pub source: String,
    /// The municipality the bundles come from (known after the first sync).
    #[oai(skip_serializing_if_is_none)]
    pub municipality: Option<String>,
    /// The upstream content version last applied; 0 before the first sync.
    pub content_version: i64,
    #[oai(skip_serializing_if_is_none)]
    pub synced_at: Option<DateTime<Utc>>,
    /// How many entries came from this partner.
    pub entries: u64,
    pub withdrawn: Vec<WithdrawnBody>,
    pub conflicts: Vec<ConflictBody>,
}

/// An entry upstream unpublished, archived or deleted; it is kept here.
#[derive(Object, Debug)]
#[oai(rename = "WithdrawnUpstream")]
pub struct WithdrawnBody {
    #[oai(rename = "type")]
    pub content_type: String,
    pub slug: String,
    /// `unpublish`, `archive` or `delete`.
    pub action: String,
    /// The content version of the sync that learnt of it.
    pub content_version: i64,
}

/// A module upstream changed that is overridden here.
#[derive(Object, Debug)]
#[oai(rename = "PartnerConflict")]
pub struct ConflictBody {
    #[oai(rename = "type")]
    pub content_type: String,
    pub slug: String,
    pub locale: String,
    pub module: String,
    pub upstream_revision: i32,
    /// The module as upstream had it before the change (absent: it had none).
    #[oai(skip_serializing_if_is_none)]
    pub base: Option<Value>,
    /// The module as upstream has it now (absent: upstream removed it).
    #[oai(skip_serializing_if_is_none)]
    pub upstream: Option<Value>,
    /// The module as it is here.
    #[oai(skip_serializing_if_is_none)]
    pub here: Option<Value>,
    /// What taking upstream's value would change, by JSON pointer inside the module.
    pub diff: Vec<ChangeBody>,
}

#[derive(Object, Debug)]
#[oai(rename = "PartnerConflictChange")]
pub struct ChangeBody {
    pub pointer: String,
    #[oai(skip_serializing_if_is_none)]
    pub here: Option<Value>,
    #[oai(skip_serializing_if_is_none)]
    pub upstream: Option<Value>,
}

#[derive(Object, Debug)]
pub struct PartnerList {
    pub items: Vec<PartnerBody>,
}

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum ResolutionChoice {
    TakeUpstream,
    KeepMine,
}

/// How to decide one conflict.
#[derive(Object, Debug)]
pub struct ConflictResolution {
    #[oai(rename = "type")]
    pub content_type: String,
    pub slug: String,
    pub module: String,
    /// `de`, `en` or `de-x-ls`; `de` when absent.
    #[oai(skip_serializing_if_is_none)]
    pub locale: Option<String>,
    /// `take_upstream` makes a draft revision with upstream's value;
    /// `keep_mine` keeps the value here.
    pub resolution: ResolutionChoice,
}

#[derive(Object, Debug)]
pub struct ConflictResolved {
    /// The draft revision with upstream's value, when taken.
    #[oai(skip_serializing_if_is_none)]
    pub revision: Option<i32>,
}

#[derive(ApiResponse)]
pub enum ListResponse {
    #[oai(status = 200)]
    Ok(Json<PartnerList>),
}

#[derive(ApiResponse)]
pub enum ResolvedResponse {
    #[oai(status = 200)]
    Ok(Json<ConflictResolved>),
}

pub struct PartnersApi;

#[OpenApi(prefix_path = "/api/v1/manage/partners", tag = "ApiTags::Manage")]
impl PartnersApi {
    /// Every partner: what came from it, what it withdrew, what is in conflict.
    #[oai(path = "/", method = "get", operation_id = "listPartners")]
    async fn list(&self, state: Data<&AppState>, auth: TokenAuth) -> Result<ListResponse, ApiError> {
        auth.require(Role::Reader, "reading partner subscriptions")?;
        let statuses = partner::status(&state.store, None).await.map_err(sync_error)?;
        Ok(ListResponse::Ok(Json(PartnerList { items: statuses.iter().map(partner_body).collect() })))
    }

    /// Decide a conflict: take upstream's value of the module (as a new
    /// draft revision) or keep the one here.
    #[oai(path = "/:name/conflicts/resolve", method = "post", operation_id = "resolvePartnerConflict")]
    async fn resolve(&self, request: &poem::Request, state: Data<&AppState>, auth: TokenAuth, name: Path<String>, body: Json<ConflictResolution>) -> Result<ResolvedResponse, ApiError> {
        let principal = auth.require(Role::Editor, "resolving partner conflicts")?;
        let code = body.locale.as_deref().unwrap_or(Locale::SOURCE.code());
        let locale = Locale::parse(code)
            .ok_or_else(|| ApiError::unprocessable("unknown locale", vec![FieldProblem { pointer: "/locale".into(), detail: format!("`{code}` is not de, en or de-x-ls") }]))?;
        let key = ConflictKey { content_type: &body.content_type, slug: &body.slug, module: &body.module, locale };
        let resolution = match body.resolution {
            ResolutionChoice::TakeUpstream => Resolution::TakeUpstream,
            ResolutionChoice::KeepMine => Resolution::KeepMine,
        };
        let decider = Decider { actor: principal.author(), request_id: super::request_id::of(request) };
        let revision = partner::resolve(&state.store, &name, &key, resolution, &decider).await.map_err(sync_error)?;
        Ok(ResolvedResponse::Ok(Json(ConflictResolved { revision })))
    }
}

fn sync_error(error: SyncError) -> ApiError {
    match error {
        error @ (SyncError::NoConflict { .. } | SyncError::UnknownPartner(_)) => ApiError::not_found(error.to_string()),
        SyncError::Edit(error) => super::manage::edit_error(error),
        SyncError::Store(error) => error.into(),
        other => ApiError::internal(other),
    }
}

fn partner_body(status: &PartnerStatus) -> PartnerBody {
    let partner = &status.partner;
    let parse = |value: &Option<String>| value.as_deref().and_then(|v| serde_json::from_str::<Value>(v).ok());
    PartnerBody {
        name: partner.name.clone(),
        source: partner.source.clone(),
        municipality: partner.municipality.clone(),
        content_version: partner.content_version,
        synced_at: partner.synced_at,
        entries: status.entries.len() as u64,
        withdrawn: status
            .withdrawn()
            .into_iter()
            .map(|entry| WithdrawnBody {
                content_type: entry.content_type.clone(),
                slug: entry.slug.clone(),
                action: entry.withdrawn_action.clone().unwrap_or_default(),
                content_version: entry.withdrawn_in.unwrap_or_default(),
            })
            .collect(),
        conflicts: status
            .conflicts
            .iter()
            .map(|conflict| {
                let row = &conflict.row;
                let (upstream, here) = (parse(&row.upstream_value), parse(&row.local_value));
                let null = Value::Null;
                let diff = crate::content::diff::diff(here.as_ref().unwrap_or(&null), upstream.as_ref().unwrap_or(&null))
                    .into_iter()
                    .map(|change| ChangeBody { pointer: change.pointer, here: change.before, upstream: change.after })
                    .collect();
                ConflictBody {
                    content_type: conflict.content_type.clone(),
                    slug: conflict.slug.clone(),
                    locale: row.locale.code().to_owned(),
                    module: row.module.clone(),
                    upstream_revision: row.upstream_revision,
                    base: parse(&row.base_value),
                    upstream,
                    here,
                    diff,
                }
            })
            .collect(),
    }
}
