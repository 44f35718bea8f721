//! The services' log writer: a line goes into a buffer in memory and a thread of its
//! own writes the buffer out in batches, so a request that logs (the access line at
//! `info`) never waits on a `write(2)` and makes no system call of its own. The writer
//! wakes once per batch, not per line.
//!
//! The buffer is bounded ([`CAPACITY`]): when the output cannot keep up, further lines
//! are dropped, counted, and the count is written once the output drains. Dropping the
//! [`LogGuard`] writes what is left (the services hold it until `main` returns).
//!
//! # Why not `tracing-appender`
//! Measured against `tracing-appender`'s non-blocking writer (lossy, the same buffer:
//! `CAPACITY / 200` lines) in the run of docs/benchmark.md's "Hand-made parts", `make
//! bench-parts` with `PARTS_ONLY=log` (medians of 11 on 2 cores at load average 3.5-6):
//! 32.8 ns per 200-byte line from one thread against 76.1 ns, 37.8 ns against 280 ns
//! from two threads (one copy into a shared buffer, against an allocation and a
//! channel send per line), and 2.45 million lines/s written out flat out against 0.78
//! million (one `write` per batch, not per line). It
//! also writes how many lines were lost into the output itself; the crate only counts.
//! Before the writer woke at [`HIGH_WATER`], it slept out its gathering time while a
//! burst filled the buffer: 0.9 million lines/s, and 98% of a flat-out run lost.

use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tracing_subscriber::fmt::MakeWriter;

/// Bytes that may wait for the writer; beyond this, lines are dropped and counted.
pub const CAPACITY: usize = 1 << 20;

/// How long the writer lets lines gather after the first of a batch arrives.
const GATHER: Duration = Duration::from_millis(5);

/// Once this many bytes wait, the writer stops gathering and writes at once, so that a
/// burst finds the other half of the buffer free instead of a writer asleep.
pub const HIGH_WATER: usize = CAPACITY / 2;

struct Pending {
    buf: Vec<u8>,
    closed: bool,
}

struct Shared {
    pending: Mutex<Pending>,
    ready: Condvar,
    dropped: AtomicU64,
    /// Lines dropped since the start, reported or not.
    dropped_total: AtomicU64,
    /// The output; held while a batch is written, so batches keep their order.
    out: Mutex<Box<dyn Write + Send>>,
}

fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves bytes, not broken invariants.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn push(&self, line: &[u8]) {
        let mut pending = lock(&self.pending);
        if pending.closed {
            // After the guard is gone (the last lines of `main`): straight out.
            drop(pending);
            let mut out = lock(&self.out);
            let _ = out.write_all(line);
            let _ = out.flush();
            return;
        }
        if pending.buf.len() + line.len() > CAPACITY {
            drop(pending);
            self.dropped.fetch_add(1, Ordering::Relaxed);
            self.dropped_total.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let before = pending.buf.len();
        pending.buf.extend_from_slice(line);
        let after = pending.buf.len();
        drop(pending);
        // Wake the writer for the first line of a batch, and again when the batch
        // passes the high-water mark while the writer is still gathering.
        if before == 0 || (before < HIGH_WATER && after >= HIGH_WATER) {
            self.ready.notify_one();
        }
    }

    /// Writes what is pending (and the count of dropped lines), swapping buffers so
    /// that producers never wait on the output.
    fn write_out(&self, spare: &mut Vec<u8>) {
        let mut out = lock(&self.out);
        std::mem::swap(&mut lock(&self.pending).buf, spare);
        // Errors have nowhere to go: the output is where they would be reported.
        let _ = out.write_all(spare);
        spare.clear();
        let dropped = self.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            let _ = writeln!(
                out,
                "log writer: {dropped} log lines dropped (the output did not keep up)"
            );
        }
        let _ = out.flush();
    }

    fn run(&self) {
        let mut spare = Vec::with_capacity(CAPACITY);
        loop {
            {
                let mut pending = lock(&self.pending);
                while pending.buf.is_empty() && !pending.closed {
                    pending = self
                        .ready
                        .wait(pending)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                if pending.buf.is_empty() {
                    return;
                }
                // Let the batch gather for GATHER, unless it reaches the high-water
                // mark first (or the guard is dropped).
                let deadline = Instant::now() + GATHER;
                while pending.buf.len() < HIGH_WATER && !pending.closed {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    pending = self
                        .ready
                        .wait_timeout(pending, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
            }
            self.write_out(&mut spare);
        }
    }
}

/// The writer handed to the `tracing` formatter (see [`LogSink::start`]).
#[derive(Clone)]
pub struct LogSink {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for LogSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogSink").finish_non_exhaustive()
    }
}

/// Keeps the writer running; dropping it writes out what is left.
#[derive(Debug)]
pub struct LogGuard {
    sink: LogSink,
}

impl LogSink {
    /// Starts the writer thread in front of `out`. Should the thread not start, lines
    /// are written straight to `out`, as they are once the guard is dropped.
    pub fn start(out: Box<dyn Write + Send>) -> (Self, LogGuard) {
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending {
                buf: Vec::with_capacity(CAPACITY),
                closed: false,
            }),
            ready: Condvar::new(),
            dropped: AtomicU64::new(0),
            dropped_total: AtomicU64::new(0),
            out: Mutex::new(out),
        });
        let writer = shared.clone();
        let started = std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || writer.run());
        if started.is_err() {
            lock(&shared.pending).closed = true;
        }
        let sink = Self { shared };
        (sink.clone(), LogGuard { sink })
    }

    /// Lines dropped since the start because the output did not keep up.
    pub fn dropped_lines(&self) -> u64 {
        self.shared.dropped_total.load(Ordering::Relaxed)
    }

    /// Writes out everything pending now, on the calling thread.
    pub fn flush(&self) {
        let mut spare = Vec::new();
        self.shared.write_out(&mut spare);
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        lock(&self.sink.shared.pending).closed = true;
        self.sink.shared.ready.notify_one();
        self.sink.flush();
    }
}

