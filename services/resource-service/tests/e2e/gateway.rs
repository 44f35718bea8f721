//! The gateway, tested with a real nginx: the committed deploy/nginx template, rendered
//! for this test's ports, in front of deploy/nginx/upstream.py, with the auth-service's
//! GET /verify behind auth_request.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    ChildGuard, Options, OwnRedis, PASSWORD, TempDir, assert_error, env, free_port, stack,
    unique_email, wait_port,
};

fn deploy(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy/nginx")
        .join(file)
}

struct Gateway {
    port: u16,
    upstream_log: PathBuf,
    _nginx: ChildGuard,
    _upstream: ChildGuard,
    _dir: TempDir,
}

impl Gateway {
    /// nginx with the committed template in front of upstream.py, for `auth_port`.
    async fn start(auth_port: u16) -> Self {
        let dir = TempDir::new("gateway");
        let upstream_port = free_port();
        let upstream_log = dir.path().join("upstream.jsonl");
        let upstream = ChildGuard::spawn(
            Command::new("python3")
                .arg(deploy("upstream.py"))
                .arg(upstream_port.to_string())
                .env_clear()
                .stdout(std::fs::File::create(&upstream_log).unwrap())
                .stderr(Stdio::null()),
        );
        wait_port(upstream_port, Duration::from_secs(10)).await;

        let port = free_port();
        let template = std::fs::read_to_string(deploy("gateway.conf.template")).unwrap();
        let rendered = template
            .replace("${GATEWAY_PORT}", &format!("127.0.0.1:{port}"))
            .replace("${AUTH_SERVICE}", &format!("127.0.0.1:{auth_port}"))
            .replace("${UPSTREAM}", &format!("127.0.0.1:{upstream_port}"));
        assert!(
            !rendered.contains("${"),
            "a placeholder was left: {rendered}"
        );
        let d = dir.path().display();
        std::fs::write(dir.path().join("gateway.conf"), rendered).unwrap();
        std::fs::write(
            dir.path().join("nginx.conf"),
            format!(
                "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
                 events {{ worker_connections 512; }}\n\
                 http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
                 fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
                 include {d}/gateway.conf;\n}}\n"
            ),
        )
        .unwrap();
        let nginx = ChildGuard::spawn(
            Command::new(env("TEST_NGINX_BIN"))
                .arg("-p")
                .arg(dir.path())
                .arg("-e")
                .arg(dir.path().join("error.log"))
                .arg("-c")
                .arg(dir.path().join("nginx.conf"))
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        wait_port(port, Duration::from_secs(10)).await;
        Self {
            port,
            upstream_log,
            _nginx: nginx,
            _upstream: upstream,
            _dir: dir,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// How many requests reached the upstream so far.
    fn reached(&self) -> usize {
        std::fs::read_to_string(&self.upstream_log)
            .unwrap_or_default()
            .lines()
            .count()
    }
}

async fn get(s: &crate::helpers::Stack, url: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = s.client.get(url);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn nginx_lets_live_sessions_through_as_themselves_and_nothing_else() {
    let s = stack(Options {
        ttl: 4,
        ..Options::default()
    })
    .await;
    let gateway = Gateway::start(s.auth.port).await;

    // Sign-up and login pass through without a session.
    let email = unique_email();
    let res = s
        .client
        .post(gateway.url("/signup"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = s
        .client
        .post(gateway.url("/login"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let login: Value = res.json().await.unwrap();
    let user_id = login["userId"].as_str().unwrap().to_owned();
    let auth = format!("Bearer {}", login["token"].as_str().unwrap());
    let (_, other_auth) = s.session().await;
    assert_eq!(gateway.reached(), 0, "sign-in never reaches the upstream");

    // A live token reaches the upstream as its user; the credential stays behind.
    let res = get(
        &s,
        &gateway.url("/orders?page=2"),
        &[("Authorization", &auth)],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let seen: Value = res.json().await.unwrap();
    assert_eq!(seen["seen"]["userId"], json!([user_id]));
    assert_eq!(seen["seen"]["email"], json!([email]));
    assert_eq!(seen["seen"]["sessionId"], json!([login["sessionId"]]));
    assert_eq!(seen["seen"]["path"], "/orders?page=2");
    assert_eq!(seen["seen"]["authorization"], Value::Null);

    // Identity headers sent by the client are replaced, every copy and spelling.
    let res = get(
        &s,
        &gateway.url("/profile"),
        &[
            ("Authorization", &auth),
            ("X-User-Id", "000000000000000000000000"),
            ("X-User-Id", "111111111111111111111111"),
            ("X-User-Email", "someone-else@example.com"),
            ("X_User_Id", "222222222222222222222222"),
            ("X-Session-Id", "forged"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let seen: Value = res.json().await.unwrap();
    assert_eq!(seen["seen"]["userId"], json!([user_id]));
    assert_eq!(seen["seen"]["email"], json!([email]));
    assert_eq!(seen["seen"]["sessionId"], json!([login["sessionId"]]));
    let reached = gateway.reached();
    assert_eq!(reached, 2);

    // Refused requests never reach the upstream and get the contract's 401.
    let forged = format!("Bearer {}x", &auth["Bearer ".len()..]);
    let refusals: [(&[(&str, &str)], &str); 4] = [
        (&[], "missing_authorization"),
        (&[("Authorization", "Bearer not.a.token")], "invalid_token"),
        (&[("Authorization", forged.as_str())], "invalid_token"),
        (&[("Authorization", user_id.as_str())], "invalid_token"),
    ];
    for (headers, code) in refusals {
        let res = get(&s, &gateway.url("/orders"), headers).await;
        assert_eq!(res.headers()["content-type"], "application/json");
        assert_error(res, StatusCode::UNAUTHORIZED, code).await;
    }
    // Logged out: refused.
    assert_eq!(
        s.log_out(&other_auth).await.status(),
        StatusCode::NO_CONTENT
    );
    let res = get(
        &s,
        &gateway.url("/orders"),
        &[("Authorization", &other_auth)],
    )
    .await;
    assert_error(res, StatusCode::UNAUTHORIZED, "session_not_found").await;
    // Expired: refused (the stack's sessions last 4 s).
    let started = Instant::now();
    loop {
        let res = get(&s, &gateway.url("/orders"), &[("Authorization", &auth)]).await;
        if res.status() == StatusCode::UNAUTHORIZED {
            let body: Value = res.json().await.unwrap();
            assert!(
                body["error"] == "session_expired" || body["error"] == "session_not_found",
                "{body}"
            );
            break;
        }
        assert_eq!(res.status(), StatusCode::OK);
        assert!(started.elapsed() < Duration::from_secs(8), "never expired");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let reached_before_expiry = gateway.reached();
    let res = get(&s, &gateway.url("/orders"), &[("Authorization", &auth)]).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(gateway.reached(), reached_before_expiry);
    assert!(
        reached_before_expiry >= reached,
        "only the live requests got through"
    );
}

#[tokio::test]
async fn nginx_answers_503_when_redis_is_down() {
    let mut redis = OwnRedis::start(&[]).await;
    let s = stack(Options {
        redis_url: Some(redis.url()),
        extra: vec![("APP__REDIS__TIMEOUT_MS".into(), "300".into())],
        ..Options::default()
    })
    .await;
    let gateway = Gateway::start(s.auth.port).await;
    let (_, auth) = s.session().await;
    let res = get(&s, &gateway.url("/x"), &[("Authorization", &auth)]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let reached = gateway.reached();
    redis.stop();
    let res = get(&s, &gateway.url("/x"), &[("Authorization", &auth)]).await;
    assert_eq!(res.headers()["content-type"], "application/json");
    assert_error(res, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable").await;
    assert_eq!(gateway.reached(), reached);
    redis.start_again().await;
    let started = Instant::now();
    loop {
        let res = get(&s, &gateway.url("/x"), &[("Authorization", &auth)]).await;
        if res.status() == StatusCode::OK || started.elapsed() > Duration::from_secs(5) {
            // The session was in a Redis without persistence: gone, so 401 is right too.
            assert!(
                [StatusCode::OK, StatusCode::UNAUTHORIZED].contains(&res.status()),
                "{}",
                res.status()
            );
            break;
        }
        if res.status() == StatusCode::UNAUTHORIZED {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
