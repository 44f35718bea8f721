//! The Redis session store, in two layouts (`session.per_user`):
//!
//! - [`redis`]: the plumbing both layouts (and the throttle and the validation cache)
//!   share: timed calls, scripts, `WAIT`, the read retry, publish and subscribe, on
//!   every topology ([`backend`]).
//! - `coalesce`: the reads ready at the same moment, sent as one pipeline (the
//!   `single` layout's `GET`s as one `MGET`), each answered alone.
//! - `single`: one session per user, key `<prefix><userId>`, value the token.
//! - `multiple`: one session per login, keys under the hash tag `{<userId>}`, the
//!   token's digest kept, never the token.
//! - [`record`]: the key names, lifetimes, and the records the calls take and answer.
//!
//! Every script touches the keys of one user (one Redis Cluster slot) and announces
//! the change on the invalidation channel in the same atomic step. Every call is
//! bounded by `redis.timeout_ms`; a failure or a timeout is [`StoreError::Unavailable`],
//! never "not found".

mod backend;
mod coalesce;
mod events;
mod multiple;
pub mod record;
pub mod redis;
mod single;

pub use backend::Connection;
pub use multiple::token_digest;
pub use record::{Held, NewSession, Opened, SessionRecord, StoredSession};
pub use redis::{Change, Redis};

pub use crate::error::StoreError;
use crate::events::{EventsSettings, Reason};
use crate::settings::{
    PerUser, RedisMode, RedisSettings, SessionSettings, SettingsError, WhenFull,
};
use events::{Created, Emit, EventStream};
use multiple::Multiple;
use record::{Keys, Lifetime};
use single::Single;

/// Told of every session change this store makes, before the call returns: the
/// instance's own validation cache, so the instance that ended a session never serves
/// it again (other instances hear of it on the invalidation channel).
pub trait Changes: Send + Sync {
    /// A session of `user_id` was created, replaced or ended (or may have been).
    fn changed(&self, user_id: &str);
}

/// The layout in use; `multiple` carries its scripts and limits.
#[derive(Clone)]
enum Layout {
    Single,
    Multiple(Multiple),
}

/// Sessions in Redis, in the configured layout.
///
/// Writes (the Lua scripts) take a connection from a pool. Reads, the hot path of
/// validation, go over multiplexed connections that reconnect by themselves:
/// concurrent reads on one are pipelined, and no pool check (a PING per checkout)
/// doubles each request's round trips.
#[derive(Clone)]
pub struct SessionStore {
    redis: Redis,
    keys: Keys,
    lifetime: Lifetime,
    /// `single` mode's scripts: the layout's in `single` mode, and the calls that are
    /// `single` mode's alone (`create_or_reuse`, `replace`, `revoke`) in either mode.
    single: Single,
    layout: Layout,
    changes: Option<std::sync::Arc<dyn Changes>>,
    /// Where session events go (none: not appended).
    events: Option<EventStream>,
    /// A Redis Cluster: the stream is in another slot than a user's keys.
    cluster: bool,
}

impl std::fmt::Debug for SessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionStore")
            .field("prefix", &self.keys.prefix())
            .field("ttl_seconds", &self.lifetime.ttl_seconds)
            .field("timeout", &self.redis.timeout())
            .finish_non_exhaustive()
    }
}

