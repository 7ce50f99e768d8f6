//! RFC 9457 problem details: the one shape of every error response, and
//! the one place where the typed errors of the other modules become one.

use poem::Response;
use poem::http::StatusCode;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};

use super::params::ParamError;
use crate::content::Violation;
use crate::partner::SyncError;
use crate::store::{EditError, StoreError};
use crate::workflow::editing::EditingError;

/// Declares every kind of problem once: its status, the slug of its `type`
/// (`/problems/<slug>`, where the explanation is served) and its title.
macro_rules! problem_kinds {
    ($($kind:ident => $status:ident, $slug:literal, $title:literal, $explanation:literal;)*) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum ProblemKind {
            $($kind,)*
        }

        impl ProblemKind {
            pub const ALL: &[ProblemKind] = &[$(ProblemKind::$kind,)*];

            pub fn status(self) -> StatusCode {
                match self {
                    $(ProblemKind::$kind => StatusCode::$status,)*
                }
            }

            pub fn slug(self) -> &'static str {
                match self {
                    $(ProblemKind::$kind => $slug,)*
                }
            }

            pub fn title(self) -> &'static str {
                match self {
                    $(ProblemKind::$kind => $title,)*
                }
            }

            /// What the problem means and what to do about it.
            pub fn explanation(self) -> &'static str {
                match self {
                    $(ProblemKind::$kind => $explanation,)*
                }
            }
        }
    };
}

