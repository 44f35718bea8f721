//! The validation cache: recently validated sessions kept in process, so a request
//! needs no Redis round trip, and invalidated through Redis pub/sub so that logout,
//! re-login and replacement still take effect everywhere.
//!
//! The store publishes a user's id on `<key_prefix>invalidate` inside the same Lua
//! script that changes the session, so no change goes unannounced. A listener task
//! keeps a subscription; the cache serves only while that subscription is known to be
//! alive (a heartbeat every `heartbeat` is published on the channel and must come back
//! through the subscription), and is emptied the moment it is lost.
//!
//! Changes that bypass the scripts (an operator's `DEL`, a `FLUSHALL`, eviction under
//! `maxmemory`) announce nothing, so an entry is also served for at most `max_age`
//! (`validation.cache_max_age_ms`, default 5 s) after Redis confirmed it; then it is
//! checked in Redis again. That is the bound on how long such a change goes unseen.
//!
//! # Storage
//! Two [`quick_cache`] caches (sharded, no global lock, S3-FIFO eviction that keeps
//! what is used again and lets one-off entries go), both bounded by
//! `validation.cache_max_entries`:
//! - by token: the session's claims, when it ends, until when it may be served, and
//!   the *version* of its user it was cached under;
//! - by user id: the user's current version, a number drawn from one process-wide
//!   counter, so a version is never handed out twice.
//!
//! An invalidation gives the user a new version; an entry is served only while its
//! user still holds the version it was cached under. A user whose version was evicted
//! gets a new one when next seen, so eviction of either cache can only cause a miss,
//! never a stale hit. An insert carries the version read *before* Redis was asked,
//! so a session whose invalidation raced the Redis read is never served.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use metrics::Counter;
use quick_cache::sync::Cache;

use crate::session::now_secs;
use crate::settings::{SettingsError, ValidationSettings};
use crate::store::SessionStore;
use crate::token::Claims;

/// A cached session: its claims and when it ends if unused (at most `exp`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cached {
    /// The token's claims.
    pub claims: Claims,
    /// When the session ends if unused, epoch seconds; never served at or after it.
    pub ends_at: i64,
    /// Served until then only; afterwards Redis is asked again.
    pub fresh_until: Instant,
    /// The user's version when it was cached.
    version: u64,
}

/// What to read before asking Redis and to hand to [`ValidationCache::insert`] after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    version: u64,
}

/// The default bound on an entry's age (`validation.cache_max_age_ms`).
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(5);

/// `validation_cache_events_total{event}`: hit, miss, invalidated, flushed.
#[derive(Debug, Clone)]
struct Events {
    hit: Counter,
    miss: Counter,
    invalidated: Counter,
    flushed: Counter,
}

impl Events {
    fn new() -> Self {
        let event = |name: &'static str| metrics::counter!("validation_cache_events_total", "event" => name);
        Self {
            hit: event("hit"),
            miss: event("miss"),
            invalidated: event("invalidated"),
            flushed: event("flushed"),
        }
    }
}

/// A validation cache as a service's settings describe it (`validation.cache`,
/// `cache_max_entries`, `cache_max_age_ms`, `cache_heartbeat_ms`), whichever section
/// type holds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheSettings {
    /// Keep recently validated sessions at all.
    pub enabled: bool,
    /// Most sessions held.
    pub max_entries: usize,
    /// Longest an entry is served without asking Redis again, in milliseconds.
    pub max_age_ms: u64,
    /// How often the invalidation channel is checked, in milliseconds (at least 10).
    pub heartbeat_ms: u64,
}

impl CacheSettings {
    /// Refuses an entry age outside 1 ms to 10 minutes.
    pub fn check(&self) -> Result<(), SettingsError> {
        if !(1..=600_000).contains(&self.max_age_ms) {
            return Err(SettingsError::OutOfRange {
                key: "validation.cache_max_age_ms",
                allowed: "between 1 and 600000",
            });
        }
        Ok(())
    }
}

