//! `make bench-parts`: each hand-made part against the crate that could replace it, in
//! one process, taking turns; the medians of `PARTS_REPS` repetitions (default 11).
//!
//! - `log`: service-kit's log writer against `tracing-appender`'s non-blocking writer
//!   (lossy, the same buffer in lines).
//! - `trace`: service-kit's `traceparent` parsing and writing against
//!   opentelemetry_sdk's `TraceContextPropagator`, and the inputs each accepts that
//!   the W3C recommendation refuses.
//! - `spans`: service-kit's span queue against the SDK's `BatchSpanProcessor`, both in
//!   front of an exporter that does nothing.
//! - `jwt`: `TokenCodec::decode` (its fast path for a header seen before) against
//!   `jsonwebtoken::decode`, HS256 and EdDSA.
//! - `hex`: our two hex encoders against `hex::encode_to_slice`.
//!
//! `PARTS_ONLY=log,jwt` measures only those. The table is printed in markdown and
//! written as JSON to `bench/results/parts-<unix time>.json`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod hex_parts;
mod jwt;
mod log;
mod spans;
mod trace;

use parts_bench::{Knobs, Table};

fn main() {
    let knobs = Knobs::from_env();
    let load = std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    eprintln!(
        "bench-parts: {} repetitions, {cores} cores, load average {load} at the start",
        knobs.reps
    );
    let mut table = Table::default();
    if knobs.wants("log") {
        log::run(&knobs, &mut table);
    }
    if knobs.wants("trace") {
        trace::run(&knobs, &mut table);
    }
    if knobs.wants("spans") {
        spans::run(&knobs, &mut table);
    }
    if knobs.wants("jwt") {
        jwt::run(&knobs, &mut table);
    }
    if knobs.wants("hex") {
        hex_parts::run(&knobs, &mut table);
    }
    let end_load = std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into());
    println!(
        "\nmedians of {} repetitions; {cores} cores; load average {load} at the start, {end_load} at the end\n",
        knobs.reps
    );
    println!("{}", table.markdown());
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../results");
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let path = dir.join(format!("parts-{stamp}.json"));
    if std::fs::create_dir_all(&dir).is_ok()
        && std::fs::write(&path, table.json(knobs.reps, &load)).is_ok()
    {
        eprintln!("written to {}", path.display());
    }
}
