//! `events tail`: prints the session event stream as it grows, one event (JSON) a line,
//! for operators (`sessionctl events tail | jq`).

use std::time::Duration;

use anyhow::bail;
use auth_service::configuration::Settings;
use redis::Value;
use session_core::SessionStore;

use crate::output;

/// Prints events appended from now on (or, with `from_start`, every event the stream
/// still holds first); stops after `limit` events when given.
pub async fn tail(from_start: bool, limit: Option<u64>) -> anyhow::Result<()> {
    let settings = Settings::load()?;
    if !settings.events.enabled {
        bail!("events.enabled is false: the auth-service appends no events");
    }
    let stream = settings.events.stream_key(&settings.session.key_prefix);
    let store = SessionStore::new(&settings.redis, &settings.session)?;
    let redis = store.redis();
    let mut last = if from_start {
        "0-0".to_owned()
    } else {
        "$".to_owned()
    };
    if last == "$" {
        // XREAD without BLOCK takes no "$": start after the stream's newest entry.
        let mut cmd = redis::cmd("XINFO");
        cmd.arg("STREAM").arg(&stream);
        let info: Result<Value, _> = redis
            .with_connection("xinfo", |mut conn| async move {
                cmd.query_async(&mut conn).await
            })
            .await;
        last = match info {
            Ok(info) => last_generated(&info).unwrap_or_else(|| "0-0".into()),
            // No stream yet: everything it will hold is new.
            Err(_) => "0-0".into(),
        };
    }
    let mut printed = 0u64;
    let mut failures = 0u32;
    loop {
        let mut cmd = redis::cmd("XREAD");
        cmd.arg("COUNT")
            .arg(100)
            .arg("STREAMS")
            .arg(&stream)
            .arg(&last);
        let read: Result<Option<Streams>, _> = redis
            .with_connection("xread", |mut conn| async move {
                cmd.query_async(&mut conn).await
            })
            .await;
        let entries: Vec<Entry> = match read {
            Ok(streams) => {
                failures = 0;
                streams
                    .and_then(|s| s.into_iter().next())
                    .map(|(_, entries)| entries)
                    .unwrap_or_default()
            }
            Err(_) => {
                failures += 1;
                if failures == 10 {
                    bail!(
                        "Redis did not answer ten times in a row; check redis.url and that Redis is up"
                    );
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        if entries.is_empty() {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        let mut text = String::new();
        for (id, fields) in entries {
            last = id;
            let Some((_, data)) = fields.into_iter().find(|(name, _)| name == "data") else {
                continue;
            };
            // The event as appended; a control character cannot reach the terminal
            // raw (JSON escapes them).
            text.push_str(&data);
            text.push('\n');
            printed += 1;
            if limit.is_some_and(|n| printed >= n) {
                break;
            }
        }
        output::print(&text)?;
        if limit.is_some_and(|n| printed >= n) {
            return Ok(());
        }
    }
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    }
}

fn last_generated(info: &Value) -> Option<String> {
    let Value::Array(fields) = info else {
        return None;
    };
    fields
        .chunks(2)
        .find(|pair| text(&pair[0]).as_deref() == Some("last-generated-id"))
        .and_then(|pair| pair.get(1))
        .and_then(text)
}

/// A stream entry as Redis answers it: its id and its fields.
type Entry = (String, Vec<(String, String)>);

/// An `XREAD` answer: each stream's name and entries.
type Streams = Vec<(String, Vec<Entry>)>;
