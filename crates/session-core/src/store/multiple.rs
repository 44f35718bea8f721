//! `multiple` mode: one session per login, every key of a user in one Redis Cluster
//! slot under the hash tag `{<userId>}`:
//!
//! - `<prefix>{<userId>}:<sessionId>`: a hash `d` (SHA-256 of the token, hex), `c`
//!   (created), `a` (absolute expiry, the token's `exp`), `e` (when it ends if unused:
//!   idle deadline or `a`), `ip`, `ua`; the key expires at `e`.
//! - `<prefix>{<userId>}:index`: a sorted set of the user's session ids by creation
//!   time (ms); members whose session key is gone are pruned by every script that
//!   reads it, so nothing relies on keyspace notifications.
//!
//! Every script that ends or creates a session announces the user's id on the
//! invalidation channel in the same atomic step, and appends its events (see
//! `super::events`): a member pruned from the index because its session is gone is a
//! `session.ended` with reason `expired`.

use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::events::{Emit, PRELUDE};
use super::record::{Held, Keys, NewSession, Opened, SessionRecord};
use super::redis::{Change, Redis};
use crate::error::StoreError;
use crate::token::Origin;

/// Prunes the index, makes room (evicting the oldest, or refusing), stores the
/// session. KEYS: index. ARGV: base, sid, digest, created ms, created s, absolute s,
/// ends s, ip, ua, max, deny (1/0), channel, user id, now s, ends ms.
/// Answers {created (1/0), evicted}.
const OPEN: &str = r"
local base = ARGV[1]
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if redis.call('EXISTS', base .. id) == 0 then
    redis.call('ZREM', KEYS[1], id)
    ended(id, 'expired')
  end
end
local max = tonumber(ARGV[10])
local n = redis.call('ZCARD', KEYS[1])
local evicted = 0
if n >= max then
  if ARGV[11] == '1' then return {{0, 0}, OUT} end
  for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, n - max)) do
    redis.call('DEL', base .. id)
    redis.call('ZREM', KEYS[1], id)
    evicted = evicted + 1
    ended(id, 'evicted')
  end
end
local key = base .. ARGV[2]
redis.call('HSET', key, 'd', ARGV[3], 'c', ARGV[5], 'a', ARGV[6], 'e', ARGV[7], 'ip', ARGV[8], 'ua', ARGV[9])
redis.call('PEXPIREAT', key, ARGV[15])
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[2])
if redis.call('TTL', KEYS[1]) < tonumber(ARGV[6]) - tonumber(ARGV[14]) then
  redis.call('EXPIREAT', KEYS[1], ARGV[6])
end
redis.call('PUBLISH', ARGV[12], ARGV[13])
created(ARGV[3])
return {{1, evicted}, OUT}
";

/// Ends one session, only while it still holds the presented token's digest (an
/// empty digest ends it whatever it holds); a session that holds another digest stays
/// as it is, in the index too. KEYS: index. ARGV: base, sid, digest, channel, user
/// id. Answers 1 when a session ended.
const END_ONE: &str = r"
local key = ARGV[1] .. ARGV[2]
local held = redis.call('HGET', key, 'd')
if held and (ARGV[3] == '' or held == ARGV[3]) then
  redis.call('DEL', key)
  redis.call('ZREM', KEYS[1], ARGV[2])
  redis.call('PUBLISH', ARGV[4], ARGV[5])
  ended(ARGV[2], EV.r)
  return {1, OUT}
end
if not held and redis.call('ZREM', KEYS[1], ARGV[2]) == 1 then
  ended(ARGV[2], 'expired')
end
return {0, OUT}
";

/// Ends every session of the user but `keep` (empty: all). KEYS: index. ARGV: base,
/// keep, channel, user id. Answers how many ended.
const END_ALL: &str = r"
local base = ARGV[1]
local n = 0
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if id ~= ARGV[2] then
    if redis.call('DEL', base .. id) == 1 then
      n = n + 1
      ended(id, EV.r)
    else
      ended(id, 'expired')
    end
    redis.call('ZREM', KEYS[1], id)
  end
end
if redis.call('ZCARD', KEYS[1]) == 0 then redis.call('DEL', KEYS[1]) end
redis.call('PUBLISH', ARGV[3], ARGV[4])
return {n, OUT}
";

