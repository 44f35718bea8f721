//! A service's loaded settings as rows of configuration key and shown value, every
//! secret masked (see [`crate::mask`]). Each key of `settings::KNOWN_KEYS` is shown by
//! the view of at least one service (a test holds this), so a new key cannot be left
//! out silently; its value is shown only as written here, so a new secret is never
//! printed by accident.

use secrecy::ExposeSecret;
use serde_json::Value;
use service_kit::telemetry::TelemetrySettings;
use session_core::settings::{
    InternalSettings, JwtAlgorithm, JwtSettings, MetricsSettings, PerUser, RedisMode,
    RedisSettings, ServerSettings, SessionSettings, WhenFull,
};

use crate::mask;

/// Keys and shown values, in the order of the contract's sections.
pub type Rows = Vec<(String, Value)>;

fn row(rows: &mut Rows, key: &str, value: impl Into<Value>) {
    rows.push((key.to_owned(), value.into()));
}

fn optional<T: Into<Value>>(value: Option<T>) -> Value {
    value.map_or(Value::Null, Into::into)
}

/// The auth-service's settings.
pub fn auth(s: &auth_service::configuration::Settings) -> Rows {
    let mut rows = Rows::new();
    server(&mut rows, &s.server);
    metrics(&mut rows, &s.metrics);
    telemetry(&mut rows, &s.telemetry);
    redis(&mut rows, &s.redis);
    row(
        &mut rows,
        "mongodb.uri",
        mask::url(s.mongodb.uri.expose_secret()),
    );
    row(&mut rows, "mongodb.database", s.mongodb.database.as_str());
    row(&mut rows, "mongodb.timeout_ms", s.mongodb.timeout_ms);
    session(&mut rows, &s.session);
    jwt(&mut rows, &s.jwt);
    if s.jwt.algorithm == JwtAlgorithm::EdDSA && s.jwt.signing_key.is_none() {
        // What the service's start-up does then (production refuses it instead).
        row(
            &mut rows,
            "jwt.signing_key",
            "not set: a new key is made at every start (sessions do not survive a restart)",
        );
    }
    row(
        &mut rows,
        "login.max_failures_per_email",
        s.login.max_failures_per_email,
    );
    row(
        &mut rows,
        "login.failure_window_seconds",
        s.login.failure_window_seconds,
    );
    row(
        &mut rows,
        "login.max_failures_per_ip_per_minute",
        s.login.max_failures_per_ip_per_minute,
    );
    row(&mut rows, "password.bcrypt_cost", s.password.bcrypt_cost);
    row(&mut rows, "password.max_queue", s.password.max_queue);
    row(
        &mut rows,
        "signup.max_per_ip_per_hour",
        s.signup.max_per_ip_per_hour,
    );
    row(&mut rows, "signup.max_per_minute", s.signup.max_per_minute);
    row(&mut rows, "signup.verify_email", s.signup.verify_email);
    row(
        &mut rows,
        "server.public_url",
        optional(s.server.public_url.as_deref()),
    );
    row(
        &mut rows,
        "mail.smtp_url",
        match &s.mail.smtp_url {
            // May carry the SMTP password: masked like every URL.
            Some(url) => Value::from(mask::url(url.expose_secret())),
            None => Value::from("not set: recovery and verification are off (404)"),
        },
    );
    row(&mut rows, "mail.from", s.mail.from.as_str());
    row(&mut rows, "mail.max_attempts", s.mail.max_attempts);
    row(&mut rows, "mail.retry_initial_ms", s.mail.retry_initial_ms);
    row(&mut rows, "mail.timeout_ms", s.mail.timeout_ms);
    row(
        &mut rows,
        "recovery.token_ttl_seconds",
        s.recovery.token_ttl_seconds,
    );
    row(
        &mut rows,
        "recovery.verify_ttl_seconds",
        s.recovery.verify_ttl_seconds,
    );
    row(
        &mut rows,
        "recovery.max_per_email_per_hour",
        s.recovery.max_per_email_per_hour,
    );
    row(
        &mut rows,
        "recovery.max_per_ip_per_hour",
        s.recovery.max_per_ip_per_hour,
    );
    row(&mut rows, "validation.cache", s.validation.cache);
    row(
        &mut rows,
        "validation.cache_max_entries",
        s.validation.cache_max_entries,
    );
    row(
        &mut rows,
        "validation.cache_heartbeat_ms",
        s.validation.cache_heartbeat_ms,
    );
    row(
        &mut rows,
        "validation.cache_max_age_ms",
        s.validation.cache_max_age_ms,
    );
    internal(&mut rows, &s.internal);
    row(
        &mut rows,
        "admin.token",
        match &s.admin.token {
            Some(token) => Value::from(mask::secret(token)),
            None => Value::from("not set: the admin endpoints answer 403"),
        },
    );
    row(&mut rows, "events.enabled", s.events.enabled);
    row(
        &mut rows,
        "events.stream",
        s.events.stream_key(&s.session.key_prefix).as_str(),
    );
    row(&mut rows, "events.max_len", s.events.max_len);
    row(
        &mut rows,
        "webhook.url",
        // May carry credentials: masked like every URL.
        optional(s.webhook.url.as_deref().map(mask::url)),
    );
    row(
        &mut rows,
        "webhook.secret",
        optional(s.webhook.secret.as_ref().map(mask::secret)),
    );
    row(
        &mut rows,
        "webhook.types",
        if s.webhook.types.trim().is_empty() {
            "all"
        } else {
            s.webhook.types.as_str()
        },
    );
    row(&mut rows, "webhook.timeout_ms", s.webhook.timeout_ms);
    row(
        &mut rows,
        "webhook.retry_initial_ms",
        s.webhook.retry_initial_ms,
    );
    row(&mut rows, "webhook.max_attempts", s.webhook.max_attempts);
    row(&mut rows, "webhook.claim_idle_ms", s.webhook.claim_idle_ms);
    dedupe(rows)
}

