//! The Redis plumbing every part of the store shares, and the one type the throttle
//! and the validation cache use: calls bounded by `redis.timeout_ms` and timed, scripts
//! on a pooled connection followed by `WAIT` when they change sessions, reads on the
//! reader connection with one retry when the connection died under them, publish and
//! subscribe. A failure or a timeout is [`StoreError::Unavailable`], never "not found".

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::backend::{Backend, Connection};
use super::coalesce::{Coalescer, Read};
use crate::error::StoreError;
use crate::settings::{RedisSettings, SettingsError};

/// A read: one command or a pipeline of them.
#[derive(Clone, Copy)]
enum Query<'a> {
    Cmd(&'a redis::Cmd),
    Pipe(&'a redis::Pipeline),
}

impl Query<'_> {
    async fn run<T: redis::FromRedisValue>(self, conn: &mut Connection) -> redis::RedisResult<T> {
        match self {
            Self::Cmd(cmd) => cmd.query_async(conn).await,
            Self::Pipe(pipe) => pipe.query_async(conn).await,
        }
    }
}

/// Redis as the store reaches it, for every topology. Cheap to clone.
#[derive(Clone)]
pub struct Redis {
    backend: Arc<Backend>,
    wait_replicas: u32,
    wait_strict: bool,
    timeout: Duration,
    /// `redis.coalesce_reads`: reads share round trips (see `super::coalesce`); none:
    /// each read is its own command, as before.
    coalescer: Option<Coalescer>,
}

/// Whether a script changes sessions (then `redis.wait_replicas` replicas must
/// acknowledge it) or only reads or extends them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Creates or ends sessions: followed by `WAIT`.
    Sessions,
    /// Reads, or pushes an idle deadline: no `WAIT`.
    Nothing,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis")
            .field("timeout", &self.timeout)
            .field("wait_replicas", &self.wait_replicas)
            .finish_non_exhaustive()
    }
}

impl Redis {
    /// The connections for `redis.mode`; opened lazily, so Redis may be down at start.
    pub fn new(settings: &RedisSettings) -> Result<Self, SettingsError> {
        let timeout = Duration::from_millis(settings.timeout_ms.max(1));
        Ok(Self {
            backend: Arc::new(Backend::new(settings, timeout)?),
            wait_replicas: settings.wait_replicas,
            wait_strict: settings.wait_replicas_strict,
            timeout,
            coalescer: settings.coalesce_reads.then(Coalescer::new),
        })
    }