/// Prunes the index and answers each live session as {id, c, a, e, ip, ua}.
/// KEYS: index. ARGV: base.
const LIST: &str = r"
local out = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local f = redis.call('HMGET', ARGV[1] .. id, 'c', 'a', 'e', 'ip', 'ua')
  if f[1] then
    table.insert(out, {id, f[1], f[2], f[3], f[4] or '', f[5] or ''})
  else
    redis.call('ZREM', KEYS[1], id)
    ended(id, 'expired')
  end
end
return {out, OUT}
";

/// Pushes the idle deadline to min(now + idle, absolute) while the session holds the
/// digest. KEYS: the session key. ARGV: digest, now ms, idle ms. Returns the new end
/// (seconds), or 0 when the session is gone or holds another digest.
const TOUCH: &str = r"
local f = redis.call('HMGET', KEYS[1], 'd', 'a')
if not f[1] or f[1] ~= ARGV[1] then return 0 end
local ends = math.min(tonumber(ARGV[2]) + tonumber(ARGV[3]), tonumber(f[2]) * 1000)
redis.call('HSET', KEYS[1], 'e', math.floor(ends / 1000))
redis.call('PEXPIREAT', KEYS[1], ends)
return math.floor(ends / 1000)
";

/// Swaps a session's digest for a new one while it holds the old one (expiry and
/// record unchanged). KEYS: the session key. ARGV: old digest, new digest, channel,
/// user id. Returns 1 when swapped.
const ROTATE: &str = r"
if redis.call('HGET', KEYS[1], 'd') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'd', ARGV[2])
  redis.call('PUBLISH', ARGV[3], ARGV[4])
  return 1
end
return 0
";

/// The layout's scripts, hashed once and shared by every clone of the store.
struct Scripts {
    open: redis::Script,
    end_one: redis::Script,
    end_all: redis::Script,
    list: redis::Script,
    touch: redis::Script,
    rotate: redis::Script,
}

/// `multiple` mode's calls.
#[derive(Clone)]
pub(super) struct Multiple {
    scripts: Arc<Scripts>,
    max_per_user: u32,
    deny_when_full: bool,
}

impl Multiple {
    /// At most `max_per_user` sessions a user; a login beyond it is refused when
    /// `deny_when_full`, else the oldest session ends.
    pub(super) fn new(max_per_user: u32, deny_when_full: bool) -> Self {
        Self {
            scripts: Arc::new(Scripts {
                open: redis::Script::new(&format!("{PRELUDE}{OPEN}")),
                end_one: redis::Script::new(&format!("{PRELUDE}{END_ONE}")),
                end_all: redis::Script::new(&format!("{PRELUDE}{END_ALL}")),
                list: redis::Script::new(&format!("{PRELUDE}{LIST}")),
                touch: redis::Script::new(TOUCH),
                rotate: redis::Script::new(ROTATE),
            }),
            max_per_user,
            deny_when_full,
        }
    }

