//! Management API: create, update (with `If-Match`), validate, revisions
//! and workflow transitions. Every write needs a token of the right role.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use serde_json::Value;

use super::ApiTags;
use super::auth::TokenAuth;
use crate::content::diff::ChangeKind;
use crate::content::{ContentType, Locale};
use crate::http::AppState;
use crate::http::grouped::{Found, Grouped, Member, ParamGroup, integer, string};
use crate::http::params::{self, Limit, ParamError, decode_cursor, encode_cursor};
use crate::http::problem::{ApiError, FieldProblem, ProblemKind, field_problems};
use crate::store::{EntryRecord, RevisionRecord};
use crate::workflow::editing::{self, Target, TrashStep};
use crate::workflow::{self, Action, Role};

/// A new entry: its slug and the German source document.
#[derive(Object, Debug)]
pub struct EntryCreate {
    /// Lower-case letters, digits and single hyphens; unique within the type.
    pub slug: String,
    /// The document, as the type's `…Fields` schema describes it. Drafts may be incomplete.
    pub fields: Value,
    /// What changed and why (shown in the revision list).
    #[oai(skip_serializing_if_is_none)]
    pub message: Option<String>,
}

/// A whole new document for one locale of an entry.
#[derive(Object, Debug)]
pub struct EntryUpdate {
    /// For `de` the whole document; for a translation only its localised fields.
    pub fields: Value,
    #[oai(skip_serializing_if_is_none)]
    pub message: Option<String>,
}

#[derive(Object, Debug)]
pub struct DocumentCheck {
    pub fields: Value,
}

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum CheckMode {
    /// What any saved revision must satisfy (missing fields allowed).
    Draft,
    /// What publishing requires: the whole schema, channel requirements, published references.
    Publish,
}

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum TransitionAction {
    Submit,
    RequestChanges,
    Publish,
    Unpublish,
    Archive,
}

impl From<TransitionAction> for Action {
    fn from(action: TransitionAction) -> Action {
        match action {
            TransitionAction::Submit => Action::Submit,
            TransitionAction::RequestChanges => Action::RequestChanges,
            TransitionAction::Publish => Action::Publish,
            TransitionAction::Unpublish => Action::Unpublish,
            TransitionAction::Archive => Action::Archive,
        }
    }
}

#[derive(Object, Debug)]
pub struct TransitionRequest {
    pub action: TransitionAction,
    /// The locale to move; `de` when absent. Each locale has its own state.
    #[oai(skip_serializing_if_is_none)]
    pub locale: Option<String>,
    /// Required with `request_changes`: what to change.
    #[oai(skip_serializing_if_is_none)]
    pub comment: Option<String>,
    /// For `publish`: the revision that was reviewed. Refused (409) when a newer one exists.
    #[oai(skip_serializing_if_is_none)]
    pub revision: Option<i32>,
}

/// When to publish and when to withdraw one locale. Absent times clear
/// that part of the schedule.
#[derive(Object, Debug)]
pub struct ScheduleRequest {
    /// The locale; `de` when absent.
    #[oai(skip_serializing_if_is_none)]
    pub locale: Option<String>,
    /// When to publish (e.g. new fees from 1 January).
    #[oai(skip_serializing_if_is_none)]
    pub publish_at: Option<DateTime<Utc>>,
    /// The revision to publish then: the one that was approved. The newest when absent.
    #[oai(skip_serializing_if_is_none)]
    pub revision: Option<i32>,
    /// When to take the locale off the channels.
    #[oai(skip_serializing_if_is_none)]
    pub unpublish_at: Option<DateTime<Utc>>,
}

