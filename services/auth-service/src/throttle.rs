//! Login and sign-up throttling kept in Redis, so the limits hold across instances.
//!
//! **Per email** (keyed on a digest of the normalised address, so a long "email" never
//! makes a long key): a check reserves a slot before the password is verified, and at
//! most `max_failures_per_email` minus the failures already counted may be in flight
//! at once. A wrong password turns its slot into a counted failure; the right one
//! clears the count. So a burst of guesses gets at most the limit checked and the rest
//! 429, while a burst of logins with the right password waits its turn (briefly) and
//! passes. In-flight slots are stamped and forgotten after [`STALE_MS`], so a crashed
//! instance cannot hold them.
//!
//! **Per client IP**: every attempt reserves a slot in the current minute's counter
//! before the check, a success gives it back. A slot is given back to the window it
//! was taken from, and never below zero, so a window rolling over mid-login changes
//! nothing for the next one.
//!
//! **Sign-up**: per client IP per hour, and for the whole service per minute.
//!
//! **Recovery**: requests to `/password/forgot`, `/password/reset` and
//! `/email/verify/resend` per client IP per hour, together; reset and verification
//! mails per address per hour, together (keyed on the address's digest).

use std::time::Duration;

use session_core::store::Redis;
use session_core::store::token_digest;

use crate::configuration::{LoginSettings, SignupSettings};

/// An in-flight slot older than this is taken for abandoned (a crashed instance).
pub const STALE_MS: u64 = 30_000;

/// How long a login waits for a free per-email slot before it is answered 429.
const SLOT_WAIT: Duration = Duration::from_secs(5);

/// Takes a slot for one email check. KEYS: failures, in-flight. ARGV: max, now ms,
/// attempt id, stale ms. Returns {1, 0} (go on), {0, 0} (wait: all slots in flight)
/// or {-1, seconds} (throttled for that long).
const BEGIN_EMAIL: &str = r"
local now = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[4]))
local failures = tonumber(redis.call('GET', KEYS[1]) or '0')
local max = tonumber(ARGV[1])
if failures >= max then
  local ttl = redis.call('TTL', KEYS[1])
  if ttl < 1 then ttl = 1 end
  return {-1, ttl}
end
if failures + redis.call('ZCARD', KEYS[2]) >= max then return {0, 0} end
redis.call('ZADD', KEYS[2], now, ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return {1, 0}
";

/// Ends one email check. KEYS: failures, in-flight. ARGV: attempt id, outcome
/// (`failed`, `succeeded`, `abandoned`), window seconds.
const END_EMAIL: &str = r"
redis.call('ZREM', KEYS[2], ARGV[1])
if ARGV[2] == 'failed' then
  if redis.call('INCR', KEYS[1]) == 1 then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
elseif ARGV[2] == 'succeeded' then
  redis.call('DEL', KEYS[1])
end
return 1
";

/// Counts one attempt in a fixed window. KEYS: the window's counter. ARGV: window
/// seconds (the key outlives its window by no more than that). Returns the count.
const RESERVE: &str = r"
local n = redis.call('INCR', KEYS[1])
if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
";

/// Gives one attempt back to its window, if that window still exists, never below 0.
/// KEYS: the window's counter.
const RELEASE: &str = r"
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 0 then redis.call('DECR', KEYS[1]) end
return 1
";

/// Why a login or sign-up may not go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottleError {
    /// Too many attempts; retry after this many seconds.
    Throttled(u64),
    /// Redis did not answer.
    Unavailable,
}

/// Failed-login counters per email and per client IP; sign-up counters.
#[derive(Debug, Clone)]
pub struct Throttle {
    redis: Redis,
    prefix: String,
    login: LoginSettings,
    signup: SignupSettings,
    begin_email: redis::Script,
    end_email: redis::Script,
    reserve: redis::Script,
    release: redis::Script,
}

