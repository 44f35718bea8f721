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

async fn form(app: &crate::helpers::TestApp, auth: Option<&str>, body: &str) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url("/introspect"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body.to_owned());
    if let Some(auth) = auth {
        req = req.header("Authorization", auth);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn rfc_7662_form_introspection_answers_the_rfc_fields_and_ours() {
    let app = spawn_app().await;
    let (email, user_id, token) = app.user_with_session().await;
    let internal = format!("Bearer {INTERNAL_TOKEN}");
    for body in [
        format!("token={token}"),
        format!("token={token}&token_type_hint=access_token"),
        format!("token_type_hint=refresh_token&token={token}&unknown=1"),
    ] {
        let res = form(&app, Some(&internal), &body).await;
        assert_eq!(res.status(), StatusCode::OK, "{body}");
        assert_eq!(res.headers()["cache-control"], "no-store");
        let answer: Value = res.json().await.unwrap();
        assert_eq!(answer["active"], true);
        assert_eq!(answer["sub"], user_id);
        assert_eq!(answer["userId"], user_id);
        assert_eq!(answer["email"], email);
        assert_eq!(answer["token_type"], "Bearer");
        assert!(answer["sessionId"].as_str().is_some_and(|s| s.len() == 22));
        assert!(answer["exp"].as_i64().unwrap() > answer["iat"].as_i64().unwrap());
    }
    // An unknown token is simply inactive.
    let res = form(&app, Some(&internal), "token=not.a.token").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"active": false}));
    // The caller is checked first, as for JSON.
    assert_error(
        form(
            &app,
            Some("Bearer wrong-internal-token"),
            &format!("token={token}"),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    assert_error(
        form(&app, None, &format!("token={token}")).await,
        StatusCode::UNAUTHORIZED,
        "missing_authorization",
    )
    .await;
    // No token, or an empty one, is a bad request; another media type is 415.
    for body in ["", "token=", "token_type_hint=access_token"] {
        assert_error(
            form(&app, Some(&internal), body).await,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        )
        .await;
    }
    let res = app
        .client
        .post(app.url("/introspect"))
        .header("Authorization", &internal)
        .header("Content-Type", "text/plain")
        .body(format!("token={token}"))
        .send()
        .await
        .unwrap();
    assert_error(
        res,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    // A body over the limit is 413 in either form.
    let big = format!("token={}", "a".repeat(20 * 1024));
    assert_error(
        form(&app, Some(&internal), &big).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;
}

async fn verify(app: &crate::helpers::TestApp, auth: Option<&str>) -> reqwest::Response {
    let mut req = app.client.get(app.url("/verify"));
    if let Some(auth) = auth {
        req = req.header("Authorization", auth);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn verify_names_the_user_in_headers_or_says_why_not() {
    for cache in [false, true] {
        let app = spawn_app_with(|s| s.validation.cache = cache).await;
        let (email, user_id, token) = app.user_with_session().await;
        let auth = format!("Bearer {token}");
        let res = verify(&app, Some(&auth)).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["x-user-id"], user_id.as_str());
        assert_eq!(res.headers()["x-user-email"], email.as_str());
        let session_id = res.headers()["x-session-id"].to_str().unwrap().to_owned();
        assert_eq!(res.headers()["cache-control"], "no-store");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["userId"], user_id);
        assert_eq!(body["sessionId"], session_id);
        assert_eq!(body["email"], email);
        assert!(body["expiresAt"].as_str().is_some());

        for (credential, code) in [
            (None, "missing_authorization"),
            (Some("Bearer not.a.token".to_owned()), "invalid_token"),
            (Some(user_id.clone()), "invalid_token"),
        ] {
            let res = verify(&app, credential.as_deref()).await;
            assert_eq!(res.headers()["x-auth-error"], code);
            assert_error(res, StatusCode::UNAUTHORIZED, code).await;
        }
        assert_eq!(app.log_out(&auth).await.status(), StatusCode::NO_CONTENT);
        // Through the cache the logout arrives over pub/sub: allow it a moment.
        let started = std::time::Instant::now();
        loop {
            let res = verify(&app, Some(&auth)).await;
            if res.status() == StatusCode::UNAUTHORIZED {
                assert_eq!(res.headers()["x-auth-error"], "session_not_found");
                break;
            }
            assert!(started.elapsed() < std::time::Duration::from_secs(2));
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}
