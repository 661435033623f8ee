//! Legacy Vietnamese encodings that no standard library knows:
//!
//! - **TCVN3** (TCVN 5712:1993, the `.VnTime` fonts): one byte a letter. Text files carry the
//!   bytes; spreadsheet cells in a `.Vn…` font carry them as the windows-1252 characters those
//!   bytes show as (`Tr­êng` is `Trường`). Fonts ending in `H` (`.VnTimeH`) show every letter
//!   in upper case.
//! - **VNI-Windows** (the `VNI-…` fonts): a base letter followed by windows-1252 characters
//!   that draw its marks (`Tröôøng` is `Trường`).
//!
//! [`vietnamese_score`] tells which decoding of an 8-bit file reads as Vietnamese.

use std::collections::HashMap;
use std::sync::LazyLock;

use unicode_normalization::UnicodeNormalization;

/// TCVN 5712:1993 (VN1, the `.VnTime` font family's code page) byte -> Unicode scalar.
/// Generated from glibc iconv's `TCVN5712-1` table; bytes 0xB0-0xB4 are combining tone marks.
#[rustfmt::skip]
const TCVN3: [u16; 256] = [
    0x0000, 0x00DA, 0x1EE4, 0x0003, 0x1EEA, 0x1EEC, 0x1EEE, 0x0007,
    0x0008, 0x0009, 0x000A, 0x000B, 0x000C, 0x000D, 0x000E, 0x000F,
    0x0010, 0x1EE8, 0x1EF0, 0x1EF2, 0x1EF6, 0x1EF8, 0x00DD, 0x1EF4,
    0x0018, 0x0019, 0x001A, 0x001B, 0x001C, 0x001D, 0x001E, 0x001F,
    0x0020, 0x0021, 0x0022, 0x0023, 0x0024, 0x0025, 0x0026, 0x0027,
    0x0028, 0x0029, 0x002A, 0x002B, 0x002C, 0x002D, 0x002E, 0x002F,
    0x0030, 0x0031, 0x0032, 0x0033, 0x0034, 0x0035, 0x0036, 0x0037,
    0x0038, 0x0039, 0x003A, 0x003B, 0x003C, 0x003D, 0x003E, 0x003F,
    0x0040, 0x0041, 0x0042, 0x0043, 0x0044, 0x0045, 0x0046, 0x0047,
    0x0048, 0x0049, 0x004A, 0x004B, 0x004C, 0x004D, 0x004E, 0x004F,
    0x0050, 0x0051, 0x0052, 0x0053, 0x0054, 0x0055, 0x0056, 0x0057,
    0x0058, 0x0059, 0x005A, 0x005B, 0x005C, 0x005D, 0x005E, 0x005F,
    0x0060, 0x0061, 0x0062, 0x0063, 0x0064, 0x0065, 0x0066, 0x0067,
    0x0068, 0x0069, 0x006A, 0x006B, 0x006C, 0x006D, 0x006E, 0x006F,
    0x0070, 0x0071, 0x0072, 0x0073, 0x0074, 0x0075, 0x0076, 0x0077,
    0x0078, 0x0079, 0x007A, 0x007B, 0x007C, 0x007D, 0x007E, 0x007F,
    0x00C0, 0x1EA2, 0x00C3, 0x00C1, 0x1EA0, 0x1EB6, 0x1EAC, 0x00C8,
    0x1EBA, 0x1EBC, 0x00C9, 0x1EB8, 0x1EC6, 0x00CC, 0x1EC8, 0x0128,
    0x00CD, 0x1ECA, 0x00D2, 0x1ECE, 0x00D5, 0x00D3, 0x1ECC, 0x1ED8,
    0x1EDC, 0x1EDE, 0x1EE0, 0x1EDA, 0x1EE2, 0x00D9, 0x1EE6, 0x0168,
    0x00A0, 0x0102, 0x00C2, 0x00CA, 0x00D4, 0x01A0, 0x01AF, 0x0110,
    0x0103, 0x00E2, 0x00EA, 0x00F4, 0x01A1, 0x01B0, 0x0111, 0x1EB0,
    0x0300, 0x0309, 0x0303, 0x0301, 0x0323, 0x00E0, 0x1EA3, 0x00E3,
    0x00E1, 0x1EA1, 0x1EB2, 0x1EB1, 0x1EB3, 0x1EB5, 0x1EAF, 0x1EB4,
    0x1EAE, 0x1EA6, 0x1EA8, 0x1EAA, 0x1EA4, 0x1EC0, 0x1EB7, 0x1EA7,
    0x1EA9, 0x1EAB, 0x1EA5, 0x1EAD, 0x00E8, 0x1EC2, 0x1EBB, 0x1EBD,
    0x00E9, 0x1EB9, 0x1EC1, 0x1EC3, 0x1EC5, 0x1EBF, 0x1EC7, 0x00EC,
    0x1EC9, 0x1EC4, 0x1EBE, 0x1ED2, 0x0129, 0x00ED, 0x1ECB, 0x00F2,
    0x1ED4, 0x1ECF, 0x00F5, 0x00F3, 0x1ECD, 0x1ED3, 0x1ED5, 0x1ED7,
    0x1ED1, 0x1ED9, 0x1EDD, 0x1EDF, 0x1EE1, 0x1EDB, 0x1EE3, 0x00F9,
    0x1ED6, 0x1EE7, 0x0169, 0x00FA, 0x1EE5, 0x1EEB, 0x1EED, 0x1EEF,
    0x1EE9, 0x1EF1, 0x1EF3, 0x1EF7, 0x1EF9, 0x00FD, 0x1EF5, 0x1ED0,
];

