//! Private keys, their passwords and certificates, read from PEM files. Key bytes stay in
//! zeroizing buffers, and no error message quotes them.
use std::path::Path;

use der::{Decode, Encode};
use pkcs1::DecodeRsaPrivateKey;
use pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use x509_cert::Certificate;
use zeroize::Zeroizing;

use crate::asn1::RSA_ENCRYPTION;
use crate::{Error, ErrorKind, Password};

/// The environment variable a key's password may come from.
pub const PASSWORD_ENV: &str = "PELN_KEY_PASSWORD";

fn read(path: &Path, what: &str) -> Result<Zeroizing<Vec<u8>>, Error> {
    std::fs::read(path).map(Zeroizing::new).map_err(|e| {
        Error::new(
            ErrorKind::Io,
            format!("{}: cannot read the {what}: {e}", path.display()),
        )
    })
}

/// See [`Password::from_file_or_env`].
pub fn read_password(file: Option<&Path>) -> Result<Option<Password>, Error> {
    let mut bytes = match file {
        Some(f) => read(f, "password file")?,
        None => match std::env::var_os(PASSWORD_ENV) {
            Some(v) => Zeroizing::new(v.into_encoded_bytes()),
            None => return Ok(None),
        },
    };
    // A password file written by `echo` ends in a newline that is not part of the password.
    for end in [b"\r\n".as_slice(), b"\n"] {
        if bytes.ends_with(end) {
            let len = bytes.len() - end.len();
            bytes.truncate(len);
            break;
        }
    }
    Ok(Some(Password(bytes)))
}

/// The RSA key in `path`: PEM PKCS#1, PKCS#8 or encrypted PKCS#8 (PBES2 with PBKDF2 and AES or
/// DES-EDE3-CBC, as Debian's snakeoil key).
pub fn load_key(path: &Path, password: Option<&Password>) -> Result<RsaPrivateKey, Error> {
    let name = path.display();
    let bytes = read(path, "private key")?;
    let key_err = |what: String| Error::new(ErrorKind::Key, format!("{name}: {what}"));
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| key_err("not a PEM private key (binary data)".into()))?;
    let label = der::pem::decode_label(text.as_bytes())
        .map_err(|_| key_err("not a PEM private key (no -----BEGIN line)".into()))?;
    let key = match label {
        "RSA PRIVATE KEY" if text.contains("Proc-Type: 4,ENCRYPTED") => {
            return Err(key_err(
                "an OpenSSL-encrypted PKCS#1 key, which is not supported: convert it with \
                 `openssl pkcs8 -topk8 -v2 aes-256-cbc`"
                    .into(),
            ))
        }
        "RSA PRIVATE KEY" => RsaPrivateKey::from_pkcs1_pem(text)
            .map_err(|e| key_err(format!("cannot read the PKCS#1 RSA key: {e}")))?,
        "PRIVATE KEY" => RsaPrivateKey::from_pkcs8_pem(text)
            .map_err(|e| key_err(format!("cannot read the PKCS#8 key (RSA expected): {e}")))?,
        "ENCRYPTED PRIVATE KEY" => {
            let password = password.ok_or_else(|| {
                Error::new(
                    ErrorKind::PasswordNeeded,
                    format!(
                        "{name}: the private key is encrypted and no password was given \
                         (--key-password-file FILE or ${PASSWORD_ENV})"
                    ),
                )
            })?;
            let (_, doc) = der::SecretDocument::from_pem(text)
                .map_err(|e| key_err(format!("cannot read the PEM: {e}")))?;
            let info = pkcs8::EncryptedPrivateKeyInfo::from_der(doc.as_bytes())
                .map_err(|e| key_err(format!("cannot read the encrypted PKCS#8 key: {e}")))?;
            // A wrong password shows as bad padding or as garbage that is not a PrivateKeyInfo;
            // an unsupported scheme fails before any decryption.
            info.encryption_algorithm
                .pbes2()
                .ok_or_else(|| key_err("not PBES2-encrypted (PBES1 is not supported)".into()))?;
            let plain = info.decrypt(&password.0).map_err(|e| match e {
                // pkcs5 0.7 reports AES's bad padding as `EncryptFailed`.
                pkcs8::Error::EncryptedPrivateKey(
                    pkcs8::pkcs5::Error::DecryptFailed | pkcs8::pkcs5::Error::EncryptFailed,
                )
                | pkcs8::Error::Asn1(_) => Error::new(
                    ErrorKind::WrongPassword,
                    format!("{name}: the password does not decrypt the private key"),
                ),
                e => key_err(format!("cannot decrypt the private key: {e}")),
            })?;
            RsaPrivateKey::from_pkcs8_der(plain.as_bytes()).map_err(|_| {
                Error::new(
                    ErrorKind::WrongPassword,
                    format!("{name}: the password does not decrypt the private key"),
                )
            })?
        }
        other => {
            return Err(key_err(format!(
                "a PEM `{other}`, not a private key (RSA PRIVATE KEY, PRIVATE KEY or ENCRYPTED \
                 PRIVATE KEY)"
            )))
        }
    };
    let bits = key.size() * 8;
    if !(2048..=4096).contains(&bits) {
        return Err(key_err(format!(
            "a {bits}-bit RSA key; Authenticode signing here takes 2048 to 4096 bits"
        )));
    }
    Ok(key)
}

/// Reads certificates from PEM (one or more `CERTIFICATE` blocks) or DER.
pub fn parse_certificates(bytes: &[u8]) -> Result<Vec<Certificate>, Error> {
    let err = |e: der::Error| Error::new(ErrorKind::Cert, format!("not an X.509 certificate: {e}"));
    if bytes.first() == Some(&0x30) {
        return Ok(vec![Certificate::from_der(bytes).map_err(err)?]);
    }
    let certs = Certificate::load_pem_chain(bytes).map_err(err)?;
    if certs.is_empty() {
        return Err(Error::new(ErrorKind::Cert, "no certificate in the PEM"));
    }
    Ok(certs)
}

/// The first certificate in `path`.
pub fn load_certificate(path: &Path) -> Result<Certificate, Error> {
    let bytes = read(path, "certificate")?;
    let mut certs = parse_certificates(&bytes)
        .map_err(|e| Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    Ok(certs.swap_remove(0))
}

/// The RSA public key of a certificate.
pub fn public_key(cert: &Certificate) -> Result<RsaPublicKey, Error> {
    let spki = &cert.tbs_certificate.subject_public_key_info;
    if spki.algorithm.oid != RSA_ENCRYPTION {
        return Err(Error::new(
            ErrorKind::Cert,
            format!(
                "certificate `{}` holds a {} key, not RSA",
                cert.tbs_certificate.subject, spki.algorithm.oid
            ),
        ));
    }
    let der = spki
        .to_der()
        .map_err(|e| Error::new(ErrorKind::Cert, format!("certificate public key: {e}")))?;
    spki::DecodePublicKey::from_public_key_der(&der).map_err(|e| {
        Error::new(
            ErrorKind::Cert,
            format!(
                "certificate `{}`: unreadable RSA public key: {e}",
                cert.tbs_certificate.subject
            ),
        )
    })
}
