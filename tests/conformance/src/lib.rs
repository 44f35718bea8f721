//! The conformance suite lives in `tests/`; this library is empty.
