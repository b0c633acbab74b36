//! COFF specifics: the machine check, the symbol table read raw in one pass (with what the
//! unified `object` view leaves out: absolute values, weak externals, COMDAT groups and
//! associative sections), `.drectve` directives and relocation tables.
use object::pe;
use object::read::coff::{CoffFile, CoffHeader, Symbol, SymbolTable};
use object::LittleEndian as LE;

use super::{
    ascii_or_utf8, inline_name, not_a_leader, parse_error, AuxRecords, Binding, Comdat,
    GroupSections, InputSymbol, Leader, ObjectFile, Relocs, Selection, SymDef,
};
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

/// Section `index`'s name: inline in its header, or `/offset` into the string table.
pub(super) fn section_name<'d, C: CoffHeader>(
    coff: &CoffFile<'d, &'d [u8], C>,
    index: usize,
) -> Option<&'d str> {
    let header = coff
        .coff_section_table()
        .section(object::SectionIndex(index))
        .ok()?;
    match header.name[0] {
        b'/' => std::str::from_utf8(header.name(coff.coff_symbol_table().strings()).ok()?).ok(),
        _ => {
            let (name, word) = inline_name(&header.name);
            ascii_or_utf8(name, word)
        }
    }
}

/// A symbol's name: inline in its record, or (first four bytes zero) an offset into the string
/// table.
fn symbol_name<'d, S: Symbol>(
    sym: &'d S,
    strings: object::read::StringTable<'d, &'d [u8]>,
) -> object::Result<&'d [u8]> {
    match sym.raw_name() {
        [0, ..] => sym.name(strings),
        inline => Ok(inline_name(inline).0),
    }
}

/// The `/DEFAULTLIB` and `/INCLUDE` directives of the object's `.drectve` section, if any.
pub(super) fn read_drectve<'d, C: CoffHeader>(
    obj: &mut ObjectFile<'d>,
    coff: &CoffFile<'d, &'d [u8], C>,
) {
    // `.drectve` fits the header's 8-byte name field: compared raw, no string table lookups.
    let drectve = coff
        .coff_section_table()
        .iter()
        .find(|h| h.name == *b".drectve")
        .and_then(|h| h.coff_data(obj.data).ok());
    if let Some(text) = drectve {
        read_directives(obj, text);
    }
}

/// The contents of the object's `.llvm_addrsig` section, if any. The name is longer than the
/// header's 8 bytes: only long names (`/N`) are looked up in the string table.
pub(super) fn read_addrsig<'d, C: CoffHeader>(
    obj: &ObjectFile<'d>,
    coff: &CoffFile<'d, &'d [u8], C>,
) -> Result<Option<&'d [u8]>> {
    let strings = coff.coff_symbol_table().strings();
    let Some(h) = coff
        .coff_section_table()
        .iter()
        .find(|h| h.name[0] == b'/' && h.name(strings).is_ok_and(|n| n == b".llvm_addrsig"))
    else {
        return Ok(None);
    };
    h.coff_data(obj.data).map(Some).map_err(|_| {
        parse_error(
            &obj.name,
            "section .llvm_addrsig: contents outside the file",
        )
    })
}

