use std::path::PathBuf;
use std::process::{Command, Stdio};

pub use crate::process::{ChildGuard, TempDir, binary};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

pub const PASSWORD: &str = "correct horse battery";
pub const SECRET: &str = "e2e-secret-that-is-long-enough-0123456789";
pub const INTERNAL_TOKEN: &str = "e2e-internal-token-0123456789";

pub fn env(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: run the tests through scripts/test.sh"))
}

pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A service process, killed when dropped.
pub struct Service {
    pub name: &'static str,
    pub port: u16,
    pub log: PathBuf,
    process: ChildGuard,
    envs: Vec<(String, String)>,
}

impl Service {
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    /// Starts the binary with `envs` and waits for `/health/live`.
    pub async fn start(
        name: &'static str,
        port: u16,
        envs: Vec<(String, String)>,
        log: PathBuf,
    ) -> Self {
        let mut service = Self {
            name,
            port,
            log,
            process: ChildGuard::default(),
            envs,
        };
        service.spawn().await;
        service
    }

    async fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        self.process = ChildGuard::spawn(
            Command::new(binary(self.name))
                .env_clear()
                .env("PATH", std::env::var("PATH").unwrap_or_default())
                .env("RUST_LOG", "info")
                .env("APP__SERVER__PORT", self.port.to_string())
                .env("APP__SERVER__WORKERS", "2")
                .envs(self.envs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .stdout(Stdio::null())
                .stderr(log),
        );
        let client = client_builder().build().unwrap();
        let started = Instant::now();
        loop {
            if let Ok(res) = client.get(self.url("/health/live")).send().await
                && res.status() == StatusCode::OK
            {
                return;
            }
            if let Some(status) = self.process.exited() {
                panic!(
                    "{} exited with {status}; log: {}",
                    self.name,
                    self.log_text()
                );
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "{} did not come up",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends SIGTERM and waits for the exit; returns how long it took.
    pub fn terminate(&mut self) -> (Duration, std::process::ExitStatus) {
        self.process.terminate()
    }

    pub fn stop(&mut self) {
        self.process.kill();
    }

    pub async fn restart(&mut self) {
        self.stop();
        self.spawn().await;
    }

    /// The `APP__...` variables it was started with.
    pub fn envs(&self) -> Vec<(String, String)> {
        self.envs.clone()
    }

    /// Sets (or replaces) an environment variable for the next start.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.envs.retain(|(k, _)| k != key);
        self.envs.push((key.to_owned(), value.to_owned()));
    }

    /// The service's log so far. A service's log lines are written by a thread of
    /// its own, in batches a few milliseconds after they are logged; this waits long
    /// enough (100 ms) for a line logged before the call to be in the file.
    pub fn log_text(&self) -> String {
        std::thread::sleep(std::time::Duration::from_millis(100));
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Both services, sharing one Redis key prefix, database and secrets.
pub struct Stack {
    pub auth: Service,
    pub resource: Service,
    pub client: reqwest::Client,
    _dir: TempDir,
}

pub struct Options {
    pub mode: &'static str,
    pub seed: bool,
    pub ttl: u64,
    /// A Redis of the test's own instead of the shared one.
    pub redis_url: Option<String>,
    /// A MongoDB-wire server of the test's own instead of the shared one.
    pub mongo_uri: Option<String>,
    /// More `APP__...` variables for both services (they win over the defaults here).
    pub extra: Vec<(String, String)>,
    /// Point the resource-service's `jwt.jwks_url` at the auth-service.
    pub jwks: bool,
    /// `APP__...` variables for the resource-service alone (applied last).
    pub resource_env: Vec<(String, String)>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            mode: "redis",
            seed: false,
            ttl: 43200,
            redis_url: None,
            mongo_uri: None,
            extra: Vec::new(),
            jwks: false,
            resource_env: Vec::new(),
        }
    }
}

pub async fn stack(options: Options) -> Stack {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let prefix = format!("e2e:{id}:");
    let dir = TempDir::new("e2e");
    let auth_port = free_port();
    let shared = vec![
        (
            "APP__REDIS__URL".to_owned(),
            options
                .redis_url
                .clone()
                .unwrap_or_else(|| env("TEST_REDIS_URL")),
        ),
        ("APP__SESSION__KEY_PREFIX".to_owned(), prefix.clone()),
        (
            "APP__SESSION__TTL_SECONDS".to_owned(),
            options.ttl.to_string(),
        ),
        (
            "APP__SESSION__ACCEPT_USER_ID_HEADER".to_owned(),
            options.seed.to_string(),
        ),
        ("APP__JWT__SECRET".to_owned(), SECRET.to_owned()),
        ("APP__INTERNAL__TOKEN".to_owned(), INTERNAL_TOKEN.to_owned()),
    ];
    let mut auth_env = shared.clone();
    auth_env.extend([
        (
            "APP__MONGODB__URI".to_owned(),
            options
                .mongo_uri
                .clone()
                .unwrap_or_else(|| env("TEST_MONGODB_URI")),
        ),
        (
            "APP__MONGODB__DATABASE".to_owned(),
            format!("e2e_{}", &id[..16]),
        ),
        ("APP__PASSWORD__BCRYPT_COST".to_owned(), "4".to_owned()),
        // Every test signs up from 127.0.0.1; the limits have tests of their own.
        (
            "APP__SIGNUP__MAX_PER_IP_PER_HOUR".to_owned(),
            "100000".to_owned(),
        ),
        (
            "APP__SIGNUP__MAX_PER_MINUTE".to_owned(),
            "100000".to_owned(),
        ),
    ]);
    let mut resource_env = shared;
    resource_env.extend([
        ("APP__VALIDATION__MODE".to_owned(), options.mode.to_owned()),
        (
            "APP__AUTH_SERVICE__URL".to_owned(),
            format!("http://127.0.0.1:{auth_port}"),
        ),
        ("APP__VALIDATION__TIMEOUT_MS".to_owned(), "1000".to_owned()),
    ]);
    auth_env.extend(options.extra.iter().cloned());
    resource_env.extend(options.extra.iter().cloned());
    resource_env.extend(options.resource_env.iter().cloned());
    if options.jwks {
        resource_env.push((
            "APP__JWT__JWKS_URL".to_owned(),
            format!("http://127.0.0.1:{auth_port}/.well-known/jwks.json"),
        ));
    }
    let auth = Service::start(
        "auth-service",
        auth_port,
        auth_env,
        dir.path().join("auth.log"),
    )
    .await;
    let resource = Service::start(
        "resource-service",
        free_port(),
        resource_env,
        dir.path().join("resource.log"),
    )
    .await;
    Stack {
        auth,
        resource,
        client: client_builder()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap(),
        _dir: dir,
    }
}

impl Stack {
    pub async fn sign_up(&self, email: &str) -> Value {
        let res = self
            .client
            .post(self.auth.url("/signup"))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        res.json().await.unwrap()
    }

    pub async fn log_in(&self, email: &str) -> Value {
        let res = self
            .client
            .post(self.auth.url("/login"))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        res.json().await.unwrap()
    }

    /// Signs up a fresh user and logs in: (email, "Bearer <token>").
    pub async fn session(&self) -> (String, String) {
        let email = unique_email();
        self.sign_up(&email).await;
        let token = self.log_in(&email).await["token"]
            .as_str()
            .unwrap()
            .to_owned();
        (email, format!("Bearer {token}"))
    }

    /// Another resource-service with the same configuration, on a port of its own.
    pub async fn another_resource(&self) -> Service {
        self.another_resource_with(self.resource_envs()).await
    }

    /// The resource-service's environment (`APP__...` and more), to change and reuse.
    pub fn resource_envs(&self) -> Vec<(String, String)> {
        self.resource.envs.clone()
    }

    /// Another resource-service with `envs` (later entries win), on a port of its own.
    pub async fn another_resource_with(&self, envs: Vec<(String, String)>) -> Service {
        let log = self
            .resource
            .log
            .with_file_name(format!("resource-{}.log", free_port()));
        Service::start("resource-service", free_port(), envs, log).await
    }

    /// `GET /me` with `auth` on `service` (another resource-service of this stack).
    pub async fn me_at(&self, service: &Service, auth: &str) -> reqwest::Response {
        self.client
            .get(service.url("/me"))
            .header("Authorization", auth)
            .send()
            .await
            .unwrap()
    }

    pub async fn me(&self, auth: Option<&str>) -> reqwest::Response {
        let mut req = self.client.get(self.resource.url("/me"));
        if let Some(auth) = auth {
            req = req.header("Authorization", auth);
        }
        req.send().await.unwrap()
    }

    pub async fn log_out(&self, auth: &str) -> reqwest::Response {
        self.client
            .post(self.auth.url("/logout"))
            .header("Authorization", auth)
            .send()
            .await
            .unwrap()
    }
}

/// One `APP__...` variable for a service's environment.
pub fn kv(k: &str, v: &str) -> (String, String) {
    (k.to_owned(), v.to_owned())
}

pub fn unique_email() -> String {
    format!("e2e-{}@example.com", uuid::Uuid::new_v4().simple())
}

/// Asserts the status and the contract's error code; returns the body.
pub async fn assert_error(res: reqwest::Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(res.status(), status, "expected {code}");
    if status == StatusCode::UNAUTHORIZED {
        assert!(res.headers().contains_key("www-authenticate"));
    }
    if status == StatusCode::SERVICE_UNAVAILABLE {
        assert!(res.headers().contains_key("retry-after"));
    }
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], code, "{body}");
    body
}

