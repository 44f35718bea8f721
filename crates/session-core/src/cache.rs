//! The validation cache: recently validated sessions kept in process, so a request
//! needs no Redis round trip, and invalidated through Redis pub/sub so that logout,
//! re-login and replacement still take effect everywhere.
//!
//! The store publishes a user's id on `<key_prefix>invalidate` inside the same Lua
//! script that changes the session, so no change goes unannounced. A listener task
//! keeps a subscription; the cache serves only while that subscription is known to be
//! alive (heartbeat every `heartbeat`), and is emptied the moment it is lost.
//!
//! Changes that bypass the scripts (an operator's `DEL`, a `FLUSHALL`, eviction under
//! `maxmemory`) announce nothing, so an entry is also served for at most `max_age`
//! (`validation.cache_max_age_ms`, default 5 s) after Redis confirmed it; then it is
//! checked in Redis again. That is the bound on how long such a change goes unseen.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use futures_util::StreamExt;

use crate::session::now_secs;
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
}

/// Sessions validated recently: by token (the lookup) and by user id (invalidation).
#[derive(Debug, Default)]
struct Entries {
    by_token: HashMap<String, Arc<Cached>>,
    by_user: HashMap<String, Vec<String>>,
}

impl Entries {
    fn remove_user(&mut self, user_id: &str) {
        for token in self.by_user.remove(user_id).unwrap_or_default() {
            self.by_token.remove(&token);
        }
    }

    fn clear(&mut self) {
        self.by_token.clear();
        self.by_user.clear();
    }
}

/// Sessions validated recently. A hit needs neither Redis nor the signature check:
/// the exact token string was verified and confirmed by Redis when it was cached, and
/// its expiry is still checked on every hit.
#[derive(Debug)]
pub struct ValidationCache {
    entries: RwLock<Entries>,
    generation: AtomicU64,
    live: AtomicBool,
    max_entries: usize,
    max_age: Duration,
    many_per_user: bool,
}

/// The default bound on an entry's age (`validation.cache_max_age_ms`).
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(5);

impl ValidationCache {
    /// An empty cache holding at most `max_entries` sessions; it serves nothing until
    /// its listener has subscribed.
    pub fn new(max_entries: usize) -> Self {
        Self {
            entries: RwLock::new(Entries::default()),
            generation: AtomicU64::new(0),
            live: AtomicBool::new(false),
            max_entries: max_entries.max(1),
            max_age: DEFAULT_MAX_AGE,
            many_per_user: false,
        }
    }

    /// Serves an entry for at most `max_age` after Redis confirmed it.
    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// Keeps several sessions per user (`multiple` mode) instead of the latest one.
    pub fn with_many_per_user(mut self) -> Self {
        self.many_per_user = true;
        self
    }

    /// True while the invalidation channel is subscribed and healthy.
    pub fn is_live(&self) -> bool {
        self.live.load(Ordering::Acquire)
    }

    /// The cached session of `token` if it has not ended.
    pub fn get(&self, token: &str) -> Option<Arc<Cached>> {
        if !self.is_live() {
            return None;
        }
        let cached = self.entries.read().ok()?.by_token.get(token).cloned()?;
        let now = now_secs();
        (cached.claims.exp > now && cached.ends_at > now && Instant::now() < cached.fresh_until)
            .then_some(cached)
    }

    /// Read before asking Redis; pass to [`ValidationCache::insert`] after.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Remembers a session Redis confirmed, unless any invalidation arrived since
    /// `generation` was read (it might concern this very session).
    pub fn insert(&self, generation: u64, token: &str, claims: &Claims, ends_at: i64) {
        if !self.is_live() {
            return;
        }
        if let Ok(mut entries) = self.entries.write() {
            if self.generation.load(Ordering::Acquire) != generation {
                return;
            }
            if !self.many_per_user {
                entries.remove_user(&claims.sub);
            }
            if entries.by_token.len() >= self.max_entries {
                entries.clear();
            }
            let tokens = entries.by_user.entry(claims.sub.clone()).or_default();
            // A session cached again (its entry reached its idle deadline) is listed once.
            if !tokens.iter().any(|t| t == token) {
                tokens.push(token.to_owned());
            }
            let cached = Cached {
                claims: claims.clone(),
                ends_at: ends_at.min(claims.exp),
                fresh_until: Instant::now() + self.max_age,
            };
            entries.by_token.insert(token.to_owned(), Arc::new(cached));
        }
    }

    /// Forgets one user's session.
    pub fn invalidate(&self, user_id: &str) {
        if let Ok(mut entries) = self.entries.write() {
            self.generation.fetch_add(1, Ordering::AcqRel);
            entries.remove_user(user_id);
        }
    }

    /// Stops serving and forgets everything (the channel is lost, or Redis failed).
    pub fn drop_all(&self) {
        self.live.store(false, Ordering::Release);
        self.forget_all();
    }

