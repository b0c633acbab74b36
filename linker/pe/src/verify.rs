//! `pectl verify`: the checks edk2's PE/COFF loader (MdePkg BasePeCoffLib, 2025.02) makes before
//! it runs an image, and the ones whose violation makes the image fail later (an unapplied base
//! relocation, an NX fault). Each finding names the header field and its value.
//!
//! Errors are what edk2 refuses, or what makes a loaded image fail; warnings are departures from
//! the PE specification that edk2 tolerates (a wrong checksum, unsorted relocation pages).
use std::fmt;

use crate::baserel::{self, Block};
use crate::headers::{
    rd32, Headers, IMAGE_DIRECTORY_ENTRY_BASERELOC, IMAGE_DIRECTORY_ENTRY_SECURITY,
};
use crate::machine::{self, describe, Machine};

const IMAGE_FILE_RELOCS_STRIPPED: u16 = 0x0001;
const IMAGE_DLLCHARACTERISTICS_NX_COMPAT: u16 = 0x0100;
const IMAGE_SCN_CNT_CODE: u32 = 0x0000_0020;
const IMAGE_SCN_MEM_EXECUTE: u32 = 0x2000_0000;
const IMAGE_SCN_MEM_WRITE: u32 = 0x8000_0000;
const EFI_APPLICATION: u16 = 10;
/// The size of a PE32+ optional header without its data directories.
const OPT64_FIXED: u64 = 112;
/// edk2 maps memory with 4 KiB pages; NX protection needs sections on page boundaries.
const PAGE: u32 = 0x1000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// One problem: the field, its value, and why it is one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    pub field: String,
    pub value: String,
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{sev}: {} = {}: {}",
            self.field, self.value, self.message
        )
    }
}

/// What [`verify`] found.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
}

impl Report {
    pub fn errors(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Warning)
    }

    pub fn is_clean(&self) -> bool {
        self.errors().next().is_none()
    }

    /// The errors joined for a one-error message (`FILE: not loadable by UEFI firmware: …`).
    pub fn error_text(&self) -> String {
        self.errors()
            .map(|f| format!("{} = {}: {}", f.field, f.value, f.message))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn push(
        &mut self,
        severity: Severity,
        field: impl Into<String>,
        value: impl fmt::Display,
        message: impl Into<String>,
    ) {
        self.findings.push(Finding {
            severity,
            field: field.into(),
            value: value.to_string(),
            message: message.into(),
        });
    }

    fn error(
        &mut self,
        field: impl Into<String>,
        value: impl fmt::Display,
        message: impl Into<String>,
    ) {
        self.push(Severity::Error, field, value, message);
    }

    fn warn(
        &mut self,
        field: impl Into<String>,
        value: impl fmt::Display,
        message: impl Into<String>,
    ) {
        self.push(Severity::Warning, field, value, message);
    }
}

fn hex(v: impl Into<u64>) -> String {
    format!("{:#x}", v.into())
}

/// Checks a whole image (its bytes as they are on disk).
pub fn verify(d: &[u8]) -> Report {
    let mut r = Report::default();
    let Some(h) = loadability(d, &mut r) else {
        return r;
    };
    if let Some(field) = crate::headers::checksum_field(d) {
        let computed = crate::headers::checksum(d, field);
        if h.check_sum != 0 && h.check_sum != computed {
            r.warn(
                "OptionalHeader.CheckSum",
                hex(h.check_sum),
                format!("the file sums to {computed:#x} (firmware does not check it; signing tools and Windows do)"),
            );
        }
    }
    r
}

/// [`verify`] without the checksum, which firmware does not check (a wrong one is only
/// warned of): what a linker asks before putting an image in place, without reading every byte
/// of it again.
pub fn loadable(d: &[u8]) -> Report {
    let mut r = Report::default();
    loadability(d, &mut r);
    r
}

/// Every check of [`verify`] but the checksum, and the headers when they could be read.
fn loadability(d: &[u8], r: &mut Report) -> Option<Headers> {
    let h = signatures(d, r)?;
    optional_header(d, &h, r);
    let sections_ok = sections(d, &h, r);
    entry_point(&h, r);
    data_directories(d, &h, r);
    if sections_ok {
        base_relocations(d, &h, r);
    }
    nx_compat(&h, r);
    Some(h)
}