impl From<&ValidationSettings> for CacheSettings {
    fn from(v: &ValidationSettings) -> Self {
        Self {
            enabled: v.cache,
            max_entries: v.cache_max_entries,
            max_age_ms: v.cache_max_age_ms,
            heartbeat_ms: v.cache_heartbeat_ms,
        }
    }
}

/// A cache set up from its settings whose listener has not started.
#[derive(Debug)]
pub struct ConfiguredCache {
    cache: Arc<ValidationCache>,
    heartbeat: Duration,
}

impl ConfiguredCache {
    /// The cache, to hand to a validator or a store before it runs.
    pub fn cache(&self) -> &Arc<ValidationCache> {
        &self.cache
    }

    /// Starts the listener on `store`'s invalidation channel (see [`spawn_listener`]);
    /// the cache serves once it has subscribed.
    pub fn start(self, store: &SessionStore) -> Arc<ValidationCache> {
        spawn_listener(
            self.cache.clone(),
            store.clone(),
            store.invalidation_channel().to_owned(),
            self.heartbeat,
        );
        self.cache
    }
}

/// Sessions validated recently. A hit needs neither Redis nor the signature check:
/// the exact token string was verified and confirmed by Redis when it was cached, and
/// its expiry is still checked on every hit.
pub struct ValidationCache {
    tokens: Cache<String, Arc<Cached>>,
    users: Cache<String, u64>,
    next_version: AtomicU64,
    live: AtomicBool,
    max_age: Duration,
    events: Events,
}

impl std::fmt::Debug for ValidationCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValidationCache")
            .field("entries", &self.tokens.len())
            .field("live", &self.is_live())
            .finish_non_exhaustive()
    }
}

impl ValidationCache {
    /// An empty cache holding at most `max_entries` sessions; it serves nothing until
    /// its listener has subscribed. Its counters go to the metrics recorder installed
    /// at the time of the call.
    pub fn new(max_entries: usize) -> Self {
        let max_entries = max_entries.max(1);
        Self {
            tokens: Cache::new(max_entries),
            users: Cache::new(max_entries),
            next_version: AtomicU64::new(1),
            live: AtomicBool::new(false),
            max_age: DEFAULT_MAX_AGE,
            events: Events::new(),
        }
    }

    /// The one way a service sets a cache up, from its `validation.cache*` settings:
    /// `None` when the cache is off; otherwise an empty cache whose listener is not
    /// running yet (nothing spawned, nothing contacted) until
    /// [`ConfiguredCache::start`].
    pub fn configured(settings: &CacheSettings) -> Option<ConfiguredCache> {
        settings.enabled.then(|| ConfiguredCache {
            cache: Arc::new(
                Self::new(settings.max_entries)
                    .with_max_age(Duration::from_millis(settings.max_age_ms.max(1))),
            ),
            heartbeat: Duration::from_millis(settings.heartbeat_ms).max(Duration::from_millis(10)),
        })
    }

    /// Serves an entry for at most `max_age` after Redis confirmed it.
    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// True while the invalidation channel is subscribed and healthy.
    pub fn is_live(&self) -> bool {
        self.live.load(Ordering::Acquire)
    }