    fn go_live(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.live.store(true, Ordering::Release);
    }
}

/// Keeps the cache subscribed to `channel` on the Redis at `client`, reconnecting
/// after a loss; runs until the process ends.
pub fn spawn_listener(
    cache: Arc<ValidationCache>,
    client: redis::Client,
    channel: String,
    heartbeat: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(100);
        loop {
            match listen(&cache, &client, &channel, heartbeat).await {
                Ok(()) => backoff = Duration::from_millis(100),
                Err(reason) => {
                    tracing::warn!(reason, "validation cache off: invalidation channel lost");
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                }
            }
            cache.drop_all();
            tokio::time::sleep(backoff).await;
        }
    })
}

async fn listen(
    cache: &ValidationCache,
    client: &redis::Client,
    channel: &str,
    heartbeat: Duration,
) -> Result<(), &'static str> {
    let pubsub = tokio::time::timeout(heartbeat, client.get_async_pubsub())
        .await
        .map_err(|_| "connect timed out")?
        .map_err(|_| "connect failed")?;
    let (mut sink, mut stream) = pubsub.split();
    tokio::time::timeout(heartbeat, sink.subscribe(channel))
        .await
        .map_err(|_| "subscribe timed out")?
        .map_err(|_| "subscribe refused")?;
    cache.go_live();
    tracing::info!(channel, "validation cache on");
    let mut ticker = tokio::time::interval(heartbeat);
    ticker.tick().await;
    loop {
        tokio::select! {
            message = stream.next() => match message {
                Some(message) => match message.get_payload::<String>() {
                    Ok(user_id) => cache.invalidate(&user_id),
                    Err(_) => cache.forget_all(),
                },
                None => return Err("subscription closed"),
            },
            _ = ticker.tick() => {
                match tokio::time::timeout(heartbeat, sink.ping::<redis::Value>()).await {
                    Ok(Ok(_)) => {}
                    _ => return Err("heartbeat failed"),
                }
            }
        }
    }
}

impl ValidationCache {
    /// Forgets everything but keeps serving what is validated next (an unreadable
    /// invalidation, or a Redis call that failed while the channel looks fine).
    pub fn forget_all(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        if let Ok(mut entries) = self.entries.write() {
            entries.clear();
        }
    }
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

    #[test]
    fn serves_only_while_live_and_never_across_an_invalidation() {
        let cache = ValidationCache::new(10);
        let g = cache.generation();
        cache.insert(g, "t1", &claims("u1", 60), i64::MAX);
        assert!(cache.get("t1").is_none(), "not live: nothing cached");
        cache.go_live();
        let g = cache.generation();
        cache.insert(g, "t1", &claims("u1", 60), i64::MAX);
        assert_eq!(
            cache.get("t1").map(|c| c.claims.sub.clone()).as_deref(),
            Some("u1")
        );
        assert!(cache.get("t2").is_none());
        // A new session for the same user replaces the old one.
        let g = cache.generation();
        cache.insert(g, "t1b", &claims("u1", 60), i64::MAX);
        assert!(cache.get("t1").is_none());
        assert!(cache.get("t1b").is_some());
        // An invalidation between the Redis read and the insert wins.
        let g = cache.generation();
        cache.invalidate("u2");
        cache.insert(g, "t3", &claims("u3", 60), i64::MAX);
        assert!(cache.get("t3").is_none());
        cache.invalidate("u1");
        assert!(cache.get("t1b").is_none());
        let g = cache.generation();
        cache.insert(g, "t1", &claims("u1", 60), i64::MAX);
        cache.drop_all();
        assert!(cache.get("t1").is_none());
        assert!(!cache.is_live());
    }

    #[test]
    fn expired_entries_are_never_served() {
        let cache = ValidationCache::new(10);
        cache.go_live();
        let g = cache.generation();
        cache.insert(g, "old", &claims("u", -1), i64::MAX);
        assert!(cache.get("old").is_none());
    }

    #[test]
    fn stays_within_its_size() {
        let cache = ValidationCache::new(2);
        cache.go_live();
        for i in 0..5 {
            let g = cache.generation();
            cache.insert(g, &format!("t{i}"), &claims(&format!("u{i}"), 60), i64::MAX);
        }
        assert!(cache.entries.read().map(|e| e.by_token.len()).unwrap_or(0) <= 2);
        assert!(cache.get("t4").is_some());
    }

    #[test]
    fn an_entry_older_than_the_max_age_is_not_served() {
        let cache = ValidationCache::new(10).with_max_age(Duration::from_millis(50));
        cache.go_live();
        let g = cache.generation();
        cache.insert(g, "t1", &claims("u1", 60), i64::MAX);
        assert!(cache.get("t1").is_some());
        std::thread::sleep(Duration::from_millis(80));
        assert!(
            cache.get("t1").is_none(),
            "past its max age: ask Redis again"
        );
    }
}
