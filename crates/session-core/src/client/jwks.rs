//! Keeping an EdDSA codec's public keys current from the auth-service's JWKS.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::keys::Jwks;
use crate::settings::SettingsError;
use crate::token::{KeyRefresher, TokenCodec};

/// Fetches the auth-service's public keys (`/.well-known/jwks.json`) into a codec:
/// once at start, and again when a token names an unknown key id, at most once per
/// `min_interval` (30 s) after a successful fetch and once a second after a failed one.
#[derive(Debug)]
pub struct JwksFetcher {
    client: reqwest::Client,
    url: String,
    codec: Arc<TokenCodec>,
    min_interval: Duration,
    last: tokio::sync::Mutex<Option<(Instant, bool)>>,
    context: Option<super::Context>,
}

impl JwksFetcher {
    /// A fetcher for `url` feeding `codec`.
    pub fn new(
        url: &str,
        codec: Arc<TokenCodec>,
        options: &super::ClientOptions,
        min_interval: Duration,
    ) -> Result<Self, SettingsError> {
        let client = super::http_client(options)?;
        Ok(Self {
            client,
            url: url.to_owned(),
            codec,
            min_interval,
            last: tokio::sync::Mutex::new(None),
            context: options.context,
        })
    }

    /// Fetches now, whatever the interval; true on success.
    pub async fn fetch(&self) -> bool {
        let fetched = async {
            let mut request = self.client.get(&self.url);
            if let Some(context) = self.context {
                request = context(request);
            }
            let res = request.send().await.ok()?;
            if !res.status().is_success() {
                return None;
            }
            res.json::<Jwks>().await.ok()
        }
        .await;
        match fetched {
            Some(jwks) => {
                let added = self.codec.add_jwks(&jwks);
                tracing::info!(keys = added, "verification keys fetched from the JWKS");
                true
            }
            None => {
                tracing::warn!("the JWKS could not be fetched");
                false
            }
        }
    }
}

impl KeyRefresher for JwksFetcher {
    fn refresh(&self) -> Pin<Box<dyn Future<Output = bool> + Send + '_>> {
        Box::pin(async move {
            // One refresh at a time; callers waiting behind it reuse its result.
            let mut last = self.last.lock().await;
            if let Some((at, ok)) = *last {
                let wait = if ok {
                    self.min_interval
                } else {
                    Duration::from_secs(1)
                };
                if at.elapsed() < wait {
                    // Too soon to fetch again; if the last fetch worked, its keys are
                    // in the codec and worth one more look.
                    return ok;
                }
            }
            let ok = self.fetch().await;
            *last = Some((Instant::now(), ok));
            ok
        })
    }
}
