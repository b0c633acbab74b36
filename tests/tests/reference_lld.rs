//! The cross-check oracle: the C and Rust test programs linked with `lld-link-19` must boot in edk2
//! and pass. If these fail, the programs or the harness are wrong, not pectl.
use peln_tests::rust::{assert_rust_hello_passed, build_rust_hello};
use peln_tests::{
    c_program_with_elf_reference, c_program_with_lld, check_needs, require, Arch, Need, Variant,
    WorkDir,
};

/// lld-link's image of the COFF objects boots in edk2 (OVMF, AAVMF) and passes every check.
fn lld_link_coff_c_program_passes(arch: Arch) {
    if let Some(run) = c_program_with_lld(arch, &Variant::coff(), &[]) {
        run.assert_passed();
    }
}

peln_tests::tests_of!(lld_link_coff_c_program_passes:
    lld_link_amd64_coff_c_program_boots_in_ovmf_and_passes_every_check => Arch::Amd64,
    lld_link_arm64_coff_c_program_boots_in_aavmf_and_passes_every_check => Arch::Arm64,
);

#[test]
fn lld_link_amd64_coff_split_sections_c_program_boots_with_opt_ref() {
    let Some(run) = c_program_with_lld(
        Arch::Amd64,
        &Variant::coff().split_sections(),
        &["/opt:ref"],
    ) else {
        return;
    };
    run.assert_passed();
}

/// The ELF builds of the program are right too: ld.lld-19 at a fixed address + `objcopy -O pei-x86-64`
/// (no base relocations; edk2 loads it at 0x10000000).
#[test]
fn ld_lld_objcopy_amd64_elf_pie_and_nopic_c_program_at_fixed_base_boots_and_passes() {
    for variant in [Variant::elf_pie(), Variant::elf_no_pic()] {
        let Some(run) = c_program_with_elf_reference(Arch::Amd64, &variant, 0x1000_0000) else {
            return;
        };
        run.assert_passed();
    }
}

/// The archive member nobody references really would break the program if a linker pulled it:
/// forcing it into the link is a duplicate-symbol error.
#[test]
fn lld_link_rejects_the_unused_archive_member_when_it_is_forced_in() {
    require!(check_needs(
        Arch::Amd64,
        &[Need::Clang, Need::LlvmAr, Need::LldLink]
    ));
    let work = WorkDir::new("lld-unused-member");
    let program =
        peln_tests::build_test_program(Arch::Amd64, &Variant::coff(), &work.subdir("obj"));
    let unused = work.join("obj/lib_unused.obj");
    let mut inputs = program.objects.clone();
    inputs.push(unused);
    let out = std::process::Command::new("lld-link-19")
        .args([
            "/machine:x64",
            "/subsystem:efi_application",
            "/entry:efi_main",
            "/nodefaultlib",
        ])
        .arg(format!("/out:{}", work.join("x.efi").display()))
        .args(&inputs)
        .output()
        .expect("run lld-link-19");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "lld-link accepted two definitions of peln_ext_var"
    );
    assert!(
        stderr.contains("duplicate symbol: peln_ext_var"),
        "unexpected lld-link output:\n{stderr}"
    );
}

/// Verifies the Rust recipe: `rustc --target x86_64-unknown-uefi --emit=obj --crate-type=lib` plus the
/// sysroot's libcore and libcompiler_builtins rlibs.
#[test]
fn lld_link_amd64_rust_no_std_hello_with_sysroot_rlibs_boots() {
    require!(check_needs(
        Arch::Amd64,
        &[Need::RustUefi, Need::LldLink, Need::Qemu]
    ));
    let work = WorkDir::new("lld-rust-hello");
    let inputs = build_rust_hello(Arch::Amd64, &work.subdir("obj"));
    let efi = peln_tests::link_with_lld(Arch::Amd64, &work.join("BOOTX64.EFI"), &inputs, &[]);
    peln_tests::pe::assert_uefi_image(
        &efi,
        Arch::Amd64,
        peln_tests::pe::IMAGE_SUBSYSTEM_EFI_APPLICATION,
    );
    assert_rust_hello_passed(&peln_tests::boot_efi(Arch::Amd64, &efi));
}
