//! The gateways, tested with the real thing: the committed deploy/nginx template,
//! deploy/traefik and deploy/envoy configurations, rewritten for this test's loopback
//! ports, in front of deploy/nginx/upstream.py, with the auth-service's GET /verify
//! behind auth_request, ForwardAuth and ext_authz.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    ChildGuard, Options, OwnRedis, PASSWORD, Stack, TempDir, assert_error, env, free_port, stack,
    unique_email, wait_port,
};

fn deploy(gateway: &str, file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy")
        .join(gateway)
        .join(file)
}

/// `text` with each `(from, to)` replaced; every `from` must occur in it (a changed
/// configuration must fail here, not run with production host names).
fn rewrite(text: &str, replacements: &[(&str, String)]) -> String {
    let mut text = text.to_owned();
    for (from, to) in replacements {
        assert!(text.contains(from), "{from:?} is not in the configuration");
        text = text.replace(from, to);
    }
    text
}

/// The host name the gateways serve the auth-service's pages under, in these tests.
const AUTH_HOST: &str = "auth.localhost";

struct Gateway {
    port: u16,
    upstream_log: PathBuf,
    _proxy: ChildGuard,
    _upstream: ChildGuard,
    _dir: TempDir,
}

impl Gateway {
    /// upstream.py on a free port, printing what it saw to `dir`/upstream.jsonl.
    async fn upstream(dir: &TempDir) -> (u16, ChildGuard, PathBuf) {
        let upstream_port = free_port();
        let upstream_log = dir.path().join("upstream.jsonl");
        let upstream = ChildGuard::spawn(
            Command::new("python3")
                .arg(deploy("nginx", "upstream.py"))
                .arg(upstream_port.to_string())
                .env_clear()
                .stdout(std::fs::File::create(&upstream_log).unwrap())
                .stderr(Stdio::null()),
        );
        wait_port(upstream_port, Duration::from_secs(10)).await;
        (upstream_port, upstream, upstream_log)
    }

