//! arm64 boot tests of our linker: the C test program compiled as COFF and as ELF (`-fno-pic`,
//! `-fpie`), linked in-process by `pectl link --machine arm64`, booted in QEMU virt -cpu max with
//! AAVMF; each must print every `PELN check <name>: ok` line and `PELN RESULT: PASS 11/11`, then
//! shut the machine down. Plus the lld-link cross-check, the Rust no_std hello, and range-extension
//! thunks: the same program with 130 MiB of code between `efi_main` and everything it calls.
use std::path::{Path, PathBuf};
use std::process::Command;

use peln_tests::cc::run_checked;
use peln_tests::env::{need_tool, CLANG};
use peln_tests::rust::assert_rust_hello_with_pectl_boots;
use peln_tests::{
    assert_pectl_prints_what_lld_link_prints, assert_program_passed, boot_efi, build_test_program,
    check_needs, link_with_pectl, pectl_c_program_passes, require, Arch, LinkOpts, Need, ObjFormat,
    Variant, WorkDir,
};

const ARCH: Arch = Arch::Arm64;

/// The C program built as `variant` and linked by pectl with its defaults boots in AAVMF and
/// passes every check.
fn passes(variant: Variant) {
    pectl_c_program_passes(pectl::run, ARCH, &variant, &LinkOpts::default());
}

peln_tests::tests_of!(passes:
    /// COFF from `aarch64-pc-windows-msvc`: ADDR64, BRANCH26, PAGEBASE_REL21, PAGEOFFSET_12A/12L,
    /// addends kept in the instructions.
    pectl_arm64_coff_c_program_boots_in_aavmf_and_passes_every_check => Variant::coff(),
    /// ELF `-fno-pic`: ABS64, ADR_PREL_PG_HI21, ADD_ABS_LO12_NC, LDST8/32/64_ABS_LO12_NC, CALL26.
    pectl_arm64_elf_nopic_c_program_boots_in_aavmf_and_passes_every_check => Variant::elf_no_pic(),
    /// ELF `-fpie`: adds ADR_GOT_PAGE + LD64_GOT_LO12_NC (GOT slots with DIR64 base relocations)
    /// and PREL32 jump tables.
    pectl_arm64_elf_pie_c_program_boots_in_aavmf_and_passes_every_check => Variant::elf_pie(),
);

/// The same COFF objects linked by lld-link-19 and by pectl boot to identical `PELN` lines.
#[test]
fn pectl_and_lld_link_arm64_coff_same_objects_print_identical_peln_lines() {
    assert_pectl_prints_what_lld_link_prints(pectl::run, ARCH);
}

/// A `#![no_std]` Rust object for `aarch64-unknown-uefi` (COFF) plus the sysroot's libcore and
/// libcompiler_builtins rlibs.
#[test]
fn pectl_arm64_rust_no_std_hello_with_sysroot_rlibs_boots() {
    assert_rust_hello_with_pectl_boots(pectl::run, ARCH);
}

/// Code between `main` and the objects it calls: beyond the ±128 MiB of `bl`.
const PAD: u32 = 130 << 20;

/// ELF: an executable NOBITS section, assembled by clang (no file bytes in the object).
fn elf_pad(dir: &Path) -> PathBuf {
    let src = dir.join("pad.s");
    std::fs::write(
        &src,
        format!(".section .text.pad,\"ax\",@nobits\n.p2align 2\n.skip {PAD}\n"),
    )
    .unwrap();
    let out = dir.join("pad.o");
    let clang = need_tool(CLANG).unwrap_or_else(|e| panic!("{e}"));
    let mut cmd = Command::new(clang);
    cmd.args(["-target", "aarch64-unknown-elf", "-c"])
        .arg(&src)
        .arg("-o")
        .arg(&out);
    run_checked(&mut cmd, "assembling the pad");
    out
}

/// COFF: a `.text` section flagged uninitialized (no raw data) and executable, which llvm-mc
/// cannot be asked for, so the object is written by hand: file header, one section header, an
/// empty symbol table and its 4-byte string table.
fn coff_pad(dir: &Path) -> PathBuf {
    const IMAGE_SCN_CNT_UNINITIALIZED_DATA: u32 = 0x80;
    const IMAGE_SCN_ALIGN_4BYTES: u32 = 0x0030_0000;
    const IMAGE_SCN_MEM_EXECUTE: u32 = 0x2000_0000;
    const IMAGE_SCN_MEM_READ: u32 = 0x4000_0000;
    let mut o = Vec::new();
    o.extend(0xaa64u16.to_le_bytes()); // Machine
    o.extend(1u16.to_le_bytes()); // NumberOfSections
    o.extend(0u32.to_le_bytes()); // TimeDateStamp
    o.extend(60u32.to_le_bytes()); // PointerToSymbolTable: after the section header
    o.extend(0u32.to_le_bytes()); // NumberOfSymbols
    o.extend(0u16.to_le_bytes()); // SizeOfOptionalHeader
    o.extend(0u16.to_le_bytes()); // Characteristics
    o.extend(b".text\0\0\0");
    o.extend([0u8; 8]); // VirtualSize, VirtualAddress
    o.extend(PAD.to_le_bytes()); // SizeOfRawData
    o.extend([0u8; 16]); // PointerToRawData/Relocations/Linenumbers, NumberOf...
    let flags = IMAGE_SCN_CNT_UNINITIALIZED_DATA
        | IMAGE_SCN_ALIGN_4BYTES
        | IMAGE_SCN_MEM_EXECUTE
        | IMAGE_SCN_MEM_READ;
    o.extend(flags.to_le_bytes());
    o.extend(4u32.to_le_bytes()); // string table size
    let out = dir.join("pad.obj");
    std::fs::write(&out, o).unwrap();
    out
}

/// Links `main`, the pad, then the other objects and the archive: every call out of `main` is a
/// `bl` beyond reach. The map must show thunks and the program must still pass.
fn far_calls_boot(variant: &Variant) {
    require!(check_needs(ARCH, &[Need::Clang, Need::LlvmAr, Need::Qemu]));
    let work = WorkDir::new(&format!("arm64-{}-thunks", variant.name));
    let program = build_test_program(ARCH, variant, &work.subdir("obj"));
    let pad = match variant.format {
        ObjFormat::Elf => elf_pad(&work.subdir("pad")),
        ObjFormat::Coff => coff_pad(&work.subdir("pad")),
    };
    let mut inputs = program.inputs();
    assert!(inputs[0].file_stem().is_some_and(|s| s == "main"));
    inputs.insert(1, pad);
    let map = work.join("far.map");
    let efi = link_with_pectl(
        pectl::run,
        ARCH,
        &work.join("BOOTAA64.EFI"),
        &inputs,
        &LinkOpts::default().map(&map),
    );
    let map = std::fs::read_to_string(&map).unwrap();
    assert!(
        map.lines()
            .any(|l| l.contains(" thunks after ") && l.contains("main.")),
        "no thunks after main in the map:\n{map}"
    );
    assert_program_passed(&boot_efi(ARCH, &efi));
}

#[test]
fn pectl_arm64_elf_calls_across_130_mib_go_through_thunks_and_boot() {
    far_calls_boot(&Variant::elf_no_pic());
}

#[test]
fn pectl_arm64_coff_calls_across_130_mib_go_through_thunks_and_boot() {
    far_calls_boot(&Variant::coff());
}
