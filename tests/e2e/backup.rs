//! Keeping the data safe: backups taken while a running server publishes uploads, a restore
//! into a fresh folder that verifies and serves the same datasets and records, and `verify`
//! naming the dataset and version of a changed file.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use opendata_e2e::{Server, opendata, workspace_root};
use reqwest::Client;
use serde_json::{Value, json};

const ADMIN: &str = "e2e-admin-token-backup-3f9a";
const DATASET: &str = "bo-sao-luu";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn path(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// A small CSV whose rows carry `marker`: each upload is a new version.
fn marked_csv(marker: usize) -> Vec<u8> {
    let mut s = String::from("lan,ma,ten,so_tien\n");
    for i in 0..40 {
        s.push_str(&format!("{marker},HS{i:05},Hồ sơ {i} của lần {marker},{}\n", 1000 + i * marker));
    }
    s.into_bytes()
}

async fn send(client: &Client, server: &Server, method: reqwest::Method, url: &str, token: &str, body: Value) -> Value {
    let response = client.request(method, server.url(url)).bearer_auth(token).json(&body).send().await.unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{url}: {status} {body}");
    body
}

async fn get_json(client: &Client, server: &Server, url: &str) -> Value {
    let response = client.get(server.url(url)).send().await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    response.json().await.unwrap()
}

fn dataset_ids(list: &Value) -> Vec<String> {
    let mut ids: Vec<String> =
        list["items"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap().to_string()).collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backups_during_uploads_restore_verify_and_serve_the_same_data() {
    // The bundled datasets, served with an agency that uploads through the API.
    let data = tempfile::tempdir().unwrap();
    let live_dir = path(data.path());
    let published = opendata(&["publish", "--data-dir", &live_dir, &path(&workspace_root().join("datasets"))]);
    assert!(published.status.success(), "{}", text(&published.stderr));
    let server = Arc::new(Server::start_with_env(data, &[("OPENDATA_ADMIN_TOKEN", ADMIN)]));
    let client = Client::new();
    use reqwest::Method;
    send(
        &client,
        &server,
        Method::POST,
        "/api/v1/publishers",
        ADMIN,
        json!({"id": "so-sao-luu", "name": "Sở Sao lưu"}),
    )
    .await;
    let key = send(&client, &server, Method::POST, "/api/v1/publishers/so-sao-luu/keys", ADMIN, json!({})).await;
    let key = key["key_secret"].as_str().unwrap().to_string();
    let dataset = json!({"id": DATASET, "title": "Bộ dữ liệu sao lưu", "license": "CC-BY-4.0"});
    send(&client, &server, Method::POST, "/api/v1/datasets", &key, dataset).await;

    // Uploads one after another, each waited for, until told to stop (60 at most).
    let (stop, uploaded) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)));
    let uploader = {
        let (stop, uploaded, server, client) = (stop.clone(), uploaded.clone(), server.clone(), client.clone());
        tokio::spawn(async move {
            for marker in 1..=60 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let url =
                    server.url(&format!("/api/v1/datasets/{DATASET}/versions?filename=lan-{marker}.csv&wait=true"));
                let response = client
                    .post(url)
                    .bearer_auth(&key)
                    .header("content-type", "text/csv")
                    .body(marked_csv(marker))
                    .send()
                    .await
                    .expect("upload");
                let status = response.status();
                let body: Value = response.json().await.unwrap_or(Value::Null);
                assert_eq!(status, 201, "upload {marker}: {body}");
                assert_eq!(body["version"], marker, "{body}");
                uploaded.store(marker, Ordering::SeqCst);
            }
        })
    };
    let wait_for = |n: usize| {
        let uploaded = uploaded.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(120);
            while uploaded.load(Ordering::SeqCst) < n {
                assert!(Instant::now() < deadline, "uploads stalled at {}", uploaded.load(Ordering::SeqCst));
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    };

    // Three backups while versions are being published; each checked as a folder of its own.
    let backups = tempfile::tempdir().unwrap();
    let mut taken = Vec::new();
    for round in 0..3 {
        wait_for(2 + round * 2).await;
        let dest = backups.path().join(format!("b{round}"));
        let before = uploaded.load(Ordering::SeqCst);
        let started = Instant::now();
        let out = {
            let (live, dest) = (live_dir.clone(), path(&dest));
            tokio::task::spawn_blocking(move || opendata(&["backup", "--data-dir", &live, &dest])).await.unwrap()
        };
        let elapsed = started.elapsed();
        let after = uploaded.load(Ordering::SeqCst);
        assert!(out.status.success(), "backup {round}: {}{}", text(&out.stdout), text(&out.stderr));
        let report = text(&out.stdout);
        assert!(report.contains("each checked against its sha256"), "{report}");
        eprintln!("backup {round} ({before}..{after} uploads done meanwhile) in {elapsed:?}:\n{report}");
        let verified = opendata(&["verify", "--data-dir", &path(&dest)]);
        assert!(verified.status.success(), "{}{}", text(&verified.stdout), text(&verified.stderr));
        taken.push((dest, before, after));
    }
    // Uploads go on after the last backup: the live folder moves past it.
    let last_after = taken.last().unwrap().2;
    wait_for(last_after + 2).await;
    stop.store(true, Ordering::Relaxed);
    uploader.await.unwrap();
    let uploads = uploaded.load(Ordering::SeqCst);

    // `verify` beside the running server, which holds the folder's lock.
    let verified = opendata(&["verify", "--data-dir", &live_dir]);
    let report = text(&verified.stdout);
    assert!(verified.status.success(), "{report}{}", text(&verified.stderr));
    assert!(
        report.contains(&format!("verified {} versions, ", uploads + 3)) && report.contains(": all match"),
        "{report}"
    );

    // Refusals that change nothing.
    let (dest, before, after) = taken[1].clone();
    let again = opendata(&["backup", "--data-dir", &live_dir, &path(&dest)]);
    assert!(!again.status.success());
    assert!(text(&again.stderr).contains("is not empty"), "{}", text(&again.stderr));
    let into_live = opendata(&["restore", &path(&dest), "--data-dir", &live_dir]);
    assert!(!into_live.status.success());
    assert!(text(&into_live.stderr).contains("is not empty"), "{}", text(&into_live.stderr));

    // Restore the middle backup into a fresh folder: it verifies.
    let restored = tempfile::tempdir().unwrap();
    let restored_dir = path(restored.path());
    let out = opendata(&["restore", &path(&dest), "--data-dir", &restored_dir]);
    let report = text(&out.stdout);
    assert!(out.status.success(), "{report}{}", text(&out.stderr));
    assert!(report.contains(": all match"), "{report}");
    let verified = opendata(&["verify", "--data-dir", &restored_dir]);
    assert!(verified.status.success(), "{}{}", text(&verified.stdout), text(&verified.stderr));

    // Served, it has the same datasets, and the versions the snapshot holds read as on the
    // live server: every upload finished before the backup started, none started after it ended.
    // (Its recovery marks failed a job the snapshot caught running: that upload was not whole.)
    let copy = Server::start_with_env(restored, &[("RUST_LOG", "error")]);
    let (live_list, copy_list) =
        (get_json(&client, &server, "/api/v1/datasets").await, get_json(&client, &copy, "/api/v1/datasets").await);
    assert_eq!(dataset_ids(&copy_list), dataset_ids(&live_list));
    assert_eq!(dataset_ids(&copy_list).len(), 4);
    let versions = get_json(&client, &copy, &format!("/api/v1/datasets/{DATASET}/versions")).await;
    let latest = versions["items"][0]["version"].as_u64().unwrap() as usize;
    assert!(before <= latest && latest <= after + 1 && latest < uploads, "{before} <= {latest} <= {after} + 1");
    for url in [
        format!("/api/v1/datasets/{DATASET}/records?version={latest}&limit=100"),
        format!("/api/v1/datasets/{DATASET}/records?version=1&limit=100"),
        "/api/v1/datasets/ho-so-tthc-mau/records?limit=20".to_string(),
    ] {
        let (a, b) = (get_json(&client, &server, &url).await, get_json(&client, &copy, &url).await);
        assert_eq!(a["items"], b["items"], "{url}");
        assert_eq!(a["total"], b["total"], "{url}");
    }
    let page = get_json(&client, &copy, &format!("/api/v1/datasets/{DATASET}/records?version={latest}&limit=1")).await;
    assert_eq!(page["items"][0]["lan"], latest as u64, "{page}");
    let download = format!("/api/v1/datasets/{DATASET}/download?format=csv&version={latest}");
    let (a, b) = (
        client.get(server.url(&download)).send().await.unwrap().bytes().await.unwrap(),
        client.get(copy.url(&download)).send().await.unwrap().bytes().await.unwrap(),
    );
    assert!(!a.is_empty());
    assert_eq!(a, b);

    // One changed byte in a restored Parquet file: `verify` names its dataset and version.
    let blobs = restored_dir.clone() + "/blobs/" + DATASET;
    let file = std::fs::read_dir(&blobs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(&format!("v{latest}-")))
        .unwrap();
    let mut bytes = std::fs::read(&file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x5a;
    std::fs::write(&file, &bytes).unwrap();
    let out = opendata(&["verify", "--data-dir", &restored_dir]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(!out.status.success(), "{stdout}");
    assert!(stdout.contains(&format!("changed: dataset {DATASET} version {latest}: ")), "{stdout}");
    assert!(stdout.contains(&path(&file)) && stdout.contains("expected sha256"), "{stdout}");
    assert!(stderr.contains("1 of ") && stderr.contains("missing or changed"), "{stderr}");
    // The backup and the live folder did not share that change (a restore copies).
    let verified = opendata(&["verify", "--data-dir", &path(&dest)]);
    assert!(verified.status.success(), "{}", text(&verified.stdout));
    let verified = opendata(&["verify", "--data-dir", &live_dir]);
    assert!(verified.status.success(), "{}", text(&verified.stdout));
}
