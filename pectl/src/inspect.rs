//! `pectl inspect`: a stable, diffable text dump of a PE image, COFF/ELF object or archive.
use std::fmt::Write;

use object::read::archive::ArchiveFile;
use object::read::pe::{ImageNtHeaders, ImageOptionalHeader, PeFile64};
use object::{
    FileKind, Object, ObjectSection, ObjectSymbol, RelocationFlags, RelocationTarget, SectionIndex,
};
use peln_linker::input::Format;
use peln_pe::Machine;

use crate::Error;

pub fn render(name: &str, data: &[u8]) -> Result<String, Error> {
    let mut out = String::new();
    match FileKind::parse(data).map_err(|_| format!("{name}: not a PE image, object or archive"))? {
        FileKind::Pe64 => pe(&mut out, data)?,
        FileKind::Archive => archive(&mut out, name, data)?,
        FileKind::Coff | FileKind::CoffBig | FileKind::Elf64 => object_file(&mut out, data)?,
        other => return Err(format!("{name}: {other:?} files are not supported").into()),
    }
    Ok(out)
}

fn machine_name(pe_machine: u16) -> String {
    match Machine::from_pe_machine(pe_machine) {
        Some(_) => peln_pe::machine::describe(pe_machine),
        None => format!("{pe_machine:#06x}"),
    }
}

fn pe(out: &mut String, data: &[u8]) -> Result<(), Error> {
    let file = PeFile64::parse(data)?;
    let nt = file.nt_headers();
    let fh = nt.file_header();
    let oh = nt.optional_header();
    let le = object::LittleEndian;
    let machine = fh.machine.get(le).0;
    writeln!(out, "format: PE32+")?;
    writeln!(out, "machine: {}", machine_name(machine))?;
    writeln!(out, "time-date-stamp: {}", fh.time_date_stamp.get(le))?;
    writeln!(
        out,
        "characteristics: {:#06x}",
        fh.characteristics.get(le).0
    )?;
    writeln!(out, "subsystem: {}", oh.subsystem().0)?;
    writeln!(
        out,
        "dll-characteristics: {:#06x}",
        oh.dll_characteristics().0
    )?;
    writeln!(out, "image-base: {:#x}", oh.image_base())?;
    writeln!(out, "entry: {:#x}", oh.address_of_entry_point())?;
    writeln!(
        out,
        "alignment: section {:#x}, file {:#x}",
        oh.section_alignment(),
        oh.file_alignment()
    )?;
    writeln!(
        out,
        "size-of: image {:#x}, headers {:#x}, code {:#x}, initialized-data {:#x}, uninitialized-data {:#x}",
        oh.size_of_image(),
        oh.size_of_headers(),
        oh.size_of_code(),
        oh.size_of_initialized_data(),
        oh.size_of_uninitialized_data()
    )?;
    let stored = oh.check_sum();
    let computed = peln_pe::checksum_field(data).map(|field| peln_pe::checksum(data, field));
    writeln!(
        out,
        "checksum: {stored:#010x} ({})",
        match computed {
            _ if stored == 0 => "not set",
            Some(c) if c == stored => "valid",
            _ => "INVALID",
        }
    )?;
    writeln!(out, "data-directories:")?;
    for (i, dir) in file.data_directories().iter().enumerate() {
        let (rva, size) = (dir.virtual_address.get(le), dir.size.get(le));
        if size != 0 {
            writeln!(out, "  [{i:2}] rva {rva:#x} size {size:#x}")?;
        }
    }
    writeln!(out, "sections:")?;
    for (s, section) in file.section_table().iter().zip(file.sections()) {
        // `object` resolves `/N` long names through the COFF string table (DWARF sections).
        writeln!(
            out,
            "  {:<8} rva {:#08x} vsize {:#08x} file {:#08x} fsize {:#08x} flags {:#010x}",
            section.name().unwrap_or("?"),
            s.virtual_address.get(le),
            s.virtual_size.get(le),
            s.pointer_to_raw_data.get(le),
            s.size_of_raw_data.get(le),
            s.characteristics.get(le).0
        )?;
    }
    let dirs = file.data_directories();
    if let Some(mut blocks) = dirs.relocation_blocks(data, &file.section_table())? {
        writeln!(out, "base-relocations:")?;
        while let Some(block) = blocks.next()? {
            let entries: Vec<_> = block.collect();
            let page = entries.first().map_or(0, |r| r.virtual_address & !0xfff);
            writeln!(out, "  page {page:#x}: {} entries", entries.len())?;
            for r in entries {
                let typ = match r.typ.0 {
                    3 => "HIGHLOW".to_string(),
                    10 => "DIR64".to_string(),
                    t => format!("type {t}"),
                };
                writeln!(out, "    {:#x} {typ}", r.virtual_address)?;
            }
        }
    }
    let syms: Vec<_> = file.symbols().collect();
    if !syms.is_empty() {
        writeln!(out, "symbols:")?;
        for s in syms {
            writeln!(out, "  {:#x} {}", s.address(), s.name().unwrap_or("?"))?;
        }
    }
    Ok(())
}

