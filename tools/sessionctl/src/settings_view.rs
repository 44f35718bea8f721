//! A service's loaded settings as rows of configuration key and shown value. The rows
//! are the settings serialized (each secret masked at its field by session-core's
//! `masked`, so a new secret cannot be printed by accident) and read at the keys of
//! the service's defaults (`settings::keys`: every key its types read, a map such as
//! `jwt.verification_keys` as one key). Nothing here lists keys; a few unset values
//! get a word on what the service does then.

use serde::Serialize;
use serde_json::Value;
use session_core::settings::{self, JwtAlgorithm};

/// Keys and shown values, in the settings types' order.
pub type Rows = Vec<(String, Value)>;

/// `settings` read at every key of `defaults` (the same type at its built-in values).
fn rows<T: Serialize>(settings: &T, defaults: &T) -> Rows {
    let tree = serde_json::to_value(settings).unwrap_or(Value::Null);
    settings::keys(defaults)
        .into_iter()
        .map(|key| {
            let value = key
                .split('.')
                .try_fold(&tree, |node, name| node.get(name))
                .cloned()
                .unwrap_or(Value::Null);
            let value = match value {
                Value::Object(map) if map.is_empty() => Value::Null,
                other => other,
            };
            (key, value)
        })
        .collect()
}

/// Replaces the value of `key` with `note` where `unset` says the value is unset.
fn note(rows: &mut Rows, key: &str, note: impl Into<String>) {
    if let Some((_, value)) = rows.iter_mut().find(|(k, _)| k == key)
        && (value.is_null() || value.as_str() == Some(""))
    {
        *value = Value::from(note.into());
    }
}

/// The auth-service's settings.
pub fn auth(s: &auth_service::configuration::Settings) -> Result<Rows, String> {
    let defaults = auth_service::configuration::Settings::defaults().map_err(|e| e.to_string())?;
    let mut rows = rows(s, &defaults);
    if s.jwt.algorithm == JwtAlgorithm::EdDSA {
        // What the service's start-up does then (production refuses it instead).
        note(
            &mut rows,
            "jwt.signing_key",
            "not set: a new key is made at every start (sessions do not survive a restart)",
        );
    }
    note(
        &mut rows,
        "mail.smtp_url",
        "not set: recovery and verification are off (404)",
    );
    note(
        &mut rows,
        "admin.token",
        "not set: the admin endpoints answer 403",
    );
    note(
        &mut rows,
        "events.stream",
        s.events.stream_key(&s.session.key_prefix),
    );
    note(&mut rows, "webhook.types", "all");
    Ok(rows)
}

/// The resource-service's settings.
pub fn resource(s: &resource_service::configuration::Settings) -> Result<Rows, String> {
    let defaults =
        resource_service::configuration::Settings::defaults().map_err(|e| e.to_string())?;
    Ok(rows(s, &defaults))
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
    use std::collections::BTreeSet;

    use super::*;
    use secrecy::ExposeSecret;

    fn auth_defaults() -> auth_service::configuration::Settings {
        auth_service::configuration::Settings::defaults().expect("defaults")
    }

    fn resource_defaults() -> resource_service::configuration::Settings {
        resource_service::configuration::Settings::defaults().expect("defaults")
    }

    /// Every key either service reads, from their types.
    fn product_keys() -> BTreeSet<String> {
        settings::keys(&auth_defaults())
            .into_iter()
            .chain(settings::keys(&resource_defaults()))
            .collect()
    }

    #[test]
    fn every_key_the_types_read_is_shown() {
        let shown: BTreeSet<String> = auth(&auth_defaults())
            .expect("rows")
            .into_iter()
            .chain(resource(&resource_defaults()).expect("rows"))
            .map(|(k, _)| k)
            .collect();
        assert_eq!(shown, product_keys());
        assert!(shown.contains("jwt.verification_keys"));
        assert!(shown.contains("session.cookie.name"));
    }

    /// docs/api.md's configuration table names exactly the keys the services' types
    /// read: a key added to one and not the other fails here.
    #[test]
    fn the_docs_key_table_and_the_settings_types_agree() {
        let doc = include_str!("../../../docs/api.md");
        let start = doc
            .find("## Configuration")
            .expect("docs/api.md has ## Configuration");
        let section = &doc[start..];
        let end = section[3..].find("\n## ").map_or(section.len(), |i| i + 3);
        let mut documented = BTreeSet::new();
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
        let read = product_keys();
        let missing: Vec<_> = read.difference(&documented).collect();
        let extra: Vec<_> = documented.difference(&read).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "docs/api.md's key table and the services' settings types differ: not documented {missing:?}, documented but not read {extra:?}"
        );
    }

    /// session-core's list of the product's sections (what a service lets through
    /// when only the other service reads it) is exactly the services' sections.
    #[test]
    fn the_product_sections_are_the_services_sections() {
        let sections: BTreeSet<String> = product_keys()
            .into_iter()
            .filter_map(|k| k.split('.').next().map(str::to_owned))
            .collect();
        let listed: BTreeSet<String> = settings::PRODUCT_SECTIONS
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        assert_eq!(sections, listed);
    }

    #[test]
    fn no_secret_of_the_defaults_is_shown() {
        let settings = auth_defaults();
        let shown = serde_json::to_string(&auth(&settings).expect("rows")).expect("json");
        assert!(!shown.contains(settings.jwt.secret.expose_secret()));
        assert!(!shown.contains(settings.internal.token.expose_secret()));
        assert!(shown.contains("\"jwt.secret\",\"*** (a built-in development"));
    }

    #[test]
    fn the_smtp_password_is_masked() {
        let mut settings = auth_defaults();
        settings.mail.smtp_url = Some(secrecy::SecretString::from(
            "smtps://mailer:sm7p-s3cret@smtp.example.com:465".to_owned(),
        ));
        let shown = serde_json::to_string(&auth(&settings).expect("rows")).expect("json");
        assert!(!shown.contains("sm7p-s3cret"), "{shown}");
        assert!(shown.contains("smtp.example.com"), "{shown}");
    }

    #[test]
    fn the_webhook_secret_is_masked() {
        let mut settings = auth_defaults();
        settings.webhook.url = Some("https://hooks:h00k-pass@hooks.example.com/in".to_owned());
        settings.webhook.secret = Some(secrecy::SecretString::from(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned(),
        ));
        let shown = serde_json::to_string(&auth(&settings).expect("rows")).expect("json");
        assert!(
            !shown.contains("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            "{shown}"
        );
        assert!(!shown.contains("h00k-pass"), "{shown}");
        assert!(shown.contains("hooks.example.com"), "{shown}");
    }

    #[test]
    fn a_map_key_is_one_row_with_its_entries() {
        let mut settings = resource_defaults();
        settings
            .jwt
            .verification_keys
            .insert("k1".into(), "-----BEGIN PUBLIC KEY-----\nAAAA\n".into());
        let rows = resource(&settings).expect("rows");
        let (_, value) = rows
            .iter()
            .find(|(k, _)| k == "jwt.verification_keys")
            .expect("a row");
        assert_eq!(value["k1"], "public key (PEM text)");
    }
}
