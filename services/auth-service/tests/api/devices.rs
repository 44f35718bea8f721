//! Sessions per device (`session.per_user = multiple`), sign-out everywhere, password
//! change, admin, idle expiry; and the same endpoints in the seed's `single` mode.

use std::time::Duration;

use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::{Value, json};
use session_core::settings::{PerUser, WhenFull};

use crate::helpers::{PASSWORD, TestApp, assert_error, spawn_app_with, unique_email};

const ADMIN_TOKEN: &str = "test-admin-token-that-is-32-bytes-long-0123";

async fn multiple_app(max: u32, when_full: WhenFull) -> TestApp {
    spawn_app_with(|s| {
        s.session.per_user = PerUser::Multiple;
        s.session.max_per_user = max;
        s.session.when_full = when_full;
        s.admin.token = Some(SecretString::from(ADMIN_TOKEN.to_owned()));
    })
    .await
}

/// Logs in as `email` with `user_agent`; the answer's body.
async fn login_from(app: &TestApp, email: &str, user_agent: &str) -> Value {
    let res = app
        .client
        .post(app.url("/login"))
        .header("User-Agent", user_agent)
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

async fn signed_up(app: &TestApp) -> String {
    let email = unique_email();
    assert_eq!(
        app.sign_up(&email, PASSWORD).await.status(),
        StatusCode::CREATED
    );
    email
}

fn bearer(body: &Value) -> String {
    format!("Bearer {}", body["token"].as_str().unwrap())
}

async fn call(app: &TestApp, method: &str, path: &str, auth: &str) -> reqwest::Response {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    app.client
        .request(method, app.url(path))
        .header("Authorization", auth)
        .send()
        .await
        .unwrap()
}

async fn sessions_of(app: &TestApp, auth: &str) -> Vec<Value> {
    let res = call(app, "GET", "/sessions", auth).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    body["sessions"].as_array().unwrap().clone()
}

#[tokio::test]
async fn every_login_is_its_own_session_listed_with_its_device() {
    let app = multiple_app(10, WhenFull::EvictOldest).await;
    let email = signed_up(&app).await;
    let phone = login_from(&app, &email, "phone <b>").await;
    let laptop = login_from(&app, &email, "laptop").await;
    assert_eq!(phone["reused"], false);
    assert_eq!(laptop["reused"], false);
    assert_ne!(phone["sessionId"], laptop["sessionId"]);
    assert_eq!(phone["sessionId"].as_str().unwrap().len(), 22);
    let listed = sessions_of(&app, &bearer(&laptop)).await;
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["sessionId"], laptop["sessionId"], "newest first");
    assert_eq!(listed[0]["current"], true);
    assert_eq!(listed[1]["current"], false);
    assert_eq!(listed[1]["userAgent"], "phone <b>");
    assert_eq!(listed[1]["ip"], "127.0.0.1");
    // Both work at once; /session names each one's id.
    for body in [&phone, &laptop] {
        let res = app.get_session(Some(&bearer(body))).await;
        assert_eq!(res.status(), StatusCode::OK);
        let info: Value = res.json().await.unwrap();
        assert_eq!(info["sessionId"], body["sessionId"]);
    }
}

