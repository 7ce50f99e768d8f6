//! The entry pages: the work list, creating, editing (with the version
//! check and a merge view when someone saved in between), workflow steps
//! and revision history.

use std::collections::HashSet;
use std::sync::Arc;

use bytes::Bytes;
use minijinja::context;
use poem::http::StatusCode;
use poem::web::{Data, Form, Path, Query};
use poem::{Request, Response, handler};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::form::{self, Choice, FormContext, Posted, ReferenceChoices};
use super::session::{Editor, encode_component, redirect};
use super::{Lang, error_page, pages};
use crate::content::diff::{ChangeKind, diff};
use crate::content::{ContentType, Locale, Violation};
use crate::http::AppState;
use crate::http::params;
use crate::http::problem::Problem;
use crate::render::template_value;
use crate::store::{EditError, EntryRecord, WorkListFilter, WorkListSort};
use crate::workflow::editing::{self, Actor, EditingError, Target, TrashStep};
use crate::workflow::{Action, Role, State};

const PAGE_SIZE: u64 = 50;
/// The work list's text filter takes at most this many entries the search index finds.
const SEARCH_MATCHES: usize = 500;
/// References offer at most this many entries of a type to pick from.
const REFERENCE_CHOICES: u64 = 5000;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(rename = "type")]
    content_type: Option<String>,
    state: Option<String>,
    q: Option<String>,
    /// `topic/<slug>` or `office/<slug>`.
    refers: Option<String>,
    outdated: Option<String>,
    overdue: Option<String>,
    conflict: Option<String>,
    trash: Option<String>,
    sort: Option<String>,
    page: Option<u64>,
}

#[derive(Serialize)]
struct ListedEntry {
    href: String,
    title: String,
    type_label: String,
    slug: String,
    updated: String,
    states: Vec<LocaleState>,
}

#[derive(Serialize)]
struct LocaleState {
    locale: &'static str,
    state: &'static str,
}

#[handler]
pub async fn list(request: &Request, state: Data<&AppState>, editor: Editor, Query(query): Query<ListQuery>) -> Response {
    let lang = editor.lang;
    let page = query.page.unwrap_or(1).max(1);
    let content_type = query.content_type.clone().filter(|t| state.registry.get(t).is_some());
    let found_by_search = match query.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        Some(text) => {
            let request = crate::search::SearchRequest {
                text,
                locale: Locale::SOURCE,
                content_type: content_type.as_deref(),
                topic: None,
                office: None,
                limit: SEARCH_MATCHES,
                offset: 0,
            };
            match state.search.search(&request, &state.synonyms) {
                Ok(results) => results.hits.into_iter().map(|hit| hit.entry_id).collect(),
                Err(error) => {
                    // The text filter still finds words as written.
                    tracing::warn!(%error, "searching for the work list failed");
                    Vec::new()
                }
            }
        }
        None => Vec::new(),
    };
    let filter = WorkListFilter {
        content_type,
        found_by_search,
        state: query.state.as_deref().and_then(|s| s.parse().ok()),
        trash: query.trash.is_some(),
        text: query.q.clone(),
        refers_to: query.refers.as_deref().and_then(|r| r.split_once('/')).map(|(t, s)| (t.to_owned(), s.to_owned())),
        outdated_translation: query.outdated.is_some(),
        upstream_conflict: query.conflict.is_some(),
        review_overdue: if query.overdue.is_some() { crate::quality::review_cutoffs(&state.registry, chrono::Utc::now()) } else { Vec::new() },
        sort: if query.sort.as_deref() == Some("slug") { WorkListSort::Slug } else { WorkListSort::Updated },
        offset: (page - 1) * PAGE_SIZE,
        limit: PAGE_SIZE,
    };
    let result = async {
        let found = state.store.work_list(&filter).await?;
        let refers_choices = [reference_choices(&state, "topic").await?, reference_choices(&state, "office").await?];
        Ok::<_, EditingError>((found, refers_choices))
    }
    .await;
    let (found, [topics, offices]) = match result {
        Ok(found) => found,
        Err(error) => return failed(lang, error),
    };
    let items: Vec<ListedEntry> = found
        .items
        .iter()
        .map(|item| {
            let content_type = state.registry.get(&item.content_type);
            ListedEntry {
                href: entry_href(&item.content_type, &item.slug, Locale::SOURCE),
                title: content_type.and_then(|ct| item.source_document.get(ct.title_field())).and_then(Value::as_str).unwrap_or(&item.slug).to_owned(),
                type_label: content_type.map(|ct| type_label(ct, lang)).unwrap_or_else(|| item.content_type.clone()),
                slug: item.slug.clone(),
                updated: item.updated_at.format("%Y-%m-%d %H:%M UTC").to_string(),
                states: item.states.iter().map(|(locale, state)| LocaleState { locale: locale.code(), state: state.code() }).collect(),
            }
        })
        .collect();
    let pages = found.total.div_ceil(PAGE_SIZE).max(1);
    let query_without_page =
        request.original_uri().query().unwrap_or_default().split('&').filter(|p| !p.starts_with("page=") && !p.is_empty()).collect::<Vec<_>>().join("&");
    let page_href = |number: u64| format!("/admin/entries?{query_without_page}{}page={number}", if query_without_page.is_empty() { "" } else { "&" });
    let view = context! {
        here => request.original_uri().to_string(),
        items => template_value(&items),
        total => found.total,
        page,
        pages,
        previous => (page > 1).then(|| page_href(page - 1)),
        next => (page < pages).then(|| page_href(page + 1)),
        types => template_value(&type_choices(&state, lang)),
        states => State::ALL.iter().map(|s| s.code()).collect::<Vec<_>>(),
        topics => template_value(&topics),
        offices => template_value(&offices),
        filter => context! {
            content_type => query.content_type, state => query.state, q => query.q, refers => query.refers,
            outdated => query.outdated.is_some(), overdue => query.overdue.is_some(), conflict => query.conflict.is_some(), trash => query.trash.is_some(),
            sort => query.sort.unwrap_or_else(|| "updated".into()),
        },
    };
    page_response(StatusCode::OK, "list.html", &editor, view)
}

