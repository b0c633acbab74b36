//! The `pectl` binary on bad input: a clear message, a non-zero exit, and no output file (an
//! existing one is left untouched). Inputs are committed fixtures (see fixtures/regen.sh).
use std::process::Command;

mod common;
use common::{assert_fails, fixture, link_fixtures, link_for, Run};

/// Runs `pectl link --machine amd64 -o OUT ARGS…` in a fresh directory.
fn link(args: &[&str]) -> Run {
    link_for("amd64", args)
}

/// [`link`] of committed fixtures.
fn link_objs(fixtures: &[&str]) -> Run {
    link_fixtures("amd64", fixtures)
}

#[test]
fn good_input_links() {
    let run = link_objs(&["hello-coff.obj"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let bytes = std::fs::read(&run.output).unwrap();
    assert_eq!(&bytes[..2], b"MZ");
}

#[test]
fn random_bytes_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.o");
    let bytes: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(&junk, bytes).unwrap();
    let run = link(&[junk.to_str().unwrap()]);
    assert_fails(
        &run,
        &["junk.o: cannot read input: not an ELF or COFF object file or archive"],
    );
}

#[test]
fn truncated_objects_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    for (name, keep) in [
        ("hello-elf.o", 200),
        ("hello-coff.obj", 100),
        ("hello.a", 300),
    ] {
        let data = std::fs::read(fixture(name)).unwrap();
        let cut = dir.path().join(format!("cut-{name}"));
        std::fs::write(&cut, &data[..keep]).unwrap();
        let run = link(&[cut.to_str().unwrap()]);
        assert_fails(&run, &[&format!("cut-{name}"), "cannot read input"]);
    }
}

#[test]
fn empty_file_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.o");
    std::fs::write(&empty, b"").unwrap();
    assert_fails(
        &link(&[empty.to_str().unwrap()]),
        &["empty.o: cannot read input"],
    );
}

#[test]
fn object_for_another_machine_names_file_and_both_machines() {
    let run = link_objs(&["hello-arm64.obj"]);
    assert_fails(
        &run,
        &["hello-arm64.obj: machine arm64 (0xaa64) does not match --machine amd64"],
    );
}

#[test]
fn undefined_symbol_names_file_section_function_and_line() {
    let run = link_objs(&["undef-elf.o"]);
    assert_fails(
        &run,
        &[
            "undefined symbol: missing_function",
            "undef-elf.o:(.text+0x5) in function `uses_missing` at undef.c:4",
        ],
    );
}

#[test]
fn duplicate_symbol_names_both_files() {
    let run = link_objs(&["hello-coff.obj", "hello-elf.o"]);
    assert_fails(
        &run,
        &[
            "duplicate symbol: efi_main",
            ">>> defined in ",
            "hello-coff.obj\n>>> defined in ",
            "hello-elf.o",
        ],
    );
}

#[test]
fn overflowing_rel32_names_symbol_file_section_offset_and_value() {
    let run = link_objs(&["far-call.obj", "far-abs.obj"]);
    // S = 0x1000, P = 0x140001001 (.text at RVA 0x1000, field at +1), REL32: S - (P + 4).
    let value = 0x1000i64 - (0x1_4000_1001 + 4);
    assert_fails(
        &run,
        &[&format!(
            "far-call.obj:(.text+0x1): relocation IMAGE_REL_AMD64_REL32 out of range: {value} ({value:#x}) is not in [-2^31, 2^31); references `far_away`"
        )],
    );
}

#[test]
fn unknown_relocation_type_is_named() {
    let run = link_objs(&["got32.o"]);
    assert_fails(
        &run,
        &["got32.o:(.text+0x3): unknown relocation type 3 (0x3)"],
    );
}

#[test]
fn missing_entry_point_is_an_error() {
    let run = link(&["--entry", "nope", fixture("hello-elf.o").to_str().unwrap()]);
    assert_fails(&run, &["entry point `nope` is not defined"]);
}

