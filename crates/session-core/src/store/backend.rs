//! How the store reaches Redis (`redis.mode`): one server, a Cluster, or the master
//! that Sentinel names; over TLS for `rediss://` URLs.
//!
//! Every topology hands out a [`Connection`] that runs commands and scripts alike,
//! so the store's code does not change with it. Nothing connects at start: Redis may
//! be down when a service starts, and a call then answers 503 until it is back.
//!
//! - Standalone: a pool for writes (a script and its `WAIT` share one connection)
//!   and one multiplexed connection for reads.
//! - Cluster: one multiplexed cluster connection for everything (redis-rs follows
//!   `MOVED`/`ASK` and refreshes its slot map); after calls keep failing or timing
//!   out it is rebuilt from the seed nodes, which finds the promoted replicas.
//! - Sentinel: one multiplexed connection to the master, checked with `ROLE`; a
//!   watcher asks the sentinels for the master twice a second and a failed call
//!   (connection lost, timeout, `READONLY`) drops the connection, so a failover is
//!   followed without a restart and reads never stay on a demoted master.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use deadpool_redis::{Manager, Pool, Runtime};
use redis::aio::{
    ConnectionLike, ConnectionManager, ConnectionManagerConfig, MultiplexedConnection,
};
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::{
    AsyncConnectionConfig, Client, Cmd, ConnectionAddr, ConnectionInfo, IntoConnectionInfo,
    Pipeline, RedisFuture, TlsCertificates, Value,
};
use secrecy::ExposeSecret;

use crate::error::StoreError;
use crate::settings::{RedisMode, RedisSettings, SettingsError};

/// Failed or timed-out calls in a row after which a cluster connection is rebuilt.
const CLUSTER_REBUILD_AFTER: u32 = 2;
/// How often the sentinel watcher asks who the master is.
const SENTINEL_POLL: Duration = Duration::from_millis(500);

/// Whether a command failed because its connection is gone (not because of what it
/// asked), so a read may be tried once more on a fresh connection.
fn lost_connection(err: &redis::RedisError) -> bool {
    err.is_connection_dropped() || err.is_connection_refusal() || err.is_io_error()
}