/// The resource-service's settings.
pub fn resource(s: &resource_service::configuration::Settings) -> Rows {
    use resource_service::configuration::ValidationMode;
    let mut rows = Rows::new();
    server(&mut rows, &s.server);
    metrics(&mut rows, &s.metrics);
    telemetry(&mut rows, &s.telemetry);
    redis(&mut rows, &s.redis);
    session(&mut rows, &s.session);
    jwt(&mut rows, &s.jwt);
    internal(&mut rows, &s.internal);
    let mode = match s.validation.mode {
        ValidationMode::Redis => "redis",
        ValidationMode::Remote => "remote",
    };
    row(&mut rows, "validation.mode", mode);
    row(&mut rows, "validation.timeout_ms", s.validation.timeout_ms);
    row(&mut rows, "validation.cache", s.validation.cache);
    row(
        &mut rows,
        "validation.cache_max_entries",
        s.validation.cache_max_entries,
    );
    row(
        &mut rows,
        "validation.cache_heartbeat_ms",
        s.validation.cache_heartbeat_ms,
    );
    row(
        &mut rows,
        "validation.cache_max_age_ms",
        s.validation.cache_max_age_ms,
    );
    row(
        &mut rows,
        "auth_service.url",
        mask::url(&s.auth_service.url),
    );
    row(
        &mut rows,
        "auth_service.proxy",
        optional(s.auth_service.proxy.as_deref().map(mask::url)),
    );
    row(
        &mut rows,
        "auth_service.ca_file",
        optional(
            s.auth_service
                .ca_file
                .as_ref()
                .map(|p| p.display().to_string()),
        ),
    );
    row(
        &mut rows,
        "auth_service.allow_plain_http",
        s.auth_service.allow_plain_http,
    );
    rows
}

