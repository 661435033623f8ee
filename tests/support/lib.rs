//! Helpers for the end-to-end tests: find the `opendata` binary, publish the bundled datasets
//! into a temporary data folder, and run a server on a free port that stops when dropped.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The workspace root (where `datasets/` is). The manifest folder is read when the tests run
/// (cargo sets it), not baked in when they are built: a build cached in a target folder shared
/// by several checkouts must read the checkout it runs in.
pub fn workspace_root() -> PathBuf {
    let manifest =
        std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    manifest.parent().map(Path::to_path_buf).unwrap_or_default()
}

/// The `opendata` binary: `$OPENDATA_BIN`, or `debug/opendata` in this build's target folder.
pub fn binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("OPENDATA_BIN") {
        return PathBuf::from(bin);
    }
    // The test executable is <target>/debug/deps/e2e-<hash>.
    let exe = std::env::current_exe().unwrap_or_default();
    let bin = exe.parent().and_then(Path::parent).map(|d| d.join("opendata")).unwrap_or_default();
    assert!(bin.is_file(), "no opendata binary at {}: run `cargo build -p opendata-cli` or `make test`", bin.display());
    bin
}

/// Run `opendata` with arguments and return its output.
pub fn opendata(args: &[&str]) -> std::process::Output {
    Command::new(binary()).args(args).env("RUST_LOG", "warn").output().expect("run opendata")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// A running `opendata serve` with its own data folder; killed on drop, and stopping by itself
/// when this process ends (its standard input closes), so a server held in a `static` never
/// outlives the tests.
pub struct Server {
    child: Child,
    pub base: String,
    pub data_dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Server {
    /// Publish `datasets/` into a fresh data folder, then serve it.
    pub fn start_with_datasets() -> Self {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let data = data_dir.path().to_string_lossy().into_owned();
        let datasets = workspace_root().join("datasets");
        let out = opendata(&["publish", "--data-dir", &data, &datasets.to_string_lossy()]);
        assert!(out.status.success(), "publish failed: {}", String::from_utf8_lossy(&out.stderr));
        Self::start(data_dir)
    }

    /// Serve an existing data folder.
    pub fn start(data_dir: tempfile::TempDir) -> Self {
        Self::start_with_env(data_dir, &[])
    }

    /// Serve an existing data folder with extra environment (`OPENDATA_ADMIN_TOKEN`…).
    pub fn start_with_env(data_dir: tempfile::TempDir, env: &[(&str, &str)]) -> Self {
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let (child, base) = Self::spawn(data_dir.path(), &env);
        let server = Self { child, base, data_dir, env };
        server.wait_ready();
        server
    }

    fn spawn(data_dir: &Path, env: &[(String, String)]) -> (Child, String) {
        let addr = format!("127.0.0.1:{}", free_port());
        let child = Command::new(binary())
            .args(["serve", "--data-dir", &data_dir.to_string_lossy(), "--addr", &addr, "--exit-on-stdin-eof"])
            .stdin(Stdio::piped())
            .env("RUST_LOG", "warn")
            // The tests send requests faster than any person; the limits have tests of their
            // own (crates/api/tests/it/operations.rs). A test's own `env` can turn them on.
            .env("OPENDATA_RATE_LIMIT", "off")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn opendata serve");
        (child, format!("http://{addr}"))
    }

    /// SIGKILL the server (no shutdown of any kind), then start it again on the same data
    /// folder, on a new port.
    pub fn kill_and_restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let (child, base) = Self::spawn(self.data_dir.path(), &self.env);
        self.child = child;
        self.base = base;
        self.wait_ready();
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(self.base.trim_start_matches("http://")).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("opendata serve did not start listening on {}", self.base);
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
