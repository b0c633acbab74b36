//! `pectl sign`: Authenticode-signs a PE image with [`peln_sign`], as `sbsign` does.
use std::path::PathBuf;

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
    /// The signed image (not FILE itself). Default: FILE.signed, as sbsign writes it.
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
    if peln_pe::output::output_is_input(&output, &[&args.file]).is_some() {
        return Err(
            peln_pe::output::refusal_to_overwrite(output.display(), args.file.display()).into(),
        );
    }
    let password = Password::from_file_or_env(args.key_password_file.as_deref())?;
    let signer = Signer::load(&args.key, &args.cert, password.as_ref())?;
    let image = std::fs::read(&args.file).map_err(|e| format!("{}: {e}", args.file.display()))?;
    // Signing vouches for an image: one firmware would not load is refused, as `pectl link`
    // refuses to write one.
    let report = peln_pe::verify::verify(&image);
    if !report.is_clean() {
        return Err(format!(
            "{}: not loadable by UEFI firmware: {}",
            args.file.display(),
            report.error_text()
        )
        .into());
    }
    let signed = signer
        .sign(&image, &SignOptions::from_env(args.append))
        .map_err(|e| format!("{}: {e}", args.file.display()))?;
    peln_pe::output::write_atomic(&output, &signed)
        .map_err(|e| format!("{}: cannot write: {e}", output.display()).into())
}
