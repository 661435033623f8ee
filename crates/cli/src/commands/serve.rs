//! `opendata serve`.

use anyhow::Context;
use opendata_api::{App, AppState};
use opendata_catalog::Catalog;

use crate::config::ServeArgs;

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let _lock = super::lock_data_dir(&args.store.data_dir)?;
    let catalog = Catalog::open(&args.store.data_dir, args.store.database_url.as_deref())
        .await
        .with_context(|| format!("cannot open the catalog in {}", args.store.data_dir.display()))?
        .with_exporter(std::sync::Arc::new(opendata_api::answers::VersionExports));
    let recovery = catalog.recover().await.context("cannot recover from the last stop")?;
    if recovery.jobs_failed + recovery.files_removed > 0 {
        tracing::warn!(?recovery, "recovered from an interrupted run");
    }
    let cursor_secret = catalog.secret("cursor").await.context("cannot read the cursor secret")?;
    let mut app = App::new(catalog.clone());
    app.cursor_secret = cursor_secret;
    // From the environment only: a command-line flag would show the token in `ps`.
    let admin_token = std::env::var("OPENDATA_ADMIN_TOKEN").ok().filter(|t| !t.trim().is_empty());
    app.admin_token = admin_token.as_deref().map(opendata_api::auth::AdminToken::new);
    app.max_upload_bytes = args.max_upload_bytes;
    app.tables = opendata_api::cache::TableCache::new(args.cache_bytes);
    app.answers = opendata_api::answers::AnswerFiles::new(catalog.answer_dir(), args.answer_cache_bytes);
    app.answers.clear();
    if args.rate_limit == "on" {
        let limits = opendata_api::throttle::Limits {
            reads_per_second: args.rate_reads,
            heavy_per_second: args.rate_heavy,
            writes_per_second: args.rate_writes,
            trusted_proxies: args.trusted_proxies.clone(),
            ..Default::default()
        };
        app.throttle = Some(std::sync::Arc::new(opendata_api::throttle::Throttle::new(limits)));
    } else {
        tracing::warn!("rate limits are off (OPENDATA_RATE_LIMIT=off)");
    }
    let state = AppState::new(app);
    tokio::spawn({
        let state = state.clone();
        async move { state.warm().await }
    });
    let router = opendata_api::router(state);
    let listener =
        tokio::net::TcpListener::bind(args.addr).await.with_context(|| format!("cannot listen on {}", args.addr))?;
    let addr = listener.local_addr()?;
    tracing::info!("serving the API on http://{addr}/api/v1/datasets and the docs on http://{addr}/docs");
    let header_timeout = std::time::Duration::from_secs(args.header_read_timeout.max(1));
    serve_http(listener, router, header_timeout, shutdown(args.exit_on_stdin_eof)).await;
    // Uploads accepted with 202 finish rather than end `interrupted` (within reason).
    if !catalog.drain_jobs(std::time::Duration::from_secs(60)).await {
        tracing::warn!("stopping with jobs still running; they will be marked interrupted at the next start");
    }
    Ok(())
}

/// How long a stop waits for answers in flight.
const DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Accept connections until `stop`, each served by hyper with a header-read timeout (which
/// `axum::serve` does not set), the peer's address given to handlers as `ConnectInfo`; then
/// let the answers in flight finish.
async fn serve_http(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    header_timeout: std::time::Duration,
    stop: impl std::future::Future<Output = ()>,
) {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(header_timeout);
    builder.http2().timer(TokioTimer::new()).keep_alive_interval(Some(header_timeout));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, most likely: wait rather than spin.
                    tracing::warn!(error = %e, "could not accept a connection");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let service =
            tower::ServiceExt::map_request(router.clone(), move |mut r: axum::http::Request<hyper::body::Incoming>| {
                r.extensions_mut().insert(axum::extract::ConnectInfo(peer));
                r
            });
        let connection = builder
            .serve_connection_with_upgrades(
                TokioIo::new(stream),
                hyper_util::service::TowerToHyperService::new(service),
            )
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown()).await.is_err() {
        tracing::warn!("stopping with answers still being sent");
    }
}

/// Standard input read to its end, on a thread of its own: a blocking read in the runtime's
/// pool would keep the runtime from shutting down on a signal.
async fn stdin_closed() {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
        let _ = tx.send(());
    });
    let _ = rx.await;
}

async fn shutdown(on_stdin_eof: bool) {
    let stdin = async {
        if on_stdin_eof {
            stdin_closed().await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        _ = signals() => {},
        _ = stdin => tracing::info!("standard input closed"),
    }
    tracing::info!("shutting down");
}

async fn signals() {
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
}
