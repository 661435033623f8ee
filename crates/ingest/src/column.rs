//! Compact column storage: text values in buffers with their end offsets, so a million-row
//! CSV costs about its own size in memory rather than one `String` per cell.

use std::borrow::Cow;

use chrono::{NaiveDate, NaiveDateTime};

use crate::cell::Cell;

/// Trimmed, NFC text values of one column; empty means null.
///
/// Values are kept in segments, one after the other: a file read in blocks gives one segment
/// per block, and [`TextColumn::concat`] joins columns by moving their segments, not their
/// text. Each segment becomes one chunk of the polars column.
#[derive(Debug, Clone, Default)]
pub struct TextColumn {
    segments: Vec<Segment>,
    len: usize,
}

/// Values in one buffer: each value's end offset, and whether it is present.
#[derive(Debug, Clone, Default)]
pub struct Segment {
    pub text: String,
    pub ends: Vec<u32>,
    pub valid: Vec<bool>,
}

impl Segment {
    fn get(&self, i: usize) -> Option<&str> {
        if !*self.valid.get(i)? {
            return None;
        }
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        self.text.get(start..self.ends[i] as usize)
    }
}

impl PartialEq for TextColumn {
    /// The same values, however they are cut into segments.
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl Eq for TextColumn {}

impl TextColumn {
    pub fn with_capacity(rows: usize, bytes: usize) -> Self {
        let segment = Segment {
            text: String::with_capacity(bytes),
            ends: Vec::with_capacity(rows),
            valid: Vec::with_capacity(rows),
        };
        Self { segments: vec![segment], len: 0 }
    }

    /// Build from optional values, as given (no trimming).
    pub fn from_options<S: AsRef<str>>(values: &[Option<S>]) -> Self {
        let mut c = Self::default();
        for v in values {
            c.push(v.as_ref().map(AsRef::as_ref));
        }
        c
    }

    /// Append a value; `None` is null. A segment holds up to 4 GiB of text; the next starts then.
    pub fn push(&mut self, value: Option<&str>) {
        let v = value.unwrap_or_default();
        let segment = match self.segments.last_mut() {
            Some(s) if s.text.len() + v.len() <= u32::MAX as usize => s,
            _ => {
                self.segments.push(Segment::default());
                let Some(s) = self.segments.last_mut() else { return };
                s
            }
        };
        segment.text.push_str(v);
        segment.ends.push(segment.text.len() as u32);
        segment.valid.push(value.is_some());
        self.len += 1;
    }

    /// The columns one after the other. Their segments are moved, not copied.
    pub fn concat(parts: Vec<TextColumn>) -> Self {
        let len = parts.iter().map(|p| p.len).sum();
        let segments = parts.into_iter().flat_map(|p| p.segments).filter(|s| !s.ends.is_empty()).collect();
        Self { segments, len }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The segment holding value `i`, and its place there.
    fn locate(&self, mut i: usize) -> Option<(usize, usize)> {
        for (k, segment) in self.segments.iter().enumerate() {
            if i < segment.ends.len() {
                return Some((k, i));
            }
            i -= segment.ends.len();
        }
        None
    }

    /// Value `i` (found segment by segment: use [`TextColumn::iter`] to read them all).
    pub fn get(&self, i: usize) -> Option<&str> {
        let (k, i) = self.locate(i)?;
        self.segments[k].get(i)
    }

    /// Remove the first value (a line under the header found not to be data). Only the
    /// segment holding it is moved.
    pub fn remove_first(&mut self) {
        let Some(k) = self.segments.iter().position(|s| !s.ends.is_empty()) else { return };
        let segment = &mut self.segments[k];
        let end = segment.ends.remove(0);
        segment.valid.remove(0);
        segment.text.drain(..end as usize);
        for e in &mut segment.ends {
            *e -= end;
        }
        if segment.ends.is_empty() {
            self.segments.remove(k);
        }
        self.len -= 1;
    }

    /// Make every value that `is_null` null.
    pub fn set_nulls(&mut self, is_null: impl Fn(&str) -> bool) {
        for segment in &mut self.segments {
            for i in 0..segment.ends.len() {
                if segment.get(i).is_some_and(&is_null) {
                    segment.valid[i] = false;
                }
            }
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = Option<&str>> + '_ {
        self.segments.iter().flat_map(|s| {
            // Each value starts where the one before ended.
            let starts = std::iter::once(0).chain(s.ends.iter().copied());
            starts.zip(&s.ends).zip(&s.valid).map(
                |((start, end), valid)| {
                    if *valid { s.text.get(start as usize..*end as usize) } else { None }
                },
            )
        })
    }

    /// Bytes of text held.
    pub fn text_bytes(&self) -> usize {
        self.segments.iter().map(|s| s.text.len()).sum()
    }

    /// The segments, in order.
    pub fn into_segments(self) -> Vec<Segment> {
        self.segments
    }
}

/// One cell seen through the [`Cells`] trait.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CellRef<'a> {
    Empty,
    /// Trimmed text.
    Text(&'a str),
    Int(i64),
    Float(f64),
    Bool(bool),
    Date(NaiveDate),
    DateTime(NaiveDateTime),
}

impl CellRef<'_> {
    /// The text a person would see in the cell.
    pub fn display(&self) -> Cow<'_, str> {
        match self {
            CellRef::Empty => Cow::Borrowed(""),
            CellRef::Text(t) => Cow::Borrowed(t),
            CellRef::Int(i) => Cow::Owned(Cell::Int(*i).display()),
            CellRef::Float(f) => Cow::Owned(Cell::Float(*f).display()),
            CellRef::Bool(b) => Cow::Owned(b.to_string()),
            CellRef::Date(d) => Cow::Owned(Cell::Date(*d).display()),
            CellRef::DateTime(d) => Cow::Owned(Cell::DateTime(*d).display()),
        }
    }
}

/// A column of cells, however stored.
pub trait Cells {
    fn len(&self) -> usize;
    fn get(&self, i: usize) -> CellRef<'_>;
    /// Every cell in order.
    fn cells(&self) -> impl Iterator<Item = CellRef<'_>>;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Cells for [Cell] {
    fn len(&self) -> usize {
        <[Cell]>::len(self)
    }

