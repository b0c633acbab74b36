//! `pectl verify [--cert CERT]… FILE…`: prints `FILE: error|warning: FIELD = VALUE: why` for each
//! finding of [`peln_pe::verify`], `FILE: signature N: signed by …` for each Authenticode
//! signature [`peln_sign::verify`] accepts (or `FILE: error: Authenticode: why`), `FILE: ok` for a
//! clean image, and fails when any file has errors.
use std::path::PathBuf;

use peln_sign::{Certificate, ErrorKind};

use crate::Error;

pub fn run(files: &[PathBuf], cert_files: &[PathBuf]) -> Result<(), Error> {
    let mut trusted: Vec<Certificate> = Vec::new();
    let mut trusted_from = Vec::new();
    for path in cert_files {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let certs = peln_sign::parse_certificates(&bytes)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        trusted_from.extend(std::iter::repeat_n(path, certs.len()));
        trusted.extend(certs);
    }
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
        let signed = match peln_sign::verify(&data, &trusted) {
            Ok(signatures) => {
                for (i, s) in signatures.iter().enumerate() {
                    let through = match s.trusted_by {
                        Some(t) => format!(", trusted through {}", trusted_from[t].display()),
                        None => String::new(),
                    };
                    println!("{name}: signature {i}: signed by `{}`{through}", s.signer);
                }
                true
            }
            // The load checks above already say why it is not a PE image.
            Err(e) if e.kind() == ErrorKind::NotPe => false,
            Err(e) => {
                println!("{name}: error: Authenticode: {e}");
                false
            }
        };
        if report.is_clean() && signed {
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
