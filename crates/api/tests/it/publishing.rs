//! The publishing side in process: who may write what, uploads and their refusals, versions
//! and their changes, withdrawal, metadata edits, the audit log, and recovery after a crash.

use axum::http::StatusCode;
use opendata_catalog::{Actor, JobOptions, NewJob, PublisherRef, SourceFile};
use serde_json::{Value, json};

use crate::helpers::{TestApp, workspace_root};

const ADMIN: &str = "test-admin-token-0123456789";
const DATASET: &str = "/api/v1/datasets/ds-a";
const V1_CSV: &str = "ma,ten,so_luong\n01,Phường Phúc Xá,10\n02,Phường Trúc Bạch,20\n03,Phường Vĩnh Phúc,30\n";

fn fixtures() -> std::path::PathBuf {
    workspace_root().join("../shared/fixtures")
}

/// Two publishers (`pub-a` owns `ds-a`, which has one version), and keys: A's own, B's, and a
/// revoked one of A's.
struct World {
    app: TestApp,
    own: String,
    own_id: String,
    other: String,
    revoked: String,
}

async fn world_with(max_upload_bytes: Option<u64>) -> World {
    let app = TestApp::with_settings(Some(ADMIN), max_upload_bytes).await;
    let catalog = app.catalog();
    for (id, name) in [("pub-a", "Sở A"), ("pub-b", "Sở B")] {
        let p = PublisherRef { id: id.into(), name: name.into(), description: String::new(), homepage: None };
        catalog.create_publisher(&p).await.unwrap();
    }
    let own = catalog.create_key("pub-a", "own").await.unwrap();
    let other = catalog.create_key("pub-b", "other").await.unwrap();
    let revoked = catalog.create_key("pub-a", "old").await.unwrap();
    catalog.revoke_key("pub-a", &revoked.key.id).await.unwrap();
    let (status, body) = app
        .send_json(
            "POST",
            "/api/v1/datasets",
            Some(&own.secret),
            &json!({"id": "ds-a", "title": "Bộ A", "license": "CC-BY-4.0"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = upload(&app, Some(&own.secret), "v1.csv", V1_CSV.as_bytes()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    World { app, own: own.secret, own_id: own.key.id, other: other.secret, revoked: revoked.secret }
}

async fn world() -> World {
    world_with(None).await
}

async fn upload(app: &TestApp, token: Option<&str>, name: &str, bytes: &[u8]) -> (StatusCode, Value) {
    let uri = format!("{DATASET}/versions?wait=true&filename={name}");
    app.send("POST", &uri, token, Some("text/csv"), bytes.to_vec()).await
}

/// The records of `ds-a` as served now (the whole answer).
async fn records(app: &TestApp) -> Value {
    let (status, body) = app.get_json(&format!("{DATASET}/records?limit=1000")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

#[derive(Clone, Copy, Debug)]
enum Cred {
    None,
    Wrong,
    OtherPublisher,
    Revoked,
    Own,
    Admin,
}

impl Cred {
    fn token(self, w: &World) -> Option<String> {
        match self {
            Self::None => None,
            Self::Wrong => Some("odk_not-a-key-anyone-was-given".into()),
            Self::OtherPublisher => Some(w.other.clone()),
            Self::Revoked => Some(w.revoked.clone()),
            Self::Own => Some(w.own.clone()),
            Self::Admin => Some(ADMIN.into()),
        }
    }
}

const CREDS: [Cred; 6] = [Cred::None, Cred::Wrong, Cred::OtherPublisher, Cred::Revoked, Cred::Own, Cred::Admin];

/// Every write endpoint (and the reads that need credentials) × every kind of caller. Each
/// cell runs on a fresh catalog, so a withdrawal or a revocation in one cell cannot decide
/// another.
#[tokio::test]
async fn authorization_matrix() {
    // Expected statuses in the order of CREDS: none, wrong, other publisher's, revoked, own, admin.
    let admin_only = [401, 401, 403, 401, 403];
    let publisher = [401, 401, 403, 401, 200];
    let cases: Vec<(&str, String, Option<Value>, [u16; 6])> = vec![
        ("POST", "/api/v1/publishers".into(), Some(json!({"id": "pub-c", "name": "Sở C"})), with(admin_only, 201)),
        ("POST", "/api/v1/publishers/pub-a/keys".into(), Some(json!({"label": "new"})), with(admin_only, 201)),
        ("GET", "/api/v1/publishers/pub-a/keys".into(), None, with(admin_only, 200)),
        ("DELETE", "/api/v1/publishers/pub-a/keys/{own_id}".into(), None, with(admin_only, 200)),
        ("GET", "/api/v1/audit".into(), None, with(admin_only, 200)),
        (
            "POST",
            "/api/v1/datasets".into(),
            Some(json!({"id": "ds-new", "title": "Mới", "license": "CC0-1.0", "publisher": "pub-a"})),
            [401, 401, 403, 401, 201, 201],
        ),
        ("PATCH", DATASET.into(), Some(json!({"title": "Bộ A (sửa)"})), with(publisher, 200)),
        ("DELETE", format!("{DATASET}?reason=thay%20th%E1%BA%BF"), None, with(publisher, 200)),
        ("POST", format!("{DATASET}/versions?wait=true&filename=v2.csv"), None, [401, 401, 403, 401, 201, 201]),
        ("GET", "/api/v1/jobs/{job}".into(), None, with(publisher, 200)),
    ];
    let reference = state(&world().await).await;
    let mut failures = Vec::new();
    for (method, uri, body, expected) in &cases {
        for (cred, want) in CREDS.iter().zip(expected) {
            let w = world().await;
            let job_id = last_job(&w).await;
            let uri = uri.replace("{own_id}", &w.own_id).replace("{job}", &job_id);
            let token = cred.token(&w);
            let (status, answer) = if uri.contains("/versions") {
                w.app.send(method, &uri, token.as_deref(), Some("text/csv"), b"ma,ten\n01,A\n02,B\n".to_vec()).await
            } else if let Some(body) = body {
                w.app.send_json(method, &uri, token.as_deref(), body).await
            } else {
                w.app.send(method, &uri, token.as_deref(), None, Vec::new()).await
            };
            if status.as_u16() != *want {
                failures.push(format!("{method} {uri} as {cred:?}: {status}, expected {want}: {answer}"));
            }
            // A refused request changed nothing.
            if !status.is_success() && state(&w).await != reference {
                failures.push(format!("{method} {uri} as {cred:?}: refused ({status}) but the catalog changed"));
            }
            if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
                let code = answer["error"]["code"].as_str().unwrap_or_default();
                let expected_code = match cred {
                    Cred::None => "unauthorized",
                    Cred::Wrong => "invalid_credentials",
                    Cred::Revoked => "key_revoked",
                    _ => "forbidden",
                };
                if code != expected_code {
                    failures.push(format!("{method} {uri} as {cred:?}: code {code}, expected {expected_code}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} cells wrong:\n{}", failures.len(), failures.join("\n"));
}

/// What a write could change: publishers, keys and their state, datasets and their metadata,
/// versions. (Key ids and times differ between worlds; their count and state do not.)
async fn state(w: &World) -> Value {
    let c = w.app.catalog();
    let publishers: Vec<String> = c.publishers().await.unwrap().into_iter().map(|p| p.id).collect();
    let mut keys = Vec::new();
    for p in &publishers {
        let mut of_p: Vec<(String, bool)> =
            c.keys(p).await.unwrap().iter().map(|k| (k.label.clone(), k.revoked_at.is_some())).collect();
        of_p.sort();
        keys.push(of_p);
    }
    let (_, datasets) = c.datasets(&opendata_catalog::DatasetQuery { limit: 100, ..Default::default() }).await.unwrap();
    let datasets: Vec<Value> = datasets
        .iter()
        .map(|d| json!({"id": d.metadata.id, "title": d.metadata.title, "withdrawn": d.withdrawn_at.is_some(), "version": d.latest_version}))
        .collect();
    json!({"publishers": publishers, "keys": keys, "datasets": datasets})
}

fn with(first: [u16; 5], admin: u16) -> [u16; 6] {
    [first[0], first[1], first[2], first[3], first[4], admin]
}

/// The id of the most recent job (the world's first upload).
async fn last_job(w: &World) -> String {
    let (_, entries) =
        w.app.catalog().audit(&opendata_catalog::AuditQuery { limit: 100, ..Default::default() }).await.unwrap();
    entries
        .iter()
        .find_map(|e| e.detail["job"].as_str().map(str::to_string))
        .expect("the world's upload is in the audit log with its job")
}

#[tokio::test]
async fn upload_answers_the_version_with_its_changes_and_identical_files_create_nothing() {
    let w = world().await;
    let v2 =
        "ma,ten,so_luong\n01,Phường Phúc Xá,10\n02,Phường Trúc Bạch,25\n03,Phường Vĩnh Phúc,30\n04,Phường Cống Vị,40\n";
    let (status, body) = upload(&w.app, Some(&w.own), "v2.csv", v2.as_bytes()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["version"], 2);
    assert_eq!(body["rows"], 4);
    assert_eq!(body["job"]["state"], "succeeded");
    assert_eq!(body["job"]["report"]["fields"].as_array().unwrap().len(), 3);
    // One row changed in place (02: 20 → 25) and one added.
    assert_eq!(body["changes"]["previous"], 1);
    assert_eq!(body["changes"]["rows_delta"], 1);
    assert_eq!(body["changes"]["rows_added"], 2);
    assert_eq!(body["changes"]["rows_removed"], 1);

    // The same bytes again: 200 and the same version.
    let (status, body) = upload(&w.app, Some(&w.own), "v2-again.csv", v2.as_bytes()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["version"], 2);
    assert_eq!(body["job"]["unchanged"], true);

    // A schema change: a field removed, one added, one retyped.
    let v3 = "ma,ten,ghi_chu\n01,Phường Phúc Xá,x\n";
    let (status, body) = upload(&w.app, Some(&w.own), "v3.csv", v3.as_bytes()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["changes"]["fields_added"], json!(["ghi_chu"]));
    assert_eq!(body["changes"]["fields_removed"], json!(["so_luong"]));
    assert_eq!(body["changes"]["rows_removed"], 3);
    assert_eq!(body["changes"]["rows_added"], 0);

    let (_, versions) = w.app.get_json(&format!("{DATASET}/versions")).await;
    let numbers: Vec<i64> =
        versions["items"].as_array().unwrap().iter().map(|v| v["version"].as_i64().unwrap()).collect();
    assert_eq!(numbers, [3, 2, 1]);
    // Older versions stay readable.
    let (status, page) = w.app.get_json(&format!("{DATASET}/records?version=2&ma=02")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["items"][0]["so_luong"], 25);
}

#[tokio::test]
async fn accepted_upload_is_a_job_to_poll() {
    let w = world().await;
    let uri = format!("{DATASET}/versions?filename=v2.csv");
    let (status, job) = w.app.send("POST", &uri, Some(&w.own), Some("text/csv"), b"ma,ten\n9,X\n".to_vec()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    assert_eq!(job["state"], "queued");
    assert_eq!(job["source"]["name"], "v2.csv");
    assert_eq!(job["source"]["bytes"], 11);
    let link = job["links"]["self"].as_str().unwrap().to_string();
    let mut last = Value::Null;
    for _ in 0..200 {
        let (status, body) = w.app.send("GET", &link, Some(&w.own), None, Vec::new()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        last = body;
        if last["state"] == "succeeded" || last["state"] == "failed" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(last["state"], "succeeded", "{last}");
    assert_eq!(last["version"], 2);
    assert_eq!(last["rows"], 1);
    assert_eq!(last["links"]["version"], format!("{DATASET}/records?version=2"));
    // The upload folder is empty again.
    let left: Vec<_> = std::fs::read_dir(w.app.data_dir().join("uploads")).unwrap().collect();
    assert!(left.is_empty(), "uploads left behind: {left:?}");
}

/// A multipart body with the file and options as parts.
fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "----opendata-test-boundary-7d93";
    let mut body = Vec::new();
    for (name, filename, bytes) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match filename {
            Some(f) => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
            ),
            None => body.extend_from_slice(format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes()),
        }
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn multipart_upload_of_an_agency_workbook_with_options() {
    let w = world().await;
    let xlsx = std::fs::read(fixtures().join("agency/ubnd-hn-don-vi-hanh-chinh.xlsx")).unwrap();
    let (ct, body) = multipart(&[("file", Some("ubnd-hn-don-vi-hanh-chinh.xlsx"), &xlsx), ("sheet", None, b"1")]);
    let (status, answer) =
        w.app.send("POST", &format!("{DATASET}/versions?wait=true"), Some(&w.own), Some(&ct), body).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(answer["rows"], 526);
    assert_eq!(answer["source_name"], "ubnd-hn-don-vi-hanh-chinh.xlsx");
    assert_eq!(answer["job"]["options"]["sheet"], "1");
    assert_eq!(answer["job"]["report"]["format"], "spreadsheet");

    let (ct, body) = multipart(&[("sheet", None, b"1")]);
    let (status, answer) =
        w.app.send("POST", &format!("{DATASET}/versions?wait=true"), Some(&w.own), Some(&ct), body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["error"]["code"], "missing_file");
    // A text part is read with a small cap, never whole (an 800 MB `sheet` part once was).
    let long = vec![b'x'; 64 * 1024];
    let (ct, body) = multipart(&[("sheet", None, &long), ("file", Some("a.csv"), b"a,b\n1,2\n")]);
    let (status, answer) =
        w.app.send("POST", &format!("{DATASET}/versions?wait=true"), Some(&w.own), Some(&ct), body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["error"]["details"], json!({"parameter": "sheet", "max_bytes": 1024}));
    let (ct, body) = multipart(&[("file", Some("a.csv"), b"a,b\n1,2\n"), ("delimiter", None, b";")]);
    let (status, answer) =
        w.app.send("POST", &format!("{DATASET}/versions?wait=true"), Some(&w.own), Some(&ct), body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(answer["error"]["message"].as_str().unwrap().contains("`delimiter`"), "{answer}");
}

/// Every refusal leaves version 1 serving exactly as before.
#[tokio::test]
async fn refused_uploads_answer_their_code_and_publish_nothing() {
    let w = world_with(Some(64 * 1024)).await;
    let before = records(&w.app).await;
    let bad = |name: &str| std::fs::read(fixtures().join("bad").join(name)).unwrap();
    let cases: Vec<(String, Vec<u8>, u16, &str)> = vec![
        ("empty.csv".into(), bad("empty.csv"), 422, "empty_file"),
        ("header-only.csv".into(), bad("header-only.csv"), 422, "no_data_rows"),
        ("ragged.csv".into(), bad("ragged.csv"), 422, "ragged_rows"),
        ("random-bytes.csv".into(), bad("random-bytes.csv"), 422, "not_text"),
        ("truncated.xlsx".into(), bad("truncated.xlsx"), 422, "corrupt_file"),
        ("report.pdf".into(), b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n".to_vec(), 415, "unsupported_format"),
        ("big.csv".into(), "ma,ten\n".repeat(20_000).into_bytes(), 413, "too_large"),
    ];
    for (name, bytes, want, code) in cases {
        let (status, body) = upload(&w.app, Some(&w.own), &name, &bytes).await;
        assert_eq!(
            (status.as_u16(), body["error"]["code"].as_str().unwrap_or_default()),
            (want, code),
            "{name}: {body}"
        );
        if want == 422 {
            assert_eq!(body["error"]["details"]["job"]["state"], "failed", "{name}: {body}");
            assert_eq!(body["error"]["details"]["job"]["error"]["code"], code);
        }
        assert_eq!(records(&w.app).await, before, "{name} changed what is served");
    }
    // The ragged file's message names the line, and the job reports what was understood.
    let (_, body) = upload(&w.app, Some(&w.own), "ragged.csv", &bad("ragged.csv")).await;
    assert!(body["error"]["message"].as_str().unwrap().contains("line 7"), "{body}");
    let report = &body["error"]["details"]["job"]["report"];
    assert_eq!(report["format"], "csv", "{body}");
    assert_eq!(report["source"], "ragged.csv");
    assert!(report["encoding"]["name"].is_string() && report["delimiter"].is_string(), "{report}");
    // A bad option is the caller's mistake: 400.
    let uri = format!("{DATASET}/versions?wait=true&encoding=klingon");
    let (status, body) = w.app.send("POST", &uri, Some(&w.own), Some("text/csv"), b"a,b\n1,2\n".to_vec()).await;
    assert_eq!((status, body["error"]["code"].as_str().unwrap()), (StatusCode::BAD_REQUEST, "bad_option"), "{body}");
    let (_, versions) = w.app.get_json(&format!("{DATASET}/versions")).await;
    assert_eq!(versions["items"].as_array().unwrap().len(), 1);
    let left: Vec<_> = std::fs::read_dir(w.app.data_dir().join("uploads")).unwrap().collect();
    assert!(left.is_empty(), "uploads left behind: {left:?}");
}

#[tokio::test]
async fn create_dataset_checks_its_metadata() {
    let w = world().await;
    let post = |body: Value| {
        let app = &w.app;
        let own = w.own.clone();
        async move { app.send_json("POST", "/api/v1/datasets", Some(&own), &body).await }
    };
    let (status, body) = post(json!({"id": "ds-x", "title": "X", "license": "All rights reserved"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["error"]["message"].as_str().unwrap().contains("CC-BY-4.0"), "{body}");
    let (status, body) = post(json!({"id": "ds-x", "title": "X", "licence": "CC-BY-4.0"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"]["message"].as_str().unwrap().contains("licence"), "{body}");
    let (status, body) = post(json!({"id": "Bộ X", "title": "X", "license": "CC-BY-4.0"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = post(json!({"id": "ds-a", "title": "X", "license": "CC-BY-4.0"})).await;
    assert_eq!((status, body["error"]["code"].as_str().unwrap()), (StatusCode::CONFLICT, "dataset_exists"));
    let (status, _) = w.app.send("POST", "/api/v1/datasets", Some(&w.own), Some("text/plain"), b"{}".to_vec()).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // The admin names the publisher.
    let (status, body) = w
        .app
        .send_json("POST", "/api/v1/datasets", Some(ADMIN), &json!({"id": "ds-y", "title": "Y", "license": "CC0-1.0"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = w
        .app
        .send_json(
            "POST",
            "/api/v1/datasets",
            Some(ADMIN),
            &json!({"id": "ds-y", "title": "Y", "license": "CC0-1.0", "publisher": "pub-b", "keywords": ["thử"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["publisher"]["name"], "Sở B");
    assert_eq!(body["version"], Value::Null);
}

#[tokio::test]
async fn patch_merges_metadata_and_keeps_id_and_publisher() {
    let w = world().await;
    let patch =
        json!({"description": "Mô tả mới", "keywords": ["phường", "xã"], "contact": {"email": "a@hanoi.gov.vn"}});
    let (status, body) = w
        .app
        .send("PATCH", DATASET, Some(&w.own), Some("application/merge-patch+json"), patch.to_string().into_bytes())
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["description"], "Mô tả mới");
    assert_eq!(body["title"], "Bộ A");
    assert_eq!(body["contact"]["email"], "a@hanoi.gov.vn");
    let (_, found) = w.app.get_json("/api/v1/datasets?q=phuong").await;
    assert_eq!(found["items"][0]["id"], "ds-a", "edited keywords are searchable: {found}");
    let (status, body) = w
        .app
        .send_json("PATCH", DATASET, Some(&w.own), &json!({"contact": {"email": null}, "description": null}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["contact"]["email"], Value::Null);
    assert_eq!(body["description"], "");
    for field in ["id", "publisher"] {
        let (status, body) = w.app.send_json("PATCH", DATASET, Some(&w.own), &json!({field: "khac"})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(body["error"]["message"].as_str().unwrap().contains(&format!("`{field}`")), "{body}");
    }
    let (status, _) = w.app.send_json("PATCH", DATASET, Some(&w.own), &json!({"license": "proprietary"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn withdrawn_dataset_answers_410_with_its_reason_and_keeps_its_versions() {
    let w = world().await;
    let (status, body) = w.app.send("DELETE", DATASET, Some(&w.own), None, Vec::new()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a reason is required: {body}");
    let reason = json!({"reason": "Thay bằng bộ dữ liệu ds-b"});
    let (status, body) = w.app.send_json("DELETE", DATASET, Some(&w.own), &reason).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["versions_kept"], 1);
    for path in [
        DATASET.to_string(),
        format!("{DATASET}/records"),
        format!("{DATASET}/versions"),
        format!("{DATASET}/download?format=csv"),
    ] {
        let (status, body) = w.app.get_json(&path).await;
        assert_eq!(status, StatusCode::GONE, "{path}");
        assert!(body["error"]["message"].as_str().unwrap().contains("Thay bằng bộ dữ liệu ds-b"), "{body}");
        assert!(body["error"]["message"].as_str().unwrap().contains("by its publisher"), "{body}");
        let details = &body["error"]["details"];
        assert_eq!(
            (&details["dataset"], &details["reason"], &details["withdrawn_by"], &details["publisher"]),
            (&json!("ds-a"), &json!("Thay bằng bộ dữ liệu ds-b"), &json!("publisher"), &json!("pub-a")),
            "{path}: {body}"
        );
        assert!(details["withdrawn_at"].as_str().is_some_and(|t| t.starts_with("20")), "{body}");
    }
    let (_, list) = w.app.get_json("/api/v1/datasets").await;
    assert_eq!(list["total"], 0);
    assert_eq!(w.app.catalog().versions("ds-a").await.unwrap().len(), 1);
    let (status, _) = upload(&w.app, Some(&w.own), "v2.csv", b"a,b\n1,2\n").await;
    assert_eq!(status, StatusCode::GONE);
    let (status, _) = w
        .app
        .send_json("POST", "/api/v1/datasets", Some(&w.own), &json!({"id": "ds-a", "title": "A", "license": "CC0-1.0"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "a withdrawn dataset's id stays taken");
}

#[tokio::test]
async fn an_administrators_withdrawal_says_so_and_a_body_member_given_twice_is_refused() {
    let w = world().await;
    let (status, body) = w
        .app
        .send("DELETE", DATASET, Some(ADMIN), Some("application/json"), br#"{"reason": "a", "reason": "b"}"#.to_vec())
        .await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_body")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("`reason` appears twice"), "{body}");
    let (status, body) =
        w.app.send_json("DELETE", DATASET, Some(ADMIN), &json!({"reason": "Dữ liệu cá nhân lộ ra"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = w.app.get_json(DATASET).await;
    assert_eq!(status, StatusCode::GONE);
    assert_eq!(body["error"]["details"]["withdrawn_by"], "admin");
    assert!(body["error"]["message"].as_str().unwrap().contains("by the platform's administrator"), "{body}");
    let (status, body) = w
        .app
        .send(
            "POST",
            "/api/v1/datasets",
            Some(&w.own),
            Some("application/json"),
            br#"{"id": "x", "id": "y", "title": "T", "license": "CC0-1.0"}"#.to_vec(),
        )
        .await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_body")), "{body}");
}

#[tokio::test]
async fn audit_log_records_every_write_and_filters_by_publisher() {
    let w = world().await;
    let (status, _) = w.app.send_json("PATCH", DATASET, Some(&w.other), &json!({"title": "hijack"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = w.app.send_json("PATCH", DATASET, None, &json!({"title": "anon"})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, key) =
        w.app.send_json("POST", "/api/v1/publishers/pub-b/keys", Some(ADMIN), &json!({"label": "ci"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let secret = key["key_secret"].as_str().unwrap();
    assert!(secret.starts_with("odk_") && secret.len() >= 4 + 43, "256 bits of secret: {secret}");

    // Everything about pub-a's dataset, refused attempts included, newest first. The upload's
    // job leaves its own entry, before the upload's answer.
    let (status, log) = w.app.send("GET", "/api/v1/audit?publisher=pub-a", Some(ADMIN), None, Vec::new()).await;
    assert_eq!(status, StatusCode::OK);
    let rows = |log: &Value| -> Vec<(String, u64, String)> {
        log["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["action"].as_str().unwrap().into(),
                    e["status"].as_u64().unwrap(),
                    e["actor"].as_str().unwrap().into(),
                )
            })
            .collect()
    };
    let expected: Vec<(String, u64, String)> = [
        ("PATCH /api/v1/datasets/{id}", 401, "anonymous"),
        ("PATCH /api/v1/datasets/{id}", 403, "key"),
        ("POST /api/v1/datasets/{id}/versions", 201, "key"),
        ("job finished", 201, "key"),
        ("POST /api/v1/datasets", 201, "key"),
    ]
    .iter()
    .map(|(a, s, k)| (a.to_string(), *s, k.to_string()))
    .collect();
    assert_eq!(rows(&log), expected);
    let refused = &log["items"][1];
    assert_eq!(refused["detail"]["error"], "forbidden");
    assert_eq!(refused["target"], DATASET);
    assert_eq!(refused["key_publisher"], "pub-b");
    let other_key_id =
        w.app.catalog().keys("pub-b").await.unwrap().into_iter().find(|k| k.label == "other").unwrap().id;
    assert_eq!(refused["key_id"], other_key_id.as_str());
    let upload = &log["items"][2];
    assert_eq!(upload["key_id"], w.own_id.as_str());
    assert_eq!(upload["detail"]["version"], 1);
    assert_eq!(upload["detail"]["file"], "v1.csv");
    assert!(upload["detail"]["job"].as_str().unwrap().starts_with("job_"));
    assert_eq!(log["items"][3]["detail"]["job"], upload["detail"]["job"]);

    // pub-b's filter shows what was done to it and what its keys tried elsewhere.
    let (_, log) = w.app.send("GET", "/api/v1/audit?publisher=pub-b", Some(ADMIN), None, Vec::new()).await;
    let expected: Vec<(String, u64, String)> =
        [("POST /api/v1/publishers/{publisher}/keys", 201, "admin"), ("PATCH /api/v1/datasets/{id}", 403, "key")]
            .iter()
            .map(|(a, s, k)| (a.to_string(), *s, k.to_string()))
            .collect();
    assert_eq!(rows(&log), expected);
    assert_eq!(log["items"][0]["key_id"], Value::Null);
    // Reads are not writes: not logged.
    let (_, all) = w.app.send("GET", "/api/v1/audit?limit=1", Some(ADMIN), None, Vec::new()).await;
    assert_eq!(all["total"], 6);
    assert!(all["links"]["next"].as_str().unwrap().contains("offset=1"));
}

#[tokio::test]
async fn revoked_key_stops_working_at_once() {
    let w = world().await;
    let uri = format!("/api/v1/publishers/pub-a/keys/{}", w.own_id);
    let (status, body) = w.app.send("DELETE", &uri, Some(ADMIN), None, Vec::new()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["revoked_at"].is_string());
    let (status, body) = w.app.send_json("PATCH", DATASET, Some(&w.own), &json!({"title": "x"})).await;
    assert_eq!((status, body["error"]["code"].as_str().unwrap()), (StatusCode::UNAUTHORIZED, "key_revoked"));
    let (_, keys) = w.app.send("GET", "/api/v1/publishers/pub-a/keys", Some(ADMIN), None, Vec::new()).await;
    assert!(
        keys["items"].as_array().unwrap().iter().all(|k| k.get("key_secret").is_none() && k["revoked_at"].is_string())
    );
    let (status, _) = w.app.send("DELETE", "/api/v1/publishers/pub-a/keys/nope", Some(ADMIN), None, Vec::new()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn without_an_admin_token_admin_endpoints_are_closed() {
    let app = TestApp::new().await;
    let (status, body) = app.send_json("POST", "/api/v1/publishers", Some(""), &json!({"id": "p", "name": "P"})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, _) =
        app.send_json("POST", "/api/v1/publishers", Some("anything"), &json!({"id": "p", "name": "P"})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// What a kill leaves behind is cleaned up at the next start: jobs marked failed, uploads and
/// Parquet files no version row refers to removed, committed versions untouched.
#[tokio::test]
async fn recovery_fails_interrupted_jobs_and_removes_orphans() {
    let w = world().await;
    let catalog = w.app.catalog();
    let job = catalog
        .create_job(NewJob {
            dataset_id: "ds-a".into(),
            actor: Actor::Key,
            key_id: Some(w.own_id.clone()),
            source: SourceFile::from_bytes(Some("v2.csv"), b"a\n1\n"),
            options: JobOptions::default(),
        })
        .await
        .unwrap();
    let data = w.app.data_dir();
    let upload_dir = catalog.new_upload_dir().unwrap();
    std::fs::write(upload_dir.join("v2.csv"), "a\n1\n").unwrap();
    std::fs::write(data.join("blobs/ds-a/v2-0123456789ab.parquet"), b"PAR1 half a file").unwrap();
    std::fs::write(data.join("blobs/ds-a/v2-0123456789ab.parquet.tmp-42"), b"PAR1").unwrap();
    let before = records(&w.app).await;

    let recovery = catalog.recover().await.unwrap();
    assert_eq!(recovery.jobs_failed, 1);
    assert_eq!(recovery.files_removed, 3);
    let job = catalog.job(&job.id).await.unwrap();
    assert_eq!(job.state, opendata_catalog::JobState::Failed);
    assert_eq!(job.error.unwrap().code, "interrupted");
    let blobs: Vec<String> = std::fs::read_dir(data.join("blobs/ds-a"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(blobs.len(), 1, "{blobs:?}");
    assert!(std::fs::read_dir(data.join("uploads")).unwrap().next().is_none());
    assert_eq!(records(&w.app).await, before);
}

#[tokio::test]
async fn cursor_pins_its_version_across_a_publish_and_belongs_to_its_dataset() {
    let w = world().await;
    let (_, first) = w.app.get_json(&format!("{DATASET}/records?limit=1&sort=ma")).await;
    let next = first["links"]["next"].as_str().unwrap().to_string();
    let v2 = "ma,ten,so_luong\n011,Phường Cống Vị,1\n012,Phường Điện Biên,2\n";
    assert_eq!(upload(&w.app, Some(&w.own), "v2.csv", v2.as_bytes()).await.0, StatusCode::CREATED);
    let (status, second) = w.app.get_json(&next).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!((second["version"].as_i64(), second["items"][0]["ma"].as_str()), (Some(1), Some("02")));
    let (_, latest) = w.app.get_json(&format!("{DATASET}/records?limit=1&sort=ma")).await;
    assert_eq!((latest["version"].as_i64(), latest["items"][0]["ma"].as_str()), (Some(2), Some("011")));

    let token = next.split("cursor=").nth(1).unwrap();
    let create = json!({"id": "ds-b", "title": "B", "license": "CC0-1.0"});
    assert_eq!(w.app.send_json("POST", "/api/v1/datasets", Some(&w.own), &create).await.0, StatusCode::CREATED);
    let uri = "/api/v1/datasets/ds-b/versions?wait=true&filename=b.csv";
    let (status, _) = w.app.send("POST", uri, Some(&w.own), Some("text/csv"), V1_CSV.as_bytes().to_vec()).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = w.app.get_json(&format!("/api/v1/datasets/ds-b/records?limit=1&sort=ma&cursor={token}")).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_cursor")));
}

#[tokio::test]
async fn decomposed_text_finds_composed_values_and_semicolon_csv_has_decimal_commas() {
    let w = world().await;
    let csv = "ma,ten,ty_le\n01,Phường Phúc Xá,7.5\n02,Phường Trúc Bạch,12.25\n";
    assert_eq!(upload(&w.app, Some(&w.own), "v2.csv", csv.as_bytes()).await.0, StatusCode::CREATED);
    // "Phường Phúc Xá" as macOS and some input methods send it: decomposed (NFD).
    let nfd = "Phu\u{31b}o\u{31b}\u{300}ng Phu\u{301}c Xa\u{301}";
    let encoded: String = form_urlencoded::byte_serialize(nfd.as_bytes()).collect();
    let (_, by_filter) = w.app.get_json(&format!("{DATASET}/records?ten={encoded}")).await;
    assert_eq!(by_filter["total"], 1, "{by_filter}");
    let where_: String = form_urlencoded::byte_serialize(format!("ten = '{nfd}'").as_bytes()).collect();
    let (_, by_where) = w.app.get_json(&format!("{DATASET}/records?where={where_}")).await;
    assert_eq!(by_where["total"], 1, "{by_where}");
    let (status, body) = w.app.get(&format!("{DATASET}/records?format=csv&delimiter=%3B&sort=ma")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        String::from_utf8(body).unwrap(),
        "ma;ten;ty_le\r\n01;Phường Phúc Xá;7,5\r\n02;Phường Trúc Bạch;12,25\r\n"
    );
    // Names that would collide are refused as the caller's mistake, not a 500.
    for bad in ["group_by=ten,ten", "group_by=ten&select=count(*)%20as%20ten"] {
        let (status, body) = w.app.get_json(&format!("{DATASET}/records?{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    let (status, body) = w.app.get_json(&format!("{DATASET}/records?offset=99999999999999999")).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_offset")));
}
