//! Authenticode signing and verification of PE images, in pure Rust.
//!
//! What firmware checks (edk2's `DxeImageVerificationLib`) is a SHA-256 hash over fixed ranges of
//! the image ([`authenticode_digest`]), carried in a PKCS#7 `SignedData` whose content is an
//! `SpcIndirectDataContent`, in a `WIN_CERTIFICATE` appended to the file and pointed to by the
//! security data directory. [`Signer::sign`] writes that, [`verify`] reads it back.
//!
//! The format: Microsoft's "Windows Authenticode Portable Executable Signature Format"; the hashed
//! ranges: edk2's `HashPeImage`, cross-read with systemd's `pe_hash()`. ASN.1 goes through the
//! typed `der`/`cms`/`x509-cert` encoders both ways; RSA signatures are PKCS#1 v1.5 and so
//! deterministic, and the signing time comes from `SOURCE_DATE_EPOCH` only: the same inputs give
//! the same bytes.
use std::fmt;
use std::path::Path;

use peln_pe::headers::{rd32, wr32};
use peln_pe::Headers;
use rsa::pkcs1v15::SigningKey;
use sha2::Sha256;
use zeroize::Zeroizing;

mod asn1;
mod image;
mod key;
mod signature;

pub use key::{parse_certificates, PASSWORD_ENV};

pub use x509_cert::Certificate;

/// What went wrong, for callers (and tests) that act on the kind; the [`Error`]'s text says it
/// in words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A key, certificate or password file could not be read.
    Io,
    /// The image's headers cannot be read.
    NotPe,
    /// The image's hashed ranges are not the same for every verifier (edk2 and systemd's
    /// `pe_hash()` would hash different bytes): refused rather than signed ambiguously.
    Ambiguous,
    /// The image is signed and `append` was not asked for.
    AlreadySigned,
    /// The private key cannot be read (not PEM, not RSA, unsupported size or encryption).
    Key,
    /// The key is encrypted and no password was given.
    PasswordNeeded,
    /// The password does not decrypt the key.
    WrongPassword,
    /// The certificate cannot be read or uses what we do not support.
    Cert,
    /// The private key is not the certificate's.
    KeyMismatch,
    /// Verification against certificates asked for, and the image has no signature.
    NotSigned,
    /// The certificate table is malformed: not at the end of the file, misaligned, outside the
    /// file, lengths that disagree, or an entry of an unknown revision or type.
    BadTable,
    /// A signature's PKCS#7 / Authenticode structure cannot be decoded or is not Authenticode.
    BadSignature,
    /// The digest in a signature is not the image's: the image was changed after signing.
    DigestMismatch,
    /// The signed attributes' messageDigest is not the hash of the signed content.
    AttributeMismatch,
    /// The RSA signature does not verify with the signer's certificate.
    SignatureInvalid,
    /// No signature's signer is, or chains to, one of the trusted certificates.
    Untrusted,
}

/// An error whose text names what is wrong (never key material); callers add the file name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
        }
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// A private key's password; zeroed when dropped.
pub struct Password(Zeroizing<Vec<u8>>);

impl Password {
    pub fn new(bytes: Vec<u8>) -> Password {
        Password(Zeroizing::new(bytes))
    }

    /// The password from `file` (`--key-password-file`; one trailing newline dropped), else from
    /// the environment variable `PELN_KEY_PASSWORD`, else none. Never from the command line, where
    /// other users' `ps` would see it.
    pub fn from_file_or_env(file: Option<&Path>) -> Result<Option<Password>, Error> {
        key::read_password(file)
    }
}

/// How to sign.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SignOptions {
    /// Add a signature to an already signed image (as `sbsign` does: a further WIN_CERTIFICATE
    /// in the table). Without it a signed image is an [`ErrorKind::AlreadySigned`] error.
    pub append: bool,
    /// The signingTime attribute, in seconds since the epoch; none when `None`.
    pub signing_time: Option<u64>,
}

