//! How settings are shown: a secret never, a URL without its password and the query
//! parameters that carry credentials. The `serialize_with` functions here are on every
//! field of the settings types that can hold a secret, so serializing settings (what
//! `sessionctl config check` prints) cannot show one; a new secret field that is not
//! marked does not compile (`SecretString` has no `Serialize` of its own).

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};
use serde::Serializer;

use crate::secrets::{Weakness, weakness};

/// What stands for a hidden value.
pub const HIDDEN: &str = "***";

/// A secret, hidden; says when production would refuse it (a built-in development
/// value or a placeholder, both public in the source, or a guessable one).
pub fn secret_text(value: &str) -> String {
    if value.is_empty() {
        return "(empty)".to_owned();
    }
    match weakness(value) {
        Some(Weakness::Development) => {
            format!("{HIDDEN} (a built-in development or placeholder value)")
        }
        Some(Weakness::Guessable { .. }) => format!("{HIDDEN} (looks guessable)"),
        None => HIDDEN.to_owned(),
    }
}

/// A PEM value that may be the PEM text or a file's path (`jwt.signing_key`), hidden
/// either way; says which.
pub fn private_pem_text(value: &str) -> String {
    if value.trim_start().starts_with("-----BEGIN") {
        format!("{HIDDEN} (PEM text)")
    } else {
        format!("{HIDDEN} (a file's path)")
    }
}

/// A URL with its password and credential-bearing query parameters hidden:
/// `redis://app:***@host:6379/0`. The user name stays. Anything after the last `@`
/// is taken as the host part, so an `@` elsewhere hides more, never less.
pub fn url_text(raw: &str) -> String {
    let Some(start) = raw.find("://") else {
        return if raw.contains('@') {
            HIDDEN.to_owned()
        } else {
            raw.to_owned()
        };
    };
    let (scheme, rest) = raw.split_at(start + 3);
    let mut out = scheme.to_owned();
    let host_part = match rest.rfind('@') {
        Some(at) => {
            let userinfo = &rest[..at];
            match userinfo.split_once(':') {
                Some((user, _password)) => {
                    out.push_str(user);
                    out.push(':');
                    out.push_str(HIDDEN);
                }
                None => out.push_str(userinfo),
            }
            out.push('@');
            &rest[at + 1..]
        }
        None => rest,
    };
    out.push_str(&query_masked(host_part));
    out
}

/// A comma-separated list of URLs (`redis.nodes`, `redis.sentinels`), each as
/// [`url_text`] shows it.
pub fn urls_text(list: &str) -> String {
    list.split(',')
        .map(|one| url_text(one.trim()))
        .collect::<Vec<_>>()
        .join(",")
}

/// Query parameter names (lowercase) whose values are credentials: `password`,
/// `pass`, `token`, `secret`, keys, MongoDB's `authMechanismProperties` (AWS session
/// tokens) and `tlsCertificateKeyFilePassword`.
fn carries_credentials(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    [
        "pass",
        "secret",
        "token",
        "key",
        "credential",
        "authmechanismproperties",
    ]
    .iter()
    .any(|word| name.contains(word))
}

fn query_masked(host_part: &str) -> String {
    let Some((before, query)) = host_part.split_once('?') else {
        return host_part.to_owned();
    };
    let params: Vec<String> = query
        .split('&')
        .map(|param| match param.split_once('=') {
            Some((name, _)) if carries_credentials(name) => format!("{name}={HIDDEN}"),
            _ => param.to_owned(),
        })
        .collect();
    format!("{before}?{}", params.join("&"))
}

fn optional<T, S: Serializer>(
    value: Option<&T>,
    shown: impl FnOnce(&T) -> String,
    s: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(value) => s.serialize_str(&shown(value)),
        None => s.serialize_none(),
    }
}

/// A secret (`jwt.secret`, `internal.token`), as [`secret_text`].
pub fn secret<S: Serializer>(value: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&secret_text(value.expose_secret()))
}

/// An optional secret (`admin.token`, `webhook.secret`), as [`secret_text`].
pub fn optional_secret<S: Serializer>(
    value: &Option<SecretString>,
    s: S,
) -> Result<S::Ok, S::Error> {
    optional(value.as_ref(), |v| secret_text(v.expose_secret()), s)
}

/// A URL kept secret because it may carry a password (`redis.url`, `mongodb.uri`), as
/// [`url_text`].
pub fn secret_url<S: Serializer>(value: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&url_text(value.expose_secret()))
}

/// An optional secret URL (`mail.smtp_url`), as [`url_text`].
pub fn optional_secret_url<S: Serializer>(
    value: &Option<SecretString>,
    s: S,
) -> Result<S::Ok, S::Error> {
    optional(value.as_ref(), |v| url_text(v.expose_secret()), s)
}

