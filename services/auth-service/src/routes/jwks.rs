//! `GET /.well-known/jwks.json`: the public keys sessions are verified with.

use actix_web::{HttpResponse, http::header, web};
use session_core::TokenCodec;

/// Every public key still accepted: the current signing key's and the configured
/// previous ones (empty with HS256, whose secret is never published).
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "services",
    operation_id = "jwks",
    summary = "The public keys sessions are verified with",
    description = "A JWK Set (RFC 7517) of every Ed25519 public key still accepted (`jwt.algorithm = EdDSA`); empty with `HS256`, whose secret is never published.",
    responses(
        (status = 200, description = "The JWK Set.", body = session_core::keys::Jwks,
            headers(("Cache-Control" = String, description = "`public, max-age=60`.")),
            example = json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "kid": "2026-01", "alg": "EdDSA", "use": "sig"}]})),
    )
)]
pub async fn jwks(codec: web::Data<TokenCodec>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=60"))
        .json(codec.jwks())
}
