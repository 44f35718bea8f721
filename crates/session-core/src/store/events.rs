//! How the store's scripts append session events (see [`crate::events`]).
//!
//! Every script that creates or ends sessions starts with [`PRELUDE`]: it reads the
//! call's event context (the script's last argument, JSON) and offers `created()` and
//! `ended(sessionId, reason)`. On standalone and Sentinel the stream is the script's
//! second key and each event is appended there, in the same atomic step as the change:
//! an acknowledged change always has its events, a refused one never has. On a Cluster
//! the stream lives in another slot, so the script hands its events back and the store
//! appends them right after; an append that fails then is counted
//! (`events_lost_total`) and the change's answer stands.
//!
//! Every script answers `{result, events}`, `events` a flat list of type and data (data
//! empty when the script appended it itself), so the counts
//! (`events_appended_total{type}`) are kept in one place. A session a script found
//! gone (pruned from `multiple` mode's index) adds the pair `expired` and nothing,
//! events on or off: `sessions_ended_total{reason="expired"}` counts it, as the
//! service counts the endings a request causes.

use super::redis::{Change, Redis};
use crate::error::StoreError;
use crate::events::{self, Reason};

/// The Lua every event-appending script begins with. The call's event context is its
/// last eight arguments: on (1/0), the event id's first 32 characters (a UUIDv7; the
/// last four hex digits count the call's events: still time-ordered and unique, 46
/// random bits remain per millisecond), the JSON every event ends with (`time`,
/// `userId`), the stream's length, the reason of endings, the ended session when the
/// caller knows it, a new session's JSON fields and its id. The events' JSON is put
/// together from those pieces (written by the store in Rust, escaped there); no JSON
/// is parsed or encoded in the script but a token's claims when it must read them.
pub(super) const PRELUDE: &str = r#"
local C = #ARGV - 8
local EV = {on = ARGV[C + 1], id = ARGV[C + 2], tail = ARGV[C + 3], m = ARGV[C + 4],
  r = ARGV[C + 5], e = ARGV[C + 6], cf = ARGV[C + 7], sid = ARGV[C + 8]}
local OUT = {}
local N = 0
local function emit(kind, fields)
  if EV.on ~= '1' then return end
  local data = '{"id":"' .. EV.id .. string.format('%04x', N) .. '","type":"' .. kind
    .. '",' .. fields .. ',' .. EV.tail .. '}'
  if KEYS[2] then
    redis.call('XADD', KEYS[2], 'MAXLEN', '~', EV.m, '*', 'type', kind, 'data', data)
    table.insert(OUT, kind)
    table.insert(OUT, '')
  else
    table.insert(OUT, kind)
    table.insert(OUT, data)
  end
  N = N + 1
end
local B64 = {}
do
  local alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  for i = 1, 64 do B64[string.byte(alphabet, i)] = i - 1 end
end
local function token_sid(token)
  local payload = string.match(token, '^[^.]*%.([^.]*)%.')
  if not payload then return '' end
  local out, acc, bits = {}, 0, 0
  for i = 1, #payload do
    local v = B64[string.byte(payload, i)]
    if not v then return '' end
    acc = acc * 64 + v
    bits = bits + 6
    if bits >= 8 then
      bits = bits - 8
      local byte = math.floor(acc / 2 ^ bits)
      out[#out + 1] = string.char(byte)
      acc = acc - byte * 2 ^ bits
    end
  end
  local ok, claims = pcall(cjson.decode, table.concat(out))
  if ok and type(claims) == 'table' and type(claims.sid) == 'string' then return claims.sid end
  return ''
end
local function safe(sid)
  if string.find(sid, '^[%w_%-]*$') then return sid end
  return ''
end
local function sid_of(token)
  if EV.on ~= '1' then return '' end
  if EV.e ~= '' then return EV.e end
  return token_sid(token)
end
local function ended(sid, reason)
  emit('session.ended', '"sessionId":"' .. safe(sid) .. '","reason":"' .. reason .. '"')
  if reason == 'expired' then
    table.insert(OUT, 'expired')
    table.insert(OUT, '')
  end
end
local function created(token)
  if EV.on ~= '1' then return end
  local sid = EV.sid
  if sid == '' then sid = token_sid(token) end
  emit('session.created', '"sessionId":"' .. safe(sid) .. '",' .. EV.cf)
end
"#;

/// Where the store appends events (`events.*`).
#[derive(Debug, Clone)]
pub(super) struct EventStream {
    key: String,
    max_len: String,
    /// Standalone and Sentinel: the scripts append (one slot for everything).
    inline: bool,
}

impl EventStream {
    /// The stream `key`, trimmed to about `max_len` entries; `inline` unless the store
    /// runs on a Redis Cluster.
    pub(super) fn new(key: String, max_len: u64, inline: bool) -> Self {
        Self {
            key,
            max_len: max_len.to_string(),
            inline,
        }
    }

    /// `XADD` of one event, trimmed like every append.
    fn xadd(&self, kind: &str, data: &str) -> redis::Cmd {
        let mut cmd = redis::cmd("XADD");
        cmd.arg(&self.key)
            .arg("MAXLEN")
            .arg("~")
            .arg(&self.max_len)
            .arg("*")
            .arg("type")
            .arg(kind)
            .arg("data")
            .arg(data);
        cmd
    }
}

/// What a new session's `session.created` says.
pub(super) struct Created<'a> {
    pub session_id: &'a str,
    /// When it ends if unused, epoch milliseconds (as login's `expiresAt`).
    pub ends_ms: i64,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

/// One script call's events: the context the prelude reads, and where they go.
pub(super) struct Emit<'a> {
    stream: Option<&'a EventStream>,
    context: [String; 8],
}

