//! A version's table held in memory, loaded once and shared by every request that reads it
//! (the API keeps them in a cache with a byte budget). Besides the frame it keeps what makes the
//! common questions cheap:
//!
//! - for `q`, per text field, the set of folded words of its values and, when the field has
//!   few distinct values, each row's value code and each value's words: a search word is looked
//!   up among the distinct values, not matched against a million strings;
//! - for `sort` over the whole table, the sorted row order, computed once per sort and kept, so
//!   a deep page (`sort=ma_ho_so&offset=900000`) is a lookup, not a sort.
//!
//! Everything here is blocking: call it from `spawn_blocking`.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};

use opendata_ingest::{Field, FieldType};
use polars::prelude::*;

use crate::error::{QueryError, Result};
use crate::fold::fold_text;
use crate::params::{SortKey, word_predicate};

/// Fields with at most this many distinct values get value codes for search.
const DICTIONARY_MAX: usize = 1 << 16;

/// The name of the search-mask column added to the frame for one request.
pub const SEARCH_COLUMN: &str = "__opendata_q";

/// Search structures of one text field.
struct TextIndex {
    name: String,
    /// Every folded word of every value.
    words: BTreeSet<String>,
    /// For fields with few distinct values: each row's value (`u32::MAX` for null) and each
    /// value's folded words.
    dictionary: Option<(Vec<u32>, Vec<Vec<String>>)>,
}

/// Words of folded text: runs of letters and digits.
fn words_of(folded: &str) -> impl Iterator<Item = &str> {
    folded.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty())
}

fn starts_any(words: &BTreeSet<String>, prefix: &str) -> bool {
    words.range(prefix.to_string()..).next().is_some_and(|w| w.starts_with(prefix))
}

impl TextIndex {
    fn build(column: &Column) -> Result<Self> {
        let name = column.name().to_string();
        let ca = column.str()?;
        let mut words = BTreeSet::new();
        let unique = column.as_materialized_series().n_unique()?;
        if unique <= DICTIONARY_MAX {
            let mut ids: HashMap<&str, u32> = HashMap::new();
            let mut value_words: Vec<Vec<String>> = Vec::new();
            let mut codes = Vec::with_capacity(ca.len());
            for v in ca.iter() {
                let code = match v {
                    None => u32::MAX,
                    Some(v) => *ids.entry(v).or_insert_with(|| {
                        let folded = fold_text(v);
                        let list: Vec<String> = words_of(&folded).map(str::to_string).collect();
                        words.extend(list.iter().cloned());
                        value_words.push(list);
                        (value_words.len() - 1) as u32
                    }),
                };
                codes.push(code);
            }
            return Ok(Self { name, words, dictionary: Some((codes, value_words)) });
        }
        for v in ca.iter().flatten() {
            words.extend(words_of(&fold_text(v)).map(str::to_string));
        }
        Ok(Self { name, words, dictionary: None })
    }

    /// Rows whose value has a word starting with `word`, or `None` when no value has one.
    /// `word` is alphanumeric (other words go through the regular-expression path).
    fn rows(&self, word: &str, frame: &DataFrame) -> Result<Option<BooleanChunked>> {
        if !starts_any(&self.words, word) {
            return Ok(None);
        }
        match &self.dictionary {
            Some((codes, value_words)) => {
                let hit: Vec<bool> = value_words.iter().map(|ws| ws.iter().any(|w| w.starts_with(word))).collect();
                let mask: BooleanChunked =
                    codes.iter().map(|c| hit.get(*c as usize).copied().unwrap_or(false)).collect();
                Ok(Some(mask))
            }
            None => {
                let df = frame.clone().lazy().select([word_predicate(&self.name, word).alias("m")]).collect()?;
                Ok(Some(df.column("m")?.bool()?.clone()))
            }
        }
    }
}

/// A sort, as the key of a kept row order: (field, descending) pairs.
type SortSpec = Vec<(String, bool)>;

/// One version's table in memory.
pub struct MemoryTable {
    frame: DataFrame,
    text: Vec<TextIndex>,
    /// Row orders of the whole table, by sort.
    orders: Mutex<HashMap<SortSpec, Arc<IdxCa>>>,
    bytes: usize,
}

