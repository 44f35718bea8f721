//! The Redis session store: one key per user, value the JWT, expiry equal to its lifetime.
//!
//! Every command and script touches exactly one key, so the store can run on Redis
//! Cluster. Every call is bounded by `redis.timeout_ms`; a failure or a timeout is
//! [`StoreError::Unavailable`], never "not found".

use std::future::Future;
use std::time::Duration;

use deadpool_redis::{Manager, Pool, Runtime};
use redis::AsyncConnectionConfig;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use secrecy::ExposeSecret;

use crate::settings::{RedisSettings, SessionSettings, SettingsError};

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
    pool: Pool,
    reader: ConnectionManager,
    prefix: String,
    channel: String,
    ttl_seconds: u64,
    timeout: Duration,
    create_or_reuse: redis::Script,
    compare_and_delete: redis::Script,
    compare_and_set: redis::Script,
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
    /// Builds the pool; connections are opened lazily, so Redis may be down at start.
    pub fn new(redis: &RedisSettings, session: &SessionSettings) -> Result<Self, SettingsError> {
        session.check()?;
        let timeout = Duration::from_millis(redis.timeout_ms.max(1));
        let connection = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout));
        let manager =
            Manager::new_with_config(redis.url.expose_secret(), connection).map_err(|_| {
                SettingsError::Malformed {
                    key: "redis.url".into(),
                    expected: "a Redis URL",
                }
            })?;
        let pool = Pool::builder(manager)
            .max_size(redis.pool_size.max(1))
            .wait_timeout(Some(timeout))
            .create_timeout(Some(timeout))
            .recycle_timeout(Some(timeout))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|_| SettingsError::Startup {
                what: "the Redis pool",
            })?;
        let client = redis::Client::open(redis.url.expose_secret()).map_err(|_| {
            SettingsError::Malformed {
                key: "redis.url".into(),
                expected: "a Redis URL",
            }
        })?;
        let reader_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500))
            .set_number_of_retries(usize::MAX);
        let reader =
            ConnectionManager::new_lazy_with_config(client, reader_config).map_err(|_| {
                SettingsError::Startup {
                    what: "the Redis reader",
                }
            })?;
        Ok(Self {
            pool,
            reader,
            prefix: session.key_prefix.clone(),
            channel: format!("{}invalidate", session.key_prefix),
            ttl_seconds: session.ttl_seconds,
            timeout,
            create_or_reuse: redis::Script::new(CREATE_OR_REUSE),
            compare_and_delete: redis::Script::new(COMPARE_AND_DELETE),
            compare_and_set: redis::Script::new(COMPARE_AND_SET),
        })
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
        F: FnOnce(deadpool_redis::Connection) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let call = async {
            let conn = self.pool.get().await.map_err(|err| {
                tracing::warn!(command = what, error = %err, "redis connection unavailable");
                StoreError::Unavailable
            })?;
            op(conn).await.map_err(|err| {
                tracing::warn!(command = what, kind = ?err.kind(), "redis command failed");
                StoreError::Unavailable
            })
        };
        match tokio::time::timeout(self.timeout, call).await {
            Ok(result) => result,
            Err(_) => {
                tracing::warn!(
                    command = what,
                    timeout_ms = self.timeout.as_millis() as u64,
                    "redis call timed out"
                );
                Err(StoreError::Unavailable)
            }
        }
    }

    /// Stores `token` for the user unless a session exists, in one atomic step.
    ///
    /// Many concurrent calls for one user leave one key and all return its token.
    #[tracing::instrument(skip_all, fields(user_id = %user_id))]
    pub async fn create_or_reuse(
        &self,
        user_id: &str,
        token: &str,
    ) -> Result<StoredSession, StoreError> {
        let key = self.key(user_id);
        let (created, token): (i64, String) = self
            .with_connection("create_or_reuse", |mut conn| async move {
                self.create_or_reuse
                    .key(&key)
                    .arg(token)
                    .arg(self.ttl_seconds)
                    .arg(&self.channel)
                    .arg(user_id)
                    .invoke_async(&mut conn)
                    .await
            })
            .await?;
        Ok(StoredSession {
            token,
            reused: created == 0,
        })
    }

    /// Replaces `old` with `new` (fresh expiry) only if the key still holds `old`.
    #[tracing::instrument(skip_all, fields(user_id = %user_id))]
    pub async fn replace(&self, user_id: &str, old: &str, new: &str) -> Result<bool, StoreError> {
        let key = self.key(user_id);
        let replaced: i64 = self
            .with_connection("replace", |mut conn| async move {
                self.compare_and_set
                    .key(&key)
                    .arg(old)
                    .arg(new)
                    .arg(self.ttl_seconds)
                    .arg(&self.channel)
                    .arg(user_id)
                    .invoke_async(&mut conn)
                    .await
            })
            .await?;
        Ok(replaced == 1)
    }

    /// Runs a read on the shared multiplexed connection, bounded by the timeout.
    async fn read<T: redis::FromRedisValue>(
        &self,
        what: &'static str,
        cmd: redis::Cmd,
    ) -> Result<T, StoreError> {
        let mut conn = self.reader.clone();
        match tokio::time::timeout(self.timeout, cmd.query_async::<T>(&mut conn)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => {
                tracing::warn!(command = what, kind = ?err.kind(), "redis read failed");
                Err(StoreError::Unavailable)
            }
            Err(_) => {
                tracing::warn!(
                    command = what,
                    timeout_ms = self.timeout.as_millis() as u64,
                    "redis read timed out"
                );
                Err(StoreError::Unavailable)
            }
        }
    }

    /// The token held for the user, if any.
    #[tracing::instrument(skip_all, fields(user_id = %user_id))]
    pub async fn get(&self, user_id: &str) -> Result<Option<String>, StoreError> {
        let mut cmd = redis::cmd("GET");
        cmd.arg(self.key(user_id));
        self.read("get", cmd).await
    }

    /// Deletes the user's session only if it still holds `token`; true when deleted.
    #[tracing::instrument(skip_all, fields(user_id = %user_id))]
    pub async fn revoke(&self, user_id: &str, token: &str) -> Result<bool, StoreError> {
        let key = self.key(user_id);
        let deleted: i64 = self
            .with_connection("revoke", |mut conn| async move {
                self.compare_and_delete
                    .key(&key)
                    .arg(token)
                    .arg(&self.channel)
                    .arg(user_id)
                    .invoke_async(&mut conn)
                    .await
            })
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
}
