//! The `opendata` command line: a thin front on the library crates.

mod commands;
mod config;

use std::io::IsTerminal;

use clap::Parser;

use crate::config::{Cli, Command};

/// mimalloc rather than the system allocator: serving a JSON page allocates and frees buffers
/// of a few hundred kilobytes per request, which glibc's allocator spent a tenth of the CPU
/// on (`malloc_consolidate`, `unlink_chunk`) under load; with mimalloc the small-table
/// workload (Q7) served more requests per second (see the README's benchmark section).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn,tower_http=info".into()),
        )
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Ingest(args) => commands::ingest::run(args),
        Command::Openapi => {
            print!("{}", opendata_api::openapi_json());
            std::process::ExitCode::SUCCESS
        }
        Command::Serve(args) => commands::block_on(commands::serve::run(args)),
        Command::Publish(args) => commands::block_on(commands::publish::run(args)),
        Command::Keys(args) => commands::block_on(commands::keys::run(args)),
    }
}