/// A COFF object's symbols (one per symbol record, and a null one auxiliary records map to), COMDAT
/// groups and associative sections, in one pass over the raw symbol table: the unified `object`
/// API decodes a symbol again for each question asked of it, and does not expose weak-external
/// defaults, absolute values or COMDAT selections.
pub(super) fn read_symbols<'d, C: CoffHeader>(
    obj: &mut ObjectFile<'d>,
    coff: &CoffFile<'d, &'d [u8], C>,
) -> Result {
    let comdat_sections = coff
        .coff_section_table()
        .iter()
        .filter(|h| h.characteristics.get(LE).0 & pe::IMAGE_SCN_LNK_COMDAT.0 != 0)
        .count();
    obj.comdats.reserve_exact(comdat_sections);
    let table = coff.coff_symbol_table();
    // Auxiliary records are found first, so that the symbols are reserved at their count.
    let records = table.len();
    let aux = AuxRecords::new(
        records,
        table.iter().flat_map(|(index, sym)| {
            let first = index.0 + 1;
            first..(first + usize::from(sym.number_of_aux_symbols())).min(records)
        }),
    );
    obj.symbols.reserve_exact(aux.symbol_records(records) + 1);
    // Weak externals, whose defaults are record indices until the table is read.
    let mut aliases = Vec::new();
    for (index, sym) in table.iter() {
        let read = read_symbol(coff, table, index, sym);
        if matches!(read.def, SymDef::WeakAlias { .. }) {
            aliases.push(obj.symbols.len() as u32);
        }
        obj.symbols.push(read);
        if !sym.has_aux_section() {
            continue;
        }
        let (Some(section), Ok(aux)) = (sym.section_number().index(), table.aux_section(index))
        else {
            continue;
        };
        let selection = match aux.selection {
            pe::IMAGE_COMDAT_SELECT_ASSOCIATIVE => {
                let mut leader = u32::from(aux.number.get(LE));
                if C::is_type_bigobj() {
                    leader |= u32::from(aux.high_number.get(LE)) << 16;
                }
                if let Some(s) = obj.sections.get_mut(section as usize) {
                    if leader == u32::MAX {
                        let what = format!("section {section} ({})", s.name);
                        return Err(parse_error(&obj.name, not_a_leader(&what, leader)));
                    }
                    s.follows = Leader::of(leader);
                }
                continue;
            }
            pe::IMAGE_COMDAT_SELECT_NODUPLICATES => Selection::NoDuplicates,
            pe::IMAGE_COMDAT_SELECT_SAME_SIZE => Selection::SameSize,
            pe::IMAGE_COMDAT_SELECT_EXACT_MATCH => Selection::ExactMatch,
            pe::IMAGE_COMDAT_SELECT_LARGEST => Selection::Largest,
            // 0: not a COMDAT section.
            pe::ComdatSelection(0) => continue,
            _ => Selection::Any,
        };
        // The COMDAT symbol is the first later symbol in the same section (PE/COFF
        // specification, "COMDAT Sections"); it names the group. Associative sections follow
        // their leader through `follows`, so the group lists only the leader.
        // `symbol` counts the symbols walked over: the leader's index among the symbols.
        let mut next = index.0 + 1 + usize::from(sym.number_of_aux_symbols());
        let mut symbol = obj.symbols.len() as u32;
        let leader = loop {
            let Ok(s) = table.symbol(object::SymbolIndex(next)) else {
                break None;
            };
            if s.section_number() == sym.section_number() {
                break Some(s);
            }
            next += 1 + usize::from(s.number_of_aux_symbols());
            symbol += 1;
        };
        // The key is the leader's name, read with the symbols: an unreadable one is refused here.
        let Some(leader) = leader.filter(|s| symbol_name(*s, table.strings()).is_ok()) else {
            return Err(parse_error(
                &obj.name,
                format!("COMDAT section {section} has no COMDAT symbol"),
            ));
        };
        // A static leader's group is private to its object.
        let global = matches!(
            leader.storage_class(),
            pe::IMAGE_SYM_CLASS_EXTERNAL | pe::IMAGE_SYM_CLASS_WEAK_EXTERNAL
        );
        obj.comdats.push(Comdat {
            selection,
            sections: GroupSections::one(section),
            symbol,
            local: !global,
        });
    }
    if aux.any() || obj.symbols.is_empty() {
        obj.symbols.push(InputSymbol::NULL);
    }
    if aux.any() {
        obj.aux = aux;
        // Record indices read from the table become symbol indices; a default past the table
        // stays as read, for validation to refuse by the number the table gives.
        for &s in &aliases {
            if let SymDef::WeakAlias { default } = &mut obj.symbols[s as usize].def {
                if (*default as usize) < table.len() {
                    *default = obj.aux.symbol(*default);
                }
            }
        }
    }
    Ok(())
}