/// DOS and PE signatures, then the headers `Headers::parse` can read.
fn signatures(d: &[u8], r: &mut Report) -> Option<Headers> {
    if d.len() < 0x40 || !d.starts_with(b"MZ") {
        let magic = d
            .get(..2)
            .map_or("(file shorter than 2 bytes)".to_string(), |m| {
                format!("{:#06x}", u16::from_le_bytes([m[0], m[1]]))
            });
        let why = if d.starts_with(b"MZ") {
            format!(
                "not a PE image: {} bytes, shorter than a DOS header with MZ (0x5a4d)",
                d.len()
            )
        } else {
            "not a PE image: no MZ signature (0x5a4d)".to_string()
        };
        r.error("DosHeader.e_magic", magic, why);
        return None;
    }
    let lfanew = rd32(d, 0x3c).unwrap_or(0);
    match d.get(lfanew as usize..(lfanew as usize).saturating_add(4)) {
        None => {
            r.error(
                "DosHeader.e_lfanew",
                hex(lfanew),
                format!("points past the end of the file ({:#x} bytes)", d.len()),
            );
            return None;
        }
        Some(sig) if sig != b"PE\0\0" => {
            r.error(
                "PE signature",
                format!("{:02x?}", sig),
                format!("no PE\\0\\0 at e_lfanew {lfanew:#x}"),
            );
            return None;
        }
        Some(_) => {}
    }
    match Headers::parse(d) {
        Ok(h) => Some(h),
        Err(e) => {
            r.error("headers", "-", e.0);
            None
        }
    }
}

fn optional_header(d: &[u8], h: &Headers, r: &mut Report) {
    if !h.pe32plus {
        r.error(
            "OptionalHeader.Magic",
            "0x10b",
            "PE32; UEFI images for 64-bit machines are PE32+ (0x20b)",
        );
    }
    if Machine::from_pe_machine(h.machine).is_none() {
        r.error(
            "FileHeader.Machine",
            describe(h.machine),
            "not a UEFI machine peln targets (amd64, arm64, riscv64, loongarch64)",
        );
    }
    if h.number_of_rva_and_sizes > 16 {
        r.error(
            "OptionalHeader.NumberOfRvaAndSizes",
            h.number_of_rva_and_sizes,
            "more than 16 data directories",
        );
    } else if h.pe32plus {
        // edk2 requires the optional header to end exactly after the directories it announces.
        let expect = OPT64_FIXED + 8 * u64::from(h.number_of_rva_and_sizes);
        if u64::from(h.size_of_optional_header) != expect {
            r.error(
                "FileHeader.SizeOfOptionalHeader",
                hex(h.size_of_optional_header),
                format!(
                    "NumberOfRvaAndSizes {} needs {expect:#x}",
                    h.number_of_rva_and_sizes
                ),
            );
        }
    }
    if !matches!(h.subsystem, 10..=12) {
        r.error(
            "OptionalHeader.Subsystem",
            h.subsystem,
            "not an EFI subsystem (10 application, 11 boot service driver, 12 runtime driver)",
        );
    }
    if h.characteristics & IMAGE_FILE_RELOCS_STRIPPED != 0 {
        r.error(
            "FileHeader.Characteristics",
            format!("{:#06x}", h.characteristics),
            "IMAGE_FILE_RELOCS_STRIPPED is set: edk2 loads the image only at its ImageBase, which is normally taken",
        );
    }
    let (sa, fa) = (h.section_alignment, h.file_alignment);
    if !sa.is_power_of_two() {
        r.error(
            "OptionalHeader.SectionAlignment",
            hex(sa),
            "not a power of two",
        );
    }
    if !fa.is_power_of_two() {
        r.error(
            "OptionalHeader.FileAlignment",
            hex(fa),
            "not a power of two",
        );
    }
    if sa.is_power_of_two() && fa.is_power_of_two() && sa < fa {
        r.warn(
            "OptionalHeader.SectionAlignment",
            hex(sa),
            format!("smaller than FileAlignment {fa:#x}"),
        );
    }
    let table_end = h.table_end() as u64;
    let soh = u64::from(h.size_of_headers);
    if soh < table_end {
        r.error(
            "OptionalHeader.SizeOfHeaders",
            hex(soh),
            format!("does not cover the section table, which ends at {table_end:#x}"),
        );
    }
    if soh > d.len() as u64 {
        r.error(
            "OptionalHeader.SizeOfHeaders",
            hex(soh),
            format!("larger than the file ({:#x} bytes)", d.len()),
        );
    }
    if soh >= u64::from(h.size_of_image) {
        r.error(
            "OptionalHeader.SizeOfHeaders",
            hex(soh),
            format!("not below SizeOfImage {:#x}", h.size_of_image),
        );
    }
    if let Some(first) = h.sections.iter().map(|s| s.virtual_address).min() {
        if soh > u64::from(first) {
            r.error(
                "OptionalHeader.SizeOfHeaders",
                hex(soh),
                format!("runs into the first section at RVA {first:#x}"),
            );
        }
    }
    if sa.is_power_of_two() && !h.size_of_image.is_multiple_of(sa) {
        r.warn(
            "OptionalHeader.SizeOfImage",
            hex(h.size_of_image),
            format!("not a multiple of SectionAlignment {sa:#x}"),
        );
    }
}

