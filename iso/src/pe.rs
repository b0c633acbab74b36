//! The checks on boot inputs: first the ones that give this tool's own messages (not a PE image,
//! PE32, wrong machine for the `--uki` slot, not EFI), read from the headers alone; then
//! `pectl verify`'s load checks ([`peln_pe::verify`]) over the file, mapped rather than read
//! (a UKI can be hundreds of MiB; the bytes are copied later, streamed, into the ESP).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use crate::arch::Arch;
use crate::error::{Error, Result};

/// What the checks learned about a valid input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeInfo {
    pub machine: u16,
    pub subsystem: u16,
    pub size: u64,
}

const IMAGE_NT_OPTIONAL_HDR64_MAGIC: u16 = 0x20b;
/// EFI_APPLICATION, EFI_BOOT_SERVICE_DRIVER, EFI_RUNTIME_DRIVER.
const EFI_SUBSYSTEMS: [u16; 3] = [10, 11, 12];
/// Offset of `Subsystem` in the PE32+ optional header.
const SUBSYSTEM_OFFSET: u64 = 68;

/// Check that `path` is a PE32+ EFI image for `arch`.
pub fn validate(path: &Path, arch: Arch) -> Result<PeInfo> {
    let mut f = File::open(path).map_err(|e| Error::io("open", path, e))?;
    let meta = f.metadata().map_err(|e| Error::io("stat", path, e))?;
    if !meta.is_file() {
        return Err(Error::NotPe {
            path: path.into(),
            reason: "not a regular file".into(),
        });
    }
    let size = meta.len();
    let not_pe = |reason: String| Error::NotPe {
        path: path.into(),
        reason,
    };

    // Read what there is of the DOS header first, so a short non-PE file is reported as
    // "no MZ signature" rather than as a short PE.
    let mut dos = [0u8; 64];
    let mut got = 0;
    while got < dos.len() {
        match f.read(&mut dos[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io("read", path, e)),
        }
    }
    if got < 2 || &dos[..2] != b"MZ" {
        return Err(not_pe("no MZ signature".into()));
    }
    if got < dos.len() {
        return Err(not_pe(format!("{size} bytes, shorter than a DOS header")));
    }
    let lfanew = u32::from_le_bytes(dos[0x3c..0x40].try_into().unwrap()) as u64;

    // "PE\0\0" + COFF file header (20 bytes).
    let mut nt = [0u8; 24];
    read_at(&mut f, path, lfanew, &mut nt).map_err(|e| match e {
        ReadErr::Short => not_pe(format!(
            "e_lfanew {lfanew:#x} points past the end of the file"
        )),
        ReadErr::Io(e) => e,
    })?;
    if &nt[..4] != b"PE\0\0" {
        return Err(not_pe(format!("no PE signature at offset {lfanew:#x}")));
    }
    let machine = u16::from_le_bytes([nt[4], nt[5]]);
    let opt_size = u16::from_le_bytes([nt[20], nt[21]]) as u64;

    let opt_off = lfanew + 24;
    let mut magic = [0u8; 2];
    if opt_size < 2 {
        return Err(not_pe("no optional header".into()));
    }
    read_at(&mut f, path, opt_off, &mut magic).map_err(|e| match e {
        ReadErr::Short => not_pe("truncated optional header".into()),
        ReadErr::Io(e) => e,
    })?;
    let magic = u16::from_le_bytes(magic);
    if magic != IMAGE_NT_OPTIONAL_HDR64_MAGIC {
        return Err(Error::NotPe32Plus {
            path: path.into(),
            magic,
        });
    }
    if machine != arch.pe_machine() {
        return Err(Error::WrongMachine {
            path: path.into(),
            arch,
            found: machine,
        });
    }
    if opt_size < SUBSYSTEM_OFFSET + 2 {
        return Err(not_pe(format!(
            "optional header of {opt_size} bytes has no Subsystem field"
        )));
    }
    let mut sub = [0u8; 2];
    read_at(&mut f, path, opt_off + SUBSYSTEM_OFFSET, &mut sub).map_err(|e| match e {
        ReadErr::Short => not_pe("truncated optional header".into()),
        ReadErr::Io(e) => e,
    })?;
    let subsystem = u16::from_le_bytes(sub);
    if !EFI_SUBSYSTEMS.contains(&subsystem) {
        return Err(Error::NotEfi {
            path: path.into(),
            subsystem,
        });
    }
    // SAFETY: the mapping is read-only and private; the build reads inputs that it expects to
    // stay put (copy_sparse fails a build whose input changed size underneath it).
    let map = unsafe { memmap2::Mmap::map(&f) }.map_err(|e| Error::io("map", path, e))?;
    let report = peln_pe::verify::verify(&map);
    if !report.is_clean() {
        return Err(Error::NotLoadable {
            path: path.into(),
            errors: report.error_text(),
        });
    }
    Ok(PeInfo {
        machine,
        subsystem,
        size,
    })
}

