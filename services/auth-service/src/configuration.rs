//! The auth-service's settings: the contract's keys, layered with the `config` crate.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use session_core::cache::CacheSettings;
use session_core::events::{self, EventsSettings};

pub use crate::mail::MailSettings;
use session_core::settings::{
    self, InternalSettings, JwtAlgorithm, JwtSettings, MetricsSettings, RedisSettings,
    ServerSettings, SessionSettings, SettingsError,
};

/// The auth-service's own defaults, on top of session-core's shared ones.
const DEFAULTS: &str = r#"
[server]
host = "127.0.0.1"
port = 8080
shutdown_timeout_seconds = 30
workers = 0
request_timeout_ms = 10000
max_connections = 0
public_url = "http://127.0.0.1:8080"

[mongodb]
uri = "mongodb://127.0.0.1:27017"
database = "session_store"
timeout_ms = 2000

[login]
max_failures_per_email = 5
failure_window_seconds = 900
max_failures_per_ip_per_minute = 100

[password]
bcrypt_cost = 12
max_queue = 32

[validation]
cache = false
cache_max_entries = 100000
cache_heartbeat_ms = 1000
cache_max_age_ms = 5000

[signup]
max_per_ip_per_hour = 20
max_per_minute = 300
verify_email = false

[mail]
from = "no-reply@localhost"
max_attempts = 5
retry_initial_ms = 40000
timeout_ms = 10000

[recovery]
token_ttl_seconds = 1800
verify_ttl_seconds = 86400
max_per_email_per_hour = 3
max_per_ip_per_hour = 20

[events]
enabled = true
max_len = 100000

[webhook]
types = ""
timeout_ms = 5000
retry_initial_ms = 1000
max_attempts = 10
claim_idle_ms = 30000
"#;

/// Everything the auth-service reads at start.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Settings {
    /// Where to listen.
    pub server: ServerSettings,
    /// `GET /metrics`.
    pub metrics: MetricsSettings,
    /// Span export (`telemetry.otlp_endpoint`).
    #[serde(default)]
    pub telemetry: service_kit::telemetry::TelemetrySettings,
    /// The session store.
    pub redis: RedisSettings,
    /// The users database.
    pub mongodb: MongoSettings,
    /// Session lifetime, key prefix, seed mode.
    pub session: SessionSettings,
    /// Token signing.
    pub jwt: JwtSettings,
    /// Login throttling.
    pub login: LoginSettings,
    /// Password hashing.
    pub password: PasswordSettings,
    /// Sign-up throttling.
    pub signup: SignupSettings,
    /// The validation cache of `GET /verify`.
    pub validation: VerifyCacheSettings,
    /// The token internal callers present on `/introspect`.
    pub internal: InternalSettings,
    /// The admin endpoints' token.
    #[serde(default)]
    pub admin: AdminSettings,
    /// The session event stream.
    pub events: EventsSettings,
    /// Webhook delivery of the events.
    pub webhook: WebhookSettings,
    /// Outgoing mail (recovery and verification).
    pub mail: MailSettings,
    /// Password reset and email verification tokens and their limits.
    pub recovery: RecoverySettings,
}

/// Delivery of the session events to one HTTP endpoint, signed per the Standard
/// Webhooks specification (`webhook.*`).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct WebhookSettings {
    /// Where events are posted; none: no webhooks.
    #[serde(default, serialize_with = "session_core::masked::optional_url")]
    pub url: Option<String>,
    /// `whsec_` + base64 of at least 24 bytes; required with the url.
    #[serde(default, serialize_with = "session_core::masked::optional_secret")]
    pub secret: Option<SecretString>,
    /// Comma-separated event types to deliver; empty: all.
    pub types: String,
    /// A try that has no answer after this long failed.
    pub timeout_ms: u64,
    /// The first retry's delay; each next doubles, up to an hour.
    pub retry_initial_ms: u64,
    /// Tries in all, the first included; then the event goes to `<stream>:dead`.
    pub max_attempts: u32,
    /// An entry another replica claimed and left this long is taken over.
    pub claim_idle_ms: u64,
}

