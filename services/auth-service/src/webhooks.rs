//! Webhook delivery of the session events (`webhook.*`), as the Standard Webhooks
//! specification says: each event is `POST`ed with `webhook-id` (the event id),
//! `webhook-timestamp` and `webhook-signature` (`v1,` + HMAC-SHA256).
//!
//! Deliveries go through the consumer group `webhooks` on the event stream, so every
//! replica shares them. A replica reads new entries and tries each once, in stream
//! order; a failed try waits (exponential backoff from `webhook.retry_initial_ms`, at
//! most an hour) while new entries go on; after `webhook.max_attempts` tries the entry
//! goes to `<stream>:dead`. Every entry is acknowledged only once delivered or
//! dead-lettered. A replica keeps the claims of what it holds fresh, so waiting is never
//! mistaken for dying; entries a dead replica held for `webhook.claim_idle_ms` are taken
//! over (their tries are counted anew: the count lived in the dead replica). At least
//! once: a receiver dedupes by `webhook-id`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use redis::Value;
use secrecy::ExposeSecret;
use session_core::StoreError;
use session_core::client::{ClientOptions, http_client};
use session_core::events;
use session_core::measure::count;
use session_core::store::Redis;

use crate::configuration::{Settings, WebhookSettings};

/// The consumer group every replica delivers through.
pub const GROUP: &str = "webhooks";

/// New entries read at a time; small, so claims are refreshed often during slow tries.
const BATCH: usize = 16;

/// How often an idle replica asks for new entries: bounds the time from a change to
/// its first try (an `XREADGROUP` costs Redis about a microsecond).
const IDLE_POLL: Duration = Duration::from_millis(10);

/// The longest wait between two tries of one event.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// One entry this replica holds (claimed in the group, not yet acknowledged).
#[derive(Debug, Clone)]
struct Held {
    kind: String,
    data: String,
    /// Tries made so far.
    attempts: u32,
    /// When the next try is due.
    due: Instant,
    last_error: String,
}

/// The delivery loop of one replica.
pub struct Delivery {
    redis: Redis,
    stream: String,
    dead: String,
    max_len: String,
    url: String,
    key: Vec<u8>,
    types: Vec<&'static str>,
    client: reqwest::Client,
    consumer: String,
    retry_initial: Duration,
    max_attempts: u32,
    claim_idle: Duration,
}

