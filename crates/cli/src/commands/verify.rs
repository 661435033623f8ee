//! `opendata verify`: check every version's Parquet file against the sha256 and size its
//! catalog row records. Reads only and takes no lock, so it runs beside a running server.

use anyhow::{Context, bail};
use opendata_catalog::{Catalog, VerifyReport};

use crate::config::VerifyArgs;

pub async fn run(args: VerifyArgs) -> anyhow::Result<()> {
    let catalog = open_read_only(&args.store).await?;
    let report = catalog.verify().await.context("cannot read the catalog")?;
    print_report(&report)
}

/// Open the catalog of a data folder to read it, with a clear error when there is none.
pub async fn open_read_only(store: &crate::config::StoreArgs) -> anyhow::Result<Catalog> {
    let dir = store.data_dir.display();
    Catalog::open_read_only(&store.data_dir, store.database_url.as_deref())
        .await
        .with_context(|| format!("cannot open the catalog of {dir} (is it a data folder, with a catalog.sqlite?)"))
}

/// Each missing or changed file, then a summary; an error when any is.
pub fn print_report(report: &VerifyReport) -> anyhow::Result<()> {
    for bad in &report.bad {
        println!("{bad}");
    }
    if !report.bad.is_empty() {
        bail!("{} of {} versions have a missing or changed Parquet file", report.bad.len(), report.versions);
    }
    println!("verified {} versions, {} bytes: all match", report.versions, report.bytes);
    Ok(())
}
