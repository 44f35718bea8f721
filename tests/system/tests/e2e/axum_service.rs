//! The example axum service (examples/axum-service, on session-axum) beside the
//! resource-service (on session-actix), both started with the same `APP__` variables:
//! every `GET /me` case answers alike, in redis mode (with and without the validation
//! cache) and in remote mode, and unknown paths and methods get the contract's bodies.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Options, PASSWORD, Service, Stack, free_port, stack, unique_email};

/// What both services must agree on: status, body, and the contract's headers.
async fn answer(
    s: &Stack,
    service: &Service,
    method: Method,
    path: &str,
    headers: &[(&str, String)],
) -> (u16, Value, Vec<Option<String>>) {
    let mut request = s.client.request(method, service.url(path));
    for (name, value) in headers {
        request = request.header(*name, value.as_str());
    }
    let res = request.send().await.unwrap();
    let contract_headers = [
        "www-authenticate",
        "retry-after",
        "cache-control",
        "content-type",
    ]
    .iter()
    .map(|name| {
        res.headers()
            .get(*name)
            .map(|v| v.to_str().unwrap().to_owned())
    })
    .collect();
    let status = res.status().as_u16();
    let body = res.json::<Value>().await.unwrap_or(Value::Null);
    (status, body, contract_headers)
}

/// A case: its name, the request (method, path, headers) and the status it must get.
type Case<'a> = (&'a str, Method, &'a str, Vec<(&'a str, String)>, u16);

async fn axum_service(s: &Stack) -> Service {
    let log = s
        .resource
        .log
        .with_file_name(format!("axum-{}.log", free_port()));
    Service::start("axum-service", free_port(), s.resource_envs(), log).await
}

async fn cookie_login(s: &Stack, email: &str) -> (String, String) {
    let res = s
        .client
        .post(s.auth.url("/login"))
        .json(&json!({"email": email, "password": PASSWORD, "cookie": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = |name: &str| {
        res.headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.strip_prefix(&format!("{name}=")).map(str::to_owned))
            .and_then(|v| v.split(';').next().map(str::to_owned))
            .expect("cookie")
    };
    (cookie("__Host-session"), cookie("__Host-session-csrf"))
}

async fn compare(options: Options) {
    let s = stack(options).await;
    let axum = axum_service(&s).await;
    let (_, live) = s.session().await;
    let other = unique_email();
    s.sign_up(&other).await;
    let body = s.log_in(&other).await;
    let logged_out = format!("Bearer {}", body["token"].as_str().unwrap());
    assert_eq!(
        s.log_out(&logged_out).await.status(),
        StatusCode::NO_CONTENT
    );
    let cookie_user = unique_email();
    s.sign_up(&cookie_user).await;
    let (session_cookie, csrf) = cookie_login(&s, &cookie_user).await;
    let browser = format!("__Host-session={session_cookie}; __Host-session-csrf={csrf}");

    let cases: Vec<Case> = vec![
        (
            "live bearer",
            Method::GET,
            "/me",
            vec![("authorization", live.clone())],
            200,
        ),
        ("no credential", Method::GET, "/me", vec![], 401),
        (
            "empty credential",
            Method::GET,
            "/me",
            vec![("authorization", "Bearer ".into())],
            401,
        ),
        (
            "garbage",
            Method::GET,
            "/me",
            vec![("authorization", "Bearer x.y.z".into())],
            401,
        ),
        (
            "logged out",
            Method::GET,
            "/me",
            vec![("authorization", logged_out.clone())],
            401,
        ),
        (
            "twice",
            Method::GET,
            "/me",
            vec![
                ("authorization", live.clone()),
                ("authorization", live.clone()),
            ],
            401,
        ),
        (
            "cookie",
            Method::GET,
            "/me",
            vec![("cookie", browser.clone())],
            200,
        ),
        (
            "cookie twice",
            Method::GET,
            "/me",
            vec![(
                "cookie",
                format!("{browser}; __Host-session={session_cookie}"),
            )],
            401,
        ),
        (
            "unknown path",
            Method::GET,
            "/nowhere",
            vec![("authorization", live.clone())],
            404,
        ),
        (
            "another method",
            Method::POST,
            "/me",
            vec![("authorization", live.clone())],
            405,
        ),
        ("live", Method::GET, "/health/live", vec![], 200),
        ("ready", Method::GET, "/health/ready", vec![], 200),
    ];
    for (name, method, path, headers, status) in cases {
        let ours = answer(&s, &s.resource, method.clone(), path, &headers).await;
        let theirs = answer(&s, &axum, method, path, &headers).await;
        assert_eq!(ours.0, status, "{name}: resource-service {ours:?}");
        assert_eq!(ours, theirs, "{name}: resource-service vs axum-service");
    }
}

#[tokio::test]
async fn the_axum_service_answers_as_the_resource_service_in_redis_mode() {
    compare(Options::default()).await;
}

#[tokio::test]
async fn the_axum_service_answers_as_the_resource_service_with_the_validation_cache() {
    compare(Options {
        resource_env: vec![("APP__VALIDATION__CACHE".into(), "true".into())],
        ..Options::default()
    })
    .await;
}

#[tokio::test]
async fn the_axum_service_answers_as_the_resource_service_in_remote_mode() {
    compare(Options {
        mode: "remote",
        ..Options::default()
    })
    .await;
}