#[derive(Object, Debug)]
pub struct LocaleStatus {
    pub locale: String,
    /// draft, in_review, published or archived: the state of the newest revision.
    pub state: String,
    pub latest_revision: i32,
    /// The revision readers get; absent when this locale is not live.
    #[oai(skip_serializing_if_is_none)]
    pub published_revision: Option<i32>,
    #[oai(skip_serializing_if_is_none)]
    pub published_at: Option<DateTime<Utc>>,
    /// For a translation: the German revision it was made from.
    #[oai(skip_serializing_if_is_none)]
    pub source_revision: Option<i32>,
    /// For a translation: the German source changed after it was made.
    pub outdated: bool,
    #[oai(skip_serializing_if_is_none)]
    pub review_comment: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub publish_at: Option<DateTime<Utc>>,
    #[oai(skip_serializing_if_is_none)]
    pub scheduled_revision: Option<i32>,
    #[oai(skip_serializing_if_is_none)]
    pub unpublish_at: Option<DateTime<Utc>>,
    /// Actions allowed now (the token's role may still forbid some).
    pub allowed_actions: Vec<String>,
}

/// An entry as editors see it: the newest revision of one locale, raw
/// (no fallback), and the state of every locale.
#[derive(Object, Debug)]
pub struct ManagedEntry {
    pub id: String,
    #[oai(rename = "type")]
    pub content_type: String,
    pub slug: String,
    /// Send as `If-Match` with the next update.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Set while the entry is in the trash.
    #[oai(skip_serializing_if_is_none)]
    pub trashed_at: Option<DateTime<Utc>>,
    pub locale: String,
    pub revision: i32,
    pub fields: Value,
    pub locales: Vec<LocaleStatus>,
}

#[derive(Object, Debug)]
pub struct RevisionInfo {
    pub locale: String,
    pub number: i32,
    pub author: String,
    pub message: String,
    pub created_at: DateTime<Utc>,
    #[oai(skip_serializing_if_is_none)]
    pub source_revision: Option<i32>,
    /// Present when one revision is fetched.
    #[oai(skip_serializing_if_is_none)]
    pub fields: Option<Value>,
}

#[derive(Object, Debug)]
pub struct RevisionList {
    pub items: Vec<RevisionInfo>,
}

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum ChangeKindBody {
    Added,
    Removed,
    Changed,
}

#[derive(Object, Debug)]
pub struct FieldChangeBody {
    /// JSON pointer into `fields`.
    pub pointer: String,
    pub kind: ChangeKindBody,
    #[oai(skip_serializing_if_is_none)]
    pub before: Option<Value>,
    #[oai(skip_serializing_if_is_none)]
    pub after: Option<Value>,
    /// Unified line diff of multi-line text (Markdown modules).
    #[oai(skip_serializing_if_is_none)]
    pub line_diff: Option<String>,
}

#[derive(Object, Debug)]
pub struct RevisionDiff {
    pub locale: String,
    pub from: i32,
    pub to: i32,
    pub changes: Vec<FieldChangeBody>,
}

#[derive(Object, Debug)]
pub struct CheckReport {
    pub valid: bool,
    pub errors: Vec<FieldProblem>,
}

