//! An agency publishing through the API of the real binary: keys, uploads and jobs, refusals
//! that change nothing, a server killed in the middle of uploads, and concurrent uploads.

use std::time::{Duration, Instant};

use opendata_e2e::{Server, opendata, workspace_root};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

const ADMIN: &str = "e2e-admin-token-5b1e7c";
const PUBLISHER: &str = "so-thu-nghiem";
const DATASET: &str = "/api/v1/datasets/bo-thu-nghiem";

fn fixture(path: &str) -> std::path::PathBuf {
    workspace_root().join("../shared/fixtures").join(path)
}

/// A server with an admin token, a publisher, its key and one dataset (no version yet).
struct Agency {
    server: Server,
    client: Client,
    key: String,
}

impl Agency {
    async fn new() -> Self {
        // Recovery after each kill is expected here: keep its warnings out of the test output.
        let env = [("OPENDATA_ADMIN_TOKEN", ADMIN), ("RUST_LOG", "error")];
        let server = Server::start_with_env(tempfile::tempdir().unwrap(), &env);
        let mut agency = Self { server, client: Client::new(), key: String::new() };
        let (status, body) = agency
            .send(Method::POST, "/api/v1/publishers", Some(ADMIN), json!({"id": PUBLISHER, "name": "Sở Thử nghiệm"}))
            .await;
        assert_eq!(status, 201, "{body}");
        let (status, body) =
            agency.send(Method::POST, &format!("/api/v1/publishers/{PUBLISHER}/keys"), Some(ADMIN), json!({})).await;
        assert_eq!(status, 201, "{body}");
        agency.key = body["key_secret"].as_str().unwrap().to_string();
        let key = agency.key.clone();
        let (status, body) = agency
            .send(
                Method::POST,
                "/api/v1/datasets",
                Some(&key),
                json!({"id": "bo-thu-nghiem", "title": "Bộ dữ liệu thử nghiệm", "license": "CC-BY-4.0"}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        agency
    }

    async fn send(&self, method: Method, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        let mut request = self.client.request(method, self.server.url(path));
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        if !body.is_null() {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.send(Method::GET, path, None, Value::Null).await
    }

    /// Upload `bytes` as `name`; `wait` for the outcome or answer 202 with the job.
    async fn upload(&self, name: &str, bytes: Vec<u8>, wait: bool) -> (u16, Value) {
        upload_to(&self.client, &self.server.url(""), &self.key, name, bytes, wait).await.expect("upload")
    }

    async fn job(&self, id: &str) -> Value {
        let (status, job) = self.send(Method::GET, &format!("/api/v1/jobs/{id}"), Some(&self.key), Value::Null).await;
        assert_eq!(status, 200, "{job}");
        job
    }

    /// Poll a job until it ends.
    async fn finished_job(&self, id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let job = self.job(id).await;
            if job["state"] == "succeeded" || job["state"] == "failed" {
                return job;
            }
            assert!(Instant::now() < deadline, "job {id} did not finish: {job}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn upload_to(
    client: &Client,
    base: &str,
    key: &str,
    name: &str,
    bytes: Vec<u8>,
    wait: bool,
) -> reqwest::Result<(u16, Value)> {
    let url = format!("{base}{DATASET}/versions?filename={name}&wait={wait}");
    let response = client.post(url).bearer_auth(key).header("content-type", "text/csv").body(bytes).send().await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await.unwrap_or(Value::Null)))
}

/// A CSV whose every row carries `marker`, with `rows` rows: a version read back tells which
/// upload it came from, and whether it is whole.
fn marked_csv(marker: usize, rows: usize) -> Vec<u8> {
    let mut s = String::from("lan,ma,ten,so_tien,ngay\n");
    for i in 0..rows {
        s.push_str(&format!(
            "{marker},HS{i:07},Hồ sơ số {i} của lần {marker},{}.{:03}.000,{:02}/{:02}/2026\n",
            1 + i % 97,
            i % 1000,
            1 + i % 28,
            1 + i % 12
        ));
    }
    s.into_bytes()
}

#[tokio::test]
async fn agency_publishes_a_fixture_and_a_refused_file_changes_nothing() {
    let agency = Agency::new().await;
    let bytes = std::fs::read(fixture("agency/ho-so-tthc-quy-3-2023.csv")).unwrap();
    let (status, job) = agency.upload("ho-so-tthc-quy-3-2023.csv", bytes, false).await;
    assert_eq!(status, 202, "{job}");
    let job = agency.finished_job(job["id"].as_str().unwrap()).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["version"], 1);
    assert_eq!(job["rows"], 3000);
    assert_eq!(job["report"]["encoding"]["name"], "utf-8");

    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("agency/ho-so-tthc-quy-3-2023.csv.expected.json")).unwrap(),
    )
    .unwrap();
    let (status, dataset) = agency.get(DATASET).await;
    assert_eq!(status, 200);
    for field in dataset["fields"].as_array().unwrap() {
        let name = field["name"].as_str().unwrap();
        assert_eq!(field["type"], expected["columns"][name], "type of {name}");
    }
    let page = format!("{DATASET}/records?sort=ma_ho_so&limit=50&le_phi_vnd__gte=500000");
    let before = (agency.get(&page).await, agency.get(&format!("{DATASET}/versions")).await);
    assert_eq!(before.0.0, 200);
    assert_eq!(before.0.1["total"].as_u64().map(|t| t > 0), Some(true));
    let csv_before = reqwest::get(agency.server.url(&format!("{DATASET}/download?format=csv")))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();

