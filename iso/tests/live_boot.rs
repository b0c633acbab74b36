//! build-iso images booted for real (QEMU 10 + edk2, TCG, one QEMU at a time through the
//! harness's machine-wide lock): Debian's systemd-boot loads Debian's kernel with the live
//! initramfs of scripts/mklive.sh, which finds the volume by label, loop-mounts the arch's
//! squashfs under a tmpfs overlay and switches root; the root's /init prints
//!
//!   PELN-LIVE: arch=<uname -m> squashfs=<id> entries=[<LoaderEntries>] selected=[<LoaderEntrySelected>]
//!
//! so each boot proves which arch ran, which squashfs it came from, and which entries
//! systemd-boot listed (only its own arch's, thanks to the `architecture` key).

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use common::live::{self, assert_marker, assert_own_arch_booted, marker, mklive, uname, ARCHES};
use peln_tests::cc::run_checked;
use peln_tests::env::{check_needs, skip_or_fail, skip_unless, Need};
use peln_tests::{Arch, BootOpts, BootResult, Media};

/// Linux under TCG: ~25–55 s per boot here; generous for a loaded CI machine.
const TIMEOUT: Duration = Duration::from_secs(300);

fn peln_arch(arch: &str) -> Arch {
    match arch {
        "amd64" => Arch::Amd64,
        "arm64" => Arch::Arm64,
        "riscv64" => Arch::Riscv64,
        _ => Arch::Loongarch64,
    }
}

/// The squashfs id of an arch in the four-arch image.
fn id(arch: &str) -> String {
    format!("multi-{}", uname(arch))
}

/// The four-arch image, built once per test binary (`None`: skipped).
fn four_arch_iso() -> Option<&'static PathBuf> {
    static ISO: OnceLock<Option<PathBuf>> = OnceLock::new();
    ISO.get_or_init(|| {
        let mut args = Vec::new();
        for (arch, name, _) in ARCHES {
            let l = mklive(arch, &id(arch))?;
            args.extend(l.arch_args(name));
        }
        let out = common::scratch("live-boot").join("four.iso");
        Some(live::build_image(args, out))
    })
    .as_ref()
}

fn boot(arch: &str, media: Media) -> Option<BootResult> {
    boot_with(arch, media, BootOpts::default())
}

/// [`boot`] with `base`'s firmware choice and stop condition.
fn boot_with(arch: &str, media: Media, base: BootOpts) -> Option<BootResult> {
    if let Err(e) = check_needs(peln_arch(arch), &[Need::Qemu]) {
        skip_or_fail(&e);
        return None;
    }
    Some(peln_tests::boot(
        peln_arch(arch),
        &media,
        BootOpts {
            timeout: TIMEOUT,
            // loongarch64 virt needs more than 1 GiB for the kernel + initramfs + tmpfs overlay.
            memory_mib: Some(if arch == "loongarch64" { 2048 } else { 1024 }),
            ..base
        },
    ))
}

/// One arch boots its own squashfs from the four-arch image, and its systemd-boot listed only its
/// own entry (firmware-provided extras such as `auto-reboot-to-firmware-setup` aside).
fn four_arches_one_iso(arch: &str) {
    let Some(iso) = four_arch_iso() else { return };
    let u = uname(arch);
    for media in [Media::Cdrom(iso.clone()), Media::Disk(iso.clone())] {
        let Some(r) = boot(arch, media.clone()) else {
            return;
        };
        assert_own_arch_booted(&r, u, &id(arch));
    }
}

peln_tests::tests_of!(four_arches_one_iso:
    four_arches_one_iso_amd64 => "amd64",
    four_arches_one_iso_arm64 => "arm64",
    four_arches_one_iso_riscv64 => "riscv64",
    four_arches_one_iso_loongarch64 => "loongarch64",
);

/// `build-iso BOOT_TAR SQUASHFS OUTPUT`: the arch comes from the tar's systemd-boot, the root
/// from LiveOS/squashfs.img; a label of our own proves the initramfs matched on it.
#[test]
fn single_arch_form_boots_amd64_from_squashfs_img() {
    let Some(l) = mklive("amd64", "single-x86_64") else {
        return;
    };
    let out = common::scratch("live-boot").join("single.iso");
    let o = out.display().to_string();
    live::build(&[
        "-q",
        "-V",
        "PELN_SINGLE",
        &l.boot_tar.display().to_string(),
        &l.squashfs.display().to_string(),
        &o,
    ]);
    let Some(r) = boot("amd64", Media::Cdrom(out.clone())) else {
        return;
    };
    assert_marker(&r, "x86_64", "single-x86_64", "peln-single-x86_64.conf");
    assert!(
        r.serial
            .contains("PELN_SINGLE on /dev/sr0, LiveOS/squashfs.img"),
        "{}",
        r.describe()
    );
    assert!(!Path::new(&format!("{o}.tmp")).exists());
}

