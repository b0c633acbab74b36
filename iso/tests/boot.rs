//! Boot truth: images built by cloud-boot-iso start Debian's UEFI Shell (third-party PE files)
//! from the image itself, under QEMU 10 + edk2 2025.02, as a CD-ROM (El Torito) and as a raw
//! disk (GPT partition 2). Boots are serialised (see common::boot).

mod common;

use std::fs;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use common::{
    assert_shell_from_media, boot, build, build_image, gpt_partition, read_at, scratch, shell,
    u32le, uki_args, Media,
};

const ARCHES: [&str; 4] = ["amd64", "arm64", "riscv64", "loongarch64"];
const TIMEOUT: Duration = Duration::from_secs(120);

/// All four shells in one image (ESP 16 MiB, El Torito count 32768). `None` without firmware.
fn shells_iso() -> Option<&'static Path> {
    static IMG: OnceLock<Option<PathBuf>> = OnceLock::new();
    IMG.get_or_init(|| {
        let mut args = Vec::new();
        for a in ARCHES {
            args.extend(uki_args(a, &shell(a)?));
        }
        Some(build_image(args, scratch("boot").join("shells.iso")))
    })
    .as_deref()
}

/// amd64 and arm64 shells padded to 12 MiB each (trailing zeros after the PE image, which the
/// loader ignores): 24 MiB × 1.5 + 8 → a 48 MiB ESP, past El Torito's 16-bit sector count.
fn big_esp_iso() -> Option<&'static Path> {
    static IMG: OnceLock<Option<PathBuf>> = OnceLock::new();
    IMG.get_or_init(|| {
        let d = scratch("boot");
        let mut args = Vec::new();
        for a in ["amd64", "arm64"] {
            let src = shell(a)?;
            let padded = d.join(format!("padded-{a}.efi"));
            fs::copy(&src, &padded).unwrap();
            let f = fs::File::options().write(true).open(&padded).unwrap();
            f.set_len(12 << 20).unwrap();
            // A non-zero last byte, so the whole 12 MiB really is in the ESP.
            f.write_all_at(&[0xA5], (12 << 20) - 1).unwrap();
            args.extend(uki_args(a, &padded));
        }
        Some(build_image(args, d.join("big-esp.iso")))
    })
    .as_deref()
}

fn boot_shell(img: &Path, arch: &str, media: Media) {
    let expect = match media {
        Media::Cd => "/CDROM(".to_string(),
        // The ESP by its GPT position and unique GUID, as edk2's partition driver saw it.
        Media::Disk => format!("/HD(2,GPT,{}", gpt_partition(img, 2).2),
    };
    let Some(b) = boot(arch, media, img, TIMEOUT) else {
        return;
    };
    assert_shell_from_media(arch, media, &b, &expect);
    eprintln!(
        "{arch} {media:?}: shell from the image in {:.1}s",
        b.elapsed.as_secs_f64()
    );
}

macro_rules! shell_boot {
    ($name:ident, $arch:literal, $media:expr) => {
        #[test]
        fn $name() {
            if let Some(img) = shells_iso() {
                boot_shell(img, $arch, $media);
            }
        }
    };
}

shell_boot!(shell_amd64_cd, "amd64", Media::Cd);
shell_boot!(shell_amd64_disk, "amd64", Media::Disk);
shell_boot!(shell_arm64_cd, "arm64", Media::Cd);
shell_boot!(shell_arm64_disk, "arm64", Media::Disk);
shell_boot!(shell_riscv64_cd, "riscv64", Media::Cd);
shell_boot!(shell_riscv64_disk, "riscv64", Media::Disk);
shell_boot!(shell_loongarch64_cd, "loongarch64", Media::Cd);
shell_boot!(shell_loongarch64_disk, "loongarch64", Media::Disk);

/// The image really is past the 16-bit El Torito count: the catalog says 0 and the ISO volume
/// ends where the ESP ends (what edk2 uses instead of the count).
fn check_big_esp_layout(img: &Path) {
    let (first, last, _) = gpt_partition(img, 2);
    assert_eq!((last + 1 - first) * 512, 48 << 20);
    let br = read_at(img, 17 * 2048, 2048);
    let cat = read_at(img, u32le(&br, 71) as u64 * 2048, 64);
    assert_eq!(u16::from_le_bytes([cat[38], cat[39]]), 0, "sector count");
    assert_eq!(u32le(&cat, 40) as u64 * 4, first);
    let pvd = read_at(img, 16 * 2048, 2048);
    assert_eq!(u32le(&pvd, 80) as u64 * 4, last + 1);
}

macro_rules! big_esp_boot {
    ($name:ident, $arch:literal, $media:expr) => {
        #[test]
        fn $name() {
            if let Some(img) = big_esp_iso() {
                check_big_esp_layout(img);
                boot_shell(img, $arch, $media);
            }
        }
    };
}

big_esp_boot!(big_esp_amd64_cd, "amd64", Media::Cd);
big_esp_boot!(big_esp_amd64_disk, "amd64", Media::Disk);
big_esp_boot!(big_esp_arm64_cd, "arm64", Media::Cd);
big_esp_boot!(big_esp_arm64_disk, "arm64", Media::Disk);

/// The oracle is not vacuous: an image without BOOTX64.EFI makes OVMF fall back to its
/// built-in shell, which prints the same banner, and the check must refuse that.
#[test]
fn oracle_rejects_firmware_builtin_shell() {
    let Some(aa64) = shell("arm64") else {
        return;
    };
    let out = scratch("boot").join("arm64-only.iso");
    build(&[
        "--uki",
        &format!("linux/arm64={}", aa64.display()),
        "-q",
        "-o",
        &out.display().to_string(),
    ]);
    let Some(b) = boot("amd64", Media::Cd, &out, TIMEOUT) else {
        return;
    };
    assert!(
        b.serial.contains("UEFI Interactive Shell v"),
        "{}",
        b.serial
    );
    let verdict = std::panic::catch_unwind(|| {
        assert_shell_from_media("amd64", Media::Cd, &b, "/CDROM(");
    });
    assert!(
        verdict.is_err(),
        "fallback shell was taken for a boot from the image"
    );
}
