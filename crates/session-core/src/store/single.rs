//! `single` mode (the seed's): one session per user, key `<prefix><userId>`, value the
//! token, expiry min(idle deadline, `exp`). Its scripts, and the layout's calls.

use std::sync::Arc;

use super::events::{Emit, PRELUDE};
use super::record::{Held, Keys, Lifetime, NewSession, Opened, StoredSession, ex_seconds};
use super::redis::{Change, Redis};
use crate::error::StoreError;

// Every script that changes a session announces the user's id on the invalidation
// channel in the same atomic step, for the validation caches of other instances; those
// that create or end one begin with the event prelude (`super::events`), take the
// event context as their last argument and answer `{result, events}`.

/// Sets the key to the new token unless a session exists; answers `{created, token}`.
/// ARGV: token, ttl, channel, user id.
const CREATE_OR_REUSE: &str = r"
local current = redis.call('GET', KEYS[1])
if current then
  return {{0, current}, OUT}
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
created(ARGV[1])
return {{1, ARGV[1]}, OUT}
";

/// Deletes the key only while it still holds the presented token.
/// ARGV: token, channel, user id.
const COMPARE_AND_DELETE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], ARGV[3])
  ended(sid_of(ARGV[1]), EV.r)
  return {1, OUT}
end
return {0, OUT}
";

/// Replaces the token only while the key still holds the old one (the old session
/// ends, a new one starts). ARGV: old token, new token, ttl, channel, user id.
const COMPARE_AND_SET: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
  redis.call('PUBLISH', ARGV[4], ARGV[5])
  ended(sid_of(ARGV[1]), EV.r)
  created(ARGV[2])
  return {1, OUT}
end
return {0, OUT}
";

/// Ends the user's single session whatever token it holds. ARGV: channel, user id.
const END_SINGLE: &str = r"
local current = redis.call('GET', KEYS[1])
local n = redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[1], ARGV[2])
if current then ended(sid_of(current), EV.r) end
return {n, OUT}
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

/// Swaps the token for a new one (same expiry) only while the key holds the old one.
/// ARGV: old token, new token, channel, user id.
const ROTATE_SINGLE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
  redis.call('PUBLISH', ARGV[3], ARGV[4])
  return 1
end
return 0
";

/// The layout's scripts, hashed once and shared by every clone of the store.
struct Scripts {
    create_or_reuse: redis::Script,
    compare_and_delete: redis::Script,
    compare_and_set: redis::Script,
    end: redis::Script,
    touch: redis::Script,
    rotate: redis::Script,
}

/// `single` mode's calls.
#[derive(Clone)]
pub(super) struct Single {
    scripts: Arc<Scripts>,
}

impl Single {
    pub(super) fn new() -> Self {
        Self {
            scripts: Arc::new(Scripts {
                create_or_reuse: redis::Script::new(&format!("{PRELUDE}{CREATE_OR_REUSE}")),
                compare_and_delete: redis::Script::new(&format!("{PRELUDE}{COMPARE_AND_DELETE}")),
                compare_and_set: redis::Script::new(&format!("{PRELUDE}{COMPARE_AND_SET}")),
                end: redis::Script::new(&format!("{PRELUDE}{END_SINGLE}")),
                touch: redis::Script::new(TOUCH_SINGLE),
                rotate: redis::Script::new(ROTATE_SINGLE),
            }),
        }
    }

    /// Stores `token` for the user unless a session exists (key expiry `seconds`).
    pub(super) async fn create_or_reuse(
        &self,
        redis: &Redis,
        keys: &Keys,
        user_id: &str,
        token: &str,
        seconds: u64,
        emit: &Emit<'_>,
    ) -> Result<StoredSession, StoreError> {
        let key = keys.user_key(user_id);
        let (created, token): (i64, String) = emit
            .run(
                redis,
                ("create_or_reuse", Change::Sessions),
                self.scripts
                    .create_or_reuse
                    .key(&key)
                    .arg(token)
                    .arg(seconds)
                    .arg(keys.channel())
                    .arg(user_id),
            )
            .await?;
        Ok(StoredSession {
            token,
            reused: created == 0,
        })
    }

    /// Replaces `old` with `new` (expiry `seconds`) only if the key still holds `old`.
    pub(super) async fn replace(
        &self,
        redis: &Redis,
        keys: &Keys,
        user_id: &str,
        (old, new): (&str, &str),
        seconds: u64,
        emit: &Emit<'_>,
    ) -> Result<bool, StoreError> {
        let key = keys.user_key(user_id);
        let replaced: i64 = emit
            .run(
                redis,
                ("replace", Change::Sessions),
                self.scripts
                    .compare_and_set
                    .key(&key)
                    .arg(old)
                    .arg(new)
                    .arg(seconds)
                    .arg(keys.channel())
                    .arg(user_id),
            )
            .await?;
        Ok(replaced == 1)
    }

