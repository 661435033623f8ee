//! JSON, NDJSON and GeoJSON (fixtures README §6): records become rows, nested objects are
//! flattened with `_`, arrays become compact JSON text, keys are unioned in order of appearance.

use indexmap::IndexMap;
use serde_json::{Map, Value};
use unicode_normalization::UnicodeNormalization;

use crate::cell::Cell;
use crate::error::{IngestError, Result};
use crate::formats::Format;
use crate::limits::{self, Limits};

/// Records as ordered column → cell maps, plus their header texts in order of first appearance.
pub struct Records {
    pub headers: Vec<String>,
    pub columns: Vec<Vec<Cell>>,
}

/// True when the text is several lines that each hold one JSON object.
pub fn looks_like_ndjson(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(body);
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let first_two: Vec<&str> = lines.by_ref().take(2).collect();
    first_two.len() == 2 && first_two.iter().all(|l| serde_json::from_str::<Map<String, Value>>(l).is_ok())
}

/// The records of a JSON, NDJSON or GeoJSON text, within `limits`: an NDJSON line above
/// `max_record_bytes` is refused before it is parsed, and so are more records than `max_rows`,
/// a text value above `max_field_bytes`, and columns or cells above `max_columns` and
/// `max_cells` as the table grows.
pub fn read(text: &str, format: Format, limits: &Limits) -> Result<Records> {
    let objects: Vec<Map<String, Value>> = match format {
        Format::Ndjson => {
            let mut objects = Vec::new();
            for (i, l) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
                if l.len() as u64 > limits.max_record_bytes {
                    let (what, limit) = (format!("line {}", i + 1), limits.max_record_bytes);
                    return Err(limits::exceeded(what, Some(l.len() as u64), limit, "bytes", "max_record_bytes"));
                }
                if objects.len() as u64 >= limits.max_rows {
                    let what = "the records of the file";
                    return Err(limits::exceeded(what, None, limits.max_rows, "rows", "max_rows"));
                }
                objects.push(
                    serde_json::from_str(l).map_err(|e| IngestError::InvalidJson(format!("line {}: {e}", i + 1)))?,
                );
            }
            objects
        }
        _ => {
            let value: Value = serde_json::from_str(text).map_err(|e| IngestError::InvalidJson(e.to_string()))?;
            if format == Format::Geojson || value.get("type").and_then(Value::as_str) == Some("FeatureCollection") {
                return geojson(value, limits);
            }
            let objects = table_of(value)?;
            limits.rows("the records of the file", objects.len() as u64)?;
            objects
        }
    };
    union(objects.iter().map(flatten), limits)
}

fn table_of(value: Value) -> Result<Vec<Map<String, Value>>> {
    let array = match value {
        Value::Array(a) => a,
        Value::Object(mut o) => {
            let arrays: Vec<String> = o
                .iter()
                .filter(|(_, v)| v.as_array().is_some_and(|a| !a.is_empty() && a.iter().all(Value::is_object)))
                .map(|(k, _)| k.clone())
                .collect();
            match arrays.as_slice() {
                [key] => match o.remove(key) {
                    Some(Value::Array(a)) => a,
                    _ => unreachable!("checked above"),
                },
                _ => {
                    return Err(IngestError::InvalidJson(format!(
                        "expected an array of objects, or an object with exactly one array-of-objects member; found {} such members",
                        arrays.len()
                    )));
                }
            }
        }
        _ => return Err(IngestError::InvalidJson("expected an array of objects".into())),
    };
    array
        .into_iter()
        .enumerate()
        .map(|(i, v)| match v {
            Value::Object(o) => Ok(o),
            other => Err(IngestError::InvalidJson(format!("record {} is not an object: {other}", i + 1))),
        })
        .collect()
}

fn geojson(value: Value, limits: &Limits) -> Result<Records> {
    let features = value.get("features").and_then(Value::as_array).cloned().unwrap_or_default();
    limits.rows("the features of the file", features.len() as u64)?;
    let all_points = !features.is_empty()
        && features.iter().all(|f| f.pointer("/geometry/type").and_then(Value::as_str) == Some("Point"));
    let properties = features.iter().map(|f| f.get("properties").and_then(Value::as_object).map(flatten));
    let mut records = union(properties.map(Option::unwrap_or_default), limits)?;
    if features.is_empty() {
        return Ok(records);
    }
    // The coordinates (or the geometry) are the last columns, whatever the properties hold.
    // They are added after the properties, not among them, so that a property of the same
    // name keeps its value and its name; the repeated name rule (§1) then names these
    // `longitude_2`, `latitude_2` (or `geometry_2`).
    if all_points {
        for (i, name) in ["longitude", "latitude"].into_iter().enumerate() {
            let at = |f: &Value| f.pointer(&format!("/geometry/coordinates/{i}")).and_then(Value::as_f64);
            records.headers.push(name.into());
            records.columns.push(features.iter().map(|f| at(f).map_or(Cell::Empty, Cell::Float)).collect());
        }
    } else {
        records.headers.push("geometry".into());
        records.columns.push(features.iter().map(|f| f.get("geometry").map_or(Cell::Empty, to_cell)).collect());
    }
    Ok(records)
}

