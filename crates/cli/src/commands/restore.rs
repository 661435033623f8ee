//! `opendata restore SRC`: copy a backup into an empty (or new) data folder, holding the
//! folder's lock meanwhile, then verify every version's file there.

use anyhow::Context;

use crate::config::RestoreArgs;

pub async fn run(args: RestoreArgs) -> anyhow::Result<()> {
    let dir = &args.store.data_dir;
    // Before the lock file is made: nothing is written into a folder that is refused.
    opendata_catalog::backup::require_empty(dir, &[opendata_catalog::backup::LOCK_FILE])?;
    let _lock = super::lock_data_dir(dir)?;
    let copied = opendata_catalog::restore(&args.src, dir, args.store.database_url.as_deref())
        .await
        .with_context(|| format!("cannot restore {} into {}", args.src.display(), dir.display()))?;
    println!(
        "restored {} into {}: {} files, {} bytes (catalog at {})",
        args.src.display(),
        dir.display(),
        copied.files,
        copied.bytes,
        copied.catalog.display()
    );
    let catalog = super::verify::open_read_only(&args.store).await?;
    let report = catalog.verify().await.context("cannot read the restored catalog")?;
    super::verify::print_report(&report)
}
