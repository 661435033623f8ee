//! Extractors whose rejections are [`ApiError`]s, so a malformed query string answers in the
//! same JSON envelope as every other error.

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// `Query<T>` answering 400 `invalid_parameter` (naming the parameter) when it does not parse.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(t)| Self(t))
            .map_err(|e| ApiError::new("invalid_parameter", e.body_text()))
    }
}

/// Every `key=value` pair of the query string, in order, percent-decoded (`+` is a space).
#[derive(Debug, Clone, Default)]
pub struct QueryPairs(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryPairs {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        Ok(Self(form_urlencoded::parse(query.as_bytes()).into_owned().collect()))
    }
}

/// Re-encode pairs as a query string.
pub fn encode_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// `Json<T>` answering in the error envelope: 415 `unsupported_media_type` without a JSON
/// `Content-Type`, 400 `invalid_body` (with serde's words: the field and position) otherwise,
/// and for a member given twice in one object (which of the two would count is anybody's
/// guess, so neither does).
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> axum::extract::FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|m| m.trim().to_ascii_lowercase())
            .is_some_and(|m| m == "application/json" || (m.starts_with("application/") && m.ends_with("+json")));
        if !json {
            return Err(ApiError::new(
                "unsupported_media_type",
                "the body must be JSON, sent with `Content-Type: application/json`",
            ));
        }
        let body = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::new("invalid_body", format!("the body could not be read: {}", e.body_text())))?;
        json_body(&body).map(Self)
    }
}

/// Parse a JSON request body, refusing a member given twice in one object.
pub fn json_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    no_duplicate_members(body).map_err(|e| ApiError::new("invalid_body", format!("the body: {e}")))?;
    serde_json::from_slice(body).map_err(|e| ApiError::new("invalid_body", format!("the body: {e}")))
}

/// An error naming the first member that appears twice in one object, at any depth.
/// serde_json keeps the last of them silently.
fn no_duplicate_members(body: &[u8]) -> Result<(), serde_json::Error> {
    use serde::de::{DeserializeSeed, Deserializer, Error, MapAccess, SeqAccess, Visitor};

    struct Walk;
    impl<'de> DeserializeSeed<'de> for Walk {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }
    impl<'de> Visitor<'de> for Walk {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON value")
        }
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while seq.next_element_seed(Walk)?.is_some() {}
            Ok(())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            let mut seen = std::collections::HashSet::new();
            while let Some(key) = map.next_key::<String>()? {
                if !seen.insert(key.clone()) {
                    return Err(A::Error::custom(format!("member `{key}` appears twice in one object")));
                }
                map.next_value_seed(Walk)?;
            }
            Ok(())
        }
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    Walk.deserialize(&mut de)?;
    de.end()
}

/// A list's `limit`: `default` when absent, 1 to `max` otherwise (400 `invalid_limit`).
pub fn page_limit(limit: Option<usize>, default: usize, max: usize) -> Result<usize, ApiError> {
    let limit = limit.unwrap_or(default);
    if limit == 0 || limit > max {
        return Err(ApiError::new("invalid_limit", format!("parameter `limit`: {limit} is not between 1 and {max}")));
    }
    Ok(limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_member_given_twice_is_refused_at_any_depth() {
        let e = json_body::<serde_json::Value>(br#"{"title": "a", "title": "b"}"#).unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            ("invalid_body", "the body: member `title` appears twice in one object at line 1 column 22")
        );
        let e = json_body::<serde_json::Value>(br#"{"contact": [{"email": "a", "email": "b"}]}"#).unwrap_err();
        assert!(e.message.contains("`email` appears twice"), "{}", e.message);
        let v: serde_json::Value = json_body(br#"{"a": {"x": 1}, "b": {"x": 2}, "c": [1, 1]}"#).unwrap();
        assert_eq!(v["b"]["x"], 2);
        assert_eq!(json_body::<serde_json::Value>(b"{\"a\": 1").unwrap_err().code, "invalid_body");
    }
}
