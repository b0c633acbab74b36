//! `pectl sign`: Authenticode-signs a PE image with [`peln_sign`], as `sbsign` does.
use std::path::{Path, PathBuf};

use peln_sign::{Password, SignOptions, Signer};

use crate::Error;

#[derive(clap::Args, Debug)]
pub struct Sign {
    /// The RSA private key (2048 to 4096 bits), PEM: PKCS#1, PKCS#8 or encrypted PKCS#8.
    #[arg(long, value_name = "KEY.pem")]
    key: PathBuf,
    /// The certificate of the key (PEM or DER); it goes into the signature.
    #[arg(long, value_name = "CERT.pem")]
    cert: PathBuf,
    /// The signed image. Default: FILE.signed, as sbsign writes it.
    #[arg(short, long, value_name = "OUT.efi")]
    output: Option<PathBuf>,
    /// Add a signature to an already signed image (as `sbsign` does: a second entry in the
    /// certificate table). Without it a signed input is refused.
    #[arg(long)]
    append: bool,
    /// Read the encrypted key's password from FILE (one trailing newline ignored). Without it the
    /// password comes from the environment variable PELN_KEY_PASSWORD; never from the command line.
    #[arg(long, value_name = "FILE")]
    key_password_file: Option<PathBuf>,
    /// The PE image to sign.
    file: PathBuf,
}

pub fn run(args: &Sign) -> Result<(), Error> {
    let output = args.output.clone().unwrap_or_else(|| {
        let mut name = args.file.clone().into_os_string();
        name.push(".signed");
        PathBuf::from(name)
    });
    let password = Password::from_file_or_env(args.key_password_file.as_deref())?;
    let signer = Signer::load(&args.key, &args.cert, password.as_ref())?;
    let image = std::fs::read(&args.file).map_err(|e| format!("{}: {e}", args.file.display()))?;
    let signed = signer
        .sign(&image, &SignOptions::from_env(args.append))
        .map_err(|e| format!("{}: {e}", args.file.display()))?;
    write(&output, &signed)
}

/// Writes atomically; signing in place (`-o FILE`) is allowed since the input is already read.
fn write(output: &Path, bytes: &[u8]) -> Result<(), Error> {
    peln_pe::output::write_atomic(output, bytes)
        .map_err(|e| format!("{}: cannot write: {e}", output.display()).into())
}
