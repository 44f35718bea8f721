//! What both services' OpenAPI 3.1 documents share (feature `openapi`): the contract's
//! error answers built from [`ErrorCode`] itself (status, body, one example per code,
//! `WWW-Authenticate`, `Retry-After`), the security schemes, the headers every answer
//! carries, the operations every service serves (`/health/live`, `/metrics`,
//! `/openapi.json`), and `GET /openapi.json`, which serves the document serialised once
//! at start. Nothing here runs on a request but that one handler.
//!
//! A service lists the codes an operation can answer with [`error_responses!`]
//! (`responses(..., SessionRefusals)` in its `#[utoipa::path]`), then calls
//! [`complete`] from its document's modifier.
//!
//! [`error_responses!`]: crate::error_responses

use std::borrow::Cow;
use std::collections::BTreeMap;

use actix_web::{HttpResponse, http::header, web};
use serde_json::json;
use utoipa::openapi::example::ExampleBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, Required};
use utoipa::{PartialSchema, ToSchema};

pub use utoipa;

pub use session_core::error::ErrorCode;
use session_core::introspection::REQUEST_ID_HEADER;

/// Security scheme: the session token, `Authorization: Bearer <token>` (in seed mode
/// also a bare userId).
pub const SESSION_BEARER: &str = "sessionBearer";
/// Security scheme: the session as the browser cookie `__Host-session`.
pub const SESSION_COOKIE: &str = "sessionCookie";
/// Security scheme: `Authorization: Bearer <internal.token>`, for `/introspect`.
pub const INTERNAL_TOKEN: &str = "internalToken";
/// Security scheme: `Authorization: Bearer <admin.token>`, for `/admin/...`.
pub const ADMIN_TOKEN: &str = "adminToken";

/// The `X-CSRF-Token` request header, as a parameter of the operations a cookie must
/// pass the CSRF check for.
pub const CSRF_HEADER_DOC: &str = "Equal to the `__Host-session-csrf` cookie. Needed when the request is authenticated by the session cookie (not by `Authorization`); without it such a request is `403 csrf_failed`.";

/// Tag of the operations every service serves for operators.
pub const OPERATIONS_TAG: &str = "operations";

/// The answers for `codes`, one per status: the contract's body (its `error` limited
/// to these codes), an example per code with its real message, and the headers the
/// status carries.
pub fn error_responses(codes: &[ErrorCode]) -> BTreeMap<String, RefOr<Response>> {
    let mut by_status: BTreeMap<u16, Vec<ErrorCode>> = BTreeMap::new();
    for code in codes {
        by_status.entry(code.status()).or_default().push(*code);
    }
    by_status
        .into_iter()
        .map(|(status, codes)| (status.to_string(), error_response(&codes).into()))
        .collect()
}

/// The answer for codes that share one status.
fn error_response(codes: &[ErrorCode]) -> Response {
    let schema = AllOfBuilder::new()
        .item(Ref::from_schema_name("ErrorBody"))
        .item(
            ObjectBuilder::new().property(
                "error",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(codes.iter().map(|code| code.as_str()))),
            ),
        );
    let examples = codes.iter().map(|code| {
        (
            code.as_str(),
            RefOr::Ref(Ref::new(format!("#/components/examples/{}", code.as_str()))),
        )
    });
    let description = codes
        .iter()
        .map(|code| format!("`{}`: {}", code.as_str(), code.message()))
        .collect::<Vec<_>>()
        .join(" ");
    let mut response = ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(schema))
                .examples_from_iter(examples)
                .build(),
        )
        .build();
    let status = codes.first().map(|code| code.status());
    let mut headers = vec![("Cache-Control", NO_STORE)];
    if status == Some(401) {
        headers.push(("WWW-Authenticate", WWW_AUTHENTICATE));
    }
    if matches!(status, Some(429 | 503)) {
        headers.push(("Retry-After", RETRY_AFTER));
    }
    for (name, component) in headers {
        response
            .headers
            .insert(name.to_owned(), header_ref(component));
    }
    response
}