/// Waits until 127.0.0.1:port accepts connections.
pub async fn wait_port(port: u16, limit: Duration) {
    let started = Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            started.elapsed() < limit,
            "nothing listens on {port} after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A redis-server of the test's own, so it can be stopped, paused and restarted.
pub struct OwnRedis {
    pub port: u16,
    process: ChildGuard,
    args: Vec<String>,
    dir: TempDir,
}

impl OwnRedis {
    pub async fn start(args: &[&str]) -> Self {
        let mut redis = Self {
            port: free_port(),
            process: ChildGuard::default(),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            dir: TempDir::new("redis"),
        };
        redis.spawn().await;
        redis
    }

    async fn spawn(&mut self) {
        self.process = ChildGuard::spawn(
            Command::new(env("TEST_REDIS_SERVER_BIN"))
                .arg("--port")
                .arg(self.port.to_string())
                .args(["--bind", "127.0.0.1", "--save", ""])
                .arg("--dir")
                .arg(self.dir.path())
                .args(&self.args)
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        wait_port(self.port, Duration::from_secs(10)).await;
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The server's process id (to pause it with SIGSTOP).
    pub fn pid(&self) -> u32 {
        self.process.pid().unwrap()
    }

    /// Graceful stop (SIGTERM): Redis flushes its AOF, if on, before exiting.
    pub fn stop(&mut self) {
        self.process.stop();
    }

    pub async fn restart(&mut self) {
        self.stop();
        self.spawn().await;
    }

    /// SIGKILL: no chance to finish anything.
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// Starts it again (same port, same directory) after `kill` or `stop`.
    pub async fn start_again(&mut self) {
        self.spawn().await;
    }

    pub async fn connection(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }
}

/// A SecantusDB of the test's own, on disk so its data outlives a restart.
pub struct OwnMongo {
    pub port: u16,
    process: ChildGuard,
    dir: TempDir,
}

impl OwnMongo {
    pub async fn start() -> Self {
        let mut mongo = Self {
            port: free_port(),
            process: ChildGuard::default(),
            dir: TempDir::new("mongo"),
        };
        mongo.start_again().await;
        mongo
    }

    pub fn uri(&self) -> String {
        format!("mongodb://127.0.0.1:{}/?directConnection=true", self.port)
    }

    pub fn stop(&mut self) {
        self.process.stop();
    }

    pub async fn start_again(&mut self) {
        self.process = ChildGuard::spawn(
            Command::new(env("TEST_SECANTUS_BIN"))
                .args(["--host", "127.0.0.1", "--port"])
                .arg(self.port.to_string())
                .arg("--storage-path")
                .arg(self.dir.path())
                .args([
                    "--standalone",
                    "--cache-size",
                    "64M",
                    "--log-level",
                    "WARNING",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        wait_port(self.port, Duration::from_secs(20)).await;
    }
}

/// A reqwest client builder, with the process's TLS crypto provider installed first
/// (reqwest is built with rustls and no provider of its own).
pub fn client_builder() -> reqwest::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}