/// Keeps the last row of each key (a later, more precise row replaces an earlier one).
fn dedupe(rows: Rows) -> Rows {
    let mut out: Rows = Vec::with_capacity(rows.len());
    for (key, value) in rows {
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some(existing) => existing.1 = value,
            None => out.push((key, value)),
        }
    }
    out
}

fn server(rows: &mut Rows, s: &ServerSettings) {
    row(rows, "server.host", s.host.as_str());
    row(rows, "server.port", s.port);
    row(
        rows,
        "server.shutdown_timeout_seconds",
        s.shutdown_timeout_seconds,
    );
    row(rows, "server.workers", s.workers);
    row(rows, "server.request_timeout_ms", s.request_timeout_ms);
    row(rows, "server.max_connections", s.max_connections);
    row(
        rows,
        "server.trusted_proxies",
        optional(s.trusted_proxies.as_deref()),
    );
}

fn metrics(rows: &mut Rows, s: &MetricsSettings) {
    row(rows, "metrics.enabled", s.enabled);
}

fn telemetry(rows: &mut Rows, s: &TelemetrySettings) {
    row(
        rows,
        "telemetry.otlp_endpoint",
        optional(s.otlp_endpoint.as_deref().map(mask::url)),
    );
}

fn redis(rows: &mut Rows, s: &RedisSettings) {
    let mode = match s.mode {
        RedisMode::Standalone => "standalone",
        RedisMode::Cluster => "cluster",
        RedisMode::Sentinel => "sentinel",
    };
    row(rows, "redis.mode", mode);
    row(rows, "redis.url", mask::url(s.url.expose_secret()));
    row(
        rows,
        "redis.nodes",
        optional(s.nodes.as_ref().map(|n| mask::urls(n.expose_secret()))),
    );
    row(
        rows,
        "redis.sentinels",
        optional(s.sentinels.as_deref().map(mask::urls)),
    );
    row(rows, "redis.master_name", optional(s.master_name.clone()));
    row(
        rows,
        "redis.sentinel_username",
        optional(s.sentinel_username.clone()),
    );
    row(
        rows,
        "redis.sentinel_password",
        optional(s.sentinel_password.as_ref().map(mask::secret)),
    );
    row(rows, "redis.tls_ca_file", optional(s.tls_ca_file.clone()));
    row(rows, "redis.tls_insecure", s.tls_insecure);
    row(rows, "redis.wait_replicas", s.wait_replicas);
    row(rows, "redis.wait_replicas_strict", s.wait_replicas_strict);
    row(rows, "redis.timeout_ms", s.timeout_ms);
    row(rows, "redis.pool_size", s.pool_size);
    row(rows, "redis.coalesce_reads", s.coalesce_reads);
}

fn session(rows: &mut Rows, s: &SessionSettings) {
    row(rows, "session.ttl_seconds", s.ttl_seconds);
    row(rows, "session.key_prefix", s.key_prefix.as_str());
    row(
        rows,
        "session.accept_user_id_header",
        s.accept_user_id_header,
    );
    let per_user = match s.per_user {
        PerUser::Single => "single",
        PerUser::Multiple => "multiple",
    };
    row(rows, "session.per_user", per_user);
    row(rows, "session.max_per_user", s.max_per_user);
    let when_full = match s.when_full {
        WhenFull::EvictOldest => "evict_oldest",
        WhenFull::Deny => "deny",
    };
    row(rows, "session.when_full", when_full);
    row(rows, "session.idle_timeout_seconds", s.idle_timeout_seconds);
    row(rows, "session.cookie.enabled", s.cookie.enabled);
    row(rows, "session.cookie.name", s.cookie.name.as_str());
}