/// A connection of whichever topology; runs commands, pipelines and scripts.
pub enum Connection {
    /// From the standalone write pool.
    Pooled(deadpool_redis::Connection),
    /// The standalone read connection.
    Manager(ConnectionManager),
    /// The cluster connection.
    Cluster(ClusterConnection),
    /// The connection to the master Sentinel named.
    Master(MultiplexedConnection),
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Pooled(c) => c.req_packed_command(cmd),
            Self::Manager(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
            Self::Master(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Pooled(c) => c.req_packed_commands(cmd, offset, count),
            Self::Manager(c) => c.req_packed_commands(cmd, offset, count),
            Self::Cluster(c) => c.req_packed_commands(cmd, offset, count),
            Self::Master(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Pooled(c) => c.get_db(),
            Self::Manager(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
            Self::Master(c) => c.get_db(),
        }
    }
}

/// Reader connections of one thread's own: on a current-thread runtime (each actix
/// worker runs one), reads go out on a multiplexed connection driven by that same
/// thread, so a request's `GET` and its answer never cross to another thread (with one
/// shared connection, every read is handed to the thread that drives it and the answer
/// handed back: two wake-ups and a context switch per batch). Elsewhere (a
/// multi-threaded runtime) the shared reader serves.
pub(crate) struct LocalReaders {
    /// Tells this store's connections apart from other stores' on the same thread.
    id: u64,
    client: Client,
    config: ConnectionManagerConfig,
}

/// Most reader connections one thread keeps (one per store it reads through).
const LOCAL_READERS: usize = 8;

thread_local! {
    static READERS: std::cell::RefCell<Vec<(u64, tokio::runtime::Id, ConnectionManager)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

impl LocalReaders {
    fn new(client: Client, config: ConnectionManagerConfig) -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        Self {
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            client,
            config,
        }
    }

    /// This thread's connection (made on first use, connecting lazily), when the
    /// thread runs a current-thread runtime.
    fn current(&self) -> Option<ConnectionManager> {
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        if runtime.runtime_flavor() != tokio::runtime::RuntimeFlavor::CurrentThread {
            return None;
        }
        let runtime = runtime.id();
        READERS.with(|readers| {
            let mut readers = readers.borrow_mut();
            if let Some((_, _, conn)) = readers
                .iter()
                .find(|(id, rt, _)| *id == self.id && *rt == runtime)
            {
                return Some(conn.clone());
            }
            // A runtime that ran on this thread before has stopped; so have the tasks
            // that drove its connections.
            readers.retain(|(_, rt, _)| *rt == runtime);
            if readers.len() >= LOCAL_READERS {
                readers.remove(0);
            }
            let conn =
                ConnectionManager::new_lazy_with_config(self.client.clone(), self.config.clone())
                    .ok()?;
            readers.push((self.id, runtime, conn.clone()));
            Some(conn)
        })
    }
}

/// Why no connection could be had (logged, never shown to a client).
#[derive(Debug)]
pub(crate) struct Unreachable(pub String);

/// The topology the settings name, with its connections.
#[allow(clippy::large_enum_variant)] // one per store, built once
pub(crate) enum Backend {
    Standalone {
        pool: Pool,
        reader: ConnectionManager,
        readers: LocalReaders,
        client: Client,
    },
    Cluster(Arc<ClusterState>),
    Sentinel(Arc<SentinelState>),
}

pub(crate) struct ClusterState {
    client: ClusterClient,
    /// Node clients for pub/sub (a message published on any node reaches every node).
    nodes: Vec<Client>,
    conn: RwLock<Option<ClusterConnection>>,
    building: AtomicBool,
    failures: AtomicU32,
    timeout: Duration,
}

pub(crate) struct SentinelState {
    sentinels: Vec<ConnectionInfo>,
    master_name: String,
    /// The master's credentials, database and TLS, from `redis.url`.
    template: ConnectionInfo,
    conn: RwLock<Option<(ConnectionAddr, MultiplexedConnection)>>,
    connecting: tokio::sync::Mutex<()>,
    watching: OnceLock<()>,
    timeout: Duration,
}

fn malformed(key: &str, expected: &'static str) -> SettingsError {
    SettingsError::Malformed {
        key: key.into(),
        expected,
    }
}

/// TLS material for `rediss://`: the system's roots plus `redis.tls_ca_file`.
fn tls_certificates(settings: &RedisSettings) -> Result<Option<TlsCertificates>, SettingsError> {
    let Some(path) = settings.tls_ca_file.as_deref() else {
        return Ok(None);
    };
    let mut bundle =
        std::fs::read(path).map_err(|_| malformed("redis.tls_ca_file", "a readable PEM file"))?;
    if !String::from_utf8_lossy(&bundle).contains("-----BEGIN CERTIFICATE-----") {
        return Err(malformed(
            "redis.tls_ca_file",
            "a PEM file with a certificate",
        ));
    }
    // redis-rs trusts only the roots it is given once any are; add the system's.
    for system in [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/ssl/cert.pem",
    ] {
        if let Ok(roots) = std::fs::read(system) {
            bundle.push(b'\n');
            bundle.extend_from_slice(&roots);
            break;
        }
    }
    Ok(Some(TlsCertificates {
        client_tls: None,
        root_cert: Some(bundle),
    }))
}

/// A client for one URL, with the CA bundle and `tls_insecure` applied to `rediss://`.
fn client_for(
    url: &str,
    key: &str,
    certs: Option<&TlsCertificates>,
    insecure: bool,
) -> Result<Client, SettingsError> {
    let info = url
        .into_connection_info()
        .map_err(|_| malformed(key, "a redis:// or rediss:// URL"))?;
    let info = match info.addr().clone() {
        ConnectionAddr::TcpTls {
            host,
            port,
            tls_params,
            ..
        } if insecure => info.set_addr(ConnectionAddr::TcpTls {
            host,
            port,
            insecure: true,
            tls_params,
        }),
        _ => info,
    };
    let is_tls = matches!(info.addr(), ConnectionAddr::TcpTls { .. });
    match certs {
        Some(certs) if is_tls => Client::build_with_tls(info, certs.clone()),
        _ => Client::open(info),
    }
    .map_err(|_| malformed(key, "a redis:// or rediss:// URL"))
}

fn split_list(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').map(str::trim).filter(|s| !s.is_empty())
}

impl Backend {
    pub(crate) fn new(settings: &RedisSettings, timeout: Duration) -> Result<Self, SettingsError> {
        // rustls needs one process-wide crypto provider; a second install is a no-op.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let certs = tls_certificates(settings)?;
        let insecure = settings.tls_insecure;
        match settings.mode {
            RedisMode::Standalone => {
                let client = client_for(
                    settings.url.expose_secret(),
                    "redis.url",
                    certs.as_ref(),
                    insecure,
                )?;
                let connection = AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(timeout))
                    .set_response_timeout(Some(timeout));
                let manager =
                    Manager::new_with_config(client.get_connection_info().clone(), connection)
                        .map_err(|_| malformed("redis.url", "a Redis URL"))?;
                let pool = Pool::builder(manager)
                    .max_size(settings.pool_size.max(1))
                    .wait_timeout(Some(timeout))
                    .create_timeout(Some(timeout))
                    .recycle_timeout(Some(timeout))
                    .runtime(Runtime::Tokio1)
                    .build()
                    .map_err(|_| SettingsError::Startup {
                        what: "the Redis pool",
                    })?;
                let reader_config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(timeout))
                    .set_response_timeout(Some(timeout))
                    .set_min_delay(Duration::from_millis(50))
                    .set_max_delay(Duration::from_millis(500))
                    .set_number_of_retries(usize::MAX);
                let reader =
                    ConnectionManager::new_lazy_with_config(client.clone(), reader_config.clone())
                        .map_err(|_| SettingsError::Startup {
                            what: "the Redis reader",
                        })?;
                Ok(Self::Standalone {
                    pool,
                    reader,
                    readers: LocalReaders::new(client.clone(), reader_config),
                    client,
                })
            }
            RedisMode::Cluster => {
                let nodes_setting = settings
                    .nodes
                    .as_ref()
                    .map(|n| n.expose_secret().to_owned())
                    .unwrap_or_default();
                let mut infos = Vec::new();
                let mut nodes = Vec::new();
                for url in split_list(&nodes_setting) {
                    let client = client_for(url, "redis.nodes", certs.as_ref(), insecure)?;
                    infos.push(client.get_connection_info().clone());
                    nodes.push(client);
                }
                if infos.is_empty() {
                    return Err(SettingsError::Missing {
                        key: "redis.nodes",
                        needed_by: "redis.mode = cluster",
                    });
                }
                let mut builder = ClusterClientBuilder::new(infos)
                    .connection_timeout(timeout)
                    .response_timeout(timeout)
                    .retries(2)
                    .min_retry_wait(20)
                    .max_retry_wait(200);
                if let Some(certs) = certs {
                    builder = builder.certs(certs);
                }
                if insecure {
                    builder = builder.tls(redis::TlsMode::Insecure);
                }
                let client = builder
                    .build()
                    .map_err(|_| malformed("redis.nodes", "comma-separated Redis URLs"))?;
                Ok(Self::Cluster(Arc::new(ClusterState {
                    client,
                    nodes,
                    conn: RwLock::new(None),
                    building: AtomicBool::new(false),
                    failures: AtomicU32::new(0),
                    timeout,
                })))
            }
            RedisMode::Sentinel => {
                let template = client_for(
                    settings.url.expose_secret(),
                    "redis.url",
                    certs.as_ref(),
                    insecure,
                )?
                .get_connection_info()
                .clone();
                let mut sentinels = Vec::new();
                for url in split_list(settings.sentinels.as_deref().unwrap_or_default()) {
                    let mut info = client_for(url, "redis.sentinels", certs.as_ref(), insecure)?
                        .get_connection_info()
                        .clone();
                    if let Some(user) = &settings.sentinel_username {
                        let redis = info.redis_settings().clone().set_username(user);
                        info = info.set_redis_settings(redis);
                    }
                    if let Some(password) = &settings.sentinel_password {
                        let redis = info
                            .redis_settings()
                            .clone()
                            .set_password(password.expose_secret());
                        info = info.set_redis_settings(redis);
                    }
                    sentinels.push(info);
                }
                Ok(Self::Sentinel(Arc::new(SentinelState {
                    sentinels,
                    master_name: settings.master_name.clone().unwrap_or_default(),
                    template,
                    conn: RwLock::new(None),
                    connecting: tokio::sync::Mutex::new(()),
                    watching: OnceLock::new(),
                    timeout,
                })))
            }
        }
    }