    /// Stores a new session, making room as `session.when_full` says; its digest is
    /// kept, never the token.
    pub(super) async fn open(
        &self,
        redis: &Redis,
        keys: &Keys,
        new: &NewSession<'_>,
        (now_ms, ends_ms): (i64, i64),
        emit: &Emit<'_>,
    ) -> Result<Opened, StoreError> {
        let index = keys.index_key(new.user_id);
        let base = keys.user_base(new.user_id);
        let digest = token_digest(new.token);
        let (created, evicted): (i64, u64) = emit
            .run(
                redis,
                ("open", Change::Sessions),
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
                    .arg(keys.channel())
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

    /// The digest of session `session_id`, with when it ends if unused.
    pub(super) async fn held(
        redis: &Redis,
        keys: &Keys,
        user_id: &str,
        session_id: &str,
    ) -> Result<Option<Held>, StoreError> {
        let mut cmd = redis::cmd("HMGET");
        cmd.arg(keys.session_key(user_id, session_id))
            .arg("d")
            .arg("e");
        let (digest, ends): (Option<String>, Option<i64>) = redis.read("hmget", cmd).await?;
        Ok(digest.map(|secret| Held {
            secret,
            ends_at: ends,
        }))
    }

    /// Ends session `session_id` of the user while it holds `digest` (empty: whatever
    /// it holds); false when there was no such session.
    pub(super) async fn end_by_id(
        &self,
        redis: &Redis,
        keys: &Keys,
        user_id: &str,
        session_id: &str,
        digest: &str,
        emit: &Emit<'_>,
    ) -> Result<bool, StoreError> {
        let index = keys.index_key(user_id);
        let base = keys.user_base(user_id);
        let ended: i64 = emit
            .run(
                redis,
                ("end_one", Change::Sessions),
                self.scripts
                    .end_one
                    .key(&index)
                    .arg(&base)
                    .arg(session_id)
                    .arg(digest)
                    .arg(keys.channel())
                    .arg(user_id),
            )
            .await?;
        Ok(ended == 1)
    }

    /// Ends every session of the user except `keep`; how many ended.
    pub(super) async fn end_all(
        &self,
        redis: &Redis,
        keys: &Keys,
        user_id: &str,
        keep: Option<&str>,
        emit: &Emit<'_>,
    ) -> Result<u64, StoreError> {
        let index = keys.index_key(user_id);
        let base = keys.user_base(user_id);
        emit.run(
            redis,
            ("end_all", Change::Sessions),
            self.scripts
                .end_all
                .key(&index)
                .arg(&base)
                .arg(keep.unwrap_or(""))
                .arg(keys.channel())
                .arg(user_id),
        )
        .await
    }

    /// The user's live sessions, newest first.
    pub(super) async fn list(
        &self,
        redis: &Redis,
        keys: &Keys,
        user_id: &str,
        emit: &Emit<'_>,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        let index = keys.index_key(user_id);
        let base = keys.user_base(user_id);
        let rows: Vec<(String, i64, i64, i64, String, String)> = emit
            .run(
                redis,
                ("list", Change::Nothing),
                self.scripts.list.key(&index).arg(&base),
            )
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

    /// Pushes the session's idle deadline to now + `idle_seconds` (never past `exp`)
    /// while it holds `token`'s digest; the new end.
    pub(super) async fn touch(
        &self,
        redis: &Redis,
        keys: &Keys,
        (user_id, session_id): (&str, &str),
        token: &str,
        (now_ms, idle_seconds): (i64, u64),
    ) -> Result<Option<i64>, StoreError> {
        let key = keys.session_key(user_id, session_id);
        let digest = token_digest(token);
        let ends: i64 = redis
            .script(
                "touch",
                Change::Nothing,
                self.scripts
                    .touch
                    .key(&key)
                    .arg(&digest)
                    .arg(now_ms)
                    .arg(idle_seconds.saturating_mul(1000)),
            )
            .await?;
        Ok((ends > 0).then_some(ends))
    }
}

impl Multiple {
    /// Swaps session `session_id`'s token `old` for `new` (their digests), keeping its
    /// expiry and record; false when it no longer holds `old`.
    pub(super) async fn rotate(
        &self,
        redis: &Redis,
        keys: &Keys,
        (user_id, session_id): (&str, &str),
        (old, new): (&str, &str),
    ) -> Result<bool, StoreError> {
        let key = keys.session_key(user_id, session_id);
        let rotated: i64 = redis
            .script(
                "rotate",
                Change::Sessions,
                self.scripts
                    .rotate
                    .key(&key)
                    .arg(token_digest(old))
                    .arg(token_digest(new))
                    .arg(keys.channel())
                    .arg(user_id),
            )
            .await?;
        Ok(rotated == 1)
    }
}

/// The SHA-256 of a token as lowercase hex: what `multiple` mode keeps instead of it.
///
/// The hex is the `hex` crate's: our own loop measured no faster (`make bench-parts`,
/// `PARTS_ONLY=hex`, medians of 11 on 2 loaded cores: 578 ns per digest against 464 ns
/// with `hex::encode_to_slice`, the hash included).
pub fn token_digest(token: &str) -> String {
    let mut out = [0u8; 64];
    // A SHA-256 is 32 bytes, so the 64 digits always fit.
    let _ = hex::encode_to_slice(Sha256::digest(token.as_bytes()), &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_digest_is_sha256_in_lowercase_hex() {
        assert_eq!(
            super::token_digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