impl WebhookSettings {
    /// The event types to deliver (every type when `webhook.types` is empty), or the
    /// error naming the key.
    pub fn type_list(&self) -> Result<Vec<&'static str>, SettingsError> {
        let named: Vec<&str> = self
            .types
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .collect();
        if named.is_empty() {
            return Ok(events::TYPES.to_vec());
        }
        named
            .into_iter()
            .map(|name| {
                events::known_type(name).ok_or(SettingsError::OutOfRange {
                    key: "webhook.types",
                    allowed: "a comma-separated list of session.created, session.ended, user.created, user.deleted, user.email_verified, password.changed",
                })
            })
            .collect()
    }

    /// Refuses a url without a secret, a malformed secret or url, unknown types and
    /// bounds of zero.
    pub fn check(&self) -> Result<(), SettingsError> {
        self.type_list()?;
        let Some(url) = &self.url else {
            return Ok(());
        };
        if !(url.starts_with("http://") || url.starts_with("https://"))
            || reqwest::Url::parse(url).is_err()
        {
            return Err(SettingsError::Malformed {
                key: "webhook.url".into(),
                expected: "an http:// or https:// URL",
            });
        }
        let Some(secret) = &self.secret else {
            return Err(SettingsError::Missing {
                key: "webhook.secret",
                needed_by: "webhook.url",
            });
        };
        if events::decode_secret(secret.expose_secret()).is_err() {
            return Err(SettingsError::Malformed {
                key: "webhook.secret".into(),
                expected: "whsec_ followed by the base64 of at least 24 random bytes",
            });
        }
        for (key, value) in [
            ("webhook.timeout_ms", self.timeout_ms),
            ("webhook.retry_initial_ms", self.retry_initial_ms),
            ("webhook.claim_idle_ms", self.claim_idle_ms),
            ("webhook.max_attempts", u64::from(self.max_attempts)),
        ] {
            if value == 0 {
                return Err(SettingsError::OutOfRange {
                    key,
                    allowed: "positive",
                });
            }
        }
        Ok(())
    }
}

/// Reset and verification tokens, and how many mails and requests are allowed.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct RecoverySettings {
    /// How long a reset link works, in seconds.
    pub token_ttl_seconds: u64,
    /// How long a verification link works, in seconds.
    pub verify_ttl_seconds: u64,
    /// Reset and verification mails to one address per hour, together.
    pub max_per_email_per_hour: u64,
    /// Requests to `/password/forgot`, `/password/reset` and `/email/verify/resend`
    /// from one client IP per hour, together.
    pub max_per_ip_per_hour: u64,
}

/// The admin endpoints' secret: its own, never the internal token.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct AdminSettings {
    /// `Authorization: Bearer <token>` on `/admin/...`; unset, they answer 403.
    #[serde(default, serialize_with = "session_core::masked::optional_secret")]
    pub token: Option<SecretString>,
}

/// MongoDB connection settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct MongoSettings {
    /// Connection string; secret because it may carry credentials.
    #[serde(serialize_with = "session_core::masked::secret_url")]
    pub uri: SecretString,
    /// Database holding the `users` collection.
    pub database: String,
    /// Upper bound for every MongoDB call, in milliseconds.
    pub timeout_ms: u64,
}

/// Brute-force limits on login.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct LoginSettings {
    /// Failed logins per email within the window before it is throttled.
    pub max_failures_per_email: u64,
    /// The per-email window, in seconds.
    pub failure_window_seconds: u64,
    /// Failed logins per client IP within a minute before it is throttled.
    pub max_failures_per_ip_per_minute: u64,
}

/// Password hashing settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct PasswordSettings {
    /// bcrypt cost for new hashes; hashes of another cost are renewed at login.
    pub bcrypt_cost: u32,
    /// Hashing jobs queued or running at most; beyond it the answer is 503 at once.
    /// Sign-ups may take half of it.
    pub max_queue: usize,
}

/// `GET /verify` may answer from a validation cache, as the resource-service does.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct VerifyCacheSettings {
    /// Keep recently verified sessions in process, invalidated over Redis pub/sub.
    pub cache: bool,
    /// Most sessions the cache holds.
    pub cache_max_entries: usize,
    /// How often the invalidation channel is checked.
    pub cache_heartbeat_ms: u64,
    /// Longest an entry is served without asking Redis again.
    pub cache_max_age_ms: u64,
}

