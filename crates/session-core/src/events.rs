//! Session events: every change to a session or an account, for other services
//! (audit trails, websocket servers that drop a signed-out user, caches of their own,
//! security notices).
//!
//! The auth-service appends them to a Redis Stream (`events.stream`, default
//! `<session.key_prefix>events`): session events inside the store's own scripts (the
//! same atomic step as the change, on standalone and Sentinel; right after it on a
//! Cluster), account events after the MongoDB write. An entry has two fields, `type`
//! and `data` (the event as JSON). It also delivers them as webhooks signed per the
//! Standard Webhooks specification; [`verify_webhook`] is the receiving side, for a
//! Rust service of another team.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::Sha256;

/// Every event type, in the contract's order.
pub const TYPES: &[&str] = &[
    SESSION_CREATED,
    SESSION_ENDED,
    USER_CREATED,
    USER_DELETED,
    USER_EMAIL_VERIFIED,
    PASSWORD_CHANGED,
];

/// A session started (`sessionId`, `expiresAt`, `ip`, `userAgent`).
pub const SESSION_CREATED: &str = "session.created";
/// A session ended (`sessionId`, `reason`).
pub const SESSION_ENDED: &str = "session.ended";
/// An account was made (`email`).
pub const USER_CREATED: &str = "user.created";
/// An account was deleted.
pub const USER_DELETED: &str = "user.deleted";
/// An account's email was verified.
pub const USER_EMAIL_VERIFIED: &str = "user.email_verified";
/// A password changed (`via`: `change` or `reset`).
pub const PASSWORD_CHANGED: &str = "password.changed";

/// The event type named `name`, as the `'static` string metrics are labelled with.
pub fn known_type(name: &str) -> Option<&'static str> {
    TYPES.iter().copied().find(|t| *t == name)
}

/// Why a session ended (`session.ended`'s `reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// `POST /logout`.
    Logout,
    /// `DELETE /sessions/{sessionId}`.
    Revoked,
    /// `POST /logout/others`.
    LogoutOthers,
    /// `POST /logout/all`.
    LogoutAll,
    /// A login made room (`session.when_full = evict_oldest`), or replaced a session
    /// whose token no longer verifies.
    Evicted,
    /// The user changed the password (the other sessions).
    PasswordChanged,
    /// The password was reset by mail.
    PasswordReset,
    /// An administrator ended the user's sessions.
    Admin,
    /// The user was deleted.
    UserDeleted,
    /// A script found the session past its deadline (the index pruning of `multiple`).
    Expired,
}

impl Reason {
    /// The reason as the contract spells it (also `sessions_ended_total`'s label).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Logout => "logout",
            Self::Revoked => "revoked",
            Self::LogoutOthers => "logout_others",
            Self::LogoutAll => "logout_all",
            Self::Evicted => "evicted",
            Self::PasswordChanged => "password_changed",
            Self::PasswordReset => "password_reset",
            Self::Admin => "admin",
            Self::UserDeleted => "user_deleted",
            Self::Expired => "expired",
        }
    }

    /// Every reason.
    pub const ALL: [Reason; 10] = [
        Self::Logout,
        Self::Revoked,
        Self::LogoutOthers,
        Self::LogoutAll,
        Self::Evicted,
        Self::PasswordChanged,
        Self::PasswordReset,
        Self::Admin,
        Self::UserDeleted,
        Self::Expired,
    ];

    /// The reason spelled `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

/// The event stream (`events.*`).
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct EventsSettings {
    /// Append events at all (default true).
    pub enabled: bool,
    /// The stream's key; default `<session.key_prefix>events`.
    #[serde(default)]
    pub stream: Option<String>,
    /// Trimmed approximately (`MAXLEN ~`) to this many entries.
    pub max_len: u64,
}

impl EventsSettings {
    /// The stream's key under `key_prefix` (`session.key_prefix`) unless named.
    pub fn stream_key(&self, key_prefix: &str) -> String {
        self.stream
            .clone()
            .unwrap_or_else(|| format!("{key_prefix}events"))
    }

    /// The dead-letter stream of the webhook deliveries: `<stream>:dead`.
    pub fn dead_key(&self, key_prefix: &str) -> String {
        format!("{}:dead", self.stream_key(key_prefix))
    }
}

/// A new event id: a UUIDv7 (time-ordered), lowercase hyphenated.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Now, RFC 3339 UTC with milliseconds: an event's `time`.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// An account event (`user.*`, `password.changed`) as its JSON, ready to append.
pub fn account_event(kind: &'static str, user_id: &str, extra: &[(&str, &str)]) -> String {
    let mut event = serde_json::Map::new();
    event.insert("id".into(), new_id().into());
    event.insert("type".into(), kind.into());
    event.insert("time".into(), now().into());
    event.insert("userId".into(), user_id.into());
    for (name, value) in extra {
        event.insert((*name).into(), (*value).into());
    }
    serde_json::Value::Object(event).to_string()
}

/// A webhook secret that is not `whsec_` + standard base64 of at least 24 bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a webhook secret is whsec_ followed by the base64 of at least 24 random bytes")]
pub struct BadSecret;

