//! actix-web integration: the contract's error bodies, the [`Session`] extractor,
//! JSON body limits, request ids and the fallbacks for unknown routes.

use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::{InternalError, JsonPayloadError};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError, web};
use serde::Serialize;
use tracing::Instrument;

use crate::credential;
use crate::error::{AuthError, ErrorCode};
use crate::session::Session;
use crate::validate::SessionValidator;

/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Seconds a client is told to wait after a 503.
pub const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 1;

/// The `X-Request-Id` header.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

const REALM: &str = "Bearer realm=\"session-store\"";
const REALM_INVALID: &str = "Bearer realm=\"session-store\", error=\"invalid_token\"";

/// The contract's error body.
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    /// The snake_case code.
    pub error: &'a str,
    /// A human sentence.
    pub message: &'a str,
}

/// The contract's response for `code`: JSON body, `WWW-Authenticate` on 401,
/// `Retry-After` on 503.
pub fn error_response(code: ErrorCode) -> HttpResponse {
    error_response_with(code, code.message(), None)
}

/// Like [`error_response`], with a message and an explicit `Retry-After` in seconds.
pub fn error_response_with(
    code: ErrorCode,
    message: &str,
    retry_after: Option<u64>,
) -> HttpResponse {
    let status = code.status();
    let mut builder = HttpResponse::build(status);
    if status == actix_web::http::StatusCode::UNAUTHORIZED {
        let value = if code.refuses_credential() {
            REALM_INVALID
        } else {
            REALM
        };
        builder.insert_header((header::WWW_AUTHENTICATE, value));
    }
    let retry_after = retry_after
        .or((code == ErrorCode::ServiceUnavailable).then_some(UNAVAILABLE_RETRY_AFTER_SECS));
    if let Some(secs) = retry_after {
        builder.insert_header((header::RETRY_AFTER, secs.max(1).to_string()));
    }
    builder.insert_header((header::CACHE_CONTROL, "no-store"));
    builder.json(ErrorBody {
        error: code.as_str(),
        message,
    })
}

impl ResponseError for AuthError {
    fn status_code(&self) -> actix_web::http::StatusCode {
        self.error_code().status()
    }

    fn error_response(&self) -> HttpResponse {
        error_response(self.error_code())
    }
}

/// The request id of the current request, set by [`request_context`].
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn acceptable_request_id(value: &HeaderValue) -> Option<String> {
    let s = value.to_str().ok()?;
    let ok = !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    ok.then(|| s.to_owned())
}

/// A new request id: a random per-process prefix and a counter, unique without a
/// syscall per request.
fn new_request_id() -> String {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static PREFIX: OnceLock<String> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| uuid::Uuid::new_v4().simple().to_string()[..12].to_owned());
    format!("{prefix}-{:x}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// Middleware: takes `X-Request-Id` from the request or makes one, runs the request
/// in a span that carries it, logs method, path, status and latency, and puts the id
/// and `X-Content-Type-Options: nosniff` on the response.
pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(acceptable_request_id)
        .unwrap_or_else(new_request_id);
    req.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %req.path(),
    );
    let started = Instant::now();
    let result = next.call(req).instrument(span.clone()).await;
    let _entered = span.enter();
    let mut res = result?;
    let status = res.status().as_u16();
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    if status >= 500 {
        tracing::warn!(status, latency_ms, "request finished");
    } else {
        tracing::info!(status, latency_ms, "request finished");
    }
    let headers = res.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&id) {
        headers.insert(REQUEST_ID.clone(), value);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(res)
}

/// JSON extractor settings: 16 KiB limit, the contract's 400 and 413 bodies.
pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(MAX_BODY_BYTES)
        .content_type_required(false)
        .error_handler(|err, _req| {
            let code = match &err {
                JsonPayloadError::Overflow { .. }
                | JsonPayloadError::OverflowKnownLength { .. } => ErrorCode::PayloadTooLarge,
                JsonPayloadError::Payload(actix_web::error::PayloadError::Overflow) => {
                    ErrorCode::PayloadTooLarge
                }
                _ => ErrorCode::InvalidRequest,
            };
            InternalError::from_response(err, error_response(code)).into()
        })
}

