//! Least privilege in Redis: the documented ACL setup (deploy/redis), started with the
//! same script docker-compose uses.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::{
    ChildGuard, Options, TempDir, assert_error, free_port, stack, unique_email, wait_port,
};

struct AclRedis {
    port: u16,
    _process: ChildGuard,
    _dir: TempDir,
}

const AUTH_PASSWORD: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90";
const RESOURCE_PASSWORD: &str = "0f9e8d7c6b5a49382716f5e4d3c2b1a0";

async fn start_acl_redis() -> AclRedis {
    let deploy = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/redis");
    let dir = TempDir::new("acl");
    let port = free_port();
    let process = ChildGuard::spawn(
        Command::new("sh")
            .arg(deploy.join("start.sh"))
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .arg("--dir")
            .arg(dir.path())
            .env("ACL_RULES", deploy.join("acl-rules.txt"))
            .env("ACL_FILE", dir.path().join("users.acl"))
            .env("REDIS_AUTH_SERVICE_PASSWORD", AUTH_PASSWORD)
            .env("REDIS_RESOURCE_SERVICE_PASSWORD", RESOURCE_PASSWORD)
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    PathBuf::from(crate::helpers::env("TEST_REDIS_SERVER_BIN"))
                        .parent()
                        .unwrap()
                        .display(),
                    std::env::var("PATH").unwrap_or_default()
                ),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    wait_port(port, Duration::from_secs(10)).await;
    AclRedis {
        port,
        _process: process,
        _dir: dir,
    }
}