problem_kinds! {
    BadRequest => BAD_REQUEST, "bad-request", "Bad request",
        "A parameter, header or body could not be read as the API document describes it. The detail names what.";
    UnknownLocale => BAD_REQUEST, "unknown-locale", "Unknown locale",
        "The locale is not one the content is written in. Use de, en or de-x-ls (Leichte Sprache), or leave it out.";
    UnknownType => BAD_REQUEST, "unknown-type", "Unknown content type",
        "The content type named in the query does not exist. The detail lists the known types.";
    InvalidLimit => BAD_REQUEST, "invalid-limit", "Invalid limit",
        "A page holds at least one item. A limit above a list's maximum is served as the maximum; the detail names it.";
    InvalidCursor => BAD_REQUEST, "invalid-cursor", "Invalid cursor",
        "The cursor was not handed out by this list. Cursors are opaque and belong to one list: pass next_cursor of the previous page unchanged, or start again without one.";
    InvalidExpand => BAD_REQUEST, "invalid-expand", "Invalid expansion",
        "expand names reference fields of the type, their target types, all, or referenced_by (single entries only). The detail lists what this type offers.";
    InvalidIfMatch => BAD_REQUEST, "invalid-if-match", "Invalid If-Match",
        "If-Match must carry the entry's version as its ETag gave it, e.g. \"7\".";
    Unauthorized => UNAUTHORIZED, "unauthorized", "Unauthorized",
        "The request needs a valid token as Authorization: Bearer …; it is missing, unknown, expired or revoked.";
    Forbidden => FORBIDDEN, "forbidden", "Forbidden",
        "The token's role does not allow this. The detail names the role needed.";
    CorsRefused => FORBIDDEN, "cors-refused", "Origin not allowed",
        "Pages of this origin may not read the API from a browser. The server's operators name the allowed origins.";
    NotFound => NOT_FOUND, "not-found", "Not found",
        "There is nothing at this address: no such content type, entry, revision, route or file.";
    SlugTaken => CONFLICT, "slug-taken", "Slug taken",
        "Another entry of the type has this slug. Choose another one.";
    TransitionNotAllowed => CONFLICT, "transition-not-allowed", "Transition not allowed",
        "The workflow does not allow this action from the locale's current state. allowed_actions lists the actions allowed now.";
    StaleRevision => CONFLICT, "stale-revision", "Stale revision",
        "A newer revision exists than the one reviewed. Review the newest revision, then publish it.";
    SourceNotPublished => CONFLICT, "source-not-published", "Source not published",
        "A translation is published after its German source. Publish the German source first.";
    InTrash => CONFLICT, "in-trash", "Entry in the trash",
        "The entry is in the trash. Restore it before changing it.";
    NotInTrash => CONFLICT, "not-in-trash", "Entry not in the trash",
        "Only an entry in the trash can be restored from it or deleted for good.";
    PartnerExists => CONFLICT, "partner-exists", "Partner exists",
        "A partner of this name is subscribed already.";
    BundleRefused => CONFLICT, "bundle-refused", "Bundle refused",
        "The partner's bundle comes from another municipality than before, or is older than the one applied. Nothing was applied.";
    VersionConflict => PRECONDITION_FAILED, "version-conflict", "Version conflict",
        "Someone saved the entry since the version named in If-Match. current_version is its version now: fetch it, merge your edit and send again with If-Match of that version.";
    PayloadTooLarge => PAYLOAD_TOO_LARGE, "payload-too-large", "Payload too large",
        "The request body is larger than the server accepts. The detail names the limit.";
    InvalidDocument => UNPROCESSABLE_ENTITY, "invalid-document", "Invalid document",
        "The request body breaks its schema, or the document is not complete enough for what was asked. errors locates every problem by JSON pointer.";
    BundleRejected => UNPROCESSABLE_ENTITY, "bundle-rejected", "Bundle rejected",
        "The partner's bundle failed verification. Nothing was applied; the detail lists every problem.";
    IfMatchRequired => PRECONDITION_REQUIRED, "if-match-required", "If-Match required",
        "Changes need If-Match with the entry's current version (its ETag), so that no one's edit is overwritten unseen.";
    TooManyRequests => TOO_MANY_REQUESTS, "too-many-requests", "Too many requests",
        "This client address sent more requests a minute than allowed. Retry-After says when to try again.";
    HeadersTooLarge => REQUEST_HEADER_FIELDS_TOO_LARGE, "headers-too-large", "Headers too large",
        "The request's headers are larger than the server accepts.";
    // Answered with the status poem reports (405, 415, …).
    Http => BAD_REQUEST, "http", "HTTP error",
        "The request could not be served as sent, e.g. with a method the address does not offer. The status code says why.";
    Internal => INTERNAL_SERVER_ERROR, "internal", "Internal error",
        "Something failed on the server. It is logged with the request id of the response's X-Request-Id header; name it when you report the problem.";
    BadGateway => BAD_GATEWAY, "bad-gateway", "Bad gateway",
        "A server this one fetches from (a partner's bundle) could not be reached or answered with an error.";
    Unavailable => SERVICE_UNAVAILABLE, "unavailable", "Unavailable",
        "The server cannot answer right now: its database does not answer or it is not ready yet. Try again shortly.";
}

/// A problem detail (RFC 9457), served as `application/problem+json`.
#[derive(Object, Debug, Clone)]
#[oai(rename = "Problem")]
pub struct Problem {
    /// URI reference identifying the problem type; it serves a page explaining it.
    #[oai(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    #[oai(skip_serializing_if_is_none)]
    pub detail: Option<String>,
    /// Every problem with the input, each located by JSON pointer.
    #[oai(skip_serializing_if_is_empty, default)]
    pub errors: Vec<FieldProblem>,
    /// With 412: the entry's current version, to fetch and merge against.
    #[oai(skip_serializing_if_is_none)]
    pub current_version: Option<i64>,
    /// With 409 for a refused transition: the actions allowed now.
    #[oai(skip_serializing_if_is_none)]
    pub allowed_actions: Option<Vec<String>>,
}

#[derive(Object, Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    /// JSON pointer (RFC 6901) of the value the problem is about.
    pub pointer: String,
    pub detail: String,
}

/// What a failure that is ours, not the client's, tells the client.
const INTERNAL_DETAIL: &str = "internal error; it is logged";