impl<'a> Emit<'a> {
    /// The events of a change to `user_id`'s sessions: endings for `reason` (of
    /// session `ending` when the caller knows which: then a `single`-mode script need
    /// not read it from the token), and `created` when the call may start one.
    pub(super) fn new(
        stream: Option<&'a EventStream>,
        (user_id, ending): (&str, Option<&str>),
        reason: Reason,
        created: Option<Created<'_>>,
    ) -> Self {
        let Some(stream_ref) = stream else {
            return Self {
                stream,
                context: Default::default(),
            };
        };
        let json = |value: &str| serde_json::Value::from(value).to_string();
        let id = events::new_id();
        let tail = format!(r#""time":"{}","userId":{}"#, events::now(), json(user_id));
        let (fields, session_id) = match created {
            Some(created) => {
                let expires_at = crate::session::rfc3339(created.ends_ms.div_euclid(1000));
                let or_null = |v: Option<&str>| v.map(json).unwrap_or_else(|| "null".into());
                (
                    format!(
                        r#""expiresAt":"{expires_at}","ip":{},"userAgent":{}"#,
                        or_null(created.ip),
                        or_null(created.user_agent)
                    ),
                    created.session_id.to_owned(),
                )
            }
            None => (String::new(), String::new()),
        };
        Self {
            stream,
            context: [
                "1".into(),
                id.get(..32).unwrap_or_default().to_owned(),
                tail,
                stream_ref.max_len.clone(),
                reason.as_str().to_owned(),
                ending.unwrap_or_default().to_owned(),
                fields,
                session_id,
            ],
        }
    }

    /// Adds the stream (when the script appends itself) and the context to a call.
    pub(super) fn attach<'s, 'i>(
        &self,
        invocation: &'i mut redis::ScriptInvocation<'s>,
    ) -> &'i mut redis::ScriptInvocation<'s> {
        if let Some(stream) = self.stream.filter(|s| s.inline) {
            invocation.key(&stream.key);
        }
        for value in &self.context {
            invocation.arg(value);
        }
        invocation
    }

    /// Runs an event-appending script: counts its events, appends them after it on a
    /// Cluster, then holds the change to `redis.wait_replicas` (an unconfirmed change
    /// was applied: its events stand).
    pub(super) async fn run<T: redis::FromRedisValue>(
        &self,
        redis: &Redis,
        (what, change): (&'static str, Change),
        invocation: &mut redis::ScriptInvocation<'_>,
    ) -> Result<T, StoreError> {
        let ((value, out), confirmed): ((T, Vec<String>), bool) = redis
            .script_confirmed(what, change, self.attach(invocation))
            .await?;
        self.settle(redis, out).await;
        redis.confirmed(what, confirmed)?;
        Ok(value)
    }

    async fn settle(&self, redis: &Redis, out: Vec<String>) {
        let expired = out
            .chunks(2)
            .filter(|pair| pair.first().is_some_and(|kind| kind == "expired"))
            .count();
        crate::measure::count_by(
            "sessions_ended_total",
            "reason",
            Reason::Expired.as_str(),
            expired as u64,
        );
        let Some(stream) = self.stream else {
            return;
        };
        let mut pending = Vec::new();
        for pair in out.chunks(2) {
            let [kind, data] = pair else { continue };
            let Some(kind) = events::known_type(kind) else {
                continue;
            };
            if data.is_empty() {
                crate::measure::count("events_appended_total", "type", kind);
            } else {
                pending.push((kind, data.as_str()));
            }
        }
        if pending.is_empty() {
            return;
        }
        let mut pipe = redis::pipe();
        for (kind, data) in &pending {
            pipe.add_command(stream.xadd(kind, data)).ignore();
        }
        let appended: Result<(), StoreError> = redis
            .with_connection("xadd", |mut conn| async move {
                pipe.query_async::<()>(&mut conn).await
            })
            .await;
        match appended {
            Ok(()) => {
                for (kind, _) in &pending {
                    crate::measure::count("events_appended_total", "type", kind);
                }
            }
            Err(_) => {
                tracing::error!(
                    lost = pending.len(),
                    "session events not appended after the change (cluster mode); the change stands"
                );
                crate::measure::count_by("events_lost_total", "", "", pending.len() as u64);
            }
        }
    }
}

/// Appends one account event (JSON from [`events::account_event`]) to `stream`.
pub(super) async fn append(
    redis: &Redis,
    stream: &EventStream,
    kind: &'static str,
    data: &str,
) -> Result<(), StoreError> {
    let cmd = stream.xadd(kind, data);
    let _: String = redis
        .with_connection("xadd", |mut conn| async move {
            cmd.query_async(&mut conn).await
        })
        .await?;
    crate::measure::count("events_appended_total", "type", kind);
    Ok(())
}
