//! # opendata-collate
//!
//! The order text is shown in to a person: Vietnamese dictionary order, ICU's `vi` collation
//! (CLDR's tailoring: a ă â b c d đ e ê … y, and within a letter the tones in the order
//! ngang, huyền, hỏi, ngã, sắc, nặng; case after letters). `Hà Đông` comes before `Hoàng Mai`,
//! `Quận Đống Đa` after `Quận Cầu Giấy` and before `Quận Hai Bà Trưng`.
//!
//! Two strings that differ are never equal here: collation ties (which ICU's tertiary
//! strength leaves only for canonically equivalent or ignorable differences) are broken by
//! the strings' bytes, so every path that sorts gives the same order.
//!
//! [`Collation::Codepoint`] is the byte order of UTF-8 text, for those who ask for it.

use std::cmp::Ordering;
use std::sync::LazyLock;

use icu_collator::options::CollatorOptions;
use icu_collator::{CollatorBorrowed, CollatorPreferences};

/// How text is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Collation {
    /// Vietnamese dictionary order (ICU `vi`).
    #[default]
    Vietnamese,
    /// Unicode code point order (the bytes of UTF-8).
    Codepoint,
}

impl Collation {
    pub const NAMES: [&'static str; 2] = ["vi", "codepoint"];

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "vi" => Some(Self::Vietnamese),
            "codepoint" => Some(Self::Codepoint),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Vietnamese => "vi",
            Self::Codepoint => "codepoint",
        }
    }

    /// Compare two strings in this order.
    pub fn compare(self, a: &str, b: &str) -> Ordering {
        match self {
            Self::Vietnamese => vietnamese().compare(a, b).then_with(|| a.cmp(b)),
            Self::Codepoint => a.cmp(b),
        }
    }

    /// Append a key of `s` to `out`: keys compare as bytes the way [`Collation::compare`]
    /// compares their strings. For sorting many values (a column, a range bound) once.
    pub fn write_key(self, s: &str, out: &mut Vec<u8>) {
        if self == Self::Vietnamese {
            let Ok(()) = vietnamese().write_sort_key_to(s, out);
            // ICU's key bytes are never 0: a 0 ends the collation part, so a key that is a
            // prefix of another still sorts first, and equal keys go on to the bytes.
            out.push(0);
        }
        out.extend_from_slice(s.as_bytes());
    }

    /// [`Collation::write_key`] into a new vector.
    pub fn key(self, s: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(s.len() * 3 + 8);
        self.write_key(s, &mut out);
        out
    }

    /// Each value's rank in this order (equal values share a rank, ranks count from 0 with no
    /// gaps): a field's distinct values sorted once, then rows compared by rank.
    pub fn ranks<S: AsRef<str>>(self, values: &[S]) -> Vec<u32> {
        let mut order: Vec<u32> = (0..values.len() as u32).collect();
        match self {
            Self::Codepoint => order.sort_by(|a, b| values[*a as usize].as_ref().cmp(values[*b as usize].as_ref())),
            Self::Vietnamese => {
                // One key per value, then byte comparisons: far cheaper than running the
                // collation algorithm at each of the n·log n comparisons.
                let keys: Vec<Vec<u8>> = values.iter().map(|v| self.key(v.as_ref())).collect();
                order.sort_by(|a, b| keys[*a as usize].cmp(&keys[*b as usize]));
            }
        }
        let mut ranks = vec![0u32; values.len()];
        let mut rank = 0u32;
        for (i, v) in order.iter().enumerate() {
            if i > 0 && values[order[i - 1] as usize].as_ref() != values[*v as usize].as_ref() {
                rank += 1;
            }
            ranks[*v as usize] = rank;
        }
        ranks
    }

    /// Sort `items` by the text `key` gives each.
    pub fn sort_by_key<T>(self, items: &mut [T], key: impl Fn(&T) -> &str) {
        match self {
            Self::Codepoint => items.sort_by(|a, b| key(a).cmp(key(b))),
            Self::Vietnamese => {
                let keys: Vec<Vec<u8>> = items.iter().map(|i| self.key(key(i))).collect();
                let mut order: Vec<usize> = (0..items.len()).collect();
                order.sort_by(|a, b| keys[*a].cmp(&keys[*b]));
                apply_order(items, order);
            }
        }
    }
}

