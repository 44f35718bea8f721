//! The validation cache: recently validated sessions kept in process, so a request
//! needs no Redis round trip, and invalidated through Redis pub/sub so that logout,
//! re-login and replacement still take effect everywhere.
//!
//! The store publishes a user's id on `<key_prefix>invalidate` inside the same Lua
//! script that changes the session, so no change goes unannounced. A listener task
//! keeps a subscription; the cache serves only while that subscription is known to be
//! alive (heartbeat every `heartbeat`), and is emptied the moment it is lost.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures_util::StreamExt;

/// Sessions validated recently, by user id.
#[derive(Debug)]
pub struct ValidationCache {
    entries: RwLock<HashMap<String, String>>,
    generation: AtomicU64,
    live: AtomicBool,
    max_entries: usize,
}

impl ValidationCache {
    /// An empty cache holding at most `max_entries` sessions; it serves nothing until
    /// its listener has subscribed.
    pub fn new(max_entries: usize) -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
            live: AtomicBool::new(false),
            max_entries: max_entries.max(1),
        }
    }

    /// True while the invalidation channel is subscribed and healthy.
    pub fn is_live(&self) -> bool {
        self.live.load(Ordering::Acquire)
    }

    /// True when `token` is the validated session of `user_id`.
    pub fn contains(&self, user_id: &str, token: &str) -> bool {
        if !self.is_live() {
            return false;
        }
        self.entries
            .read()
            .map(|e| e.get(user_id).is_some_and(|t| t == token))
            .unwrap_or(false)
    }

    /// Read before asking Redis; pass to [`ValidationCache::insert`] after.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Remembers a session Redis confirmed, unless any invalidation arrived since
    /// `generation` was read (it might concern this very session).
    pub fn insert(&self, generation: u64, user_id: &str, token: &str) {
        if !self.is_live() {
            return;
        }
        if let Ok(mut entries) = self.entries.write() {
            if self.generation.load(Ordering::Acquire) != generation {
                return;
            }
            if entries.len() >= self.max_entries && !entries.contains_key(user_id) {
                entries.clear();
            }
            entries.insert(user_id.to_owned(), token.to_owned());
        }
    }

    /// Forgets one user's session.
    pub fn invalidate(&self, user_id: &str) {
        if let Ok(mut entries) = self.entries.write() {
            self.generation.fetch_add(1, Ordering::AcqRel);
            entries.remove(user_id);
        }
    }

    /// Stops serving and forgets everything (the channel is lost, or Redis failed).
    pub fn drop_all(&self) {
        self.live.store(false, Ordering::Release);
        self.generation.fetch_add(1, Ordering::AcqRel);
        if let Ok(mut entries) = self.entries.write() {
            entries.clear();
        }
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
                match tokio::time::timeout(heartbeat, sink.ping::<String>()).await {
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

    #[test]
    fn serves_only_while_live_and_never_across_an_invalidation() {
        let cache = ValidationCache::new(10);
        let g = cache.generation();
        cache.insert(g, "u1", "t1");
        assert!(!cache.contains("u1", "t1"), "not live: nothing cached");
        cache.go_live();
        let g = cache.generation();
        cache.insert(g, "u1", "t1");
        assert!(cache.contains("u1", "t1"));
        assert!(!cache.contains("u1", "t2"));
        // An invalidation between the Redis read and the insert wins.
        let g = cache.generation();
        cache.invalidate("u2");
        cache.insert(g, "u3", "t3");
        assert!(!cache.contains("u3", "t3"));
        cache.invalidate("u1");
        assert!(!cache.contains("u1", "t1"));
        let g = cache.generation();
        cache.insert(g, "u1", "t1");
        cache.drop_all();
        assert!(!cache.contains("u1", "t1"));
        assert!(!cache.is_live());
    }

    #[test]
    fn stays_within_its_size() {
        let cache = ValidationCache::new(2);
        cache.go_live();
        for i in 0..5 {
            let g = cache.generation();
            cache.insert(g, &format!("u{i}"), "t");
        }
        assert!(cache.entries.read().map(|e| e.len()).unwrap_or(0) <= 2);
        assert!(cache.contains("u4", "t"));
    }
}
