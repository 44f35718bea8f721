//! Remote mode trusts only the path it is given: HTTPS to the auth-service with the
//! system's roots plus `auth_service.ca_file`, and no proxy from the environment.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::{ChildGuard, Options, TempDir, assert_error, free_port, stack, wait_port};

/// Runs openssl with `args` in `dir`; panics on failure.
fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl runs");
    assert!(status.success(), "openssl {args:?}");
}

/// A CA named `name` in `dir` (`<name>-ca.pem`) and a server certificate it signed for
/// localhost and 127.0.0.1 (`<name>-server.pem`, `<name>-server.key`).
pub fn make_ca_and_server(dir: &Path, name: &str) {
    let (ca_key, ca) = (format!("{name}-ca.key"), format!("{name}-ca.pem"));
    let (key, csr, cert) = (
        format!("{name}-server.key"),
        format!("{name}-server.csr"),
        format!("{name}-server.pem"),
    );
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-keyout",
            &ca_key,
            "-out",
            &ca,
            "-subj",
            &format!("/CN={name} test CA"),
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            "/CN=localhost",
        ],
    );
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "san.ext",
            "-out",
            &cert,
        ],
    );
}

/// A TLS front (tests/e2e/support/tls_proxy.py) for `upstream` on a free port.
async fn tls_front(dir: &Path, name: &str, upstream: &str) -> (u16, ChildGuard) {
    let port = free_port();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/support/tls_proxy.py");
    let guard = ChildGuard::spawn(
        Command::new("python3")
            .arg(script)
            .arg(upstream)
            .arg(port.to_string())
            .arg(dir.join(format!("{name}-server.pem")))
            .arg(dir.join(format!("{name}-server.key")))
            .env_clear()
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    wait_port(port, Duration::from_secs(10)).await;
    (port, guard)
}

#[tokio::test]
async fn remote_mode_speaks_https_with_the_configured_ca_and_refuses_another() {
    let dir = TempDir::new("tls");
    make_ca_and_server(dir.path(), "good");
    make_ca_and_server(dir.path(), "other");
    let ca = dir.path().join("good-ca.pem");
    let s = stack(Options {
        mode: "remote",
        ..Options::default()
    })
    .await;
    let (port, _front) = tls_front(dir.path(), "good", &s.auth.url("")).await;
    let (other_port, _other_front) = tls_front(dir.path(), "other", &s.auth.url("")).await;
    let (_, auth) = s.session().await;

    let mut envs = s.resource_envs();
    envs.push((
        "APP__AUTH_SERVICE__URL".into(),
        format!("https://localhost:{port}"),
    ));
    envs.push((
        "APP__AUTH_SERVICE__CA_FILE".into(),
        ca.display().to_string(),
    ));
    let https = s.another_resource_with(envs.clone()).await;
    let res = s.me_at(&https, &auth).await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "introspection over https with the CA file"
    );

    // A server whose certificate another CA signed is never trusted: 503, not 401.
    envs.push((
        "APP__AUTH_SERVICE__URL".into(),
        format!("https://localhost:{other_port}"),
    ));
    let wrong = s.another_resource_with(envs).await;
    let res = s.me_at(&wrong, &auth).await;
    assert_error(res, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable").await;
}

/// A listener that counts the connections it gets and answers none of them.
async fn recorder() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    (port, seen)
}

#[tokio::test]
async fn the_environment_s_proxy_is_ignored_and_a_configured_one_is_used() {
    let (proxy_port, seen) = recorder().await;
    let proxy = format!("http://127.0.0.1:{proxy_port}");
    let s = stack(Options {
        mode: "remote",
        ..Options::default()
    })
    .await;
    let (_, auth) = s.session().await;

    let mut envs = s.resource_envs();
    for name in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        envs.push((name.into(), proxy.clone()));
    }
    let ignoring = s.another_resource_with(envs.clone()).await;
    for _ in 0..3 {
        let res = s.me_at(&ignoring, &auth).await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    assert_eq!(
        seen.load(Ordering::SeqCst),
        0,
        "a proxy from the environment got the token"
    );

    envs.push(("APP__AUTH_SERVICE__PROXY".into(), proxy.clone()));
    let proxied = s.another_resource_with(envs).await;
    let res = s.me_at(&proxied, &auth).await;
    assert_error(res, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable").await;
    assert!(
        seen.load(Ordering::SeqCst) > 0,
        "the configured proxy was not used"
    );
}
