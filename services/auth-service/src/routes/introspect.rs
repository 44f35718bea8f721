//! `POST /introspect`: internal callers ask whether a token is a live session.

use actix_web::{HttpResponse, http::header, web};
use session_core::ErrorCode;
use session_core::introspection::{IntrospectRequest, IntrospectResponse};

use super::callers::InternalCaller;
use crate::accounts::{Accounts, Introspection};
use crate::error::ApiError;

/// `POST /introspect`: whether the body's token (or seed-mode userId) is a live session.
#[tracing::instrument(skip_all)]
pub async fn introspect(
    _caller: InternalCaller,
    accounts: web::Data<Accounts>,
    body: web::Json<IntrospectRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    // A bare userId is a credential in seed mode only.
    if body.token.is_none() && !accounts.seed_mode() {
        return Err(ApiError::new(ErrorCode::InvalidRequest));
    }
    let credential = body
        .into_credential()
        .ok_or(ApiError::new(ErrorCode::InvalidRequest))?;
    let answer = match accounts.introspect(&credential).await? {
        Introspection::Active(session) => IntrospectResponse::from(&session),
        Introspection::Inactive => IntrospectResponse::inactive(),
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(answer))
}
