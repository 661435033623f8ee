//! Values and column types (fixtures README §5): null markers, booleans, Vietnamese and
//! dot-decimal numbers, codes with leading zeros, day-first dates and datetimes.

use std::borrow::Cow;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use serde::{Deserialize, Serialize};

use crate::column::{CellRef, Cells, TextColumn};

/// The type of a field, as the API and `expected.json` name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    Boolean,
    Integer,
    Float,
    Date,
    Datetime,
    String,
}

impl FieldType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Boolean => "boolean",
            Self::Integer => "integer",
            Self::Float => "float",
            Self::Date => "date",
            Self::Datetime => "datetime",
            Self::String => "string",
        }
    }
}

impl std::fmt::Display for FieldType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A column after typing.
#[derive(Debug, Clone, PartialEq)]
pub enum TypedColumn {
    Boolean(Vec<Option<bool>>),
    Integer(Vec<Option<i64>>),
    Float(Vec<Option<f64>>),
    Date(Vec<Option<NaiveDate>>),
    Datetime(Vec<Option<NaiveDateTime>>),
    String(TextColumn),
}

impl TypedColumn {
    pub fn len(&self) -> usize {
        match self {
            Self::Boolean(v) => v.len(),
            Self::Integer(v) => v.len(),
            Self::Float(v) => v.len(),
            Self::Date(v) => v.len(),
            Self::Datetime(v) => v.len(),
            Self::String(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The first value that ruled a type out for a string column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuledOut {
    #[serde(rename = "type")]
    pub field_type: FieldType,
    pub value: String,
    /// 1-based data row (the header and skipped rows not counted).
    pub row: usize,
    /// Where that row is in the file: its line (text) or sheet row (spreadsheets).
    pub source_row: usize,
}

/// How numbers are written in one column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberStyle {
    /// `.` groups thousands, `,` is the decimal mark: `1.234,5`.
    Vietnamese,
    /// `,` groups thousands, `.` is the decimal mark: `1,234.5`.
    DotDecimal,
}

/// Whether text cells are parsed (spreadsheets, CSV) or kept as strings (JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextRule {
    Parse,
    KeepAsString,
}

const NULL_MARKERS: [&str; 5] = ["-", "x", "X", "N/A", "n/a"];

/// A text value is null when empty or a null marker.
pub fn is_null_text(text: &str) -> bool {
    text.len() <= 3 && (text.is_empty() || NULL_MARKERS.contains(&text))
}

pub fn parse_bool(text: &str) -> Option<bool> {
    // Most values are ASCII (`true`, `False`, `Sai`): no lower-cased copy for those.
    if text.is_ascii() {
        return if text.eq_ignore_ascii_case("true") {
            Some(true)
        } else if text.eq_ignore_ascii_case("false") || text.eq_ignore_ascii_case("sai") {
            Some(false)
        } else {
            None
        };
    }
    match text.to_lowercase().as_str() {
        "có" | "đúng" | "true" => Some(true),
        "không" | "sai" | "false" => Some(false),
        _ => None,
    }
}

fn is_group_sep(c: char, style: NumberStyle) -> bool {
    matches!(c, ' ' | '\u{a0}' | '\u{202f}')
        || match style {
            NumberStyle::Vietnamese => c == '.',
            NumberStyle::DotDecimal => c == ',',
        }
}

/// Digits of an integer part: plain digits or groups of three after a group of 1–3.
/// A leading `0` directly followed by a digit makes it a code, not a number.
fn integer_digits(part: &str, style: NumberStyle) -> Option<Cow<'_, str>> {
    let b = part.as_bytes();
    if b.len() > 1 && b[0] == b'0' && b[1].is_ascii_digit() {
        return None;
    }
    if b.iter().all(u8::is_ascii_digit) {
        return (!part.is_empty()).then_some(Cow::Borrowed(part));
    }
    let mut groups = part.split(|c| is_group_sep(c, style));
    let first = groups.next()?;
    let mut digits = String::with_capacity(part.len());
    digits.push_str(first);
    let mut rest = 0;
    for g in groups {
        if g.len() != 3 {
            return None;
        }
        digits.push_str(g);
        rest += 1;
    }
    let ok = rest > 0
        && (1..=3).contains(&first.len())
        && !first.starts_with('0')
        && digits.bytes().all(|c| c.is_ascii_digit());
    ok.then_some(Cow::Owned(digits))
}

fn split_sign(text: &str) -> (bool, &str) {
    match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    }
}

pub fn parse_integer(text: &str, style: NumberStyle) -> Option<i64> {
    let (neg, body) = split_sign(text);
    let digits = integer_digits(body, style)?;
    let v: i64 = digits.parse().ok()?;
    Some(if neg { -v } else { v })
}

