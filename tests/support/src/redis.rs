//! Redis servers of a test's own, apart from the shared one: to count their commands,
//! to stop, kill, pause and restart them, and Redis Clusters of them.
//!
//! Each runs `TEST_REDIS_SERVER_BIN` on a fresh free port in a directory of its own,
//! and counts as started once it answers as itself (its own process id in `INFO
//! server`). A port chosen free can be taken by someone else before the server binds
//! it: the server then exits, or another server answers there, and another port is
//! tried.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::env::env;
use crate::net::free_port;
use crate::process::{ChildGuard, TempDir};

/// Fresh ports a start tries before it gives up.
const ATTEMPTS: usize = 5;
/// How long a started server has to answer as itself.
const ANSWER_LIMIT: Duration = Duration::from_secs(10);
/// How long a cluster has to report `cluster_state:ok` on every node.
const CLUSTER_LIMIT: Duration = Duration::from_secs(20);

/// A redis-server of the test's own, killed when dropped. It keeps its port and its
/// directory (and so its data on disk) across [`stop`](Self::stop),
/// [`kill`](Self::kill), [`restart`](Self::restart) and
/// [`start_again`](Self::start_again).
pub struct OwnRedis {
    port: u16,
    process: ChildGuard,
    /// A configuration file ahead of the command line (a Sentinel's), in `dir`.
    config: Option<PathBuf>,
    args: Vec<String>,
    dir: TempDir,
}

impl OwnRedis {
    /// A server with `args` after ours (`--port`, `--bind 127.0.0.1`, no snapshots, its
    /// directory, its log file), which they may override (`--appendonly yes`).
    pub async fn start(args: &[&str]) -> Self {
        Self::start_on(free_port, None, args).await
    }

    /// A Sentinel configured with `config` (its `sentinel ...` lines; the port, the
    /// address and the directory are ours).
    pub async fn sentinel(config: &str) -> Self {
        Self::start_on(free_port, Some(config), &["--sentinel"]).await
    }

    /// Starts on a port from `choose`, and on another one while the one chosen turns
    /// out taken.
    async fn start_on(choose: fn() -> u16, config: Option<&str>, args: &[&str]) -> Self {
        let mut failures = Vec::new();
        for _ in 0..ATTEMPTS {
            let dir = TempDir::new("redis");
            let config = config.map(|text| {
                let path = dir.path().join("redis.conf");
                std::fs::write(&path, text).unwrap();
                path
            });
            let mut redis = Self {
                port: choose(),
                process: ChildGuard::default(),
                config,
                args: args.iter().map(|a| (*a).to_owned()).collect(),
                dir,
            };
            match redis.spawn().await {
                Ok(()) => return redis,
                Err(why) => failures.push(format!("port {}: {why}", redis.port)),
            }
        }
        panic!(
            "no redis-server of the test's own started on {ATTEMPTS} fresh ports \
             (a port taken between choosing and binding it fails one):\n{}",
            failures.join("\n")
        );
    }