    // Refused while waiting: 422 with the job; refused later: a failed job.
    let (status, body) = agency.upload("ragged.csv", std::fs::read(fixture("bad/ragged.csv")).unwrap(), true).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "ragged_rows");
    assert_eq!(body["error"]["details"]["job"]["state"], "failed");
    let (status, job) =
        agency.upload("truncated.xlsx", std::fs::read(fixture("bad/truncated.xlsx")).unwrap(), false).await;
    assert_eq!(status, 202);
    let job = agency.finished_job(job["id"].as_str().unwrap()).await;
    assert_eq!((job["state"].as_str(), job["error"]["code"].as_str()), (Some("failed"), Some("corrupt_file")), "{job}");

    let after = (agency.get(&page).await, agency.get(&format!("{DATASET}/versions")).await);
    assert_eq!(after, before, "the refused uploads changed what is served");
    let csv_after = reqwest::get(agency.server.url(&format!("{DATASET}/download?format=csv")))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(csv_after, csv_before);

    // The audit log has it all, with the client's address; each job leaves its outcome too.
    let deadline = Instant::now() + Duration::from_secs(10);
    let log = loop {
        let (status, log) =
            agency.send(Method::GET, &format!("/api/v1/audit?publisher={PUBLISHER}"), Some(ADMIN), Value::Null).await;
        assert_eq!(status, 200);
        let finished = log["items"].as_array().unwrap().iter().filter(|e| e["action"] == "job finished").count();
        if finished == 3 || Instant::now() > deadline {
            break log;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let entries = log["items"].as_array().unwrap();
    let requests: Vec<u64> =
        entries.iter().filter(|e| e["action"] != "job finished").map(|e| e["status"].as_u64().unwrap()).collect();
    assert_eq!(requests, [202, 422, 202, 201, 201, 201], "{log}");
    let mut jobs: Vec<(u64, Option<&str>)> = entries
        .iter()
        .filter(|e| e["action"] == "job finished")
        .map(|e| (e["status"].as_u64().unwrap(), e["detail"]["error"].as_str()))
        .collect();
    jobs.sort();
    assert_eq!(jobs, [(201, None), (422, Some("corrupt_file")), (422, Some("ragged_rows"))], "{log}");
    let upload = entries.iter().find(|e| e["action"] != "job finished").unwrap();
    assert_eq!(upload["address"], "127.0.0.1");
    let refused = entries.iter().find(|e| e["status"] == 422 && e["action"] != "job finished").unwrap();
    assert_eq!(refused["detail"]["error"], "ragged_rows");
    assert_eq!(refused["detail"]["file"], "ragged.csv");
    assert!(refused["detail"]["job"].as_str().unwrap().starts_with("job_"), "{refused}");
}

/// What a kill -9 at a random moment of an upload leaves: after a restart the catalog is
/// consistent, the latest version is whole (the old one or the new one), no job is left
/// running, and no file is left that no version refers to.
#[tokio::test]
async fn kill_during_uploads_leaves_old_or_new_never_a_mix() {
    const BASE_ROWS: usize = 30_000;
    const ITERATIONS: usize = 20;
    let mut agency = Agency::new().await;
    // Calibrate: how long a whole upload takes on this machine and build.
    let started = Instant::now();
    let (status, body) = agency.upload("lan-0.csv", marked_csv(0, BASE_ROWS), true).await;
    assert_eq!(status, 201, "{body}");
    let whole = started.elapsed().as_millis() as u64;
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    let mut rng = seed;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    eprintln!("crash test: seed {seed}, a whole upload takes {whole} ms");
    let (mut interrupted, mut finished, mut before_job) = (0, 0, 0);
    for i in 1..=ITERATIONS {
        let rows = BASE_ROWS + i;
        let (client, base, key) = (agency.client.clone(), agency.server.url(""), agency.key.clone());
        let request = tokio::spawn(async move {
            upload_to(&client, &base, &key, &format!("lan-{i}.csv"), marked_csv(i, rows), false).await
        });
        let delay = next() % (whole + whole / 4 + 1);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        agency.server.kill_and_restart();
        let answer = request.await.unwrap();

        // Every version is whole: its rows all carry its marker, and as many as it says.
        let (status, versions) = agency.get(&format!("{DATASET}/versions")).await;
        assert_eq!(status, 200, "{versions}");
        let items = versions["items"].as_array().unwrap();
        let numbers: Vec<i64> = items.iter().map(|v| v["version"].as_i64().unwrap()).collect();
        let expected: Vec<i64> = (1..=items.len() as i64).rev().collect();
        assert_eq!(numbers, expected, "iteration {i}: versions are not consecutive");
        let latest = &items[0];
        let latest_rows = latest["rows"].as_u64().unwrap() as usize;
        let marker = latest_rows - BASE_ROWS;
        assert!(marker <= i, "iteration {i}: latest version has {latest_rows} rows");
        let (status, page) = agency.get(&format!("{DATASET}/records?limit=1")).await;
        assert_eq!(status, 200, "iteration {i}: {page}");
        assert_eq!(page["total"].as_u64(), Some(latest_rows as u64), "iteration {i}");
        let (_, mixed) = agency.get(&format!("{DATASET}/records?limit=1&lan__ne={marker}")).await;
        assert_eq!(mixed["total"], 0, "iteration {i}: rows of another upload in version {}", latest["version"]);

        // No job left running; a finished job agrees with the versions.
        match answer {
            Ok((202, job)) => {
                let job = agency.job(job["id"].as_str().unwrap()).await;
                match job["state"].as_str() {
                    Some("failed") => {
                        assert_eq!(job["error"]["code"], "interrupted", "iteration {i}: {job}");
                        assert_ne!(marker, i, "iteration {i}: a failed job's version is served");
                        interrupted += 1;
                    }
                    Some("succeeded") => {
                        assert_eq!(marker, i, "iteration {i}: the succeeded job's version is not the latest");
                        assert_eq!(job["version"], latest["version"]);
                        finished += 1;
                    }
                    other => panic!("iteration {i}: job left {other:?} after a restart: {job}"),
                }
            }
            Ok((status, body)) => panic!("iteration {i}: upload answered {status}: {body}"),
            Err(_) => {
                assert_ne!(marker, i, "iteration {i}: an upload cut off before its job published");
                before_job += 1;
            }
        }

        // Whatever the kill interrupted, no job of the dataset is left queued or running.
        let (status, jobs) =
            agency.send(Method::GET, &format!("{DATASET}/jobs"), Some(&agency.key.clone()), Value::Null).await;
        assert_eq!(status, 200, "{jobs}");
        let stuck: Vec<&Value> = jobs["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|j| j["state"] == "queued" || j["state"] == "running")
            .collect();
        assert!(stuck.is_empty(), "iteration {i}: jobs left unfinished: {stuck:?}");

        // No orphans: one Parquet file per version, no temporary files, no uploads.
        let data = agency.server.data_dir.path();
        let blobs: Vec<String> = std::fs::read_dir(data.join("blobs/bo-thu-nghiem"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(blobs.len(), items.len(), "iteration {i}: files {blobs:?} for {} versions", items.len());
        assert!(blobs.iter().all(|b| b.ends_with(".parquet")), "iteration {i}: {blobs:?}");
        let mut referenced: Vec<String> = items
            .iter()
            .map(|v| format!("v{}-", v["version"]))
            .filter(|prefix| !blobs.iter().any(|b| b.starts_with(prefix.as_str())))
            .collect();
        referenced.sort();
        assert!(referenced.is_empty(), "iteration {i}: versions without their file: {referenced:?}");
        let uploads: Vec<_> = std::fs::read_dir(data.join("uploads")).unwrap().collect();
        assert!(uploads.is_empty(), "iteration {i}: uploads left: {uploads:?}");
    }
    eprintln!(
        "crash test: {interrupted} jobs interrupted, {finished} finished before the kill, {before_job} uploads cut off before a job"
    );
    assert!(interrupted > 0, "no kill landed during a job (seed {seed}): the test did not test");
}

/// Two uploads at once give two whole, consecutive versions, and a reader polling all along
/// sees only whole versions and no error.
#[tokio::test]
async fn concurrent_uploads_make_consecutive_versions_and_readers_see_whole_tables() {
    let agency = Agency::new().await;
    let (status, body) = agency.upload("lan-0.csv", marked_csv(0, 10), true).await;
    assert_eq!(status, 201, "{body}");
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (done, url) = (done.clone(), agency.server.url(&format!("{DATASET}/records?limit=5")));
        tokio::spawn(async move {
            let client = Client::new();
            let mut seen = Vec::new();
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let response = client.get(&url).send().await.expect("read");
                let status = response.status();
                let page: Value = response.json().await.expect("JSON");
                assert_eq!(status, StatusCode::OK, "a reader saw {page}");
                let markers: Vec<i64> =
                    page["items"].as_array().unwrap().iter().map(|r| r["lan"].as_i64().unwrap()).collect();
                seen.push((page["version"].as_i64().unwrap(), page["total"].as_u64().unwrap(), markers));
            }
            seen
        })
    };
    let (a, b) = tokio::join!(
        agency.upload("lan-1.csv", marked_csv(1, 20_001), true),
        agency.upload("lan-2.csv", marked_csv(2, 20_002), true)
    );
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let seen = reader.await.unwrap();
    assert_eq!((a.0, b.0), (201, 201), "{a:?} {b:?}");
    let mut numbers = [a.1["version"].as_i64().unwrap(), b.1["version"].as_i64().unwrap()];
    numbers.sort();
    assert_eq!(numbers, [2, 3]);

    let (_, versions) = agency.get(&format!("{DATASET}/versions")).await;
    let rows_of: std::collections::HashMap<i64, u64> = versions["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["version"].as_i64().unwrap(), v["rows"].as_u64().unwrap()))
        .collect();
    assert_eq!(rows_of.len(), 3);
    assert_eq!(versions["items"][0]["changes"]["previous"], 2);
    assert!(!seen.is_empty());
    for (version, total, markers) in &seen {
        assert_eq!(Some(total), rows_of.get(version), "a reader saw version {version} with {total} rows");
        let marker = match total {
            10 => 0,
            t => (*t - 20_000) as i64,
        };
        assert!(markers.iter().all(|m| *m == marker), "version {version} mixes uploads: {markers:?}");
    }
    eprintln!("concurrency test: {} reads during the uploads", seen.len());
}

/// `opendata keys` on the server's machine makes keys the API accepts, and revokes them.
#[tokio::test]
async fn keys_made_on_the_command_line_write_through_the_api() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_string_lossy().into_owned();
    let datasets = workspace_root().join("datasets/don-vi-hanh-chinh-ha-noi");
    assert!(opendata(&["publish", "--data-dir", &dir, &datasets.to_string_lossy()]).status.success());
    let out = opendata(&["keys", "create", "--data-dir", &dir, "--publisher", "so-noi-vu-ha-noi", "--label", "e2e"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let key = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(key.starts_with("odk_"), "{key}");
    let out = opendata(&["keys", "create", "--data-dir", &dir, "--publisher", "no-such-agency"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-agency"));

    let server = Server::start(data);
    let client = Client::new();
    let patch = |token: String| {
        client
            .patch(server.url("/api/v1/datasets/don-vi-hanh-chinh-ha-noi"))
            .bearer_auth(token)
            .json(&json!({"update_frequency": "Khi có quyết định điều chỉnh địa giới"}))
            .send()
    };
    assert_eq!(patch(key.clone()).await.unwrap().status(), 200);
    let list = opendata(&["keys", "list", "--data-dir", &dir, "--publisher", "so-noi-vu-ha-noi"]);
    let listed = String::from_utf8(list.stdout).unwrap();
    let key_id = listed.split('\t').next().unwrap().to_string();
    assert!(listed.contains("active") && listed.contains("e2e") && !listed.contains(&key), "{listed}");
    let out = opendata(&["keys", "revoke", "--data-dir", &dir, "--publisher", "so-noi-vu-ha-noi", &key_id]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let refused = patch(key).await.unwrap();
    assert_eq!(refused.status(), 401);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "key_revoked");
}
