//! API keys: random secrets shown once, stored only as a sha256, revocable. A key belongs to
//! one publisher and writes only that publisher's datasets.

use base64::Engine;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use crate::error::{CatalogError, Result};
use crate::store::{Catalog, now, parse_time};

/// Every key starts with this, so a leaked key is easy to recognise (and to scan for).
pub const KEY_PREFIX: &str = "odk_";

/// A key as stored: everything but the secret.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiKey {
    /// Public id of the key (shown in the audit log; not a secret).
    pub id: String,
    pub publisher_id: String,
    pub label: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A new key and its secret, which exists only in this value: it is not stored.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub key: ApiKey,
    pub secret: String,
}

/// What a presented secret turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyCheck {
    Valid(ApiKey),
    Revoked(ApiKey),
    Unknown,
}

/// `n` random bytes from the operating system.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|e| CatalogError::Random(e.to_string()))?;
    Ok(buf)
}

/// The stored form of a secret. Secrets carry 256 random bits, so a plain sha256 is enough:
/// there is nothing to brute-force.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn key_from_row(row: &SqliteRow) -> ApiKey {
    ApiKey {
        id: row.get("id"),
        publisher_id: row.get("publisher_id"),
        label: row.get("label"),
        created_at: parse_time(row.get("created_at")),
        revoked_at: row.get::<Option<String>, _>("revoked_at").as_deref().map(parse_time),
    }
}

impl Catalog {
    /// Create a key for `publisher_id`. The secret is in the answer and nowhere else.
    pub async fn create_key(&self, publisher_id: &str, label: &str) -> Result<NewKey> {
        self.publisher(publisher_id).await?;
        let secret =
            format!("{KEY_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>()?));
        let key = ApiKey {
            id: hex::encode(random_bytes::<8>()?),
            publisher_id: publisher_id.to_string(),
            label: label.trim().to_string(),
            created_at: now(),
            revoked_at: None,
        };
        sqlx::query("INSERT INTO api_keys (id, publisher_id, label, secret_hash, created_at) VALUES (?, ?, ?, ?, ?)")
            .bind(&key.id)
            .bind(&key.publisher_id)
            .bind(&key.label)
            .bind(hash_secret(&secret))
            .bind(key.created_at.to_rfc3339())
            .execute(&self.pool)
            .await?;
        Ok(NewKey { key, secret })
    }

    /// The keys of a publisher, newest first, without their secrets.
    pub async fn keys(&self, publisher_id: &str) -> Result<Vec<ApiKey>> {
        self.publisher(publisher_id).await?;
        let rows = sqlx::query("SELECT * FROM api_keys WHERE publisher_id = ? ORDER BY created_at DESC, id")
            .bind(publisher_id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(key_from_row).collect())
    }

    /// Revoke a key of `publisher_id`. Revoking a revoked key keeps its first revocation time.
    pub async fn revoke_key(&self, publisher_id: &str, key_id: &str) -> Result<ApiKey> {
        sqlx::query("UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ? AND publisher_id = ?")
            .bind(now().to_rfc3339())
            .bind(key_id)
            .bind(publisher_id)
            .execute(&self.pool)
            .await?;
        let row = sqlx::query("SELECT * FROM api_keys WHERE id = ? AND publisher_id = ?")
            .bind(key_id)
            .bind(publisher_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| CatalogError::KeyNotFound {
                publisher: publisher_id.to_string(),
                key: key_id.to_string(),
            })?;
        Ok(key_from_row(&row))
    }

    /// Look a presented secret up by its hash.
    pub async fn check_key(&self, secret: &str) -> Result<KeyCheck> {
        if !secret.starts_with(KEY_PREFIX) {
            return Ok(KeyCheck::Unknown);
        }
        let row = sqlx::query("SELECT * FROM api_keys WHERE secret_hash = ?")
            .bind(hash_secret(secret))
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row.as_ref().map(key_from_row) {
            Some(key) if key.revoked_at.is_some() => KeyCheck::Revoked(key),
            Some(key) => KeyCheck::Valid(key),
            None => KeyCheck::Unknown,
        })
    }
}
