//! `pectl sign` and `pectl verify`'s Authenticode checks against the reference tools, on real
//! images of all four machines: pectl-linked programs (the fuzz corpus's), Debian's UEFI shells
//! and Debian's kernels.
//! osslsigncode and sbverify accept what pectl signs; pectl accepts what sbsign and osslsigncode
//! sign; and every broken image is refused with its named error.
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use peln_tests::secureboot::{pectl_sign_args, snakeoil, KeyPair};
use peln_tests::{fw_dir, require, tool, Arch, WorkDir};

const BIN: &str = env!("CARGO_BIN_EXE_pectl");
const EPOCH: &str = "1700000000";

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

/// A committed test key pair of peln-sign (unencrypted, so sbsign and osslsigncode take it).
fn test_pair(name: &str, key: &str) -> KeyPair {
    KeyPair {
        key: repo(&format!("sign/tests/keys/{key}")),
        cert: repo(&format!("sign/tests/keys/{name}.crt")),
        password_file: None,
    }
}

/// The real images of `arch`: the pectl-linked program of the fuzz corpus, the UEFI shell and
/// Debian's kernel (cached by the setup script), or which is missing.
fn images(arch: Arch) -> Result<Vec<PathBuf>, String> {
    let shell = fw_dir().join(arch.uefi_shell_rel_path());
    if !shell.is_file() {
        return Err(format!(
            "{} missing (run scripts/setup-test-env.sh)",
            shell.display()
        ));
    }
    Ok(vec![
        repo(&format!(
            "pectl/fuzz/corpus/pe_reader/{}.efi",
            arch.pectl_machine()
        )),
        shell,
        peln_tests::kernel::kernel(arch)?,
    ])
}

