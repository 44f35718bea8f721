//! The auth-service's OpenAPI 3.1 document, generated from the `#[utoipa::path]`
//! annotations on the handlers and the schemas of their bodies; `GET /openapi.json`
//! serves it (built once at start). A copy is committed as
//! `docs/openapi/auth-service.json`, and the tests fail when it differs.

use service_kit::openapi::{ADMIN_TOKEN, INTERNAL_TOKEN, SESSION_BEARER, SESSION_COOKIE, complete};
use utoipa::OpenApi;

use super::{account, health, introspect, jwks, pages, recovery, sessions, verify};

/// The security schemes, the shared headers and the `500` of every operation.
struct Contract;

impl utoipa::Modify for Contract {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        complete(
            openapi,
            &[SESSION_BEARER, SESSION_COOKIE, INTERNAL_TOKEN, ADMIN_TOKEN],
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "session-store auth-service",
        description = "Sign-up and login against MongoDB, sessions in Redis: the API and operations contract of the auth-service. Every body is JSON unless said otherwise; times are RFC 3339 UTC strings. Every error is `{\"error\": \"<code>\", \"message\": \"<sentence>\"}` with `Cache-Control: no-store`; every `401` carries `WWW-Authenticate`, every `429` and `503` `Retry-After`. A body over 16 KiB is `413 payload_too_large`; a known path asked with another method is `405 method_not_allowed`, an unknown path `404 not_found`. A request whose head or body does not arrive within `server.request_timeout_ms` is `408`.",
        license(name = "MIT", identifier = "MIT"),
    ),
    paths(
        account::sign_up,
        account::log_in,
        account::log_out,
        account::session,
        account::refresh,
        sessions::list,
        sessions::end_one,
        sessions::log_out_others,
        sessions::log_out_all,
        sessions::change_password,
        recovery::forgot,
        recovery::reset,
        recovery::verify,
        recovery::resend,
        sessions::admin_list,
        sessions::admin_end,
        sessions::admin_delete_user,
        introspect::introspect,
        verify::verify,
        jwks::jwks,
        pages::index,
        pages::account,
        pages::reset,
        pages::welcome,
        pages::style,
        pages::script,
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
        (name = "account", description = "Sign-up, login, logout, the presented session, the password."),
        (name = "recovery", description = "A forgotten password and email verification, by mail (only while `mail.smtp_url` is set)."),
        (name = "sessions", description = "A user's sessions: list, refresh, end."),
        (name = "admin", description = "Any user's sessions, for operators holding `admin.token`."),
        (name = "services", description = "For other services and gateways: introspection, `/verify`, the JWK Set."),
        (name = "pages", description = "The web pages people use in a browser."),
        (name = "operations", description = "Health, metrics and this document."),
    )
)]
struct ApiDoc;

/// The auth-service's OpenAPI document.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
