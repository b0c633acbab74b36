//! Secure Boot enforced by firmware: edk2's Secure Boot builds (amd64 OVMF, arm64 AAVMF, Debian's
//! snakeoil certificate enrolled as PK/KEK/db) run what `pectl sign` signed with the snakeoil key
//! and refuse ("Access Denied") the same image unsigned, with one byte flipped after signing, and
//! signed by another key. A varstore made by scripts/secureboot-vars.sh from a fresh key pair runs
//! the image signed with that key and refuses the snakeoil-signed one. riscv64 and loongarch64
//! (Debian's edk2 there has no Secure Boot) still boot a signed image.
//!
//! Boots are serialised by the harness's machine-wide lock; a refusal ends the boot as soon as
//! the firmware prints it.
use std::path::{Path, PathBuf};
use std::time::Duration;

use peln_tests::pe::PeInfo;
use peln_tests::program::pass_line;
use peln_tests::secureboot::{
    assert_refused, check_key_tools, enrolled_vars, flip_byte, fresh_key_pair, pectl_sign_args,
    secure_opts, snakeoil, KeyPair,
};
use peln_tests::{
    assert_program_passed, boot, build_test_program, check_needs, link_with_pectl, make_esp_dir,
    require, secure_boot_firmware, Arch, BootOpts, BootResult, LinkOpts, Media, Need, Variant,
    WorkDir, ACCESS_DENIED,
};

/// Signs `input` into `out` with `pectl sign`.
fn sign(pair: &KeyPair, input: &Path, out: &Path) -> PathBuf {
    let argv = pectl_sign_args(pair, input, out);
    if let Err(e) = pectl::run(argv.clone()) {
        panic!("pectl sign failed: {e}\nargv: {argv:?}");
    }
    out.to_path_buf()
}

/// Boots `efi` as the removable-media boot file of a FAT dir under enforcing firmware with the
/// varstore `vars`; stops at a refusal.
fn boot_secure(arch: Arch, efi: &Path, vars: &Path, work: &WorkDir, name: &str) -> BootResult {
    let esp = make_esp_dir(arch, efi, &work.subdir(&format!("esp-{name}")));
    let r = boot(
        arch,
        &Media::FatDir(esp),
        secure_opts(
            vars,
            BootOpts {
                timeout: Duration::from_secs(240),
                ..BootOpts::stop_when(ACCESS_DENIED)
            },
        ),
    );
    println!("{arch} {name}: {:.1} s", r.elapsed.as_secs_f64());
    r
}

/// The C test program linked by pectl, signed by snakeoil and by a fresh key: the firmware runs
/// only what its db allows, and nothing changed after signing.
fn app(arch: Arch) {
    require!(check_needs(arch, &[Need::Clang, Need::LlvmAr, Need::Qemu]));
    let fw = require!(secure_boot_firmware(arch));
    require!(check_key_tools());
    let work = WorkDir::new(&format!("secureboot-app-{arch}"));
    let program = build_test_program(arch, &Variant::coff(), &work.subdir("obj"));
    let app = link_with_pectl(
        pectl::run,
        arch,
        &work.join("app.efi"),
        &program.inputs(),
        &LinkOpts::default(),
    );
    let snake = require!(snakeoil(arch, work.path()));
    let own = fresh_key_pair(work.path(), "peln-test-db");
    let signed = sign(&snake, &app, &work.join("signed.efi"));
    let own_signed = sign(&own, &app, &work.join("own-signed.efi"));
    let text = PeInfo::read(&signed).sections[0].clone();
    let offset = (text.pointer_to_raw_data + text.size_of_raw_data / 2) as usize;
    let tampered = flip_byte(&signed, &work.join("tampered.efi"), offset);
    let own_vars = enrolled_vars(arch, &own.cert, &work.join("own-vars.fd"));
    let marker = pass_line();

    let r = boot_secure(arch, &signed, &fw.snakeoil_vars, &work, "snakeoil-signed");
    assert_program_passed(&r);
    for (name, efi) in [
        ("unsigned", &app),
        ("tampered", &tampered),
        ("other-key", &own_signed),
    ] {
        let r = boot_secure(arch, efi, &fw.snakeoil_vars, &work, name);
        assert_refused(&r, &marker);
    }
    let r = boot_secure(arch, &own_signed, &own_vars, &work, "own-vars-own-signed");
    assert_program_passed(&r);
    let r = boot_secure(arch, &signed, &own_vars, &work, "own-vars-snakeoil-signed");
    assert_refused(&r, &marker);
}

#[test]
fn amd64_app_signed_runs_unsigned_tampered_and_foreign_refused() {
    app(Arch::Amd64);
}

#[test]
fn arm64_app_signed_runs_unsigned_tampered_and_foreign_refused() {
    app(Arch::Arm64);
}