#[test]
fn missing_input_and_library_are_errors() {
    assert_fails(
        &link(&["/nonexistent/x.o"]),
        &["/nonexistent/x.o: No such file"],
    );
    let run = link(&[
        "-L",
        "/nonexistent",
        "-l",
        "foo",
        fixture("hello-elf.o").to_str().unwrap(),
    ]);
    assert_fails(&run, &["library -lfoo not found; searched: /nonexistent"]);
}

#[test]
fn absolute32_is_an_error_unless_a_low_image_opts_in() {
    let abs32 = fixture("abs32.o");
    let run = link(&[abs32.to_str().unwrap()]);
    assert_fails(
        &run,
        &["abs32.o:(.text+0x1): R_X86_64_32 against `.data` stores an absolute address in a form \
           UEFI firmware cannot relocate; recompile with -fpie"],
    );
    let run = link(&["--allow-absolute32", abs32.to_str().unwrap()]);
    assert_fails(
        &run,
        &["--allow-absolute32 needs --image-base below 0x80000000"],
    );

    let run = link(&[
        "--image-base",
        "0x10000000",
        "--allow-absolute32",
        abs32.to_str().unwrap(),
    ]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let image = std::fs::read(&run.output).unwrap();
    // mov $imm32, %eax is b8 imm32: the address of .data (RVA 0x2000) in the image at 0x10000000.
    // The header area is lld-link's 0x400 (three section headers would fit in 0x200); .text's
    // raw data starts right after it.
    let text = 0x400;
    assert_eq!(image[text], 0xb8);
    assert_eq!(&image[text + 1..text + 5], &0x1000_2000u32.to_le_bytes());
    // .reloc (file 0x800): page 0x1000, block of 12 bytes, HIGHLOW (3) at offset 1, padding.
    assert_eq!(
        &image[0x800..0x80c],
        &[0, 0x10, 0, 0, 12, 0, 0, 0, 0x01, 0x30, 0, 0]
    );
}

#[test]
fn machine_aliases_name_the_canonical_machine() {
    // loong64 is accepted for loongarch64; the error then names the canonical machine.
    let run = link_fixtures("loong64", &["hello-elf.o"]);
    assert_fails(
        &run,
        &["hello-elf.o: machine amd64 (0x3e) does not match --machine loongarch64"],
    );
    let run = link_fixtures("aa64", &["hello-elf.o"]);
    assert_fails(&run, &["does not match --machine arm64"]);
}

#[test]
fn failed_link_keeps_the_previous_output() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("keep.efi");
    std::fs::write(&out, b"previous good image").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_pectl"))
        .args(["link", "--machine", "amd64", "-o"])
        .arg(&out)
        .arg(fixture("undef-elf.o"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(std::fs::read(&out).unwrap(), b"previous good image");
}

/// A link runs in a child that tells pectl when its output is in place (mold's early exit):
/// pectl's exit means the whole image, byte for byte what a link kept in one process
/// (`PECTL_NO_FORK`) writes; a child that fails prints its error once, and pectl exits with its
/// status and leaves nothing behind.
#[test]
fn the_linking_child_hands_over_its_output_or_its_failure() {
    let dir = tempfile::tempdir().unwrap();
    let link = |out: &str, no_fork: bool| {
        let mut pectl = Command::new(env!("CARGO_BIN_EXE_pectl"));
        if no_fork {
            pectl.env("PECTL_NO_FORK", "1");
        }
        let o = pectl
            .args(["link", "--machine", "amd64", "-o"])
            .arg(dir.path().join(out))
            .args([fixture("comdat-a.obj"), fixture("comdat-b.obj")])
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(o.stdout.is_empty() && o.stderr.is_empty());
        std::fs::read(dir.path().join(out)).unwrap()
    };
    let forked = link("forked.efi", false);
    assert_eq!(forked, link("one-process.efi", true));
    let verified = Command::new(env!("CARGO_BIN_EXE_pectl"))
        .arg("verify")
        .arg(dir.path().join("forked.efi"))
        .status()
        .unwrap();
    assert!(verified.success());
    // Over its previous output: the old file is swapped out and removed by the child after it
    // has let the caller go, so it may outlive pectl for a moment, not longer (a child that
    // died with the waiting process left one behind in about one relink of ten).
    for _ in 0..20 {
        assert_eq!(link("forked.efi", false), forked);
    }
    let temporary = || {
        std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".tmp")
            })
            .count()
    };
    let waited = std::time::Instant::now();
    while temporary() > 0 && waited.elapsed() < std::time::Duration::from_secs(10) {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(temporary(), 0, "the previous output was left behind");

    let failed = link_objs(&["undef-elf.o"]);
    assert_fails(&failed, &["undefined symbol: missing_function"]);
    assert_eq!(
        failed.stderr.matches("undefined symbol").count(),
        1,
        "{}",
        failed.stderr
    );
}

