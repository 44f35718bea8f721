use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{INTERNAL_TOKEN, assert_error, spawn_app, spawn_app_with};

#[tokio::test]
async fn introspection_needs_the_internal_token_and_tells_live_from_dead() {
    let app = spawn_app().await;
    let (email, user_id, token) = app.user_with_session().await;
    let ask = |auth: Option<String>, body: Value| {
        let mut req = app.client.post(app.url("/introspect")).json(&body);
        if let Some(auth) = auth {
            req = req.header("Authorization", auth);
        }
        req.send()
    };
    let internal = Some(format!("Bearer {INTERNAL_TOKEN}"));
    assert_error(
        ask(None, json!({"token": token})).await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "missing_authorization",
    )
    .await;
    assert_error(
        ask(
            Some("Bearer wrong-internal-token".into()),
            json!({"token": token}),
        )
        .await
        .unwrap(),
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    assert_error(
        ask(Some(format!("Bearer {token}")), json!({"token": token}))
            .await
            .unwrap(),
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;

    let res = ask(internal.clone(), json!({"token": token}))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["active"], true);
    assert_eq!(body["userId"], user_id);
    assert_eq!(body["email"], email);
    assert!(body["exp"].as_i64().unwrap() > body["iat"].as_i64().unwrap());

    let dead = ask(internal.clone(), json!({"token": "a.b.c"}))
        .await
        .unwrap();
    assert_eq!(dead.status(), StatusCode::OK);
    assert_eq!(
        dead.json::<Value>().await.unwrap(),
        json!({"active": false})
    );

    app.log_out(&format!("Bearer {token}")).await;
    let res = ask(internal.clone(), json!({"token": token}))
        .await
        .unwrap();
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"active": false}));

    let res = ask(internal, json!({"nothing": 1})).await.unwrap();
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
}

#[tokio::test]
async fn a_bare_user_id_is_asked_about_in_seed_mode_only() {
    let app = spawn_app().await;
    let (_, user_id, _) = app.user_with_session().await;
    let res = app
        .client
        .post(app.url("/introspect"))
        .header("Authorization", format!("Bearer {INTERNAL_TOKEN}"))
        .json(&json!({"userId": user_id}))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;

    let seed = spawn_app_with(|s| s.session.accept_user_id_header = true).await;
    let (_, user_id, _) = seed.user_with_session().await;
    let res = seed
        .client
        .post(seed.url("/introspect"))
        .header("Authorization", format!("Bearer {INTERNAL_TOKEN}"))
        .json(&json!({"userId": user_id}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["active"], true);
}

#[tokio::test]
async fn the_caller_is_checked_before_the_body_and_once() {
    let app = spawn_app().await;
    let (_, _, token) = app.user_with_session().await;
    // A stranger's broken body is never parsed: the answer is about the caller.
    for auth in [None, Some("Bearer wrong-internal-token-0000")] {
        let mut req = app
            .client
            .post(app.url("/introspect"))
            .header("Content-Type", "application/json")
            .body("{not json");
        if let Some(auth) = auth {
            req = req.header("Authorization", auth);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{auth:?}");
    }
    // Two Authorization headers are refused, whichever comes first.
    let internal = format!("Bearer {INTERNAL_TOKEN}");
    for pair in [
        [internal.as_str(), "Bearer someone-else"],
        ["Bearer someone-else", internal.as_str()],
    ] {
        let res = app
            .client
            .post(app.url("/introspect"))
            .header("Authorization", pair[0])
            .header("Authorization", pair[1])
            .json(&json!({"token": token}))
            .send()
            .await
            .unwrap();
        assert_error(res, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
}
