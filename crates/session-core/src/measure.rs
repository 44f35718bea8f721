//! Recording the contract's metrics through the `metrics` facade, cheaply: handles are
//! registered once per worker thread and label values are static, so an event costs
//! an atomic update and no lookup in the recorder. Without a recorder installed (the
//! exporter lives in `http::metrics`; `metrics.enabled = false`) every call is a no-op.

use std::cell::RefCell;
use std::collections::HashMap;

use metrics::{Counter, Histogram};

thread_local! {
    static COUNTERS: RefCell<HashMap<(&'static str, &'static str), Counter>> =
        RefCell::new(HashMap::new());
    static HISTOGRAMS: RefCell<HashMap<(&'static str, &'static str), Histogram>> =
        RefCell::new(HashMap::new());
}

/// Adds one to counter `name`, labelled `label = value` (or unlabelled when `label`
/// is empty).
pub fn count(name: &'static str, label: &'static str, value: &'static str) {
    count_by(name, label, value, 1);
}

/// Adds `n` to counter `name`, labelled `label = value` (unlabelled when `label` is empty).
pub fn count_by(name: &'static str, label: &'static str, value: &'static str, n: u64) {
    if n == 0 {
        return;
    }
    COUNTERS.with(|counters| {
        counters
            .borrow_mut()
            .entry((name, value))
            .or_insert_with(|| {
                if label.is_empty() {
                    metrics::counter!(name)
                } else {
                    metrics::counter!(name, label => value)
                }
            })
            .increment(n);
    });
}

/// Records `seconds` (or any amount) in histogram `name`, labelled `label = value`
/// (unlabelled when `label` is empty).
pub fn observe(name: &'static str, label: &'static str, value: &'static str, seconds: f64) {
    HISTOGRAMS.with(|histograms| {
        histograms
            .borrow_mut()
            .entry((name, value))
            .or_insert_with(|| {
                if label.is_empty() {
                    metrics::histogram!(name)
                } else {
                    metrics::histogram!(name, label => value)
                }
            })
            .record(seconds);
    });
}

/// Sets gauge `name` (rare events: no caching needed).
pub fn set(name: &'static str, value: f64) {
    metrics::gauge!(name).set(value);
}
