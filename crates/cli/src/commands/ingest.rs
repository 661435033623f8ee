//! `opendata ingest FILE`: what an agency runs before uploading.

use std::process::ExitCode;

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use opendata_ingest::{IngestError, IngestOptions, ingest_path};

use crate::config::IngestArgs;

/// EX_DATAERR: the input data was incorrect.
const EX_DATAERR: u8 = 65;
/// EX_NOINPUT: the input file could not be read.
const EX_NOINPUT: u8 = 66;
/// EX_CANTCREAT: the output file could not be written.
const EX_CANTCREAT: u8 = 73;

pub fn run(args: IngestArgs) -> ExitCode {
    if let Err(e) = std::fs::metadata(&args.file) {
        eprintln!("error: cannot read {}: {e}", args.file.display());
        return ExitCode::from(EX_NOINPUT);
    }
    let options = IngestOptions {
        sheet: args.sheet.clone(),
        header_row: args.header_row,
        encoding: args.encoding.clone(),
        ..IngestOptions::default()
    };
    let mut progress = Progress::new(&args.file.display().to_string());
    let result = ingest_path(&args.file, &options, &mut |p| progress.update(p.bytes_read, p.bytes_total));
    progress.finish();
    let ingested = match result {
        Ok(i) => i,
        Err(e) => return refuse(&e, args.json),
    };
    if let Some(out) = &args.out {
        let written = std::fs::File::create(out)
            .map_err(|e| e.to_string())
            .and_then(|f| ingested.table.write_parquet(std::io::BufWriter::new(f)).map_err(|e| e.to_string()));
        if let Err(e) = written {
            eprintln!("error: cannot write {}: {e}", out.display());
            return ExitCode::from(EX_CANTCREAT);
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&ingested.report).unwrap_or_default());
    } else {
        print!("{}", ingested.report);
        if let Some(out) = &args.out {
            println!("written:   {}", out.display());
        }
    }
    ExitCode::SUCCESS
}

fn refuse(e: &IngestError, json: bool) -> ExitCode {
    if json {
        let body =
            serde_json::json!({ "error": { "code": e.code(), "message": e.to_string(), "details": e.details() } });
        println!("{}", serde_json::to_string_pretty(&body).unwrap_or_default());
    } else {
        eprintln!("error[{}]: {e}", e.code());
    }
    ExitCode::from(EX_DATAERR)
}

/// Reading progress: a bar redrawn in place on a terminal, a plain line every 10% otherwise
/// (logs, CI). Written to stderr so the report on stdout stays clean.
struct Progress {
    label: String,
    terminal: bool,
    last_draw: Instant,
    last_tenth: u64,
    drawn: bool,
}

impl Progress {
    fn new(label: &str) -> Self {
        Self {
            label: label.to_string(),
            terminal: std::io::stderr().is_terminal(),
            last_draw: Instant::now(),
            last_tenth: 0,
            drawn: false,
        }
    }

    fn update(&mut self, done: u64, total: u64) {
        // Small files are read in a blink: no progress to show.
        if total < 16 << 20 {
            return;
        }
        let percent = (done.min(total) * 100 / total) as usize;
        let mut err = std::io::stderr().lock();
        if self.terminal {
            if self.last_draw.elapsed() < Duration::from_millis(100) {
                return;
            }
            let filled = percent * 30 / 100;
            let _ = write!(
                err,
                "\r{} [{}{}] {percent:3}%  {} / {} MB",
                self.label,
                "#".repeat(filled),
                "-".repeat(30 - filled),
                done / 1_000_000,
                total / 1_000_000
            );
            let _ = err.flush();
            self.last_draw = Instant::now();
            self.drawn = true;
        } else {
            let tenth = (percent / 10) as u64;
            if tenth > self.last_tenth {
                self.last_tenth = tenth;
                let _ = writeln!(
                    err,
                    "reading {}: {percent}% ({} of {} MB)",
                    self.label,
                    done / 1_000_000,
                    total / 1_000_000
                );
            }
        }
    }

    fn finish(&mut self) {
        if self.drawn {
            let _ = writeln!(std::io::stderr());
        }
    }
}