impl Problem {
    pub fn new(kind: ProblemKind, detail: impl Into<String>) -> Problem {
        Problem {
            kind: format!("/problems/{}", kind.slug()),
            title: kind.title().to_owned(),
            status: kind.status().as_u16(),
            detail: Some(detail.into()),
            errors: Vec::new(),
            current_version: None,
            allowed_actions: None,
        }
    }

    /// Input that breaks its schema, each problem located by JSON pointer.
    pub fn invalid(detail: impl Into<String>, errors: Vec<FieldProblem>) -> Problem {
        Problem { errors, ..Problem::new(ProblemKind::InvalidDocument, detail) }
    }

    /// A failure that is ours, not the client's: logged in full, answered briefly.
    pub fn internal(error: impl std::fmt::Display) -> Problem {
        tracing::error!(%error, "request failed");
        Problem::new(ProblemKind::Internal, INTERNAL_DETAIL)
    }

    pub fn into_response(self) -> Response {
        use poem_openapi::types::ToJSON;
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Response::builder().status(status).content_type("application/problem+json").body(self.to_json_string())
    }
}

#[derive(ApiResponse, Debug)]
pub enum ApiError {
    /// The request is malformed (a parameter, cursor or locale).
    #[oai(status = 400, content_type = "application/problem+json")]
    BadRequest(Json<Problem>),
    /// Missing, unknown, expired or revoked token.
    #[oai(status = 401, content_type = "application/problem+json")]
    Unauthorized(Json<Problem>),
    /// The token's role does not allow this.
    #[oai(status = 403, content_type = "application/problem+json")]
    Forbidden(Json<Problem>),
    /// No such content type or entry.
    #[oai(status = 404, content_type = "application/problem+json")]
    NotFound(Json<Problem>),
    /// The request conflicts with the entry's state (slug taken, transition not allowed now).
    #[oai(status = 409, content_type = "application/problem+json")]
    Conflict(Json<Problem>),
    /// `If-Match` names an older version: someone else saved in between.
    #[oai(status = 412, content_type = "application/problem+json")]
    PreconditionFailed(Json<Problem>),
    /// The document breaks its schema, or is not complete enough to publish.
    #[oai(status = 422, content_type = "application/problem+json")]
    Unprocessable(Json<Problem>),
    /// `If-Match` is required for updates.
    #[oai(status = 428, content_type = "application/problem+json")]
    PreconditionRequired(Json<Problem>),
    #[oai(status = 500, content_type = "application/problem+json")]
    Internal(Json<Problem>),
    /// A server this one fetches from (a partner's bundle) could not be
    /// reached or answered with an error.
    #[oai(status = 502, content_type = "application/problem+json")]
    BadGateway(Json<Problem>),
}

impl From<Problem> for ApiError {
    fn from(problem: Problem) -> ApiError {
        let problem = Json(problem);
        match problem.status {
            400 => ApiError::BadRequest(problem),
            401 => ApiError::Unauthorized(problem),
            403 => ApiError::Forbidden(problem),
            404 => ApiError::NotFound(problem),
            409 => ApiError::Conflict(problem),
            412 => ApiError::PreconditionFailed(problem),
            422 => ApiError::Unprocessable(problem),
            428 => ApiError::PreconditionRequired(problem),
            502 => ApiError::BadGateway(problem),
            500 => ApiError::Internal(problem),
            _ => ApiError::Internal(Json(Problem::internal(format_args!("an API operation produced a problem it does not document: {:?}", problem.0)))),
        }
    }
}

impl ApiError {
    pub fn new(kind: ProblemKind, detail: impl Into<String>) -> ApiError {
        Problem::new(kind, detail).into()
    }

    pub fn not_found(detail: impl Into<String>) -> ApiError {
        ApiError::new(ProblemKind::NotFound, detail)
    }

