//! Boot truth with EFI apps linked by this workspace's own linker: the self-checking C program
//! (tests/programs/c) compiled by clang-19 and linked by `pectl link` for all four arches, packed
//! into one image, runs to "PELN RESULT: PASS" as CD and as disk on every arch.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use common::{boot, build_image, have_tool, scratch, uki_args, Media};
use peln_tests::{build_test_program, link_with_pectl, Arch, LinkOpts, Variant, CHECKS};

const ARCHES: [(&str, Arch); 4] = [
    ("amd64", Arch::Amd64),
    ("arm64", Arch::Arm64),
    ("riscv64", Arch::Riscv64),
    ("loongarch64", Arch::Loongarch64),
];

/// The four linked programs in one image. `None` without clang/llvm-ar outside CI.
fn apps_iso() -> Option<&'static Path> {
    static IMG: OnceLock<Option<PathBuf>> = OnceLock::new();
    IMG.get_or_init(|| {
        if !have_tool("clang-19") || !have_tool("llvm-ar-19") {
            return None;
        }
        let d = scratch("pectl-apps");
        let mut args = Vec::new();
        for (name, arch) in ARCHES {
            // LLVM 19 emits COFF only for amd64/arm64; riscv64/loongarch64 objects are ELF.
            let variant = if arch.supports_coff() {
                Variant::coff()
            } else {
                Variant::elf()
            };
            let prog = build_test_program(arch, &variant, &d.join(name));
            let efi = d.join(format!("{name}.efi"));
            link_with_pectl(pectl::run, arch, &efi, &prog.inputs(), &LinkOpts::default());
            args.extend(uki_args(name, &efi));
        }
        Some(build_image(args, d.join("apps.iso")))
    })
    .as_deref()
}

fn runs(arch: &str, media: Media) {
    let Some(img) = apps_iso() else {
        return;
    };
    let Some(b) = boot(arch, media, img, Duration::from_secs(120)) else {
        return;
    };
    let t = &b.serial;
    let pass = format!("PELN RESULT: PASS {0}/{0}", CHECKS.len());
    assert!(
        t.contains(&pass) && !t.contains("Internal Shell") && !t.contains("FAIL"),
        "{arch} {media:?}: no {pass:?} after {:.1}s (timed out: {}):\n{}",
        b.elapsed.as_secs_f64(),
        b.timed_out,
        &t[t.len().saturating_sub(3000)..]
    );
    eprintln!(
        "{arch} {media:?}: pectl-linked app passed in {:.1}s",
        b.elapsed.as_secs_f64()
    );
}

#[test]
fn pectl_app_amd64_cd() {
    runs("amd64", Media::Cd);
}
#[test]
fn pectl_app_amd64_disk() {
    runs("amd64", Media::Disk);
}
#[test]
fn pectl_app_arm64_cd() {
    runs("arm64", Media::Cd);
}
#[test]
fn pectl_app_arm64_disk() {
    runs("arm64", Media::Disk);
}
#[test]
fn pectl_app_riscv64_cd() {
    runs("riscv64", Media::Cd);
}
#[test]
fn pectl_app_riscv64_disk() {
    runs("riscv64", Media::Disk);
}
#[test]
fn pectl_app_loongarch64_cd() {
    runs("loongarch64", Media::Cd);
}
#[test]
fn pectl_app_loongarch64_disk() {
    runs("loongarch64", Media::Disk);
}
