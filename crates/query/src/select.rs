//! The rows matching a query's filters, found from a [`MemoryTable`]'s indexes instead of a
//! pass over every row, for the filters that are most of what readers send:
//!
//! - equality (`=`, `in`) on a text field with value codes: the rows of each value are kept
//!   grouped by value ([`Postings`]), so `quan_huyen=Quận Ba Đình` is a slice of row ids;
//! - `eq`, `in`, `gt`, `gte`, `lt`, `lte` on a number, date, datetime or boolean field: the
//!   field's values are kept as ordered integers with the row order that sorts them
//!   ([`Numbers`]), so a range is two binary searches;
//! - `q` when every word is answered by value codes (as in `MemoryTable::search_by_codes`).
//!
//! The filter with the fewest rows drives: its rows are listed, then each is checked against
//! the other filters one row at a time (a bit test, a lookup in a code table or a comparison
//! of two integers). When even the best filter keeps more than a third of the table, each
//! filter becomes a bitmap over its column (a branch-free pass; a search's from its words'
//! rows when that is less work) and the bitmaps are intersected. `where=` and other operators
//! return `None`, and the caller computes a mask over the whole table with polars as before.
//!
//! The answer is the matching row ids in ascending order, so the caller pages them in file
//! order, or by a kept sort order's ranks, without another pass.

use opendata_ingest::{Field, FieldType};
use polars::prelude::*;

use crate::filter::{Filter, Op, Value};
use crate::params::RecordsQuery;

/// Fields with at most this many values also keep a bitmap of each value's rows (an eighth
/// of a byte per row and value): checking a row against one is a bit test in a bitmap that
/// fits the cache, not a lookup in the codes.
const DENSE_VALUES: usize = 64;

/// Row ids grouped by value code: a counting sort of a field's codes.
pub(crate) struct Postings {
    /// Where each code's rows start in `rows`; one more entry than there are codes.
    starts: Vec<u32>,
    rows: Vec<u32>,
    /// For fields with few values, each value's rows as a bitmap; else empty.
    dense: Vec<Vec<u64>>,
}

impl Postings {
    /// From each row's code (`u32::MAX` for null, which is left out) and the number of codes.
    pub(crate) fn build(codes: &[u32], values: usize) -> Self {
        let mut starts = vec![0u32; values + 1];
        for &c in codes {
            if (c as usize) < values {
                starts[c as usize + 1] += 1;
            }
        }
        for i in 0..values {
            starts[i + 1] += starts[i];
        }
        let mut next = starts.clone();
        let mut rows = vec![0u32; starts[values] as usize];
        for (r, &c) in codes.iter().enumerate() {
            if let Some(at) = next.get_mut(c as usize) {
                rows[*at as usize] = r as u32;
                *at += 1;
            }
        }
        let mut dense = Vec::new();
        if values <= DENSE_VALUES {
            dense = vec![vec![0u64; codes.len().div_ceil(64)]; values];
            for (r, &c) in codes.iter().enumerate() {
                if let Some(bits) = dense.get_mut(c as usize) {
                    bits[r / 64] |= 1 << (r % 64);
                }
            }
        }
        Self { starts, rows, dense }
    }

    /// The rows of the codes that `hit`, as a bitmap, when this field keeps bitmaps: the kept
    /// one itself for a single code (no copy of 125 KB a million rows per request).
    fn bitmap(&self, hit: &[bool]) -> Option<std::borrow::Cow<'_, [u64]>> {
        union_of(&self.dense, hit)
    }

    /// Whether each value's rows are kept as a bitmap too (a field of at most
    /// [`DENSE_VALUES`] values).
    pub(crate) fn keeps_bitmaps(&self) -> bool {
        !self.dense.is_empty()
    }

    /// Each value's rows as a bitmap over the places of a row order: bit `i` of value `c`'s
    /// bitmap is set when row `order[i]` has code `c` (`codes[row]`, as given to
    /// [`Postings::build`]). Empty for a field that does not keep bitmaps.
    pub(crate) fn placed(&self, codes: &[u32], order: &[u32]) -> Vec<Vec<u64>> {
        let mut out = vec![vec![0u64; order.len().div_ceil(64)]; self.dense.len()];
        for (i, row) in order.iter().enumerate() {
            if let Some(bits) = codes.get(*row as usize).and_then(|c| out.get_mut(*c as usize)) {
                bits[i / 64] |= 1 << (i % 64);
            }
        }
        out
    }

    /// Set the bits of value `code`'s rows in `bits`: ORed from its bitmap when it keeps one
    /// and lists more rows than the bitmap has words (a sequential pass beats that many
    /// scattered writes), else row by row.
    fn set(&self, code: usize, bits: &mut [u64]) {
        let rows = self.of(code);
        match self.dense.get(code) {
            Some(dense) if rows.len() > dense.len() => bits.iter_mut().zip(dense).for_each(|(a, b)| *a |= b),
            _ => rows.iter().for_each(|r| bits[*r as usize / 64] |= 1 << (r % 64)),
        }
    }

    /// The rows with value `code`, ascending.
    pub(crate) fn of(&self, code: usize) -> &[u32] {
        match (self.starts.get(code), self.starts.get(code + 1)) {
            (Some(a), Some(b)) => &self.rows[*a as usize..*b as usize],
            _ => &[],
        }
    }

    pub(crate) fn bytes(&self) -> usize {
        (self.starts.len() + self.rows.len()) * 4 + self.dense.iter().map(|d| d.len() * 8).sum::<usize>()
    }
}

/// The codes whose entry in `hit` is true.
pub(crate) fn codes_of(hit: &[bool]) -> impl Iterator<Item = usize> + Clone + '_ {
    hit.iter().enumerate().filter(|(_, h)| **h).map(|(c, _)| c)
}

