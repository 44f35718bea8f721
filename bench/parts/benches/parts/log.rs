//! service-kit's log writer (`log_sink`) against `tracing-appender`'s non-blocking
//! writer in lossy mode with the same buffer (`CAPACITY` bytes = `CAPACITY / LINE`
//! lines of `LINE` bytes). Lines go in as the `tracing` formatter hands them over:
//! one `write_all` of a whole line per `make_writer()`.

use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use parts_bench::{Knobs, Pair, Row, Table, median};
use service_kit::log_sink::{CAPACITY, LogGuard, LogSink};
use tracing_appender::non_blocking::{NonBlocking, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::fmt::MakeWriter;

/// One access line's length.
const LINE: usize = 200;
/// Lines per burst when timing the writes: well inside either buffer.
const BURST: usize = 1_000;
/// Bursts per sample.
const BURSTS: usize = 20;
/// Lines written flat out for the rate.
const FLAT_OUT: u64 = 300_000;
/// A burst four times the buffer, for the lines lost.
const BIG_BURST: u64 = 4 * (CAPACITY / LINE) as u64;
/// The slow output: each `write` costs this, plus `SLOW_PER_BYTE` for each byte
/// (about 4 µs for one line, 10 ms for a full buffer).
const SLOW_PER_CALL: Duration = Duration::from_micros(2);
const SLOW_PER_BYTE_NS: u64 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ours,
    Crate,
}

/// Where the writer's thread writes: counts whole lines (and our writer's "lines
/// dropped" notices, which are not lines of the test); optionally slow.
#[derive(Clone, Default)]
struct Output {
    lines: Arc<AtomicU64>,
    notices: Arc<AtomicU64>,
    slow: bool,
}

impl Output {
    fn slow() -> Self {
        Self {
            slow: true,
            ..Self::default()
        }
    }