impl SessionStore {
    /// Builds the connections for `redis.mode`; they are opened lazily, so Redis may
    /// be down at start.
    pub fn new(redis: &RedisSettings, session: &SessionSettings) -> Result<Self, SettingsError> {
        session.check()?;
        let layout = match session.per_user {
            PerUser::Single => Layout::Single,
            PerUser::Multiple => Layout::Multiple(Multiple::new(
                session.max_per_user,
                session.when_full == WhenFull::Deny,
            )),
        };
        let store = Self {
            redis: Redis::new(redis)?,
            keys: Keys::new(session),
            lifetime: Lifetime {
                ttl_seconds: session.ttl_seconds,
                idle_seconds: session.idle_timeout_seconds,
            },
            single: Single::new(),
            layout,
            changes: None,
            events: None,
            cluster: redis.mode == RedisMode::Cluster,
        };
        // Say at start (not only at the first request) when Redis cannot be reached:
        // a wrong address, password or TLS certificate shows in the log at once.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let probe = store.redis.clone();
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

    /// This store, telling `changes` of every session change it makes before the call
    /// returns (see [`Changes`]).
    pub fn telling(mut self, changes: std::sync::Arc<dyn Changes>) -> Self {
        self.changes = Some(changes);
        self
    }

    /// This store, appending session events to the stream `events.*` names (when
    /// enabled): in the scripts themselves, or right after them on a Cluster.
    pub fn emitting(mut self, settings: &EventsSettings) -> Self {
        self.events = settings.enabled.then(|| {
            EventStream::new(
                settings.stream_key(self.keys.prefix()),
                settings.max_len,
                !self.cluster,
            )
        });
        self
    }

    /// Appends an account event (`user.*`, `password.changed`; JSON from
    /// [`crate::events::account_event`]) after the change it tells of. Events off:
    /// nothing. A failure is `Unavailable` (the change stands; the caller answers 503).
    pub async fn append_event(&self, kind: &'static str, data: &str) -> Result<(), StoreError> {
        match &self.events {
            Some(stream) => events::append(&self.redis, stream, kind, data).await,
            None => Ok(()),
        }
    }

    fn emit(&self, user_id: &str, reason: Reason, created: Option<Created<'_>>) -> Emit<'_> {
        Emit::new(self.events.as_ref(), (user_id, None), reason, created)
    }

    /// A new session's `session.created`, its id read from its token in the script.
    fn created_from_token(&self) -> Created<'static> {
        let now_ms = chrono::Utc::now().timestamp_millis();
        let ttl_ms = i64::try_from(self.lifetime.ttl_seconds.saturating_mul(1000)).unwrap_or(0);
        Created {
            session_id: "",
            ends_ms: now_ms.saturating_add(ttl_ms),
            ip: None,
            user_agent: None,
        }
    }

    /// Tells [`Changes`] that a session of `user_id` changed.
    fn changed(&self, user_id: &str) {
        if let Some(changes) = &self.changes {
            changes.changed(user_id);
        }
    }

    /// The Redis plumbing, for callers that keep their own keys beside the sessions
    /// (the auth-service's login throttle) and for the validation cache.
    pub fn redis(&self) -> &Redis {
        &self.redis
    }

    /// The Redis key of a user's session (`single` mode).
    pub fn key(&self, user_id: &str) -> String {
        self.keys.user_key(user_id)
    }

    /// The Redis key of one session in `multiple` mode.
    pub fn session_key(&self, user_id: &str, session_id: &str) -> String {
        self.keys.session_key(user_id, session_id)
    }

    /// The pub/sub channel on which every session change is announced (the user's id).
    pub fn invalidation_channel(&self) -> &str {
        self.keys.channel()
    }

    /// The lifetime given to new sessions, in seconds.
    pub fn ttl_seconds(&self) -> u64 {
        self.lifetime.ttl_seconds
    }

    /// How many sessions a user holds: one (`single`) or one per login.
    pub fn per_user(&self) -> PerUser {
        match self.layout {
            Layout::Single => PerUser::Single,
            Layout::Multiple(_) => PerUser::Multiple,
        }
    }

    /// The idle timeout in seconds (0: off).
    pub fn idle_seconds(&self) -> u64 {
        self.lifetime.idle_seconds
    }

    /// When a session ending at `absolute` (epoch seconds) ends if unused from now on,
    /// in epoch seconds.
    pub fn idle_deadline(&self, absolute: i64) -> i64 {
        self.lifetime
            .ends_ms(chrono::Utc::now().timestamp_millis(), absolute)
            / 1000
    }

    /// Answers when Redis answers a PING in time, on both the pool and the reader.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.redis.ping().await
    }

    /// Publishes `message` on `channel` quietly (see [`Redis::publish_quietly`]).
    pub async fn publish_quietly(&self, channel: &str, message: &str) -> bool {
        self.redis.publish_quietly(channel, message).await
    }

    /// A pub/sub connection that hears the invalidation channel (see [`Redis::pubsub`]).
    pub async fn pubsub(&self, attempt: usize) -> Result<::redis::aio::PubSub, StoreError> {
        self.redis.pubsub(attempt).await
    }

