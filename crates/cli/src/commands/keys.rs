//! `opendata keys create|list|revoke`: manage a publisher's API keys on the server's machine
//! (the same as the admin endpoints under `/api/v1/publishers/{p}/keys`).

use anyhow::Context;
use opendata_catalog::{Actor, Catalog, NewAuditEntry};

use crate::config::{KeysArgs, KeysCommand};

pub async fn run(args: KeysArgs) -> anyhow::Result<()> {
    let catalog = Catalog::open(&args.store.data_dir, args.store.database_url.as_deref())
        .await
        .with_context(|| format!("cannot open the catalog in {}", args.store.data_dir.display()))?;
    let audit = |action: &str, publisher: &str, key_id: &str| NewAuditEntry {
        actor: Actor::Cli,
        key_id: None,
        publisher_id: Some(publisher.to_string()),
        key_publisher_id: None,
        action: action.to_string(),
        target: format!("{publisher}/{key_id}"),
        address: None,
        status: 201,
        detail: serde_json::json!({ "key": key_id }),
    };
    match args.command {
        KeysCommand::Create { publisher, label } => {
            let new = catalog.create_key(&publisher, label.as_deref().unwrap_or_default()).await.with_context(|| {
                format!("cannot create a key for `{publisher}` (create the publisher first: POST /api/v1/publishers, or publish a dataset of it)")
            })?;
            catalog.record_audit(&audit("keys create", &publisher, &new.key.id)).await?;
            eprintln!("key {} created for {publisher}; it is shown once, here, and stored only as a hash:", new.key.id);
            println!("{}", new.secret);
        }
        KeysCommand::List { publisher } => {
            for key in catalog.keys(&publisher).await? {
                let state = key.revoked_at.map_or("active".to_string(), |t| format!("revoked {}", t.to_rfc3339()));
                println!("{}\t{}\t{}\t{}", key.id, key.created_at.to_rfc3339(), state, key.label);
            }
        }
        KeysCommand::Revoke { publisher, key } => {
            let revoked = catalog.revoke_key(&publisher, &key).await?;
            catalog
                .record_audit(&NewAuditEntry { status: 200, ..audit("keys revoke", &publisher, &revoked.id) })
                .await?;
            println!("key {} of {publisher} revoked", revoked.id);
        }
    }
    Ok(())
}