impl Delivery {
    /// The delivery of `settings.webhook`, when a url is set and events are on.
    pub fn new(settings: &Settings, redis: Redis) -> anyhow::Result<Option<Self>> {
        let hook: &WebhookSettings = &settings.webhook;
        let (Some(url), Some(secret)) = (&hook.url, &hook.secret) else {
            return Ok(None);
        };
        if !settings.events.enabled {
            return Ok(None);
        }
        let key = events::decode_secret(secret.expose_secret())?;
        let client = http_client(&ClientOptions::new(Duration::from_millis(hook.timeout_ms)))?;
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "auth-service".into());
        Ok(Some(Self {
            redis,
            stream: settings.events.stream_key(&settings.session.key_prefix),
            dead: settings.events.dead_key(&settings.session.key_prefix),
            max_len: settings.events.max_len.to_string(),
            url: url.clone(),
            key,
            types: hook.type_list()?,
            client,
            consumer: format!(
                "{host}-{}-{}",
                std::process::id(),
                &uuid::Uuid::new_v4().simple().to_string()[..8]
            ),
            retry_initial: Duration::from_millis(hook.retry_initial_ms),
            max_attempts: hook.max_attempts,
            claim_idle: Duration::from_millis(hook.claim_idle_ms),
        }))
    }

    /// Runs the loop on the current runtime, for the life of the process.
    pub fn spawn(self) {
        tracing::info!(consumer = %self.consumer, "webhook delivery started");
        tokio::spawn(self.run());
    }

    async fn run(self) {
        let mut held: BTreeMap<StreamId, Held> = BTreeMap::new();
        let mut group_ready = false;
        let mut refreshed = Instant::now();
        let mut taken_over = Instant::now() - self.claim_idle;
        let mut sampled = Instant::now() - Duration::from_secs(1);
        let mut dropped_at: Option<String> = None;
        loop {
            if !group_ready {
                group_ready = self.create_group().await;
                if !group_ready {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            }
            let mut worked = false;
            if taken_over.elapsed() >= self.claim_idle / 2 {
                taken_over = Instant::now();
                worked |= self.take_over(&mut held).await;
            }
            // Retries that are due, oldest entry first.
            let due: Vec<StreamId> = held
                .iter()
                .filter(|(_, h)| h.due <= Instant::now())
                .map(|(id, _)| id.clone())
                .collect();
            for id in due {
                self.keep_claims(&held, &mut refreshed).await;
                if let Some(entry) = held.remove(&id) {
                    worked = true;
                    self.attempt(id, entry, &mut held).await;
                }
            }
            // New entries: first tries in stream order.
            match self.read_new().await {
                Ok(entries) => {
                    for (id, kind, data) in entries {
                        worked = true;
                        self.keep_claims(&held, &mut refreshed).await;
                        let entry = Held {
                            kind,
                            data,
                            attempts: 0,
                            due: Instant::now(),
                            last_error: String::new(),
                        };
                        self.attempt(id, entry, &mut held).await;
                    }
                }
                Err(ReadError::NoGroup) => group_ready = false,
                Err(ReadError::Unavailable) => {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
            self.keep_claims(&held, &mut refreshed).await;
            if sampled.elapsed() >= Duration::from_secs(1) {
                sampled = Instant::now();
                self.sample(&mut dropped_at).await;
            }
            if !worked {
                let next_due = held
                    .values()
                    .map(|h| h.due.saturating_duration_since(Instant::now()))
                    .min()
                    .unwrap_or(IDLE_POLL);
                tokio::time::sleep(next_due.min(IDLE_POLL)).await;
            }
        }
    }

    /// Creates the group (from the stream's end, making the stream) unless it exists.
    async fn create_group(&self) -> bool {
        let mut cmd = redis::cmd("XGROUP");
        cmd.arg("CREATE")
            .arg(&self.stream)
            .arg(GROUP)
            .arg("$")
            .arg("MKSTREAM");
        let created: Result<Result<(), String>, StoreError> = self
            .redis
            .with_connection("xgroup", |mut conn| async move {
                Ok(match cmd.query_async::<()>(&mut conn).await {
                    Ok(()) => Ok(()),
                    Err(err) if err.code() == Some("BUSYGROUP") => Ok(()),
                    Err(err) => Err(err.code().unwrap_or("error").to_owned()),
                })
            })
            .await;
        match created {
            Ok(Ok(())) => true,
            Ok(Err(code)) => {
                tracing::warn!(code = %code, "webhook consumer group not created");
                false
            }
            Err(_) => false,
        }
    }

    /// Tries to deliver `entry` once; delivered or dead: acknowledged; else it waits
    /// in `held` for its next try.
    async fn attempt(&self, id: StreamId, mut entry: Held, held: &mut BTreeMap<StreamId, Held>) {
        if !self.types.iter().any(|t| *t == entry.kind) {
            // A type this endpoint does not take: nothing to deliver.
            self.finish(&id, None).await;
            return;
        }
        entry.attempts += 1;
        match self.post(&entry.data).await {
            Ok(()) => {
                count("webhook_deliveries_total", "outcome", "delivered");
                if !self.finish(&id, None).await {
                    // Not acknowledged: the entry stays pending; it may be delivered
                    // again (at least once).
                    entry.due = Instant::now() + Duration::from_secs(1);
                    held.insert(id, entry);
                }
            }
            Err(error) => {
                entry.last_error = error;
                if entry.attempts >= self.max_attempts {
                    count("webhook_deliveries_total", "outcome", "dead");
                    tracing::warn!(
                        attempts = entry.attempts,
                        error = %entry.last_error,
                        "webhook delivery gave up; the event went to the dead-letter stream"
                    );
                    if !self.finish(&id, Some(&entry)).await {
                        entry.due = Instant::now() + Duration::from_secs(1);
                        held.insert(id, entry);
                    }
                } else {
                    count("webhook_deliveries_total", "outcome", "retried");
                    entry.due = Instant::now() + self.backoff(entry.attempts);
                    held.insert(id, entry);
                }
            }
        }
    }

    /// The wait after the `attempts`-th failed try.
    fn backoff(&self, attempts: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(30));
        self.retry_initial
            .checked_mul(factor)
            .unwrap_or(MAX_BACKOFF)
            .min(MAX_BACKOFF)
    }

    /// Posts one event; a 2xx acknowledges, anything else is the error to record.
    async fn post(&self, body: &str) -> Result<(), String> {
        let id = event_id(body).ok_or_else(|| "the entry's data has no event id".to_owned())?;
        let timestamp = chrono::Utc::now().timestamp();
        let signature = events::sign_webhook(&self.key, &id, timestamp, body);
        let sent = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body.to_owned())
            .send()
            .await;
        match sent {
            Ok(answer) if answer.status().is_success() => Ok(()),
            Ok(answer) => Err(format!("HTTP {}", answer.status().as_u16())),
            Err(err) if err.is_timeout() => Err("timed out".into()),
            Err(err) if err.is_connect() => Err("connection refused or failed".into()),
            Err(_) => Err("request failed".into()),
        }
    }

    /// Acknowledges an entry, dead-lettering it first when `dead` is given; true when
    /// Redis took it.
    async fn finish(&self, id: &StreamId, dead: Option<&Held>) -> bool {
        // The dead-letter stream may live in another Cluster slot: two commands, the
        // entry acknowledged only once it is dead-lettered.
        let entry = dead.cloned();
        let (stream, dead_key, max_len) = (&self.stream, &self.dead, &self.max_len);
        let id = &id.0;
        let result: Result<(), StoreError> = self
            .redis
            .with_connection("xack", |mut conn| async move {
                if let Some(entry) = entry {
                    redis::cmd("XADD")
                        .arg(dead_key)
                        .arg("MAXLEN")
                        .arg("~")
                        .arg(max_len)
                        .arg("*")
                        .arg("type")
                        .arg(&entry.kind)
                        .arg("data")
                        .arg(&entry.data)
                        .arg("attempts")
                        .arg(entry.attempts)
                        .arg("lastError")
                        .arg(&entry.last_error)
                        .query_async::<()>(&mut conn)
                        .await?;
                }
                redis::cmd("XACK")
                    .arg(stream)
                    .arg(GROUP)
                    .arg(id)
                    .query_async::<()>(&mut conn)
                    .await
            })
            .await;
        result.is_ok()
    }

    /// New entries for this consumer, oldest first.
    async fn read_new(&self) -> Result<Vec<(StreamId, String, String)>, ReadError> {
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(GROUP)
            .arg(&self.consumer)
            .arg("COUNT")
            .arg(BATCH)
            .arg("STREAMS")
            .arg(&self.stream)
            .arg(">");
        let read: Result<Result<Option<Streams>, String>, StoreError> = self
            .redis
            .with_connection("xreadgroup", |mut conn| async move {
                Ok(cmd
                    .query_async(&mut conn)
                    .await
                    .map_err(|err| err.code().unwrap_or("error").to_owned()))
            })
            .await;
        match read {
            Ok(Ok(streams)) => Ok(streams
                .and_then(|s| s.into_iter().next())
                .map(|(_, entries)| entries.into_iter().map(split).collect())
                .unwrap_or_default()),
            Ok(Err(code)) if code == "NOGROUP" => Err(ReadError::NoGroup),
            _ => Err(ReadError::Unavailable),
        }
    }

    /// Takes over entries another replica claimed and left idle for
    /// `webhook.claim_idle_ms`; true when any came.
    async fn take_over(&self, held: &mut BTreeMap<StreamId, Held>) -> bool {
        let mut cmd = redis::cmd("XAUTOCLAIM");
        cmd.arg(&self.stream)
            .arg(GROUP)
            .arg(&self.consumer)
            .arg(self.claim_idle.as_millis() as u64)
            .arg("0-0")
            .arg("COUNT")
            .arg(100);
        let claimed: Result<(String, Vec<Entry>, Vec<String>), StoreError> = self
            .redis
            .with_connection("xautoclaim", |mut conn| async move {
                cmd.query_async(&mut conn).await
            })
            .await;
        let Ok((_, claimed, deleted)) = claimed else {
            return false;
        };
        let mut any = false;
        for (id, kind, data) in claimed.into_iter().map(split) {
            if held.contains_key(&id) {
                continue;
            }
            any = true;
            tracing::info!("took over a webhook delivery another replica left");
            held.insert(
                id,
                Held {
                    kind,
                    data,
                    attempts: 0,
                    due: Instant::now(),
                    last_error: String::new(),
                },
            );
        }
        if !deleted.is_empty() {
            // Claimed entries the stream trimmed before they were delivered.
            session_core::measure::count_by("webhook_dropped_total", "", "", deleted.len() as u64);
        }
        any
    }

    /// Resets the idle time of every entry this replica holds (`XCLAIM ... JUSTID`), at
    /// least every third of `webhook.claim_idle_ms`.
    async fn keep_claims(&self, held: &BTreeMap<StreamId, Held>, refreshed: &mut Instant) {
        if refreshed.elapsed() < self.claim_idle / 3 || held.is_empty() {
            return;
        }
        *refreshed = Instant::now();
        let ids: Vec<String> = held.keys().map(|id| id.0.clone()).collect();
        for chunk in ids.chunks(100) {
            let mut cmd = redis::cmd("XCLAIM");
            cmd.arg(&self.stream)
                .arg(GROUP)
                .arg(&self.consumer)
                .arg(0)
                .arg(chunk)
                .arg("JUSTID");
            let _ = self
                .redis
                .with_connection("xclaim", |mut conn| async move {
                    cmd.query_async::<Value>(&mut conn).await
                })
                .await;
        }
    }

    /// Samples the group's pending count (`webhook_pending`) and counts entries the
    /// stream trimmed before the group read them (`webhook_dropped_total`).
    async fn sample(&self, dropped_at: &mut Option<String>) {
        let stream = self.stream.clone();
        let sampled = self
            .redis
            .with_connection("xinfo", |mut conn| async move {
                let groups: Value = redis::cmd("XINFO")
                    .arg("GROUPS")
                    .arg(&stream)
                    .query_async(&mut conn)
                    .await?;
                let info: Value = redis::cmd("XINFO")
                    .arg("STREAM")
                    .arg(&stream)
                    .query_async(&mut conn)
                    .await?;
                Ok((groups, info))
            })
            .await;
        let Ok((groups, info)) = sampled else {
            return;
        };
        let groups = list(&groups);
        let Some(group) = groups
            .iter()
            .find(|g| field(g, "name").and_then(text).as_deref() == Some(GROUP))
        else {
            return;
        };
        if let Some(pending) = field(group, "pending").and_then(int) {
            session_core::measure::set("webhook_pending", pending as f64);
        }
        // Entries added but neither read by the group nor still in the stream were
        // trimmed unread: counted once per gap (the group's position then moves on).
        let last = field(group, "last-delivered-id").and_then(text);
        let read = field(group, "entries-read").and_then(int);
        let added = field(&info, "entries-added").and_then(int);
        let length = field(&info, "length").and_then(int);
        let first = field(&info, "first-entry")
            .and_then(|e| list(e).first().copied())
            .and_then(text);
        if let (Some(last), Some(read), Some(added), Some(length), Some(first)) =
            (last, read, added, length, first)
            && StreamId(first) > StreamId(last.clone())
            && dropped_at.as_deref() != Some(last.as_str())
        {
            let lost = added - read - length;
            if lost > 0 {
                session_core::measure::count_by("webhook_dropped_total", "", "", lost as u64);
                tracing::warn!(
                    lost,
                    "events were trimmed from the stream before webhook delivery"
                );
            }
            *dropped_at = Some(last);
        }
    }
}

