//! The Redis session store: one key per user, value the JWT, expiry equal to its lifetime.
//!
//! Every command and script touches exactly one key, so the store can run on Redis
//! Cluster. Every call is bounded by `redis.timeout_ms`; a failure or a timeout is
//! [`StoreError::Unavailable`], never "not found".

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::settings::{PerUser, RedisSettings, SessionSettings, SettingsError, WhenFull};
use crate::token::Origin;

mod backend;
mod per_device;

use backend::Backend;
pub use backend::Connection;

pub use per_device::token_digest;

// Every script that changes a session announces the user's id on the invalidation
// channel in the same atomic step, for the validation caches of other instances.

/// Sets the key to the new token unless a session exists; returns `{created, token}`.
/// ARGV: token, ttl, channel, user id.
const CREATE_OR_REUSE: &str = r"
local current = redis.call('GET', KEYS[1])
if current then
  return {0, current}
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return {1, ARGV[1]}
";

/// Deletes the key only while it still holds the presented token.
/// ARGV: token, channel, user id.
const COMPARE_AND_DELETE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], ARGV[3])
  return 1
end
return 0
";

/// Replaces the token only while the key still holds the old one.
/// ARGV: old token, new token, ttl, channel, user id.
const COMPARE_AND_SET: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
  redis.call('PUBLISH', ARGV[4], ARGV[5])
  return 1
end
return 0
";

pub use crate::error::StoreError;

/// Ends the user's single session whatever token it holds. ARGV: channel, user id.
const END_SINGLE: &str = r"
local n = redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[1], ARGV[2])
return n
";

/// Pushes a single session's expiry to min(now + idle, exp) while the key holds the
/// token. ARGV: token, seconds. Returns 1 when pushed.
const TOUCH_SINGLE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
";

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

/// Whether a command failed because its connection is gone (not because of what it
/// asked), so a read may be tried once more on a fresh connection.
fn lost_connection(err: &redis::RedisError) -> bool {
    err.is_connection_dropped() || err.is_connection_refusal() || err.is_io_error()
}

/// The result of [`SessionStore::create_or_reuse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSession {
    /// The token now held in Redis for the user.
    pub token: String,
    /// True when an existing session was returned and nothing was written.
    pub reused: bool,
}

/// Sessions in Redis, keyed `<prefix><userId>`.
///
/// Writes (the Lua scripts) take a connection from a deadpool pool. Reads, the hot path
/// of validation, share one multiplexed connection that reconnects by itself: concurrent
/// GETs on it are pipelined, and no pool check (a PING per checkout) doubles each
/// request's round trips.
#[derive(Clone)]
pub struct SessionStore {
    backend: Arc<Backend>,
    wait_replicas: u32,
    prefix: String,
    channel: String,
    ttl_seconds: u64,
    idle_seconds: u64,
    per_user: PerUser,
    max_per_user: u32,
    deny_when_full: bool,
    timeout: Duration,
    scripts: Arc<Scripts>,
}

/// The store's Lua scripts, hashed once and shared by every clone of the store.
struct Scripts {
    create_or_reuse: redis::Script,
    compare_and_delete: redis::Script,
    compare_and_set: redis::Script,
    end_single: redis::Script,
    touch_single: redis::Script,
    open: redis::Script,
    end_one: redis::Script,
    end_all: redis::Script,
    list: redis::Script,
    touch: redis::Script,
}

