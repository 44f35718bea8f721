//! The session as a browser cookie: set at login on request, accepted by every
//! endpoint, CSRF-checked on unsafe methods, cleared at logout.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, assert_error, spawn_app, spawn_app_with, unique_email};

/// The cookies a response sets, by name: (value, attributes as written).
fn set_cookies(res: &reqwest::Response) -> Vec<(String, String, String)> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| {
            let text = v.to_str().unwrap().to_owned();
            let (pair, attributes) = text.split_once(';').unwrap_or((&text, ""));
            let (name, value) = pair.split_once('=').unwrap();
            (name.to_owned(), value.to_owned(), attributes.to_owned())
        })
        .collect()
}

struct Browser {
    session: String,
    csrf: String,
}

impl Browser {
    fn cookie_header(&self) -> String {
        format!(
            "__Host-session={}; __Host-session-csrf={}",
            self.session, self.csrf
        )
    }
}

async fn browser_login(app: &TestApp, email: &str) -> (Browser, Value) {
    let res = app
        .post_json(
            "/login",
            &json!({"email": email, "password": PASSWORD, "cookie": true}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let cookies = set_cookies(&res);
    let body: Value = res.json().await.unwrap();
    let find = |name: &str| {
        cookies
            .iter()
            .find(|(n, _, _)| n == name)
            .unwrap_or_else(|| panic!("no {name} cookie in {cookies:?}"))
            .clone()
    };
    let (_, session, attributes) = find("__Host-session");
    for attribute in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/", "Max-Age="] {
        assert!(
            attributes.contains(attribute),
            "{attribute} missing: {attributes}"
        );
    }
    assert!(!attributes.contains("Domain"), "{attributes}");
    let (_, csrf, csrf_attributes) = find("__Host-session-csrf");
    assert!(!csrf_attributes.contains("HttpOnly"), "the page reads it");
    assert!(csrf_attributes.contains("Secure") && csrf_attributes.contains("SameSite=Lax"));
    assert!(csrf.len() >= 22);
    (Browser { session, csrf }, body)
}

async fn with_cookie(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    browser: &Browser,
    csrf: Option<&str>,
) -> reqwest::Response {
    let mut req = app
        .client
        .request(method, app.url(path))
        .header("Cookie", browser.cookie_header());
    if let Some(csrf) = csrf {
        req = req.header("X-CSRF-Token", csrf);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn a_cookie_login_keeps_the_token_out_of_the_body_and_works_everywhere() {
    let app = spawn_app().await;
    let email = unique_email();
    app.sign_up(&email, PASSWORD).await;
    let (browser, body) = browser_login(&app, &email).await;
    assert!(body.get("token").is_none(), "{body}");
    assert_eq!(body["tokenType"], "Bearer");
    assert!(body["userId"].is_string());

    let res = with_cookie(&app, reqwest::Method::GET, "/session", &browser, None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["email"], email);
    // The gateway's check takes the cookie too, for the method the gateway reports
    // (nginx: X-Original-Method, Traefik: X-Forwarded-Method).
    for header in ["X-Original-Method", "X-Forwarded-Method"] {
        let res = app
            .client
            .get(app.url("/verify"))
            .header("Cookie", browser.cookie_header())
            .header(header, "GET")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{header}");
        let res = app
            .client
            .get(app.url("/verify"))
            .header("Cookie", browser.cookie_header())
            .header(header, "POST")
            .send()
            .await
            .unwrap();
        assert_error(res, StatusCode::FORBIDDEN, "csrf_failed").await;
    }
    // A cookie with no reported method, with both headers differing, or with a method
    // that is not one of the four safe ones as written, counts as unsafe.
    let cases: [&[(&str, &str)]; 5] = [
        &[],
        &[("X-Original-Method", "GET"), ("X-Forwarded-Method", "POST")],
        &[("X-Original-Method", "get")],
        &[("X-Original-Method", "PROPPATCH")],
        &[("X-Original-Method", "")],
    ];
    for headers in cases {
        let mut request = app
            .client
            .get(app.url("/verify"))
            .header("Cookie", browser.cookie_header());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let res = request.send().await.unwrap();
        assert_error(res, StatusCode::FORBIDDEN, "csrf_failed").await;
    }

    // Unsafe methods need the CSRF header equal to the CSRF cookie.
    for csrf in [None, Some("wrong"), Some("")] {
        let res = with_cookie(
            &app,
            reqwest::Method::POST,
            "/session/refresh",
            &browser,
            csrf,
        )
        .await;
        assert_error(res, StatusCode::FORBIDDEN, "csrf_failed").await;
    }
    let res = app
        .client
        .get(app.url("/verify"))
        .header("Cookie", browser.cookie_header())
        .header("X-Original-Method", "DELETE")
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::FORBIDDEN, "csrf_failed").await;
    let res = app
        .client
        .get(app.url("/verify"))
        .header("Cookie", browser.cookie_header())
        .header("X-Original-Method", "DELETE")
        .header("X-CSRF-Token", &browser.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = with_cookie(
        &app,
        reqwest::Method::POST,
        "/session/refresh",
        &browser,
        Some(&browser.csrf),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);

    // Logout clears both cookies, and the old cookie is refused.
    let res = with_cookie(&app, reqwest::Method::POST, "/logout", &browser, None).await;
    assert_error(res, StatusCode::FORBIDDEN, "csrf_failed").await;
    let res = with_cookie(
        &app,
        reqwest::Method::POST,
        "/logout",
        &browser,
        Some(&browser.csrf),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let cleared = set_cookies(&res);
    for name in ["__Host-session", "__Host-session-csrf"] {
        let (_, value, attributes) = cleared
            .iter()
            .find(|(n, _, _)| n == name)
            .unwrap_or_else(|| panic!("{name} not cleared: {cleared:?}"));
        assert!(value.is_empty());
        assert!(attributes.contains("Max-Age=0"), "{attributes}");
    }
    let res = with_cookie(&app, reqwest::Method::GET, "/session", &browser, None).await;
    assert_error(res, StatusCode::UNAUTHORIZED, "session_not_found").await;
}

#[tokio::test]
async fn authorization_wins_and_bearer_requests_need_no_csrf() {
    let app = spawn_app().await;
    let email = unique_email();
    app.sign_up(&email, PASSWORD).await;
    let (browser, _) = browser_login(&app, &email).await;
    let (other_email, _, other_token) = app.user_with_session().await;
    let res = app
        .client
        .post(app.url("/session/refresh"))
        .header("Cookie", browser.cookie_header())
        .header("Authorization", format!("Bearer {other_token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "a bearer request needs no CSRF header"
    );
    let res = app
        .client
        .get(app.url("/session"))
        .header("Cookie", browser.cookie_header())
        .header("Authorization", format!("Bearer {other_token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.json::<Value>().await.unwrap()["email"], other_email);
}

#[tokio::test]
async fn forged_doubled_or_disabled_cookies_are_refused() {
    let app = spawn_app().await;
    let email = unique_email();
    app.sign_up(&email, PASSWORD).await;
    let (browser, _) = browser_login(&app, &email).await;
    for cookie in [
        "__Host-session=not.a.token".to_owned(),
        format!("__Host-session={}x", browser.session),
        format!(
            "__Host-session={}; __Host-session=planted.by.someone",
            browser.session
        ),
    ] {
        let res = app
            .client
            .get(app.url("/session"))
            .header("Cookie", cookie.as_str())
            .send()
            .await
            .unwrap();
        assert_error(res, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
    // Without the cookie setting a login answers the token and a cookie counts for nothing.
    let off = spawn_app_with(|s| s.session.cookie.enabled = false).await;
    off.sign_up(&email, PASSWORD).await;
    let res = off
        .post_json(
            "/login",
            &json!({"email": email, "password": PASSWORD, "cookie": true}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(set_cookies(&res).is_empty());
    let token = res.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = off
        .client
        .get(off.url("/session"))
        .header("Cookie", format!("__Host-session={token}"))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "missing_authorization").await;
}

#[tokio::test]
async fn using_the_session_renews_the_cookies_with_the_new_idle_deadline() {
    let app = spawn_app_with(|s| s.session.idle_timeout_seconds = 600).await;
    let email = unique_email();
    app.sign_up(&email, PASSWORD).await;
    let (browser, body) = browser_login(&app, &email).await;
    assert!(body["expiresIn"].as_i64().unwrap() <= 600);
    for (method, path) in [
        (reqwest::Method::POST, "/session/refresh"),
        (reqwest::Method::GET, "/session"),
    ] {
        let res = with_cookie(&app, method, path, &browser, Some(&browser.csrf)).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        let renewed = set_cookies(&res);
        for (name, value) in [
            ("__Host-session", &browser.session),
            ("__Host-session-csrf", &browser.csrf),
        ] {
            let (_, got, attributes) = renewed
                .iter()
                .find(|(n, _, _)| n == name)
                .unwrap_or_else(|| panic!("{path} did not renew {name}: {renewed:?}"));
            assert_eq!(got, value, "the same values, a new lifetime");
            let max_age: i64 = attributes
                .split(';')
                .find_map(|a| a.trim().strip_prefix("Max-Age="))
                .unwrap()
                .parse()
                .unwrap();
            assert!((590..=600).contains(&max_age), "{max_age}");
        }
    }
    // A bearer request renews no cookie.
    let (_, _, token) = app.user_with_session().await;
    let res = app
        .client
        .post(app.url("/session/refresh"))
        .header("Authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(set_cookies(&res).is_empty());
}