    /// Waits until the gateway routes `/login` to the auth-service (its 405 for GET).
    async fn ready(self) -> Self {
        wait_port(self.port, Duration::from_secs(20)).await;
        let client = reqwest::Client::new();
        let started = Instant::now();
        loop {
            if let Ok(res) = client.get(self.url("/login")).send().await
                && res.status() == StatusCode::METHOD_NOT_ALLOWED
            {
                return self;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the gateway never routed /login"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// nginx with the committed template in front of upstream.py, for `auth_port`.
    async fn start(auth_port: u16) -> Self {
        let dir = TempDir::new("gateway");
        let (upstream_port, upstream, upstream_log) = Self::upstream(&dir).await;

        let port = free_port();
        let template = std::fs::read_to_string(deploy("nginx", "gateway.conf.template")).unwrap();
        let rendered = template
            .replace("${GATEWAY_PORT}", &format!("127.0.0.1:{port}"))
            .replace("${AUTH_SERVICE}", &format!("127.0.0.1:{auth_port}"))
            .replace("${UPSTREAM}", &format!("127.0.0.1:{upstream_port}"))
            .replace("${AUTH_HOST}", AUTH_HOST);
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
        Self {
            port,
            upstream_log,
            _proxy: nginx,
            _upstream: upstream,
            _dir: dir,
        }
        .ready()
        .await
    }

    /// Traefik with the committed deploy/traefik files (file provider) in front of
    /// upstream.py, for `auth_port`.
    async fn traefik(auth_port: u16) -> Self {
        let dir = TempDir::new("traefik");
        let (upstream_port, upstream, upstream_log) = Self::upstream(&dir).await;
        let port = free_port();
        let dynamic = dir.path().join("dynamic.yml");
        let read = |file| std::fs::read_to_string(deploy("traefik", file)).unwrap();
        std::fs::write(
            &dynamic,
            rewrite(
                &read("dynamic.yml"),
                &[
                    (
                        "http://auth-service:8080",
                        format!("http://127.0.0.1:{auth_port}"),
                    ),
                    (
                        "http://hello:8000",
                        format!("http://127.0.0.1:{upstream_port}"),
                    ),
                ],
            ),
        )
        .unwrap();
        let config = dir.path().join("traefik.yml");
        std::fs::write(
            &config,
            rewrite(
                &read("traefik.yml"),
                &[
                    ("\":8088\"", format!("\"127.0.0.1:{port}\"")),
                    ("/etc/traefik/dynamic.yml", dynamic.display().to_string()),
                ],
            ),
        )
        .unwrap();
        let traefik = ChildGuard::spawn(
            Command::new(env("TEST_TRAEFIK_BIN"))
                .arg(format!("--configFile={}", config.display()))
                .current_dir(dir.path())
                .stdout(std::fs::File::create(dir.path().join("traefik.log")).unwrap())
                .stderr(Stdio::null()),
        );
        Self {
            port,
            upstream_log,
            _proxy: traefik,
            _upstream: upstream,
            _dir: dir,
        }
        .ready()
        .await
    }

    /// Envoy with the committed deploy/envoy/envoy.yaml in front of upstream.py, for
    /// `auth_port`.
    async fn envoy(auth_port: u16) -> Self {
        let dir = TempDir::new("envoy");
        let (upstream_port, upstream, upstream_log) = Self::upstream(&dir).await;
        let port = free_port();
        let loopback = free_port();
        let config = dir.path().join("envoy.yaml");
        std::fs::write(
            &config,
            rewrite(
                &std::fs::read_to_string(deploy("envoy", "envoy.yaml")).unwrap(),
                &[
                    (
                        "address: 0.0.0.0, port_value: 8088",
                        format!("address: 127.0.0.1, port_value: {port}"),
                    ),
                    (
                        "address: 127.0.0.1, port_value: 8089",
                        format!("address: 127.0.0.1, port_value: {loopback}"),
                    ),
                    (
                        "http://127.0.0.1:8089",
                        format!("http://127.0.0.1:{loopback}"),
                    ),
                    (
                        "address: auth-service, port_value: 8080",
                        format!("address: 127.0.0.1, port_value: {auth_port}"),
                    ),
                    (
                        "address: hello, port_value: 8000",
                        format!("address: 127.0.0.1, port_value: {upstream_port}"),
                    ),
                ],
            ),
        )
        .unwrap();
        let envoy = ChildGuard::spawn(
            Command::new(env("TEST_ENVOY_BIN"))
                .arg("-c")
                .arg(&config)
                .arg("--disable-hot-restart")
                .arg("--concurrency")
                .arg("1")
                .arg("--log-level")
                .arg("warning")
                .arg("--log-path")
                .arg(dir.path().join("envoy.log"))
                .current_dir(dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        Self {
            port,
            upstream_log,
            _proxy: envoy,
            _upstream: upstream,
            _dir: dir,
        }
        .ready()
        .await
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

/// A request through the gateway with these headers.
async fn send(s: &Stack, method: Method, url: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = s.client.request(method, url);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    req.send().await.unwrap()
}

/// The value of cookie `name` among a response's `Set-Cookie` headers.
fn set_cookie(res: &reqwest::Response, name: &str) -> String {
    let prefix = format!("{name}=");
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| value.strip_prefix(prefix.as_str()))
        .and_then(|value| value.split(';').next())
        .unwrap_or_else(|| panic!("no {name} cookie"))
        .to_owned()
}

/// Signs up and logs in through `gateway` with `"cookie": true`: (email, session
/// cookie, CSRF cookie).
async fn cookie_login(s: &Stack, gateway: &Gateway) -> (String, String, String) {
    let email = unique_email();
    s.sign_up(&email).await;
    let res = s
        .client
        .post(gateway.url("/login"))
        .json(&json!({"email": email, "password": PASSWORD, "cookie": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let session = set_cookie(&res, "__Host-session");
    let csrf = set_cookie(&res, "__Host-session-csrf");
    (email, session, csrf)
}

/// What every shipped gateway must do with browser sessions: a cookie-authenticated
/// unsafe request needs the session's own X-CSRF-Token (whatever method header the
/// client adds), and the upstream never receives the session or CSRF cookie, nor
/// Authorization, while other cookies pass.
async fn gateway_checks_csrf_and_keeps_the_session_cookies(s: &Stack, gateway: &Gateway) {
    let (email, session, csrf) = cookie_login(s, gateway).await;
    let (_, _, other_csrf) = cookie_login(s, gateway).await;
    let cookie = format!("theme=dark; __Host-session={session}; __Host-session-csrf={csrf}");
    let orders = gateway.url("/orders");

    // Without the CSRF header, with a wrong one, or with another session's: 403, and
    // nothing reaches the upstream. A method header of the client's changes nothing.
    let refused: [(Method, &[(&str, &str)]); 8] = [
        (Method::POST, &[]),
        (Method::DELETE, &[]),
        (Method::PATCH, &[]),
        (Method::POST, &[("X-CSRF-Token", "forged")]),
        (Method::POST, &[("X-CSRF-Token", other_csrf.as_str())]),
        (Method::POST, &[("X-Original-Method", "GET")]),
        (Method::POST, &[("X-Forwarded-Method", "GET")]),
        (
            Method::PUT,
            &[("X-Original-Method", "GET"), ("X-Forwarded-Method", "GET")],
        ),
    ];
    for (method, extra) in refused {
        let mut headers = vec![("Cookie", cookie.as_str())];
        headers.extend_from_slice(extra);
        let res = send(s, method.clone(), &orders, &headers).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{method} {extra:?}");
    }
    assert_eq!(
        gateway.reached(),
        0,
        "a refused request reached the upstream"
    );

    // With the session's own CSRF value: through, as the user, without the session
    // cookies; the other cookie passes.
    let res = send(
        s,
        Method::POST,
        &orders,
        &[("Cookie", &cookie), ("X-CSRF-Token", &csrf)],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let seen: Value = res.json().await.unwrap();
    assert_eq!(seen["seen"]["method"], "POST");
    assert_eq!(seen["seen"]["email"], json!([email]));
    assert_eq!(seen["seen"]["cookie"], json!(["theme=dark"]));
    assert_eq!(seen["seen"]["authorization"], Value::Null);

    // A safe method needs no CSRF header; with only the session cookies, the upstream
    // gets no Cookie header at all.
    let only_session = format!("__Host-session={session}; __Host-session-csrf={csrf}");
    let res = send(s, Method::GET, &orders, &[("Cookie", &only_session)]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let seen: Value = res.json().await.unwrap();
    assert_eq!(seen["seen"]["email"], json!([email]));
    assert_eq!(seen["seen"]["cookie"], Value::Null);

    // A bearer request keeps its cookies too, but not the session ones nor the token.
    let (_, auth) = s.session().await;
    let res = send(
        s,
        Method::POST,
        &orders,
        &[("Authorization", &auth), ("Cookie", &cookie)],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let seen: Value = res.json().await.unwrap();
    assert_eq!(seen["seen"]["cookie"], json!(["theme=dark"]));
    assert_eq!(seen["seen"]["authorization"], Value::Null);
    assert_eq!(gateway.reached(), 3);
}

#[tokio::test]
async fn nginx_checks_csrf_and_keeps_the_session_cookies_from_the_upstream() {
    let s = stack(Options::default()).await;
    let gateway = Gateway::start(s.auth.port).await;
    gateway_checks_csrf_and_keeps_the_session_cookies(&s, &gateway).await;
}

#[tokio::test]
async fn traefik_checks_csrf_and_keeps_the_session_cookies_from_the_upstream() {
    let s = stack(Options::default()).await;
    let gateway = Gateway::traefik(s.auth.port).await;
    gateway_checks_csrf_and_keeps_the_session_cookies(&s, &gateway).await;
    // Traefik passes /verify's refusal on as it was written: the contract's body.
    let (_, session, _) = cookie_login(&s, &gateway).await;
    let res = send(
        &s,
        Method::POST,
        &gateway.url("/orders"),
        &[
            ("Cookie", &format!("__Host-session={session}")),
            ("X-Original-Method", "GET"),
        ],
    )
    .await;
    assert_error(res, StatusCode::FORBIDDEN, "csrf_failed").await;
}

#[tokio::test]
async fn envoy_checks_csrf_and_keeps_the_session_cookies_from_the_upstream() {
    let s = stack(Options::default()).await;
    let gateway = Gateway::envoy(s.auth.port).await;
    gateway_checks_csrf_and_keeps_the_session_cookies(&s, &gateway).await;
}

/// Behind the shipped nginx with `server.trusted_proxies` naming it, every client has
/// its own login budget (nginx appends the client's address to `X-Forwarded-For`);
/// a client cannot pick another budget by sending the header itself.
#[tokio::test]
async fn behind_nginx_each_client_address_has_its_own_login_budget() {
    let s = stack(Options {
        extra: vec![
            crate::helpers::kv("APP__SERVER__TRUSTED_PROXIES", "127.0.0.1"),
            crate::helpers::kv("APP__LOGIN__MAX_FAILURES_PER_IP_PER_MINUTE", "2"),
        ],
        ..Options::default()
    })
    .await;
    let gateway = Gateway::start(s.auth.port).await;
    let from = |address: &str| {
        crate::helpers::client_builder()
            .local_address(address.parse::<std::net::IpAddr>().unwrap())
            .build()
            .unwrap()
    };
    let failed_login = |client: reqwest::Client, spoof: Option<&'static str>| {
        let url = gateway.url("/login");
        async move {
            let mut req = client
                .post(url)
                .json(&json!({"email": unique_email(), "password": "wrong password"}));
            if let Some(value) = spoof {
                req = req.header("X-Forwarded-For", value);
            }
            req.send().await.unwrap()
        }
    };
    let (a, b) = (from("127.0.0.2"), from("127.0.0.3"));
    for _ in 0..2 {
        let res = failed_login(a.clone(), None).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let res = failed_login(a.clone(), None).await;
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "too_many_requests").await;
    // A's own header is to the left of what nginx appends: still A's budget.
    let res = failed_login(a.clone(), Some("198.51.100.1")).await;
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "too_many_requests").await;
    // B, on another address behind the same nginx, has a budget of its own.
    let res = failed_login(b.clone(), None).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}
