//! The query crate's one error type: everything a request's parameters can get wrong.

use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("unknown field `{field}` in parameter `{param}`; valid fields: {}", valid.join(", "))]
    UnknownField { param: String, field: String, valid: Vec<String> },
    #[error("parameter `{param}`: `{value}` is not a valid {expected}")]
    InvalidValue { param: String, value: String, expected: String },
    #[error("parameter `{param}`: unknown operator `{op}`; valid operators: {}", crate::filter::Op::NAMES.join(", "))]
    UnknownOperator { param: String, op: String },
    #[error("parameter `{param}`: operator `{op}` does not apply to {field_type} field `{field}`")]
    OperatorNotApplicable { param: String, op: String, field: String, field_type: String },
    #[error(
        "parameter `limit`: {value} is above the maximum of {max} for format {format}; page with `offset`, or use format=csv for the whole table"
    )]
    LimitTooLarge { value: usize, max: usize, format: String },
    #[error("parameter `{param}`: {message}")]
    InvalidParameter { param: String, message: String },
    #[error("parameter `{param}`, at position {position}: {message}{}", valid_fields.as_ref().map(|v| format!("; valid fields: {}", v.join(", "))).unwrap_or_default())]
    Expression { param: String, position: usize, message: String, valid_fields: Option<Vec<String>> },
    #[error("parameter `cursor`: {0}")]
    InvalidCursor(String),
    #[error("query failed: {0}")]
    Engine(String),
}

impl QueryError {
    /// Stable error code for the API's error envelope.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownField { .. } => "unknown_field",
            Self::InvalidValue { .. } => "invalid_value",
            Self::UnknownOperator { .. } => "unknown_operator",
            Self::OperatorNotApplicable { .. } => "invalid_operator",
            Self::LimitTooLarge { .. } => "invalid_limit",
            Self::Expression { valid_fields: Some(_), .. } => "unknown_field",
            Self::Expression { param, .. } if param == "where" => "invalid_where",
            Self::Expression { .. } => "invalid_select",
            Self::InvalidCursor(_) => "invalid_cursor",
            Self::InvalidParameter { param, .. } => match param.as_str() {
                "limit" => "invalid_limit",
                "offset" => "invalid_offset",
                "sort" => "invalid_sort",
                "select" => "invalid_select",
                "format" => "invalid_format",
                "version" => "invalid_version",
                _ => "invalid_parameter",
            },
            Self::Engine(_) => "internal",
        }
    }

    /// True when the request was wrong (400), false for our own failures (500).
    pub fn is_client_error(&self) -> bool {
        !matches!(self, Self::Engine(_))
    }

    pub fn details(&self) -> Value {
        match self {
            Self::UnknownField { param, field, valid } => {
                serde_json::json!({ "parameter": param, "field": field, "valid_fields": valid })
            }
            Self::InvalidValue { param, value, expected } => {
                serde_json::json!({ "parameter": param, "value": value, "expected": expected })
            }
            Self::UnknownOperator { param, .. } => {
                serde_json::json!({ "parameter": param, "valid_operators": crate::filter::Op::NAMES })
            }
            Self::OperatorNotApplicable { param, .. } | Self::InvalidParameter { param, .. } => {
                serde_json::json!({ "parameter": param })
            }
            Self::LimitTooLarge { max, .. } => serde_json::json!({ "parameter": "limit", "max": max }),
            Self::Expression { param, position, valid_fields, .. } => match valid_fields {
                Some(v) => serde_json::json!({ "parameter": param, "position": position, "valid_fields": v }),
                None => serde_json::json!({ "parameter": param, "position": position }),
            },
            Self::InvalidCursor(_) => serde_json::json!({ "parameter": "cursor" }),
            Self::Engine(_) => Value::Null,
        }
    }
}

impl From<polars::error::PolarsError> for QueryError {
    fn from(e: polars::error::PolarsError) -> Self {
        let text = e.to_string();
        if let Some(at) = text.find(crate::aggregate::SUM_OVERFLOW) {
            let rest = &text[at + crate::aggregate::SUM_OVERFLOW.len()..];
            let (alias, value) = rest.split_once(':').unwrap_or((rest, "?"));
            let value = value.split(|c: char| c.is_whitespace() || c == '\'' || c == '"').next().unwrap_or(value);
            return crate::aggregate::sum_overflow(alias, &format!("about {value}"));
        }
        Self::Engine(text)
    }
}

pub type Result<T, E = QueryError> = std::result::Result<T, E>;
