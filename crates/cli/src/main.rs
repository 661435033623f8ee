//! The `opendata` command line: a thin front on the library crates.

mod commands;
mod config;

use std::io::IsTerminal;

use clap::Parser;

use crate::config::{Cli, Command};

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