fn archive(out: &mut String, name: &str, data: &[u8]) -> Result<(), Error> {
    let ar = ArchiveFile::parse(data)?;
    writeln!(out, "format: archive ({:?})", ar.kind())?;
    if let Some(symbols) = ar.symbols()? {
        writeln!(out, "symbol-index:")?;
        for s in symbols {
            let s = s?;
            writeln!(
                out,
                "  {} @ {:#x}",
                String::from_utf8_lossy(s.name()),
                s.offset().0
            )?;
        }
    }
    for member in ar.members() {
        let member = member?;
        let mname = String::from_utf8_lossy(member.name()).into_owned();
        writeln!(out, "member {mname} ({} bytes):", member.size())?;
        let bytes = member.data(data)?;
        match FileKind::parse(bytes) {
            Ok(FileKind::Coff | FileKind::CoffBig | FileKind::Elf64) => {
                let mut inner = String::new();
                object_file(&mut inner, bytes).map_err(|e| format!("{name}({mname}): {e}"))?;
                for line in inner.lines() {
                    writeln!(out, "  {line}")?;
                }
            }
            _ => writeln!(out, "  (not an object)")?,
        }
    }
    Ok(())
}

fn object_file(out: &mut String, data: &[u8]) -> Result<(), Error> {
    let file = object::File::parse(data)?;
    let (format, machine) = match &file {
        object::File::Elf64(e) => {
            let raw = object::read::elf::FileHeader::e_machine(e.elf_header(), e.endian()).0;
            (
                Format::Elf,
                Machine::from_elf_machine(raw)
                    .map(|m| m.name().to_string())
                    .unwrap_or(format!("e_machine {raw}")),
            )
        }
        object::File::Coff(c) => {
            let raw = object::read::coff::CoffHeader::machine(c.coff_header()).0;
            (Format::Coff, machine_name(raw))
        }
        object::File::CoffBig(c) => {
            let raw = object::read::coff::CoffHeader::machine(c.coff_header()).0;
            (Format::Coff, machine_name(raw))
        }
        _ => return Err("unsupported object format".into()),
    };
    writeln!(out, "format: {format:?} object")?;
    writeln!(out, "machine: {machine}")?;
    let reloc_machine = match &file {
        object::File::Elf64(e) => Machine::from_elf_machine(
            object::read::elf::FileHeader::e_machine(e.elf_header(), e.endian()).0,
        ),
        object::File::Coff(c) => {
            Machine::from_pe_machine(object::read::coff::CoffHeader::machine(c.coff_header()).0)
        }
        _ => None,
    };
    writeln!(out, "sections:")?;
    for s in file.sections() {
        writeln!(
            out,
            "  [{}] {} size {:#x} align {} kind {:?}",
            s.index().0,
            s.name().unwrap_or("?"),
            s.size(),
            s.align(),
            s.kind()
        )?;
    }
    writeln!(out, "symbols:")?;
    for s in file.symbols() {
        let section = match s.section_index() {
            Some(SectionIndex(i)) => format!("[{i}]"),
            None if s.is_undefined() => "UND".to_string(),
            None => format!("{:?}", s.section()),
        };
        let binding = if s.is_local() {
            "local"
        } else if s.is_weak() {
            "weak"
        } else {
            "global"
        };
        writeln!(
            out,
            "  #{} {} {section} value {:#x} size {:#x} {binding} {:?}",
            s.index().0,
            s.name().unwrap_or("?"),
            s.address(),
            s.size(),
            s.kind()
        )?;
    }
    writeln!(out, "relocations:")?;
    for s in file.sections() {
        for (offset, r) in s.relocations() {
            let raw = match r.flags() {
                RelocationFlags::Elf { r_type } => r_type.0,
                RelocationFlags::Coff { typ } => u32::from(typ.0),
                _ => 0,
            };
            let name = match reloc_machine {
                Some(m) => peln_linker::reloc_type_name(m, format, raw),
                None => raw.to_string(),
            };
            let target = match r.target() {
                RelocationTarget::Symbol(i) => file
                    .symbol_by_index(i)
                    .ok()
                    .map(|s| match s.name() {
                        Ok("") | Err(_) => format!("#{}", i.0),
                        Ok(n) => n.to_string(),
                    })
                    .unwrap_or_else(|| format!("#{}", i.0)),
                other => format!("{other:?}"),
            };
            let addend = if format == Format::Elf {
                let a = r.addend();
                if a < 0 {
                    format!(" -{:#x}", a.unsigned_abs())
                } else {
                    format!(" +{a:#x}")
                }
            } else {
                String::new()
            };
            writeln!(
                out,
                "  {}+{offset:#x} {name} {target}{addend}",
                s.name().unwrap_or("?")
            )?;
        }
    }
    Ok(())
}