#[derive(Deserialize)]
pub struct NewQuery {
    #[serde(rename = "type")]
    content_type: Option<String>,
}

#[handler]
pub async fn new_form(request: &Request, state: Data<&AppState>, editor: Editor, Query(query): Query<NewQuery>) -> Response {
    let Some(content_type) = query.content_type.as_deref().and_then(|t| state.registry.get(t)).cloned() else {
        let view = context! { here => request.original_uri().to_string(), types => template_value(&type_choices(&state, editor.lang)) };
        return page_response(StatusCode::OK, "new.html", &editor, view);
    };
    new_entry_page(&state, &editor, &content_type, "", &json!({}), &[], StatusCode::OK).await
}

#[handler]
pub async fn create(request: &Request, state: Data<&AppState>, editor: Editor, Query(query): Query<NewQuery>, body: Bytes) -> Response {
    let posted = match posted_form(&editor, &body) {
        Ok(posted) => posted,
        Err((status, message)) => return error_page(status, editor.lang, &message),
    };
    let Some(content_type) = query.content_type.as_deref().and_then(|t| state.registry.get(t)).cloned() else {
        return error_page(StatusCode::NOT_FOUND, editor.lang, "unknown content type");
    };
    let slug = posted.control("_slug").unwrap_or_default().trim().to_owned();
    let (mut document, unreadable, list_changed) = match read_entry_form(&content_type, &posted) {
        Ok(read) => read,
        Err(error) => return error_page(StatusCode::BAD_REQUEST, editor.lang, &error.to_string()),
    };
    if list_changed {
        return new_entry_page(&state, &editor, &content_type, &slug, &document, &[], StatusCode::OK).await;
    }
    if !unreadable.is_empty() {
        return new_entry_page(&state, &editor, &content_type, &slug, &document, &unreadable, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    form::without_empty_items(&mut document, false);
    let message = posted.control("_message").map(str::trim).filter(|m| !m.is_empty());
    match editing::create(&state.store, &content_type, &slug, &document, message, &actor(request, &editor)).await {
        Ok(entry) => redirect(&format!("{}&done=saved", entry_href(&entry.content_type, &entry.slug, Locale::SOURCE))),
        Err(EditingError::InvalidSlug(_)) => {
            let problem = Violation { pointer: "/_slug".into(), message: pages::word(editor.lang, "slug_rule"), missing: false };
            new_entry_page(&state, &editor, &content_type, &slug, &document, &[problem], StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(EditingError::Edit(EditError::SlugTaken(_))) => {
            let problem = Violation { pointer: "/_slug".into(), message: pages::word(editor.lang, "slug_taken"), missing: false };
            new_entry_page(&state, &editor, &content_type, &slug, &document, &[problem], StatusCode::CONFLICT).await
        }
        Err(EditingError::Invalid { violations, .. }) => {
            new_entry_page(&state, &editor, &content_type, &slug, &document, &violations, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(error) => failed(editor.lang, error),
    }
}

async fn new_entry_page(
    state: &AppState,
    editor: &Editor,
    content_type: &ContentType,
    slug: &str,
    document: &Value,
    errors: &[Violation],
    status: StatusCode,
) -> Response {
    let references = match all_reference_choices(state, content_type).await {
        Ok(references) => references,
        Err(error) => return failed(editor.lang, error),
    };
    let fields = form::fields(content_type, document, &FormContext { errors, source: None, references: &references });
    let view = context! {
        here => format!("/admin/entries/new?type={}", content_type.name),
        action => format!("/admin/entries/new?type={}", content_type.name),
        type_name => content_type.name.clone(),
        type_label => type_label(content_type, editor.lang),
        slug,
        slug_error => errors.iter().find(|v| v.pointer == "/_slug").map(|v| v.message.clone()),
        fields => template_value(&fields),
        errors => template_value(&error_summary(content_type, errors)),
    };
    page_response(status, "new.html", editor, view)
}

#[derive(Deserialize)]
pub struct EntryQuery {
    locale: Option<String>,
    done: Option<String>,
}

#[handler]
pub async fn edit(state: Data<&AppState>, editor: Editor, Path((content_type, slug)): Path<(String, String)>, Query(query): Query<EntryQuery>) -> Response {
    let (content_type, entry, locale) = match resolve(&state, &editor, &content_type, &slug, query.locale.as_deref()).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let document = match entry.locale(locale) {
        Some(_) => match editing::newest(&state.store, &entry, locale).await {
            Ok(revision) => revision.document,
            Err(error) => return failed(editor.lang, error),
        },
        None => json!({}),
    };
    let shown = Shown { document: &document, errors: &[], conflict: None, message: None, done: query.done.as_deref(), version: entry.version };
    entry_page(&state, &editor, &content_type, &entry, locale, shown, StatusCode::OK).await
}

#[handler]
pub async fn save(
    request: &Request,
    state: Data<&AppState>,
    editor: Editor,
    Path((content_type, slug)): Path<(String, String)>,
    Query(query): Query<EntryQuery>,
    body: Bytes,
) -> Response {
    let posted = match posted_form(&editor, &body) {
        Ok(posted) => posted,
        Err((status, message)) => return error_page(status, editor.lang, &message),
    };
    let (content_type, entry, locale) = match resolve(&state, &editor, &content_type, &slug, query.locale.as_deref()).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let translating = !locale.is_source();
    let (mut document, unreadable, list_changed) = match read_entry_form(&content_type, &posted) {
        Ok(read) => read,
        Err(error) => return error_page(StatusCode::BAD_REQUEST, editor.lang, &error.to_string()),
    };
    let version = posted.control("_version").and_then(|v| v.parse::<i64>().ok()).unwrap_or(entry.version);
    if list_changed {
        return entry_page(&state, &editor, &content_type, &entry, locale, Shown::form(&document, &[], version), StatusCode::OK).await;
    }
    if !unreadable.is_empty() {
        return entry_page(&state, &editor, &content_type, &entry, locale, Shown::form(&document, &unreadable, version), StatusCode::UNPROCESSABLE_ENTITY)
            .await;
    }
    form::without_empty_items(&mut document, translating);
    let message = posted.control("_message").map(str::trim).filter(|m| !m.is_empty());
    match editing::save(&state.store, Target { content_type: &content_type, entry: &entry, locale }, version, &document, message, &actor(request, &editor))
        .await
    {
        Ok((entry, _)) => redirect(&format!("{}&done=saved", entry_href(&entry.content_type, &entry.slug, locale))),
        Err(EditingError::Invalid { violations, .. }) => {
            entry_page(&state, &editor, &content_type, &entry, locale, Shown::form(&document, &violations, version), StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(EditingError::Edit(EditError::VersionConflict { current, .. })) => {
            // Someone saved in between: keep this editor's text in the form,
            // show what the other saved, and let the next save build on it.
            let theirs = match editing::newest(&state.store, &entry, locale).await {
                Ok(revision) => Some(revision),
                Err(EditingError::NoLocale { .. }) => None,
                Err(error) => return failed(editor.lang, error),
            };
            let conflict = Conflict {
                version: current,
                author: theirs.as_ref().map(|r| r.author.clone()).unwrap_or_default(),
                changes: changes_between(&content_type, theirs.as_ref().map_or(&Value::Null, |r| &r.document), &document),
            };
            let shown = Shown { document: &document, errors: &[], conflict: Some(conflict), message: None, done: None, version: current };
            entry_page(&state, &editor, &content_type, &entry, locale, shown, StatusCode::CONFLICT).await
        }
        Err(error) => failed(editor.lang, error),
    }
}

#[derive(Deserialize)]
pub struct WorkflowForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
    action: String,
    comment: Option<String>,
}

#[handler]
pub async fn workflow(
    request: &Request,
    state: Data<&AppState>,
    editor: Editor,
    Path((content_type, slug)): Path<(String, String)>,
    Query(query): Query<EntryQuery>,
    Form(form): Form<WorkflowForm>,
) -> Response {
    if let Err(error) = editor.check_csrf(form.csrf.as_deref()) {
        return error_page(StatusCode::FORBIDDEN, editor.lang, &error.to_string());
    }
    let (content_type, entry, locale) = match resolve(&state, &editor, &content_type, &slug, query.locale.as_deref()).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let Some(step) = WorkflowStep::parse(&form.action) else {
        return error_page(StatusCode::FORBIDDEN, editor.lang, &pages::word(editor.lang, "not_allowed"));
    };
    if let Err(refused) = editor.principal.require(step.required_role()) {
        return editor.refused(&refused);
    }
    let result = match step {
        WorkflowStep::Transition(action) => {
            editing::transition(
                &state.store,
                Target { content_type: &content_type, entry: &entry, locale },
                action,
                None,
                form.comment.as_deref(),
                &actor(request, &editor),
            )
            .await
        }
        WorkflowStep::Trash(trash) => editing::trash(&state.store, &entry, trash, &actor(request, &editor)).await,
    };
    match result {
        Ok(()) if step == WorkflowStep::Trash(TrashStep::DeleteForever) => redirect("/admin/entries?trash=1&done=deleted"),
        Ok(()) => redirect(&format!("{}&done={}", entry_href(&entry.content_type, &entry.slug, locale), form.action)),
        Err(error) => {
            let (errors, message) = match error {
                EditingError::Invalid { what, violations } => (violations, what.to_owned()),
                other => (Vec::new(), other.to_string()),
            };
            let document = match editing::newest(&state.store, &entry, locale).await {
                Ok(revision) => revision.document,
                Err(_) => json!({}),
            };
            let shown = Shown { document: &document, errors: &errors, conflict: None, message: Some(message), done: None, version: entry.version };
            entry_page(&state, &editor, &content_type, &entry, locale, shown, StatusCode::CONFLICT).await
        }
    }
}

/// What the workflow form may ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WorkflowStep {
    Transition(Action),
    Trash(TrashStep),
}

impl WorkflowStep {
    fn parse(code: &str) -> Option<WorkflowStep> {
        Some(match code {
            "trash" => WorkflowStep::Trash(TrashStep::Trash),
            "untrash" => WorkflowStep::Trash(TrashStep::Restore),
            "delete" => WorkflowStep::Trash(TrashStep::DeleteForever),
            other => WorkflowStep::Transition(other.parse().ok()?),
        })
    }

    fn required_role(self) -> Role {
        match self {
            WorkflowStep::Transition(action) => action.required_role(),
            WorkflowStep::Trash(TrashStep::DeleteForever) => Role::Admin,
            WorkflowStep::Trash(_) => Role::Publisher,
        }
    }
}

#[derive(Deserialize)]
pub struct ScheduleForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
    /// `datetime-local` values, in the site's time zone; empty for none.
    publish_at: Option<String>,
    unpublish_at: Option<String>,
}

/// Publishing and withdrawal at set times, entered in the site's time zone.
#[handler]
pub async fn schedule(
    request: &Request,
    state: Data<&AppState>,
    editor: Editor,
    Path((content_type, slug)): Path<(String, String)>,
    Query(query): Query<EntryQuery>,
    Form(form): Form<ScheduleForm>,
) -> Response {
    if let Err(error) = editor.check_csrf(form.csrf.as_deref()) {
        return error_page(StatusCode::FORBIDDEN, editor.lang, &error.to_string());
    }
    let (content_type, entry, locale) = match resolve(&state, &editor, &content_type, &slug, query.locale.as_deref()).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let zone = state.site.time_zone();
    let mut errors = Vec::new();
    let mut moment = |field: &str, text: Option<&str>| match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => None,
        Some(text) => match local_time(zone, text) {
            Some(at) => Some(at),
            None => {
                errors.push(Violation {
                    pointer: format!("/_{field}"),
                    message: format!("`{text}` {}", pages::word(editor.lang, "not_a_time")),
                    missing: false,
                });
                None
            }
        },
    };
    let publish_at = moment("publish_at", form.publish_at.as_deref());
    let unpublish_at = moment("unpublish_at", form.unpublish_at.as_deref());
    let result = if errors.is_empty() {
        editing::schedule(
            &state.store,
            Target { content_type: &content_type, entry: &entry, locale },
            publish_at.map(|at| (at, None)),
            unpublish_at,
            &actor(request, &editor),
        )
        .await
    } else {
        Ok(())
    };
    let message = match result {
        Ok(()) if errors.is_empty() => return redirect(&format!("{}&done=schedule", entry_href(&entry.content_type, &entry.slug, locale))),
        Ok(()) => pages::word(editor.lang, "step_failed"),
        Err(EditingError::ScheduleEndsBeforeStart) => {
            errors.push(Violation { pointer: "/_unpublish_at".into(), message: pages::word(editor.lang, "schedule_ends_before_start"), missing: false });
            pages::word(editor.lang, "step_failed")
        }
        Err(EditingError::Invalid { what, violations }) => {
            errors.extend(violations);
            what.to_owned()
        }
        Err(error) => error.to_string(),
    };
    let document = editing::newest(&state.store, &entry, locale).await.map(|r| r.document).unwrap_or_else(|_| json!({}));
    let shown = Shown { document: &document, errors: &errors, conflict: None, message: Some(message), done: None, version: entry.version };
    entry_page(&state, &editor, &content_type, &entry, locale, shown, StatusCode::UNPROCESSABLE_ENTITY).await
}

/// A `datetime-local` value in `zone` as a moment; none for text that is
/// no such value or a local time the clock change skips.
fn local_time(zone: chrono_tz::Tz, text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    use chrono::TimeZone;
    let naive = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"].iter().find_map(|format| chrono::NaiveDateTime::parse_from_str(text, format).ok())?;
    Some(zone.from_local_datetime(&naive).earliest()?.with_timezone(&chrono::Utc))
}

/// A moment as a `datetime-local` value in `zone`.
fn local_value(zone: chrono_tz::Tz, at: chrono::DateTime<chrono::Utc>) -> String {
    at.with_timezone(&zone).format("%Y-%m-%dT%H:%M").to_string()
}

#[derive(Deserialize)]
pub struct HistoryQuery {
    locale: Option<String>,
    /// Show the changes of this revision against the one before.
    show: Option<i32>,
}

#[derive(Serialize)]
struct RevisionRow {
    number: i32,
    author: String,
    message: String,
    created: String,
    published: bool,
}

#[handler]
pub async fn history(
    state: Data<&AppState>,
    editor: Editor,
    Path((content_type, slug)): Path<(String, String)>,
    Query(query): Query<HistoryQuery>,
) -> Response {
    let (content_type, entry, locale) = match resolve(&state, &editor, &content_type, &slug, query.locale.as_deref()).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let revisions = match state.store.revisions(&entry.id, locale).await {
        Ok(revisions) => revisions,
        Err(error) => return failed(editor.lang, error),
    };
    let published = entry.locale(locale).and_then(|l| l.published_number);
    let shown = query.show.or(revisions.first().map(|r| r.number));
    let mut changes = Vec::new();
    if let Some(number) = shown {
        let newer = revisions.iter().find(|r| r.number == number);
        let older = revisions.iter().find(|r| r.number < number);
        if let Some(newer) = newer {
            changes = changes_between(&content_type, older.map_or(&Value::Null, |r| &r.document), &newer.document);
        }
    }
    let rows: Vec<RevisionRow> = revisions
        .iter()
        .map(|r| RevisionRow {
            number: r.number,
            author: r.author.clone(),
            message: r.message.clone(),
            created: r.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            published: Some(r.number) == published,
        })
        .collect();
    let view = context! {
        here => format!("/admin/entries/{}/{}/history?locale={}", entry.content_type, entry.slug, locale.code()),
        entry_href => entry_href(&entry.content_type, &entry.slug, locale),
        restore_action => format!("/admin/entries/{}/{}/restore?locale={}", entry.content_type, entry.slug, locale.code()),
        title => title_of(&state, &content_type, &entry).await,
        locale => locale.code(),
        version => entry.version,
        revisions => template_value(&rows),
        shown,
        changes => template_value(&changes),
        may_edit => editor.may(Role::Editor),
    };
    page_response(StatusCode::OK, "history.html", &editor, view)
}

#[derive(Deserialize)]
pub struct RestoreForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
    #[serde(rename = "_version")]
    version: i64,
    number: i32,
}

#[handler]
pub async fn restore(
    request: &Request,
    state: Data<&AppState>,
    editor: Editor,
    Path((content_type, slug)): Path<(String, String)>,
    Query(query): Query<EntryQuery>,
    Form(form): Form<RestoreForm>,
) -> Response {
    if let Err(error) = editor.check_csrf(form.csrf.as_deref()) {
        return error_page(StatusCode::FORBIDDEN, editor.lang, &error.to_string());
    }
    let (content_type, entry, locale) = match resolve(&state, &editor, &content_type, &slug, query.locale.as_deref()).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    match editing::restore_revision(
        &state.store,
        Target { content_type: &content_type, entry: &entry, locale },
        form.number,
        form.version,
        &actor(request, &editor),
    )
    .await
    {
        Ok((entry, _, _)) => redirect(&format!("{}&done=restored", entry_href(&entry.content_type, &entry.slug, locale))),
        Err(EditingError::Edit(EditError::VersionConflict { .. })) => {
            error_page(StatusCode::CONFLICT, editor.lang, &pages::word(editor.lang, "changed_meanwhile"))
        }
        Err(error) => failed(editor.lang, error),
    }
}

#[derive(Deserialize)]
pub struct PreviewForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
    text: String,
}

/// Markdown as the channels will show it (sanitised), for the live preview.
#[handler]
pub fn markdown_preview(editor: Editor, Form(form): Form<PreviewForm>) -> Response {
    if editor.check_csrf(form.csrf.as_deref()).is_err() {
        return Response::builder().status(StatusCode::FORBIDDEN).finish();
    }
    Response::builder().content_type("text/html; charset=utf-8").body(crate::render::markdown::to_html(&form.text))
}

/// An entry form's post, within the form's bounds and with this session's CSRF token.
fn posted_form(editor: &Editor, body: &[u8]) -> Result<Posted, (StatusCode, String)> {
    let posted = Posted::from_body(body).map_err(|error| (StatusCode::BAD_REQUEST, error.to_string()))?;
    editor.check_csrf(posted.control("_csrf")).map_err(|error| (StatusCode::FORBIDDEN, error.to_string()))?;
    Ok(posted)
}

/// The document a posted entry form describes, what could not be read in
/// it, and whether it asked for a list to grow or shrink (done) rather
/// than to be saved.
fn read_entry_form(content_type: &ContentType, posted: &Posted) -> Result<(Value, Vec<Violation>, bool), form::FormError> {
    let (mut document, unreadable) = form::read(content_type, posted)?;
    let list_action = posted.control("_action").filter(|action| *action != "save");
    if let Some(action) = list_action {
        form::apply_list_action(content_type, &mut document, action)?;
    }
    Ok((document, unreadable, list_action.is_some()))
}

/// What an entry page shows besides the entry itself.
struct Shown<'a> {
    document: &'a Value,
    errors: &'a [Violation],
    conflict: Option<Conflict>,
    /// Why the last step failed.
    message: Option<String>,
    /// The step that just succeeded.
    done: Option<&'a str>,
    /// The version the next save builds on.
    version: i64,
}

impl<'a> Shown<'a> {
    /// A form shown again as posted, with what was wrong in it.
    fn form(document: &'a Value, errors: &'a [Violation], version: i64) -> Shown<'a> {
        Shown { document, errors, conflict: None, message: None, done: None, version }
    }
}

