//! The OpenAPI checks every service's suite makes, written once: the document the code
//! generates equals the copy committed under `docs/openapi/`, is OpenAPI 3.1, and
//! names exactly the routes the service mounts.

use std::collections::BTreeSet;
use std::path::PathBuf;

use service_kit::openapi::{
    OpenApiDocument, SERVER_ROUTES, check_committed, check_document, operations, template,
};

/// Panics unless `generated` equals `docs/openapi/{service}.json`; with
/// `UPDATE_OPENAPI` set, rewrites the copy instead. `regenerate` is the command that
/// does so, shown when they differ.
pub fn assert_committed(service: &str, generated: &OpenApiDocument, regenerate: &str) {
    let committed = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs/openapi")
        .join(format!("{service}.json"));
    check_committed(generated.bytes(), &committed, regenerate);
}

/// Panics unless `generated` is a well-formed OpenAPI 3.1 document whose operations
/// are exactly `routes` (lowercase method, path) and the shared server's own.
pub fn assert_names_routes(generated: &OpenApiDocument, routes: &[(&str, &str)]) {
    let document: serde_json::Value =
        serde_json::from_slice(generated.bytes()).expect("the document is JSON");
    check_document(&document);
    let mounted: BTreeSet<(String, String)> = routes
        .iter()
        .chain(SERVER_ROUTES)
        .map(|(method, path)| ((*method).to_owned(), template(path)))
        .collect();
    assert_eq!(
        operations(&document),
        mounted,
        "the document's operations are not the routes the service mounts"
    );
}
