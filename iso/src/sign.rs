//! `--sign-key/--sign-cert`: Secure Boot signatures on every EFI binary either tool places on the
//! ESP (`cloud-boot-iso`'s UKIs; `build-iso`'s systemd-boot and the kernels it loads, which
//! firmware checks again through LoadImage). Both tools sign through [`EfiSigner::sign`].
use std::path::{Path, PathBuf};

use peln_sign::{Password, SignOptions, Signer};

use crate::error::{Error, Result};

/// The key pair that signs: the key's password from `password_file`, else the environment
/// variable `PELN_KEY_PASSWORD`, never the command line.
#[derive(Clone, Debug)]
pub struct SignArgs {
    pub key: PathBuf,
    pub cert: PathBuf,
    pub password_file: Option<PathBuf>,
}

/// `--sign-key/--sign-cert/--key-password-file`, one definition flattened into both tools' CLIs
/// so that their names, help and checks cannot drift apart.
#[derive(clap::Args, Clone, Debug)]
pub struct SignCli {
    /// Sign every EFI binary placed on the ESP for Secure Boot with this private key:
    /// cloud-boot-iso's UKIs; build-iso's systemd-boot of each arch and the kernels it loads
    /// (firmware checks them through LoadImage). PEM; an encrypted key's password from
    /// --key-password-file or PELN_KEY_PASSWORD. A binary that is already signed (Debian's)
    /// keeps its signature and gets this one added, as sbsign does.
    #[arg(long, value_name = "KEY.pem")]
    pub sign_key: Option<PathBuf>,

    /// The certificate of --sign-key.
    #[arg(long, value_name = "CERT.pem")]
    pub sign_cert: Option<PathBuf>,

    /// Read the private key's password from this file (else from PELN_KEY_PASSWORD).
    #[arg(long, value_name = "FILE")]
    pub key_password_file: Option<PathBuf>,
}

impl SignCli {
    /// The key pair to sign with: both keys or neither.
    pub fn sign_args(&self) -> Result<Option<SignArgs>> {
        let usage = |reason: &str| Error::Usage {
            what: "--sign-key/--sign-cert".into(),
            reason: reason.into(),
        };
        let password_file = self.key_password_file.clone();
        match (self.sign_key.clone(), self.sign_cert.clone()) {
            (Some(key), Some(cert)) => Ok(Some(SignArgs {
                key,
                cert,
                password_file,
            })),
            (None, None) if password_file.is_none() => Ok(None),
            (None, None) => Err(usage(
                "--key-password-file needs --sign-key and --sign-cert",
            )),
            _ => Err(usage("give both --sign-key and --sign-cert")),
        }
    }
}

/// A loaded key pair and the signing options (signing time from SOURCE_DATE_EPOCH).
pub struct EfiSigner {
    signer: Signer,
    opts: SignOptions,
}

impl EfiSigner {
    /// Reads the password, the key and the certificate.
    pub fn load(args: &SignArgs) -> Result<EfiSigner> {
        // peln-sign's messages name the file at fault.
        let key_error = |e: peln_sign::Error| Error::Usage {
            what: "--sign-key".into(),
            reason: e.to_string(),
        };
        let password =
            Password::from_file_or_env(args.password_file.as_deref()).map_err(key_error)?;
        let signer = Signer::load(&args.key, &args.cert, password.as_ref()).map_err(key_error)?;
        Ok(EfiSigner {
            signer,
            opts: SignOptions::from_env(false),
        })
    }

    /// The signed bytes of the EFI binary at `path`. One that already carries a signature (a
    /// distribution's systemd-boot or kernel) keeps it and gets ours added, as sbsign does:
    /// firmware runs an image when any of its signatures is trusted.
    pub fn sign(&self, path: &Path) -> Result<Vec<u8>> {
        let image = std::fs::read(path).map_err(|e| Error::io("read", path, e))?;
        let signed = peln_pe::Headers::parse(&image)
            .map_err(|e| input(path, e.0))?
            .dir(peln_pe::headers::IMAGE_DIRECTORY_ENTRY_SECURITY)
            != (0, 0);
        let opts = SignOptions {
            append: signed,
            ..self.opts
        };
        self.signer.sign(&image, &opts).map_err(|e| input(path, e))
    }
}

fn input(path: &Path, reason: impl ToString) -> Error {
    Error::Input {
        subject: path.display().to_string(),
        reason: reason.to_string(),
    }
}
