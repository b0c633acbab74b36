//! Secure Boot enforced by firmware: edk2's Secure Boot builds (amd64 OVMF, arm64 AAVMF, Debian's
//! snakeoil certificate enrolled as PK/KEK/db) run what `pectl sign` signed with the snakeoil key
//! and refuse ("Access Denied") the same image unsigned, with one byte flipped after signing, and
//! signed by another key. A varstore made by scripts/secureboot-vars.sh from a fresh key pair runs
//! the image signed with that key and refuses the snakeoil-signed one. riscv64 and loongarch64
//! (Debian's edk2 there has no Secure Boot) still boot a signed image.
//!
//! The UKI (our stub, Debian's kernel, the tiny initramfs) needs its kernel signed too: the stub
//! hands `.linux` to LoadImage, which the firmware checks like any image. A `cloud-boot-iso` image
//! made with `--sign-key` boots as CD and as disk; the same image unsigned is refused.
//!
//! Boots are serialised by the harness's machine-wide lock; a refusal ends the boot as soon as
//! the firmware prints it.
use std::path::{Path, PathBuf};
use std::time::Duration;

use peln_tests::kernel::{
    assert_init_ran, build_initramfs, check_initramfs_tools, check_kernels, console, kernel,
    kernel_boot_opts, marker,
};
use peln_tests::pe::PeInfo;
use peln_tests::program::pass_line;
use peln_tests::secureboot::{
    assert_refused, check_key_tools, enrolled_vars, flip_byte, fresh_key_pair, pectl_sign_args,
    secure_opts, snakeoil, KeyPair,
};
use peln_tests::stub::{build_and_link_stub, check_stub_toolchain, uki_args};
use peln_tests::{
    assert_program_passed, boot, boot_efi, check_needs, make_esp_dir, pectl_linked_program,
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

/// Boots `media` under enforcing firmware with the varstore `vars` and prints how long it took.
fn boot_secure_with(
    arch: Arch,
    media: Media,
    vars: &Path,
    opts: BootOpts,
    name: &str,
) -> BootResult {
    let r = boot(arch, &media, secure_opts(vars, opts));
    println!("{arch} {name}: {:.1} s", r.elapsed.as_secs_f64());
    r
}

/// Options that end a boot at the firmware's refusal (after it, it only tries its other boot
/// options); an app that runs shuts the machine down itself.
fn until_refused() -> BootOpts {
    BootOpts {
        timeout: Duration::from_secs(240),
        ..BootOpts::stop_when(ACCESS_DENIED)
    }
}

/// Boots `efi` as the removable-media boot file of a FAT dir under enforcing firmware with the
/// varstore `vars`; stops at a refusal.
fn boot_secure(arch: Arch, efi: &Path, vars: &Path, work: &WorkDir, name: &str) -> BootResult {
    let esp = make_esp_dir(arch, efi, &work.subdir(format!("esp-{name}")));
    boot_secure_with(arch, Media::FatDir(esp), vars, until_refused(), name)
}

/// The C test program linked by pectl, signed by snakeoil and by a fresh key: the firmware runs
/// only what its db allows, and nothing changed after signing.
fn app(arch: Arch) {
    require!(check_needs(arch, &[Need::Clang, Need::LlvmAr, Need::Qemu]));
    let fw = require!(secure_boot_firmware(arch));
    require!(check_key_tools());
    let work = WorkDir::new(&format!("secureboot-app-{arch}"));
    let opts = LinkOpts::default();
    let app = pectl_linked_program(pectl::run, arch, &Variant::coff(), &work, "app.efi", &opts);
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

peln_tests::tests_of!(app:
    amd64_app_signed_runs_unsigned_tampered_and_foreign_refused => Arch::Amd64,
    arm64_app_signed_runs_unsigned_tampered_and_foreign_refused => Arch::Arm64,
);

/// A UKI whose kernel `pectl sign` signed, itself signed by `pectl sign`, boots to `/init`; the
/// UKI unsigned, tampered or signed by another key is refused, and a signed UKI whose kernel is
/// not signed gets as far as the stub, whose LoadImage of the kernel is refused.
/// `cloud-boot-iso --sign-key` makes an image of the unsigned UKI that boots as CD and as disk;
/// without it the image is refused.
fn uki_and_iso(arch: Arch) {
    require!(check_needs(arch, &[Need::Clang, Need::Qemu]));
    require!(check_stub_toolchain(arch));
    require!(check_kernels());
    require!(check_initramfs_tools());
    let fw = require!(secure_boot_firmware(arch));
    require!(check_key_tools());
    let work = WorkDir::new(&format!("secureboot-uki-{arch}"));
    let stub_target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("peln-stub");
    let stub = build_and_link_stub(pectl::run, arch, &work.subdir("stub"), &stub_target);
    let initrd = build_initramfs(arch, work.path());
    let snake = require!(snakeoil(arch, work.path()));
    let other = fresh_key_pair(work.path(), "peln-other");
    let debian_kernel = require!(kernel(arch));
    let signed_kernel = sign(&snake, &debian_kernel, &work.join("vmlinuz.efi"));
    let cmdline = format!("{} panic=-1 peln.secureboot={arch}", console(arch));
    let uki = work.join("uki.efi");
    let argv = uki_args(&stub, &signed_kernel, &[initrd], Some(&cmdline), &uki);
    if let Err(e) = pectl::run(argv.clone()) {
        panic!("pectl uki failed: {e}\nargv: {argv:?}");
    }
    let signed = sign(&snake, &uki, &work.join("uki-signed.efi"));
    let other_signed = sign(&other, &uki, &work.join("uki-other.efi"));
    let stub_sections = PeInfo::read(&stub).sections.len();
    let linux = &PeInfo::read(&signed).sections[stub_sections..]
        .iter()
        .find(|s| s.name == ".linux")
        .cloned()
        .expect(".linux");
    let offset = (linux.pointer_to_raw_data + linux.size_of_raw_data / 2) as usize;
    let tampered = flip_byte(&signed, &work.join("uki-tampered.efi"), offset);
    let vars = &fw.snakeoil_vars;
    let esp = |efi: &Path, name: &str| {
        Media::FatDir(make_esp_dir(arch, efi, &work.subdir(format!("esp-{name}"))))
    };

    let r = boot_secure_with(
        arch,
        esp(&signed, "signed"),
        vars,
        kernel_boot_opts(),
        "uki signed",
    );
    assert_init_ran(&r, arch, &format!("peln.secureboot={arch}"));
    for (name, efi) in [
        ("unsigned", &uki),
        ("tampered", &tampered),
        ("other-key", &other_signed),
    ] {
        let r = boot_secure_with(
            arch,
            esp(efi, name),
            vars,
            until_refused(),
            &format!("uki {name}"),
        );
        assert_refused(&r, &marker(arch));
    }

    // Signed outside, unsigned kernel inside: the firmware runs the stub and refuses the kernel
    // the stub hands to LoadImage.
    let inner_unsigned = work.join("uki-inner-unsigned.efi");
    let argv = uki_args(&stub, &debian_kernel, &[], Some(&cmdline), &inner_unsigned);
    pectl::run(argv).unwrap_or_else(|e| panic!("pectl uki failed: {e}"));
    let outer_signed = sign(&snake, &inner_unsigned, &work.join("uki-outer-signed.efi"));
    let stub_refused = "peln-stub: LoadImage failed: EFI_ACCESS_DENIED";
    let opts = BootOpts {
        timeout: Duration::from_secs(240),
        ..BootOpts::stop_when(stub_refused)
    };
    let r = boot_secure_with(
        arch,
        esp(&outer_signed, "inner"),
        vars,
        opts,
        "uki kernel unsigned",
    );
    r.assert_contains(stub_refused);
    assert!(!r.serial.contains(&marker(arch)), "{}", r.describe());

    let iso = |name: &str, sign: bool| {
        let out = work.join(name);
        let mut cfg = cloud_boot_iso::Config::from_args(
            &[format!("linux/{arch}={}", uki.display()).into()],
            &[],
            out.clone(),
            None,
        )
        .unwrap();
        cfg.progress = false;
        cfg.sign = sign.then(|| cloud_boot_iso::sign::SignArgs {
            key: snake.key.clone(),
            cert: snake.cert.clone(),
            password_file: snake.password_file.clone(),
        });
        cloud_boot_iso::build(&cfg).unwrap_or_else(|e| panic!("cloud-boot-iso: {e}"));
        out
    };
    let signed_iso = iso("signed.iso", true);
    for media in [
        Media::Cdrom(signed_iso.clone()),
        Media::Disk(signed_iso.clone()),
    ] {
        let name = format!("signed iso {media:?}");
        let r = boot_secure_with(arch, media, vars, kernel_boot_opts(), &name);
        assert_init_ran(&r, arch, &format!("peln.secureboot={arch}"));
    }
    let plain_iso = iso("plain.iso", false);
    let r = boot_secure_with(
        arch,
        Media::Disk(plain_iso),
        vars,
        until_refused(),
        "unsigned iso",
    );
    assert_refused(&r, &marker(arch));
}

peln_tests::tests_of!(uki_and_iso:
    amd64_uki_and_iso_signed_boot_unsigned_refused => Arch::Amd64,
    arm64_uki_and_iso_signed_boot_unsigned_refused => Arch::Arm64,
);

/// riscv64 and loongarch64: Debian's edk2 there has no Secure Boot, so nothing is enforced, but a
/// signed app must still load and run (the certificate table appended at the end of the file is
/// no section and changes nothing the loader reads) and verify offline.
fn signed_app_runs_unenforced(arch: Arch) {
    require!(check_needs(arch, &[Need::Clang, Need::LlvmAr, Need::Qemu]));
    require!(peln_tests::env::need_tool("openssl"));
    let work = WorkDir::new(&format!("secureboot-unenforced-{arch}"));
    let opts = LinkOpts::default();
    let app = pectl_linked_program(pectl::run, arch, &Variant::elf(), &work, "app.efi", &opts);
    let pair = fresh_key_pair(work.path(), "peln-test-db");
    let signed = sign(&pair, &app, &work.join("signed.efi"));
    let verify = pectl::run([
        "pectl".as_ref(),
        "verify".as_ref(),
        "--cert".as_ref(),
        pair.cert.as_os_str(),
        signed.as_os_str(),
    ]);
    assert!(verify.is_ok(), "pectl verify --cert: {verify:?}");
    let r = boot_efi(arch, &signed);
    println!(
        "{arch} signed, unenforced: {:.1} s",
        r.elapsed.as_secs_f64()
    );
    assert_program_passed(&r);
}

peln_tests::tests_of!(signed_app_runs_unenforced:
    riscv64_signed_app_runs_unenforced => Arch::Riscv64,
    loongarch64_signed_app_runs_unenforced => Arch::Loongarch64,
);
