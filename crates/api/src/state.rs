//! Shared application state.

use std::ops::Deref;
use std::sync::Arc;

use opendata_catalog::Catalog;

/// Everything a handler may need, built once at start-up.
#[derive(Debug)]
pub struct App {
    /// Metadata store and blob store.
    pub catalog: Catalog,
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