/// Declares a type whose `utoipa::IntoResponses` are the contract's answers for the
/// listed [`ErrorCode`]s, grouped by status (see [`error_responses`]):
///
/// ```ignore
/// session_core::error_responses!(
///     /// What `POST /signup` refuses with.
///     pub SignUpErrors: InvalidRequest, UnsupportedMediaType, InvalidEmail
/// );
/// ```
#[macro_export]
macro_rules! error_responses {
    ($(#[$meta:meta])* $vis:vis $name:ident: $($code:ident),+ $(,)?) => {
        $(#[$meta])*
        $vis struct $name;

        impl $crate::openapi::utoipa::IntoResponses for $name {
            fn responses() -> ::std::collections::BTreeMap<
                ::std::string::String,
                $crate::openapi::utoipa::openapi::RefOr<
                    $crate::openapi::utoipa::openapi::response::Response,
                >,
            > {
                $crate::openapi::error_responses(&[$($crate::openapi::ErrorCode::$code),+])
            }
        }
    };
}

error_responses!(
    /// `/metrics` with `metrics.enabled = false`.
    pub MetricsDisabled: NotFound
);

/// Components: the headers the error answers carry.
const NO_STORE: &str = "NoStore";
const WWW_AUTHENTICATE: &str = "WWW-Authenticate";
const RETRY_AFTER: &str = "Retry-After";

fn header_ref(name: &str) -> RefOr<utoipa::openapi::header::Header> {
    RefOr::Ref(Ref::new(format!("#/components/headers/{name}")))
}

fn string_header(description: &str) -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .description(Some(description))
        .build()
}

fn retry_after_header() -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1)),
        ))
        .description(Some("Seconds to wait before trying again."))
        .build()
}

/// Finishes a service's document: the named security schemes (of [`SESSION_BEARER`],
/// [`SESSION_COOKIE`], [`INTERNAL_TOKEN`], [`ADMIN_TOKEN`]); on every operation the
/// optional `X-Request-Id`, `traceparent` and `tracestate` request headers and the
/// `500 internal_error` answer; on
/// every answer the `X-Request-Id` and `X-Content-Type-Options` headers.
pub fn complete(openapi: &mut OpenApi, schemes: &[&str]) {
    let components = openapi.components.get_or_insert_with(Default::default);
    for name in schemes {
        if let Some(scheme) = security_scheme(name) {
            components.add_security_scheme(*name, scheme);
        }
    }
    for code in ErrorCode::ALL {
        components.examples.insert(
            code.as_str().to_owned(),
            ExampleBuilder::new()
                .value(Some(
                    json!({"error": code.as_str(), "message": code.message()}),
                ))
                .into(),
        );
    }
    for (name, header) in [
        (NO_STORE, string_header("`no-store`: never cached.")),
        (
            WWW_AUTHENTICATE,
            string_header(
                "`Bearer realm=\"session-store\"`, with `, error=\"invalid_token\"` when a credential was presented and refused (RFC 6750 §3).",
            ),
        ),
        (RETRY_AFTER, retry_after_header()),
    ] {
        components.headers.insert(name.to_owned(), header.into());
    }
    let request_id = header_name(REQUEST_ID_HEADER);
    components.headers.insert(
        request_id.clone(),
        string_header("The request's id: the one sent, or a new one.").into(),
    );
    components.headers.insert(
        NOSNIFF.into(),
        string_header("`nosniff`: every answer is of the type it says.").into(),
    );
    components.parameters.insert(
        request_id.clone(),
        ParameterBuilder::new()
            .name(&request_id)
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(
                "Kept when it is 1 to 128 characters of letters, digits, `-`, `_`, `.` and `:`; otherwise the service makes one. Logged with the request and returned on the answer.",
            ))
            .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
            .build()
            .into(),
    );
    for (name, description) in [
        (
            "traceparent",
            "W3C Trace Context: the request joins this trace (the service's spans become its children). A malformed value is ignored and a new trace starts; never an error.",
        ),
        (
            "tracestate",
            "W3C Trace Context: vendor state, kept with `traceparent` and passed on.",
        ),
    ] {
        components.parameters.insert(
            name.to_owned(),
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .description(Some(description))
                .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                .build()
                .into(),
        );
    }
    let internal = error_responses(&[ErrorCode::InternalError]);
    for item in openapi.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            complete_operation(operation, &internal, &request_id);
        }
    }
}

/// `X-Content-Type-Options`, on every answer.
const NOSNIFF: &str = "X-Content-Type-Options";