    /// `single` mode: stores `token` for the user unless a session exists, in one
    /// atomic step. Many concurrent calls for one user leave one key and all return
    /// its token.
    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %user_id))]
    pub async fn create_or_reuse(
        &self,
        user_id: &str,
        token: &str,
    ) -> Result<StoredSession, StoreError> {
        let ttl = self.lifetime.ttl_seconds;
        let emit = self.emit(user_id, Reason::Evicted, Some(self.created_from_token()));
        let stored = self
            .single
            .create_or_reuse(&self.redis, &self.keys, user_id, token, ttl, &emit)
            .await;
        self.changed(user_id);
        stored
    }

    /// `single` mode: replaces `old` with `new` (fresh expiry) only if the key still
    /// holds `old`: the old session ends (`evicted`), the new one starts.
    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %user_id))]
    pub async fn replace(&self, user_id: &str, old: &str, new: &str) -> Result<bool, StoreError> {
        let ttl = self.lifetime.ttl_seconds;
        let emit = self.emit(user_id, Reason::Evicted, Some(self.created_from_token()));
        let replaced = self
            .single
            .replace(&self.redis, &self.keys, user_id, (old, new), ttl, &emit)
            .await;
        self.changed(user_id);
        replaced
    }

    /// `single` mode: the token held for the user, if any.
    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %user_id))]
    pub async fn get(&self, user_id: &str) -> Result<Option<String>, StoreError> {
        Single::get(&self.redis, &self.keys, user_id).await
    }

    /// `single` mode: deletes the user's session only if it still holds `token`; true
    /// when deleted.
    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %user_id))]
    pub async fn revoke(
        &self,
        user_id: &str,
        token: &str,
        reason: Reason,
    ) -> Result<bool, StoreError> {
        let emit = self.emit(user_id, reason, None);
        let revoked = self
            .single
            .revoke(&self.redis, &self.keys, user_id, token, &emit)
            .await;
        self.changed(user_id);
        revoked
    }

    /// Opens a session: in `single` mode returns the live one if any (see
    /// [`SessionStore::create_or_reuse`]); in `multiple` mode stores a new one, making
    /// room by `session.when_full`. The token's digest is kept, never the token.
    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %new.user_id))]
    pub async fn open(&self, new: &NewSession<'_>) -> Result<Opened, StoreError> {
        let now_ms = chrono::Utc::now().timestamp_millis();
        let ends_ms = self.lifetime.ends_ms(now_ms, new.absolute_expires_at);
        let (redis, keys) = (&self.redis, &self.keys);
        let created = Created {
            session_id: new.session_id,
            ends_ms,
            ip: new.origin.ip.as_deref(),
            user_agent: new.origin.user_agent.as_deref(),
        };
        let emit = self.emit(new.user_id, Reason::Evicted, Some(created));
        let times = (now_ms, ends_ms);
        let opened = match &self.layout {
            Layout::Single => self.single.open(redis, keys, new, times, &emit).await,
            Layout::Multiple(multiple) => multiple.open(redis, keys, new, times, &emit).await,
        };
        self.changed(new.user_id);
        opened
    }

    /// What Redis holds for a session: in `single` mode the user's token, in
    /// `multiple` mode the digest of session `session_id`; with when it ends if unused.
    pub async fn held(&self, user_id: &str, session_id: &str) -> Result<Option<Held>, StoreError> {
        match &self.layout {
            Layout::Single => Single::held(&self.redis, &self.keys, &self.lifetime, user_id).await,
            Layout::Multiple(_) => {
                Multiple::held(&self.redis, &self.keys, user_id, session_id).await
            }
        }
    }

    /// Ends the session that `token` is (logout, for `reason`); false when it had
    /// ended already.
    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %user_id))]
    pub async fn end(
        &self,
        user_id: &str,
        (session_id, token): (&str, &str),
        reason: Reason,
    ) -> Result<bool, StoreError> {
        let (redis, keys) = (&self.redis, &self.keys);
        let emit = Emit::new(
            self.events.as_ref(),
            (user_id, Some(session_id)),
            reason,
            None,
        );
        let ended = match &self.layout {
            Layout::Single => self.single.revoke(redis, keys, user_id, token, &emit).await,
            Layout::Multiple(multiple) => {
                let digest = token_digest(token);
                multiple
                    .end_by_id(redis, keys, user_id, session_id, &digest, &emit)
                    .await
            }
        };
        self.changed(user_id);
        ended
    }

    /// `multiple` mode: ends session `session_id` of the user while it holds `digest`
    /// (empty: whatever it holds); false when there was no such session (always, in
    /// `single` mode, which has no session ids of its own).
    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %user_id))]
    pub async fn end_by_id(
        &self,
        user_id: &str,
        (session_id, digest): (&str, &str),
        reason: Reason,
    ) -> Result<bool, StoreError> {
        let emit = self.emit(user_id, reason, None);
        let ended = match &self.layout {
            Layout::Single => Ok(false),
            Layout::Multiple(multiple) => {
                multiple
                    .end_by_id(&self.redis, &self.keys, user_id, session_id, digest, &emit)
                    .await
            }
        };
        self.changed(user_id);
        ended
    }

    /// Ends every session of the user except `keep` (a session id), for `reason`;
    /// returns how many ended. In `single` mode a `keep` leaves the one session alone.
    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %user_id))]
    pub async fn end_all(
        &self,
        user_id: &str,
        keep: Option<&str>,
        reason: Reason,
    ) -> Result<u64, StoreError> {
        let (redis, keys) = (&self.redis, &self.keys);
        let emit = self.emit(user_id, reason, None);
        let ended = match &self.layout {
            Layout::Single => self.single.end_all(redis, keys, user_id, keep, &emit).await,
            Layout::Multiple(multiple) => multiple.end_all(redis, keys, user_id, keep, &emit).await,
        };
        self.changed(user_id);
        ended
    }

    /// `multiple` mode: the user's live sessions, newest first (none in `single`
    /// mode, which keeps no index: its one session is read with [`SessionStore::get`]).
    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %user_id))]
    pub async fn list(&self, user_id: &str) -> Result<Vec<SessionRecord>, StoreError> {
        match &self.layout {
            Layout::Single => Ok(Vec::new()),
            Layout::Multiple(multiple) => {
                let emit = self.emit(user_id, Reason::Expired, None);
                multiple.list(&self.redis, &self.keys, user_id, &emit).await
            }
        }
    }

    /// Rotates a session: the token `old` of session `session_id` becomes `new`, with
    /// the same expiry (a password change keeps its caller signed in this way); false
    /// when the session no longer holds `old`.
    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %user_id))]
    pub async fn rotate(
        &self,
        user_id: &str,
        session_id: &str,
        old: &str,
        new: &str,
    ) -> Result<bool, StoreError> {
        let (redis, keys) = (&self.redis, &self.keys);
        let rotated = match &self.layout {
            Layout::Single => self.single.rotate(redis, keys, user_id, (old, new)).await,
            Layout::Multiple(multiple) => {
                multiple
                    .rotate(redis, keys, (user_id, session_id), (old, new))
                    .await
            }
        };
        self.changed(user_id);
        rotated
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
        let idle = self.lifetime.idle_seconds;
        if idle == 0 {
            return Ok(Some(absolute));
        }
        let now_ms = chrono::Utc::now().timestamp_millis();
        let (redis, keys) = (&self.redis, &self.keys);
        match &self.layout {
            Layout::Single => {
                let ends_ms = self.lifetime.ends_ms(now_ms, absolute);
                self.single
                    .touch(redis, keys, user_id, token, (now_ms, ends_ms))
                    .await
            }
            Layout::Multiple(multiple) => {
                multiple
                    .touch(redis, keys, (user_id, session_id), token, (now_ms, idle))
                    .await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ex_seconds_rounds_up_and_is_at_least_one() {
        assert_eq!(super::record::ex_seconds(0, 1), 1);
        assert_eq!(super::record::ex_seconds(0, 1000), 1);
        assert_eq!(super::record::ex_seconds(0, 1001), 2);
        assert_eq!(super::record::ex_seconds(5000, 1000), 1);
    }
}