enum ReadError {
    NoGroup,
    Unavailable,
}

/// A stream entry id, ordered as Redis orders them (`ms-seq`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct StreamId(String);

impl StreamId {
    fn parts(&self) -> (u64, u64) {
        let (ms, seq) = self.0.split_once('-').unwrap_or((&self.0, "0"));
        (ms.parse().unwrap_or(0), seq.parse().unwrap_or(0))
    }
}

impl Ord for StreamId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.parts().cmp(&other.parts())
    }
}

impl PartialOrd for StreamId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// The `id` of an event's JSON.
fn event_id(data: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Id {
        id: String,
    }
    serde_json::from_str::<Id>(data).ok().map(|e| e.id)
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    }
}

fn int(value: &Value) -> Option<i64> {
    match value {
        Value::Int(n) => Some(*n),
        other => text(other).and_then(|s| s.parse().ok()),
    }
}

fn list(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(items) => items.iter().collect(),
        _ => Vec::new(),
    }
}

/// The value after `name` in a flat name/value reply (or a map).
fn field<'v>(value: &'v Value, name: &str) -> Option<&'v Value> {
    match value {
        Value::Array(items) => items
            .chunks(2)
            .find(|pair| text(&pair[0]).as_deref() == Some(name))
            .and_then(|pair| pair.get(1)),
        Value::Map(pairs) => pairs
            .iter()
            .find(|(k, _)| text(k).as_deref() == Some(name))
            .map(|(_, v)| v),
        _ => None,
    }
}

/// A stream entry as Redis answers it: its id and its fields.
type Entry = (String, Vec<(String, String)>);

/// An `XREADGROUP` answer: each stream's name and entries.
type Streams = Vec<(String, Vec<Entry>)>;

/// An entry as (id, type, data); an entry without both fields has empty ones (it is
/// acknowledged as a type no endpoint takes).
fn split((id, fields): Entry) -> (StreamId, String, String) {
    let mut kind = String::new();
    let mut data = String::new();
    for (name, value) in fields {
        match name.as_str() {
            "type" => kind = value,
            "data" => data = value,
            _ => {}
        }
    }
    (StreamId(id), kind, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_ids_order_as_redis_does() {
        assert!(StreamId("9-1".into()) < StreamId("10-0".into()));
        assert!(StreamId("10-2".into()) < StreamId("10-10".into()));
    }

    #[test]
    fn the_event_id_is_read_from_the_data() {
        assert_eq!(
            event_id(r#"{"id":"0193-x","type":"user.deleted"}"#).as_deref(),
            Some("0193-x")
        );
        assert_eq!(event_id("not json"), None);
    }
}
