//! HTTP routes: thin handlers that extract, call one domain function and map the result.

mod account;
mod callers;
mod health;
mod introspect;
mod jwks;
mod pages;
mod sessions;
mod verify;

pub use account::Credentials;
pub use callers::{AdminToken, InternalToken};
pub use verify::Verifier;

use actix_web::web;
use session_core::http::resource;

/// Mounts every route of the auth-service.
pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/").route(web::get().to(pages::index)))
        .service(resource("/account").route(web::get().to(pages::account)))
        .service(resource("/assets/app.css").route(web::get().to(pages::style)))
        .service(resource("/assets/app.js").route(web::get().to(pages::script)))
        .service(resource("/signup").route(web::post().to(account::sign_up)))
        .service(resource("/login").route(web::post().to(account::log_in)))
        .service(resource("/logout").route(web::post().to(account::log_out)))
        .service(resource("/session").route(web::get().to(account::session)))
        .service(resource("/session/refresh").route(web::post().to(account::refresh)))
        .service(resource("/sessions").route(web::get().to(sessions::list)))
        .service(resource("/sessions/{session_id}").route(web::delete().to(sessions::end_one)))
        .service(resource("/logout/others").route(web::post().to(sessions::log_out_others)))
        .service(resource("/logout/all").route(web::post().to(sessions::log_out_all)))
        .service(resource("/password").route(web::post().to(sessions::change_password)))
        .service(
            resource("/admin/users/{user_id}/sessions")
                .route(web::get().to(sessions::admin_list))
                .route(web::delete().to(sessions::admin_end)),
        )
        .service(
            resource("/admin/users/{user_id}").route(web::delete().to(sessions::admin_delete_user)),
        )
        .service(resource("/introspect").route(web::post().to(introspect::introspect)))
        .service(resource("/verify").route(web::get().to(verify::verify)))
        .service(resource("/.well-known/jwks.json").route(web::get().to(jwks::jwks)))
        .service(resource("/health/live").route(web::get().to(session_core::http::live)))
        .service(resource("/health/ready").route(web::get().to(health::ready)));
}