/// Section placement; `false` when sections overlap or leave the image, so that nothing reads
/// through them.
fn sections(d: &[u8], h: &Headers, r: &mut Report) -> bool {
    let mut ok = true;
    let mut prev: Option<(String, u64)> = None;
    for (i, s) in h.sections.iter().enumerate() {
        let field = |f: &str| format!("section {i} ({}).{f}", s.name());
        let (va, end) = (u64::from(s.virtual_address), s.end_rva());
        if end > u64::from(h.size_of_image) {
            r.error(
                field("VirtualAddress+VirtualSize"),
                hex(end),
                format!("past SizeOfImage {:#x}", h.size_of_image),
            );
            ok = false;
        }
        if h.section_alignment.is_power_of_two() && s.virtual_address % h.section_alignment != 0 {
            r.error(
                field("VirtualAddress"),
                hex(va),
                format!(
                    "not a multiple of SectionAlignment {:#x}",
                    h.section_alignment
                ),
            );
        }
        if va < u64::from(h.size_of_headers) {
            r.error(
                field("VirtualAddress"),
                hex(va),
                format!(
                    "inside the headers (SizeOfHeaders {:#x})",
                    h.size_of_headers
                ),
            );
            ok = false;
        }
        if let Some((pname, pend)) = &prev {
            if va < *pend {
                r.error(field("VirtualAddress"), hex(va), format!("overlaps or precedes section {pname}, which ends at {pend:#x} (sections must be sorted and disjoint)"));
                ok = false;
            }
        }
        prev = Some((s.name(), end));
        if s.size_of_raw_data != 0 {
            let raw_end = u64::from(s.pointer_to_raw_data) + u64::from(s.size_of_raw_data);
            if raw_end > d.len() as u64 {
                r.error(
                    field("PointerToRawData+SizeOfRawData"),
                    hex(raw_end),
                    format!("past the end of the file ({:#x} bytes)", d.len()),
                );
                ok = false;
            }
            if u64::from(s.pointer_to_raw_data) < u64::from(h.size_of_headers) {
                r.error(
                    field("PointerToRawData"),
                    hex(s.pointer_to_raw_data),
                    format!(
                        "inside the headers (SizeOfHeaders {:#x})",
                        h.size_of_headers
                    ),
                );
            }
            if h.file_alignment.is_power_of_two() && s.pointer_to_raw_data % h.file_alignment != 0 {
                r.warn(
                    field("PointerToRawData"),
                    hex(s.pointer_to_raw_data),
                    format!("not a multiple of FileAlignment {:#x}", h.file_alignment),
                );
            }
        }
    }
    ok
}

fn entry_point(h: &Headers, r: &mut Report) {
    let entry = h.address_of_entry_point;
    match h.section_at(entry) {
        Some(s) if s.characteristics & (IMAGE_SCN_MEM_EXECUTE | IMAGE_SCN_CNT_CODE) != 0 => {}
        Some(s) => r.error(
            "OptionalHeader.AddressOfEntryPoint",
            hex(entry),
            format!(
                "in section {}, which is not executable (flags {:#010x})",
                s.name(),
                s.characteristics
            ),
        ),
        None => r.error(
            "OptionalHeader.AddressOfEntryPoint",
            hex(entry),
            "not inside any section",
        ),
    }
}

fn data_directories(d: &[u8], h: &Headers, r: &mut Report) {
    for (i, &(rva, size)) in h.data_dirs.iter().enumerate() {
        if size == 0 {
            continue;
        }
        let end = u64::from(rva) + u64::from(size);
        if i == IMAGE_DIRECTORY_ENTRY_SECURITY {
            // The certificate table is the one directory given as a file offset.
            if end > d.len() as u64 {
                r.error(
                    "DataDirectory[4] (certificate table)",
                    format!("offset {rva:#x} size {size:#x}"),
                    format!("runs past the end of the file ({:#x} bytes)", d.len()),
                );
            }
        } else if end > u64::from(h.size_of_image) {
            r.error(
                format!("DataDirectory[{i}]"),
                format!("rva {rva:#x} size {size:#x}"),
                format!("runs past SizeOfImage {:#x}", h.size_of_image),
            );
        }
    }
}

