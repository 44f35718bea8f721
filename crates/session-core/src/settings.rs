//! Settings shared by both services, read with the `config` crate.
//!
//! Layers, lowest first: the service's built-in defaults, an optional file named
//! by `APP_CONFIG_FILE`, then environment variables `APP__<SECTION>__<KEY>`.

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

pub use crate::secrets::{
    DEV_INTERNAL_TOKEN, DEV_JWT_SECRET, MIN_SECRET_BITS, PLACEHOLDER_MARK, estimated_entropy_bits,
};
use crate::secrets::{Weakness, weakness};

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ValidationMode {
    /// Straight against Redis.
    Redis,
    /// By asking the auth-service's `/introspect`.
    Remote,
}

/// How a service validates sessions (`validation.*`).
#[derive(Debug, Clone, Deserialize, Serialize)]
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
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct AuthServiceSettings {
    /// Base URL, e.g. `http://127.0.0.1:8080`.
    #[serde(serialize_with = "crate::masked::url")]
    pub url: String,
    /// A proxy to reach it through; without one no proxy is used, whatever the
    /// environment's `HTTP_PROXY` says.
    #[serde(default)]
    #[serde(serialize_with = "crate::masked::optional_url")]
    pub proxy: Option<String>,
    /// A PEM bundle of CAs to trust besides the system's, for `https://` URLs.
    #[serde(default)]
    pub ca_file: Option<std::path::PathBuf>,
    /// Lets production use plain `http://` to a host that is not loopback.
    pub allow_plain_http: bool,
}

/// Listener and shutdown settings, the same for every service.
#[derive(Debug, Clone, Deserialize, Serialize)]
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
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct MetricsSettings {
    /// Record metrics and serve them at `/metrics` (default true).
    pub enabled: bool,
}

/// Where the Redis session store lives and how long a call may take.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct RedisSettings {
    /// `standalone` (default), `cluster` or `sentinel`.
    #[serde(default)]
    pub mode: RedisMode,
    /// `redis://[user:password@]host:port[/db]` (or `rediss://` for TLS); secret
    /// because it may carry a password. Standalone: the server. Sentinel: the
    /// credentials, TLS and database for the master (its host is not used).
    #[serde(serialize_with = "crate::masked::secret_url")]
    pub url: SecretString,
    /// Cluster: comma-separated seed URLs (`redis://` or `rediss://`, with the
    /// credentials); secret because they may carry a password.
    #[serde(default)]
    #[serde(serialize_with = "crate::masked::optional_secret_urls")]
    pub nodes: Option<SecretString>,
    /// Sentinel: comma-separated sentinel URLs (`redis://host:26379`).
    #[serde(default)]
    #[serde(serialize_with = "crate::masked::optional_urls")]
    pub sentinels: Option<String>,
    /// Sentinel: the name the sentinels monitor the master under.
    #[serde(default)]
    pub master_name: Option<String>,
    /// Sentinel: the ACL user to log in to the sentinels with.
    #[serde(default)]
    pub sentinel_username: Option<String>,
    /// Sentinel: that user's password.
    #[serde(default)]
    #[serde(serialize_with = "crate::masked::optional_secret")]
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
#[derive(Debug, Clone, Deserialize, Serialize)]
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
#[derive(Debug, Clone, Deserialize, Serialize)]
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PerUser {
    /// One session per user; logging in again returns it (the seed's model).
    #[default]
    Single,
    /// One session per login (per device), each with its own id.
    Multiple,
}

/// What a login does when the user already holds `max_per_user` sessions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WhenFull {
    /// The oldest session ends.
    #[default]
    EvictOldest,
    /// The login is refused with `409 too_many_sessions`.
    Deny,
}

/// The signing algorithm sessions are issued with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum JwtAlgorithm {
    /// HMAC-SHA256 with a shared secret (the default).
    HS256,
    /// Ed25519 signatures: only the auth-service holds the private key.
    EdDSA,
}

/// JWT signing and verification settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct JwtSettings {
    /// HS256 shared secret, at least 32 bytes.
    #[serde(serialize_with = "crate::masked::secret")]
    pub secret: SecretString,
    /// `iss` claim written and required.
    pub issuer: String,
    /// `aud` claim written and required.
    pub audience: String,
    /// Pinned algorithm.
    pub algorithm: JwtAlgorithm,
    /// EdDSA private key (PEM), auth-service only.
    #[serde(default)]
    #[serde(serialize_with = "crate::masked::optional_private_pem")]
    pub signing_key: Option<SecretString>,
    /// Key id written into the header of tokens signed with `signing_key`.
    #[serde(default)]
    pub signing_key_id: Option<String>,
    /// EdDSA public keys (PEM) by key id, for verifying.
    #[serde(default)]
    #[serde(serialize_with = "crate::masked::public_pems")]
    pub verification_keys: BTreeMap<String, String>,
    /// Where to fetch the auth-service's public keys (JWKS).
    #[serde(default)]
    #[serde(serialize_with = "crate::masked::optional_url")]
    pub jwks_url: Option<String>,
}

