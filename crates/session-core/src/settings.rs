//! Settings shared by both services, read with the `config` crate.
//!
//! Layers, lowest first: the service's built-in defaults, an optional file named
//! by `APP_CONFIG_FILE`, then environment variables `APP__<SECTION>__<KEY>`.

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// The HS256 secret built into the defaults, for local runs only.
pub const DEV_JWT_SECRET: &str = "dev-only-secret-change-me-0123456789abcdef";
/// The internal token built into the defaults, for local runs only.
pub const DEV_INTERNAL_TOKEN: &str = "dev-only-internal-token-change-me";

/// Marks the placeholder values of `.env.example`; production refuses them too.
pub const PLACEHOLDER_MARK: &str = "replace-me";

/// Defaults both services share, as TOML; each service adds its own on top.
pub const SHARED_DEFAULTS: &str = r#"
[redis]
url = "redis://127.0.0.1:6379"
timeout_ms = 1000
pool_size = 32

[session]
ttl_seconds = 43200
key_prefix = "session:"
accept_user_id_header = false
per_user = "single"
max_per_user = 10
when_full = "evict_oldest"
idle_timeout_seconds = 0

[session.cookie]
enabled = true
name = "__Host-session"

[jwt]
secret = "dev-only-secret-change-me-0123456789abcdef"
issuer = "session-store"
audience = "session-store"
algorithm = "HS256"

[internal]
token = "dev-only-internal-token-change-me"

[metrics]
enabled = true
"#;

/// Defaults of every service that validates sessions (the resource-service, a team's
/// own service on an adapter), as TOML: the `validation` and `auth_service` sections.
pub const VALIDATOR_DEFAULTS: &str = r#"
[validation]
mode = "redis"
timeout_ms = 1000
cache = false
cache_max_entries = 100000
cache_heartbeat_ms = 1000
cache_max_age_ms = 5000

[auth_service]
url = "http://127.0.0.1:8080"
allow_plain_http = false
"#;

/// Where sessions are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ValidationMode {
    /// Straight against Redis.
    Redis,
    /// By asking the auth-service's `/introspect`.
    Remote,
}

/// How a service validates sessions (`validation.*`).
#[derive(Debug, Clone, Deserialize)]
pub struct ValidationSettings {
    /// `redis` (default) or `remote`.
    pub mode: ValidationMode,
    /// Upper bound for an introspection call, in milliseconds.
    pub timeout_ms: u64,
    /// Keep recently validated sessions in process (redis mode), invalidated over
    /// Redis pub/sub; off by default.
    pub cache: bool,
    /// Most sessions the cache holds.
    pub cache_max_entries: usize,
    /// How often the invalidation channel is checked; the cache is dropped when a
    /// check fails.
    pub cache_heartbeat_ms: u64,
    /// An entry is served for at most this long after Redis confirmed it, then checked
    /// again: the bound on how long a change that bypasses the store (an operator's
    /// `DEL`, `FLUSHALL`, eviction) goes unseen.
    pub cache_max_age_ms: u64,
}

/// The auth-service's location (`auth_service.*`), for remote mode and JWKS.
#[derive(Debug, Clone, Deserialize)]
pub struct AuthServiceSettings {
    /// Base URL, e.g. `http://127.0.0.1:8080`.
    pub url: String,
    /// A proxy to reach it through; without one no proxy is used, whatever the
    /// environment's `HTTP_PROXY` says.
    #[serde(default)]
    pub proxy: Option<String>,
    /// A PEM bundle of CAs to trust besides the system's, for `https://` URLs.
    #[serde(default)]
    pub ca_file: Option<std::path::PathBuf>,
    /// Lets production use plain `http://` to a host that is not loopback.
    pub allow_plain_http: bool,
}

/// Listener and shutdown settings, the same for every service.
#[derive(Debug, Clone, Deserialize)]
pub struct ServerSettings {
    /// Interface to bind.
    pub host: String,
    /// Port to bind; 0 picks a free one.
    pub port: u16,
    /// Seconds in-flight requests get to finish after SIGTERM.
    pub shutdown_timeout_seconds: u64,
    /// Worker threads; 0 means one per core.
    pub workers: usize,
    /// A request's head, then its body, must each arrive within this many milliseconds
    /// (the head counted from the connection's start); a slow client gets 408 and
    /// its connection is closed.
    #[serde(default = "default_request_timeout_ms")]
    pub request_timeout_ms: u64,
    /// Connections each worker holds at most; 0 (default) derives it from the
    /// process's open-file limit, so slow connections cannot exhaust it.
    #[serde(default)]
    pub max_connections: usize,
    /// Proxies whose `X-Forwarded-For` is believed (IPs or CIDR ranges, separated by
    /// commas): the client is the right-most entry that is not one of them. None: the
    /// socket's peer is the client.
    #[serde(default)]
    pub trusted_proxies: Option<String>,
    /// The auth-service's address as people reach it, the base of every link in a
    /// mail (`<public_url>/reset#token=...`); the auth-service's default is
    /// `http://127.0.0.1:8080`.
    #[serde(default)]
    pub public_url: Option<String>,
}

