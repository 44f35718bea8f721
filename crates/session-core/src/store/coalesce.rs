//! Session reads that share round trips (`redis.coalesce_reads`): the reads that are
//! ready at the same moment on a worker thread go to Redis as one pipeline, the `GET`s
//! of the `single` layout as one `MGET` at its front, and each read gets its own reply
//! back by position.
//!
//! Why: one `GET` per request costs a command's whole client-side machinery (encoding,
//! the hand-over to the connection's task, a reply parsed alone) and a write and a read
//! on the socket; a batch pays that once for many requests.
//!
//! How, without a timer (a lone read must never wait longer than it would alone): each
//! thread keeps a queue per store and runtime. The first read that finds its queue
//! empty spawns a sender task; the sender runs after the tasks already woken on this
//! worker (which queue their reads meanwhile), takes the whole queue and sends it. A
//! read that arrives while a batch is in flight finds the queue empty again and starts
//! the next batch at once. On a Cluster the batch goes as one pipeline per slot, all
//! at the same time (a pipeline, and an `MGET`, may not cross slots).
//!
//! Failures stay each read's own: a command Redis refuses (`WRONGTYPE`) fails its read
//! only; a batch whose connection died is sent once more on a fresh connection (a read
//! is safe to repeat), and if that fails too every read of it is `Unavailable`. Each
//! read stays bounded by `redis.timeout_ms` on its own (the store's timed call), and keeps its
//! `redis_command_duration_seconds`; `redis_read_batch_size` shows how many shared one.

use std::cell::RefCell;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use redis::aio::ConnectionLike;
use redis::cluster_routing::Slot;
use redis::{Cmd, ErrorKind, RedisError, RedisResult, Value};
use tokio::sync::oneshot;

use super::backend::Backend;
use crate::error::StoreError;

/// One read as it waits for its batch.
pub(super) enum Read {
    /// A plain `GET` of this key: sent within the batch's one `MGET`.
    Get(String),
    /// Commands answered together (one, or a pipeline's), in the batch's pipeline after
    /// the `MGET`; answered as one value, or an array of them.
    Cmds(Vec<Cmd>),
}

impl Read {
    /// The key that decides the Cluster slot: the first command's first argument
    /// (every read here names one key; `PING` names none and may go anywhere).
    fn slot(&self) -> Option<Slot> {
        match self {
            Self::Get(key) => Some(Slot::for_key(key)),
            Self::Cmds(cmds) => match cmds.first()?.args_iter().nth(1)? {
                redis::Arg::Simple(key) => Some(Slot::for_key(key)),
                _ => None,
            },
        }
    }
}

/// What a read hears back: no connection at all (already logged and counted by the
/// sender), or Redis's answer to its own commands.
pub(super) type Reply = Result<RedisResult<Value>, StoreError>;

struct Pending {
    read: Read,
    reply: oneshot::Sender<Reply>,
}

/// The reads waiting for the next batch of one store on one runtime.
type Queue = Arc<Mutex<Vec<Pending>>>;

/// Most queues one thread keeps (one per store and runtime it reads through).
const QUEUES: usize = 8;

thread_local! {
    static PENDING: RefCell<Vec<(u64, tokio::runtime::Id, Queue)>> =
        const { RefCell::new(Vec::new()) };
}

/// A store's coalescing: its id keeps its queues apart from other stores' (a test may
/// run several stores, and several runtimes, on one thread).
#[derive(Clone, Copy, Debug)]
pub(super) struct Coalescer {
    id: u64,
}

