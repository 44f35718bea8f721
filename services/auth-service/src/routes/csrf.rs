//! The `X-CSRF-Token` header as the OpenAPI document describes it, for the annotations
//! of the unsafe operations a cookie may authenticate.

use utoipa::IntoParams;
use utoipa::openapi::Required;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};

/// The optional `X-CSRF-Token` header of the unsafe operations a cookie may authenticate.
pub(crate) struct CsrfHeader;

impl IntoParams for CsrfHeader {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            ParameterBuilder::new()
                .name("X-CSRF-Token")
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .description(Some(service_kit::openapi::CSRF_HEADER_DOC))
                .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                .build(),
        ]
    }
}
