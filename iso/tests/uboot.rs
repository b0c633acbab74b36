//! A second UEFI implementation: Debian's U-Boot (`u-boot-qemu` 2025.01) boots our images as a
//! virtio disk on amd64, arm64 and riscv64 (QEMU 10, TCG, one QEMU at a time through the harness's
//! lock).
//!
//! * The e2e ISO: what `task e2e` makes (our stub linked by pectl, Debian's kernel and the
//!   `/init` of scripts/mkinitramfs.sh packed by `pectl uki`, in one cloud-boot-iso image), built
//!   by the same helpers in-process for the three arches; each boot must reach `/init`'s marker with
//!   the UKI's command line.
//! * A build-iso live ISO (scripts/mklive.sh roots): U-Boot starts systemd-boot from the ESP,
//!   which must read `loader/loader.conf` and the BLS entries, keep only its own arch's entry and
//!   load the kernel and initramfs from the ESP; the live root prints its marker.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use common::live::{self, assert_own_arch_booted, mklive, uname};
use peln_tests::kernel::{self, assert_init_ran};
use peln_tests::stub::{build_kernel_uki, check_stub_toolchain};
use peln_tests::{check_needs, skip_unless, Arch, BootOpts, BootResult, FirmwareKind, Media, Need};

/// The arches Debian's u-boot-qemu is built for (amd64 on QEMU's i440FX `pc` machine: see the
/// README's U-Boot section).
const ARCHES: [Arch; 3] = [Arch::Amd64, Arch::Arm64, Arch::Riscv64];

/// Linux under TCG: ~10–30 s per boot here; generous for a loaded CI machine.
const TIMEOUT: Duration = Duration::from_secs(300);

/// The e2e UKI's command line, as the Taskfile's `uki-ARCH` has it.
fn e2e_cmdline(arch: Arch) -> String {
    format!("{} panic=-1 peln.e2e={arch}", kernel::console(arch))
}

/// Everything the e2e image needs, or the skip policy.
fn e2e_needs(arch: Arch) -> Option<()> {
    skip_unless(check_needs(arch, &[Need::Clang, Need::QemuUBoot]))?;
    skip_unless(check_stub_toolchain(arch))?;
    skip_unless(kernel::kernel(arch))?;
    skip_unless(kernel::check_initramfs_tools())
}

/// The three-arch e2e image, built once per test binary.
fn e2e_iso() -> Option<&'static PathBuf> {
    static ISO: OnceLock<Option<PathBuf>> = OnceLock::new();
    ISO.get_or_init(|| {
        let dir = common::scratch("uboot-e2e");
        let stub_target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("peln-stub");
        let mut args = vec!["-V".to_string(), "PELN_E2E".into()];
        for arch in ARCHES {
            e2e_needs(arch)?;
            let arch_dir = dir.join(arch.pectl_machine());
            std::fs::create_dir_all(&arch_dir).unwrap();
            let uki = build_kernel_uki(
                pectl::run,
                arch,
                &arch_dir,
                &stub_target,
                &e2e_cmdline(arch),
            );
            args.extend(common::uki_args(arch, &uki));
        }
        Some(common::build_image(args, dir.join("boot.iso")))
    })
    .as_ref()
}

/// The three-arch live image (mklive's busybox roots), built once per test binary.
fn live_iso() -> Option<&'static PathBuf> {
    static ISO: OnceLock<Option<PathBuf>> = OnceLock::new();
    ISO.get_or_init(|| {
        let mut args = Vec::new();
        for arch in ARCHES {
            let name = uname(arch.pectl_machine());
            let l = mklive(arch.pectl_machine(), &format!("uboot-{name}"))?;
            args.extend(l.arch_args(name));
        }
        let out = common::scratch("uboot-live").join("live.iso");
        Some(live::build_image(args, out))
    })
    .as_ref()
}

/// Boots `image` as a virtio disk under U-Boot; `None` (skipped) without QEMU or U-Boot.
fn boot_disk(arch: Arch, image: &Path) -> Option<BootResult> {
    skip_unless(check_needs(arch, &[Need::QemuUBoot]))?;
    let opts = BootOpts {
        timeout: TIMEOUT,
        // Both payloads power the machine off after their marker: QEMU exits (-no-reboot).
        stop_when: None,
        memory_mib: Some(kernel::KERNEL_MEMORY_MIB),
        firmware: FirmwareKind::UBoot,
        ..BootOpts::default()
    };
    let r = peln_tests::boot(arch, &Media::Disk(image.to_path_buf()), opts);
    println!("{arch}: U-Boot, disk, {:.1} s", r.elapsed.as_secs_f64());
    Some(r)
}

/// U-Boot's own lines that show it, not edk2, ran the boot: its banner, and that it started the
/// boot file from the virtio disk, by one of its two routes: the EFI boot manager's option it
/// makes for each disk (arm64, riscv64: `Booting: virtio 0`), or standard boot's EFI method on the
/// ESP, GPT partition 2 of the hybrid image (x86, whose build has no EFI boot manager in its boot
/// order).
fn assert_uboot(r: &BootResult) {
    r.assert_contains("U-Boot 20");
    assert!(
        r.serial.contains("Booting: virtio 0")
            || r.serial
                .contains("** Booting bootflow 'virtio-blk#0.bootdev.part_2' with efi"),
        "U-Boot did not say it booted the virtio disk\n{}",
        r.describe()
    );
}

fn e2e_iso_boots(arch: Arch) {
    let Some(iso) = e2e_iso() else { return };
    let Some(r) = boot_disk(arch, iso) else {
        return;
    };
    assert_uboot(&r);
    assert_init_ran(&r, arch, &e2e_cmdline(arch));
    assert_eq!(
        kernel::init_cmdline(&r.serial),
        Some(e2e_cmdline(arch).as_str()),
        "{}",
        r.describe()
    );
}

peln_tests::tests_of!(e2e_iso_boots:
    uboot_e2e_iso_disk_amd64 => Arch::Amd64,
    uboot_e2e_iso_disk_arm64 => Arch::Arm64,
    uboot_e2e_iso_disk_riscv64 => Arch::Riscv64,
);

fn live_iso_boots(arch: Arch) {
    let Some(iso) = live_iso() else { return };
    let Some(r) = boot_disk(arch, iso) else {
        return;
    };
    assert_uboot(&r);
    let u = uname(arch.pectl_machine());
    // systemd-boot read loader.conf's `default dakota-live-*` and dropped the other arch's
    // entry by its `architecture` key: it says so in its EFI variables.
    assert_own_arch_booted(&r, u, &format!("uboot-{u}"));
}

peln_tests::tests_of!(live_iso_boots:
    uboot_live_iso_disk_amd64 => Arch::Amd64,
    uboot_live_iso_disk_arm64 => Arch::Arm64,
    uboot_live_iso_disk_riscv64 => Arch::Riscv64,
);
