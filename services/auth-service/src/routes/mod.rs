//! HTTP routes: thin handlers that extract, call one domain function and map the result.

mod account;
mod health;
mod introspect;
mod jwks;

pub use account::Credentials;
pub use introspect::InternalToken;

use actix_web::web;
use session_core::http::resource;

/// Mounts every route of the auth-service.
pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/signup").route(web::post().to(account::sign_up)))
        .service(resource("/login").route(web::post().to(account::log_in)))
        .service(resource("/logout").route(web::post().to(account::log_out)))
        .service(resource("/session").route(web::get().to(account::session)))
        .service(resource("/introspect").route(web::post().to(introspect::introspect)))
        .service(resource("/.well-known/jwks.json").route(web::get().to(jwks::jwks)))
        .service(resource("/health/live").route(web::get().to(session_core::http::live)))
        .service(resource("/health/ready").route(web::get().to(health::ready)));
}
