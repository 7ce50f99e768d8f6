//! Bearer-token authentication for the management API.

use poem::Request;
use poem::http::StatusCode;
use poem_openapi::SecurityScheme;
use poem_openapi::auth::Bearer;

use crate::auth::{self, Principal};
use crate::http::AppState;
use crate::http::problem::{self, ApiError};
use crate::workflow::Role;
use crate::workflow::editing::Actor;

/// `Authorization: Bearer kat_…` — create tokens with `katalog token create`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "kat_<id>_<secret>", checker = "check_token")]
pub struct TokenAuth(pub Caller);

/// Whose token a request carries, and which request it is: what the
/// revisions and the audit log name.
pub struct Caller {
    pub principal: Principal,
    pub request_id: String,
}

async fn check_token(request: &Request, bearer: Bearer) -> poem::Result<Caller> {
    let Some(state) = request.data::<AppState>() else {
        return Err(poem::Error::from_status(StatusCode::INTERNAL_SERVER_ERROR));
    };
    let principal = auth::authenticate(&state.store, &bearer.token).await.map_err(|error| {
        let problem = problem::token_refused(&error);
        let challenge = problem.status == StatusCode::UNAUTHORIZED.as_u16();
        let mut response = problem.into_response();
        if challenge {
            response.headers_mut().insert("WWW-Authenticate", poem::http::HeaderValue::from_static("Bearer"));
        }
        poem::Error::from_response(response)
    })?;
    Ok(Caller { principal, request_id: crate::http::request_id::of(request) })
}

impl TokenAuth {
    /// Refuses with 403 unless the token's role includes `role`; the
    /// actor is who then acts.
    pub fn require(&self, role: Role, doing: &str) -> Result<Actor, ApiError> {
        let Caller { principal, request_id } = &self.0;
        principal.require(role).map_err(|refused| ApiError::forbidden(format!("{doing} {refused}")))?;
        Ok(Actor { author: principal.author(), request_id: request_id.clone() })
    }
}
