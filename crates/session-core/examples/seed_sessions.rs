//! Seeds live sessions the way login makes them, for benchmarks and load tests.
//!
//! `cargo run --release -p session-core --example seed_sessions -- COUNT [TOKENS_FILE]`
//! creates COUNT users (random 24-hex ids, emails `seed<N>@example.com`), issues each a
//! token and stores its session through [`SessionStore::open`] (so `session.per_user`
//! decides the layout, as it does for login), then prints one token per line to
//! TOKENS_FILE, or to stdout without one.
//!
//! Settings are read like the services read theirs (built-in defaults, `APP_CONFIG_FILE`,
//! then `APP__REDIS__URL`, `APP__JWT__SECRET`, `APP__SESSION__KEY_PREFIX`, ...), so give
//! it the same environment as the services that will validate the tokens.

use std::fs::File;
use std::io::{BufWriter, Write};

use futures_util::StreamExt;

use session_core::settings::{JwtSettings, RedisSettings, SessionSettings, load};
use session_core::store::{NewSession, Opened};
use session_core::token::Origin;
use session_core::{SessionStore, TokenCodec};

/// The sections of the shared settings that issuing and storing a session need.
#[derive(serde::Deserialize, serde::Serialize)]
struct SeedSettings {
    redis: RedisSettings,
    session: SessionSettings,
    jwt: JwtSettings,
}

const USAGE: &str = "usage: seed_sessions COUNT [TOKENS_FILE]";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let count: usize = args
        .next()
        .ok_or(USAGE)?
        .parse()
        .map_err(|_| format!("COUNT must be a whole number; {USAGE}"))?;
    let settings: SeedSettings = load("")?;
    let codec = TokenCodec::new(&settings.jwt)?;
    let store = SessionStore::new(&settings.redis, &settings.session)?;
    let mut out: Box<dyn Write> = match args.next() {
        Some(path) => Box::new(BufWriter::new(File::create(path)?)),
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    };
    // Sessions are stored 64 at a time (the pool's connections pipeline them), written
    // out in order.
    let mut seeded = std::pin::pin!(
        futures_util::stream::iter(0..count)
            .map(|n| seed_one(&codec, &store, settings.session.ttl_seconds, n))
            .buffered(64)
    );
    while let Some(token) = seeded.next().await {
        writeln!(out, "{}", token?)?;
    }
    out.flush()?;
    Ok(())
}

/// Issues and stores one session of a new user; its token.
async fn seed_one(
    codec: &TokenCodec,
    store: &SessionStore,
    ttl_seconds: u64,
    n: usize,
) -> Result<String, String> {
    let user_id = random_user_id()?;
    let (token, claims) = codec
        .issue(&user_id, &format!("seed{n}@example.com"), ttl_seconds)
        .map_err(|err| format!("issuing session {n} failed: {err}"))?;
    let opened = store
        .open(&NewSession {
            user_id: &user_id,
            session_id: &claims.sid,
            token: &token,
            created_at: claims.iat,
            absolute_expires_at: claims.exp,
            origin: &Origin::default(),
        })
        .await
        .map_err(|err| format!("storing session {n} in Redis failed: {err}"))?;
    match opened {
        Opened::Reused { token } => Ok(token),
        Opened::Created { .. } => Ok(token),
        Opened::Full => Err(format!("user {user_id} has no room for a session")),
    }
}

/// A fresh user id in the services' format: 12 random bytes as 24 lowercase hex digits.
fn random_user_id() -> Result<String, String> {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes).map_err(|err| format!("no random bytes: {err}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
