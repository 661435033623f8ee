//! The OpenAPI document's frame; paths are added by `utoipa_axum` as routes are registered.

use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "opendata — Hà Nội open data API",
        description = "Open data published by Hà Nội's city agencies: every dataset as filterable, sortable, paginated JSON and CSV, with whole-table downloads (CSV, Parquet) and immutable versions.\n\nErrors are JSON everywhere: `{\"error\": {\"code\", \"message\", \"details\"}}`.",
        license(name = "MIT OR Apache-2.0"),
    ),
    tags(
        (name = "datasets", description = "The catalog, dataset metadata, records and downloads"),
        (name = "publishers", description = "The agencies that publish"),
        (name = "publishing", description = "For agencies: datasets, uploads, jobs, keys and the audit log. Send `Authorization: Bearer <key>` with a publisher's API key, or the administrator's token where marked."),
        (name = "health", description = "Liveness and readiness probes"),
    ),
    components(schemas(crate::error::ErrorBody)),
    modifiers(&SecuritySchemes)
)]
pub struct ApiDoc;

/// The two bearer schemes: a publisher's API key, and the administrator's token.
struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = |description: &str| {
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("opaque")
                    .description(Some(description.to_string()))
                    .build(),
            )
        };
        components.add_security_scheme(
            "publisher_key",
            bearer(
                "A publisher's API key (`odk_…`), created by the administrator; writes only that publisher's datasets.",
            ),
        );
        components.add_security_scheme(
            "admin_token",
            bearer("The administrator's token (`OPENDATA_ADMIN_TOKEN`): publishers, keys, the audit log, any dataset."),
        );
    }
}