impl std::fmt::Debug for SessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionStore")
            .field("prefix", &self.prefix)
            .field("ttl_seconds", &self.ttl_seconds)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl SessionStore {
    /// Builds the connections for `redis.mode`; they are opened lazily, so Redis may
    /// be down at start.
    pub fn new(redis: &RedisSettings, session: &SessionSettings) -> Result<Self, SettingsError> {
        session.check()?;
        let timeout = Duration::from_millis(redis.timeout_ms.max(1));
        let backend = Backend::new(redis, timeout)?;
        let store = Self {
            backend: Arc::new(backend),
            wait_replicas: redis.wait_replicas,
            prefix: session.key_prefix.clone(),
            channel: format!("{}invalidate", session.key_prefix),
            ttl_seconds: session.ttl_seconds,
            idle_seconds: session.idle_timeout_seconds,
            per_user: session.per_user,
            max_per_user: session.max_per_user,
            deny_when_full: session.when_full == WhenFull::Deny,
            timeout,
            scripts: Arc::new(Scripts {
                create_or_reuse: redis::Script::new(CREATE_OR_REUSE),
                compare_and_delete: redis::Script::new(COMPARE_AND_DELETE),
                compare_and_set: redis::Script::new(COMPARE_AND_SET),
                end_single: redis::Script::new(END_SINGLE),
                touch_single: redis::Script::new(TOUCH_SINGLE),
                open: redis::Script::new(per_device::OPEN),
                end_one: redis::Script::new(per_device::END_ONE),
                end_all: redis::Script::new(per_device::END_ALL),
                list: redis::Script::new(per_device::LIST),
                touch: redis::Script::new(per_device::TOUCH),
            }),
        };
        // Say at start (not only at the first request) when Redis cannot be reached:
        // a wrong address, password or TLS certificate shows in the log at once.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let probe = store.clone();
            runtime.spawn(async move {
                if probe.ping().await.is_err() {
                    tracing::error!(
                        "Redis not reachable at start (see the line above); requests that need it answer 503 until it is"
                    );
                }
            });
        }
        Ok(store)
    }

    /// The Redis key of a user's session.
    pub fn key(&self, user_id: &str) -> String {
        format!("{}{}", self.prefix, user_id)
    }

    /// The pub/sub channel on which every session change is announced (the user's id).
    pub fn invalidation_channel(&self) -> &str {
        &self.channel
    }

    /// The lifetime given to new sessions, in seconds.
    pub fn ttl_seconds(&self) -> u64 {
        self.ttl_seconds
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

    /// Runs one of the store's scripts on a pooled connection, bounded by the timeout.
    async fn run_script<T: redis::FromRedisValue>(
        &self,
        what: &'static str,
        invocation: &redis::ScriptInvocation<'_>,
    ) -> Result<T, StoreError> {
        // Scripts that create or end sessions wait for `redis.wait_replicas` replicas,
        // on the same connection, so a failover cannot bring back what they ended.
        let wait = match what {
            "list" | "touch" => 0,
            _ => self.wait_replicas,
        };
        let timeout_ms = self.timeout.as_millis() as u64;
        self.with_connection(what, |mut conn| async move {
            let value = invocation.invoke_async(&mut conn).await?;
            if wait > 0 {
                let acked: i64 = redis::cmd("WAIT")
                    .arg(wait)
                    .arg(timeout_ms / 2)
                    .query_async(&mut conn)
                    .await?;
                if acked < i64::from(wait) {
                    crate::measure::count("redis_wait_replicas_timeouts_total", "", "");
                    tracing::warn!(
                        command = what,
                        wanted = wait,
                        acked,
                        "fewer replicas acknowledged than redis.wait_replicas in time"
                    );
                }
            }
            Ok(value)
        })
        .await
    }

    /// Stores `token` for the user unless a session exists, in one atomic step.
    ///
    /// Many concurrent calls for one user leave one key and all return its token.
    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %user_id))]
    pub async fn create_or_reuse(
        &self,
        user_id: &str,
        token: &str,
    ) -> Result<StoredSession, StoreError> {
        self.create_or_reuse_for(user_id, token, self.ttl_seconds)
            .await
    }

    /// [`SessionStore::create_or_reuse`] with a key expiry of `seconds`.
    async fn create_or_reuse_for(
        &self,
        user_id: &str,
        token: &str,
        seconds: u64,
    ) -> Result<StoredSession, StoreError> {
        let key = self.key(user_id);
        let (created, token): (i64, String) = self
            .run_script(
                "create_or_reuse",
                self.scripts
                    .create_or_reuse
                    .key(&key)
                    .arg(token)
                    .arg(seconds)
                    .arg(&self.channel)
                    .arg(user_id),
            )
            .await?;
        Ok(StoredSession {
            token,
            reused: created == 0,
        })
    }

    /// Replaces `old` with `new` (fresh expiry) only if the key still holds `old`.
    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %user_id))]
    pub async fn replace(&self, user_id: &str, old: &str, new: &str) -> Result<bool, StoreError> {
        let key = self.key(user_id);
        let replaced: i64 = self
            .run_script(
                "replace",
                self.scripts
                    .compare_and_set
                    .key(&key)
                    .arg(old)
                    .arg(new)
                    .arg(self.ttl_seconds)
                    .arg(&self.channel)
                    .arg(user_id),
            )
            .await?;
        Ok(replaced == 1)
    }

    /// Runs a read on the reader connection, bounded by the timeout.
    async fn read<T: redis::FromRedisValue>(
        &self,
        what: &'static str,
        cmd: redis::Cmd,
    ) -> Result<T, StoreError> {
        self.read_query(what, Query::Cmd(&cmd)).await
    }

    /// Runs a pipeline of reads on the reader connection (one round trip), bounded by
    /// the timeout.
    async fn read_pipe<T: redis::FromRedisValue>(
        &self,
        what: &'static str,
        pipe: redis::Pipeline,
    ) -> Result<T, StoreError> {
        self.read_query(what, Query::Pipe(&pipe)).await
    }

    async fn read_query<T: redis::FromRedisValue>(
        &self,
        what: &'static str,
        query: Query<'_>,
    ) -> Result<T, StoreError> {
        let read = async {
            let mut conn = self.reader_connection(what).await?;
            let mut result = query.run::<T>(&mut conn).await;
            if result.as_ref().is_err_and(lost_connection) {
                // A read is safe to repeat: the connection died under it (Redis
                // restarted since the last call); the next one is a new connection.
                // Boxed: the second try is rare, and every read's future would
                // otherwise carry room for it.
                result = Box::pin(self.read_again(what, query)).await?;
            }
            self.settle(what, result)
        };
        self.timed(what, read).await
    }

    async fn read_again<T: redis::FromRedisValue>(
        &self,
        what: &'static str,
        query: Query<'_>,
    ) -> Result<redis::RedisResult<T>, StoreError> {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let mut conn = self.reader_connection(what).await?;
        Ok(query.run::<T>(&mut conn).await)
    }

    async fn reader_connection(&self, what: &'static str) -> Result<Connection, StoreError> {
        self.backend.reader().await.map_err(|err| {
            tracing::warn!(command = what, error = %err.0, "redis connection unavailable");
            self.backend.failed(None);
            StoreError::Unavailable
        })
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

    /// The token held for the user, if any.
    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %user_id))]
    pub async fn get(&self, user_id: &str) -> Result<Option<String>, StoreError> {
        let mut cmd = redis::cmd("GET");
        cmd.arg(self.key(user_id));
        self.read("get", cmd).await
    }

    /// Deletes the user's session only if it still holds `token`; true when deleted.
    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %user_id))]
    pub async fn revoke(&self, user_id: &str, token: &str) -> Result<bool, StoreError> {
        let key = self.key(user_id);
        let deleted: i64 = self
            .run_script(
                "revoke",
                self.scripts
                    .compare_and_delete
                    .key(&key)
                    .arg(token)
                    .arg(&self.channel)
                    .arg(user_id),
            )
            .await?;
        Ok(deleted == 1)
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
    /// How many sessions a user holds: one (`single`) or one per login.
    pub fn per_user(&self) -> PerUser {
        self.per_user
    }

    /// The idle timeout in seconds (0: off).
    pub fn idle_seconds(&self) -> u64 {
        self.idle_seconds
    }

    /// When a session ending at `absolute` (epoch seconds) ends if unused from now on,
    /// in epoch seconds.
    pub fn idle_deadline(&self, absolute: i64) -> i64 {
        self.ends_ms(chrono::Utc::now().timestamp_millis(), absolute) / 1000
    }

    /// When a session ending at `absolute` (epoch seconds) ends if unused from `now_ms`,
    /// in epoch milliseconds: the idle deadline, never past `absolute`.
    fn ends_ms(&self, now_ms: i64, absolute: i64) -> i64 {
        let absolute_ms = absolute.saturating_mul(1000);
        if self.idle_seconds == 0 {
            return absolute_ms;
        }
        let idle_ms = i64::try_from(self.idle_seconds.saturating_mul(1000)).unwrap_or(i64::MAX);
        now_ms.saturating_add(idle_ms).min(absolute_ms)
    }

    fn user_base(&self, user_id: &str) -> String {
        format!("{}{{{}}}:", self.prefix, user_id)
    }

    fn index_key(&self, user_id: &str) -> String {
        format!("{}index", self.user_base(user_id))
    }

    /// The Redis key of one session in `multiple` mode.
    pub fn session_key(&self, user_id: &str, session_id: &str) -> String {
        format!("{}{}", self.user_base(user_id), session_id)
    }

    /// Opens a session: in `single` mode returns the live one if any (see
    /// [`SessionStore::create_or_reuse`]); in `multiple` mode stores a new one, making
    /// room by `session.when_full`. The token's digest is kept, never the token.
    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %new.user_id))]
    pub async fn open(&self, new: &NewSession<'_>) -> Result<Opened, StoreError> {
        let now_ms = chrono::Utc::now().timestamp_millis();
        let ends_ms = self.ends_ms(now_ms, new.absolute_expires_at);
        if self.per_user == PerUser::Single {
            let stored = self
                .create_or_reuse_for(new.user_id, new.token, ex_seconds(now_ms, ends_ms))
                .await?;
            return Ok(if stored.reused {
                Opened::Reused {
                    token: stored.token,
                }
            } else {
                Opened::Created { evicted: 0 }
            });
        }
        let index = self.index_key(new.user_id);
        let base = self.user_base(new.user_id);
        let digest = token_digest(new.token);
        let (created, evicted): (i64, u64) = self
            .run_script(
                "open",
                self.scripts
                    .open
                    .key(&index)
                    .arg(&base)
                    .arg(new.session_id)
                    .arg(&digest)
                    .arg(now_ms)
                    .arg(new.created_at)
                    .arg(new.absolute_expires_at)
                    .arg(ends_ms / 1000)
                    .arg(new.origin.ip.as_deref().unwrap_or(""))
                    .arg(new.origin.user_agent.as_deref().unwrap_or(""))
                    .arg(self.max_per_user)
                    .arg(if self.deny_when_full { "1" } else { "0" })
                    .arg(&self.channel)
                    .arg(new.user_id)
                    .arg(now_ms / 1000)
                    .arg(ends_ms),
            )
            .await?;
        Ok(if created == 1 {
            Opened::Created { evicted }
        } else {
            Opened::Full
        })
    }

    /// What Redis holds for a session: in `single` mode the user's token, in
    /// `multiple` mode the digest of session `session_id`; with when it ends if unused.
    pub async fn held(&self, user_id: &str, session_id: &str) -> Result<Option<Held>, StoreError> {
        match self.per_user {
            PerUser::Single if self.idle_seconds == 0 => {
                Ok(self.get(user_id).await?.map(|secret| Held {
                    secret,
                    ends_at: None,
                }))
            }
            PerUser::Single => {
                let mut pipe = redis::pipe();
                pipe.cmd("GET").arg(self.key(user_id));
                pipe.cmd("PTTL").arg(self.key(user_id));
                let (secret, pttl): (Option<String>, i64) = self.read_pipe("get", pipe).await?;
                let ends_at =
                    (pttl > 0).then(|| (chrono::Utc::now().timestamp_millis() + pttl) / 1000);
                Ok(secret.map(|secret| Held { secret, ends_at }))
            }
            PerUser::Multiple => {
                let mut cmd = redis::cmd("HMGET");
                cmd.arg(self.session_key(user_id, session_id))
                    .arg("d")
                    .arg("e");
                let (digest, ends): (Option<String>, Option<i64>) = self.read("hmget", cmd).await?;
                Ok(digest.map(|secret| Held {
                    secret,
                    ends_at: ends,
                }))
            }
        }
    }

    /// Ends the session that `token` is (logout); false when it had ended already.
    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %user_id))]
    pub async fn end(
        &self,
        user_id: &str,
        session_id: &str,
        token: &str,
    ) -> Result<bool, StoreError> {
        match self.per_user {
            PerUser::Single => self.revoke(user_id, token).await,
            PerUser::Multiple => {
                self.end_by_id(user_id, session_id, &token_digest(token))
                    .await
            }
        }
    }

    /// `multiple` mode: ends session `session_id` of the user while it holds `digest`
    /// (empty: whatever it holds); false when there was no such session.
    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %user_id))]
    pub async fn end_by_id(
        &self,
        user_id: &str,
        session_id: &str,
        digest: &str,
    ) -> Result<bool, StoreError> {
        let index = self.index_key(user_id);
        let base = self.user_base(user_id);
        let ended: i64 = self
            .run_script(
                "end_one",
                self.scripts
                    .end_one
                    .key(&index)
                    .arg(&base)
                    .arg(session_id)
                    .arg(digest)
                    .arg(&self.channel)
                    .arg(user_id),
            )
            .await?;
        Ok(ended == 1)
    }

    /// Ends every session of the user except `keep` (a session id); returns how many
    /// ended. In `single` mode a `keep` leaves the one session alone.
    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %user_id))]
    pub async fn end_all(&self, user_id: &str, keep: Option<&str>) -> Result<u64, StoreError> {
        if self.per_user == PerUser::Single {
            if keep.is_some() {
                return Ok(0);
            }
            let key = self.key(user_id);
            return self
                .run_script(
                    "end_all",
                    self.scripts
                        .end_single
                        .key(&key)
                        .arg(&self.channel)
                        .arg(user_id),
                )
                .await;
        }
        let index = self.index_key(user_id);
        let base = self.user_base(user_id);
        self.run_script(
            "end_all",
            self.scripts
                .end_all
                .key(&index)
                .arg(&base)
                .arg(keep.unwrap_or(""))
                .arg(&self.channel)
                .arg(user_id),
        )
        .await
    }

    /// `multiple` mode: the user's live sessions, newest first.
    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %user_id))]
    pub async fn list(&self, user_id: &str) -> Result<Vec<SessionRecord>, StoreError> {
        let index = self.index_key(user_id);
        let base = self.user_base(user_id);
        let rows: Vec<(String, i64, i64, i64, String, String)> = self
            .run_script("list", self.scripts.list.key(&index).arg(&base))
            .await?;
        let mut records: Vec<SessionRecord> = rows
            .into_iter()
            .map(
                |(session_id, created_at, absolute_expires_at, expires_at, ip, ua)| SessionRecord {
                    session_id,
                    created_at,
                    expires_at,
                    absolute_expires_at,
                    origin: Origin {
                        ip: (!ip.is_empty()).then_some(ip),
                        user_agent: (!ua.is_empty()).then_some(ua),
                    },
                },
            )
            .collect();
        records.reverse();
        Ok(records)
    }

    /// Pushes the session's idle deadline forward (never past its `exp`); the new end,
    /// or `None` when the session is gone. With no idle timeout nothing is written.
    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %user_id))]
    pub async fn touch(
        &self,
        user_id: &str,
        session_id: &str,
        token: &str,
        absolute: i64,
    ) -> Result<Option<i64>, StoreError> {
        if self.idle_seconds == 0 {
            return Ok(Some(absolute));
        }
        let now_ms = chrono::Utc::now().timestamp_millis();
        match self.per_user {
            PerUser::Single => {
                let ends_ms = self.ends_ms(now_ms, absolute);
                let key = self.key(user_id);
                let seconds = ex_seconds(now_ms, ends_ms);
                let pushed: i64 = self
                    .run_script(
                        "touch",
                        self.scripts.touch_single.key(&key).arg(token).arg(seconds),
                    )
                    .await?;
                Ok((pushed == 1).then_some(ends_ms / 1000))
            }
            PerUser::Multiple => {
                let key = self.session_key(user_id, session_id);
                let digest = token_digest(token);
                let ends: i64 = self
                    .run_script(
                        "touch",
                        self.scripts
                            .touch
                            .key(&key)
                            .arg(&digest)
                            .arg(now_ms)
                            .arg(self.idle_seconds.saturating_mul(1000)),
                    )
                    .await?;
                Ok((ends > 0).then_some(ends))
            }
        }
    }
}

