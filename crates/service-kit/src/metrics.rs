//! `GET /metrics`: the contract's metrics in Prometheus text, through the `metrics`
//! facade and its Prometheus exporter. A scrape renders what is in memory; it costs no
//! Redis or MongoDB call. Labels are bounded: `route` is the route *pattern* (or
//! `unmatched`), never the raw path, so unknown paths cannot grow the series.

use std::cell::RefCell;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{HttpResponse, http::header};
use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Request latency buckets, seconds: sub-millisecond (cached validation) to seconds
/// (bcrypt under load).
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
static SERVICE: OnceLock<&'static str> = OnceLock::new();

/// Installs the process's recorder for `service` (`auth-service`, `resource-service`).
/// Call once at start, before anything records; later calls change nothing. Without
/// it (`metrics.enabled = false`) every metric is a no-op and `/metrics` is 404.
pub fn install(service: &'static str) {
    if HANDLE.get().is_some() {
        return;
    }
    let builder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("duration_seconds".into()), LATENCY_BUCKETS)
        .unwrap_or_else(|_| PrometheusBuilder::new());
    match builder.install_recorder() {
        Ok(handle) => {
            let _ = SERVICE.set(service);
            // Histogram samples wait in lock-free buckets until drained; drain them
            // every few seconds so memory stays flat between scrapes.
            let upkeep = handle.clone();
            let _ = std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(Duration::from_secs(5));
                        upkeep.run_upkeep();
                    }
                });
            let _ = HANDLE.set(handle);
        }
        Err(_) => tracing::warn!("metrics recorder not installed: another one is"),
    }
}

/// True once [`install`] has run.
pub fn enabled() -> bool {
    HANDLE.get().is_some()
}

/// `GET /metrics`.
#[cfg_attr(feature = "openapi", utoipa::path(
    get,
    path = "/metrics",
    tag = crate::openapi::OPERATIONS_TAG,
    operation_id = "metrics",
    summary = "Prometheus metrics",
    description = "The service's metrics in Prometheus text format (`http_requests_total`, `http_request_duration_seconds`, `session_validations_total`, ...). A scrape renders what is in memory: it costs no Redis or MongoDB call. With `metrics.enabled = false` the path is `404 not_found`.",
    responses(
        (status = 200, description = "Prometheus text format 0.0.4.", content_type = "text/plain", body = String,
            headers(("Cache-Control" = String, description = "`no-store`.")),
            example = "# TYPE http_requests_total counter\nhttp_requests_total{service=\"auth-service\",route=\"/login\",method=\"POST\",status=\"200\"} 1\n"),
        crate::openapi::MetricsDisabled,
    )
))]
pub async fn render() -> HttpResponse {
    match HANDLE.get() {
        Some(handle) => HttpResponse::Ok()
            .insert_header((
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            ))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(handle.render()),
        None => session_actix::error_response(session_core::error::ErrorCode::NotFound),
    }
}

/// When a request started and its method label, for [`request_finished`]; `None`
/// when metrics are off.
pub struct RequestClock {
    started: Instant,
    method: &'static str,
}

/// Starts timing `req` for the request metrics (see [`request_finished`]).
pub fn request_started(req: &ServiceRequest) -> Option<RequestClock> {
    enabled().then(|| RequestClock {
        started: Instant::now(),
        method: method_label(req.method()),
    })
}

/// Records `http_requests_total{service,route,method,status}` and
/// `http_request_duration_seconds{service,route,method}` for a finished request (run
/// by the request middleware, [`crate::request_context`]).
pub fn request_finished<B>(clock: Option<RequestClock>, res: &ServiceResponse<B>) {
    let Some(RequestClock { started, method }) = clock else {
        return;
    };
    let status = res.status().as_u16();
    let route = res
        .request()
        .app_data::<crate::fallback::RouteLabel>()
        .map_or("unmatched", |l| &*l.0);
    let elapsed = started.elapsed().as_secs_f64();
    HANDLES.with(|handles| {
        let mut handles = handles.borrow_mut();
        let at = match handles.iter().position(|(name, _)| name == route) {
            Some(at) => at,
            None => {
                handles.push((route.to_owned(), Vec::new()));
                handles.len() - 1
            }
        };
        let Some((_, per_route)) = handles.get_mut(at) else {
            return;
        };
        let found = per_route
            .iter()
            .position(|(s, m, _, _)| *s == status && *m == method);
        let index = found.unwrap_or_else(|| {
            per_route.push(new_handles(route, method, status));
            per_route.len() - 1
        });
        if let Some((_, _, count, latency)) = per_route.get(index) {
            count.increment(1);
            latency.record(elapsed);
        }
    });
}

/// A worker's handles by route name, then (status, method): registered once, so a
/// request costs two atomic updates and no lookup in the recorder. Bounded: routes
/// are the app's named resources plus `unmatched`, methods a closed set, statuses few;
/// so few that comparing names beats hashing them.
type Handles = Vec<(String, Vec<(u16, &'static str, Counter, Histogram)>)>;

thread_local! {
    static HANDLES: RefCell<Handles> = const { RefCell::new(Vec::new()) };
}

fn new_handles(
    route: &str,
    method: &'static str,
    status: u16,
) -> (u16, &'static str, Counter, Histogram) {
    let service = SERVICE.get().copied().unwrap_or("unknown");
    let count = metrics::counter!(
        "http_requests_total",
        "service" => service,
        "route" => route.to_owned(),
        "method" => method,
        "status" => status.to_string(),
    );
    let latency = metrics::histogram!(
        "http_request_duration_seconds",
        "service" => service,
        "route" => route.to_owned(),
        "method" => method,
    );
    (status, method, count, latency)
}

/// The method as a label, from a closed set (anything else is `other`).
fn method_label(method: &actix_web::http::Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "DELETE" => "DELETE",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    }
}