fn default_request_timeout_ms() -> u64 {
    10_000
}

/// `GET /metrics` and the recording behind it.
#[derive(Debug, Clone, Deserialize)]
pub struct MetricsSettings {
    /// Record metrics and serve them at `/metrics` (default true).
    pub enabled: bool,
}

/// Where the Redis session store lives and how long a call may take.
#[derive(Debug, Clone, Deserialize)]
pub struct RedisSettings {
    /// `standalone` (default), `cluster` or `sentinel`.
    #[serde(default)]
    pub mode: RedisMode,
    /// `redis://[user:password@]host:port[/db]` (or `rediss://` for TLS); secret
    /// because it may carry a password. Standalone: the server. Sentinel: the
    /// credentials, TLS and database for the master (its host is not used).
    pub url: SecretString,
    /// Cluster: comma-separated seed URLs (`redis://` or `rediss://`, with the
    /// credentials); secret because they may carry a password.
    #[serde(default)]
    pub nodes: Option<SecretString>,
    /// Sentinel: comma-separated sentinel URLs (`redis://host:26379`).
    #[serde(default)]
    pub sentinels: Option<String>,
    /// Sentinel: the name the sentinels monitor the master under.
    #[serde(default)]
    pub master_name: Option<String>,
    /// Sentinel: the ACL user to log in to the sentinels with.
    #[serde(default)]
    pub sentinel_username: Option<String>,
    /// Sentinel: that user's password.
    #[serde(default)]
    pub sentinel_password: Option<SecretString>,
    /// A CA bundle (PEM) to trust for `rediss://`, besides the system's.
    #[serde(default)]
    pub tls_ca_file: Option<String>,
    /// Skip verifying the server's certificate (refused in production).
    #[serde(default)]
    pub tls_insecure: bool,
    /// After creating or ending a session, wait for this many replicas to acknowledge.
    #[serde(default)]
    pub wait_replicas: u32,
    /// With `wait_replicas`: a change fewer replicas confirmed in time answers 503
    /// (applied on the master, not confirmed); false logs and counts it and lets the
    /// answer stand.
    #[serde(default = "default_true")]
    pub wait_replicas_strict: bool,
    /// Upper bound for every Redis call, in milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Connections kept in the pool.
    #[serde(default = "default_pool_size")]
    pub pool_size: usize,
    /// Send the session reads that are ready at the same moment as one pipeline (one
    /// round trip for many requests); false sends each read alone, as before (kept to
    /// compare the two in one benchmark run).
    #[serde(default = "default_true")]
    pub coalesce_reads: bool,
}

fn default_true() -> bool {
    true
}

fn default_timeout_ms() -> u64 {
    1000
}

fn default_pool_size() -> usize {
    32
}

/// How sessions are kept in Redis and which credentials are accepted.
#[derive(Debug, Clone, Deserialize)]
pub struct SessionSettings {
    /// Lifetime of a session: the JWT's `exp - iat` and the Redis key's `EX`.
    pub ttl_seconds: u64,
    /// Prefix of every session key; the key is `<prefix><userId>`.
    pub key_prefix: String,
    /// Seed mode: accept a bare userId as the credential (trusted networks only).
    #[serde(default)]
    pub accept_user_id_header: bool,
    /// One session per user (the seed's model) or one per login.
    #[serde(default)]
    pub per_user: PerUser,
    /// `multiple` mode: most live sessions a user may hold (1 to 1,000).
    #[serde(default = "default_max_per_user")]
    pub max_per_user: u32,
    /// `multiple` mode: what a login beyond `max_per_user` does.
    #[serde(default)]
    pub when_full: WhenFull,
    /// A session unused this long ends (0: never); at most `ttl_seconds`.
    #[serde(default)]
    pub idle_timeout_seconds: u64,
    /// The session as a browser cookie.
    #[serde(default)]
    pub cookie: CookieSettings,
}

