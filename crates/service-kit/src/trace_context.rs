//! W3C Trace Context: the `traceparent` and `tracestate` headers a request arrives
//! with, the trace it runs in, and what a call to another service sends on.
//!
//! A malformed `traceparent` is ignored (the request starts a new trace), never an
//! error. The context of the request being served is a task-local, so the HTTP
//! clients (introspection, JWKS) forward it without every caller passing it down.
//!
//! # Why not opentelemetry_sdk's `TraceContextPropagator`
//! Measured against it in the run of docs/benchmark.md's "Hand-made parts", `make
//! bench-parts` with `PARTS_ONLY=trace` (medians of 11 on 2 cores at load average
//! 3.5-6): reading `traceparent` and `tracestate` 179 ns against 778 ns, writing them
//! 117 ns against 650 ns (no `Context`, no `format!`, no split into a `Vec`). And the
//! parsing is the recommendation's: of 11 `traceparent` values W3C refuses, the
//! propagator accepts 8 (a trailing dash after version 00,
//! short trace or parent ids, 1-digit flags or version, `+` in an id, an uppercase
//! version, spaces around the value); this parser accepts none. One leniency of ours:
//! `tracestate` is passed on when printable and short, not parsed as a list (the
//! propagator drops a malformed one).

use std::cell::Cell;
use std::future::Future;

/// The W3C `traceparent` header.
pub const TRACEPARENT_HEADER: &str = "traceparent";
/// The W3C `tracestate` header.
pub const TRACESTATE_HEADER: &str = "tracestate";

/// `tracestate` longer than this is dropped (the W3C limit is 32 members of at most
/// 256 characters; 512 characters is what a vendor must at least pass on).
const MAX_TRACESTATE: usize = 512;

/// The "sampled" bit of the trace flags.
pub const SAMPLED: u8 = 0x01;

/// A parsed `traceparent`: whose trace, which span is the parent, and the flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent {
    /// The trace id (16 bytes, never all zero).
    pub trace_id: [u8; 16],
    /// The calling span's id (8 bytes, never all zero).
    pub parent_id: [u8; 8],
    /// Trace flags; bit 0 is "sampled".
    pub flags: u8,
}

impl TraceParent {
    /// Parses a `traceparent` value as the W3C recommendation says: version 00 is
    /// exactly `00-<32 hex>-<16 hex>-<2 hex>` in lowercase; a later version may add
    /// fields after a dash; version `ff`, all-zero ids, uppercase or other characters
    /// make it invalid (`None`).
    pub fn parse(value: &str) -> Option<Self> {
        let bytes = value.as_bytes();
        if bytes.len() < 55 {
            return None;
        }
        let version = hex_byte(&bytes[0..2])?;
        if version == 0xff || (version == 0 && bytes.len() != 55) {
            return None;
        }
        if bytes.len() > 55 && bytes[55] != b'-' {
            return None;
        }
        if bytes[2] != b'-' || bytes[35] != b'-' || bytes[52] != b'-' {
            return None;
        }
        let mut trace_id = [0u8; 16];
        for (i, out) in trace_id.iter_mut().enumerate() {
            *out = hex_byte(&bytes[3 + 2 * i..5 + 2 * i])?;
        }
        let mut parent_id = [0u8; 8];
        for (i, out) in parent_id.iter_mut().enumerate() {
            *out = hex_byte(&bytes[36 + 2 * i..38 + 2 * i])?;
        }
        let flags = hex_byte(&bytes[53..55])?;
        if trace_id == [0; 16] || parent_id == [0; 8] {
            return None;
        }
        Some(Self {
            trace_id,
            parent_id,
            flags,
        })
    }

    /// The header value, version 00.
    pub fn header_value(&self) -> String {
        let mut out = String::with_capacity(55);
        out.push_str("00-");
        push_hex(&mut out, &self.trace_id);
        out.push('-');
        push_hex(&mut out, &self.parent_id);
        out.push('-');
        push_hex(&mut out, &[self.flags]);
        out
    }
}

/// The trace a request runs in: its trace id, the id of the span that stands for
/// this service's handling of it (the parent of whatever it calls), the flags and the
/// `tracestate` it arrived with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestTrace {
    /// The trace id, the caller's or a new one.
    pub trace_id: [u8; 16],
    /// This service's span for the request.
    pub span_id: [u8; 8],
    /// Trace flags, the caller's or "sampled" for a new trace.
    pub flags: u8,
    /// The caller's `tracestate`, passed on unchanged.
    pub state: Option<String>,
}

impl RequestTrace {
    /// Continues the caller's trace (a new span under its parent) or starts one.
    pub fn continue_or_start(incoming: Option<(TraceParent, Option<String>)>) -> Self {
        match incoming {
            Some((parent, state)) => Self {
                trace_id: parent.trace_id,
                span_id: new_span_id(),
                flags: parent.flags,
                state,
            },
            None => Self {
                trace_id: new_trace_id(),
                span_id: new_span_id(),
                flags: SAMPLED,
                state: None,
            },
        }
    }

    /// The `traceparent` a call made while serving this request sends.
    pub fn traceparent(&self) -> String {
        TraceParent {
            trace_id: self.trace_id,
            parent_id: self.span_id,
            flags: self.flags,
        }
        .header_value()
    }

