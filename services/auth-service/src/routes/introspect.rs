//! `POST /introspect`: internal callers ask whether a token is a live session.

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpRequest, HttpResponse, http::header, web};
use secrecy::{ExposeSecret, SecretString};
use session_core::credential::constant_time_eq;
use session_core::http::credential_of;
use session_core::introspection::{IntrospectRequest, IntrospectResponse};
use session_core::{Credential, ErrorCode};

use crate::accounts::{Accounts, Introspection};
use crate::error::ApiError;

/// The internal token callers must present.
#[derive(Clone)]
pub struct InternalToken(pub SecretString);

/// A caller that presented the internal token as its one bearer credential. As an
/// extractor it runs before the body is read, so a stranger's body is never parsed.
pub struct InternalCaller;

impl FromRequest for InternalCaller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        ready(check_caller(req))
    }
}

fn check_caller(req: &HttpRequest) -> Result<InternalCaller, ApiError> {
    let Some(expected) = req.app_data::<web::Data<InternalToken>>() else {
        tracing::error!("no InternalToken registered as app data");
        return Err(ApiError::new(ErrorCode::InternalError));
    };
    let refused = |code: ErrorCode| {
        tracing::warn!("introspection refused: caller did not present the internal token");
        ApiError::new(code)
    };
    match credential_of(req, false).map_err(|err| refused(err.code()))? {
        Credential::Bearer(token) if constant_time_eq(&token, expected.0.expose_secret()) => {
            Ok(InternalCaller)
        }
        _ => Err(refused(ErrorCode::InvalidToken)),
    }
}

/// `POST /introspect`: whether the body's token (or seed-mode userId) is a live session.
#[tracing::instrument(skip_all)]
pub async fn introspect(
    _caller: InternalCaller,
    accounts: web::Data<Accounts>,
    body: web::Json<IntrospectRequest>,
) -> Result<HttpResponse, ApiError> {
    let credential = body
        .into_inner()
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
