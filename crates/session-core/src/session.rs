//! A validated session and how its times are written.

/// A session that passed validation.
#[derive(Clone, PartialEq, Eq)]
pub struct Session {
    /// The user's id (24 lowercase hex characters).
    pub user_id: String,
    /// The session's own id (claim `sid`).
    pub session_id: String,
    /// The user's email.
    pub email: String,
    /// Issued at, seconds since the Unix epoch.
    pub issued_at: i64,
    /// When the session ends if nothing more happens (idle deadline or `exp`,
    /// whichever is first), seconds since the Unix epoch.
    pub expires_at: i64,
    /// The token's `exp`: nothing extends the session past it.
    pub absolute_expires_at: i64,
    /// The token this session is, as held in Redis (empty when only introspected by userId).
    pub token: String,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("user_id", &self.user_id)
            .field("session_id", &self.session_id)
            .field("issued_at", &self.issued_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Writes seconds since the Unix epoch as an RFC 3339 UTC string (`2026-01-02T03:04:05Z`).
pub fn rfc3339(secs: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp(secs, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Seconds since the Unix epoch, now.
pub fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_is_utc_with_z() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}
