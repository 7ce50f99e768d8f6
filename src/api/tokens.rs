//! Token administration (admin only). The first admin token comes from
//! `katalog token create`; after that, admins can manage tokens here.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::ApiTags;
use super::auth::TokenAuth;
use crate::auth;
use crate::http::AppState;
use crate::http::problem::{ApiError, FieldProblem};
use crate::store::{AuditEvent, TokenInfo};
use crate::workflow::Role;
use crate::workflow::editing::Actor;

#[derive(Object, Debug)]
pub struct TokenCreate {
    /// Who or what uses the token; shown as the author of its changes.
    pub name: String,
    /// reader, editor, publisher or admin.
    pub role: String,
    /// When the token stops working; never when absent.
    #[oai(skip_serializing_if_is_none)]
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Object, Debug)]
pub struct TokenBody {
    pub id: String,
    pub name: String,
    pub role: String,
    pub created_at: DateTime<Utc>,
    #[oai(skip_serializing_if_is_none)]
    pub expires_at: Option<DateTime<Utc>>,
    #[oai(skip_serializing_if_is_none)]
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Object, Debug)]
pub struct IssuedTokenBody {
    pub id: String,
    /// The secret token. It is shown only in this response.
    pub token: String,
}

#[derive(Object, Debug)]
pub struct TokenList {
    pub items: Vec<TokenBody>,
}

#[derive(ApiResponse)]
pub enum IssuedResponse {
    #[oai(status = 201)]
    Created(Json<IssuedTokenBody>),
}

#[derive(ApiResponse)]
pub enum ListResponse {
    #[oai(status = 200)]
    Ok(Json<TokenList>),
}

#[derive(ApiResponse)]
pub enum RevokedResponse {
    #[oai(status = 204)]
    Revoked,
}

pub struct TokensApi;

#[OpenApi(prefix_path = "/api/v1/manage/tokens", tag = "ApiTags::Manage")]
impl TokensApi {
    /// Create a token; the secret is in the response and nowhere else.
    #[oai(path = "/", method = "post", operation_id = "createToken")]
    async fn create(&self, state: Data<&AppState>, auth: TokenAuth, body: Json<TokenCreate>) -> Result<IssuedResponse, ApiError> {
        let actor = auth.require(Role::Admin, "creating tokens")?;
        let role: Role = body
            .role
            .parse()
            .map_err(|message: String| ApiError::unprocessable("unknown role", vec![FieldProblem { pointer: "/role".into(), detail: message }]))?;
        if body.name.trim().is_empty() {
            return Err(ApiError::unprocessable("the token needs a name", vec![FieldProblem { pointer: "/name".into(), detail: "say who uses it".into() }]));
        }
        let issued = auth::create_token(&state.store, body.name.trim(), role, body.expires_at).await.map_err(ApiError::internal)?;
        audit(&state, &actor, "token.create", serde_json::json!({"token": issued.id, "role": role.code(), "name": body.name})).await?;
        Ok(IssuedResponse::Created(Json(IssuedTokenBody { id: issued.id, token: issued.token })))
    }

    /// Every token, without secrets.
    #[oai(path = "/", method = "get", operation_id = "listTokens")]
    async fn list(&self, state: Data<&AppState>, auth: TokenAuth) -> Result<ListResponse, ApiError> {
        auth.require(Role::Admin, "listing tokens")?;
        let items = state.store.list_tokens().await?.into_iter().map(token_body).collect();
        Ok(ListResponse::Ok(Json(TokenList { items })))
    }

    /// Revoke a token; it stops working at once.
    #[oai(path = "/:id", method = "delete", operation_id = "revokeToken")]
    async fn revoke(&self, state: Data<&AppState>, auth: TokenAuth, id: Path<String>) -> Result<RevokedResponse, ApiError> {
        let actor = auth.require(Role::Admin, "revoking tokens")?;
        if !state.store.revoke_token(&id).await? {
            return Err(ApiError::not_found(format!("no active token `{}`", id.0)));
        }
        audit(&state, &actor, "token.revoke", serde_json::json!({"token": id.0})).await?;
        Ok(RevokedResponse::Revoked)
    }
}

fn token_body(info: TokenInfo) -> TokenBody {
    TokenBody { id: info.id, name: info.name, role: info.role, created_at: info.created_at, expires_at: info.expires_at, revoked_at: info.revoked_at }
}

async fn audit(state: &AppState, actor: &Actor, action: &str, detail: serde_json::Value) -> Result<(), ApiError> {
    let event = AuditEvent { request_id: actor.request_id.clone(), actor: actor.author.clone(), action: action.into(), locale: None, detail };
    state.store.record_audit_event(&event).await?;
    Ok(())
}