    /// The trace id in lowercase hex, as logs and tracing backends show it.
    pub fn trace_id_hex(&self) -> String {
        let mut out = String::with_capacity(32);
        push_hex(&mut out, &self.trace_id);
        out
    }
}

/// A `tracestate` value worth passing on: printable ASCII, at most 512 characters.
pub fn acceptable_tracestate(value: &str) -> Option<String> {
    let ok = !value.is_empty()
        && value.len() <= MAX_TRACESTATE
        && value.bytes().all(|b| (0x20..0x7f).contains(&b));
    ok.then(|| value.to_owned())
}

/// What the request being served on a task carries along: its trace and its id.
struct Current {
    trace: RequestTrace,
    request_id: std::sync::Arc<str>,
}

tokio::task_local! {
    static CURRENT: Current;
}

/// Runs `fut` as the request `request_id` (its `X-Request-Id`) in `trace`.
pub fn scope<F: Future>(
    trace: RequestTrace,
    request_id: std::sync::Arc<str>,
    fut: F,
) -> impl Future<Output = F::Output> {
    CURRENT.scope(Current { trace, request_id }, fut)
}

/// The trace of the request being served on this task, if any.
pub fn current() -> Option<RequestTrace> {
    CURRENT.try_with(|c| c.trace.clone()).ok()
}

/// The id (`X-Request-Id`) of the request being served on this task, if any.
pub fn current_request_id() -> Option<std::sync::Arc<str>> {
    CURRENT.try_with(|c| c.request_id.clone()).ok()
}

/// A new random trace id (never all zero).
pub fn new_trace_id() -> [u8; 16] {
    let high = next_random().to_be_bytes();
    let low = next_random().to_be_bytes();
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&high);
    id[8..].copy_from_slice(&low);
    if id == [0; 16] {
        id[15] = 1;
    }
    id
}

/// A new random span id (never all zero).
pub fn new_span_id() -> [u8; 8] {
    let mut id = next_random().to_be_bytes();
    if id == [0; 8] {
        id[7] = 1;
    }
    id
}

thread_local! {
    static RANDOM: Cell<u64> = Cell::new(seed());
}

/// A per-thread seed from the operating system's generator (once per thread).
fn seed() -> u64 {
    getrandom::u64().unwrap_or_else(|_| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        (nanos as u64) ^ (std::process::id() as u64).rotate_left(32)
    })
}

/// SplitMix64: ids must be unique and unpredictable enough to not collide, not
/// secret, so no system call per request.
fn next_random() -> u64 {
    RANDOM.with(|state| {
        let next = state.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
        state.set(next);
        let mut z = next;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    })
}

fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

fn hex_byte(pair: &[u8]) -> Option<u8> {
    Some(hex_digit(pair[0])? << 4 | hex_digit(pair[1])?)
}

/// Appends `bytes` as lowercase hex, with the `hex` crate: our own loop measured the
/// same (`make bench-parts`, `PARTS_ONLY=hex`: 87.0 ns against 85.4 ns per trace id).
fn push_hex(out: &mut String, bytes: &[u8]) {
    let mut buf = [0u8; 32];
    for chunk in bytes.chunks(16) {
        let digits = &mut buf[..2 * chunk.len()];
        if hex::encode_to_slice(chunk, digits).is_ok() {
            out.push_str(std::str::from_utf8(digits).unwrap_or_default());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_valid_traceparent_round_trips() {
        let parsed = TraceParent::parse(VALID).unwrap();
        assert_eq!(parsed.flags, 1);
        assert_eq!(
            parsed.parent_id,
            [0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7]
        );
        assert_eq!(parsed.header_value(), VALID);
    }

    #[test]
    fn malformed_values_are_refused() {
        for bad in [
            "",
            "garbage",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",
            "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0é",
        ] {
            assert_eq!(TraceParent::parse(bad), None, "{bad:?} accepted");
        }
    }

    #[test]
    fn a_later_version_may_carry_more_fields() {
        let later = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-comes-next";
        let parsed = TraceParent::parse(later).unwrap();
        assert_eq!(parsed.header_value(), VALID);
    }

    #[test]
    fn a_continued_trace_keeps_the_trace_id_and_makes_a_new_span() {
        let parent = TraceParent::parse(VALID).unwrap();
        let trace = RequestTrace::continue_or_start(Some((parent, Some("a=b".into()))));
        assert_eq!(trace.trace_id, parent.trace_id);
        assert_ne!(trace.span_id, parent.parent_id);
        let sent = TraceParent::parse(&trace.traceparent()).unwrap();
        assert_eq!(sent.trace_id, parent.trace_id);
        assert_eq!(sent.parent_id, trace.span_id);
        assert_eq!(trace.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
    }

    #[test]
    fn new_traces_differ_and_are_sampled() {
        let a = RequestTrace::continue_or_start(None);
        let b = RequestTrace::continue_or_start(None);
        assert_ne!(a.trace_id, b.trace_id);
        assert_ne!(a.span_id, b.span_id);
        assert_eq!(a.flags, SAMPLED);
    }

    #[test]
    fn tracestate_is_passed_on_only_when_printable_and_short() {
        assert_eq!(
            acceptable_tracestate("rojo=00f067aa0ba902b7").as_deref(),
            Some("rojo=00f067aa0ba902b7")
        );
        assert_eq!(acceptable_tracestate("a=\u{7}b"), None);
        assert_eq!(acceptable_tracestate(&"a".repeat(513)), None);
    }
}