#[derive(Serialize)]
struct Conflict {
    version: i64,
    author: String,
    changes: Vec<ShownChange>,
}

#[derive(Serialize)]
struct ShownChange {
    field: String,
    kind: &'static str,
    before: String,
    after: String,
    line_diff: Option<String>,
}

fn changes_between(content_type: &ContentType, before: &Value, after: &Value) -> Vec<ShownChange> {
    let shown = |value: Option<Value>| match value {
        None => String::new(),
        Some(Value::String(text)) => text,
        Some(other) => serde_json::to_string_pretty(&other).unwrap_or_default(),
    };
    diff(before, after)
        .into_iter()
        .map(|change| ShownChange {
            field: form::label_of(content_type, &change.pointer),
            kind: match change.kind {
                ChangeKind::Added => "added",
                ChangeKind::Removed => "removed",
                ChangeKind::Changed => "changed",
            },
            before: shown(change.before),
            after: shown(change.after),
            line_diff: change.line_diff,
        })
        .collect()
}

#[derive(Serialize)]
struct LocaleTab {
    code: &'static str,
    href: String,
    state: Option<&'static str>,
    current: bool,
    outdated: bool,
}

async fn entry_page(
    state: &AppState,
    editor: &Editor,
    content_type: &ContentType,
    entry: &EntryRecord,
    locale: Locale,
    shown: Shown<'_>,
    status: StatusCode,
) -> Response {
    let lang = editor.lang;
    let source = if locale.is_source() {
        None
    } else {
        match editing::newest(&state.store, entry, Locale::SOURCE).await {
            Ok(revision) => Some(revision.document),
            Err(error) => return failed(lang, error),
        }
    };
    let references = match all_reference_choices(state, content_type).await {
        Ok(references) => references,
        Err(error) => return failed(lang, error),
    };
    let fields = form::fields(content_type, shown.document, &FormContext { errors: shown.errors, source: source.as_ref(), references: &references });
    let source_latest = entry.locale(Locale::SOURCE).map(|l| l.latest_number);
    let tabs: Vec<LocaleTab> = Locale::ALL
        .iter()
        .map(|&l| {
            let record = entry.locale(l);
            LocaleTab {
                code: l.code(),
                href: entry_href(&entry.content_type, &entry.slug, l),
                state: record.map(|r| r.state.code()),
                current: l == locale,
                outdated: !l.is_source() && record.and_then(|r| r.source_number).zip(source_latest).is_some_and(|(from, now)| from < now),
            }
        })
        .collect();
    let record = entry.locale(locale);
    let actions: Vec<&str> = if entry.trashed_at.is_some() {
        if editor.may(Role::Admin) {
            vec!["untrash", "delete"]
        } else if editor.may(Role::Publisher) {
            vec!["untrash"]
        } else {
            vec![]
        }
    } else {
        let mut actions: Vec<&str> = record
            .map(|r| r.state.allowed(r.published_number.is_some()))
            .unwrap_or_default()
            .into_iter()
            .filter(|action| editor.may(action.required_role()))
            .map(Action::code)
            .collect();
        if editor.may(Role::Publisher) {
            actions.push("trash");
        }
        actions
    };
    let base = format!("/admin/entries/{}/{}", entry.content_type, entry.slug);
    let zone = state.site.time_zone();
    let error_at = |pointer: &str| shown.errors.iter().find(|v| v.pointer == pointer).map(|v| v.message.clone());
    let scheduling = context! {
        action => format!("{base}/schedule?locale={}", locale.code()),
        allowed => editor.may(Role::Publisher) && entry.trashed_at.is_none() && record.is_some(),
        publish_at => record.and_then(|r| r.publish_at).map(|at| local_value(zone, at)),
        unpublish_at => record.and_then(|r| r.unpublish_at).map(|at| local_value(zone, at)),
        publish_at_error => error_at("/_publish_at"),
        unpublish_at_error => error_at("/_unpublish_at"),
        time_zone => zone.name(),
    };
    let view = context! {
        schedule => scheduling,
        here => format!("{base}?locale={}", locale.code()),
        action => format!("{base}?locale={}", locale.code()),
        workflow_action => format!("{base}/workflow?locale={}", locale.code()),
        history_href => format!("{base}/history?locale={}", locale.code()),
        preview_href => format!("/preview/{}/{}/{}/", locale.code(), entry.content_type, entry.slug),
        title => title_of(state, content_type, entry).await,
        type_label => type_label(content_type, lang),
        slug => entry.slug.clone(),
        locale => locale.code(),
        translating => !locale.is_source(),
        state => record.map(|r| r.state.code()),
        review_comment => record.and_then(|r| r.review_comment.clone()),
        trashed => entry.trashed_at.is_some(),
        tabs => template_value(&tabs),
        fields => template_value(&fields),
        version => shown.version,
        actions => template_value(&actions),
        may_edit => editor.may(Role::Editor) && entry.trashed_at.is_none(),
        errors => template_value(&error_summary(content_type, shown.errors)),
        conflict => template_value(&shown.conflict),
        message => shown.message,
        done => shown.done,
    };
    page_response(status, "edit.html", editor, view)
}