impl From<&VerifyCacheSettings> for CacheSettings {
    fn from(v: &VerifyCacheSettings) -> Self {
        Self {
            enabled: v.cache,
            max_entries: v.cache_max_entries,
            max_age_ms: v.cache_max_age_ms,
            heartbeat_ms: v.cache_heartbeat_ms,
        }
    }
}

/// Limits on sign-up, which costs a bcrypt hash each.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct SignupSettings {
    /// Sign-ups per client IP per hour.
    pub max_per_ip_per_hour: u64,
    /// Sign-ups per minute for the whole service (every instance together).
    pub max_per_minute: u64,
    /// Sign-up sends a verification mail; login waits for it (`403 email_not_verified`).
    pub verify_email: bool,
}

/// The lowest bcrypt cost production accepts.
pub const MIN_PRODUCTION_BCRYPT_COST: u32 = 10;

impl Settings {
    /// Loads defaults < `APP_CONFIG_FILE` < `APP__...` and checks them.
    pub fn load() -> Result<Self, SettingsError> {
        let loaded: Self = settings::load(DEFAULTS)?;
        loaded.check(settings::is_production())?;
        Ok(loaded)
    }

    /// The built-in defaults alone (no file, no environment), unchecked: the starting
    /// point for tests and tools that override a few fields.
    pub fn defaults() -> Result<Self, SettingsError> {
        settings::defaults(DEFAULTS)
    }

    /// Refuses unusable values, and the built-in secrets in production.
    pub fn check(&self, production: bool) -> Result<(), SettingsError> {
        self.jwt.check(production)?;
        // Outside production a missing key is made at start (see `startup`).
        if production && self.jwt.algorithm == JwtAlgorithm::EdDSA && self.jwt.signing_key.is_none()
        {
            return Err(SettingsError::Missing {
                key: "jwt.signing_key",
                needed_by: "jwt.algorithm = EdDSA in production",
            });
        }
        self.internal.check(production)?;
        service_kit::forwarded::TrustedProxies::parse(self.server.trusted_proxies.as_deref())?;
        if let Some(token) = &self.admin.token {
            let token = token.expose_secret();
            if token.len() < 32 {
                return Err(SettingsError::TooShort {
                    key: "admin.token",
                    min_bytes: 32,
                });
            }
            if token == self.internal.token.expose_secret() {
                return Err(SettingsError::Conflict {
                    key: "admin.token",
                    other: "internal.token (the admin token must be a secret of its own)",
                });
            }
            settings::check_secret("admin.token", token, production)?;
        }
        self.session.check()?;
        self.session.check_seed_mode(production)?;
        self.redis.check(production)?;
        if !(4..=31).contains(&self.password.bcrypt_cost) {
            return Err(SettingsError::OutOfRange {
                key: "password.bcrypt_cost",
                allowed: "between 4 and 31",
            });
        }
        if production && self.password.bcrypt_cost < MIN_PRODUCTION_BCRYPT_COST {
            return Err(SettingsError::OutOfRange {
                key: "password.bcrypt_cost",
                allowed: "at least 10 in production",
            });
        }
        if !(1..=100_000).contains(&self.password.max_queue) {
            return Err(SettingsError::OutOfRange {
                key: "password.max_queue",
                allowed: "between 1 and 100000",
            });
        }
        self.webhook.check()?;
        CacheSettings::from(&self.validation).check()?;
        if self.events.max_len == 0 {
            return Err(SettingsError::OutOfRange {
                key: "events.max_len",
                allowed: "positive",
            });
        }
        if self.webhook.url.is_some() && !self.events.enabled {
            return Err(SettingsError::Conflict {
                key: "webhook.url",
                other: "events.enabled = false (webhooks deliver the event stream)",
            });
        }
        self.check_mail(production)?;
        if self.login.failure_window_seconds == 0 {
            return Err(SettingsError::OutOfRange {
                key: "login.failure_window_seconds",
                allowed: "positive",
            });
        }
        Ok(())
    }
}

