//! Session events: each change appends exactly the events the contract implies, and
//! the webhooks deliver them signed, through failures, in stream order.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::{Value, json};
use session_core::events;
use session_core::settings::{PerUser, WhenFull};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{PASSWORD, TestApp, spawn_app_with, unique_email};

const ADMIN: &str = "events-admin-token-that-is-32-bytes-long-0123";

/// The events of the app's stream, in stream order.
pub async fn stream(app: &mut TestApp) -> Vec<Value> {
    let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg(format!("{}events", app.prefix))
        .arg("-")
        .arg("+")
        .query_async(&mut app.redis)
        .await
        .unwrap();
    entries
        .into_iter()
        .map(|(_, fields)| {
            let fields: HashMap<String, String> = fields.into_iter().collect();
            let event: Value = serde_json::from_str(&fields["data"]).unwrap();
            assert_eq!(event["type"].as_str(), Some(fields["type"].as_str()));
            event
        })
        .collect()
}

/// The user's events as `type` or `type:reason` / `type:via`, in order.
pub async fn story(app: &mut TestApp, user_id: &str) -> Vec<String> {
    stream(app)
        .await
        .into_iter()
        .filter(|e| e["userId"] == user_id)
        .map(|e| {
            let kind = e["type"].as_str().unwrap().to_owned();
            match (e["reason"].as_str(), e["via"].as_str()) {
                (Some(reason), _) => format!("{kind}:{reason}"),
                (_, Some(via)) => format!("{kind}:{via}"),
                _ => kind,
            }
        })
        .collect()
}

fn multiple(max: u32) -> impl FnOnce(&mut crate::helpers::Settings) {
    move |s| {
        s.session.per_user = PerUser::Multiple;
        s.session.max_per_user = max;
        s.session.when_full = WhenFull::EvictOldest;
        s.admin.token = Some(SecretString::from(ADMIN.to_owned()));
    }
}

