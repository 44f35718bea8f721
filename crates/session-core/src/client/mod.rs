//! HTTP clients of the auth-service (feature `http-client`): the introspection client
//! that remote mode validates with, and the JWKS fetcher that keeps an EdDSA codec's
//! public keys current in either mode.

mod introspection;
mod jwks;

pub use introspection::IntrospectionClient;
pub use jwks::JwksFetcher;

use std::path::PathBuf;
use std::time::Duration;

use crate::settings::SettingsError;

/// How the clients reach the auth-service: the path is trusted only as configured.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Bound on every call, connecting included.
    pub timeout: Duration,
    /// A proxy to go through (`auth_service.proxy`); without one, no proxy is used,
    /// whatever `HTTP_PROXY`, `HTTPS_PROXY` or `ALL_PROXY` say.
    pub proxy: Option<String>,
    /// A PEM bundle of CAs to trust besides the system's (`auth_service.ca_file`).
    pub ca_file: Option<PathBuf>,
    /// Adds the calling request's context to every call (its trace and request id),
    /// so the auth-service's logs and spans join the caller's; none adds nothing.
    pub context: Option<Context>,
}

/// A function that adds the current request's context headers to an outgoing call.
pub type Context = fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder;

impl ClientOptions {
    /// Direct connections, system roots only, calls bounded by `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            proxy: None,
            ca_file: None,
            context: None,
        }
    }
}

/// Checks a URL of the auth-service (`key` names it): `http://` or `https://` with a
/// host; in production, plain `http://` only to a loopback address unless
/// `allow_plain_http` (`auth_service.allow_plain_http`) says the path is trusted.
pub fn check_url(
    key: &'static str,
    url: &str,
    production: bool,
    allow_plain_http: bool,
) -> Result<(), SettingsError> {
    let malformed = || SettingsError::Malformed {
        key: key.into(),
        expected: "an http:// or https:// URL with a host",
    };
    let parsed = reqwest::Url::parse(url).map_err(|_| malformed())?;
    let host = parsed
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(malformed)?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" => {
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            let loopback = bare.eq_ignore_ascii_case("localhost")
                || bare
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            if production && !loopback && !allow_plain_http {
                Err(SettingsError::Conflict {
                    key,
                    other: "APP_ENV=production over plain http:// to another host (use https://, or set auth_service.allow_plain_http = true on a trusted network)",
                })
            } else {
                Ok(())
            }
        }
        _ => Err(malformed()),
    }
}

/// A pooled HTTP client per `options`: HTTPS with rustls (the system's roots plus the
/// CA file), a proxy only when configured.
pub fn http_client(options: &ClientOptions) -> Result<reqwest::Client, SettingsError> {
    // rustls needs one process-wide crypto provider; a second install is a no-op.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = reqwest::Client::builder()
        .timeout(options.timeout)
        .connect_timeout(options.timeout)
        .pool_idle_timeout(Duration::from_secs(30))
        .https_only(false)
        .no_proxy();
    if let Some(proxy) = &options.proxy {
        let proxy = reqwest::Proxy::all(proxy).map_err(|_| SettingsError::Malformed {
            key: "auth_service.proxy".into(),
            expected: "a proxy URL (http://host:port)",
        })?;
        builder = builder.proxy(proxy);
    }
    if let Some(path) = &options.ca_file {
        let pem = std::fs::read(path).map_err(|_| SettingsError::Malformed {
            key: "auth_service.ca_file".into(),
            expected: "a readable file",
        })?;
        let certs =
            reqwest::Certificate::from_pem_bundle(&pem).map_err(|_| SettingsError::Malformed {
                key: "auth_service.ca_file".into(),
                expected: "a PEM bundle of CA certificates",
            })?;
        if certs.is_empty() {
            return Err(SettingsError::Malformed {
                key: "auth_service.ca_file".into(),
                expected: "a PEM bundle of CA certificates",
            });
        }
        builder = builder.tls_certs_merge(certs);
    }
    builder.build().map_err(|_| SettingsError::Startup {
        what: "the HTTP client",
    })
}