#[derive(ApiResponse)]
pub enum CreatedResponse {
    #[oai(status = 201)]
    Created(Json<ManagedEntry>, #[oai(header = "ETag")] String, #[oai(header = "Location")] String),
}

#[derive(ApiResponse)]
pub enum EntryResponse {
    #[oai(status = 200)]
    Ok(Json<ManagedEntry>, #[oai(header = "ETag")] String),
}

#[derive(ApiResponse)]
pub enum RevisionsResponse {
    #[oai(status = 200)]
    Ok(Json<RevisionList>),
}

#[derive(ApiResponse)]
pub enum RevisionResponse {
    #[oai(status = 200)]
    Ok(Json<RevisionInfo>),
}

#[derive(ApiResponse)]
pub enum DiffResponse {
    #[oai(status = 200)]
    Ok(Json<RevisionDiff>),
}

/// One recorded action.
#[derive(Object, Debug)]
pub struct AuditEntry {
    pub id: i64,
    pub request_id: String,
    pub at: DateTime<Utc>,
    /// Who: the token's name and id, or the import's author.
    pub actor: String,
    /// What: entry.create, entry.update, entry.publish, entry.trash, import, …
    pub action: String,
    #[oai(skip_serializing_if_is_none, rename = "type")]
    pub content_type: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub entry_id: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub slug: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub locale: Option<String>,
    pub detail: Value,
}

#[derive(Object, Debug)]
pub struct AuditPage {
    pub items: Vec<AuditEntry>,
    /// Pass as `cursor` for older events; absent on the last page.
    #[oai(skip_serializing_if_is_none)]
    pub next_cursor: Option<String>,
}

#[derive(ApiResponse)]
pub enum AuditResponse {
    #[oai(status = 200)]
    Ok(Json<AuditPage>),
}

#[derive(ApiResponse)]
pub enum DeletedResponse {
    /// Deleted for good; consumers get a tombstone.
    #[oai(status = 204)]
    Deleted,
}

#[derive(ApiResponse)]
pub enum CheckResponse {
    #[oai(status = 200)]
    Ok(Json<CheckReport>),
}

pub struct ManageApi;

#[OpenApi(prefix_path = "/api/v1/manage", tag = "ApiTags::Manage")]
impl ManageApi {
    /// Create an entry (its German source, as a draft).
    #[oai(path = "/:content_type", method = "post", operation_id = "createEntry")]
    async fn create_entry(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
        content_type: Path<String>,
        body: Json<EntryCreate>,
    ) -> Result<CreatedResponse, ApiError> {
        let actor = auth.require(Role::Editor, "creating entries")?;
        let content_type = state.content_type(&content_type)?;
        let fields = object_fields(&body.fields)?;
        let entry = editing::create(&state.store, &content_type, &body.slug, fields, body.message.as_deref(), &actor).await?;
        let managed = managed_entry(&state, &entry, Locale::SOURCE).await?;
        let location = format!("/api/v1/manage/{}/{}", entry.content_type, entry.id);
        Ok(CreatedResponse::Created(Json(managed), etag(entry.version), location))
    }

    /// The newest revision of one locale of an entry, with every locale's workflow state.
    #[oai(path = "/:content_type/:id_or_slug", method = "get", operation_id = "getManagedEntry")]
    async fn get_entry(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
        content_type: Path<String>,
        id_or_slug: Path<String>,
        locale: Query<Option<String>>,
    ) -> Result<EntryResponse, ApiError> {
        auth.require(Role::Reader, "reading drafts")?;
        let content_type = state.content_type(&content_type)?;
        let locale = params::locale(locale.0.as_deref())?;
        let entry = find(&state, &content_type, &id_or_slug).await?;
        let managed = managed_entry(&state, &entry, locale).await?;
        Ok(EntryResponse::Ok(Json(managed), etag(entry.version)))
    }

    /// Replace the document of one locale. `If-Match` must carry the
    /// entry's current version: a stale one gets 412 with the current
    /// version, a missing one 428. The new revision is a draft.
    #[oai(path = "/:content_type/:id_or_slug", method = "put", operation_id = "updateEntry")]
    async fn update_entry(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
        content_type: Path<String>,
        id_or_slug: Path<String>,
        version: Grouped<LocaleVersion>,
        body: Json<EntryUpdate>,
    ) -> Result<EntryResponse, ApiError> {
        let actor = auth.require(Role::Editor, "editing entries")?;
        let content_type = state.content_type(&content_type)?;
        let locale = params::locale(version.locale.as_deref())?;
        let entry = find(&state, &content_type, &id_or_slug).await?;
        let expected = parse_if_match(version.if_match.as_deref())?;
        let fields = object_fields(&body.fields)?;
        let (entry, number) =
            editing::save(&state.store, Target { content_type: &content_type, entry: &entry, locale }, expected, fields, body.message.as_deref(), &actor)
                .await?;
        let managed = managed_view(&entry, locale, number, fields.clone());
        Ok(EntryResponse::Ok(Json(managed), etag(entry.version)))
    }

    /// Check a document without saving it: as a draft, or for publishing.
    #[oai(path = "/:content_type/validate", method = "post", operation_id = "validateDocument")]
    async fn validate(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
        content_type: Path<String>,
        mode: Query<Option<CheckMode>>,
        body: Json<DocumentCheck>,
    ) -> Result<CheckResponse, ApiError> {
        auth.require(Role::Reader, "validating")?;
        let content_type = state.content_type(&content_type)?;
        let fields = object_fields(&body.fields)?;
        let violations = match mode.0.unwrap_or(CheckMode::Publish) {
            CheckMode::Draft => workflow::draft_violations(&content_type, fields),
            CheckMode::Publish => workflow::publishing_problems(&state.store, &content_type, fields).await?,
        };
        Ok(CheckResponse::Ok(Json(CheckReport { valid: violations.is_empty(), errors: field_problems(violations) })))
    }

