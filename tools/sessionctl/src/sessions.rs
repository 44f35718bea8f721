//! `sessions list` and `sessions end`: one user's sessions through the auth-service's
//! own code: its settings loader, its users collection and email normalisation, and
//! its per-user session logic over session-core's store (which announces every end on
//! the invalidation channel, so validation caches drop the session at once).

use std::sync::Arc;

use anyhow::{anyhow, bail};
use auth_service::accounts::normalize_email;
use auth_service::configuration::Settings;
use auth_service::user_sessions::UserSessions;
use auth_service::users::UserRepository;
use serde::Serialize;
use session_core::credential::is_user_id;
use session_core::events::Reason;
use session_core::session::rfc3339;
use session_core::settings::PerUser;
use session_core::store::SessionRecord;
use session_core::{SessionStore, TokenCodec};

use crate::output;

/// Whose sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    /// A normalised email, looked up in the `users` collection.
    Email(String),
    /// A user id (lowercase hex); MongoDB is not asked.
    UserId(String),
}

impl Who {
    /// The user named on the command line: an email, normalised as the auth-service
    /// does, or a user id.
    pub fn parse(email: Option<String>, user_id: Option<String>) -> anyhow::Result<Self> {
        match (email, user_id) {
            (Some(email), _) => normalize_email(&email)
                .map(Self::Email)
                .map_err(|_| anyhow!("{email:?} is not an email address the auth-service accepts")),
            (None, Some(id)) if is_user_id(&id) => Ok(Self::UserId(id.to_ascii_lowercase())),
            (None, Some(id)) => bail!("{id:?} is not a user id (24 hex characters)"),
            (None, None) => bail!("say whose sessions: --email EMAIL or --user-id ID"),
        }
    }
}

/// Which of the user's sessions to end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Which {
    /// The session with this id.
    One(String),
    /// Every session of the user.
    All,
}

/// The user found.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Target {
    user_id: String,
    /// Known when the user was looked up by email.
    email: Option<String>,
}

impl Target {
    fn describe(&self) -> String {
        match &self.email {
            Some(email) => format!("user {} ({email})", self.user_id),
            None => format!("user {}", self.user_id),
        }
    }
}

/// The auth-service's settings and its view of users' sessions.
struct Sessions {
    settings: Settings,
    sessions: UserSessions,
}

impl Sessions {
    /// Loads the auth-service's configuration and builds its store and codec (nothing
    /// is contacted yet).
    fn open() -> anyhow::Result<Self> {
        let settings = Settings::load()?;
        let codec = TokenCodec::new(&settings.jwt)?;
        let store =
            SessionStore::new(&settings.redis, &settings.session)?.emitting(&settings.events);
        Ok(Self {
            sessions: UserSessions::new(store, Arc::new(codec)),
            settings,
        })
    }

    /// Finds the user: by email in MongoDB, as the auth-service does at login.
    async fn find(&self, who: &Who) -> anyhow::Result<Target> {
        let email = match who {
            Who::UserId(id) => {
                return Ok(Target {
                    user_id: id.clone(),
                    email: None,
                });
            }
            Who::Email(email) => email,
        };
        let mongodb = &self.settings.mongodb;
        let users = UserRepository::connect(mongodb)
            .await
            .map_err(|_| anyhow!("mongodb.uri is not a valid MongoDB connection string"))?;
        match users.find_by_email(email).await {
            Ok(Some(user)) => Ok(Target {
                user_id: user.id.to_hex(),
                email: Some(user.email),
            }),
            Ok(None) => bail!(
                "no user with the email {email} (MongoDB database {:?})",
                mongodb.database
            ),
            Err(_) => bail!(
                "MongoDB did not answer within mongodb.timeout_ms ({} ms); check mongodb.uri",
                mongodb.timeout_ms
            ),
        }
    }

    fn redis_down(&self) -> anyhow::Error {
        anyhow!(
            "Redis did not answer within redis.timeout_ms ({} ms); check redis.url",
            self.settings.redis.timeout_ms
        )
    }

    fn per_user(&self) -> &'static str {
        match self.settings.session.per_user {
            PerUser::Single => "single",
            PerUser::Multiple => "multiple",
        }
    }
}

/// One session as listed: the names of the auth-service's `GET /sessions`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Listed {
    session_id: String,
    created_at: String,
    expires_at: String,
    absolute_expires_at: String,
    ip: Option<String>,
    user_agent: Option<String>,
}

