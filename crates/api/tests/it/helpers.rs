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
    // Read when the tests run, not when they are built (see `opendata_e2e::workspace_root`).
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
        .join("../..")
}

pub struct TestApp {
    router: Router,
    catalog: Catalog,
    _dir: tempfile::TempDir,
}

impl TestApp {
    pub async fn new() -> Self {
        Self::with_settings(None, None).await
    }

    /// An app with an admin token and, optionally, an upload limit.
    pub async fn with_settings(admin_token: Option<&str>, max_upload_bytes: Option<u64>) -> Self {
        Self::configured(|app| {
            app.admin_token = admin_token.map(opendata_api::auth::AdminToken::new);
            if let Some(max) = max_upload_bytes {
                app.max_upload_bytes = max;
            }
        })
        .await
    }

    /// An app set up by `configure`.
    pub async fn configured(configure: impl FnOnce(&mut App)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(dir.path(), None).await.unwrap();
        let mut app = App::new(catalog.clone());
        configure(&mut app);
        Self { router: router(AppState::new(app)), catalog, _dir: dir }
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    pub fn data_dir(&self) -> &Path {
        self._dir.path()
    }

    /// Any request: `token` as a bearer credential, `body` with `content_type`. Answers the
    /// status and the body as JSON (null when empty).
    pub async fn send(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> (StatusCode, serde_json::Value) {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        let response = self.router.clone().oneshot(request.body(Body::from(body)).unwrap()).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let json = if bytes.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|e| panic!("{method} {uri}: not JSON ({e}): {}", String::from_utf8_lossy(&bytes)))
        };
        (status, json)
    }

    /// `send` with a JSON body.
    pub async fn send_json(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: &serde_json::Value,
    ) -> (StatusCode, serde_json::Value) {
        self.send(method, uri, token, Some("application/json"), serde_json::to_vec(body).unwrap()).await
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

    /// Publish `csv` as a new dataset `id` (of a publisher `so-thu-nghiem`).
    pub async fn with_csv(self, id: &str, title: &str, csv: &str) -> Self {
        let meta: DatasetMetadata = serde_json::from_value(serde_json::json!({
            "id": id, "title": title, "license": "CC0-1.0",
            "publisher": {"id": "so-thu-nghiem", "name": "Sở Thử nghiệm"}
        }))
        .unwrap();
        self.catalog.upsert_dataset(&meta).await.unwrap();
        let bytes = csv.as_bytes().to_vec();
        let source = SourceFile::from_bytes(Some("data.csv"), &bytes);
        let ingested = tokio::task::spawn_blocking(move || {
            opendata_ingest::ingest(&bytes, Some("data.csv"), &Default::default()).unwrap()
        })
        .await
        .unwrap();
        self.catalog.publish(id, ingested, source).await.unwrap();
        self
    }

    /// A GET with `headers`: the status, the answer's headers and its body.
    pub async fn get_with(&self, uri: &str, headers: &[(&str, &str)]) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        self.request("GET", uri, headers).await
    }

    /// Any bodiless request with `headers`: the status, the answer's headers and its body.
    pub async fn request(
        &self,
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
    ) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let mut request = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = self.router.clone().oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
        let (status, headers) = (response.status(), response.headers().clone());
        let body = response.into_body().collect().await.unwrap().to_bytes().to_vec();
        (status, headers, body)
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
