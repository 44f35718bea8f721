//! The wire types of the auth-service's `POST /introspect`.

use serde::{Deserialize, Serialize};

/// Body of `POST /introspect`: a token, or in seed mode a userId.
#[derive(Debug, Serialize, Deserialize)]
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
#[serde(rename_all = "camelCase")]
pub struct IntrospectResponse {
    /// Whether the session is live.
    pub active: bool,
    /// The user's id, when active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
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
