//! `pectl verify FILE…`: prints `FILE: error|warning: FIELD = VALUE: why` for each finding of
//! [`peln_pe::verify`], `FILE: ok` for a clean image, and fails when any file has errors.
use std::path::PathBuf;

use crate::Error;

pub fn run(files: &[PathBuf]) -> Result<(), Error> {
    let mut failed = Vec::new();
    for file in files {
        let name = file.display();
        let data = match std::fs::read(file) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("{name}: error: {e}");
                failed.push(name.to_string());
                continue;
            }
        };
        let report = peln_pe::verify::verify(&data);
        for finding in &report.findings {
            println!("{name}: {finding}");
        }
        if report.is_clean() {
            println!("{name}: ok");
        } else {
            failed.push(name.to_string());
        }
    }
    match failed.len() {
        0 => Ok(()),
        _ => Err(format!("UEFI firmware would not load: {}", failed.join(", ")).into()),
    }
}