/// An optional secret list of URLs (`redis.nodes`), as [`urls_text`].
pub fn optional_secret_urls<S: Serializer>(
    value: &Option<SecretString>,
    s: S,
) -> Result<S::Ok, S::Error> {
    optional(value.as_ref(), |v| urls_text(v.expose_secret()), s)
}

/// A URL that may carry credentials (`auth_service.url`), as [`url_text`].
pub fn url<T: AsRef<str>, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&url_text(value.as_ref()))
}

/// An optional URL that may carry credentials (`auth_service.proxy`, `webhook.url`), as
/// [`url_text`].
pub fn optional_url<T: AsRef<str>, S: Serializer>(
    value: &Option<T>,
    s: S,
) -> Result<S::Ok, S::Error> {
    optional(value.as_ref(), |v| url_text(v.as_ref()), s)
}

/// An optional list of URLs (`redis.sentinels`), as [`urls_text`].
pub fn optional_urls<T: AsRef<str>, S: Serializer>(
    value: &Option<T>,
    s: S,
) -> Result<S::Ok, S::Error> {
    optional(value.as_ref(), |v| urls_text(v.as_ref()), s)
}

/// An optional private key, PEM text or a file's path (`jwt.signing_key`), as
/// [`private_pem_text`].
pub fn optional_private_pem<S: Serializer>(
    value: &Option<SecretString>,
    s: S,
) -> Result<S::Ok, S::Error> {
    optional(value.as_ref(), |v| private_pem_text(v.expose_secret()), s)
}

/// Public keys by key id (`jwt.verification_keys`): the ids, and for each whether it is
/// PEM text (not repeated) or a file's path.
pub fn public_pems<S: Serializer>(
    value: &BTreeMap<String, String>,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_map(value.iter().map(|(kid, pem)| {
        let shown = if pem.trim_start().starts_with("-----BEGIN") {
            "public key (PEM text)".to_owned()
        } else {
            pem.trim().to_owned()
        };
        (kid, shown)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_are_hidden_and_the_rest_stays() {
        assert_eq!(
            url_text("redis://app:s3cret@cache:6379/0"),
            "redis://app:***@cache:6379/0"
        );
        assert_eq!(
            url_text("rediss://:s3cret@cache:6380"),
            "rediss://:***@cache:6380"
        );
        assert_eq!(url_text("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
        assert_eq!(
            url_text("mongodb://ada:p%40ss@h1:27017,h2:27017/db?authSource=admin&replicaSet=rs0"),
            "mongodb://ada:***@h1:27017,h2:27017/db?authSource=admin&replicaSet=rs0"
        );
        // An unencoded @ in the password hides more, never less.
        assert_eq!(
            url_text("mongodb://ada:p@ss@h1/db"),
            "mongodb://ada:***@h1/db"
        );
        assert_eq!(
            url_text(
                "mongodb+srv://AKIA:s3cret@cluster/?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:tok"
            ),
            "mongodb+srv://AKIA:***@cluster/?authMechanism=MONGODB-AWS&authMechanismProperties=***"
        );
        assert_eq!(
            url_text("mongodb://h/?tls=true&tlsCertificateKeyFilePassword=pw"),
            "mongodb://h/?tls=true&tlsCertificateKeyFilePassword=***"
        );
        assert_eq!(
            url_text("http://u:pw@proxy:3128"),
            "http://u:***@proxy:3128"
        );
        assert_eq!(url_text("user:pw@host"), "***");
        assert_eq!(
            urls_text("redis://:pw@n1:7000, rediss://app:pw@n2:7001"),
            "redis://:***@n1:7000,rediss://app:***@n2:7001"
        );
    }

    #[test]
    fn secrets_are_hidden_with_a_word_on_what_production_refuses() {
        assert_eq!(
            secret_text(crate::secrets::DEV_JWT_SECRET),
            "*** (a built-in development or placeholder value)"
        );
        assert_eq!(
            secret_text("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
            "*** (looks guessable)"
        );
        assert_eq!(
            secret_text("7f3c9a1e5b8d2f4a6c0e9b7d5a3f1c8e2b4d6f8a0c2e4b6d"),
            "***"
        );
    }

    #[test]
    fn a_marked_field_serializes_masked() {
        #[derive(serde::Serialize)]
        struct Shown {
            #[serde(serialize_with = "secret")]
            token: SecretString,
            #[serde(serialize_with = "optional_secret_url")]
            smtp: Option<SecretString>,
            #[serde(serialize_with = "optional_secret")]
            unset: Option<SecretString>,
        }
        let shown = serde_json::to_value(Shown {
            token: SecretString::from("7f3c9a1e5b8d2f4a6c0e9b7d5a3f1c8e2b4d6f8a0c2e4b6d"),
            smtp: Some(SecretString::from("smtps://m:sm7p@smtp.example.com:465")),
            unset: None,
        })
        .expect("serializes");
        assert_eq!(
            shown,
            serde_json::json!({
                "token": "***",
                "smtp": "smtps://m:***@smtp.example.com:465",
                "unset": null,
            })
        );
    }
}