/// The key expiry (`EX`) for a session ending at `ends_ms`: whole seconds from `now_ms`,
/// rounded up so the key never ends early, at least 1.
fn ex_seconds(now_ms: i64, ends_ms: i64) -> u64 {
    u64::try_from((ends_ms - now_ms + 999) / 1000)
        .unwrap_or(0)
        .max(1)
}

/// A session to store, as [`SessionStore::open`] takes it.
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    /// The user's id.
    pub user_id: &'a str,
    /// The session's id (claim `sid`).
    pub session_id: &'a str,
    /// The token (kept as is in `single` mode, as its digest in `multiple` mode).
    pub token: &'a str,
    /// Issued at, epoch seconds.
    pub created_at: i64,
    /// The token's `exp`, epoch seconds.
    pub absolute_expires_at: i64,
    /// Where it was opened from (`multiple` mode keeps it here).
    pub origin: &'a Origin,
}

/// What [`SessionStore::open`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    /// Stored; `evicted` older sessions ended to make room.
    Created {
        /// How many sessions were evicted.
        evicted: u64,
    },
    /// `single` mode: a live session existed and is returned.
    Reused {
        /// Its token.
        token: String,
    },
    /// `multiple` mode with `when_full = deny`: the user holds the maximum.
    Full,
}

/// What Redis holds for a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// The token (`single`) or its SHA-256 digest (`multiple`).
    pub secret: String,
    /// When it ends if unused (epoch seconds), where the store knows it.
    pub ends_at: Option<i64>,
}

/// One live session as `GET /sessions` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// The session's id.
    pub session_id: String,
    /// Created, epoch seconds.
    pub created_at: i64,
    /// When it ends if unused, epoch seconds.
    pub expires_at: i64,
    /// The token's `exp`, epoch seconds.
    pub absolute_expires_at: i64,
    /// Where it was opened from.
    pub origin: Origin,
}