/// `session.cookie.*`: the session as an HttpOnly cookie, accepted by every service.
#[derive(Debug, Clone, Deserialize)]
pub struct CookieSettings {
    /// Accept (and, at login, set) the session cookie.
    #[serde(default = "default_cookie_enabled")]
    pub enabled: bool,
    /// The cookie's name; `<name>-csrf` is the CSRF cookie's.
    #[serde(default = "default_cookie_name")]
    pub name: String,
}

impl Default for CookieSettings {
    fn default() -> Self {
        Self {
            enabled: default_cookie_enabled(),
            name: default_cookie_name(),
        }
    }
}

fn default_cookie_enabled() -> bool {
    true
}

fn default_cookie_name() -> String {
    "__Host-session".to_owned()
}

fn default_max_per_user() -> u32 {
    10
}

/// How the services reach Redis.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RedisMode {
    /// One server (`redis.url`).
    #[default]
    Standalone,
    /// A Redis Cluster (`redis.nodes`).
    Cluster,
    /// A master found through Sentinel (`redis.sentinels`, `redis.master_name`).
    Sentinel,
}

/// How many sessions a user holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PerUser {
    /// One session per user; logging in again returns it (the seed's model).
    #[default]
    Single,
    /// One session per login (per device), each with its own id.
    Multiple,
}

/// What a login does when the user already holds `max_per_user` sessions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WhenFull {
    /// The oldest session ends.
    #[default]
    EvictOldest,
    /// The login is refused with `409 too_many_sessions`.
    Deny,
}

/// The signing algorithm sessions are issued with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum JwtAlgorithm {
    /// HMAC-SHA256 with a shared secret (the default).
    HS256,
    /// Ed25519 signatures: only the auth-service holds the private key.
    EdDSA,
}

/// JWT signing and verification settings.
#[derive(Debug, Clone, Deserialize)]
pub struct JwtSettings {
    /// HS256 shared secret, at least 32 bytes.
    pub secret: SecretString,
    /// `iss` claim written and required.
    pub issuer: String,
    /// `aud` claim written and required.
    pub audience: String,
    /// Pinned algorithm.
    pub algorithm: JwtAlgorithm,
    /// EdDSA private key (PEM), auth-service only.
    #[serde(default)]
    pub signing_key: Option<SecretString>,
    /// Key id written into the header of tokens signed with `signing_key`.
    #[serde(default)]
    pub signing_key_id: Option<String>,
    /// EdDSA public keys (PEM) by key id, for verifying.
    #[serde(default)]
    pub verification_keys: BTreeMap<String, String>,
    /// Where to fetch the auth-service's public keys (JWKS).
    #[serde(default)]
    pub jwks_url: Option<String>,
}

/// The shared secret services use to call each other's internal endpoints.
#[derive(Debug, Clone, Deserialize)]
pub struct InternalSettings {
    /// Sent as `Authorization: Bearer <token>` on `/introspect`.
    pub token: SecretString,
}

/// Why the settings cannot be used; each kind names the key at fault.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The layered configuration could not be read or did not fit the settings types:
    /// the key, the file's line and column, what was expected; never the value, which
    /// may be a secret put under the wrong key.
    #[error("configuration: {0}")]
    Load(String),
    /// A key that no service of the product reads: most likely a typo.
    #[error("configuration: unknown key `{key}`{hint}", hint = nearest.map(|k| format!(" (did you mean `{k}`?)")).unwrap_or_default())]
    UnknownKey {
        /// The key as given, dotted (`session.ttl_second`).
        key: String,
        /// The known key closest to it, when one is close.
        nearest: Option<&'static str>,
    },
    /// A value outside what the key allows.
    #[error("configuration: {key} must be {allowed}")]
    OutOfRange {
        /// The key.
        key: &'static str,
        /// The allowed values, in words.
        allowed: &'static str,
    },
    /// A secret shorter than the key's minimum.
    #[error("configuration: {key} must be at least {min_bytes} bytes")]
    TooShort {
        /// The key.
        key: &'static str,
        /// The minimum length.
        min_bytes: usize,
    },
    /// A built-in development or placeholder value where production is declared.
    #[error(
        "configuration: APP_ENV=production refuses the built-in development or placeholder {key}"
    )]
    DevelopmentValue {
        /// The key.
        key: &'static str,
    },
    /// A secret that a simple estimate puts below 128 bits of entropy, in production.
    #[error(
        "configuration: {key} looks guessable (about {bits} bits by a simple estimate; production needs {MIN_SECRET_BITS}); make one with: openssl rand -hex 32"
    )]
    WeakSecret {
        /// The key.
        key: &'static str,
        /// The estimate, whole bits.
        bits: u32,
    },
    /// `APP_ENV` names no environment this product knows.
    #[error(
        "configuration: APP_ENV={value:?} is not an environment; use production (or prod), development (or dev) or test"
    )]
    UnknownEnvironment {
        /// The value given (cut to 40 characters).
        value: String,
    },
    /// A value that cannot be read as what the key needs.
    #[error("configuration: {key} is not {expected}")]
    Malformed {
        /// The key (with a map entry's name where it has one).
        key: String,
        /// What it should be, in words.
        expected: &'static str,
    },
    /// A key that another setting requires is not set.
    #[error("configuration: {needed_by} needs {key}")]
    Missing {
        /// The key that is missing.
        key: &'static str,
        /// The setting that needs it.
        needed_by: &'static str,
    },
    /// Two settings that cannot go together.
    #[error("configuration: {key} cannot be used with {other}")]
    Conflict {
        /// The key refused.
        key: &'static str,
        /// The setting it conflicts with.
        other: &'static str,
    },
    /// Something the settings describe could not be built at start.
    #[error("start-up: {what} could not be built")]
    Startup {
        /// What failed.
        what: &'static str,
    },
}

