//! Column names from header text (fixtures README §1):
//! NFC; `²`→`2`, `³`→`3`, `µ`→`u`, `đ`/`Đ`→`d`/`D`; NFD and drop combining marks; lower-case;
//! every run outside `a-z0-9` becomes one `_`; `_` stripped at both ends; empty → `column_N`;
//! repeats get `_2`, `_3`… in order of appearance.

use std::collections::HashSet;

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Fold text to lower-case ASCII without diacritics (`Đường Láng` → `duong lang`), keeping
/// every other character. Used for names and for diacritic-insensitive search.
pub fn fold(text: &str) -> String {
    text.nfc()
        .map(|c| match c {
            '²' => '2',
            '³' => '3',
            'µ' | 'μ' => 'u',
            'đ' | 'Đ' => 'd',
            c => c,
        })
        .collect::<String>()
        .nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The normalised name of one header text, without the position fallback.
pub fn normalise(header: &str) -> String {
    let mut out = String::with_capacity(header.len());
    let mut pending_sep = false;
    for c in fold(header).chars() {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            if pending_sep && !out.is_empty() {
                out.push('_');
            }
            pending_sep = false;
            out.push(c);
        } else {
            pending_sep = true;
        }
    }
    out
}

/// Names for a whole header row: normalised, `column_N` for empty ones, repeats suffixed.
pub fn normalise_all<S: AsRef<str>>(headers: &[S]) -> Vec<String> {
    let mut seen: HashSet<String> = HashSet::new();
    headers
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let mut base = normalise(h.as_ref());
            if base.is_empty() {
                base = format!("column_{}", i + 1);
            }
            let mut name = base.clone();
            let mut n = 2;
            while !seen.insert(name.clone()) {
                name = format!("{base}_{n}");
                n += 1;
            }
            name
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contract_examples() {
        assert_eq!(normalise("Mã ĐVHC"), "ma_dvhc");
        assert_eq!(normalise("Diện tích (km²)"), "dien_tich_km2");
        assert_eq!(normalise("PM2.5 (µg/m³)"), "pm2_5_ug_m3");
        assert_eq!(normalise_all(&["Ghi chú", "Ghi chú"]), vec!["ghi_chu", "ghi_chu_2"]);
        assert_eq!(normalise_all(&["STT", "", "  "]), vec!["stt", "column_2", "column_3"]);
    }

    #[test]
    fn nfd_input_and_fold() {
        let nfd: String = "Đường Láng".nfd().collect();
        assert_eq!(normalise(&nfd), "duong_lang");
        assert_eq!(fold("HÀ NỘI"), "ha noi");
    }
}