#[derive(Serialize)]
struct ErrorLink {
    id: String,
    field: String,
    message: String,
}

/// The list of problems above a form, each linking to its field.
fn error_summary(content_type: &ContentType, errors: &[Violation]) -> Vec<ErrorLink> {
    errors
        .iter()
        .map(|v| ErrorLink {
            id: format!("f{}", v.pointer.replace(['/', '~'], "-")),
            field: form::label_of(content_type, &v.pointer),
            message: v.message.clone(),
        })
        .collect()
}

/// The type, entry and locale a request names; a page saying why not
/// when one of them does not exist.
async fn resolve(
    state: &AppState,
    editor: &Editor,
    content_type: &str,
    slug: &str,
    locale: Option<&str>,
) -> Result<(Arc<ContentType>, EntryRecord, Locale), Response> {
    let content_type = state.registry.get(content_type).cloned().ok_or_else(|| not_found(editor.lang))?;
    let locale = params::locale(locale).map_err(|error| failed(editor.lang, error))?;
    match state.store.entry_record(&content_type.name, slug).await {
        Ok(Some(entry)) => Ok((content_type, entry, locale)),
        Ok(None) => Err(not_found(editor.lang)),
        Err(error) => Err(failed(editor.lang, error)),
    }
}

async fn title_of(state: &AppState, content_type: &ContentType, entry: &EntryRecord) -> String {
    editing::newest(&state.store, entry, Locale::SOURCE)
        .await
        .ok()
        .and_then(|revision| revision.document.get(content_type.title_field()).and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| entry.slug.clone())
}

