use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{PASSWORD, spawn_app, spawn_app_with, unique_email};

#[tokio::test]
async fn login_returns_the_contract_fields_and_stores_the_session() {
    let mut app = spawn_app().await;
    let email = unique_email();
    let signed: Value = app.sign_up(&email, PASSWORD).await.json().await.unwrap();
    let res = app.log_in(&email.to_uppercase(), PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers().get("cache-control").unwrap(), "no-store");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["userId"], signed["userId"]);
    assert_eq!(body["tokenType"], "Bearer");
    assert_eq!(body["reused"], false);
    let expires_in = body["expiresIn"].as_i64().unwrap();
    assert!((43198..=43200).contains(&expires_in), "{expires_in}");
    let expires_at =
        chrono::DateTime::parse_from_rfc3339(body["expiresAt"].as_str().unwrap()).unwrap();
    let delta = expires_at.timestamp() - chrono::Utc::now().timestamp() - expires_in;
    assert!(delta.abs() <= 2);
    let token = body["token"].as_str().unwrap();
    let key = app.key(body["userId"].as_str().unwrap());
    assert_eq!(app.redis_get(&key).await.as_deref(), Some(token));
    let ttl = app.redis_ttl(&key).await;
    assert!((43198..=43200).contains(&ttl));

    let res = app.get_session(Some(&format!("Bearer {token}"))).await;
    assert_eq!(res.status(), StatusCode::OK);
    let info: Value = res.json().await.unwrap();
    assert_eq!(info["email"], email);
    assert_eq!(info["userId"], signed["userId"]);
    assert_eq!(info["expiresAt"], body["expiresAt"]);
}

#[tokio::test]
async fn wrong_password_and_unknown_email_give_byte_identical_401s() {
    let app = spawn_app().await;
    let email = unique_email();
    app.sign_up(&email, PASSWORD).await;
    let wrong = app.log_in(&email, "not the password").await;
    let unknown = app.log_in(&unique_email(), "not the password").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    let (wrong_www, unknown_www) = (
        wrong.headers().get("www-authenticate").cloned(),
        unknown.headers().get("www-authenticate").cloned(),
    );
    assert_eq!(wrong_www, unknown_www);
    let (a, b) = (wrong.bytes().await.unwrap(), unknown.bytes().await.unwrap());
    assert_eq!(a, b);
    let body: Value = serde_json::from_slice(&a).unwrap();
    assert_eq!(body["error"], "invalid_credentials");
}

#[tokio::test]
async fn login_twice_returns_the_same_session() {
    let app = spawn_app().await;
    let email = unique_email();
    app.sign_up(&email, PASSWORD).await;
    let first: Value = app.log_in(&email, PASSWORD).await.json().await.unwrap();
    let second: Value = app.log_in(&email, PASSWORD).await.json().await.unwrap();
    assert_eq!(first["reused"], false);
    assert_eq!(second["reused"], true);
    assert_eq!(first["token"], second["token"]);
    assert_eq!(first["expiresAt"], second["expiresAt"]);
}

#[tokio::test]
async fn twenty_concurrent_logins_give_one_token_and_one_key() {
    let mut app = spawn_app().await;
    let email = unique_email();
    app.sign_up(&email, PASSWORD).await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (client, url, email) = (app.client.clone(), app.url("/login"), email.clone());
        tasks.spawn(async move {
            let res = client
                .post(url)
                .json(&serde_json::json!({"email": email, "password": PASSWORD}))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            res.json::<Value>().await.unwrap()
        });
    }
    let mut tokens = HashSet::new();
    let mut fresh = 0;
    while let Some(body) = tasks.join_next().await {
        let body = body.unwrap();
        if body["reused"] == false {
            fresh += 1;
        }
        tokens.insert(body["token"].as_str().unwrap().to_owned());
    }
    assert_eq!(tokens.len(), 1);
    assert_eq!(fresh, 1, "exactly one login created the session");
    assert_eq!(app.session_keys().await.len(), 1);
}

#[tokio::test]
async fn a_raised_bcrypt_cost_rehashes_at_the_next_login() {
    let app = spawn_app().await;
    let email = unique_email();
    app.sign_up(&email, PASSWORD).await;
    let db = app.settings.mongodb.database.clone();
    let mongo = mongodb::Client::with_uri_str(crate::helpers::env("TEST_MONGODB_URI"))
        .await
        .unwrap();
    let users = mongo
        .database(&db)
        .collection::<mongodb::bson::Document>("users");
    let hash_cost = |doc: mongodb::bson::Document| {
        auth_service::password::cost_of(doc.get_str("password_hash").unwrap())
    };
    let before = users
        .find_one(mongodb::bson::doc! {"email": &email})
        .await
        .unwrap()
        .unwrap();
    assert_eq!(hash_cost(before), Some(4));

    let raised = spawn_app_with(|s| {
        s.mongodb.database = db.clone();
        s.password.bcrypt_cost = 5;
    })
    .await;
    assert_eq!(
        raised.log_in(&email, PASSWORD).await.status(),
        StatusCode::OK
    );
    let after = users
        .find_one(mongodb::bson::doc! {"email": &email})
        .await
        .unwrap()
        .unwrap();
    assert_eq!(hash_cost(after), Some(5));
    assert_eq!(
        raised.log_in(&email, "wrong password!").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        raised.log_in(&email, PASSWORD).await.status(),
        StatusCode::OK,
        "the new hash still verifies"
    );
}
