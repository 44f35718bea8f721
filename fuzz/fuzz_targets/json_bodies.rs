//! The login / sign-up and introspection JSON bodies, decoded as the services decode
//! them, then checked as sign-up checks them: never a panic.
#![no_main]

use auth_service::accounts::{check_password, normalize_email};
use auth_service::routes::Credentials;
use libfuzzer_sys::fuzz_target;
use session_core::introspection::IntrospectRequest;

fuzz_target!(|data: &[u8]| {
    if let Ok(body) = serde_json::from_slice::<Credentials>(data) {
        if let Ok(email) = normalize_email(&body.email) {
            assert!(email.contains('@') && email.chars().count() <= 254);
            assert_eq!(email, email.to_lowercase());
        }
        if check_password(&body.password).is_ok() {
            assert!((8..=72).contains(&body.password.len()));
        }
    }
    let _ = serde_json::from_slice::<IntrospectRequest>(data);
});
