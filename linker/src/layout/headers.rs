//! The headers chunk: DOS stub, PE signature, COFF file header, PE32+ optional header and the
//! section table, at file offset and RVA 0, in the room lld-link reserves for them. `peln-pe`
//! lays the bytes out; the fields come from the layout and the link's options.
use super::{align_up, Chunk, ChunkKind, Layout, OutputKind, OutputSection};
use crate::baserel;

/// DOS header + stub + PE signature + COFF header + PE32+ optional header.
pub const HEADERS_BEFORE_SECTION_TABLE: u32 = peln_pe::headers::PE32PLUS_SECTION_TABLE as u32;
pub const SECTION_HEADER_SIZE: u32 = peln_pe::headers::SECTION_HEADER_SIZE as u32;
/// The header area lld-link reserves: its SizeOfHeaders counts a section header for every output
/// section it creates before dropping the empty ones, which comes to 0x400 at its default
/// FileAlignment. Tools that add sections to a linked image write their headers into that room
/// (ukify refuses a stub without it), and raw data still starts right after it.
pub const MIN_SIZE_OF_HEADERS: u32 = 0x400;

/// The headers' chunk for an image of `sections` output sections: SizeOfHeaders long.
pub fn chunk(sections: usize, file_alignment: u32) -> Chunk {
    let size = align_up(
        u64::from(HEADERS_BEFORE_SECTION_TABLE + SECTION_HEADER_SIZE * sections as u32)
            .max(u64::from(MIN_SIZE_OF_HEADERS)),
        u64::from(file_alignment),
    ) as u32;
    Chunk {
        kind: ChunkKind::Headers,
        rva: 0,
        size,
        align: file_alignment,
    }
}

/// UEFI image subsystems.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Subsystem {
    #[default]
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
#[derive(Clone, Debug, Default)]
pub struct Header {
    pub subsystem: Subsystem,
    /// MajorSubsystemVersion, MinorSubsystemVersion.
    pub subsystem_version: (u16, u16),
    pub dll: bool,
    pub timestamp: u32,
}

/// The headers the layout and the options make; `peln-pe` lays them out.
pub(super) fn write(layout: &Layout, machine: u16, out: &mut [u8]) {
    use object::pe::*;
    let header = &layout.header;
    // 32-bit absolute addresses in the image: it must stay below 4 GiB.
    let low_image = (layout.base_relocs.iter()).any(|r| r.typ == baserel::BaseRelocType::HighLow);
    let mut characteristics = IMAGE_FILE_EXECUTABLE_IMAGE;
    if !low_image {
        characteristics |= IMAGE_FILE_LARGE_ADDRESS_AWARE;
    }
    if header.dll {
        characteristics |= IMAGE_FILE_DLL;
    }
    let sum = |pred: &dyn Fn(OutputKind) -> bool, f: &dyn Fn(&OutputSection) -> u32| {
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
    if !low_image {
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
            match layout.strtab.offset_of(i) {
                Some(offset) => {
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
        pointer_to_symbol_table: layout.strtab.offset,
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
    image.write(out);
}
