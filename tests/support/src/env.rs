//! The test servers' environment, as scripts/test.sh exports it.

/// The variable `name`; panics when it is not set, so a test without its server fails
/// instead of passing or skipping.
pub fn env(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: run the tests through scripts/test.sh"))
}

/// The shared Redis (`TEST_REDIS_URL`).
pub fn redis_url() -> String {
    env("TEST_REDIS_URL")
}

/// The shared MongoDB-wire server (`TEST_MONGODB_URI`).
pub fn mongodb_uri() -> String {
    env("TEST_MONGODB_URI")
}