/// Raw payload settings with the same limit, for handlers that read no JSON.
pub fn payload_config() -> web::PayloadConfig {
    web::PayloadConfig::new(MAX_BODY_BYTES)
}

/// `GET /health/live`: 200 while the process runs.
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "live" }))
}

/// The `/health/ready` answer for named dependencies and whether each answered:
/// 200 when all did, else 503 with the contract's body, `Retry-After`, and each
/// dependency's state (`up` / `down`).
pub fn readiness(dependencies: &[(&str, bool)]) -> HttpResponse {
    let ready = dependencies.iter().all(|(_, up)| *up);
    let mut body = serde_json::Map::new();
    if !ready {
        let code = ErrorCode::ServiceUnavailable;
        body.insert("error".into(), code.as_str().into());
        body.insert(
            "message".into(),
            "Not ready: a dependency does not answer.".into(),
        );
    }
    body.insert(
        "status".into(),
        if ready { "ready" } else { "unavailable" }.into(),
    );
    for (name, up) in dependencies {
        body.insert((*name).into(), if *up { "up" } else { "down" }.into());
    }
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable()
            .insert_header((
                header::RETRY_AFTER,
                UNAVAILABLE_RETRY_AFTER_SECS.to_string(),
            ))
            .json(body)
    }
}

/// Fallback for unknown paths: 404 with the contract's body.
pub async fn not_found() -> HttpResponse {
    error_response(ErrorCode::NotFound)
}

/// Fallback for a known path with another method: 405 with the contract's body.
pub async fn method_not_allowed() -> HttpResponse {
    error_response(ErrorCode::MethodNotAllowed)
}

/// A resource whose unmatched methods answer 405 with the contract's body.
pub fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

/// Reads and validates the request's credential with the app's [`SessionValidator`].
pub async fn authenticate(req: &HttpRequest) -> Result<Session, AuthError> {
    let Some(validator) = req.app_data::<web::Data<SessionValidator>>().cloned() else {
        tracing::error!("no SessionValidator registered as app data");
        return Err(AuthError::Unavailable);
    };
    let mut values = req.headers().get_all(header::AUTHORIZATION);
    let first = values.next();
    if values.next().is_some() {
        return Err(AuthError::InvalidToken);
    }
    let credential = credential::parse(
        first.map(HeaderValue::as_bytes),
        validator.accepts_user_id(),
    )?;
    let request_id = req.extensions().get::<RequestId>().map(|r| r.0.clone());
    let result = validator.validate(&credential, request_id.as_deref()).await;
    if let Err(err) = &result {
        tracing::info!(code = err.code(), "session refused");
    }
    result
}

impl FromRequest for Session {
    type Error = AuthError;
    type Future = Pin<Box<dyn Future<Output = Result<Session, AuthError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { authenticate(&req).await })
    }
}

/// A running service: its port and the server future.
pub struct BoundServer {
    /// The port it listens on (useful when the settings said 0).
    pub port: u16,
    /// The server; await it to serve until SIGTERM or Ctrl-C.
    pub server: actix_web::dev::Server,
}

/// Binds `settings.host:port` and builds the server every service runs: request ids
/// and logging, the JSON and payload limits, the contract's 404 and 405, graceful
/// shutdown. `configure` mounts the service's routes and app data.
pub fn serve<F>(
    settings: &crate::settings::ServerSettings,
    configure: F,
) -> std::io::Result<BoundServer>
where
    F: Fn(&mut web::ServiceConfig) + Send + Clone + 'static,
{
    let listener = std::net::TcpListener::bind((settings.host.as_str(), settings.port))?;
    let port = listener.local_addr()?.port();
    let mut server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .wrap(actix_web::middleware::from_fn(request_context))
            .app_data(json_config())
            .app_data(payload_config())
            .configure(configure.clone())
            .default_service(web::to(not_found))
    })
    .shutdown_timeout(settings.shutdown_timeout_seconds)
    .client_request_timeout(std::time::Duration::from_secs(10));
    if settings.workers > 0 {
        server = server.workers(settings.workers);
    }
    let server = server.listen(listener)?.run();
    Ok(BoundServer { port, server })
}
