//! Password hashing with bcrypt, off the async workers, on a pool of one thread per
//! core that runs at a lower OS priority (nice 10): a login storm uses idle CPU but
//! cannot starve request handling, here or in a service sharing the machine.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

/// Shortest password accepted at sign-up, in bytes.
pub const MIN_PASSWORD_BYTES: usize = 8;
/// Longest password accepted: bcrypt reads only 72 bytes, so longer is refused, never truncated.
pub const MAX_PASSWORD_BYTES: usize = 72;

/// Hashing failed (a bcrypt error or a lost blocking task).
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("password hashing failed")]
pub struct HashError;

type Job = Box<dyn FnOnce() + Send>;

/// Threads that run bcrypt jobs, one per core, at a lower OS priority.
#[derive(Debug, Clone)]
struct HashPool {
    jobs: mpsc::Sender<Job>,
}

/// Crossplatform priority 22 of 0..=99 is nice 10 on Linux.
const HASHING_PRIORITY: u8 = 22;

impl HashPool {
    fn new() -> Result<Self, HashError> {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("bcrypt-{i}"))
                .spawn(move || {
                    lower_priority();
                    loop {
                        let job = match queue.lock() {
                            Ok(queue) => queue.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                })
                .map_err(|_| HashError)?;
        }
        Ok(Self { jobs })
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _ = tx.send(work());
            }))
            .map_err(|_| HashError)?;
        rx.await.map_err(|_| HashError)
    }
}

fn lower_priority() {
    let priority = thread_priority::ThreadPriorityValue::try_from(HASHING_PRIORITY)
        .map(thread_priority::ThreadPriority::Crossplatform);
    let set = priority
        .ok()
        .is_some_and(|p| thread_priority::set_current_thread_priority(p).is_ok());
    if !set {
        tracing::warn!(
            "could not lower the bcrypt threads' priority; hashing runs at normal priority"
        );
    }
}

/// Hashes and verifies passwords at a configured bcrypt cost.
#[derive(Debug, Clone)]
pub struct Passwords {
    cost: u32,
    dummy_hash: Arc<str>,
    pool: HashPool,
}

impl Passwords {
    /// Prepares a dummy hash of the same cost, verified for unknown emails so that
    /// they take as long as a wrong password.
    pub async fn new(cost: u32) -> Result<Self, HashError> {
        let pool = HashPool::new()?;
        let dummy = pool
            .run(move || {
                bcrypt::hash("not-a-real-password-only-for-timing", cost).map_err(|_| HashError)
            })
            .await??;
        Ok(Self {
            cost,
            dummy_hash: dummy.into(),
            pool,
        })
    }

    /// Hashes a password at the configured cost.
    pub async fn hash(&self, password: String) -> Result<String, HashError> {
        let cost = self.cost;
        self.pool
            .run(move || bcrypt::hash(password.as_bytes(), cost).map_err(|_| HashError))
            .await?
    }

    /// Verifies `password` against `hash`, or against the dummy hash when there is
    /// no user; false in that case whatever the password.
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, HashError> {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy_hash.to_string());
        let too_long = password.len() > MAX_PASSWORD_BYTES;
        let matched = self
            .pool
            .run(move || bcrypt::verify(password.as_bytes(), &hash).unwrap_or(false))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashing_threads_run_at_a_lower_priority() {
        let pool = HashPool::new().expect("pool");
        let nice = pool
            .run(|| {
                // Field 19 of /proc/thread-self/stat is the nice value.
                let stat = std::fs::read_to_string("/proc/thread-self/stat").expect("stat");
                let after_name = stat.rsplit(')').next().expect("fields").to_owned();
                after_name
                    .split_whitespace()
                    .nth(16)
                    .expect("nice")
                    .parse::<i32>()
                    .expect("number")
            })
            .await
            .expect("run");
        assert_eq!(nice, 10);
    }

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
