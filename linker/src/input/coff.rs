//! What COFF objects carry beyond the unified `object` view: the machine check, `.drectve`
//! directives, absolute values, weak externals, COMDAT groups and associative sections.
use object::read::coff::{CoffFile, CoffHeader, Symbol as _};

use super::{parse_error, Binding, Comdat, GroupSections, ObjectFile, Relocs, Selection, SymDef};
use crate::consts::Machine;
use crate::error::Result;

pub(super) fn check_coff_machine<'d, C: CoffHeader>(
    coff: &CoffFile<'d, &'d [u8], C>,
    machine: Machine,
) -> std::result::Result<(), u16> {
    let raw = coff.coff_header().machine().0;
    // Machine 0 (IMAGE_FILE_MACHINE_UNKNOWN) marks machine-independent objects.
    if raw == 0 || raw == machine.pe_machine() {
        Ok(())
    } else {
        Err(raw)
    }
}

/// What the unified `object` API does not expose for COFF, or not cheaply: directives,
/// absolute values, weak-external defaults, COMDAT groups and their associative sections.
pub(super) fn read_coff_extras<'d, C: CoffHeader>(
    obj: &mut ObjectFile<'d>,
    coff: &CoffFile<'d, &'d [u8], C>,
) -> Result {
    // `.drectve` fits the header's 8-byte name field: compared raw, no string table lookups.
    let drectve = coff
        .coff_section_table()
        .iter()
        .find(|h| h.name == *b".drectve")
        .and_then(|h| h.coff_data(obj.data).ok());
    if let Some(text) = drectve {
        read_directives(obj, text);
    }
    let comdat_sections = coff
        .coff_section_table()
        .iter()
        .filter(|h| {
            h.characteristics.get(object::LittleEndian).0 & object::pe::IMAGE_SCN_LNK_COMDAT.0 != 0
        })
        .count();
    obj.comdats.reserve_exact(comdat_sections);
    let table = coff.coff_symbol_table();
    for (index, sym) in table.iter() {
        // `object` reports no address for absolute COFF symbols; the value is the address.
        if sym.section_number() == object::pe::IMAGE_SYM_ABSOLUTE {
            if let Some(s) = obj.symbols.get_mut(index.0) {
                s.def = SymDef::Absolute(u64::from(sym.value()));
            }
        } else if sym.has_aux_weak_external() {
            if let Ok(aux) = table.aux_weak_external(index) {
                let default = aux.weak_default_sym_index.get(object::LittleEndian);
                if let Some(s) = obj.symbols.get_mut(index.0) {
                    s.def = SymDef::WeakAlias { default };
                    s.binding = Binding::Weak;
                }
            }
        } else if sym.has_aux_section() {
            let (Some(section), Ok(aux)) = (sym.section_number().index(), table.aux_section(index))
            else {
                continue;
            };
            let selection = match aux.selection {
                object::pe::IMAGE_COMDAT_SELECT_ASSOCIATIVE => {
                    let mut leader = u32::from(aux.number.get(object::LittleEndian));
                    if C::is_type_bigobj() {
                        leader |= u32::from(aux.high_number.get(object::LittleEndian)) << 16;
                    }
                    if let Some(s) = obj.sections.get_mut(section as usize) {
                        s.follows = Some(leader);
                    }
                    continue;
                }
                object::pe::IMAGE_COMDAT_SELECT_NODUPLICATES => Selection::NoDuplicates,
                object::pe::IMAGE_COMDAT_SELECT_SAME_SIZE => Selection::SameSize,
                object::pe::IMAGE_COMDAT_SELECT_EXACT_MATCH => Selection::ExactMatch,
                object::pe::IMAGE_COMDAT_SELECT_LARGEST => Selection::Largest,
                // 0: not a COMDAT section.
                object::pe::ComdatSelection(0) => continue,
                _ => Selection::Any,
            };
            // The COMDAT symbol is the first later symbol in the same section (PE/COFF
            // specification, "COMDAT Sections"); it names the group. Associative sections
            // follow their leader through `follows`, so the group lists only the leader.
            let mut next = index.0 + 1 + usize::from(sym.number_of_aux_symbols());
            let leader = loop {
                let Ok(s) = table.symbol(object::SymbolIndex(next)) else {
                    break None;
                };
                if s.section_number() == sym.section_number() {
                    break Some(s);
                }
                next += 1 + usize::from(s.number_of_aux_symbols());
            };
            let Some((leader, key)) = leader.and_then(|s| Some((s, s.name(table.strings()).ok()?)))
            else {
                return Err(parse_error(
                    &obj.name,
                    format!("COMDAT section {section} has no COMDAT symbol"),
                ));
            };
            // A static leader's group is private to its object.
            let global = matches!(
                leader.storage_class(),
                object::pe::IMAGE_SYM_CLASS_EXTERNAL | object::pe::IMAGE_SYM_CLASS_WEAK_EXTERNAL
            );
            obj.comdats.push(Comdat {
                key,
                selection,
                sections: GroupSections::One(section),
                symbol: Some(next as u32),
                local: !global,
            });
        }
    }
    Ok(())
}

/// Linker directives a COFF object carries in `.drectve`: options as on lld-link's command line,
/// separated by blanks, values optionally quoted. Only `/DEFAULTLIB` and `/INCLUDE` change a UEFI
/// image; the rest (`/FAILIFMISMATCH`, `/EXPORT`, `/MERGE`, …) are accepted and ignored, as lld
/// ignores what does not apply.
fn read_directives<'d>(obj: &mut ObjectFile<'d>, text: &'d [u8]) {
    let text = text.strip_prefix(b"\xef\xbb\xbf").unwrap_or(text);
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let mut start = None;
    let mut quoted = false;
    let mut words = Vec::new();
    for (i, c) in text.char_indices().chain([(text.len(), ' ')]) {
        match c {
            '"' => quoted = !quoted,
            c if (c.is_whitespace() || c == '\0') && !quoted => {
                if let Some(s) = start.take() {
                    words.push(&text[s..i]);
                }
                continue;
            }
            _ => {}
        }
        start.get_or_insert(i);
    }
    for w in words {
        let Some((option, value)) = w.get(1..).and_then(|w| w.split_once(':')) else {
            continue;
        };
        let value = value.trim_matches('"');
        match option.to_ascii_lowercase().as_str() {
            "defaultlib" => obj.default_libs.push(value),
            "include" => obj.includes.push(value),
            _ => {}
        }
    }
}

/// The relocations of section `index`, in place in the section's table; the error is the reason,
/// for the caller to name the section.
pub(super) fn read_relocs<'d, C: CoffHeader>(
    coff: &CoffFile<'d, &'d [u8], C>,
    data: &'d [u8],
    index: usize,
) -> std::result::Result<Relocs<'d>, String> {
    let header = coff
        .coff_section_table()
        .section(object::SectionIndex(index))
        .map_err(|e| e.to_string())?;
    // `object` reads the true count of a table flagged IMAGE_SCN_LNK_NRELOC_OVFL.
    let table = header.coff_relocations(data).map_err(|e| e.to_string())?;
    Ok(Relocs::Coff(table))
}