/// The union of the bitmaps of the codes that `hit`: the bitmap itself for a single code, no
/// copy. `None` when there are no bitmaps.
pub(crate) fn union_of<'a>(bitmaps: &'a [Vec<u64>], hit: &[bool]) -> Option<std::borrow::Cow<'a, [u64]>> {
    let first = bitmaps.first()?;
    if let [code] = codes_of(hit).collect::<Vec<_>>()[..] {
        return bitmaps.get(code).map(|bits| std::borrow::Cow::Borrowed(bits.as_slice()));
    }
    let mut out = vec![0u64; first.len()];
    for (bits, _) in bitmaps.iter().zip(hit).filter(|(_, h)| **h) {
        out.iter_mut().zip(bits).for_each(|(a, b)| *a |= b);
    }
    Some(std::borrow::Cow::Owned(out))
}

/// Over bitmaps of equal length, the places (bit numbers) of the `offset`-th bit set in every
/// one of them on, at most `limit`, ascending; and with `count`, how many such bits there
/// are. Without `count`, the pass stops at the page's last bit: the first page of a sorted
/// query reads the first few KB of its bitmaps, not all of them.
pub(crate) fn common_bits(bitmaps: &[&[u64]], offset: usize, limit: usize, count: bool) -> (usize, Vec<u32>) {
    /// Words at a time: their bits counted in a loop the compiler vectorises.
    const BLOCK: usize = 8;
    let Some((first, rest)) = bitmaps.split_first() else { return (0, Vec::new()) };
    let end = offset.saturating_add(limit);
    let mut page = Vec::with_capacity(limit.min(1024));
    let mut seen = 0usize;
    let mut block = [0u64; BLOCK];
    for (b, words) in first.chunks(BLOCK).enumerate() {
        block[..words.len()].copy_from_slice(words);
        block[words.len()..].fill(0);
        for other in rest {
            let from = other.get(b * BLOCK..).unwrap_or_default();
            block.iter_mut().enumerate().for_each(|(i, w)| *w &= from.get(i).copied().unwrap_or(0));
        }
        let n: usize = block.iter().map(|w| w.count_ones() as usize).sum();
        if seen + n > offset && seen < end {
            let mut at = seen;
            for (i, word) in block.iter().copied().enumerate() {
                let mut word = word;
                while word != 0 && at < end {
                    if at >= offset {
                        page.push(((b * BLOCK + i) * 64) as u32 + word.trailing_zeros());
                    }
                    at += 1;
                    word &= word - 1;
                }
            }
        }
        seen += n;
        if !count && seen >= end {
            break;
        }
    }
    (seen, page)
}

/// How many rows have each pair of codes of two fields: `counts[a * b_values + b]` for code
/// `a` of the first field and `b` of the second (nulls, `u32::MAX`, left out).
pub(crate) fn pair_counts(a: &[u32], a_values: usize, b: &[u32], b_values: usize) -> Vec<u32> {
    let mut counts = vec![0u32; a_values * b_values];
    for (x, y) in a.iter().zip(b) {
        if (*x as usize) < a_values && (*y as usize) < b_values {
            counts[*x as usize * b_values + *y as usize] += 1;
        }
    }
    counts
}

/// A float as an integer of the same order (`-0.0` counts as `0.0`).
pub(crate) fn ordered(f: f64) -> i64 {
    let bits = (if f == 0.0 { 0.0 } else { f }).to_bits() as i64;
    if bits < 0 { bits ^ i64::MAX } else { bits }
}

/// The float of [`ordered`]'s integer.
pub(crate) fn unordered(k: i64) -> f64 {
    f64::from_bits((if k < 0 { k ^ i64::MAX } else { k }) as u64)
}

/// A number, date, datetime or boolean field's values as ordered integers (days for dates,
/// microseconds for datetimes, [`ordered`] floats), with the rows sorted by value.
pub(crate) struct Numbers {
    pub(crate) float: bool,
    pub(crate) keys: Vec<i64>,
    /// `None` when no value is null.
    pub(crate) valid: Option<Vec<bool>>,
    /// The non-null rows in ascending order of value (ties in row order).
    sorted: Vec<u32>,
}

impl Numbers {
    /// `None` for other types, and for floats with NaN (polars orders NaN its own way).
    pub(crate) fn build(column: &Column, field_type: FieldType) -> Option<Self> {
        let series = column.as_materialized_series();
        let (float, values): (bool, Vec<Option<i64>>) = match field_type {
            FieldType::Integer => (false, series.cast(&DataType::Int64).ok()?.i64().ok()?.iter().collect()),
            FieldType::Boolean => (false, series.bool().ok()?.iter().map(|b| b.map(i64::from)).collect()),
            FieldType::Date => (false, series.date().ok()?.physical().iter().map(|d| d.map(i64::from)).collect()),
            FieldType::Datetime => {
                let DataType::Datetime(TimeUnit::Microseconds, _) = series.dtype() else { return None };
                (false, series.datetime().ok()?.physical().iter().collect())
            }
            FieldType::Float => {
                let ca = series.cast(&DataType::Float64).ok()?;
                let ca = ca.f64().ok()?;
                if ca.iter().flatten().any(f64::is_nan) {
                    return None;
                }
                (true, ca.iter().map(|f| f.map(ordered)).collect())
            }
            _ => return None,
        };
        let valid = values.iter().any(Option::is_none).then(|| values.iter().map(Option::is_some).collect());
        let keys: Vec<i64> = values.iter().map(|v| v.unwrap_or(0)).collect();
        let mut sorted: Vec<u32> = (0..keys.len() as u32).filter(|r| values[*r as usize].is_some()).collect();
        sorted.sort_by_key(|r| keys[*r as usize]);
        Some(Self { float, keys, valid, sorted })
    }

    pub(crate) fn bytes(&self) -> usize {
        self.keys.len() * 8 + self.sorted.len() * 4 + self.valid.as_ref().map_or(0, Vec::len)
    }

    pub(crate) fn is_valid(&self, row: usize) -> bool {
        self.valid.as_ref().is_none_or(|v| v[row])
    }