fn complete_operation(
    operation: &mut Operation,
    internal: &BTreeMap<String, RefOr<Response>>,
    request_id: &str,
) {
    for (status, response) in internal {
        operation
            .responses
            .responses
            .entry(status.clone())
            .or_insert_with(|| response.clone());
    }
    let parameters = operation.parameters.get_or_insert_with(Vec::new);
    for name in [request_id, "traceparent", "tracestate"] {
        parameters.push(RefOr::Ref(Ref::new(format!(
            "#/components/parameters/{name}"
        ))));
    }
    for response in operation.responses.responses.values_mut() {
        if let RefOr::T(response) = response {
            for name in [request_id, NOSNIFF] {
                response.headers.insert(
                    name.to_owned(),
                    RefOr::Ref(Ref::new(format!("#/components/headers/{name}"))),
                );
            }
        }
    }
}

/// `x-request-id` as it is usually written, `X-Request-Id`.
fn header_name(lower: &str) -> String {
    lower
        .split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("-")
}

fn security_scheme(name: &str) -> Option<SecurityScheme> {
    let bearer = |description: &str, format: Option<&str>| {
        let mut http = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some(description));
        if let Some(format) = format {
            http = http.bearer_format(format);
        }
        SecurityScheme::Http(http.build())
    };
    match name {
        SESSION_BEARER => Some(bearer(
            "The session token `POST /login` answered, as `Authorization: Bearer <token>`. The service verifies it (pinned algorithm, issuer, audience, expiry) and accepts it only while Redis holds that very session. In seed mode (`session.accept_user_id_header`) a bare userId is accepted too: `Authorization: <userId>` or `Authorization: <Scheme> <userId>`.",
            Some("JWT"),
        )),
        SESSION_COOKIE => Some(SecurityScheme::ApiKey(ApiKey::Cookie(
            ApiKeyValue::with_description(
                "__Host-session",
                "The session token as the browser cookie `POST /login` sets with `\"cookie\": true` (name from `session.cookie.name`). Used only when the request has no `Authorization` header; an unsafe request authenticated by it also needs `X-CSRF-Token`.",
            ),
        ))),
        INTERNAL_TOKEN => Some(bearer(
            "`Authorization: Bearer <internal.token>`: the secret the services share for `/introspect`.",
            None,
        )),
        ADMIN_TOKEN => Some(bearer(
            "`Authorization: Bearer <admin.token>`; until `admin.token` is set every admin endpoint answers `403 forbidden`.",
            None,
        )),
        _ => None,
    }
}

/// Body of `GET /health/live`: `{"status":"live"}`.
pub struct Liveness;

impl PartialSchema for Liveness {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property(
                "status",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["live"])),
            )
            .required("status")
            .examples([json!({"status": "live"})])
            .into()
    }
}

impl ToSchema for Liveness {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Liveness")
    }
}

/// Body of `GET /health/ready`: `status`, each dependency by name (`up` or `down`),
/// and when not ready the contract's `error` and `message`.
pub struct Readiness;

impl PartialSchema for Readiness {
    fn schema() -> RefOr<Schema> {
        let state = || {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["up", "down"]))
        };
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "`status`, then each dependency by name (`up` or `down`); when not ready also the contract's `error` (`service_unavailable`) and `message`.",
            ))
            .property(
                "status",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["ready", "unavailable"])),
            )
            .required("status")
            .property(
                "error",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some([ErrorCode::ServiceUnavailable.as_str()])),
            )
            .property("message", ObjectBuilder::new().schema_type(Type::String))
            .additional_properties(Some(state()))
            .into()
    }
}

impl ToSchema for Readiness {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Readiness")
    }
}

