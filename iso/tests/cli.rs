//! Input validation through the binary: exit code, exact message, and no output file (nor a
//! leftover temporary file) on every error.

mod common;

use std::fs;

use common::{fake_pe, listing, refused, run};

struct Case {
    dir: tempfile::TempDir,
}

impl Case {
    fn new() -> Case {
        let c = Case {
            dir: tempfile::tempdir().unwrap(),
        };
        fs::write(c.p("x64.efi"), fake_pe(0x8664, 0x20b, 10)).unwrap();
        fs::write(c.p("aa64.efi"), fake_pe(0xaa64, 0x20b, 10)).unwrap();
        fs::write(c.p("pe32.efi"), fake_pe(0x8664, 0x10b, 10)).unwrap();
        fs::write(c.p("console.exe"), fake_pe(0x8664, 0x20b, 3)).unwrap();
        fs::write(c.p("script.sh"), b"#!/bin/sh\necho not a PE file\n").unwrap();
        c
    }
    fn p(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
    /// Run, expect failure with exactly `msg` (after the "cloud-boot-iso: error: " prefix), and
    /// check that the directory holds no output or temporary file.
    fn fails(&self, args: &[&str], env: &[(&str, &str)], msg: &str) {
        let tool = (common::BIN, "cloud-boot-iso");
        let o = refused(tool, self.dir.path(), args, env, msg);
        assert!(o.stdout.is_empty());
    }
    /// `--uki <spec>=<file in the case directory>`, spec as the user would type it.
    fn uki(&self, spec: &str, file: &str) -> String {
        format!("{spec}={}", self.p(file))
    }
    /// The shape most refusals share: the given `--uki` pairs and `-o out.iso`, no environment.
    fn fails_ukis(&self, ukis: &[(&str, &str)], msg: &str) {
        let mut args = Vec::new();
        for (spec, file) in ukis {
            args.extend(["--uki".to_string(), self.uki(spec, file)]);
        }
        args.extend(["-o".to_string(), self.p("out.iso")]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.fails(&args, &[], msg);
    }
}

#[test]
fn no_inputs() {
    let c = Case::new();
    c.fails_ukis(
        &[],
        "no --uki inputs: give at least one --uki linux/<arch>=<path>",
    );
}

/// `--uki` specs that name no arch slot; each message quotes the spec as given.
#[test]
fn bad_uki_specs() {
    let c = Case::new();
    for (spec, why) in [
        (
            "linux/sparc64",
            "unknown architecture \"sparc64\" (expected amd64, arm64, riscv64 or loongarch64; \
             aliases x86_64, aarch64, loong64)",
        ),
        (
            "amd64",
            "expected linux/<arch>=<path> (arch: amd64, arm64, riscv64, loongarch64)",
        ),
    ] {
        let given = c.uki(spec, "x64.efi");
        c.fails_ukis(&[(spec, "x64.efi")], &format!("--uki \"{given}\": {why}"));
    }
}

/// Two `--uki` inputs that cannot both be placed: the message names the file(s) and the arch.
#[test]
fn two_ukis_that_clash() {
    let c = Case::new();
    let (x64, aa64) = (c.p("x64.efi"), c.p("aa64.efi"));
    for (second, msg) in [
        (
            ("linux/x86_64", "aa64.efi"),
            format!(
                "--uki linux/amd64 given twice ({x64} and {aa64}): each arch has one \\EFI\\BOOT\\BOOTX64.EFI slot"
            ),
        ),
        (
            ("linux/arm64", "x64.efi"),
            format!("{x64}: PE machine is 0x8664 (amd64) but --uki linux/arm64 needs 0xaa64 (arm64)"),
        ),
    ] {
        c.fails_ukis(&[("linux/amd64", "x64.efi"), second], &msg);
    }
}

/// Each file the case directory holds, named as the one `--uki` input, and what it is refused for.
#[test]
fn bad_uki_files() {
    let c = Case::new();
    for (spec, file, why) in [
        (
            "linux/arm64",
            "nope.efi",
            "cannot open {}: No such file or directory (os error 2)",
        ),
        (
            "linux/amd64",
            "script.sh",
            "{}: not a PE image (no MZ signature)",
        ),
        (
            "linux/amd64",
            "pe32.efi",
            "{}: not a PE32+ image (optional header magic 0x010b = PE32, UEFI on 64-bit CPUs needs 0x020b)",
        ),
        (
            "linux/amd64",
            "console.exe",
            "{}: PE subsystem is 3, not an EFI image (10 application, 11 boot-service driver, 12 runtime driver)",
        ),
    ] {
        c.fails_ukis(&[(spec, file)], &why.replace("{}", &c.p(file)));
    }
}

#[test]
fn unwritable_output() {
    let c = Case::new();
    let uki = format!("linux/amd64={}", c.p("x64.efi"));
    // Root ignores permission bits, so use paths no one can write: a missing directory...
    let missing = c.p("no/such/dir/out.iso");
    c.fails(
        &["--uki", &uki, "-o", &missing],
        &[],
        &format!(
            "cannot create a temporary output file in {}: No such file or directory (os error 2)",
            c.p("no/such/dir")
        ),
    );
    // ...and an existing directory as the output.
    fs::create_dir(c.p("adir")).unwrap();
    c.fails(
        &["--uki", &uki, "-o", &c.p("adir")],
        &[],
        &format!("cannot write output {}: is a directory", c.p("adir")),
    );
}

#[test]
fn bad_label_epoch_and_add() {
    let c = Case::new();
    let uki = c.uki("linux/amd64", "x64.efi");
    let out = c.p("out.iso");
    // One good UKI and output, then the options under test.
    let fails_with = |extra: &[&str], env: &[(&str, &str)], msg: &str| {
        let mut args = vec!["--uki", &uki, "-o", &out];
        args.extend(extra);
        c.fails(&args, env, msg);
    };
    let long = "L".repeat(33);
    fails_with(
        &["-V", &long],
        &[],
        &format!("volume label \"{long}\": longer than 32 characters"),
    );
    fails_with(
        &[],
        &[("SOURCE_DATE_EPOCH", "yesterday")],
        "SOURCE_DATE_EPOCH=\"yesterday\" is not a non-negative integer number of seconds",
    );
    fails_with(
        &["--add", "just-a-name"],
        &[],
        "--add \"just-a-name\": expected ISO_PATH=HOST_PATH",
    );
    fails_with(
        &["--add", &format!("a={}", c.p("absent"))],
        &[],
        &format!(
            "cannot read {}: No such file or directory (os error 2)",
            c.p("absent")
        ),
    );
    fails_with(
        &[
            "--add",
            &format!("x={}", c.p("script.sh")),
            "--add",
            &format!("x={}", c.p("x64.efi")),
        ],
        &[],
        &format!(
            "--add: ISO path \"/x\" is given twice (again by {})",
            c.p("x64.efi")
        ),
    );
}

#[test]
fn success_writes_only_the_output() {
    let c = Case::new();
    let o = run(
        &[
            "--uki",
            &format!("linux/x86_64={}", c.p("x64.efi")),
            "--uki",
            &format!("linux/aarch64={}", c.p("aa64.efi")),
            "-o",
            &c.p("out.iso"),
        ],
        &[],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert_eq!(
        err,
        format!(
            "cloud-boot-iso: wrote {}: 17.0 MiB (16.0 MiB ESP FAT16 at offset 1048576, arches: amd64 arm64; 0 extra files)\n",
            c.p("out.iso")
        )
    );
    let names = listing(c.dir.path());
    assert!(names.contains(&"out.iso".to_string()));
    assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");
    let meta = fs::metadata(c.p("out.iso")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(meta.permissions().mode() & 0o777, 0o644);
    assert_eq!(meta.len(), 17 * 1024 * 1024 + 36 * 512);
}

/// `--sign-key/--sign-cert` sign every UKI on the ESP: each verifies with `pectl verify --cert`;
/// a UKI that came signed by another key keeps that signature and gets ours added (sbsign's
/// behaviour). A key without its certificate is a usage error that leaves nothing behind.
#[test]
fn sign_key_signs_every_uki_on_the_esp() {
    if !common::have_tool("openssl") || !common::have_tool("mcopy") {
        return;
    }
    let c = Case::new();
    let d = c.dir.path();
    let ours = peln_tests::secureboot::fresh_key_pair(d, "peln-iso-test");
    let theirs = peln_tests::secureboot::fresh_key_pair(d, "peln-distro");
    // The aa64 UKI arrives signed by "the distribution".
    let signed_in = d.join("aa64-signed.efi");
    pectl::run(peln_tests::secureboot::pectl_sign_args(
        &theirs,
        &d.join("aa64.efi"),
        &signed_in,
    ))
    .unwrap();
    let (key, cert) = (
        ours.key.display().to_string(),
        ours.cert.display().to_string(),
    );
    let out = c.p("signed.iso");
    let o = run(
        &[
            "-q",
            "--uki",
            &format!("linux/amd64={}", c.p("x64.efi")),
            "--uki",
            &format!("linux/arm64={}", signed_in.display()),
            "--sign-key",
            &key,
            "--sign-cert",
            &cert,
            "-o",
            &out,
        ],
        &[],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (x64, aa64) = (d.join("BOOTX64.EFI"), d.join("BOOTAA64.EFI"));
    common::esp_copy(&out, "/EFI/BOOT/BOOTX64.EFI", &x64);
    common::esp_copy(&out, "/EFI/BOOT/BOOTAA64.EFI", &aa64);
    assert!(common::verifies_with(&x64, &ours.cert));
    assert!(!common::verifies_with(&x64, &theirs.cert));
    assert!(common::verifies_with(&aa64, &ours.cert));
    assert!(
        common::verifies_with(&aa64, &theirs.cert),
        "the input's signature is kept"
    );
    // Unsigned, the same inputs give UKIs that no certificate accepts.
    let plain = c.p("plain.iso");
    build_plain(&c, &plain);
    common::esp_copy(&plain, "/EFI/BOOT/BOOTX64.EFI", &d.join("plain.efi"));
    assert!(!common::verifies_with(&d.join("plain.efi"), &ours.cert));

    c.fails(
        &[
            "--uki",
            &format!("linux/amd64={}", c.p("x64.efi")),
            "--sign-key",
            &key,
            "-o",
            &c.p("x.iso"),
        ],
        &[],
        "--sign-key/--sign-cert: give both --sign-key and --sign-cert",
    );
}

fn build_plain(c: &Case, out: &str) {
    let o = run(
        &[
            "-q",
            "--uki",
            &format!("linux/amd64={}", c.p("x64.efi")),
            "-o",
            out,
        ],
        &[],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}