    /// The token held for the user, if any.
    pub(super) async fn get(
        redis: &Redis,
        keys: &Keys,
        user_id: &str,
    ) -> Result<Option<String>, StoreError> {
        redis.get("get", keys.user_key(user_id)).await
    }

    /// Deletes the user's session only if it still holds `token`; true when deleted.
    pub(super) async fn revoke(
        &self,
        redis: &Redis,
        keys: &Keys,
        user_id: &str,
        token: &str,
        emit: &Emit<'_>,
    ) -> Result<bool, StoreError> {
        let key = keys.user_key(user_id);
        let deleted: i64 = emit
            .run(
                redis,
                ("revoke", Change::Sessions),
                self.scripts
                    .compare_and_delete
                    .key(&key)
                    .arg(token)
                    .arg(keys.channel())
                    .arg(user_id),
            )
            .await?;
        Ok(deleted == 1)
    }

    /// Opens a session: the live one if any, else this one.
    pub(super) async fn open(
        &self,
        redis: &Redis,
        keys: &Keys,
        new: &NewSession<'_>,
        (now_ms, ends_ms): (i64, i64),
        emit: &Emit<'_>,
    ) -> Result<Opened, StoreError> {
        let stored = self
            .create_or_reuse(
                redis,
                keys,
                new.user_id,
                new.token,
                ex_seconds(now_ms, ends_ms),
                emit,
            )
            .await?;
        Ok(if stored.reused {
            Opened::Reused {
                token: stored.token,
            }
        } else {
            Opened::Created { evicted: 0 }
        })
    }

    /// The user's token, with when it ends if unused (when an idle timeout is on).
    pub(super) async fn held(
        redis: &Redis,
        keys: &Keys,
        lifetime: &Lifetime,
        user_id: &str,
    ) -> Result<Option<Held>, StoreError> {
        if lifetime.idle_seconds == 0 {
            return Ok(Self::get(redis, keys, user_id).await?.map(|secret| Held {
                secret,
                ends_at: None,
            }));
        }
        let mut pipe = redis::pipe();
        pipe.cmd("GET").arg(keys.user_key(user_id));
        pipe.cmd("PTTL").arg(keys.user_key(user_id));
        let (secret, pttl): (Option<String>, i64) = redis.read_pipe("get", pipe).await?;
        let ends_at = (pttl > 0).then(|| (chrono::Utc::now().timestamp_millis() + pttl) / 1000);
        Ok(secret.map(|secret| Held { secret, ends_at }))
    }

    /// Ends the user's one session, whatever token it holds; a `keep` keeps it.
    pub(super) async fn end_all(
        &self,
        redis: &Redis,
        keys: &Keys,
        user_id: &str,
        keep: Option<&str>,
        emit: &Emit<'_>,
    ) -> Result<u64, StoreError> {
        if keep.is_some() {
            return Ok(0);
        }
        let key = keys.user_key(user_id);
        emit.run(
            redis,
            ("end_all", Change::Sessions),
            self.scripts.end.key(&key).arg(keys.channel()).arg(user_id),
        )
        .await
    }

    /// Pushes the session's expiry to `ends_ms` while the key holds `token`.
    pub(super) async fn touch(
        &self,
        redis: &Redis,
        keys: &Keys,
        user_id: &str,
        token: &str,
        (now_ms, ends_ms): (i64, i64),
    ) -> Result<Option<i64>, StoreError> {
        let key = keys.user_key(user_id);
        let pushed: i64 = redis
            .script(
                "touch",
                Change::Nothing,
                self.scripts
                    .touch
                    .key(&key)
                    .arg(token)
                    .arg(ex_seconds(now_ms, ends_ms)),
            )
            .await?;
        Ok((pushed == 1).then_some(ends_ms / 1000))
    }

    /// Swaps the user's token `old` for `new`, keeping its expiry; false when the key
    /// no longer holds `old`.
    pub(super) async fn rotate(
        &self,
        redis: &Redis,
        keys: &Keys,
        user_id: &str,
        (old, new): (&str, &str),
    ) -> Result<bool, StoreError> {
        let key = keys.user_key(user_id);
        let rotated: i64 = redis
            .script(
                "rotate",
                Change::Sessions,
                self.scripts
                    .rotate
                    .key(&key)
                    .arg(old)
                    .arg(new)
                    .arg(keys.channel())
                    .arg(user_id),
            )
            .await?;
        Ok(rotated == 1)
    }
}
