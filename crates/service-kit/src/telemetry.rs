//! Logs and traces, shared by the services' binaries.
//!
//! Logs go to stderr, filtered by `RUST_LOG` (default `info`). Traces follow W3C Trace
//! Context (see [`crate::trace_context`]) whether or not they are exported; with
//! `telemetry.otlp_endpoint` set (feature `otlp`), every request's span and the spans
//! under it go to that OTLP/HTTP endpoint in protobuf, in batches, from a bounded
//! queue: a collector that is down or slow costs requests nothing, and a span that
//! finds the queue full is dropped and counted (`trace_spans_dropped_total`).

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Deserialize;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::log_sink::{LogGuard, LogSink};
use crate::trace_context::{RequestTrace, TraceParent};
use session_core::settings::SettingsError;

/// The `telemetry` section of the configuration.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
pub struct TelemetrySettings {
    /// Base URL of an OTLP/HTTP collector (`http://collector:4318`; `/v1/traces` is
    /// added unless the URL already ends with it). None: nothing is exported.
    #[serde(default, serialize_with = "session_core::masked::optional_url")]
    pub otlp_endpoint: Option<String>,
}

static EXPORTING: AtomicBool = AtomicBool::new(false);

/// True when spans are being exported (an OTLP endpoint is set and the exporter runs).
pub fn exporting() -> bool {
    EXPORTING.load(Ordering::Relaxed)
}

/// What [`init`] set up; [`Telemetry::shutdown`] sends the spans still queued.
#[derive(Debug, Default)]
pub struct Telemetry {
    #[cfg(feature = "otlp")]
    export: Option<otlp::Export>,
    /// The log writer; dropping it writes out the lines still buffered.
    _logs: Option<LogGuard>,
}

impl Telemetry {
    /// Sends what is queued (bounded by two seconds) and stops exporting; writes out
    /// the buffered log lines.
    pub async fn shutdown(self) {
        #[cfg(feature = "otlp")]
        if let Some(export) = &self.export {
            export.shutdown().await;
        }
        // Dropping `self` drops the log guard, which writes out what is buffered.
    }
}

/// Installs a `tracing` subscriber writing logs to stderr, filtered by `RUST_LOG`
/// (default `default_filter`), and nothing else (tools, tests). Calling it twice
/// keeps the first.
pub fn init(default_filter: &str) {
    init_logs(default_filter);
}

/// Installs a service's `tracing` subscriber: logs as [`init`] does, and, when
/// `settings` names an OTLP endpoint, span export to it as `service`. Must run inside
/// the Tokio runtime (the exporter is a task on it). Calling it twice keeps the first
/// subscriber.
// Without `otlp`, `Telemetry` has the log guard only, and `..Telemetry::default()`
// fills nothing.
#[cfg_attr(not(feature = "otlp"), allow(clippy::needless_update))]
pub fn init_service(
    default_filter: &str,
    service: &'static str,
    settings: Option<&TelemetrySettings>,
) -> Result<Telemetry, SettingsError> {
    let endpoint = settings.and_then(|s| s.otlp_endpoint.as_deref());
    // Lines go through the log writer's buffer, written out by a thread of its own.
    let (writer, guard) = LogSink::start(Box::new(std::io::stderr()));
    let logs = Some(guard);
    match endpoint {
        None => {
            init_logs_to(default_filter, writer);
            Ok(Telemetry {
                _logs: logs,
                ..Telemetry::default()
            })
        }
        #[cfg(feature = "otlp")]
        Some(endpoint) => otlp::init(default_filter, service, endpoint, writer)
            .map(|t| Telemetry { _logs: logs, ..t }),
        #[cfg(not(feature = "otlp"))]
        Some(_) => {
            let _ = service;
            init_logs_to(default_filter, writer);
            Err(SettingsError::Malformed {
                key: "telemetry.otlp_endpoint".into(),
                expected: "usable: this build has no OTLP exporter (session-core feature `otlp`)",
            })
        }
    }
}

