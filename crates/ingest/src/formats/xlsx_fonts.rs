//! Legacy Vietnamese fonts of XLSX cells (`.VnTime…` for TCVN3, `VNI-…` for VNI-Windows):
//! which font names are one, and the conversion of a cell's text to Unicode. calamine gives
//! values but not fonts: `xlsx_styles` reads which cells have such a font.

/// A legacy font family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegacyFont {
    /// `.VnTime`, `.VnArial`…: TCVN3.
    Tcvn3,
    /// `.VnTimeH`, `.VnArialH`…: TCVN3 drawn in capitals.
    Tcvn3Upper,
    /// `VNI-Times`…: VNI-Windows.
    Vni,
}

impl LegacyFont {
    /// The legacy family of a font name, if it is one.
    pub fn of(font_name: &str) -> Option<Self> {
        if font_name.starts_with(".Vn") {
            Some(if font_name.ends_with('H') { Self::Tcvn3Upper } else { Self::Tcvn3 })
        } else if font_name.to_ascii_uppercase().starts_with("VNI") {
            Some(Self::Vni)
        } else {
            None
        }
    }

    /// Convert a cell's text to Unicode.
    pub fn convert(self, text: &str) -> String {
        match self {
            Self::Tcvn3 => crate::legacy::tcvn3_font_text(text, false),
            Self::Tcvn3Upper => crate::legacy::tcvn3_font_text(text, true),
            Self::Vni => crate::legacy::vni_font_text(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn font_families() {
        assert_eq!(LegacyFont::of(".VnTime"), Some(LegacyFont::Tcvn3));
        assert_eq!(LegacyFont::of(".VnTimeH"), Some(LegacyFont::Tcvn3Upper));
        assert_eq!(LegacyFont::of("VNI-Times"), Some(LegacyFont::Vni));
        assert_eq!(LegacyFont::of("Times New Roman"), None);
    }
}