impl From<config::ConfigError> for SettingsError {
    fn from(err: config::ConfigError) -> Self {
        Self::Load(unreadable(&err, None))
    }
}

/// What is wrong with the configuration, in words that never repeat a value.
fn unreadable(err: &config::ConfigError, at: Option<&str>) -> String {
    use config::ConfigError;
    let origin = |origin: &Option<String>| match origin {
        Some(origin) => format!(" (in {origin})"),
        None => String::new(),
    };
    match err {
        ConfigError::Type {
            origin: source,
            expected,
            key,
            ..
        } => {
            let key = key.as_deref().or(at).unwrap_or("a key");
            format!("{key} must be {expected}{}", origin(source))
        }
        ConfigError::FileParse { uri, cause } => {
            let file = uri.as_deref().unwrap_or("the configuration file");
            // The parser's message quotes the offending line; only its position is kept.
            match line_and_column(&cause.to_string()) {
                Some((line, column)) => {
                    format!("{file} is not valid TOML at line {line}, column {column}")
                }
                None => format!("{file} is not valid TOML"),
            }
        }
        ConfigError::NotFound(key) => format!("{key} is missing"),
        ConfigError::At {
            error,
            origin: source,
            key,
        } => {
            let inner = unreadable(error, key.as_deref().or(at));
            format!("{inner}{}", origin(source))
        }
        ConfigError::Message(message) if message.starts_with("missing field") => match at {
            Some(key) => format!("{key}: {message}"),
            None => message.clone(),
        },
        // Reading the file failed (not found, not readable): the path, no value.
        ConfigError::Foreign(cause) => cause.to_string(),
        ConfigError::Frozen | ConfigError::PathParse { .. } => err.to_string(),
        // A deserializer's own words may quote the value.
        _ => format!(
            "{} cannot be read as the key needs (its value is not repeated here: it may be a secret)",
            at.unwrap_or("a value")
        ),
    }
}

/// The `line N, column M` a parser's message names, if it names one.
fn line_and_column(message: &str) -> Option<(u64, u64)> {
    let rest = &message[message.find("line ")? + 5..];
    let (line, rest) = rest.split_once(',')?;
    let rest = rest.trim_start().strip_prefix("column ")?;
    let column: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some((line.trim().parse().ok()?, column.parse().ok()?))
}