impl Settings {
    /// The mail and recovery keys: verification needs mail; a usable SMTP URL, `From`
    /// address and public URL (https in production, loopback excepted); sane limits.
    fn check_mail(&self, production: bool) -> Result<(), SettingsError> {
        if self.signup.verify_email && self.mail.smtp_url.is_none() {
            return Err(SettingsError::Missing {
                key: "mail.smtp_url",
                needed_by: "signup.verify_email",
            });
        }
        let public_url = self.server.public_url.as_deref().unwrap_or_default();
        let Some(host) = url_host(public_url) else {
            return Err(SettingsError::Malformed {
                key: "server.public_url".into(),
                expected: "an http:// or https:// URL with a host",
            });
        };
        if let Some(url) = &self.mail.smtp_url {
            if crate::mail::transport(url.expose_secret(), 1000).is_err() {
                return Err(SettingsError::Malformed {
                    key: "mail.smtp_url".into(),
                    expected: "an smtp:// or smtps:// URL (?tls=required for STARTTLS)",
                });
            }
            if production && public_url.starts_with("http://") && !is_loopback(host) {
                return Err(SettingsError::OutOfRange {
                    key: "server.public_url",
                    allowed: "an https:// URL in production while mail is on (http:// only to a loopback host)",
                });
            }
        }
        if self.mail.from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(SettingsError::Malformed {
                key: "mail.from".into(),
                expected: "an email address",
            });
        }
        if !(1..=20).contains(&self.mail.max_attempts) {
            return Err(SettingsError::OutOfRange {
                key: "mail.max_attempts",
                allowed: "between 1 and 20",
            });
        }
        if self.mail.timeout_ms == 0 {
            return Err(SettingsError::OutOfRange {
                key: "mail.timeout_ms",
                allowed: "positive",
            });
        }
        if self.recovery.token_ttl_seconds == 0 {
            return Err(SettingsError::OutOfRange {
                key: "recovery.token_ttl_seconds",
                allowed: "positive",
            });
        }
        if self.recovery.verify_ttl_seconds == 0 {
            return Err(SettingsError::OutOfRange {
                key: "recovery.verify_ttl_seconds",
                allowed: "positive",
            });
        }
        Ok(())
    }
}

/// The host of an `http://` or `https://` URL (brackets of an IPv6 address removed).
fn url_host(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        host_port.split(':').next()?
    };
    (!host.is_empty()).then_some(host)
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(f: impl FnOnce(&mut Settings)) -> Settings {
        let mut s = Settings::defaults().expect("defaults");
        f(&mut s);
        s
    }

    #[test]
    fn verification_without_mail_refuses_to_start_naming_the_key() {
        let s = with(|s| s.signup.verify_email = true);
        let err = s.check(false).expect_err("verify_email without mail");
        let text = err.to_string();
        assert!(
            text.contains("signup.verify_email") && text.contains("mail.smtp_url"),
            "{text}"
        );
    }

    #[test]
    fn production_refuses_a_plain_public_url_off_loopback_while_mail_is_on() {
        let mail = |url: &str| {
            let url = url.to_owned();
            with(move |s| {
                s.mail.smtp_url = Some(SecretString::from("smtp://127.0.0.1:2525".to_owned()));
                s.server.public_url = Some(url);
            })
        };
        let err = mail("http://auth.example.com")
            .check_mail(true)
            .expect_err("plain http in production");
        assert!(err.to_string().contains("server.public_url"), "{err}");
        assert!(mail("https://auth.example.com").check_mail(true).is_ok());
        assert!(mail("http://127.0.0.1:8080").check_mail(true).is_ok());
        assert!(mail("http://[::1]:8080/").check_mail(true).is_ok());
        assert!(mail("http://localhost:8080").check_mail(true).is_ok());
        assert!(mail("http://auth.example.com").check_mail(false).is_ok());
        assert!(mail("ftp://x").check_mail(false).is_err());
    }

    #[test]
    fn a_bad_smtp_url_or_from_address_is_named_without_its_value() {
        let s =
            with(|s| s.mail.smtp_url = Some(SecretString::from("gopher://u:s3cret@x".to_owned())));
        let text = s.check_mail(false).expect_err("bad scheme").to_string();
        assert!(
            text.contains("mail.smtp_url") && !text.contains("s3cret"),
            "{text}"
        );
        let s = with(|s| s.mail.from = "not an address\r\nBcc: x@y".to_owned());
        assert!(
            s.check_mail(false)
                .expect_err("bad from")
                .to_string()
                .contains("mail.from")
        );
    }
}
