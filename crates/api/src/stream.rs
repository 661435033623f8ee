//! Streamed CSV bodies: a blocking task encodes batches of rows and hands them to the response
//! through a small bounded channel, so memory stays bounded and a slow client slows the reader.

use axum::body::Body;
use bytes::Bytes;
use opendata_query::encode::csv::{self, CsvOptions};
use opendata_query::plan::Batches;

/// Batches in flight between the encoder and the socket.
const CHANNEL_DEPTH: usize = 4;

/// A CSV body: optional BOM, the header line, then the rows of `batches`.
pub fn csv_body(batches: Batches, names: Vec<String>, bom: bool, opts: CsvOptions) -> Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(CHANNEL_DEPTH);
    tokio::task::spawn_blocking(move || {
        let mut head = Vec::new();
        if bom {
            head.extend_from_slice(csv::BOM);
        }
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        csv::write_header(&refs, &mut head, opts);
        if tx.blocking_send(Ok(Bytes::from(head))).is_err() {
            return;
        }
        for batch in batches {
            let chunk = batch.and_then(|frame| {
                let mut out = Vec::with_capacity(frame.height() * 64);
                csv::write_rows(&frame, &mut out, opts)?;
                Ok(out)
            });
            let item = chunk.map(Bytes::from).map_err(|e| {
                tracing::error!(error = %e, "CSV stream failed mid-way");
                std::io::Error::other(e.to_string())
            });
            let failed = item.is_err();
            // The client hung up: stop reading.
            if tx.blocking_send(item).is_err() || failed {
                return;
            }
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    Body::from_stream(stream)
}

/// `attachment; filename="…"` with an ASCII name.
pub fn attachment(file_name: &str) -> String {
    format!("attachment; filename=\"{file_name}\"")
}