    /// Revisions of one locale, newest first.
    #[oai(path = "/:content_type/:id_or_slug/revisions", method = "get", operation_id = "listRevisions")]
    async fn list_revisions(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
        content_type: Path<String>,
        id_or_slug: Path<String>,
        locale: Query<Option<String>>,
    ) -> Result<RevisionsResponse, ApiError> {
        auth.require(Role::Reader, "reading revisions")?;
        let content_type = state.content_type(&content_type)?;
        let locale = params::locale(locale.0.as_deref())?;
        let entry = find(&state, &content_type, &id_or_slug).await?;
        let revisions = state.store.revisions(&entry.id, locale).await?;
        Ok(RevisionsResponse::Ok(Json(RevisionList { items: revisions.into_iter().map(|r| revision_info(r, false)).collect() })))
    }

    /// One revision with its document.
    #[oai(path = "/:content_type/:id_or_slug/revisions/:number", method = "get", operation_id = "getRevision")]
    async fn get_revision(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
        content_type: Path<String>,
        id_or_slug: Path<String>,
        number: Path<i32>,
        locale: Query<Option<String>>,
    ) -> Result<RevisionResponse, ApiError> {
        auth.require(Role::Reader, "reading revisions")?;
        let content_type = state.content_type(&content_type)?;
        let locale = params::locale(locale.0.as_deref())?;
        let entry = find(&state, &content_type, &id_or_slug).await?;
        let revision = editing::revision(&state.store, &entry, locale, *number).await?;
        Ok(RevisionResponse::Ok(Json(revision_info(revision, true))))
    }

    /// Field-by-field differences between two revisions of one locale,
    /// with a line diff inside Markdown text.
    #[oai(path = "/:content_type/:id_or_slug/diff", method = "get", operation_id = "diffRevisions")]
    async fn diff_revisions(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
        content_type: Path<String>,
        id_or_slug: Path<String>,
        compared: Grouped<ComparedRevisions>,
        locale: Query<Option<String>>,
    ) -> Result<DiffResponse, ApiError> {
        auth.require(Role::Reader, "reading revisions")?;
        let content_type = state.content_type(&content_type)?;
        let locale = params::locale(locale.0.as_deref())?;
        let entry = find(&state, &content_type, &id_or_slug).await?;
        let newer = match compared.to {
            Some(number) => editing::revision(&state.store, &entry, locale, number).await?,
            None => editing::newest(&state.store, &entry, locale).await?,
        };
        let older = editing::revision(&state.store, &entry, locale, compared.from).await?;
        let changes = crate::content::diff::diff(&older.document, &newer.document)
            .into_iter()
            .map(|c| FieldChangeBody {
                pointer: c.pointer,
                kind: match c.kind {
                    ChangeKind::Added => ChangeKindBody::Added,
                    ChangeKind::Removed => ChangeKindBody::Removed,
                    ChangeKind::Changed => ChangeKindBody::Changed,
                },
                before: c.before,
                after: c.after,
                line_diff: c.line_diff,
            })
            .collect();
        Ok(DiffResponse::Ok(Json(RevisionDiff { locale: locale.code().into(), from: older.number, to: newer.number, changes })))
    }

    /// Restore an old revision: its document becomes a new draft revision
    /// (nothing is overwritten). Needs `If-Match` like an update.
    #[oai(path = "/:content_type/:id_or_slug/revisions/:number/restore", method = "post", operation_id = "restoreRevision")]
    async fn restore_revision(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
        content_type: Path<String>,
        id_or_slug: Path<String>,
        number: Path<i32>,
        version: Grouped<LocaleVersion>,
    ) -> Result<EntryResponse, ApiError> {
        let actor = auth.require(Role::Editor, "restoring revisions")?;
        let content_type = state.content_type(&content_type)?;
        let locale = params::locale(version.locale.as_deref())?;
        let entry = find(&state, &content_type, &id_or_slug).await?;
        let expected = parse_if_match(version.if_match.as_deref())?;
        let (entry, number, document) =
            editing::restore_revision(&state.store, Target { content_type: &content_type, entry: &entry, locale }, *number, expected, &actor).await?;
        let managed = managed_view(&entry, locale, number, document);
        Ok(EntryResponse::Ok(Json(managed), etag(entry.version)))
    }

