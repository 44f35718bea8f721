//! service-kit's `trace_context` against opentelemetry_sdk's `TraceContextPropagator`:
//! reading `traceparent` + `tracestate` off a request, and writing them for a call
//! out; then the `traceparent` values each accepts that the W3C recommendation
//! (Trace Context, level 1, section 3.2) refuses.

use std::hint::black_box;

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use parts_bench::{Knobs, Table, pair};
use service_kit::trace_context::{RequestTrace, TraceParent, acceptable_tracestate};

const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const STATE: &str = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE";

/// The two headers of a request, as the propagator reads and writes them.
#[derive(Default)]
struct Headers {
    traceparent: Option<String>,
    tracestate: Option<String>,
}

impl Extractor for Headers {
    fn get(&self, key: &str) -> Option<&str> {
        match key {
            "traceparent" => self.traceparent.as_deref(),
            "tracestate" => self.tracestate.as_deref(),
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        vec!["traceparent", "tracestate"]
    }
}

impl Injector for Headers {
    fn set(&mut self, key: &str, value: String) {
        match key {
            "traceparent" => self.traceparent = Some(value),
            "tracestate" => self.tracestate = Some(value),
            _ => {}
        }
    }
}

fn ours_extract(headers: &Headers) -> Option<(TraceParent, Option<String>)> {
    let parent = TraceParent::parse(headers.traceparent.as_deref()?)?;
    let state = headers
        .tracestate
        .as_deref()
        .and_then(acceptable_tracestate);
    Some((parent, state))
}

fn theirs_accepts(propagator: &TraceContextPropagator, value: &str) -> bool {
    let headers = Headers {
        traceparent: Some(value.to_owned()),
        tracestate: None,
    };
    propagator
        .extract(&headers)
        .span()
        .span_context()
        .is_valid()
}

/// `traceparent` values the W3C recommendation refuses, with why.
const REFUSED_BY_W3C: &[(&str, &str)] = &[
    (
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
        "version 00 with a trailing dash",
    ),
    (
        "00-4bf92f3577b34da6-00f067aa0ba902b7-01",
        "16-digit trace id",
    ),
    (
        "00-4bf92f3577b34da6a3ce929d0e0e4736-a902b7-01",
        "6-digit parent id",
    ),
    (
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
        "1-digit flags",
    ),
    (
        "0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "1-digit version",
    ),
    (
        "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "'+' in the trace id",
    ),
    (
        "0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "uppercase version",
    ),
    (
        " 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 ",
        "spaces around the value",
    ),
    (
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "uppercase trace id",
    ),
    (
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "version ff",
    ),
    (
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "all-zero trace id",
    ),
];

pub fn run(knobs: &Knobs, table: &mut Table) {
    let propagator = TraceContextPropagator::new();
    let headers = Headers {
        traceparent: Some(PARENT.to_owned()),
        tracestate: Some(STATE.to_owned()),
    };
    table.time(
        "trace",
        "ns per extract (traceparent + tracestate)",
        pair(
            knobs.reps,
            || {
                black_box(ours_extract(black_box(&headers)));
            },
            || {
                black_box(propagator.extract(black_box(&headers)));
            },
        ),
    );
    let ours = RequestTrace::continue_or_start(ours_extract(&headers));
    let theirs = propagator.extract(&headers);
    table.time(
        "trace",
        "ns per inject (traceparent + tracestate)",
        pair(
            knobs.reps,
            || {
                let trace = black_box(&ours);
                black_box((trace.traceparent(), trace.state.clone()));
            },
            || {
                let mut out = Headers::default();
                propagator.inject_context(black_box(&theirs), &mut out);
                black_box(out);
            },
        ),
    );
    let (mut ours_wrong, mut theirs_wrong) = (Vec::new(), Vec::new());
    for (value, why) in REFUSED_BY_W3C {
        if TraceParent::parse(value).is_some() {
            ours_wrong.push(*why);
        }
        if theirs_accepts(&propagator, value) {
            theirs_wrong.push(*why);
        }
    }
    assert!(
        theirs_accepts(&propagator, PARENT) && TraceParent::parse(PARENT).is_some(),
        "both accept the recommendation's example"
    );
    eprintln!(
        "  trace  of {} traceparent values W3C refuses, ours accepts {}: {:?}; the propagator accepts {}: {:?}",
        REFUSED_BY_W3C.len(),
        ours_wrong.len(),
        ours_wrong,
        theirs_wrong.len(),
        theirs_wrong
    );
    table.push(parts_bench::Row {
        part: "trace",
        measure: format!(
            "traceparent values accepted of {} that W3C refuses",
            REFUSED_BY_W3C.len()
        ),
        ours: ours_wrong.len() as f64,
        theirs: theirs_wrong.len() as f64,
        lower_is_better: true,
    });
    // tracestate: ours passes on any printable value up to 512 characters; the
    // propagator parses the list and drops an invalid one.
    let bad_state = Headers {
        traceparent: Some(PARENT.to_owned()),
        tracestate: Some("not a list member".to_owned()),
    };
    let ours_state = ours_extract(&bad_state).and_then(|(_, s)| s);
    let theirs_state = propagator
        .extract(&bad_state)
        .span()
        .span_context()
        .trace_state()
        .header();
    eprintln!(
        "  trace  tracestate \"not a list member\": ours passes on {ours_state:?}, the propagator {theirs_state:?}"
    );
}
