//! Password reset and email verification by mail, against a real SMTP server (the
//! repo's aiosmtpd sink, started here) besides the real Redis and MongoDB-wire server.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::{Value, json};
use session_core::settings::PerUser;
use session_core::store::token_digest;
use test_support::{ChildGuard, TempDir};

use crate::helpers::{
    PASSWORD, TestApp, assert_error, env, free_port, spawn_app, spawn_app_with, unique_email,
};

const NEW_PASSWORD: &str = "battery staple horse";

/// The SMTP sink (scripts/smtp-sink.py under the Python that scripts/test.sh installed
/// aiosmtpd into), on its own port and folder; stopped when dropped.
struct Sink {
    port: u16,
    // Declared first, so dropped first: the sink stops before its folder goes.
    _child: ChildGuard,
    dir: TempDir,
}

impl Sink {
    fn start() -> Self {
        Self::start_on(free_port(), 0.0)
    }

    fn start_on(port: u16, delay_seconds: f64) -> Self {
        let dir = TempDir::new("smtp-sink");
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/smtp-sink.py");
        let child = ChildGuard::spawn(
            Command::new(env("TEST_SMTP_SINK_PYTHON"))
                .arg(script)
                .args([
                    "--port",
                    &port.to_string(),
                    "--delay",
                    &delay_seconds.to_string(),
                ])
                .arg("--dir")
                .arg(dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit()),
        );
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "the SMTP sink did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            port,
            dir,
            _child: child,
        }
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every mail received so far, oldest first, as raw text.
    fn mails(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.dir.path()) else {
            return Vec::new();
        };
        let mut names: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect()
    }

    /// The mails whose `To` is `email`.
    fn mails_to(&self, email: &str) -> Vec<Mail> {
        self.mails()
            .into_iter()
            .map(Mail::parse)
            .filter(|m| m.header("To").as_deref() == Some(email))
            .collect()
    }

    /// Waits until `n` mails to `email` arrived (at most `within`); returns them all.
    async fn wait_for(&self, email: &str, n: usize, within: Duration) -> Vec<Mail> {
        let started = Instant::now();
        loop {
            let mails = self.mails_to(email);
            if mails.len() >= n {
                return mails;
            }
            assert!(
                started.elapsed() < within,
                "{} of {n} mails to {email} arrived within {within:?}",
                mails.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A received mail: its header lines and its text (quoted-printable decoded).
struct Mail {
    raw: String,
    headers: Vec<(String, String)>,
    text: String,
}

impl Mail {
    fn parse(raw: String) -> Self {
        let (head, body) = raw.split_once("\r\n\r\n").expect("headers and a body");
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                if let Some(last) = headers.last_mut() {
                    last.1.push_str(line.trim_start());
                }
            } else if let Some((name, value)) = line.split_once(':') {
                headers.push((name.to_owned(), value.trim().to_owned()));
            }
        }
        let text = quoted_printable(body);
        Self {
            raw: raw.clone(),
            headers,
            text,
        }
    }

    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }

    /// The token of the mail's link to `page` (`/reset` or `/welcome`).
    fn token(&self, page: &str) -> String {
        let marker = format!("{page}#token=");
        let at = self.text.find(&marker).expect("a link in the mail") + marker.len();
        self.text[at..at + 43].to_owned()
    }
}