    /// Sessions held now (approximately, while others insert).
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// True when no session is held.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    fn new_version(&self) -> u64 {
        self.next_version.fetch_add(1, Ordering::AcqRel)
    }

    /// The cached session of `token` if it has not ended, is fresh and its user has
    /// not been invalidated since.
    pub fn get(&self, token: &str) -> Option<Arc<Cached>> {
        if !self.is_live() {
            return None;
        }
        let served = self.tokens.get(token).filter(|cached| {
            let now = now_secs();
            cached.claims.exp > now
                && cached.ends_at > now
                && Instant::now() < cached.fresh_until
                && self.users.get(cached.claims.sub.as_str()) == Some(cached.version)
        });
        if served.is_some() {
            self.events.hit.increment(1);
        } else {
            self.events.miss.increment(1);
        }
        served
    }

    /// Read before asking Redis about a session of `user_id`; pass to
    /// [`ValidationCache::insert`] after.
    pub fn ticket(&self, user_id: &str) -> Ticket {
        let version = match self.users.get(user_id) {
            Some(version) => version,
            None => {
                let version = self.new_version();
                self.users.insert(user_id.to_owned(), version);
                version
            }
        };
        Ticket { version }
    }

    /// Remembers a session Redis confirmed, under the user's version of `ticket`. If
    /// the user was invalidated since the ticket was taken, the entry is never served
    /// (and is not even stored when that is already visible).
    pub fn insert(&self, ticket: Ticket, token: &str, claims: &Claims, ends_at: i64) {
        if !self.is_live() || self.users.get(claims.sub.as_str()) != Some(ticket.version) {
            return;
        }
        let cached = Cached {
            claims: claims.clone(),
            ends_at: ends_at.min(claims.exp),
            fresh_until: Instant::now() + self.max_age,
            version: ticket.version,
        };
        self.tokens.insert(token.to_owned(), Arc::new(cached));
    }

    /// Forgets every session of one user.
    pub fn invalidate(&self, user_id: &str) {
        self.users.insert(user_id.to_owned(), self.new_version());
        self.events.invalidated.increment(1);
    }

    /// Stops serving and forgets everything (the channel is lost, or Redis failed).
    pub fn drop_all(&self) {
        self.live.store(false, Ordering::Release);
        self.forget_all();
    }

    /// Forgets everything but keeps serving what is validated next (an unreadable
    /// invalidation, or a Redis call that failed while the channel looks fine).
    pub fn forget_all(&self) {
        // Clearing the users first makes every entry's version unknown at once; the
        // tokens go after.
        self.users.clear();
        self.tokens.clear();
        self.events.flushed.increment(1);
    }

    fn go_live(&self) {
        self.forget_all();
        self.live.store(true, Ordering::Release);
    }
}

/// What the auth-service publishes on the invalidation channel, several times a
/// second, so that listeners know the channel carries messages end to end (a user id
/// is a hex ObjectId, never this).
pub const BEAT: &str = "!beat";

/// How often the auth-service publishes [`BEAT`].
pub const BEAT_INTERVAL: Duration = Duration::from_millis(200);

/// Keeps `cache` tied to the invalidation channel: subscribes (through `store`'s
/// topology: the server, a cluster node, or the master Sentinel names), serves only
/// while messages arrive. The cache goes live on the first message heard and stops
/// serving (everything forgotten) when the connection fails, a PING fails, or nothing
/// (not even a [`BEAT`]) was heard for `heartbeat`: a subscription that still
/// answers PING but no longer receives (a node cut off from the cluster bus, a
/// replica link down) must not leave revoked sessions served.
pub fn spawn_listener(
    cache: Arc<ValidationCache>,
    store: SessionStore,
    channel: String,
    heartbeat: Duration,
) -> tokio::task::JoinHandle<()> {
    // A beat is published every BEAT_INTERVAL; allow a few to go missing.
    let silence = heartbeat.max(BEAT_INTERVAL * 3);
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(100);
        let mut attempt = 0usize;
        loop {
            match listen(&cache, &store, attempt, &channel, heartbeat, silence).await {
                Ok(()) => backoff = Duration::from_millis(100),
                Err(reason) => {
                    tracing::warn!(reason, "validation cache off: invalidation channel lost");
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                }
            }
            cache.drop_all();
            attempt = attempt.wrapping_add(1);
            tokio::time::sleep(backoff).await;
        }
    })
}

