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

/// How long (ms) mimalloc keeps freed memory before giving it back to the system; its default
/// is a second. The server frees large buffers (a table's load, an index build, a sort) on
/// blocking threads that may then sit idle, and mimalloc gives memory back only as threads
/// allocate: with the default, the 1M-row benchmark table held 313 MB right after loading
/// instead of 227 MB, and 335 MB instead of 291 MB after one request of each workload.
/// Requests per second did not change measurably.
///
/// For the server only: a command that runs once and exits (`ingest`, `publish`) frees and
/// reuses memory in quick turns, and memory given back early is faulted in again. Ingesting
/// the 1M-row benchmark file, 10 ms took about 220,000 page faults and 1.06 s of system time,
/// the default 150,000 and 0.83 s (5 alternating runs each), for 80 MB more peak RSS.
const PURGE_DELAY_MS: std::ffi::c_long = 10;

/// `mi_option_purge_delay` in mimalloc v3's `mi_option_t` (its `include/mimalloc.h`), which
/// `libmimalloc-sys` gives no name.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Unless `MIMALLOC_PURGE_DELAY` is set: then mimalloc has read the operator's choice.
#[allow(unsafe_code)]
fn give_back_freed_memory_soon() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: `mi_option_set` is not thread safe; this runs in `main` before any other thread
    // is started.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) };
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    if matches!(cli.command, Command::Serve(_)) {
        give_back_freed_memory_soon();
    }
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| "info,sqlx=warn,tower_http=info".into())
    };
    // `OPENDATA_LOG_FORMAT=json`: one JSON object a line, with the request's span (its id,
    // method and path) on every line logged while answering it, for log collectors.
    if std::env::var("OPENDATA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        tracing_subscriber::fmt()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_env_filter(filter())
            .with_writer(std::io::stderr)
            .init();
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(filter())
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(std::io::stderr)
            .init();
    }
    match cli.command {
        Command::Ingest(args) => commands::ingest::run(args),
        Command::Openapi => {
            print!("{}", opendata_api::openapi_json());
            std::process::ExitCode::SUCCESS
        }
        Command::Serve(args) => commands::block_on(commands::serve::run(args)),
        Command::Publish(args) => commands::block_on(commands::publish::run(args)),
        Command::Keys(args) => commands::block_on(commands::keys::run(args)),
        Command::Backup(args) => commands::block_on(commands::backup::run(args)),
        Command::Restore(args) => commands::block_on(commands::restore::run(args)),
        Command::Verify(args) => commands::block_on(commands::verify::run(args)),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    #[allow(unsafe_code)]
    fn the_purge_delay_option_is_mimallocs() {
        // SAFETY: reading an option; the one test here that touches them.
        let get = || unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY) };
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return; // the environment's value stands, whatever it is
        }
        // mimalloc v3's default purge delay: the option number names that option.
        assert_eq!(get(), 1000);
        super::give_back_freed_memory_soon();
        assert_eq!(get(), super::PURGE_DELAY_MS);
    }
}