/// Every configuration key a service of the product reads, dotted. A key under `APP__`
/// or in the configuration file that is not here (or under a map key below) stops the
/// service at start, so a typo is never silently ignored.
pub const KNOWN_KEYS: &[&str] = &[
    "server.host",
    "server.port",
    "server.shutdown_timeout_seconds",
    "server.workers",
    "server.request_timeout_ms",
    "server.max_connections",
    "server.trusted_proxies",
    "server.public_url",
    "redis.url",
    "redis.timeout_ms",
    "redis.pool_size",
    "redis.mode",
    "redis.nodes",
    "redis.sentinels",
    "redis.master_name",
    "redis.sentinel_username",
    "redis.sentinel_password",
    "redis.tls_ca_file",
    "redis.tls_insecure",
    "redis.wait_replicas",
    "redis.wait_replicas_strict",
    "redis.coalesce_reads",
    "mongodb.uri",
    "mongodb.database",
    "mongodb.timeout_ms",
    "session.ttl_seconds",
    "session.key_prefix",
    "session.accept_user_id_header",
    "session.per_user",
    "session.max_per_user",
    "session.when_full",
    "session.idle_timeout_seconds",
    "session.cookie.enabled",
    "session.cookie.name",
    "admin.token",
    "jwt.secret",
    "jwt.issuer",
    "jwt.audience",
    "jwt.algorithm",
    "jwt.signing_key",
    "jwt.signing_key_id",
    "jwt.verification_keys",
    "jwt.jwks_url",
    "login.max_failures_per_email",
    "login.failure_window_seconds",
    "login.max_failures_per_ip_per_minute",
    "password.bcrypt_cost",
    "password.max_queue",
    "signup.max_per_ip_per_hour",
    "signup.max_per_minute",
    "signup.verify_email",
    "mail.smtp_url",
    "mail.from",
    "mail.max_attempts",
    "mail.retry_initial_ms",
    "mail.timeout_ms",
    "recovery.token_ttl_seconds",
    "recovery.verify_ttl_seconds",
    "recovery.max_per_email_per_hour",
    "recovery.max_per_ip_per_hour",
    "internal.token",
    "validation.mode",
    "validation.timeout_ms",
    "validation.cache",
    "validation.cache_max_entries",
    "validation.cache_heartbeat_ms",
    "validation.cache_max_age_ms",
    "auth_service.url",
    "metrics.enabled",
    "telemetry.otlp_endpoint",
    "auth_service.proxy",
    "auth_service.ca_file",
    "auth_service.allow_plain_http",
    "events.enabled",
    "events.stream",
    "events.max_len",
    "webhook.url",
    "webhook.secret",
    "webhook.types",
    "webhook.timeout_ms",
    "webhook.retry_initial_ms",
    "webhook.max_attempts",
    "webhook.claim_idle_ms",
];

/// Keys whose value is a map of names the operator chooses (`jwt.verification_keys.<kid>`).
const MAP_KEYS: &[&str] = &["jwt.verification_keys"];

fn with_defaults(service_defaults: &str) -> config::ConfigBuilder<config::builder::DefaultState> {
    config::Config::builder()
        .add_source(config::File::from_str(
            SHARED_DEFAULTS,
            config::FileFormat::Toml,
        ))
        .add_source(config::File::from_str(
            service_defaults,
            config::FileFormat::Toml,
        ))
}

/// Reads `T` from the service's built-in defaults, the optional `APP_CONFIG_FILE`
/// and `APP__SECTION__KEY` environment variables, in that order. A key that no
/// service knows is refused, naming it and the nearest known key.
pub fn load<T: serde::de::DeserializeOwned>(service_defaults: &str) -> Result<T, SettingsError> {
    environment_is_production(std::env::var("APP_ENV").ok().as_deref())?;
    let mut builder = with_defaults(service_defaults);
    if let Ok(path) = std::env::var("APP_CONFIG_FILE") {
        builder = builder.add_source(config::File::with_name(&path).required(true));
    }
    let loaded = builder
        .add_source(
            config::Environment::with_prefix("APP")
                .prefix_separator("__")
                .separator("__"),
        )
        .build()?;
    check_keys(loaded.clone().try_deserialize()?)?;
    Ok(loaded.try_deserialize()?)
}

/// Reads `T` from the built-in defaults alone, ignoring any file or environment: the
/// one starting point for tests and tools that override a few fields.
pub fn defaults<T: serde::de::DeserializeOwned>(
    service_defaults: &str,
) -> Result<T, SettingsError> {
    Ok(with_defaults(service_defaults).build()?.try_deserialize()?)
}

/// Checks that every key of the built-in defaults plus `service_defaults` is known.
pub fn check_known_keys(service_defaults: &str) -> Result<(), SettingsError> {
    check_keys(with_defaults(service_defaults).build()?.try_deserialize()?)
}

/// Refuses the first key (in sorted order) that is neither known nor inside a map key.
fn check_keys(table: config::Map<String, config::Value>) -> Result<(), SettingsError> {
    let mut keys = Vec::new();
    flatten("", table, &mut keys);
    keys.sort();
    match keys.into_iter().find(|k| !KNOWN_KEYS.contains(&k.as_str())) {
        None => Ok(()),
        Some(key) => Err(SettingsError::UnknownKey {
            nearest: nearest_key(&key),
            key,
        }),
    }
}