/// Rearrange `items` so that the item at `order[i]` moves to `i`.
fn apply_order<T>(items: &mut [T], mut order: Vec<usize>) {
    for i in 0..items.len() {
        let mut current = i;
        while order[current] != i {
            let next = order[current];
            items.swap(current, next);
            order[current] = current;
            current = next;
        }
        order[current] = current;
    }
}

fn vietnamese() -> &'static CollatorBorrowed<'static> {
    static COLLATOR: LazyLock<CollatorBorrowed<'static>> = LazyLock::new(|| {
        let locale = icu_locale_core::locale!("vi");
        CollatorBorrowed::try_new(CollatorPreferences::from(&locale), CollatorOptions::default())
            .unwrap_or_else(|e| panic!("ICU's compiled collation data for `vi` is part of the build: {e}"))
    });
    &COLLATOR
}

#[cfg(test)]
mod tests {
    use super::*;

    const DISTRICTS: [&str; 8] = [
        "Quận Tây Hồ",
        "Hoàng Mai",
        "Huyện Ứng Hòa",
        "Quận Đống Đa",
        "Hà Đông",
        "Quận Ba Đình",
        "Quận Cầu Giấy",
        "Huyện Ba Vì",
    ];

    #[test]
    fn vietnamese_dictionary_order() {
        let mut names = DISTRICTS.to_vec();
        Collation::Vietnamese.sort_by_key(&mut names, |s| s);
        assert_eq!(
            names,
            [
                "Hà Đông",
                "Hoàng Mai",
                "Huyện Ba Vì",
                "Huyện Ứng Hòa",
                "Quận Ba Đình",
                "Quận Cầu Giấy",
                "Quận Đống Đa",
                "Quận Tây Hồ"
            ]
        );
        let mut bytes = DISTRICTS.to_vec();
        Collation::Codepoint.sort_by_key(&mut bytes, |s| s);
        assert_eq!(bytes.first(), Some(&"Hoàng Mai"));
        assert_eq!(bytes.last(), Some(&"Quận Đống Đa"));
    }

    #[test]
    fn letters_and_tones_in_their_order() {
        let words =
            ["a", "à", "ả", "ã", "á", "ạ", "ă", "â", "b", "c", "d", "đ", "e", "ê", "i", "o", "ô", "ơ", "u", "ư", "y"];
        for pair in words.windows(2) {
            assert_eq!(Collation::Vietnamese.compare(pair[0], pair[1]), Ordering::Less, "{pair:?}");
        }
        assert_eq!(Collation::Vietnamese.compare("a", "A"), Ordering::Less);
        assert_eq!(Collation::Vietnamese.compare("A", "b"), Ordering::Less);
    }

    #[test]
    fn keys_order_as_compare_and_never_tie_distinct_strings() {
        let values = ["Hoà", "Hòa", "hoa", "Hoa", "", "Hoa ", "Hoa", "10", "9", "Z", "đ", "d"];
        for a in values {
            for b in values {
                let by_key = Collation::Vietnamese.key(a).cmp(&Collation::Vietnamese.key(b));
                assert_eq!(by_key, Collation::Vietnamese.compare(a, b), "{a:?} {b:?}");
                assert_eq!(by_key == Ordering::Equal, a == b, "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn ranks_share_equal_values() {
        let ranks = Collation::Vietnamese.ranks(&["đ", "b", "d", "b", "a"]);
        assert_eq!(ranks, [3, 1, 2, 1, 0]);
        assert_eq!(Collation::Codepoint.ranks(&["đ", "b", "d"]), [2, 0, 1]);
    }
}
