//! `POST /introspect`: internal callers ask whether a token is a live session, in our
//! JSON or as RFC 7662 (a form-encoded `token=`, answered with the RFC's fields plus
//! ours). The caller is checked before the body is read, whichever the form.

use actix_web::{HttpMessage, HttpRequest, HttpResponse, http::header, web};
use serde::{Deserialize, Serialize};
use service_kit::error_responses;
use session_core::introspection::{IntrospectRequest, IntrospectResponse};
use session_core::{Credential, ErrorCode, Session};

use std::borrow::Cow;

use utoipa::openapi::schema::{AnyOfBuilder, Schema};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

use super::callers::InternalCaller;
use crate::accounts::{Accounts, Introspection};
use crate::error::ApiError;

/// RFC 7662 §2.1: `token`, and an optional `token_type_hint` (read, not needed: every
/// token here is an access token).
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = IntrospectForm)]
pub(super) struct FormRequest {
    /// The token to check (required, not empty).
    #[schema(required = true)]
    token: Option<String>,
    /// Accepted and ignored: every token here is an access token.
    #[serde(default)]
    #[allow(dead_code)]
    token_type_hint: Option<String>,
}

/// RFC 7662 §2.2's fields, then ours; only `active` when the token is no live session.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = IntrospectFormResponse)]
pub(super) struct FormResponse {
    /// Whether the token is a live session.
    active: bool,
    /// The user's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<String>,
    /// The token's `exp` (seconds since the Unix epoch).
    #[serde(skip_serializing_if = "Option::is_none")]
    exp: Option<i64>,
    /// The token's `iat` (seconds since the Unix epoch).
    #[serde(skip_serializing_if = "Option::is_none")]
    iat: Option<i64>,
    /// `Bearer`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    token_type: Option<&'static str>,
    /// The user's id.
    #[serde(rename = "userId", skip_serializing_if = "Option::is_none")]
    user_id: Option<String>,
    /// The session's id.
    #[serde(rename = "sessionId", skip_serializing_if = "Option::is_none")]
    session_id: Option<String>,
    /// The user's email.
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
}

impl FormResponse {
    fn inactive() -> Self {
        Self {
            active: false,
            sub: None,
            exp: None,
            iat: None,
            token_type: None,
            user_id: None,
            session_id: None,
            email: None,
        }
    }

    fn active(session: &Session) -> Self {
        Self {
            active: true,
            sub: Some(session.user_id.clone()),
            exp: Some(session.absolute_expires_at),
            iat: Some(session.issued_at),
            token_type: Some("Bearer"),
            user_id: Some(session.user_id.clone()),
            session_id: Some(session.session_id.clone()),
            email: Some(session.email.clone()),
        }
    }
}

error_responses!(
    /// What `POST /introspect` refuses with: a caller without the internal token, a
    /// body it cannot read.
    IntrospectErrors: MissingAuthorization, MissingUserId, InvalidToken, InvalidRequest,
        UnsupportedMediaType, PayloadTooLarge, ServiceUnavailable
);

