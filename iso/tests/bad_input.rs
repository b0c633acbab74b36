//! The bad-input table (peln_tests::bad_input) for cloud-boot-iso: missing file, directory,
//! empty, truncated + random, wrong machine, output = input, unwritable output directory, full
//! disk, existing output kept.
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
