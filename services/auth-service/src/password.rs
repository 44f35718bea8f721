//! Password hashing with bcrypt, off the async workers, on a pool of one thread per
//! core that runs at a lower OS priority (nice 10): a login storm uses idle CPU but
//! cannot starve request handling, here or in a service sharing the machine.
//!
//! The queue in front of the pool is bounded (`password.max_queue`): a job that finds
//! it full fails at once with [`HashError::Busy`] (the caller answers 503) instead of
//! waiting behind seconds of work. Interactive jobs (login, password change) are
//! served before background ones (sign-up, re-hashing), and background jobs may fill
//! only half the queue, so a sign-up flood cannot crowd out people signing in.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};

/// Shortest password accepted at sign-up, in bytes.
pub const MIN_PASSWORD_BYTES: usize = 8;
/// Longest password accepted: bcrypt reads only 72 bytes, so longer is refused, never truncated.
pub const MAX_PASSWORD_BYTES: usize = 72;

/// Why a hashing job did not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HashError {
    /// The queue is full: try again shortly.
    #[error("the password hashing queue is full")]
    Busy,
    /// A bcrypt error or a lost worker.
    #[error("password hashing failed")]
    Failed,
}

/// Who waits for a hashing job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    /// A person waits for the answer (login, password change): served first.
    Interactive,
    /// Sign-up and re-hashing: served when no interactive job waits, and held to half
    /// the queue.
    Background,
}

type Job = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct Queue {
    interactive: VecDeque<Job>,
    background: VecDeque<Job>,
}

struct Shared {
    queue: Mutex<Queue>,
    ready: Condvar,
    /// Jobs queued or running.
    depth: AtomicUsize,
    max: usize,
}

/// Threads that run bcrypt jobs, one per core, at a lower OS priority.
#[derive(Clone)]
struct HashPool {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for HashPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashPool")
            .field("depth", &self.shared.depth.load(Ordering::Relaxed))
            .field("max", &self.shared.max)
            .finish()
    }
}

/// Crossplatform priority 22 of 0..=99 is nice 10 on Linux.
const HASHING_PRIORITY: u8 = 22;

impl HashPool {
    fn new(max_queue: usize) -> Result<Self, HashError> {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            ready: Condvar::new(),
            depth: AtomicUsize::new(0),
            max: max_queue.max(threads),
        });
        for i in 0..threads {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name(format!("bcrypt-{i}"))
                .spawn(move || {
                    lower_priority();
                    while let Some(job) = next_job(&shared) {
                        job();
                        let depth = shared.depth.fetch_sub(1, Ordering::AcqRel) - 1;
                        session_core::measure::set("password_hash_queue_depth", depth as f64);
                    }
                })
                .map_err(|_| HashError::Failed)?;
        }
        Ok(Self { shared })
    }

    /// Jobs queued or running.
    fn depth(&self) -> usize {
        self.shared.depth.load(Ordering::Acquire)
    }

    async fn run<T: Send + 'static>(
        &self,
        priority: Priority,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let limit = match priority {
            Priority::Interactive => self.shared.max,
            Priority::Background => self.shared.max / 2,
        };
        let taken = self
            .shared
            .depth
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |depth| {
                (depth < limit).then_some(depth + 1)
            });
        if taken.is_err() {
            return Err(HashError::Busy);
        }
        session_core::measure::set("password_hash_queue_depth", self.depth() as f64);
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            // The request that asked has gone (its client left, or it timed out): the
            // hash would answer no one.
            if tx.is_closed() {
                return;
            }
            let _ = tx.send(work());
        });
        match self.shared.queue.lock() {
            Ok(mut queue) => match priority {
                Priority::Interactive => queue.interactive.push_back(job),
                Priority::Background => queue.background.push_back(job),
            },
            Err(_) => {
                self.shared.depth.fetch_sub(1, Ordering::AcqRel);
                return Err(HashError::Failed);
            }
        }
        self.shared.ready.notify_one();
        rx.await.map_err(|_| HashError::Failed)
    }
}