#[tokio::test]
async fn a_dump_of_every_redis_key_and_value_lets_nobody_in() {
    let mut app = multiple_app(10, WhenFull::EvictOldest).await;
    let email = signed_up(&app).await;
    let live = login_from(&app, &email, "ua").await;
    let token = live["token"].as_str().unwrap().to_owned();
    // Every key: the sessions, the index, the throttle's and the event stream.
    let keys = app.all_keys().await;
    assert!(keys.iter().any(|k| k.ends_with(":events")));
    let mut values = Vec::new();
    for key in &keys {
        let kind: String = redis::cmd("TYPE")
            .arg(key)
            .query_async(&mut app.redis)
            .await
            .unwrap();
        if kind == "stream" {
            let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
                .arg(key)
                .arg("-")
                .arg("+")
                .query_async(&mut app.redis)
                .await
                .unwrap();
            let digest = session_core::store::token_digest(&token);
            for (_, fields) in entries {
                for (_, value) in fields {
                    assert!(!value.contains(&digest), "no event holds a token's digest");
                    assert!(
                        !value.contains(crate::helpers::PASSWORD),
                        "no event holds a password"
                    );
                    values.push(value);
                }
            }
            values.push(key.clone());
            continue;
        }
        let mut cmd = match kind.as_str() {
            "hash" => redis::cmd("HVALS"),
            "zset" => redis::cmd("ZRANGE"),
            _ => redis::cmd("GET"),
        };
        cmd.arg(key);
        if kind == "zset" {
            cmd.arg(0).arg(-1);
        }
        let dumped: Vec<String> = if kind == "string" {
            let one: Option<String> = cmd.query_async(&mut app.redis).await.unwrap();
            one.into_iter().collect()
        } else {
            cmd.query_async(&mut app.redis).await.unwrap()
        };
        values.extend(dumped);
        values.push(key.clone());
    }
    assert!(
        values.iter().all(|v| !v.contains(&token)),
        "the token is kept nowhere"
    );
    for value in values.iter().filter(|v| !v.is_empty()) {
        let res = app.get_session(Some(&format!("Bearer {value}"))).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{value} let us in");
    }
    assert_eq!(
        app.get_session(Some(&format!("Bearer {token}")))
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn beyond_the_maximum_the_oldest_is_evicted_or_the_login_denied() {
    let app = multiple_app(3, WhenFull::EvictOldest).await;
    let email = signed_up(&app).await;
    let mut logins = Vec::new();
    for i in 0..4 {
        logins.push(login_from(&app, &email, &format!("device {i}")).await);
    }
    let first = app.get_session(Some(&bearer(&logins[0]))).await;
    assert_error(first, StatusCode::UNAUTHORIZED, "session_not_found").await;
    assert_eq!(sessions_of(&app, &bearer(&logins[3])).await.len(), 3);

    let deny = multiple_app(2, WhenFull::Deny).await;
    let email = signed_up(&deny).await;
    let a = login_from(&deny, &email, "a").await;
    login_from(&deny, &email, "b").await;
    let third = deny.log_in(&email, PASSWORD).await;
    assert_error(third, StatusCode::CONFLICT, "too_many_sessions").await;
    assert_eq!(
        deny.get_session(Some(&bearer(&a))).await.status(),
        StatusCode::OK,
        "a denied login ends nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_racing_logins_never_leave_more_than_the_maximum() {
    let mut app = multiple_app(5, WhenFull::EvictOldest).await;
    let email = signed_up(&app).await;
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let client = app.client.clone();
        let url = app.url("/login");
        let email = email.clone();
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .json(&json!({"email": email, "password": PASSWORD}))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }));
    }
    let mut tokens = Vec::new();
    for task in tasks {
        tokens.push(bearer(&task.await.unwrap()));
    }
    let session_keys: Vec<String> = app
        .session_keys()
        .await
        .into_iter()
        .filter(|k| !k.ends_with(":index") && !k.contains("throttle"))
        .collect();
    assert_eq!(session_keys.len(), 5, "{session_keys:?}");
    let mut live = 0;
    for token in &tokens {
        if app.get_session(Some(token)).await.status() == StatusCode::OK {
            live += 1;
        }
    }
    assert_eq!(
        live, 5,
        "exactly the maximum is live; every evicted one refused"
    );
}