/// `-o` naming an input by another path (here `./in.obj` for `in.obj`) is refused before
/// anything is written: the input is left as it was.
#[test]
fn output_that_is_an_input_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.obj");
    let bytes = std::fs::read(fixture("hello-coff.obj")).unwrap();
    std::fs::write(&input, &bytes).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_pectl"))
        .args(["link", "--machine", "amd64", "-o"])
        .arg(dir.path().join(".").join("in.obj"))
        .arg(&input)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("in.obj: refusing to overwrite an input"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&input).unwrap(), bytes);
}

#[test]
fn bad_machine_name_is_a_usage_error() {
    let o = Command::new(env!("CARGO_BIN_EXE_pectl"))
        .args(["link", "--machine", "mips", "-o", "x.efi", "a.o"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown machine `mips`"));
}

#[test]
fn comdat_copies_from_two_objects_link_once() {
    let cases = [
        (
            "comdat-a.obj",
            "comdat-b.obj",
            ["?twice@@YAHH@Z", "?value@?$Counter@$02@@2HA"],
        ),
        (
            "comdat-a.o",
            "comdat-b.o",
            ["_Z5twicei", "_ZN7CounterILi3EE5valueE"],
        ),
    ];
    for (a, b, symbols) in cases {
        let dir = tempfile::tempdir().unwrap();
        let map = dir.path().join("out.map");
        let run = link(&[
            "--map",
            map.to_str().unwrap(),
            fixture(a).to_str().unwrap(),
            fixture(b).to_str().unwrap(),
        ]);
        assert_eq!(run.code, Some(0), "{a} + {b}: {}", run.stderr);
        let map = std::fs::read_to_string(&map).unwrap();
        // Both objects define each COMDAT symbol; the map lists exactly one definition.
        for symbol in symbols {
            let n = map
                .lines()
                .filter(|l| l.ends_with(&format!(" {symbol}")))
                .count();
            assert_eq!(n, 1, "{symbol} in {a}+{b}:\n{map}");
        }
    }
}

/// `pectl link --sign-key K --sign-cert C` writes a signed image that `pectl verify --cert C`
/// accepts and another certificate does not; a key that cannot be loaded fails before anything
/// is written.
#[test]
fn sign_key_signs_the_linked_image() {
    if peln_tests::skip_unless(peln_tests::env::need_tool("openssl")).is_none() {
        return;
    }
    let keys = tempfile::tempdir().unwrap();
    let pair = peln_tests::secureboot::fresh_key_pair(keys.path(), "peln-link-test");
    let other = peln_tests::secureboot::fresh_key_pair(keys.path(), "peln-other");
    let (key, cert) = (pair.key.to_str().unwrap(), pair.cert.to_str().unwrap());
    let obj = fixture("hello-coff.obj");
    let link_signed = |key: &str| {
        link(&[
            "--sign-key",
            key,
            "--sign-cert",
            cert,
            obj.to_str().unwrap(),
        ])
    };
    let run = link_signed(key);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let verify = |cert: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_pectl"))
            .args(["verify", "--cert"])
            .arg(cert)
            .arg(&run.output)
            .status()
            .unwrap()
            .success()
    };
    assert!(verify(&pair.cert), "signed by the key");
    assert!(!verify(&other.cert), "not by another");
    let leftovers = std::fs::read_dir(run.output.parent().unwrap())
        .unwrap()
        .count();
    assert_eq!(leftovers, 1, "only the signed image is left");

    // The certificate given as the key: refused, nothing written.
    assert_fails(
        &link_signed(cert),
        &["peln-link-test.pem", "not a private key"],
    );
}