/// The entries each reference of the type may point to.
async fn all_reference_choices(state: &AppState, content_type: &ContentType) -> Result<ReferenceChoices, EditingError> {
    let targets: HashSet<&str> = content_type.references.iter().map(|r| r.target_type.as_str()).collect();
    let mut choices = ReferenceChoices::new();
    for target in targets {
        choices.insert(target.to_owned(), reference_choices(state, target).await?);
    }
    Ok(choices)
}

async fn reference_choices(state: &AppState, content_type: &str) -> Result<Vec<Choice>, EditingError> {
    let Some(target) = state.registry.get(content_type) else { return Ok(Vec::new()) };
    let filter =
        WorkListFilter { content_type: Some(content_type.to_owned()), sort: WorkListSort::Slug, limit: REFERENCE_CHOICES, ..WorkListFilter::default() };
    let found = state.store.work_list(&filter).await?;
    Ok(found
        .items
        .into_iter()
        .map(|item| {
            let title = item.source_document.get(target.title_field()).and_then(Value::as_str).unwrap_or(&item.slug).to_owned();
            Choice { label: format!("{title} ({})", item.slug), value: item.slug }
        })
        .collect())
}

#[derive(Serialize)]
struct TypeChoice {
    name: String,
    label: String,
}

fn type_choices(state: &AppState, lang: Lang) -> Vec<TypeChoice> {
    state.registry.iter().map(|ct| TypeChoice { name: ct.name.clone(), label: type_label(ct, lang) }).collect()
}