pub fn parse_float(text: &str, style: NumberStyle) -> Option<f64> {
    let (neg, body) = split_sign(text);
    let decimal = match style {
        NumberStyle::Vietnamese => ',',
        NumberStyle::DotDecimal => '.',
    };
    let (int_part, frac) = match body.split_once(decimal) {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    let digits = integer_digits(int_part, style)?;
    let v: f64 = match frac {
        None => digits.parse().ok()?,
        Some(f) if f.is_empty() || !f.bytes().all(|c| c.is_ascii_digit()) => return None,
        // `12.5` as written: parse the text itself, no copy.
        Some(_) if style == NumberStyle::DotDecimal && matches!(digits, Cow::Borrowed(_)) => body.parse().ok()?,
        Some(f) => {
            let mut s = digits.into_owned();
            s.push('.');
            s.push_str(f);
            s.parse().ok()?
        }
    };
    Some(if neg { -v } else { v })
}

/// Decide a column's number style from its number-shaped values.
pub fn number_style<'a>(values: impl Iterator<Item = &'a str>) -> NumberStyle {
    let mut dot_decimal = false;
    let mut comma_decimal = false;
    for v in values {
        let body = v.strip_prefix('-').unwrap_or(v);
        // Plain digits say nothing of the style: the common case, decided from the bytes.
        // Once a decimal point is seen, only a comma can change the answer.
        if body.bytes().all(|b| b.is_ascii_digit()) || (dot_decimal && !body.contains(',')) {
            continue;
        }
        if !body.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | ',' | ' ' | '\u{a0}' | '\u{202f}'))
            || !body.chars().any(|c| c.is_ascii_digit())
        {
            continue;
        }
        let not_three_after = |sep: char| {
            body.match_indices(sep).any(|(i, _)| body[i + 1..].chars().take_while(char::is_ascii_digit).count() != 3)
        };
        dot_decimal |= not_three_after('.');
        comma_decimal |= not_three_after(',');
        if dot_decimal && comma_decimal {
            break;
        }
    }
    if dot_decimal && !comma_decimal { NumberStyle::DotDecimal } else { NumberStyle::Vietnamese }
}

/// `d/m/yyyy`, `d-m-yyyy`, `d.m.yyyy` (day first) or ISO `yyyy-mm-dd`.
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    let b = text.as_bytes();
    if b.len() == 10 && b[4] == b'-' && b[7] == b'-' {
        // ISO `yyyy-mm-dd`, read by hand: this runs for every value of a date column.
        let num = |r: std::ops::Range<usize>| -> Option<u32> {
            b[r].iter().try_fold(0u32, |acc, d| d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0')))
        };
        return NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?);
    }
    let sep = text.chars().find(|c| matches!(c, '/' | '-' | '.'))?;
    let parts: Vec<&str> = text.split(sep).collect();
    if parts.len() != 3
        || !(1..=2).contains(&parts[0].len())
        || !(1..=2).contains(&parts[1].len())
        || parts[2].len() != 4
        || !parts.iter().all(|p| p.chars().all(|c| c.is_ascii_digit()))
    {
        return None;
    }
    NaiveDate::from_ymd_opt(parts[2].parse().ok()?, parts[1].parse().ok()?, parts[0].parse().ok()?)
}

fn parse_time(text: &str) -> Option<NaiveTime> {
    let parts: Vec<&str> = text.split(':').collect();
    let two = |s: &str| s.len() == 2 && s.chars().all(|c| c.is_ascii_digit());
    let ok = match parts.as_slice() {
        [h, m] => (1..=2).contains(&h.len()) && h.chars().all(|c| c.is_ascii_digit()) && two(m),
        [h, m, s] => two(h) && two(m) && two(s),
        _ => false,
    };
    if !ok {
        return None;
    }
    let n: Vec<u32> = parts.iter().map(|p| p.parse().unwrap_or(99)).collect();
    NaiveTime::from_hms_opt(n[0], n[1], n.get(2).copied().unwrap_or(0))
}

/// A date form, a space, then `H:MM`, `HH:MM` or `HH:MM:SS`; or ISO `yyyy-mm-ddTHH:MM:SS`.
pub fn parse_datetime(text: &str) -> Option<NaiveDateTime> {
    let (date, time) = text.split_once(' ').or_else(|| {
        let (d, t) = text.split_once('T')?;
        (d.len() == 10 && t.len() == 8).then_some((d, t))
    })?;
    Some(parse_date(date)?.and_time(parse_time(time.trim())?))
}

