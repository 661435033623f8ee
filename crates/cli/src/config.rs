//! Command-line arguments and `OPENDATA_*` environment settings.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "opendata", version, about = "Hà Nội open-data publishing platform")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API and docs.
    Serve(ServeArgs),
    /// Publish a folder of datasets (each a subfolder with metadata.json and a data file).
    Publish(PublishArgs),
    /// Check or convert one file locally and print what ingest understood.
    Ingest(IngestArgs),
    /// Create, list or revoke a publisher's API keys.
    Keys(KeysArgs),
    /// Copy the catalog and every version's files into a new folder, beside a running server.
    Backup(BackupArgs),
    /// Copy a backup into an empty data folder, then verify it.
    Restore(RestoreArgs),
    /// Check every version's Parquet file against the sha256 and size in the catalog.
    Verify(VerifyArgs),
    /// Print the OpenAPI document.
    Openapi,
}

#[derive(Debug, Args)]
pub struct KeysArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(subcommand)]
    pub command: KeysCommand,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it (once: only its hash is stored).
    Create {
        /// The publisher the key writes for.
        #[arg(long)]
        publisher: String,
        /// What the key is for, e.g. "nightly export script".
        #[arg(long)]
        label: Option<String>,
    },
    /// List a publisher's keys (ids, dates, state; never secrets).
    List {
        #[arg(long)]
        publisher: String,
    },
    /// Revoke a key: requests with it answer 401 from now on.
    Revoke {
        #[arg(long)]
        publisher: String,
        /// The key's id (from `keys list`).
        key: String,
    },
}

/// Where the catalog lives.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Folder for the catalog database and the Parquet files.
    #[arg(long, env = "OPENDATA_DATA_DIR", default_value = "./data", global = true)]
    pub data_dir: PathBuf,
    /// Catalog database URL (default: SQLite `catalog.sqlite` in the data folder).
    #[arg(long, env = "OPENDATA_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Address to listen on.
    #[arg(long, env = "OPENDATA_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Largest upload accepted, in bytes (default 1 GiB).
    #[arg(long, env = "OPENDATA_MAX_UPLOAD_BYTES", default_value_t = 1 << 30)]
    pub max_upload_bytes: u64,
    /// Memory for tables kept loaded (the latest versions read), in bytes (default 512 MiB);
    /// 0 reads every request from the Parquet files.
    #[arg(long, env = "OPENDATA_CACHE_BYTES", default_value_t = 512 << 20)]
    pub cache_bytes: usize,
    /// Disk for `/records` answers in CSV, Parquet and XLSX (and downloads in other CSV
    /// delimiters), built into files so that clients can read them by range, and kept a
    /// quarter of an hour under their ETag; the oldest go first past this many bytes.
    #[arg(long, env = "OPENDATA_ANSWER_CACHE_BYTES", default_value_t = opendata_api::answers::DEFAULT_ANSWER_BYTES)]
    pub answer_cache_bytes: u64,
    /// Seconds a client has to send a request's headers, and an idle kept-alive connection to
    /// start its next request, before the connection is closed (against clients that hold
    /// connections by trickling bytes). A body being sent or received is never cut.
    #[arg(long, env = "OPENDATA_HEADER_READ_TIMEOUT", default_value_t = 15)]
    pub header_read_timeout: u64,
    /// Rate limits and the bound on heavy queries: `on` (default) or `off` (what `make bench`
    /// sets, to measure the engine).
    #[arg(long, env = "OPENDATA_RATE_LIMIT", default_value = "on", value_parser = ["on", "off"])]
    pub rate_limit: String,
    /// Requests a second per client (its API key, else its address) for pages and metadata;
    /// bursts of ten seconds' worth pass.
    #[arg(long, env = "OPENDATA_RATE_READS", default_value_t = 50)]
    pub rate_reads: u32,
    /// Requests a second per client for heavy reads: aggregates, facets, whole-table answers
    /// (`format=csv|parquet|xlsx|…`) and downloads.
    #[arg(long, env = "OPENDATA_RATE_HEAVY", default_value_t = 5)]
    pub rate_heavy: u32,
    /// Writes a second per client (uploads, metadata edits).
    #[arg(long, env = "OPENDATA_RATE_WRITES", default_value_t = 2)]
    pub rate_writes: u32,
    /// Addresses of reverse proxies whose `X-Forwarded-For` names the client (comma-separated).
    #[arg(long, env = "OPENDATA_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Stop when standard input closes (how test harnesses make sure a server they started
    /// never outlives them).
    #[arg(long, hide = true)]
    pub exit_on_stdin_eof: bool,
}

#[derive(Debug, Args)]
pub struct PublishArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// A folder of dataset folders, or one dataset folder.
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The folder to write the backup into: new, or empty.
    pub dest: PathBuf,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// A folder written by `opendata backup`.
    pub src: PathBuf,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// The file to read.
    pub file: PathBuf,
    /// Write the table as Parquet here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print the report (or the error) as JSON.
    #[arg(long)]
    pub json: bool,
    /// Sheet name or 1-based position in a workbook.
    #[arg(long)]
    pub sheet: Option<String>,
    /// Text encoding, e.g. utf-8, windows-1258, utf-16le.
    #[arg(long)]
    pub encoding: Option<String>,
    /// 1-based row (sheet) or line (text) number of the header.
    #[arg(long)]
    pub header_row: Option<usize>,
}
