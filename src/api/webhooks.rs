//! Webhook subscriptions and their delivery logs (admin only).

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::ApiTags;
use super::auth::TokenAuth;
use crate::http::AppState;
use crate::http::params::{Limit, decode_cursor, encode_cursor};
use crate::http::problem::{ApiError, FieldProblem};
use crate::store::{AuditEvent, Delivery, Subscription, WEBHOOK_EVENTS};
use crate::workflow::Role;

#[derive(Object, Debug)]
pub struct SubscriptionCreate {
    /// Where deliveries are POSTed: an `http` or `https` URL.
    pub url: String,
    /// Only changes of these content types; every type when empty or absent.
    #[oai(default)]
    pub content_types: Vec<String>,
    /// Only these events (`entry.published`, `entry.unpublished`,
    /// `entry.archived`, `entry.deleted`); every event when empty or absent.
    #[oai(default)]
    pub events: Vec<String>,
    /// The signing secret (at least 16 characters); one is generated when absent.
    #[oai(skip_serializing_if_is_none)]
    pub secret: Option<String>,
}

#[derive(Object, Debug)]
#[oai(rename = "Subscription")]
pub struct SubscriptionBody {
    pub id: String,
    pub url: String,
    pub content_types: Vec<String>,
    pub events: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    /// The signing secret: only in the response that created the subscription.
    #[oai(skip_serializing_if_is_none)]
    pub secret: Option<String>,
}

#[derive(Object, Debug)]
pub struct SubscriptionList {
    pub items: Vec<SubscriptionBody>,
}

/// One delivery: an event for one entry, and how sending it went.
#[derive(Object, Debug)]
#[oai(rename = "Delivery")]
pub struct DeliveryBody {
    pub id: i64,
    pub event: String,
    pub entry_id: String,
    #[oai(rename = "type")]
    pub content_type: String,
    pub slug: String,
    pub locales: Vec<String>,
    pub change_seq: i64,
    pub occurred_at: DateTime<Utc>,
    /// `pending` (queued or retrying), `delivered`, or `failed` (retries exhausted).
    pub status: String,
    pub attempts: i32,
    /// For a pending delivery: the earliest time of its next attempt.
    #[oai(skip_serializing_if_is_none)]
    pub next_attempt_at: Option<DateTime<Utc>>,
    #[oai(skip_serializing_if_is_none)]
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// The HTTP status of the last attempt, if the receiver answered.
    #[oai(skip_serializing_if_is_none)]
    pub last_status: Option<i32>,
    #[oai(skip_serializing_if_is_none)]
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    #[oai(skip_serializing_if_is_none)]
    pub delivered_at: Option<DateTime<Utc>>,
}

#[derive(Object, Debug)]
pub struct DeliveryLog {
    pub items: Vec<DeliveryBody>,
    /// Pass as `cursor` for older deliveries; absent on the last page.
    #[oai(skip_serializing_if_is_none)]
    pub next_cursor: Option<String>,
}

#[derive(ApiResponse)]
pub enum CreatedResponse {
    #[oai(status = 201)]
    Created(Json<SubscriptionBody>),
}

#[derive(ApiResponse)]
pub enum ListResponse {
    #[oai(status = 200)]
    Ok(Json<SubscriptionList>),
}

#[derive(ApiResponse)]
pub enum GetResponse {
    #[oai(status = 200)]
    Ok(Json<SubscriptionBody>),
}

#[derive(ApiResponse)]
pub enum DeletedResponse {
    #[oai(status = 204)]
    Deleted,
}

#[derive(ApiResponse)]
pub enum LogResponse {
    #[oai(status = 200)]
    Ok(Json<DeliveryLog>),
}

const MIN_SECRET_LENGTH: usize = 16;
const LOG_PAGE: Limit = Limit { default: 50, max: 200 };

pub struct WebhooksApi;

