//! Toolchains drive pectl as their own linker, and the result boots: clang-19's MSVC driver
//! (`-fuse-ld=lld -B<dir with an lld-link link to pectl>`) on amd64 and arm64, clang-19's bare-metal
//! driver (`-fuse-ld=<pectl named ld.lld>`) on riscv64, and EDK2's CLANGPDB lld-link command line
//! on amd64 and arm64. The program is the self-checking C test program.
use std::path::Path;
use std::process::Command;

use peln_tests::cc::run_checked;
use peln_tests::env::{need_tool, CLANG};
use peln_tests::link::{edk2_clangpdb_release_options, pectl_named};
use peln_tests::pe::{assert_uefi_image, PeInfo, IMAGE_SUBSYSTEM_EFI_APPLICATION};
use peln_tests::{
    assert_program_passed, boot_efi, build_test_program, check_needs, require, Arch, Need, Variant,
    WorkDir,
};

/// Compiles the C program, links it by running `clang-19 <driver args> -nostdlib objs… archive
/// -o out`, boots it and asserts it passed.
fn clang_links_and_boots(arch: Arch, variant: Variant, driver: &dyn Fn(&Path) -> Vec<String>) {
    require!(check_needs(arch, &[Need::Clang, Need::LlvmAr, Need::Qemu]));
    let work = WorkDir::new(&format!("{arch}-clang-driver"));
    let program = build_test_program(arch, &variant, &work.subdir("obj"));
    let efi = work.join(arch.efi_boot_file());
    let mut cmd = Command::new(need_tool(CLANG).unwrap());
    cmd.args(driver(&work.subdir("bin")))
        .arg("-nostdlib")
        .args(program.inputs())
        .arg("-o")
        .arg(&efi);
    run_checked(&mut cmd, &format!("clang-19 linking with pectl for {arch}"));
    assert_uefi_image(&efi, arch, IMAGE_SUBSYSTEM_EFI_APPLICATION);
    assert_program_passed(&boot_efi(arch, &efi));
}

/// clang's MSVC driver runs `<-B dir>/lld-link -out:… -nologo objs…` for `-fuse-ld=lld`.
fn msvc_driver(triple: &'static str) -> impl Fn(&Path) -> Vec<String> {
    move |bin: &Path| {
        pectl_named(bin, "lld-link");
        vec![
            format!("--target={triple}"),
            "-fuse-ld=lld".into(),
            format!("-B{}", bin.display()),
            "-Wl,-entry:efi_main,-subsystem:efi_application".into(),
        ]
    }
}

#[test]
fn clang_msvc_driver_links_amd64_through_pectl_as_lld_link_and_it_boots() {
    clang_links_and_boots(
        Arch::Amd64,
        Variant::coff(),
        &msvc_driver("x86_64-pc-windows-msvc"),
    );
}

#[test]
fn clang_msvc_driver_links_arm64_through_pectl_as_lld_link_and_it_boots() {
    clang_links_and_boots(
        Arch::Arm64,
        Variant::coff(),
        &msvc_driver("aarch64-pc-windows-msvc"),
    );
}

#[test]
fn clang_baremetal_driver_links_riscv64_through_pectl_as_ld_lld_and_it_boots() {
    clang_links_and_boots(Arch::Riscv64, Variant::elf(), &|bin: &Path| {
        let ld = pectl_named(bin, "ld.lld");
        let mut args = vec![
            format!(
                "--target={}",
                Arch::Riscv64.clang_triple(peln_tests::ObjFormat::Elf)
            ),
            format!("-fuse-ld={}", ld.display()),
        ];
        // The same -march/-mabi the objects were compiled with, so clang picks matching dirs.
        args.extend(
            Arch::Riscv64
                .clang_arch_flags()
                .iter()
                .filter(|f| f.starts_with("-march") || f.starts_with("-mabi"))
                .map(|f| f.to_string()),
        );
        args
    });
}

/// EDK2's CLANGPDB RELEASE link line (tools_def `CLANGPDB_<ARCH>_DLINK_FLAGS` plus the RELEASE
/// additions; AARCH64 adds `/WX`), with `/SUBSYSTEM:EFI_APPLICATION` so the firmware starts it from
/// the boot path, and the inputs in an `@` file as EDK2's build passes its static libraries.
fn edk2_clangpdb_links_and_boots(arch: Arch, machine: &str, extra: &[&str]) {
    require!(check_needs(arch, &[Need::Clang, Need::LlvmAr, Need::Qemu]));
    let work = WorkDir::new(&format!("{arch}-edk2-clangpdb"));
    let program = build_test_program(arch, &Variant::coff(), &work.subdir("obj"));
    let libs = work.join("static_library_files.lst");
    let list: Vec<String> = program
        .inputs()
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    std::fs::write(&libs, list.join("\n")).unwrap();
    let efi = work.join(arch.efi_boot_file());
    let lld_link = pectl_named(&work.subdir("bin"), "lld-link");
    let mut cmd = Command::new(lld_link);
    cmd.arg(format!("/OUT:{}", efi.display()))
        .args(edk2_clangpdb_release_options(machine, "EFI_APPLICATION"))
        .args(extra)
        .arg(format!("@{}", libs.display()));
    run_checked(&mut cmd, "pectl as lld-link with EDK2's CLANGPDB options");
    let pe = PeInfo::read(&efi);
    assert_eq!(pe.image_base, 0, "/BASE:0");
    assert_eq!(pe.file_alignment, 32, "/FILEALIGN:32");
    assert_ne!(pe.characteristics & 0x2000, 0, "/DLL sets IMAGE_FILE_DLL");
    assert!(
        pe.sections.iter().all(|s| s.name != ".rdata"),
        "/MERGE:.rdata=.data leaves no .rdata: {:?}",
        pe.sections
    );
    assert!(
        efi.with_extension("map").is_file(),
        "/lldmap writes a map next to the image"
    );
    assert_program_passed(&boot_efi(arch, &efi));
}

#[test]
fn edk2_clangpdb_lld_link_line_links_amd64_and_it_boots() {
    edk2_clangpdb_links_and_boots(Arch::Amd64, "X64", &[]);
}

#[test]
fn edk2_clangpdb_lld_link_line_links_arm64_with_wx_and_it_boots() {
    edk2_clangpdb_links_and_boots(Arch::Arm64, "ARM64", &["/WX"]);
}