fn base_relocations(d: &[u8], h: &Headers, r: &mut Report) {
    let (rva, size) = h.dir(IMAGE_DIRECTORY_ENTRY_BASERELOC);
    if size == 0 {
        // edk2 then loads the image anywhere without fixing it up; only position-independent
        // code survives that.
        r.warn(
            "DataDirectory[5] (base relocations)",
            "empty",
            "the image has no base relocations: it works only if it holds no absolute address",
        );
        return;
    }
    let field = "DataDirectory[5] (base relocations)";
    let Some(at) = h.rva_to_offset(rva, size as usize) else {
        r.error(
            field,
            format!("rva {rva:#x} size {size:#x}"),
            "not inside one section's raw data",
        );
        return;
    };
    let blocks = match baserel::parse(&d[at..at + size as usize]) {
        Ok(b) => b,
        Err((b, m)) => {
            r.error(
                format!(
                    "base relocation block at {:#x}: {}",
                    rva as usize + m.at,
                    m.field
                ),
                hex(m.value),
                m.reason,
            );
            b
        }
    };
    let mut prev_page = None;
    for b in &blocks {
        block(d, h, b, rva, r);
        if prev_page.is_some_and(|p| b.page <= p) {
            r.warn(
                format!(
                    "base relocation block at {:#x}: VirtualAddress",
                    rva as usize + b.at
                ),
                hex(b.page),
                "pages are not in ascending order",
            );
        }
        prev_page = Some(b.page);
    }
}

fn block(d: &[u8], h: &Headers, b: &Block, dir_rva: u32, r: &mut Report) {
    let where_ = |e: usize| {
        format!(
            "base relocation at {:#x}",
            dir_rva as usize + b.at + 8 + 2 * e
        )
    };
    if !b.page.is_multiple_of(PAGE) {
        r.warn(
            format!(
                "base relocation block at {:#x}: VirtualAddress",
                dir_rva as usize + b.at
            ),
            hex(b.page),
            "not a 4 KiB page",
        );
    }
    for (e, (typ, target)) in b.entries().enumerate() {
        let Some(len) = baserel::patch_size(h.machine, typ) else {
            r.error(
                where_(e),
                format!("type {typ} at rva {target:#x}"),
                format!(
                    "type {typ} is not a base relocation for machine {}",
                    describe(h.machine)
                ),
            );
            continue;
        };
        if len == 0 {
            continue;
        }
        if u64::from(target) + u64::from(len) > u64::from(h.size_of_image) {
            r.error(
                where_(e),
                format!("type {typ} at rva {target:#x}"),
                format!("patches past SizeOfImage {:#x}", h.size_of_image),
            );
            continue;
        }
        match (h.machine, typ) {
            (machine::IMAGE_FILE_MACHINE_RISCV64, 5 | 7 | 8) if h.subsystem == EFI_APPLICATION => r.error(
                where_(e),
                format!("type {typ} at rva {target:#x}"),
                "RISC-V HIGH20/LOW12 base relocation in an application: edk2 dereferences a NULL fixup pointer for it (link with -mcmodel=medany, DIR64 only)",
            ),
            (machine::IMAGE_FILE_MACHINE_LOONGARCH64, baserel::IMAGE_REL_BASED_LOONGARCH64_MARK_LA) => {
                if let Err(why) = mark_la(d, h, target) {
                    r.error(where_(e), format!("MARK_LA at rva {target:#x}"), why);
                }
            }
            _ => {}
        }
    }
}

