//! What the store keeps and where: the key names of both layouts, a session's
//! lifetime (absolute and idle), and the records the store's calls take and answer.

use crate::settings::SessionSettings;
use crate::token::Origin;

/// Where a user's sessions live, and the channel their changes are announced on.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
    channel: String,
}

impl Keys {
    /// The keys under `session.key_prefix`.
    pub fn new(session: &SessionSettings) -> Self {
        Self {
            prefix: session.key_prefix.clone(),
            channel: format!("{}invalidate", session.key_prefix),
        }
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `single` mode: the key of a user's session.
    pub fn user_key(&self, user_id: &str) -> String {
        format!("{}{}", self.prefix, user_id)
    }

    /// The pub/sub channel on which every session change is announced (the user's id).
    pub fn channel(&self) -> &str {
        &self.channel
    }

    /// `multiple` mode: the start of every key of a user (hash tag `{<userId>}`).
    pub fn user_base(&self, user_id: &str) -> String {
        format!("{}{{{}}}:", self.prefix, user_id)
    }

    /// `multiple` mode: the user's index of session ids.
    pub fn index_key(&self, user_id: &str) -> String {
        format!("{}index", self.user_base(user_id))
    }

    /// `multiple` mode: the key of one session.
    pub fn session_key(&self, user_id: &str, session_id: &str) -> String {
        format!("{}{}", self.user_base(user_id), session_id)
    }
}

/// A session's lifetime: absolute (the token's `exp`) and idle.
#[derive(Debug, Clone, Copy)]
pub struct Lifetime {
    /// The lifetime given to new sessions, in seconds.
    pub ttl_seconds: u64,
    /// The idle timeout in seconds (0: off).
    pub idle_seconds: u64,
}

impl Lifetime {
    /// When a session ending at `absolute` (epoch seconds) ends if unused from `now_ms`,
    /// in epoch milliseconds: the idle deadline, never past `absolute`.
    pub fn ends_ms(&self, now_ms: i64, absolute: i64) -> i64 {
        let absolute_ms = absolute.saturating_mul(1000);
        if self.idle_seconds == 0 {
            return absolute_ms;
        }
        let idle_ms = i64::try_from(self.idle_seconds.saturating_mul(1000)).unwrap_or(i64::MAX);
        now_ms.saturating_add(idle_ms).min(absolute_ms)
    }
}

/// The result of [`SessionStore::create_or_reuse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSession {
    /// The token now held in Redis for the user.
    pub token: String,
    /// True when an existing session was returned and nothing was written.
    pub reused: bool,
}

/// The key expiry (`EX`) for a session ending at `ends_ms`: whole seconds from `now_ms`,
/// rounded up so the key never ends early, at least 1.
pub fn ex_seconds(now_ms: i64, ends_ms: i64) -> u64 {
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