/// The shared secret services use to call each other's internal endpoints.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct InternalSettings {
    /// Sent as `Authorization: Bearer <token>` on `/introspect`.
    #[serde(serialize_with = "crate::masked::secret")]
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
    /// A key the service's settings types do not read, outside the sections only
    /// another service of the product reads: most likely a typo.
    #[error("configuration: unknown key `{key}`{hint}", hint = nearest.as_ref().map(|k| format!(" (did you mean `{k}`?)")).unwrap_or_default())]
    UnknownKey {
        /// The key as given, dotted (`session.ttl_second`).
        key: String,
        /// The known key closest to it, when one is close.
        nearest: Option<String>,
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

/// The sections of the product's configuration: the first part of every key that a
/// service of the product reads. A service refuses a key its settings types leave
/// unread, unless the key's whole section is one only another service reads (one
/// environment or file may serve both services). The keys themselves are the typed
/// settings' ([`keys`]); this list of sections is held equal to both services' by a
/// test in sessionctl, which sees both types (the resource-service cannot: it ships
/// without the auth-service's MongoDB driver).
pub const PRODUCT_SECTIONS: &[&str] = &[
    "admin",
    "auth_service",
    "events",
    "internal",
    "jwt",
    "login",
    "mail",
    "metrics",
    "mongodb",
    "password",
    "recovery",
    "redis",
    "server",
    "session",
    "signup",
    "telemetry",
    "validation",
    "webhook",
];

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
/// and `APP__SECTION__KEY` environment variables, in that order. A key that `T` does
/// not read is refused (see [`PRODUCT_SECTIONS`]), naming it and the nearest key `T`
/// reads.
pub fn load<T: serde::de::DeserializeOwned + Serialize>(
    service_defaults: &str,
) -> Result<T, SettingsError> {
    environment_is_production(std::env::var("APP_ENV").ok().as_deref())?;
    let mut builder = with_defaults(service_defaults);
    if let Ok(path) = std::env::var("APP_CONFIG_FILE") {
        builder = builder.add_source(config::File::with_name(&path).required(true));
    }
    read(
        builder
            .add_source(
                config::Environment::with_prefix("APP")
                    .prefix_separator("__")
                    .separator("__"),
            )
            .build()?,
    )
}

/// Reads `T` from the built-in defaults alone, ignoring any file or environment: the
/// one starting point for tests and tools that override a few fields.
pub fn defaults<T: serde::de::DeserializeOwned>(
    service_defaults: &str,
) -> Result<T, SettingsError> {
    Ok(with_defaults(service_defaults).build()?.try_deserialize()?)
}

/// Deserializes `T` from the layered configuration, noting every key it leaves unread
/// (`serde_ignored` around the `config` crate's own deserializer); refuses the first
/// such key, in sorted order, unless its section is only another service's.
fn read<T: serde::de::DeserializeOwned + Serialize>(
    loaded: config::Config,
) -> Result<T, SettingsError> {
    let mut ignored = Vec::new();
    let settings: T = serde_ignored::deserialize(loaded.clone(), |path| {
        ignored.push(dotted(&path));
    })?;
    if ignored.is_empty() {
        return Ok(settings);
    }
    let known = keys(&settings);
    let read_here = |section: &str| known.iter().any(|k| k.split('.').next() == Some(section));
    let mut unknown: Vec<String> = Vec::new();
    for path in ignored {
        match loaded.get::<config::Value>(&path) {
            Ok(value) => leaves(&path, value, &mut unknown),
            Err(_) => unknown.push(path),
        }
    }
    unknown.retain(|key| {
        let section = key.split('.').next().unwrap_or_default();
        read_here(section) || !PRODUCT_SECTIONS.contains(&section)
    });
    unknown.sort();
    match unknown.into_iter().next() {
        None => Ok(settings),
        Some(key) => Err(SettingsError::UnknownKey {
            nearest: nearest_key(&key, &known),
            key,
        }),
    }
}

/// A path as a dotted key (`session.ttl_second`).
fn dotted(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => join(dotted(parent), &index.to_string()),
        Path::Map { parent, key } => join(dotted(parent), key),
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => dotted(parent),
    }
}

fn join(parent: String, name: &str) -> String {
    if parent.is_empty() {
        name.to_owned()
    } else {
        format!("{parent}.{name}")
    }
}

