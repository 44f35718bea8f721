//! The auth-service in-process (`Application::build` on port 0) and a client for it.
//! What every suite shares comes from test-support, re-exported here.

pub use auth_service::configuration::Settings;
use auth_service::startup::Application;
use reqwest::StatusCode;
use serde_json::{Value, json};
pub use test_support::{
    INTERNAL_TOKEN, PASSWORD, assert_error, client, client_builder, env, free_port, redis_url,
    unique_email,
};

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub redis: redis::aio::MultiplexedConnection,
    pub prefix: String,
    pub settings: Settings,
}

/// Settings for one test: its own database, key prefix and a free port (the shared
/// fast settings, with short timeouts and the login throttle out of the way).
pub fn test_settings() -> Settings {
    let mut s = test_support::settings::auth_settings();
    s.server.port = 0;
    s.server.shutdown_timeout_seconds = 5;
    s.server.workers = 2;
    s.mongodb.timeout_ms = 1500;
    s.redis.timeout_ms = 500;
    s.login.max_failures_per_ip_per_minute = 1000;
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
    let redis = redis::Client::open(redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .expect("a running Redis at TEST_REDIS_URL");
    TestApp {
        address,
        client: client(),
        redis,
        prefix: settings.session.key_prefix.clone(),
        settings,
    }
}

impl TestApp {
    /// The text `GET /metrics` answers.
    pub async fn metrics(&self) -> String {
        self.client
            .get(self.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

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
