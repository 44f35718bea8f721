//! HTTP routes: thin handlers over the session extractor. [`openapi`] describes them
//! all, from the annotations on the handlers.

mod health;
mod me;
pub mod openapi;

session_core::routes! {
    /// Mounts every route of the resource-service (`/metrics` is the shared server's).
    "/me" => { get => me::me },
    "/health/live" => { get => session_core::http::live },
    "/health/ready" => { get => health::ready },
    "/openapi.json" => { get => session_core::http::openapi::serve },
}
