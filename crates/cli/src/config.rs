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
    /// Print the OpenAPI document.
    Openapi,
}

/// Where the catalog lives.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Folder for the catalog database and the Parquet files.
    #[arg(long, env = "OPENDATA_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Catalog database URL (default: SQLite `catalog.sqlite` in the data folder).
    #[arg(long, env = "OPENDATA_DATABASE_URL")]
    pub database_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Address to listen on.
    #[arg(long, env = "OPENDATA_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
}

#[derive(Debug, Args)]
pub struct PublishArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// A folder of dataset folders, or one dataset folder.
    pub dir: PathBuf,
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
