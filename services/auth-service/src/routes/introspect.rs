//! `POST /introspect`: internal callers ask whether a token is a live session, in our
//! JSON or as RFC 7662 (a form-encoded `token=`, answered with the RFC's fields plus
//! ours). The caller is checked before the body is read, whichever the form.

use actix_web::{HttpMessage, HttpRequest, HttpResponse, http::header, web};
use serde::{Deserialize, Serialize};
use session_core::introspection::{IntrospectRequest, IntrospectResponse};
use session_core::{Credential, ErrorCode, Session};

use super::callers::InternalCaller;
use crate::accounts::{Accounts, Introspection};
use crate::error::ApiError;

/// RFC 7662 §2.1: `token`, and an optional `token_type_hint` (read, not needed: every
/// token here is an access token).
#[derive(Deserialize)]
struct FormRequest {
    token: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    token_type_hint: Option<String>,
}

/// RFC 7662 §2.2's fields, then ours.
#[derive(Serialize)]
struct FormResponse {
    active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_type: Option<&'static str>,
    #[serde(rename = "userId", skip_serializing_if = "Option::is_none")]
    user_id: Option<String>,
    #[serde(rename = "sessionId", skip_serializing_if = "Option::is_none")]
    session_id: Option<String>,
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

/// `POST /introspect`: whether the body's token (or seed-mode userId) is a live session.
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
    let body = match session_core::http::read_body(payload).await {
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
