//! HTTP routes: thin handlers over the session extractor. [`openapi`] describes them
//! all, from the annotations on the handlers.

mod health;
mod me;
pub mod openapi;

service_kit::routes! {
    /// Mounts every route of the resource-service (`/metrics` is the shared server's).
    "/me" => { get => me::me },
    "/health/live" => { get => service_kit::live },
    "/health/ready" => { get => health::ready },
    "/openapi.json" => { get => service_kit::openapi::serve },
}
