//! Login throttling kept in Redis, so the limits hold across instances.
//!
//! Per client IP, each attempt reserves a slot before the password is checked (INCR,
//! expiry set on the first) and a success gives it back, so parallel guesses from one
//! address cannot slip past its limit. Per email, failures are counted after the
//! check, so that many concurrent logins with the right password all pass; a success
//! clears the email's count.

use session_core::SessionStore;

use crate::configuration::LoginSettings;

const PEEK: &str = r"
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
return {n, redis.call('TTL', KEYS[1])}
";

const RESERVE: &str = r"
local n = redis.call('INCR', KEYS[1])
if n == 1 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
end
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
";

/// Why a login may not go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottleError {
    /// Too many failures; retry after this many seconds.
    Throttled(u64),
    /// Redis did not answer.
    Unavailable,
}

/// Failed-login counters per email and per client IP.
#[derive(Debug, Clone)]
pub struct Throttle {
    store: SessionStore,
    prefix: String,
    settings: LoginSettings,
    peek: redis::Script,
    reserve: redis::Script,
}

/// A reserved attempt; tell the throttle how it ended.
#[derive(Debug)]
pub struct Attempt {
    email_key: String,
    ip_key: Option<String>,
}

impl Throttle {
    /// Counters live beside the sessions, under `<key_prefix>throttle:`.
    pub fn new(store: SessionStore, key_prefix: &str, settings: LoginSettings) -> Self {
        Self {
            store,
            prefix: format!("{key_prefix}throttle:"),
            settings,
            peek: redis::Script::new(PEEK),
            reserve: redis::Script::new(RESERVE),
        }
    }

    async fn reserve(&self, key: &str, window: u64) -> Result<(u64, u64), ThrottleError> {
        let script = &self.reserve;
        let (n, ttl): (u64, u64) = self
            .store
            .with_connection("throttle", |mut conn| async move {
                script.key(key).arg(window).invoke_async(&mut conn).await
            })
            .await
            .map_err(|_| ThrottleError::Unavailable)?;
        Ok((n, ttl))
    }

    /// Reserves one attempt for `email` from `ip`, or says how long to wait.
    pub async fn begin(&self, email: &str, ip: Option<&str>) -> Result<Attempt, ThrottleError> {
        let ip_key = ip.map(|ip| format!("{}ip:{ip}", self.prefix));
        if let Some(key) = &ip_key {
            let (n, ttl) = self.reserve(key, 60).await?;
            if n > self.settings.max_failures_per_ip_per_minute {
                return Err(ThrottleError::Throttled(ttl.max(1)));
            }
        }
        let email_key = format!("{}email:{email}", self.prefix);
        let (failures, ttl) = self.peek(&email_key).await?;
        if failures >= self.settings.max_failures_per_email {
            if let Some(key) = &ip_key {
                self.release(key).await;
            }
            return Err(ThrottleError::Throttled(
                u64::try_from(ttl).unwrap_or(1).max(1),
            ));
        }
        Ok(Attempt { email_key, ip_key })
    }

    async fn peek(&self, key: &str) -> Result<(u64, i64), ThrottleError> {
        let script = &self.peek;
        self.store
            .with_connection("throttle", |mut conn| async move {
                script.key(key).invoke_async(&mut conn).await
            })
            .await
            .map_err(|_| ThrottleError::Unavailable)
    }

    /// The password was wrong: the email's failure count grows (window set on the first).
    pub async fn failed(&self, attempt: Attempt) -> Result<(), ThrottleError> {
        self.reserve(&attempt.email_key, self.settings.failure_window_seconds)
            .await
            .map(|_| ())
    }

    async fn release(&self, key: &str) {
        let key = key.to_owned();
        let _ = self
            .store
            .with_connection("throttle", |mut conn| async move {
                redis::cmd("DECR")
                    .arg(&key)
                    .query_async::<i64>(&mut conn)
                    .await
            })
            .await;
    }

    /// The check could not be made (a dependency failed): the IP's attempt is returned.
    pub async fn abandon(&self, attempt: Attempt) {
        if let Some(ip_key) = attempt.ip_key {
            self.release(&ip_key).await;
        }
    }

    /// The login succeeded: the email's count is cleared, the IP's attempt returned.
    pub async fn succeeded(&self, attempt: Attempt) {
        let key = attempt.email_key;
        let _ = self
            .store
            .with_connection("throttle", |mut conn| async move {
                redis::cmd("DEL")
                    .arg(&key)
                    .query_async::<i64>(&mut conn)
                    .await
            })
            .await;
        if let Some(ip_key) = attempt.ip_key {
            self.release(&ip_key).await;
        }
    }
}