/// Blocks until a job is queued: interactive ones first. None when the lock is poisoned.
fn next_job(shared: &Shared) -> Option<Job> {
    let mut queue = shared.queue.lock().ok()?;
    loop {
        if let Some(job) = queue.interactive.pop_front() {
            return Some(job);
        }
        if let Some(job) = queue.background.pop_front() {
            return Some(job);
        }
        queue = shared.ready.wait(queue).ok()?;
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
    pub async fn new(cost: u32, max_queue: usize) -> Result<Self, HashError> {
        let pool = HashPool::new(max_queue)?;
        let dummy = pool
            .run(Priority::Interactive, move || {
                bcrypt::hash("not-a-real-password-only-for-timing", cost)
                    .map_err(|_| HashError::Failed)
            })
            .await??;
        Ok(Self {
            cost,
            dummy_hash: dummy.into(),
            pool,
        })
    }

    /// Hashes a password at the configured cost.
    pub async fn hash(&self, password: String, priority: Priority) -> Result<String, HashError> {
        let cost = self.cost;
        self.pool
            .run(priority, move || {
                bcrypt::hash(password.as_bytes(), cost).map_err(|_| HashError::Failed)
            })
            .await?
    }

    /// Hashing jobs queued or running.
    pub fn queue_depth(&self) -> usize {
        self.pool.depth()
    }

    /// Verifies `password` against `hash`, or against the dummy hash when there is
    /// no user; false in that case whatever the password.
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, HashError> {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy_hash.to_string());
        let too_long = password.len() > MAX_PASSWORD_BYTES;
        let matched = self
            .pool
            .run(Priority::Interactive, move || {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashing_threads_run_at_a_lower_priority() {
        let pool = HashPool::new(8).expect("pool");
        let nice = pool
            .run(Priority::Interactive, || {
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
        let p = Passwords::new(4, 8).await.expect("passwords");
        let hash = p
            .hash("correct horse".into(), Priority::Background)
            .await
            .expect("hash");
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
        let long_hash = p
            .hash(long[..72].to_owned(), Priority::Interactive)
            .await
            .expect("hash");
        assert!(!p.verify(long, Some(long_hash)).await.expect("verify"));
    }

    /// Jobs that hold every hashing thread until released, so the jobs queued
    /// meanwhile stay queued.
    struct HeldWorkers {
        gate: Arc<(Mutex<bool>, Condvar)>,
        running: Vec<tokio::task::JoinHandle<Result<(), HashError>>>,
    }

    impl HeldWorkers {
        async fn hold(pool: &HashPool, threads: usize) -> Self {
            let gate = Arc::new((Mutex::new(false), Condvar::new()));
            let mut running = Vec::new();
            for _ in 0..threads {
                let (gate, pool) = (gate.clone(), pool.clone());
                running.push(tokio::spawn(async move {
                    pool.run(Priority::Interactive, move || {
                        let (lock, open) = &*gate;
                        let mut go = lock.lock().expect("gate");
                        while !*go {
                            go = open.wait(go).expect("gate");
                        }
                    })
                    .await
                }));
            }
            while pool.depth() < threads {
                tokio::task::yield_now().await;
            }
            Self { gate, running }
        }

        /// Lets the holding jobs finish, and waits for them.
        async fn release(self) {
            {
                let (lock, open) = &*self.gate;
                *lock.lock().expect("gate") = true;
                open.notify_all();
            }
            for task in self.running {
                task.await.expect("task").expect("job ran");
            }
        }
    }

    #[tokio::test]
    async fn a_queued_job_whose_request_has_gone_is_not_run() {
        let pool = HashPool::new(8).expect("pool");
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        // Hold every worker, so the next job waits in the queue.
        let held = HeldWorkers::hold(&pool, threads).await;
        let ran = Arc::new(AtomicUsize::new(0));
        let abandoned = {
            let (pool, ran) = (pool.clone(), ran.clone());
            tokio::spawn(async move {
                pool.run(Priority::Interactive, move || {
                    ran.fetch_add(1, Ordering::SeqCst);
                })
                .await
            })
        };
        while pool.depth() < threads + 1 {
            tokio::task::yield_now().await;
        }
        // The request goes away (its client left) while its job waits.
        abandoned.abort();
        assert!(abandoned.await.expect_err("aborted").is_cancelled());
        held.release().await;
        // A job queued after it runs, so the abandoned one has been taken by then.
        let after = pool.run(Priority::Interactive, || 7).await.expect("run");
        assert_eq!(after, 7);
        assert_eq!(
            ran.load(Ordering::SeqCst),
            0,
            "the abandoned job was hashed"
        );
        // Its place in the queue is given back.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while pool.depth() > 0 && std::time::Instant::now() < deadline {
            tokio::task::yield_now().await;
        }
        assert_eq!(pool.depth(), 0);
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once_and_interactive_jobs_go_first() {
        let pool = HashPool::new(4).expect("pool");
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let max = 4usize.max(threads);
        // Hold every worker until released, so queued jobs stay queued.
        let held = HeldWorkers::hold(&pool, threads).await;
        let order = Arc::new(Mutex::new(Vec::new()));
        // Background jobs may fill half the queue only; beyond that, Busy at once.
        let mut queued = Vec::new();
        while pool.depth() < max / 2 {
            let (pool, order) = (pool.clone(), order.clone());
            queued.push(tokio::spawn(async move {
                pool.run(Priority::Background, move || {
                    order.lock().expect("order").push('b')
                })
                .await
            }));
            tokio::task::yield_now().await;
        }
        let started = std::time::Instant::now();
        assert_eq!(
            pool.run(Priority::Background, || ()).await,
            Err(HashError::Busy)
        );
        assert!(started.elapsed() < std::time::Duration::from_millis(100));
        // Interactive jobs still get in, up to the bound, and run first.
        while pool.depth() < max {
            let (pool, order) = (pool.clone(), order.clone());
            queued.push(tokio::spawn(async move {
                pool.run(Priority::Interactive, move || {
                    order.lock().expect("order").push('i')
                })
                .await
            }));
            tokio::task::yield_now().await;
        }
        assert_eq!(
            pool.run(Priority::Interactive, || ()).await,
            Err(HashError::Busy)
        );
        held.release().await;
        for task in queued {
            task.await.expect("task").expect("job ran");
        }
        // Without priority the interactive jobs, queued last, would run last. Workers
        // run side by side, so allow an interleaving of one job per other worker.
        let order: String = order.lock().expect("order").iter().collect();
        let interactive = order.matches('i').count();
        let last_interactive = order.rfind('i').expect("interactive jobs ran");
        assert!(
            last_interactive < interactive + threads - 1,
            "interactive jobs run before background ones: {order}"
        );
        assert_eq!(pool.depth(), 0);
    }
}