    /// Whether this is a Redis Cluster (keys of different slots live apart).
    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }

    /// A connection for writes and scripts.
    pub(crate) async fn writer(&self) -> Result<Connection, Unreachable> {
        match self {
            // Boxed: the pool's future holds a whole connection set-up (TLS included),
            // kilobytes that every command's future would otherwise carry and copy.
            Self::Standalone { pool, .. } => Box::pin(pool.get())
                .await
                .map(Connection::Pooled)
                .map_err(|err| Unreachable(err.to_string())),
            Self::Cluster(state) => state.connection().await.map(Connection::Cluster),
            Self::Sentinel(state) => state.connection().await.map(Connection::Master),
        }
    }

    /// A connection for reads (masters only). Never the pool: a read is one command
    /// on the shared multiplexed connection.
    pub(crate) async fn reader(&self) -> Result<Connection, Unreachable> {
        match self {
            Self::Standalone {
                reader, readers, ..
            } => Ok(Connection::Manager(
                readers.current().unwrap_or_else(|| reader.clone()),
            )),
            Self::Cluster(state) => state.connection().await.map(Connection::Cluster),
            Self::Sentinel(state) => state.connection().await.map(Connection::Master),
        }
    }

    /// Runs the read `op` on the reader connection; when that connection died under it
    /// (Redis restarted since the last call), once more on a fresh one: a read is safe
    /// to repeat. `Unavailable` when there is no connection; otherwise Redis's answer.
    pub(crate) async fn read<T, F, Fut>(
        &self,
        what: &'static str,
        op: F,
    ) -> Result<redis::RedisResult<T>, StoreError>
    where
        F: Fn(Connection) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let result = op(self.reader_for(what).await?).await;
        if !result.as_ref().is_err_and(lost_connection) {
            return Ok(result);
        }
        // Boxed: the second try is rare, and every read's future would otherwise carry
        // room for it.
        Box::pin(async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok(op(self.reader_for(what).await?).await)
        })
        .await
    }

    /// The reader connection for the call `what`; `Unavailable` (logged, and counted
    /// as a failure) when there is none.
    async fn reader_for(&self, what: &'static str) -> Result<Connection, StoreError> {
        self.reader().await.map_err(|err| {
            tracing::warn!(command = what, error = %err.0, "redis connection unavailable");
            self.failed(None);
            StoreError::Unavailable
        })
    }

    /// A call on a connection from this backend failed (`timed_out`: no answer in
    /// time); the cluster and sentinel connections are dropped when that means the
    /// topology may have changed.
    pub(crate) fn failed(&self, error: Option<&redis::RedisError>) {
        match self {
            Self::Standalone { .. } => {}
            Self::Cluster(state) => {
                let n = state.failures.fetch_add(1, Ordering::Relaxed) + 1;
                if n >= CLUSTER_REBUILD_AFTER {
                    state.failures.store(0, Ordering::Relaxed);
                    if let Ok(mut conn) = state.conn.write()
                        && conn.take().is_some()
                    {
                        tracing::warn!("redis cluster connection rebuilt after failed calls");
                    }
                }
            }
            Self::Sentinel(state) => {
                let topology_changed = error.is_none_or(|err| {
                    err.is_io_error()
                        || err.is_timeout()
                        || err.is_connection_dropped()
                        || err.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::ReadOnly)
                });
                if topology_changed {
                    state.forget();
                }
            }
        }
    }

    /// A call succeeded.
    pub(crate) fn succeeded(&self) {
        if let Self::Cluster(state) = self {
            state.failures.store(0, Ordering::Relaxed);
        }
    }

    /// A pub/sub connection on which the invalidation channel can be heard: the
    /// server, a cluster node (tried in turn from `attempt`), or the master.
    pub(crate) async fn pubsub(&self, attempt: usize) -> Result<redis::aio::PubSub, Unreachable> {
        let client = match self {
            Self::Standalone { client, .. } => client.clone(),
            Self::Cluster(state) => state.nodes[attempt % state.nodes.len()].clone(),
            Self::Sentinel(state) => {
                let (addr, _) = state.resolve().await?;
                Client::open(state.template.clone().set_addr(addr))
                    .map_err(|err| Unreachable(err.to_string()))?
            }
        };
        client
            .get_async_pubsub()
            .await
            .map_err(|err| Unreachable(err.to_string()))
    }
}

