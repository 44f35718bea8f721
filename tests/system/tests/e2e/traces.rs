//! Traces across the services: W3C `traceparent` taken and forwarded, spans exported
//! over OTLP/HTTP to a collector of the test's own (an HTTP server that decodes the
//! protobuf `ExportTraceServiceRequest`s it receives on `/v1/traces`).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use prost::Message;
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::{Options, Stack, free_port, kv, stack};

/// One span as the collector received it.
#[derive(Debug, Clone)]
struct Received {
    service: String,
    name: String,
    trace_id: String,
    span_id: String,
    parent_id: String,
    request_id: Option<String>,
}

/// A collector: every span any service exported to it.
#[derive(Clone)]
struct Collector {
    port: u16,
    spans: Arc<Mutex<Vec<Received>>>,
    paths: Arc<Mutex<Vec<String>>>,
}

impl Collector {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let collector = Self {
            port,
            spans: Arc::default(),
            paths: Arc::default(),
        };
        let serving = collector.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serving.clone().serve(stream));
            }
        });
        collector
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Serves one keep-alive connection: reads each request's head and body, records
    /// the spans, answers 200.
    async fn serve(self, mut stream: TcpStream) {
        let mut buffer = Vec::new();
        loop {
            let head_end = loop {
                if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                    break at + 4;
                }
                let mut chunk = [0u8; 8192];
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                }
            };
            let head = String::from_utf8_lossy(&buffer[..head_end]).to_string();
            let path = head.split_whitespace().nth(1).unwrap_or("").to_owned();
            let length: usize = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .unwrap_or(0);
            while buffer.len() < head_end + length {
                let mut chunk = [0u8; 65536];
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                }
            }
            let body: Vec<u8> = buffer.drain(..head_end + length).skip(head_end).collect();
            self.paths.lock().unwrap().push(path);
            let request = ExportTraceServiceRequest::decode(body.as_slice())
                .expect("the exporter sends OTLP protobuf");
            self.record(request);
            let answer = b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n";
            if stream.write_all(answer).await.is_err() {
                return;
            }
        }
    }

    fn record(&self, request: ExportTraceServiceRequest) {
        let mut spans = self.spans.lock().unwrap();
        for resource_spans in request.resource_spans {
            let service = resource_spans
                .resource
                .iter()
                .flat_map(|r| r.attributes.iter())
                .find(|kv| kv.key == "service.name")
                .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                    AnyValue::StringValue(s) => Some(s.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            for scope in resource_spans.scope_spans {
                for span in scope.spans {
                    let request_id = span
                        .attributes
                        .iter()
                        .find(|kv| kv.key == "request_id")
                        .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                            AnyValue::StringValue(s) => Some(s.clone()),
                            _ => None,
                        });
                    spans.push(Received {
                        service: service.clone(),
                        name: span.name,
                        trace_id: hex(&span.trace_id),
                        span_id: hex(&span.span_id),
                        parent_id: hex(&span.parent_span_id),
                        request_id,
                    });
                }
            }
        }
    }

    /// Waits (up to 10 s) until `found` picks something out of the spans received.
    async fn wait_for<T>(&self, what: &str, found: impl Fn(&[Received]) -> Option<T>) -> T {
        let started = Instant::now();
        loop {
            if let Some(t) = found(&self.spans.lock().unwrap()) {
                return t;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "no {what} among the spans received: {:#?}",
                self.spans.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn request_id() -> String {
    format!("trace-test-{}", uuid::Uuid::new_v4().simple())
}

async fn token(s: &Stack) -> String {
    s.session().await.1
}

async fn me(s: &Stack, auth: &str, request_id: &str, traceparent: Option<&str>) -> StatusCode {
    let mut request = s
        .client
        .get(s.resource.url("/me"))
        .header("Authorization", auth)
        .header("X-Request-Id", request_id);
    if let Some(value) = traceparent {
        request = request.header("traceparent", value);
    }
    request.send().await.unwrap().status()
}

/// Sends `/me` with a new session inside `trace` (the caller's span
/// `b7ad6b7169203331`) and returns the auth-service's server span in that trace.
async fn auth_span_of_a_traced_me(s: &Stack, collector: &Collector, trace: &str) -> Received {
    let auth = token(s).await;
    let given = format!("00-{trace}-b7ad6b7169203331-01");
    assert_eq!(
        me(s, &auth, &request_id(), Some(&given)).await,
        StatusCode::OK
    );
    let span = collector
        .wait_for("auth-service span in the caller's trace", |spans| {
            spans
                .iter()
                .find(|s| s.trace_id == trace && s.request_id.is_some())
                .cloned()
        })
        .await;
    assert_eq!(span.service, "auth-service");
    span
}

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT: &str = "00f067aa0ba902b7";

#[tokio::test]
async fn a_remote_me_is_one_trace_across_both_services() {
    let collector = Collector::start().await;
    let s = stack(Options {
        mode: "remote",
        extra: vec![kv("APP__TELEMETRY__OTLP_ENDPOINT", &collector.endpoint())],
        ..Options::default()
    })
    .await;
    let auth = token(&s).await;

    // With the caller's traceparent: the resource-service's span is its child, and
    // the auth-service's /introspect span hangs under a resource-service span.
    let id = request_id();
    let given = format!("00-{TRACE}-{PARENT}-01");
    assert_eq!(me(&s, &auth, &id, Some(&given)).await, StatusCode::OK);
    let server = collector
        .wait_for("resource-service span of the request", |spans| {
            spans
                .iter()
                .find(|s| {
                    s.service == "resource-service" && s.request_id.as_deref() == Some(id.as_str())
                })
                .cloned()
        })
        .await;
    assert_eq!(server.service, "resource-service");
    assert_eq!(server.name, "GET /me");
    assert_eq!(server.trace_id, TRACE);
    assert_eq!(server.parent_id, PARENT);
    let introspect = collector
        .wait_for("auth-service /introspect span in the trace", |spans| {
            spans
                .iter()
                .find(|s| {
                    s.service == "auth-service"
                        && s.trace_id == TRACE
                        && s.name.contains("/introspect")
                })
                .cloned()
        })
        .await;
    assert_eq!(introspect.name, "POST /introspect");
    let spans = collector.spans.lock().unwrap().clone();
    let caller = spans
        .iter()
        .find(|s| s.span_id == introspect.parent_id)
        .unwrap_or_else(|| panic!("the /introspect span's parent was not exported: {spans:#?}"));
    assert_eq!(caller.service, "resource-service");
    assert_eq!(caller.trace_id, TRACE);
    // The caller is the request's span or a span under it.
    assert!(
        caller.span_id == server.span_id || caller.parent_id == server.span_id,
        "the /introspect call's parent {caller:?} is not within the request's span {server:?}"
    );
    assert!(
        collector
            .paths
            .lock()
            .unwrap()
            .iter()
            .all(|p| p == "/v1/traces")
    );

    // Without one, the resource-service starts a trace and the auth-service joins it.
    let id = request_id();
    assert_eq!(me(&s, &auth, &id, None).await, StatusCode::OK);
    let root = collector
        .wait_for("the new trace's root span", |spans| {
            spans
                .iter()
                .find(|s| {
                    s.service == "resource-service" && s.request_id.as_deref() == Some(id.as_str())
                })
                .cloned()
        })
        .await;
    assert_ne!(root.trace_id, TRACE);
    assert_eq!(root.parent_id, "", "a new trace's first span has no parent");
    collector
        .wait_for("auth-service span in the new trace", |spans| {
            spans
                .iter()
                .find(|s| s.service == "auth-service" && s.trace_id == root.trace_id)
                .cloned()
        })
        .await;
}

#[tokio::test]
async fn a_malformed_traceparent_starts_a_new_trace() {
    let collector = Collector::start().await;
    let s = stack(Options {
        extra: vec![kv("APP__TELEMETRY__OTLP_ENDPOINT", &collector.endpoint())],
        ..Options::default()
    })
    .await;
    let auth = token(&s).await;
    for bad in [
        "garbage",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-trailing",
    ] {
        let id = request_id();
        assert_eq!(
            me(&s, &auth, &id, Some(bad)).await,
            StatusCode::OK,
            "{bad:?} is no reason to refuse a request"
        );
        let span = collector
            .wait_for("the request's span", |spans| {
                spans
                    .iter()
                    .find(|s| {
                        s.service == "resource-service"
                            && s.request_id.as_deref() == Some(id.as_str())
                    })
                    .cloned()
            })
            .await;
        assert_ne!(span.trace_id, TRACE, "{bad:?} was taken as a trace");
        assert_eq!(span.parent_id, "", "{bad:?} was taken as a parent");
    }
}

#[tokio::test]
async fn without_export_the_resource_service_still_forwards_the_trace() {
    // Only the auth-service exports: what it receives from the resource-service's
    // introspection call must carry the caller's trace id.
    let collector = Collector::start().await;
    let s = stack(Options {
        mode: "remote",
        ..Options::default()
    })
    .await;
    let mut s = s;
    s.auth
        .set_env("APP__TELEMETRY__OTLP_ENDPOINT", &collector.endpoint());
    s.auth.restart().await;
    let span = auth_span_of_a_traced_me(&s, &collector, "0af7651916cd43dd8448eb211c80319c").await;
    assert_eq!(span.name, "POST /introspect");
    assert_ne!(
        span.parent_id, "b7ad6b7169203331",
        "the resource-service's own span is the parent, not its caller's"
    );
    assert_eq!(span.parent_id.len(), 16);
}

#[tokio::test]
async fn the_jwks_fetch_a_request_triggers_carries_its_trace() {
    let private_a = ed25519_pem();
    let private_b = ed25519_pem();
    let collector = Collector::start().await;
    let mut s = stack(Options {
        extra: vec![
            kv("APP__JWT__ALGORITHM", "EdDSA"),
            kv("APP__JWT__SIGNING_KEY", &private_a),
            kv("APP__JWT__SIGNING_KEY_ID", "key-a"),
        ],
        jwks: true,
        ..Options::default()
    })
    .await;
    // A new signing key the resource-service does not know yet.
    s.auth.set_env("APP__JWT__SIGNING_KEY", &private_b);
    s.auth.set_env("APP__JWT__SIGNING_KEY_ID", "key-b");
    s.auth
        .set_env("APP__TELEMETRY__OTLP_ENDPOINT", &collector.endpoint());
    s.auth.restart().await;
    let span = auth_span_of_a_traced_me(&s, &collector, "5b8efff798038103d269b633813fc60c").await;
    assert_eq!(span.name, "GET /.well-known/jwks.json");
}

#[tokio::test]
async fn an_unreachable_collector_costs_requests_nothing() {
    let s = stack(Options {
        extra: vec![kv(
            "APP__TELEMETRY__OTLP_ENDPOINT",
            &format!("http://127.0.0.1:{}", free_port()),
        )],
        ..Options::default()
    })
    .await;
    let auth = token(&s).await;
    for _ in 0..20 {
        assert_eq!(me(&s, &auth, &request_id(), None).await, StatusCode::OK);
    }
    // The failed exports are counted, and logged once, not once per batch.
    let started = Instant::now();
    loop {
        let text = s
            .client
            .get(s.resource.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let dropped = text
            .lines()
            .find(|l| l.starts_with("trace_spans_dropped_total"))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok());
        if dropped.is_some_and(|n| n >= 20.0) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "trace_spans_dropped_total never reached 20: {dropped:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        s.resource.log_text().matches("span export failed").count(),
        1
    );
}

#[tokio::test]
async fn a_bad_otlp_endpoint_is_refused_at_start_naming_the_key() {
    for bad in [
        "collector:4318",
        "ftp://collector",
        "http://user:secret@collector:4318",
    ] {
        let out = std::process::Command::new(crate::helpers::binary("resource-service"))
            .env("APP__TELEMETRY__OTLP_ENDPOINT", bad)
            .env("APP__SERVER__PORT", "0")
            .output()
            .unwrap();
        assert!(!out.status.success(), "{bad:?} accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("telemetry.otlp_endpoint"),
            "{bad:?}: {stderr}"
        );
        assert!(!stderr.contains("secret"), "the URL's password was printed");
    }
}

/// A new Ed25519 private key, PKCS#8 PEM.
fn ed25519_pem() -> String {
    use secrecy::ExposeSecret;
    session_core::keys::generate_signing_key_pem()
        .unwrap()
        .expose_secret()
        .to_owned()
}
