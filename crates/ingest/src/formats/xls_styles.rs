//! What an XLS (BIFF8) workbook's cell formats say that calamine does not give: whether a
//! cell's number format shows a time (§3: a date cell whose format holds a time is a datetime,
//! even at 00:00; calamine reads the formats only to tell dates from numbers). The `Workbook`
//! stream is taken from the compound file (MS-CFB 2.2–2.6); in it, the FORMAT and XF records
//! (MS-XLS 2.4.126, 2.4.353) give each cell format's number format, BOUNDSHEET8 (2.4.28) where
//! each sheet's records start, and the sheet's number cells (NUMBER, RK, MULRK, FORMULA) name
//! their cell format.

use std::collections::HashMap;

use crate::error::Result;
use crate::formats::xlsx_limits::cell_name;
use crate::formats::xlsx_styles::{CellStyle, builtin_shows_time, shows_time};
use crate::limits::Limits;

/// 0-based (row, column) of every number cell of the `index`th sheet (in the workbook's order,
/// as calamine lists them) whose format shows a time. Empty when the file is no BIFF8 workbook
/// or cannot be read this way (calamine reports damage).
pub fn cell_styles(bytes: &[u8], index: usize) -> HashMap<(u32, u32), CellStyle> {
    workbook_stream(bytes).and_then(|stream| read(&stream, index)).unwrap_or_default()
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at.checked_add(2)?)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at.checked_add(4)?)?.try_into().ok()?))
}

/// Sector ids from this one on are no sector: the end of a chain, a free sector…
const NO_SECTOR: u32 = 0xFFFF_FFFA;

/// The sector ids of a chain, from `start` through `table` (the FAT or the mini FAT); a chain
/// that loops is cut short.
fn chain(table: &[u32], start: u32) -> Vec<u32> {
    let mut ids = Vec::new();
    let mut id = start;
    while id < NO_SECTOR && ids.len() < table.len() {
        ids.push(id);
        id = table.get(id as usize).copied().unwrap_or(NO_SECTOR);
    }
    ids
}

/// The bytes of the sectors `ids`, each found by `sector`; `None` when one is missing.
fn gather<'a>(ids: &[u32], sector: impl Fn(u32) -> Option<&'a [u8]>) -> Option<Vec<u8>> {
    Some(ids.iter().map(|id| sector(*id)).collect::<Option<Vec<&[u8]>>>()?.concat())
}

fn u32s(bytes: &[u8]) -> impl Iterator<Item = u32> + '_ {
    bytes.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
}

/// The bytes of the `Workbook` stream of a compound file.
fn workbook_stream(file: &[u8]) -> Option<Vec<u8>> {
    if !file.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        return None;
    }
    let shift = u16_at(file, 0x1E)?;
    let mini_shift = u16_at(file, 0x20)?;
    if !(7..=16).contains(&shift) || mini_shift >= shift {
        return None;
    }
    let size = 1usize << shift;
    // Sector n follows the header, which takes one sector's room.
    let sector = |id: u32| {
        let start = (id as usize).checked_add(1)?.checked_mul(size)?;
        file.get(start..start.checked_add(size)?)
    };
    // The FAT's sectors: 109 listed in the header, any others in a chain of DIFAT sectors,
    // each listing a sector's worth less the link to the next.
    let mut fat_ids: Vec<u32> = u32s(file.get(0x4C..0x200)?).collect();
    let mut difat = u32_at(file, 0x44)?;
    for _ in 0..file.len() / size {
        let Some(s) = sector(difat).filter(|_| difat < NO_SECTOR) else { break };
        fat_ids.extend(u32s(&s[..size - 4]));
        difat = u32_at(s, size - 4)?;
    }
    fat_ids.retain(|id| *id < NO_SECTOR);
    let fat: Vec<u32> = u32s(&gather(&fat_ids, sector)?).collect();
    let directory = gather(&chain(&fat, u32_at(file, 0x30)?), sector)?;
    let entries: Vec<&[u8]> = directory.chunks_exact(128).collect();
    // The stream's entry: its name in UTF-16 (length in bytes with the final NUL), type 2.
    // (`Book` in BIFF5 files, which calamine reads too.)
    let name = |e: &[u8]| e.get(..usize::from(u16_at(e, 0x40)?).checked_sub(2)?).map(<[u8]>::to_vec);
    let named = |wanted: &str| {
        let wanted: Vec<u8> = wanted.encode_utf16().flat_map(u16::to_le_bytes).collect();
        entries.iter().find(|e| e[0x42] == 2 && name(e).as_ref() == Some(&wanted))
    };
    let entry = named("Workbook").or_else(|| named("Book"))?;
    let (start, len) = (u32_at(entry, 0x74)?, u32_at(entry, 0x78)? as usize);
    let mut stream = if len < u32_at(file, 0x38)? as usize {
        // A small stream lies in the mini stream (the root entry's), in mini sectors.
        let mini_stream = gather(&chain(&fat, u32_at(entries.first()?, 0x74)?), sector)?;
        let mini_fat: Vec<u32> = u32s(&gather(&chain(&fat, u32_at(file, 0x3C)?), sector)?).collect();
        let mini = 1usize << mini_shift;
        gather(&chain(&mini_fat, start), |id| mini_stream.get(id as usize * mini..(id as usize + 1) * mini))?
    } else {
        gather(&chain(&fat, start), sector)?
    };
    stream.truncate(len);
    Some(stream)
}