async fn login(app: &TestApp, email: &str, ua: &str) -> Value {
    let res = app
        .client
        .post(app.url("/login"))
        .header("User-Agent", ua)
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

fn bearer(login: &Value) -> String {
    format!("Bearer {}", login["token"].as_str().unwrap())
}

async fn sign_up(app: &TestApp) -> (String, String) {
    let email = unique_email();
    let res = app.sign_up(&email, PASSWORD).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.unwrap();
    (email, body["userId"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn each_change_appends_exactly_the_events_it_implies() {
    let mut app = spawn_app_with(multiple(3)).await;
    let (email, user) = sign_up(&app).await;
    let created = stream(&mut app).await;
    let signed_up = created
        .iter()
        .find(|e| e["userId"] == user.as_str())
        .unwrap();
    assert_eq!(signed_up["type"], events::USER_CREATED);
    assert_eq!(signed_up["email"], email.as_str());
    assert_eq!(signed_up["id"].as_str().unwrap().len(), 36);
    assert!(signed_up["time"].as_str().unwrap().ends_with('Z'));

    // Login: session.created with the answer's sessionId and expiresAt, IP and agent.
    let first = login(&app, &email, "device-1").await;
    let events = stream(&mut app).await;
    let opened = events.last().unwrap();
    assert_eq!(opened["type"], events::SESSION_CREATED);
    assert_eq!(opened["sessionId"], first["sessionId"]);
    assert_eq!(opened["expiresAt"], first["expiresAt"]);
    assert_eq!(opened["userAgent"], "device-1");
    assert_eq!(opened["ip"], "127.0.0.1");
    // Logout.
    assert_eq!(
        app.log_out(&bearer(&first)).await.status(),
        StatusCode::NO_CONTENT
    );
    let ended = stream(&mut app).await.pop().unwrap();
    assert_eq!(ended["type"], events::SESSION_ENDED);
    assert_eq!(ended["reason"], "logout");
    assert_eq!(ended["sessionId"], first["sessionId"]);

    // Three devices, a fourth login evicts the oldest.
    let a = login(&app, &email, "a").await;
    let b = login(&app, &email, "b").await;
    let c = login(&app, &email, "c").await;
    let d = login(&app, &email, "d").await;
    let tail: Vec<Value> = stream(&mut app).await.into_iter().rev().take(2).collect();
    assert_eq!(tail[1]["type"], events::SESSION_ENDED);
    assert_eq!(tail[1]["reason"], "evicted");
    assert_eq!(tail[1]["sessionId"], a["sessionId"]);
    assert_eq!(tail[0]["type"], events::SESSION_CREATED);
    assert_eq!(tail[0]["sessionId"], d["sessionId"]);

    // DELETE /sessions/{id}: revoked.
    let res = app
        .client
        .delete(app.url(&format!("/sessions/{}", b["sessionId"].as_str().unwrap())))
        .header("Authorization", bearer(&d))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    // /logout/others from d: c ends.
    let res = app
        .client
        .post(app.url("/logout/others"))
        .header("Authorization", bearer(&d))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    // Password change from d with e alive: password.changed, e ends, d rotates (nothing).
    let e = login(&app, &email, "e").await;
    let res = app
        .client
        .post(app.url("/password"))
        .header("Authorization", bearer(&d))
        .json(&json!({"currentPassword": PASSWORD, "newPassword": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let d2: Value = res.json().await.unwrap();
    // /logout/all from d: d ends.
    let f = login(&app, &email, "f").await;
    let res = app
        .client
        .post(app.url("/logout/all"))
        .header("Authorization", bearer(&d2))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    // An admin ends g; then deletes the user with h alive.
    let _g = login(&app, &email, "g").await;
    let res = app
        .client
        .delete(app.url(&format!("/admin/users/{user}/sessions")))
        .header("Authorization", format!("Bearer {ADMIN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let _h = login(&app, &email, "h").await;
    let res = app
        .client
        .delete(app.url(&format!("/admin/users/{user}")))
        .header("Authorization", format!("Bearer {ADMIN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);

    assert_eq!(
        story(&mut app, &user).await,
        [
            "user.created",
            "session.created",
            "session.ended:logout",
            "session.created",
            "session.created",
            "session.created",
            "session.ended:evicted",
            "session.created",
            "session.ended:revoked",
            "session.ended:logout_others",
            "session.created",
            "password.changed:change",
            "session.ended:password_changed",
            "session.created",
            "session.ended:logout_all",
            "session.ended:logout_all",
            "session.created",
            "session.ended:admin",
            "session.created",
            "session.ended:user_deleted",
            "user.deleted",
        ]
    );
    // Which sessions each ending named.
    let all = stream(&mut app).await;
    let ended_ids = |reason: &str| -> HashSet<String> {
        all.iter()
            .filter(|ev| ev["userId"] == user.as_str() && ev["reason"] == reason)
            .map(|ev| ev["sessionId"].as_str().unwrap().to_owned())
            .collect()
    };
    let id = |v: &Value| v["sessionId"].as_str().unwrap().to_owned();
    assert_eq!(ended_ids("revoked"), HashSet::from([id(&b)]));
    assert_eq!(ended_ids("logout_others"), HashSet::from([id(&c)]));
    assert_eq!(ended_ids("password_changed"), HashSet::from([id(&e)]));
    assert_eq!(ended_ids("logout_all"), HashSet::from([id(&d), id(&f)]));
    // Event ids are unique.
    let ids: HashSet<&str> = all.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), all.len());
    // No token, digest or password anywhere in the stream.
    let text = serde_json::to_string(&all).unwrap();
    for login in [&first, &a, &b, &c, &d, &d2, &e, &f] {
        let token = login["token"].as_str().unwrap();
        assert!(!text.contains(token));
        assert!(!text.contains(&session_core::store::token_digest(token)));
    }
    assert!(!text.contains(PASSWORD));
}

#[tokio::test]
async fn single_mode_reuse_appends_nothing_and_endings_name_the_session() {
    let mut app = spawn_app_with(|s| {
        s.admin.token = Some(SecretString::from(ADMIN.to_owned()));
    })
    .await;
    let (email, user) = sign_up(&app).await;
    let first = login(&app, &email, "ua").await;
    let again = login(&app, &email, "ua").await;
    assert_eq!(again["reused"], true);
    assert_eq!(
        app.log_out(&bearer(&first)).await.status(),
        StatusCode::NO_CONTENT
    );
    let second = login(&app, &email, "ua").await;
    let res = app
        .client
        .delete(app.url(&format!("/admin/users/{user}/sessions")))
        .header("Authorization", format!("Bearer {ADMIN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        story(&mut app, &user).await,
        [
            "user.created",
            "session.created",
            "session.ended:logout",
            "session.created",
            "session.ended:admin",
        ]
    );
    let all: Vec<Value> = stream(&mut app)
        .await
        .into_iter()
        .filter(|e| e["userId"] == user.as_str() && e["sessionId"].is_string())
        .collect();
    let sids: Vec<&str> = all
        .iter()
        .map(|e| e["sessionId"].as_str().unwrap())
        .collect();
    let first_id = first["sessionId"].as_str().unwrap();
    let second_id = second["sessionId"].as_str().unwrap();
    assert_eq!(sids, [first_id, first_id, second_id, second_id]);
}

#[tokio::test]
async fn a_session_found_expired_by_a_prune_is_an_expired_event() {
    let mut app = spawn_app_with(multiple(10)).await;
    let (email, user) = sign_up(&app).await;
    let gone = login(&app, &email, "a").await;
    let live = login(&app, &email, "b").await;
    // The session's key expires (as an idle deadline would make it).
    let key = format!(
        "{}{{{user}}}:{}",
        app.prefix,
        gone["sessionId"].as_str().unwrap()
    );
    let _: i64 = redis::cmd("PEXPIRE")
        .arg(&key)
        .arg(1)
        .query_async(&mut app.redis)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    // GET /sessions prunes the index.
    let res = app
        .client
        .get(app.url("/sessions"))
        .header("Authorization", bearer(&live))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let last = stream(&mut app).await.pop().unwrap();
    assert_eq!(last["type"], events::SESSION_ENDED);
    assert_eq!(last["reason"], "expired");
    assert_eq!(last["sessionId"], gone["sessionId"]);
    // Noticed once: a second prune finds nothing.
    let before = stream(&mut app).await.len();
    let res = app
        .client
        .get(app.url("/sessions"))
        .header("Authorization", bearer(&live))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(stream(&mut app).await.len(), before);
    // And counted as an ending, as the endings a request causes are.
    let metrics = app.metrics().await;
    let expired = metrics
        .lines()
        .find_map(|line| line.strip_prefix(r#"sessions_ended_total{reason="expired"} "#))
        .and_then(|value| value.parse::<f64>().ok());
    assert!(expired.is_some_and(|n| n >= 1.0), "{metrics}");
}

#[tokio::test]
async fn racing_logins_and_logouts_leave_stream_and_redis_in_agreement() {
    let app = spawn_app_with(multiple(5)).await;
    let (email, user) = sign_up(&app).await;
    let app = Arc::new(app);
    let mut tasks = Vec::new();
    for i in 0..200 {
        let app = app.clone();
        let email = email.clone();
        tasks.push(tokio::spawn(async move {
            let res = app
                .client
                .post(app.url("/login"))
                .header("User-Agent", format!("racer-{i}"))
                .json(&json!({"email": email, "password": PASSWORD}))
                .send()
                .await
                .unwrap();
            if res.status() != StatusCode::OK {
                return (None, false);
            }
            let body: Value = res.json().await.unwrap();
            let sid = body["sessionId"].as_str().unwrap().to_owned();
            // Every other one logs out again at once.
            let out = if i % 2 == 0 {
                app.log_out(&bearer(&body)).await.status() == StatusCode::NO_CONTENT
            } else {
                false
            };
            (Some(sid), out)
        }));
    }
    let mut opened = HashSet::new();
    let mut logged_out = HashSet::new();
    for task in tasks {
        let (sid, out) = task.await.unwrap();
        if let Some(sid) = sid {
            if out {
                logged_out.insert(sid.clone());
            }
            opened.insert(sid);
        }
    }
    let Ok(mut app) = Arc::try_unwrap(app) else {
        panic!("every task is done")
    };
    let all: Vec<Value> = stream(&mut app)
        .await
        .into_iter()
        .filter(|e| e["userId"] == user.as_str())
        .collect();
    let created: Vec<String> = all
        .iter()
        .filter(|e| e["type"] == events::SESSION_CREATED)
        .map(|e| e["sessionId"].as_str().unwrap().to_owned())
        .collect();
    let mut ended: HashMap<String, Vec<String>> = HashMap::new();
    for e in all.iter().filter(|e| e["type"] == events::SESSION_ENDED) {
        ended
            .entry(e["sessionId"].as_str().unwrap().to_owned())
            .or_default()
            .push(e["reason"].as_str().unwrap().to_owned());
    }
    // One created per answered login, none for a refused one.
    assert_eq!(created.len(), opened.len());
    assert_eq!(created.iter().cloned().collect::<HashSet<_>>(), opened);
    // Every session that is gone ended exactly once; every live one not at all.
    let live: HashSet<String> = app
        .session_keys()
        .await
        .into_iter()
        .filter(|k| !k.ends_with(":index"))
        .map(|k| k.rsplit(':').next().unwrap().to_owned())
        .collect();
    assert!(live.len() <= 5);
    for sid in &opened {
        let endings = ended.get(sid).map(Vec::len).unwrap_or(0);
        if live.contains(sid) {
            assert_eq!(endings, 0, "{sid} is live");
        } else {
            assert_eq!(endings, 1, "{sid} ended once: {:?}", ended.get(sid));
        }
    }
    for sid in &logged_out {
        assert_eq!(ended[sid], ["logout"]);
    }
    assert!(ended.keys().all(|sid| opened.contains(sid)));
}

// ---- webhooks -------------------------------------------------------------------

/// What the receiver does with the next request.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Accept,
    Fail,
    Hang,
}

#[derive(Default)]
struct Received {
    /// (webhook-id, timestamp, signature, body), in order of arrival, every try.
    tries: Vec<(String, String, String, String)>,
    /// Bodies acknowledged with 2xx.
    accepted: Vec<String>,
}

/// A real HTTP receiver on a loopback port, answering per `mode`.
struct Receiver {
    port: u16,
    mode: Arc<Mutex<Mode>>,
    received: Arc<Mutex<Received>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start(port: u16) -> Self {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let mode = Arc::new(Mutex::new(Mode::Accept));
        let received = Arc::new(Mutex::new(Received::default()));
        let (m, r) = (mode.clone(), received.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(serve(socket, m.clone(), r.clone()));
            }
        });
        Self {
            port,
            mode,
            received,
            task,
        }
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    fn stop(&self) {
        self.task.abort();
    }
}

async fn serve(
    mut socket: tokio::net::TcpStream,
    mode: Arc<Mutex<Mode>>,
    received: Arc<Mutex<Received>>,
) {
    let mut buffer = Vec::new();
    loop {
        // One request: the head, then Content-Length bytes.
        let head_end = loop {
            if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            let mut chunk = [0u8; 4096];
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buffer[..head_end]).to_string();
        let header = |name: &str| {
            head.lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.trim()
                        .eq_ignore_ascii_case(name)
                        .then(|| v.trim().to_owned())
                })
                .unwrap_or_default()
        };
        let length: usize = header("content-length").parse().unwrap_or(0);
        while buffer.len() < head_end + length {
            let mut chunk = [0u8; 4096];
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        }
        let body = String::from_utf8_lossy(&buffer[head_end..head_end + length]).to_string();
        buffer.drain(..head_end + length);
        let now = *mode.lock().unwrap();
        received.lock().unwrap().tries.push((
            header("webhook-id"),
            header("webhook-timestamp"),
            header("webhook-signature"),
            body.clone(),
        ));
        let answer: &[u8] = match now {
            Mode::Accept => {
                received.lock().unwrap().accepted.push(body);
                b"HTTP/1.1 204 No Content\r\n\r\n"
            }
            Mode::Fail => b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n",
            Mode::Hang => {
                tokio::time::sleep(Duration::from_secs(30)).await;
                return;
            }
        };
        if socket.write_all(answer).await.is_err() {
            return;
        }
    }
}

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn webhooks(port: u16) -> impl FnOnce(&mut crate::helpers::Settings) {
    move |s| {
        s.webhook.url = Some(format!("http://127.0.0.1:{port}/hook"));
        s.webhook.secret = Some(SecretString::from(SECRET.to_owned()));
        s.webhook.timeout_ms = 300;
        s.webhook.retry_initial_ms = 100;
        s.webhook.max_attempts = 60;
        s.webhook.claim_idle_ms = 2000;
    }
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool, seconds: u64) {
    let until = std::time::Instant::now() + Duration::from_secs(seconds);
    while !done() {
        assert!(
            std::time::Instant::now() < until,
            "timed out waiting: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn webhooks_arrive_signed_through_errors_timeouts_and_an_outage() {
    let receiver = Receiver::start(0).await;
    let port = receiver.port;
    let mut app = spawn_app_with(webhooks(port)).await;
    let key = events::decode_secret(SECRET).unwrap();

    // Healthy: first tries in stream order.
    let (email, _) = sign_up(&app).await;
    for i in 0..5 {
        login(&app, &email, &format!("ok-{i}")).await;
    }
    // Answers 500 for a while, then times out, then is down for 10 s.
    receiver.set(Mode::Fail);
    let (email2, _) = sign_up(&app).await;
    login(&app, &email2, "during-500").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    receiver.set(Mode::Hang);
    login(&app, &email2, "during-timeout").await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    receiver.stop();
    let received = receiver.received.clone();
    let (email3, _) = sign_up(&app).await;
    login(&app, &email3, "during-outage").await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    let receiver = Receiver::start(port).await;
    let late = receiver.received.clone();

    let expected = stream(&mut app).await;
    wait_for(
        "every event delivered",
        || {
            let got: HashSet<String> = received
                .lock()
                .unwrap()
                .accepted
                .iter()
                .chain(late.lock().unwrap().accepted.iter())
                .map(|b| {
                    serde_json::from_str::<Value>(b).unwrap()["id"]
                        .as_str()
                        .unwrap()
                        .to_owned()
                })
                .collect();
            expected
                .iter()
                .all(|e| got.contains(e["id"].as_str().unwrap()))
        },
        60,
    )
    .await;

    let tries: Vec<(String, String, String, String)> = {
        let first = received.lock().unwrap();
        let second = late.lock().unwrap();
        first
            .tries
            .iter()
            .chain(second.tries.iter())
            .cloned()
            .collect()
    };
    let now = chrono::Utc::now().timestamp();
    for (id, timestamp, signature, body) in &tries {
        let event: Value = serde_json::from_str(body).unwrap();
        // webhook-id is the event's id; the signature verifies.
        assert_eq!(event["id"].as_str(), Some(id.as_str()));
        assert_eq!(
            events::verify_webhook(&key, (id, timestamp, signature), body, (now, 300)),
            Ok(())
        );
    }
    // Unique per event: one id per distinct body.
    let mut by_id: HashMap<&str, &str> = HashMap::new();
    for (id, _, _, body) in &tries {
        assert_eq!(
            *by_id.entry(id.as_str()).or_insert(body.as_str()),
            body.as_str()
        );
    }
    // First tries follow the stream's order.
    let order: Vec<&str> = expected.iter().map(|e| e["id"].as_str().unwrap()).collect();
    let mut seen = HashSet::new();
    let firsts: Vec<&str> = tries
        .iter()
        .map(|t| t.0.as_str())
        .filter(|id| seen.insert(*id))
        .collect();
    let positions: Vec<usize> = firsts
        .iter()
        .map(|id| order.iter().position(|o| o == id).unwrap())
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "first tries out of stream order: {positions:?}"
    );
    // Retries were counted.
    let metrics = app.metrics().await;
    assert!(metrics.contains("webhook_deliveries_total{outcome=\"retried\"}"));
    assert!(metrics.contains("webhook_deliveries_total{outcome=\"delivered\"}"));
    assert!(metrics.contains("events_appended_total{type=\"session.created\"}"));
}

#[tokio::test]
async fn a_webhook_that_never_succeeds_goes_to_the_dead_letter_stream() {
    let receiver = Receiver::start(0).await;
    receiver.set(Mode::Fail);
    let mut app = spawn_app_with(|s| {
        webhooks(receiver.port)(s);
        s.webhook.max_attempts = 3;
        s.webhook.types = "user.created".into();
    })
    .await;
    let (_, user) = sign_up(&app).await;
    let dead_key = format!("{}events:dead", app.prefix);
    let mut dead: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for _ in 0..100 {
        dead = redis::cmd("XRANGE")
            .arg(&dead_key)
            .arg("-")
            .arg("+")
            .query_async(&mut app.redis)
            .await
            .unwrap();
        if !dead.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(dead.len(), 1, "one dead letter");
    let fields: HashMap<String, String> = dead[0].1.iter().cloned().collect();
    assert_eq!(fields["type"], "user.created");
    assert_eq!(fields["attempts"], "3");
    assert_eq!(fields["lastError"], "HTTP 500");
    let data: Value = serde_json::from_str(&fields["data"]).unwrap();
    assert_eq!(data["userId"], user.as_str());
    // Three tries, all of user.created (webhook.types), none after the dead letter.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let tries = receiver.received.lock().unwrap().tries.len();
    assert_eq!(tries, 3);
    // Acknowledged: nothing pending in the group.
    let pending: Vec<redis::Value> = redis::cmd("XPENDING")
        .arg(format!("{}events", app.prefix))
        .arg("webhooks")
        .query_async(&mut app.redis)
        .await
        .unwrap();
    assert_eq!(pending.first(), Some(&redis::Value::Int(0)));
}

#[test]
fn bad_webhook_configuration_is_refused_naming_the_key() {
    let mut s = crate::helpers::test_settings();
    s.webhook.url = Some("http://127.0.0.1:9/hook".into());
    let err = s.check(false).unwrap_err().to_string();
    assert!(err.contains("webhook.secret"), "{err}");
    s.webhook.secret = Some(SecretString::from("not-whsec".to_owned()));
    let err = s.check(false).unwrap_err().to_string();
    assert!(err.contains("webhook.secret"), "{err}");
    s.webhook.secret = Some(SecretString::from("whsec_c2hvcnQ=".to_owned()));
    let err = s.check(false).unwrap_err().to_string();
    assert!(err.contains("webhook.secret"), "{err}");
    s.webhook.secret = Some(SecretString::from(SECRET.to_owned()));
    assert!(s.check(false).is_ok());
    s.webhook.types = "session.created, session.exploded".into();
    let err = s.check(false).unwrap_err().to_string();
    assert!(err.contains("webhook.types"), "{err}");
    s.webhook.types = "session.created,user.deleted".into();
    assert!(s.check(false).is_ok());
    s.webhook.url = Some("ftp://example.com/hook".into());
    let err = s.check(false).unwrap_err().to_string();
    assert!(err.contains("webhook.url"), "{err}");
}
