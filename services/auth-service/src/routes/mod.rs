//! HTTP routes: thin handlers that extract, call one domain function and map the result.
//! [`openapi`] describes them all, from the annotations on the handlers.

mod account;
mod callers;
mod csrf;
mod health;
mod introspect;
mod jwks;
pub mod openapi;
mod pages;
mod recovery;
mod sessions;
mod verify;

pub use account::Credentials;
pub use callers::{AdminToken, InternalToken};
pub use verify::Verifier;

service_kit::routes! {
    /// Mounts every route of the auth-service (`/metrics` is the shared server's).
    "/" => { get => pages::index },
    "/account" => { get => pages::account },
    "/reset" => { get => pages::reset },
    "/welcome" => { get => pages::welcome },
    "/assets/app.css" => { get => pages::style },
    "/assets/app.js" => { get => pages::script },
    "/signup" => { post => account::sign_up },
    "/login" => { post => account::log_in },
    "/logout" => { post => account::log_out },
    "/session" => { get => account::session },
    "/session/refresh" => { post => account::refresh },
    "/sessions" => { get => sessions::list },
    "/sessions/{session_id}" => { delete => sessions::end_one },
    "/logout/others" => { post => sessions::log_out_others },
    "/logout/all" => { post => sessions::log_out_all },
    "/password" => { post => sessions::change_password },
    "/password/forgot" => { post => recovery::forgot },
    "/password/reset" => { post => recovery::reset },
    "/email/verify" => { post => recovery::verify },
    "/email/verify/resend" => { post => recovery::resend },
    "/admin/users/{user_id}/sessions" => {
        get => sessions::admin_list,
        delete => sessions::admin_end,
    },
    "/admin/users/{user_id}" => { delete => sessions::admin_delete_user },
    "/introspect" => { post => introspect::introspect },
    "/verify" => { get => verify::verify },
    "/.well-known/jwks.json" => { get => jwks::jwks },
    "/health/live" => { get => service_kit::live },
    "/health/ready" => { get => health::ready },
    "/openapi.json" => { get => service_kit::openapi::serve },
}
