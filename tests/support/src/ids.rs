//! Names no other test uses, so every test isolates itself and the suites run in
//! parallel on the same servers.

/// 32 random hex digits.
pub fn unique_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// An email address no other test signs up with.
pub fn unique_email() -> String {
    format!("user-{}@example.com", unique_id())
}

/// A fresh 24-hex user id (the shape of a MongoDB ObjectId).
pub fn user_id() -> String {
    unique_id()[..24].to_owned()
}

/// A Redis key prefix no other test uses: `test:<name>:<id>:`.
pub fn unique_prefix(name: &str) -> String {
    format!("test:{name}:{}:", unique_id())
}