/// A reserved attempt; tell the throttle how it ended.
#[derive(Debug)]
pub struct Attempt {
    failures_key: String,
    in_flight_key: String,
    id: String,
    ip_key: Option<String>,
}

/// The current fixed window of `seconds`: its number and the seconds left in it.
fn window(seconds: u64) -> (u64, u64) {
    let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0);
    let seconds = seconds.max(1);
    (now / seconds, seconds - now % seconds)
}

impl Throttle {
    /// Counters live beside the sessions, under `<key_prefix>throttle:`.
    pub fn new(
        redis: Redis,
        key_prefix: &str,
        login: LoginSettings,
        signup: SignupSettings,
    ) -> Self {
        Self {
            redis,
            prefix: format!("{key_prefix}throttle:"),
            login,
            signup,
            begin_email: redis::Script::new(BEGIN_EMAIL),
            end_email: redis::Script::new(END_EMAIL),
            reserve: redis::Script::new(RESERVE),
            release: redis::Script::new(RELEASE),
        }
    }

    /// The counter of `what` in the current window of `seconds`, and the seconds left.
    fn window_key(&self, what: &str, seconds: u64) -> (String, u64) {
        let (number, left) = window(seconds);
        (format!("{}{what}:{number}", self.prefix), left)
    }

    /// Counts one attempt on `key` (a window of `seconds`); the count so far.
    async fn reserve(&self, key: &str, seconds: u64) -> Result<u64, ThrottleError> {
        let script = &self.reserve;
        self.redis
            .with_connection("throttle", |mut conn| async move {
                script.key(key).arg(seconds).invoke_async(&mut conn).await
            })
            .await
            .map_err(|_| ThrottleError::Unavailable)
    }

    async fn release(&self, key: &str) {
        let script = &self.release;
        let _ = self
            .redis
            .with_connection("throttle", |mut conn| async move {
                script.key(key).invoke_async::<i64>(&mut conn).await
            })
            .await;
    }

    /// Reserves one login check for `email` (normalised) from `ip`, waiting up to a
    /// few seconds for a slot while other checks of that email are in flight; or says
    /// how long to wait.
    pub async fn begin(&self, email: &str, ip: Option<&str>) -> Result<Attempt, ThrottleError> {
        let mut ip_key = None;
        if let Some(ip) = ip {
            let (key, left) = self.window_key(&format!("ip:{ip}"), 60);
            if self.reserve(&key, 60).await? > self.login.max_failures_per_ip_per_minute {
                return Err(ThrottleError::Throttled(left));
            }
            ip_key = Some(key);
        }
        let digest = &token_digest(email)[..32];
        let mut attempt = Attempt {
            failures_key: format!("{}email:{{{digest}}}:failures", self.prefix),
            in_flight_key: format!("{}email:{{{digest}}}:checking", self.prefix),
            id: session_core::token::new_session_id().map_err(|_| ThrottleError::Unavailable)?,
            ip_key,
        };
        let outcome = self.take_email_slot(&attempt).await;
        if outcome.is_err()
            && let Some(key) = attempt.ip_key.take()
        {
            self.release(&key).await;
        }
        outcome.map(|()| attempt)
    }

