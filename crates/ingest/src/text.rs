//! Bytes of a text file to one NFC `String`, with the encoding chosen and why
//! (fixtures README §2): BOM, then valid UTF-8, then windows-1258; an explicit option wins.

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1258};
use unicode_normalization::UnicodeNormalization;

use crate::error::{IngestError, Result};
use crate::legacy;

/// The encoding that was used and the reason it was chosen (shown in the report).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EncodingChoice {
    pub name: String,
    pub reason: String,
}

/// Labels of TCVN3, which encoding_rs does not know.
const TCVN3_LABELS: [&str; 6] = ["tcvn3", "tcvn", "tcvn-3", "tcvn5712", "tcvn5712-1", "vn3"];

/// Look up an encoding given by name in an `encoding` option (`utf-8`, `windows-1258`,
/// `utf-16le`, `tcvn3`…). `None` means TCVN3.
pub fn encoding_for_label(label: &str) -> Result<Option<&'static Encoding>> {
    let label = label.trim();
    if TCVN3_LABELS.contains(&label.to_ascii_lowercase().as_str()) {
        return Ok(None);
    }
    Encoding::for_label(label.as_bytes()).map(Some).ok_or_else(|| IngestError::BadOption {
        option: "encoding",
        message: format!("unknown encoding `{label}`; use e.g. utf-8, utf-16le, utf-16be, windows-1258 or tcvn3"),
    })
}

/// Decode a whole text file. The result is NFC and carries no BOM.
pub fn decode(bytes: &[u8], forced: Option<&str>) -> Result<(String, EncodingChoice)> {
    if let Some(label) = forced {
        let reason = "given by the `encoding` option";
        return Ok(match encoding_for_label(label)? {
            Some(enc) => {
                let (text, _, _) = enc.decode(bytes);
                (nfc(&text), choice(enc, reason))
            }
            None => (legacy::decode_tcvn3(bytes), tcvn3_choice(reason.to_string())),
        });
    }
    let (enc, body, reason) = if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        check_not_binary(rest)?;
        if std::str::from_utf8(rest).is_err() {
            // A UTF-8 mark on bytes that are not UTF-8: read them as the legacy code page they are.
            return Ok(legacy_8bit(rest));
        }
        (UTF_8, rest, "UTF-8 byte-order mark")
    } else if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        (UTF_16LE, rest, "UTF-16 LE byte-order mark")
    } else if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        (UTF_16BE, rest, "UTF-16 BE byte-order mark")
    } else {
        check_not_binary(bytes)?;
        if std::str::from_utf8(bytes).is_ok() {
            (UTF_8, bytes, "valid UTF-8")
        } else {
            return Ok(legacy_8bit(bytes));
        }
    };
    let (text, _) = enc.decode_without_bom_handling(body);
    if enc != UTF_8 {
        check_not_binary_text(&text)?;
    }
    Ok((nfc(&text), choice(enc, reason)))
}

/// Like [`decode`], but UTF-8 input is borrowed as it is, not normalised: the CSV reader
/// normalises value by value, so a large file is not copied whole.
pub fn decode_lazy<'a>(bytes: &'a [u8], forced: Option<&str>) -> Result<(Cow<'a, str>, EncodingChoice)> {
    let (body, reason) = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => (rest, "UTF-8 byte-order mark"),
        None => (bytes, "valid UTF-8"),
    };
    let utf8 = match forced {
        Some(label) => encoding_for_label(label)? == Some(UTF_8),
        None => !bytes.starts_with(b"\xFF\xFE") && !bytes.starts_with(b"\xFE\xFF"),
    };
    if utf8 {
        if forced.is_none() && body.len() == bytes.len() {
            check_not_binary(body)?;
        }
        if let Ok(text) = std::str::from_utf8(body) {
            let reason = if forced.is_some() { "given by the `encoding` option" } else { reason };
            return Ok((Cow::Borrowed(text), choice(UTF_8, reason)));
        }
    }
    let (text, choice) = decode(bytes, forced)?;
    Ok((Cow::Owned(text), choice))
}