impl ClusterState {
    /// The cluster connection; while there is none, one is built in the background
    /// (building may outlast a request when a seed node hangs) and the request waits
    /// for it at most its own timeout.
    async fn connection(self: &Arc<Self>) -> Result<ClusterConnection, Unreachable> {
        if let Some(conn) = self.current() {
            return Ok(conn);
        }
        self.rebuild();
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            tokio::time::sleep(Duration::from_millis(20)).await;
            if let Some(conn) = self.current() {
                return Ok(conn);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Unreachable("no cluster connection yet".into()));
            }
        }
    }

    fn current(&self) -> Option<ClusterConnection> {
        self.conn.read().ok().and_then(|c| c.clone())
    }

    /// Starts building a connection from the seed nodes unless that is under way.
    fn rebuild(self: &Arc<Self>) {
        if self.building.swap(true, Ordering::AcqRel) {
            return;
        }
        let state = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                let built =
                    tokio::time::timeout(state.timeout * 5, state.client.get_async_connection())
                        .await;
                match built {
                    Ok(Ok(conn)) => {
                        if let Ok(mut slot) = state.conn.write() {
                            *slot = Some(conn);
                        }
                        break;
                    }
                    Ok(Err(err)) => {
                        tracing::warn!(error = %err, "redis cluster connection failed; retrying");
                    }
                    Err(_) => tracing::warn!("redis cluster connection timed out; retrying"),
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            state.building.store(false, Ordering::Release);
        });
    }
}

