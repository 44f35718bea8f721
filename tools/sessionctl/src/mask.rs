//! How secrets are shown: never their value. A secret is `***`, with a word when it
//! is one that production refuses; a URL keeps everything but its password and the
//! query parameters that carry credentials.

use secrecy::{ExposeSecret, SecretString};
use session_core::settings::{self, SettingsError};

/// What stands for a hidden value.
pub const HIDDEN: &str = "***";

/// A secret, hidden; says when production would refuse it (a built-in development
/// value or a placeholder, both public in the source, or a guessable one).
pub fn secret(value: &SecretString) -> String {
    let value = value.expose_secret();
    if value.is_empty() {
        return "(empty)".to_owned();
    }
    match settings::check_secret("secret", value, true) {
        Err(SettingsError::DevelopmentValue { .. }) => {
            format!("{HIDDEN} (a built-in development or placeholder value)")
        }
        Err(SettingsError::WeakSecret { .. }) => format!("{HIDDEN} (looks guessable)"),
        _ => HIDDEN.to_owned(),
    }
}

/// A PEM value that may be the PEM text or a file's path (`jwt.signing_key`), hidden
/// either way; says which.
pub fn private_pem(value: &SecretString) -> String {
    if value.expose_secret().trim_start().starts_with("-----BEGIN") {
        format!("{HIDDEN} (PEM text)")
    } else {
        format!("{HIDDEN} (a file's path)")
    }
}

/// A URL with its password and credential-bearing query parameters hidden:
/// `redis://app:***@host:6379/0`. The user name stays. Anything after the last `@`
/// is taken as the host part, so an `@` elsewhere hides more, never less.
pub fn url(raw: &str) -> String {
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

/// A comma-separated list of URLs (`redis.nodes`, `redis.sentinels`), each as [`url`]
/// shows it.
pub fn urls(list: &str) -> String {
    list.split(',')
        .map(|one| url(one.trim()))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_are_hidden_and_the_rest_stays() {
        assert_eq!(
            url("redis://app:s3cret@cache:6379/0"),
            "redis://app:***@cache:6379/0"
        );
        assert_eq!(
            url("rediss://:s3cret@cache:6380"),
            "rediss://:***@cache:6380"
        );
        assert_eq!(url("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
        assert_eq!(
            url("mongodb://ada:p%40ss@h1:27017,h2:27017/db?authSource=admin&replicaSet=rs0"),
            "mongodb://ada:***@h1:27017,h2:27017/db?authSource=admin&replicaSet=rs0"
        );
        // An unencoded @ in the password hides more, never less.
        assert_eq!(url("mongodb://ada:p@ss@h1/db"), "mongodb://ada:***@h1/db");
        assert_eq!(
            url(
                "mongodb+srv://AKIA:s3cret@cluster/?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:tok"
            ),
            "mongodb+srv://AKIA:***@cluster/?authMechanism=MONGODB-AWS&authMechanismProperties=***"
        );
        assert_eq!(
            url("mongodb://h/?tls=true&tlsCertificateKeyFilePassword=pw"),
            "mongodb://h/?tls=true&tlsCertificateKeyFilePassword=***"
        );
        assert_eq!(url("http://u:pw@proxy:3128"), "http://u:***@proxy:3128");
        assert_eq!(url("user:pw@host"), "***");
        assert_eq!(
            urls("redis://:pw@n1:7000, rediss://app:pw@n2:7001"),
            "redis://:***@n1:7000,rediss://app:***@n2:7001"
        );
    }

    #[test]
    fn secrets_are_hidden_with_a_word_on_what_production_refuses() {
        let shown = |s: &str| secret(&SecretString::from(s.to_owned()));
        assert_eq!(
            shown(settings::DEV_JWT_SECRET),
            "*** (a built-in development or placeholder value)"
        );
        assert_eq!(
            shown("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
            "*** (looks guessable)"
        );
        assert_eq!(
            shown("7f3c9a1e5b8d2f4a6c0e9b7d5a3f1c8e2b4d6f8a0c2e4b6d"),
            "***"
        );
    }
}
