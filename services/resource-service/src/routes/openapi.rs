//! The resource-service's OpenAPI 3.1 document, generated from the `#[utoipa::path]`
//! annotations on the handlers and the schemas of their bodies; `GET /openapi.json`
//! serves it (built once at start). A copy is committed as
//! `docs/openapi/resource-service.json`, and the tests fail when it differs.

use service_kit::openapi::{SESSION_BEARER, SESSION_COOKIE, complete};
use utoipa::OpenApi;

use super::{health, me};

/// The security schemes, the shared headers and the `500` of every operation.
struct Contract;

impl utoipa::Modify for Contract {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        complete(openapi, &[SESSION_BEARER, SESSION_COOKIE]);
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "session-store resource-service",
        description = "A protected API that trusts the session and nothing else: the API and operations contract of the resource-service. Sessions are validated against Redis or, with `validation.mode = remote`, by the auth-service. Every error is `{\"error\": \"<code>\", \"message\": \"<sentence>\"}` with `Cache-Control: no-store`; every `401` carries `WWW-Authenticate`, every `503` `Retry-After`. A known path asked with another method is `405 method_not_allowed`, an unknown path `404 not_found`. A request whose head does not arrive within `server.request_timeout_ms` is `408`.",
        license(name = "MIT", identifier = "MIT"),
    ),
    paths(
        me::me,
        service_kit::health::live,
        health::ready,
        service_kit::metrics::render,
        service_kit::openapi::serve,
    ),
    components(schemas(
        session_core::ErrorBody,
        session_core::ErrorCode,
        service_kit::openapi::Readiness,
    )),
    modifiers(&Contract),
    tags(
        (name = "resource", description = "The protected API."),
        (name = "operations", description = "Health, metrics and this document."),
    )
)]
struct ApiDoc;

/// The resource-service's OpenAPI document.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
