//! `pectl uki` against the real ukify: Debian trixie's `systemd-ukify` 257 (installed by
//! scripts/setup-test-env.sh under `$PELN_CACHE_DIR/ukify`, with pefile in a venv) builds a UKI
//! from the same stub, kernel, initrd, command line, uname and os-release, and the two images must
//! be byte-identical apart from the checksum (ukify writes 0; pectl computes it).
//!
//! The stubs: systemd's `linuxx64.efi.stub` with the amd64 kernel, and a stub pectl links here
//! from the fuzz seed program (clang-19 output) with the arm64 kernel (the layout logic is the same
//! on every machine; ukify on a 30 MiB kernel takes ~40 s, so one non-x86 machine is enough). ukify
//! refuses a stub without header room for the new section headers ("Not enough header space"):
//! the pectl-linked stub is given to it as linked, so this also checks that pectl reserves
//! lld-link's 0x400 bytes of header area.
//!
//! What pectl does differently on purpose is not exercised here (the README lists it): without
//! `--os-release` it adds no `.osrel` (ukify copies the build host's /etc/os-release, so the
//! image would depend on the machine that built it), a merged `.sbat` that does not fit the
//! stub's is appended rather than refused, and a full header area is grown rather than refused.
use std::path::{Path, PathBuf};
use std::process::Command;

use peln_tests::cc::{compile_c, run_checked, ObjFormat};
use peln_tests::kernel;
use peln_tests::link::{link_with_pectl, LinkOpts};
use peln_tests::{require, Arch, WorkDir};

/// The ukify script and the venv's python, or why they are missing.
fn ukify() -> Result<(PathBuf, PathBuf), String> {
    let dir = peln_tests::env::cache_dir().join("ukify");
    let (python, script) = (dir.join("venv/bin/python"), dir.join("usr/bin/ukify"));
    for p in [&python, &script] {
        if !p.is_file() {
            return Err(format!(
                "{} missing (run scripts/setup-test-env.sh)",
                p.display()
            ));
        }
    }
    Ok((python, script))
}

/// The image with its checksum field zeroed.
fn without_checksum(path: &Path) -> Vec<u8> {
    let mut d = std::fs::read(path).unwrap();
    let field = peln_pe::checksum_field(&d).expect("a PE image");
    d[field..field + 4].fill(0);
    d
}

fn compare(arch: Arch, stub: &Path, linux: &Path) {
    let (python, script) = require!(ukify());
    let work = WorkDir::new(&format!("ukify-{}", arch.pectl_machine()));
    let initrd = work.join("initrd.cpio");
    std::fs::write(
        &initrd,
        b"070701 not a real cpio, ukify does not look inside\n",
    )
    .unwrap();
    let osrel = work.join("os-release");
    std::fs::write(&osrel, "ID=peln\nPRETTY_NAME=\"peln test\"\n").unwrap();
    // Extra whitespace: ukify collapses it in a command line given as text.
    let cmdline = "console=ttyS0   panic=-1\tquiet";
    let uname = "6.12.0-peln";
    let (theirs, ours) = (work.join("ukify.efi"), work.join("pectl.efi"));

    let mut ukify = Command::new(&python);
    ukify
        .arg(&script)
        .arg("build")
        .arg("--stub")
        .arg(stub)
        .arg("--linux")
        .arg(linux)
        .arg("--initrd")
        .arg(&initrd)
        .arg(format!("--cmdline={cmdline}"))
        .arg(format!("--uname={uname}"))
        .arg(format!("--os-release=@{}", osrel.display()))
        .arg("--output")
        .arg(&theirs);
    run_checked(&mut ukify, "ukify build");

    let mut args = peln_tests::stub::uki_args(stub, linux, &[initrd], Some(cmdline), &ours);
    args.extend([
        "--uname".into(),
        uname.into(),
        "--os-release".into(),
        format!("@{}", osrel.display()).into(),
    ]);
    if let Err(e) = pectl::run(args) {
        panic!("pectl uki failed: {e}");
    }
    let (a, b) = (without_checksum(&theirs), without_checksum(&ours));
    if a != b {
        let first = a.iter().zip(&b).position(|(x, y)| x != y);
        panic!(
            "{arch:?}: ukify and pectl uki differ (lengths {:#x} and {:#x}, first difference at {first:x?});\n\
             compare `pectl inspect {}` with `pectl inspect {}`",
            a.len(),
            b.len(),
            theirs.display(),
            ours.display()
        );
    }
}

#[test]
fn same_bytes_as_ukify_with_systemd_stub_amd64() {
    let stub = require!(kernel::systemd_stub());
    let linux = require!(kernel::kernel(Arch::Amd64));
    compare(Arch::Amd64, &stub, &linux);
}

#[test]
fn same_bytes_as_ukify_with_a_pectl_linked_stub_arm64() {
    let arch = Arch::Arm64;
    let linux = require!(kernel::kernel(arch));
    let work = WorkDir::new(&format!("ukify-stub-{}", arch.pectl_machine()));
    let source = peln_tests::env::repo_root().join("pectl/fuzz/seeds/hello.c");
    let object = work.join("hello.o");
    compile_c(arch, ObjFormat::Elf, &["-O1", "-fpie"], &source, &object);
    let stub = link_with_pectl(
        pectl::run,
        arch,
        &work.join("stub.efi"),
        &[object],
        &LinkOpts::default(),
    );
    compare(arch, &stub, &linux);
}

/// Real ukify takes a stub pectl links today as it is, with no header room added by hand: pectl
/// reserves header space the way lld-link does (SizeOfHeaders 0x400), and the two UKIs are the
/// same bytes.
#[test]
fn ukify_takes_a_pectl_linked_stub_unpatched_amd64() {
    let arch = Arch::Amd64;
    require!(peln_tests::check_needs(arch, &[peln_tests::Need::Clang]));
    require!(peln_tests::stub::check_stub_toolchain(arch));
    let linux = require!(kernel::kernel(arch));
    let work = WorkDir::new("ukify-unpatched-stub");
    let stub_target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("peln-stub");
    let stub =
        peln_tests::stub::build_and_link_stub(pectl::run, arch, &work.subdir("stub"), &stub_target);
    compare(arch, &stub, &linux);
}