/// The answers of a readiness check whose dependencies are `names`.
pub fn readiness_responses(names: &[&str]) -> BTreeMap<String, RefOr<Response>> {
    let body = |status: &str, up: bool, error: bool| {
        let mut body = serde_json::Map::new();
        if error {
            body.insert(
                "error".into(),
                ErrorCode::ServiceUnavailable.as_str().into(),
            );
            body.insert(
                "message".into(),
                "Not ready: a dependency does not answer.".into(),
            );
        }
        body.insert("status".into(), status.into());
        for (i, name) in names.iter().enumerate() {
            let state = if up || i > 0 { "up" } else { "down" };
            body.insert((*name).into(), state.into());
        }
        serde_json::Value::Object(body)
    };
    let content = |example: serde_json::Value| {
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("Readiness")))
            .example(Some(example))
            .build()
    };
    let deps = names.join(", ");
    let mut unavailable = ResponseBuilder::new()
        .description(format!(
            "Not ready: one of {deps} does not answer; the body says which."
        ))
        .content(
            "application/json",
            content(body("unavailable", false, true)),
        )
        .build();
    unavailable
        .headers
        .insert("Retry-After".to_owned(), header_ref(RETRY_AFTER));
    BTreeMap::from([
        (
            "200".to_owned(),
            ResponseBuilder::new()
                .description(format!("Ready: {deps} answer."))
                .content("application/json", content(body("ready", true, false)))
                .build()
                .into(),
        ),
        ("503".to_owned(), unavailable.into()),
    ])
}

/// The service's OpenAPI document, serialised once.
#[derive(Debug, Clone)]
pub struct OpenApiDocument(web::Bytes);

impl OpenApiDocument {
    /// Serialises `openapi` as it is committed under `docs/openapi/`: pretty JSON with
    /// every object's keys sorted, and a final newline. Sorted, because serde_json keeps
    /// insertion order instead when another crate in the build turns on its
    /// `preserve_order` feature, and the bytes must not depend on what else is built.
    pub fn new(openapi: &OpenApi) -> Result<Self, serde_json::Error> {
        let mut text = serde_json::to_string_pretty(&sorted(serde_json::to_value(openapi)?))?;
        text.push('\n');
        Ok(Self(web::Bytes::from(text)))
    }

    /// The serialised document.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

/// `value` with the keys of every object in sorted order.
fn sorted(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<_> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            serde_json::Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.into_iter().map(sorted).collect())
        }
        other => other,
    }
}

/// `GET /openapi.json`: the document built at start; touches no store.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = OPERATIONS_TAG,
    operation_id = "openapi",
    summary = "This OpenAPI 3.1 document",
    description = "Generated from the code at start; a copy is committed under `docs/openapi/`. Answers while Redis and MongoDB are down.",
    responses(
        (status = 200, description = "The document.", content_type = "application/json", body = Object,
            headers(("Cache-Control" = String, description = "`public, max-age=60`.")))
    )
)]
pub async fn serve(document: web::Data<OpenApiDocument>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=60"))
        .body(document.0.clone())
}

/// The routes the shared server mounts itself (see [`crate::server::serve`]), beside
/// a service's own `ROUTES`: (lowercase method, path).
pub const SERVER_ROUTES: &[(&str, &str)] = &[("get", "/metrics")];

/// A route pattern as an OpenAPI path template, for comparing the two: every
/// `{parameter}` becomes `{}` (the router's names are snake_case, the document's
/// camelCase).
pub fn template(path: &str) -> String {
    path.split('/')
        .map(|part| if part.starts_with('{') { "{}" } else { part })
        .collect::<Vec<_>>()
        .join("/")
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Every (method, path template as [`template`] writes it) of a document.
pub fn operations(document: &serde_json::Value) -> std::collections::BTreeSet<(String, String)> {
    let mut found = std::collections::BTreeSet::new();
    if let Some(paths) = document["paths"].as_object() {
        for (path, item) in paths {
            for method in METHODS {
                if item.get(method).is_some() {
                    found.insert((method.to_owned(), template(path)));
                }
            }
        }
    }
    found
}

/// For the services' tests: compares the generated document with the committed copy
/// at `path`, or rewrites the copy when `UPDATE_OPENAPI` is set. Panics with
/// `regenerate` (the command that rewrites it) when they differ.
pub fn check_committed(generated: &[u8], path: &std::path::Path, regenerate: &str) {
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        if let Err(err) = std::fs::write(path, generated) {
            panic!("could not write {}: {err}", path.display());
        }
        return;
    }
    let committed = std::fs::read(path).unwrap_or_default();
    if committed != generated {
        let line = std::str::from_utf8(generated)
            .unwrap_or_default()
            .lines()
            .zip(std::str::from_utf8(&committed).unwrap_or_default().lines())
            .position(|(a, b)| a != b)
            .map_or_else(|| "the end".to_owned(), |i| format!("line {}", i + 1));
        panic!(
            "{} is stale: the code generates another OpenAPI document (first difference at {line}). Regenerate it with\n    {regenerate}\nand commit it.",
            path.display()
        );
    }
}

