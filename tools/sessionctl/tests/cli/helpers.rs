//! sessionctl as a process, and a world of users and sessions made by the
//! auth-service's own code. What every suite shares comes from test-support,
//! re-exported here.

use std::process::ExitStatus;

use auth_service::accounts::Accounts;
use auth_service::password::Passwords;
use auth_service::throttle::Throttle;
use secrecy::SecretString;
use serde_json::Value;
use session_core::settings::PerUser;
use session_core::token::Origin;
use test_support::settings::{BCRYPT_COST, auth_settings};
pub use test_support::{PASSWORD, SECRET, env, mongodb_uri, pairs, redis_url, unique_email};

/// What a run of sessionctl did.
#[derive(Debug)]
pub struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts exit status 0; the run, for more checks.
    pub fn ok(self) -> Self {
        assert!(self.status.success(), "sessionctl failed: {self:#?}");
        self.sane()
    }

    /// Asserts a failure with exit status `code` and a message on stderr.
    pub fn failed(self, code: i32) -> Self {
        assert_eq!(self.status.code(), Some(code), "{self:#?}");
        assert!(
            self.stderr.starts_with("sessionctl: ") || code == 2,
            "{self:#?}"
        );
        self.sane()
    }

    /// Never a panic, whatever happened.
    fn sane(self) -> Self {
        assert!(!self.stderr.contains("panicked"), "{self:#?}");
        self
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|err| panic!("not JSON ({err}): {}", self.stdout))
    }

    /// Everything it printed.
    pub fn printed(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// Runs the built sessionctl with `args` and only `envs` (and PATH) in its environment.
pub async fn sessionctl(args: &[&str], envs: &[(String, String)]) -> Run {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_sessionctl"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(envs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .await
        .expect("sessionctl runs");
    Run {
        status: output.status,
        stdout: String::from_utf8(output.stdout).expect("UTF-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("UTF-8 stderr"),
    }
}

/// A Redis key prefix and a Mongo database of the test's own, the auth-service's
/// accounts on them, and the `APP__...` variables that point sessionctl at the same.
pub struct World {
    pub accounts: Accounts,
    pub prefix: String,
    pub envs: Vec<(String, String)>,
}

impl World {
    pub async fn new(per_user: PerUser) -> Self {
        let id = test_support::unique_id();
        let prefix = format!("sessionctl:{id}:");
        let database = format!("sessionctl_{}", &id[..16]);
        // The shared fast settings (on the test servers, bcrypt at its lowest cost).
        let mut settings = auth_settings();
        settings.mongodb.database = database.clone();
        settings.session.key_prefix = prefix.clone();
        settings.session.per_user = per_user;
        settings.jwt.secret = SecretString::from(SECRET.to_owned());
        // The auth-service's own composition root builds the store, codec and users.
        let parts = auth_service::startup::prepare(&settings).await.unwrap();
        let (store, codec, users) = (parts.store, parts.codec, parts.users);
        let passwords = Passwords::new(BCRYPT_COST, 8).await.unwrap();
        let throttle = Throttle::new(
            store.redis().clone(),
            &prefix,
            settings.login.clone(),
            settings.signup.clone(),
        );
        let accounts = Accounts::new(users, store, codec, passwords, throttle, false);
        let mode = match per_user {
            PerUser::Single => "single",
            PerUser::Multiple => "multiple",
        };
        let envs = pairs(&[
            ("APP__REDIS__URL", &redis_url()),
            ("APP__MONGODB__URI", &mongodb_uri()),
            ("APP__MONGODB__DATABASE", &database),
            ("APP__SESSION__KEY_PREFIX", &prefix),
            ("APP__SESSION__PER_USER", mode),
            ("APP__JWT__SECRET", SECRET),
        ]);
        Self {
            accounts,
            prefix,
            envs,
        }
    }

    /// Signs a new user up and logs in `logins` times, each from its own User-Agent:
    /// (email, user id, session ids in login order).
    pub async fn user_with_sessions(&self, logins: usize) -> (String, String, Vec<String>) {
        let email = unique_email();
        let user = self
            .accounts
            .sign_up(&email, PASSWORD.to_owned(), Some("127.0.0.1"))
            .await
            .unwrap();
        let mut sessions = Vec::new();
        for n in 0..logins {
            let origin = Origin {
                ip: Some("192.0.2.7".into()),
                user_agent: Some(format!("device-{n}")),
            };
            let login = self
                .accounts
                .log_in(&email, PASSWORD.to_owned(), origin)
                .await
                .unwrap();
            sessions.push(login.session_id);
            // Sessions are ordered by their creation time in milliseconds.
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        (email, user.id.to_hex(), sessions)
    }

    pub async fn ctl(&self, args: &[&str]) -> Run {
        sessionctl(args, &self.envs).await
    }
}

pub async fn redis() -> redis::aio::MultiplexedConnection {
    redis::Client::open(redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// The keys under `pattern` (SCAN, so it never blocks Redis).
pub async fn keys(pattern: &str) -> Vec<String> {
    let mut conn = redis().await;
    let mut found = Vec::new();
    let mut cursor = 0u64;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await
            .unwrap();
        found.extend(batch);
        if next == 0 {
            return found;
        }
        cursor = next;
    }
}
