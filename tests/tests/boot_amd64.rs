//! amd64 boot tests of our linker: the C test program compiled several ways, linked in-process by
//! `pectl link`, booted in OVMF; each must print every `PELN check <name>: ok` line and
//! `PELN RESULT: PASS 11/11`, then shut the machine down. Plus the lld-link cross-check and the
//! Rust no_std hello linked against the sysroot rlibs.
use peln_tests::pe::PeInfo;
use peln_tests::rust::assert_rust_hello_with_pectl_boots;
use peln_tests::{
    assert_icf_folds_the_twin, assert_pectl_prints_what_lld_link_prints, c_program_with_pectl,
    check_needs, link_with_pectl, pectl_c_program_passes, pectl_linked_program, require, Arch,
    LinkOpts, Need, Variant, WorkDir,
};

const ARCH: Arch = Arch::Amd64;

/// The C program built as `variant` and linked by pectl with its defaults passes every check.
fn passes(variant: Variant) {
    pectl_c_program_passes(pectl::run, ARCH, &variant, &LinkOpts::default());
}

peln_tests::tests_of!(passes:
    /// (a) COFF objects from `x86_64-pc-windows-msvc` (ADDR64 + REL32 relocations).
    pectl_amd64_coff_c_program_boots_and_passes_every_check => Variant::coff(),
    /// (b) ELF objects from `x86_64-unknown-elf -fpie` (64, PC32, PLT32, REX_GOTPCRELX).
    pectl_amd64_elf_pie_c_program_boots_and_passes_every_check => Variant::elf_pie(),
);

/// (c) ELF `-fno-pic` objects use absolute 32-bit addresses (R_X86_64_32 / 32S): linked at image
/// base 0x10000000 with `--allow-absolute32`.
#[test]
fn pectl_amd64_elf_nopic_absolute32_at_image_base_0x10000000_boots_and_passes() {
    let opts = LinkOpts::default()
        .image_base(0x1000_0000)
        .allow_absolute32();
    let Some(run) = c_program_with_pectl(pectl::run, ARCH, &Variant::elf_no_pic(), &opts) else {
        return;
    };
    assert_eq!(
        PeInfo::read(&run.efi).image_base,
        0x1000_0000,
        "ImageBase of {}",
        run.efi.display()
    );
    run.assert_passed();
}

/// (d) COFF objects with one section per function/datum, linked with `--gc-sections`: still passes,
/// and the never-referenced 64 KiB `peln_dead_data` (ext.c) is gone from the image.
#[test]
fn pectl_amd64_coff_gc_sections_boots_passes_and_drops_unreferenced_data() {
    let variant = Variant::coff().split_sections();
    let opts = LinkOpts::default().gc_sections();
    let Some(run) = c_program_with_pectl(pectl::run, ARCH, &variant, &opts) else {
        return;
    };
    run.assert_passed();
    let full = link_with_pectl(
        pectl::run,
        ARCH,
        &run.work.join("nogc.efi"),
        &run.program.inputs(),
        &LinkOpts::default(),
    );
    let (gc_len, full_len) = (file_len(&run.efi), file_len(&full));
    assert!(
        gc_len + 65536 <= full_len,
        "--gc-sections image is {gc_len} bytes, without gc {full_len}: expected at least 64 KiB less"
    );
}

/// (e) The same split COFF objects with `--gc-sections --icf=all`: the twin function folds (the
/// map says so) and the program still passes.
#[test]
fn pectl_amd64_coff_icf_folds_the_twin_function_and_it_boots() {
    assert_icf_folds_the_twin(pectl::run, ARCH, &Variant::coff().split_sections());
}

/// The same COFF objects linked by lld-link-19 and by pectl boot to identical `PELN` lines.
#[test]
fn pectl_and_lld_link_amd64_coff_same_objects_print_identical_peln_lines() {
    assert_pectl_prints_what_lld_link_prints(pectl::run, ARCH);
}

/// `--map FILE` writes a map that names the entry point.
#[test]
fn pectl_amd64_map_file_is_written_and_names_the_entry_point() {
    require!(check_needs(ARCH, &[Need::Clang, Need::LlvmAr]));
    let work = WorkDir::new("amd64-map");
    let map = work.join("out.map");
    let opts = LinkOpts::default().map(&map);
    pectl_linked_program(
        pectl::run,
        ARCH,
        &Variant::coff(),
        &work,
        "BOOTX64.EFI",
        &opts,
    );
    let text = std::fs::read_to_string(&map)
        .unwrap_or_else(|e| panic!("no map file {}: {e}", map.display()));
    assert!(
        text.contains("efi_main"),
        "map file does not mention efi_main:\n{text}"
    );
}

/// A `#![no_std]` Rust object plus the sysroot's libcore and libcompiler_builtins rlibs (archives
/// with a non-object `lib.rmeta` member; only the needed members may be pulled).
#[test]
fn pectl_amd64_rust_no_std_hello_with_sysroot_rlibs_boots() {
    assert_rust_hello_with_pectl_boots(pectl::run, ARCH);
}

fn file_len(p: &std::path::Path) -> u64 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .len()
}