/// For the services' tests: panics unless `document` is a well-formed OpenAPI 3.1
/// document: the version; info; every path and operation (a unique `operationId`,
/// responses with descriptions, each path parameter declared and required); every
/// `$ref`, security requirement and link resolving; and it reads back as utoipa's model.
pub fn check_document(document: &serde_json::Value) {
    use serde_json::Value;
    let version = document["openapi"].as_str().unwrap_or_default();
    assert!(
        version.starts_with("3.1."),
        "openapi is {version:?}, not 3.1.x"
    );
    assert!(document["info"]["title"].is_string(), "info.title");
    assert!(document["info"]["version"].is_string(), "info.version");
    if let Err(err) = serde_json::from_value::<OpenApi>(readable(document.clone())) {
        panic!("the document does not read back as OpenAPI: {err}");
    }
    let Some(paths) = document["paths"].as_object() else {
        panic!("no paths");
    };
    assert!(!paths.is_empty(), "no paths");
    let schemes = document["components"]["securitySchemes"].as_object();
    let mut ids = std::collections::BTreeSet::new();
    let mut links = Vec::new();
    for (path, item) in paths {
        assert!(path.starts_with('/'), "{path}");
        let names: Vec<&str> = path
            .split('/')
            .filter_map(|part| part.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        for method in METHODS {
            let Some(operation) = item.get(method) else {
                continue;
            };
            let id = operation["operationId"].as_str().unwrap_or_default();
            assert!(!id.is_empty(), "{method} {path}: no operationId");
            assert!(ids.insert(id.to_owned()), "operationId {id} twice");
            for name in &names {
                let declared = operation["parameters"].as_array().is_some_and(|params| {
                    params.iter().any(|p| {
                        p["in"] == "path"
                            && p["name"] == *name
                            && p["required"] == Value::Bool(true)
                    })
                });
                assert!(
                    declared,
                    "{method} {path}: path parameter {name} not declared"
                );
            }
            let Some(responses) = operation["responses"].as_object() else {
                panic!("{method} {path}: no responses");
            };
            assert!(!responses.is_empty(), "{method} {path}: no responses");
            for (status, response) in responses {
                assert!(
                    status.len() == 3 && status.bytes().all(|b| b.is_ascii_digit()),
                    "{method} {path}: status {status}"
                );
                assert!(
                    response["description"].is_string(),
                    "{method} {path} {status}: no description"
                );
                if let Some(found) = response["links"].as_object() {
                    links.extend(found.values().cloned());
                }
            }
            for requirement in operation["security"].as_array().into_iter().flatten() {
                for name in requirement
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, _)| k)
                {
                    assert!(
                        schemes.is_some_and(|s| s.contains_key(name)),
                        "{method} {path}: security scheme {name} is not defined"
                    );
                }
            }
        }
    }
    for link in links {
        let target = link["operationId"].as_str().unwrap_or_default();
        assert!(
            ids.contains(target),
            "a link names operationId {target:?}, which is no operation"
        );
    }
    check_refs(document, document);
}

/// `document` as utoipa's model reads it: its Link deserialiser requires `parameters`,
/// which OpenAPI makes optional (a link may carry only a `requestBody`).
fn readable(mut document: serde_json::Value) -> serde_json::Value {
    fn visit(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                if let Some(serde_json::Value::Object(links)) = map.get_mut("links") {
                    for link in links.values_mut().filter_map(|l| l.as_object_mut()) {
                        link.entry("parameters").or_insert_with(|| json!({}));
                    }
                }
                map.values_mut().for_each(visit);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(visit),
            _ => {}
        }
    }
    visit(&mut document);
    document
}

/// Every `$ref` under `value` points into `document`.
fn check_refs(document: &serde_json::Value, value: &serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            if let Some(reference) = map.get("$ref").and_then(|r| r.as_str()) {
                let pointer = reference.strip_prefix('#').unwrap_or(reference);
                assert!(
                    document.pointer(pointer).is_some(),
                    "$ref {reference} points to nothing"
                );
            }
            map.values().for_each(|v| check_refs(document, v));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| check_refs(document, v)),
        _ => {}
    }
}
