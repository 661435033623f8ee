//! A version's table held in memory, loaded once and shared by every request that reads it
//! (the API keeps them in a cache with a byte budget). Besides the frame it keeps what makes the
//! common questions cheap:
//!
//! - for `q`, per text field, the set of folded words of its values and, when the field has
//!   few distinct values, each row's value code and each value's words: a search word is looked
//!   up among the distinct values, not matched against a million strings;
//! - for `sort` over the whole table, the sorted row order and each row's rank in it, computed
//!   once per sort and kept, so a deep page (`sort=ma_ho_so&offset=900000`) is a lookup and a
//!   sorted page of matches is the matches of lowest rank, not a sort;
//! - for filters, each text value's rows and each number field's sorted values (see
//!   `select.rs`, which answers most filters and `q` from them).
//!
//! Everything here is blocking: call it from `spawn_blocking`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use opendata_collate::Collation;
use opendata_ingest::{Field, FieldType};
use polars::prelude::*;
use polars_arrow::array::PrimitiveArray;
use polars_arrow::datatypes::ArrowDataType;
use polars_buffer::Buffer;

use crate::encode::cells::{self, Cells, Chunked, Fragments, JsonColumn};
use crate::error::{QueryError, Result};
use crate::filter::{Filter, Op, Value};
use crate::fold::fold_text;
use crate::params::{RecordsQuery, SortKey, word_predicate};
use crate::select::{Check, Cover, GroupStats, Matched, Numbers, Postings, SearchField, codes_of};

/// How much work a query may do to find its page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effort {
    /// Whatever it takes: make indexes and sort orders, visit every row. On a blocking thread.
    Full,
    /// Only what the indexes made so far answer in about [`QUICK_STEPS`] steps, for a page of
    /// at most [`QUICK_ROWS`] rows: well under a millisecond on a million rows, so it may run
    /// on an async thread (handing a small query to a blocking thread and back cost a third
    /// to a half of the server's time on the first-page workloads).
    Quick,
}

/// The steps (a word of a bitmap, a row listed or checked) of an [`Effort::Quick`] query.
pub const QUICK_STEPS: usize = 1 << 20;

/// The page size of an [`Effort::Quick`] query.
pub const QUICK_ROWS: usize = 1000;

/// Fields with at most this many distinct values get value codes for search.
const DICTIONARY_MAX: usize = 1 << 16;

/// A word held by at least this share of a field's rows (a 64th) keeps a bitmap of them, which
/// costs at most twice its rows' ids: a search word that starts it ORs the bitmap instead of
/// listing the rows. (With a 16th, `ho tich` still listed 200,000 rows of rarer words such as
/// `hoa`, `hoang` and `hong` one by one.)
const FREQUENT_SHARE: usize = 64;

/// At most this many words of a field keep a bitmap (the most frequent; 8 MB for a million
/// rows).
const FREQUENT_WORDS: usize = 64;

/// The name of the column of matching rows added to the frame for one request.
pub const MATCH_COLUMN: &str = "__opendata_match";

/// Search structures of one text field.
struct TextIndex {
    name: String,
    /// Every folded word of every value.
    words: BTreeSet<String>,
    /// For fields with few distinct values: each row's value code, each value's folded
    /// words, and each value's code.
    dictionary: Option<Dictionary>,
}

struct Dictionary {
    /// `u32::MAX` for null. Shared with the field's column of the table's frame.
    codes: Buffer<u32>,
    words: Vec<Vec<String>>,
    values: HashMap<String, u32>,
    /// The value of each code.
    names: Vec<String>,
    /// The rows of each code.
    postings: Postings,
    /// Each code's value as a JSON member, `"field":"value"`.
    fragments: Fragments,
    /// The rows of each frequent word (see [`FREQUENT_SHARE`]) as a bitmap.
    frequent: BTreeMap<String, Vec<u64>>,
    /// Each value's other words.
    rare: Vec<Vec<String>>,
}

/// The frequent words of a field (see [`FREQUENT_SHARE`]) with their rows as bitmaps.
fn frequent_words(words: &[Vec<String>], postings: &Postings, rows: usize) -> BTreeMap<String, Vec<u64>> {
    let mut counts: HashMap<&str, (usize, Vec<u32>)> = HashMap::new();
    for (code, value_words) in words.iter().enumerate() {
        let n = postings.of(code).len();
        let mut distinct: Vec<&str> = value_words.iter().map(String::as_str).collect();
        distinct.sort_unstable();
        distinct.dedup();
        for w in distinct {
            let entry = counts.entry(w).or_default();
            entry.0 += n;
            entry.1.push(code as u32);
        }
    }
    let mut frequent: Vec<(&str, (usize, Vec<u32>))> =
        counts.into_iter().filter(|(_, (n, _))| *n > 0 && *n >= rows / FREQUENT_SHARE).collect();
    frequent.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(b.0)));
    frequent.truncate(FREQUENT_WORDS);
    frequent
        .into_iter()
        .map(|(word, (_, codes))| {
            let mut bits = vec![0u64; rows.div_ceil(64)];
            for r in codes.iter().flat_map(|c| postings.of(*c as usize)) {
                bits[*r as usize / 64] |= 1 << (r % 64);
            }
            (word.to_string(), bits)
        })
        .collect()
}

impl Dictionary {
    /// Per code, whether an `=` or `in` filter's values hold it; `None` for a value that is
    /// not text.
    fn hit(&self, filter: &Filter) -> Option<Vec<bool>> {
        let mut hit = vec![false; self.names.len()];
        for v in &filter.values {
            let Value::Str(s) = v else { return None };
            if let Some(code) = self.values.get(s) {
                hit[*code as usize] = true;
            }
        }
        Some(hit)
    }