fn is_null_cell(cell: &CellRef<'_>, rule: TextRule) -> bool {
    match cell {
        CellRef::Empty => true,
        CellRef::Text(t) => match rule {
            TextRule::Parse => is_null_text(t),
            TextRule::KeepAsString => t.is_empty(),
        },
        _ => false,
    }
}

/// Type one column of cells. `rows` gives each cell's line or sheet row for the report.
pub fn type_column<C: Cells + ?Sized>(cells: &C, rows: &[usize], rule: TextRule) -> (TypedColumn, Vec<RuledOut>) {
    match try_types(cells, rows, rule) {
        Ok(typed) => (typed, Vec::new()),
        Err(ruled_out) => {
            let mut text = TextColumn::with_capacity(cells.len(), 0);
            for cell in cells.cells() {
                text.push((!is_null_cell(&cell, rule)).then(|| cell.display()).as_deref());
            }
            (TypedColumn::String(text), ruled_out)
        }
    }
}

/// [`type_column`] for a column of text (delimited files), which stays as it is, null markers
/// made null, when no other type fits: the text is not copied.
pub fn type_text_column(mut text: TextColumn, rows: &[usize]) -> (TypedColumn, Vec<RuledOut>) {
    match try_types(&text, rows, TextRule::Parse) {
        Ok(typed) => (typed, Vec::new()),
        Err(ruled_out) => {
            text.set_nulls(is_null_text);
            (TypedColumn::String(text), ruled_out)
        }
    }
}