/// edk2 patches four instructions from a MARK_LA: `lu12i.w rd; ori rd, rd; lu32i.d rd;
/// lu52i.d rd, rd` (the `la.abs` sequence). Anything else there is corrupted by the fixup.
fn mark_la(d: &[u8], h: &Headers, rva: u32) -> Result<(), String> {
    let at = h
        .rva_to_offset(rva, 16)
        .ok_or("the 16 bytes it patches are not in one section's raw data")?;
    let insn = |i: usize| rd32(d, at + 4 * i).unwrap_or(0);
    let rd = |w: u32| w & 0x1f;
    let rj = |w: u32| (w >> 5) & 0x1f;
    let expect = [
        ("lu12i.w", 0xfe00_0000, 0x1400_0000),
        ("ori", 0xffc0_0000, 0x0380_0000),
        ("lu32i.d", 0xfe00_0000, 0x1600_0000),
        ("lu52i.d", 0xffc0_0000, 0x0300_0000),
    ];
    let reg = rd(insn(0));
    for (i, (name, mask, bits)) in expect.iter().enumerate() {
        let w = insn(i);
        if w & mask != *bits {
            return Err(format!("instruction {i} ({w:#010x}) is not {name}: a MARK_LA needs a complete lu12i.w/ori/lu32i.d/lu52i.d sequence"));
        }
        if rd(w) != reg || (matches!(i, 1 | 3) && rj(w) != reg) {
            return Err(format!("instruction {i} ({name}, {w:#010x}) does not build the register of the lu12i.w (r{reg})"));
        }
    }
    Ok(())
}