/// Undoes quoted-printable (soft line breaks and `=XX`); other text is left alone.
fn quoted_printable(body: &str) -> String {
    let joined = body.replace("=\r\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(byte) = u8::from_str_radix(&joined[i + 1..i + 3], 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An app with mail to `sink` (retries quick: 200 ms, then doubled).
async fn mail_app(
    sink_url: &str,
    customize: impl FnOnce(&mut auth_service::configuration::Settings),
) -> TestApp {
    let url = sink_url.to_owned();
    spawn_app_with(move |s| {
        s.mail.smtp_url = Some(SecretString::from(url));
        s.mail.retry_initial_ms = 200;
        s.mail.timeout_ms = 5000;
        s.recovery.max_per_ip_per_hour = 100_000;
        customize(s);
    })
    .await
}

async fn signed_up(app: &TestApp) -> String {
    let email = unique_email();
    assert_eq!(
        app.sign_up(&email, PASSWORD).await.status(),
        StatusCode::CREATED
    );
    email
}

async fn forgot(app: &TestApp, email: &str) -> reqwest::Response {
    app.post_json("/password/forgot", &json!({ "email": email }))
        .await
}

async fn reset(app: &TestApp, token: &str, password: &str) -> reqwest::Response {
    app.post_json(
        "/password/reset",
        &json!({ "token": token, "newPassword": password }),
    )
    .await
}

async fn assert_accepted(res: reqwest::Response) {
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body, json!({}));
}

/// Logs in and returns the bearer credential.
async fn bearer(app: &TestApp, email: &str, password: &str) -> String {
    let res = app.log_in(email, password).await;
    assert_eq!(res.status(), StatusCode::OK, "login as {email}");
    let body: Value = res.json().await.unwrap();
    format!("Bearer {}", body["token"].as_str().unwrap())
}

fn reset_key(app: &TestApp, token: &str) -> String {
    format!("recovery:{{{}}}:reset:{}", app.prefix, token_digest(token))
}

#[tokio::test]
async fn a_forgotten_password_is_reset_by_mail_and_every_old_session_ends() {
    let sink = Sink::start();
    let mut app = mail_app(&sink.url(), |s| s.session.per_user = PerUser::Multiple).await;
    let email = signed_up(&app).await;
    // Two devices, each with a session of its own.
    let laptop = bearer(&app, &email, PASSWORD).await;
    let phone = bearer(&app, &email, PASSWORD).await;
    assert_ne!(laptop, phone);

    assert_accepted(forgot(&app, &email).await).await;
    let mails = sink.wait_for(&email, 1, Duration::from_secs(10)).await;
    let mail = &mails[0];
    assert_eq!(mail.header("From").as_deref(), Some("no-reply@localhost"));
    assert_eq!(
        mail.header("Subject").as_deref(),
        Some("Reset your password")
    );
    assert!(
        mail.header("Content-Type")
            .unwrap()
            .starts_with("multipart/alternative")
    );
    assert!(mail.raw.contains("text/plain") && mail.raw.contains("text/html"));
    assert!(mail.text.contains("30 minutes"), "{}", mail.text);
    assert!(
        mail.text.contains("http://127.0.0.1:8080/reset#token="),
        "{}",
        mail.text
    );
    let token = mail.token("/reset");
    eprintln!("--- a reset mail as the sink received it\n{}", mail.raw);

    // Redis keeps the token's digest, not the token, for the configured time.
    let key = reset_key(&app, &token);
    let user_id = app.redis_get(&key).await.expect("the digest's key");
    assert_eq!(user_id.len(), 24);
    let ttl = app.redis_ttl(&key).await;
    assert!((1..=1800).contains(&ttl), "ttl {ttl}");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("recovery:{{{}}}:*", app.prefix))
        .query_async(&mut app.redis)
        .await
        .unwrap();
    assert!(keys.iter().all(|k| !k.contains(&token)), "{keys:?}");
    for k in &keys {
        let value = app.redis_get(k).await.unwrap_or_default();
        assert!(!value.contains(&token), "{k} holds the token");
    }

    assert_eq!(
        reset(&app, &token, NEW_PASSWORD).await.status(),
        StatusCode::NO_CONTENT
    );
    assert!(app.redis_get(&key).await.is_none(), "the token is consumed");
    // Every session that existed before is refused.
    for old in [&laptop, &phone] {
        let res = app.get_session(Some(old)).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    assert_error(
        app.log_in(&email, PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    let fresh = bearer(&app, &email, NEW_PASSWORD).await;
    assert_eq!(app.get_session(Some(&fresh)).await.status(), StatusCode::OK);
    // The events: the reset, then each device's session ended by it.
    assert_eq!(
        crate::events::story(&mut app, &user_id).await,
        [
            "user.created",
            "session.created",
            "session.created",
            "password.changed:reset",
            "session.ended:password_reset",
            "session.ended:password_reset",
            "session.created",
        ]
    );
    // The link works once.
    assert_error(
        reset(&app, &token, "yet another password").await,
        StatusCode::BAD_REQUEST,
        "invalid_reset_token",
    )
    .await;
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let mid = samples.len() / 2;
    if samples.len().is_multiple_of(2) {
        (samples[mid - 1] + samples[mid]) / 2.0
    } else {
        samples[mid]
    }
}

#[tokio::test]
async fn known_and_unknown_emails_get_the_same_answer_in_the_same_time() {
    let sink = Sink::start();
    let app = mail_app(&sink.url(), |_| {}).await;
    let known = signed_up(&app).await;
    let unknown = unique_email();
    // Warm the connections up.
    for email in [&known, &unknown] {
        assert_accepted(forgot(&app, email).await).await;
    }
    let (mut known_ms, mut unknown_ms) = (Vec::new(), Vec::new());
    let mut bodies = std::collections::BTreeSet::new();
    for i in 0..100 {
        let email = if i % 2 == 0 { &known } else { &unknown };
        let started = Instant::now();
        let res = forgot(&app, email).await;
        let status = res.status();
        let body = res.text().await.unwrap();
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        bodies.insert((status.as_u16(), body));
        if i % 2 == 0 {
            known_ms.push(ms);
        } else {
            unknown_ms.push(ms);
        }
    }
    assert_eq!(
        bodies.into_iter().collect::<Vec<_>>(),
        vec![(202, "{}".to_owned())],
        "one status and body for both"
    );
    let (known_median, unknown_median) = (median(known_ms), median(unknown_ms));
    eprintln!(
        "forgot timing over 100 interleaved requests: known median {known_median:.3} ms, unknown median {unknown_median:.3} ms, difference {:.3} ms",
        (known_median - unknown_median).abs()
    );
    assert!(
        (known_median - unknown_median).abs() < 5.0,
        "medians {known_median:.3} ms and {unknown_median:.3} ms"
    );
    // The known address got its hour's mails (three), the unknown one none.
    sink.wait_for(&known, 3, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.mails_to(&known).len(), 3);
    assert!(sink.mails_to(&unknown).is_empty());
}

#[tokio::test]
async fn a_token_used_twice_or_by_two_racing_resets_changes_the_password_once() {
    let sink = Sink::start();
    let app = mail_app(&sink.url(), |_| {}).await;
    let email = signed_up(&app).await;
    assert_accepted(forgot(&app, &email).await).await;
    let token = sink.wait_for(&email, 1, Duration::from_secs(10)).await[0].token("/reset");

    let (first, second) = tokio::join!(
        reset(&app, &token, "first new password"),
        reset(&app, &token, "second new password"),
    );
    let mut statuses = [first.status(), second.status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::NO_CONTENT, StatusCode::BAD_REQUEST]);
    let loser = if first.status() == StatusCode::BAD_REQUEST {
        first
    } else {
        second
    };
    assert_error(loser, StatusCode::BAD_REQUEST, "invalid_reset_token").await;
    let works = |password: &'static str| {
        let app = &app;
        let email = email.clone();
        async move { app.log_in(&email, password).await.status() == StatusCode::OK }
    };
    let (a, b) = (
        works("first new password").await,
        works("second new password").await,
    );
    assert!(a ^ b, "exactly one new password works ({a}, {b})");
    assert!(!works(PASSWORD).await);
    assert_error(
        reset(&app, &token, "third new password").await,
        StatusCode::BAD_REQUEST,
        "invalid_reset_token",
    )
    .await;
}

#[tokio::test]
async fn expired_older_malformed_and_empty_tokens_are_refused_and_change_nothing() {
    let sink = Sink::start();
    let app = mail_app(&sink.url(), |s| s.recovery.token_ttl_seconds = 2).await;
    let email = signed_up(&app).await;

    // An expired token.
    assert_accepted(forgot(&app, &email).await).await;
    let expired = sink.wait_for(&email, 1, Duration::from_secs(10)).await[0].token("/reset");
    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert_error(
        reset(&app, &expired, NEW_PASSWORD).await,
        StatusCode::BAD_REQUEST,
        "invalid_reset_token",
    )
    .await;

    // An older token after a newer one was sent.
    assert_accepted(forgot(&app, &email).await).await;
    let older = sink.wait_for(&email, 2, Duration::from_secs(10)).await[1].token("/reset");
    assert_accepted(forgot(&app, &email).await).await;
    let newer = sink.wait_for(&email, 3, Duration::from_secs(10)).await[2].token("/reset");
    assert_ne!(older, newer);
    let mut malformed = newer.clone();
    malformed.replace_range(..1, if newer.starts_with('A') { "B" } else { "A" });
    let refused = [
        older.as_str(),
        "",
        "abc",
        &malformed,
        &format!("{newer}x"),
        &newer[..42],
        "not a token at all, with spaces and = signs!!",
    ];
    for token in refused {
        assert_error(
            reset(&app, token, NEW_PASSWORD).await,
            StatusCode::BAD_REQUEST,
            "invalid_reset_token",
        )
        .await;
    }
    // Nothing changed: the old password works.
    assert_eq!(app.log_in(&email, PASSWORD).await.status(), StatusCode::OK);
    // A password sign-up would refuse leaves the token usable.
    assert_error(
        reset(&app, &newer, "short").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "weak_password",
    )
    .await;
    assert_eq!(
        reset(&app, &newer, NEW_PASSWORD).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.log_in(&email, NEW_PASSWORD).await.status(),
        StatusCode::OK
    );
}

async fn mails_sent(app: &TestApp, outcome: &str) -> f64 {
    let text = app.metrics().await;
    text.lines()
        .filter(|l| {
            l.starts_with("mails_sent_total{")
                && l.contains("kind=\"reset\"")
                && l.contains(&format!("outcome=\"{outcome}\""))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn a_down_smtp_server_delays_the_mail_but_not_the_answer() {
    let port = free_port();
    let app = mail_app(&format!("smtp://127.0.0.1:{port}"), |_| {}).await;
    let email = signed_up(&app).await;
    let retried_before = mails_sent(&app, "retried").await;

    let started = Instant::now();
    assert_accepted(forgot(&app, &email).await).await;
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "answered in {:?}",
        started.elapsed()
    );
    // The first try fails (nothing listens); the failure is counted.
    let waited = Instant::now();
    while mails_sent(&app, "retried").await <= retried_before {
        assert!(
            waited.elapsed() < Duration::from_secs(5),
            "no retried mail counted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The server comes back: a later try delivers the mail.
    let sink = Sink::start_on(port, 0.0);
    let mails = sink.wait_for(&email, 1, Duration::from_secs(15)).await;
    let token = mails[0].token("/reset");
    assert_eq!(
        reset(&app, &token, NEW_PASSWORD).await.status(),
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn a_slow_smtp_server_does_not_slow_the_answer() {
    let sink = Sink::start_on(free_port(), 2.0);
    let app = mail_app(&sink.url(), |_| {}).await;
    let email = signed_up(&app).await;
    let started = Instant::now();
    assert_accepted(forgot(&app, &email).await).await;
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "answered in {:?}",
        started.elapsed()
    );
    sink.wait_for(&email, 1, Duration::from_secs(15)).await;
}

#[tokio::test]
async fn with_verification_on_login_waits_for_the_mailed_link() {
    let sink = Sink::start();
    let mut app = mail_app(&sink.url(), |s| s.signup.verify_email = true).await;
    let email = signed_up(&app).await;
    let first = sink.wait_for(&email, 1, Duration::from_secs(10)).await;
    assert_eq!(
        first[0].header("Subject").as_deref(),
        Some("Confirm your email address")
    );
    assert!(first[0].text.contains("24 hours"), "{}", first[0].text);
    let old = first[0].token("/welcome");

    assert_error(
        app.log_in(&email, PASSWORD).await,
        StatusCode::FORBIDDEN,
        "email_not_verified",
    )
    .await;
    assert_error(
        app.log_in(&email, "a wrong password").await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;

    // A new mail replaces the link: the old one is refused.
    assert_accepted(
        app.post_json("/email/verify/resend", &json!({ "email": email }))
            .await,
    )
    .await;
    let second = sink.wait_for(&email, 2, Duration::from_secs(10)).await;
    let new = second[1].token("/welcome");
    assert_ne!(old, new);
    assert_error(
        app.post_json("/email/verify", &json!({ "token": old }))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_verification_token",
    )
    .await;
    assert_error(
        app.log_in(&email, PASSWORD).await,
        StatusCode::FORBIDDEN,
        "email_not_verified",
    )
    .await;
    let res = app
        .post_json("/email/verify", &json!({ "token": new }))
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let verified: Vec<Value> = crate::events::stream(&mut app)
        .await
        .into_iter()
        .filter(|e| e["type"] == "user.email_verified")
        .collect();
    assert_eq!(verified.len(), 1, "one user.email_verified");
    let created = crate::events::stream(&mut app)
        .await
        .into_iter()
        .find(|e| e["type"] == "user.created")
        .unwrap();
    assert_eq!(verified[0]["userId"], created["userId"]);
    assert_eq!(app.log_in(&email, PASSWORD).await.status(), StatusCode::OK);
    // Verified: no more verification mails, and the used link is refused.
    assert_accepted(
        app.post_json("/email/verify/resend", &json!({ "email": email }))
            .await,
    )
    .await;
    assert_error(
        app.post_json("/email/verify", &json!({ "token": new }))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_verification_token",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(sink.mails_to(&email).len(), 2);
}

#[tokio::test]
async fn the_fourth_mail_to_an_address_in_an_hour_is_not_sent() {
    let sink = Sink::start();
    let app = mail_app(&sink.url(), |_| {}).await;
    let email = signed_up(&app).await;
    for _ in 0..4 {
        assert_accepted(forgot(&app, &email).await).await;
    }
    let mails = sink.wait_for(&email, 3, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(sink.mails_to(&email).len(), 3, "the fourth is not sent");
    // The newest of the mailed links still works (the mails are sent concurrently, so
    // the last to arrive need not carry it); the other two do not.
    let mut worked = 0;
    for mail in &mails {
        match reset(&app, &mail.token("/reset"), NEW_PASSWORD)
            .await
            .status()
        {
            StatusCode::NO_CONTENT => worked += 1,
            StatusCode::BAD_REQUEST => {}
            other => panic!("a reset answered {other}"),
        }
    }
    assert_eq!(worked, 1, "exactly the newest token works");
}

#[tokio::test]
async fn recovery_requests_from_one_ip_are_limited_per_hour() {
    let sink = Sink::start();
    let app = mail_app(&sink.url(), |s| s.recovery.max_per_ip_per_hour = 3).await;
    assert_accepted(forgot(&app, &unique_email()).await).await;
    assert_accepted(
        app.post_json("/email/verify/resend", &json!({ "email": unique_email() }))
            .await,
    )
    .await;
    assert_error(
        reset(&app, &"A".repeat(43), NEW_PASSWORD).await,
        StatusCode::BAD_REQUEST,
        "invalid_reset_token",
    )
    .await;
    let res = forgot(&app, &unique_email()).await;
    let retry_after: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&retry_after), "{retry_after}");
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "too_many_requests").await;
    assert_error(
        reset(&app, &"A".repeat(43), NEW_PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_requests",
    )
    .await;
}

#[tokio::test]
async fn no_header_can_be_injected_through_the_email_field() {
    let sink = Sink::start();
    let app = mail_app(&sink.url(), |_| {}).await;
    let email = signed_up(&app).await;
    let injections = [
        format!("{email}\r\nBcc: intruder@example.com"),
        format!("{email}\nBcc: intruder@example.com"),
        format!("{email}\rBcc: intruder@example.com"),
        format!("{email}\r\n\r\nInjected body"),
        format!("{email}, intruder@example.com"),
        format!("Someone <{email}>"),
        format!("{}@example.com", "a".repeat(300)),
        format!("{}{email}", "a".repeat(1000)),
        format!("{email}\u{0}intruder@example.com"),
    ];
    for value in &injections {
        assert_accepted(forgot(&app, value).await).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(sink.mails().is_empty(), "no mail for an injected address");
    // The plain address gets one mail, to it alone, with one set of headers.
    assert_accepted(forgot(&app, &email).await).await;
    let mail = &sink.wait_for(&email, 1, Duration::from_secs(10)).await[0];
    assert_eq!(sink.mails().len(), 1);
    assert!(mail.header("Bcc").is_none() && mail.header("Cc").is_none());
    assert_eq!(
        mail.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("To"))
            .count(),
        1
    );
    assert!(!mail.raw.contains("intruder"));
}

#[tokio::test]
async fn without_mail_the_recovery_endpoints_and_pages_are_not_found() {
    let app = spawn_app().await;
    let calls = [
        ("/password/forgot", json!({"email": "ada@example.com"})),
        (
            "/password/reset",
            json!({"token": "A".repeat(43), "newPassword": NEW_PASSWORD}),
        ),
        ("/email/verify", json!({"token": "A".repeat(43)})),
        ("/email/verify/resend", json!({"email": "ada@example.com"})),
    ];
    for (path, body) in calls {
        assert_error(
            app.post_json(path, &body).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }
    for page in ["/reset", "/welcome"] {
        let res = app.client.get(app.url(page)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{page}");
    }
    let index = app.client.get(app.url("/")).send().await.unwrap();
    let html = index.text().await.unwrap();
    assert!(!html.contains("Forgot your password"), "no reset offered");
    assert!(html.contains("signin-form"));
}

#[tokio::test]
async fn with_mail_the_pages_offer_a_reset_under_the_same_policy() {
    let sink = Sink::start();
    let app = mail_app(&sink.url(), |_| {}).await;
    let index = app.client.get(app.url("/")).send().await.unwrap();
    let html = index.text().await.unwrap();
    assert!(html.contains("Forgot your password?"));
    for page in ["/reset", "/welcome"] {
        let res = app.client.get(app.url(page)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{page}");
        let csp = res.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
        let html = res.text().await.unwrap();
        assert!(!html.contains("<script>"), "no inline script on {page}");
    }
}

#[tokio::test]
async fn a_reset_that_cannot_be_saved_answers_503_and_leaves_the_link_working() {
    let sink = Sink::start();
    let app = mail_app(&sink.url(), |_| {}).await;
    let email = signed_up(&app).await;
    assert_accepted(forgot(&app, &email).await).await;
    let token = sink.wait_for(&email, 1, Duration::from_secs(10)).await[0].token("/reset");

    // A second instance on the same Redis whose MongoDB does not answer.
    let shared = app.settings.clone();
    let dead = format!("mongodb://127.0.0.1:{}/?directConnection=true", free_port());
    let broken = spawn_app_with(move |s| {
        *s = shared;
        s.mongodb.uri = SecretString::from(dead);
    })
    .await;
    assert_error(
        reset(&broken, &token, NEW_PASSWORD).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    )
    .await;
    assert_eq!(app.log_in(&email, PASSWORD).await.status(), StatusCode::OK);
    // Nothing changed, so the link still works.
    assert_eq!(
        reset(&app, &token, NEW_PASSWORD).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.log_in(&email, NEW_PASSWORD).await.status(),
        StatusCode::OK
    );
}