    pub fn forbidden(detail: impl Into<String>) -> ApiError {
        ApiError::new(ProblemKind::Forbidden, detail)
    }

    pub fn unprocessable(detail: impl Into<String>, errors: Vec<FieldProblem>) -> ApiError {
        Problem::invalid(detail, errors).into()
    }

    /// A failure that is ours, not the client's: logged in full, answered briefly.
    pub fn internal(error: impl std::fmt::Display) -> ApiError {
        Problem::internal(error).into()
    }
}

/// The errors of the public read API: what its OpenAPI operations document.
#[derive(ApiResponse, Debug)]
pub enum ReadError {
    /// The request is malformed (a parameter, cursor or locale).
    #[oai(status = 400, content_type = "application/problem+json")]
    BadRequest(Json<Problem>),
    /// No such content type or no published entry with this id or slug.
    #[oai(status = 404, content_type = "application/problem+json")]
    NotFound(Json<Problem>),
    #[oai(status = 500, content_type = "application/problem+json")]
    Internal(Json<Problem>),
}

impl From<ApiError> for ReadError {
    fn from(error: ApiError) -> ReadError {
        match error {
            ApiError::BadRequest(problem) => ReadError::BadRequest(problem),
            ApiError::NotFound(problem) => ReadError::NotFound(problem),
            ApiError::Internal(problem) => ReadError::Internal(problem),
            other => ReadError::Internal(Json(Problem::internal(format_args!("a read endpoint produced an error it does not document: {other:?}")))),
        }
    }
}

impl From<StoreError> for ReadError {
    fn from(error: StoreError) -> ReadError {
        ApiError::from(error).into()
    }
}

impl From<ParamError> for ReadError {
    fn from(error: ParamError) -> ReadError {
        ApiError::from(error).into()
    }
}

/// The operations endpoints' only error.
#[derive(ApiResponse, Debug)]
pub enum HealthError {
    /// The database does not answer, or (readiness) the server is not ready yet.
    #[oai(status = 503, content_type = "application/problem+json")]
    Unavailable(Json<Problem>),
}

// What each module's typed error means to a client: the one mapping of
// errors to problems, for the API and the editor UI alike.

/// Answers a typed error with the problem it maps to.
macro_rules! api_error_from {
    ($($error:ty),*) => {
        $(impl From<$error> for ApiError {
            fn from(error: $error) -> ApiError {
                Problem::from(error).into()
            }
        })*
    };
}

api_error_from!(StoreError, ParamError, EditingError, EditError, SyncError);

impl From<StoreError> for Problem {
    fn from(error: StoreError) -> Problem {
        Problem::internal(error)
    }
}

impl From<ParamError> for Problem {
    fn from(error: ParamError) -> Problem {
        let kind = match error {
            ParamError::UnknownLocale(_) => ProblemKind::UnknownLocale,
            ParamError::InvalidLimit { .. } => ProblemKind::InvalidLimit,
            ParamError::InvalidCursor => ProblemKind::InvalidCursor,
            ParamError::Malformed { .. } => ProblemKind::BadRequest,
        };
        Problem::new(kind, error.to_string())
    }
}

impl From<EditingError> for Problem {
    fn from(error: EditingError) -> Problem {
        let at_field = |detail: &str, pointer: &str, why: &str| Problem::invalid(detail, vec![FieldProblem { pointer: pointer.into(), detail: why.into() }]);
        match error {
            EditingError::InvalidSlug(_) => at_field("the slug is not valid", "/slug", "use lower-case letters a–z, digits and single hyphens, not an id"),
            EditingError::Invalid { what, violations } => {
                let count = violations.len();
                Problem::invalid(format!("{what}: {count} problem(s)"), field_problems(violations))
            }
            EditingError::CommentRequired => at_field("say what to change", "/comment", "a comment is required with request_changes"),
            EditingError::ScheduleEndsBeforeStart => at_field("the schedule ends before it starts", "/unpublish_at", "must be after publish_at"),
            error @ EditingError::SourceNotPublished => Problem::new(ProblemKind::SourceNotPublished, error.to_string()),
            error @ (EditingError::NoRevision { .. } | EditingError::NoLocale { .. }) => Problem::new(ProblemKind::NotFound, error.to_string()),
            EditingError::Edit(error) => error.into(),
            EditingError::Store(error) => error.into(),
        }
    }
}