fn type_label(content_type: &ContentType, lang: Lang) -> String {
    content_type.schema.pointer(&format!("/x-label/{}", lang.code())).and_then(Value::as_str).unwrap_or(&content_type.name).to_owned()
}

pub(super) fn entry_href(content_type: &str, slug: &str, locale: Locale) -> String {
    format!("/admin/entries/{}/{}?locale={}", encode_component(content_type), encode_component(slug), locale.code())
}

fn actor(request: &Request, editor: &Editor) -> Actor {
    Actor { author: editor.principal.author(), request_id: crate::http::request_id::of(request) }
}

pub(super) fn page_response(status: StatusCode, template: &str, editor: &Editor, view: minijinja::Value) -> Response {
    match pages::render(template, editor.lang, Some(editor), view) {
        Ok(html) => Response::builder().status(status).content_type("text/html; charset=utf-8").body(html.0),
        Err(error) => {
            tracing::error!(%error, template, "rendering an editor page failed");
            error_page(StatusCode::INTERNAL_SERVER_ERROR, editor.lang, &error.to_string())
        }
    }
}

/// An error no form shows: a page saying what went wrong, with the
/// status the management API answers the same error with.
fn failed(lang: Lang, error: impl Into<Problem>) -> Response {
    let problem = error.into();
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    error_page(status, lang, problem.detail.as_deref().unwrap_or_default())
}

fn not_found(lang: Lang) -> Response {
    error_page(StatusCode::NOT_FOUND, lang, &pages::word(lang, "not_found"))
}