async fn connect(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// The documented ACL, each service on its own Redis user, sessions under `session:`,
/// the resource-service's validation cache on (its subscription must be allowed too);
/// `extra` settings for both services. The Redis, the stack and the resource-service's
/// Redis URL.
async fn acl_stack(extra: &[(&str, &str)]) -> (AclRedis, crate::helpers::Stack, String) {
    let redis = start_acl_redis().await;
    let auth_url = format!(
        "redis://auth-service:{AUTH_PASSWORD}@127.0.0.1:{}",
        redis.port
    );
    let resource_url = format!(
        "redis://resource-service:{RESOURCE_PASSWORD}@127.0.0.1:{}",
        redis.port
    );
    let s = stack(Options {
        redis_url: Some(auth_url),
        resource_env: vec![
            ("APP__REDIS__URL".into(), resource_url.clone()),
            ("APP__VALIDATION__CACHE".into(), "true".into()),
        ],
        extra: std::iter::once(("APP__SESSION__KEY_PREFIX", "session:"))
            .chain(extra.iter().copied())
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        ..Options::default()
    })
    .await;
    (redis, s, resource_url)
}

#[tokio::test]
async fn the_resource_service_may_only_read_sessions_and_still_serves() {
    let (redis, s, resource_url) = acl_stack(&[]).await;

    // The whole story works under the ACL: throttle counters, scripts, reads, deletes.
    let email = unique_email();
    let user = s.sign_up(&email).await;
    let wrong = s.try_log_in(&email, "wrong password").await;
    assert_error(wrong, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let token = s.log_in(&email).await["token"].as_str().unwrap().to_owned();
    let auth = format!("Bearer {token}");
    assert_eq!(s.me(Some(&auth)).await.status(), StatusCode::OK);
    let ready = s.ready().await;
    assert_eq!(ready.status(), StatusCode::OK);

    // The resource-service's user can read a session key but not write or delete one.
    let key = format!("session:{}", user["userId"].as_str().unwrap());
    let mut resource = connect(&resource_url).await;
    let held: Option<String> = redis::cmd("GET")
        .arg(&key)
        .query_async(&mut resource)
        .await
        .unwrap();
    assert_eq!(held.as_deref(), Some(token.as_str()));
    let set: redis::RedisResult<()> = redis::cmd("SET")
        .arg(&key)
        .arg("forged")
        .query_async(&mut resource)
        .await;
    assert!(set.is_err(), "SET must be refused");
    let del: redis::RedisResult<i64> = redis::cmd("DEL").arg(&key).query_async(&mut resource).await;
    assert!(del.is_err(), "DEL must be refused");
    let other: redis::RedisResult<Option<String>> = redis::cmd("GET")
        .arg("not-a-session")
        .query_async(&mut resource)
        .await;
    assert!(other.is_err(), "keys outside session:* are out of reach");
    // The auth-service appended the events under its ACL user (sign-up, login)...
    let mut auth_conn = connect(&format!(
        "redis://auth-service:{AUTH_PASSWORD}@127.0.0.1:{}",
        redis.port
    ))
    .await;
    let info: redis::Value = redis::cmd("XINFO")
        .arg("STREAM")
        .arg("session:events")
        .query_async(&mut auth_conn)
        .await
        .expect("the auth-service's user may inspect its stream");
    let redis::Value::Array(fields) = info else {
        panic!("XINFO STREAM answers name/value pairs: {info:?}")
    };
    let length = fields
        .chunks(2)
        .find(|pair| pair[0] == redis::Value::BulkString(b"length".to_vec()))
        .map(|pair| pair[1].clone());
    assert!(
        matches!(length, Some(redis::Value::Int(n)) if n >= 2),
        "sign-up and login appended their events: {length:?}"
    );
    // ...and the resource-service's user cannot read them, by any stream command.
    for read in [
        redis::cmd("XRANGE")
            .arg("session:events")
            .arg("-")
            .arg("+")
            .clone(),
        redis::cmd("XREAD")
            .arg("STREAMS")
            .arg("session:events")
            .arg("0")
            .clone(),
        redis::cmd("XLEN").arg("session:events").clone(),
        redis::cmd("XINFO")
            .arg("STREAM")
            .arg("session:events")
            .clone(),
    ] {
        let answer: redis::RedisResult<redis::Value> = read.query_async(&mut resource).await;
        let err = answer.expect_err("stream commands are refused to the resource-service");
        assert_eq!(err.code(), Some("NOPERM"), "{err}");
    }
    // Nobody gets in without a user.
    let anonymous = redis::Client::open(format!("redis://127.0.0.1:{}", redis.port)).unwrap();
    let mut anon = anonymous.get_multiplexed_async_connection().await;
    if let Ok(conn) = anon.as_mut() {
        let get: redis::RedisResult<Option<String>> =
            redis::cmd("GET").arg(&key).query_async(conn).await;
        assert!(get.is_err(), "the default user is off");
    }

    assert_eq!(s.log_out(&auth).await.status(), StatusCode::NO_CONTENT);
    refused_soon(&s, &auth).await;
    assert_error(
        s.me(Some(&auth)).await,
        StatusCode::UNAUTHORIZED,
        "session_not_found",
    )
    .await;
}

#[tokio::test]
async fn reset_tokens_are_out_of_the_resource_services_reach() {
    // Mail on, to a port nothing listens on: the token is stored before the mail is
    // tried, and the mail's failure changes nothing here.
    let smtp = format!("smtp://127.0.0.1:{}", free_port());
    let (redis, s, resource_url) = acl_stack(&[("APP__MAIL__SMTP_URL", smtp.as_str())]).await;
    let email = unique_email();
    let user_id = s.sign_up(&email).await["userId"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = s
        .client
        .post(s.auth.url("/password/forgot"))
        .json(&serde_json::json!({ "email": email }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);

    // The auth-service's user wrote the token's keys under recovery:*.
    let key = format!("recovery:{{session:}}:reset:user:{user_id}");
    let mut auth = connect(&format!(
        "redis://auth-service:{AUTH_PASSWORD}@127.0.0.1:{}",
        redis.port
    ))
    .await;
    let started = std::time::Instant::now();
    let digest = loop {
        let held: Option<String> = redis::cmd("GET")
            .arg(&key)
            .query_async(&mut auth)
            .await
            .unwrap();
        if let Some(digest) = held {
            break digest;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no reset token was stored"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(digest.len(), 64, "a SHA-256 digest, not the token");
    let token_key = format!("recovery:{{session:}}:reset:{digest}");

    // The resource-service's user can read neither key.
    let mut resource = connect(&resource_url).await;
    for key in [&key, &token_key] {
        let read: redis::RedisResult<Option<String>> =
            redis::cmd("GET").arg(key).query_async(&mut resource).await;
        let err = read.expect_err("a reset token key must be out of reach");
        assert!(
            err.to_string().to_lowercase().contains("noperm")
                || err.to_string().contains("permission"),
            "{err}"
        );
    }
}

const ADMIN_TOKEN: &str = "e2e-admin-token-that-is-32-bytes-long-0123";

#[tokio::test]
async fn in_multiple_mode_too_the_resource_service_may_only_read() {
    let (_redis, s, resource_url) = acl_stack(&[
        ("APP__SESSION__PER_USER", "multiple"),
        ("APP__SESSION__MAX_PER_USER", "2"),
        ("APP__SESSION__IDLE_TIMEOUT_SECONDS", "600"),
        ("APP__ADMIN__TOKEN", ADMIN_TOKEN),
    ])
    .await;

    // Every endpoint of multiple mode works under the ACL.
    let email = unique_email();
    let user_id = s.sign_up(&email).await["userId"]
        .as_str()
        .unwrap()
        .to_owned();
    let first = s.log_in(&email).await;
    let second = s.log_in(&email).await;
    let third = s.log_in(&email).await; // evicts the first
    let bearer = |v: &serde_json::Value| format!("Bearer {}", v["token"].as_str().unwrap());
    let (a, b, c) = (bearer(&first), bearer(&second), bearer(&third));
    assert_eq!(s.me(Some(&b)).await.status(), StatusCode::OK);
    assert_eq!(s.me(Some(&c)).await.status(), StatusCode::OK);
    assert_eq!(s.me(Some(&a)).await.status(), StatusCode::UNAUTHORIZED);
    let call = |method: reqwest::Method, path: &str, auth: &str| {
        s.client
            .request(method, s.auth.url(path))
            .header("Authorization", auth)
            .send()
    };
    let listed = call(reqwest::Method::GET, "/sessions", &c).await.unwrap();
    assert_eq!(listed.status(), StatusCode::OK);
    let listed: serde_json::Value = listed.json().await.unwrap();
    assert_eq!(listed["sessions"].as_array().unwrap().len(), 2);
    let refreshed = call(reqwest::Method::POST, "/session/refresh", &c)
        .await
        .unwrap();
    assert_eq!(refreshed.status(), StatusCode::OK);
    let ended = call(reqwest::Method::POST, "/logout/others", &c)
        .await
        .unwrap();
    assert_eq!(ended.status(), StatusCode::NO_CONTENT);
    refused_soon(&s, &b).await;
    let admin_list = call(
        reqwest::Method::GET,
        &format!("/admin/users/{user_id}/sessions"),
        &format!("Bearer {ADMIN_TOKEN}"),
    )
    .await
    .unwrap();
    assert_eq!(admin_list.status(), StatusCode::OK);

    // The resource-service's user reads a session hash but cannot touch it.
    let sid = third["sessionId"].as_str().unwrap();
    let key = format!("session:{{{user_id}}}:{sid}");
    let index = format!("session:{{{user_id}}}:index");
    let mut resource = connect(&resource_url).await;
    let digest: Vec<Option<String>> = redis::cmd("HMGET")
        .arg(&key)
        .arg("d")
        .query_async(&mut resource)
        .await
        .unwrap();
    assert_eq!(digest[0].as_deref().map(str::len), Some(64));
    let writes: [(&str, Vec<&str>); 8] = [
        ("HSET", vec![&key, "d", "forged"]),
        ("DEL", vec![&key]),
        ("PEXPIREAT", vec![&key, "99999999999999"]),
        ("PERSIST", vec![&key]),
        ("ZADD", vec![&index, "1", "forged"]),
        ("ZREM", vec![&index, sid]),
        ("EVAL", vec!["return 1", "0"]),
        ("PUBLISH", vec!["session:invalidate", "x"]),
    ];
    for (command, args) in writes {
        let result: redis::RedisResult<redis::Value> = redis::cmd(command)
            .arg(&args)
            .query_async(&mut resource)
            .await;
        assert!(result.is_err(), "{command} must be refused");
    }
    assert_eq!(s.me(Some(&c)).await.status(), StatusCode::OK);
    let all = call(reqwest::Method::POST, "/logout/all", &c)
        .await
        .unwrap();
    assert_eq!(all.status(), StatusCode::NO_CONTENT);
    refused_soon(&s, &c).await;
    assert_error(
        s.me(Some(&c)).await,
        StatusCode::UNAUTHORIZED,
        "session_not_found",
    )
    .await;
}

/// The cached resource-service refuses `auth` within the logout bound: the invalidation
/// reaches its cache over pub/sub a moment after the auth-service answered.
async fn refused_soon(s: &crate::helpers::Stack, auth: &str) {
    let started = std::time::Instant::now();
    loop {
        let status = s.me(Some(auth)).await.status();
        if status == StatusCode::UNAUTHORIZED {
            return;
        }
        assert_eq!(status, StatusCode::OK);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "an ended session was still served after 2 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