/// The key a `whsec_...` secret stands for.
pub fn decode_secret(secret: &str) -> Result<Vec<u8>, BadSecret> {
    let encoded = secret.strip_prefix("whsec_").ok_or(BadSecret)?;
    let key = STANDARD.decode(encoded).map_err(|_| BadSecret)?;
    if key.len() < 24 {
        return Err(BadSecret);
    }
    Ok(key)
}

/// The `webhook-signature` value of a delivery (Standard Webhooks, `v1`): the base64
/// of HMAC-SHA256 over `{id}.{timestamp}.{body}`, keyed with the decoded secret.
pub fn sign_webhook(key: &[u8], id: &str, timestamp: i64, body: &str) -> String {
    format!("v1,{}", STANDARD.encode(mac(key, id, timestamp, body)))
}

fn mac(key: &[u8], id: &str, timestamp: i64, body: &str) -> Vec<u8> {
    // HMAC takes a key of any length.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return Vec::new();
    };
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// Why a received webhook was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// No `v1` signature in `webhook-signature` matches.
    #[error("no signature matches")]
    Signature,
    /// `webhook-timestamp` is not a number, or too far from now (a replay).
    #[error("the timestamp is malformed or outside the tolerance")]
    Timestamp,
}

/// Checks a received webhook as the Standard Webhooks specification says: the
/// timestamp within `tolerance_seconds` of `now` (Unix seconds), and one of the
/// space-separated `v1,` signatures made with `key` over `{id}.{timestamp}.{body}`
/// (compared in constant time). A receiver then dedupes by `webhook-id`.
pub fn verify_webhook(
    key: &[u8],
    (id, timestamp, signatures): (&str, &str, &str),
    body: &str,
    (now, tolerance_seconds): (i64, i64),
) -> Result<(), WebhookError> {
    let timestamp: i64 = timestamp.parse().map_err(|_| WebhookError::Timestamp)?;
    if (now - timestamp).abs() > tolerance_seconds {
        return Err(WebhookError::Timestamp);
    }
    let matches = signatures.split(' ').any(|one| {
        let Some(encoded) = one.strip_prefix("v1,") else {
            return false;
        };
        let Ok(given) = STANDARD.decode(encoded) else {
            return false;
        };
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
            return false;
        };
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body.as_bytes());
        mac.verify_slice(&given).is_ok()
    });
    if matches {
        Ok(())
    } else {
        Err(WebhookError::Signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The Standard Webhooks specification's published example (its README and every
    // reference library's tests): this secret, id, timestamp and body sign to this value.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: i64 = 1614265330;
    const BODY: &str = r#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn signatures_match_the_specifications_test_vector() {
        let key = decode_secret(SECRET).expect("the example secret decodes");
        assert_eq!(sign_webhook(&key, ID, TIMESTAMP, BODY), SIGNATURE);
        let headers = (ID, "1614265330", SIGNATURE);
        assert_eq!(
            verify_webhook(&key, headers, BODY, (TIMESTAMP + 10, 300)),
            Ok(())
        );
    }

    #[test]
    fn verification_refuses_a_changed_body_an_old_timestamp_and_another_key() {
        let key = decode_secret(SECRET).expect("decodes");
        let headers = (ID, "1614265330", SIGNATURE);
        let changed = r#"{"test": 2432232315}"#;
        assert_eq!(
            verify_webhook(&key, headers, changed, (TIMESTAMP, 300)),
            Err(WebhookError::Signature)
        );
        assert_eq!(
            verify_webhook(&key, headers, BODY, (TIMESTAMP + 301, 300)),
            Err(WebhookError::Timestamp)
        );
        assert_eq!(
            verify_webhook(&key, (ID, "soon", SIGNATURE), BODY, (TIMESTAMP, 300)),
            Err(WebhookError::Timestamp)
        );
        let other = vec![7u8; 32];
        assert_eq!(
            verify_webhook(&other, headers, BODY, (TIMESTAMP, 300)),
            Err(WebhookError::Signature)
        );
        // One good signature among several is enough (key rotation).
        let several = format!("v1,bm90IGl0 {SIGNATURE}");
        assert_eq!(
            verify_webhook(&key, (ID, "1614265330", &several), BODY, (TIMESTAMP, 300)),
            Ok(())
        );
    }

    #[test]
    fn secrets_must_be_whsec_and_base64_of_24_bytes_or_more() {
        assert!(decode_secret(SECRET).is_ok());
        assert_eq!(
            decode_secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            Err(BadSecret)
        );
        assert_eq!(decode_secret("whsec_not base64!"), Err(BadSecret));
        // 16 bytes: too short.
        assert_eq!(
            decode_secret(&format!("whsec_{}", STANDARD.encode([1u8; 16]))),
            Err(BadSecret)
        );
        assert!(decode_secret(&format!("whsec_{}", STANDARD.encode([1u8; 24]))).is_ok());
    }

    #[test]
    fn ids_are_time_ordered_uuid_v7() {
        let first = new_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let second = new_id();
        assert_eq!(first.len(), 36);
        assert_eq!(&first[14..15], "7");
        assert!(first < second);
        assert!(now().ends_with('Z'));
        assert_eq!(now().len(), "2026-12-03T23:00:00.000Z".len());
    }

    #[test]
    fn reasons_round_trip() {
        for reason in Reason::ALL {
            assert_eq!(Reason::parse(reason.as_str()), Some(reason));
        }
        assert_eq!(Reason::parse("nope"), None);
    }
}
