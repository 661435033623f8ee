//! Who is calling, and the audit of every write.
//!
//! Credentials come as `Authorization: Bearer <token>`: a publisher's API key (`odk_…`) or the
//! administrator's token. The [`layer`] middleware resolves them once per request into a
//! [`Principal`] (a request extension, read by handlers through [`Caller`]) and, after any write
//! (a method other than GET, HEAD or OPTIONS), records who did what, from where, with which
//! result in the audit log, refused attempts included.
//!
//! Who may do what:
//! - the admin token: everything (publishers, keys, the audit log, and any publisher's datasets);
//! - a key: create datasets of its publisher, edit, withdraw and upload to them, read their jobs;
//! - no credentials: reads only. A write without credentials, with an unknown token or with a
//!   revoked key answers 401; a key acting outside its publisher, or on an admin endpoint, 403.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use opendata_catalog::{Actor, ApiKey, KeyCheck, NewAuditEntry};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// The administrator's token, kept as its sha256 and compared in constant time.
pub struct AdminToken([u8; 32]);

impl AdminToken {
    pub fn new(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }

    fn matches(&self, given: &str) -> bool {
        let given: [u8; 32] = Sha256::digest(given.as_bytes()).into();
        self.0.iter().zip(given).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(…)")
    }
}

/// The caller of a request, as its credentials say.
#[derive(Debug, Clone, Default)]
pub enum Principal {
    /// No `Authorization` header.
    #[default]
    Anonymous,
    Admin,
    /// A valid key of a publisher.
    Publisher(ApiKey),
    /// Credentials were given but are not valid: the 401 to answer.
    Refused(RefusedCredentials),
}

#[derive(Debug, Clone)]
pub enum RefusedCredentials {
    Malformed,
    Unknown,
    Revoked(ApiKey),
}

impl Principal {
    fn actor(&self) -> Actor {
        match self {
            Self::Admin => Actor::Admin,
            Self::Publisher(_) => Actor::Key,
            Self::Refused(RefusedCredentials::Revoked(_)) => Actor::Key,
            Self::Anonymous | Self::Refused(_) => Actor::Anonymous,
        }
    }

    fn key(&self) -> Option<&ApiKey> {
        match self {
            Self::Publisher(k) | Self::Refused(RefusedCredentials::Revoked(k)) => Some(k),
            _ => None,
        }
    }

    /// 401 unless valid credentials were given.
    fn require_credentials(&self) -> Result<(), ApiError> {
        match self {
            Self::Admin | Self::Publisher(_) => Ok(()),
            Self::Anonymous => Err(ApiError::new(
                "unauthorized",
                "this endpoint needs credentials: send `Authorization: Bearer <key>` with a publisher's API key",
            )),
            Self::Refused(RefusedCredentials::Malformed) => {
                Err(ApiError::new("invalid_credentials", "the `Authorization` header must be `Bearer <key>`"))
            }
            Self::Refused(RefusedCredentials::Unknown) => {
                Err(ApiError::new("invalid_credentials", "the API key or token is not valid"))
            }
            Self::Refused(RefusedCredentials::Revoked(k)) => Err(ApiError::new(
                "key_revoked",
                format!("API key `{}` was revoked; ask your administrator for a new one", k.id),
            )),
        }
    }

    /// The admin token, and nothing else.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        self.require_credentials()?;
        match self {
            Self::Admin => Ok(()),
            _ => {
                Err(ApiError::new("forbidden", "this endpoint needs the administrator's token, not a publisher's key"))
            }
        }
    }

    /// The admin token, or a key of `publisher_id`.
    pub fn require_publisher(&self, publisher_id: &str) -> Result<(), ApiError> {
        self.require_credentials()?;
        match self {
            Self::Publisher(k) if k.publisher_id != publisher_id => Err(ApiError::new(
                "forbidden",
                format!("API key `{}` belongs to `{}` and cannot write for `{publisher_id}`", k.id, k.publisher_id),
            )
            .with_details(serde_json::json!({ "key_publisher": k.publisher_id, "publisher": publisher_id }))),
            _ => Ok(()),
        }
    }

    /// The publisher a key acts for; `None` for the admin. 401 without valid credentials.
    pub fn acting_publisher(&self) -> Result<Option<&str>, ApiError> {
        self.require_credentials()?;
        Ok(self.key().map(|k| k.publisher_id.as_str()))
    }
}

