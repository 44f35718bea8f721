//! `GET /.well-known/jwks.json`: the public keys sessions are verified with.

use actix_web::{HttpResponse, http::header, web};
use session_core::TokenCodec;

/// Every public key still accepted: the current signing key's and the configured
/// previous ones (empty with HS256, whose secret is never published).
pub async fn jwks(codec: web::Data<TokenCodec>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=60"))
        .json(codec.jwks())
}