fn flatten(prefix: &str, table: config::Map<String, config::Value>, out: &mut Vec<String>) {
    for (name, value) in table {
        let path = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}.{name}")
        };
        match value.kind {
            config::ValueKind::Table(inner) if !MAP_KEYS.contains(&path.as_str()) => {
                flatten(&path, inner, out)
            }
            _ => out.push(path),
        }
    }
}

/// The known key closest to `key` by edit distance, when it is close enough to be a typo.
fn nearest_key(key: &str) -> Option<&'static str> {
    KNOWN_KEYS
        .iter()
        .map(|known| (strsim::levenshtein(key, known), *known))
        .min()
        .filter(|(distance, _)| *distance <= key.len().max(6) / 3)
        .map(|(_, known)| known)
}

/// The least entropy, by [`estimated_entropy_bits`], of a secret in production.
pub const MIN_SECRET_BITS: u32 = 128;

/// Reads `APP_ENV`: true for `production` or `prod` (any case, spaces ignored), false
/// when unset, empty or `development`, `dev`, `test`; anything else is refused, so a
/// typo never turns production checks off.
pub fn environment_is_production(value: Option<&str>) -> Result<bool, SettingsError> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(false);
    };
    match value.to_ascii_lowercase().as_str() {
        "production" | "prod" => Ok(true),
        "development" | "dev" | "test" => Ok(false),
        _ => Err(SettingsError::UnknownEnvironment {
            value: value.chars().take(40).collect(),
        }),
    }
}

/// True when `APP_ENV` says this is a production deployment (see
/// [`environment_is_production`]); an unknown value counts as production here, and
/// [`load`] refuses it.
pub fn is_production() -> bool {
    environment_is_production(std::env::var("APP_ENV").ok().as_deref()).unwrap_or(true)
}

/// A simple estimate of a secret's entropy: its length times the Shannon entropy of
/// its characters (bits per character). Repeated or few distinct characters score
/// low whatever the length; 64 random hex digits score about 250.
pub fn estimated_entropy_bits(secret: &str) -> f64 {
    let mut counts: BTreeMap<char, usize> = BTreeMap::new();
    for c in secret.chars() {
        *counts.entry(c).or_default() += 1;
    }
    let total = secret.chars().count() as f64;
    let per_char: f64 = counts
        .values()
        .map(|&n| {
            let p = n as f64 / total;
            -p * p.log2()
        })
        .sum();
    per_char * total
}

/// In production, refuses a secret that holds a built-in development value or a
/// placeholder (anywhere in it), or scores below [`MIN_SECRET_BITS`].
pub fn check_secret(
    key: &'static str,
    secret: &str,
    production: bool,
) -> Result<(), SettingsError> {
    if !production {
        return Ok(());
    }
    let development = [
        DEV_JWT_SECRET,
        DEV_INTERNAL_TOKEN,
        PLACEHOLDER_MARK,
        "dev-only",
    ]
    .iter()
    .any(|dev| secret.contains(dev));
    if development {
        return Err(SettingsError::DevelopmentValue { key });
    }
    let bits = estimated_entropy_bits(secret);
    if bits < f64::from(MIN_SECRET_BITS) {
        return Err(SettingsError::WeakSecret {
            key,
            bits: bits as u32,
        });
    }
    Ok(())
}

impl JwtSettings {
    /// Refuses a secret the built-in default or too short to sign with.
    pub fn check(&self, production: bool) -> Result<(), SettingsError> {
        if self.algorithm == JwtAlgorithm::HS256 {
            let secret = self.secret.expose_secret();
            if secret.len() < 32 {
                return Err(SettingsError::TooShort {
                    key: "jwt.secret",
                    min_bytes: 32,
                });
            }
            check_secret("jwt.secret", secret, production)?;
        }
        Ok(())
    }
}

impl RedisSettings {
    /// Refuses a mode without the keys it needs, and `tls_insecure` in production.
    pub fn check(&self, production: bool) -> Result<(), SettingsError> {
        let blank = |v: Option<&str>| v.is_none_or(|v| v.trim().is_empty());
        match self.mode {
            RedisMode::Standalone => {}
            RedisMode::Cluster => {
                if blank(self.nodes.as_ref().map(|n| n.expose_secret())) {
                    return Err(SettingsError::Missing {
                        key: "redis.nodes",
                        needed_by: "redis.mode = cluster",
                    });
                }
            }
            RedisMode::Sentinel => {
                if blank(self.sentinels.as_deref()) {
                    return Err(SettingsError::Missing {
                        key: "redis.sentinels",
                        needed_by: "redis.mode = sentinel",
                    });
                }
                if blank(self.master_name.as_deref()) {
                    return Err(SettingsError::Missing {
                        key: "redis.master_name",
                        needed_by: "redis.mode = sentinel",
                    });
                }
            }
        }
        if production && self.tls_insecure {
            return Err(SettingsError::Conflict {
                key: "redis.tls_insecure",
                other: "APP_ENV=production (an unverified certificate lets anyone in the path read every session)",
            });
        }
        if self.wait_replicas > 16 {
            return Err(SettingsError::OutOfRange {
                key: "redis.wait_replicas",
                allowed: "between 0 and 16",
            });
        }
        Ok(())
    }
}