    /// Per group (`codes[row]`, with `u32::MAX` the last of `groups`), the stats of this
    /// field's non-null values over `rows`; min and max only with `extremes`.
    pub(crate) fn group_stats(
        &self,
        rows: impl Iterator<Item = usize>,
        codes: &[u32],
        groups: usize,
        extremes: bool,
    ) -> GroupStats {
        match (self.float, extremes) {
            (true, true) => self.fold::<true, true>(rows, codes, groups),
            (true, false) => self.fold::<true, false>(rows, codes, groups),
            (false, true) => self.fold::<false, true>(rows, codes, groups),
            (false, false) => self.fold::<false, false>(rows, codes, groups),
        }
    }

    fn fold<const FLOAT: bool, const EXTREMES: bool>(
        &self,
        rows: impl Iterator<Item = usize>,
        codes: &[u32],
        groups: usize,
    ) -> GroupStats {
        let mut s = GroupStats::new(groups, !FLOAT);
        let last = groups - 1;
        for r in rows {
            if let Some(valid) = &self.valid
                && !valid[r]
            {
                continue;
            }
            let k = self.keys[r];
            let g = (codes[r] as usize).min(last);
            s.n[g] += 1;
            if FLOAT {
                let v = unordered(k);
                s.sum[g] += v;
                if EXTREMES {
                    s.min[g] = s.min[g].min(v);
                    s.max[g] = s.max[g].max(v);
                }
            } else {
                s.exact_sum[g] += i128::from(k);
                if EXTREMES {
                    s.exact_min[g] = s.exact_min[g].min(k);
                    s.exact_max[g] = s.exact_max[g].max(k);
                }
            }
        }
        s
    }

    /// The non-null rows with a value in `lo..=hi`, in value order.
    fn range(&self, lo: i64, hi: i64) -> &[u32] {
        let start = self.sorted.partition_point(|r| self.keys[*r as usize] < lo);
        let end = self.sorted.partition_point(|r| self.keys[*r as usize] <= hi);
        &self.sorted[start..end.max(start)]
    }

    /// The key of a filter value, when it is of this field's kind.
    fn key(&self, value: &Value) -> Option<i64> {
        Some(match (value, self.float) {
            (Value::Int(i), false) => *i,
            (Value::Bool(b), false) => i64::from(*b),
            (Value::Date(d), false) => (*d - chrono::DateTime::UNIX_EPOCH.date_naive()).num_days(),
            (Value::Datetime(dt), false) => dt.and_utc().timestamp_micros(),
            (Value::Float(f), true) => ordered(*f),
            _ => return None,
        })
    }
}

/// Per group: the sum, count, min and max of a field's non-null values.
///
/// Integer fields are summed in `i128` and keep their extremes as `i64`: an `f64` holds
/// integers exactly only up to 2⁵³, and a sum of amounts in đồng passes that.
pub(crate) struct GroupStats {
    pub(crate) n: Vec<i64>,
    /// Float fields.
    pub(crate) sum: Vec<f64>,
    pub(crate) min: Vec<f64>,
    pub(crate) max: Vec<f64>,
    /// Integer fields (and dates, booleans).
    pub(crate) exact_sum: Vec<i128>,
    pub(crate) exact_min: Vec<i64>,
    pub(crate) exact_max: Vec<i64>,
}

impl GroupStats {
    pub(crate) fn new(groups: usize, exact: bool) -> Self {
        let (floats, exacts) = if exact { (0, groups) } else { (groups, 0) };
        Self {
            n: vec![0; groups],
            sum: vec![0.0; floats],
            min: vec![f64::INFINITY; floats],
            max: vec![f64::NEG_INFINITY; floats],
            exact_sum: vec![0; exacts],
            exact_min: vec![i64::MAX; exacts],
            exact_max: vec![i64::MIN; exacts],
        }
    }

    pub(crate) fn is_exact(&self) -> bool {
        !self.exact_sum.is_empty()
    }
}

/// One filter, ready to list its rows or check one row.
pub(crate) enum Check<'a> {
    /// The row's value code is one of the true entries; `bitmap` has their rows when the
    /// field keeps bitmaps (see [`Check::codes`]).
    Codes { codes: &'a [u32], hit: Vec<bool>, postings: &'a Postings, bitmap: Option<std::borrow::Cow<'a, [u64]>> },
    /// The row's value is in one of the closed intervals.
    Ranges { numbers: &'a Numbers, ranges: Vec<(i64, i64)> },
    /// Per field, each code's bits of the search words it matches; a row matches when its
    /// fields' bits cover `full`.
    Search { fields: Vec<SearchField<'a>>, full: u64 },
}

/// The ways to a search's bitmap (see [`Check::search_way`]).
#[derive(Debug, Clone, Copy, PartialEq)]
enum SearchWay {
    Covers,
    Lists,
    Scan,
}

/// One text field's part in a search.
pub(crate) struct SearchField<'a> {
    pub(crate) codes: &'a [u32],
    /// Per value code, the bits of the search words it has a word starting with.
    pub(crate) bits: Vec<u64>,
    pub(crate) postings: &'a Postings,
    /// Per search word, the rows of this field that have a word starting with it, as the
    /// kept bitmaps of the field's frequent words and the codes of the values holding the
    /// other words; `None` when the field does not say.
    pub(crate) covers: Option<Vec<Cover<'a>>>,
}

/// The rows with a word starting with a search word, in one field: the union of `bitmaps`
/// and the rows of the values `listed`.
#[derive(Default)]
pub(crate) struct Cover<'a> {
    pub(crate) bitmaps: Vec<&'a [u64]>,
    pub(crate) listed: Vec<u32>,
}

impl SearchField<'_> {
    /// The work of the search word `w`'s cover: bitmap words ORed and rows listed.
    fn cover_cost(&self, w: usize, rows: usize) -> Option<usize> {
        let cover = self.covers.as_ref()?.get(w)?;
        let words = rows.div_ceil(64);
        let listed: usize = cover.listed.iter().map(|c| self.postings.of(*c as usize).len().min(words)).sum();
        Some(cover.bitmaps.len() * words + listed)
    }
}

