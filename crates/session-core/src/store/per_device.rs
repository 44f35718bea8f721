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
//! invalidation channel in the same atomic step.

use sha2::{Digest, Sha256};

/// Prunes the index, makes room (evicting the oldest, or refusing), stores the
/// session. KEYS: index. ARGV: base, sid, digest, created ms, created s, absolute s,
/// ends s, ip, ua, max, deny (1/0), channel, user id, now s, ends ms.
/// Returns {created (1/0), evicted}.
pub(super) const OPEN: &str = r"
local base = ARGV[1]
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if redis.call('EXISTS', base .. id) == 0 then redis.call('ZREM', KEYS[1], id) end
end
local max = tonumber(ARGV[10])
local n = redis.call('ZCARD', KEYS[1])
local evicted = 0
if n >= max then
  if ARGV[11] == '1' then return {0, 0} end
  for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, n - max)) do
    redis.call('DEL', base .. id)
    redis.call('ZREM', KEYS[1], id)
    evicted = evicted + 1
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
return {1, evicted}
";

/// Ends one session, only while it still holds the presented token's digest (an
/// empty digest ends it whatever it holds). KEYS: index. ARGV: base, sid, digest,
/// channel, user id. Returns 1 when a session ended.
pub(super) const END_ONE: &str = r"
local key = ARGV[1] .. ARGV[2]
local held = redis.call('HGET', key, 'd')
if held and (ARGV[3] == '' or held == ARGV[3]) then
  redis.call('DEL', key)
  redis.call('ZREM', KEYS[1], ARGV[2])
  redis.call('PUBLISH', ARGV[4], ARGV[5])
  return 1
end
redis.call('ZREM', KEYS[1], ARGV[2])
return 0
";

/// Ends every session of the user but `keep` (empty: all). KEYS: index. ARGV: base,
/// keep, channel, user id. Returns how many ended.
pub(super) const END_ALL: &str = r"
local base = ARGV[1]
local ended = 0
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if id ~= ARGV[2] then
    ended = ended + redis.call('DEL', base .. id)
    redis.call('ZREM', KEYS[1], id)
  end
end
if redis.call('ZCARD', KEYS[1]) == 0 then redis.call('DEL', KEYS[1]) end
redis.call('PUBLISH', ARGV[3], ARGV[4])
return ended
";

/// Prunes the index and returns each live session as {id, c, a, e, ip, ua}.
/// KEYS: index. ARGV: base.
pub(super) const LIST: &str = r"
local out = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local f = redis.call('HMGET', ARGV[1] .. id, 'c', 'a', 'e', 'ip', 'ua')
  if f[1] then
    table.insert(out, {id, f[1], f[2], f[3], f[4] or '', f[5] or ''})
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out
";

/// Pushes the idle deadline to min(now + idle, absolute) while the session holds the
/// digest. KEYS: the session key. ARGV: digest, now ms, idle ms. Returns the new end
/// (seconds), or 0 when the session is gone or holds another digest.
pub(super) const TOUCH: &str = r"
local f = redis.call('HMGET', KEYS[1], 'd', 'a')
if not f[1] or f[1] ~= ARGV[1] then return 0 end
local ends = math.min(tonumber(ARGV[2]) + tonumber(ARGV[3]), tonumber(f[2]) * 1000)
redis.call('HSET', KEYS[1], 'e', math.floor(ends / 1000))
redis.call('PEXPIREAT', KEYS[1], ends)
return math.floor(ends / 1000)
";

/// The SHA-256 of a token as lowercase hex: what `multiple` mode keeps instead of it.
pub fn token_digest(token: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let hash = Sha256::digest(token.as_bytes());
    let mut out = String::with_capacity(64);
    for byte in hash {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    out
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