    /// The rows with a word starting with `word`: the bitmaps of the frequent such words, and
    /// the values holding one of the others.
    fn cover(&self, word: &str) -> Cover<'_> {
        let bitmaps = self
            .frequent
            .range(word.to_string()..)
            .take_while(|(w, _)| w.starts_with(word))
            .map(|(_, bits)| bits.as_slice())
            .collect();
        let listed = (0..self.rare.len() as u32)
            .filter(|c| self.rare[*c as usize].iter().any(|w| w.starts_with(word)))
            .collect();
        Cover { bitmaps, listed }
    }

    /// Rows whose code is one of `hit`'s true entries.
    fn rows(&self, hit: &[bool]) -> BooleanChunked {
        self.codes.iter().map(|c| hit.get(*c as usize).copied().unwrap_or(false)).collect()
    }
}

/// `f` on each of `rows`, or else on each row of `run`.
fn for_each_row(rows: Option<&[u32]>, run: std::ops::Range<usize>, f: impl FnMut(usize)) {
    match rows {
        Some(rows) => rows.iter().map(|r| *r as usize).for_each(f),
        None => run.for_each(f),
    }
}

/// The bits of `n` search words all set.
fn full_bits(n: usize) -> u64 {
    if n >= 64 { u64::MAX } else { (1u64 << n) - 1 }
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
            let mut names = vec![String::new(); value_words.len()];
            for (v, c) in &ids {
                names[*c as usize] = v.to_string();
            }
            let values = ids.into_iter().map(|(v, c)| (v.to_string(), c)).collect();
            let postings = Postings::build(&codes, names.len());
            let fragments = Fragments::of(&name, names.iter().map(String::as_str));
            let frequent = frequent_words(&value_words, &postings, ca.len());
            let rare = value_words
                .iter()
                .map(|ws| ws.iter().filter(|w| !frequent.contains_key(*w)).cloned().collect())
                .collect();
            let dictionary = Dictionary {
                codes: codes.into(),
                words: value_words,
                values,
                names,
                postings,
                fragments,
                frequent,
                rare,
            };
            return Ok(Self { name, words, dictionary: Some(dictionary) });
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
            Some(d) => {
                let hit: Vec<bool> = d.words.iter().map(|ws| ws.iter().any(|w| w.starts_with(word))).collect();
                Ok(Some(d.rows(&hit)))
            }
            None => {
                let df = frame.clone().lazy().select([word_predicate(&self.name, word).alias("m")]).collect()?;
                Ok(Some(df.column("m")?.bool()?.clone()))
            }
        }
    }
}

/// Two fields' names, as the key of their [`MemoryTable::pair_counts`].
type FieldPair = (String, String);

/// A sort, as the key of a kept row order: (field, descending) pairs and the text order.
type SortSpec = (Vec<(String, bool)>, Collation);

/// Sorts whose row order is kept, at most (8 MB each for a million rows); past that, a
/// sorted query sorts its matching rows.
const KEPT_ORDERS: usize = 16;

/// The bitmaps in kept orders (see [`KeptOrder::placed`]) take at most this many bytes a row
/// of the table, over all its kept orders: 32 MB for a million rows, eight fields of 30 values.
const PLACED_BYTES_PER_ROW: usize = 32;

/// The row order of the whole table by one sort, and each row's place in it.
pub(crate) struct KeptOrder {
    order: IdxCa,
    ranks: Vec<IdxSize>,
    /// Per text field of few values, each value's rows as a bitmap over the places of this
    /// order (see [`Postings::placed`]), made at the first sorted query filtering on the field.
    placed: Mutex<HashMap<String, Arc<Vec<Vec<u64>>>>>,
}

/// What is made from a kept order's bitmaps of a field (see [`KeptOrder::placed`]), or why it
/// is not.
enum Placed<T> {
    Ready(T),
    /// The bitmaps are not made yet, and the query's effort does not make them.
    Later,
    /// There are none for this query: a filter they do not answer, or the table's budget for
    /// them spent.
    Never,
}

impl KeptOrder {
    /// Field `name`'s value bitmaps in this order; made with [`Effort::Full`] when the
    /// table's `budget` (bytes left, taken from when made) allows.
    fn placed(
        &self,
        name: &str,
        d: &Dictionary,
        effort: Effort,
        budget: &AtomicUsize,
    ) -> Result<Placed<Arc<Vec<Vec<u64>>>>> {
        let mut placed = self.placed.lock().map_err(|_| QueryError::Engine("poisoned lock".into()))?;
        if let Some(bits) = placed.get(name) {
            return Ok(Placed::Ready(bits.clone()));
        }
        if effort == Effort::Quick {
            return Ok(Placed::Later);
        }
        let order = self.order.cont_slice().unwrap_or_default();
        let bytes = d.names.len() * order.len().div_ceil(64) * 8;
        let taken = budget.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| left.checked_sub(bytes));
        if taken.is_err() {
            return Ok(Placed::Never);
        }
        let bits = Arc::new(d.postings.placed(&d.codes, order));
        placed.insert(name.to_string(), bits.clone());
        Ok(Placed::Ready(bits))
    }

    /// The whole table's rows `offset..offset + limit` in this order.
    fn slice(&self, offset: usize, limit: usize) -> Vec<u32> {
        let order = self.order.cont_slice().unwrap_or_default();
        let start = offset.min(order.len());
        order[start..start.saturating_add(limit).min(order.len())].to_vec()
    }

    /// The `offset..offset + limit` first of the `matched` rows in this order.
    fn top(&self, matched: &Matched, offset: usize, limit: usize) -> Vec<u32> {
        let order = self.order.cont_slice().unwrap_or_default();
        let count = matched.count();
        let k = offset.saturating_add(limit).min(count);
        if let Matched::Bits { bits, .. } = matched {
            // Walking the order until `k` matches turn up takes about `k * rows / count` bit
            // tests in a bitmap that stays in cache; ranking every match, a pass over the
            // bitmap and `count` lookups of ranks scattered over the whole table, each about
            // eight times a bit test. For `quan_huyen=…&trang_thai=…&sort=-ngay_tiep_nhan`
            // (28,000 of a million rows) the walk is 3,600 tests.
            let walk = k.saturating_mul(order.len()) / count.max(1);
            if walk <= count.saturating_mul(8) + order.len() / 64 {
                let hit = |r: u32| bits[r as usize / 64] >> (r % 64) & 1 == 1;
                return order.iter().copied().filter(|r| hit(*r)).skip(offset).take(k - offset.min(k)).collect();
            }
        }
        let rows = match matched {
            Matched::Rows(rows) => std::borrow::Cow::Borrowed(rows),
            Matched::Run(run) => std::borrow::Cow::Owned(run.clone().collect()),
            Matched::Bits { bits, .. } => std::borrow::Cow::Owned(crate::select::ones(bits)),
        };
        let mut ranks: Vec<IdxSize> = rows.iter().map(|r| self.ranks[*r as usize]).collect();
        if k < ranks.len() {
            ranks.select_nth_unstable(k);
            ranks.truncate(k);
        }
        ranks.sort_unstable();
        ranks[offset.min(k)..].iter().filter_map(|r| order.get(*r as usize).copied()).collect()
    }
}