fn flatten(object: &Map<String, Value>) -> IndexMap<String, Cell> {
    fn walk(prefix: &str, object: &Map<String, Value>, out: &mut IndexMap<String, Cell>) {
        for (k, v) in object {
            let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}_{k}") };
            match v {
                Value::Object(inner) => walk(&key, inner, out),
                v => {
                    // `{"a_b": 1, "a": {"b": 2}}`: the second `a_b` becomes `a_b_2`, nothing is lost.
                    let mut unique = key.clone();
                    let mut n = 2;
                    while out.contains_key(&unique) {
                        unique = format!("{key}_{n}");
                        n += 1;
                    }
                    out.insert(unique, to_cell(v));
                }
            }
        }
    }
    let mut out = IndexMap::new();
    walk("", object, &mut out);
    out
}

fn to_cell(v: &Value) -> Cell {
    match v {
        Value::Null => Cell::Empty,
        Value::Bool(b) => Cell::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Cell::Int(i),
            None => n.as_f64().map_or(Cell::Empty, Cell::Float),
        },
        // `\u` escapes can spell decomposed text: normalise after parsing too.
        Value::String(s) => Cell::Text(s.nfc().collect()),
        Value::Array(_) | Value::Object(_) => Cell::Text(v.to_string()),
    }
}

fn union(rows: impl Iterator<Item = IndexMap<String, Cell>>, limits: &Limits) -> Result<Records> {
    let mut index: IndexMap<String, usize> = IndexMap::new();
    let mut columns: Vec<Vec<Cell>> = Vec::new();
    let mut height = 0;
    for mut row in rows {
        for (key, cell) in row.drain(..) {
            if let Cell::Text(t) = &cell
                && t.len() as u64 > limits.max_field_bytes
            {
                let (what, limit) = (format!("the value `{key}` of record {}", height + 1), limits.max_field_bytes);
                return Err(limits::exceeded(what, Some(t.len() as u64), limit, "bytes", "max_field_bytes"));
            }
            let i = match index.get(&key) {
                Some(i) => *i,
                None => {
                    let width = columns.len() as u64 + 1;
                    limits.columns("the keys of the records", width)?;
                    limits.cells(
                        &format!("the table ({} rows × {width} columns)", height + 1),
                        (height as u64 + 1) * width,
                    )?;
                    index.insert(key, columns.len());
                    columns.push(vec![Cell::Empty; height]);
                    columns.len() - 1
                }
            };
            columns[i].push(cell);
        }
        height += 1;
        limits.cells(
            &format!("the table ({height} rows × {} columns)", columns.len()),
            (height * columns.len()) as u64,
        )?;
        for c in &mut columns {
            c.resize(height, Cell::Empty);
        }
    }
    Ok(Records { headers: index.into_keys().collect(), columns })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn point_columns_come_after_properties_of_the_same_name() {
        let text = r#"{"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"ten": "A", "longitude": 105.8, "latitude": 21.0},
             "geometry": {"type": "Point", "coordinates": [105.85, 21.03]}},
            {"type": "Feature", "properties": {"ten": "B"},
             "geometry": {"type": "Point", "coordinates": [105.81, 21.04]}}]}"#;
        let records = read(text, Format::Geojson, &Limits::default()).unwrap();
        assert_eq!(records.headers, vec!["ten", "longitude", "latitude", "longitude", "latitude"]);
        assert_eq!(crate::names::normalise_all(&records.headers)[3..], ["longitude_2", "latitude_2"]);
        assert_eq!(records.columns[1], vec![Cell::Float(105.8), Cell::Empty]);
        assert_eq!(records.columns[3], vec![Cell::Float(105.85), Cell::Float(105.81)]);
    }

    #[test]
    fn other_geometries_are_one_text_column() {
        let text = r#"{"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"geometry": "cũ"},
             "geometry": {"type": "LineString", "coordinates": [[1, 2], [3, 4]]}}]}"#;
        let records = read(text, Format::Geojson, &Limits::default()).unwrap();
        assert_eq!(records.headers, vec!["geometry", "geometry"]);
        assert_eq!(records.columns[1], vec![Cell::Text(r#"{"type":"LineString","coordinates":[[1,2],[3,4]]}"#.into())]);
    }
}
