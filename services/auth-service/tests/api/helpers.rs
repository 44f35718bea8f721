use std::time::Duration;

pub use auth_service::configuration::Settings;
use auth_service::startup::Application;
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::{Value, json};

pub const PASSWORD: &str = "correct horse battery";
pub const INTERNAL_TOKEN: &str = "test-internal-token-0123456789";

pub fn env(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: run the tests through scripts/test.sh"))
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub redis: redis::aio::MultiplexedConnection,
    pub prefix: String,
    pub settings: Settings,
}

/// A port nothing listens on.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Settings for one test: its own database, key prefix and a free port.
pub fn test_settings() -> Settings {
    let mut s = Settings::defaults().expect("the built-in defaults load");
    s.server.port = 0;
    s.server.shutdown_timeout_seconds = 5;
    s.server.workers = 2;
    s.mongodb.timeout_ms = 1500;
    s.login.max_failures_per_ip_per_minute = 1000;
    s.signup.max_per_ip_per_hour = 100_000;
    s.signup.max_per_minute = 100_000;
    s.password.bcrypt_cost = 4;
    let id = uuid::Uuid::new_v4().simple().to_string();
    s.redis.url = SecretString::from(env("TEST_REDIS_URL"));
    s.redis.timeout_ms = 500;
    s.mongodb.uri = SecretString::from(env("TEST_MONGODB_URI"));
    s.mongodb.database = format!("test_{}", &id[..16]);
    s.session.key_prefix = format!("test:{id}:");
    s.internal.token = SecretString::from(INTERNAL_TOKEN.to_owned());
    s
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(customize: impl FnOnce(&mut Settings)) -> TestApp {
    let mut settings = test_settings();
    customize(&mut settings);
    let app = Application::build(settings.clone())
        .await
        .expect("build app");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let redis = redis::Client::open(env("TEST_REDIS_URL"))
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .expect("a running Redis at TEST_REDIS_URL");
    TestApp {
        address,
        client: client_builder()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap(),
        redis,
        prefix: settings.session.key_prefix.clone(),
        settings,
    }
}

pub fn unique_email() -> String {
    format!("user-{}@example.com", uuid::Uuid::new_v4().simple())
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn sign_up(&self, email: &str, password: &str) -> reqwest::Response {
        self.post_json("/signup", &json!({"email": email, "password": password}))
            .await
    }

    pub async fn log_in(&self, email: &str, password: &str) -> reqwest::Response {
        self.post_json("/login", &json!({"email": email, "password": password}))
            .await
    }

    /// Signs up a fresh user and logs in; returns (email, userId, token).
    pub async fn user_with_session(&self) -> (String, String, String) {
        let email = unique_email();
        assert_eq!(
            self.sign_up(&email, PASSWORD).await.status(),
            StatusCode::CREATED
        );
        let res = self.log_in(&email, PASSWORD).await;
        assert_eq!(res.status(), StatusCode::OK);
        let body: Value = res.json().await.unwrap();
        (
            email,
            body["userId"].as_str().unwrap().to_owned(),
            body["token"].as_str().unwrap().to_owned(),
        )
    }

    pub async fn get_session(&self, auth: Option<&str>) -> reqwest::Response {
        let mut req = self.client.get(self.url("/session"));
        if let Some(auth) = auth {
            req = req.header("Authorization", auth);
        }
        req.send().await.unwrap()
    }

    pub async fn log_out(&self, auth: &str) -> reqwest::Response {
        self.client
            .post(self.url("/logout"))
            .header("Authorization", auth)
            .send()
            .await
            .unwrap()
    }

    pub fn key(&self, user_id: &str) -> String {
        format!("{}{}", self.prefix, user_id)
    }

    pub async fn redis_get(&mut self, key: &str) -> Option<String> {
        redis::cmd("GET")
            .arg(key)
            .query_async(&mut self.redis)
            .await
            .unwrap()
    }

    pub async fn redis_ttl(&mut self, key: &str) -> i64 {
        redis::cmd("TTL")
            .arg(key)
            .query_async(&mut self.redis)
            .await
            .unwrap()
    }

    pub async fn session_keys(&mut self) -> Vec<String> {
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}*", self.prefix))
            .query_async(&mut self.redis)
            .await
            .unwrap();
        keys.into_iter()
            .filter(|k| !k.contains(":throttle:") && !k.ends_with(":events"))
            .collect()
    }

    /// Every key under the prefix, the event stream and the throttle's included.
    pub async fn all_keys(&mut self) -> Vec<String> {
        redis::cmd("KEYS")
            .arg(format!("{}*", self.prefix))
            .query_async(&mut self.redis)
            .await
            .unwrap()
    }
}

/// Asserts the contract's error shape and returns the body.
pub async fn assert_error(res: reqwest::Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(res.status(), status, "expected {code}");
    if status == StatusCode::UNAUTHORIZED {
        let www = res
            .headers()
            .get("www-authenticate")
            .expect("WWW-Authenticate on 401");
        assert!(
            www.to_str()
                .unwrap()
                .starts_with("Bearer realm=\"session-store\"")
        );
    }
    if status == StatusCode::SERVICE_UNAVAILABLE || status == StatusCode::TOO_MANY_REQUESTS {
        assert!(
            res.headers().contains_key("retry-after"),
            "Retry-After on {status}"
        );
    }
    let body: Value = res.json().await.expect("a JSON error body");
    assert_eq!(body["error"], code, "body {body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    body
}

/// A reqwest client builder, with the process's TLS crypto provider installed first
/// (reqwest is built with rustls and no provider of its own).
pub fn client_builder() -> reqwest::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}
