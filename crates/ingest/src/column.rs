//! Compact column storage: text values in one buffer with their end offsets, so a million-row
//! CSV costs about its own size in memory rather than one `String` per cell.

use std::borrow::Cow;

use chrono::{NaiveDate, NaiveDateTime};

use crate::cell::Cell;

/// Trimmed, NFC text values of one column; empty means null.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextColumn {
    buf: String,
    ends: Vec<u32>,
    valid: Vec<bool>,
}

impl TextColumn {
    pub fn with_capacity(rows: usize, bytes: usize) -> Self {
        Self { buf: String::with_capacity(bytes), ends: Vec::with_capacity(rows), valid: Vec::with_capacity(rows) }
    }

    /// Build from optional values, as given (no trimming).
    pub fn from_options<S: AsRef<str>>(values: &[Option<S>]) -> Self {
        let mut c = Self::default();
        for v in values {
            c.push(v.as_ref().map(AsRef::as_ref));
        }
        c
    }

    /// Append a value; `None` is null. Returns false when the column passes 4 GiB of text.
    pub fn push(&mut self, value: Option<&str>) -> bool {
        if let Some(v) = value {
            self.buf.push_str(v);
        }
        let Ok(end) = u32::try_from(self.buf.len()) else { return false };
        self.ends.push(end);
        self.valid.push(value.is_some());
        true
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub fn get(&self, i: usize) -> Option<&str> {
        if !*self.valid.get(i)? {
            return None;
        }
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        self.buf.get(start..self.ends[i] as usize)
    }

    /// Make value `i` null (a null marker found while typing).
    pub fn set_null(&mut self, i: usize) {
        if let Some(v) = self.valid.get_mut(i) {
            *v = false;
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = Option<&str>> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// Bytes of text held.
    pub fn text_bytes(&self) -> usize {
        self.buf.len()
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

    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Cells for [Cell] {
    fn len(&self) -> usize {
        <[Cell]>::len(self)
    }

    fn get(&self, i: usize) -> CellRef<'_> {
        match &self[i] {
            Cell::Empty => CellRef::Empty,
            Cell::Text(t) => CellRef::Text(t.trim()),
            Cell::Int(v) => CellRef::Int(*v),
            Cell::Float(v) => CellRef::Float(*v),
            Cell::Bool(v) => CellRef::Bool(*v),
            Cell::Date(v) => CellRef::Date(*v),
            Cell::DateTime(v) => CellRef::DateTime(*v),
        }
    }
}

impl Cells for TextColumn {
    fn len(&self) -> usize {
        TextColumn::len(self)
    }

    fn get(&self, i: usize) -> CellRef<'_> {
        TextColumn::get(self, i).map_or(CellRef::Empty, CellRef::Text)
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
        c.set_null(3);
        assert_eq!(c.get(3), None);
        assert_eq!(c.text_bytes(), "Hà Nội".len() + 1);
    }
}