    /// Move an entry to the trash: every live locale is withdrawn.
    #[oai(path = "/:content_type/:id_or_slug/trash", method = "post", operation_id = "trashEntry")]
    async fn trash_entry(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
        content_type: Path<String>,
        id_or_slug: Path<String>,
    ) -> Result<EntryResponse, ApiError> {
        let actor = auth.require(Role::Publisher, "moving entries to the trash")?;
        let content_type = state.content_type(&content_type)?;
        let entry = find(&state, &content_type, &id_or_slug).await?;
        editing::trash(&state.store, &entry, TrashStep::Trash, &actor).await?;
        current(&state, &content_type, &entry.id, Locale::SOURCE).await
    }

    /// Take an entry out of the trash; its locales come back as drafts.
    #[oai(path = "/:content_type/:id_or_slug/trash", method = "delete", operation_id = "restoreFromTrash")]
    async fn restore_from_trash(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
        content_type: Path<String>,
        id_or_slug: Path<String>,
    ) -> Result<EntryResponse, ApiError> {
        let actor = auth.require(Role::Publisher, "restoring entries from the trash")?;
        let content_type = state.content_type(&content_type)?;
        let entry = find(&state, &content_type, &id_or_slug).await?;
        editing::trash(&state.store, &entry, TrashStep::Restore, &actor).await?;
        current(&state, &content_type, &entry.id, Locale::SOURCE).await
    }

    /// Delete an entry in the trash for good, with all its revisions (admin only).
    #[oai(path = "/:content_type/:id_or_slug", method = "delete", operation_id = "deleteEntry")]
    async fn delete_entry(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
        content_type: Path<String>,
        id_or_slug: Path<String>,
    ) -> Result<DeletedResponse, ApiError> {
        let actor = auth.require(Role::Admin, "deleting entries for good")?;
        let content_type = state.content_type(&content_type)?;
        let entry = find(&state, &content_type, &id_or_slug).await?;
        editing::trash(&state.store, &entry, TrashStep::DeleteForever, &actor).await?;
        Ok(DeletedResponse::Deleted)
    }

    /// Schedule publishing and/or withdrawal of one locale. The document is
    /// checked now (422 if it could not be published) and again when due.
    #[oai(path = "/:content_type/:id_or_slug/schedule", method = "put", operation_id = "scheduleEntry")]
    async fn schedule(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
        content_type: Path<String>,
        id_or_slug: Path<String>,
        body: Json<ScheduleRequest>,
    ) -> Result<EntryResponse, ApiError> {
        let actor = auth.require(Role::Publisher, "scheduling")?;
        let content_type = state.content_type(&content_type)?;
        let locale = params::locale(body.locale.as_deref())?;
        let entry = find(&state, &content_type, &id_or_slug).await?;
        let publish = body.publish_at.map(|at| (at, body.revision));
        editing::schedule(&state.store, Target { content_type: &content_type, entry: &entry, locale }, publish, body.unpublish_at, &actor).await?;
        current(&state, &content_type, &entry.id, locale).await
    }

    /// The audit log of one entry, newest first.
    #[oai(path = "/:content_type/:id_or_slug/audit", method = "get", operation_id = "entryAudit")]
    async fn entry_audit(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
        content_type: Path<String>,
        id_or_slug: Path<String>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
        /// Page size, 1 to 500 (default 50); more are served as 500.
        limit: Query<Option<u64>>,
    ) -> Result<AuditResponse, ApiError> {
        auth.require(Role::Editor, "reading an entry's audit log")?;
        let content_type = state.content_type(&content_type)?;
        let entry = find(&state, &content_type, &id_or_slug).await?;
        audit_page(&state, Some(&entry.id), cursor.0.as_deref(), limit.0).await
    }

