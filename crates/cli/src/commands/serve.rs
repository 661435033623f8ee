//! `opendata serve`.

use anyhow::Context;
use opendata_api::{App, AppState};
use opendata_catalog::Catalog;

use crate::config::ServeArgs;

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let catalog = Catalog::open(&args.store.data_dir, args.store.database_url.as_deref())
        .await
        .with_context(|| format!("cannot open the catalog in {}", args.store.data_dir.display()))?;
    let app = opendata_api::router(AppState::new(App { catalog }));
    let listener =
        tokio::net::TcpListener::bind(args.addr).await.with_context(|| format!("cannot listen on {}", args.addr))?;
    let addr = listener.local_addr()?;
    tracing::info!("serving the API on http://{addr}/api/v1/datasets and the docs on http://{addr}/docs");
    axum::serve(listener, app).with_graceful_shutdown(shutdown()).await?;
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
