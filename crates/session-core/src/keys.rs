//! Ed25519 keys: reading PEM (inline or from a file), generating a development key,
//! and publishing public keys as a JWK Set.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{SigningKey, VerifyingKey};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::settings::SettingsError;

/// One public key of a JWK Set (RFC 7517, OKP keys of RFC 8037).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Jwk {
    /// Key type: `OKP`.
    pub kty: String,
    /// Curve: `Ed25519`.
    pub crv: String,
    /// The public key, base64url without padding.
    pub x: String,
    /// Key id, as in the token header.
    pub kid: String,
    /// Algorithm: `EdDSA`.
    #[serde(default)]
    pub alg: Option<String>,
    /// Use: `sig`.
    #[serde(rename = "use", default)]
    pub use_: Option<String>,
}

/// A JWK Set, as served at `/.well-known/jwks.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Jwks {
    /// The keys.
    pub keys: Vec<Jwk>,
}

impl Jwk {
    /// The JWK of an Ed25519 public key.
    pub fn ed25519(kid: &str, public: &VerifyingKey) -> Self {
        Self {
            kty: "OKP".into(),
            crv: "Ed25519".into(),
            x: URL_SAFE_NO_PAD.encode(public.as_bytes()),
            kid: kid.to_owned(),
            alg: Some("EdDSA".into()),
            use_: Some("sig".into()),
        }
    }
}

/// A PEM value from configuration: the PEM text itself, or a path to a file holding it.
pub fn pem_text(value: &str, what: &str) -> Result<String, SettingsError> {
    if value.trim_start().starts_with("-----BEGIN") {
        return Ok(value.to_owned());
    }
    std::fs::read_to_string(value.trim()).map_err(|_| SettingsError::Malformed {
        key: what.to_owned(),
        expected: "PEM text or a readable file",
    })
}

/// Parses an Ed25519 private key (PKCS#8 PEM).
pub fn signing_key_from_pem(pem: &str) -> Result<SigningKey, SettingsError> {
    SigningKey::from_pkcs8_pem(pem).map_err(|_| SettingsError::Malformed {
        key: "jwt.signing_key".into(),
        expected: "an Ed25519 private key (PKCS#8 PEM)",
    })
}

/// Parses an Ed25519 public key (SPKI PEM).
pub fn verifying_key_from_pem(pem: &str, kid: &str) -> Result<VerifyingKey, SettingsError> {
    VerifyingKey::from_public_key_pem(pem).map_err(|_| SettingsError::Malformed {
        key: format!("jwt.verification_keys.{kid}"),
        expected: "an Ed25519 public key (PEM)",
    })
}

/// The public key of a signing key, as PEM.
pub fn public_pem(key: &SigningKey) -> Result<String, SettingsError> {
    key.verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|_| SettingsError::Startup {
            what: "the public key's PEM",
        })
}

/// A fresh Ed25519 private key as PKCS#8 PEM, from the operating system's randomness.
pub fn generate_signing_key_pem() -> Result<SecretString, SettingsError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|_| SettingsError::Startup {
        what: "a signing key (no randomness)",
    })?;
    let key = SigningKey::from_bytes(&seed);
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|_| SettingsError::Startup {
            what: "the signing key's PEM",
        })?;
    Ok(SecretString::from(pem.to_string()))
}

/// The public key a JWK carries, if it is an Ed25519 key.
pub fn verifying_key_from_jwk(jwk: &Jwk) -> Option<VerifyingKey> {
    if jwk.kty != "OKP" || jwk.crv != "Ed25519" {
        return None;
    }
    let bytes: [u8; 32] = URL_SAFE_NO_PAD.decode(&jwk.x).ok()?.try_into().ok()?;
    VerifyingKey::from_bytes(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn generated_keys_round_trip_through_pem_and_jwk() {
        let pem = generate_signing_key_pem().expect("generate");
        let key = signing_key_from_pem(pem.expose_secret()).expect("parse");
        let public = public_pem(&key).expect("public");
        let verifying = verifying_key_from_pem(&public, "k1").expect("public parse");
        assert_eq!(verifying, key.verifying_key());
        let jwk = Jwk::ed25519("k1", &verifying);
        assert_eq!(verifying_key_from_jwk(&jwk), Some(verifying));
        assert_ne!(
            generate_signing_key_pem().expect("again").expose_secret(),
            pem.expose_secret()
        );
    }

    #[test]
    fn bad_pem_is_a_settings_error() {
        assert!(
            signing_key_from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----")
                .is_err()
        );
        assert!(verifying_key_from_pem("nope", "k").is_err());
        assert!(pem_text("/definitely/not/here.pem", "jwt.signing_key").is_err());
    }
}
