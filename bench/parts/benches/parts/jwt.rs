//! `TokenCodec::decode` (after the first token, its fast path for a header segment seen
//! before: `decode_known` / `verify_known`) against `jsonwebtoken::decode` whole with
//! the codec's own validation (leeway 0, issuer, audience, required claims), for HS256
//! and EdDSA, through session-core's crypto provider (`jwt_crypto`).

use std::collections::BTreeMap;
use std::hint::black_box;

use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use parts_bench::{Knobs, Table, pair};
use secrecy::SecretString;
use session_core::settings::{JwtAlgorithm, JwtSettings};
use session_core::{Claims, TokenCodec};

fn settings(algorithm: JwtAlgorithm, signing_key: Option<String>) -> JwtSettings {
    JwtSettings {
        secret: SecretString::from("a bench secret of at least thirty-two bytes".to_owned()),
        issuer: "auth-service".into(),
        audience: "session-store".into(),
        algorithm,
        signing_key: signing_key.map(SecretString::from),
        signing_key_id: Some("bench-1".into()),
        verification_keys: BTreeMap::new(),
        jwks_url: None,
    }
}

fn validation(algorithm: Algorithm) -> Validation {
    let mut validation = Validation::new(algorithm);
    validation.leeway = 0;
    validation.set_issuer(&["auth-service"]);
    validation.set_audience(&["session-store"]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation
}

fn compare(
    knobs: &Knobs,
    table: &mut Table,
    name: &str,
    codec: &TokenCodec,
    key: &DecodingKey,
    algorithm: Algorithm,
) {
    let (token, claims) = codec
        .issue("0123456789abcdef01234567", "ada@example.com", 3600)
        .expect("token");
    let validation = validation(algorithm);
    // Both accept the token and read the same claims; the first decode also makes the
    // codec remember the header.
    assert_eq!(codec.decode(&token).expect("ours"), claims);
    let theirs = jsonwebtoken::decode::<Claims>(&token, key, &validation).expect("theirs");
    assert_eq!(theirs.claims, claims);
    table.time(
        "jwt",
        &format!("ns per verify, {name}"),
        pair(
            knobs.reps,
            || {
                black_box(codec.decode(black_box(&token)).is_ok());
            },
            || {
                black_box(
                    jsonwebtoken::decode::<Claims>(black_box(&token), key, &validation).is_ok(),
                );
            },
        ),
    );
}

pub fn run(knobs: &Knobs, table: &mut Table) {
    let hs = TokenCodec::new(&settings(JwtAlgorithm::HS256, None)).expect("HS256 codec");
    let key =
        DecodingKey::from_secret(b"a bench secret of at least thirty-two bytes").expect("key");
    compare(knobs, table, "HS256", &hs, &key, Algorithm::HS256);

    let signing = SigningKey::from_bytes(&[7u8; 32]);
    let pem = signing
        .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
        .expect("pem")
        .to_string();
    let ed = TokenCodec::new(&settings(JwtAlgorithm::EdDSA, Some(pem))).expect("EdDSA codec");
    let key = DecodingKey::from_ed_der(signing.verifying_key().as_bytes());
    compare(knobs, table, "EdDSA", &ed, &key, Algorithm::EdDSA);
}
