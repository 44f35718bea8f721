//! `keygen`: the key parses, its JWK is its public key, the key file is private.

use std::os::unix::fs::PermissionsExt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey};
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde_json::Value;

use crate::helpers::sessionctl;

/// The text between a PEM block's BEGIN and END lines, the lines included.
fn pem_block(text: &str, label: &str) -> String {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text
        .find(&begin)
        .unwrap_or_else(|| panic!("no {label}: {text}"));
    let stop = text[start..].find(&end).unwrap() + start + end.len();
    format!("{}\n", &text[start..stop])
}

fn assert_jwk_of(jwk: &Value, public: &VerifyingKey, kid: &str) {
    assert_eq!(jwk["kty"], "OKP");
    assert_eq!(jwk["crv"], "Ed25519");
    assert_eq!(jwk["alg"], "EdDSA");
    assert_eq!(jwk["use"], "sig");
    assert_eq!(jwk["kid"], kid);
    assert_eq!(jwk["x"], URL_SAFE_NO_PAD.encode(public.as_bytes()).as_str());
}

#[tokio::test]
async fn keygen_prints_a_key_whose_jwk_and_public_key_match_it() {
    let json = sessionctl(&["keygen", "--key-id", "rotation-2", "--json"], &[])
        .await
        .ok()
        .json();
    assert_eq!(json["keyId"], "rotation-2");
    let private = SigningKey::from_pkcs8_pem(json["privateKeyPem"].as_str().unwrap())
        .expect("a PKCS#8 Ed25519 key");
    let public = VerifyingKey::from_public_key_pem(json["publicKeyPem"].as_str().unwrap())
        .expect("an SPKI public key");
    assert_eq!(public, private.verifying_key());
    assert_jwk_of(&json["jwk"], &public, "rotation-2");

    // The text form: the same parts, and where each goes.
    let text = sessionctl(&["keygen"], &[]).await.ok().stdout;
    let private = SigningKey::from_pkcs8_pem(&pem_block(&text, "PRIVATE KEY")).unwrap();
    let public = VerifyingKey::from_public_key_pem(&pem_block(&text, "PUBLIC KEY")).unwrap();
    assert_eq!(public, private.verifying_key());
    let jwk_line = text.lines().find(|l| l.starts_with('{')).unwrap();
    let jwk: Value = serde_json::from_str(jwk_line).unwrap();
    let kid = jwk["kid"].as_str().unwrap().to_owned();
    assert!(kid.starts_with("ed25519_"), "{kid}");
    assert_jwk_of(&jwk, &public, &kid);
    for setting in [
        "jwt.algorithm = \"EdDSA\"",
        "jwt.signing_key =",
        &format!("jwt.signing_key_id = \"{kid}\""),
        &format!("jwt.verification_keys.{kid} ="),
        "jwt.jwks_url",
    ] {
        assert!(text.contains(setting), "{setting}: {text}");
    }
    assert_ne!(
        SigningKey::from_pkcs8_pem(&pem_block(&text, "PRIVATE KEY"))
            .unwrap()
            .to_bytes(),
        SigningKey::from_pkcs8_pem(json["privateKeyPem"].as_str().unwrap())
            .unwrap()
            .to_bytes(),
        "a new key each time"
    );
}

#[tokio::test]
async fn keygen_writes_the_private_key_to_a_new_file_only_its_owner_can_read() {
    let dir = std::env::temp_dir().join(format!("sessionctl-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("signing.pem");
    let out = path.to_str().unwrap();

    let run = sessionctl(&["keygen", "--key-id", "k1", "--out", out], &[])
        .await
        .ok();
    assert!(!run.stdout.contains("PRIVATE KEY-----"), "{run:?}");
    assert!(run.stdout.contains("written to"), "{run:?}");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    let written = std::fs::read_to_string(&path).unwrap();
    let private = SigningKey::from_pkcs8_pem(&written).unwrap();
    let public = VerifyingKey::from_public_key_pem(&pem_block(&run.stdout, "PUBLIC KEY")).unwrap();
    assert_eq!(public, private.verifying_key());

    // An existing file is never overwritten.
    let again = sessionctl(&["keygen", "--out", out, "--json"], &[])
        .await
        .failed(1);
    assert!(again.stderr.contains("never overwrites"), "{again:?}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), written);

    // A bad key id is refused before anything is made.
    sessionctl(&["keygen", "--key-id", "Has Spaces"], &[])
        .await
        .failed(1);
    std::fs::remove_dir_all(&dir).unwrap();
}