/// One symbol as `object`'s unified view reads it (binding from the storage class, COMMON from
/// an undefined external with a value, sizes from the auxiliary records), plus what that view
/// leaves out: absolute values, and weak externals as aliases of their default.
fn read_symbol<'d, C: CoffHeader>(
    coff: &CoffFile<'d, &'d [u8], C>,
    table: &SymbolTable<'d, &'d [u8], C>,
    index: object::SymbolIndex,
    sym: &'d C::Symbol,
) -> InputSymbol<'d> {
    let class = sym.storage_class();
    let name = match sym.has_aux_file_name() {
        true => table.aux_file_name(index, sym.number_of_aux_symbols()),
        false => symbol_name(sym, table.strings()),
    };
    let mut binding = match class {
        pe::IMAGE_SYM_CLASS_EXTERNAL => Binding::Global,
        pe::IMAGE_SYM_CLASS_WEAK_EXTERNAL => Binding::Weak,
        _ => Binding::Local,
    };
    let section_number = sym.section_number();
    let def = match section_number {
        pe::IMAGE_SYM_UNDEFINED if sym.has_aux_weak_external() => {
            match table.aux_weak_external(index) {
                Ok(aux) => {
                    binding = Binding::Weak;
                    SymDef::WeakAlias {
                        default: aux.weak_default_sym_index.get(LE),
                    }
                }
                Err(_) => SymDef::Undefined,
            }
        }
        pe::IMAGE_SYM_UNDEFINED if class == pe::IMAGE_SYM_CLASS_EXTERNAL && sym.value() != 0 => {
            let size = u64::from(sym.value());
            // COFF commons carry no alignment: lld uses the size's power of two, capped at 32.
            let align = size.next_power_of_two().min(32) as u32;
            SymDef::Common { size, align }
        }
        pe::IMAGE_SYM_ABSOLUTE => SymDef::Absolute(u64::from(sym.value())),
        // `.file` names the source, in records of its own: not a reference that could be left
        // undefined.
        pe::IMAGE_SYM_DEBUG if class == pe::IMAGE_SYM_CLASS_FILE => SymDef::Absolute(0),
        n => match n.index() {
            Some(section) => {
                // `object` adds the section's address (zero in objects) for the storage
                // classes that have one.
                let has_address = matches!(
                    class,
                    pe::IMAGE_SYM_CLASS_STATIC
                        | pe::IMAGE_SYM_CLASS_WEAK_EXTERNAL
                        | pe::IMAGE_SYM_CLASS_LABEL
                        | pe::IMAGE_SYM_CLASS_EXTERNAL
                );
                let base = coff
                    .coff_section_table()
                    .section(object::SectionIndex(section as usize))
                    .map_or(0, |h| h.virtual_address.get(LE));
                let value = match has_address {
                    true => u64::from(base) + u64::from(sym.value()),
                    false => 0,
                };
                SymDef::Section { section, value }
            }
            None => SymDef::Undefined,
        },
    };
    let size = match class {
        pe::IMAGE_SYM_CLASS_STATIC if sym.has_aux_section() => {
            table.aux_section(index).map_or(0, |a| a.length.get(LE))
        }
        pe::IMAGE_SYM_CLASS_EXTERNAL if section_number == pe::IMAGE_SYM_UNDEFINED => sym.value(),
        pe::IMAGE_SYM_CLASS_EXTERNAL if sym.has_aux_function() => table
            .aux_function(index)
            .map_or(0, |a| a.total_size.get(LE)),
        _ => 0,
    };
    let function = sym.derived_type() == pe::IMAGE_SYM_DTYPE_FUNCTION;
    let is_function = match class {
        pe::IMAGE_SYM_CLASS_STATIC => function && !sym.has_aux_section(),
        pe::IMAGE_SYM_CLASS_EXTERNAL | pe::IMAGE_SYM_CLASS_WEAK_EXTERNAL => function,
        _ => false,
    };
    InputSymbol {
        name: name.unwrap_or(b""),
        def,
        size,
        binding,
        is_function,
    }
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

#[cfg(test)]
pub(super) mod tests {
    use super::super::{parse_object, Expect, Format, Selection, SymDef};
    use super::*;

