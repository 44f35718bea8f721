//! Production Redis topologies with real servers on loopback ports: a 3-master +
//! 3-replica Redis Cluster, a master + replica watched by three sentinels, and TLS.
//! One suite of checks (the seed's story) runs against each; then each topology's own
//! failures: a master stopped (SIGSTOP) answers 503, never 401 or 500, until its
//! replica takes over, then 200 again without a restart.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::signal;
use crate::helpers::{
    ChildGuard, Cluster, Options, OwnRedis, PASSWORD, Stack, TempDir, assert_error, env, free_port,
    kv, stack, unique_email, wait_port,
};
use crate::remote_path::make_ca_and_server;

/// Waits up to `limit` for `check`, polling.
async fn eventually<F, Fut>(what: &str, limit: Duration, check: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < limit, "{what} within {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn me_status(s: &Stack, auth: &str) -> StatusCode {
    s.me(Some(auth)).await.status()
}

/// The seed's story and the races, whatever the topology.
async fn story_and_races(s: &Stack) {
    let email = unique_email();
    s.sign_up(&email).await;
    let login = s.log_in(&email).await;
    let auth = format!("Bearer {}", login["token"].as_str().unwrap());
    assert_eq!(me_status(s, &auth).await, StatusCode::OK);
    assert_eq!(
        s.log_in(&email).await["token"],
        login["token"],
        "a second login returns the live session"
    );
    assert_eq!(s.log_out(&auth).await.status(), StatusCode::NO_CONTENT);
    // With the validation cache on, the logout reaches it within the 2 s bound.
    eventually("the logout refused", Duration::from_secs(2), || async {
        me_status(s, &auth).await == StatusCode::UNAUTHORIZED
    })
    .await;
    assert_error(
        s.me(Some(&auth)).await,
        StatusCode::UNAUTHORIZED,
        "session_not_found",
    )
    .await;

    // 100 racing logins of one user: one session.
    crate::races::a_hundred_racing_logins_make_one_session(s).await;
}

