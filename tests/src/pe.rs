//! A tiny, independent PE32+ header reader for test assertions (deliberately not the `object`
//! crate the linker uses, so it is a second opinion).
use crate::Arch;
use std::path::Path;

pub const IMAGE_FILE_RELOCS_STRIPPED: u16 = 0x0001;
pub const IMAGE_FILE_EXECUTABLE_IMAGE: u16 = 0x0002;
pub const IMAGE_SUBSYSTEM_EFI_APPLICATION: u16 = 10;
pub const IMAGE_SUBSYSTEM_EFI_BOOT_SERVICE_DRIVER: u16 = 11;
pub const IMAGE_SUBSYSTEM_EFI_RUNTIME_DRIVER: u16 = 12;

/// One section header.
#[derive(Clone, Debug)]
pub struct Section {
    pub name: String,
    pub virtual_size: u32,
    pub virtual_address: u32,
    pub size_of_raw_data: u32,
    pub pointer_to_raw_data: u32,
    pub characteristics: u32,
}

/// The header fields tests look at.
#[derive(Clone, Debug)]
pub struct PeInfo {
    pub machine: u16,
    pub characteristics: u16,
    pub time_date_stamp: u32,
    pub entry_point: u32,
    pub image_base: u64,
    pub section_alignment: u32,
    pub file_alignment: u32,
    pub size_of_image: u32,
    pub size_of_headers: u32,
    pub checksum: u32,
    pub subsystem: u16,
    pub dll_characteristics: u16,
    /// (RVA, size) of each data directory.
    pub data_dirs: Vec<(u32, u32)>,
    pub sections: Vec<Section>,
}

fn u16_at(b: &[u8], o: usize) -> Result<u16, String> {
    b.get(o..o + 2)
        .map(|s| u16::from_le_bytes([s[0], s[1]]))
        .ok_or_else(|| format!("truncated at {o:#x}"))
}
fn u32_at(b: &[u8], o: usize) -> Result<u32, String> {
    b.get(o..o + 4)
        .map(|s| u32::from_le_bytes(s.try_into().unwrap()))
        .ok_or_else(|| format!("truncated at {o:#x}"))
}
fn u64_at(b: &[u8], o: usize) -> Result<u64, String> {
    b.get(o..o + 8)
        .map(|s| u64::from_le_bytes(s.try_into().unwrap()))
        .ok_or_else(|| format!("truncated at {o:#x}"))
}

impl PeInfo {
    /// Parses a PE32+ image.
    pub fn parse(b: &[u8]) -> Result<PeInfo, String> {
        if b.get(0..2) != Some(b"MZ") {
            return Err("no MZ signature".into());
        }
        let pe = u32_at(b, 0x3c)? as usize;
        if b.get(pe..pe + 4) != Some(b"PE\0\0") {
            return Err(format!("no PE signature at {pe:#x}"));
        }
        let coff = pe + 4;
        let machine = u16_at(b, coff)?;
        let nsec = u16_at(b, coff + 2)? as usize;
        let time_date_stamp = u32_at(b, coff + 4)?;
        let opt_size = u16_at(b, coff + 16)? as usize;
        let characteristics = u16_at(b, coff + 18)?;
        let opt = coff + 20;
        let magic = u16_at(b, opt)?;
        if magic != 0x20b {
            return Err(format!(
                "optional header magic {magic:#x} is not PE32+ (0x20b)"
            ));
        }
        let ndirs = u32_at(b, opt + 108)? as usize;
        let mut data_dirs = Vec::new();
        for i in 0..ndirs.min(16) {
            data_dirs.push((u32_at(b, opt + 112 + 8 * i)?, u32_at(b, opt + 116 + 8 * i)?));
        }
        let mut sections = Vec::new();
        let sh = opt + opt_size;
        for i in 0..nsec {
            let o = sh + 40 * i;
            let raw = b.get(o..o + 8).ok_or("truncated section table")?;
            let name = String::from_utf8_lossy(raw)
                .trim_end_matches('\0')
                .to_string();
            sections.push(Section {
                name,
                virtual_size: u32_at(b, o + 8)?,
                virtual_address: u32_at(b, o + 12)?,
                size_of_raw_data: u32_at(b, o + 16)?,
                pointer_to_raw_data: u32_at(b, o + 20)?,
                characteristics: u32_at(b, o + 36)?,
            });
        }
        Ok(PeInfo {
            machine,
            characteristics,
            time_date_stamp,
            entry_point: u32_at(b, opt + 16)?,
            image_base: u64_at(b, opt + 24)?,
            section_alignment: u32_at(b, opt + 32)?,
            file_alignment: u32_at(b, opt + 36)?,
            size_of_image: u32_at(b, opt + 56)?,
            size_of_headers: u32_at(b, opt + 60)?,
            checksum: u32_at(b, opt + 64)?,
            subsystem: u16_at(b, opt + 68)?,
            dll_characteristics: u16_at(b, opt + 70)?,
            data_dirs,
            sections,
        })
    }

    /// Reads and parses a file; panics with the path on error.
    pub fn read(path: &Path) -> PeInfo {
        let b =
            std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        PeInfo::parse(&b).unwrap_or_else(|e| panic!("{} is not a PE32+ image: {e}", path.display()))
    }

    /// The base relocation directory (index 5), if non-empty.
    pub fn base_reloc_dir(&self) -> Option<(u32, u32)> {
        self.data_dirs
            .get(5)
            .copied()
            .filter(|&(_, size)| size != 0)
    }

    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.name == name)
    }
}

/// Asserts the basic shape edk2 needs of a UEFI image: PE32+, machine of `arch`, executable, relocs
/// NOT stripped, a non-empty base relocation directory, the given subsystem, an entry point inside
/// the image, 4 KiB-or-larger section alignment — and `pectl verify`'s checks find no error.
/// Returns the parsed headers.
pub fn assert_uefi_image(path: &Path, arch: Arch, subsystem: u16) -> PeInfo {
    let pe = PeInfo::read(path);
    let p = path.display();
    let report = peln_pe::verify::verify(&std::fs::read(path).unwrap());
    assert!(
        report.is_clean(),
        "{p}: pectl verify: {}",
        report.error_text()
    );
    assert_eq!(pe.machine, arch.pe_machine(), "{p}: machine");
    assert_eq!(pe.subsystem, subsystem, "{p}: subsystem");
    assert!(
        pe.characteristics & IMAGE_FILE_EXECUTABLE_IMAGE != 0,
        "{p}: not marked executable"
    );
    assert!(
        pe.characteristics & IMAGE_FILE_RELOCS_STRIPPED == 0,
        "{p}: RELOCS_STRIPPED set (edk2 refuses it)"
    );
    assert!(
        pe.base_reloc_dir().is_some(),
        "{p}: no base relocation directory"
    );
    assert!(
        pe.entry_point != 0 && pe.entry_point < pe.size_of_image,
        "{p}: entry point {:#x}",
        pe.entry_point
    );
    assert!(
        pe.section_alignment >= 0x1000,
        "{p}: section alignment {:#x}",
        pe.section_alignment
    );
    pe
}
