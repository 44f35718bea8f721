//! HTTP routes: thin handlers over the session extractor.

mod health;
mod me;

use actix_web::web;
use session_core::http::resource;

/// Mounts every route of the resource-service.
pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/me").route(web::get().to(me::me)))
        .service(resource("/health/live").route(web::get().to(session_core::http::live)))
        .service(resource("/health/ready").route(web::get().to(health::ready)));
}
