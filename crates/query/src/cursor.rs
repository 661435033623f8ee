//! Opaque page cursors: the version read and the next offset, tied to the query they page
//! through and signed (HMAC-SHA256 with the server's secret), so paging stays on one version
//! while new ones are published, and a changed or forged cursor is refused.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::error::{QueryError, Result};

/// Where the next page starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub version: i64,
    pub offset: usize,
}

fn hmac(secret: &[u8], message: &[u8]) -> [u8; 32] {
    let mut key = [0u8; 64];
    if secret.len() > 64 {
        key[..32].copy_from_slice(&Sha256::digest(secret));
    } else {
        key[..secret.len()].copy_from_slice(secret);
    }
    let pad = |byte: u8| key.map(|k| k ^ byte);
    let inner = Sha256::new().chain_update(pad(0x36)).chain_update(message).finalize();
    Sha256::new().chain_update(pad(0x5c)).chain_update(inner).finalize().into()
}

/// Parameters that do not change which rows a query pages through.
const NOT_PART_OF_QUERY: [&str; 7] = ["cursor", "offset", "version", "limit", "format", "bom", "delimiter"];

/// The canonical form of a request's query (the pairs, without paging and output options,
/// sorted), which a cursor is tied to.
pub fn query_key(pairs: &[(String, String)]) -> String {
    let mut kept: Vec<(&str, &str)> = pairs
        .iter()
        .filter(|(k, _)| !NOT_PART_OF_QUERY.contains(&k.as_str()))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    kept.sort_unstable();
    kept.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("\u{1f}")
}

/// A short digest of the query a cursor belongs to.
fn query_tag(query_key: &str) -> String {
    hex::encode(&Sha256::digest(query_key.as_bytes())[..8])
}

impl Cursor {
    pub fn encode(&self, query_key: &str, secret: &[u8]) -> String {
        let payload = format!("{}.{}.{}", self.version, self.offset, query_tag(query_key));
        let mac = hmac(secret, payload.as_bytes());
        format!("{}.{}", URL_SAFE_NO_PAD.encode(payload), URL_SAFE_NO_PAD.encode(&mac[..16]))
    }

    pub fn decode(token: &str, query_key: &str, secret: &[u8]) -> Result<Self> {
        let bad = || QueryError::InvalidCursor("not a cursor this server made; take `links.next` as it is".into());
        let (payload, mac) = token.split_once('.').ok_or_else(bad)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| bad())?;
        let mac = URL_SAFE_NO_PAD.decode(mac).map_err(|_| bad())?;
        let expected = hmac(secret, &payload);
        // Constant-time comparison of the tags.
        if mac.len() != 16 || mac.iter().zip(&expected[..16]).fold(0u8, |acc, (a, b)| acc | (a ^ b)) != 0 {
            return Err(bad());
        }
        let text = String::from_utf8(payload).map_err(|_| bad())?;
        let mut parts = text.splitn(3, '.');
        let (Some(v), Some(o), Some(tag)) = (parts.next(), parts.next(), parts.next()) else { return Err(bad()) };
        if tag != query_tag(query_key) {
            return Err(QueryError::InvalidCursor(
                "this cursor pages through another query: keep every other parameter as in the request that gave it"
                    .into(),
            ));
        }
        Ok(Self { version: v.parse().map_err(|_| bad())?, offset: o.parse().map_err(|_| bad())? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tampering() {
        let c = Cursor { version: 3, offset: 200 };
        let token = c.encode("q=ha noi", b"secret");
        assert_eq!(Cursor::decode(&token, "q=ha noi", b"secret").unwrap(), c);
        assert!(Cursor::decode(&token, "q=ha noi", b"other secret").is_err());
        assert!(Cursor::decode(&token, "q=hue", b"secret").unwrap_err().to_string().contains("another query"));
        let (payload, mac) = token.split_once('.').unwrap();
        let forged = URL_SAFE_NO_PAD.encode(format!("3.0.{}", query_tag("q=ha noi")));
        assert!(Cursor::decode(&format!("{forged}.{mac}"), "q=ha noi", b"secret").is_err());
        assert!(Cursor::decode(payload, "q=ha noi", b"secret").is_err());
        assert!(Cursor::decode("", "", b"secret").is_err());
        // RFC 4231 test case 2.
        assert_eq!(
            hex::encode(hmac(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