impl SentinelState {
    fn forget(&self) {
        if let Ok(mut conn) = self.conn.write()
            && conn.take().is_some()
        {
            tracing::warn!("redis master connection dropped; asking the sentinels again");
        }
    }

    /// Asks every sentinel where the master is and takes the answer of a majority of
    /// them: right after a failover a sentinel may still name the old master, which,
    /// woken up, still calls itself master for a moment; following that one sentinel
    /// would read from a server that no longer gets the writes.
    async fn master_addr(&self) -> Result<ConnectionAddr, Unreachable> {
        let asks = self.sentinels.iter().map(|sentinel| async move {
            let ask = async {
                let client = Client::open(sentinel.clone())?;
                let mut conn = client.get_multiplexed_async_connection().await?;
                redis::cmd("SENTINEL")
                    .arg("get-master-addr-by-name")
                    .arg(&self.master_name)
                    .query_async::<Option<(String, u16)>>(&mut conn)
                    .await
            };
            match tokio::time::timeout(self.timeout, ask).await {
                Ok(Ok(Some(addr))) => Ok(addr),
                Ok(Ok(None)) => Err(format!("the sentinels know no master {}", self.master_name)),
                Ok(Err(err)) => Err(err.to_string()),
                Err(_) => Err("sentinel timed out".to_owned()),
            }
        });
        let answers = futures_util::future::join_all(asks).await;
        let mut votes: Vec<((String, u16), usize)> = Vec::new();
        let mut last = String::from("no sentinel configured");
        for answer in answers {
            match answer {
                Ok(addr) => match votes.iter_mut().find(|(named, _)| *named == addr) {
                    Some((_, n)) => *n += 1,
                    None => votes.push((addr, 1)),
                },
                Err(reason) => last = reason,
            }
        }
        let majority = self.sentinels.len() / 2 + 1;
        let Some(((host, port), _)) = votes.into_iter().find(|(_, n)| *n >= majority) else {
            return Err(Unreachable(format!(
                "no majority of the sentinels names one master ({last})"
            )));
        };
        Ok(match self.template.addr() {
            ConnectionAddr::TcpTls {
                insecure,
                tls_params,
                ..
            } => ConnectionAddr::TcpTls {
                host,
                port,
                insecure: *insecure,
                tls_params: tls_params.clone(),
            },
            _ => ConnectionAddr::Tcp(host, port),
        })
    }

