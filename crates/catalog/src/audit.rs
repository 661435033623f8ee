//! The audit log: one row per write, whoever made it and however it ended.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::Row;

use crate::error::Result;
use crate::store::{Catalog, now, parse_time};

/// Who made a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    /// The holder of the server's admin token.
    Admin,
    /// A publisher's API key.
    Key,
    /// A request without valid credentials (refused, and recorded).
    Anonymous,
    /// The `opendata` command line on the server's machine.
    Cli,
}

impl Actor {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Key => "key",
            Self::Anonymous => "anonymous",
            Self::Cli => "cli",
        }
    }

    pub(crate) fn parse(s: &str) -> Self {
        match s {
            "admin" => Self::Admin,
            "key" => Self::Key,
            "cli" => Self::Cli,
            _ => Self::Anonymous,
        }
    }
}

/// A write to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAuditEntry {
    pub actor: Actor,
    pub key_id: Option<String>,
    /// The publisher acted on (the dataset's or the path's), or else the key's.
    pub publisher_id: Option<String>,
    /// The publisher of the key used, when a key was used.
    pub key_publisher_id: Option<String>,
    /// What was done: `POST /api/v1/datasets/{id}/versions`, `publish`…
    pub action: String,
    /// What it was done to: the request path, or a dataset id.
    pub target: String,
    /// The client's address.
    pub address: Option<String>,
    /// The HTTP status of the answer (the CLI records 200 or 422 alike).
    pub status: u16,
    /// Facts about the outcome: the job, the version, the error code.
    pub detail: Value,
}

/// A recorded write.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: Actor,
    pub key_id: Option<String>,
    pub publisher_id: Option<String>,
    pub key_publisher_id: Option<String>,
    pub action: String,
    pub target: String,
    pub address: Option<String>,
    pub status: u16,
    pub detail: Value,
}

/// Filters of the audit log.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Writes on this publisher's data, or with one of its keys.
    pub publisher: Option<String>,
    pub limit: usize,
    pub offset: usize,
}

impl Catalog {
    pub async fn record_audit(&self, entry: &NewAuditEntry) -> Result<()> {
        sqlx::query(
            "INSERT INTO audit (at, actor, key_id, publisher_id, key_publisher_id, action, target, address, status,
               detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(now().to_rfc3339())
        .bind(entry.actor.as_str())
        .bind(&entry.key_id)
        .bind(&entry.publisher_id)
        .bind(&entry.key_publisher_id)
        .bind(&entry.action)
        .bind(&entry.target)
        .bind(&entry.address)
        .bind(i64::from(entry.status))
        .bind((!entry.detail.is_null()).then(|| entry.detail.to_string()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Entries newest first, and the total before paging.
    pub async fn audit(&self, query: &AuditQuery) -> Result<(i64, Vec<AuditEntry>)> {
        let total: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit WHERE ?1 IS NULL OR publisher_id = ?1 OR key_publisher_id = ?1",
        )
        .bind(&query.publisher)
        .fetch_one(&self.pool)
        .await?;
        let rows = sqlx::query(
            "SELECT * FROM audit WHERE ?1 IS NULL OR publisher_id = ?1 OR key_publisher_id = ?1
             ORDER BY id DESC LIMIT ?2 OFFSET ?3",
        )
        .bind(&query.publisher)
        .bind(query.limit as i64)
        .bind(query.offset as i64)
        .fetch_all(&self.pool)
        .await?;
        let items = rows
            .iter()
            .map(|r| {
                let detail: Option<String> = r.get("detail");
                Ok(AuditEntry {
                    id: r.get("id"),
                    at: parse_time(r.get("at")),
                    actor: Actor::parse(r.get("actor")),
                    key_id: r.get("key_id"),
                    publisher_id: r.get("publisher_id"),
                    key_publisher_id: r.get("key_publisher_id"),
                    action: r.get("action"),
                    target: r.get("target"),
                    address: r.get("address"),
                    status: r.get::<i64, _>("status") as u16,
                    detail: detail.as_deref().map(serde_json::from_str).transpose()?.unwrap_or(Value::Null),
                })
            })
            .collect::<Result<_>>()?;
        Ok((total, items))
    }
}