#[tokio::test]
async fn ending_one_the_others_or_all_sessions() {
    let app = multiple_app(10, WhenFull::EvictOldest).await;
    let email = signed_up(&app).await;
    let a = login_from(&app, &email, "a").await;
    let b = login_from(&app, &email, "b").await;
    let c = login_from(&app, &email, "c").await;
    // Another user's session id, a malformed one and a 60 KB path are all refused.
    let other = login_from(&app, &signed_up(&app).await, "x").await;
    let foreign = format!("/sessions/{}", other["sessionId"].as_str().unwrap());
    assert_error(
        call(&app, "DELETE", &foreign, &bearer(&a)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_eq!(
        app.get_session(Some(&bearer(&other))).await.status(),
        StatusCode::OK
    );
    assert_error(
        call(&app, "DELETE", "/sessions/not-an-id", &bearer(&a)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let long = format!("/sessions/{}", "a".repeat(60 * 1024));
    let res = call(&app, "DELETE", &long, &bearer(&a)).await;
    assert!(res.status().is_client_error(), "{}", res.status());
    // One by id.
    let path = format!("/sessions/{}", b["sessionId"].as_str().unwrap());
    assert_eq!(
        call(&app, "DELETE", &path, &bearer(&a)).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_error(
        app.get_session(Some(&bearer(&b))).await,
        StatusCode::UNAUTHORIZED,
        "session_not_found",
    )
    .await;
    assert_error(
        call(&app, "DELETE", &path, &bearer(&a)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    // The others.
    assert_eq!(
        call(&app, "POST", "/logout/others", &bearer(&a))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get_session(Some(&bearer(&c))).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(sessions_of(&app, &bearer(&a)).await.len(), 1);
    // All.
    let d = login_from(&app, &email, "d").await;
    assert_eq!(
        call(&app, "POST", "/logout/all", &bearer(&a))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    for s in [&a, &d] {
        assert_eq!(
            app.get_session(Some(&bearer(s))).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
}

#[tokio::test]
async fn a_password_change_ends_the_other_sessions() {
    let app = multiple_app(10, WhenFull::EvictOldest).await;
    let email = signed_up(&app).await;
    let here = login_from(&app, &email, "here").await;
    let there = login_from(&app, &email, "there").await;
    let change = |current: &str, new: &str| {
        app.client
            .post(app.url("/password"))
            .header("Authorization", bearer(&here))
            .json(&json!({"currentPassword": current, "newPassword": new}))
            .send()
    };
    assert_error(
        change("wrong password", "a new password").await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    assert_error(
        change(PASSWORD, "short").await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "weak_password",
    )
    .await;
    assert_eq!(
        app.get_session(Some(&bearer(&there))).await.status(),
        StatusCode::OK,
        "refused changes end nothing"
    );
    let before: Value = app
        .get_session(Some(&bearer(&here)))
        .await
        .json()
        .await
        .unwrap();
    let res = change(PASSWORD, "a new password").await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let rotated: Value = res.json().await.unwrap();
    // The caller's session, rotated: a new token, the same id and absolute end.
    assert_eq!(rotated["sessionId"], before["sessionId"], "{rotated}");
    assert_eq!(rotated["tokenType"], "Bearer");
    assert_eq!(rotated["reused"], false);
    assert_ne!(rotated["token"], here["token"]);
    assert_eq!(
        app.get_session(Some(&bearer(&there))).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get_session(Some(&bearer(&here))).await.status(),
        StatusCode::UNAUTHORIZED,
        "the caller's old token"
    );
    let now: Value = app
        .get_session(Some(&bearer(&rotated)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(now["sessionId"], before["sessionId"]);
    assert_eq!(now["absoluteExpiresAt"], before["absoluteExpiresAt"]);
    assert_eq!(
        app.log_in(&email, PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.log_in(&email, "a new password").await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn admin_routes_need_their_own_token() {
    let app = multiple_app(10, WhenFull::EvictOldest).await;
    let email = signed_up(&app).await;
    let s = login_from(&app, &email, "ua").await;
    let user = s["userId"].as_str().unwrap();
    let path = format!("/admin/users/{user}/sessions");
    for token in [
        "Bearer wrong",
        &format!("Bearer {}", crate::helpers::INTERNAL_TOKEN),
    ] {
        assert_error(
            call(&app, "GET", &path, token).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
    }
    let admin = format!("Bearer {ADMIN_TOKEN}");
    let res = call(&app, "GET", &path, &admin).await;
    assert_eq!(res.status(), StatusCode::OK);
    let listed: Value = res.json().await.unwrap();
    assert_eq!(listed["sessions"].as_array().unwrap().len(), 1);
    assert!(listed["sessions"][0].get("current").is_none());
    assert_error(
        call(&app, "GET", "/admin/users/not-hex/sessions", &admin).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_eq!(
        call(&app, "DELETE", &path, &admin).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get_session(Some(&bearer(&s))).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // Without admin.token set the endpoints answer 403 whatever is presented.
    let closed = spawn_app_with(|_| {}).await;
    assert_error(
        call(&closed, "GET", &path, &admin).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
}

#[tokio::test]
async fn an_idle_session_ends_and_refresh_keeps_it_alive() {
    for per_user in [PerUser::Single, PerUser::Multiple] {
        let app = spawn_app_with(|s| {
            s.session.per_user = per_user;
            s.session.idle_timeout_seconds = 2;
            s.session.ttl_seconds = 60;
        })
        .await;
        let email = signed_up(&app).await;
        let s = login_from(&app, &email, "ua").await;
        let token = bearer(&s);
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_millis(1200)).await;
            let res = call(&app, "POST", "/session/refresh", &token).await;
            assert_eq!(res.status(), StatusCode::OK, "{per_user:?}");
            let body: Value = res.json().await.unwrap();
            assert_eq!(body["sessionId"], s["sessionId"]);
            assert_ne!(body["expiresAt"], body["absoluteExpiresAt"]);
        }
        tokio::time::sleep(Duration::from_millis(2600)).await;
        let res = app.get_session(Some(&token)).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{per_user:?}");
    }
}

#[tokio::test]
async fn single_mode_lists_its_one_session() {
    let app = spawn_app_with(|_| {}).await;
    let email = signed_up(&app).await;
    let s = login_from(&app, &email, "browser").await;
    let again = login_from(&app, &email, "other").await;
    assert_eq!(again["reused"], true);
    assert_eq!(again["sessionId"], s["sessionId"]);
    let listed = sessions_of(&app, &bearer(&s)).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["sessionId"], s["sessionId"]);
    assert_eq!(listed[0]["current"], true);
    assert_eq!(listed[0]["userAgent"], "browser");
    assert_eq!(
        call(&app, "POST", "/logout/others", &bearer(&s))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get_session(Some(&bearer(&s))).await.status(),
        StatusCode::OK
    );
    let path = format!("/sessions/{}", s["sessionId"].as_str().unwrap());
    assert_eq!(
        call(&app, "DELETE", &path, &bearer(&s)).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get_session(Some(&bearer(&s))).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[test]
fn impossible_session_settings_are_refused_naming_the_key() {
    let base = crate::helpers::test_settings();
    let refused = |change: &dyn Fn(&mut auth_service::configuration::Settings)| {
        let mut s = base.clone();
        change(&mut s);
        s.check(false).expect_err("refused").to_string()
    };
    assert!(refused(&|s| s.session.max_per_user = 0).contains("session.max_per_user"));
    assert!(refused(&|s| s.session.max_per_user = 1001).contains("session.max_per_user"));
    assert!(
        refused(&|s| s.session.idle_timeout_seconds = s.session.ttl_seconds + 1)
            .contains("session.idle_timeout_seconds")
    );
    assert!(
        refused(&|s| {
            s.session.accept_user_id_header = true;
            s.session.per_user = PerUser::Multiple;
        })
        .contains("session.accept_user_id_header")
    );
    assert!(
        refused(&|s| s.admin.token = Some(SecretString::from("short".to_owned())))
            .contains("admin.token")
    );
}

#[tokio::test]
async fn deleting_a_user_ends_every_session_in_the_same_step() {
    for per_user in [PerUser::Single, PerUser::Multiple] {
        let mut app = spawn_app_with(|s| {
            s.session.per_user = per_user;
            s.admin.token = Some(SecretString::from(ADMIN_TOKEN.to_owned()));
        })
        .await;
        let email = signed_up(&app).await;
        let first = login_from(&app, &email, "laptop").await;
        let second = login_from(&app, &email, "phone").await;
        let user_id = first["userId"].as_str().unwrap().to_owned();
        let admin = format!("Bearer {ADMIN_TOKEN}");
        let path = format!("/admin/users/{user_id}");

        // Only the admin may, and only well-formed ids name anyone.
        assert_error(
            call(&app, "DELETE", &path, &bearer(&first)).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
        assert_error(
            call(&app, "DELETE", "/admin/users/not-an-id", &admin).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
        assert_eq!(
            call(&app, "GET", "/session", &bearer(&second))
                .await
                .status(),
            StatusCode::OK,
            "nothing changed yet"
        );

        let res = call(&app, "DELETE", &path, &admin).await;
        assert_eq!(res.status(), StatusCode::NO_CONTENT, "{per_user:?}");
        for token in [&first, &second] {
            assert_eq!(
                call(&app, "GET", "/session", &bearer(token)).await.status(),
                StatusCode::UNAUTHORIZED,
                "{per_user:?}: a deleted user's session still works"
            );
        }
        let keys: Vec<String> = app
            .session_keys()
            .await
            .into_iter()
            .filter(|k| k.contains(&user_id))
            .collect();
        assert!(keys.is_empty(), "{keys:?}");
        assert_error(
            app.log_in(&email, PASSWORD).await,
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        )
        .await;
        assert_error(
            call(&app, "DELETE", &path, &admin).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
        // The address is free again.
        assert_eq!(
            app.sign_up(&email, PASSWORD).await.status(),
            StatusCode::CREATED
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_login_racing_the_deletion_leaves_no_session() {
    let mut app = spawn_app_with(|s| {
        s.session.per_user = PerUser::Multiple;
        s.admin.token = Some(SecretString::from(ADMIN_TOKEN.to_owned()));
    })
    .await;
    for _ in 0..5 {
        let email = signed_up(&app).await;
        let user_id = login_from(&app, &email, "laptop").await["userId"]
            .as_str()
            .unwrap()
            .to_owned();
        let logins: Vec<_> = (0..6)
            .map(|_| {
                let (client, url) = (app.client.clone(), app.url("/login"));
                let body = json!({"email": email, "password": PASSWORD});
                tokio::spawn(async move { client.post(url).json(&body).send().await.unwrap() })
            })
            .collect();
        let deleted = call(
            &app,
            "DELETE",
            &format!("/admin/users/{user_id}"),
            &format!("Bearer {ADMIN_TOKEN}"),
        )
        .await;
        assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
        for login in logins {
            let res = login.await.unwrap();
            let status = res.status();
            // A login that found the user gone counts as a failure, so the last of
            // the six may be throttled.
            assert!(
                [
                    StatusCode::OK,
                    StatusCode::UNAUTHORIZED,
                    StatusCode::TOO_MANY_REQUESTS
                ]
                .contains(&status),
                "{status}"
            );
        }
        let left: Vec<String> = app
            .session_keys()
            .await
            .into_iter()
            .filter(|k| k.contains(&user_id) && !k.ends_with(":index"))
            .collect();
        assert!(left.is_empty(), "a deleted user kept sessions: {left:?}");
    }
}
