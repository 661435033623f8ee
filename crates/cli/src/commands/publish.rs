//! `opendata publish DIR`: publish each dataset folder (a `metadata.json` and one data file).
//! Re-running with unchanged files creates nothing; a changed file creates a new version.
//!
//! `metadata.json` is a `DatasetMetadata` document, plus optionally `"file"` (the data file's
//! name, needed only when the folder holds several) and `"ingest"` options
//! (`{"sheet", "header_row", "encoding"}`).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use opendata_catalog::{Actor, Catalog, DatasetMetadata, JobOptions, JobState, NewAuditEntry, NewJob, SourceFile};
use serde::Deserialize;

use crate::config::PublishArgs;

const METADATA: &str = "metadata.json";

#[derive(Debug, Default, Deserialize)]
struct PublishSpec {
    file: Option<String>,
    #[serde(default)]
    ingest: IngestSpec,
}

#[derive(Debug, Default, Deserialize)]
struct IngestSpec {
    sheet: Option<String>,
    header_row: Option<usize>,
    encoding: Option<String>,
}

pub async fn run(args: PublishArgs) -> anyhow::Result<()> {
    let _lock = super::lock_data_dir(&args.store.data_dir)?;
    let catalog = Catalog::open(&args.store.data_dir, args.store.database_url.as_deref())
        .await
        .with_context(|| format!("cannot open the catalog in {}", args.store.data_dir.display()))?
        .with_exporter(std::sync::Arc::new(opendata_api::answers::VersionExports));
    let folders = dataset_folders(&args.dir)?;
    if folders.is_empty() {
        bail!("no dataset folder (with a {METADATA}) in {}", args.dir.display());
    }
    let mut failed = 0;
    for folder in &folders {
        if let Err(e) = publish_folder(&catalog, folder).await {
            eprintln!("error: {}: {e:#}", folder.display());
            failed += 1;
        }
    }
    if failed > 0 {
        bail!("{failed} of {} datasets failed to publish", folders.len());
    }
    Ok(())
}

fn dataset_folders(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if dir.join(METADATA).is_file() {
        return Ok(vec![dir.to_path_buf()]);
    }
    let mut folders: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join(METADATA).is_file())
        .collect();
    folders.sort();
    Ok(folders)
}

async fn publish_folder(catalog: &Catalog, folder: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(folder.join(METADATA)).context("cannot read metadata.json")?;
    let metadata: DatasetMetadata =
        serde_json::from_str(&text).context("metadata.json is not a valid dataset metadata document")?;
    let spec: PublishSpec = serde_json::from_str(&text).context("metadata.json: bad `file` or `ingest`")?;
    let file = match spec.file {
        Some(f) => folder.join(f),
        None => single_data_file(folder)?,
    };
    if catalog.upsert_dataset(&metadata).await? {
        tracing::info!(dataset = %metadata.id, "metadata saved");
    }
    let source = {
        let file = file.clone();
        let shown = file.display().to_string();
        tokio::task::spawn_blocking(move || SourceFile::from_path(&file))
            .await?
            .with_context(|| format!("cannot read {shown}"))?
    };
    // An unchanged file is not read again (the catalog would refuse a new version anyway).
    if let Ok(latest) = catalog.version(&metadata.id, None).await
        && latest.source_sha256 == source.sha256
    {
        println!("{}: unchanged (version {})", metadata.id, latest.number);
        return Ok(());
    }
    // The same path as an upload to the API: a job that ingests and publishes, and an audit entry.
    let job = catalog
        .create_job(NewJob {
            dataset_id: metadata.id.clone(),
            actor: Actor::Cli,
            key_id: None,
            source,
            options: JobOptions {
                sheet: spec.ingest.sheet,
                header_row: spec.ingest.header_row,
                encoding: spec.ingest.encoding,
            },
        })
        .await?;
    let job = catalog.run_job(&job.id, &file, false).await?;
    let status = if job.state == JobState::Failed {
        422
    } else if job.unchanged {
        200
    } else {
        201
    };
    catalog
        .record_audit(&NewAuditEntry {
            actor: Actor::Cli,
            key_id: None,
            publisher_id: Some(metadata.publisher.id.clone()),
            key_publisher_id: None,
            action: "publish".into(),
            target: metadata.id.clone(),
            address: None,
            status,
            detail: serde_json::json!({ "job": job.id, "version": job.version, "file": job.source_name }),
        })
        .await?;
    match (&job.error, job.version) {
        (Some(e), _) => bail!("error[{}]: {}", e.code, e.message),
        (None, Some(v)) if job.unchanged => println!("{}: unchanged (version {v})", metadata.id),
        (None, Some(v)) => {
            let fields = job.report.as_ref().map_or(0, |r| r.fields.len());
            println!("{}: published version {v} ({} rows, {fields} fields)", metadata.id, job.rows.unwrap_or(0));
        }
        (None, None) => bail!("job {} ended without a version", job.id),
    }
    Ok(())
}

fn single_data_file(folder: &Path) -> anyhow::Result<PathBuf> {
    let files: Vec<PathBuf> = std::fs::read_dir(folder)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file() && p.file_name().is_some_and(|n| n != METADATA && !n.to_string_lossy().starts_with('.'))
        })
        .filter(|p| p.extension().is_none_or(|e| e != "md"))
        .collect();
    match files.as_slice() {
        [one] => Ok(one.clone()),
        [] => bail!("no data file beside metadata.json"),
        _ => bail!("several data files beside metadata.json; name one with \"file\""),
    }
}
