//! The smallest PE32+ image `verify` passes: `.text` (entry, an 8-byte address) and `.reloc`
//! (one DIR64 on that address). Tests start from it to break one field at a time, tools' tests
//! use it as a well-formed input, and the fuzz targets seed from it.
use crate::headers::{wr16, wr32, Section, SECTION_HEADER_SIZE};

/// File offset of the PE signature.
pub const NT: usize = 0x80;
/// File offsets of the COFF file header, optional header and section table.
pub const COFF: usize = NT + 4;
pub const OPT: usize = COFF + 20;
pub const TABLE: usize = OPT + 240;
pub const TEXT_RVA: u32 = 0x1000;
pub const RELOC_RVA: u32 = 0x2000;

/// A loadable EFI image for `machine` and `subsystem` (10 = application).
pub fn image(machine: u16, subsystem: u16) -> Vec<u8> {
    let mut d = vec![0u8; 0x600];
    d[..2].copy_from_slice(b"MZ");
    wr32(&mut d, 0x3c, NT as u32);
    d[NT..NT + 4].copy_from_slice(b"PE\0\0");
    wr16(&mut d, COFF, machine);
    wr16(&mut d, COFF + 2, 2);
    wr16(&mut d, COFF + 16, 240);
    wr16(&mut d, COFF + 18, 0x0022); // EXECUTABLE_IMAGE | LARGE_ADDRESS_AWARE
    wr16(&mut d, OPT, 0x20b);
    wr32(&mut d, OPT + 4, 0x200); // SizeOfCode
    wr32(&mut d, OPT + 8, 0x200); // SizeOfInitializedData
    wr32(&mut d, OPT + 16, TEXT_RVA); // AddressOfEntryPoint
    wr32(&mut d, OPT + 20, TEXT_RVA); // BaseOfCode
    d[OPT + 24..OPT + 32].copy_from_slice(&0x1_4000_0000u64.to_le_bytes());
    wr32(&mut d, OPT + 32, 0x1000);
    wr32(&mut d, OPT + 36, 0x200);
    wr32(&mut d, OPT + 56, 0x3000); // SizeOfImage
    wr32(&mut d, OPT + 60, 0x200); // SizeOfHeaders
    wr16(&mut d, OPT + 68, subsystem);
    wr16(&mut d, OPT + 70, 0x0160); // DYNAMIC_BASE | HIGH_ENTROPY_VA | NX_COMPAT
    wr32(&mut d, OPT + 108, 16);
    wr32(&mut d, OPT + 112 + 5 * 8, RELOC_RVA);
    wr32(&mut d, OPT + 112 + 5 * 8 + 4, 12);
    let text = Section {
        size_of_raw_data: 0x200,
        pointer_to_raw_data: 0x200,
        ..Section::new(".text", TEXT_RVA, 0x10, 0x6000_0020)
    };
    let reloc = Section {
        size_of_raw_data: 0x200,
        pointer_to_raw_data: 0x400,
        ..Section::new(".reloc", RELOC_RVA, 12, 0x4200_0040)
    };
    text.write(&mut d[TABLE..]);
    reloc.write(&mut d[TABLE + SECTION_HEADER_SIZE..]);
    // .text: `ret`-like bytes, then at +8 an absolute address of the entry point.
    d[0x200..0x204].copy_from_slice(&[0xc3, 0, 0, 0]);
    d[0x208..0x210].copy_from_slice(&(0x1_4000_0000u64 + u64::from(TEXT_RVA)).to_le_bytes());
    // .reloc: page 0x1000, 12 bytes, DIR64 at +8, one padding entry.
    wr32(&mut d, 0x400, TEXT_RVA);
    wr32(&mut d, 0x404, 12);
    wr16(&mut d, 0x408, 0xa008);
    let sum = crate::headers::checksum(&d, OPT + 64);
    wr32(&mut d, OPT + 64, sum);
    d
}
