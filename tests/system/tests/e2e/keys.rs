//! Asymmetric signing: EdDSA keys, key ids, rotation and the JWKS.

use reqwest::StatusCode;
use secrecy::ExposeSecret;
use serde_json::Value;
use session_core::keys;

use crate::helpers::{Options, Stack, assert_error, kv, stack, unique_email};

fn key_pair() -> (String, String) {
    let private = keys::generate_signing_key_pem().unwrap();
    let signing = keys::signing_key_from_pem(private.expose_secret()).unwrap();
    (
        private.expose_secret().to_owned(),
        keys::public_pem(&signing).unwrap(),
    )
}

async fn login_token(s: &Stack) -> (String, String) {
    let email = unique_email();
    s.sign_up(&email).await;
    (
        email.clone(),
        s.log_in(&email).await["token"].as_str().unwrap().to_owned(),
    )
}

fn kid_of(token: &str) -> String {
    session_core::jwt_crypto::install();
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

#[tokio::test]
async fn a_resource_service_with_only_the_public_key_validates_and_cannot_be_fooled() {
    session_core::jwt_crypto::install();
    let (private, public) = key_pair();
    let s = stack(Options {
        extra: vec![
            kv("APP__JWT__ALGORITHM", "EdDSA"),
            kv("APP__JWT__SIGNING_KEY", &private),
            kv("APP__JWT__SIGNING_KEY_ID", "key-a"),
            kv("APP__JWT__VERIFICATION_KEYS__KEY-A", &public),
        ],
        ..Options::default()
    })
    .await;
    let (email, token) = login_token(&s).await;
    assert_eq!(kid_of(&token), "key-a");
    let res = s.me(Some(&format!("Bearer {token}"))).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["email"], email);

    // Algorithm confusion: HS256 with the public key's bytes as the secret.
    let claims: Value = jsonwebtoken::dangerous::insecure_decode_claims(&token).unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some("key-a".into());
    let forged = jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(public.as_bytes()).unwrap(),
    )
    .unwrap();
    assert_error(
        s.me(Some(&format!("Bearer {forged}"))).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
}

#[tokio::test]
async fn rotation_keeps_old_tokens_working_and_new_logins_use_the_new_key() {
    let (private_a, public_a) = key_pair();
    let (private_b, _) = key_pair();
    let mut s = stack(Options {
        extra: vec![
            kv("APP__JWT__ALGORITHM", "EdDSA"),
            kv("APP__JWT__SIGNING_KEY", &private_a),
            kv("APP__JWT__SIGNING_KEY_ID", "key-a"),
        ],
        // The resource-service learns keys only from the auth-service's JWKS.
        jwks: true,
        ..Options::default()
    })
    .await;
    let (_, token_a) = login_token(&s).await;
    assert_eq!(kid_of(&token_a), "key-a");
    assert_eq!(
        s.me(Some(&format!("Bearer {token_a}"))).await.status(),
        StatusCode::OK
    );

    // Rotate: sign with B, keep A for verification until its last token expires.
    s.auth.set_env("APP__JWT__SIGNING_KEY", &private_b);
    s.auth.set_env("APP__JWT__SIGNING_KEY_ID", "key-b");
    s.auth
        .set_env("APP__JWT__VERIFICATION_KEYS__KEY-A", &public_a);
    s.auth.restart().await;

    let jwks: Value = s
        .client
        .get(s.auth.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut kids: Vec<String> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    kids.sort();
    assert_eq!(kids, vec!["key-a", "key-b"]);

    let old = format!("Bearer {token_a}");
    assert_eq!(
        s.me(Some(&old)).await.status(),
        StatusCode::OK,
        "A's token still passes the resource-service"
    );
    let res = s.session_info(&old).await;
    assert_eq!(res.status(), StatusCode::OK, "and the auth-service");

    let (_, token_b) = login_token(&s).await;
    assert_eq!(kid_of(&token_b), "key-b");
    // B is unknown to the resource-service until it refetches the JWKS, which the
    // unknown kid triggers.
    assert_eq!(
        s.me(Some(&format!("Bearer {token_b}"))).await.status(),
        StatusCode::OK
    );
    assert!(
        s.resource
            .log_text()
            .matches("verification keys fetched")
            .count()
            >= 2
    );
}

#[tokio::test]
async fn a_dev_auth_service_without_a_key_makes_one_and_publishes_it() {
    let s = stack(Options {
        extra: vec![
            kv("APP__JWT__ALGORITHM", "EdDSA"),
            kv("APP__JWT__JWKS_URL", "http://127.0.0.1:1/unused"),
        ],
        ..Options::default()
    })
    .await;
    assert!(s.auth.log_text().contains("made a new Ed25519 key"));
    let jwks: Value = s
        .client
        .get(s.auth.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["kty"], "OKP");
    assert_eq!(keys[0]["crv"], "Ed25519");
    assert!(keys[0].get("d").is_none(), "no private part is published");
    let (_, token) = login_token(&s).await;
    assert_eq!(kid_of(&token), keys[0]["kid"].as_str().unwrap());
}
