//! The bad-input table (peln_tests::bad_input) for cloud-boot-iso: missing file, directory,
//! empty, truncated + random, wrong machine, output = input, unwritable output directory, full
//! disk, existing output kept.
mod common;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use peln_tests::bad_input::{run_table, Tool};

fn image(arch: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../pectl/fuzz/corpus/pe_reader")
        .join(format!("{arch}.efi"));
    std::fs::read(p).unwrap()
}

#[test]
fn cloud_boot_iso() {
    let args = |i: &[PathBuf], o: &Path| -> Vec<OsString> {
        let mut uki = OsString::from("linux/amd64=");
        uki.push(&i[0]);
        vec!["--uki".into(), uki, "-o".into(), o.into()]
    };
    run_table(
        &Tool {
            name: "cloud-boot-iso",
            bin: Path::new(env!("CARGO_BIN_EXE_cloud-boot-iso")),
            inputs: vec![("uki.efi", image("amd64"))],
            wrong_machine: Some(image("arm64")),
            args: &args,
            writes_output: true,
        },
        &[],
    );
}

/// The same table for build-iso: the first input is the boot-files tar (mklive.sh's, amd64),
/// the wrong-machine stand-in the arm64 one given as `--arch x86_64`.
#[test]
fn build_iso() {
    let (Some(x), Some(a)) = (
        common::live::mklive("amd64", "bad-input"),
        common::live::mklive("arm64", "bad-input"),
    ) else {
        return;
    };
    let args = |i: &[PathBuf], o: &Path| -> Vec<OsString> {
        let mut spec = OsString::from("x86_64:");
        spec.push(&i[0]);
        spec.push(":");
        spec.push(&i[1]);
        vec!["-q".into(), "--arch".into(), spec, o.into()]
    };
    run_table(
        &Tool {
            name: "build-iso",
            bin: Path::new(common::live::BUILD_ISO),
            inputs: vec![
                ("boot.tar", std::fs::read(&x.boot_tar).unwrap()),
                ("root.squashfs", std::fs::read(&x.squashfs).unwrap()),
            ],
            wrong_machine: Some(std::fs::read(&a.boot_tar).unwrap()),
            args: &args,
            writes_output: true,
        },
        &[],
    );
}