impl From<EditError> for Problem {
    fn from(error: EditError) -> Problem {
        match error {
            EditError::VersionConflict { expected, current } => {
                let detail = format!(
                    "the entry changed since version {expected}: it is at version {current}; fetch it, merge your edit and send If-Match: \"{current}\""
                );
                Problem { current_version: Some(current), ..Problem::new(ProblemKind::VersionConflict, detail) }
            }
            EditError::SlugTaken(slug) => Problem::new(ProblemKind::SlugTaken, format!("an entry with the slug `{slug}` exists")),
            EditError::NotFound => Problem::new(ProblemKind::NotFound, "no such entry"),
            EditError::NotAllowed { action, state, allowed } => {
                let names: Vec<String> = allowed.iter().map(|a| a.code().to_owned()).collect();
                let detail = format!("`{action}` is not allowed from `{state}`; allowed: {}", if names.is_empty() { "none".into() } else { names.join(", ") });
                Problem { allowed_actions: Some(names), ..Problem::new(ProblemKind::TransitionNotAllowed, detail) }
            }
            error @ EditError::StaleRevision { .. } => Problem::new(ProblemKind::StaleRevision, error.to_string()),
            error @ EditError::InTrash => Problem::new(ProblemKind::InTrash, error.to_string()),
            error @ EditError::NotInTrash => Problem::new(ProblemKind::NotInTrash, error.to_string()),
            EditError::Store(error) => error.into(),
        }
    }
}

impl From<SyncError> for Problem {
    fn from(error: SyncError) -> Problem {
        let at_field =
            |pointer: &str, error: &SyncError| Problem::invalid(error.to_string(), vec![FieldProblem { pointer: pointer.into(), detail: error.to_string() }]);
        match error {
            error @ (SyncError::NoConflict { .. } | SyncError::UnknownPartner(_)) => Problem::new(ProblemKind::NotFound, error.to_string()),
            error @ SyncError::InvalidName(_) => at_field("/name", &error),
            error @ SyncError::Refused { .. } => at_field("/source", &error),
            error @ SyncError::Exists(_) => Problem::new(ProblemKind::PartnerExists, error.to_string()),
            error @ (SyncError::Rejected(_) | SyncError::NewerFormat { .. } | SyncError::TooLarge { .. }) => {
                Problem::new(ProblemKind::BundleRejected, error.to_string())
            }
            error @ (SyncError::OtherMunicipality { .. } | SyncError::Older { .. }) => Problem::new(ProblemKind::BundleRefused, error.to_string()),
            error @ (SyncError::Fetch { .. } | SyncError::Deadline { .. }) => Problem::new(ProblemKind::BadGateway, error.to_string()),
            SyncError::Edit(error) => error.into(),
            SyncError::Store(error) => error.into(),
            error @ SyncError::Read { .. } => Problem::internal(error),
        }
    }
}

/// Why a bearer token was not accepted: the client's fault (401) or ours (503).
pub fn token_refused(error: &crate::auth::AuthError) -> Problem {
    use crate::auth::AuthError;
    match error {
        // Not the client's fault, and nothing the client should read.
        AuthError::Store(_) | AuthError::Random(_) => {
            tracing::error!(%error, "token check failed");
            Problem::new(ProblemKind::Unavailable, "the token cannot be checked right now; try again shortly")
        }
        _ => Problem::new(ProblemKind::Unauthorized, error.to_string()),
    }
}

