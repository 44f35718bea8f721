//! Request ids, trace context and the access log: every request runs in a span
//! carrying its id, inside the trace its `traceparent` names (or a new one).

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Instrument;

use crate::fallback::RouteLabel;
use crate::trace_context::{self, TRACEPARENT_HEADER, TRACESTATE_HEADER, TraceParent};
use session_core::introspection::REQUEST_ID_HEADER;

/// The `X-Request-Id` header, as actix's header name.
pub static REQUEST_ID: HeaderName = HeaderName::from_static(REQUEST_ID_HEADER);

/// The W3C trace headers, as actix's header names (parsed once, not per request).
static TRACEPARENT: HeaderName = HeaderName::from_static(TRACEPARENT_HEADER);
static TRACESTATE: HeaderName = HeaderName::from_static(TRACESTATE_HEADER);

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

/// The caller's trace context: one well-formed `traceparent` (with its `tracestate`,
/// when that is acceptable); anything else starts a new trace.
fn incoming_trace(req: &ServiceRequest) -> Option<(TraceParent, Option<String>)> {
    let headers = req.headers();
    let mut parents = headers.get_all(&TRACEPARENT);
    let first = parents.next()?;
    if parents.next().is_some() {
        return None;
    }
    let parent = TraceParent::parse(first.to_str().ok()?)?;
    let mut states = headers.get_all(&TRACESTATE);
    let state = match (states.next(), states.next()) {
        (Some(value), None) => value
            .to_str()
            .ok()
            .and_then(trace_context::acceptable_tracestate),
        _ => None,
    };
    Some((parent, state))
}

/// The middleware every request passes (one step, one boxed future): takes
/// `X-Request-Id` from the request or makes one, and the W3C trace context; runs the
/// request in a span that carries the id, inside that trace; bounds the time its body
/// may take ([`crate::deadline`]); records the request metrics ([`crate::metrics`]);
/// logs method, path, status and latency, and puts the id and
/// `X-Content-Type-Options: nosniff` on the response.
pub async fn request_context(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(acceptable_request_id)
        .unwrap_or_else(new_request_id);
    let exporting = crate::telemetry::exporting();
    let span = if exporting {
        tracing::info_span!(
            "request",
            request_id = %id,
            method = %req.method(),
            path = %req.path(),
            otel.kind = "server",
        )
    } else {
        tracing::info_span!(
            "request",
            request_id = %id,
            method = %req.method(),
            path = %req.path(),
        )
    };
    let trace = crate::telemetry::request_trace(&span, incoming_trace(&req));
    let method = exporting.then(|| req.method().clone());
    let started = Instant::now();
    crate::deadline::bound_body(&mut req);
    let clock = crate::metrics::request_started(&req);
    let result = trace_context::scope(trace, id.as_str().into(), next.call(req))
        .instrument(span.clone())
        .await;
    let _entered = span.enter();
    let mut res = result?;
    crate::metrics::request_finished(clock, &res);
    let status = res.status().as_u16();
    if let Some(method) = method {
        let route = res
            .request()
            .app_data::<RouteLabel>()
            .map_or("unmatched", |label| &label.0);
        crate::telemetry::name_request_span(&span, method.as_str(), route, status);
    }
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