/// The first of boolean, integer, float, date and datetime that every non-null cell parses as,
/// or what ruled each out.
fn try_types<C: Cells + ?Sized>(cells: &C, rows: &[usize], rule: TextRule) -> Result<TypedColumn, Vec<RuledOut>> {
    let n = cells.len();
    let is_null = |c: &CellRef<'_>| is_null_cell(c, rule);
    // The number style is read from every value, unless the first value is no number in any
    // style: then the integer and float attempts fail on it whatever the style.
    let first_text = cells.cells().find(|c| !is_null(c));
    let maybe_number = match first_text {
        Some(CellRef::Text(t)) => [NumberStyle::Vietnamese, NumberStyle::DotDecimal]
            .into_iter()
            .any(|style| parse_integer(t, style).is_some() || parse_float(t, style).is_some()),
        _ => true,
    };
    let style = if maybe_number {
        number_style(cells.cells().filter_map(|c| match c {
            CellRef::Text(t) if !is_null(&CellRef::Text(t)) => Some(t),
            _ => None,
        }))
    } else {
        NumberStyle::Vietnamese
    };
    let parse_text = rule == TextRule::Parse;
    let mut ruled_out = Vec::new();
    macro_rules! attempt {
        ($ty:expr, $variant:ident, $parse:expr) => {{
            let parse = $parse;
            let mut out = Vec::with_capacity(n);
            let mut failed = None;
            for (i, cell) in cells.cells().enumerate() {
                if is_null(&cell) {
                    out.push(None);
                    continue;
                }
                match parse(cell) {
                    Some(v) => out.push(Some(v)),
                    None => {
                        failed = Some(RuledOut {
                            field_type: $ty,
                            value: cell.display().into_owned(),
                            row: i + 1,
                            source_row: rows[i],
                        });
                        break;
                    }
                }
            }
            match failed {
                None => return Ok(TypedColumn::$variant(out)),
                Some(r) => ruled_out.push(r),
            }
        }};
    }
    attempt!(FieldType::Boolean, Boolean, |c: CellRef<'_>| match c {
        CellRef::Bool(b) => Some(b),
        CellRef::Text(t) if parse_text => parse_bool(t),
        _ => None,
    });
    attempt!(FieldType::Integer, Integer, |c: CellRef<'_>| match c {
        CellRef::Int(i) => Some(i),
        // A spreadsheet's integral number is an integer; JSON's `150.0` stays a float (§6).
        CellRef::Float(f) if parse_text && f.fract() == 0.0 && f.abs() < 9.0e15 => Some(f as i64),
        CellRef::Text(t) if parse_text => parse_integer(t, style),
        _ => None,
    });
    attempt!(FieldType::Float, Float, |c: CellRef<'_>| match c {
        CellRef::Int(i) => Some(i as f64),
        CellRef::Float(f) => Some(f),
        CellRef::Text(t) if parse_text => parse_float(t, style),
        _ => None,
    });
    attempt!(FieldType::Date, Date, |c: CellRef<'_>| match c {
        CellRef::Date(d) => Some(d),
        CellRef::Text(t) if parse_text => parse_date(t),
        _ => None,
    });
    attempt!(FieldType::Datetime, Datetime, |c: CellRef<'_>| match c {
        CellRef::Date(d) => Some(d.and_time(NaiveTime::MIN)),
        CellRef::DateTime(dt) => Some(dt),
        CellRef::Text(t) if parse_text =>
            parse_datetime(t).or_else(|| parse_date(t).map(|d| d.and_time(NaiveTime::MIN))),
        _ => None,
    });
    Err(ruled_out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cell::Cell;

    fn strings(values: &[Option<&str>]) -> TypedColumn {
        TypedColumn::String(TextColumn::from_options(values))
    }

    fn text(values: &[&str]) -> Vec<Cell> {
        values.iter().map(|v| if v.is_empty() { Cell::Empty } else { Cell::Text(v.to_string()) }).collect()
    }

    fn typed(values: &[&str]) -> TypedColumn {
        let rows: Vec<usize> = (2..values.len() + 2).collect();
        type_column(text(values).as_slice(), &rows, TextRule::Parse).0
    }

    #[test]
    fn vietnamese_numbers() {
        assert_eq!(
            typed(&["1.500.000", "12 345", "-7", "x"]),
            TypedColumn::Integer(vec![Some(1_500_000), Some(12_345), Some(-7), None])
        );
        assert_eq!(
            typed(&["7,5", "3,48", "1.234,5", "1.250", ""]),
            TypedColumn::Float(vec![Some(7.5), Some(3.48), Some(1234.5), Some(1250.0), None])
        );
    }

    #[test]
    fn zero_is_not_a_thousands_group() {
        assert_eq!(parse_integer("0.500", NumberStyle::Vietnamese), None);
        assert_eq!(parse_float("0.500", NumberStyle::DotDecimal), Some(0.5));
    }

    #[test]
    fn dot_decimal_columns() {
        assert_eq!(
            typed(&["21.0285", "21.030", "105.8"]),
            TypedColumn::Float(vec![Some(21.0285), Some(21.03), Some(105.8)])
        );
        assert_eq!(typed(&["12,345.6", "1,234"]), TypedColumn::Float(vec![Some(12345.6), Some(1234.0)]));
    }

    #[test]
    fn codes_stay_text_and_report_the_value() {
        let cells = text(&["0104865449", "12"]);
        let (col, ruled) = type_column(cells.as_slice(), &[2, 3], TextRule::Parse);
        assert_eq!(col, strings(&[Some("0104865449"), Some("12")]));
        assert!(ruled.iter().any(|r| r.field_type == FieldType::Integer && r.value == "0104865449" && r.row == 1));
        assert_eq!(ruled[0].source_row, 2);
        assert_eq!(typed(&["0,5", "0.25"]), strings(&[Some("0,5"), Some("0.25")]));
        assert_eq!(typed(&["0,5", "1,25"]), TypedColumn::Float(vec![Some(0.5), Some(1.25)]));
    }

    #[test]
    fn dates_are_day_first_and_checked() {
        let d = |y, m, d| Some(NaiveDate::from_ymd_opt(y, m, d).unwrap());
        assert_eq!(
            typed(&["03/04/2023", "2023-12-31", "1.1.2009"]),
            TypedColumn::Date(vec![d(2023, 4, 3), d(2023, 12, 31), d(2009, 1, 1)])
        );
        assert!(matches!(typed(&["31/02/2023"]), TypedColumn::String(_)));
        let dt = NaiveDate::from_ymd_opt(2023, 10, 1).unwrap().and_hms_opt(7, 5, 0).unwrap();
        assert_eq!(typed(&["01/10/2023 7:05"]), TypedColumn::Datetime(vec![Some(dt)]));
    }

    #[test]
    fn booleans_any_case() {
        assert_eq!(
            typed(&["Có", "KHÔNG", "đúng", "Sai"]),
            TypedColumn::Boolean(vec![Some(true), Some(false), Some(true), Some(false)])
        );
    }

    #[test]
    fn json_floats_written_with_a_point_stay_floats() {
        let (col, _) = type_column([Cell::Int(1), Cell::Float(150.0)].as_slice(), &[1, 2], TextRule::KeepAsString);
        assert_eq!(col, TypedColumn::Float(vec![Some(1.0), Some(150.0)]));
        let (col, _) = type_column([Cell::Int(1), Cell::Float(150.0)].as_slice(), &[1, 2], TextRule::Parse);
        assert_eq!(col, TypedColumn::Integer(vec![Some(1), Some(150)]));
    }

    #[test]
    fn json_strings_are_not_parsed() {
        let (col, _) = type_column(text(&["12", "-"]).as_slice(), &[1, 2], TextRule::KeepAsString);
        assert_eq!(col, strings(&[Some("12"), Some("-")]));
    }
}
