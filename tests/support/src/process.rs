//! The one guard behind every process a test starts (the services, its own Redis or
//! MongoDB-wire server, an SMTP sink): stopped gently or killed, and always reaped on
//! drop; temporary directories; and the workspace's built binaries, built on demand
//! so a suite also runs alone (`cargo test -p system`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A child process, killed and reaped when dropped; empty while stopped.
#[derive(Default)]
pub struct ChildGuard {
    child: Option<Child>,
}

impl ChildGuard {
    /// Starts `command`.
    pub fn spawn(command: &mut Command) -> Self {
        let child = command
            .spawn()
            .unwrap_or_else(|err| panic!("could not start {command:?}: {err}"));
        Self { child: Some(child) }
    }

    /// The process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The exit status if the process has ended by itself.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// Sends SIGTERM and waits for the exit; how long it took and the status.
    pub fn terminate(&mut self) -> (Duration, ExitStatus) {
        let mut child = self.child.take().expect("running");
        let started = Instant::now();
        signal(child.id(), "TERM");
        let status = child.wait().expect("wait");
        (started.elapsed(), status)
    }

    /// Sends SIGTERM (if running) and waits for the exit.
    pub fn stop(&mut self) {
        if self.child.is_some() {
            self.terminate();
        }
    }

    /// Kills the process (if running) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A directory of the test's own, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A new empty directory named after `what`.
    pub fn new(what: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "session-store-{what}-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Sends a signal with kill(1).
pub fn signal(pid: u32, name: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{name} {pid}");
}

/// The directory cargo put the workspace's binaries in: a test executable lives in its
/// `deps/` (target/debug/deps/e2e-...), the binaries one level up. (`env!
/// ("CARGO_BIN_EXE_...")` names only the tested package's own binaries.)
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    exe.parent()
        .and_then(Path::parent)
        .expect("the test executable is in <target>/<profile>/deps")
        .to_path_buf()
}

/// The path of a workspace binary. The workspace's binaries are built once per run
/// (as the test command builds them, so usually a no-op): cargo builds only the tested
/// package's own binaries (the system tests' package owns none), and all must be
/// current.
pub fn binary(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--workspace", "--bins"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "cargo build --workspace --bins failed");
    });
    let path = target_dir().join(name);
    assert!(path.is_file(), "no {} binary", path.display());
    path
}