    /// The whole audit log, newest first (admin only).
    #[oai(path = "/audit", method = "get", operation_id = "auditLog")]
    async fn audit_log(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
        /// Page size, 1 to 500 (default 50); more are served as 500.
        limit: Query<Option<u64>>,
    ) -> Result<AuditResponse, ApiError> {
        auth.require(Role::Admin, "reading the audit log")?;
        audit_page(&state, None, cursor.0.as_deref(), limit.0).await
    }

    /// Move one locale through the workflow: submit, request changes,
    /// publish, unpublish, archive. Refused transitions get 409 naming the
    /// allowed ones; publishing an incomplete document gets 422.
    #[oai(path = "/:content_type/:id_or_slug/transitions", method = "post", operation_id = "transitionEntry")]
    async fn transition(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
        content_type: Path<String>,
        id_or_slug: Path<String>,
        body: Json<TransitionRequest>,
    ) -> Result<EntryResponse, ApiError> {
        let action: Action = body.action.into();
        let actor = auth.require(action.required_role(), &format!("`{action}`"))?;
        let content_type = state.content_type(&content_type)?;
        let locale = params::locale(body.locale.as_deref())?;
        let entry = find(&state, &content_type, &id_or_slug).await?;
        editing::transition(
            &state.store,
            Target { content_type: &content_type, entry: &entry, locale },
            action,
            body.revision,
            body.comment.as_deref(),
            &actor,
        )
        .await?;
        current(&state, &content_type, &entry.id, locale).await
    }
}

/// Audit events a page: 50 unless asked, at most 500.
const AUDIT_PAGE: Limit = Limit { default: 50, max: 500 };

async fn audit_page(state: &AppState, entry_id: Option<&str>, cursor: Option<&str>, limit: Option<u64>) -> Result<AuditResponse, ApiError> {
    let limit = AUDIT_PAGE.of(limit)?;
    // The whole log and each entry's log are different lists.
    let namespace = entry_id.map_or_else(|| "audit".to_owned(), |id| format!("audit/{id}"));
    let before: Option<i64> = cursor.map(|cursor| decode_cursor(&namespace, cursor)).transpose()?;
    let mut records = state.store.audit_events(entry_id, before, limit + 1).await?;
    let next_cursor = if records.len() as u64 > limit {
        records.truncate(limit as usize);
        records.last().map(|r| encode_cursor(&namespace, r.id))
    } else {
        None
    };
    let items = records
        .into_iter()
        .map(|r| AuditEntry {
            id: r.id,
            request_id: r.request_id,
            at: r.at,
            actor: r.actor,
            action: r.action,
            content_type: r.content_type,
            entry_id: r.entry_id,
            slug: r.slug,
            locale: r.locale,
            detail: r.detail,
        })
        .collect();
    Ok(AuditResponse::Ok(Json(AuditPage { items, next_cursor })))
}

fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// The version in `If-Match`: `"7"` (as sent in `ETag`) or `7`.
/// The locale an edit changes and the version it was made on (`If-Match`),
/// read as given: they are checked after the caller's role.
struct LocaleVersion {
    locale: Option<String>,
    if_match: Option<String>,
}

impl ParamGroup for LocaleVersion {
    fn members() -> Vec<Member> {
        vec![
            Member::query("locale", string, "`de`, `en` or `de-x-ls`; `de` when absent."),
            Member::header("If-Match", "The entry's current version (its ETag): a stale one gets 412, a missing one 428."),
        ]
    }

    fn read(found: &Found<'_>) -> Result<Self, ParamError> {
        Ok(LocaleVersion { locale: found.query("locale").map(str::to_owned), if_match: found.header("If-Match").map(str::to_owned) })
    }
}

/// The two revisions a diff compares.
struct ComparedRevisions {
    from: i32,
    to: Option<i32>,
}

impl ParamGroup for ComparedRevisions {
    fn members() -> Vec<Member> {
        vec![Member::query("from", integer, "The older revision.").required(), Member::query("to", integer, "The newer revision; the newest when absent.")]
    }

