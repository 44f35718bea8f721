//! `GET /me`: who the session says the caller is.

use actix_web::{HttpResponse, http::header};
use serde::Serialize;
use session_core::Session;
use session_core::session::rfc3339;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Me {
    user_id: String,
    email: String,
    expires_at: String,
}

/// `GET /me`: the user the presented session belongs to.
#[tracing::instrument(level = "debug", skip_all, fields(user_id = %session.user_id))]
pub async fn me(session: Session) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(Me {
            user_id: session.user_id,
            email: session.email,
            expires_at: rfc3339(session.expires_at),
        })
}