fn env_filter(default_filter: &str) -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter))
}

fn init_logs(default_filter: &str) {
    init_logs_to(default_filter, std::io::stderr);
}

fn init_logs_to<W>(default_filter: &str, writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let _ = tracing_subscriber::fmt()
        .with_env_filter(env_filter(default_filter))
        .with_writer(writer)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}

/// Makes the trace a request runs in, from its `traceparent` / `tracestate` (already
/// parsed; `None` when absent or malformed), for `span`, the request's span. When
/// exporting, the span joins the caller's trace and its own ids are the ones reported.
pub fn request_trace(
    span: &tracing::Span,
    incoming: Option<(TraceParent, Option<String>)>,
) -> RequestTrace {
    #[cfg(feature = "otlp")]
    if exporting()
        && let Some(trace) = otlp::attach(span, incoming.clone())
    {
        return trace;
    }
    let _ = span;
    RequestTrace::continue_or_start(incoming)
}

/// Names the request's span for the tracing backend (`GET /me`: the route pattern,
/// never the raw path) and marks a server error, when exporting.
pub fn name_request_span(span: &tracing::Span, method: &str, route: &str, status: u16) {
    #[cfg(feature = "otlp")]
    if exporting() {
        otlp::name_span(span, method, route, status);
    }
    let _ = (span, method, route, status);
}

/// The `traceparent` (and `tracestate`) a call to another service sends now: the
/// current span's when exporting (so the callee's span hangs under it), else the
/// current request's. None outside a request.
pub fn outgoing() -> Option<(String, Option<String>)> {
    #[cfg(feature = "otlp")]
    if exporting()
        && let Some(found) = otlp::current_span()
    {
        return Some(found);
    }
    crate::trace_context::current().map(|trace| (trace.traceparent(), trace.state))
}

/// Adds the current request's context to a call to another service: its trace
/// ([`outgoing`]) and its `X-Request-Id`. Given to session-core's HTTP clients as
/// their `context`, so `/introspect` and JWKS calls join the request's trace.
#[cfg(feature = "otlp")]
pub fn client_context(request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    use crate::trace_context::{TRACEPARENT_HEADER, TRACESTATE_HEADER};
    use session_core::introspection::REQUEST_ID_HEADER;
    let mut request = request;
    if let Some(id) = crate::trace_context::current_request_id() {
        request = request.header(REQUEST_ID_HEADER, id.as_ref());
    }
    match outgoing() {
        Some((parent, Some(state))) => request
            .header(TRACEPARENT_HEADER, parent)
            .header(TRACESTATE_HEADER, state),
        Some((parent, None)) => request.header(TRACEPARENT_HEADER, parent),
        None => request,
    }
}

/// The span queue in front of the OTLP exporter, reachable from `bench/parts` so that
/// it can be measured against the SDK's `BatchSpanProcessor`; not an interface.
#[cfg(feature = "otlp")]
#[doc(hidden)]
pub mod span_queue {
    pub use super::otlp::{Export, ExportQueue};
}

#[cfg(feature = "otlp")]
mod otlp {
    //! The OTLP/HTTP exporter and the queue in front of it.

    use std::sync::Arc;
    use std::time::Duration;