impl SignOptions {
    /// `append` as given, the signing time from `SOURCE_DATE_EPOCH` (unset, empty or not a
    /// number: no signing time).
    pub fn from_env(append: bool) -> SignOptions {
        let signing_time = std::env::var("SOURCE_DATE_EPOCH")
            .ok()
            .and_then(|v| v.trim().parse().ok());
        SignOptions {
            append,
            signing_time,
        }
    }
}

/// An RSA private key (2048 to 4096 bits) and the certificate that holds its public key.
pub struct Signer {
    key: SigningKey<Sha256>,
    cert: Certificate,
}

impl Signer {
    /// Reads the key (PEM: PKCS#1 `RSA PRIVATE KEY`, PKCS#8 `PRIVATE KEY`, or encrypted PKCS#8
    /// `ENCRYPTED PRIVATE KEY` with PBES2, AES or 3DES, which needs `password`) and the
    /// certificate (PEM or DER), and checks that the key is the certificate's.
    pub fn load(key: &Path, cert: &Path, password: Option<&Password>) -> Result<Signer, Error> {
        let private = key::load_key(key, password)?;
        let certificate = key::load_certificate(cert)?;
        let public = key::public_key(&certificate)
            .map_err(|e| Error::new(e.kind(), format!("{}: {e}", cert.display())))?;
        if public != private.to_public_key() {
            return Err(Error::new(
                ErrorKind::KeyMismatch,
                format!(
                    "the private key {} is not the key of the certificate {} (`{}`)",
                    key.display(),
                    cert.display(),
                    certificate.tbs_certificate.subject
                ),
            ));
        }
        Ok(Signer {
            key: SigningKey::new(private),
            cert: certificate,
        })
    }

    /// Signs a PE image and returns the whole signed file: the image padded to 8 bytes, the
    /// certificate table with one more WIN_CERTIFICATE, the security directory pointing at it and
    /// the checksum recomputed.
    pub fn sign(&self, image: &[u8], opts: &SignOptions) -> Result<Vec<u8>, Error> {
        let layout = image::Layout::read(image)?;
        let mut out = image.to_vec();
        let table_start =
            match &layout.table {
                Some(_) if !opts.append => return Err(Error::new(
                    ErrorKind::AlreadySigned,
                    "already signed (add a signature with --append, or sign the unsigned image)",
                )),
                Some(table) => {
                    image::entries(image, table)?;
                    table.start
                }
                None => {
                    out.resize(image.len() + layout.padding, 0);
                    out.len()
                }
            };
        let digest = layout.digest(image);
        let pkcs7 = signature::build(&digest, &self.key, &self.cert, opts.signing_time)?;
        out.extend_from_slice(&image::win_certificate(&pkcs7));
        let table_len = u32::try_from(out.len() - table_start)
            .ok()
            .filter(|_| u32::try_from(out.len()).is_ok())
            .ok_or_else(|| Error::new(ErrorKind::NotPe, "the signed image would pass 4 GiB"))?;
        wr32(&mut out, layout.security_entry, table_start as u32);
        wr32(&mut out, layout.security_entry + 4, table_len);
        let sum = peln_pe::checksum(&out, layout.checksum_field);
        wr32(&mut out, layout.checksum_field, sum);
        // What we write must read back as what we meant to sign, with our own certificate.
        verify(&out, std::slice::from_ref(&self.cert))?;
        Ok(out)
    }
}

/// `image` as it was before it was signed: without its certificate table and with the security
/// directory entry cleared (the checksum is left for whoever writes the image next). The table
/// must be the file's last bytes, after the headers; its alignment and entries are not checked,
/// since the signatures are dropped, not read. An image without a table comes back unchanged.
pub fn strip_signatures(image: &[u8]) -> Result<Vec<u8>, Error> {
    let h = Headers::parse(image).map_err(image::not_pe)?;
    let Some(entry) = image::security_entry(&h) else {
        return Ok(image.to_vec());
    };
    let Some(table) = image::certificate_table(image, entry)? else {
        return Ok(image.to_vec());
    };
    if table.start < entry + 8 {
        return Err(Error::new(
            ErrorKind::BadTable,
            format!(
                "certificate table: starts at {:#x}, inside the headers",
                table.start
            ),
        ));
    }
    let mut out = image[..table.start].to_vec();
    wr32(&mut out, entry, 0);
    wr32(&mut out, entry + 4, 0);
    Ok(out)
}

