//! `opendata backup DEST`: a consistent copy of the catalog and of every version's files,
//! taken beside a running server (it takes no lock; see `opendata_catalog::backup`).

use std::time::Instant;

use anyhow::{Context, bail};

use crate::config::BackupArgs;

pub async fn run(args: BackupArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    // Before anything is opened: a clear refusal, and nothing written.
    opendata_catalog::backup::require_empty(&args.dest, &[])?;
    let catalog = super::verify::open_read_only(&args.store).await?;
    let report =
        catalog.backup_to(&args.dest).await.with_context(|| format!("backup into {} failed", args.dest.display()))?;
    let dest = args.dest.display();
    println!("backup of {} in {dest}:", args.store.data_dir.display());
    println!(
        "  catalog.sqlite: {} datasets, {} versions, {} bytes",
        report.datasets, report.versions, report.catalog_bytes
    );
    println!(
        "  blobs/: {} Parquet files, {} bytes, each checked against its sha256",
        report.blob_files, report.blob_bytes
    );
    println!("  exports/: {} download files, {} bytes", report.export_files, report.export_bytes);
    println!(
        "  {} files hard-linked, {} copied; {} bytes in all, in {:.2} s",
        report.linked,
        report.copied,
        report.catalog_bytes + report.blob_bytes + report.export_bytes,
        started.elapsed().as_secs_f64()
    );
    for bad in &report.bad {
        println!("{bad}");
    }
    if !report.bad.is_empty() {
        bail!(
            "{} of {} versions have a missing or changed Parquet file in {}: the backup in {dest} does not hold them as published",
            report.bad.len(),
            report.versions,
            args.store.data_dir.display()
        );
    }
    Ok(())
}