/// Where a field's JSON cells come from.
enum StoredCells {
    /// The field's value codes (the index of its [`TextIndex`]).
    Coded(usize),
    Values(Chunked),
}

/// Turns the value codes of a frame cut from a [`MemoryTable`]'s back into text.
///
/// The table's frame holds each text field with value codes as those codes (`UInt32`, 4 bytes
/// a row) rather than as strings (a 16-byte view a row, even when every view points into one
/// short list of values): for the 1M-row benchmark table that is 96 MB less for six fields.
/// A frame cut from it (a page's rows, a batch of a download) is decoded after the cut; only
/// the answers that polars computes over whole text fields decode every row first.
#[derive(Debug, Clone, Default)]
pub struct Decoder {
    /// Per coded field, the value of each code.
    values: Vec<(PlSmallStr, StringChunked)>,
}

impl Decoder {
    /// `frame` with each coded field it holds as text.
    pub fn decode(&self, mut frame: DataFrame) -> Result<DataFrame> {
        for (name, values) in &self.values {
            let Ok(column) = frame.column(name) else { continue };
            let Ok(codes) = column.idx() else { continue };
            let text = values.take(codes)?.with_name(name.clone()).into_column();
            frame.replace(name, text)?;
        }
        Ok(frame)
    }
}

/// One version's table in memory.
pub struct MemoryTable {
    /// Every field, the text fields with value codes as their codes (see [`Decoder`]).
    frame: DataFrame,
    decoder: Decoder,
    fields: Vec<Field>,
    text: Vec<TextIndex>,
    /// Per field, in the fields' order: what its JSON cells are written from.
    cells: Vec<(String, StoredCells)>,
    /// Row orders of the whole table, by sort.
    orders: Mutex<HashMap<SortSpec, Arc<KeptOrder>>>,
    /// Number, date and boolean fields' values and sorted rows, made at their first filter.
    numbers: Mutex<HashMap<String, Option<Arc<Numbers>>>>,
    /// The bytes left for bitmaps in kept orders (see [`PLACED_BYTES_PER_ROW`]).
    placed_left: AtomicUsize,
    /// For pairs of text fields of few values, how many rows have each pair of values (at
    /// most 64 × 64 counts a pair).
    pairs: Mutex<HashMap<FieldPair, Arc<Vec<u32>>>>,
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
        // Kept in the file's row groups (64Ki rows each): a contiguous copy costs the allocator
        // memory it does not give back. Streaming the 1M-row table measured 262 MB peak RSS
        // this way, against 297 MB with numbers made contiguous and 373 MB with every column.
        let mut frame = crate::plan::scan(path)?.collect()?;
        // Field by field, the strings of a coded field are let go as soon as its index is made:
        // loading then peaks at the strings plus one field's index, not plus every index.
        let mut text = Vec::new();
        let mut decoder = Decoder::default();
        for f in fields.iter().filter(|f| f.field_type == FieldType::String) {
            let index = TextIndex::build(frame.column(&f.name)?)?;
            if let Some(d) = &index.dictionary {
                let name = PlSmallStr::from(index.name.as_str());
                // The codes' own buffer, nulls marked valid-false: no second copy.
                let valid = d.codes.contains(&u32::MAX).then(|| d.codes.iter().map(|c| *c != u32::MAX).collect());
                let codes = PrimitiveArray::new(ArrowDataType::UInt32, d.codes.clone(), valid);
                frame.replace(&name, IdxCa::with_chunk(name.clone(), codes).into_column())?;
                let values = StringChunked::from_iter_values(name.clone(), d.names.iter().map(String::as_str));
                decoder.values.push((name, values));
            }
            text.push(index);
        }
        let index_bytes: usize = text
            .iter()
            .map(|t| {
                t.words.iter().map(|w| w.len() + 32).sum::<usize>()
                    + t.dictionary.as_ref().map_or(0, |d| {
                        // The codes are the frame's column, counted with it.
                        d.words.len() * 96
                            + d.postings.bytes()
                            + d.frequent.values().map(|b| b.len() * 8).sum::<usize>()
                    })
            })
            .sum();
        let cells = fields
            .iter()
            .map(|f| {
                let stored = match text.iter().position(|t| t.name == f.name && t.dictionary.is_some()) {
                    Some(i) => StoredCells::Coded(i),
                    None => StoredCells::Values(Chunked::of(frame.column(&f.name)?.as_materialized_series())?),
                };
                Ok((f.name.clone(), stored))
            })
            .collect::<Result<Vec<_>>>()?;
        let fragment_bytes: usize =
            text.iter().filter_map(|t| t.dictionary.as_ref()).map(|d| d.fragments.bytes()).sum();
        let bytes = frame.estimated_size() + index_bytes + fragment_bytes;
        let placed_left = AtomicUsize::new(frame.height().saturating_mul(PLACED_BYTES_PER_ROW));
        Ok(Self {
            frame,
            decoder,
            fields: fields.to_vec(),
            text,
            cells,
            orders: Mutex::default(),
            numbers: Mutex::default(),
            placed_left,
            pairs: Mutex::default(),
            bytes,
        })
    }

    /// About how much memory the table holds, with the indexes made so far.
    pub fn bytes(&self) -> usize {
        let numbers: usize =
            self.numbers.lock().map(|m| m.values().flatten().map(|n| n.bytes()).sum()).unwrap_or_default();
        let orders: usize = self.orders.lock().map(|m| m.len() * self.frame.height() * 8).unwrap_or_default();
        let placed =
            (self.frame.height() * PLACED_BYTES_PER_ROW).saturating_sub(self.placed_left.load(Ordering::Relaxed));
        self.bytes + numbers + orders + placed
    }

    pub fn height(&self) -> usize {
        self.frame.height()
    }

    /// `q` in one pass over the rows, when every word is alphanumeric (up to 64 words) and
    /// only fields with value codes hold words that start with them: per field, each value
    /// gets a bit per search word it matches, and a row matches when its fields' bits cover
    /// every word.
    fn search_by_codes(&self, search: &[String]) -> Option<BooleanChunked> {
        let relevant = self.search_bits(search)?;
        let full = full_bits(search.len());
        let rows = self.frame.height();
        Some(
            (0..rows)
                .map(|r| {
                    relevant
                        .iter()
                        .fold(0u64, |acc, (d, bits)| acc | bits.get(d.codes[r] as usize).copied().unwrap_or(0))
                        == full
                })
                .collect(),
        )
    }

    /// Per field holding a word that starts with a search word, each value's bits of the
    /// search words it has a word starting with; `None` when a word is not alphanumeric, there
    /// are more than 64, or a field without value codes holds one.
    fn search_bits(&self, search: &[String]) -> Option<Vec<(&Dictionary, Vec<u64>)>> {
        if search.len() > 64 || !search.iter().all(|w| w.chars().all(char::is_alphanumeric)) {
            return None;
        }
        let mut relevant: Vec<(&Dictionary, Vec<u64>)> = Vec::new();
        for index in &self.text {
            let words: Vec<usize> = (0..search.len()).filter(|i| starts_any(&index.words, &search[*i])).collect();
            if words.is_empty() {
                continue;
            }
            let d = index.dictionary.as_ref()?;
            let bits = d
                .words
                .iter()
                .map(|ws| {
                    words
                        .iter()
                        .filter(|i| ws.iter().any(|w| w.starts_with(&search[**i])))
                        .fold(0u64, |b, i| b | 1 << i)
                })
                .collect();
            relevant.push((d, bits));
        }
        Some(relevant)
    }

    /// Rows where every word of `q` starts a word of some text field.
    fn search_mask(&self, search: &[String], fields: &[Field]) -> Result<Option<BooleanChunked>> {
        if search.is_empty() {
            return Ok(None);
        }
        if let Some(mask) = self.search_by_codes(search) {
            return Ok(Some(mask));
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
                let expr =
                    crate::expr::balanced(text_fields.iter().map(|f| word_predicate(&f.name, word)).collect(), false)
                        .unwrap_or_else(|| lit(false));
                self.evaluate(expr, text_fields.iter().map(|f| f.name.as_str()).collect())?
            };
            all = Some(match all {
                Some(a) => &a & &any,
                None => any,
            });
        }
        Ok(all)
    }

    /// An equality or range filter on a text field with few values, answered from the value
    /// codes (a range compares each distinct value once, in the filter's collation).
    fn dictionary_mask(&self, filter: &Filter) -> Option<BooleanChunked> {
        if !matches!(filter.op, Op::Eq | Op::In | Op::Gt | Op::Gte | Op::Lt | Op::Lte) {
            return None;
        }
        let d = self.text.iter().find(|t| t.name == filter.field)?.dictionary.as_ref()?;
        let mut hit = vec![false; d.words.len()];
        for v in &filter.values {
            let Value::Str(s) = v else { return None };
            match filter.op {
                Op::Eq | Op::In => {
                    if let Some(code) = d.values.get(s) {
                        hit[*code as usize] = true;
                    }
                }
                Op::Gt | Op::Gte | Op::Lt | Op::Lte => {
                    for (code, name) in d.names.iter().enumerate() {
                        let order = filter.collation.compare(name, s);
                        hit[code] |= match filter.op {
                            Op::Gt => order.is_gt(),
                            Op::Gte => order.is_ge(),
                            Op::Lt => order.is_lt(),
                            _ => order.is_le(),
                        };
                    }
                }
                _ => return None,
            }
        }
        Some(d.rows(&hit))
    }

    /// The frame to query, with the column of rows matching the filters, `where` and `q`
    /// added when there are any (then [`MemoryTable::predicate`] is that column). Text
    /// equality filters are answered from value codes and `q` from the word index; the rest
    /// runs once over the whole table as a polars expression. Its coded text fields hold their
    /// codes: decode what is cut from it with [`MemoryTable::decoder`].
    pub(crate) fn frame_for(&self, query: &RecordsQuery, fields: &[Field]) -> Result<DataFrame> {
        let mut masks: Vec<BooleanChunked> = self.search_mask(&query.search, fields)?.into_iter().collect();
        let mut rest = Vec::new();
        // The fields `rest` reads.
        let mut reads = Vec::new();
        for filter in &query.filters {
            match self.dictionary_mask(filter) {
                Some(mask) => masks.push(mask),
                None => {
                    rest.push(filter.expr());
                    reads.push(filter.field.as_str());
                }
            }
        }
        if let Some(w) = &query.where_ {
            rest.push(w.expr.clone());
            reads.extend(w.fields.iter().map(String::as_str));
        }
        if let Some(expr) = crate::expr::balanced(rest, true) {
            masks.push(self.evaluate(expr.fill_null(lit(false)), reads)?);
        }
        let Some(mask) = masks.into_iter().reduce(|a, b| &a & &b) else {
            return Ok(self.frame.clone());
        };
        let mut frame = self.frame.clone();
        frame.with_column(mask.with_name(MATCH_COLUMN.into()).into_column())?;
        Ok(frame)
    }

    /// `predicate` over every row, which reads only the fields `reads`: only those of them with
    /// value codes are decoded.
    fn evaluate(&self, predicate: Expr, mut reads: Vec<&str>) -> Result<BooleanChunked> {
        reads.sort_unstable();
        reads.dedup();
        // A predicate that reads no field (`where=true`) still has a row per row.
        let frame = match self.frame.columns().first() {
            Some(first) if reads.is_empty() => self.frame.select([first.name().clone()])?,
            _ if reads.is_empty() => self.frame.clone(),
            _ => self.frame.select(reads.into_iter().map(PlSmallStr::from))?,
        };
        let df = self.decoder.decode(frame)?.lazy().select([predicate.alias("m")]).collect()?;
        Ok(df.column("m")?.bool()?.clone())
    }

    /// What makes the coded fields of [`MemoryTable::frame_for`]'s frame text again.
    pub(crate) fn decoder(&self) -> &Decoder {
        &self.decoder
    }

    /// The predicate over [`MemoryTable::frame_for`]'s frame, if the query filters at all.
    pub(crate) fn predicate(query: &RecordsQuery) -> Option<Expr> {
        (!query.filters.is_empty() || query.where_.is_some() || !query.search.is_empty()).then(|| col(MATCH_COLUMN))
    }

    /// `group_by` one text field with value codes, with `count` and number aggregates: one pass
    /// over the matching rows instead of a hash group-by. `None` when the query is not of
    /// that shape (the general path answers it).
    pub(crate) fn group_by_codes(
        &self,
        query: &RecordsQuery,
        fields: &[Field],
        rows: Option<&[u32]>,
    ) -> Result<Option<DataFrame>> {
        // Rows that are one run (a date range of a table in date order) are walked as a range:
        // the loops then read each array in order, with no list of rows between.
        let run = rows.and_then(|rows| match (rows.first(), rows.last()) {
            (Some(a), Some(b)) if (*b - *a) as usize + 1 == rows.len() => Some(*a as usize..*b as usize + 1),
            (None, _) => Some(0..0),
            _ => None,
        });
        match run {
            Some(run) => self.group_by_range(query, fields, None, run),
            None => self.group_by_range(query, fields, rows, 0..self.frame.height()),
        }
    }

    /// [`MemoryTable::group_by_codes`] over `rows`, or else over the rows of `whole`.
    fn group_by_range(
        &self,
        query: &RecordsQuery,
        fields: &[Field],
        rows: Option<&[u32]>,
        whole: std::ops::Range<usize>,
    ) -> Result<Option<DataFrame>> {
        use crate::aggregate::{AggFunc, SelectItem};
        let [group] = query.group_by.as_slice() else { return Ok(None) };
        let Some(d) = self.text.iter().find(|t| &t.name == group).and_then(|t| t.dictionary.as_ref()) else {
            return Ok(None);
        };
        // Each aggregate, with its field's values.
        let mut aggs = Vec::new();
        for item in &query.select {
            match item {
                SelectItem::Field(f) if f == group => {}
                SelectItem::Field(_) => return Ok(None),
                SelectItem::Aggregate(a) => {
                    let values = match (a.func, &a.field) {
                        (AggFunc::Count, None) => None,
                        (AggFunc::CountDistinct, _) => return Ok(None),
                        (_, Some(f)) => {
                            let numeric = fields
                                .iter()
                                .any(|x| &x.name == f && matches!(x.field_type, FieldType::Integer | FieldType::Float));
                            match self.numbers(f)? {
                                Some(numbers) if numeric => Some(numbers),
                                _ => return Ok(None),
                            }
                        }
                        (_, None) => return Ok(None),
                    };
                    aggs.push((a, values));
                }
            }
        }
        let groups = d.names.len() + 1; // the last one is null
        let mut counts = vec![0i64; groups];
        // One pass per aggregate: a tight loop over two arrays each.
        for_each_row(rows, whole.clone(), |r| counts[(d.codes[r] as usize).min(groups - 1)] += 1); // null is `u32::MAX`
        let acc: Vec<GroupStats> = aggs
            .iter()
            .map(|(a, numbers)| match numbers {
                Some(numbers) => {
                    let extremes = matches!(a.func, AggFunc::Min | AggFunc::Max);
                    match rows {
                        Some(rows) => numbers.group_stats(rows.iter().map(|r| *r as usize), &d.codes, groups, extremes),
                        None => numbers.group_stats(whole.clone(), &d.codes, groups, extremes),
                    }
                }
                None => GroupStats::new(groups, false),
            })
            .collect();
        let present: Vec<usize> = (0..groups).filter(|g| counts[*g] > 0).collect();
        let mut columns = Vec::new();
        for item in &query.select {
            let column = match item {
                SelectItem::Field(name) => Column::new(
                    name.as_str().into(),
                    present.iter().map(|g| d.names.get(*g).map(String::as_str)).collect::<Vec<_>>(),
                ),
                SelectItem::Aggregate(a) => {
                    let i = aggs.iter().position(|(x, _)| x.alias == a.alias).unwrap_or(0);
                    let stats = &acc[i];
                    let GroupStats { sum, n, min, max, .. } = stats;
                    let name = PlSmallStr::from(a.alias.as_str());
                    let pick = |f: &dyn Fn(usize) -> f64| -> Vec<Option<f64>> {
                        present.iter().map(|g| (n[*g] > 0).then(|| f(*g))).collect()
                    };
                    if stats.is_exact() && a.func != AggFunc::Avg && a.func != AggFunc::Count {
                        let exact = |g: usize| -> Result<i64> {
                            Ok(match a.func {
                                AggFunc::Min => stats.exact_min[g],
                                AggFunc::Max => stats.exact_max[g],
                                _ => i64::try_from(stats.exact_sum[g]).map_err(|_| {
                                    crate::aggregate::sum_overflow(&a.alias, &stats.exact_sum[g].to_string())
                                })?,
                            })
                        };
                        let ints = present
                            .iter()
                            .map(|g| if n[*g] > 0 { exact(*g).map(Some) } else { Ok(None) })
                            .collect::<Result<Vec<Option<i64>>>>()?;
                        let column = Column::new(name, ints);
                        columns.push(match a.output_type {
                            FieldType::Integer => column,
                            FieldType::Float => column.cast(&DataType::Float64)?,
                            _ => return Ok(None),
                        });
                        continue;
                    }
                    let floats = match a.func {
                        AggFunc::Count if a.field.is_none() => {
                            columns.push(Column::new(name, present.iter().map(|g| counts[*g]).collect::<Vec<_>>()));
                            continue;
                        }
                        AggFunc::Count => {
                            columns.push(Column::new(name, present.iter().map(|g| n[*g]).collect::<Vec<_>>()));
                            continue;
                        }
                        AggFunc::Avg if stats.is_exact() => pick(&|g| stats.exact_sum[g] as f64 / n[g] as f64),
                        AggFunc::Avg => pick(&|g| sum[g] / n[g] as f64),
                        AggFunc::Sum => pick(&|g| sum[g]),
                        AggFunc::Min => pick(&|g| min[g]),
                        AggFunc::Max => pick(&|g| max[g]),
                        AggFunc::CountDistinct => return Ok(None),
                    };
                    let column = Column::new(name, floats);
                    if a.output_type == FieldType::Integer { column.cast(&DataType::Int64)? } else { column }
                }
            };
            columns.push(column);
        }
        Ok(Some(DataFrame::new_infer_height(columns)?))
    }

    /// The row order of the whole table by `sort` (nulls last, ties in file order), computed
    /// once; `None` when [`KEPT_ORDERS`] sorts are kept already.
    pub(crate) fn kept_order(&self, sort: &[SortKey], collation: Collation) -> Result<Option<Arc<KeptOrder>>> {
        self.kept_order_with(sort, collation, Effort::Full)
    }

    /// [`MemoryTable::kept_order`]; with [`Effort::Quick`], only one made before.
    fn kept_order_with(
        &self,
        sort: &[SortKey],
        collation: Collation,
        effort: Effort,
    ) -> Result<Option<Arc<KeptOrder>>> {
        let key: SortSpec = (sort.iter().map(|s| (s.field.clone(), s.descending)).collect(), collation);
        let lock = || self.orders.lock().map_err(|_| QueryError::Engine("poisoned lock".into()));
        if let Some(o) = lock()?.get(&key) {
            return Ok(Some(o.clone()));
        }
        if effort == Effort::Quick || lock()?.len() >= KEPT_ORDERS {
            return Ok(None);
        }
        let by: Vec<PlSmallStr> = sort.iter().map(|s| PlSmallStr::from(s.field.as_str())).collect();
        let options = SortMultipleOptions::default()
            .with_order_descending_multi(sort.iter().map(|s| s.descending).collect::<Vec<_>>())
            .with_nulls_last(true)
            .with_maintain_order(true);
        // Each sort field as something polars orders as `collation` does: a coded text field
        // as its values' ranks (one collation key per distinct value, not per row), another
        // text field as its rows' keys, other fields as they are.
        let mut columns = Vec::with_capacity(by.len() + 1);
        for name in &by {
            let dictionary = self.text.iter().find(|t| t.name == name.as_str()).and_then(|t| t.dictionary.as_ref());
            let column = match dictionary {
                Some(d) => {
                    let ranks = collation.ranks(&d.names);
                    let ranked: UInt32Chunked =
                        d.codes.iter().map(|c| ranks.get(*c as usize).copied()).collect_ca(name.clone());
                    ranked.into_column()
                }
                None => {
                    let decoded = self.decoder.decode(self.frame.select([name.clone()])?)?;
                    let column = decoded.column(name)?.clone();
                    crate::collate::keys(column, collation)?
                }
            };
            columns.push(column);
        }
        let indexed = DataFrame::new_infer_height(columns)?.with_row_index("__i".into(), None)?;
        let sorted = indexed.sort(by, options)?;
        let order = sorted.column("__i")?.idx()?.rechunk().into_owned();
        let mut ranks = vec![0 as IdxSize; order.len()];
        for (rank, row) in order.cont_slice().unwrap_or_default().iter().enumerate() {
            ranks[*row as usize] = rank as IdxSize;
        }
        let kept = Arc::new(KeptOrder { order, ranks, placed: Mutex::default() });
        lock()?.insert(key, kept.clone());
        Ok(Some(kept))
    }

    /// Rows `offset..offset + limit` of the whole table in `sort` order, when it is kept.
    pub(crate) fn sorted_slice(
        &self,
        sort: &[SortKey],
        collation: Collation,
        offset: usize,
        limit: usize,
    ) -> Result<Option<DataFrame>> {
        let Some(kept) = self.kept_order(sort, collation)? else { return Ok(None) };
        let take = kept.order.slice(offset as i64, limit);
        Ok(Some(self.decoder.decode(self.frame.take(&take)?)?))
    }

    /// A number, date, datetime or boolean field's [`Numbers`], made at first use.
    pub(crate) fn numbers(&self, field: &str) -> Result<Option<Arc<Numbers>>> {
        self.numbers_with(field, Effort::Full)
    }

    /// [`MemoryTable::numbers`]; with [`Effort::Quick`], only those made before.
    fn numbers_with(&self, field: &str, effort: Effort) -> Result<Option<Arc<Numbers>>> {
        let lock = || self.numbers.lock().map_err(|_| QueryError::Engine("poisoned lock".into()));
        if let Some(n) = lock()?.get(field) {
            return Ok(n.clone());
        }
        if effort == Effort::Quick {
            return Ok(None);
        }
        let Some(f) = self.fields.iter().find(|f| f.name == field) else { return Ok(None) };
        let built = Numbers::build(self.frame.column(field)?, f.field_type).map(Arc::new);
        lock()?.insert(field.to_string(), built.clone());
        Ok(built)
    }

    /// The rows matching the query's filters and `q`, ascending, found from the indexes
    /// ([`crate::select`]); `None` when the query has none, or one the indexes do not answer.
    pub(crate) fn matching_rows(
        &self,
        query: &RecordsQuery,
        fields: &[Field],
        effort: Effort,
    ) -> Result<Option<Matched>> {
        if (query.filters.is_empty() && query.search.is_empty()) || !crate::select::answerable(query, fields) {
            return Ok(None);
        }
        // The numbers first: the checks borrow them.
        let mut numbers = Vec::new();
        for filter in &query.filters {
            if filter.field_type != FieldType::String {
                match self.numbers_with(&filter.field, effort)? {
                    Some(n) => numbers.push(n),
                    None => return Ok(None),
                }
            }
        }
        let mut checks = Vec::new();
        let mut numbers = numbers.iter();
        for filter in &query.filters {
            if filter.field_type == FieldType::String {
                let Some(d) = self.text.iter().find(|t| t.name == filter.field).and_then(|t| t.dictionary.as_ref())
                else {
                    return Ok(None);
                };
                let Some(hit) = d.hit(filter) else { return Ok(None) };
                checks.push(Check::codes(&d.codes, hit, &d.postings));
            } else {
                let Some(n) = numbers.next() else { return Ok(None) };
                let Some(ranges) = Check::ranges(filter, n) else { return Ok(None) };
                checks.push(Check::Ranges { numbers: n, ranges });
            }
        }
        if !query.search.is_empty() {
            let Some(relevant) = self.search_bits(&query.search) else { return Ok(None) };
            let fields = relevant
                .into_iter()
                .map(|(d, bits)| SearchField {
                    codes: &d.codes,
                    bits,
                    postings: &d.postings,
                    covers: Some(query.search.iter().map(|w| d.cover(w)).collect()),
                })
                .collect();
            checks.push(Check::Search { fields, full: full_bits(query.search.len()) });
        }
        let budget = if effort == Effort::Quick { QUICK_STEPS } else { usize::MAX };
        Ok(crate::select::matching(&crate::select::merged(checks), self.frame.height(), budget))
    }

    /// The total and the page's rows of a query answered without a pass over the table: the
    /// whole table in file order or in a kept sort order, or the rows the indexes find (see
    /// [`MemoryTable::matching_rows`]). `None` for other queries, and for aggregates and facets.
    /// With [`Effort::Quick`], `None` also for a query that needs more than that.
    pub fn page_rows(
        &self,
        query: &RecordsQuery,
        fields: &[Field],
        effort: Effort,
    ) -> Result<Option<(usize, Vec<u32>)>> {
        let limit = query.limit.unwrap_or(usize::MAX);
        if !query.facets.is_empty() || query.aggregating() || (effort == Effort::Quick && limit > QUICK_ROWS) {
            return Ok(None);
        }
        let offset = query.offset;
        if query.filters.is_empty() && query.search.is_empty() && query.where_.is_none() {
            let height = self.height();
            let rows = if query.sort.is_empty() {
                let start = offset.min(height);
                (start as u32..start.saturating_add(limit).min(height) as u32).collect()
            } else if let Some(kept) = self.kept_order_with(&query.sort, query.collation, effort)? {
                kept.slice(offset, limit)
            } else {
                return Ok(None);
            };
            return Ok(Some((height, rows)));
        }
        if !query.sort.is_empty() {
            match self.placed_page(query, effort)? {
                Placed::Ready(page) => return Ok(Some(page)),
                Placed::Later => return Ok(None),
                Placed::Never => {}
            }
        }
        let Some(matched) = self.matching_rows(query, fields, effort)? else { return Ok(None) };
        let rows = if query.sort.is_empty() {
            matched.slice(offset, limit)
        } else if let Some(kept) = self.kept_order_with(&query.sort, query.collation, effort)? {
            kept.top(&matched, offset, limit)
        } else {
            return Ok(None);
        };
        Ok(Some((matched.count(), rows)))
    }

    /// The total and page of a sorted query whose filters are all `=` or `in` on text fields
    /// of few values. The fields' bitmaps in the sort's kept order are ANDed from the start
    /// until a page of set bits turns up; the total is the sum of the values' rows (one field)
    /// or of their [`MemoryTable::pair_counts`] (two), else a count of the whole AND.
    ///
    /// For `quan_huyen=…&trang_thai=…&sort=-ngay_tiep_nhan` on a million rows, the matches
    /// had been ANDed in row order (two bitmaps of 125 KB, and a third written), then either
    /// the sort order walked until a page of them turned up (28,000 bit tests for a pair of
    /// 3,500 rows) or every match ranked (rarer pairs): 84 µs a query in process. A count of
    /// the AND in the kept order alone took 30–85 µs (the bitmaps of 30 districts do not stay
    /// in this machine's caches).
    fn placed_page(&self, query: &RecordsQuery, effort: Effort) -> Result<Placed<(usize, Vec<u32>)>> {
        if query.filters.is_empty() || !query.search.is_empty() || query.where_.is_some() {
            return Ok(Placed::Never);
        }
        // Per field, the codes every one of its filters holds.
        let mut wanted: Vec<(&str, &Dictionary, Vec<bool>)> = Vec::with_capacity(query.filters.len());
        for filter in &query.filters {
            let dictionary = (filter.field_type == FieldType::String && matches!(filter.op, Op::Eq | Op::In))
                .then(|| self.text.iter().find(|t| t.name == filter.field))
                .flatten()
                .and_then(|t| t.dictionary.as_ref())
                .filter(|d| d.postings.keeps_bitmaps());
            let Some((d, hit)) = dictionary.and_then(|d| Some((d, d.hit(filter)?))) else {
                return Ok(Placed::Never);
            };
            match wanted.iter_mut().find(|(name, _, _)| *name == filter.field) {
                Some((_, _, held)) => held.iter_mut().zip(hit).for_each(|(a, b)| *a &= b),
                None => wanted.push((filter.field.as_str(), d, hit)),
            }
        }
        let Some(kept) = self.kept_order_with(&query.sort, query.collation, effort)? else {
            return Ok(if effort == Effort::Quick { Placed::Later } else { Placed::Never });
        };
        let total = match wanted.as_slice() {
            [(_, d, hit)] => Some(codes_of(hit).map(|c| d.postings.of(c).len()).sum()),
            [(a, da, hit_a), (b, db, hit_b)] => match self.pair_counts(a, da, b, db, effort)? {
                Placed::Ready(counts) => Some(
                    codes_of(hit_a)
                        .flat_map(|x| codes_of(hit_b).map(move |y| (x, y)))
                        .map(|(x, y)| counts.get(x * db.names.len() + y).copied().unwrap_or(0) as usize)
                        .sum(),
                ),
                Placed::Later => return Ok(Placed::Later),
                Placed::Never => None,
            },
            _ => None,
        };
        let mut placed = Vec::with_capacity(wanted.len());
        for (name, d, _) in &wanted {
            match kept.placed(name, d, effort, &self.placed_left)? {
                Placed::Ready(bits) => placed.push(bits),
                Placed::Later => return Ok(Placed::Later),
                Placed::Never => return Ok(Placed::Never),
            }
        }
        let Some(bitmaps) = placed
            .iter()
            .zip(&wanted)
            .map(|(bits, (_, _, hit))| crate::select::union_of(bits, hit))
            .collect::<Option<Vec<_>>>()
        else {
            return Ok(Placed::Never);
        };
        let bitmaps: Vec<&[u64]> = bitmaps.iter().map(AsRef::as_ref).collect();
        let limit = query.limit.unwrap_or(usize::MAX);
        let (seen, places) = crate::select::common_bits(&bitmaps, query.offset, limit, total.is_none());
        let order = kept.order.cont_slice().unwrap_or_default();
        let rows = places.iter().filter_map(|p| order.get(*p as usize).copied()).collect();
        Ok(Placed::Ready((total.unwrap_or(seen), rows)))
    }

    /// How many rows have each pair of values of two text fields of few values (see
    /// [`crate::select::pair_counts`]), made at first use with [`Effort::Full`].
    fn pair_counts(
        &self,
        a: &str,
        da: &Dictionary,
        b: &str,
        db: &Dictionary,
        effort: Effort,
    ) -> Result<Placed<Arc<Vec<u32>>>> {
        let key = (a.to_string(), b.to_string());
        let mut pairs = self.pairs.lock().map_err(|_| QueryError::Engine("poisoned lock".into()))?;
        if let Some(counts) = pairs.get(&key) {
            return Ok(Placed::Ready(counts.clone()));
        }
        if effort == Effort::Quick {
            return Ok(Placed::Later);
        }
        let counts = Arc::new(crate::select::pair_counts(&da.codes, da.names.len(), &db.codes, db.names.len()));
        pairs.insert(key, counts.clone());
        Ok(Placed::Ready(counts))
    }

    /// Append `rows` as comma-separated JSON objects of the query's output fields, written
    /// from the table's arrays and value codes.
    pub(crate) fn write_json(&self, query: &RecordsQuery, fields: &[Field], rows: &[u32], out: &mut Vec<u8>) {
        let columns: Vec<JsonColumn<'_>> = query
            .output_fields(fields)
            .iter()
            .filter_map(|f| {
                let (name, stored) = self.cells.iter().find(|(n, _)| *n == f.name)?;
                let cells = match stored {
                    StoredCells::Values(values) => Cells::Values(values),
                    StoredCells::Coded(i) => {
                        let d = self.text.get(*i)?.dictionary.as_ref()?;
                        Cells::Coded { codes: &d.codes, fragments: &d.fragments }
                    }
                };
                Some(JsonColumn::new(name, cells))
            })
            .collect();
        cells::write_rows(&columns, rows, out);
    }

    /// The page of a query whose matching rows the indexes find (see
    /// [`MemoryTable::matching_rows`]), without a pass over the table; `None` for other queries.
    pub(crate) fn indexed_page(&self, query: &RecordsQuery, fields: &[Field]) -> Result<Option<crate::plan::Page>> {
        if !query.facets.is_empty() {
            return Ok(None);
        }
        if query.aggregating() {
            let Some(matched) = self.matching_rows(query, fields, Effort::Full)? else { return Ok(None) };
            let groups = match matched {
                Matched::Run(run) => self.group_by_range(query, fields, None, run.start as usize..run.end as usize)?,
                other => self.group_by_codes(query, fields, Some(&other.into_rows()))?,
            };
            let Some(groups) = groups else { return Ok(None) };
            let groups = crate::plan::sort_groups(groups, query)?;
            let total = groups.height();
            let frame = groups.slice(query.offset as i64, query.limit.unwrap_or(usize::MAX));
            return Ok(Some(crate::plan::Page { total, frame, facets: Vec::new() }));
        }
        let Some((total, rows)) = self.page_rows(query, fields, Effort::Full)? else { return Ok(None) };
        // Only the answer's fields are gathered, in its order.
        let names: Vec<PlSmallStr> =
            query.output_fields(fields).iter().map(|f| PlSmallStr::from(f.name.as_str())).collect();
        let frame = self.decoder.decode(self.frame.select(names)?.take(&IdxCa::from_vec(PlSmallStr::EMPTY, rows))?)?;
        Ok(Some(crate::plan::Page { total, frame, facets: Vec::new() }))
    }
}