/// `POST /introspect`: whether the body's token (or seed-mode userId) is a live session.
#[utoipa::path(
    post,
    path = "/introspect",
    tag = "services",
    operation_id = "introspect",
    summary = "Is this token a live session?",
    description = "For the other services (`validation.mode = remote`): whether a token is a live session, answered from Redis. JSON in, JSON out; or RFC 7662: a form-encoded `token=` (optional `token_type_hint`) gets the RFC's fields plus ours. The caller presents `internal.token` as its bearer credential, checked before the body is read. Counts as use of the session (idle deadline). In seed mode the JSON body may name a `userId` instead of a `token`.",
    request_body(content(
        (IntrospectRequest = "application/json",
            example = json!({"token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI2NWYxIn0.c2lnbmF0dXJl"})),
        (FormRequest = "application/x-www-form-urlencoded"),
    )),
    security(("internalToken" = [])),
    responses(
        (status = 200, description = "The answer: `active` and, when true, who and until when.",
            headers(("Cache-Control" = String, description = "`no-store`.")),
            content(
                (IntrospectAnswer = "application/json", examples(
                    ("active" = (value = json!({"active": true, "userId": "65f1c0ffee65f1c0ffee0001", "sessionId": "q1w2e3r4t5y6u7i8o9p0aZ", "email": "ada@example.com", "iat": 1767322800, "exp": 1767366000}))),
                    ("active (RFC 7662)" = (value = json!({"active": true, "sub": "65f1c0ffee65f1c0ffee0001", "exp": 1767366000, "iat": 1767322800, "token_type": "Bearer", "userId": "65f1c0ffee65f1c0ffee0001", "sessionId": "q1w2e3r4t5y6u7i8o9p0aZ", "email": "ada@example.com"}))),
                    ("inactive" = (value = json!({"active": false}))),
                )),
            )),
        IntrospectErrors,
    )
)]
#[tracing::instrument(skip_all)]
pub async fn introspect(
    _caller: InternalCaller,
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let form = match req.content_type() {
        "application/json" => false,
        "application/x-www-form-urlencoded" => true,
        _ => return Err(ApiError::new(ErrorCode::UnsupportedMediaType)),
    };
    let body = match service_kit::read_body(payload).await {
        Ok(body) => body,
        Err(response) => return Ok(response),
    };
    if form {
        let request: FormRequest = serde_urlencoded::from_bytes(&body)
            .map_err(|_| ApiError::new(ErrorCode::InvalidRequest))?;
        let token = request
            .token
            .filter(|t| !t.is_empty())
            .ok_or(ApiError::new(ErrorCode::InvalidRequest))?;
        let answer = match accounts.introspect(&Credential::Bearer(token)).await? {
            Introspection::Active(session) => FormResponse::active(&session),
            Introspection::Inactive => FormResponse::inactive(),
        };
        return Ok(no_store().json(answer));
    }
    let request: IntrospectRequest =
        serde_json::from_slice(&body).map_err(|_| ApiError::new(ErrorCode::InvalidRequest))?;
    // A bare userId is a credential in seed mode only.
    if request.token.is_none() && !accounts.seed_mode() {
        return Err(ApiError::new(ErrorCode::InvalidRequest));
    }
    let credential = request
        .into_credential()
        .ok_or(ApiError::new(ErrorCode::InvalidRequest))?;
    let answer = match accounts.introspect(&credential).await? {
        Introspection::Active(session) => IntrospectResponse::from(&session),
        Introspection::Inactive => IntrospectResponse::inactive(),
    };
    Ok(no_store().json(answer))
}

fn no_store() -> actix_web::HttpResponseBuilder {
    let mut builder = HttpResponse::Ok();
    builder.insert_header((header::CACHE_CONTROL, "no-store"));
    builder
}

/// `POST /introspect`'s answer: ours for a JSON request, RFC 7662's (plus ours) for a
/// form.
pub(crate) struct IntrospectAnswer;

impl PartialSchema for IntrospectAnswer {
    fn schema() -> RefOr<Schema> {
        AnyOfBuilder::new()
            .item(Ref::from_schema_name(
                session_core::introspection::IntrospectResponse::name(),
            ))
            .item(Ref::from_schema_name(FormResponse::name()))
            .description(Some(
                "A JSON request gets `IntrospectResponse`; a form-encoded one (RFC 7662) `IntrospectFormResponse`. Either way only `active` when the token is no live session.",
            ))
            .into()
    }
}

impl ToSchema for IntrospectAnswer {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("IntrospectAnswer")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        for (name, schema) in [
            (
                session_core::introspection::IntrospectResponse::name(),
                session_core::introspection::IntrospectResponse::schema(),
            ),
            (FormResponse::name(), FormResponse::schema()),
        ] {
            schemas.push((name.into_owned(), schema));
        }
    }
}
