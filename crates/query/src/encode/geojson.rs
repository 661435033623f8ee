//! GeoJSON: a `FeatureCollection` of the rows, for tables with a place. A row's geometry is a
//! `Point` from its longitude and latitude fields (`longitude`/`latitude`, `lon`/`lat`,
//! `lng`/`lat`, `kinh_do`/`vi_do`, numeric), or the GeoJSON text of its `geometry` field (what
//! ingest keeps of non-point features); the other fields are its `properties`.

use opendata_ingest::FieldType;
use polars::prelude::*;

use super::json::{member_key, write_value};
use super::{CellValue, ColumnValues, columns};
use crate::error::Result;

/// Where the geometry of a row comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GeoSource {
    Point { lon: String, lat: String },
    Geometry(String),
}

const PAIRS: [(&str, &str); 4] = [("longitude", "latitude"), ("lon", "lat"), ("lng", "lat"), ("kinh_do", "vi_do")];

impl GeoSource {
    /// Find the geometry among `(name, type)` columns, or `None` when the table has no place.
    pub fn find(columns: &[(String, FieldType)]) -> Option<Self> {
        let numeric =
            |name: &str| columns.iter().any(|(n, t)| n == name && matches!(t, FieldType::Float | FieldType::Integer));
        for (lon, lat) in PAIRS {
            if numeric(lon) && numeric(lat) {
                return Some(Self::Point { lon: lon.into(), lat: lat.into() });
            }
        }
        columns.iter().find(|(n, t)| n == "geometry" && *t == FieldType::String).map(|(n, _)| Self::Geometry(n.clone()))
    }

    fn uses(&self, name: &str) -> bool {
        match self {
            Self::Point { lon, lat } => name == lon || name == lat,
            Self::Geometry(g) => name == g,
        }
    }

    /// What a caller is told when no geometry is found.
    pub fn missing_message() -> String {
        let pairs: Vec<String> = PAIRS.iter().map(|(a, b)| format!("{a}/{b}")).collect();
        format!(
            "this table has no place to map: GeoJSON needs numeric longitude and latitude fields ({}) or a `geometry` field",
            pairs.join(", ")
        )
    }
}

/// A GeoJSON geometry object: a known type with its coordinates (or geometries).
fn is_geometry(v: &serde_json::Value) -> bool {
    let Some(kind) = v.get("type").and_then(serde_json::Value::as_str) else { return false };
    match kind {
        "Point" | "MultiPoint" | "LineString" | "MultiLineString" | "Polygon" | "MultiPolygon" => {
            v.get("coordinates").is_some_and(serde_json::Value::is_array)
        }
        "GeometryCollection" => v.get("geometries").is_some_and(serde_json::Value::is_array),
        _ => false,
    }
}

pub const HEAD: &[u8] = br#"{"type":"FeatureCollection","features":["#;
pub const TAIL: &[u8] = b"]}\n";

fn number(v: CellValue<'_>) -> Option<f64> {
    match v {
        CellValue::Float(f) if f.is_finite() => Some(f),
        CellValue::Int(i) => Some(i as f64),
        _ => None,
    }
}

/// Append the rows of `frame` as features, comma-separated; `first` says whether a feature has
/// been written before (across batches).
pub fn write_features(frame: &DataFrame, source: &GeoSource, out: &mut Vec<u8>, first: &mut bool) -> Result<()> {
    let (series, names) = columns(frame)?;
    let values: Vec<ColumnValues<'_>> = series.iter().map(ColumnValues::of).collect::<Result<_>>()?;
    let index = |name: &str| names.iter().position(|n| n == name);
    let keys: Vec<(usize, Vec<u8>)> =
        names.iter().enumerate().filter(|(_, n)| !source.uses(n)).map(|(i, n)| (i, member_key(n))).collect();
    for row in 0..frame.height() {
        if !*first {
            out.push(b',');
        }
        *first = false;
        out.extend_from_slice(br#"{"type":"Feature","geometry":"#);
        match source {
            GeoSource::Point { lon, lat } => {
                let coord = |name: &str| index(name).and_then(|i| number(values[i].get(row)));
                match (coord(lon), coord(lat)) {
                    (Some(x), Some(y)) => {
                        out.extend_from_slice(br#"{"type":"Point","coordinates":["#);
                        let _ = serde_json::to_writer(&mut *out, &x);
                        out.push(b',');
                        let _ = serde_json::to_writer(&mut *out, &y);
                        out.extend_from_slice(b"]}");
                    }
                    _ => out.extend_from_slice(b"null"),
                }
            }
            GeoSource::Geometry(name) => {
                let text = index(name).and_then(|i| match values[i].get(row) {
                    CellValue::Str(s) => Some(s),
                    _ => None,
                });
                // Only a JSON object is copied through; anything else would break the document.
                match text.and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok()).filter(is_geometry) {
                    Some(geometry) => {
                        let _ = serde_json::to_writer(&mut *out, &geometry);
                    }
                    None => out.extend_from_slice(b"null"),
                }
            }
        }
        out.extend_from_slice(br#","properties":{"#);
        for (n, (i, key)) in keys.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            out.extend_from_slice(key);
            write_value(out, values[*i].get(row));
        }
        out.extend_from_slice(b"}}");
    }
    Ok(())
}
