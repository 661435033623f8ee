//! `TestApp`: a catalog in a temporary folder with bundled datasets published into it.

use std::path::{Path, PathBuf};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use opendata_api::{App, AppState, router};
use opendata_catalog::{Catalog, DatasetMetadata, SourceFile};
use tower::ServiceExt;

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub struct TestApp {
    router: Router,
    catalog: Catalog,
    _dir: tempfile::TempDir,
}

impl TestApp {
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(dir.path(), None).await.unwrap();
        let router = router(AppState::new(App { catalog: catalog.clone() }));
        Self { router, catalog, _dir: dir }
    }

    /// Publish `datasets/<name>` (its metadata and its one data file).
    pub async fn with_dataset(self, name: &str) -> Self {
        let folder = workspace_root().join("datasets").join(name);
        let meta: DatasetMetadata =
            serde_json::from_str(&std::fs::read_to_string(folder.join("metadata.json")).unwrap()).unwrap();
        let file = std::fs::read_dir(&folder)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.file_name().unwrap() != "metadata.json")
            .unwrap();
        let bytes = std::fs::read(&file).unwrap();
        let file_name = file.file_name().unwrap().to_string_lossy().into_owned();
        let catalog = &self.catalog;
        catalog.upsert_dataset(&meta).await.unwrap();
        let source = SourceFile::from_bytes(Some(&file_name), &bytes);
        let ingested = tokio::task::spawn_blocking(move || {
            opendata_ingest::ingest(&bytes, Some(&file_name), &Default::default()).unwrap()
        })
        .await
        .unwrap();
        catalog.publish(&meta.id, ingested, source).await.unwrap();
        self
    }

    pub async fn get(&self, uri: &str) -> (StatusCode, Vec<u8>) {
        let response = self.router.clone().oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes().to_vec();
        (status, body)
    }

    pub async fn get_json(&self, uri: &str) -> (StatusCode, serde_json::Value) {
        let (status, body) = self.get(uri).await;
        let json = serde_json::from_slice(&body)
            .unwrap_or_else(|e| panic!("{uri}: not JSON ({e}): {}", String::from_utf8_lossy(&body)));
        (status, json)
    }
}