fn run(program: impl AsRef<OsStr>, args: &[&OsStr]) -> Output {
    Command::new(program)
        .args(args)
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .output()
        .expect("run")
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

fn pectl(args: &[&OsStr]) -> Output {
    run(BIN, args)
}

fn sign(pair: &KeyPair, input: &Path, out: &Path, extra: &[&str]) {
    let argv = pectl_sign_args(pair, input, out);
    let mut args: Vec<&OsStr> = argv[1..].iter().map(|a| a.as_os_str()).collect();
    args.splice(1..1, extra.iter().map(OsStr::new));
    let o = pectl(&args);
    assert!(
        o.status.success(),
        "pectl sign {}: {}",
        input.display(),
        text(&o)
    );
}

/// `pectl verify [--cert C]… FILE`.
fn verify(file: &Path, certs: &[&Path]) -> Output {
    let mut args: Vec<&OsStr> = vec!["verify".as_ref()];
    for c in certs {
        args.extend(["--cert".as_ref(), c.as_os_str()]);
    }
    args.push(file.as_os_str());
    pectl(&args)
}

/// `sbsign --key K --cert C --output OUT IN`, the reference signer.
/// `osslsigncode COMMAND -FLAG VALUE...`.
fn run_osslsigncode(osslsigncode: &Path, command: &str, flags: &[(&str, &Path)]) -> Output {
    let mut args: Vec<&OsStr> = vec![command.as_ref()];
    for (flag, value) in flags {
        args.extend([flag.as_ref(), value.as_os_str()]);
    }
    run(osslsigncode, &args)
}

fn sbsign_with(sbsign: &Path, pair: &KeyPair, input: &Path, out: &Path) -> Output {
    run(
        sbsign,
        &[
            "--key".as_ref(),
            pair.key.as_os_str(),
            "--cert".as_ref(),
            pair.cert.as_os_str(),
            "--output".as_ref(),
            out.as_os_str(),
            input.as_os_str(),
        ],
    )
}

fn assert_ok(o: &Output, what: &str) {
    assert!(o.status.success(), "{what}: {}", text(o));
}

fn assert_refused(o: &Output, what: &str, message: &str) {
    assert_eq!(o.status.code(), Some(1), "{what}: {}", text(o));
    assert!(
        text(o).contains(message),
        "{what}: no `{message}` in: {}",
        text(o)
    );
}

/// `osslsigncode verify`'s "Current" (in the signature) and "Calculated" message digests.
fn osslsigncode_digests(out: &str) -> (String, String) {
    let find = |label: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(label))
            .map(|v| v.trim_start_matches([' ', ':']).trim().to_lowercase())
            .unwrap_or_else(|| panic!("no `{label}` in osslsigncode's output:\n{out}"))
    };
    (
        find("Current message digest"),
        find("Calculated message digest"),
    )
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn reference_verifiers_accept_pectl_signatures_on_every_arch() {
    let osslsigncode = require!(tool("osslsigncode"), "osslsigncode");
    let sbverify = require!(tool("sbverify"), "sbverify");
    let work = WorkDir::new("sign-interop");
    let pair = require!(snakeoil(Arch::Amd64, work.path()), "the snakeoil key");
    for arch in Arch::ALL {
        for input in require!(images(arch)) {
            let what = format!("{arch} {}", input.display());
            let out = work.join(format!("{arch}-{}", input.file_name().unwrap().display()));
            sign(&pair, &input, &out, &[]);
            // Reproducible: the same bytes again (SOURCE_DATE_EPOCH is set for every run).
            let again = work.join("again.efi");
            sign(&pair, &input, &again, &[]);
            assert_eq!(
                std::fs::read(&out).unwrap(),
                std::fs::read(&again).unwrap(),
                "{what}"
            );
            // Without SOURCE_DATE_EPOCH there is no signingTime attribute: a signature sbsign
            // and osslsigncode never write, which both must still accept.
            let untimed = work.join(format!("untimed-{arch}.efi"));
            let o = Command::new(BIN)
                .args(&pectl_sign_args(&pair, &input, &untimed)[1..])
                .env_remove("SOURCE_DATE_EPOCH")
                .output()
                .unwrap();
            assert_ok(&o, &format!("pectl sign without SOURCE_DATE_EPOCH {what}"));
            assert_ne!(
                std::fs::read(&untimed).unwrap(),
                std::fs::read(&out).unwrap()
            );

            let ours = peln_sign::authenticode_digest(&std::fs::read(&input).unwrap()).unwrap();
            for signed in [&out, &untimed] {
                let what = format!("{what} -> {}", signed.display());
                let o = run_osslsigncode(
                    &osslsigncode,
                    "verify",
                    &[("-CAfile", pair.cert.as_path()), ("-in", signed)],
                );
                assert_ok(&o, &format!("osslsigncode verify {what}"));
                let (current, calculated) = osslsigncode_digests(&text(&o));
                assert_eq!(
                    (&current, &calculated),
                    (&hex(&ours), &hex(&ours)),
                    "{what}"
                );
                if arch != Arch::Loongarch64 {
                    // sbverify (bookworm's sbsigntool) knows no LoongArch machine.
                    let o = run(
                        &sbverify,
                        &["--cert".as_ref(), pair.cert.as_os_str(), signed.as_os_str()],
                    );
                    assert_ok(&o, &format!("sbverify {what}"));
                }
                assert_ok(
                    &verify(signed, &[&pair.cert]),
                    &format!("pectl verify {what}"),
                );
            }
        }
    }
}

#[test]
fn pectl_verify_accepts_sbsign_and_osslsigncode_signatures() {
    let osslsigncode = require!(tool("osslsigncode"), "osslsigncode");
    let sbsign = require!(tool("sbsign"), "sbsign");
    let work = WorkDir::new("sign-reference");
    let pair = test_pair("rsa2048", "rsa2048.pkcs1.pem");
    let other = repo("sign/tests/keys/rsa4096.crt");
    for arch in [Arch::Amd64, Arch::Arm64, Arch::Riscv64] {
        for input in require!(images(arch)) {
            let what = format!("{arch} {}", input.display());
            let by_sbsign = work.join("sbsign.efi");
            let o = sbsign_with(&sbsign, &pair, &input, &by_sbsign);
            assert_ok(&o, &format!("sbsign {what}"));
            let by_ossl = work.join("osslsigncode.efi");
            let _ = std::fs::remove_file(&by_ossl);
            let o = run_osslsigncode(
                &osslsigncode,
                "sign",
                &[
                    ("-key", pair.key.as_path()),
                    ("-certs", pair.cert.as_path()),
                    ("-in", &input),
                    ("-out", &by_ossl),
                ],
            );
            assert_ok(&o, &format!("osslsigncode sign {what}"));
            for signed in [&by_sbsign, &by_ossl] {
                assert_ok(
                    &verify(signed, &[&pair.cert]),
                    &format!("{what} {}", signed.display()),
                );
                assert_refused(
                    &verify(signed, &[&other]),
                    &what,
                    "no signer is, or is issued by",
                );
            }
        }
    }
}