impl InternalSettings {
    /// Refuses the built-in internal token in production.
    pub fn check(&self, production: bool) -> Result<(), SettingsError> {
        let token = self.token.expose_secret();
        if token.len() < 16 {
            return Err(SettingsError::TooShort {
                key: "internal.token",
                min_bytes: 16,
            });
        }
        check_secret("internal.token", token, production)?;
        Ok(())
    }
}

impl SessionSettings {
    /// Refuses seed mode (`accept_user_id_header`: a bare userId is a credential) in
    /// production.
    pub fn check_seed_mode(&self, production: bool) -> Result<(), SettingsError> {
        if production && self.accept_user_id_header {
            return Err(SettingsError::Conflict {
                key: "session.accept_user_id_header",
                other: "APP_ENV=production (seed mode lets anyone who knows a userId act as that user)",
            });
        }
        Ok(())
    }

    /// Refuses a zero lifetime, an empty key prefix, a per-user maximum outside 1 to
    /// 1,000, an idle timeout above the absolute lifetime, and seed mode with
    /// `multiple`.
    pub fn check(&self) -> Result<(), SettingsError> {
        if !(1..=1000).contains(&self.max_per_user) {
            return Err(SettingsError::OutOfRange {
                key: "session.max_per_user",
                allowed: "between 1 and 1000",
            });
        }
        if self.idle_timeout_seconds > self.ttl_seconds {
            return Err(SettingsError::OutOfRange {
                key: "session.idle_timeout_seconds",
                allowed: "at most session.ttl_seconds (the absolute lifetime)",
            });
        }
        if self.accept_user_id_header && self.per_user == PerUser::Multiple {
            return Err(SettingsError::Conflict {
                key: "session.accept_user_id_header",
                other: "session.per_user = multiple (seed mode finds a session by userId alone, so it needs single)",
            });
        }
        if self.ttl_seconds == 0 {
            return Err(SettingsError::OutOfRange {
                key: "session.ttl_seconds",
                allowed: "positive",
            });
        }
        let token_char = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
        if self.cookie.name.is_empty() || !self.cookie.name.chars().all(token_char) {
            return Err(SettingsError::OutOfRange {
                key: "session.cookie.name",
                allowed: "a cookie name: letters, digits and !#$%&'*+-.^_`|~",
            });
        }
        if self.key_prefix.is_empty() {
            return Err(SettingsError::OutOfRange {
                key: "session.key_prefix",
                allowed: "a non-empty string",
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod documented_keys {
    /// docs/api.md's configuration table names exactly the keys the code reads: a key
    /// added to one and not the other fails here.
    #[test]
    fn the_docs_key_table_and_known_keys_agree() {
        let doc = include_str!("../../../docs/api.md");
        let start = doc
            .find("## Configuration")
            .expect("docs/api.md has ## Configuration");
        let section = &doc[start..];
        let end = section[3..].find("\n## ").map_or(section.len(), |i| i + 3);
        let mut documented = std::collections::BTreeSet::new();
        for line in section[..end].lines().filter(|l| l.starts_with("| `")) {
            let first = line.split('|').nth(1).unwrap_or_default();
            for key in first.split('`').skip(1).step_by(2) {
                if key.contains('.')
                    && key
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c == '_' || c == '.')
                {
                    documented.insert(key.to_owned());
                }
            }
        }
        let known: std::collections::BTreeSet<String> =
            super::KNOWN_KEYS.iter().map(|k| (*k).to_owned()).collect();
        let missing: Vec<_> = known.difference(&documented).collect();
        let extra: Vec<_> = documented.difference(&known).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "docs/api.md's key table and settings::KNOWN_KEYS differ: not documented {missing:?}, documented but not read {extra:?}"
        );
    }
}

#[cfg(test)]
mod unreadable_tests {
    use super::SettingsError;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Server {
        port: u16,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Shape {
        server: Server,
    }

    #[test]
    fn a_secret_under_a_numeric_key_is_not_repeated() {
        let loaded = config::Config::builder()
            .add_source(config::File::from_str(
                "[server]\nport = \"s3cret-value-0123456789\"\n",
                config::FileFormat::Toml,
            ))
            .build()
            .and_then(|c| c.try_deserialize::<Shape>());
        let err = SettingsError::from(loaded.expect_err("a string is no port"));
        let text = err.to_string();
        assert!(!text.contains("s3cret"), "{text}");
        assert!(text.contains("server.port"), "{text}");
    }

    #[test]
    fn a_malformed_file_is_told_by_line_and_column_only() {
        let loaded = config::Config::builder()
            .add_source(config::File::from_str(
                "[jwt]\nsecret = \"s3cret-value-0123456789\n",
                config::FileFormat::Toml,
            ))
            .build();
        let err = SettingsError::from(loaded.expect_err("unterminated string"));
        let text = err.to_string();
        assert!(!text.contains("s3cret"), "{text}");
        assert!(text.contains("line 2"), "{text}");
        assert!(text.contains("column"), "{text}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Shared {
        redis: RedisSettings,
        session: SessionSettings,
        jwt: JwtSettings,
    }

    fn jwt(secret: &str) -> JwtSettings {
        let shared: Shared = defaults("").expect("defaults load");
        JwtSettings {
            secret: SecretString::from(secret.to_owned()),
            ..shared.jwt
        }
    }

    fn keys_of(toml: &str) -> Result<(), SettingsError> {
        let built = config::Config::builder()
            .add_source(config::File::from_str(toml, config::FileFormat::Toml))
            .build()?;
        check_keys(built.try_deserialize()?)
    }

    #[test]
    fn an_unknown_key_is_refused_with_the_nearest_known_one() {
        match keys_of("[session]\nttl_second = 60\n") {
            Err(SettingsError::UnknownKey { key, nearest }) => {
                assert_eq!(key, "session.ttl_second");
                assert_eq!(nearest, Some("session.ttl_seconds"));
            }
            other => panic!("expected an unknown key, got {other:?}"),
        }
        let err = keys_of("[sesion]\nkey_prefix = \"x\"\n").expect_err("typo in a section");
        assert!(
            err.to_string().contains("`sesion.key_prefix`")
                && err.to_string().contains("`session.key_prefix`"),
            "{err}"
        );
        match keys_of("[frobnicate]\nwidgets = 3\n") {
            Err(SettingsError::UnknownKey { nearest: None, .. }) => {}
            other => panic!("nothing is near: {other:?}"),
        }
    }

    #[test]
    fn every_known_key_and_map_entries_pass() {
        assert!(
            keys_of(
                "[jwt.verification_keys]\nkey-2025 = \"pem\"\n[mongodb]\nuri = \"x\"\n[validation]\nmode = \"redis\"\n"
            )
            .is_ok()
        );
        assert!(keys_of(SHARED_DEFAULTS).is_ok());
    }

    #[test]
    fn production_refuses_the_dev_and_placeholder_secrets() {
        assert!(jwt(DEV_JWT_SECRET).check(false).is_ok());
        assert!(jwt(DEV_JWT_SECRET).check(true).is_err());
        assert!(
            jwt("replace-me-with-openssl-rand-hex-32")
                .check(true)
                .is_err()
        );
        assert!(
            jwt("0123456789abcdef0123456789abcdef0123")
                .check(true)
                .is_ok()
        );
        assert!(jwt("short").check(false).is_err());
        let internal = |t: &str| InternalSettings {
            token: SecretString::from(t.to_owned()),
        };
        assert!(internal(DEV_INTERNAL_TOKEN).check(true).is_err());
        assert!(
            internal("replace-me-with-openssl-rand-hex-32")
                .check(true)
                .is_err()
        );
        assert!(internal(DEV_INTERNAL_TOKEN).check(false).is_ok());
    }

    #[test]
    fn shared_defaults_match_the_contract() {
        let s: Shared = defaults("").expect("defaults load");
        assert_eq!(s.redis.url.expose_secret(), "redis://127.0.0.1:6379");
        assert_eq!(s.redis.timeout_ms, 1000);
        assert_eq!(s.session.ttl_seconds, 43200);
        assert_eq!(s.session.key_prefix, "session:");
        assert!(!s.session.accept_user_id_header);
        assert_eq!(s.jwt.algorithm, JwtAlgorithm::HS256);
        assert_eq!(s.jwt.issuer, "session-store");
        assert_eq!(s.jwt.secret.expose_secret(), DEV_JWT_SECRET);
    }
}