    /// The master's address and a connection to it that `ROLE` confirms is a master.
    async fn resolve(&self) -> Result<(ConnectionAddr, MultiplexedConnection), Unreachable> {
        let addr = self.master_addr().await?;
        let client = Client::open(self.template.clone().set_addr(addr.clone()))
            .map_err(|err| Unreachable(err.to_string()))?;
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout));
        let connect = async {
            let mut conn = client
                .get_multiplexed_async_connection_with_config(&config)
                .await?;
            let role: Vec<Value> = redis::cmd("ROLE").query_async(&mut conn).await?;
            Ok::<_, redis::RedisError>((conn, role))
        };
        let (conn, role) = tokio::time::timeout(self.timeout * 2, connect)
            .await
            .map_err(|_| Unreachable("master connection timed out".into()))?
            .map_err(|err| Unreachable(err.to_string()))?;
        let is_master = matches!(role.first(), Some(Value::BulkString(b)) if b == b"master")
            || matches!(role.first(), Some(Value::SimpleString(s)) if s == "master");
        if !is_master {
            return Err(Unreachable(
                "the server the sentinels named is not a master (yet)".into(),
            ));
        }
        Ok((addr, conn))
    }

    async fn connection(self: &Arc<Self>) -> Result<MultiplexedConnection, Unreachable> {
        self.watch();
        if let Some((_, conn)) = self.conn.read().ok().and_then(|c| c.clone()) {
            return Ok(conn);
        }
        let _one = self.connecting.lock().await;
        if let Some((_, conn)) = self.conn.read().ok().and_then(|c| c.clone()) {
            return Ok(conn);
        }
        // Boxed: asking the sentinels is a large future, and this one sits inside
        // every command's future, which would otherwise be copied at that size.
        let (addr, conn) = Box::pin(self.resolve()).await?;
        tracing::info!(master = ?addr_label(&addr), "redis master found through the sentinels");
        if let Ok(mut slot) = self.conn.write() {
            *slot = Some((addr, conn.clone()));
        }
        Ok(conn)
    }

    /// Starts (once) the task that drops the connection when the sentinels name
    /// another master (`+switch-master` seen by polling).
    fn watch(self: &Arc<Self>) {
        if self.watching.get().is_some() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.watching.set(()).is_err() {
            return;
        }
        let state = Arc::downgrade(self);
        runtime.spawn(async move {
            loop {
                tokio::time::sleep(SENTINEL_POLL).await;
                let Some(state) = state.upgrade() else {
                    return;
                };
                let current = state
                    .conn
                    .read()
                    .ok()
                    .and_then(|c| c.as_ref().map(|(addr, _)| addr.clone()));
                let Some(current) = current else {
                    continue;
                };
                if let Ok(named) = state.master_addr().await
                    && named != current
                {
                    tracing::warn!(
                        from = ?addr_label(&current),
                        to = ?addr_label(&named),
                        "the sentinels switched the master"
                    );
                    state.forget();
                }
            }
        });
    }
}

/// `host:port` of an address, for logs.
fn addr_label(addr: &ConnectionAddr) -> String {
    match addr {
        ConnectionAddr::Tcp(host, port) | ConnectionAddr::TcpTls { host, port, .. } => {
            format!("{host}:{port}")
        }
        ConnectionAddr::Unix(path) => path.display().to_string(),
        _ => "?".into(),
    }
}
