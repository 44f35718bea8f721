//! HTTP clients of the auth-service (feature `http-client`): the introspection client
//! that remote mode validates with, and the JWKS fetcher that keeps an EdDSA codec's
//! public keys current in either mode.

mod introspection;
mod jwks;

pub use introspection::IntrospectionClient;
pub use jwks::JwksFetcher;

use std::time::Duration;

use crate::settings::SettingsError;

/// A pooled HTTP client whose every call, connecting included, is bounded by `timeout`.
fn http_client(timeout: Duration) -> Result<reqwest::Client, SettingsError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .pool_idle_timeout(Duration::from_secs(30))
        .build()
        .map_err(|_| SettingsError::Startup {
            what: "the HTTP client",
        })
}