    async fn take_email_slot(&self, attempt: &Attempt) -> Result<(), ThrottleError> {
        let started = tokio::time::Instant::now();
        let mut pause = Duration::from_millis(5);
        loop {
            let now_ms = chrono::Utc::now().timestamp_millis();
            let script = &self.begin_email;
            let (verdict, seconds): (i64, u64) = self
                .redis
                .with_connection("throttle", |mut conn| async move {
                    script
                        .key(&attempt.failures_key)
                        .key(&attempt.in_flight_key)
                        .arg(self.login.max_failures_per_email)
                        .arg(now_ms)
                        .arg(&attempt.id)
                        .arg(STALE_MS)
                        .invoke_async(&mut conn)
                        .await
                })
                .await
                .map_err(|_| ThrottleError::Unavailable)?;
            match verdict {
                1 => return Ok(()),
                0 if started.elapsed() < SLOT_WAIT => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(50));
                }
                0 => return Err(ThrottleError::Throttled(1)),
                _ => return Err(ThrottleError::Throttled(seconds.max(1))),
            }
        }
    }

    async fn end(&self, attempt: &Attempt, outcome: &str) -> Result<(), ThrottleError> {
        let script = &self.end_email;
        self.redis
            .with_connection("throttle", |mut conn| async move {
                script
                    .key(&attempt.failures_key)
                    .key(&attempt.in_flight_key)
                    .arg(&attempt.id)
                    .arg(outcome)
                    .arg(self.login.failure_window_seconds)
                    .invoke_async::<i64>(&mut conn)
                    .await
            })
            .await
            .map(|_| ())
            .map_err(|_| ThrottleError::Unavailable)
    }

    /// The password was wrong: the slot becomes a counted failure (window set on the
    /// first); the IP's attempt stays counted.
    pub async fn failed(&self, attempt: Attempt) -> Result<(), ThrottleError> {
        self.end(&attempt, "failed").await
    }

    /// The check could not be made (a dependency failed): both slots are given back.
    pub async fn abandon(&self, attempt: Attempt) {
        let _ = self.end(&attempt, "abandoned").await;
        if let Some(ip_key) = &attempt.ip_key {
            self.release(ip_key).await;
        }
    }

    /// The login succeeded: the email's count is cleared, the IP's attempt returned.
    pub async fn succeeded(&self, attempt: Attempt) {
        let _ = self.end(&attempt, "succeeded").await;
        if let Some(ip_key) = &attempt.ip_key {
            self.release(ip_key).await;
        }
    }

    /// Counts one sign-up from `ip` (per hour) and for the service (per minute), or
    /// says how long to wait. Refused attempts count too: a flood stays refused.
    pub async fn sign_up(&self, ip: Option<&str>) -> Result<(), ThrottleError> {
        let (global, left) = self.window_key("signup:all", 60);
        if self.reserve(&global, 60).await? > self.signup.max_per_minute {
            return Err(ThrottleError::Throttled(left));
        }
        if let Some(ip) = ip {
            let (key, left) = self.window_key(&format!("signup:ip:{ip}"), 3600);
            if self.reserve(&key, 3600).await? > self.signup.max_per_ip_per_hour {
                return Err(ThrottleError::Throttled(left));
            }
        }
        Ok(())
    }

    /// Counts one recovery request from `ip` (per hour; `max` allowed), or says how
    /// long to wait. Refused requests count too.
    pub async fn recovery(&self, ip: Option<&str>, max: u64) -> Result<(), ThrottleError> {
        if let Some(ip) = ip {
            let (key, left) = self.window_key(&format!("recovery:ip:{ip}"), 3600);
            if self.reserve(&key, 3600).await? > max {
                return Err(ThrottleError::Throttled(left));
            }
        }
        Ok(())
    }

    /// Counts one mail to `email` (normalised) in the current hour; true while at most
    /// `max` were counted, so the mail may go.
    pub async fn mail(&self, email: &str, max: u64) -> Result<bool, ThrottleError> {
        let digest = &token_digest(email)[..32];
        let (key, _) = self.window_key(&format!("mail:{digest}"), 3600);
        Ok(self.reserve(&key, 3600).await? <= max)
    }

    /// Forgets the failed logins counted for `email` (a password reset proved the
    /// owner); best effort.
    pub async fn clear_failures(&self, email: &str) {
        let digest = &token_digest(email)[..32];
        let key = format!("{}email:{{{digest}}}:failures", self.prefix);
        let _ = self
            .redis
            .with_connection("throttle", |mut conn| async move {
                redis::cmd("DEL")
                    .arg(&key)
                    .query_async::<i64>(&mut conn)
                    .await
            })
            .await;
    }
}