/// The BIFF records of a stream from `at` on: (type, data), up to the end of the stream or of
/// a substream (EOF, 0x000A), which is not given.
fn records(stream: &[u8], mut at: usize) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        let (kind, len) = (u16_at(stream, at)?, u16_at(stream, at + 2)? as usize);
        let data = stream.get(at + 4..at + 4 + len)?;
        at += 4 + len;
        Some((kind, data)).filter(|(kind, _)| *kind != 0x000A)
    })
}

/// A BIFF8 `XLUnicodeString` without its length (MS-XLS 2.5.294): a flags byte, whose low bit
/// says UTF-16 (else one byte a character, the high byte zero), then `chars` characters.
fn unicode_string(data: &[u8], chars: usize) -> Option<String> {
    let (flags, text) = data.split_first()?;
    Some(if flags & 1 == 1 {
        let units: Vec<u16> =
            text.get(..chars * 2)?.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
        String::from_utf16_lossy(&units)
    } else {
        text.get(..chars)?.iter().map(|b| char::from(*b)).collect()
    })
}

fn read(stream: &[u8], index: usize) -> Option<HashMap<(u32, u32), CellStyle>> {
    let mut custom_time: HashMap<u16, bool> = HashMap::new();
    let mut xf_formats: Vec<u16> = Vec::new();
    let mut sheets: Vec<usize> = Vec::new();
    let mut globals = records(stream, 0);
    // BOF of the globals: BIFF8 (older versions lay their records out otherwise).
    let (0x0809, bof) = globals.next()? else { return None };
    if u16_at(bof, 0)? != 0x0600 {
        return None;
    }
    for (kind, data) in globals {
        match kind {
            // FILEPASS: an encrypted workbook (calamine refuses it).
            0x002F => return None,
            0x041E => {
                let code = unicode_string(data.get(4..)?, u16_at(data, 2)? as usize)?;
                custom_time.insert(u16_at(data, 0)?, shows_time(&code));
            }
            0x00E0 => xf_formats.push(u16_at(data, 2)?),
            0x0085 => sheets.push(u32_at(data, 0)? as usize),
            _ => {}
        }
    }
    let xf_time: Vec<bool> = xf_formats
        .iter()
        .map(|id| custom_time.get(id).copied().unwrap_or_else(|| builtin_shows_time(u32::from(*id))))
        .collect();
    let mut cells = HashMap::new();
    let time = CellStyle { shows_time: true, ..CellStyle::default() };
    let mut mark = |row: u16, col: u16, xf: u16| {
        if xf_time.get(usize::from(xf)).copied().unwrap_or(false) {
            cells.insert((u32::from(row), u32::from(col)), time);
        }
    };
    for (kind, data) in records(stream, *sheets.get(index)?) {
        match kind {
            // NUMBER, RK, FORMULA: row, column, XF.
            0x0203 | 0x027E | 0x0006 => mark(u16_at(data, 0)?, u16_at(data, 2)?, u16_at(data, 4)?),
            // MULRK: row, first column, (XF, RK) for each column, last column.
            0x00BD => {
                let (row, first) = (u16_at(data, 0)?, u16_at(data, 2)?);
                for (i, rk) in data.get(4..data.len().checked_sub(2)?)?.chunks_exact(6).enumerate() {
                    mark(row, first.saturating_add(i as u16), u16_at(rk, 0)?);
                }
            }
            _ => {}
        }
    }
    Some(cells)
}

