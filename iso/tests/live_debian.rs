//! A real distribution in build-iso's image: scripts/live-iso.sh (what `task live-iso` runs)
//! builds Debian trixie roots for amd64, arm64 and riscv64 with mmdebstrap, each with its own
//! dracut-made dmsquash-live initramfs, systemd, udev and Debian's kernel, and packs the three into
//! one ISO. Each arch boots it as a CD and as a disk under edk2 (arm64 and riscv64 also as a disk
//! under U-Boot) until the root's peln-live-ready.service, ordered after multi-user.target, prints
//!
//!   PELN-LIVE-READY: arch=<uname -m> root=overlay squashfs=squashfs-<uname -m>.img
//!     id=debian-<uname -m> systemd=<version> failed=0[]
//!
//! and powers off. Built roots are cached by content under $PELN_CACHE_DIR/live-iso (a rerun only
//! repacks the ISO); QEMU boots run one at a time through the harness's lock.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::live::{uname, BUILD_ISO};
use peln_tests::cc::run_checked;
use peln_tests::env::repo_root;
use peln_tests::{check_needs, skip_unless, Arch, BootOpts, BootResult, FirmwareKind, Media, Need};

/// systemd to multi-user.target under TCG: ~1–2 min per boot here; generous for a loaded machine.
const TIMEOUT: Duration = Duration::from_secs(900);

/// The three-arch live ISO, built once per test binary (`None`: skipped).
fn live_iso() -> Option<&'static PathBuf> {
    static ISO: OnceLock<Option<PathBuf>> = OnceLock::new();
    ISO.get_or_init(|| {
        for t in [
            "mmdebstrap",
            "mksquashfs",
            "chroot",
            "qemu-aarch64",
            "qemu-riscv64",
        ] {
            if !common::have_tool(t) {
                return None;
            }
        }
        let dir = common::scratch("live-debian");
        let start = Instant::now();
        let log = run_checked(
            Command::new(repo_root().join("scripts/live-iso.sh"))
                .arg(&dir)
                .env("BUILD_ISO", BUILD_ISO),
            "scripts/live-iso.sh",
        );
        println!("{log}live-iso.sh: {:.0} s", start.elapsed().as_secs_f64());
        Some(dir.join("live.iso"))
    })
    .as_ref()
}

fn boot(arch: Arch, media: Media, firmware: FirmwareKind) -> Option<BootResult> {
    let need = match firmware {
        FirmwareKind::Edk2 => Need::Qemu,
        FirmwareKind::UBoot => Need::QemuUBoot,
    };
    skip_unless(check_needs(arch, &[need]))?;
    let what = format!("{arch} {media:?} {firmware:?}");
    let opts = BootOpts {
        timeout: TIMEOUT,
        // The ready unit powers the machine off after its line: QEMU exits (-no-reboot).
        stop_when: None,
        memory_mib: Some(2048),
        firmware,
        ..BootOpts::default()
    };
    let r = peln_tests::boot(arch, &media, opts);
    println!("{what}: {:.1} s", r.elapsed.as_secs_f64());
    Some(r)
}

/// The ready line's `key=value` fields, or a panic with the boot log. The line may follow a
/// serial getty's login prompt on the same console line.
fn ready_fields(r: &BootResult) -> Vec<(String, String)> {
    let line = r
        .serial
        .lines()
        .find_map(|l| {
            l.split_once("PELN-LIVE-READY: ")
                .map(|(_, rest)| rest.trim())
        })
        .unwrap_or_else(|| panic!("no PELN-LIVE-READY line:\n{}", r.describe()));
    line.split(' ')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// One boot reached multi-user.target on the arch's own squashfs, with no failed unit.
fn assert_ready(arch: Arch, r: &BootResult) {
    let u = uname(arch.pectl_machine());
    let fields = ready_fields(r);
    let get = |k: &str| {
        fields
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("{k} missing in {fields:?}\n{}", r.describe()))
    };
    let ctx = || r.describe();
    assert_eq!(get("arch"), u, "{}", ctx());
    assert_eq!(get("root"), "overlay", "{}", ctx());
    assert_eq!(get("squashfs"), format!("squashfs-{u}.img"), "{}", ctx());
    assert_eq!(get("id"), format!("debian-{u}"), "{}", ctx());
    assert!(!get("systemd").is_empty(), "{}", ctx());
    assert_eq!(get("failed"), "0[]", "{}", ctx());
    r.assert_exited();
}

fn boots(arch: Arch) {
    let Some(iso) = live_iso() else { return };
    for media in [Media::Cdrom(iso.clone()), Media::Disk(iso.clone())] {
        let Some(r) = boot(arch, media, FirmwareKind::Edk2) else {
            return;
        };
        assert_ready(arch, &r);
    }
    if arch != Arch::Amd64 {
        let Some(r) = boot(arch, Media::Disk(iso.clone()), FirmwareKind::UBoot) else {
            return;
        };
        assert_ready(arch, &r);
    }
}

peln_tests::tests_of!(boots:
    debian_live_boots_amd64 => Arch::Amd64,
    debian_live_boots_arm64 => Arch::Arm64,
    debian_live_boots_riscv64 => Arch::Riscv64,
);
