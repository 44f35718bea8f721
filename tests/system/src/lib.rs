//! The system tests live in `tests/e2e/` (one test binary, `e2e`); this crate has no code.