enum ReadErr {
    Short,
    Io(Error),
}

fn read_at(
    f: &mut File,
    path: &Path,
    off: u64,
    buf: &mut [u8],
) -> std::result::Result<(), ReadErr> {
    f.seek(SeekFrom::Start(off))
        .map_err(|e| ReadErr::Io(Error::io("read", path, e)))?;
    match f.read_exact(buf) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(ReadErr::Short),
        Err(e) => Err(ReadErr::Io(Error::io("read", path, e))),
    }
}

/// A loadable PE32+ image for tests, with `magic` and `subsystem` patched in.
#[cfg(test)]
pub(crate) fn fake_pe(machine: u16, magic: u16, subsystem: u16) -> Vec<u8> {
    let mut v = peln_pe::synth::image(machine, subsystem);
    v[peln_pe::synth::OPT..peln_pe::synth::OPT + 2].copy_from_slice(&magic.to_le_bytes());
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(bytes: &[u8], arch: Arch) -> Result<PeInfo> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.efi");
        std::fs::write(&p, bytes).unwrap();
        validate(&p, arch)
    }

    #[test]
    fn accepts_efi_application() {
        let info = check(&fake_pe(0xaa64, 0x20b, 10), Arch::Arm64).unwrap();
        assert_eq!(
            (info.machine, info.subsystem, info.size),
            (0xaa64, 10, 0x600)
        );
    }

    #[test]
    fn refuses_wrong_machine_naming_both() {
        let e = check(&fake_pe(0x8664, 0x20b, 10), Arch::Arm64).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.ends_with(
                "x.efi: PE machine is 0x8664 (amd64) but --uki linux/arm64 needs 0xaa64 (arm64)"
            ),
            "{msg}"
        );
    }

    #[test]
    fn refuses_pe32_and_non_efi() {
        let e = check(&fake_pe(0x8664, 0x10b, 10), Arch::Amd64).unwrap_err();
        assert!(matches!(e, Error::NotPe32Plus { magic: 0x10b, .. }), "{e}");
        let e = check(&fake_pe(0x8664, 0x20b, 3), Arch::Amd64).unwrap_err();
        assert!(
            e.to_string()
                .contains("PE subsystem is 3, not an EFI image"),
            "{e}"
        );
    }

    #[test]
    fn refuses_non_pe() {
        let e = check(b"#!/bin/sh\necho hi\n", Arch::Amd64).unwrap_err();
        assert!(
            e.to_string()
                .ends_with("x.efi: not a PE image (no MZ signature)"),
            "{e}"
        );
        let e = check(b"MZ\x90\0", Arch::Amd64).unwrap_err();
        assert!(
            e.to_string()
                .ends_with("x.efi: not a PE image (4 bytes, shorter than a DOS header)"),
            "{e}"
        );
        let mut v = vec![0u8; 128];
        v[..2].copy_from_slice(b"MZ");
        v[0x3c] = 0x40;
        let e = check(&v, Arch::Amd64).unwrap_err();
        assert!(
            e.to_string().contains("no PE signature at offset 0x40"),
            "{e}"
        );
    }
}