    /// Starts the process on its port and waits until it answers as itself; killed
    /// again when it does not.
    async fn spawn(&mut self) -> Result<(), String> {
        self.process = ChildGuard::spawn(
            Command::new(env("TEST_REDIS_SERVER_BIN"))
                .args(&self.config)
                .arg("--port")
                .arg(self.port.to_string())
                .args(["--bind", "127.0.0.1", "--save", ""])
                .arg("--dir")
                .arg(self.dir.path())
                .arg("--logfile")
                .arg(self.log())
                .args(&self.args)
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        let answered = self.answers_as_itself().await;
        if let Err(why) = &answered {
            self.process.kill();
            let log = std::fs::read_to_string(self.log()).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(5).collect();
            if !tail.is_empty() {
                return Err(format!(
                    "{why}; its log, newest first:\n{}",
                    tail.join("\n")
                ));
            }
        }
        answered
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("redis.log")
    }

    /// Waits until the server on the port is this process.
    async fn answers_as_itself(&mut self) -> Result<(), String> {
        let pid = self.pid();
        let started = Instant::now();
        loop {
            if let Some(status) = self.process.exited() {
                return Err(format!("redis-server exited ({status})"));
            }
            match self.process_id().await {
                Some(id) if id == pid => return Ok(()),
                Some(id) => return Err(format!("another redis-server (pid {id}) answers")),
                None if started.elapsed() >= ANSWER_LIMIT => {
                    return Err(format!("no answer within {ANSWER_LIMIT:?}"));
                }
                None => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    /// `process_id` in `INFO server` of what answers on the port, if anything does.
    async fn process_id(&self) -> Option<u32> {
        let ask = async {
            let mut conn = redis::Client::open(self.url())
                .ok()?
                .get_multiplexed_async_connection()
                .await
                .ok()?;
            let info: String = redis::cmd("INFO")
                .arg("server")
                .query_async(&mut conn)
                .await
                .ok()?;
            info.lines()
                .find_map(|line| line.strip_prefix("process_id:"))?
                .trim()
                .parse()
                .ok()
        };
        tokio::time::timeout(Duration::from_secs(1), ask)
            .await
            .ok()
            .flatten()
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The server's process id, while running (to pause it with SIGSTOP).
    pub fn pid(&self) -> u32 {
        self.process.pid().expect("the redis-server is running")
    }

    /// Graceful stop (SIGTERM): Redis flushes its AOF, if on, before exiting.
    pub fn stop(&mut self) {
        self.process.stop();
    }

    /// SIGKILL: no chance to finish anything.
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// [`stop`](Self::stop), then [`start_again`](Self::start_again).
    pub async fn restart(&mut self) {
        self.stop();
        self.start_again().await;
    }

    /// Starts it again (same port, same directory) after `kill` or `stop`.
    pub async fn start_again(&mut self) {
        if let Err(why) = self.spawn().await {
            panic!("redis-server did not start again on {}: {why}", self.port);
        }
    }

    /// A new connection to it.
    pub async fn connection(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }

    /// The answer to one command (`args`: its name and arguments), on a new connection.
    pub async fn cmd<T: redis::FromRedisValue>(&self, args: &[&str]) -> T {
        let mut cmd = redis::cmd(args[0]);
        for arg in &args[1..] {
            cmd.arg(*arg);
        }
        cmd.query_async(&mut self.connection().await)
            .await
            .unwrap_or_else(|err| panic!("{args:?} on {}: {err}", self.url()))
    }

    /// `calls` of `command` (lower case) since the last `CONFIG RESETSTAT`; 0 when
    /// never called.
    pub async fn calls(&self, command: &str) -> u64 {
        let info: String = self.cmd(&["INFO", "commandstats"]).await;
        let prefix = format!("cmdstat_{command}:calls=");
        info.lines()
            .find_map(|line| line.strip_prefix(&prefix))
            .map_or(0, |rest| rest.split(',').next().unwrap().parse().unwrap())
    }

    /// `CONFIG RESETSTAT`: the command counts start again from 0.
    pub async fn reset_stats(&self) {
        self.cmd::<()>(&["CONFIG", "RESETSTAT"]).await;
    }
}

/// A Redis Cluster of servers of the test's own, joined with `redis-cli --cluster
/// create`, each killed when dropped.
pub struct Cluster {
    nodes: Vec<OwnRedis>,
}

impl Cluster {
    /// `masters` masters (at least 3), each with `replicas` replicas, and
    /// `cluster-node-timeout` `node_timeout`; returns once every node reports
    /// `cluster_state:ok`.
    pub async fn start(masters: usize, replicas: usize, node_timeout: Duration) -> Self {
        assert!(masters >= 3, "a Redis Cluster needs 3 masters or more");
        let timeout = node_timeout.as_millis().to_string();
        let args = [
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-node-timeout",
            &timeout,
        ];
        let mut nodes = Vec::new();
        for _ in 0..masters * (1 + replicas) {
            nodes.push(OwnRedis::start_on(node_port, None, &args).await);
        }
        let mut create = Command::new("redis-cli");
        create.args(["--cluster", "create"]);
        for node in &nodes {
            create.arg(format!("127.0.0.1:{}", node.port));
        }
        let out = create
            .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
            .output()
            .expect("redis-cli runs");
        assert!(
            out.status.success(),
            "cluster create: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let started = Instant::now();
        for node in &nodes {
            loop {
                let info: String = node.cmd(&["CLUSTER", "INFO"]).await;
                if info.contains("cluster_state:ok") {
                    break;
                }
                assert!(
                    started.elapsed() < CLUSTER_LIMIT,
                    "cluster_state:ok on every node within {CLUSTER_LIMIT:?}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Self { nodes }
    }

    /// Its nodes, in the order they were given to `redis-cli`.
    pub fn nodes(&self) -> &[OwnRedis] {
        &self.nodes
    }

    /// Every node's URL, as a cluster client's seeds (`redis.nodes` takes them joined
    /// with commas).
    pub fn seeds(&self) -> Vec<String> {
        self.nodes.iter().map(OwnRedis::url).collect()
    }
}

/// A free port a cluster node may use: its bus port (+10000) is at most 65535 and
/// free too.
fn node_port() -> u16 {
    loop {
        let port = free_port();
        if port <= 55535 && std::net::TcpListener::bind(("127.0.0.1", port + 10000)).is_ok() {
            return port;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU16, Ordering};

    use super::*;

    /// The port the next start is offered first (0: a free one).
    static OFFERED: AtomicU16 = AtomicU16::new(0);

    fn offered_first() -> u16 {
        match OFFERED.swap(0, Ordering::SeqCst) {
            0 => free_port(),
            port => port,
        }
    }

    #[tokio::test]
    async fn a_port_taken_before_the_server_binds_it_is_left_for_another() {
        let other = OwnRedis::start(&[]).await;
        OFFERED.store(other.port(), Ordering::SeqCst);
        let mine = OwnRedis::start_on(offered_first, None, &[]).await;
        assert_ne!(mine.port(), other.port(), "another redis-server's port");
        assert_eq!(mine.cmd::<String>(&["PING"]).await, "PONG");

        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        OFFERED.store(silent.local_addr().unwrap().port(), Ordering::SeqCst);
        let mut mine = OwnRedis::start_on(offered_first, None, &[]).await;
        assert_ne!(
            mine.port(),
            silent.local_addr().unwrap().port(),
            "a listener's port"
        );
        let port = mine.port();
        mine.kill();
        mine.start_again().await;
        assert_eq!(mine.port(), port, "the same port after a kill");
        assert_eq!(mine.cmd::<String>(&["PING"]).await, "PONG");
    }
}
