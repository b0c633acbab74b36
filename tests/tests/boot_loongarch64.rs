//! loongarch64 boot tests: the C test program from clang-19 in the `-fno-pic`, `-fpie`,
//! `-mcmodel=medium` (CALL36), `-mcmodel=extreme` (PCALA64/GOT64 halves) and relax (R_LARCH_ALIGN)
//! variants; an `la.abs` program that only passes if edk2 applied our MARK_LA base relocation; and
//! a Rust `#![no_std]` program for `loongarch64-unknown-none` (core built with `-Zbuild-std`)
//! whose R_LARCH_RELAX-marked sequences are relaxed. All linked in-process by `pectl link`, booted
//! in QEMU virt -cpu la464 with edk2's loongarch64 QEMU_EFI.fd.
use std::path::PathBuf;
use std::process::Command;

use peln_tests::cc::{compile_c, run_checked};
use peln_tests::pe::PeInfo;
use peln_tests::program::programs_dir;
use peln_tests::rust::{assert_rust_hello_passed, hello_source};
use peln_tests::{
    boot_efi, c_program_with_pectl, check_needs, link_with_pectl, require, Arch, LinkOpts, Need,
    ObjFormat, Variant, WorkDir,
};

const ARCH: Arch = Arch::Loongarch64;
const RELAX: &[&str] = &["-Xclang", "-target-feature", "-Xclang", "+relax"];

fn passes(variant: Variant) {
    if let Some(run) = c_program_with_pectl(pectl::run, ARCH, &variant, &LinkOpts::default()) {
        run.assert_passed();
    }
}

#[test]
fn clang_nopic_boots() {
    // Extern data goes through the GOT even here (GOT_PC_HI20/LO12).
    passes(Variant::elf_no_pic());
}

#[test]
fn clang_pie_boots() {
    passes(Variant::elf_pie());
}

#[test]
fn clang_medium_call36_boots() {
    passes(Variant::elf().with_cflags("medium", &["-mcmodel=medium"]));
}

#[test]
fn clang_extreme_boots() {
    passes(Variant::elf().with_cflags("extreme", &["-mcmodel=extreme"]));
}

#[test]
fn clang_relax_align_boots() {
    passes(Variant::elf().with_cflags("relax", RELAX));
}

/// -g: DWARF with its ADD/SUB/ULEB128 relocations is copied in and verifies, and efi_main's
/// DW_AT_low_pc/high_pc match the map.
#[test]
fn clang_debug_info_boots_and_its_dwarf_matches_the_map() {
    let dir = tempfile::tempdir().unwrap();
    let map = dir.path().join("g.map");
    let mut flags = vec!["-g"];
    flags.extend_from_slice(RELAX);
    let variant = Variant::elf().with_cflags("g", &flags);
    let Some(run) =
        c_program_with_pectl(pectl::run, ARCH, &variant, &LinkOpts::default().map(&map))
    else {
        return;
    };
    run.assert_passed();
    peln_tests::dwarf::assert_dwarf_matches_map(&run.efi, &map, "efi_main");
}

#[test]
fn clang_medium_relax_boots() {
    let mut flags = vec!["-mcmodel=medium"];
    flags.extend_from_slice(RELAX);
    passes(Variant::elf().with_cflags("medium-relax", &flags));
}

/// `la.abs` builds an absolute address in four instructions; edk2 moves the image and patches
/// them through one IMAGE_REL_BASED_LOONGARCH64_MARK_LA entry.
#[test]
fn la_abs_is_relocated_by_firmware_through_mark_la() {
    require!(check_needs(ARCH, &[Need::Clang, Need::Qemu]));
    let work = WorkDir::new("loongarch64-la-abs");
    let obj = work.join("la_abs.o");
    compile_c(
        ARCH,
        ObjFormat::Elf,
        &["-O2"],
        &programs_dir().join("loongarch64/la_abs.c"),
        &obj,
    );
    let efi = link_with_pectl(
        pectl::run,
        ARCH,
        &work.join(ARCH.efi_boot_file()),
        &[obj],
        &LinkOpts::default(),
    );
    let boot = boot_efi(ARCH, &efi);
    boot.assert_contains("PELN la.abs: ok");
    assert!(!boot.serial.contains("FAIL"), "{}", boot.describe());
}

fn build_rust_staticlib(work: &WorkDir) -> Option<PathBuf> {
    let cargo = peln_tests::skip_unless(peln_tests::env::need_tool("cargo"))?;
    let dir = work.subdir("rust");
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"peln_hello\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
             [lib]\npath = {:?}\ncrate-type = [\"staticlib\"]\n\n\
             [profile.release]\npanic = \"abort\"\nopt-level = 2\ncodegen-units = 1\n\n[workspace]\n",
            hello_source().display().to_string()
        ),
    )
    .unwrap();
    let target_dir = dir.join("target");
    run_checked(
        Command::new(cargo)
            .current_dir(&dir)
            .env("RUSTC_BOOTSTRAP", "1")
            .env("RUSTFLAGS", "-C target-feature=+relax")
            .env("CARGO_TARGET_DIR", &target_dir)
            .args(["build", "--release", "--target", "loongarch64-unknown-none"])
            .args([
                "-Zbuild-std=core,compiler_builtins",
                "-Zbuild-std-features=compiler-builtins-mem",
            ]),
        "cargo -Zbuild-std for loongarch64-unknown-none (needs rustup's rust-src)",
    );
    Some(target_dir.join("loongarch64-unknown-none/release/libpeln_hello.a"))
}

/// Rust's output carries R_LARCH_RELAX on its PCALA and CALL36 pairs: relaxed and unrelaxed links
/// both boot, and relaxation makes `.text` smaller.
#[test]
fn rust_no_std_hello_boots_relaxed_and_unrelaxed() {
    require!(check_needs(ARCH, &[Need::Qemu]));
    let work = WorkDir::new("loongarch64-rust-hello");
    let Some(lib) = build_rust_staticlib(&work) else {
        return;
    };
    let relaxed = link_with_pectl(
        pectl::run,
        ARCH,
        &work.join("relaxed.efi"),
        std::slice::from_ref(&lib),
        &LinkOpts::default(),
    );
    let plain = link_with_pectl(
        pectl::run,
        ARCH,
        &work.join("plain.efi"),
        &[lib],
        &LinkOpts::default().no_relax(),
    );
    assert_rust_hello_passed(&boot_efi(ARCH, &relaxed));
    assert_rust_hello_passed(&boot_efi(ARCH, &plain));
    let text = |p: &PathBuf| {
        PeInfo::read(p)
            .section(".text")
            .expect(".text")
            .virtual_size
    };
    let (before, after) = (text(&plain), text(&relaxed));
    println!("loongarch64 .text: {before:#x} bytes with --no-relax, {after:#x} relaxed");
    assert!(
        after < before,
        "relaxed .text {after:#x} is not smaller than {before:#x}"
    );
}