/// Debian's real dracut with its dmsquash-live module (scripts/mkdracut.sh) in place of mklive's
/// initramfs, for the same kernel and the four-arch image's x86_64 squashfs: same marker, from CD
/// and from disk (where udev's by-label link must point at the whole hybrid disk).
#[test]
fn real_dracut_dmsquash_live_boots_amd64() {
    let Some(l) = mklive("amd64", &id("amd64")) else {
        return;
    };
    if !common::have_tool("dracut") || !common::have_tool("depmod") {
        return;
    }
    let dir = common::scratch("live-dracut");
    run_checked(
        std::process::Command::new(peln_tests::env::repo_root().join("scripts/mkdracut.sh"))
            .arg(&dir),
        "scripts/mkdracut.sh",
    );
    let out = dir.join("dracut.iso");
    live::build(&[
        "-q",
        "--arch",
        &format!(
            "x86_64:{}:{}",
            dir.join("boot.tar").display(),
            l.squashfs.display()
        ),
        &out.display().to_string(),
    ]);
    for media in [Media::Cdrom(out.clone()), Media::Disk(out.clone())] {
        let Some(r) = boot("amd64", media) else {
            return;
        };
        let entries = assert_marker(&r, "x86_64", "multi-x86_64", "dakota-live-x86_64.conf");
        assert!(entries.contains(&"dakota-live-x86_64.conf".to_string()));
        assert!(
            r.serial.contains("dracut: Switching root"),
            "{}",
            r.describe()
        );
    }
}

/// A two-arch (x86_64, aarch64) image made with `--sign-key` and Debian's snakeoil key, which both
/// enforcing firmware builds trust, and the same image unsigned (`None`: skipped).
fn signed_and_unsigned_iso() -> Option<&'static (PathBuf, PathBuf)> {
    static ISOS: OnceLock<Option<(PathBuf, PathBuf)>> = OnceLock::new();
    ISOS.get_or_init(|| {
        let dir = common::scratch("live-secureboot");
        let key = skip_unless(peln_tests::secureboot::snakeoil(Arch::Amd64, &dir))?;
        let mut args = Vec::new();
        for (arch, name, _) in &ARCHES[..2] {
            let l = mklive(arch, &id(arch))?;
            args.extend(l.arch_args(name));
        }
        let plain = live::build_image(args.clone(), dir.join("plain.iso"));
        args.extend(
            peln_tests::secureboot::sign_flags(&key)
                .iter()
                .map(|a| a.to_string_lossy().into_owned()),
        );
        let signed = live::build_image(args, dir.join("signed.iso"));
        Some((signed, plain))
    })
    .as_ref()
}

/// Under enforcing firmware (edk2's Secure Boot build, snakeoil varstore) the signed image boots
/// its arch's squashfs as CD and as disk: firmware checked systemd-boot, and systemd-boot's
/// LoadImage of the kernel; the unsigned image is refused ("Access Denied").
fn secure_boot_signed_live_iso(arch: &str) {
    let Some((signed, plain)) = signed_and_unsigned_iso() else {
        return;
    };
    let Some(fw) = skip_unless(peln_tests::secure_boot_firmware(peln_arch(arch))) else {
        return;
    };
    let secure = |stop_when: Option<String>| BootOpts {
        secure_boot: Some(fw.snakeoil_vars.clone()),
        stop_when,
        ..BootOpts::default()
    };
    for media in [Media::Cdrom(signed.clone()), Media::Disk(signed.clone())] {
        let Some(r) = boot_with(arch, media.clone(), secure(None)) else {
            return;
        };
        println!(
            "{arch} signed live {media:?}: {:.1} s",
            r.elapsed.as_secs_f64()
        );
        let (got_arch, squashfs, _, _) = marker(&r);
        assert_eq!(
            (got_arch.as_str(), squashfs),
            (uname(arch), id(arch)),
            "{}",
            r.describe()
        );
    }
    let stop = Some(peln_tests::ACCESS_DENIED.to_string());
    let Some(r) = boot_with(arch, Media::Disk(plain.clone()), secure(stop)) else {
        return;
    };
    println!("{arch} unsigned live: {:.1} s", r.elapsed.as_secs_f64());
    peln_tests::secureboot::assert_refused(&r, "PELN-LIVE");
}

peln_tests::tests_of!(secure_boot_signed_live_iso:
    secure_boot_signed_live_iso_amd64 => "amd64",
    secure_boot_signed_live_iso_arm64 => "arm64",
);
