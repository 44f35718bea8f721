//! The timing loop of `make bench-parts` (benches/parts): each hand-made part and the
//! crate that could replace it run in the same process, taking turns, and the table
//! reports the median of the repetitions.
//!
//! # Layout
//! - [`Knobs`]: `PARTS_REPS` and `PARTS_ONLY`, read once.
//! - [`per_op`] and [`pair`]: nanoseconds per operation, ours and theirs in turn.
//! - [`Table`]: the rows printed at the end (markdown) and written as JSON.

#![warn(missing_docs)]

use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// How long one sample of a fast operation runs.
const SAMPLE: Duration = Duration::from_millis(20);

/// What the environment asks of the run.
#[derive(Debug, Clone)]
pub struct Knobs {
    /// Repetitions of each measurement (`PARTS_REPS`, default 11); the table shows
    /// their median.
    pub reps: usize,
    /// The parts to measure (`PARTS_ONLY=log,trace,spans,jwt,hex`); all when unset.
    pub only: Option<Vec<String>>,
}

impl Knobs {
    /// Reads `PARTS_REPS` and `PARTS_ONLY`.
    pub fn from_env() -> Self {
        let reps = std::env::var("PARTS_REPS")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .filter(|&n: &usize| n > 0)
            .unwrap_or(11);
        let only = std::env::var("PARTS_ONLY")
            .ok()
            .filter(|v| !v.trim().is_empty())
            .map(|v| v.split(',').map(|p| p.trim().to_owned()).collect());
        Self { reps, only }
    }

    /// True when `part` is to be measured.
    pub fn wants(&self, part: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|only| only.iter().any(|p| p == part))
    }
}

/// The median of `values` (sorted in place); 0 for none.
pub fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

/// Nanoseconds per call of `op`, over `iters` calls.
pub fn per_op(iters: u64, op: &mut impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..iters {
        op();
    }
    start.elapsed().as_nanos() as f64 / iters.max(1) as f64
}

/// How many calls of `op` fill about one sample (at least 10).
fn calibrate(op: &mut impl FnMut()) -> u64 {
    let mut iters = 10u64;
    loop {
        let start = Instant::now();
        for _ in 0..iters {
            op();
        }
        let took = start.elapsed();
        if took >= SAMPLE / 4 || iters >= 1 << 30 {
            let scale = SAMPLE.as_secs_f64() / took.as_secs_f64().max(1e-9);
            return ((iters as f64 * scale) as u64).max(10);
        }
        iters *= 4;
    }
}

/// The medians of one comparison, in nanoseconds per operation.
#[derive(Debug, Clone, Copy)]
pub struct Pair {
    /// Our part.
    pub ours: f64,
    /// The crate.
    pub theirs: f64,
}

/// Runs `ours` and `theirs` `reps` times each, taking turns (which goes first
/// alternates), each sample about 20 ms; the medians in ns per call.
pub fn pair(reps: usize, mut ours: impl FnMut(), mut theirs: impl FnMut()) -> Pair {
    let n_ours = calibrate(&mut ours);
    let n_theirs = calibrate(&mut theirs);
    let (mut a, mut b) = (Vec::with_capacity(reps), Vec::with_capacity(reps));
    for rep in 0..reps {
        if rep % 2 == 0 {
            a.push(per_op(n_ours, &mut ours));
            b.push(per_op(n_theirs, &mut theirs));
        } else {
            b.push(per_op(n_theirs, &mut theirs));
            a.push(per_op(n_ours, &mut ours));
        }
    }
    Pair {
        ours: median(&mut a),
        theirs: median(&mut b),
    }
}

/// One line of the table.
#[derive(Debug, Clone)]
pub struct Row {
    /// The part (`log`, `trace`, `spans`, `jwt`, `hex`).
    pub part: &'static str,
    /// What is measured, with its unit.
    pub measure: String,
    /// Our figure.
    pub ours: f64,
    /// The crate's figure.
    pub theirs: f64,
    /// True when less is better (times, lost lines); false for rates.
    pub lower_is_better: bool,
}

/// The figures of a run.
#[derive(Debug, Default)]
pub struct Table {
    rows: Vec<Row>,
}

impl Table {
    /// Adds a row.
    pub fn push(&mut self, row: Row) {
        eprintln!(
            "  {:<6} {:<58} ours {:>12} crate {:>12}",
            row.part,
            row.measure,
            figure(row.ours),
            figure(row.theirs)
        );
        self.rows.push(row);
    }

    /// Adds a time row (ns per operation, lower is better).
    pub fn time(&mut self, part: &'static str, measure: &str, pair: Pair) {
        self.push(Row {
            part,
            measure: measure.to_owned(),
            ours: pair.ours,
            theirs: pair.theirs,
            lower_is_better: true,
        });
    }

    /// The table in markdown: part, measure, ours, crate, and how ours compares.
    pub fn markdown(&self) -> String {
        let mut out = String::from(
            "| part | measure | ours | crate | ours vs crate |\n| --- | --- | ---: | ---: | --- |\n",
        );
        for row in &self.rows {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                row.part,
                row.measure,
                figure(row.ours),
                figure(row.theirs),
                comparison(row)
            );
        }
        out
    }

    /// The rows as JSON (no serde here: the table is flat).
    pub fn json(&self, reps: usize, load: &str) -> String {
        let mut out = format!("{{\"reps\":{reps},\"load\":\"{load}\",\"rows\":[");
        for (i, row) in self.rows.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(
                out,
                "{{\"part\":\"{}\",\"measure\":\"{}\",\"ours\":{:.3},\"crate\":{:.3},\"lower_is_better\":{}}}",
                row.part,
                row.measure.replace('"', "'"),
                row.ours,
                row.theirs,
                row.lower_is_better
            );
        }
        out.push_str("]}\n");
        out
    }
}

/// A figure with a precision that suits its size.
fn figure(value: f64) -> String {
    if value >= 1e6 {
        format!("{:.2} M", value / 1e6)
    } else if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

/// "1.8× faster", "0.9×", "same" (within 10%), for the reader's eye only.
fn comparison(row: &Row) -> String {
    if row.ours == row.theirs {
        return "same".into();
    }
    if row.ours == 0.0 || row.theirs == 0.0 {
        let ours_better = (row.ours < row.theirs) == row.lower_is_better;
        return if ours_better { "ours" } else { "crate" }.into();
    }
    let better = if row.lower_is_better {
        row.theirs / row.ours
    } else {
        row.ours / row.theirs
    };
    if (0.9..=1.1).contains(&better) {
        format!("same ({better:.2}×)")
    } else if better > 1.0 {
        format!("ours {better:.2}× better")
    } else {
        format!("crate {:.2}× better", 1.0 / better)
    }
}
