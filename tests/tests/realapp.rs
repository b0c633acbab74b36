//! A real Rust UEFI program from crates.io crates (`uefi` with its allocator and panic handler,
//! `serde` derive, `serde_json`), built by `cargo build` with pectl as rustc's linker on all four
//! arches, release and debug, and booted: the program checks its own results and prints one line
//! that must be the same everywhere. On amd64/arm64 the same program linked by rustc's default
//! linker (rust-lld) prints the same line, and the release image, where rustc asks for
//! `/OPT:REF,ICF`, is no larger than rust-lld's. riscv64 uses the README's `.cargo/config.toml`
//! recipe. Release builds fold identical code on every arch (`--icf=all` for the ELF targets).
use peln_tests::pe::{assert_uefi_image, IMAGE_SUBSYSTEM_EFI_APPLICATION};
use peln_tests::realapp::{
    assert_realapp_passed, build_realapp, check_rust_target, rust_target, Linker, Profile,
};
use peln_tests::{boot_efi, check_needs, require, Arch, Need};

/// Builds, checks the image is a UEFI PE for `arch`, boots it, asserts the program passed.
fn build_and_boot(arch: Arch, profile: Profile, linker: Linker) {
    let image = build_realapp(arch, profile, &linker);
    let pe = assert_uefi_image(&image, arch, IMAGE_SUBSYSTEM_EFI_APPLICATION);
    if !rust_target(arch).ends_with("-uefi") {
        // rustc passes --strip-debug for release only; DWARF sections have long (`/N`) names.
        let dwarf = pe.sections.iter().any(|s| s.name.starts_with('/'));
        assert_eq!(
            dwarf,
            profile == Profile::Debug,
            "{}: DWARF sections {:?}",
            image.display(),
            pe.sections
        );
    }
    let result = boot_efi(arch, &image);
    eprintln!(
        "{arch} {profile:?} {linker:?}: booted in {:.1}s",
        result.elapsed.as_secs_f64()
    );
    assert_realapp_passed(&result);
}

fn run(arch: Arch, linkers: &[(Profile, Linker)]) {
    require!(check_needs(arch, &[Need::Qemu]));
    require!(check_rust_target(arch));
    for (profile, linker) in linkers {
        build_and_boot(arch, *profile, *linker);
    }
}

/// pectl's release image (identical code folded) against rust-lld's, which folds too.
fn assert_release_no_larger_than_rust_lld(arch: Arch) {
    require!(check_rust_target(arch));
    let size = |linker| {
        let image = build_realapp(arch, Profile::Release, &linker);
        std::fs::metadata(&image).unwrap().len()
    };
    let (ours, theirs) = (size(Linker::PectlFlag), size(Linker::Default));
    eprintln!("{arch} release: pectl {ours} bytes, rust-lld {theirs} bytes");
    assert!(
        ours <= theirs,
        "{arch}: pectl's release image ({ours} bytes) is larger than rust-lld's ({theirs})"
    );
}

/// The arches rust-lld links for: pectl as the linker boots release and debug builds, the
/// default linker's debug build boots the same, and pectl's release image is no larger.
fn boots_like_rust_lld_and_no_larger(arch: Arch) {
    run(
        arch,
        &[
            (Profile::Release, Linker::PectlFlag),
            (Profile::Debug, Linker::PectlFlag),
            (Profile::Debug, Linker::Default),
        ],
    );
    assert_release_no_larger_than_rust_lld(arch);
}

peln_tests::tests_of!(boots_like_rust_lld_and_no_larger:
    realapp_amd64_cargo_with_pectl_as_linker_boots_release_and_debug_like_rust_lld_and_no_larger => Arch::Amd64,
    realapp_arm64_cargo_with_pectl_as_linker_boots_release_and_debug_like_rust_lld_and_no_larger => Arch::Arm64,
);

/// The arches rust-lld does not link for: pectl, chosen as `linker`, links release and debug
/// builds that boot.
fn boots_release_and_debug((arch, linker): (Arch, Linker)) {
    run(
        arch,
        &[(Profile::Release, linker), (Profile::Debug, linker)],
    );
}

peln_tests::tests_of!(boots_release_and_debug:
    realapp_riscv64_cargo_config_recipe_boots_release_and_debug => (Arch::Riscv64, Linker::PectlConfig),
    realapp_loongarch64_build_std_with_pectl_as_linker_boots_release_and_debug => (Arch::Loongarch64, Linker::PectlFlag),
);