impl std::fmt::Debug for MemoryTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryTable").field("rows", &self.frame.height()).field("bytes", &self.bytes).finish()
    }
}

impl MemoryTable {
    /// Read a version's Parquet file and index its text fields.
    pub fn load(path: &Path, fields: &[Field]) -> Result<Self> {
        let mut frame = crate::plan::scan(path)?.collect()?;
        frame.rechunk_mut();
        let text = fields
            .iter()
            .filter(|f| f.field_type == FieldType::String)
            .map(|f| TextIndex::build(frame.column(&f.name)?))
            .collect::<Result<Vec<_>>>()?;
        let index_bytes: usize = text
            .iter()
            .map(|t| {
                t.words.iter().map(|w| w.len() + 32).sum::<usize>()
                    + t.dictionary.as_ref().map_or(0, |(c, v)| c.len() * 4 + v.len() * 48)
            })
            .sum();
        let bytes = frame.estimated_size() + index_bytes;
        Ok(Self { frame, text, orders: Mutex::default(), bytes })
    }

    /// About how much memory the table holds.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn height(&self) -> usize {
        self.frame.height()
    }

    /// The frame to query, with the `q` mask as an extra column when there is a search.
    pub(crate) fn frame_for(&self, search: &[String], fields: &[Field]) -> Result<DataFrame> {
        if search.is_empty() {
            return Ok(self.frame.clone());
        }
        let mut all: Option<BooleanChunked> = None;
        for word in search {
            let any = if word.chars().all(char::is_alphanumeric) {
                let mut any: Option<BooleanChunked> = None;
                for index in &self.text {
                    if let Some(rows) = index.rows(word, &self.frame)? {
                        any = Some(match any {
                            Some(a) => &a | &rows,
                            None => rows,
                        });
                    }
                }
                any.unwrap_or_else(|| BooleanChunked::full(PlSmallStr::EMPTY, false, self.frame.height()))
            } else {
                // Punctuation inside the word: the regular expression over every text field.
                let text_fields: Vec<&Field> = fields.iter().filter(|f| f.field_type == FieldType::String).collect();
                let expr = text_fields
                    .iter()
                    .map(|f| word_predicate(&f.name, word))
                    .reduce(|a, b| a.or(b))
                    .unwrap_or_else(|| lit(false));
                let df = self.frame.clone().lazy().select([expr.alias("m")]).collect()?;
                df.column("m")?.bool()?.clone()
            };
            all = Some(match all {
                Some(a) => &a & &any,
                None => any,
            });
        }
        let mask = all.unwrap_or_else(|| BooleanChunked::full(PlSmallStr::EMPTY, true, self.frame.height()));
        let mut frame = self.frame.clone();
        frame.with_column(mask.with_name(SEARCH_COLUMN.into()).into_column())?;
        Ok(frame)
    }

    /// The row order of the whole table by `sort` (nulls last), computed once.
    pub(crate) fn order(&self, sort: &[SortKey]) -> Result<Arc<IdxCa>> {
        let key: SortSpec = sort.iter().map(|s| (s.field.clone(), s.descending)).collect();
        if let Some(o) = self.orders.lock().map_err(|_| QueryError::Engine("poisoned lock".into()))?.get(&key) {
            return Ok(o.clone());
        }
        let by: Vec<PlSmallStr> = sort.iter().map(|s| PlSmallStr::from(s.field.as_str())).collect();
        let options = SortMultipleOptions::default()
            .with_order_descending_multi(sort.iter().map(|s| s.descending).collect::<Vec<_>>())
            .with_nulls_last(true)
            .with_maintain_order(true);
        let indexed = self.frame.select(by.clone())?.with_row_index("__i".into(), None)?;
        let sorted = indexed.sort(by, options)?;
        let order = Arc::new(sorted.column("__i")?.idx()?.clone());
        self.orders.lock().map_err(|_| QueryError::Engine("poisoned lock".into()))?.insert(key, order.clone());
        Ok(order)
    }

    /// Rows `offset..offset + limit` of the whole table in `sort` order.
    pub(crate) fn sorted_slice(&self, sort: &[SortKey], offset: usize, limit: usize) -> Result<DataFrame> {
        let order = self.order(sort)?;
        let take = order.slice(offset as i64, limit);
        Ok(self.frame.take(&take)?)
    }
}