    use opentelemetry::Context;
    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, TracerProvider,
    };
    use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
    use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
    use opentelemetry_sdk::Resource;
    use opentelemetry_sdk::error::OTelSdkResult;
    use opentelemetry_sdk::trace::{
        Sampler, SdkTracerProvider, Span, SpanData, SpanExporter, SpanProcessor,
    };
    use tokio::sync::{Notify, mpsc};
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{Layer, fmt};

    use super::{EXPORTING, Telemetry, env_filter};
    use crate::trace_context::{RequestTrace, SAMPLED, TraceParent};
    use session_core::settings::SettingsError;

    /// Spans waiting to be sent; beyond this they are dropped and counted.
    const QUEUE: usize = 4096;
    /// Most spans in one export request.
    const BATCH: usize = 512;
    /// A span waits at most this long before its batch goes.
    const DELAY: Duration = Duration::from_secs(1);
    /// One export request may take this long.
    const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);

    /// The running exporter: how to ask it to flush.
    #[derive(Debug)]
    pub struct Export {
        flush: Arc<Notify>,
        flushed: Arc<Notify>,
    }

    impl Export {
        /// Sends what is queued (bounded by two seconds) and stops the exporting task.
        pub async fn shutdown(&self) {
            let flushed = self.flushed.notified();
            self.flush.notify_one();
            let _ = tokio::time::timeout(Duration::from_secs(2), flushed).await;
        }
    }

    pub(super) fn init(
        default_filter: &str,
        service: &'static str,
        endpoint: &str,
        writer: crate::log_sink::LogSink,
    ) -> Result<Telemetry, SettingsError> {
        let url = traces_url(endpoint)?;
        // rustls needs one process-wide crypto provider; a second install is a no-op.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(EXPORT_TIMEOUT)
            .connect_timeout(Duration::from_secs(2))
            .no_proxy()
            .build()
            .map_err(|_| invalid("usable: no HTTP client could be built for it"))?;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(url.clone())
            .with_timeout(EXPORT_TIMEOUT)
            .with_http_client(OtlpHttp(client))
            .build()
            .map_err(|_| invalid("a URL the OTLP exporter accepts"))?;
        let resource = Resource::builder().with_service_name(service).build();
        let (queue, export) = ExportQueue::start(exporter, resource.clone())?;
        let provider = SdkTracerProvider::builder()
            .with_span_processor(queue)
            .with_resource(resource)
            .with_sampler(Sampler::ParentBased(Box::new(Sampler::AlwaysOn)))
            .build();
        let tracer = provider.tracer(service);
        // Spans of our own code only (the request span and what it calls), at info.
        let traced = Targets::new()
            .with_target("session_core", LevelFilter::INFO)
            .with_target("session_actix", LevelFilter::INFO)
            .with_target("service_kit", LevelFilter::INFO)
            .with_target("auth_service", LevelFilter::INFO)
            .with_target("resource_service", LevelFilter::INFO);
        let logs = fmt::layer()
            .with_writer(writer)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_target(false)
            .with_filter(env_filter(default_filter));
        let traces = tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_filter(traced);
        if tracing_subscriber::registry()
            .with(logs)
            .with(traces)
            .try_init()
            .is_ok()
        {
            EXPORTING.store(true, std::sync::atomic::Ordering::Relaxed);
            tracing::info!(endpoint = %url, "exporting traces over OTLP/HTTP");
        }
        Ok(Telemetry {
            export: Some(export),
            _logs: None,
        })
    }

    fn invalid(expected: &'static str) -> SettingsError {
        SettingsError::Malformed {
            key: "telemetry.otlp_endpoint".into(),
            expected,
        }
    }

    /// The traces URL for `endpoint`: an http(s) URL, `/v1/traces` added as the OTLP
    /// specification says for a base endpoint.
    fn traces_url(endpoint: &str) -> Result<String, SettingsError> {
        let endpoint = endpoint.trim();
        let parsed = reqwest::Url::parse(endpoint)
            .map_err(|_| invalid("a URL (expected http://host:4318)"))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(invalid("an http:// or https:// URL with a host"));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(invalid("a URL without credentials"));
        }
        let base = endpoint.trim_end_matches('/');
        Ok(if base.ends_with("/v1/traces") {
            base.to_owned()
        } else {
            format!("{base}/v1/traces")
        })
    }

    /// Joins `span` to the caller's trace and reads its ids back.
    pub(super) fn attach(
        span: &tracing::Span,
        incoming: Option<(TraceParent, Option<String>)>,
    ) -> Option<RequestTrace> {
        let state = incoming.as_ref().and_then(|(_, s)| s.clone());
        if let Some((parent, state)) = incoming {
            let trace_state = state
                .as_deref()
                .and_then(|s| s.parse::<TraceState>().ok())
                .unwrap_or_default();
            let remote = SpanContext::new(
                TraceId::from_bytes(parent.trace_id),
                SpanId::from_bytes(parent.parent_id),
                TraceFlags::new(parent.flags),
                true,
                trace_state,
            );
            let _ = span.set_parent(Context::new().with_remote_span_context(remote));
        }
        let cx = span.context();
        let own = cx.span().span_context().clone();
        own.is_valid().then(|| RequestTrace {
            trace_id: own.trace_id().to_bytes(),
            span_id: own.span_id().to_bytes(),
            flags: if own.is_sampled() { SAMPLED } else { 0 },
            state,
        })
    }

    pub(super) fn name_span(span: &tracing::Span, method: &str, route: &str, status: u16) {
        let cx = span.context();
        let otel = cx.span();
        otel.update_name(format!("{method} {route}"));
        otel.set_attribute(opentelemetry::KeyValue::new(
            "http.response.status_code",
            i64::from(status),
        ));
        if status >= 500 {
            otel.set_status(opentelemetry::trace::Status::error("server error"));
        }
    }

    /// The current tracing span's context as `traceparent` / `tracestate`.
    pub(super) fn current_span() -> Option<(String, Option<String>)> {
        let cx = tracing::Span::current().context();
        let span = cx.span();
        let own = span.span_context();
        if !own.is_valid() {
            return None;
        }
        let parent = TraceParent {
            trace_id: own.trace_id().to_bytes(),
            parent_id: own.span_id().to_bytes(),
            flags: if own.is_sampled() { SAMPLED } else { 0 },
        };
        let state = own.trace_state().header();
        Some((parent.header_value(), (!state.is_empty()).then_some(state)))
    }

    /// The OTLP exporter's HTTP client: the reqwest the services already use.
    #[derive(Debug)]
    struct OtlpHttp(reqwest::Client);

    #[async_trait::async_trait]
    impl HttpClient for OtlpHttp {
        async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
            let (parts, body) = request.into_parts();
            let response = self
                .0
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .send()
                .await?;
            let mut answer = Response::builder().status(response.status());
            for (name, value) in response.headers() {
                answer = answer.header(name, value);
            }
            let bytes = response.bytes().await?;
            Ok(answer.body(bytes)?)
        }
    }

    /// A span processor with a bounded queue and one exporting task on the runtime.
    ///
    /// Kept instead of opentelemetry_sdk's `BatchSpanProcessor` for what the SDK does not
    /// give: the `trace_spans_dropped_total` / `trace_spans_exported_total` counters,
    /// and exports on the Tokio runtime, where the reqwest client of [`OtlpHttp`] works
    /// (the SDK's batch thread polls the export with a plain executor, no reactor).
    /// Measured against it in the run of docs/benchmark.md's "Hand-made parts", `make
    /// bench-parts` with `PARTS_ONLY=spans` (medians of 11 on 2 cores at load average
    /// 3.5-6, an exporter that does nothing, the same queue, batch and delay): 575 ns
    /// per span started and ended against 517 ns (the SDK is about 60 ns cheaper per
    /// span), and 11,932 spans lost of 100,000 ended flat out against 23,678. Before
    /// the exporter woke once per batch instead of once per span, it was 481 ns
    /// against 411 ns and lost 61,600.
    #[derive(Debug)]
    pub struct ExportQueue {
        sender: mpsc::Sender<SpanData>,
        /// Told when a whole batch waits, so the exporter stops gathering.
        full: Arc<Notify>,
    }

    impl ExportQueue {
        /// Starts the exporting task on the current Tokio runtime, in front of `exporter`.
        pub fn start<E: SpanExporter + 'static>(
            mut exporter: E,
            resource: Resource,
        ) -> Result<(Self, Export), SettingsError> {
            let runtime = tokio::runtime::Handle::try_current()
                .map_err(|_| invalid("usable outside the Tokio runtime"))?;
            exporter.set_resource(&resource);
            let (sender, receiver) = mpsc::channel(QUEUE);
            let flush = Arc::new(Notify::new());
            let flushed = Arc::new(Notify::new());
            let full = Arc::new(Notify::new());
            runtime.spawn(run_exports(
                exporter,
                receiver,
                full.clone(),
                flush.clone(),
                flushed.clone(),
            ));
            Ok((Self { sender, full }, Export { flush, flushed }))
        }
    }

    impl SpanProcessor for ExportQueue {
        fn on_start(&self, _span: &mut Span, _cx: &Context) {}

        fn on_end(&self, span: SpanData) {
            if !span.span_context.is_sampled() {
                return;
            }
            if self.sender.try_send(span).is_err() {
                session_core::measure::count("trace_spans_dropped_total", "", "");
            } else if QUEUE - self.sender.capacity() >= BATCH {
                self.full.notify_one();
            }
        }

        fn force_flush(&self) -> OTelSdkResult {
            Ok(())
        }

        fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
            Ok(())
        }
    }

    /// The exporting task. It wakes for the first span of a batch, then sleeps until
    /// DELAY has passed or a whole batch waits, and takes the batch in one go: one
    /// wake-up per batch, not per span (a wake-up per span cost the producers 17% more
    /// per span than the SDK's `BatchSpanProcessor` and lost more spans flat out).
    async fn run_exports<E: SpanExporter>(
        exporter: E,
        mut receiver: mpsc::Receiver<SpanData>,
        full: Arc<Notify>,
        flush: Arc<Notify>,
        flushed: Arc<Notify>,
    ) {
        let mut failing = false;
        loop {
            let mut batch = Vec::with_capacity(BATCH);
            let mut stop = false;
            tokio::select! {
                got = receiver.recv_many(&mut batch, BATCH) => if got == 0 {
                    return;
                },
                () = flush.notified() => stop = true,
            }
            if !stop && batch.len() < BATCH {
                tokio::select! {
                    () = tokio::time::sleep(DELAY) => {}
                    () = full.notified() => {}
                    () = flush.notified() => stop = true,
                }
            }
            let most = if stop { QUEUE } else { BATCH };
            while batch.len() < most {
                match receiver.try_recv() {
                    Ok(span) => batch.push(span),
                    Err(_) => break,
                }
            }
            let sent = batch.len() as u64;
            if sent > 0 {
                match exporter.export(batch).await {
                    Ok(()) => {
                        session_core::measure::count_by("trace_spans_exported_total", "", "", sent);
                        if failing {
                            tracing::info!("span export works again");
                            failing = false;
                        }
                    }
                    Err(err) => {
                        session_core::measure::count_by("trace_spans_dropped_total", "", "", sent);
                        if !failing {
                            tracing::warn!(error = %err, "span export failed; spans are dropped until it works");
                            failing = true;
                        }
                    }
                }
            }
            if stop {
                flushed.notify_one();
                return;
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::traces_url;

        #[test]
        fn the_traces_path_is_added_to_a_base_endpoint() {
            assert_eq!(
                traces_url("http://collector:4318").unwrap(),
                "http://collector:4318/v1/traces"
            );
            assert_eq!(
                traces_url("http://collector:4318/").unwrap(),
                "http://collector:4318/v1/traces"
            );
            assert_eq!(
                traces_url("https://c.example/v1/traces").unwrap(),
                "https://c.example/v1/traces"
            );
            assert!(traces_url("collector:4318").is_err());
            assert!(traces_url("ftp://collector").is_err());
            assert!(traces_url("http://user:pw@collector").is_err());
        }
    }
}