/// `--append` as sbsign does it: a second WIN_CERTIFICATE in the table.
#[test]
fn append_adds_a_second_signature_as_sbsign_does() {
    let sbverify = require!(tool("sbverify"), "sbverify");
    let sbsign = require!(tool("sbsign"), "sbsign");
    let osslsigncode = require!(tool("osslsigncode"), "osslsigncode");
    let work = WorkDir::new("sign-append");
    let first = test_pair("rsa2048", "rsa2048.pkcs1.pem");
    let second = test_pair("rsa4096", "rsa4096.pem");
    let input = repo("pectl/fuzz/corpus/pe_reader/amd64.efi");
    let once = work.join("once.efi");
    sign(&first, &input, &once, &[]);
    let refused = pectl(
        &pectl_sign_args(&second, &once, &work.join("no.efi"))[1..]
            .iter()
            .map(|a| a.as_os_str())
            .collect::<Vec<_>>(),
    );
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        text(&refused).contains("already signed"),
        "{}",
        text(&refused)
    );
    let twice = work.join("twice.efi");
    sign(&second, &once, &twice, &["--append"]);

    let listed = text(&run(&sbverify, &["--list".as_ref(), twice.as_os_str()]));
    assert!(
        listed.contains("signature 2") && !listed.contains("signature 3"),
        "{listed}"
    );
    for pair in [&first, &second] {
        assert_ok(
            &run(
                &sbverify,
                &["--cert".as_ref(), pair.cert.as_os_str(), twice.as_os_str()],
            ),
            "sbverify",
        );
        let o = verify(&twice, &[&pair.cert]);
        assert_ok(&o, "pectl verify");
        assert!(text(&o).contains("signature 1: signed by"), "{}", text(&o));
    }
    // sbsign's own --append result, for comparison: pectl reads it the same way, and
    // osslsigncode treats both alike (it reads only a table of one entry, and nests further
    // signatures inside the first instead).
    let sb_twice = work.join("sbsign-twice.efi");
    let o = sbsign_with(&sbsign, &second, &once, &sb_twice);
    assert_ok(&o, "sbsign on a signed image");
    assert_ok(
        &verify(&sb_twice, &[&second.cert]),
        "pectl verify of sbsign's append",
    );
    let ossl = |f: &Path| {
        run_osslsigncode(
            &osslsigncode,
            "verify",
            &[("-CAfile", first.cert.as_path()), ("-in", f)],
        )
        .status
        .success()
    };
    assert_eq!(ossl(&twice), ossl(&sb_twice));
}

#[test]
fn broken_signed_images_fail_pectl_verify_with_named_errors() {
    let work = WorkDir::new("sign-broken");
    let pair = test_pair("rsa2048", "rsa2048.pkcs1.pem");
    let other = repo("sign/tests/keys/rsa4096.crt");
    let input = repo("pectl/fuzz/corpus/pe_reader/arm64.efi");
    let good = work.join("good.efi");
    sign(&pair, &input, &good, &[]);
    let bytes = std::fs::read(&good).unwrap();
    let write = |name: &str, d: &[u8]| {
        let p = work.join(name);
        std::fs::write(&p, d).unwrap();
        p
    };
    let mut tampered = bytes.clone();
    let text_at = peln_pe::Headers::parse(&bytes).unwrap().sections[0].pointer_to_raw_data as usize;
    tampered[text_at + 16] ^= 1;
    let tampered = write("tampered.efi", &tampered);
    let truncated = write("truncated.efi", &bytes[..bytes.len() - 16]);

    assert_ok(&verify(&good, &[&pair.cert]), "the good image");
    assert_ok(&verify(&input, &[]), "the unsigned image, no --cert");
    assert_refused(&verify(&input, &[&pair.cert]), "unsigned", "not signed");
    assert_refused(
        &verify(&tampered, &[]),
        "tampered",
        "the image was changed after signing",
    );
    assert_refused(
        &verify(&tampered, &[&pair.cert]),
        "tampered",
        "the image was changed after signing",
    );
    assert_refused(
        &verify(&good, &[&other]),
        "wrong cert",
        "no signer is, or is issued by",
    );
    assert_refused(
        &verify(&truncated, &[&pair.cert]),
        "truncated",
        "certificate table",
    );
}