fn jwt(rows: &mut Rows, s: &JwtSettings) {
    row(rows, "jwt.secret", mask::secret(&s.secret));
    row(rows, "jwt.issuer", s.issuer.as_str());
    row(rows, "jwt.audience", s.audience.as_str());
    let algorithm = match s.algorithm {
        JwtAlgorithm::HS256 => "HS256",
        JwtAlgorithm::EdDSA => "EdDSA",
    };
    row(rows, "jwt.algorithm", algorithm);
    row(
        rows,
        "jwt.signing_key",
        optional(s.signing_key.as_ref().map(mask::private_pem)),
    );
    row(
        rows,
        "jwt.signing_key_id",
        optional(s.signing_key_id.clone()),
    );
    // Public keys: the key ids, and whether each is PEM text or a file's path.
    let keys: serde_json::Map<String, Value> = s
        .verification_keys
        .iter()
        .map(|(kid, value)| {
            let shown = if value.trim_start().starts_with("-----BEGIN") {
                "public key (PEM text)".to_owned()
            } else {
                value.trim().to_owned()
            };
            (kid.clone(), Value::from(shown))
        })
        .collect();
    row(
        rows,
        "jwt.verification_keys",
        if keys.is_empty() {
            Value::Null
        } else {
            Value::Object(keys)
        },
    );
    row(
        rows,
        "jwt.jwks_url",
        optional(s.jwks_url.as_deref().map(mask::url)),
    );
}

fn internal(rows: &mut Rows, s: &InternalSettings) {
    row(rows, "internal.token", mask::secret(&s.token));
}

/// A shown value as text: strings as they are, "not set" for none, the rest as JSON.
pub fn text(value: &Value) -> String {
    match value {
        Value::Null => "not set".to_owned(),
        Value::String(s) => s.clone(),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| format!("{k}: {}", text(v)))
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use session_core::settings::KNOWN_KEYS;

    fn keys(rows: &Rows) -> Vec<&str> {
        rows.iter().map(|(k, _)| k.as_str()).collect()
    }

    #[test]
    fn every_known_key_is_shown_by_some_service_and_nothing_else_is() {
        let auth = auth(&auth_service::configuration::Settings::defaults().expect("defaults"));
        let resource =
            resource(&resource_service::configuration::Settings::defaults().expect("defaults"));
        let shown: Vec<&str> = keys(&auth).into_iter().chain(keys(&resource)).collect();
        for key in KNOWN_KEYS {
            assert!(
                shown.contains(key),
                "`sessionctl config check` does not show `{key}`: add it to tools/sessionctl/src/settings_view.rs (masked if it can hold a secret)"
            );
        }
        for key in shown {
            assert!(KNOWN_KEYS.contains(&key), "`{key}` is not a known key");
        }
    }

    #[test]
    fn no_secret_of_the_defaults_is_shown() {
        let settings = auth_service::configuration::Settings::defaults().expect("defaults");
        let shown = serde_json::to_string(&auth(&settings)).expect("json");
        assert!(!shown.contains(settings.jwt.secret.expose_secret()));
        assert!(!shown.contains(settings.internal.token.expose_secret()));
        assert!(shown.contains("\"jwt.secret\",\"*** (a built-in development"));
    }

    #[test]
    fn the_smtp_password_is_masked() {
        let mut settings = auth_service::configuration::Settings::defaults().expect("defaults");
        settings.mail.smtp_url = Some(secrecy::SecretString::from(
            "smtps://mailer:sm7p-s3cret@smtp.example.com:465".to_owned(),
        ));
        let shown = serde_json::to_string(&auth(&settings)).expect("json");
        assert!(!shown.contains("sm7p-s3cret"), "{shown}");
        assert!(shown.contains("smtp.example.com"), "{shown}");
    }

    #[test]
    fn the_webhook_secret_is_masked() {
        let mut settings = auth_service::configuration::Settings::defaults().expect("defaults");
        settings.webhook.url = Some("https://hooks:h00k-pass@hooks.example.com/in".to_owned());
        settings.webhook.secret = Some(secrecy::SecretString::from(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned(),
        ));
        let shown = serde_json::to_string(&auth(&settings)).expect("json");
        assert!(
            !shown.contains("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            "{shown}"
        );
        assert!(!shown.contains("h00k-pass"), "{shown}");
        assert!(shown.contains("hooks.example.com"), "{shown}");
    }
}
