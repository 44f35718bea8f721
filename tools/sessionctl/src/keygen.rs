//! `keygen`: a new Ed25519 signing key (PKCS#8 PEM) from the operating system's
//! randomness, with its public key (SPKI PEM) and its JWK as the auth-service
//! publishes it, all made by session-core's `keys` module.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context, bail};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use session_core::keys::{self, Jwk};
use session_core::session::{now_secs, rfc3339};

use crate::output;

/// Longest key id accepted.
const MAX_KEY_ID_CHARS: usize = 64;

/// Makes the key; prints it (or writes the private key to `out`), its public key, its
/// JWK and which settings take them.
pub fn run(key_id: Option<String>, out: Option<&Path>, json: bool) -> anyhow::Result<()> {
    let kid = match key_id {
        Some(kid) => checked_key_id(kid)?,
        None => default_key_id(),
    };
    let private = keys::generate_signing_key_pem()?;
    let signing = keys::signing_key_from_pem(private.expose_secret())?;
    let public = keys::public_pem(&signing)?;
    let jwk = Jwk::ed25519(&kid, &signing.verifying_key());
    let written = match out {
        Some(path) => Some(write_private_key(path, &private)?),
        None => None,
    };
    if json {
        let mut report = json!({
            "keyId": kid,
            "publicKeyPem": public,
            "jwk": jwk,
        });
        match &written {
            Some(path) => report["privateKeyFile"] = json!(path),
            None => report["privateKeyPem"] = json!(private.expose_secret()),
        }
        return output::print(&format!("{}\n", serde_json::to_string_pretty(&report)?));
    }
    let signing_key = match &written {
        Some(path) => format!("{path:?} (the key file)"),
        None => "the PRIVATE KEY below (PEM text, or a file's path)".to_owned(),
    };
    let env_kid = kid.to_ascii_uppercase();
    let mut text = format!(
        "# Ed25519 signing key {kid:?}. The settings that take it:
#
# auth-service, which signs sessions:
#   jwt.algorithm = \"EdDSA\"
#   jwt.signing_key_id = \"{kid}\"
#   jwt.signing_key = {signing_key}
# resource-service, which verifies them, either:
#   jwt.verification_keys.{kid} = the PUBLIC KEY below (PEM text, or a file's path)
#   or jwt.jwks_url = the auth-service's /.well-known/jwks.json, which publishes the JWK below
# As environment variables: APP__JWT__ALGORITHM, APP__JWT__SIGNING_KEY_ID,
#   APP__JWT__SIGNING_KEY, APP__JWT__VERIFICATION_KEYS__{env_kid}, APP__JWT__JWKS_URL.
# Rotating keys: keep the old public key under its id in jwt.verification_keys (on
# both services) until the sessions it signed have expired (session.ttl_seconds).

"
    );
    match &written {
        Some(path) => text.push_str(&format!("# private key written to {path} (mode 0600)\n")),
        None => text.push_str(private.expose_secret()),
    }
    text.push('\n');
    text.push_str(&public);
    text.push_str("\n# JWK (an entry of the JWK Set's \"keys\"):\n");
    text.push_str(&serde_json::to_string(&jwk)?);
    text.push('\n');
    output::print(&text)
}

/// `ed25519_`, today's date and 6 random hex digits: `ed25519_20260102_3fa94c`
/// (usable in an environment variable's name as it is).
fn default_key_id() -> String {
    let date: String = rfc3339(now_secs())
        .chars()
        .take(10)
        .filter(char::is_ascii_digit)
        .collect();
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("ed25519_{date}_{}", &random[..6])
}

/// A key id usable in a file, a TOML key and an `APP__...` name alike (the
/// environment's names reach the settings lowercased).
fn checked_key_id(kid: String) -> anyhow::Result<String> {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
    if kid.is_empty() || kid.chars().count() > MAX_KEY_ID_CHARS || !kid.chars().all(allowed) {
        bail!(
            "--key-id {kid:?}: use 1 to {MAX_KEY_ID_CHARS} lowercase letters, digits, '-' or '_' (it is also a settings key and an environment variable's name)"
        );
    }
    Ok(kid)
}

/// Writes the private key to a new file only its owner may read; an existing file is
/// left alone. Returns the file's absolute path.
fn write_private_key(path: &Path, pem: &SecretString) -> anyhow::Result<String> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|err| match err.kind() {
            std::io::ErrorKind::AlreadyExists => anyhow::anyhow!(
                "{} exists; sessionctl never overwrites a key file (choose another --out)",
                path.display()
            ),
            _ => anyhow::anyhow!("could not create {}: {err}", path.display()),
        })?;
    let written = file
        .set_permissions(std::fs::Permissions::from_mode(0o600))
        .and_then(|()| file.write_all(pem.expose_secret().as_bytes()))
        .and_then(|()| file.sync_all());
    if let Err(err) = written {
        drop(file);
        let _ = std::fs::remove_file(path);
        bail!("could not write {}: {err}", path.display());
    }
    let absolute = std::fs::canonicalize(path)
        .with_context(|| format!("could not resolve {}", path.display()))?;
    Ok(absolute.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ids_are_checked_and_the_default_is_dated() {
        assert!(checked_key_id("2026-rotation_1".into()).is_ok());
        for bad in ["", "Upper", "with space", "a.b", "a/b", &"k".repeat(65)] {
            assert!(checked_key_id(bad.to_owned()).is_err(), "{bad:?}");
        }
        let kid = default_key_id();
        assert_eq!(kid.len(), 23, "{kid}");
        assert!(checked_key_id(kid).is_ok());
    }
}