/// The dotted keys of the values under `prefix` (a table's leaves, or `prefix`).
fn leaves(prefix: &str, value: config::Value, out: &mut Vec<String>) {
    match value.kind {
        config::ValueKind::Table(table) if !table.is_empty() => {
            for (name, inner) in table {
                leaves(&join(prefix.to_owned(), &name), inner, out);
            }
        }
        _ => out.push(prefix.to_owned()),
    }
}

/// Every key of `settings`, dotted, in the types' order: the settings serialized to a
/// value tree and walked to its leaves. An empty map (`jwt.verification_keys` in the
/// defaults) is a leaf, so the keys of a service are `keys(&Settings::defaults()?)`.
pub fn keys<T: Serialize>(settings: &T) -> Vec<String> {
    fn walk(prefix: &str, map: serde_json::Map<String, serde_json::Value>, out: &mut Vec<String>) {
        for (name, value) in map {
            let path = join(prefix.to_owned(), &name);
            match value {
                serde_json::Value::Object(inner) if !inner.is_empty() => walk(&path, inner, out),
                _ => out.push(path),
            }
        }
    }
    let mut out = Vec::new();
    if let Ok(serde_json::Value::Object(map)) = serde_json::to_value(settings) {
        walk("", map, &mut out);
    }
    out
}

/// The key of `known` closest to `key` by edit distance, when it is close enough to
/// be a typo.
fn nearest_key(key: &str, known: &[String]) -> Option<String> {
    known
        .iter()
        .map(|k| (strsim::levenshtein(key, k), k))
        .min()
        .filter(|(distance, _)| *distance <= key.len().max(6) / 3)
        .map(|(_, k)| k.clone())
}

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
    match weakness(secret) {
        Some(Weakness::Development) => Err(SettingsError::DevelopmentValue { key }),
        Some(Weakness::Guessable { bits }) => Err(SettingsError::WeakSecret { key, bits }),
        None => Ok(()),
    }
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

    #[derive(Deserialize, Serialize)]
    struct Shared {
        redis: RedisSettings,
        session: SessionSettings,
        jwt: JwtSettings,
        internal: InternalSettings,
        metrics: MetricsSettings,
    }

    fn jwt(secret: &str) -> JwtSettings {
        let shared: Shared = defaults("").expect("defaults load");
        JwtSettings {
            secret: SecretString::from(secret.to_owned()),
            ..shared.jwt
        }
    }

    fn keys_of(toml: &str) -> Result<(), SettingsError> {
        let built = with_defaults("")
            .add_source(config::File::from_str(toml, config::FileFormat::Toml))
            .build()?;
        read::<Shared>(built).map(|_| ())
    }

    #[test]
    fn an_unknown_key_is_refused_with_the_nearest_known_one() {
        match keys_of("[session]\nttl_second = 60\n") {
            Err(SettingsError::UnknownKey { key, nearest }) => {
                assert_eq!(key, "session.ttl_second");
                assert_eq!(nearest.as_deref(), Some("session.ttl_seconds"));
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
        match keys_of("[session.cookie]\nnam = \"x\"\n") {
            Err(SettingsError::UnknownKey { key, nearest }) => {
                assert_eq!(key, "session.cookie.nam");
                assert_eq!(nearest.as_deref(), Some("session.cookie.name"));
            }
            other => panic!("expected an unknown nested key, got {other:?}"),
        }
    }

    #[test]
    fn every_read_key_map_entries_and_other_services_sections_pass() {
        assert!(
            keys_of(
                "[jwt.verification_keys]\nkey-2025 = \"pem\"\n[mongodb]\nuri = \"x\"\n[validation]\nmode = \"redis\"\n"
            )
            .is_ok()
        );
        assert!(keys_of(SHARED_DEFAULTS).is_ok());
    }

    #[test]
    fn keys_are_the_leaves_of_the_serialized_settings() {
        let shared: Shared = defaults("").expect("defaults load");
        let keys = keys(&shared);
        for key in [
            "redis.url",
            "session.cookie.name",
            "jwt.verification_keys",
            "internal.token",
            "metrics.enabled",
        ] {
            assert!(keys.iter().any(|k| k == key), "{key} in {keys:?}");
        }
        assert!(!keys.iter().any(|k| k == "session.cookie"), "{keys:?}");
    }

    #[test]
    fn serialized_settings_show_no_secret() {
        let shared: Shared = defaults("").expect("defaults load");
        let shown = serde_json::to_string(&shared).expect("serializes");
        assert!(!shown.contains(DEV_JWT_SECRET), "{shown}");
        assert!(!shown.contains(DEV_INTERNAL_TOKEN), "{shown}");
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
