//! The JWT codec: pinned algorithm, issuer, audience, expiry.

use secrecy::SecretString;
use session_core::settings::{JwtAlgorithm, JwtSettings};

use crate::support::{SECRET, jwt_settings};

fn settings(secret: &str, iss: &str, aud: &str) -> JwtSettings {
    JwtSettings {
        secret: SecretString::from(secret.to_owned()),
        issuer: iss.into(),
        audience: aud.into(),
        ..jwt_settings()
    }
}

use session_core::{Claims, TokenCodec, TokenError};

fn codec() -> TokenCodec {
    TokenCodec::new(&settings(SECRET, "session-store", "session-store")).expect("codec")
}

/// A codec that has verified a token of its own, so it knows the standard header and
/// takes its fast path for tokens that carry it.
fn warm_codec() -> TokenCodec {
    let c = codec();
    let (token, _) = c
        .issue("65a1b2c3d4e5f60718293a4b", "ada@example.com", 600)
        .expect("issue");
    c.decode(&token).expect("decode");
    c
}

/// Decodes `token` with a new codec (the whole check) and with a warm one (the fast
/// path where the header is known); the two must agree.
fn decode(token: &str) -> Result<Claims, TokenError> {
    let cold = codec().decode(token);
    let warm = warm_codec().decode(token);
    assert_eq!(cold, warm, "the whole check and the fast path disagree");
    cold
}

fn b64(bytes: &[u8]) -> String {
    // URL-safe base64 without padding, enough for forging test tokens.
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

fn claims() -> Claims {
    let now = chrono::Utc::now().timestamp();
    Claims {
        sub: "65a1b2c3d4e5f60718293a4b".into(),
        email: "ada@example.com".into(),
        iat: now,
        exp: now + 600,
        jti: "j".into(),
        sid: "s".into(),
        ip: None,
        ua: None,
        iss: "session-store".into(),
        aud: "session-store".into(),
    }
}

#[test]
fn issued_token_round_trips_with_all_claims() {
    let c = codec();
    let (token, issued) = c
        .issue("65a1b2c3d4e5f60718293a4b", "ada@example.com", 43200)
        .expect("issue");
    let decoded = c.decode(&token).expect("decode");
    assert_eq!(decoded, issued);
    assert_eq!(decoded.exp - decoded.iat, 43200);
    assert_eq!(decoded.jti.len(), 32, "128-bit jti in hex");
    assert_eq!(decoded.iss, "session-store");
    assert_eq!(decoded.aud, "session-store");
    let (other, _) = c
        .issue("65a1b2c3d4e5f60718293a4b", "ada@example.com", 43200)
        .expect("issue");
    assert_ne!(token, other);
}

#[test]
fn short_secret_is_a_start_up_error() {
    assert!(TokenCodec::new(&settings("too-short", "session-store", "session-store")).is_err());
}

#[test]
fn alg_none_is_invalid() {
    let header = b64(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = b64(&serde_json::to_vec(&claims()).expect("json"));
    assert_eq!(
        decode(&format!("{header}.{payload}.")),
        Err(TokenError::Invalid)
    );
    assert_eq!(
        decode(&format!("{header}.{payload}")),
        Err(TokenError::Invalid)
    );
}

#[test]
fn another_algorithm_with_the_same_secret_is_invalid() {
    session_core::jwt_crypto::install();
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512),
        &claims(),
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()).expect("key"),
    )
    .expect("encode");
    assert_eq!(decode(&token), Err(TokenError::Invalid));
}

#[test]
fn changed_payload_is_invalid() {
    let (token, _) = codec()
        .issue("65a1b2c3d4e5f60718293a4b", "ada@example.com", 600)
        .expect("issue");
    let parts: Vec<&str> = token.split('.').collect();
    let mut forged = claims();
    forged.email = "mallory@example.com".into();
    let payload = b64(&serde_json::to_vec(&forged).expect("json"));
    let tampered = format!("{}.{}.{}", parts[0], payload, parts[2]);
    assert_eq!(decode(&tampered), Err(TokenError::Invalid));
}