fn nx_compat(h: &Headers, r: &mut Report) {
    if h.dll_characteristics & IMAGE_DLLCHARACTERISTICS_NX_COMPAT == 0 {
        return;
    }
    let field = "OptionalHeader.DllCharacteristics";
    let value = format!("{:#06x}", h.dll_characteristics);
    for s in &h.sections {
        if s.characteristics & IMAGE_SCN_MEM_WRITE != 0
            && s.characteristics & IMAGE_SCN_MEM_EXECUTE != 0
        {
            r.error(field, &value, format!("NX_COMPAT, but section {} is writable and executable: firmware that honours NX_COMPAT faults on it", s.name()));
        }
    }
    if h.section_alignment < PAGE {
        r.error(field, &value, format!("NX_COMPAT, but SectionAlignment {:#x} is below 4 KiB: page protections cannot follow the sections", h.section_alignment));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::{wr16, wr32};
    use crate::synth::{self, OPT, TABLE};

    fn errors(d: &[u8]) -> Vec<String> {
        verify(d).errors().map(|f| f.to_string()).collect()
    }

    #[test]
    fn synthetic_images_are_clean_for_every_machine() {
        for m in Machine::ALL {
            let r = verify(&synth::image(m.pe_machine(), 10));
            assert!(r.findings.is_empty(), "{m}: {:?}", r.findings);
        }
    }

    /// Each hand-broken image: what was broken, and the field the one error must name.
    #[test]
    fn each_fault_is_found_and_named() {
        type Break = fn(&mut Vec<u8>);
        let cases: &[(&str, Break, &str)] = &[
            ("empty", |d| d.clear(), "DosHeader.e_magic = (file shorter"),
            ("no MZ", |d| d[0] = b'X', "DosHeader.e_magic = 0x5a58"),
            ("e_lfanew past end", |d| wr32(d, 0x3c, 0x10_0000), "DosHeader.e_lfanew = 0x100000"),
            ("no PE signature", |d| d[0x81] = b'X', "PE signature"),
            ("PE32", |d| wr16(d, OPT, 0x10b), "OptionalHeader.Magic = 0x10b"),
            ("i386", |d| wr16(d, synth::COFF, 0x14c), "FileHeader.Machine = 0x014c (i386)"),
            ("17 directories", |d| wr32(d, OPT + 108, 17), "OptionalHeader.NumberOfRvaAndSizes = 17"),
            ("optional header size", |d| wr32(d, OPT + 108, 15), "FileHeader.SizeOfOptionalHeader = 0xf0"),
            ("SizeOfHeaders short", |d| wr32(d, OPT + 60, 0x100), "OptionalHeader.SizeOfHeaders = 0x100: does not cover"),
            ("SizeOfHeaders into .text", |d| wr32(d, OPT + 60, 0x1200), "OptionalHeader.SizeOfHeaders = 0x1200: larger than the file"),
            ("SizeOfImage short", |d| wr32(d, OPT + 56, 0x2000), "section 1 (.reloc).VirtualAddress+VirtualSize = 0x200c: past SizeOfImage"),
            ("unsorted", |d| wr32(d, TABLE + 40 + 12, 0x1000), "section 1 (.reloc).VirtualAddress = 0x1000: overlaps"),
            ("misaligned section", |d| wr32(d, TABLE + 40 + 12, 0x2100), "section 1 (.reloc).VirtualAddress = 0x2100: not a multiple"),
            ("raw data past file", |d| wr32(d, TABLE + 40 + 16, 0x400), "section 1 (.reloc).PointerToRawData+SizeOfRawData = 0x800"),
            ("entry outside", |d| wr32(d, OPT + 16, 0x2f00), "OptionalHeader.AddressOfEntryPoint = 0x2f00: not inside any section"),
            ("entry in data", |d| wr32(d, OPT + 16, 0x2000), "OptionalHeader.AddressOfEntryPoint = 0x2000: in section .reloc"),
            ("console subsystem", |d| wr16(d, OPT + 68, 3), "OptionalHeader.Subsystem = 3"),
            ("relocs stripped", |d| d[synth::COFF + 18] |= 1, "FileHeader.Characteristics = 0x0023"),
            ("block size 6", |d| wr32(d, 0x404, 6), "SizeOfBlock = 0x6: smaller"),
            ("block size 10", |d| wr32(d, 0x404, 10), "SizeOfBlock = 0xa: not a multiple of 4"),
            ("block past dir", |d| wr32(d, 0x404, 16), "SizeOfBlock = 0x10: runs past"),
            ("reloc type 4", |d| wr16(d, 0x408, 0x4008), "type 4 at rva 0x1008: type 4 is not a base relocation"),
            ("reloc past image", |d| wr32(d, 0x400, 0x3000), "type 10 at rva 0x3008: patches past SizeOfImage"),
            ("directory past image", |d| {
                    wr32(d, OPT + 112 + 8, 0x2ff0);
                    wr32(d, OPT + 112 + 12, 0x20)
                }, "DataDirectory[1] = rva 0x2ff0"),
            ("certificate past file", |d| { wr32(d, OPT + 112 + 32, 0x500); wr32(d, OPT + 112 + 36, 0x200) }, "DataDirectory[4] (certificate table) = offset 0x500 size 0x200"),
            ("W+X with NX", |d| wr32(d, TABLE + 36, 0xe000_0020), "OptionalHeader.DllCharacteristics = 0x0160: NX_COMPAT, but section .text is writable and executable"),
        ];
        for (what, f, expect) in cases {
            let mut d = synth::image(0x8664, 10);
            f(&mut d);
            let errs = errors(&d);
            assert!(
                errs.iter().any(|e| e.contains(expect)),
                "{what}: expected an error containing {expect:?}, got {errs:#?}"
            );
        }
    }

    #[test]
    fn machine_specific_relocations() {
        // RISC-V HIGH20 in an application is an error, in a driver it is what edk2 handles.
        let mut d = synth::image(0x5064, 10);
        wr16(&mut d, 0x408, 0x5008);
        assert!(
            errors(&d)[0].contains("RISC-V HIGH20/LOW12"),
            "{:?}",
            errors(&d)
        );
        wr16(&mut d, OPT + 68, 11);
        assert!(errors(&d).is_empty(), "{:?}", errors(&d));
        // The same type means nothing on amd64.
        let mut d = synth::image(0x8664, 10);
        wr16(&mut d, 0x408, 0x5008);
        assert!(errors(&d)[0].contains("type 5 is not a base relocation"));

        // LoongArch MARK_LA on a complete la.abs sequence for r12, then on a broken one.
        let mut d = synth::image(0x6264, 10);
        wr16(&mut d, 0x408, 0x8000);
        let la_abs = [0x1400_000c_u32, 0x0380_018c, 0x1600_000c, 0x0300_018c];
        for (i, w) in la_abs.iter().enumerate() {
            wr32(&mut d, 0x200 + 4 * i, *w);
        }
        assert!(errors(&d).is_empty(), "{:?}", errors(&d));
        wr32(&mut d, 0x208, 0x1600_000d); // lu32i.d r13
        assert!(
            errors(&d)[0].contains("MARK_LA at rva 0x1000: instruction 2"),
            "{:?}",
            errors(&d)
        );
        wr32(&mut d, 0x208, 0x0380_018c); // ori where lu32i.d belongs
        assert!(errors(&d)[0].contains("is not lu32i.d"), "{:?}", errors(&d));
    }

    #[test]
    fn warnings_do_not_fail() {
        let mut d = synth::image(0xaa64, 10);
        wr32(&mut d, OPT + 64, 1);
        let r = verify(&d);
        assert!(r.is_clean());
        assert_eq!(
            r.warnings().next().unwrap().field,
            "OptionalHeader.CheckSum"
        );
    }
}