    /// A 18-byte symbol record: name (inline, or `/`-less string table offset), value, section
    /// number, type, storage class, number of auxiliary records.
    fn symbol(name: &[u8], value: u32, section: i16, typ: u16, class: u8, aux: u8) -> Vec<u8> {
        let mut r = [0u8; 8].to_vec();
        r[..name.len()].copy_from_slice(name);
        r.extend(value.to_le_bytes());
        r.extend(section.to_le_bytes());
        r.extend(typ.to_le_bytes());
        r.extend([class, aux]);
        r
    }

    /// An auxiliary section record: length, then the leader section and the selection.
    fn aux_section(length: u32, leader: u16, selection: u8) -> Vec<u8> {
        let mut r = length.to_le_bytes().to_vec();
        r.extend([0; 8]); // relocation and line-number counts, checksum
        r.extend(leader.to_le_bytes());
        r.push(selection);
        r.resize(18, 0);
        r
    }

    /// A clang-like amd64 object, by hand: `f` in a COMDAT `.text$mn` with an associative
    /// `.xdata`, a FILE record, an absolute, a COMMON, a weak external defaulting to `f` and an
    /// undefined symbol; `.xdata`'s relocation names the weak external, after three auxiliary
    /// records.
    pub(crate) fn object() -> Vec<u8> {
        use object::pe::*;
        let (sections, data_at) = (2u16, 20 + 2 * 40);
        let relocs_at = data_at + 8;
        let symtab_at = relocs_at + 10;
        let mut symbols = Vec::new();
        symbols.extend(symbol(b".file", 0, -2, 0, IMAGE_SYM_CLASS_FILE.0, 1));
        symbols.extend(*b"t.c\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0");
        symbols.extend(symbol(b".text$mn", 0, 1, 0, IMAGE_SYM_CLASS_STATIC.0, 1));
        symbols.extend(aux_section(4, 0, IMAGE_COMDAT_SELECT_ANY.0));
        symbols.extend(symbol(b"f", 0, 1, 0x20, IMAGE_SYM_CLASS_EXTERNAL.0, 0));
        symbols.extend(symbol(b".xdata", 0, 2, 0, IMAGE_SYM_CLASS_STATIC.0, 1));
        symbols.extend(aux_section(4, 1, IMAGE_COMDAT_SELECT_ASSOCIATIVE.0));
        symbols.extend(symbol(b"abs", 0x1234, -1, 0, IMAGE_SYM_CLASS_EXTERNAL.0, 0));
        // "common_var" is longer than 8 bytes: zeroes, then its string table offset.
        let mut long = symbol(b"", 24, 0, 0, IMAGE_SYM_CLASS_EXTERNAL.0, 0);
        long[4..8].copy_from_slice(&4u32.to_le_bytes());
        symbols.extend(long);
        symbols.extend(symbol(b"weak", 0, 0, 0, IMAGE_SYM_CLASS_WEAK_EXTERNAL.0, 1));
        let mut weak = 4u32.to_le_bytes().to_vec(); // default: symbol 4, `f`
        weak.extend(3u32.to_le_bytes()); // IMAGE_WEAK_EXTERN_SEARCH_ALIAS
        weak.resize(18, 0);
        symbols.extend(weak);
        symbols.extend(symbol(b"undef", 0, 0, 0, IMAGE_SYM_CLASS_EXTERNAL.0, 0));

        let mut o = Vec::new();
        o.extend(IMAGE_FILE_MACHINE_AMD64.0.to_le_bytes());
        o.extend(sections.to_le_bytes());
        o.extend(0u32.to_le_bytes());
        o.extend((symtab_at as u32).to_le_bytes());
        o.extend(12u32.to_le_bytes());
        o.extend([0; 4]); // optional header size, characteristics
        let header = |name: &[u8; 8], at: u32, relocs: u16, flags: u32| {
            let mut h = name.to_vec();
            h.extend([0; 8]); // virtual size and address
            h.extend(4u32.to_le_bytes());
            h.extend(at.to_le_bytes());
            h.extend((relocs_at as u32).to_le_bytes());
            h.extend([0; 4]); // line numbers
            h.extend(relocs.to_le_bytes());
            h.extend([0; 2]); // line number count
            h.extend(flags.to_le_bytes());
            h
        };
        let code = IMAGE_SCN_CNT_CODE.0 | IMAGE_SCN_MEM_EXECUTE.0 | IMAGE_SCN_MEM_READ.0;
        let data = IMAGE_SCN_CNT_INITIALIZED_DATA.0 | IMAGE_SCN_MEM_READ.0;
        let comdat = IMAGE_SCN_LNK_COMDAT.0 | IMAGE_SCN_ALIGN_4BYTES.0;
        o.extend(header(b".text$mn", data_at as u32, 0, code | comdat));
        o.extend(header(b".xdata\0\0", data_at as u32 + 4, 1, data | comdat));
        o.extend([0xc3, 0xcc, 0xcc, 0xcc, 1, 2, 3, 4]);
        // ADDR32NB at .xdata+0 of record 9, `weak`.
        o.extend(0u32.to_le_bytes());
        o.extend(9u32.to_le_bytes());
        o.extend(IMAGE_REL_AMD64_ADDR32NB.0.to_le_bytes());
        o.extend(symbols);
        o.extend(15u32.to_le_bytes());
        o.extend(b"common_var\0");
        o
    }

