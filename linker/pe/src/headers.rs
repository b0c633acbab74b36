//! PE headers read through `object`'s PE types, with the file offset of every field a tool
//! patches. Nothing read from the file is trusted: every offset and count is checked against the
//! file before it is used, and a failure says what is wrong in words a user can act on. Beside
//! the reader, the writer of a linked PE32+ image's headers ([`Pe32Plus::write`]).
use std::fmt;

use object::pe::{ImageDosHeader, ImageFileHeader, ImageSectionHeader};
use object::pod;
use object::LittleEndian as LE;

pub const SECTION_HEADER_SIZE: usize = 40;
/// Offsets inside the optional header (the same in PE32 and PE32+ up to `CheckSum`).
pub const OPT_SIZE_OF_INITIALIZED_DATA: usize = 8;
pub const OPT_SIZE_OF_IMAGE: usize = 56;
pub const OPT_SIZE_OF_HEADERS: usize = 60;
pub const OPT_CHECKSUM: usize = 64;
/// Offsets inside the COFF file header.
pub const COFF_NUMBER_OF_SECTIONS: usize = 2;
pub const COFF_POINTER_TO_SYMBOL_TABLE: usize = 8;
pub const COFF_NUMBER_OF_SYMBOLS: usize = 12;

pub const IMAGE_DIRECTORY_ENTRY_SECURITY: usize = 4;
pub const IMAGE_DIRECTORY_ENTRY_BASERELOC: usize = 5;
pub const IMAGE_DIRECTORY_ENTRY_DEBUG: usize = 6;

/// Why bytes are not a PE image (or not one whose headers can be read).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotPe(pub String);

impl fmt::Display for NotPe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NotPe {}

pub fn rd16(d: &[u8], at: usize) -> Option<u16> {
    d.get(at..at.checked_add(2)?)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
}