#[OpenApi(prefix_path = "/api/v1/manage/webhooks", tag = "ApiTags::Manage")]
impl WebhooksApi {
    /// Subscribe a receiver to changes of published content.
    ///
    /// Each delivery is a `POST` of JSON signed in the `Katalog-Signature`
    /// header (see the README for how to verify it). The secret is shown in
    /// this response only.
    #[oai(path = "/", method = "post", operation_id = "createWebhook")]
    async fn create(&self, state: Data<&AppState>, auth: TokenAuth, body: Json<SubscriptionCreate>) -> Result<CreatedResponse, ApiError> {
        let actor = auth.require(Role::Admin, "managing webhooks")?;
        let mut problems = Vec::new();
        match reqwest::Url::parse(body.url.trim()) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => {
                // Only a literal address can be judged now; a host name is
                // checked each time it is resolved for a delivery.
                if let Err(refused) = state.partner_fetch.fence.check(&url) {
                    problems.push(field("/url", &refused.to_string()));
                }
            }
            Ok(_) => problems.push(field("/url", "use an http or https URL")),
            Err(error) => problems.push(field("/url", &format!("not a URL: {error}"))),
        }
        for (i, name) in body.content_types.iter().enumerate() {
            if state.registry.get(name).is_none() {
                let known: Vec<&str> = state.registry.names().collect();
                problems.push(field(&format!("/content_types/{i}"), &format!("no content type `{name}`; known: {}", known.join(", "))));
            }
        }
        for (i, event) in body.events.iter().enumerate() {
            if !WEBHOOK_EVENTS.iter().any(|(_, known)| known == event) {
                let known: Vec<&str> = WEBHOOK_EVENTS.iter().map(|(_, e)| *e).collect();
                problems.push(field(&format!("/events/{i}"), &format!("unknown event `{event}`; known: {}", known.join(", "))));
            }
        }
        if body.secret.as_ref().is_some_and(|s| s.chars().count() < MIN_SECRET_LENGTH) {
            problems.push(field("/secret", &format!("use at least {MIN_SECRET_LENGTH} characters, or leave it out to have one generated")));
        }
        if !problems.is_empty() {
            return Err(ApiError::unprocessable("the subscription is not valid", problems));
        }
        let secret = match &body.secret {
            Some(secret) => secret.clone(),
            None => crate::auth::random_secret().map_err(ApiError::internal)?,
        };
        let subscription = Subscription {
            id: crate::auth::random_hex(8).map_err(ApiError::internal)?,
            url: body.url.trim().to_owned(),
            secret,
            content_types: body.content_types.clone(),
            events: body.events.clone(),
            from_seq: 0,
            created_at: Utc::now(),
            created_by: actor.author.clone(),
        };
        let stored = state.store.insert_subscription(&subscription).await?;
        let event = AuditEvent {
            request_id: actor.request_id.clone(),
            actor: actor.author.clone(),
            action: "webhook.create".into(),
            locale: None,
            detail: serde_json::json!({"webhook": stored.id, "url": stored.url}),
        };
        state.store.record_audit_event(&event).await?;
        let mut shown = subscription_body(&stored);
        shown.secret = Some(stored.secret);
        Ok(CreatedResponse::Created(Json(shown)))
    }

    /// Every subscription, without secrets.
    #[oai(path = "/", method = "get", operation_id = "listWebhooks")]
    async fn list(&self, state: Data<&AppState>, auth: TokenAuth) -> Result<ListResponse, ApiError> {
        auth.require(Role::Admin, "managing webhooks")?;
        let items = state.store.subscriptions().await?.iter().map(subscription_body).collect();
        Ok(ListResponse::Ok(Json(SubscriptionList { items })))
    }

    /// One subscription, without its secret.
    #[oai(path = "/:id", method = "get", operation_id = "getWebhook")]
    async fn get(&self, state: Data<&AppState>, auth: TokenAuth, id: Path<String>) -> Result<GetResponse, ApiError> {
        auth.require(Role::Admin, "managing webhooks")?;
        let subscription = state.store.subscription(&id).await?.ok_or_else(|| not_found(&id))?;
        Ok(GetResponse::Ok(Json(subscription_body(&subscription))))
    }

    /// Remove a subscription; pending deliveries to it are dropped.
    #[oai(path = "/:id", method = "delete", operation_id = "deleteWebhook")]
    async fn delete(&self, state: Data<&AppState>, auth: TokenAuth, id: Path<String>) -> Result<DeletedResponse, ApiError> {
        let actor = auth.require(Role::Admin, "managing webhooks")?;
        if !state.store.delete_subscription(&id).await? {
            return Err(not_found(&id));
        }
        let event = AuditEvent {
            request_id: actor.request_id.clone(),
            actor: actor.author.clone(),
            action: "webhook.delete".into(),
            locale: None,
            detail: serde_json::json!({"webhook": id.0}),
        };
        state.store.record_audit_event(&event).await?;
        Ok(DeletedResponse::Deleted)
    }

    /// The delivery log of a subscription, newest first.
    #[oai(path = "/:id/deliveries", method = "get", operation_id = "listWebhookDeliveries")]
    async fn deliveries(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
        id: Path<String>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
        /// Page size, 1 to 200 (default 50); more are served as 200.
        limit: Query<Option<u64>>,
    ) -> Result<LogResponse, ApiError> {
        auth.require(Role::Admin, "managing webhooks")?;
        let limit = LOG_PAGE.of(limit.0)?;
        if state.store.subscription(&id).await?.is_none() {
            return Err(not_found(&id));
        }
        // Each subscription's log is a list of its own.
        let namespace = format!("webhook/{}", id.0);
        let before: Option<i64> = cursor.0.as_deref().map(|cursor| decode_cursor(&namespace, cursor)).transpose()?;
        let deliveries = state.store.deliveries(&id, before, limit).await?;
        let next_cursor = (deliveries.len() as u64 == limit).then(|| deliveries.last().map(|d| encode_cursor(&namespace, d.id))).flatten();
        Ok(LogResponse::Ok(Json(DeliveryLog { items: deliveries.into_iter().map(delivery_body).collect(), next_cursor })))
    }
}

fn field(pointer: &str, detail: &str) -> FieldProblem {
    FieldProblem { pointer: pointer.into(), detail: detail.into() }
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("no webhook subscription `{id}`"))
}

fn subscription_body(subscription: &Subscription) -> SubscriptionBody {
    SubscriptionBody {
        id: subscription.id.clone(),
        url: subscription.url.clone(),
        content_types: subscription.content_types.clone(),
        events: subscription.events.clone(),
        created_at: subscription.created_at,
        created_by: subscription.created_by.clone(),
        secret: None,
    }
}

fn delivery_body(delivery: Delivery) -> DeliveryBody {
    DeliveryBody {
        next_attempt_at: (delivery.status == "pending").then_some(delivery.next_attempt_at),
        id: delivery.id,
        event: delivery.event,
        entry_id: delivery.entry_id,
        content_type: delivery.content_type,
        slug: delivery.slug,
        locales: delivery.locales,
        change_seq: delivery.change_seq,
        occurred_at: delivery.occurred_at,
        status: delivery.status,
        attempts: delivery.attempts,
        last_attempt_at: delivery.last_attempt_at,
        last_status: delivery.last_status,
        last_error: delivery.last_error,
        created_at: delivery.created_at,
        delivered_at: delivery.delivered_at,
    }
}
