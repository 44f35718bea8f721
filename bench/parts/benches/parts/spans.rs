//! service-kit's span queue (`telemetry::span_queue`, a bounded Tokio channel and one
//! exporting task on the runtime) against opentelemetry_sdk's `BatchSpanProcessor`
//! (a bounded channel and a thread of its own), both with the same queue (4096),
//! batch (512) and delay (1 s), in front of an exporter that counts and does nothing.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider, SpanData, SpanExporter,
};
use parts_bench::{Knobs, Row, Table, median, pair};
use service_kit::telemetry::span_queue::ExportQueue;

/// Spans ended flat out, for the spans lost.
const FLAT_OUT: u64 = 100_000;

#[derive(Debug, Clone, Default)]
struct Noop {
    exported: Arc<AtomicU64>,
}

impl SpanExporter for Noop {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.exported
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

fn ours(
    runtime: &tokio::runtime::Runtime,
    exporter: Noop,
) -> (
    SdkTracerProvider,
    service_kit::telemetry::span_queue::Export,
) {
    let _enter = runtime.enter();
    let (queue, export) =
        ExportQueue::start(exporter, Resource::builder_empty().build()).expect("queue");
    let provider = SdkTracerProvider::builder()
        .with_span_processor(queue)
        .build();
    (provider, export)
}

fn theirs(exporter: Noop) -> SdkTracerProvider {
    let config = BatchConfigBuilder::default()
        .with_max_queue_size(4096)
        .with_max_export_batch_size(512)
        .with_scheduled_delay(Duration::from_secs(1))
        .build();
    let processor = BatchSpanProcessor::builder(exporter)
        .with_batch_config(config)
        .build();
    SdkTracerProvider::builder()
        .with_span_processor(processor)
        .build()
}

fn end_spans(provider: &SdkTracerProvider, count: u64) {
    let tracer = provider.tracer("bench");
    for _ in 0..count {
        let mut span = tracer.start("GET /me");
        span.end();
    }
}

pub fn run(knobs: &Knobs, table: &mut Table) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let (ours_provider, ours_export) = ours(&runtime, Noop::default());
    let theirs_provider = theirs(Noop::default());
    let ours_tracer = ours_provider.tracer("bench");
    let theirs_tracer = theirs_provider.tracer("bench");
    table.time(
        "spans",
        "ns per span started and ended",
        pair(
            knobs.reps,
            || {
                let mut span = ours_tracer.start(black_box("GET /me"));
                span.end();
            },
            || {
                let mut span = theirs_tracer.start(black_box("GET /me"));
                span.end();
            },
        ),
    );
    runtime.block_on(ours_export.shutdown());
    let _ = theirs_provider.shutdown();
    // Spans lost when they come faster than a queue of 4096 drains: fresh processors.
    let (mut lost_ours, mut lost_theirs) = (Vec::new(), Vec::new());
    for _ in 0..knobs.reps {
        let exporter = Noop::default();
        let (provider, export) = ours(&runtime, exporter.clone());
        end_spans(&provider, FLAT_OUT);
        runtime.block_on(export.shutdown());
        lost_ours.push((FLAT_OUT - exporter.exported.load(Ordering::Relaxed)) as f64);
        let exporter = Noop::default();
        let provider = theirs(exporter.clone());
        end_spans(&provider, FLAT_OUT);
        let _ = provider.shutdown();
        lost_theirs.push((FLAT_OUT - exporter.exported.load(Ordering::Relaxed)) as f64);
    }
    table.push(Row {
        part: "spans",
        measure: format!("spans lost of {FLAT_OUT} ended flat out (queue 4096)"),
        ours: median(&mut lost_ours),
        theirs: median(&mut lost_theirs),
        lower_is_better: true,
    });
}
