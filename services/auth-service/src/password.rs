//! Password hashing with bcrypt, off the async workers and bounded in concurrency.

use std::sync::Arc;

use tokio::sync::Semaphore;

/// Shortest password accepted at sign-up, in bytes.
pub const MIN_PASSWORD_BYTES: usize = 8;
/// Longest password accepted: bcrypt reads only 72 bytes, so longer is refused, never truncated.
pub const MAX_PASSWORD_BYTES: usize = 72;

/// Hashing failed (a bcrypt error or a lost blocking task).
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("password hashing failed")]
pub struct HashError;

/// Hashes and verifies passwords at a configured bcrypt cost.
#[derive(Debug, Clone)]
pub struct Passwords {
    cost: u32,
    dummy_hash: Arc<str>,
    permits: Arc<Semaphore>,
}

impl Passwords {
    /// Prepares a dummy hash of the same cost, verified for unknown emails so that
    /// they take as long as a wrong password.
    pub async fn new(cost: u32) -> Result<Self, HashError> {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let permits = Arc::new(Semaphore::new(cores));
        let dummy = run_blocking(&permits, move || {
            bcrypt::hash("not-a-real-password-only-for-timing", cost).map_err(|_| HashError)
        })
        .await??;
        Ok(Self {
            cost,
            dummy_hash: dummy.into(),
            permits,
        })
    }

    /// Hashes a password at the configured cost.
    pub async fn hash(&self, password: String) -> Result<String, HashError> {
        let cost = self.cost;
        run_blocking(&self.permits, move || {
            bcrypt::hash(password.as_bytes(), cost).map_err(|_| HashError)
        })
        .await?
    }

    /// Verifies `password` against `hash`, or against the dummy hash when there is
    /// no user; false in that case whatever the password.
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, HashError> {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy_hash.to_string());
        let too_long = password.len() > MAX_PASSWORD_BYTES;
        let matched = run_blocking(&self.permits, move || {
            bcrypt::verify(password.as_bytes(), &hash).unwrap_or(false)
        })
        .await?;
        Ok(known && matched && !too_long)
    }

    /// True when `hash` was made at another cost than the configured one.
    pub fn needs_rehash(&self, hash: &str) -> bool {
        cost_of(hash) != Some(self.cost)
    }
}

/// The cost recorded in a bcrypt hash (`$2b$12$...` → 12).
pub fn cost_of(hash: &str) -> Option<u32> {
    hash.split('$').nth(2)?.parse().ok()
}

async fn run_blocking<T: Send + 'static>(
    permits: &Semaphore,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, HashError> {
    let _permit = permits.acquire().await.map_err(|_| HashError)?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| HashError)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_is_read_from_the_hash() {
        assert_eq!(cost_of("$2b$12$abcdefghijklmnopqrstuu"), Some(12));
        assert_eq!(cost_of("$2y$04$x"), Some(4));
        assert_eq!(cost_of("garbage"), None);
    }

    #[tokio::test]
    async fn unknown_user_and_overlong_password_never_verify() {
        let p = Passwords::new(4).await.expect("passwords");
        let hash = p.hash("correct horse".into()).await.expect("hash");
        assert!(
            p.verify("correct horse".into(), Some(hash.clone()))
                .await
                .expect("verify")
        );
        assert!(
            !p.verify("wrong horse".into(), Some(hash.clone()))
                .await
                .expect("verify")
        );
        assert!(
            !p.verify("correct horse".into(), None)
                .await
                .expect("verify")
        );
        let long = "a".repeat(80);
        let long_hash = p.hash(long[..72].to_owned()).await.expect("hash");
        assert!(!p.verify(long, Some(long_hash)).await.expect("verify"));
    }
}
