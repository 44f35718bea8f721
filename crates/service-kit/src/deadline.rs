//! Slow clients: the request's body must arrive within the deadline
//! (`server.request_timeout_ms`, counted from when its head arrived; the head has the
//! same bound from the connection's start), and each worker holds at most
//! `server.max_connections` connections, by default as many as the process's file
//! limit leaves room for, so a flood of slow connections is cut and can never take the
//! last file descriptor a health check needs.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::HttpMessage;
use actix_web::dev::{Payload, ServiceRequest};
use actix_web::error::PayloadError;
use actix_web::web::Bytes;
use futures_util::Stream;

/// How long a request's body may take, as app data for [`bound_body`].
#[derive(Debug, Clone, Copy)]
pub struct RequestDeadline(pub Duration);

/// A request body that fails with `TimedOut` once the deadline passes.
struct Bounded {
    inner: Payload,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl Stream for Bounded {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Poll::Ready(item) = Pin::new(&mut self.inner).poll_next(cx) {
            return Poll::Ready(item);
        }
        if self.deadline.as_mut().poll(cx).is_ready() {
            let late = std::io::Error::new(std::io::ErrorKind::TimedOut, "request body too slow");
            return Poll::Ready(Some(Err(PayloadError::Io(late))));
        }
        Poll::Pending
    }
}

/// Bounds the time the request's body may take to arrive (run by the request
/// middleware, [`crate::request_context`]).
pub fn bound_body(req: &mut ServiceRequest) {
    let inner = req.take_payload();
    if matches!(inner, Payload::None) {
        // No body (a GET like /me): nothing to wait for, and no timer to set.
        req.set_payload(inner);
        return;
    }
    let limit = req
        .app_data::<RequestDeadline>()
        .map_or(DEFAULT_REQUEST_TIMEOUT, |d| d.0);
    let bounded = Bounded {
        inner,
        deadline: Box::pin(tokio::time::sleep(limit)),
    };
    req.set_payload(Payload::Stream {
        payload: Box::pin(bounded),
    });
}

/// The deadline when none is configured.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// File descriptors kept out of the connection budget: Redis and MongoDB pools, the
/// listener, logs.
const RESERVED_FDS: u64 = 64;

/// Connections each worker may hold when `server.max_connections` is 0: what the
/// process's open-file limit leaves after a reserve, shared by the workers.
pub fn default_max_connections(workers: usize) -> usize {
    let limit = open_file_limit().unwrap_or(1024);
    let budget = limit.saturating_sub(RESERVED_FDS).max(64);
    let per_worker = budget / (workers.max(1) as u64);
    usize::try_from(per_worker.clamp(16, 25_000)).unwrap_or(25_000)
}

/// The soft limit on open files (Linux: `/proc/self/limits`).
fn open_file_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let soft = line.split_whitespace().nth(3)?;
    if soft == "unlimited" {
        return Some(u64::MAX / 2);
    }
    soft.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_budget_follows_the_file_limit() {
        let limit = open_file_limit().expect("Linux reports its limits");
        assert!(limit > 0);
        let one = default_max_connections(1);
        let two = default_max_connections(2);
        assert!(two <= one);
        assert!((one as u64) < limit.max(16 + RESERVED_FDS) || one == 25_000);
    }
}