impl<'a> Check<'a> {
    /// Rows whose value code is one of `hit`'s true entries.
    pub(crate) fn codes(codes: &'a [u32], hit: Vec<bool>, postings: &'a Postings) -> Self {
        let bitmap = postings.bitmap(&hit);
        Check::Codes { codes, hit, postings, bitmap }
    }

    /// A filter on a numbers field as closed intervals (any of them matches); `None` for an
    /// operator or value this does not answer.
    pub(crate) fn ranges(filter: &Filter, numbers: &Numbers) -> Option<Vec<(i64, i64)>> {
        filter
            .values
            .iter()
            .map(|v| {
                let k = numbers.key(v)?;
                Some(match filter.op {
                    Op::Eq | Op::In => (k, k),
                    Op::Gt => (k.checked_add(1)?, i64::MAX),
                    Op::Gte => (k, i64::MAX),
                    Op::Lt => (i64::MIN, k.checked_sub(1)?),
                    Op::Lte => (i64::MIN, k),
                    _ => return None,
                })
            })
            .collect()
    }

    fn matches(&self, row: usize) -> bool {
        match self {
            Check::Codes { bitmap: Some(bits), .. } => bits[row / 64] >> (row % 64) & 1 == 1,
            Check::Codes { codes, hit, .. } => hit.get(codes[row] as usize).copied().unwrap_or(false),
            Check::Ranges { numbers, ranges } => {
                numbers.is_valid(row) && {
                    let k = numbers.keys[row];
                    ranges.iter().any(|(lo, hi)| *lo <= k && k <= *hi)
                }
            }
            Check::Search { fields, full } => {
                fields.iter().fold(0u64, |acc, f| acc | f.bits.get(f.codes[row] as usize).copied().unwrap_or(0))
                    == *full
            }
        }
    }

    /// Keep the `rows` this filter matches. The common checks run as branch-free loops that
    /// write every row and advance past the kept ones: for `le_phi__gte` over a month's 42,000
    /// rows, the per-row `matches` call was a third of the server's time.
    fn retain(&self, rows: &mut Vec<u32>) {
        fn compact(rows: &mut Vec<u32>, keep: impl Fn(usize) -> bool) {
            let mut n = 0;
            for i in 0..rows.len() {
                let r = rows[i];
                rows[n] = r;
                n += usize::from(keep(r as usize));
            }
            rows.truncate(n);
        }
        match self {
            Check::Codes { bitmap: Some(bits), .. } => compact(rows, |r| bits[r / 64] >> (r % 64) & 1 == 1),
            Check::Ranges { numbers, ranges } if ranges.len() == 1 => {
                let (lo, span) = (ranges[0].0, ranges[0].1.wrapping_sub(ranges[0].0) as u64);
                let keys = &numbers.keys;
                match &numbers.valid {
                    None => compact(rows, |r| keys[r].wrapping_sub(lo) as u64 <= span),
                    Some(valid) => compact(rows, |r| valid[r] & (keys[r].wrapping_sub(lo) as u64 <= span)),
                }
            }
            _ => rows.retain(|r| self.matches(*r as usize)),
        }
    }

    /// This filter over every row, as a bitmap (bit `r % 64` of word `r / 64` for row `r`):
    /// a branch-free pass over one column.
    fn bitmap(&self, rows: usize) -> Vec<u64> {
        let mut out = vec![0u64; rows.div_ceil(64)];
        // A table lookup per code; null (`u32::MAX`) and unknown codes land on the last entry.
        fn lookup<T: Copy + Default>(table: &[T]) -> Vec<T> {
            let mut t = table.to_vec();
            t.push(T::default());
            t
        }
        match self {
            Check::Codes { bitmap: Some(bits), .. } => return bits.to_vec(),
            Check::Codes { codes, hit, .. } => {
                let hit = lookup(hit);
                let last = hit.len() - 1;
                for (word, chunk) in out.iter_mut().zip(codes.chunks(64)) {
                    *word =
                        chunk.iter().enumerate().fold(0, |w, (i, c)| w | u64::from(hit[(*c as usize).min(last)]) << i);
                }
            }
            Check::Ranges { numbers, ranges } => {
                let words = out.iter_mut().zip(numbers.keys.chunks(64));
                if let [(lo, hi)] = ranges.as_slice() {
                    // One comparison: `k - lo` as unsigned is at most `hi - lo` exactly in range.
                    let span = hi.wrapping_sub(*lo) as u64;
                    for (word, chunk) in words {
                        *word = chunk
                            .iter()
                            .enumerate()
                            .fold(0, |acc, (i, k)| acc | u64::from(k.wrapping_sub(*lo) as u64 <= span) << i);
                    }
                } else {
                    for (word, chunk) in words {
                        *word = chunk.iter().enumerate().fold(0, |acc, (i, k)| {
                            acc | u64::from(ranges.iter().any(|(lo, hi)| lo <= k && k <= hi)) << i
                        });
                    }
                }
                if let Some(valid) = &numbers.valid {
                    for (word, chunk) in out.iter_mut().zip(valid.chunks(64)) {
                        *word &= chunk.iter().enumerate().fold(0, |acc, (i, ok)| acc | u64::from(*ok) << i);
                    }
                }
            }
            Check::Search { fields, full } => {
                let words = (64 - full.leading_zeros()) as usize;
                let (way, _) = self.search_way(rows);
                if way == SearchWay::Covers {
                    out.fill(u64::MAX);
                    let mut word = vec![0u64; out.len()];
                    for w in 0..words {
                        word.fill(0);
                        for f in fields {
                            let Some(cover) = f.covers.as_ref().and_then(|c| c.get(w)) else { continue };
                            for bits in &cover.bitmaps {
                                word.iter_mut().zip(bits.iter()).for_each(|(a, b)| *a |= b);
                            }
                            for c in &cover.listed {
                                f.postings.set(*c as usize, &mut word);
                            }
                        }
                        out.iter_mut().zip(&word).for_each(|(a, b)| *a &= b);
                    }
                    return out;
                }
                if way == SearchWay::Lists {
                    out.fill(u64::MAX);
                    for lists in (0..words as u32).map(|w| self.word_lists(w)) {
                        let mut word = vec![0u64; out.len()];
                        for r in lists.iter().flat_map(|l| l.iter()) {
                            word[*r as usize / 64] |= 1 << (r % 64);
                        }
                        out.iter_mut().zip(word).for_each(|(a, b)| *a &= b);
                    }
                    return out;
                }
                let tables: Vec<(&[u32], Vec<u64>)> = fields.iter().map(|f| (f.codes, lookup(&f.bits))).collect();
                for (w, word) in out.iter_mut().enumerate() {
                    let base = w * 64;
                    for i in 0..(rows - base).min(64) {
                        let got = tables.iter().fold(0u64, |acc, (codes, bits)| {
                            acc | bits[(codes[base + i] as usize).min(bits.len() - 1)]
                        });
                        *word |= u64::from(got == *full) << i;
                    }
                }
            }
        }
        out
    }