/// One formatted line on its way into the buffer.
pub struct LineWriter<'a> {
    shared: &'a Shared,
}

impl Write for LineWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.shared.push(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogSink {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter {
            shared: &self.shared,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An output the test can read back, optionally held shut until `open` is set.
    #[derive(Clone, Default)]
    struct Captured {
        bytes: Arc<Mutex<Vec<u8>>>,
        gate: Arc<(Mutex<bool>, Condvar)>,
    }

    impl Captured {
        fn open(&self) {
            *lock(&self.gate.0) = true;
            self.gate.1.notify_all();
        }

        fn text(&self) -> String {
            String::from_utf8(lock(&self.bytes).clone()).expect("utf-8")
        }
    }

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let mut open = lock(&self.gate.0);
            while !*open {
                open = self.gate.1.wait(open).expect("gate");
            }
            lock(&self.bytes).extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_from_many_threads_all_arrive_whole_and_in_each_threads_order() {
        let captured = Captured::default();
        captured.open();
        let (sink, guard) = LogSink::start(Box::new(captured.clone()));
        std::thread::scope(|scope| {
            for t in 0..4 {
                let sink = sink.clone();
                scope.spawn(move || {
                    for i in 0..500 {
                        let mut line = sink.make_writer();
                        line.write_all(format!("thread {t} line {i}\n").as_bytes())
                            .expect("write");
                    }
                });
            }
        });
        drop(guard);
        let text = captured.text();
        assert_eq!(text.lines().count(), 2000);
        for t in 0..4 {
            let seen: Vec<usize> = text
                .lines()
                .filter_map(|l| l.strip_prefix(&format!("thread {t} line ")))
                .map(|n| n.parse().expect("number"))
                .collect();
            assert_eq!(seen, (0..500).collect::<Vec<_>>());
        }
    }

    #[test]
    fn a_stalled_output_costs_lines_not_memory_and_the_loss_is_reported() {
        let captured = Captured::default();
        let (sink, guard) = LogSink::start(Box::new(captured.clone()));
        let line = [b'x'; 1023]
            .iter()
            .chain(b"\n")
            .copied()
            .collect::<Vec<_>>();
        // The writer takes the first batch and blocks on the shut output; then the
        // buffer fills to its capacity and the rest is dropped.
        sink.make_writer().write_all(&line).expect("write");
        for _ in 0..5000 {
            if lock(&sink.shared.pending).buf.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(
            lock(&sink.shared.pending).buf.is_empty(),
            "the writer took the line"
        );
        for _ in 0..(2 * CAPACITY / line.len()) {
            sink.make_writer().write_all(&line).expect("write");
        }
        assert!(lock(&sink.shared.pending).buf.len() <= CAPACITY);
        captured.open();
        drop(guard);
        let text = captured.text();
        let written = text.lines().filter(|l| l.starts_with('x')).count();
        assert_eq!(written, 1 + CAPACITY / line.len());
        let dropped = 1 + 2 * CAPACITY / line.len() - written;
        assert!(
            text.contains(&format!("log writer: {dropped} log lines dropped")),
            "{}",
            &text[text.len().saturating_sub(200)..]
        );
    }
}
