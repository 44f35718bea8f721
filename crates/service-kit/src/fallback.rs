//! The contract's answers for unknown paths (404) and unaccepted methods (405).

use actix_web::{HttpResponse, web};

use session_actix::error_response;
use session_core::error::ErrorCode;

/// Fallback for unknown paths: 404 with the contract's body.
pub async fn not_found() -> HttpResponse {
    error_response(ErrorCode::NotFound)
}

/// Fallback for a known path with another method: 405 with the contract's body.
pub async fn method_not_allowed() -> HttpResponse {
    error_response(ErrorCode::MethodNotAllowed)
}

/// The route pattern of the resource that answered a request, for the metrics.
#[derive(Debug, Clone)]
pub struct RouteLabel(pub std::sync::Arc<str>);

/// A resource whose unmatched methods answer 405 with the contract's body. It carries
/// its pattern as app data, so the metrics label a request by it without matching the
/// path against the routes a second time.
pub fn resource(path: &str) -> actix_web::Resource {
    web::resource(path)
        .app_data(RouteLabel(path.into()))
        .default_service(web::to(method_not_allowed))
}

/// Declares a service's routes once, as `path => { method => handler, ... }` (each
/// path one [`resource`], so its other methods answer 405). Expands to `config`, which
/// mounts them, and `ROUTES`, every `(method, path)` that `config` mounts, so checks
/// such as "every route is in the OpenAPI document" read the same list the server
/// serves.
///
/// ```ignore
/// session_core::routes! {
///     /// Mounts every route of the service.
///     "/me" => { get => me::me },
/// }
/// ```
#[macro_export]
macro_rules! routes {
    ($(#[$meta:meta])* $($path:literal => { $($method:ident => $handler:expr),+ $(,)? }),+ $(,)?) => {
        $(#[$meta])*
        pub fn config(cfg: &mut ::actix_web::web::ServiceConfig) {
            $(
                cfg.service(
                    $crate::fallback::resource($path)
                        $(.route(::actix_web::web::$method().to($handler)))+
                );
            )+
        }

        /// Every route `config` mounts: (lowercase method, path pattern).
        pub const ROUTES: &[(&str, &str)] = &[$($((stringify!($method), $path)),+),+];
    };
}