    /// How a search's bitmap is made, and the work it takes (in words ORed and rows visited).
    /// Three ways give the same bitmap; the least work wins. Per search word, from the kept
    /// bitmaps of frequent words and the rows of the other values (`dang ky` over a million
    /// rows: a few bitmaps and some thousands of rows); per search word, from the rows of every
    /// value that has it; or each row's values looked up.
    fn search_way(&self, rows: usize) -> (SearchWay, usize) {
        let Check::Search { fields, full } = self else { return (SearchWay::Scan, 0) };
        let words = (64 - full.leading_zeros()) as usize;
        let covered: Option<usize> =
            (0..words).map(|w| fields.iter().map(|f| f.cover_cost(w, rows)).sum::<Option<usize>>()).sum();
        let listed: usize = (0..words as u32).flat_map(|w| self.word_lists(w)).map(|l| l.len()).sum();
        let scan = rows * fields.len();
        match covered {
            Some(cost) if cost <= listed.min(scan) => (SearchWay::Covers, cost),
            _ if listed < scan => (SearchWay::Lists, listed),
            _ => (SearchWay::Scan, scan),
        }
    }

    /// About the work of [`Check::bitmap`], in words and rows visited.
    fn bitmap_cost(&self, rows: usize) -> usize {
        match self {
            Check::Codes { bitmap: Some(bits), .. } => bits.len(),
            Check::Codes { .. } | Check::Ranges { .. } => rows,
            Check::Search { .. } => self.search_way(rows).1,
        }
    }

    /// The lists of rows that hold every match of this filter (and maybe more), each ascending
    /// or in value order.
    fn lists(&self) -> Vec<&[u32]> {
        match self {
            Check::Codes { hit, postings, .. } => codes_of(hit).map(|c| postings.of(c)).collect(),
            Check::Ranges { numbers, ranges } => ranges.iter().map(|(lo, hi)| numbers.range(*lo, *hi)).collect(),
            // A matching row has every word: the rows of the rarest word hold them all.
            Check::Search { full, .. } => (0..64 - full.leading_zeros())
                .map(|w| self.word_lists(w))
                .min_by_key(|l| l.iter().map(|x| x.len()).sum::<usize>())
                .unwrap_or_default(),
        }
    }

    /// For a search, the lists of rows whose value in some field has search word `w`.
    fn word_lists(&self, w: u32) -> Vec<&[u32]> {
        let Check::Search { fields, .. } = self else { return Vec::new() };
        fields
            .iter()
            .flat_map(|f| {
                f.bits.iter().enumerate().filter(move |(_, b)| *b >> w & 1 == 1).map(|(c, _)| f.postings.of(c))
            })
            .collect()
    }

    /// Merge `other` into this check when both are on the same field: the rows matching both.
    fn merge(&mut self, other: &Check<'_>) -> bool {
        match (self, other) {
            (Check::Codes { codes, hit, postings, bitmap }, Check::Codes { codes: c, hit: h, .. })
                if std::ptr::eq(*codes, *c) =>
            {
                hit.iter_mut().zip(h).for_each(|(a, b)| *a &= *b);
                *bitmap = postings.bitmap(hit);
                true
            }
            (Check::Ranges { numbers, ranges }, Check::Ranges { numbers: n, ranges: r })
                if std::ptr::eq(*numbers, *n) =>
            {
                *ranges = ranges
                    .iter()
                    .flat_map(|(a, b)| r.iter().map(move |(c, d)| (*a.max(c), *b.min(d))))
                    .filter(|(lo, hi)| lo <= hi)
                    .collect();
                true
            }
            _ => false,
        }
    }
}