/// Sends /me for `auth` until it answers 200 again (at most `limit`); every answer
/// meanwhile must be 200 or 503. Returns how many 503s were seen.
async fn through_the_failover(s: &Stack, auth: &str, limit: Duration) -> usize {
    let started = Instant::now();
    let mut unavailable = 0;
    loop {
        let status = me_status(s, auth).await;
        match status {
            StatusCode::SERVICE_UNAVAILABLE => unavailable += 1,
            StatusCode::OK if unavailable > 0 => return unavailable,
            StatusCode::OK => {}
            other => panic!("a stopped master gave {other}, not 503"),
        }
        if started.elapsed() >= limit {
            let log = s.resource.log_text();
            let tail: Vec<&str> = log.lines().rev().take(25).collect();
            panic!(
                "still not served {limit:?} after the master stopped ({unavailable} × 503); resource-service log, newest first:\n{}",
                tail.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The node that is master of `key`'s slot now.
async fn master_of<'a>(cluster: &'a Cluster, key: &str) -> &'a OwnRedis {
    let slot: i64 = cluster.nodes()[0].cmd(&["CLUSTER", "KEYSLOT", key]).await;
    for node in cluster.nodes() {
        let role: Vec<redis::Value> = node.cmd(&["ROLE"]).await;
        if !matches!(role.first(), Some(redis::Value::BulkString(b)) if b == b"master") {
            continue;
        }
        let slots: Vec<(i64, i64)> = node
            .cmd::<Vec<redis::Value>>(&["CLUSTER", "SLOTS"])
            .await
            .iter()
            .filter_map(|range| match range {
                redis::Value::Array(parts) => match (&parts[0], &parts[1], &parts[2]) {
                    (redis::Value::Int(a), redis::Value::Int(b), redis::Value::Array(m))
                        if matches!(&m[1], redis::Value::Int(p) if *p == i64::from(node.port())) =>
                    {
                        Some((*a, *b))
                    }
                    _ => None,
                },
                _ => None,
            })
            .collect();
        if slots.iter().any(|(a, b)| (*a..=*b).contains(&slot)) {
            return node;
        }
    }
    panic!("no master holds slot {slot}");
}

#[tokio::test]
async fn on_a_redis_cluster_sessions_spread_survive_failovers_and_reach_every_cache() {
    let cluster = Cluster::start(3, 1, Duration::from_secs(1)).await;
    let s = stack(Options {
        extra: vec![
            kv("APP__REDIS__MODE", "cluster"),
            kv("APP__REDIS__NODES", &cluster.seeds().join(",")),
            // In cluster mode redis.url is not used: point it at nothing.
            kv("APP__REDIS__URL", "redis://127.0.0.1:1"),
        ],
        resource_env: vec![kv("APP__VALIDATION__CACHE", "true")],
        ..Options::default()
    })
    .await;
    story_and_races(&s).await;

    // Logout on the auth-service is refused by a second, cached resource-service.
    let other = s.another_resource().await;
    let (_, auth) = s.session().await;
    let session: Value = s.session_info(&auth).await.json().await.unwrap();
    let session_id = session["sessionId"].as_str().unwrap().to_owned();
    for service in [&s.resource, &other] {
        for _ in 0..3 {
            let res = s.me_at(service, &auth).await;
            assert_eq!(res.status(), StatusCode::OK);
        }
    }
    assert_eq!(s.log_out(&auth).await.status(), StatusCode::NO_CONTENT);
    let started = Instant::now();
    for service in [&s.resource, &other] {
        eventually(
            "the logout refused by every cached instance",
            Duration::from_secs(2),
            || async { s.me_at(service, &auth).await.status() == StatusCode::UNAUTHORIZED },
        )
        .await;
    }
    assert!(started.elapsed() < Duration::from_secs(2));

    // The events reached the stream (appended right after each change on a Cluster):
    // the session's start and its logout, once each.
    let key_prefix = s
        .resource_envs()
        .into_iter()
        .find(|(k, _)| k == "APP__SESSION__KEY_PREFIX")
        .unwrap()
        .1;
    let client = redis::cluster::ClusterClient::new(cluster.seeds()).unwrap();
    let mut conn = client.get_async_connection().await.unwrap();
    let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg(format!("{key_prefix}events"))
        .arg("-")
        .arg("+")
        .query_async(&mut conn)
        .await
        .unwrap();
    let mine: Vec<String> = entries
        .iter()
        .filter_map(|(_, fields)| {
            let data = &fields.iter().find(|(k, _)| k == "data")?.1;
            let event: Value = serde_json::from_str(data).ok()?;
            (event["sessionId"] == session_id.as_str()).then(|| {
                format!(
                    "{}:{}",
                    event["type"].as_str().unwrap_or(""),
                    event["reason"].as_str().unwrap_or("")
                )
            })
        })
        .collect();
    assert_eq!(mine, ["session.created:", "session.ended:logout"]);

    // Sessions spread over all three masters.
    let mut sessions = Vec::new();
    for _ in 0..24 {
        sessions.push(s.session().await.1);
    }
    let mut masters_with_keys = 0;
    for node in cluster.nodes() {
        let role: Vec<redis::Value> = node.cmd(&["ROLE"]).await;
        if matches!(role.first(), Some(redis::Value::BulkString(b)) if b == b"master") {
            let keys: i64 = node.cmd(&["DBSIZE"]).await;
            masters_with_keys += usize::from(keys > 0);
        }
    }
    assert_eq!(masters_with_keys, 3, "every master holds sessions");

    // CLUSTER FAILOVER on every replica: no acknowledged session is lost.
    for node in cluster.nodes() {
        let role: Vec<redis::Value> = node.cmd(&["ROLE"]).await;
        if matches!(role.first(), Some(redis::Value::BulkString(b)) if b == b"slave") {
            let _: String = node.cmd(&["CLUSTER", "FAILOVER"]).await;
        }
    }
    eventually("the replicas promoted", Duration::from_secs(20), || async {
        let mut promoted = 0;
        for node in cluster.nodes() {
            let role: Vec<redis::Value> = node.cmd(&["ROLE"]).await;
            promoted += usize::from(
                matches!(role.first(), Some(redis::Value::BulkString(b)) if b == b"master"),
            );
        }
        promoted == 3
    })
    .await;
    for auth in &sessions {
        let started = Instant::now();
        loop {
            match me_status(&s, auth).await {
                StatusCode::OK => break,
                StatusCode::SERVICE_UNAVAILABLE if started.elapsed() < Duration::from_secs(10) => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                other => panic!("a session acknowledged before CLUSTER FAILOVER gave {other}"),
            }
        }
    }

    // A master stopped: its keys answer 503 until its replica takes over, then 200.
    let auth = session_after_failover(&s).await;
    let claims = s.me(Some(&auth)).await.json::<Value>().await.unwrap();
    let user_id = claims["userId"].as_str().unwrap().to_owned();
    let key_prefix = s
        .resource_envs()
        .into_iter()
        .find(|(k, _)| k == "APP__SESSION__KEY_PREFIX")
        .unwrap()
        .1;
    let master = master_of(&cluster, &format!("{key_prefix}{user_id}")).await;
    signal(master.pid(), "STOP");
    let stopped = Instant::now();
    let unavailable = through_the_failover(&s, &auth, Duration::from_secs(20)).await;
    let served_after = stopped.elapsed();
    signal(master.pid(), "CONT");
    assert!(
        unavailable > 0,
        "the stopped master's keys answered 503 first"
    );
    eprintln!("cluster: served again {served_after:?} after SIGSTOP ({unavailable} × 503)");
    // And the service keeps working for new sessions, without a restart.
    let fresh = session_after_failover(&s).await;
    served_soon(&s, &fresh).await;
}

/// `/me` for `auth` answers 200 within 10 s, and nothing but 503 before.
async fn served_soon(s: &Stack, auth: &str) {
    let started = Instant::now();
    loop {
        match me_status(s, auth).await {
            StatusCode::OK => return,
            StatusCode::SERVICE_UNAVAILABLE if started.elapsed() < Duration::from_secs(10) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => {
                // Once more, for the body: which refusal it is tells where the session went.
                let body = s.me(Some(auth)).await.text().await.unwrap_or_default();
                let auth_log = s.auth.log_text();
                let warnings: Vec<&str> = auth_log.lines().filter(|l| l.contains("WARN")).collect();
                panic!(
                    "a session made after the failover gave {other} ({body}); auth-service warnings:\n{}",
                    warnings.join("\n")
                )
            }
        }
    }
}

/// Signs up and logs in a new user once the auth-service's cluster connection has
/// caught up with a failover (503 meanwhile, never anything else); the bearer value.
async fn session_after_failover(s: &Stack) -> String {
    let started = Instant::now();
    let email = unique_email();
    let body = json!({"email": email, "password": PASSWORD});
    let mut signed_up = false;
    loop {
        let path = if signed_up { "/login" } else { "/signup" };
        let res = s
            .client
            .post(s.auth.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        match res.status() {
            StatusCode::CREATED => signed_up = true,
            StatusCode::OK => {
                let token = res.json::<Value>().await.unwrap()["token"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                return format!("Bearer {token}");
            }
            StatusCode::SERVICE_UNAVAILABLE if started.elapsed() < Duration::from_secs(15) => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            other => panic!("{path} answered {other} after the failover"),
        }
    }
}

struct Sentinels {
    master: OwnRedis,
    replica: OwnRedis,
    sentinels: Vec<OwnRedis>,
}

impl Sentinels {
    async fn start() -> Self {
        let master = OwnRedis::start(&[]).await;
        let master_port = master.port();
        let replica =
            OwnRedis::start(&["--replicaof", "127.0.0.1", &master_port.to_string()]).await;
        eventually("the replica in sync", Duration::from_secs(10), || async {
            let info: String = replica.cmd(&["INFO", "replication"]).await;
            info.contains("master_link_status:up")
        })
        .await;
        let mut sentinels = Vec::new();
        for _ in 0..3 {
            sentinels.push(
                OwnRedis::sentinel(&format!(
                    "sentinel monitor sessions 127.0.0.1 {master_port} 2\n\
                     sentinel down-after-milliseconds sessions 1000\nsentinel failover-timeout sessions 5000\n\
                     sentinel parallel-syncs sessions 1\n"
                ))
                .await,
            );
        }
        let cluster = Self {
            master,
            replica,
            sentinels,
        };
        for sentinel in &cluster.sentinels {
            eventually(
                "every sentinel sees the replica and the others",
                Duration::from_secs(20),
                || async {
                    let replicas: Vec<redis::Value> =
                        sentinel.cmd(&["SENTINEL", "REPLICAS", "sessions"]).await;
                    let others: Vec<redis::Value> =
                        sentinel.cmd(&["SENTINEL", "SENTINELS", "sessions"]).await;
                    replicas.len() == 1 && others.len() == 2
                },
            )
            .await;
        }
        cluster
    }

    /// The sentinels' URLs, comma-separated, as `redis.sentinels` takes them.
    fn urls(&self) -> String {
        self.sentinels
            .iter()
            .map(OwnRedis::url)
            .collect::<Vec<_>>()
            .join(",")
    }

    async fn master_port(&self) -> u16 {
        let (_, port): (String, u16) = self.sentinels[0]
            .cmd(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "sessions"])
            .await;
        port
    }
}

#[tokio::test]
async fn with_sentinel_failovers_are_followed_and_a_waited_logout_stays_a_logout() {
    let topology = Sentinels::start().await;
    let s = stack(Options {
        extra: vec![
            kv("APP__REDIS__MODE", "sentinel"),
            kv("APP__REDIS__SENTINELS", &topology.urls()),
            kv("APP__REDIS__MASTER_NAME", "sessions"),
            kv("APP__REDIS__WAIT_REPLICAS", "1"),
            // Credentials, TLS and database of the master; its host is not used.
            kv("APP__REDIS__URL", "redis://127.0.0.1:1"),
        ],
        ..Options::default()
    })
    .await;
    story_and_races(&s).await;

    // A logout acknowledged with WAIT 1 stays a logout after SENTINEL FAILOVER.
    let (_, ended) = s.session().await;
    let (_, kept) = s.session().await;
    assert_eq!(s.log_out(&ended).await.status(), StatusCode::NO_CONTENT);
    let before = topology.master_port().await;
    let _: String = topology.sentinels[0]
        .cmd(&["SENTINEL", "FAILOVER", "sessions"])
        .await;
    eventually(
        "the sentinels name the replica",
        Duration::from_secs(20),
        || async { topology.master_port().await != before },
    )
    .await;
    let started = Instant::now();
    loop {
        match me_status(&s, &kept).await {
            StatusCode::OK => break,
            StatusCode::SERVICE_UNAVAILABLE if started.elapsed() < Duration::from_secs(10) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => panic!("a live session gave {other} after SENTINEL FAILOVER"),
        }
    }
    assert_error(
        s.me(Some(&ended)).await,
        StatusCode::UNAUTHORIZED,
        "session_not_found",
    )
    .await;

    // The master now is the old replica: stop it; served again after the failover.
    eventually(
        "the old master back as a replica",
        Duration::from_secs(20),
        || async {
            let info: String = topology.master.cmd(&["INFO", "replication"]).await;
            info.contains("role:slave") && info.contains("master_link_status:up")
        },
    )
    .await;
    let master = if topology.master_port().await == topology.replica.port() {
        &topology.replica
    } else {
        &topology.master
    };
    signal(master.pid(), "STOP");
    let stopped = Instant::now();
    let unavailable = through_the_failover(&s, &kept, Duration::from_secs(30)).await;
    let served_after = stopped.elapsed();
    signal(master.pid(), "CONT");
    assert!(unavailable > 0, "the stopped master answered 503 first");
    eprintln!("sentinel: served again {served_after:?} after SIGSTOP ({unavailable} × 503)");
    // With redis.wait_replicas = 1 (strict, the default) a new session is confirmed only
    // once a replica acknowledges it: until the resumed old master is a replica in sync
    // again, a login is applied but answers 503. Wait for that, as after the first
    // failover, then a new session must be served.
    eventually(
        "the resumed master back as a replica",
        Duration::from_secs(30),
        || async {
            let info: String = master.cmd(&["INFO", "replication"]).await;
            info.contains("role:slave") && info.contains("master_link_status:up")
        },
    )
    .await;
    let fresh = session_after_failover(&s).await;
    served_soon(&s, &fresh).await;
}

#[tokio::test]
async fn over_tls_the_story_runs_and_a_certificate_from_another_ca_is_refused() {
    let dir = TempDir::new("redis-tls");
    make_ca_and_server(dir.path(), "good");
    make_ca_and_server(dir.path(), "other");
    let tls_port = free_port();
    let path = |name: &str| dir.path().join(name).display().to_string();
    let args: Vec<String> = vec![
        "--port".into(),
        "0".into(),
        "--tls-port".into(),
        tls_port.to_string(),
        "--bind".into(),
        "127.0.0.1".into(),
        "--save".into(),
        "".into(),
        "--tls-cert-file".into(),
        path("good-server.pem"),
        "--tls-key-file".into(),
        path("good-server.key"),
        "--tls-ca-cert-file".into(),
        path("good-ca.pem"),
        "--tls-auth-clients".into(),
        "no".into(),
    ];
    // TLS only (`--port 0`): no plain port to ask whether it is up, so not an OwnRedis.
    let _server = ChildGuard::spawn(
        Command::new(env("TEST_REDIS_SERVER_BIN"))
            .current_dir(dir.path())
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    wait_port(tls_port, Duration::from_secs(10)).await;
    let url = format!("rediss://127.0.0.1:{tls_port}");
    let s = stack(Options {
        extra: vec![
            kv("APP__REDIS__URL", &url),
            kv("APP__REDIS__TLS_CA_FILE", &path("good-ca.pem")),
        ],
        resource_env: vec![kv("APP__VALIDATION__CACHE", "true")],
        ..Options::default()
    })
    .await;
    story_and_races(&s).await;

    // A server certificate from a CA the service was not given: 503, never a
    // plain-text fallback, and a log line that says why.
    let mut envs = s.resource_envs();
    envs.retain(|(k, _)| k != "APP__REDIS__TLS_CA_FILE");
    envs.push(kv("APP__REDIS__TLS_CA_FILE", &path("other-ca.pem")));
    let wrong = s.another_resource_with(envs).await;
    let (_, auth) = s.session().await;
    let res = s.me_at(&wrong, &auth).await;
    assert_error(res, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable").await;
    eventually(
        "a log line naming the certificate",
        Duration::from_secs(5),
        || async {
            let log = wrong.log_text().to_lowercase();
            log.contains("certificate") && log.contains("redis")
        },
    )
    .await;
}
