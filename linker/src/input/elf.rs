//! What ELF objects are read for straight from their raw tables, where `object`'s unified API is
//! slow or silent: relocations from their `SHT_RELA` sections (one pass over the section headers
//! finds each section's table and the address-significance table, and each entry is decoded in
//! place: the unified iterator costs several times more per entry, and objects carry millions),
//! section names, and common symbols' alignments (st_value, which `object` does not give).
use object::elf::{Rela64, SHT_REL, SHT_RELA};
use object::read::elf::{ElfFile64, FileHeader as _, Rela as _, SectionHeader as _, Sym as _};
use object::Endianness;

use super::{table_str, InputSymbol, Relocs, SymDef};

/// Each section's name by index, from the section-header string table (`None` for a name
/// outside it or not UTF-8, as `object` would refuse it).
pub(super) fn section_names<'a, 'd>(
    elf: &'a ElfFile64<'d, Endianness>,
    data: &'d [u8],
) -> impl Fn(usize) -> Option<&'d str> + 'a {
    let endian = elf.endian();
    let headers = elf.elf_section_table();
    // `object` checked e_shstrndx when it parsed the file.
    let strings = (elf.elf_header().shstrndx(endian, data).ok())
        .and_then(|i| headers.section(object::SectionIndex(i as usize)).ok())
        .and_then(|sh| sh.data(endian, data).ok())
        .unwrap_or(&[]);
    move |i| {
        let sh = headers.section(object::SectionIndex(i)).ok()?;
        table_str(strings, sh.sh_name(endian) as usize)
    }
}

/// Where each section's relocations are, by section index.
pub(super) struct ElfRelocs<'d> {
    endian: Endianness,
    /// By target section.
    tables: Vec<Option<Table<'d>>>,
    /// The SHT_LLVM_ADDRSIG table's contents.
    pub(super) addrsig: Option<&'d [u8]>,
}

const SHT_LLVM_ADDRSIG: object::elf::SectionType = object::elf::SectionType(0x6fff_4c03);

#[derive(Clone, Copy)]
enum Table<'d> {
    Rela(&'d [Rela64<Endianness>]),
    /// Addends in the section bytes: not supported.
    Rel,
}

impl<'d> ElfRelocs<'d> {
    pub(super) fn new(elf: &ElfFile64<'d, Endianness>, data: &'d [u8]) -> Result<Self, String> {
        let endian = elf.endian();
        let sections = elf.elf_section_table();
        let mut tables = vec![None; sections.len()];
        let mut addrsig = None;
        for (i, sh) in sections.iter().enumerate() {
            let table = match sh.sh_type(endian) {
                // A table whose sh_link no longer names the symbol table went through `ld -r` or
                // objcopy, which renumber symbols: lld ignores it, and so does pectl.
                SHT_LLVM_ADDRSIG if sh.sh_link(endian) != 0 => {
                    addrsig =
                        Some(sh.data(endian, data).map_err(|_| {
                            format!("section {i} (.llvm_addrsig) outside the file")
                        })?);
                    continue;
                }
                SHT_RELA => sh
                    .data_as_array::<Rela64<Endianness>, _>(endian, data)
                    .map(Table::Rela)
                    .map_err(|_| format!("relocation section {i}: table outside the file"))?,
                SHT_REL => Table::Rel,
                _ => continue,
            };
            // `object` refused the file already if sh_info names no section.
            if let Some(slot) = tables.get_mut(sh.sh_info(endian) as usize) {
                *slot = Some(table);
            }
        }
        Ok(ElfRelocs {
            endian,
            tables,
            addrsig,
        })
    }

    /// The relocations of section `index`; the error is the reason, for the caller to name the
    /// section.
    pub(super) fn get(&self, index: usize) -> Result<Relocs<'d>, String> {
        match self.tables.get(index).copied().flatten() {
            None => Ok(Relocs::NONE),
            Some(Table::Rel) => Err("REL relocations (no addend) are not supported".into()),
            Some(Table::Rela(table)) => {
                // Offsets are 32 bits from here on; sections are smaller than 4 GiB.
                if let Some(r) = table
                    .iter()
                    .find(|r| r.r_offset(self.endian) > u64::from(u32::MAX))
                {
                    return Err(format!(
                        "relocation offset {:#x} out of range",
                        r.r_offset(self.endian)
                    ));
                }
                Ok(Relocs::Elf(table))
            }
        }
    }
}

/// Gives each common symbol of `symbols` (read through `object`, by symbol index) its alignment:
/// ELF keeps it in st_value (gABI: "the symbol's alignment constraint"), which `object` reports
/// as address 0. A value that is not a power of two up to 2^31 is refused: layout aligns
/// with it. The error is the reason, for the caller to name the file.
pub(super) fn common_alignments(
    elf: &ElfFile64<'_, Endianness>,
    symbols: &mut [InputSymbol<'_>],
) -> Result<(), String> {
    let endian = elf.endian();
    let table = elf.elf_symbol_table().symbols();
    for (i, sym) in symbols.iter_mut().enumerate() {
        let SymDef::Common { size, .. } = sym.def else {
            continue;
        };
        let value = table.get(i).map_or(0, |raw| raw.st_value(endian));
        let align = u32::try_from(value)
            .ok()
            .filter(|a| a.is_power_of_two() && *a <= 1 << 31)
            .ok_or_else(|| {
                format!(
                    "common symbol {} has alignment {value}: not a power of two up to 2^31",
                    sym.display_name()
                )
            })?;
        sym.def = SymDef::Common { size, align };
    }
    Ok(())
}
