//! One user's sessions by user id, in either `session.per_user` mode: list them, end
//! one by its id, end them all. The account endpoints use it through
//! [`crate::accounts::Accounts`]; operator tools (`sessionctl`) use it directly.

use std::sync::Arc;

use session_core::events::Reason;
use session_core::settings::PerUser;
use session_core::store::SessionRecord;
use session_core::token::{Origin, is_session_id};
use session_core::{SessionStore, StoreError, TokenCodec};

/// A user's sessions, through the store (which announces every end on the
/// invalidation channel) and the codec (`single` mode keeps no record but the token).
#[derive(Debug, Clone)]
pub struct UserSessions {
    store: SessionStore,
    codec: Arc<TokenCodec>,
}

impl UserSessions {
    /// Sessions in `store`; `single`-mode tokens are read with `codec`.
    pub fn new(store: SessionStore, codec: Arc<TokenCodec>) -> Self {
        Self { store, codec }
    }

    /// The session store.
    pub fn store(&self) -> &SessionStore {
        &self.store
    }

    /// The user's live sessions, newest first. In `single` mode: the one session, when
    /// its token verifies with the codec's keys.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn list(&self, user_id: &str) -> Result<Vec<SessionRecord>, StoreError> {
        if self.store.per_user() == PerUser::Multiple {
            return self.store.list(user_id).await;
        }
        let Some(held) = self.store.held(user_id, "").await? else {
            return Ok(Vec::new());
        };
        Ok(match self.codec.decode(&held.secret) {
            Ok(claims) => vec![SessionRecord {
                session_id: claims.sid,
                created_at: claims.iat,
                expires_at: held.ends_at.unwrap_or(claims.exp).min(claims.exp),
                absolute_expires_at: claims.exp,
                origin: Origin {
                    ip: claims.ip,
                    user_agent: claims.ua,
                },
            }],
            Err(_) => Vec::new(),
        })
    }

    /// Ends the user's session `session_id`, whatever token it holds, for `reason`;
    /// false when it is not one of the user's live sessions (an id of the wrong shape
    /// included).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn end(
        &self,
        user_id: &str,
        session_id: &str,
        reason: Reason,
    ) -> Result<bool, StoreError> {
        if !is_session_id(session_id) {
            return Ok(false);
        }
        match self.store.per_user() {
            PerUser::Multiple => {
                self.store
                    .end_by_id(user_id, (session_id, ""), reason)
                    .await
            }
            PerUser::Single => match self.store.held(user_id, "").await? {
                Some(held)
                    if self
                        .codec
                        .decode(&held.secret)
                        .is_ok_and(|c| c.sid == session_id) =>
                {
                    self.store
                        .end(user_id, (session_id, &held.secret), reason)
                        .await
                }
                _ => Ok(false),
            },
        }
    }

    /// Ends every session of the user but `keep` (a session id), for `reason`; how
    /// many ended.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn end_all(
        &self,
        user_id: &str,
        keep: Option<&str>,
        reason: Reason,
    ) -> Result<u64, StoreError> {
        self.store.end_all(user_id, keep, reason).await
    }
}