/// windows-1252's characters for bytes 0x80-0x9F (0 where the byte is undefined).
#[rustfmt::skip]
const CP1252_HIGH: [u16; 32] = [
    0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017D, 0,
    0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178,
];

fn tcvn3_char(byte: u8) -> char {
    char::from_u32(u32::from(TCVN3[byte as usize])).unwrap_or(char::REPLACEMENT_CHARACTER)
}

/// Decode TCVN3 bytes to NFC text.
pub fn decode_tcvn3(bytes: &[u8]) -> String {
    bytes.iter().map(|b| tcvn3_char(*b)).collect::<String>().nfc().collect()
}

/// The windows-1252 byte a character stands for, if any.
fn cp1252_byte(c: char) -> Option<u8> {
    let u = c as u32;
    if u < 0x80 || (0xA0..=0xFF).contains(&u) {
        return Some(u as u8);
    }
    CP1252_HIGH.iter().position(|x| u32::from(*x) == u && *x != 0).map(|i| 0x80 + i as u8)
}

/// Text of a cell in a `.Vn…` font: its characters are the windows-1252 rendering of TCVN3
/// bytes. `upper` for the `…H` fonts, which draw every letter in upper case.
pub fn tcvn3_font_text(text: &str, upper: bool) -> String {
    let decoded: String =
        text.chars().map(|c| cp1252_byte(c).map_or(c, tcvn3_char)).collect::<String>().nfc().collect();
    if upper { decoded.to_uppercase() } else { decoded }
}

/// VNI-Windows sequences (base letter, then mark characters) to their letters, built from the
/// layout's rules: tones `ù ø û õ ï` (acute, grave, hook, tilde, dot below); `â` circumflex
/// with `á à å ã ä` for circumflex plus tone; `ê` breve with `é è ú ü ë`; `ô` is `ơ`, `ö` is
/// `ư`, `ñ` is `đ`; `í ì æ ó ò` are the toned `i`, `î` is `ỵ`. Capitals use the capital marks.
static VNI: LazyLock<HashMap<String, char>> = LazyLock::new(|| {
    let mut map = HashMap::new();
    let tones = ["", "\u{301}", "\u{300}", "\u{309}", "\u{303}", "\u{323}"];
    let compose = |s: String| -> Option<char> {
        let c: Vec<char> = s.nfc().collect();
        (c.len() == 1).then(|| c[0])
    };
    for upper in [false, true] {
        let case = |s: &str| if upper { s.to_uppercase() } else { s.to_string() };
        let tone_keys = ["", "ù", "ø", "û", "õ", "ï"].map(case);
        let circ_keys = ["â", "á", "à", "å", "ã", "ä"].map(case);
        let breve_keys = ["ê", "é", "è", "ú", "ü", "ë"].map(case);
        for base in ["a", "e", "o", "u", "y", "i"] {
            for (t, key) in tone_keys.iter().enumerate().skip(1) {
                if let Some(c) = compose(case(base) + tones[t]) {
                    map.insert(case(base) + key, c);
                }
            }
        }
        for base in ["a", "e", "o"] {
            for (t, key) in circ_keys.iter().enumerate() {
                if let Some(c) = compose(case(base) + "\u{302}" + tones[t]) {
                    map.insert(case(base) + key, c);
                }
            }
        }
        for (t, key) in breve_keys.iter().enumerate() {
            if let Some(c) = compose(case("a") + "\u{306}" + tones[t]) {
                map.insert(case("a") + key, c);
            }
        }
        for (vni, base) in [("ô", "o"), ("ö", "u")] {
            for (t, key) in tone_keys.iter().enumerate() {
                if let Some(c) = compose(case(base) + "\u{31b}" + tones[t]) {
                    map.insert(case(vni) + key, c);
                }
            }
        }
        for (vni, letter) in [("í", "í"), ("ì", "ì"), ("æ", "ỉ"), ("ó", "ĩ"), ("ò", "ị"), ("î", "ỵ"), ("ñ", "đ")]
        {
            if let Some(c) = case(letter).chars().next() {
                map.insert(case(vni), c);
            }
        }
    }
    map
});