    fn get(&self, i: usize) -> CellRef<'_> {
        cell_ref(&self[i])
    }

    fn cells(&self) -> impl Iterator<Item = CellRef<'_>> {
        self.iter().map(cell_ref)
    }
}

fn cell_ref(cell: &Cell) -> CellRef<'_> {
    match cell {
        Cell::Empty => CellRef::Empty,
        Cell::Text(t) => CellRef::Text(t.trim()),
        Cell::Int(v) => CellRef::Int(*v),
        Cell::Float(v) => CellRef::Float(*v),
        Cell::Bool(v) => CellRef::Bool(*v),
        Cell::Date(v) => CellRef::Date(*v),
        Cell::DateTime(v) => CellRef::DateTime(*v),
    }
}

impl Cells for TextColumn {
    fn len(&self) -> usize {
        TextColumn::len(self)
    }

    fn get(&self, i: usize) -> CellRef<'_> {
        TextColumn::get(self, i).map_or(CellRef::Empty, CellRef::Text)
    }

    fn cells(&self) -> impl Iterator<Item = CellRef<'_>> {
        self.iter().map(|v| v.map_or(CellRef::Empty, CellRef::Text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_and_get() {
        let mut c = TextColumn::default();
        c.push(Some("Hà Nội"));
        c.push(None);
        c.push(Some(""));
        c.push(Some("x"));
        assert_eq!(c.iter().collect::<Vec<_>>(), vec![Some("Hà Nội"), None, Some(""), Some("x")]);
        c.set_nulls(|v| v == "x");
        assert_eq!(c.get(3), None);
        assert_eq!(c.text_bytes(), "Hà Nội".len() + 1);
    }

    #[test]
    fn the_first_value_removed() {
        let a = TextColumn::from_options(&[Some("1"), None]);
        let b = TextColumn::from_options(&[Some("Phúc Xá"), Some("-")]);
        let mut joined = TextColumn::concat(vec![TextColumn::default(), a, b]);
        joined.remove_first();
        assert_eq!(joined, TextColumn::from_options(&[None, Some("Phúc Xá"), Some("-")]));
        joined.remove_first();
        joined.remove_first();
        assert_eq!(joined.iter().collect::<Vec<_>>(), vec![Some("-")]);
        assert_eq!(joined.get(0), Some("-"));
    }

    #[test]
    fn joined_segments_read_as_one_column() {
        let a = TextColumn::from_options(&[Some("a"), None]);
        let b = TextColumn::from_options(&[Some("b"), Some("-")]);
        let mut joined = TextColumn::concat(vec![a, TextColumn::default(), b]);
        assert_eq!(joined.clone().into_segments().len(), 2);
        assert_eq!(joined.get(2), Some("b"));
        joined.set_nulls(|v| v == "-");
        assert_eq!(joined, TextColumn::from_options(&[Some("a"), None, Some("b"), None]));
        assert_eq!(joined.len(), 4);
    }
}