impl Coalescer {
    pub(super) fn new() -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        Self {
            id: NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// Queues `read` for the next batch and answers where its reply will come; `None`
    /// outside a tokio runtime (the caller then reads on its own).
    /// The batch is sent on `backend`'s reader connection and bounded by `timeout`.
    pub(super) fn submit(
        &self,
        backend: &Arc<Backend>,
        timeout: Duration,
        read: Read,
    ) -> Option<oneshot::Receiver<Reply>> {
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let queue = self.queue(runtime.id());
        let (reply, answer) = oneshot::channel();
        let first = {
            let mut pending = queue.lock().unwrap_or_else(PoisonError::into_inner);
            pending.push(Pending { read, reply });
            pending.len() == 1
        };
        if first {
            let multi_thread =
                runtime.runtime_flavor() != tokio::runtime::RuntimeFlavor::CurrentThread;
            let to = Target {
                backend: Arc::clone(backend),
                timeout,
            };
            runtime.spawn(send(to, queue, multi_thread));
        }
        Some(answer)
    }

    /// This thread's queue for this store on `runtime`.
    fn queue(&self, runtime: tokio::runtime::Id) -> Queue {
        PENDING.with(|queues| {
            let mut queues = queues.borrow_mut();
            if let Some((_, _, queue)) = queues
                .iter()
                .find(|(id, rt, _)| *id == self.id && *rt == runtime)
            {
                return Arc::clone(queue);
            }
            // A runtime that ran on this thread before has stopped (and its sender
            // tasks with it).
            queues.retain(|(_, rt, _)| *rt == runtime);
            if queues.len() >= QUEUES {
                queues.remove(0);
            }
            let queue = Queue::default();
            queues.push((self.id, runtime, Arc::clone(&queue)));
            queue
        })
    }
}

/// Where a batch goes: the store's backend, within its `redis.timeout_ms`.
struct Target {
    backend: Arc<Backend>,
    timeout: Duration,
}

/// The sender task: takes the whole queue and sends it.
async fn send(to: Target, queue: Queue, multi_thread: bool) {
    if multi_thread {
        // A task spawned on a multi-threaded runtime runs next (tokio's LIFO slot),
        // before the reads woken with this one have queued; yielding puts it after them.
        // (A current-thread runtime runs it after them already.)
        tokio::task::yield_now().await;
    }
    let batch = std::mem::take(&mut *queue.lock().unwrap_or_else(PoisonError::into_inner));
    // A read that gave up (timed out, its request gone) needs no answer.
    let batch: Vec<Pending> = batch.into_iter().filter(|p| !p.reply.is_closed()).collect();
    if batch.is_empty() {
        return;
    }
    crate::measure::observe("redis_read_batch_size", "", "", batch.len() as f64);
    if !to.backend.is_cluster() {
        return send_one(&to, batch).await;
    }
    let mut groups: Vec<(Option<Slot>, Vec<Pending>)> = Vec::new();
    for pending in batch {
        let slot = pending.read.slot();
        match groups.iter_mut().find(|(s, _)| *s == slot) {
            Some((_, group)) => group.push(pending),
            None => groups.push((slot, vec![pending])),
        }
    }
    futures_util::future::join_all(groups.into_iter().map(|(_, group)| send_one(&to, group))).await;
}

/// Sends one pipeline (one slot's, on a Cluster) and answers each of its reads.
async fn send_one(to: &Target, batch: Vec<Pending>) {
    let mut pipe = redis::pipe();
    let keys: Vec<&str> = batch
        .iter()
        .filter_map(|p| match &p.read {
            Read::Get(key) => Some(key.as_str()),
            Read::Cmds(_) => None,
        })
        .collect();
    if !keys.is_empty() {
        pipe.cmd("MGET").arg(&keys);
    }
    for pending in &batch {
        if let Read::Cmds(cmds) = &pending.read {
            for cmd in cmds {
                pipe.add_command(cmd.clone());
            }
        }
    }
    let gets = keys.len();
    let run = to.backend.read("read_batch", |mut conn| {
        let pipe = &pipe;
        async move { conn.req_packed_commands(pipe, 0, pipe.len()).await }
    });
    let outcome = tokio::time::timeout(to.timeout, run).await;
    match outcome {
        Ok(Ok(Ok(values))) => answer(batch, gets, values),
        Ok(Ok(Err(err))) => {
            for pending in batch {
                let _ = pending.reply.send(Ok(Err(err.clone())));
            }
        }
        // No connection (logged by the backend), or no answer in time (each
        // read times out on its own, and logs it, at the same moment).
        Ok(Err(err)) => fail_all(batch, err),
        Err(_) => fail_all(batch, StoreError::Unavailable),
    }
}

fn fail_all(batch: Vec<Pending>, err: StoreError) {
    for pending in batch {
        let _ = pending.reply.send(Err(err));
    }
}

fn unexpected() -> RedisError {
    RedisError::from((
        ErrorKind::UnexpectedReturnType,
        "a batched read's reply is missing or not the shape sent",
    ))
}

/// One command's reply as a result: a refusal (`WRONGTYPE`, `NOPERM`) is its error.
fn own(value: Value) -> RedisResult<Value> {
    match value {
        Value::ServerError(err) => Err(err.into()),
        value => Ok(value),
    }
}

/// Hands each read its own reply: the `MGET`'s items in the order of the `GET`s, then
/// each read's commands' replies in turn.
fn answer(batch: Vec<Pending>, gets: usize, values: Vec<Value>) {
    let mut values = values.into_iter();
    let mut items = if gets == 0 {
        Ok(Vec::new().into_iter())
    } else {
        match values.next().map(own) {
            Some(Ok(Value::Array(items))) if items.len() == gets => Ok(items.into_iter()),
            Some(Err(err)) => Err(err),
            _ => Err(unexpected()),
        }
    };
    for pending in batch {
        let reply = match &pending.read {
            Read::Get(_) => match &mut items {
                Ok(items) => items.next().ok_or_else(unexpected),
                Err(err) => Err(err.clone()),
            },
            Read::Cmds(cmds) => {
                let own_values: Vec<Value> = values.by_ref().take(cmds.len()).collect();
                if own_values.len() != cmds.len() {
                    Err(unexpected())
                } else if cmds.len() == 1 {
                    own_values
                        .into_iter()
                        .next()
                        .map_or_else(|| Err(unexpected()), own)
                } else {
                    own_values
                        .into_iter()
                        .map(own)
                        .collect::<RedisResult<Vec<Value>>>()
                        .map(Value::Array)
                }
            }
        };
        let _ = pending.reply.send(Ok(reply));
    }
}
