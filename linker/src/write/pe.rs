//! PE32+ headers: DOS stub, COFF file header, optional header, section table, checksum.
use rayon::prelude::*;

use crate::layout::{Layout, OutputKind};

/// UEFI image subsystems.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subsystem {
    EfiApplication,
    EfiBootServiceDriver,
    EfiRuntimeDriver,
}

impl Subsystem {
    pub fn code(self) -> u16 {
        match self {
            Subsystem::EfiApplication => 10,
            Subsystem::EfiBootServiceDriver => 11,
            Subsystem::EfiRuntimeDriver => 12,
        }
    }

    pub fn from_name(name: &str) -> Option<Subsystem> {
        Some(match name {
            "efi-application" | "efi_application" => Subsystem::EfiApplication,
            "efi-boot-service-driver" | "efi_boot_service_driver" => {
                Subsystem::EfiBootServiceDriver
            }
            "efi-runtime-driver" | "efi_runtime_driver" => Subsystem::EfiRuntimeDriver,
            _ => return None,
        })
    }
}

/// The header fields that come from options rather than from the layout.
pub struct Header {
    pub subsystem: Subsystem,
    /// MajorSubsystemVersion, MinorSubsystemVersion.
    pub subsystem_version: (u16, u16),
    pub dll: bool,
    pub timestamp: u32,
    /// The image holds 32-bit absolute addresses: it must stay below 4 GiB.
    pub low_image: bool,
}

/// Where the CheckSum field of an image we wrote is.
pub const CHECKSUM_OFFSET: usize = peln_pe::headers::PE32PLUS_CHECKSUM;

/// The headers the layout and the options make; `peln-pe` lays them out.
pub fn write_headers(buf: &mut [u8], layout: &Layout, header: &Header, machine: u16) {
    use object::pe::*;
    let mut characteristics = IMAGE_FILE_EXECUTABLE_IMAGE;
    if !header.low_image {
        characteristics |= IMAGE_FILE_LARGE_ADDRESS_AWARE;
    }
    if header.dll {
        characteristics |= IMAGE_FILE_DLL;
    }
    let sum = |pred: &dyn Fn(OutputKind) -> bool,
               f: &dyn Fn(&crate::layout::OutputSection) -> u32| {
        layout
            .sections
            .iter()
            .filter(|s| pred(s.kind))
            .map(f)
            .sum::<u32>()
    };
    let wx = layout.sections.iter().any(|s| {
        let ch = s.characteristics;
        ch & IMAGE_SCN_MEM_WRITE.0 != 0 && ch & IMAGE_SCN_MEM_EXECUTE.0 != 0
    });
    let mut dll = IMAGE_DLLCHARACTERISTICS_DYNAMIC_BASE;
    if !header.low_image {
        dll |= IMAGE_DLLCHARACTERISTICS_HIGH_ENTROPY_VA;
    }
    if !wx {
        dll |= IMAGE_DLLCHARACTERISTICS_NX_COMPAT;
    }
    let mut data_dirs = [(0, 0); IMAGE_NUMBEROF_DIRECTORY_ENTRIES];
    if let Some(s) = layout.section(OutputKind::Reloc) {
        data_dirs[IMAGE_DIRECTORY_ENTRY_BASERELOC] = (s.rva, s.virtual_size);
    }
    let sections = (layout.sections.iter().enumerate())
        .map(|(i, s)| {
            let mut name = [0u8; 8];
            match layout.long_names.iter().find(|(section, _)| *section == i) {
                Some((_, offset)) => {
                    let slash = format!("/{offset}");
                    name[..slash.len()].copy_from_slice(slash.as_bytes());
                }
                None => name[..s.kind.name().len()].copy_from_slice(s.kind.name().as_bytes()),
            }
            peln_pe::Section {
                name,
                virtual_size: s.virtual_size,
                virtual_address: s.rva,
                size_of_raw_data: s.file_size,
                pointer_to_raw_data: s.file_offset,
                characteristics: s.characteristics,
                ..peln_pe::Section::default()
            }
        })
        .collect();
    let image = peln_pe::headers::Pe32Plus {
        machine,
        time_date_stamp: header.timestamp,
        // No symbols, but the string table that follows the (empty) symbol table holds long
        // section names.
        pointer_to_symbol_table: layout.strtab_offset,
        characteristics: characteristics.0,
        size_of_code: sum(&|k| k == OutputKind::Text, &|s| s.file_size),
        size_of_initialized_data: sum(&|k| k != OutputKind::Text && k.has_file_data(), &|s| {
            s.file_size
        }),
        size_of_uninitialized_data: sum(&|k| k == OutputKind::Bss, &|s| {
            s.virtual_size.next_multiple_of(layout.file_alignment)
        }),
        address_of_entry_point: layout.entry_rva,
        base_of_code: layout.section(OutputKind::Text).map_or(0, |s| s.rva),
        image_base: layout.image_base,
        section_alignment: layout.section_alignment,
        file_alignment: layout.file_alignment,
        subsystem_version: header.subsystem_version,
        size_of_image: layout.size_of_image,
        size_of_headers: layout.size_of_headers,
        subsystem: header.subsystem.code(),
        dll_characteristics: dll.0,
        data_dirs,
        sections,
    };
    image.write(buf);
}

/// The PE checksum of an image we wrote (PE header at 0x80).
pub fn checksum(bytes: &[u8]) -> u32 {
    peln_pe::checksum(bytes, CHECKSUM_OFFSET)
}

/// Fills in the checksum of an image whose CheckSum field is still 0, as the header writer
/// leaves it. The words are summed 1 MiB at a time in parallel: one pass over a 10 MiB image is
/// a serial 3 ms otherwise, and integer sums are the same in any order.
pub fn write_checksum(buf: &mut [u8]) {
    debug_assert_eq!(buf[CHECKSUM_OFFSET..CHECKSUM_OFFSET + 4], [0; 4]);
    let sum = buf
        .par_chunks(1 << 20)
        .map(peln_pe::headers::word_sum)
        .sum();
    let sum = peln_pe::headers::checksum_from_sum(sum, buf.len());
    buf[CHECKSUM_OFFSET..CHECKSUM_OFFSET + 4].copy_from_slice(&sum.to_le_bytes());
}
