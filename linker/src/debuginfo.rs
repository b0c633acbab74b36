//! Source context for diagnostics: the function around an offset (symbol table) and its source
//! line (DWARF line tables, read with gimli).
use crate::input::{ObjectFile, SymDef};

/// The function symbol whose extent covers `offset` in `section`.
pub fn enclosing_function(obj: &ObjectFile, section: u32, offset: u64) -> Option<String> {
    obj.symbols
        .iter()
        .filter(|s| s.is_function && !s.name.is_empty())
        .filter_map(|s| match s.def {
            SymDef::Section {
                section: sec,
                value,
            } if sec == section && value <= offset => Some((value, s)),
            _ => None,
        })
        .filter(|(value, s)| s.size == 0 || offset - value < u64::from(s.size))
        .max_by_key(|(value, _)| *value)
        .map(|(_, s)| s.display_name())
}

/// `file:line` of the code at `offset` in `section`, from the object's `.debug_line`.
///
/// A relocatable object's line table holds section-relative addresses patched by relocations; we
/// apply them to a private copy, encoding an address in section `s` as `(s + 1) << 32 | offset`
/// so rows of different sections never collide. Only on the error path, so cost does not matter.
pub fn source_line(obj: &ObjectFile, section: u32, offset: u64) -> Option<String> {
    let file = object::File::parse(obj.data).ok()?;
    let line = relocated(&file, ".debug_line")?;
    let line_str = relocated(&file, ".debug_line_str").unwrap_or_default();
    let strs = relocated(&file, ".debug_str").unwrap_or_default();
    let endian = gimli::LittleEndian;
    let debug_line = gimli::DebugLine::new(&line, endian);
    let want = (u64::from(section) + 1) << 32 | offset;

    let mut best: Option<(u64, String)> = None;
    let mut unit = 0usize;
    while unit < line.len() {
        let program = debug_line
            .program(gimli::DebugLineOffset(unit), 8, None, None)
            .ok()?;
        let header = program.header().clone();
        let len = header.unit_length() + header.format().initial_length_size() as usize;
        let mut rows = program.rows();
        while let Ok(Some((header, row))) = rows.next_row() {
            let addr = row.address();
            if row.end_sequence() || addr >> 32 != want >> 32 || addr > want {
                continue;
            }
            if best.as_ref().is_some_and(|(b, _)| *b > addr) {
                continue;
            }
            let name = header
                .file(row.file_index())
                .and_then(|f| attr_string(f.path_name(), &line_str, &strs))
                .unwrap_or_else(|| "?".into());
            let line_no = row.line().map_or(0, |l| l.get());
            best = Some((addr, format!("{name}:{line_no}")));
        }
        unit += len.max(1);
    }
    best.map(|(_, s)| s)
}

fn attr_string(
    value: gimli::AttributeValue<gimli::EndianSlice<gimli::LittleEndian>>,
    line_str: &[u8],
    strs: &[u8],
) -> Option<String> {
    let at = |data: &[u8], off: usize| {
        let tail = data.get(off..)?;
        let end = tail.iter().position(|&b| b == 0)?;
        Some(String::from_utf8_lossy(&tail[..end]).into_owned())
    };
    match value {
        gimli::AttributeValue::String(s) => Some(String::from_utf8_lossy(s.slice()).into_owned()),
        gimli::AttributeValue::DebugLineStrRef(o) => at(line_str, o.0),
        gimli::AttributeValue::DebugStrRef(o) => at(strs, o.0),
        _ => None,
    }
}

/// A copy of a debug section with its absolute relocations applied.
fn relocated(file: &object::File, name: &str) -> Option<Vec<u8>> {
    use object::{Object, ObjectSection, ObjectSymbol, RelocationTarget, SymbolSection};
    let section = file.section_by_name(name)?;
    let mut bytes = section.uncompressed_data().ok()?.into_owned();
    for (offset, reloc) in section.relocations() {
        let RelocationTarget::Symbol(index) = reloc.target() else {
            continue;
        };
        let Ok(sym) = file.symbol_by_index(index) else {
            continue;
        };
        let base = match sym.section() {
            SymbolSection::Section(s) => {
                let alloc = file
                    .section_by_index(s)
                    .map(|sec| match sec.flags() {
                        object::SectionFlags::Elf { sh_flags, .. } => {
                            sh_flags.0 & object::elf::SHF_ALLOC.0 != 0
                        }
                        _ => false,
                    })
                    .unwrap_or(false);
                let key = if alloc { (s.0 as u64 + 1) << 32 } else { 0 };
                key.wrapping_add(sym.address())
            }
            _ => sym.address(),
        };
        let value = base.wrapping_add(reloc.addend() as u64);
        let at = usize::try_from(offset).ok()?;
        match reloc.size() {
            64 => bytes
                .get_mut(at..at.checked_add(8)?)?
                .copy_from_slice(&value.to_le_bytes()),
            32 => bytes
                .get_mut(at..at.checked_add(4)?)?
                .copy_from_slice(&(value as u32).to_le_bytes()),
            _ => {}
        }
    }
    Some(bytes)
}