/// Text of a cell in a `VNI-…` font, as Unicode.
pub fn vni_font_text(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let found = (1..=3).rev().find_map(|n| {
            let key: String = chars.get(i..i + n)?.iter().collect();
            VNI.get(&key).map(|c| (n, *c))
        });
        match found {
            Some((n, c)) => {
                out.push(c);
                i += n;
            }
            None => {
                out.push(chars[i]);
                i += 1;
            }
        }
    }
    out
}

/// How much `text` reads as Vietnamese. A word with Vietnamese letters scores for it when it
/// is well formed (one tone mark at most, no capital after a small letter); a malformed word,
/// and a symbol that only shows when bytes are read in the wrong code page (`¸ § µ ­ ¶`, C1
/// controls, a Latin-1 letter Vietnamese never uses), scores against it.
pub fn vietnamese_score(text: &str) -> i64 {
    let mut score = 0i64;
    for c in text.chars() {
        let u = c as u32;
        if (0x80..=0x9F).contains(&u) || (0xA1..=0xBF).contains(&u) {
            score -= 3;
        } else if matches!(u, 0xC4..=0xC7 | 0xCB | 0xCE..=0xD1 | 0xD6..=0xD8 | 0xDB | 0xDC | 0xDE..=0xDF
            | 0xE4..=0xE7 | 0xEB | 0xEE..=0xF1 | 0xF6..=0xF8 | 0xFB | 0xFC | 0xFE | 0xFF)
        {
            score -= 2;
        }
    }
    for word in text.split(|c: char| !c.is_alphabetic()).filter(|w| !w.is_empty()) {
        let mut tones = 0;
        let mut vietnamese = false;
        let mut seen_lower = false;
        let mut mixed_case = false;
        for c in word.chars() {
            if !c.is_ascii() {
                vietnamese = true;
                tones +=
                    c.to_string().nfd().filter(|m| matches!(*m as u32, 0x300 | 0x301 | 0x303 | 0x309 | 0x323)).count();
            }
            if c.is_uppercase() && seen_lower {
                mixed_case = true;
            }
            seen_lower |= c.is_lowercase();
        }
        if tones > 1 || mixed_case {
            score -= 3;
        } else if vietnamese {
            score += 1;
        }
    }
    score
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcvn3_font_text_as_in_the_contract() {
        assert_eq!(tcvn3_font_text("Tr\u{ad}êng", false), "Trường");
        assert_eq!(tcvn3_font_text("QuËn Ba §×nh", false), "Quận Ba Đình");
        assert_eq!(tcvn3_font_text("danh s¸ch", true), "DANH SÁCH");
    }

    #[test]
    fn tcvn3_bytes() {
        assert_eq!(decode_tcvn3(b"H\xB5 N\xE9i"), "Hà Nội");
    }

    #[test]
    fn vni_as_in_the_contract() {
        assert_eq!(vni_font_text("Tröôøng"), "Trường");
        assert_eq!(vni_font_text("Thaønh phoá Haø Noäi"), "Thành phố Hà Nội");
        assert_eq!(vni_font_text("Ñoáng Ña"), "Đống Đa");
    }

    #[test]
    fn score_prefers_the_right_code_page() {
        let bytes = b"Tr\xAD\xEAng Ti\xD3u h\xE4c";
        let (as_1258, _) = encoding_rs::WINDOWS_1258.decode_without_bom_handling(bytes);
        let as_tcvn3 = decode_tcvn3(bytes);
        assert_eq!(as_tcvn3, "Trường Tiểu học");
        assert!(vietnamese_score(&as_tcvn3) > vietnamese_score(&as_1258.nfc().collect::<String>()));

        // And the other way: windows-1258 bytes (base letters, combining tones).
        let bytes = b"Ch\xEDnh quy\xEA\xCCn s\xF4\xEC";
        let (as_1258, _) = encoding_rs::WINDOWS_1258.decode_without_bom_handling(bytes);
        let as_1258: String = as_1258.nfc().collect();
        assert_eq!(as_1258, "Chính quyền số");
        assert!(vietnamese_score(&as_1258) > vietnamese_score(&decode_tcvn3(bytes)));
    }
}
