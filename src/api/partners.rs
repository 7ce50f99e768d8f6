//! Partner subscriptions as the partner's editors see them: what came from
//! upstream, what upstream withdrew, and the conflicts to decide; admins
//! subscribe and publishers sync. Through the API a source is an http(s)
//! URL (another katalog's `/partner/`); bundle folders on this machine are
//! the operator's to name, on the command line.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use serde_json::Value;

use super::ApiTags;
use super::auth::TokenAuth;
use crate::http::AppState;
use crate::http::params;
use crate::http::problem::{ApiError, FieldProblem};
use crate::partner::{self, BundleSource, ConflictKey, Decider, PartnerStatus, Resolution, SyncError, SyncOptions, SyncReport};
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
    /// Syncs publish what arrives (except where this katalog has work of
    /// its own waiting) and unpublish what upstream withdrew.
    pub auto_publish: bool,
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

/// A new subscription.
#[derive(Object, Debug)]
pub struct PartnerCreate {
    /// Lower-case letters and digits joined by hyphens; revisions it brings are authored `partner:NAME`.
    pub name: String,
    /// The http(s) URL of the bundle, such as another katalog's `https://…/partner/`.
    pub source: String,
    /// Syncs publish what arrives; false (drafts for review) when absent.
    #[oai(default)]
    pub auto_publish: bool,
}

/// What a sync brought; entries as `type/slug`.
#[derive(Object, Debug)]
#[oai(rename = "PartnerSyncReport")]
pub struct SyncReportBody {
    pub partner: String,
    pub municipality: String,
    /// The upstream content version now applied.
    pub content_version: i64,
    pub new: Vec<String>,
    pub changed: Vec<String>,
    pub withdrawn: Vec<String>,
    /// `type/slug module (locale)` of overridden modules upstream changed.
    pub conflicts: Vec<String>,
    /// `type/slug /pointer → type/slug`: references to entries neither in
    /// the bundle nor here (unpublished upstream), taken as they are; the
    /// channels leave them out as they do any reference to an entry that
    /// is not published.
    pub unresolved: Vec<String>,
    /// `type/slug (locale)` left as drafts although publishing: in the
    /// trash, not live here, or with a revision of this katalog's own
    /// waiting for review.
    pub held_back: Vec<String>,
    pub unchanged: u64,
    pub new_revisions: u64,
    /// Bundle files fetched and verified besides the manifest: those
    /// whose checksum changed since the bundle applied last.
    pub files_read: u64,
    /// Whether what arrived was published.
    pub published: bool,
}

impl From<SyncReport> for SyncReportBody {
    fn from(report: SyncReport) -> SyncReportBody {
        SyncReportBody {
            partner: report.partner,
            municipality: report.municipality,
            content_version: report.content_version,
            new: report.new,
            changed: report.changed,
            withdrawn: report.withdrawn,
            conflicts: report.conflicts,
            unresolved: report.unresolved,
            held_back: report.held_back,
            unchanged: report.unchanged as u64,
            new_revisions: report.new_revisions as u64,
            files_read: report.files_read as u64,
            published: report.published,
        }
    }
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
pub enum CreatedResponse {
    #[oai(status = 201)]
    Created(Json<PartnerBody>),
}

#[derive(ApiResponse)]
pub enum PartnerResponse {
    #[oai(status = 200)]
    Ok(Json<PartnerBody>),
}

#[derive(ApiResponse)]
pub enum SyncResponse {
    #[oai(status = 200)]
    Ok(Json<SyncReportBody>),
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
        let statuses = partner::status(&state.store, None).await?;
        Ok(ListResponse::Ok(Json(PartnerList { items: statuses.iter().map(partner_body).collect() })))
    }