    #[test]
    fn symbols_comdats_and_associates_read_in_one_pass() {
        let bytes = object();
        let expect = Expect {
            machine: Machine::Amd64,
            field_size: |_, _| Some(4),
        };
        let obj = parse_object("t.obj".into(), &bytes, expect).unwrap();
        let read: Vec<_> = (obj.symbols.iter())
            .map(|s| (s.name, s.def, s.binding, s.size, s.is_function))
            .collect();
        use Binding::*;
        let null = (&b""[..], SymDef::Absolute(0), Local, 0, false);
        let section = |section| SymDef::Section { section, value: 0 };
        // One symbol per symbol record, then the null one auxiliary records map to.
        assert_eq!(
            read,
            [
                (&b"t.c"[..], SymDef::Absolute(0), Local, 0, false),
                (b".text$mn", section(1), Local, 4, false),
                (b"f", section(1), Global, 0, true),
                (b".xdata", section(2), Local, 4, false),
                (b"abs", SymDef::Absolute(0x1234), Global, 0, false),
                (
                    b"common_var",
                    SymDef::Common {
                        size: 24,
                        align: 32
                    },
                    Global,
                    24,
                    false
                ),
                (b"weak", SymDef::WeakAlias { default: 2 }, Weak, 0, false),
                (b"undef", SymDef::Undefined, Global, 0, false),
                null,
            ]
        );
        // Records 0-11 to symbols: auxiliary records (1, 3, 6, 10) to the null symbol.
        let index: Vec<u32> = (0..12).map(|r| obj.symbol_index(r)).collect();
        assert_eq!(index, [0, 8, 1, 8, 2, 3, 8, 4, 5, 6, 8, 7]);
        let records: Vec<u32> = (0..9).map(|s| obj.aux.record(s)).collect();
        assert_eq!(records, [0, 2, 4, 5, 7, 8, 9, 11, 12]);
        assert_eq!(obj.symbol_records(), 12);
        let reloc = obj.sections[2].relocs().get(0);
        assert_eq!(reloc.symbol, 9, "relocations keep the record index");
        let weak = &obj.symbols[obj.symbol_index(reloc.symbol) as usize];
        assert_eq!(weak.name, b"weak");
        assert_eq!(obj.comdats.len(), 1, "the associative .xdata is no group");
        let c = &obj.comdats[0];
        assert_eq!(
            (obj.comdat_key(c), c.selection, c.symbol, c.local),
            (&b"f"[..], Selection::Any, 2, false)
        );
        assert_eq!(obj.comdat_sections(c), [1]);
        assert_eq!(
            obj.sections[2].follows.get(),
            Some(1),
            ".xdata follows .text$mn"
        );
        assert_eq!(obj.sections[1].name, ".text$mn");
        assert_eq!(obj.format, Format::Coff);
    }
}