/// Refuse a workbook whose sheets, as calamine reads them (every sheet, when it opens the
/// file), are above `max_columns`, `max_rows` or `max_cells`: a sheet's declared dimension
/// (DIMENSIONS, 2.4.90: calamine reserves room for as many cells as it spans), the extent of
/// its cells with a value (calamine holds each sheet as a dense grid over it), and all sheets'
/// extents together. Nothing is refused when the file is no compound file or its records
/// cannot be followed (calamine reports damage).
pub fn check_limits(bytes: &[u8], limits: &Limits) -> Result<()> {
    let Some(stream) = workbook_stream(bytes) else { return Ok(()) };
    let mut sheets: Vec<(usize, String)> = Vec::new();
    for (kind, data) in records(&stream, 0).skip(1) {
        // BOUNDSHEET8: where the sheet's records start, then its name (ShortXLUnicodeString).
        if kind == 0x0085
            && let Some(at) = u32_at(data, 0)
        {
            let name = data.get(6).and_then(|n| unicode_string(data.get(7..)?, usize::from(*n)));
            sheets.push((at as usize, name.unwrap_or_default()));
        }
    }
    let mut all = 0u64;
    for (at, name) in sheets {
        let (rows, cols) = sheet_extent(&stream, at, &name, limits)?;
        all = all.saturating_add(rows.saturating_mul(cols));
        limits.cells("the sheets of the workbook, together,", all)?;
    }
    Ok(())
}

/// The rows and columns spanned by the cells with a value of the sheet whose records start at
/// `at`, refused (with its declared dimension) above the limits; records of nested substreams
/// (embedded charts) are skipped, as calamine skips them.
fn sheet_extent(stream: &[u8], mut at: usize, name: &str, limits: &Limits) -> Result<(u64, u64)> {
    let (mut depth, mut seen_bof) = (0usize, false);
    let mut extent: Option<((u32, u32), (u32, u32))> = None;
    let mut cell = |row: u16, first: u16, last: u16| -> Result<()> {
        let (row, first, last) = (u32::from(row), u32::from(first), u32::from(last.max(first)));
        let (lo, hi) = match extent {
            Some((lo, hi)) => ((lo.0.min(row), lo.1.min(first)), (hi.0.max(row), hi.1.max(last))),
            None => ((row, first), (row, last)),
        };
        extent = Some((lo, hi));
        let what =
            format!("the sheet `{name}` (its cells from {} to {})", cell_name(lo.0, lo.1), cell_name(hi.0, hi.1));
        limits.table(&what, u64::from(hi.0 - lo.0) + 1, u64::from(hi.1 - lo.1) + 1)
    };
    while let (Some(kind), Some(len)) = (u16_at(stream, at), u16_at(stream, at + 2)) {
        let Some(data) = stream.get(at + 4..at + 4 + usize::from(len)) else { break };
        at += 4 + usize::from(len);
        if depth > 0 {
            match kind {
                0x0809 => depth += 1,
                0x000A => depth -= 1,
                _ => {}
            }
            continue;
        }
        let field = |i: usize| u16_at(data, i);
        match kind {
            0x0809 if seen_bof => depth += 1,
            0x0809 => seen_bof = true,
            0x000A => break,
            0x0200 => {
                let (rows, cols) = declared(data);
                limits.table(&format!("the sheet `{name}` (its declared dimension)"), rows, cols)?;
            }
            // NUMBER, LABEL, RSTRING, BOOLERR, RK, LABELSST, FORMULA: row, column.
            0x0203 | 0x0204 | 0x00D6 | 0x0205 | 0x027E | 0x00FD | 0x0006 => {
                if let (Some(row), Some(col)) = (field(0), field(2)) {
                    cell(row, col, col)?;
                }
            }
            // MULRK: row, first column, 6 bytes a cell, last column.
            0x00BD => {
                if let (Some(row), Some(first)) = (field(0), field(2)) {
                    let n = data.len().saturating_sub(6) / 6;
                    let last = first.saturating_add(n.saturating_sub(1) as u16);
                    let stated = data.len().checked_sub(2).and_then(field).unwrap_or(first);
                    cell(row, first, last.max(stated))?;
                }
            }
            _ => {}
        }
    }
    Ok(extent.map_or((0, 0), |(lo, hi)| (u64::from(hi.0 - lo.0) + 1, u64::from(hi.1 - lo.1) + 1)))
}