    fn read(found: &Found<'_>) -> Result<Self, ParamError> {
        let from = found.parsed("from")?.ok_or_else(|| ParamError::Malformed { name: "from".into(), reason: "is required".into() })?;
        Ok(ComparedRevisions { from, to: found.parsed("to")? })
    }
}

fn parse_if_match(header: Option<&str>) -> Result<i64, ApiError> {
    let required = |detail: &str| ApiError::new(ProblemKind::IfMatchRequired, detail);
    let raw = header
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .ok_or_else(|| required("send If-Match with the entry's current version (its ETag) so that no one's edit is overwritten"))?;
    if raw == "*" {
        return Err(required("If-Match: * would overwrite blindly; send the entry's current version"));
    }
    raw.trim_matches('"')
        .parse::<i64>()
        .map_err(|_| ApiError::new(ProblemKind::InvalidIfMatch, format!("If-Match `{raw}` is not a version this API handed out")))
}

fn object_fields(fields: &Value) -> Result<&Value, ApiError> {
    if fields.is_object() {
        Ok(fields)
    } else {
        Err(ApiError::unprocessable(
            "fields must be a JSON object",
            vec![FieldProblem { pointer: "/fields".into(), detail: "expected an object of the type's fields".into() }],
        ))
    }
}

async fn find(state: &AppState, content_type: &ContentType, id_or_slug: &str) -> Result<EntryRecord, ApiError> {
    state
        .store
        .entry_record(&content_type.name, id_or_slug)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no {} with id or slug `{id_or_slug}`", content_type.name)))
}

/// The entry as it is now, as the answer to a change.
async fn current(state: &AppState, content_type: &ContentType, id: &str, locale: Locale) -> Result<EntryResponse, ApiError> {
    let entry = find(state, content_type, id).await?;
    let managed = managed_entry(state, &entry, locale).await?;
    Ok(EntryResponse::Ok(Json(managed), etag(entry.version)))
}

async fn managed_entry(state: &AppState, entry: &EntryRecord, locale: Locale) -> Result<ManagedEntry, ApiError> {
    let (revision, fields) = match entry.locale(locale) {
        Some(_) => {
            let newest = editing::newest(&state.store, entry, locale).await?;
            (newest.number, newest.document)
        }
        None => (0, Value::Object(Default::default())),
    };
    Ok(managed_view(entry, locale, revision, fields))
}

/// The editor's view of an entry, given the newest revision of the locale.
fn managed_view(entry: &EntryRecord, locale: Locale, revision: i32, fields: Value) -> ManagedEntry {
    let source_latest = entry.locale(Locale::SOURCE).map(|l| l.latest_number);
    let locales = entry
        .locales
        .iter()
        .map(|l| LocaleStatus {
            locale: l.locale.code().into(),
            state: l.state.code().into(),
            latest_revision: l.latest_number,
            published_revision: l.published_number,
            published_at: l.published_at,
            source_revision: l.source_number,
            outdated: !l.locale.is_source() && l.source_number.zip(source_latest).is_some_and(|(made_from, now)| made_from < now),
            review_comment: l.review_comment.clone(),
            publish_at: l.publish_at,
            scheduled_revision: l.scheduled_number,
            unpublish_at: l.unpublish_at,
            allowed_actions: l.state.allowed(l.published_number.is_some()).iter().map(|a| a.code().to_owned()).collect(),
        })
        .collect();
    ManagedEntry {
        id: entry.id.clone(),
        content_type: entry.content_type.clone(),
        slug: entry.slug.clone(),
        version: entry.version,
        created_at: entry.created_at,
        updated_at: entry.updated_at,
        trashed_at: entry.trashed_at,
        locale: locale.code().into(),
        revision,
        fields,
        locales,
    }
}

fn revision_info(revision: RevisionRecord, with_document: bool) -> RevisionInfo {
    RevisionInfo {
        locale: revision.locale.code().into(),
        number: revision.number,
        author: revision.author,
        message: revision.message,
        created_at: revision.created_at,
        source_revision: revision.source_number,
        fields: with_document.then_some(revision.document),
    }
}