#[test]
fn foreign_key_wrong_issuer_and_wrong_audience_are_invalid() {
    let foreign = TokenCodec::new(&settings(
        "another-secret-that-is-long-enough-xyz",
        "session-store",
        "session-store",
    ))
    .expect("codec");
    let (t1, _) = foreign
        .issue("65a1b2c3d4e5f60718293a4b", "a@example.com", 600)
        .expect("issue");
    assert_eq!(decode(&t1), Err(TokenError::Invalid));

    let other_iss =
        TokenCodec::new(&settings(SECRET, "someone-else", "session-store")).expect("codec");
    let (t2, _) = other_iss
        .issue("65a1b2c3d4e5f60718293a4b", "a@example.com", 600)
        .expect("issue");
    assert_eq!(decode(&t2), Err(TokenError::Invalid));

    let other_aud = TokenCodec::new(&settings(SECRET, "session-store", "billing")).expect("codec");
    let (t3, _) = other_aud
        .issue("65a1b2c3d4e5f60718293a4b", "a@example.com", 600)
        .expect("issue");
    assert_eq!(decode(&t3), Err(TokenError::Invalid));
}

#[test]
fn expired_is_told_apart_from_invalid() {
    session_core::jwt_crypto::install();
    let mut c = claims();
    c.iat -= 1000;
    c.exp = chrono::Utc::now().timestamp() - 1;
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &c,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()).expect("key"),
    )
    .expect("encode");
    assert_eq!(decode(&token), Err(TokenError::Expired));
    // Expired and wrongly signed: invalid wins, the signature is checked first.
    let foreign = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &c,
        &jsonwebtoken::EncodingKey::from_secret(b"another-secret-that-is-long-enough-xyz")
            .expect("key"),
    )
    .expect("encode");
    assert_eq!(decode(&foreign), Err(TokenError::Invalid));
}

#[test]
fn well_signed_tokens_without_the_contracts_claims_are_invalid() {
    session_core::jwt_crypto::install();
    let key = jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()).expect("key");
    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    let mut full = serde_json::to_value(claims()).expect("json");
    for missing in ["sub", "exp", "iss", "aud", "email"] {
        let mut partial = full.clone();
        partial.as_object_mut().expect("object").remove(missing);
        let token = jsonwebtoken::encode(&header, &partial, &key).expect("encode");
        assert_eq!(
            decode(&token),
            Err(TokenError::Invalid),
            "without {missing}"
        );
    }
    full["aud"] = serde_json::json!(["session-store"]);
    let token = jsonwebtoken::encode(&header, &full, &key).expect("encode");
    assert_eq!(decode(&token), Err(TokenError::Invalid), "an audience list");
    // A signed payload that is not JSON at all.
    let (token, _) = codec()
        .issue("65a1b2c3d4e5f60718293a4b", "ada@example.com", 600)
        .expect("issue");
    let head = token.split('.').next().expect("header");
    let message = format!("{head}.{}", b64(b"not json"));
    let signature =
        jsonwebtoken::crypto::sign(message.as_bytes(), &key, jsonwebtoken::Algorithm::HS256)
            .expect("sign");
    assert_eq!(
        decode(&format!("{message}.{signature}")),
        Err(TokenError::Invalid)
    );
    assert!(decode(&token).is_ok());
}

#[test]
fn garbage_never_panics() {
    for s in [
        "",
        ".",
        "..",
        "a.b.c",
        "eyJ.eyJ.",
        &"A".repeat(8000),
        "\u{0}\u{1}.x.y",
    ] {
        assert_eq!(decode(s), Err(TokenError::Invalid), "{s:.20}");
    }
}

mod eddsa {
    use super::*;
    use secrecy::ExposeSecret;
    use session_core::keys;