    /// The bound on every call.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Runs `op` on a pooled connection, bounded by the timeout; for callers that keep
    /// their own keys beside the sessions (the auth-service's login throttle).
    pub async fn with_connection<T, F, Fut>(
        &self,
        what: &'static str,
        op: F,
    ) -> Result<T, StoreError>
    where
        F: FnOnce(Connection) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let call = async {
            let conn = self.backend.writer().await.map_err(|err| {
                tracing::warn!(command = what, error = %err.0, "redis connection unavailable");
                self.backend.failed(None);
                StoreError::Unavailable
            })?;
            self.settle(what, op(conn).await)
        };
        self.timed(what, call).await
    }

    /// Maps a command's result, telling the backend how it went.
    fn settle<T>(
        &self,
        what: &'static str,
        result: redis::RedisResult<T>,
    ) -> Result<T, StoreError> {
        match result {
            Ok(value) => {
                self.backend.succeeded();
                Ok(value)
            }
            Err(err) => {
                tracing::warn!(command = what, kind = ?err.kind(), "redis command failed");
                self.backend.failed(Some(&err));
                Err(StoreError::Unavailable)
            }
        }
    }

    /// Publishes `message` on `channel`, bounded by the timeout, without a log line
    /// (the heartbeat's beat: a failure shows in the listeners); true when sent.
    pub async fn publish_quietly(&self, channel: &str, message: &str) -> bool {
        let call = async {
            let mut conn = self.backend.writer().await.ok()?;
            redis::cmd("PUBLISH")
                .arg(channel)
                .arg(message)
                .query_async::<i64>(&mut conn)
                .await
                .ok()
        };
        let sent = matches!(tokio::time::timeout(self.timeout, call).await, Ok(Some(_)));
        if !sent {
            // Quiet, but not ignored: a master that stopped answering is dropped.
            self.backend.failed(None);
        }
        sent
    }

    /// A pub/sub connection that hears the invalidation channel (for the validation
    /// caches); `attempt` picks another cluster node each time.
    pub async fn pubsub(&self, attempt: usize) -> Result<redis::aio::PubSub, StoreError> {
        self.backend.pubsub(attempt).await.map_err(|err| {
            tracing::warn!(error = %err.0, "redis pub/sub connection unavailable");
            StoreError::Unavailable
        })
    }

    /// Runs a script on a pooled connection, bounded by the timeout. A script that
    /// changes sessions waits for `redis.wait_replicas` replicas, on the same
    /// connection, so a failover cannot bring back what it ended.
    pub async fn script<T: redis::FromRedisValue>(
        &self,
        what: &'static str,
        change: Change,
        invocation: &redis::ScriptInvocation<'_>,
    ) -> Result<T, StoreError> {
        let (value, confirmed) = self.script_confirmed(what, change, invocation).await?;
        self.confirmed(what, confirmed)?;
        Ok(value)
    }

    /// As [`Redis::script`], answering whether enough replicas confirmed the change
    /// instead of acting on it (see [`Redis::confirmed`]).
    pub async fn script_confirmed<T: redis::FromRedisValue>(
        &self,
        what: &'static str,
        change: Change,
        invocation: &redis::ScriptInvocation<'_>,
    ) -> Result<(T, bool), StoreError> {
        let wait = match change {
            Change::Nothing => 0,
            Change::Sessions => self.wait_replicas,
        };
        let timeout_ms = self.timeout.as_millis() as u64;
        self.with_connection(what, |mut conn| async move {
            let value = invocation.invoke_async(&mut conn).await?;
            if wait == 0 {
                return Ok((value, true));
            }
            let acked: i64 = redis::cmd("WAIT")
                .arg(wait)
                .arg(timeout_ms / 2)
                .query_async(&mut conn)
                .await?;
            Ok((value, acked >= i64::from(wait)))
        })
        .await
    }

    /// What an unconfirmed change answers: with `redis.wait_replicas_strict`,
    /// `Unavailable` (applied on the master, not confirmed: a failover could undo it;
    /// the client is told to retry, and a retried logout finds nothing to end);
    /// otherwise it is logged and counted and the answer stands.
    pub fn confirmed(&self, what: &'static str, confirmed: bool) -> Result<(), StoreError> {
        if confirmed {
            return Ok(());
        }
        crate::measure::count("redis_wait_replicas_timeouts_total", "", "");
        tracing::warn!(
            command = what,
            wanted = self.wait_replicas,
            strict = self.wait_strict,
            "fewer replicas acknowledged than redis.wait_replicas in time"
        );
        if self.wait_strict {
            return Err(StoreError::Unavailable);
        }
        Ok(())
    }

    /// Runs a read on the reader connection, bounded by the timeout; coalesced with
    /// the reads ready at the same moment when `redis.coalesce_reads` is on.
    pub async fn read<T: redis::FromRedisValue>(
        &self,
        what: &'static str,
        cmd: redis::Cmd,
    ) -> Result<T, StoreError> {
        if self.coalescing() {
            return self.read_coalesced(what, Read::Cmds(vec![cmd])).await;
        }
        self.read_query(what, Query::Cmd(&cmd)).await
    }

    /// Runs a pipeline of reads on the reader connection (one round trip), bounded by
    /// the timeout; coalesced as [`Redis::read`] is. Every command's reply is answered:
    /// coalesced, the pipeline's `ignore()` and `atomic()` are not kept.
    pub async fn read_pipe<T: redis::FromRedisValue>(
        &self,
        what: &'static str,
        pipe: redis::Pipeline,
    ) -> Result<T, StoreError> {
        if self.coalescing() {
            let cmds = pipe.cmd_iter().cloned().collect();
            return self.read_coalesced(what, Read::Cmds(cmds)).await;
        }
        self.read_query(what, Query::Pipe(&pipe)).await
    }

    /// `GET key` on the reader connection, bounded by the timeout; coalesced, it goes
    /// within its batch's one `MGET` (which answers none, where `GET` would fail, for
    /// a key holding another type: such a key is no session either way).
    pub async fn get(&self, what: &'static str, key: String) -> Result<Option<String>, StoreError> {
        if self.coalescing() {
            return self.read_coalesced(what, Read::Get(key)).await;
        }
        let mut cmd = redis::cmd("GET");
        cmd.arg(key);
        self.read_query(what, Query::Cmd(&cmd)).await
    }

    /// Whether reads go through the coalescer: on, and inside a tokio runtime (its
    /// sender is a task).
    fn coalescing(&self) -> bool {
        self.coalescer.is_some() && tokio::runtime::Handle::try_current().is_ok()
    }

    /// A read through the coalescer: queued, answered by its batch's sender, bounded
    /// and timed as a read on its own is.
    async fn read_coalesced<T: redis::FromRedisValue>(
        &self,
        what: &'static str,
        read: Read,
    ) -> Result<T, StoreError> {
        let call = async {
            let answer = self
                .coalescer
                .and_then(|coalescer| coalescer.submit(&self.backend, self.timeout, read))
                .ok_or(StoreError::Unavailable)?;
            // A sender dropped without answering: its runtime is shutting down.
            let reply = answer.await.map_err(|_| StoreError::Unavailable)??;
            let value = self.settle(what, reply)?;
            // Not the parser's message: it quotes the reply, which may be a token.
            T::from_redis_value(value).map_err(|_| {
                tracing::warn!(command = what, "unexpected redis reply");
                StoreError::Unavailable
            })
        };
        self.timed(what, call).await
    }

    async fn read_query<T: redis::FromRedisValue>(
        &self,
        what: &'static str,
        query: Query<'_>,
    ) -> Result<T, StoreError> {
        let read = async {
            let result = self
                .backend
                .read(
                    what,
                    |mut conn| async move { query.run::<T>(&mut conn).await },
                )
                .await?;
            self.settle(what, result)
        };
        self.timed(what, read).await
    }

    /// Runs `call` within `redis.timeout_ms`, recording its duration as
    /// `redis_command_duration_seconds{command = what}`; a timeout is `Unavailable`.
    async fn timed<T>(
        &self,
        what: &'static str,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let started = std::time::Instant::now();
        let outcome = tokio::time::timeout(self.timeout, call).await;
        crate::measure::observe(
            "redis_command_duration_seconds",
            "command",
            what,
            started.elapsed().as_secs_f64(),
        );
        outcome.unwrap_or_else(|_| {
            self.backend.failed(None);
            tracing::warn!(
                command = what,
                timeout_ms = self.timeout.as_millis() as u64,
                "redis call timed out"
            );
            Err(StoreError::Unavailable)
        })
    }

    /// Answers when Redis answers a PING in time, on both the pool and the reader.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let _: String = self
            .with_connection("ping", |mut conn| async move {
                redis::cmd("PING").query_async(&mut conn).await
            })
            .await?;
        let _: String = self.read("ping", redis::cmd("PING")).await?;
        Ok(())
    }
}