/// Not UTF-8: windows-1258 or TCVN3, whichever reads as more Vietnamese.
fn legacy_8bit(bytes: &[u8]) -> (String, EncodingChoice) {
    // Score a sample in both readings, then decode the whole file once, in the winner.
    let sample = &bytes[..bytes.len().min(256 * 1024)];
    let (sample_1258, _) = WINDOWS_1258.decode_without_bom_handling(sample);
    let s1258 = legacy::vietnamese_score(&nfc(&sample_1258));
    let stcvn3 = legacy::vietnamese_score(&legacy::decode_tcvn3(sample));
    if stcvn3 > s1258 {
        let reason =
            format!("not valid UTF-8; reads as Vietnamese in TCVN3: score {stcvn3}, against {s1258} as windows-1258");
        (legacy::decode_tcvn3(bytes), tcvn3_choice(reason))
    } else {
        let reason =
            format!("not valid UTF-8; reads as Vietnamese in windows-1258: score {s1258}, against {stcvn3} as TCVN3");
        let (text, _) = WINDOWS_1258.decode_without_bom_handling(bytes);
        (nfc(&text), EncodingChoice { name: "windows-1258".into(), reason })
    }
}

fn tcvn3_choice(reason: String) -> EncodingChoice {
    EncodingChoice { name: "tcvn3".into(), reason }
}

fn choice(enc: &'static Encoding, reason: &str) -> EncodingChoice {
    EncodingChoice { name: enc.name().to_ascii_lowercase(), reason: reason.to_string() }
}

fn nfc(text: &str) -> String {
    text.nfc().collect()
}

/// Refuse bytes that are clearly not text: NUL bytes, or more than 1% control bytes, in the
/// first MiB (binary formats show themselves at once; a large text file need not be scanned).
pub fn check_not_binary(bytes: &[u8]) -> Result<()> {
    let sample = &bytes[..bytes.len().min(1 << 20)];
    let (mut nul, mut control) = (0, 0);
    for b in sample {
        if *b == 0 {
            nul += 1;
        } else if is_control(u32::from(*b)) {
            control += 1;
        }
    }
    refuse_if_binary(nul, control + nul, sample.len())
}

fn check_not_binary_text(text: &str) -> Result<()> {
    let nul = text.chars().filter(|c| *c == '\0').count();
    let control = text.chars().filter(|c| is_control(*c as u32)).count();
    refuse_if_binary(nul, control.max(nul), text.chars().count())
}

fn is_control(c: u32) -> bool {
    (c < 0x20 && c != 0x09 && c != 0x0A && c != 0x0D && c != 0x0C) || c == 0x7F
}

fn refuse_if_binary(nul: usize, control: usize, total: usize) -> Result<()> {
    if nul > 0 || control * 100 > total.max(1) {
        return Err(IngestError::NotText {
            what: format!("{nul} NUL bytes and {} other control bytes in {total} bytes", control - nul),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_bom_is_not_data() {
        let (text, enc) = decode("\u{feff}Mã,Tên".as_bytes(), None).unwrap();
        assert_eq!(text, "Mã,Tên");
        assert_eq!(enc.name, "utf-8");
        assert!(enc.reason.contains("byte-order mark"));
    }

    #[test]
    fn utf16le_with_bom() {
        let mut bytes = vec![0xFF, 0xFE];
        for unit in "Hà Nội".encode_utf16() {
            bytes.extend_from_slice(&unit.to_le_bytes());
        }
        let (text, enc) = decode(&bytes, None).unwrap();
        assert_eq!(text, "Hà Nội");
        assert_eq!(enc.name, "utf-16le");
    }

    #[test]
    fn windows_1258_is_composed() {
        // Base letters plus combining tone marks, as windows-1258 stores them.
        let bytes = b"Ch\xEDnh quy\xEA\xCCn s\xF4\xEC";
        let (text, enc) = decode(bytes, None).unwrap();
        assert_eq!(text, "Chính quyền số");
        assert_eq!(enc.name, "windows-1258");
        assert!(enc.reason.starts_with("not valid UTF-8; reads as Vietnamese in windows-1258"), "{}", enc.reason);
    }

    #[test]
    fn tcvn3_text_is_detected() {
        let (text, enc) = decode(b"Tr\xAD\xEAng Ti\xD3u h\xE4c;Qu\xCBn Ba \xA7\xD7nh", None).unwrap();
        assert_eq!(text, "Trường Tiểu học;Quận Ba Đình");
        assert_eq!(enc.name, "tcvn3");
        let (text, _) = decode(b"H\xB5 N\xE9i", Some("TCVN3")).unwrap();
        assert_eq!(text, "Hà Nội");
        assert_eq!(decode(b"x", Some("klingon")).unwrap_err().code(), "bad_option");
    }

    #[test]
    fn nul_bytes_are_refused() {
        let err = decode(b"a,b\n\0\0\x01,2", None).unwrap_err();
        assert_eq!(err.code(), "not_text");
        assert!(err.to_string().contains("2 NUL bytes"), "{err}");
    }
}
