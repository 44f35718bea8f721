//! `POST /introspect`: internal callers ask whether a token is a live session.

use actix_web::{HttpRequest, HttpResponse, http::header, web};
use secrecy::{ExposeSecret, SecretString};
use session_core::introspection::{IntrospectRequest, IntrospectResponse};
use session_core::{Credential, ErrorCode};

use crate::accounts::{Accounts, Introspection};
use crate::error::ApiError;

/// The internal token callers must present.
#[derive(Clone)]
pub struct InternalToken(pub SecretString);

/// Checks that the caller presented the internal token as a bearer credential.
fn check_caller(req: &HttpRequest, expected: &InternalToken) -> Result<(), ApiError> {
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes());
    let credential = session_core::credential::parse(header, false)
        .map_err(|err| ApiError::new(err.error_code()))?;
    match credential {
        Credential::Bearer(token)
            if session_core::credential::constant_time_eq(&token, expected.0.expose_secret()) =>
        {
            Ok(())
        }
        _ => Err(ApiError::new(ErrorCode::InvalidToken)),
    }
}

#[tracing::instrument(skip_all)]
pub async fn introspect(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    internal: web::Data<InternalToken>,
    body: web::Json<IntrospectRequest>,
) -> Result<HttpResponse, ApiError> {
    if let Err(err) = check_caller(&req, &internal) {
        tracing::warn!("introspection refused: caller did not present the internal token");
        return Err(err);
    }
    let credential = match body.into_inner() {
        IntrospectRequest {
            token: Some(token), ..
        } => Credential::Bearer(token),
        IntrospectRequest {
            user_id: Some(user_id),
            ..
        } if session_core::credential::is_user_id(&user_id) => {
            Credential::UserId(user_id.to_ascii_lowercase())
        }
        _ => return Err(ApiError::new(ErrorCode::InvalidRequest)),
    };
    let answer = match accounts.introspect(&credential).await? {
        Introspection::Active(session) => IntrospectResponse {
            active: true,
            user_id: Some(session.user_id),
            email: Some(session.email),
            iat: Some(session.issued_at),
            exp: Some(session.expires_at),
        },
        Introspection::Inactive => IntrospectResponse {
            active: false,
            user_id: None,
            email: None,
            iat: None,
            exp: None,
        },
    };
    let mut res = HttpResponse::Ok();
    res.insert_header((header::CACHE_CONTROL, "no-store"));
    Ok(res.json(answer))
}
