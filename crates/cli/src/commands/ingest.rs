//! `opendata ingest FILE`: what an agency runs before uploading.

use std::process::ExitCode;

use opendata_ingest::{IngestError, IngestOptions, ingest};

use crate::config::IngestArgs;

/// EX_DATAERR: the input data was incorrect.
const EX_DATAERR: u8 = 65;
/// EX_NOINPUT: the input file could not be read.
const EX_NOINPUT: u8 = 66;
/// EX_CANTCREAT: the output file could not be written.
const EX_CANTCREAT: u8 = 73;

pub fn run(args: IngestArgs) -> ExitCode {
    let bytes = match std::fs::read(&args.file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", args.file.display());
            return ExitCode::from(EX_NOINPUT);
        }
    };
    let options = IngestOptions {
        sheet: args.sheet.clone(),
        header_row: args.header_row,
        encoding: args.encoding.clone(),
        ..IngestOptions::default()
    };
    let name = args.file.file_name().map(|n| n.to_string_lossy().into_owned());
    let ingested = match ingest(&bytes, name.as_deref(), &options) {
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
