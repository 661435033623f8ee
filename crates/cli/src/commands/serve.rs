//! `opendata serve`.

use anyhow::Context;
use opendata_api::{App, AppState};
use opendata_catalog::Catalog;

use crate::config::ServeArgs;

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let catalog = Catalog::open(&args.store.data_dir, args.store.database_url.as_deref())
        .await
        .with_context(|| format!("cannot open the catalog in {}", args.store.data_dir.display()))?;
    let recovery = catalog.recover().await.context("cannot recover from the last stop")?;
    if recovery.jobs_failed + recovery.files_removed > 0 {
        tracing::warn!(?recovery, "recovered from an interrupted run");
    }
    let mut app = App::new(catalog);
    app.admin_token = args.admin_token.as_deref().filter(|t| !t.is_empty()).map(opendata_api::auth::AdminToken::new);
    app.max_upload_bytes = args.max_upload_bytes;
    let app = opendata_api::router(AppState::new(app));
    let listener =
        tokio::net::TcpListener::bind(args.addr).await.with_context(|| format!("cannot listen on {}", args.addr))?;
    let addr = listener.local_addr()?;
    tracing::info!("serving the API on http://{addr}/api/v1/datasets and the docs on http://{addr}/docs");
    axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(shutdown())
        .await?;
    Ok(())
}

async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return ctrl_c.await.unwrap_or(()),
        };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    ctrl_c.await.unwrap_or(());
    tracing::info!("shutting down");
}
