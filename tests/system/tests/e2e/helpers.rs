//! The system tests' own fixtures: both services as one stack, and a MongoDB-wire
//! server of a test's own (to stop and restart). What every suite shares comes from
//! test-support, re-exported here (a Redis of a test's own among it).

use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
/// A redis-server of a test's own (to stop, pause and restart) and a Redis Cluster of them.
pub use test_support::redis::{Cluster, OwnRedis};
use test_support::settings;
pub use test_support::{
    ChildGuard, INTERNAL_TOKEN, PASSWORD, SECRET, Service, TempDir, assert_error, binary, client,
    client_builder, env, free_port, kv, mongodb_uri, redis_url, signal, unique_email, unique_id,
    wait_port,
};

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
    let id = unique_id();
    let prefix = format!("e2e:{id}:");
    let dir = TempDir::new("e2e");
    let auth_port = free_port();
    let redis_url = options.redis_url.clone().unwrap_or_else(redis_url);
    let shared = vec![
        kv("APP__REDIS__URL", &redis_url),
        kv("APP__SESSION__KEY_PREFIX", &prefix),
        kv("APP__SESSION__TTL_SECONDS", &options.ttl.to_string()),
        kv(
            "APP__SESSION__ACCEPT_USER_ID_HEADER",
            &options.seed.to_string(),
        ),
        kv("APP__JWT__SECRET", SECRET),
        kv("APP__INTERNAL__TOKEN", INTERNAL_TOKEN),
    ];
    let mut auth_env = shared.clone();
    let mongo_uri = options.mongo_uri.clone().unwrap_or_else(mongodb_uri);
    auth_env.extend([
        kv("APP__MONGODB__URI", &mongo_uri),
        kv("APP__MONGODB__DATABASE", &format!("e2e_{}", &id[..16])),
    ]);
    auth_env.extend(settings::auth_env());
    let mut resource_env = shared;
    resource_env.extend([
        kv("APP__VALIDATION__MODE", options.mode),
        kv(
            "APP__AUTH_SERVICE__URL",
            &format!("http://127.0.0.1:{auth_port}"),
        ),
        kv("APP__VALIDATION__TIMEOUT_MS", "1000"),
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
        client: client(),
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
        let res = self.try_log_in(email, PASSWORD).await;
        assert_eq!(res.status(), StatusCode::OK);
        res.json().await.unwrap()
    }

    /// `POST /login` with `email` and `password`, whatever it answers.
    pub async fn try_log_in(&self, email: &str, password: &str) -> reqwest::Response {
        self.client
            .post(self.auth.url("/login"))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .unwrap()
    }

    /// The auth-service's `GET /session` with `auth`.
    pub async fn session_info(&self, auth: &str) -> reqwest::Response {
        self.client
            .get(self.auth.url("/session"))
            .header("Authorization", auth)
            .send()
            .await
            .unwrap()
    }

    /// The resource-service's `GET /health/ready`.
    pub async fn ready(&self) -> reqwest::Response {
        self.client
            .get(self.resource.url("/health/ready"))
            .send()
            .await
            .unwrap()
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
        self.resource.envs()
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