/// Schema violations of `fields`, located within the request body.
pub fn field_problems(violations: Vec<Violation>) -> Vec<FieldProblem> {
    violations.into_iter().map(|v| FieldProblem { pointer: format!("/fields{}", v.pointer), detail: v.message }).collect()
}

/// The outermost error handler: unknown routes, wrong methods, malformed
/// parameters and anything else poem reports become problem+json too.
pub async fn problem_for_any_error(error: poem::Error) -> Response {
    if error.is_from_response() {
        return error.into_response();
    }
    use poem_openapi::error::{ContentTypeError, ParseParamError, ParseRequestPayloadError};
    let kind = if error.is::<ParseRequestPayloadError>() || error.is::<ParseParamError>() || error.is::<ContentTypeError>() {
        ProblemKind::BadRequest
    } else if error.status() == StatusCode::NOT_FOUND {
        ProblemKind::NotFound
    } else {
        ProblemKind::Http
    };
    let status = error.status();
    let problem = if status.is_server_error() { Problem::internal(&error) } else { Problem::new(kind, error.to_string()) };
    // poem knows the precise status (405, 415, …); the kind says what sort of problem it is.
    Problem { status: status.as_u16(), ..problem }.into_response()
}

/// A panic in a handler is a bug; the client still gets problem+json.
pub fn problem_for_panic(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("request handler panicked");
    Problem::new(ProblemKind::Internal, INTERNAL_DETAIL).into_response()
}

/// `/problems/<slug>`: what a problem `type` means, as a short page.
#[poem::handler]
pub fn problem_page(poem::web::Path(slug): poem::web::Path<String>) -> Response {
    let Some(kind) = ProblemKind::ALL.iter().find(|kind| kind.slug() == slug) else {
        return Problem::new(ProblemKind::NotFound, format!("no problem type `{slug}`")).into_response();
    };
    use crate::render::escape::escape;
    let page = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>{title}</title></head>\n<body>\n<h1>{title}</h1>\n<p>{explanation}</p>\n</body>\n</html>\n",
        title = escape(kind.title()),
        explanation = escape(kind.explanation()),
    );
    Response::builder().content_type("text/html; charset=utf-8").header(poem::http::header::CACHE_CONTROL, "public, max-age=86400").body(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_has_its_own_type_and_an_error_status() {
        let mut slugs: Vec<&str> = ProblemKind::ALL.iter().map(|kind| kind.slug()).collect();
        slugs.sort();
        slugs.dedup();
        assert_eq!(slugs.len(), ProblemKind::ALL.len(), "two kinds share a slug");
        for kind in ProblemKind::ALL {
            assert!(kind.status().is_client_error() || kind.status().is_server_error(), "{kind:?}");
            assert!(!kind.title().is_empty() && kind.explanation().ends_with('.'), "{kind:?}");
        }
    }

    #[test]
    fn typed_errors_keep_their_types_statuses_and_fields() {
        let conflict = Problem::from(EditError::VersionConflict { expected: 3, current: 5 });
        assert_eq!((conflict.kind.as_str(), conflict.status, conflict.current_version), ("/problems/version-conflict", 412, Some(5)));
        let limit = Problem::from(ParamError::InvalidLimit { max: 100 });
        assert_eq!((limit.kind.as_str(), limit.status), ("/problems/invalid-limit", 400));
        let slug = Problem::from(EditingError::InvalidSlug("Ä".into()));
        assert_eq!((slug.kind.as_str(), slug.status, slug.errors[0].pointer.as_str()), ("/problems/invalid-document", 422, "/slug"));
        assert!(matches!(ApiError::from(Problem::new(ProblemKind::InTrash, "x")), ApiError::Conflict(_)));
        assert!(
            matches!(ApiError::from(Problem::new(ProblemKind::TooManyRequests, "x")), ApiError::Internal(_)),
            "a status no operation documents is ours to fix"
        );
    }
}
