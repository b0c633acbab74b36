//! The checks on boot inputs, on peln's one PE reader: first the ones that give this tool's own
//! messages (not a PE image, PE32, wrong machine for the `--uki` slot, not EFI), then
//! `pectl verify`'s load checks ([`peln_pe::verify`]). The file is mapped rather than read (a UKI
//! can be hundreds of MiB; the bytes are copied later, streamed, into the ESP).

use std::fs::File;
use std::path::Path;

use peln_pe::Headers;

use crate::arch::Arch;
use crate::error::{Error, Result};

/// What the checks learned about a valid input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeInfo {
    pub machine: u16,
    pub subsystem: u16,
    pub size: u64,
}

/// EFI_APPLICATION, EFI_BOOT_SERVICE_DRIVER, EFI_RUNTIME_DRIVER.
const EFI_SUBSYSTEMS: [u16; 3] = [10, 11, 12];

/// Check that `path` is a PE32+ EFI image for `arch` that firmware would load.
pub fn validate(path: &Path, arch: Arch) -> Result<PeInfo> {
    let f = File::open(path).map_err(|e| Error::io("open", path, e))?;
    let meta = f.metadata().map_err(|e| Error::io("stat", path, e))?;
    if !meta.is_file() {
        return Err(Error::NotPe {
            path: path.into(),
            reason: "not a regular file".into(),
        });
    }
    let size = meta.len();
    // An empty file cannot be mapped; it is simply not a PE image.
    let map = match size {
        0 => None,
        // SAFETY: the mapping is read-only and private; the build reads inputs that it expects
        // to stay put (copy_sparse fails a build whose input changed size underneath it).
        _ => Some(unsafe { memmap2::Mmap::map(&f) }.map_err(|e| Error::io("map", path, e))?),
    };
    let data: &[u8] = map.as_deref().unwrap_or(&[]);
    let h = Headers::parse(data).map_err(|e| Error::NotPe {
        path: path.into(),
        reason: e.0,
    })?;
    if !h.pe32plus {
        return Err(Error::NotPe32Plus {
            path: path.into(),
            magic: object_magic(data, &h),
        });
    }
    if h.machine != arch.pe_machine() {
        return Err(Error::WrongMachine {
            path: path.into(),
            arch,
            found: h.machine,
        });
    }
    if !EFI_SUBSYSTEMS.contains(&h.subsystem) {
        return Err(Error::NotEfi {
            path: path.into(),
            subsystem: h.subsystem,
        });
    }
    let report = peln_pe::verify::verify(data);
    if !report.is_clean() {
        return Err(Error::NotLoadable {
            path: path.into(),
            errors: report.error_text(),
        });
    }
    Ok(PeInfo {
        machine: h.machine,
        subsystem: h.subsystem,
        size,
    })
}

/// The optional header's magic (Headers keeps only whether it is PE32+).
fn object_magic(data: &[u8], h: &Headers) -> u16 {
    peln_pe::headers::rd16(data, h.opt).unwrap_or(0)
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
