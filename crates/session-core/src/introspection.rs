//! The wire both services speak: the `X-Request-Id` header and the body types of the
//! auth-service's `POST /introspect`, with their conversions from and to the domain's
//! [`Credential`] and [`Session`].

use serde::{Deserialize, Serialize};

use crate::credential::{self, Credential};
use crate::session::Session;

/// The `X-Request-Id` header name: taken from a request or made, returned on the
/// response, forwarded on calls between the services.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Body of `POST /introspect`: a token, or in seed mode a userId.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct IntrospectRequest {
    /// The bearer token to check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Seed mode: the userId whose session to check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

/// Answer of `POST /introspect`.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct IntrospectResponse {
    /// Whether the session is live.
    pub active: bool,
    /// The user's id, when active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The session's id, when active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// The user's email, when active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Issued at (epoch seconds), when active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// Expires at (epoch seconds), when active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
}

impl From<&Credential> for IntrospectRequest {
    fn from(credential: &Credential) -> Self {
        match credential {
            Credential::Bearer(token) => Self {
                token: Some(token.clone()),
                user_id: None,
            },
            Credential::UserId(user_id) => Self {
                token: None,
                user_id: Some(user_id.clone()),
            },
        }
    }
}

impl IntrospectRequest {
    /// The credential asked about: the token, else a well-formed userId (lowercased);
    /// `None` when the body names neither.
    pub fn into_credential(self) -> Option<Credential> {
        match self {
            Self {
                token: Some(token), ..
            } => Some(Credential::Bearer(token)),
            Self {
                user_id: Some(user_id),
                ..
            } if credential::is_user_id(&user_id) => {
                Some(Credential::UserId(user_id.to_ascii_lowercase()))
            }
            _ => None,
        }
    }
}

impl From<&Session> for IntrospectResponse {
    fn from(session: &Session) -> Self {
        Self {
            active: true,
            user_id: Some(session.user_id.clone()),
            session_id: Some(session.session_id.clone()),
            email: Some(session.email.clone()),
            iat: Some(session.issued_at),
            exp: Some(session.absolute_expires_at),
        }
    }
}

/// What an introspection answer says, read back on the caller's side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Introspected {
    /// A live session.
    Active(Session),
    /// Not a live session.
    Inactive,
    /// `active: true` without every field the contract promises.
    Incomplete,
}

impl IntrospectResponse {
    /// The answer for a credential that is not a live session.
    pub fn inactive() -> Self {
        Self {
            active: false,
            user_id: None,
            session_id: None,
            email: None,
            iat: None,
            exp: None,
        }
    }

    /// Reads the answer back as a session carrying `token` (empty for a userId).
    pub fn into_session(self, token: String) -> Introspected {
        match self {
            Self {
                active: true,
                user_id: Some(user_id),
                session_id,
                email: Some(email),
                iat: Some(issued_at),
                exp: Some(expires_at),
            } => Introspected::Active(Session {
                user_id,
                session_id: session_id.unwrap_or_default(),
                email,
                issued_at,
                expires_at,
                absolute_expires_at: expires_at,
                token,
            }),
            Self { active: false, .. } => Introspected::Inactive,
            _ => Introspected::Incomplete,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_round_trips_through_the_wire_types() {
        let session = Session {
            user_id: "0123456789abcdef01234567".into(),
            session_id: "s".repeat(22),
            email: "ada@example.com".into(),
            issued_at: 1,
            expires_at: 2,
            absolute_expires_at: 2,
            token: "t".into(),
        };
        let answer = IntrospectResponse::from(&session);
        assert_eq!(
            answer.into_session("t".into()),
            Introspected::Active(session)
        );
        assert_eq!(
            IntrospectResponse::inactive().into_session(String::new()),
            Introspected::Inactive
        );
        let partial = IntrospectResponse {
            email: None,
            ..IntrospectResponse::from(&Session {
                user_id: "u".into(),
                session_id: String::new(),
                email: "e".into(),
                issued_at: 1,
                expires_at: 2,
                absolute_expires_at: 2,
                token: String::new(),
            })
        };
        assert_eq!(
            partial.into_session(String::new()),
            Introspected::Incomplete
        );
    }

    #[test]
    fn requests_carry_a_token_or_a_well_formed_user_id() {
        let bearer = Credential::Bearer("tok".into());
        assert_eq!(
            IntrospectRequest::from(&bearer).into_credential(),
            Some(bearer)
        );
        let upper = IntrospectRequest {
            token: None,
            user_id: Some("0123456789ABCDEF01234567".into()),
        };
        assert_eq!(
            upper.into_credential(),
            Some(Credential::UserId("0123456789abcdef01234567".into()))
        );
        let bad = IntrospectRequest {
            token: None,
            user_id: Some("nope".into()),
        };
        assert_eq!(bad.into_credential(), None);
    }
}
