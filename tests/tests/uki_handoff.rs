//! peln's UKI stub on all four arches: `stub/build.sh` builds it, `pectl link` links it, `pectl uki`
//! packs it with the handoff payload (tests/programs/handoff) as `.linux`, two initrds and a
//! command line; edk2 boots the UKI from a FAT dir. The payload prints what it received the way
//! Linux's EFI stub takes it (LoadOptions; LoadFile2 on the initrd media device path), and the test
//! compares that with what was packed. The bare stub (no `.linux`) must say so and return to the
//! firmware, which then reports the stub's status and falls back to its next boot option.
use std::path::{Path, PathBuf};
use std::time::Duration;

use peln_tests::pe::{assert_uefi_image, PeInfo, IMAGE_SUBSYSTEM_EFI_APPLICATION};
use peln_tests::stub::{
    assert_handoff, banner, build_and_link_stub, build_handoff, check_stub_toolchain,
    joined_initrds, uki_args, unwrapped,
};
use peln_tests::{
    boot_efi, boot_efi_with, check_needs, pseudo_random_bytes, require, Arch, BootOpts, Need,
    WorkDir,
};

/// Ends with a newline, which the stub strips; the quotes and spaces must arrive unchanged.
const CMDLINE: &str = "console=ttyS0 peln.handoff=\"a b\" root=/dev/ram0 x=1\n";

/// The stub's own cargo target dir: not the one of the running `cargo test`.
fn stub_target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("peln-stub")
}

/// Builds and links the stub for `arch` in `work/stub`.
fn stub(arch: Arch, work: &WorkDir) -> PathBuf {
    let stub = build_and_link_stub(pectl::run, arch, &work.subdir("stub"), &stub_target_dir());
    assert_uefi_image(&stub, arch, IMAGE_SUBSYSTEM_EFI_APPLICATION);
    stub
}

fn hands_off(arch: Arch) {
    require!(check_needs(arch, &[Need::Clang, Need::Qemu]));
    require!(check_stub_toolchain(arch));
    let work = WorkDir::new(&format!("uki-handoff-{arch}"));
    let stub = stub(arch, &work);
    let payload = build_handoff(pectl::run, arch, &work.subdir("payload"));
    let initrds = [
        pseudo_random_bytes(5, 0x1234_5678),
        pseudo_random_bytes(301, 0x9abc_def0),
    ];
    let paths: Vec<PathBuf> = ["a.bin", "b.bin"].iter().map(|n| work.join(n)).collect();
    for (p, b) in paths.iter().zip(&initrds) {
        std::fs::write(p, b).unwrap();
    }
    let uki = work.join("uki.efi");
    let argv = uki_args(&stub, &payload, &paths, Some(CMDLINE), &uki);
    if let Err(e) = pectl::run(argv.clone()) {
        panic!("pectl uki failed: {e}\nargv: {argv:?}");
    }

    let initrd = joined_initrds(&initrds);
    assert_eq!(initrd.len(), 8 + 304);
    let pe = PeInfo::read(&uki);
    let linux = pe.section(".linux").expect("the UKI has a .linux section");
    let linux_len = linux.virtual_size.min(linux.size_of_raw_data) as usize;
    let cmdline = CMDLINE.trim_end();

    let r = boot_efi(arch, &uki);
    println!(
        "{arch}: UKI booted to the payload's shutdown in {:.1}s",
        r.elapsed.as_secs_f64()
    );
    let flat = unwrapped(&r.serial);
    let want = banner(arch, linux_len, initrd.len(), cmdline);
    assert!(
        flat.contains(&want),
        "expected the banner {want:?}\n{}",
        r.describe()
    );
    assert_handoff(&r, cmdline, &initrd);
    assert!(!r.serial.contains("peln-stub: panic"), "{}", r.describe());
    // edk2 2025.02 on loongarch64 enters applications with sp = 8 mod 16; the stub says so and
    // goes on. Elsewhere the stack is aligned, which also checks the shim's entry_sp arithmetic.
    if arch != Arch::Loongarch64 {
        assert!(!r.serial.contains("misaligned stack"), "{}", r.describe());
    }
}

fn bare_stub_returns(arch: Arch) {
    require!(check_needs(arch, &[Need::Clang, Need::Qemu]));
    require!(check_stub_toolchain(arch));
    let work = WorkDir::new(&format!("uki-bare-stub-{arch}"));
    let stub = stub(arch, &work);
    // After the stub returns EFI_NOT_FOUND, BdsDxe prints "failed to start Boot0001 ...: Not
    // Found" and boots its next option, the built-in UEFI Shell.
    let opts = BootOpts {
        timeout: Duration::from_secs(180),
        ..BootOpts::stop_when("UEFI Interactive Shell")
    };
    let r = boot_efi_with(arch, &stub, opts);
    println!(
        "{arch}: bare stub back to the boot manager in {:.1}s",
        r.elapsed.as_secs_f64()
    );
    assert!(
        r.stopped,
        "the firmware did not fall back to the Shell\n{}",
        r.describe()
    );
    let flat = unwrapped(&r.serial);
    let want = banner(arch, 0, 0, "");
    let at = flat
        .find(&want)
        .unwrap_or_else(|| panic!("expected the banner {want:?}\n{}", r.describe()));
    let rest = &flat[at + want.len()..];
    let error = "peln-stub: no .linux section";
    let at = rest
        .find(error)
        .unwrap_or_else(|| panic!("expected {error:?} after the banner\n{}", r.describe()));
    let rest = &rest[at + error.len()..];
    let failed = rest.find("BdsDxe: failed to start").unwrap_or_else(|| {
        panic!(
            "the firmware reported no failed boot after the stub's error\n{}",
            r.describe()
        )
    });
    assert!(
        rest[failed..].contains(": Not Found"),
        "the firmware did not get EFI_NOT_FOUND back\n{}",
        r.describe()
    );
}

peln_tests::tests_of!(hands_off:
    uki_hands_off_cmdline_and_initrd_amd64 => Arch::Amd64,
    uki_hands_off_cmdline_and_initrd_arm64 => Arch::Arm64,
    uki_hands_off_cmdline_and_initrd_riscv64 => Arch::Riscv64,
    uki_hands_off_cmdline_and_initrd_loongarch64 => Arch::Loongarch64,
);

peln_tests::tests_of!(bare_stub_returns:
    bare_stub_reports_no_linux_and_returns_amd64 => Arch::Amd64,
    bare_stub_reports_no_linux_and_returns_arm64 => Arch::Arm64,
    bare_stub_reports_no_linux_and_returns_riscv64 => Arch::Riscv64,
    bare_stub_reports_no_linux_and_returns_loongarch64 => Arch::Loongarch64,
);
