//! riscv64 boot tests: the C test program compiled by clang-19 in the four `-fno-pic`/`-fpie` ×
//! `-mrelax`/`-mno-relax` variants, with `-g`, with aligned functions (R_RISCV_ALIGN), and by
//! Debian's riscv64-linux-gnu-gcc; each linked in-process by `pectl link --machine riscv64` and
//! booted in QEMU virt with edk2's RISCV_VIRT_CODE.fd, printing `PELN RESULT: PASS 11/11`.
use std::path::{Path, PathBuf};
use std::process::Command;

use peln_tests::cc::{archive, run_checked};
use peln_tests::program::{programs_dir, ARCHIVE_MEMBERS, OBJECT_SOURCES};
use peln_tests::rust::assert_rust_hello_with_pectl_boots;
use peln_tests::{
    assert_icf_folds_the_twin, boot_efi, c_program_with_pectl, check_needs, link_with_pectl,
    require, Arch, LinkOpts, Need, Variant, WorkDir,
};

const ARCH: Arch = Arch::Riscv64;

fn passes(variant: Variant, opts: LinkOpts) -> Option<peln_tests::ProgramRun> {
    let run = c_program_with_pectl(pectl::run, ARCH, &variant, &opts)?;
    run.assert_passed();
    Some(run)
}

#[test]
fn clang_nopic_relax_boots() {
    passes(
        Variant::elf_no_pic().with_cflags("relax", &["-mrelax"]),
        LinkOpts::default(),
    );
}

#[test]
fn clang_nopic_norelax_boots() {
    passes(
        Variant::elf_no_pic().with_cflags("norelax", &["-mno-relax"]),
        LinkOpts::default(),
    );
}

#[test]
fn clang_pie_relax_boots() {
    // -fpie adds GOT_HI20 (GOT slots with DIR64 base relocations) and ADD32/SUB32 jump tables.
    passes(
        Variant::elf_pie().with_cflags("relax", &["-mrelax"]),
        LinkOpts::default(),
    );
}

/// Identical code folding before relaxation: the twin function folds and the relaxed image,
/// one function shorter, still passes.
#[test]
fn clang_pie_relax_split_sections_icf_folds_the_twin_and_boots() {
    assert_icf_folds_the_twin(
        pectl::run,
        ARCH,
        &Variant::elf_pie()
            .with_cflags("relax", &["-mrelax"])
            .split_sections(),
    );
}

#[test]
fn clang_pie_norelax_boots() {
    passes(
        Variant::elf_pie().with_cflags("norelax", &["-mno-relax"]),
        LinkOpts::default(),
    );
}

/// -g: the DWARF sections (with their ADD/SUB/SET_ULEB128/SUB_ULEB128 pairs) go into the image;
/// llvm-dwarfdump verifies them and finds the functions where the map says, after relaxation moved
/// them.
#[test]
fn clang_debug_info_boots_and_its_dwarf_matches_the_relaxed_layout() {
    let dir = tempfile::tempdir().unwrap();
    let map = dir.path().join("g.map");
    let variant = Variant::elf().with_cflags("g", &["-g", "-mrelax"]);
    let Some(run) = passes(variant, LinkOpts::default().map(&map)) else {
        return;
    };
    peln_tests::dwarf::assert_dwarf_matches_map(&run.efi, &map, "efi_main");
    peln_tests::dwarf::assert_dwarf_matches_map(&run.efi, &map, "peln_ext_func");
}

fn text_size(efi: &Path) -> u32 {
    peln_tests::pe::PeInfo::read(efi)
        .section(".text")
        .expect(".text")
        .virtual_size
}

/// Functions aligned to 32 bytes: the assembler pads with NOPs marked R_RISCV_ALIGN, and relaxing
/// calls moves code, so the linker must re-pad. The program passes both ways, `.text` shrinks with
/// relaxation, and every function in the map is still 32-byte aligned.
#[test]
fn aligned_functions_stay_aligned_and_relaxation_shrinks_text() {
    let variant = Variant::elf().with_cflags("align32", &["-falign-functions=32", "-mrelax"]);
    let Some(relaxed) = passes(variant.clone(), LinkOpts::default()) else {
        return;
    };
    let map = relaxed.work.join("relaxed.map");
    let mapped = link_with_pectl(
        pectl::run,
        ARCH,
        &relaxed.work.join("mapped.efi"),
        &relaxed.program.inputs(),
        &LinkOpts::default().map(&map),
    );
    assert_eq!(
        std::fs::read(&mapped).unwrap(),
        std::fs::read(&relaxed.efi).unwrap()
    );
    let map = std::fs::read_to_string(&map).unwrap();
    let functions = [
        "efi_main",
        "peln_ext_func",
        "peln_lib_func",
        "peln_weak_overridden",
    ];
    for f in functions {
        let line = map
            .lines()
            .find(|l| l.trim_end().ends_with(&format!(" {f}")))
            .unwrap_or_else(|| panic!("{f} not in map:\n{map}"));
        let addr = u64::from_str_radix(line.split_whitespace().next().unwrap(), 16).unwrap();
        assert_eq!(addr % 32, 0, "{f} at {addr:#x} lost its alignment");
    }

    let unrelaxed = link_with_pectl(
        pectl::run,
        ARCH,
        &relaxed.work.join("norelax.efi"),
        &relaxed.program.inputs(),
        &LinkOpts::default().no_relax(),
    );
    boot_efi(ARCH, &unrelaxed).assert_contains(&peln_tests::program::pass_line());
    let (before, after) = (text_size(&unrelaxed), text_size(&relaxed.efi));
    println!("riscv64 .text: {before:#x} bytes with --no-relax, {after:#x} relaxed");
    assert!(
        after < before,
        ".text {after:#x} relaxed is not smaller than {before:#x}"
    );
}

