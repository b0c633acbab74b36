//! `pectl uki` with systemd's own UKI stub (`linuxx64.efi.stub` from Debian's systemd-boot-efi) and
//! Debian's kernel: the UKI must boot in OVMF to the initramfs's `/init`, which prints its marker
//! and the command line systemd-stub handed to the kernel from the UKI's `.cmdline` section.
//!
//! Also, ignored by default (a debugging aid, ~15 s per arch): the same kernels and initramfs
//! booted through the UEFI Shell without any UKI, on amd64, arm64 and riscv64:
//! `cargo test -p peln-tests --test uki_systemd_stub -- --ignored --nocapture`.
use peln_tests::kernel::{self, KERNEL_ARCHES};
use peln_tests::pe::PeInfo;
use peln_tests::stub;
use peln_tests::{boot_efi_with, check_needs, require, Arch, Need, WorkDir};

#[test]
fn systemd_stub_uki_boots_debian_kernel_amd64() {
    let arch = Arch::Amd64;
    require!(check_needs(arch, &[Need::Qemu]));
    require!(kernel::check_initramfs_tools());
    let stub = require!(kernel::systemd_stub());
    let linux = require!(kernel::kernel(arch));
    let work = WorkDir::new("uki-systemd-stub");
    let initrd = kernel::build_initramfs(arch, work.path());
    let cmdline = format!("{} panic=-1 peln.uki=systemd-stub", kernel::console(arch));
    let uki = work.join("uki.efi");

    let args = stub::uki_args(&stub, &linux, &[initrd], Some(&cmdline), &uki);
    if let Err(e) = pectl::run(args) {
        panic!("pectl uki failed: {e}");
    }
    let pe = PeInfo::read(&uki);
    assert_eq!(pe.machine, arch.pe_machine());
    for s in [".linux", ".initrd", ".cmdline"] {
        assert!(
            pe.section(s).is_some(),
            "{} has no {s} section: {:?}",
            uki.display(),
            pe.sections.iter().map(|s| &s.name).collect::<Vec<_>>()
        );
    }

    let r = boot_efi_with(arch, &uki, kernel::kernel_boot_opts());
    kernel::assert_init_ran(&r, arch, "peln.uki=systemd-stub");
    assert_eq!(
        kernel::init_cmdline(&r.serial),
        Some(cmdline.as_str()),
        "the kernel must see exactly the UKI's .cmdline\n{}",
        r.describe()
    );
    println!(
        "systemd-stub UKI, {arch}: /init ran, QEMU off after {:.1} s",
        r.elapsed.as_secs_f64()
    );
}

#[test]
#[ignore = "debugging aid: boots three kernels through the UEFI Shell (~15 s each)"]
fn debian_kernels_boot_from_uefi_shell() {
    for arch in KERNEL_ARCHES {
        require!(check_needs(arch, &[Need::Qemu]));
        require!(kernel::kernel(arch));
    }
    require!(kernel::check_initramfs_tools());
    let work = WorkDir::new("kernel-shell");
    for arch in KERNEL_ARCHES {
        let linux = kernel::kernel(arch).unwrap();
        let initrd = kernel::build_initramfs(arch, work.path());
        let cmdline = format!("{} panic=-1 peln.shell={arch}", kernel::console(arch));
        let r = kernel::boot_from_uefi_shell(arch, &linux, &initrd, &cmdline, work.path());
        kernel::assert_init_ran(&r, arch, &cmdline);
        println!(
            "UEFI Shell, {arch}: /init ran, QEMU off after {:.1} s",
            r.elapsed.as_secs_f64()
        );
    }
}