/// The rows and columns a DIMENSIONS record spans, worked out as calamine works them out
/// (with its `u32` arithmetic, which wraps on a first row after the last).
fn declared(r: &[u8]) -> (u64, u64) {
    let (rf, rl, mut cf, cl) = match r.len() {
        10 => (
            u32::from(u16_at(r, 0).unwrap_or(0)),
            u32::from(u16_at(r, 2).unwrap_or(0)),
            u32::from(u16_at(r, 4).unwrap_or(0)),
            u32::from(u16_at(r, 6).unwrap_or(0)),
        ),
        14 | 16 => (
            u32_at(r, 0).unwrap_or(0),
            u32_at(r, 4).unwrap_or(0),
            u32::from(u16_at(r, 8).unwrap_or(0)),
            u32::from(u16_at(r, 10).unwrap_or(0)),
        ),
        _ => return (0, 0),
    };
    if 0xFF < cf || cl < cf {
        cf = 0;
    }
    let (start, end) = if 1 <= rl && 1 <= cl { ((rf, cf), (rl - 1, cl - 1)) } else { ((rf, cf), (rf, cf)) };
    let span = |first: u32, last: u32| u64::from(last.wrapping_sub(first).wrapping_add(1));
    (span(start.0, end.0), span(start.1, end.1))
}

#[cfg(test)]
mod tests {
    use super::*;

    const END: u32 = 0xFFFF_FFFE;
    const FREE: u32 = 0xFFFF_FFFF;

    fn record(kind: u16, data: &[u8]) -> Vec<u8> {
        [&kind.to_le_bytes()[..], &(data.len() as u16).to_le_bytes(), data].concat()
    }

    /// A FORMAT record: its code in one byte a character, or UTF-16 when not Latin-1.
    fn format(id: u16, code: &str) -> Vec<u8> {
        let units: Vec<u16> = code.encode_utf16().collect();
        let wide = code.chars().any(|c| u32::from(c) > 0xFF);
        let text: Vec<u8> = if wide {
            units.iter().flat_map(|u| u.to_le_bytes()).collect()
        } else {
            code.chars().map(|c| c as u8).collect()
        };
        record(0x041E, &[&id.to_le_bytes()[..], &(units.len() as u16).to_le_bytes(), &[u8::from(wide)], &text].concat())
    }

    fn cell(kind: u16, row: u16, col: u16, xf: u16, rest: usize) -> Vec<u8> {
        record(kind, &[&row.to_le_bytes()[..], &col.to_le_bytes(), &xf.to_le_bytes(), &vec![0; rest]].concat())
    }

    /// A BIFF8 workbook stream of two sheets, "Khác" then "Hồ sơ". Cell formats: 1 and 5
    /// custom ones with a time (5's code in UTF-16, its `hh` last), 2 and 6 custom dates (6's
    /// code quotes a word), 3 built-in 22 (`m/d/yyyy h:mm`), 4 built-in 14 (a date). The second
    /// sheet's text cell (LABELSST) has format 1, and a number after its EOF does not count.
    fn workbook() -> Vec<u8> {
        let bof = record(0x0809, &[0x00, 0x06, 0x05, 0x00]);
        let eof = record(0x000A, &[]);
        let sheet = |name: &str, at: u32| {
            let units: Vec<u8> = name.encode_utf16().flat_map(u16::to_le_bytes).collect();
            record(0x0085, &[&at.to_le_bytes()[..], &[0, 0, name.chars().count() as u8, 1], &units].concat())
        };
        let formats = [
            format(164, "dd/mm/yyyy hh:mm"),
            format(165, "dd/mm/yyyy"),
            format(166, "dd/mm/yyyy \"giờ\" hh"),
            format(167, "\"ngày\" dd"),
        ]
        .concat();
        let xfs: Vec<u8> = [0u16, 164, 165, 22, 14, 166, 167]
            .iter()
            .flat_map(|id| record(0x00E0, &[&[0, 0][..], &id.to_le_bytes(), &[0; 16]].concat()))
            .collect();
        let globals = |first: u32, second: u32| {
            [bof.clone(), formats.clone(), xfs.clone(), sheet("Khác", first), sheet("Hồ sơ", second), eof.clone()]
                .concat()
        };
        let first = [bof.clone(), cell(0x0203, 0, 0, 1, 8), eof.clone()].concat();
        let mut mul_rk = [&2u16.to_le_bytes()[..], &0u16.to_le_bytes()].concat();
        for xf in [3u16, 4, 5, 6] {
            mul_rk.extend([&xf.to_le_bytes()[..], &[0; 4]].concat());
        }
        mul_rk.extend(3u16.to_le_bytes());
        let second = [
            bof.clone(),
            cell(0x0203, 1, 1, 1, 8),
            cell(0x027E, 1, 2, 1, 4),
            cell(0x0203, 1, 3, 2, 8),
            record(0x00BD, &mul_rk),
            cell(0x0006, 3, 0, 3, 14),
            cell(0x00FD, 4, 0, 1, 4),
            eof.clone(),
            cell(0x0203, 9, 9, 1, 8),
        ]
        .concat();
        let at = globals(0, 0).len() as u32;
        [globals(at, at + first.len() as u32), first, second].concat()
    }