    fn delivered(&self) -> u64 {
        self.lines.load(Ordering::Acquire) - self.notices.load(Ordering::Acquire)
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.starts_with(b"log writer: ") {
            self.notices.fetch_add(1, Ordering::AcqRel);
        }
        let lines = buf.iter().filter(|&&b| b == b'\n').count() as u64;
        if self.slow {
            let cost = SLOW_PER_CALL + Duration::from_nanos(SLOW_PER_BYTE_NS * buf.len() as u64);
            let start = Instant::now();
            while start.elapsed() < cost {
                std::hint::spin_loop();
            }
        }
        self.lines.fetch_add(lines, Ordering::AcqRel);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

enum Pipe {
    Ours {
        sink: LogSink,
        _guard: LogGuard,
    },
    Crate {
        writer: NonBlocking,
        _guard: WorkerGuard,
    },
}

impl Pipe {
    fn start(kind: Kind, out: &Output) -> Self {
        match kind {
            Kind::Ours => {
                let (sink, guard) = LogSink::start(Box::new(out.clone()));
                Self::Ours {
                    sink,
                    _guard: guard,
                }
            }
            Kind::Crate => {
                let (writer, guard) = NonBlockingBuilder::default()
                    .lossy(true)
                    .buffered_lines_limit(CAPACITY / LINE)
                    .thread_name("appender")
                    .finish(out.clone());
                Self::Crate {
                    writer,
                    _guard: guard,
                }
            }
        }
    }

    fn write(&self, line: &[u8]) {
        let _ = match self {
            Self::Ours { sink, .. } => sink.make_writer().write_all(line),
            Self::Crate { writer, .. } => writer.make_writer().write_all(line),
        };
    }

    /// Waits (at most `limit`) until `sent` lines are written or dropped.
    fn settle(&self, out: &Output, sent: u64, limit: Duration) {
        let start = Instant::now();
        loop {
            let dropped = match self {
                Self::Ours { sink, .. } => sink.dropped_lines(),
                Self::Crate { writer, .. } => writer.error_counter().dropped_lines() as u64,
            };
            if out.delivered() + dropped >= sent || start.elapsed() > limit {
                return;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    /// Stops the writer once everything is out; returns the lines lost of `sent`.
    fn finish(self, out: &Output, sent: u64) -> u64 {
        self.settle(out, sent, Duration::from_secs(10));
        drop(self);
        sent.saturating_sub(out.delivered())
    }
}

fn line() -> Vec<u8> {
    let head = b"2026-12-04T09:30:44.123456Z  INFO request: GET /me 200 0.412ms request_id=01938f3c-7a2b-7c1d-9e8f-0a1b2c3d4e5f ";
    let mut line = head.to_vec();
    line.resize(LINE - 1, b'x');
    line.push(b'\n');
    line
}

/// ns per line as each of `threads` threads sees it, bursts of `BURST` lines that fit
/// the buffer, the writer given time to drain between bursts.
fn ns_per_line(kind: Kind, threads: usize, line: &[u8]) -> f64 {
    let out = Output::default();
    let pipe = Pipe::start(kind, &out);
    let barrier = Barrier::new(threads);
    let sent = AtomicU64::new(0);
    let per_thread: Vec<f64> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (pipe, barrier, out, sent) = (&pipe, &barrier, &out, &sent);
                scope.spawn(move || {
                    let mut busy = Duration::ZERO;
                    for _ in 0..BURSTS {
                        barrier.wait();
                        let start = Instant::now();
                        for _ in 0..BURST {
                            pipe.write(std::hint::black_box(line));
                        }
                        busy += start.elapsed();
                        sent.fetch_add(BURST as u64, Ordering::AcqRel);
                        barrier.wait();
                        if t == 0 {
                            pipe.settle(out, sent.load(Ordering::Acquire), Duration::from_secs(1));
                        }
                    }
                    busy.as_nanos() as f64 / (BURSTS * BURST) as f64
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or(0.0))
            .collect()
    });
    pipe.finish(&out, sent.load(Ordering::Acquire));
    per_thread.iter().sum::<f64>() / per_thread.len() as f64
}

/// One thread flat out into a fast output: lines delivered per second (from the first
/// write to the last line out) and lines lost.
fn flat_out(kind: Kind, line: &[u8]) -> (f64, u64) {
    let out = Output::default();
    let pipe = Pipe::start(kind, &out);
    let start = Instant::now();
    for _ in 0..FLAT_OUT {
        pipe.write(std::hint::black_box(line));
    }
    let lost = pipe.finish(&out, FLAT_OUT);
    let rate = (FLAT_OUT - lost) as f64 / start.elapsed().as_secs_f64();
    (rate, lost)
}

/// Lines lost of a burst of `BIG_BURST` lines from one thread.
fn burst_lost(kind: Kind, out: Output, line: &[u8]) -> u64 {
    let pipe = Pipe::start(kind, &out);
    for _ in 0..BIG_BURST {
        pipe.write(std::hint::black_box(line));
    }
    pipe.finish(&out, BIG_BURST)
}

/// Runs `f` for ours and the crate `reps` times, taking turns; the medians.
fn turns(reps: usize, mut f: impl FnMut(Kind) -> f64) -> Pair {
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for rep in 0..reps {
        for kind in if rep % 2 == 0 {
            [Kind::Ours, Kind::Crate]
        } else {
            [Kind::Crate, Kind::Ours]
        } {
            let value = f(kind);
            match kind {
                Kind::Ours => ours.push(value),
                Kind::Crate => theirs.push(value),
            }
        }
    }
    Pair {
        ours: median(&mut ours),
        theirs: median(&mut theirs),
    }
}

pub fn run(knobs: &Knobs, table: &mut Table) {
    let line = line();
    let reps = knobs.reps;
    for threads in [1, 2] {
        let pair = turns(reps, |kind| ns_per_line(kind, threads, &line));
        table.time(
            "log",
            &format!("ns per {LINE}-byte line, {threads} writing thread(s), bursts of {BURST}"),
            pair,
        );
    }
    let mut lost = (Vec::new(), Vec::new());
    let rate = turns(reps, |kind| {
        let (rate, l) = flat_out(kind, &line);
        match kind {
            Kind::Ours => lost.0.push(l as f64),
            Kind::Crate => lost.1.push(l as f64),
        }
        rate
    });
    table.push(Row {
        part: "log",
        measure: format!("lines/s delivered, 1 thread flat out ({FLAT_OUT} lines), fast output"),
        ours: rate.ours,
        theirs: rate.theirs,
        lower_is_better: false,
    });
    table.push(Row {
        part: "log",
        measure: format!("lines lost of those {FLAT_OUT}"),
        ours: median(&mut lost.0),
        theirs: median(&mut lost.1),
        lower_is_better: true,
    });
    let fast = turns(reps, |kind| {
        burst_lost(kind, Output::default(), &line) as f64
    });
    table.push(Row {
        part: "log",
        measure: format!("lines lost of a {BIG_BURST}-line burst (4× the buffer), fast output"),
        ours: fast.ours,
        theirs: fast.theirs,
        lower_is_better: true,
    });
    let slow = turns(reps, |kind| burst_lost(kind, Output::slow(), &line) as f64);
    table.push(Row {
        part: "log",
        measure: format!(
            "lines lost of a {BIG_BURST}-line burst, slow output (2 µs per write + 10 ns per byte)"
        ),
        ours: slow.ours,
        theirs: slow.theirs,
        lower_is_better: true,
    });
}
