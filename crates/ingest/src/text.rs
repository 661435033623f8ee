//! Bytes of a text file to one NFC `String`, with the encoding chosen and why
//! (fixtures README §2): BOM, then valid UTF-8, then windows-1258; an explicit option wins.

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1258};
use unicode_normalization::UnicodeNormalization;

use crate::error::{IngestError, Result};

/// The encoding that was used and the reason it was chosen (shown in the report).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EncodingChoice {
    pub name: String,
    pub reason: String,
}

/// Look up an encoding given by name in an `encoding` option (`utf-8`, `windows-1258`, `utf-16le`…).
pub fn encoding_for_label(label: &str) -> Result<&'static Encoding> {
    Encoding::for_label(label.trim().as_bytes()).ok_or_else(|| IngestError::BadOption {
        option: "encoding",
        message: format!("unknown encoding `{label}`; use e.g. utf-8, utf-16le, utf-16be or windows-1258"),
    })
}

/// Decode a whole text file. The result is NFC and carries no BOM.
pub fn decode(bytes: &[u8], forced: Option<&str>) -> Result<(String, EncodingChoice)> {
    if let Some(label) = forced {
        let enc = encoding_for_label(label)?;
        let (text, _, _) = enc.decode(bytes);
        return Ok((nfc(&text), choice(enc, "given by the `encoding` option")));
    }
    let (enc, body, reason) = if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
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
            (WINDOWS_1258, bytes, "not valid UTF-8; read as the legacy Vietnamese code page windows-1258")
        }
    };
    let (text, _) = enc.decode_without_bom_handling(body);
    if enc != UTF_8 {
        check_not_binary_text(&text)?;
    }
    Ok((nfc(&text), choice(enc, reason)))
}

fn choice(enc: &'static Encoding, reason: &str) -> EncodingChoice {
    EncodingChoice { name: enc.name().to_ascii_lowercase(), reason: reason.to_string() }
}

fn nfc(text: &str) -> String {
    text.nfc().collect()
}

/// Refuse bytes that are clearly not text: NUL bytes, or more than 1% control bytes.
fn check_not_binary(bytes: &[u8]) -> Result<()> {
    let nul = bytes.iter().filter(|b| **b == 0).count();
    let control = bytes.iter().filter(|b| is_control(**b as u32)).count();
    refuse_if_binary(nul, control, bytes.len())
}

fn check_not_binary_text(text: &str) -> Result<()> {
    let nul = text.chars().filter(|c| *c == '\0').count();
    let control = text.chars().filter(|c| is_control(*c as u32)).count();
    refuse_if_binary(nul, control, text.chars().count())
}

fn is_control(c: u32) -> bool {
    (c < 0x20 && c != 0x09 && c != 0x0A && c != 0x0D && c != 0x0C) || c == 0x7F
}

fn refuse_if_binary(nul: usize, control: usize, total: usize) -> Result<()> {
    if nul > 0 || control * 100 > total.max(1) {
        return Err(IngestError::NotText {
            what: format!("{nul} NUL bytes and {control} other control bytes in {total} bytes"),
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
    }

    #[test]
    fn nul_bytes_are_refused() {
        let err = decode(b"a,b\n\0\0\x01,2", None).unwrap_err();
        assert_eq!(err.code(), "not_text");
        assert!(err.to_string().contains("2 NUL bytes"), "{err}");
    }
}