    /// A compound file (512-byte sectors) holding `stream` as `Workbook`: in the mini stream
    /// when it is small, else in sectors laid out in reverse order.
    fn compound_file(stream: &[u8]) -> Vec<u8> {
        let mut fat = vec![0xFFFF_FFFD, END, END];
        let mut dir_root = (END, 0u32);
        let (mut mini_fat, workbook_start);
        let mut body = Vec::new();
        if stream.len() < 4096 {
            let minis = stream.len().div_ceil(64) as u32;
            mini_fat = (1..minis).chain([END]).collect::<Vec<u32>>();
            let sectors = (minis as usize * 64).div_ceil(512) as u32;
            fat.extend((4..3 + sectors).chain([END]));
            dir_root = (3, minis * 64);
            workbook_start = 0;
            body.extend(stream);
        } else {
            mini_fat = Vec::new();
            let sectors = stream.len().div_ceil(512) as u32;
            fat.extend((0..sectors).map(|j| if j == 0 { END } else { 2 + j }));
            workbook_start = 3 + sectors - 1;
            for chunk in stream.chunks(512).rev() {
                body.extend([chunk, &vec![0; 512 - chunk.len()]].concat());
            }
        }
        body.resize(body.len().div_ceil(512) * 512, 0);
        mini_fat.resize(128, FREE);
        fat.resize(128, FREE);
        let entry = |name: &str, kind: u8, start: u32, size: u32| {
            let mut e = vec![0u8; 128];
            let units: Vec<u8> = name.encode_utf16().flat_map(u16::to_le_bytes).collect();
            e[..units.len()].copy_from_slice(&units);
            e[0x40..0x42].copy_from_slice(&(units.len() as u16 + 2).to_le_bytes());
            e[0x42] = kind;
            e[0x74..0x78].copy_from_slice(&start.to_le_bytes());
            e[0x78..0x7C].copy_from_slice(&size.to_le_bytes());
            e
        };
        let directory = [
            entry("Root Entry", 5, dir_root.0, dir_root.1),
            entry("Workbook", 2, workbook_start, stream.len() as u32),
            vec![0; 256],
        ]
        .concat();
        let mut header = vec![0u8; 512];
        header[..8].copy_from_slice(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]);
        for (at, value) in [(0x1E, 9u32), (0x20, 6)] {
            header[at..at + 2].copy_from_slice(&(value as u16).to_le_bytes());
        }
        let mini_fat_start = if stream.len() < 4096 { 2 } else { END };
        for (at, value) in
            [(0x2C, 1), (0x30, 1), (0x38, 4096), (0x3C, mini_fat_start), (0x40, 1), (0x44, END), (0x4C, 0)]
        {
            header[at..at + 4].copy_from_slice(&value.to_le_bytes());
        }
        for i in 1..109 {
            header[0x4C + 4 * i..0x50 + 4 * i].copy_from_slice(&FREE.to_le_bytes());
        }
        let table = |t: &[u32]| t.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>();
        [header, table(&fat), directory, table(&mini_fat), body].concat()
    }

    /// A one-sheet BIFF8 workbook (`Dữ liệu`) whose sheet holds `records` after its BOF.
    fn one_sheet(records: &[Vec<u8>]) -> Vec<u8> {
        let bof = record(0x0809, &[0x00, 0x06, 0x10, 0x00]);
        let eof = record(0x000A, &[]);
        let name = "Dữ liệu";
        let units: Vec<u8> = name.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let sheet =
            |at: u32| record(0x0085, &[&at.to_le_bytes()[..], &[0, 0, name.chars().count() as u8, 1], &units].concat());
        let globals = |at: u32| [bof.clone(), sheet(at), eof.clone()].concat();
        let at = globals(0).len() as u32;
        let body = [vec![bof.clone()], records.to_vec(), vec![eof.clone()]].concat().concat();
        compound_file(&[globals(at), body].concat())
    }

    /// DIMENSIONS (BIFF8): first row, last row + 1, first column, last column + 1.
    fn dimensions(rows: (u32, u32), cols: (u16, u16)) -> Vec<u8> {
        let data =
            [&rows.0.to_le_bytes()[..], &rows.1.to_le_bytes(), &cols.0.to_le_bytes(), &cols.1.to_le_bytes(), &[0, 0]];
        record(0x0200, &data.concat())
    }

    #[test]
    fn sheets_beyond_the_limits_are_refused_before_calamine_reads_them() {
        let options = crate::IngestOptions::default();
        let refusal = |file: &[u8]| crate::ingest(file, Some("x.xls"), &options).map(drop).unwrap_err();
        // A small sheet reads.
        let table =
            [cell(0x0203, 0, 0, 0, 8), cell(0x0203, 0, 1, 0, 8), cell(0x0203, 1, 0, 0, 8), cell(0x0203, 1, 1, 0, 8)];
        let small = one_sheet(&[vec![dimensions((0, 2), (0, 2))], table.to_vec()].concat());
        assert!(check_limits(&small, &Limits::default()).is_ok());
        // A declared dimension of 10 million rows × 256 columns: calamine would reserve it.
        let declared = one_sheet(&[dimensions((0, 10_000_000), (0, 256))]);
        let e = refusal(&declared);
        assert_eq!(e.code(), "too_large");
        assert!(
            e.to_string().contains("`Dữ liệu` (its declared dimension)") && e.to_string().contains("max_cells"),
            "{e}"
        );
        // A first row after the last, which calamine's arithmetic wraps to 4 billion rows.
        let e = refusal(&one_sheet(&[dimensions((5, 1), (0, 2))]));
        assert!(e.to_string().contains("max_rows"), "{e}");
        // Honest dimension, cells at the corners of 65,536 rows × 1,000 columns.
        let corners = one_sheet(&[dimensions((0, 2), (0, 2)), table.concat(), cell(0x0203, 65_535, 999, 0, 8)]);
        let e = refusal(&corners);
        assert!(e.to_string().contains("its cells from A1 to ALL65536") && e.to_string().contains("max_cells"), "{e}");
        // A MULRK record spanning past the columns limit.
        let mut mul_rk = [&3u16.to_le_bytes()[..], &0u16.to_le_bytes()].concat();
        mul_rk.extend(std::iter::repeat_n([0u8; 6], 3).flatten());
        mul_rk.extend(5000u16.to_le_bytes());
        let e = refusal(&one_sheet(&[table.concat(), record(0x00BD, &mul_rk)]));
        assert!(e.to_string().contains("max_columns"), "{e}");
    }

    #[test]
    fn number_cells_whose_format_shows_a_time() {
        let small = workbook();
        let mut large = small.clone();
        large.resize(5000, 0);
        for stream in [small, large] {
            let file = compound_file(&stream);
            assert_eq!(workbook_stream(&file).as_deref(), Some(&stream[..]), "{}", stream.len());
            let mut found: Vec<(u32, u32)> = cell_styles(&file, 1).into_keys().collect();
            found.sort_unstable();
            assert_eq!(found, vec![(1, 1), (1, 2), (2, 0), (2, 2), (3, 0)], "{}", stream.len());
            assert_eq!(cell_styles(&file, 0).into_keys().collect::<Vec<_>>(), vec![(0, 0)]);
            assert!(cell_styles(&file, 2).is_empty());
        }
        assert!(cell_styles(b"PK\x03\x04", 0).is_empty());
    }
}