impl From<SessionRecord> for Listed {
    fn from(r: SessionRecord) -> Self {
        Self {
            session_id: r.session_id,
            created_at: rfc3339(r.created_at),
            expires_at: rfc3339(r.expires_at),
            absolute_expires_at: rfc3339(r.absolute_expires_at),
            ip: r.origin.ip,
            user_agent: r.origin.user_agent,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ListOutput {
    #[serde(flatten)]
    user: Target,
    per_user: &'static str,
    sessions: Vec<Listed>,
}

/// `sessions list`: the user's live sessions, newest first.
pub async fn list(who: &Who, json: bool) -> anyhow::Result<()> {
    let ctl = Sessions::open()?;
    let user = ctl.find(who).await?;
    let records = ctl
        .sessions
        .list(&user.user_id)
        .await
        .map_err(|_| ctl.redis_down())?;
    if records.is_empty() && ctl.settings.session.per_user == PerUser::Single {
        // `single` mode reads a session from its token: one that does not verify
        // with these keys is not listed, though Redis holds it.
        let held = ctl.sessions.store().get(&user.user_id).await;
        if matches!(held, Ok(Some(_))) {
            output::say(
                "note: Redis holds a session token for this user that does not verify with the configured jwt keys (signed with another key, or expired); `sessions end --all` ends it",
            );
        }
    }
    let listing = ListOutput {
        user,
        per_user: ctl.per_user(),
        sessions: records.into_iter().map(Listed::from).collect(),
    };
    if json {
        return output::print(&format!("{}\n", serde_json::to_string_pretty(&listing)?));
    }
    let mut text = format!(
        "{}, session.per_user = {}\n",
        listing.user.describe(),
        listing.per_user
    );
    if listing.sessions.is_empty() {
        text.push_str("no live sessions\n");
        return output::print(&text);
    }
    let rows: Vec<Vec<String>> = listing
        .sessions
        .iter()
        .map(|s| {
            vec![
                s.session_id.clone(),
                s.created_at.clone(),
                s.expires_at.clone(),
                s.absolute_expires_at.clone(),
                s.ip.clone().unwrap_or_else(|| "-".into()),
                output::shorten(s.user_agent.as_deref().unwrap_or("-"), 60),
            ]
        })
        .collect();
    let header = [
        "SESSION ID",
        "CREATED",
        "EXPIRES",
        "ABSOLUTE EXPIRY",
        "IP",
        "USER AGENT",
    ];
    let n = listing.sessions.len();
    text.push('\n');
    text.push_str(&output::table(&header, &rows));
    text.push_str(&format!("\n{n} live session{}\n", plural(n as u64)));
    output::print(&text)
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct EndOutput {
    #[serde(flatten)]
    user: Target,
    /// The session asked for, with `--session`.
    #[serde(skip_serializing_if = "Option::is_none")]
    session_id: Option<String>,
    ended: u64,
}

/// `sessions end`: ends one session of the user, or all of them. Ending a session
/// that is not (or no longer) one of the user's is an error.
pub async fn end(who: &Who, which: &Which, json: bool) -> anyhow::Result<()> {
    let ctl = Sessions::open()?;
    let user = ctl.find(who).await?;
    let ended = match which {
        Which::One(session_id) => {
            let ended = ctl
                .sessions
                .end(&user.user_id, session_id, Reason::Admin)
                .await
                .map_err(|_| ctl.redis_down())?;
            if !ended {
                bail!(
                    "{} has no live session {session_id:?} (see `sessionctl sessions list`)",
                    user.describe()
                );
            }
            EndOutput {
                user,
                session_id: Some(session_id.clone()),
                ended: 1,
            }
        }
        Which::All => {
            let ended = ctl
                .sessions
                .end_all(&user.user_id, None, Reason::Admin)
                .await
                .map_err(|_| ctl.redis_down())?;
            EndOutput {
                user,
                session_id: None,
                ended,
            }
        }
    };
    if json {
        return output::print(&format!("{}\n", serde_json::to_string_pretty(&ended)?));
    }
    let text = match &ended.session_id {
        Some(id) => format!("ended session {id} of {}\n", ended.user.describe()),
        None => format!(
            "ended {} session{} of {}\n",
            ended.ended,
            plural(ended.ended),
            ended.user.describe()
        ),
    };
    output::print(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_as_at_login_and_user_ids_lowercased() {
        assert_eq!(
            Who::parse(Some("  Ada@Example.COM ".into()), None).ok(),
            Some(Who::Email("ada@example.com".into()))
        );
        assert_eq!(
            Who::parse(None, Some("65F0C0FFEE0123456789ABCD".into())).ok(),
            Some(Who::UserId("65f0c0ffee0123456789abcd".into()))
        );
        assert!(Who::parse(Some("not an email".into()), None).is_err());
        assert!(Who::parse(None, Some("42".into())).is_err());
    }
}
