//! Users in MongoDB: collection `users`, unique index on `email`.
//!
//! Every failure but a duplicate key is [`UserError::Unavailable`] (503): a replica
//! set without a primary too (a step-down or an election: `NotWritablePrimary`,
//! `InterruptedDueToReplStateChange`, no server selectable). Each call is bounded by
//! `mongodb.timeout_ms`, and the driver finds the new primary by itself.

use std::future::IntoFuture;
use std::time::Duration;

use mongodb::bson::{self, doc, oid::ObjectId};
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::options::{ClientOptions, IndexOptions};
use mongodb::{Client, Collection, IndexModel};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;

use crate::configuration::MongoSettings;

/// MongoDB's duplicate-key error code.
const DUPLICATE_KEY: i32 = 11000;

/// A user as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    /// The user's id.
    #[serde(rename = "_id")]
    pub id: ObjectId,
    /// Trimmed, lowercased email.
    pub email: String,
    /// bcrypt hash of the password.
    pub password_hash: String,
    /// When the user signed up.
    pub created_at: bson::DateTime,
    /// False while the email waits for verification (`signup.verify_email`); absent
    /// (accounts made before verification existed) counts as verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
}

impl User {
    /// True unless the account waits for its email to be verified.
    pub fn email_verified(&self) -> bool {
        self.email_verified != Some(false)
    }
}

/// A users-collection call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    /// The email is already registered.
    #[error("email already registered")]
    EmailTaken,
    /// MongoDB failed or did not answer in time.
    #[error("the users database did not answer in time")]
    Unavailable,
}

/// The `users` collection.
#[derive(Debug, Clone)]
pub struct UserRepository {
    client: Client,
    users: Collection<User>,
    timeout: Duration,
    indexed: std::sync::Arc<OnceCell<()>>,
}

impl UserRepository {
    /// Parses the URI and builds the client; nothing is contacted yet.
    pub async fn connect(settings: &MongoSettings) -> Result<Self, mongodb::error::Error> {
        let timeout = Duration::from_millis(settings.timeout_ms.max(1));
        let mut options = ClientOptions::parse(settings.uri.expose_secret()).await?;
        options.app_name = Some("auth-service".into());
        options.server_selection_timeout = Some(timeout);
        options.connect_timeout = Some(timeout);
        let client = Client::with_options(options)?;
        let users = client
            .database(&settings.database)
            .collection::<User>("users");
        Ok(Self {
            client,
            users,
            timeout,
            indexed: std::sync::Arc::new(OnceCell::new()),
        })
    }

    async fn bounded<T>(
        &self,
        what: &'static str,
        call: impl IntoFuture<Output = mongodb::error::Result<T>>,
    ) -> Result<mongodb::error::Result<T>, UserError> {
        tokio::time::timeout(self.timeout, call.into_future())
            .await
            .map_err(|_| {
                tracing::warn!(operation = what, "mongodb call timed out");
                UserError::Unavailable
            })
    }

    fn unavailable(what: &'static str, err: &mongodb::error::Error) -> UserError {
        tracing::warn!(
            operation = what,
            kind = %error_kind_name(err),
            code = server_code(err),
            "mongodb call failed"
        );
        UserError::Unavailable
    }

    /// Creates the unique index on `email` once; later calls return at once.
    pub async fn ensure_indexes(&self) -> Result<(), UserError> {
        self.indexed
            .get_or_try_init(|| async {
                let model = IndexModel::builder()
                    .keys(doc! { "email": 1 })
                    .options(
                        IndexOptions::builder()
                            .unique(true)
                            .name("email_unique".to_owned())
                            .build(),
                    )
                    .build();
                self.bounded("create_index", self.users.create_index(model))
                    .await?
                    .map_err(|e| Self::unavailable("create_index", &e))?;
                tracing::info!("unique index on users.email is in place");
                Ok(())
            })
            .await
            .copied()
    }

    /// Inserts a new user, its email verified or waiting for verification; a
    /// duplicate email is [`UserError::EmailTaken`].
    #[tracing::instrument(skip_all)]
    pub async fn insert(
        &self,
        email: &str,
        password_hash: String,
        email_verified: bool,
    ) -> Result<User, UserError> {
        self.ensure_indexes().await?;
        let user = User {
            id: ObjectId::new(),
            email: email.to_owned(),
            password_hash,
            created_at: bson::DateTime::now(),
            email_verified: Some(email_verified),
        };
        match self.bounded("insert", self.users.insert_one(&user)).await? {
            Ok(_) => Ok(user),
            Err(err) if is_duplicate_key(&err) => Err(UserError::EmailTaken),
            Err(err) => Err(Self::unavailable("insert", &err)),
        }
    }

    /// The user with this (normalised) email, if any.
    #[tracing::instrument(skip_all)]
    pub async fn find_by_email(&self, email: &str) -> Result<Option<User>, UserError> {
        self.bounded("find", self.users.find_one(doc! { "email": email }))
            .await?
            .map_err(|e| Self::unavailable("find", &e))
    }

