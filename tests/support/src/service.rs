//! A service binary (the auth-service, the resource-service, the example axum
//! service) as a process on a port of its own, started and waited for.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::http::client_builder;
use crate::process::{ChildGuard, binary};

/// A service process, killed when dropped.
pub struct Service {
    /// The binary's name.
    pub name: &'static str,
    /// The port it listens on.
    pub port: u16,
    /// The file its log goes to.
    pub log: PathBuf,
    process: ChildGuard,
    envs: Vec<(String, String)>,
}

impl Service {
    /// `http://127.0.0.1:<port><path>`.
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

    /// Kills the process.
    pub fn stop(&mut self) {
        self.process.kill();
    }

    /// Kills it and starts it again with the same environment (and any `set_env`).
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

/// One `APP__...` variable for a process's environment.
pub fn kv(k: &str, v: &str) -> (String, String) {
    (k.to_owned(), v.to_owned())
}

/// `APP__...` variables for a process's environment.
pub fn pairs(envs: &[(&str, &str)]) -> Vec<(String, String)> {
    envs.iter().map(|(k, v)| kv(k, v)).collect()
}