    fn key_pair() -> (String, String) {
        let private = keys::generate_signing_key_pem().expect("generate");
        let signing = keys::signing_key_from_pem(private.expose_secret()).expect("parse");
        (
            private.expose_secret().to_owned(),
            keys::public_pem(&signing).expect("public"),
        )
    }

    fn eddsa(signing: Option<(&str, &str)>, verify: &[(&str, &str)]) -> TokenCodec {
        let mut s = settings(SECRET, "session-store", "session-store");
        s.algorithm = JwtAlgorithm::EdDSA;
        if let Some((kid, pem)) = signing {
            s.signing_key = Some(SecretString::from(pem.to_owned()));
            s.signing_key_id = Some(kid.to_owned());
        }
        s.verification_keys = verify
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        TokenCodec::new(&s).expect("codec")
    }

    #[test]
    fn a_public_key_alone_verifies_and_cannot_sign() {
        session_core::jwt_crypto::install();
        let (private, public) = key_pair();
        let signer = eddsa(Some(("a", &private)), &[]);
        let (token, claims) = signer
            .issue("65a1b2c3d4e5f60718293a4b", "a@example.com", 600)
            .expect("issue");
        let header = jsonwebtoken::decode_header(&token).expect("header");
        assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);
        assert_eq!(header.kid.as_deref(), Some("a"));
        let verifier = eddsa(None, &[("a", &public)]);
        assert_eq!(verifier.decode(&token), Ok(claims.clone()));
        // Again, now that the header is known; and altered after it was known.
        assert_eq!(verifier.decode(&token), Ok(claims));
        let mut tampered = token.clone();
        let last = tampered.pop().expect("a character");
        tampered.push(if last == 'A' { 'B' } else { 'A' });
        assert_eq!(verifier.decode(&tampered), Err(TokenError::Invalid));
        assert_eq!(
            verifier.issue("u", "e", 60).map(|_| ()),
            Err(TokenError::Signing)
        );
    }

    #[test]
    fn hs256_signed_with_the_public_key_bytes_is_invalid() {
        session_core::jwt_crypto::install();
        let (_, public) = key_pair();
        let verifier = eddsa(None, &[("a", &public)]);
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        header.kid = Some("a".into());
        let forged = jsonwebtoken::encode(
            &header,
            &claims(),
            &jsonwebtoken::EncodingKey::from_secret(public.as_bytes()).expect("key"),
        )
        .expect("encode");
        assert_eq!(verifier.decode(&forged), Err(TokenError::Invalid));
    }

    #[test]
    fn another_key_under_a_known_kid_is_invalid_and_an_unknown_kid_asks_for_keys() {
        let (_, public_a) = key_pair();
        let (private_b, _) = key_pair();
        let verifier = eddsa(None, &[("a", &public_a)]);
        let (by_b_as_a, _) = eddsa(Some(("a", &private_b)), &[])
            .issue("u", "e@example.com", 60)
            .expect("issue");
        assert_eq!(verifier.decode(&by_b_as_a), Err(TokenError::Invalid));
        let (by_b, claims) = eddsa(Some(("b", &private_b)), &[])
            .issue("u", "e@example.com", 60)
            .expect("issue");
        assert_eq!(verifier.decode(&by_b), Err(TokenError::UnknownKey));
        // The JWKS of a codec that signs with b and still accepts a lists both.
        let auth = eddsa(Some(("b", &private_b)), &[("a", &public_a)]);
        let jwks = auth.jwks();
        let mut kids: Vec<&str> = jwks.keys.iter().map(|k| k.kid.as_str()).collect();
        kids.sort_unstable();
        assert_eq!(kids, vec!["a", "b"]);
        assert_eq!(verifier.add_jwks(&jwks), 2);
        assert_eq!(verifier.decode(&by_b), Ok(claims));
    }

    #[test]
    fn hs256_codecs_publish_no_keys() {
        assert!(codec().jwks().keys.is_empty());
    }
}