    /// The user with this id, if any.
    #[tracing::instrument(skip_all)]
    pub async fn find_by_id(&self, id: ObjectId) -> Result<Option<User>, UserError> {
        self.bounded("find", self.users.find_one(doc! { "_id": id }))
            .await?
            .map_err(|e| Self::unavailable("find", &e))
    }

    /// Deletes a user; false when there was none with this id.
    #[tracing::instrument(skip_all)]
    pub async fn delete(&self, id: ObjectId) -> Result<bool, UserError> {
        let deleted = self
            .bounded("delete", self.users.delete_one(doc! { "_id": id }))
            .await?
            .map_err(|e| Self::unavailable("delete", &e))?;
        Ok(deleted.deleted_count == 1)
    }

    /// Replaces a user's password hash (a password change, or a raised bcrypt cost).
    #[tracing::instrument(skip_all)]
    pub async fn update_password_hash(&self, id: ObjectId, hash: &str) -> Result<(), UserError> {
        self.bounded(
            "update",
            self.users.update_one(
                doc! { "_id": id },
                doc! { "$set": { "password_hash": hash } },
            ),
        )
        .await?
        .map_err(|e| Self::unavailable("update", &e))?;
        Ok(())
    }

    /// A password reset: the new hash, and the email verified (the mail reached its
    /// owner). The user as it is now; `None` when there is no such user.
    #[tracing::instrument(skip_all)]
    pub async fn reset_password(
        &self,
        id: ObjectId,
        hash: &str,
    ) -> Result<Option<User>, UserError> {
        self.bounded(
            "update",
            self.users
                .find_one_and_update(
                    doc! { "_id": id },
                    doc! { "$set": { "password_hash": hash, "email_verified": true } },
                )
                .return_document(mongodb::options::ReturnDocument::After),
        )
        .await?
        .map_err(|e| Self::unavailable("update", &e))
    }

    /// Marks the user's email verified; false when there is no such user.
    #[tracing::instrument(skip_all)]
    pub async fn mark_verified(&self, id: ObjectId) -> Result<bool, UserError> {
        let updated = self
            .bounded(
                "update",
                self.users.update_one(
                    doc! { "_id": id },
                    doc! { "$set": { "email_verified": true } },
                ),
            )
            .await?
            .map_err(|e| Self::unavailable("update", &e))?;
        Ok(updated.matched_count == 1)
    }

    /// Answers when MongoDB answers a ping in time.
    pub async fn ping(&self) -> Result<(), UserError> {
        let db = self.users.namespace().db;
        self.bounded(
            "ping",
            self.client.database(&db).run_command(doc! { "ping": 1 }),
        )
        .await?
        .map_err(|e| Self::unavailable("ping", &e))?;
        Ok(())
    }
}

/// True when the server refused a write with the duplicate-key code (11000).
fn is_duplicate_key(err: &mongodb::error::Error) -> bool {
    match err.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(e)) => e.code == DUPLICATE_KEY,
        ErrorKind::Command(e) => e.code == DUPLICATE_KEY,
        ErrorKind::InsertMany(e) => e
            .write_errors
            .as_ref()
            .is_some_and(|errs| errs.iter().any(|w| w.code == DUPLICATE_KEY)),
        _ => false,
    }
}

/// The server's error code, when the server answered with one (e.g. 10107
/// `NotWritablePrimary` from a primary that stepped down), for logs.
fn server_code(err: &mongodb::error::Error) -> Option<i32> {
    match err.kind.as_ref() {
        ErrorKind::Command(e) => Some(e.code),
        ErrorKind::Write(WriteFailure::WriteError(e)) => Some(e.code),
        ErrorKind::Write(WriteFailure::WriteConcernError(e)) => Some(e.code),
        _ => None,
    }
}

/// A short name for the error's kind, for logs (no driver message, no URI).
fn error_kind_name(err: &mongodb::error::Error) -> &'static str {
    match err.kind.as_ref() {
        ErrorKind::ServerSelection { .. } => "server_selection",
        ErrorKind::Io(_) => "io",
        ErrorKind::Authentication { .. } => "authentication",
        ErrorKind::Command(_) => "command",
        ErrorKind::Write(_) => "write",
        ErrorKind::ConnectionPoolCleared { .. } => "pool_cleared",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn the_driver_keeps_credentials_out_of_debug_output() {
        let options = mongodb::options::ClientOptions::parse(
            "mongodb://ada:pa55-s3cret-word@127.0.0.1:1/?directConnection=true",
        )
        .await
        .expect("a valid URI");
        let shown = format!("{options:?}");
        assert!(!shown.contains("pa55-s3cret-word"), "{shown}");
        let client = mongodb::Client::with_options(options).expect("a client");
        assert!(!format!("{client:?}").contains("pa55-s3cret-word"));
    }
}