/// Resolve the `Authorization` header.
async fn resolve(app: &AppState, headers: &HeaderMap) -> Result<Principal, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(Principal::Anonymous);
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        return Ok(Principal::Refused(RefusedCredentials::Malformed));
    };
    if app.admin_token.as_ref().is_some_and(|a| a.matches(token)) {
        return Ok(Principal::Admin);
    }
    Ok(match app.catalog.check_key(token).await? {
        KeyCheck::Valid(key) => Principal::Publisher(key),
        KeyCheck::Revoked(key) => Principal::Refused(RefusedCredentials::Revoked(key)),
        KeyCheck::Unknown => Principal::Refused(RefusedCredentials::Unknown),
    })
}

/// The principal of the request (set by [`layer`]).
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(parts.extensions.get::<Principal>().cloned().unwrap_or_default()))
    }
}

/// What a write handler tells the audit log besides the request itself: the publisher it
/// acted on and facts about the outcome. Set as a response extension.
#[derive(Debug, Clone, Default)]
pub struct AuditNote {
    pub publisher: Option<String>,
    pub detail: Value,
}

impl AuditNote {
    pub fn new(publisher: impl Into<String>, detail: Value) -> Self {
        Self { publisher: Some(publisher.into()), detail }
    }
}

fn is_write(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The publisher a path is about (`/api/v1/datasets/{id}…` or `/api/v1/publishers/{p}…`), so a
/// refused attempt on a publisher's dataset is filed under that publisher.
async fn publisher_of_path(app: &AppState, path: &str) -> Option<String> {
    let segment =
        |prefix: &str| path.strip_prefix(prefix).and_then(|rest| rest.split('/').next()).filter(|s| !s.is_empty());
    if let Some(p) = segment("/api/v1/publishers/") {
        return Some(p.to_string());
    }
    let id = segment("/api/v1/datasets/")?;
    app.catalog.dataset(id).await.ok().map(|d| d.metadata.publisher.id)
}

/// Resolve the caller, run the request, and audit it when it is a write. A write runs in a
/// task of its own: a client that hangs up does not cut it (or its audit entry) short.
pub async fn layer(State(app): State<AppState>, mut request: Request, next: Next) -> Response {
    let principal = match resolve(&app, request.headers()).await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    if !is_write(request.method()) {
        // Reads are not audited: nothing to note down for them.
        request.extensions_mut().insert(principal);
        return next.run(request).await;
    }
    let action = format!(
        "{} {}",
        request.method(),
        request.extensions().get::<MatchedPath>().map_or(request.uri().path(), MatchedPath::as_str)
    );
    let target = request.uri().path().to_string();
    let address = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string());
    request.extensions_mut().insert(principal.clone());
    let task = tokio::spawn(async move {
        let response = next.run(request).await;
        let note = response.extensions().get::<AuditNote>().cloned().unwrap_or_default();
        let mut detail = note.detail;
        if let Some(ErrorCode(code)) = response.extensions().get::<ErrorCode>() {
            detail = match detail {
                Value::Object(mut o) => {
                    o.insert("error".into(), Value::from(*code));
                    Value::Object(o)
                }
                _ => serde_json::json!({ "error": code }),
            };
        }
        let publisher = match note.publisher {
            Some(p) => Some(p),
            None => publisher_of_path(&app, &target).await,
        };
        let entry = principal.audit_entry(publisher, action, target, address, response.status().as_u16(), detail);
        record(&app, &entry).await;
        response
    });
    task.await.unwrap_or_else(|e| ApiError::internal(e).into_response())
}

/// Write an audit entry; a failure is logged (the write it describes has happened).
pub async fn record(app: &AppState, entry: &NewAuditEntry) {
    if let Err(e) = app.catalog.record_audit(entry).await {
        tracing::error!(error = %e, ?entry, "could not record a write in the audit log");
    }
}

impl Principal {
    /// An audit entry of this caller's write.
    pub fn audit_entry(
        &self,
        publisher: Option<String>,
        action: String,
        target: String,
        address: Option<String>,
        status: u16,
        detail: Value,
    ) -> NewAuditEntry {
        NewAuditEntry {
            actor: self.actor(),
            key_id: self.key().map(|k| k.id.clone()),
            publisher_id: publisher.or_else(|| self.key().map(|k| k.publisher_id.clone())),
            key_publisher_id: self.key().map(|k| k.publisher_id.clone()),
            action,
            target,
            address,
            status,
            detail,
        }
    }
}