/// The Authenticode SHA-256 digest of an image: the bytes edk2's `HashPeImage` hashes (headers
/// without CheckSum and the security directory entry, section raw data by file offset, trailing
/// data up to the certificate table, zero-padded to 8 bytes as the image is when signed): the
/// digest a signature of this image carries. An image whose ranges edk2 and systemd would see
/// differently is an [`ErrorKind::Ambiguous`] error.
pub fn authenticode_digest(image: &[u8]) -> Result<[u8; 32], Error> {
    let layout = image::Layout::read(image)?;
    Ok(layout.digest(image))
}

/// One checked signature of an image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureInfo {
    /// The signer certificate's subject, as an RFC 4514 string.
    pub signer: String,
    /// Its issuer.
    pub issuer: String,
    /// The index into `trusted` of the certificate it is or chains to; `None` when [`verify`]
    /// was given no certificates.
    pub trusted_by: Option<usize>,
}

/// Checks an image's Authenticode signatures: the certificate table's structure and, for each
/// signature, that it is Authenticode SHA-256 and its digest is the image's. With `trusted`
/// certificates (the firmware's db) also each signature's messageDigest and RSA signature, and
/// that at least one signer is, or chains to, a trusted certificate; an unsigned image is then
/// [`ErrorKind::NotSigned`]. An unsigned image without `trusted` gives an empty list.
pub fn verify(image: &[u8], trusted: &[Certificate]) -> Result<Vec<SignatureInfo>, Error> {
    let h = Headers::parse(image).map_err(image::not_pe)?;
    let entry = image::security_entry(&h).map(|at| {
        (
            rd32(image, at).unwrap_or(0),
            rd32(image, at + 4).unwrap_or(0),
        )
    });
    if matches!(entry, None | Some((0, 0))) {
        return match trusted {
            [] => Ok(Vec::new()),
            _ => Err(Error::new(
                ErrorKind::NotSigned,
                "not signed (no certificate table)",
            )),
        };
    }
    let layout = image::Layout::read(image)?;
    let table = layout.table.as_ref().expect("a security directory entry");
    let digest = layout.digest(image);
    let mut found = Vec::new();
    for (i, blob) in image::entries(image, table)?.into_iter().enumerate() {
        let in_sig = |e: Error| Error::new(e.kind(), format!("signature {i}: {e}"));
        let sig = signature::Decoded::decode(blob).map_err(in_sig)?;
        if sig.image_digest != digest {
            return Err(Error::new(
                ErrorKind::DigestMismatch,
                format!(
                    "signature {i}: it signs image digest {}, the image's is {} \
                     (the image was changed after signing)",
                    hex(&sig.image_digest),
                    hex(&digest)
                ),
            ));
        }
        let trusted_by = match trusted {
            [] => None,
            _ => {
                sig.check_signature().map_err(in_sig)?;
                sig.trusted_by(trusted)
            }
        };
        let tbs = &sig.signer.tbs_certificate;
        found.push(SignatureInfo {
            signer: tbs.subject.to_string(),
            issuer: tbs.issuer.to_string(),
            trusted_by,
        });
    }
    if !trusted.is_empty() && found.iter().all(|s| s.trusted_by.is_none()) {
        let signers: Vec<String> = found
            .iter()
            .map(|s| format!("`{}` (issuer `{}`)", s.signer, s.issuer))
            .collect();
        return Err(Error::new(
            ErrorKind::Untrusted,
            format!(
                "no signer is, or is issued by, a given certificate: signed by {}",
                signers.join(", ")
            ),
        ));
    }
    Ok(found)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