/// Checks on the same field merged into one (`ngay__gte` and `ngay__lte` are one range).
pub(crate) fn merged(checks: Vec<Check<'_>>) -> Vec<Check<'_>> {
    let mut out: Vec<Check<'_>> = Vec::with_capacity(checks.len());
    for check in checks {
        if !out.iter_mut().any(|c| c.merge(&check)) {
            out.push(check);
        }
    }
    out
}

/// `lists`' rows, ascending and without repeats.
fn union(lists: &[&[u32]], rows: usize) -> Vec<u32> {
    match lists {
        [] => Vec::new(),
        [one] if one.is_sorted() => one.to_vec(),
        _ => {
            let mut bits = vec![0u64; rows.div_ceil(64)];
            for r in lists.iter().flat_map(|l| l.iter()) {
                bits[*r as usize / 64] |= 1 << (r % 64);
            }
            ones(&bits)
        }
    }
}

/// The rows whose bit is set, ascending.
pub(crate) fn ones(bits: &[u64]) -> Vec<u32> {
    let mut out = Vec::with_capacity(bits.iter().map(|w| w.count_ones() as usize).sum());
    for (w, mut word) in bits.iter().copied().enumerate() {
        while word != 0 {
            out.push((w * 64) as u32 + word.trailing_zeros());
            word &= word - 1;
        }
    }
    out
}

/// The rows matching a query's filters: listed, or as a bitmap over the table.
#[derive(Debug, PartialEq)]
pub(crate) enum Matched {
    /// Ascending.
    Rows(Vec<u32>),
    /// Every row of a range: one range of a field the table is sorted by, with no row of it
    /// left out (`ngay_tiep_nhan` within a year: half a million rows, not copied).
    Run(std::ops::Range<u32>),
    /// Bit `r % 64` of word `r / 64` for row `r`, and how many are set.
    Bits { bits: Vec<u64>, count: usize },
}

impl Matched {
    fn bits(bits: Vec<u64>) -> Self {
        let count = bits.iter().map(|w| w.count_ones() as usize).sum();
        Matched::Bits { bits, count }
    }

    pub(crate) fn count(&self) -> usize {
        match self {
            Matched::Rows(rows) => rows.len(),
            Matched::Run(run) => run.len(),
            Matched::Bits { count, .. } => *count,
        }
    }

    /// Every matching row, ascending.
    pub(crate) fn into_rows(self) -> Vec<u32> {
        match self {
            Matched::Rows(rows) => rows,
            Matched::Run(run) => run.collect(),
            Matched::Bits { bits, .. } => ones(&bits),
        }
    }

    /// The `offset`-th matching row on, at most `limit` of them, ascending.
    pub(crate) fn slice(&self, offset: usize, limit: usize) -> Vec<u32> {
        match self {
            Matched::Rows(rows) => {
                let start = offset.min(rows.len());
                rows[start..start.saturating_add(limit).min(rows.len())].to_vec()
            }
            Matched::Run(run) => run.clone().skip(offset).take(limit).collect(),
            Matched::Bits { bits, count } => {
                let wanted = offset.saturating_add(limit).min(*count);
                let mut out = Vec::with_capacity(wanted.saturating_sub(offset));
                let mut seen = 0usize;
                for (w, word) in bits.iter().copied().enumerate() {
                    let n = word.count_ones() as usize;
                    // Whole words before the page are counted, not walked.
                    if seen + n <= offset {
                        seen += n;
                        continue;
                    }
                    let mut word = word;
                    while word != 0 && seen < wanted {
                        if seen >= offset {
                            out.push((w * 64) as u32 + word.trailing_zeros());
                        }
                        seen += 1;
                        word &= word - 1;
                    }
                    if seen >= wanted {
                        break;
                    }
                }
                out
            }
        }
    }
}

/// The rows of a table of `rows` rows matching every check; `None` when that takes more than
/// about `budget` steps (a word of a bitmap, or a row listed or checked).
pub(crate) fn matching(checks: &[Check<'_>], rows: usize, budget: usize) -> Option<Matched> {
    if checks.is_empty() {
        return (rows <= budget).then(|| Matched::Rows((0..rows as u32).collect()));
    }
    // Every filter on a field of few values, whose rows are kept as bitmaps: a sequential AND
    // of the bitmaps (125 KB a filter for a million rows) beats listing the rarest value's rows
    // and checking each of them against the other bitmaps at random.
    let kept: Vec<&[u64]> = checks
        .iter()
        .filter_map(|c| match c {
            Check::Codes { bitmap: Some(bits), .. } => Some(bits.as_ref()),
            _ => None,
        })
        .collect();
    if kept.len() == checks.len()
        && let Some((first, others)) = kept.split_first()
    {
        if kept.len() * first.len() > budget {
            return None;
        }
        // The first AND writes the answer's buffer (a copy of `first`, then an AND over it,
        // passed over it twice).
        let mut all: Vec<u64> = match others.split_first() {
            Some((second, _)) => first.iter().zip(second.iter()).map(|(a, b)| a & b).collect(),
            None => first.to_vec(),
        };
        for bits in others.iter().skip(1) {
            all.iter_mut().zip(bits.iter()).for_each(|(a, b)| *a &= b);
        }
        return Some(Matched::bits(all));
    }
    let lists: Vec<Vec<&[u32]>> = checks.iter().map(Check::lists).collect();
    // One range over a field the rows are sorted by (dates, in most published tables): its
    // rows in value order are ascending already, and copying them beats a bitmap of every row
    // and listing its bits (`ngay_tiep_nhan` within a year: half of a million rows).
    if let [Check::Ranges { .. }] = checks
        && let [list] = lists.as_slice()
        && let [one] = list.as_slice()
        && one.len() <= budget
        && one.is_sorted()
    {
        // Sorted and without repeats: a run when its ends are as far apart as it is long.
        return Some(match (one.first(), one.last()) {
            (Some(a), Some(b)) if (b - a) as usize + 1 == one.len() => Matched::Run(*a..b + 1),
            _ => Matched::Rows(one.to_vec()),
        });
    }
    let sizes: Vec<usize> = lists.iter().map(|l| l.iter().map(|x| x.len()).sum()).collect();
    let driver = (0..checks.len()).min_by_key(|i| sizes[*i]);
    match driver {
        Some(d) if sizes[d] <= rows / 3 => {
            let own = match &checks[d] {
                Check::Search { .. } => checks[d].bitmap_cost(rows),
                _ => sizes[d],
            };
            if own.saturating_add(sizes[d].saturating_mul(checks.len() - 1)) > budget {
                return None;
            }
            // A search's lists are only its rarest word's rows: its bitmap (per word, from the
            // lists) is the exact answer, and cheaper than checking each row's every field.
            let mut out = match &checks[d] {
                Check::Search { .. } if checks.len() == 1 => return Some(Matched::bits(checks[d].bitmap(rows))),
                Check::Search { .. } => ones(&checks[d].bitmap(rows)),
                _ => union(&lists[d], rows),
            };
            for (i, check) in checks.iter().enumerate() {
                if i != d {
                    check.retain(&mut out);
                }
            }
            Some(Matched::Rows(out))
        }
        _ => {
            if checks.iter().map(|c| c.bitmap_cost(rows)).sum::<usize>() > budget {
                return None;
            }
            let mut all = vec![u64::MAX; rows.div_ceil(64)];
            for check in checks {
                all.iter_mut().zip(check.bitmap(rows)).for_each(|(a, b)| *a &= b);
            }
            Some(Matched::bits(all))
        }
    }
}

/// Whether the query has no filter this module cannot answer (it may still have none).
pub(crate) fn answerable(query: &RecordsQuery, fields: &[Field]) -> bool {
    query.where_.is_none()
        && query.filters.iter().all(|f| match fields.iter().find(|x| x.name == f.field).map(|x| x.field_type) {
            Some(FieldType::String) => matches!(f.op, Op::Eq | Op::In),
            Some(_) => matches!(f.op, Op::Eq | Op::In | Op::Gt | Op::Gte | Op::Lt | Op::Lte),
            None => false,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postings_group_rows_by_code() {
        let p = Postings::build(&[1, 0, 1, u32::MAX, 2, 1], 3);
        assert_eq!(p.of(0), &[1]);
        assert_eq!(p.of(1), &[0, 2, 5]);
        assert_eq!(p.of(2), &[4]);
        assert_eq!(p.of(3), &[] as &[u32]);
    }

    #[test]
    fn filters_on_kept_bitmaps_are_anded() {
        let rows = 300;
        let a: Vec<u32> = (0..rows as u32).map(|r| r % 3).collect();
        let b: Vec<u32> = (0..rows as u32).map(|r| if r % 11 == 0 { u32::MAX } else { r % 4 }).collect();
        let (pa, pb) = (Postings::build(&a, 3), Postings::build(&b, 4));
        let checks =
            [Check::codes(&a, vec![false, true, false], &pa), Check::codes(&b, vec![true, false, true, false], &pb)];
        let matched = matching(&checks, rows, usize::MAX).unwrap();
        // Two bitmaps of five words each are over a budget of nine.
        assert!(matching(&checks, rows, 9).is_none());
        let want: Vec<u32> = (0..rows as u32).filter(|r| r % 3 == 1 && r % 11 != 0 && r % 2 == 0).collect();
        assert!(matches!(matched, Matched::Bits { count, .. } if count == want.len()));
        // Pages of the bitmap, across word boundaries and past the end.
        for (offset, limit) in [(0, 5), (3, 40), (20, 1000), (want.len(), 3), (1000, 1)] {
            let start = offset.min(want.len());
            assert_eq!(matched.slice(offset, limit), want[start..(start + limit).min(want.len())], "{offset} {limit}");
        }
        assert_eq!(matched.into_rows(), want);
    }

    #[test]
    fn common_bits_of_placed_bitmaps_page_in_the_order() {
        let rows = 3000;
        let a: Vec<u32> = (0..rows as u32).map(|r| r % 3).collect();
        let b: Vec<u32> = (0..rows as u32).map(|r| if r % 11 == 0 { u32::MAX } else { r % 4 }).collect();
        let (pa, pb) = (Postings::build(&a, 3), Postings::build(&b, 4));
        // A row order that is not the rows' own: 7 is prime to 3,000.
        let order: Vec<u32> = (0..rows as u32).map(|i| (i * 7) % rows as u32).collect();
        let (placed_a, placed_b) = (pa.placed(&a, &order), pb.placed(&b, &order));
        assert_eq!((placed_a.len(), placed_b.len()), (3, 4));
        let either = union_of(&placed_b, &[true, false, true, false]).unwrap();
        type Case<'a> = (Vec<&'a [u64]>, Box<dyn Fn(usize) -> bool + 'a>);
        let cases: [Case<'_>; 3] = [
            (vec![&placed_a[1]], Box::new(|r| a[r] == 1)),
            (vec![&placed_a[1], &placed_b[2]], Box::new(|r| a[r] == 1 && b[r] == 2)),
            (vec![&placed_a[0], &either, &placed_a[0]], Box::new(|r| a[r] == 0 && (b[r] == 0 || b[r] == 2))),
        ];
        for (bitmaps, keep) in cases {
            let want: Vec<u32> = order.iter().copied().filter(|r| keep(*r as usize)).collect();
            assert!(!want.is_empty());
            for (offset, limit) in [(0, 5), (3, 40), (20, 1000), (130, 61), (want.len(), 3), (10_000, 1)] {
                let start = offset.min(want.len());
                let end = (start + limit).min(want.len());
                for count in [true, false] {
                    let (seen, page) = common_bits(&bitmaps, offset, limit, count);
                    // Without `count`, at least the bits up to the page's end are counted.
                    assert!(if count { seen == want.len() } else { (end..=want.len()).contains(&seen) });
                    let rows: Vec<u32> = page.iter().map(|p| order[*p as usize]).collect();
                    assert_eq!(rows, want[start..end], "{offset} {limit} {count}");
                }
            }
        }
        assert_eq!(common_bits(&[], 0, 10, true), (0, Vec::new()));
        let counts = pair_counts(&a, 3, &b, 4);
        for (x, y) in [(0, 0), (1, 2), (2, 3)] {
            let want = (0..rows).filter(|r| a[*r] == x && b[*r] == y).count();
            assert_eq!(counts[x as usize * 4 + y as usize] as usize, want);
        }
        assert_eq!(counts.iter().sum::<u32>() as usize, b.iter().filter(|c| **c != u32::MAX).count());
    }

    #[test]
    fn ordered_floats_keep_their_order() {
        let fs = [f64::NEG_INFINITY, -1e300, -2.5, -0.0, 0.0, 1e-300, 2.5, f64::INFINITY];
        let ks: Vec<i64> = fs.iter().map(|f| ordered(*f)).collect();
        assert!(ks.windows(2).all(|w| w[0] <= w[1]), "{ks:?}");
        assert_eq!(ordered(-0.0), ordered(0.0));
        for f in fs {
            assert_eq!(unordered(ordered(f)), if f == 0.0 { 0.0 } else { f });
        }
    }

    fn field<'a>(codes: &'a [u32], bits: Vec<u64>, postings: &'a Postings) -> SearchField<'a> {
        SearchField { codes, bits, postings, covers: None }
    }

    /// Each check's bitmap over every row, and the rows it keeps of a list, agree with its
    /// row-by-row answer.
    fn bitmap_agrees(check: &Check<'_>, rows: usize) {
        let bits = check.bitmap(rows);
        for r in 0..rows {
            assert_eq!(bits[r / 64] >> (r % 64) & 1 == 1, check.matches(r), "row {r}");
        }
        assert!(bits.iter().map(|w| w.count_ones() as usize).sum::<usize>() <= rows);
        let mut kept: Vec<u32> = (0..rows as u32).rev().step_by(3).collect();
        let want: Vec<u32> = kept.iter().copied().filter(|r| check.matches(*r as usize)).collect();
        check.retain(&mut kept);
        assert_eq!(kept, want);
    }

    #[test]
    fn bitmaps_agree_with_row_checks() {
        let rows = 1000;
        let a: Vec<u32> = (0..rows as u32).map(|r| if r % 13 == 0 { u32::MAX } else { r % 7 }).collect();
        let b: Vec<u32> = (0..rows as u32).map(|r| r % 5).collect();
        let (pa, pb) = (Postings::build(&a, 7), Postings::build(&b, 5));
        // Words rare enough to be listed per word, and common enough to look every row up.
        for (bits_a, bits_b) in
            [(vec![0, 1, 0, 0, 0, 0, 0], vec![0, 0, 2, 0, 0]), (vec![3, 1, 1, 2, 1, 3, 1], vec![2, 2, 2, 1, 2])]
        {
            let search =
                Check::Search { fields: vec![field(&a, bits_a.clone(), &pa), field(&b, bits_b.clone(), &pb)], full: 3 };
            bitmap_agrees(&search, rows);
            // The same search with covers: field `a`'s words as kept bitmaps, `b`'s as lists.
            let kept: Vec<Vec<u64>> = (0..2)
                .map(|w| {
                    let mut bits = vec![0u64; rows.div_ceil(64)];
                    (0..rows)
                        .filter(|r| a[*r] != u32::MAX && bits_a[a[*r] as usize] >> w & 1 == 1)
                        .for_each(|r| bits[r / 64] |= 1 << (r % 64));
                    bits
                })
                .collect();
            let covers_a = kept.iter().map(|k| Cover { bitmaps: vec![k.as_slice()], listed: Vec::new() }).collect();
            let covers_b = (0..2)
                .map(|w| Cover {
                    bitmaps: Vec::new(),
                    listed: (0..5).filter(|c| bits_b[*c as usize] >> w & 1 == 1).collect(),
                })
                .collect();
            let covered = Check::Search {
                fields: vec![
                    SearchField { covers: Some(covers_a), ..field(&a, bits_a, &pa) },
                    SearchField { covers: Some(covers_b), ..field(&b, bits_b, &pb) },
                ],
                full: 3,
            };
            bitmap_agrees(&covered, rows);
        }
        let hit = vec![true, false, true, false, false, false, true];
        bitmap_agrees(&Check::codes(&a, hit.clone(), &pa), rows);
        bitmap_agrees(&Check::Codes { codes: &a, hit, postings: &pa, bitmap: None }, rows);
        let column =
            Column::new("n".into(), (0..rows as i64).map(|r| (r % 11 != 0).then_some(r % 100)).collect::<Vec<_>>());
        let numbers = Numbers::build(&column, FieldType::Integer).unwrap();
        bitmap_agrees(&Check::Ranges { numbers: &numbers, ranges: vec![(10, 20), (95, i64::MAX)] }, rows);
        bitmap_agrees(&Check::Ranges { numbers: &numbers, ranges: vec![(i64::MIN, 42)] }, rows);
        let whole = Column::new("n".into(), (0..rows as i64).map(|r| r % 100 - 50).collect::<Vec<_>>());
        let whole = Numbers::build(&whole, FieldType::Integer).unwrap();
        assert!(whole.valid.is_none());
        bitmap_agrees(&Check::Ranges { numbers: &whole, ranges: vec![(-3, 30)] }, rows);
    }

    #[test]
    fn the_smallest_filter_drives_and_the_others_check() {
        let codes = [0, 1, 0, 1, 0, 1, 0, 1, 0];
        let postings = Postings::build(&codes, 2);
        let column =
            Column::new("n".into(), [Some(5i64), Some(1), None, Some(7), Some(5), Some(3), Some(9), Some(5), Some(2)]);
        let numbers = Numbers::build(&column, FieldType::Integer).unwrap();
        let checks = [
            Check::codes(&codes, vec![true, false], &postings),
            Check::Ranges { numbers: &numbers, ranges: vec![(5, 5), (9, i64::MAX)] },
        ];
        assert_eq!(matching(&checks, codes.len(), usize::MAX).unwrap().into_rows(), vec![0, 4, 6]);
        let checks = [Check::Ranges { numbers: &numbers, ranges: vec![(i64::MIN, 2), (7, 7)] }];
        assert_eq!(matching(&checks, codes.len(), usize::MAX).unwrap().into_rows(), vec![1, 3, 8]);
        // One range of a field in row order, most of the table: its rows as they are sorted.
        let sorted = Column::new("d".into(), (0..100i64).map(|r| (r % 10 != 3).then_some(r / 2)).collect::<Vec<_>>());
        let sorted = Numbers::build(&sorted, FieldType::Integer).unwrap();
        let checks = [Check::Ranges { numbers: &sorted, ranges: vec![(5, 45)] }];
        let want: Vec<u32> = (10..92).filter(|r| r % 10 != 3).collect();
        assert_eq!(matching(&checks, 100, usize::MAX), Some(Matched::Rows(want)));
        // With no row of the range left out: a run, paged as its rows.
        let whole = Column::new("d".into(), (0..100i64).map(|r| r / 2).collect::<Vec<_>>());
        let whole = Numbers::build(&whole, FieldType::Integer).unwrap();
        let run = matching(&[Check::Ranges { numbers: &whole, ranges: vec![(5, 45)] }], 100, usize::MAX).unwrap();
        assert_eq!(run, Matched::Run(10..92));
        assert_eq!((run.count(), run.slice(3, 4), run.slice(80, 5)), (82, vec![13, 14, 15, 16], vec![90, 91]));
        assert_eq!(run.into_rows(), (10..92).collect::<Vec<_>>());
    }
}