pub fn rd32(d: &[u8], at: usize) -> Option<u32> {
    d.get(at..at.checked_add(4)?)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

pub fn rd64(d: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        d.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}

/// Writes into a range the caller has checked (headers it parsed).
pub fn wr16(d: &mut [u8], at: usize, v: u16) {
    d[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

pub fn wr32(d: &mut [u8], at: usize, v: u32) {
    d[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// The DOS header and stub a linked image starts with: `e_lfanew` 0x80, and the program that
/// prints "This program cannot be run in DOS mode." (as lld-link's).
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

/// The PE32+ optional header with its 16 data directories.
pub const PE32PLUS_OPTIONAL_HEADER_SIZE: usize = 240;
/// Where the section table of a [`Pe32Plus`] image starts: DOS stub, PE signature, COFF file
/// header, optional header.
pub const PE32PLUS_SECTION_TABLE: usize =
    DOS_STUB.len() + 4 + object::pe::IMAGE_SIZEOF_FILE_HEADER + PE32PLUS_OPTIONAL_HEADER_SIZE;
/// The file offset of a [`Pe32Plus`] image's CheckSum field.
pub const PE32PLUS_CHECKSUM: usize =
    DOS_STUB.len() + 4 + object::pe::IMAGE_SIZEOF_FILE_HEADER + OPT_CHECKSUM;

/// What a linker decided about a PE32+ image's headers, as plain numbers. [`Pe32Plus::write`]
/// lays them out; [`Headers::parse`] reads them back. The CheckSum is written as 0 (it covers
/// the whole file: [`checksum`] once the rest is there).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pe32Plus {
    pub machine: u16,
    pub time_date_stamp: u32,
    /// Where the COFF string table of long section names starts (no symbols precede it).
    pub pointer_to_symbol_table: u32,
    pub characteristics: u16,
    pub size_of_code: u32,
    pub size_of_initialized_data: u32,
    pub size_of_uninitialized_data: u32,
    pub address_of_entry_point: u32,
    pub base_of_code: u32,
    pub image_base: u64,
    pub section_alignment: u32,
    pub file_alignment: u32,
    /// MajorSubsystemVersion, MinorSubsystemVersion.
    pub subsystem_version: (u16, u16),
    pub size_of_image: u32,
    pub size_of_headers: u32,
    pub subsystem: u16,
    pub dll_characteristics: u16,
    pub data_dirs: [(u32, u32); 16],
    pub sections: Vec<Section>,
}

impl Pe32Plus {
    /// Writes the headers and the section table at the start of `buf`, which holds at least
    /// [`PE32PLUS_SECTION_TABLE`] plus a section header per section.
    pub fn write(&self, buf: &mut [u8]) {
        let mut at = 0;
        let mut put = |bytes: &[u8]| {
            buf[at..at + bytes.len()].copy_from_slice(bytes);
            at += bytes.len();
        };
        put(&DOS_STUB);
        put(b"PE\0\0");
        put(&self.machine.to_le_bytes());
        put(&(self.sections.len() as u16).to_le_bytes());
        put(&self.time_date_stamp.to_le_bytes());
        put(&self.pointer_to_symbol_table.to_le_bytes());
        put(&0u32.to_le_bytes()); // NumberOfSymbols
        put(&(PE32PLUS_OPTIONAL_HEADER_SIZE as u16).to_le_bytes());
        put(&self.characteristics.to_le_bytes());

        put(&object::pe::IMAGE_NT_OPTIONAL_HDR64_MAGIC.to_le_bytes());
        put(&[0, 1]); // MajorLinkerVersion, MinorLinkerVersion
        for v in [
            self.size_of_code,
            self.size_of_initialized_data,
            self.size_of_uninitialized_data,
            self.address_of_entry_point,
            self.base_of_code,
        ] {
            put(&v.to_le_bytes());
        }
        put(&self.image_base.to_le_bytes());
        put(&self.section_alignment.to_le_bytes());
        put(&self.file_alignment.to_le_bytes());
        put(&[0; 8]); // Operating system and image versions
        put(&self.subsystem_version.0.to_le_bytes());
        put(&self.subsystem_version.1.to_le_bytes());
        put(&0u32.to_le_bytes()); // Win32VersionValue
        put(&self.size_of_image.to_le_bytes());
        put(&self.size_of_headers.to_le_bytes());
        put(&0u32.to_le_bytes()); // CheckSum
        put(&self.subsystem.to_le_bytes());
        put(&self.dll_characteristics.to_le_bytes());
        // Stack and heap reserve and commit: lld-link's defaults.
        for v in [0x10_0000u64, 0x1000, 0x10_0000, 0x1000] {
            put(&v.to_le_bytes());
        }
        put(&0u32.to_le_bytes()); // LoaderFlags
        put(&(self.data_dirs.len() as u32).to_le_bytes());
        for (rva, size) in self.data_dirs {
            put(&rva.to_le_bytes());
            put(&size.to_le_bytes());
        }
        debug_assert_eq!(at, PE32PLUS_SECTION_TABLE);
        for (i, s) in self.sections.iter().enumerate() {
            s.write(&mut buf[at + SECTION_HEADER_SIZE * i..]);
        }
    }
}

/// A section header as plain numbers, for code that edits and re-lays out sections.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Section {
    pub name: [u8; 8],
    pub virtual_size: u32,
    pub virtual_address: u32,
    pub size_of_raw_data: u32,
    pub pointer_to_raw_data: u32,
    pub pointer_to_relocations: u32,
    pub pointer_to_linenumbers: u32,
    pub number_of_relocations: u16,
    pub number_of_linenumbers: u16,
    pub characteristics: u32,
}

impl From<&ImageSectionHeader> for Section {
    fn from(h: &ImageSectionHeader) -> Section {
        Section {
            name: h.name,
            virtual_size: h.virtual_size.get(LE),
            virtual_address: h.virtual_address.get(LE),
            size_of_raw_data: h.size_of_raw_data.get(LE),
            pointer_to_raw_data: h.pointer_to_raw_data.get(LE),
            pointer_to_relocations: h.pointer_to_relocations.get(LE),
            pointer_to_linenumbers: h.pointer_to_linenumbers.get(LE),
            number_of_relocations: h.number_of_relocations.get(LE),
            number_of_linenumbers: h.number_of_linenumbers.get(LE),
            characteristics: h.characteristics.get(LE).0,
        }
    }
}

impl Section {
    /// A new section with no relocations or line numbers.
    pub fn new(name: &str, virtual_address: u32, virtual_size: u32, characteristics: u32) -> Self {
        let mut n = [0u8; 8];
        let len = name.len().min(8);
        n[..len].copy_from_slice(&name.as_bytes()[..len]);
        Section {
            name: n,
            virtual_size,
            virtual_address,
            characteristics,
            ..Section::default()
        }
    }

    /// The 40 bytes of the section table entry.
    pub fn write(&self, b: &mut [u8]) {
        let mut h = ImageSectionHeader {
            name: self.name,
            ..Default::default()
        };
        h.virtual_size.set(LE, self.virtual_size);
        h.virtual_address.set(LE, self.virtual_address);
        h.size_of_raw_data.set(LE, self.size_of_raw_data);
        h.pointer_to_raw_data.set(LE, self.pointer_to_raw_data);
        h.pointer_to_relocations
            .set(LE, self.pointer_to_relocations);
        h.pointer_to_linenumbers
            .set(LE, self.pointer_to_linenumbers);
        h.number_of_relocations.set(LE, self.number_of_relocations);
        h.number_of_linenumbers.set(LE, self.number_of_linenumbers);
        h.characteristics
            .set(LE, object::pe::SectionFlags(self.characteristics));
        b[..SECTION_HEADER_SIZE].copy_from_slice(pod::bytes_of(&h));
    }

    /// The short name (a `/N` long name stays `/N`).
    pub fn name(&self) -> String {
        let end = self.name.iter().position(|&c| c == 0).unwrap_or(8);
        String::from_utf8_lossy(&self.name[..end]).into_owned()
    }

    pub fn is(&self, name: &str) -> bool {
        let mut padded = [0u8; 8];
        if name.len() > 8 {
            return false;
        }
        padded[..name.len()].copy_from_slice(name.as_bytes());
        self.name == padded
    }

    /// Its size in memory: VirtualSize, or SizeOfRawData when that is 0 (as loaders read it).
    pub fn memory_size(&self) -> u32 {
        if self.virtual_size == 0 {
            self.size_of_raw_data
        } else {
            self.virtual_size
        }
    }

    /// Where the section ends in memory.
    pub fn end_rva(&self) -> u64 {
        u64::from(self.virtual_address) + u64::from(self.memory_size())
    }

    /// Its raw data, cut at the end of the file.
    pub fn raw<'d>(&self, d: &'d [u8]) -> &'d [u8] {
        let start = (self.pointer_to_raw_data as usize).min(d.len());
        let end = start
            .saturating_add(self.size_of_raw_data as usize)
            .min(d.len());
        &d[start..end]
    }
}

/// The headers of a PE image: the fields tools read or rewrite, with their file offsets.
#[derive(Clone, Debug)]
pub struct Headers {
    /// `e_lfanew`: offset of the PE signature.
    pub nt: usize,
    /// Offset of the COFF file header.
    pub coff: usize,
    /// Offset of the optional header.
    pub opt: usize,
    pub pe32plus: bool,
    pub machine: u16,
    pub characteristics: u16,
    pub pointer_to_symbol_table: u32,
    pub number_of_symbols: u32,
    pub size_of_optional_header: u16,
    pub size_of_initialized_data: u32,
    pub address_of_entry_point: u32,
    pub image_base: u64,
    pub section_alignment: u32,
    pub file_alignment: u32,
    pub size_of_image: u32,
    pub size_of_headers: u32,
    pub check_sum: u32,
    pub subsystem: u16,
    pub dll_characteristics: u16,
    /// As stored; the directories actually read are at most 16 and what the optional header holds.
    pub number_of_rva_and_sizes: u32,
    pub data_dirs: Vec<(u32, u32)>,
    /// Offset of the section table.
    pub table: usize,
    pub sections: Vec<Section>,
    /// The length of the file the headers were read from.
    pub file_len: usize,
}

impl Headers {
    /// Reads the headers of a PE32 or PE32+ image. Fails only where the headers cannot be read
    /// at all; whether a firmware would load the image is [`crate::verify`]'s business.
    pub fn parse(d: &[u8]) -> Result<Headers, NotPe> {
        let bad = |s: &str| NotPe(s.to_string());
        if d.starts_with(b"\x7fELF") {
            return Err(bad("it is an ELF file"));
        }
        if !d.starts_with(b"MZ") {
            return Err(bad("no MZ signature"));
        }
        let (dos, _) = pod::from_bytes::<ImageDosHeader>(d)
            .map_err(|_| NotPe(format!("{} bytes, shorter than a DOS header", d.len())))?;
        let nt = dos.e_lfanew.get(LE) as usize;
        if d.get(nt..nt.saturating_add(4)) != Some(b"PE\0\0".as_slice()) {
            return Err(NotPe(format!(
                "no PE signature at offset {nt:#x} (e_lfanew)"
            )));
        }
        let coff = nt + 4;
        let (fh, _) = pod::from_bytes::<ImageFileHeader>(&d[coff..])
            .map_err(|_| bad("the COFF file header runs past the end of the file"))?;
        let opt = coff + object::pe::IMAGE_SIZEOF_FILE_HEADER;
        let size_of_optional_header = fh.size_of_optional_header.get(LE);
        let opt_bytes = d
            .get(opt..opt + usize::from(size_of_optional_header))
            .ok_or_else(|| {
                NotPe(format!(
                    "the optional header (SizeOfOptionalHeader {size_of_optional_header:#x}) runs past the end of the file"
                ))
            })?;
        let pe32plus = match rd16(opt_bytes, 0) {
            Some(object::pe::IMAGE_NT_OPTIONAL_HDR64_MAGIC) => true,
            Some(object::pe::IMAGE_NT_OPTIONAL_HDR32_MAGIC) => false,
            Some(magic) => {
                return Err(NotPe(format!(
                    "unknown optional header magic {magic:#x} (PE32+ is 0x20b)"
                )))
            }
            None => return Err(bad("no optional header")),
        };
        // The fixed part of the optional header, up to the data directories.
        let dirs_at = if pe32plus { 112 } else { 96 };
        if opt_bytes.len() < dirs_at {
            return Err(NotPe(format!(
                "SizeOfOptionalHeader {size_of_optional_header:#x} is smaller than the fixed optional header ({dirs_at:#x})"
            )));
        }
        let o32 = |at| rd32(opt_bytes, at).unwrap_or(0);
        let o16 = |at| rd16(opt_bytes, at).unwrap_or(0);
        let number_of_rva_and_sizes = o32(dirs_at - 4);
        let dir_count = (number_of_rva_and_sizes as usize)
            .min((opt_bytes.len() - dirs_at) / 8)
            .min(16);
        let data_dirs = (0..dir_count)
            .map(|i| (o32(dirs_at + 8 * i), o32(dirs_at + 8 * i + 4)))
            .collect();
        let table = opt + usize::from(size_of_optional_header);
        let count = usize::from(fh.number_of_sections.get(LE));
        let (raw_sections, _) = d
            .get(table..)
            .and_then(|t| pod::slice_from_bytes::<ImageSectionHeader>(t, count).ok())
            .ok_or_else(|| {
                NotPe(format!(
                    "the section table ({count} sections at {table:#x}) runs past the end of the file"
                ))
            })?;
        Ok(Headers {
            nt,
            coff,
            opt,
            pe32plus,
            machine: fh.machine.get(LE).0,
            characteristics: fh.characteristics.get(LE).0,
            pointer_to_symbol_table: fh.pointer_to_symbol_table.get(LE),
            number_of_symbols: fh.number_of_symbols.get(LE),
            size_of_optional_header,
            size_of_initialized_data: o32(OPT_SIZE_OF_INITIALIZED_DATA),
            address_of_entry_point: o32(16),
            image_base: if pe32plus {
                rd64(opt_bytes, 24).unwrap_or(0)
            } else {
                u64::from(o32(28))
            },
            section_alignment: o32(32),
            file_alignment: o32(36),
            size_of_image: o32(OPT_SIZE_OF_IMAGE),
            size_of_headers: o32(OPT_SIZE_OF_HEADERS),
            check_sum: o32(OPT_CHECKSUM),
            subsystem: o16(68),
            dll_characteristics: o16(70),
            number_of_rva_and_sizes,
            data_dirs,
            table,
            sections: raw_sections.iter().map(Section::from).collect(),
            file_len: d.len(),
        })
    }

    /// A data directory's (RVA, size), (0, 0) when the image has fewer.
    pub fn dir(&self, index: usize) -> (u32, u32) {
        self.data_dirs.get(index).copied().unwrap_or((0, 0))
    }

    /// The file offset of `len` bytes at `rva`, when one section's raw data holds them all and
    /// they are inside the file: the range can be sliced without a further check.
    pub fn rva_to_offset(&self, rva: u32, len: usize) -> Option<usize> {
        self.sections.iter().find_map(|s| {
            let delta = rva.checked_sub(s.virtual_address)? as usize;
            let at = (s.pointer_to_raw_data as usize).checked_add(delta)?;
            (delta.checked_add(len)? <= s.size_of_raw_data as usize
                && at.checked_add(len)? <= self.file_len)
                .then_some(at)
        })
    }

    /// The section whose memory holds `rva`.
    pub fn section_at(&self, rva: u32) -> Option<&Section> {
        self.sections
            .iter()
            .find(|s| rva >= s.virtual_address && u64::from(rva) < s.end_rva())
    }

    pub fn checksum_offset(&self) -> usize {
        self.opt + OPT_CHECKSUM
    }

    /// Where the section table ends.
    pub fn table_end(&self) -> usize {
        self.table + self.sections.len() * SECTION_HEADER_SIZE
    }
}

/// The PE checksum: a 16-bit one's-complement-style sum of the file, with the 4-byte checksum
/// field at `field` counted as zero, plus the file length.
pub fn checksum(bytes: &[u8], field: usize) -> u32 {
    // End-around-carry addition is addition modulo 0xffff, where 2^16 is 1: a little-endian
    // 32-bit word is congruent to the sum of its two 16-bit halves. So 8 bytes at a time are
    // summed as two 32-bit halves in 64 bits (no overflow below 2^31 words) and folded once at
    // the end. The field is left out by summing around it (it is 4-byte aligned in every PE, so
    // both parts start on a 16-bit word).
    let sum = if field.is_multiple_of(2) && field < bytes.len() {
        let after = (field + 4).min(bytes.len());
        word_sum(&bytes[..field]) + word_sum(&bytes[after..])
    } else {
        word_sum(bytes)
    };
    checksum_from_sum(sum, bytes.len())
}

/// The checksum of a file of `len` bytes from the [`word_sum`]s of its pieces added up (every
/// piece but the last of even length, the checksum field zero): a large image's pieces can be
/// summed on several threads.
pub fn checksum_from_sum(mut sum: u64, len: usize) -> u32 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    (sum as u32).wrapping_add(len as u32)
}

