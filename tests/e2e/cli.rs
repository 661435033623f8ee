//! The command line, as an agency uses it.

use opendata_e2e::{Server, opendata, workspace_root};

fn fixture(path: &str) -> String {
    workspace_root().join("../shared/fixtures").join(path).to_string_lossy().into_owned()
}

#[test]
fn publish_again_creates_nothing_and_a_changed_file_a_new_version() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_string_lossy().into_owned();
    let datasets = workspace_root().join("datasets").to_string_lossy().into_owned();
    let first = opendata(&["publish", "--data-dir", &dir, &datasets]);
    assert!(first.status.success());
    let out = String::from_utf8_lossy(&first.stdout);
    assert!(out.contains("don-vi-hanh-chinh-ha-noi: published version 1 (526 rows, 6 fields)"), "{out}");
    let again = opendata(&["publish", "--data-dir", &dir, &datasets]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("don-vi-hanh-chinh-ha-noi: unchanged (version 1)"));

    // A copy of one dataset with a row removed publishes version 2.
    let changed = tempfile::tempdir().unwrap();
    let src = workspace_root().join("datasets/don-vi-hanh-chinh-ha-noi");
    std::fs::copy(src.join("metadata.json"), changed.path().join("metadata.json")).unwrap();
    let csv = std::fs::read_to_string(src.join("hanoi_wards_2024.csv")).unwrap();
    let shorter: Vec<&str> = csv.lines().take(526).collect();
    std::fs::write(changed.path().join("hanoi_wards_2024.csv"), shorter.join("\n")).unwrap();
    let third = opendata(&["publish", "--data-dir", &dir, &changed.path().to_string_lossy()]);
    let out = String::from_utf8_lossy(&third.stdout);
    assert!(out.contains("don-vi-hanh-chinh-ha-noi: published version 2 (525 rows, 6 fields)"), "{out}");

    // Both versions serve; the changes are recorded.
    let server = Server::start(data);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let v: serde_json::Value = reqwest::get(server.url("/api/v1/datasets/don-vi-hanh-chinh-ha-noi/versions"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(v["items"][0]["version"], 2);
        assert_eq!(v["items"][0]["changes"]["rows_delta"], -1);
        assert_eq!(v["items"][0]["changes"]["previous"], 1);
        let old: serde_json::Value =
            reqwest::get(server.url("/api/v1/datasets/don-vi-hanh-chinh-ha-noi/records?version=1&limit=0"))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
        assert_eq!(old["total"], 526);
        let missing =
            reqwest::get(server.url("/api/v1/datasets/don-vi-hanh-chinh-ha-noi/records?version=9")).await.unwrap();
        assert_eq!(missing.status(), 404);
    });
}

#[test]
fn ingest_prints_the_report_and_writes_parquet() {
    let out_dir = tempfile::tempdir().unwrap();
    let parquet = out_dir.path().join("t.parquet");
    let out = opendata(&[
        "ingest",
        &fixture("agency/chi-tieu-chuyen-doi-so-ha-noi.csv"),
        "--out",
        &parquet.to_string_lossy(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("encoding:  windows-1258"), "{report}");
    assert!(report.contains("delimiter: ;"), "{report}");
    assert!(report.contains("rows:      16"), "{report}");
    assert!(report.contains("muc_tieu_2025  float"), "{report}");
    assert_eq!(&std::fs::read(&parquet).unwrap()[..4], b"PAR1");

    let json = opendata(&["ingest", "--json", &fixture("agency/ten-duong-nfd.csv")]);
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["rows"], 300);
    assert_eq!(report["fields"][5]["name"], "ghi_chu_2");
}

#[test]
fn refusals_exit_65_with_the_code() {
    for (file, code) in
        [("bad/empty.csv", "empty_file"), ("bad/header-only.csv", "no_data_rows"), ("bad/ragged.csv", "ragged_rows")]
    {
        let out = opendata(&["ingest", &fixture(file)]);
        assert_eq!(out.status.code(), Some(65), "{file}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with(&format!("error[{code}]: ")), "{file}: {err}");
    }
    let out = opendata(&["ingest", "--json", &fixture("bad/ragged.csv")]);
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(body["error"]["code"], "ragged_rows");
    assert_eq!(body["error"]["details"]["line"], 7);
}

/// `OPENDATA_LOG_FORMAT=json`: every line a JSON object, and the lines logged while answering
/// a request carry its id, which the answer echoes.
#[test]
fn json_logs_carry_the_request_id() {
    use std::io::Read;
    let data = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = std::process::Command::new(opendata_e2e::binary())
        .args(["serve", "--data-dir", &data.path().to_string_lossy(), "--addr", &addr, "--exit-on-stdin-eof"])
        .env("OPENDATA_LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::net::TcpStream::connect(&addr).is_err() {
        assert!(std::time::Instant::now() < deadline, "the server did not start");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let answer = std::process::Command::new("curl")
        .args([
            "-s",
            "-D",
            "-",
            "-o",
            "/dev/null",
            "-H",
            "X-Request-Id: kiem-tra-123",
            &format!("http://{addr}/api/v1/datasets"),
        ])
        .output()
        .unwrap();
    let headers = String::from_utf8_lossy(&answer.stdout).to_lowercase();
    assert!(headers.contains("x-request-id: kiem-tra-123"), "{headers}");
    drop(child.stdin.take());
    let _ = child.wait();
    let mut logs = String::new();
    child.stderr.take().unwrap().read_to_string(&mut logs).unwrap();
    let lines: Vec<serde_json::Value> =
        logs.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect();
    assert!(
        lines.iter().any(|l| l["span"]["id"] == "kiem-tra-123" && l["span"]["path"] == "/api/v1/datasets"),
        "{logs}"
    );
}