/// A `.text` beyond `jal`'s 1 MiB reach: 1.25 MiB of padding code between the program's first
/// object and the rest. Calls on either side of it still become `jal`; calls across it stay
/// `auipc`+`jalr` (a wrong decision would fail the link with an out-of-range `jal`), and the
/// program passes.
#[test]
fn calls_in_reach_relax_in_a_text_larger_than_jal_reach() {
    require!(check_needs(ARCH, &[Need::Clang, Need::LlvmAr, Need::Qemu]));
    let work = WorkDir::new("riscv64-big-text");
    let variant = Variant::elf_no_pic().with_cflags("relax", &["-mrelax"]);
    let program = peln_tests::build_test_program(ARCH, &variant, &work.subdir("obj"));
    let pad_src = work.join("pad.c");
    std::fs::write(
        &pad_src,
        "__asm__(\".section .text.pad,\\\"ax\\\",@progbits\\n.skip 0x140000\\n\");\n",
    )
    .unwrap();
    let pad = work.join("pad.o");
    peln_tests::compile_c(ARCH, peln_tests::ObjFormat::Elf, &[], &pad_src, &pad);
    let mut inputs = program.inputs();
    inputs.insert(1, pad);

    let link = |name: &str, opts: &LinkOpts| {
        link_with_pectl(pectl::run, ARCH, &work.join(name), &inputs, opts)
    };
    let relaxed = link(ARCH.efi_boot_file(), &LinkOpts::default());
    let unrelaxed = link("norelax.efi", &LinkOpts::default().no_relax());
    let (before, after) = (text_size(&unrelaxed), text_size(&relaxed));
    assert!(before > 1 << 20, ".text {before:#x} is within jal reach");
    // Nothing is aligned with NOP padding here: every deleted 4 bytes is one relaxed call.
    println!(
        "riscv64 .text of {before:#x} bytes: {} calls relaxed to jal",
        (before - after) / 4
    );
    assert!(after < before, "no call relaxed in a .text over 1 MiB");
    peln_tests::program::assert_program_passed(&boot_efi(ARCH, &relaxed));
}

/// GCC output (Debian's cross compiler), which differs from clang's in relocation mix.
#[test]
fn gcc_medany_relax_boots() {
    let gcc = require!(peln_tests::env::need_tool("riscv64-linux-gnu-gcc"));
    let work = WorkDir::new("riscv64-gcc-pectl");
    let src = programs_dir().join("c");
    let compile = |name: &str| -> PathBuf {
        let out = work.join(format!("{name}.o"));
        run_checked(
            Command::new(&gcc)
                .args([
                    "-ffreestanding",
                    "-fno-pic",
                    "-mcmodel=medany",
                    "-O2",
                    "-nostdlib",
                ])
                .args([
                    "-fno-stack-protector",
                    "-fno-builtin",
                    "-march=rv64gc",
                    "-mabi=lp64d",
                ])
                .arg("-c")
                .arg(src.join(format!("{name}.c")))
                .arg("-o")
                .arg(&out),
            "riscv64-linux-gnu-gcc",
        );
        out
    };
    let mut inputs: Vec<PathBuf> = OBJECT_SOURCES.iter().map(|n| compile(n)).collect();
    let members: Vec<PathBuf> = ARCHIVE_MEMBERS.iter().map(|n| compile(n)).collect();
    let lib = work.join("libpeln.a");
    archive(&lib, &members);
    inputs.push(lib);
    let efi = link_with_pectl(
        pectl::run,
        ARCH,
        &work.join(ARCH.efi_boot_file()),
        &inputs,
        &LinkOpts::default(),
    );
    peln_tests::program::assert_program_passed(&boot_efi(ARCH, &efi));
}

/// A `#![no_std]` Rust program for `riscv64gc-unknown-none-elf` with the sysroot's libcore and
/// compiler_builtins rlibs (whose C builtins hold medlow HI20/LO12: only live members may count).
#[test]
fn rust_no_std_hello_with_sysroot_rlibs_boots() {
    assert_rust_hello_with_pectl_boots(pectl::run, ARCH);
}