/// [`word_sum`] of `bytes` lying at file offset `offset`, to be added to the sums of the rest of
/// the file. At an odd offset every byte sits in the other half of its word; swapping a word's
/// halves multiplies it by 256 modulo 0xffff (2^16 is 1), so the piece's own sum, folded, is
/// multiplied by 256.
pub fn word_sum_at(bytes: &[u8], offset: usize) -> u64 {
    let sum = word_sum(bytes);
    if offset.is_multiple_of(2) {
        sum
    } else {
        (sum % 0xffff) << 8
    }
}

/// The sum of `bytes` as little-endian 16-bit words (an odd last byte is the low half of one),
/// modulo 0xffff up to a final fold.
pub fn word_sum(bytes: &[u8]) -> u64 {
    let quads = bytes.chunks_exact(8);
    let rest = quads.remainder();
    let mut sum: u64 = quads
        .map(|q| {
            let w = u64::from_le_bytes(q.try_into().expect("8 bytes"));
            (w & 0xffff_ffff) + (w >> 32)
        })
        .sum();
    for pair in rest.chunks(2) {
        sum += u64::from(u16::from_le_bytes([pair[0], *pair.get(1).unwrap_or(&0)]));
    }
    sum
}

/// Where the optional header's CheckSum field is (found through `e_lfanew`, which other producers
/// do not put at 0x80), or `None` if `bytes` is not a PE image.
pub fn checksum_field(bytes: &[u8]) -> Option<usize> {
    let e_lfanew = rd32(bytes, 0x3c)? as usize;
    let field = e_lfanew.checked_add(4 + 20 + OPT_CHECKSUM)?;
    (bytes.get(..2)? == b"MZ"
        && bytes.get(e_lfanew..e_lfanew.checked_add(4)?)? == b"PE\0\0"
        && bytes.len() >= field + 4)
        .then_some(field)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What [`Pe32Plus::write`] writes, [`Headers::parse`] reads back field for field, and the
    /// section table starts where the constants say.
    #[test]
    fn written_headers_parse_back() {
        let mut data_dirs = [(0, 0); 16];
        data_dirs[IMAGE_DIRECTORY_ENTRY_BASERELOC] = (0x3000, 0x2c);
        let image = Pe32Plus {
            machine: crate::machine::IMAGE_FILE_MACHINE_RISCV64,
            time_date_stamp: 0x6543_2100,
            pointer_to_symbol_table: 0x1800,
            characteristics: 0x2022,
            size_of_code: 0x200,
            size_of_initialized_data: 0x600,
            size_of_uninitialized_data: 0x200,
            address_of_entry_point: 0x1010,
            base_of_code: 0x1000,
            image_base: 0x1_4000_0000,
            section_alignment: 0x1000,
            file_alignment: 0x200,
            subsystem_version: (6, 1),
            size_of_image: 0x5000,
            size_of_headers: 0x400,
            subsystem: 11,
            dll_characteristics: 0x160,
            data_dirs,
            sections: vec![
                Section {
                    size_of_raw_data: 0x200,
                    pointer_to_raw_data: 0x400,
                    ..Section::new(".text", 0x1000, 0x123, 0x6000_0020)
                },
                Section {
                    size_of_raw_data: 0x200,
                    pointer_to_raw_data: 0x600,
                    ..Section::new(".reloc", 0x3000, 0x2c, 0x4200_0040)
                },
                Section {
                    name: *b"/4\0\0\0\0\0\0",
                    size_of_raw_data: 0x400,
                    pointer_to_raw_data: 0x800,
                    ..Section::new("", 0x4000, 0x321, 0x4200_0040)
                },
            ],
        };
        let mut buf = vec![0u8; image.size_of_headers as usize];
        image.write(&mut buf);
        let h = Headers::parse(&buf).unwrap();
        assert_eq!((h.nt, h.table), (0x80, PE32PLUS_SECTION_TABLE));
        assert!(h.pe32plus);
        assert_eq!(h.opt + OPT_CHECKSUM, PE32PLUS_CHECKSUM);
        assert_eq!(checksum_field(&buf), Some(PE32PLUS_CHECKSUM));
        assert_eq!(
            (
                h.machine,
                h.characteristics,
                h.pointer_to_symbol_table,
                h.number_of_symbols
            ),
            (
                image.machine,
                image.characteristics,
                image.pointer_to_symbol_table,
                0
            )
        );
        assert_eq!(
            usize::from(h.size_of_optional_header),
            PE32PLUS_OPTIONAL_HEADER_SIZE
        );
        assert_eq!(
            (
                h.size_of_initialized_data,
                h.address_of_entry_point,
                h.image_base
            ),
            (
                image.size_of_initialized_data,
                image.address_of_entry_point,
                image.image_base
            )
        );
        assert_eq!(
            (
                h.section_alignment,
                h.file_alignment,
                h.size_of_image,
                h.size_of_headers
            ),
            (0x1000, 0x200, 0x5000, 0x400)
        );
        assert_eq!(
            (h.check_sum, h.subsystem, h.dll_characteristics),
            (0, 11, 0x160)
        );
        assert_eq!(h.number_of_rva_and_sizes, 16);
        assert_eq!(h.data_dirs, data_dirs);
        assert_eq!(h.sections, image.sections);
        // The fields the reader does not keep, at their offsets in the optional header.
        let o32 = |at: usize| rd32(&buf, h.opt + at).unwrap();
        assert_eq!(
            (o32(4), o32(12), o32(20)),
            (0x200, 0x200, 0x1000),
            "code, bss, base of code"
        );
        assert_eq!(rd32(&buf, h.coff + 4), Some(image.time_date_stamp));
        assert_eq!(
            (rd16(&buf, h.opt + 48), rd16(&buf, h.opt + 50)),
            (Some(6), Some(1))
        );
    }

    /// The PE specification's algorithm word by word, folding after every addition (a field
    /// off the 16-bit grid, which no PE has, is not left out).
    fn reference(bytes: &[u8], field: usize) -> u32 {
        let mut sum: u32 = 0;
        for (i, pair) in bytes.chunks(2).enumerate() {
            let at = 2 * i;
            if field.is_multiple_of(2) && at >= field && at < field + 4 {
                continue;
            }
            sum += u32::from(u16::from_le_bytes([pair[0], *pair.get(1).unwrap_or(&0)]));
            sum = (sum & 0xffff) + (sum >> 16);
        }
        sum.wrapping_add(bytes.len() as u32)
    }

    #[test]
    fn checksum_matches_the_word_by_word_algorithm() {
        // xorshift: deterministic bytes, including runs of 0xff that carry on every add.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for len in [0usize, 1, 2, 7, 8, 9, 15, 64, 333, 4096, 4099] {
            for fill in [None, Some(0xffu8), Some(0)] {
                let bytes: Vec<u8> = (0..len).map(|_| fill.unwrap_or(next() as u8)).collect();
                for field in [0, 4, 0xd8, len.saturating_sub(4), len + 8] {
                    assert_eq!(
                        checksum(&bytes, field),
                        reference(&bytes, field),
                        "{len} bytes of {fill:?}, field at {field}"
                    );
                }
            }
        }
    }

    /// A file summed in pieces, split anywhere (odd offsets and odd lengths included), sums to
    /// what the word-by-word algorithm gives for the whole: how a linker writing pieces in
    /// parallel computes the field.
    #[test]
    fn pieces_summed_at_their_offsets_give_the_whole_files_checksum() {
        let bytes: Vec<u8> = (0..1000u32).map(|i| (i * 151 + i / 7) as u8).collect();
        for cuts in [
            &[][..],
            &[1],
            &[3, 4, 5],
            &[2, 499, 500, 998, 999],
            &[17, 333, 334, 777],
        ] {
            let mut sum = 0;
            let mut from = 0;
            for &to in cuts.iter().chain([&bytes.len()]) {
                sum += word_sum_at(&bytes[from..to], from);
                from = to;
            }
            assert_eq!(
                checksum_from_sum(sum, bytes.len()),
                reference(&bytes, bytes.len() + 8),
                "cut at {cuts:?}"
            );
        }
    }
}