    /// Subscribe to a partner's bundles at an http(s) URL. Nothing is
    /// fetched until the first sync.
    #[oai(path = "/", method = "post", operation_id = "addPartner")]
    async fn add(&self, state: Data<&AppState>, auth: TokenAuth, body: Json<PartnerCreate>) -> Result<CreatedResponse, ApiError> {
        auth.require(Role::Admin, "subscribing to partners")?;
        let BundleSource::Http(source) = BundleSource::parse(&body.source) else {
            let problem = FieldProblem {
                pointer: "/source".into(),
                detail: format!("`{}` is not an http(s) URL; bundle folders are named on the command line", body.source),
            };
            return Err(ApiError::unprocessable("the source is not an http(s) URL", vec![problem]));
        };
        partner::add(&state.store, &body.name, &source, body.auto_publish, &state.partner_fetch.fence).await?;
        Ok(CreatedResponse::Created(Json(one_partner(&state, &body.name).await?)))
    }

    /// One partner: what came from it, what it withdrew, what is in conflict.
    #[oai(path = "/:name", method = "get", operation_id = "getPartner")]
    async fn get(&self, state: Data<&AppState>, auth: TokenAuth, name: Path<String>) -> Result<PartnerResponse, ApiError> {
        auth.require(Role::Reader, "reading partner subscriptions")?;
        Ok(PartnerResponse::Ok(Json(one_partner(&state, &name).await?)))
    }

    /// Fetch the partner's current bundle, verify it and apply what changed,
    /// all or nothing. A bundle that fails verification is refused (422)
    /// with every problem, and nothing is applied.
    #[oai(path = "/:name/sync", method = "post", operation_id = "syncPartner")]
    async fn sync(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
        name: Path<String>,
        /// Publish what arrives even when the subscription does not auto-publish.
        publish: Query<Option<bool>>,
    ) -> Result<SyncResponse, ApiError> {
        auth.require(Role::Publisher, "syncing partners")?;
        let options = SyncOptions { publish: publish.unwrap_or(false), fetch: state.partner_fetch.as_ref().clone() };
        let report = partner::sync(&state.store, &state.registry, &name, options).await?;
        Ok(SyncResponse::Ok(Json(report.into())))
    }

    /// Decide a conflict: take upstream's value of the module (as a new
    /// draft revision) or keep the one here.
    #[oai(path = "/:name/conflicts/resolve", method = "post", operation_id = "resolvePartnerConflict")]
    async fn resolve(&self, state: Data<&AppState>, auth: TokenAuth, name: Path<String>, body: Json<ConflictResolution>) -> Result<ResolvedResponse, ApiError> {
        let actor = auth.require(Role::Editor, "resolving partner conflicts")?;
        let locale = params::locale(body.locale.as_deref())?;
        let key = ConflictKey { content_type: &body.content_type, slug: &body.slug, module: &body.module, locale };
        let resolution = match body.resolution {
            ResolutionChoice::TakeUpstream => Resolution::TakeUpstream,
            ResolutionChoice::KeepMine => Resolution::KeepMine,
        };
        let decider = Decider { actor: actor.author.clone(), request_id: actor.request_id.clone() };
        let revision = partner::resolve(&state.store, &name, &key, resolution, &decider).await?;
        Ok(ResolvedResponse::Ok(Json(ConflictResolved { revision })))
    }
}

async fn one_partner(state: &AppState, name: &str) -> Result<PartnerBody, ApiError> {
    let statuses = partner::status(&state.store, Some(name)).await?;
    statuses.first().map(partner_body).ok_or_else(|| SyncError::UnknownPartner(name.to_owned()).into())
}

fn partner_body(status: &PartnerStatus) -> PartnerBody {
    let partner = &status.partner;
    PartnerBody {
        name: partner.name.clone(),
        source: partner.source.clone(),
        municipality: partner.municipality.clone(),
        content_version: partner.content_version,
        synced_at: partner.synced_at,
        auto_publish: partner.auto_publish,
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
                let [base, upstream, here] = row.values();
                let diff =
                    row.changes().into_iter().map(|change| ChangeBody { pointer: change.pointer, here: change.before, upstream: change.after }).collect();
                ConflictBody {
                    content_type: conflict.content_type.clone(),
                    slug: conflict.slug.clone(),
                    locale: row.locale.code().to_owned(),
                    module: row.module.clone(),
                    upstream_revision: row.upstream_revision,
                    base,
                    upstream,
                    here,
                    diff,
                }
            })
            .collect(),
    }
}
