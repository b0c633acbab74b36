//! The bad-input table (peln_tests::bad_input) for every pectl subcommand: missing file,
//! directory, empty, truncated + random, wrong machine, output = input, unwritable output
//! directory, full disk, existing output kept.
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use peln_tests::bad_input::{run_sign_table, run_table, SignCase, SignKeys, Tool};

const BIN: &str = env!("CARGO_BIN_EXE_pectl");

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).unwrap()
}

/// A pectl-linked image (real compiler output) for `arch`.
fn image(arch: &str) -> Vec<u8> {
    read(&format!("fuzz/corpus/pe_reader/{arch}.efi"))
}

fn os(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Vec<OsString> {
    args.iter().map(|a| a.as_ref().to_os_string()).collect()
}

#[test]
fn link() {
    let args = |i: &[PathBuf], o: &Path| os(&[&"link", &"--machine", &"amd64", &"-o", &o, &i[0]]);
    run_table(
        &Tool {
            name: "pectl link",
            bin: Path::new(BIN),
            inputs: vec![("hello.obj", read("tests/fixtures/hello-coff.obj"))],
            wrong_machine: Some(read("tests/fixtures/hello-arm64.obj")),
            args: &args,
            writes_output: true,
        },
        &[],
    );
}

#[test]
fn uki() {
    let args = |i: &[PathBuf], o: &Path| {
        os(&[
            &"uki",
            &"--stub",
            &i[0],
            &"--linux",
            &i[1],
            &"--cmdline",
            &"x",
            &"-o",
            &o,
        ])
    };
    run_table(
        &Tool {
            name: "pectl uki",
            bin: Path::new(BIN),
            inputs: vec![("stub.efi", image("amd64")), ("vmlinuz", image("amd64"))],
            wrong_machine: Some(image("arm64")),
            args: &args,
            writes_output: true,
        },
        &[],
    );
}

#[test]
fn inspect() {
    let args = |i: &[PathBuf], _: &Path| os(&[&"inspect", &i[0]]);
    run_table(
        &Tool {
            name: "pectl inspect",
            bin: Path::new(BIN),
            inputs: vec![("app.efi", image("amd64"))],
            // inspect prints any machine's files.
            wrong_machine: None,
            args: &args,
            writes_output: false,
        },
        &[],
    );
}

#[test]
fn verify() {
    let args = |i: &[PathBuf], _: &Path| os(&[&"verify", &i[0]]);
    let mut i386 = image("amd64");
    let nt = u32::from_le_bytes(i386[0x3c..0x40].try_into().unwrap()) as usize;
    i386[nt + 4..nt + 6].copy_from_slice(&0x14cu16.to_le_bytes());
    run_table(
        &Tool {
            name: "pectl verify",
            bin: Path::new(BIN),
            inputs: vec![("app.efi", image("amd64"))],
            wrong_machine: Some(i386),
            args: &args,
            writes_output: false,
        },
        &[],
    );
}

/// `pectl sign`: the general table, then the signing cases (non-PE, key/cert mismatch, encrypted
/// key without or with a wrong password, an already signed image, an unreadable key).
#[test]
fn sign() {
    let keys = |name: &str| read(&format!("../sign/tests/keys/{name}"));
    let args = |i: &[PathBuf], o: &Path| {
        os(&[&"sign", &"--key", &i[1], &"--cert", &i[2], &"-o", &o, &i[0]])
    };
    let tool = |key: &str| Tool {
        name: "pectl sign",
        bin: Path::new(BIN),
        inputs: vec![
            ("app.efi", image("amd64")),
            ("key.pem", keys(key)),
            ("cert.pem", keys("rsa2048.crt")),
        ],
        // Signing takes any machine's image.
        wrong_machine: None,
        args: &args,
        writes_output: true,
    };
    run_table(&tool("rsa2048.pkcs1.pem"), &[]);
    let key = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sign/tests/keys/rsa2048.pkcs1.pem");
    let cert = key.with_file_name("rsa2048.crt");
    let signer = peln_sign::Signer::load(&key, &cert, None).unwrap();
    let signed_image = signer
        .sign(&image("amd64"), &peln_sign::SignOptions::default())
        .unwrap();
    run_sign_table(
        &tool("rsa2048.3des.pem"),
        &SignKeys {
            key: "key.pem",
            cert: "cert.pem",
            password: "peln-test",
            other_cert: keys("rsa4096.crt"),
            signed_image,
        },
        &SignCase::ALL,
    );
}
