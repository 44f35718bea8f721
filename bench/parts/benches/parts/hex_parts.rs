//! Our two hex encoders against `hex::encode_to_slice`, each as the code that uses it:
//! `RequestTrace::trace_id_hex` (trace_context's `push_hex`, 16 bytes into a `String`)
//! and `token_digest` (SHA-256 of a token, 32 bytes of hex; the hash is the same on
//! both sides).

use std::hint::black_box;

use parts_bench::{Knobs, Table, pair};
use service_kit::trace_context::RequestTrace;
use session_core::store::token_digest;
use sha2::{Digest, Sha256};

fn trace_id_hex_with_crate(id: &[u8; 16]) -> String {
    let mut out = [0u8; 32];
    let _ = hex::encode_to_slice(id, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn token_digest_with_crate(token: &str) -> String {
    let hash = Sha256::digest(token.as_bytes());
    let mut out = [0u8; 64];
    let _ = hex::encode_to_slice(hash, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

pub fn run(knobs: &Knobs, table: &mut Table) {
    let trace = RequestTrace::continue_or_start(None);
    assert_eq!(
        trace.trace_id_hex(),
        trace_id_hex_with_crate(&trace.trace_id)
    );
    table.time(
        "hex",
        "ns per trace id as hex (push_hex, 16 bytes)",
        pair(
            knobs.reps,
            || {
                black_box(black_box(&trace).trace_id_hex());
            },
            || {
                black_box(trace_id_hex_with_crate(&black_box(&trace).trace_id));
            },
        ),
    );
    // A session token's length.
    let token = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.".to_owned() + &"x".repeat(260);
    assert_eq!(token_digest(&token), token_digest_with_crate(&token));
    table.time(
        "hex",
        "ns per token_digest (SHA-256 + 32 bytes as hex)",
        pair(
            knobs.reps,
            || {
                black_box(token_digest(black_box(&token)));
            },
            || {
                black_box(token_digest_with_crate(black_box(&token)));
            },
        ),
    );
}
