//! RFC 9457 problem details: the one shape of every error response.

use poem::http::StatusCode;
use poem::Response;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};

/// A problem detail (RFC 9457), served as `application/problem+json`.
#[derive(Object, Debug, Clone)]
#[oai(rename = "Problem")]
pub struct Problem {
    /// URI reference identifying the problem type.
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

impl Problem {
    pub fn new(status: StatusCode, kind: &str, detail: impl Into<String>) -> Problem {
        Problem {
            kind: format!("/problems/{kind}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: Some(detail.into()),
            errors: Vec::new(),
            current_version: None,
            allowed_actions: None,
        }
    }

    pub fn into_response(self) -> Response {
        use poem_openapi::types::ToJSON;
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Response::builder()
            .status(status)
            .content_type("application/problem+json")
            .body(self.to_json_string())
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

impl ApiError {
    pub fn bad_request(kind: &str, detail: impl Into<String>) -> ApiError {
        ApiError::BadRequest(Json(Problem::new(StatusCode::BAD_REQUEST, kind, detail)))
    }

    pub fn not_found(detail: impl Into<String>) -> ApiError {
        ApiError::NotFound(Json(Problem::new(StatusCode::NOT_FOUND, "not-found", detail)))
    }

    pub fn forbidden(detail: impl Into<String>) -> ApiError {
        ApiError::Forbidden(Json(Problem::new(StatusCode::FORBIDDEN, "forbidden", detail)))
    }

    pub fn conflict(kind: &str, detail: impl Into<String>) -> ApiError {
        ApiError::Conflict(Json(Problem::new(StatusCode::CONFLICT, kind, detail)))
    }

    pub fn bad_gateway(detail: impl Into<String>) -> ApiError {
        ApiError::BadGateway(Json(Problem::new(StatusCode::BAD_GATEWAY, "bad-gateway", detail)))
    }

    pub fn unprocessable(detail: impl Into<String>, errors: Vec<FieldProblem>) -> ApiError {
        let mut problem = Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid-document", detail);
        problem.errors = errors;
        ApiError::Unprocessable(Json(problem))
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
            other => {
                tracing::error!(?other, "a read endpoint produced an error it does not document");
                ReadError::Internal(Json(Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error; it is logged")))
            }
        }
    }
}

impl From<crate::store::StoreError> for ReadError {
    fn from(error: crate::store::StoreError) -> ReadError {
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

impl ApiError {
    /// A failure that is ours, not the client's: logged in full, answered briefly.
    pub fn internal(error: impl std::fmt::Display) -> ApiError {
        tracing::error!(%error, "request failed");
        ApiError::Internal(Json(Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error; it is logged")))
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(error: crate::store::StoreError) -> ApiError {
        ApiError::internal(error)
    }
}

/// The outermost error handler: unknown routes, wrong methods, malformed
/// parameters and anything else poem reports become problem+json too.
pub async fn problem_for_any_error(error: poem::Error) -> Response {
    if error.is_from_response() {
        return error.into_response();
    }
    use poem_openapi::error::{ContentTypeError, ParseParamError, ParseRequestPayloadError};
    let kind = if error.is::<ParseRequestPayloadError>() || error.is::<ParseParamError>() || error.is::<ContentTypeError>() {
        "bad-request"
    } else if error.status() == StatusCode::NOT_FOUND {
        "not-found"
    } else {
        "http"
    };
    let status = error.status();
    let mut problem = Problem::new(status, kind, error.to_string());
    if status.is_server_error() {
        tracing::error!(%error, "request failed");
        problem.detail = Some("internal error; it is logged".into());
    }
    problem.into_response()
}

/// A panic in a handler is a bug; the client still gets problem+json.
pub fn problem_for_panic(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("request handler panicked");
    Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error; it is logged").into_response()
}