async fn listen(
    cache: &ValidationCache,
    store: &SessionStore,
    attempt: usize,
    channel: &str,
    heartbeat: Duration,
    silence: Duration,
) -> Result<(), &'static str> {
    let pubsub = tokio::time::timeout(heartbeat.max(Duration::from_secs(1)), store.pubsub(attempt))
        .await
        .map_err(|_| "connect timed out")?
        .map_err(|_| "connect failed")?;
    let (mut sink, mut stream) = pubsub.split();
    tokio::time::timeout(heartbeat, sink.subscribe(channel))
        .await
        .map_err(|_| "subscribe timed out")?
        .map_err(|_| "subscribe refused")?;
    tracing::info!(
        channel,
        "validation cache listening; on at the first message heard"
    );
    let mut live = false;
    let mut heard = tokio::time::Instant::now();
    let mut ticker =
        tokio::time::interval(heartbeat.min(silence / 2).max(Duration::from_millis(10)));
    ticker.tick().await;
    loop {
        tokio::select! {
            message = stream.next() => match message {
                Some(message) => {
                    heard = tokio::time::Instant::now();
                    match message.get_payload::<String>() {
                        Ok(payload) if payload == BEAT => {}
                        Ok(user_id) => cache.invalidate(&user_id),
                        Err(_) => cache.forget_all(),
                    }
                    if !live {
                        cache.go_live();
                        live = true;
                        tracing::info!(channel, "validation cache on");
                    }
                }
                None => return Err("subscription closed"),
            },
            _ = ticker.tick() => {
                match tokio::time::timeout(heartbeat, sink.ping::<redis::Value>()).await {
                    Ok(Ok(_)) => {}
                    _ => return Err("heartbeat failed"),
                }
                if live && heard.elapsed() > silence {
                    cache.drop_all();
                    live = false;
                    tracing::warn!(
                        channel,
                        silent_ms = heard.elapsed().as_millis() as u64,
                        "validation cache off: nothing heard on the invalidation channel (is an auth-service publishing?)"
                    );
                }
            }
        }
    }
}

/// The instance's own store tells its cache of every change it makes, before the call
/// returns, so the instance that ended a session never serves it from the cache
/// (other instances hear of it on the invalidation channel).
impl crate::store::Changes for ValidationCache {
    fn changed(&self, user_id: &str) {
        self.invalidate(user_id);
    }
}

