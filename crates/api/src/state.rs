//! Shared application state.

use std::ops::Deref;
use std::sync::Arc;

use opendata_catalog::Catalog;

use crate::auth::AdminToken;

/// Everything a handler may need, built once at start-up.
#[derive(Debug)]
pub struct App {
    /// Metadata store and blob store.
    pub catalog: Catalog,
    /// The administrator's token (`OPENDATA_ADMIN_TOKEN`); admin endpoints answer 403 without it.
    pub admin_token: Option<AdminToken>,
    /// Largest upload accepted (`OPENDATA_MAX_UPLOAD_BYTES`).
    pub max_upload_bytes: u64,
}

/// Uploads up to 1 GiB unless configured otherwise.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 1 << 30;

impl App {
    pub fn new(catalog: Catalog) -> Self {
        Self { catalog, admin_token: None, max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES }
    }
}

/// Cheap to clone handle on [`App`], the axum state of every route.
#[derive(Debug, Clone)]
pub struct AppState(pub Arc<App>);

impl AppState {
    pub fn new(app: App) -> Self {
        Self(Arc::new(app))
    }
}

impl Deref for AppState {
    type Target = App;

    fn deref(&self) -> &App {
        &self.0
    }
}
