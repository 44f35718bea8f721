use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{INTERNAL_TOKEN, assert_error, spawn_app};

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