/// Publishes [`BEAT`] on `channel` every [`BEAT_INTERVAL`] through `store`, for the
/// listeners' end-to-end heartbeat (the auth-service runs it).
pub fn spawn_beat(store: SessionStore, channel: String) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(BEAT_INTERVAL);
        loop {
            ticker.tick().await;
            store.publish_quietly(&channel, BEAT).await;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(user: &str, exp_in: i64) -> Claims {
        let now = now_secs();
        Claims {
            sub: user.into(),
            email: format!("{user}@example.com"),
            iat: now,
            exp: now + exp_in,
            jti: "j".into(),
            sid: "s".into(),
            ip: None,
            ua: None,
            iss: "i".into(),
            aud: "a".into(),
        }
    }

    /// Validates `token` of `user` as the validator does: ticket, then insert.
    fn cache_one(cache: &ValidationCache, token: &str, user: &str) {
        let ticket = cache.ticket(user);
        cache.insert(ticket, token, &claims(user, 60), i64::MAX);
    }

    #[test]
    fn serves_only_while_live_and_never_across_an_invalidation() {
        let cache = ValidationCache::new(10);
        cache_one(&cache, "t1", "u1");
        assert!(cache.get("t1").is_none(), "not live: nothing cached");
        cache.go_live();
        cache_one(&cache, "t1", "u1");
        assert_eq!(
            cache.get("t1").map(|c| c.claims.sub.clone()).as_deref(),
            Some("u1")
        );
        assert!(cache.get("t2").is_none());
        // Several sessions of one user are cached side by side.
        cache_one(&cache, "t1b", "u1");
        assert!(cache.get("t1").is_some() && cache.get("t1b").is_some());
        // An invalidation between the Redis read (the ticket) and the insert wins.
        let ticket = cache.ticket("u3");
        cache.invalidate("u3");
        cache.insert(ticket, "t3", &claims("u3", 60), i64::MAX);
        assert!(cache.get("t3").is_none());
        // An invalidation of another user changes nothing for this one.
        let ticket = cache.ticket("u4");
        cache.invalidate("u2");
        cache.insert(ticket, "t4", &claims("u4", 60), i64::MAX);
        assert!(cache.get("t4").is_some());
        // Invalidating a user ends all of that user's entries, nobody else's.
        cache.invalidate("u1");
        assert!(cache.get("t1").is_none() && cache.get("t1b").is_none());
        assert!(cache.get("t4").is_some());
        cache.drop_all();
        assert!(cache.get("t4").is_none());
        assert!(!cache.is_live());
    }

    #[test]
    fn an_insert_after_a_flush_with_an_older_ticket_is_not_served() {
        let cache = ValidationCache::new(10);
        cache.go_live();
        let ticket = cache.ticket("u1");
        cache.forget_all();
        cache.insert(ticket, "t1", &claims("u1", 60), i64::MAX);
        assert!(cache.get("t1").is_none());
    }

    #[test]
    fn expired_entries_are_never_served() {
        let cache = ValidationCache::new(10);
        cache.go_live();
        let ticket = cache.ticket("u");
        cache.insert(ticket, "old", &claims("u", -1), i64::MAX);
        assert!(cache.get("old").is_none());
        let ticket = cache.ticket("u");
        cache.insert(ticket, "idle", &claims("u", 60), now_secs() - 1);
        assert!(cache.get("idle").is_none());
    }

    #[test]
    fn past_its_bound_hot_sessions_stay_and_cold_ones_leave() {
        let cache = ValidationCache::new(1000);
        cache.go_live();
        let hot: Vec<String> = (0..100).map(|i| format!("hot{i}")).collect();
        for token in &hot {
            cache_one(&cache, token, &format!("user-{token}"));
        }
        // 20,000 one-off sessions stream past, while the hot ones keep being used.
        for i in 0..20_000 {
            let cold = format!("cold{i}");
            cache_one(&cache, &cold, &format!("user-{cold}"));
            if i % 50 == 0 {
                for token in &hot {
                    if cache.get(token).is_none() {
                        cache_one(&cache, token, &format!("user-{token}"));
                    }
                }
            }
        }
        assert!(cache.len() <= 1100, "{} entries", cache.len());
        let hot_kept = hot.iter().filter(|t| cache.get(t).is_some()).count();
        let cold_kept = (0..20_000)
            .filter(|i| cache.get(&format!("cold{i}")).is_some())
            .count();
        assert!(hot_kept >= 95, "only {hot_kept} of 100 hot sessions kept");
        assert!(cold_kept < 1000, "{cold_kept} cold sessions kept");
    }

    #[test]
    fn an_evicted_user_version_can_only_cause_a_miss() {
        // Room for two users: a third evicts one; that user's entries then miss
        // rather than outlive an invalidation that found no version to bump.
        let cache = ValidationCache::new(2);
        cache.go_live();
        cache_one(&cache, "a", "ua");
        for i in 0..50 {
            cache_one(&cache, &format!("x{i}"), &format!("ux{i}"));
        }
        cache.invalidate("ua");
        assert!(cache.get("a").is_none());
    }

    #[test]
    fn an_entry_older_than_the_max_age_is_not_served() {
        let cache = ValidationCache::new(10).with_max_age(Duration::from_millis(50));
        cache.go_live();
        cache_one(&cache, "t1", "u1");
        assert!(cache.get("t1").is_some());
        std::thread::sleep(Duration::from_millis(80));
        assert!(
            cache.get("t1").is_none(),
            "past its max age: ask Redis again"
        );
    }
}
