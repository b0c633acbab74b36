//! PE32+ headers: DOS stub, COFF file header, optional header, section table, checksum.
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

pub const DOS_STUB: [u8; 0x80] = {
    let mut s = [0u8; 0x80];
    let head: [u8; 0x40] = [
        b'M', b'Z', 0x90, 0, 3, 0, 0, 0, 4, 0, 0, 0, 0xff, 0xff, 0, 0, 0xb8, 0, 0, 0, 0, 0, 0, 0,
        0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0x80, 0, 0, 0,
    ];
    // push cs; pop ds; mov dx, msg; mov ah, 9; int 21h; mov ax, 4c01h; int 21h
    let code: [u8; 14] = [
        0x0e, 0x1f, 0xba, 0x0e, 0x00, 0xb4, 0x09, 0xcd, 0x21, 0xb8, 0x01, 0x4c, 0xcd, 0x21,
    ];
    let msg = b"This program cannot be run in DOS mode.\r\r\n$";
    let mut i = 0;
    while i < 0x40 {
        s[i] = head[i];
        i += 1;
    }
    i = 0;
    while i < code.len() {
        s[0x40 + i] = code[i];
        i += 1;
    }
    i = 0;
    while i < msg.len() {
        s[0x4e + i] = msg[i];
        i += 1;
    }
    s
};

struct Cursor<'a> {
    buf: &'a mut [u8],
    at: usize,
}

impl Cursor<'_> {
    fn bytes(&mut self, b: &[u8]) {
        self.buf[self.at..self.at + b.len()].copy_from_slice(b);
        self.at += b.len();
    }
    fn u8(&mut self, v: u8) {
        self.bytes(&[v]);
    }
    fn u16(&mut self, v: u16) {
        self.bytes(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.bytes(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }
}

pub const CHECKSUM_OFFSET: usize = 0x80 + 4 + 20 + 64;

pub fn write_headers(buf: &mut [u8], layout: &Layout, header: &Header, machine: u16) {
    use object::pe::*;
    let mut c = Cursor { buf, at: 0 };
    c.bytes(&DOS_STUB);
    c.bytes(b"PE\0\0");

    let mut characteristics = IMAGE_FILE_EXECUTABLE_IMAGE.0;
    if !header.low_image {
        characteristics |= IMAGE_FILE_LARGE_ADDRESS_AWARE.0;
    }
    if header.dll {
        characteristics |= IMAGE_FILE_DLL.0;
    }
    c.u16(machine);
    c.u16(layout.sections.len() as u16);
    c.u32(header.timestamp);
    // No symbols, but the string table that follows the (empty) symbol table holds long section
    // names.
    c.u32(layout.strtab_offset); // PointerToSymbolTable
    c.u32(0); // NumberOfSymbols
    c.u16(240); // SizeOfOptionalHeader
    c.u16(characteristics);

    let sum = |pred: &dyn Fn(OutputKind) -> bool,
               f: &dyn Fn(&crate::layout::OutputSection) -> u32| {
        layout
            .sections
            .iter()
            .filter(|s| pred(s.kind))
            .map(f)
            .sum::<u32>()
    };
    let size_of_code = sum(&|k| k == OutputKind::Text, &|s| s.file_size);
    let size_of_data = sum(&|k| k != OutputKind::Text && k.has_file_data(), &|s| {
        s.file_size
    });
    let size_of_bss = sum(&|k| k == OutputKind::Bss, &|s| {
        s.virtual_size.next_multiple_of(layout.file_alignment)
    });
    let base_of_code = layout.section(OutputKind::Text).map_or(0, |s| s.rva);
    let wx = layout.sections.iter().any(|s| {
        let ch = s.characteristics;
        ch & IMAGE_SCN_MEM_WRITE.0 != 0 && ch & IMAGE_SCN_MEM_EXECUTE.0 != 0
    });
    let mut dll = IMAGE_DLLCHARACTERISTICS_DYNAMIC_BASE.0;
    if !header.low_image {
        dll |= IMAGE_DLLCHARACTERISTICS_HIGH_ENTROPY_VA.0;
    }
    if !wx {
        dll |= IMAGE_DLLCHARACTERISTICS_NX_COMPAT.0;
    }

    c.u16(IMAGE_NT_OPTIONAL_HDR64_MAGIC);
    c.u8(0); // MajorLinkerVersion
    c.u8(1); // MinorLinkerVersion
    c.u32(size_of_code);
    c.u32(size_of_data);
    c.u32(size_of_bss);
    c.u32(layout.entry_rva);
    c.u32(base_of_code);
    c.u64(layout.image_base);
    c.u32(layout.section_alignment);
    c.u32(layout.file_alignment);
    c.u16(0); // MajorOperatingSystemVersion
    c.u16(0);
    c.u16(0); // MajorImageVersion
    c.u16(0);
    c.u16(header.subsystem_version.0);
    c.u16(header.subsystem_version.1);
    c.u32(0); // Win32VersionValue
    c.u32(layout.size_of_image);
    c.u32(layout.size_of_headers);
    debug_assert_eq!(c.at, CHECKSUM_OFFSET);
    c.u32(0); // CheckSum, filled last
    c.u16(header.subsystem.code());
    c.u16(dll);
    c.u64(0x10_0000); // SizeOfStackReserve
    c.u64(0x1000); // SizeOfStackCommit
    c.u64(0x10_0000); // SizeOfHeapReserve
    c.u64(0x1000); // SizeOfHeapCommit
    c.u32(0); // LoaderFlags
    c.u32(IMAGE_NUMBEROF_DIRECTORY_ENTRIES as u32);
    for dir in 0..IMAGE_NUMBEROF_DIRECTORY_ENTRIES {
        match layout.section(OutputKind::Reloc) {
            Some(s) if dir == IMAGE_DIRECTORY_ENTRY_BASERELOC => {
                c.u32(s.rva);
                c.u32(s.virtual_size);
            }
            _ => c.u64(0),
        }
    }

    for (i, s) in layout.sections.iter().enumerate() {
        let mut name = [0u8; 8];
        match layout.long_names.iter().find(|(section, _)| *section == i) {
            Some((_, offset)) => {
                let slash = format!("/{offset}");
                name[..slash.len()].copy_from_slice(slash.as_bytes());
            }
            None => name[..s.kind.name().len()].copy_from_slice(s.kind.name().as_bytes()),
        }
        c.bytes(&name);
        c.u32(s.virtual_size);
        c.u32(s.rva);
        c.u32(s.file_size);
        c.u32(s.file_offset);
        c.u32(0); // PointerToRelocations
        c.u32(0); // PointerToLinenumbers
        c.u16(0);
        c.u16(0);
        c.u32(s.characteristics);
    }
    debug_assert!(c.at <= layout.size_of_headers as usize);
}

/// The PE checksum of an image we wrote (PE header at 0x80).
pub fn checksum(bytes: &[u8]) -> u32 {
    peln_pe::checksum(bytes, CHECKSUM_OFFSET)
}

pub fn write_checksum(buf: &mut [u8]) {
    let sum = checksum(buf);
    buf[CHECKSUM_OFFSET..CHECKSUM_OFFSET + 4].copy_from_slice(&sum.to_le_bytes());
}
