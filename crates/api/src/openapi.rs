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
        (name = "health", description = "Liveness and readiness probes"),
    ),
    components(schemas(crate::error::ErrorBody))
)]
pub struct ApiDoc;
