//! peln-sign through its public API on the smallest well-formed PE image (peln_pe::synth): every
//! key format, the errors a user meets, reproducibility, and each way a signed image can be
//! broken. Interop with sbsign, osslsigncode and real images is in pectl/tests/sign.rs.
use std::path::{Path, PathBuf};

use peln_pe::headers::{rd32, wr32};
use peln_sign::{
    authenticode_digest, parse_certificates, strip_signatures, verify, Certificate, ErrorKind,
    Password, SignOptions, Signer,
};
use sha2::{Digest, Sha256};

fn keys(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/keys")
        .join(name)
}

fn cert(name: &str) -> Vec<Certificate> {
    parse_certificates(&std::fs::read(keys(name)).unwrap()).unwrap()
}

fn password() -> Password {
    Password::new(b"peln-test".to_vec())
}

fn signer(key: &str, cert: &str) -> Signer {
    Signer::load(&keys(key), &keys(cert), Some(&password())).unwrap()
}

fn image() -> Vec<u8> {
    peln_pe::synth::image(0x8664, 10)
}

const TIME: SignOptions = SignOptions {
    append: false,
    signing_time: Some(1_700_000_000),
};

fn signed() -> Vec<u8> {
    signer("rsa2048.pkcs1.pem", "rsa2048.crt")
        .sign(&image(), &TIME)
        .unwrap()
}

/// The security directory entry of the synthetic image (PE32+: data directories at +112).
const SECURITY: usize = peln_pe::synth::OPT + 112 + 4 * 8;

#[test]
fn every_key_format_signs_and_verifies() {
    for (key, cert_file) in [
        ("rsa2048.pkcs1.pem", "rsa2048.crt"),
        ("rsa2048.pkcs8.pem", "rsa2048.crt"),
        ("rsa2048.3des.pem", "rsa2048.crt"),
        ("rsa2048.aes.pem", "rsa2048.crt"),
        ("rsa4096.pem", "rsa4096.crt"),
    ] {
        let out = signer(key, cert_file).sign(&image(), &TIME).unwrap();
        let sigs = verify(&out, &cert(cert_file)).unwrap_or_else(|e| panic!("{key}: {e}"));
        assert_eq!(sigs.len(), 1, "{key}");
        assert_eq!(sigs[0].trusted_by, Some(0), "{key}");
        assert!(
            sigs[0].signer.contains("peln test"),
            "{key}: {}",
            sigs[0].signer
        );
    }
}

#[test]
fn the_signed_file_is_laid_out_as_firmware_reads_it() {
    let img = image();
    let out = signed();
    // The image, unchanged outside CheckSum and the security entry, then the table at its end.
    let table_at = rd32(&out, SECURITY).unwrap() as usize;
    let table_len = rd32(&out, SECURITY + 4).unwrap() as usize;
    assert_eq!(table_at, img.len());
    assert_eq!(table_at + table_len, out.len());
    assert_eq!(out.len() % 8, 0);
    let entry_len = rd32(&out, table_at).unwrap() as usize;
    assert_eq!(entry_len, table_len);
    assert_eq!(
        &out[table_at + 4..table_at + 8],
        &[0, 2, 2, 0],
        "revision 0x200, type 2"
    );
    let cksum = peln_pe::synth::OPT + 64;
    assert_eq!(rd32(&out, cksum).unwrap(), peln_pe::checksum(&out, cksum));
    let mut back = out[..img.len()].to_vec();
    wr32(&mut back, SECURITY, 0);
    wr32(&mut back, SECURITY + 4, 0);
    back[cksum..cksum + 4].copy_from_slice(&img[cksum..cksum + 4]);
    assert_eq!(back, img);
    // Signing changes neither hashed byte: the digest of the signed file is the input's.
    assert_eq!(
        authenticode_digest(&out).unwrap(),
        authenticode_digest(&img).unwrap()
    );
}

#[test]
fn the_digest_skips_checksum_and_security_entry_and_pads_to_8() {
    let img = image();
    let d = authenticode_digest(&img).unwrap();
    let mut m = img.clone();
    m[peln_pe::synth::OPT + 64] ^= 0xff;
    assert_eq!(
        authenticode_digest(&m).unwrap(),
        d,
        "CheckSum is not hashed"
    );
    m[0x40] ^= 1;
    assert_ne!(
        authenticode_digest(&m).unwrap(),
        d,
        "the DOS stub is hashed"
    );
    // A file of odd length hashes as if padded with zeros to 8 bytes, as it is when signed.
    let mut odd = img.clone();
    odd.extend_from_slice(b"tail");
    let mut padded = odd.clone();
    padded.resize(odd.len().next_multiple_of(8), 0);
    assert_eq!(
        authenticode_digest(&odd).unwrap(),
        authenticode_digest(&padded).unwrap()
    );
    // Both are the SHA-256 of every byte but CheckSum and the security entry, in file order.
    let mut sha = Sha256::new();
    let c = peln_pe::synth::OPT + 64;
    sha.update(&padded[..c]);
    sha.update(&padded[c + 4..SECURITY]);
    sha.update(&padded[SECURITY + 8..]);
    assert_eq!(
        authenticode_digest(&padded).unwrap(),
        <[u8; 32]>::from(sha.finalize())
    );
}

#[test]
fn signing_is_reproducible_and_pinned() {
    let a = signed();
    assert_eq!(a, signed());
    // Pinned: the same key, image and SOURCE_DATE_EPOCH give these bytes on any machine.
    let hex: String = Sha256::digest(&a)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        hex,
        "b465c2b2283f5a4fe61adff02710e9f483c7afca507fc2105c2942ab97a588a6"
    );
    // No SOURCE_DATE_EPOCH: no signingTime attribute (1.2.840.113549.1.9.5), and still the same
    // bytes each time.
    const SIGNING_TIME_OID: &[u8] = &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x05,
    ];
    let s = signer("rsa2048.pkcs1.pem", "rsa2048.crt");
    let untimed = s.sign(&image(), &SignOptions::default()).unwrap();
    assert_eq!(untimed, s.sign(&image(), &SignOptions::default()).unwrap());
    let has = |d: &[u8]| {
        d.windows(SIGNING_TIME_OID.len())
            .any(|w| w == SIGNING_TIME_OID)
    };
    assert!(has(&a) && !has(&untimed));
}

#[test]
fn key_errors_name_the_file_and_never_the_key() {
    let err = |key: &str, cert: &str, pw: Option<&Password>| {
        Signer::load(&keys(key), &keys(cert), pw)
            .err()
            .expect("an error")
    };
    let cases = [
        (
            err("rsa2048.3des.pem", "rsa2048.crt", None),
            ErrorKind::PasswordNeeded,
            "rsa2048.3des.pem",
        ),
        (
            err(
                "rsa2048.aes.pem",
                "rsa2048.crt",
                Some(&Password::new(b"wrong".to_vec())),
            ),
            ErrorKind::WrongPassword,
            "rsa2048.aes.pem",
        ),
        (
            err(
                "rsa2048.3des.pem",
                "rsa2048.crt",
                Some(&Password::new(b"wrong".to_vec())),
            ),
            ErrorKind::WrongPassword,
            "rsa2048.3des.pem",
        ),
        (
            err("rsa2048.pkcs8.pem", "rsa4096.crt", None),
            ErrorKind::KeyMismatch,
            "rsa4096.crt",
        ),
        (
            err("rsa1024.pem", "rsa2048.crt", None),
            ErrorKind::Key,
            "1024-bit",
        ),
        (
            err("rsa2048.crt", "rsa2048.crt", None),
            ErrorKind::Key,
            "not a private key",
        ),
        (
            err("README.md", "rsa2048.crt", None),
            ErrorKind::Key,
            "README.md",
        ),
        (
            err("missing.pem", "rsa2048.crt", None),
            ErrorKind::Io,
            "missing.pem",
        ),
        (
            err("rsa2048.pkcs8.pem", "rsa2048.pkcs8.pem", None),
            ErrorKind::Cert,
            "rsa2048.pkcs8.pem",
        ),
    ];
    let key_text = std::fs::read_to_string(keys("rsa2048.pkcs8.pem")).unwrap();
    let key_line = key_text.lines().nth(1).unwrap();
    for (e, kind, named) in cases {
        assert_eq!(e.kind(), kind, "{e}");
        assert!(e.to_string().contains(named), "`{e}` does not say {named}");
        assert!(
            !e.to_string().contains(&key_line[..16]),
            "`{e}` quotes the key"
        );
    }
}

#[test]
fn a_signed_image_needs_append_for_a_second_signature() {
    let s = signer("rsa4096.pem", "rsa4096.crt");
    let once = signed();
    let e = s.sign(&once, &TIME).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AlreadySigned, "{e}");
    let twice = s
        .sign(
            &once,
            &SignOptions {
                append: true,
                ..TIME
            },
        )
        .unwrap();
    let trusted = [cert("rsa2048.crt"), cert("rsa4096.crt")].concat();
    let sigs = verify(&twice, &trusted).unwrap();
    assert_eq!(
        sigs.iter().map(|s| s.trusted_by).collect::<Vec<_>>(),
        [Some(0), Some(1)]
    );
    // The first signature is still good on its own: the digest leaves the table out.
    assert_eq!(verify(&twice, &cert("rsa2048.crt")).unwrap().len(), 2);
}

#[test]
fn unsigned_images_pass_plain_verify_and_fail_with_certificates() {
    assert_eq!(verify(&image(), &[]).unwrap(), []);
    let e = verify(&image(), &cert("rsa2048.crt")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotSigned, "{e}");
}

#[test]
fn a_signer_issued_by_a_trusted_certificate_is_trusted() {
    let out = signer("leaf.pem", "leaf.crt")
        .sign(&image(), &TIME)
        .unwrap();
    assert_eq!(
        verify(&out, &cert("ca.crt")).unwrap()[0].trusted_by,
        Some(0)
    );
    let e = verify(&out, &cert("rsa2048.crt")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Untrusted, "{e}");
    assert!(e.to_string().contains("peln test leaf"), "{e}");
}

/// Every way to break a signed image, each refused with its own kind.
#[test]
fn broken_signed_images_are_refused() {
    let good = signed();
    let trusted = cert("rsa2048.crt");
    let table_at = rd32(&good, SECURITY).unwrap() as usize;
    let check = |what: &str, d: &[u8], kind: ErrorKind, plain_too: bool| {
        let e = verify(d, &trusted).expect_err(what);
        assert_eq!(e.kind(), kind, "{what}: {e}");
        if plain_too {
            assert_eq!(
                verify(d, &[]).expect_err(what).kind(),
                kind,
                "{what}, no --cert"
            );
        }
    };
    // A byte of code.
    let mut d = good.clone();
    d[0x200] ^= 1;
    check("tampered code", &d, ErrorKind::DigestMismatch, true);
    // Data appended after the table: the table is no longer at the end.
    let mut d = good.clone();
    d.extend_from_slice(&[0; 8]);
    check("data after the table", &d, ErrorKind::BadTable, true);
    // Truncated: the last 8 bytes of the table cut off.
    let d = &good[..good.len() - 8];
    check("truncated table", d, ErrorKind::BadTable, true);
    // The table's size grown past the entry's length.
    let mut d = good.clone();
    d.extend_from_slice(&[0; 8]);
    let size = rd32(&d, SECURITY + 4).unwrap();
    wr32(&mut d, SECURITY + 4, size + 8);
    check(
        "entry shorter than the table",
        &d,
        ErrorKind::BadTable,
        true,
    );
    // A misaligned table.
    let mut d = good[..table_at].to_vec();
    d.push(0);
    d.extend_from_slice(&good[table_at..]);
    wr32(&mut d, SECURITY, table_at as u32 + 1);
    check("misaligned table", &d, ErrorKind::BadTable, true);
    // The RSA signature's last byte (just before the entry's zero padding).
    let mut d = good.clone();
    let last = d.iter().rposition(|&b| b != 0).unwrap();
    d[last] ^= 1;
    check("tampered signature", &d, ErrorKind::SignatureInvalid, false);
    // Not a WIN_CERTIFICATE of type PKCS_SIGNED_DATA.
    let mut d = good.clone();
    d[table_at + 6] = 1;
    check("wrong certificate type", &d, ErrorKind::BadTable, true);
    // Garbage instead of PKCS#7.
    let mut d = good.clone();
    d[table_at + 8] = 0x04;
    check("not PKCS#7", &d, ErrorKind::BadSignature, true);
    // Another key's certificate.
    let e = verify(&good, &cert("rsa4096.crt")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Untrusted, "{e}");
}

/// Stripping gives back the image as signed (padded to 8, security entry cleared), whose digest
/// the signature carried; a table that is misaligned is still stripped (nothing of it is read),
/// one that is not the file's end or starts inside the headers is refused, and an unsigned image
/// comes back unchanged.
#[test]
fn strip_signatures_gives_back_the_signed_bytes() {
    let good = signed();
    let table_at = rd32(&good, SECURITY).unwrap() as usize;
    let stripped = strip_signatures(&good).unwrap();
    assert_eq!(stripped.len(), table_at);
    assert_eq!(rd32(&stripped, SECURITY).unwrap(), 0);
    assert_eq!(rd32(&stripped, SECURITY + 4).unwrap(), 0);
    assert_eq!(verify(&stripped, &[]).unwrap(), []);
    assert_eq!(
        authenticode_digest(&stripped).unwrap(),
        authenticode_digest(&good).unwrap()
    );
    let img = image();
    assert_eq!(strip_signatures(&img).unwrap(), img);

    let mut misaligned = good[..table_at].to_vec();
    misaligned.push(0xaa);
    misaligned.extend_from_slice(&good[table_at..]);
    wr32(&mut misaligned, SECURITY, table_at as u32 + 1);
    assert_eq!(
        authenticode_digest(&misaligned).unwrap_err().kind(),
        ErrorKind::BadTable
    );
    let out = strip_signatures(&misaligned).unwrap();
    assert_eq!(out[..table_at], stripped[..]);
    assert_eq!(out[table_at..], [0xaa]);

    let mut not_last = good.clone();
    not_last.extend_from_slice(&[0; 8]);
    let e = strip_signatures(&not_last).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadTable, "{e}");
    assert!(e.to_string().contains("not at the end of the file"), "{e}");
    let mut in_headers = good.clone();
    wr32(&mut in_headers, SECURITY, 0);
    wr32(&mut in_headers, SECURITY + 4, good.len() as u32);
    let e = strip_signatures(&in_headers).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadTable, "{e}");
    assert!(e.to_string().contains("inside the headers"), "{e}");
}

/// Images whose hashed ranges verifiers would read differently are not signed.
#[test]
fn ambiguous_images_are_refused() {
    let s = signer("rsa2048.pkcs1.pem", "rsa2048.crt");
    let sections = peln_pe::synth::TABLE;
    let reloc_ptr = sections + 40 + 20;
    for (what, ptr, needle) in [("gap", 0x600u32, "a gap"), ("overlap", 0x300, "an overlap")] {
        let mut d = image();
        d.resize(0x800, 0);
        wr32(&mut d, reloc_ptr, ptr);
        let e = s.sign(&d, &TIME).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Ambiguous, "{what}: {e}");
        assert!(
            e.to_string().contains(needle) && e.to_string().contains(".reloc"),
            "{e}"
        );
    }
    // No security directory entry to point at a table.
    let mut d = image();
    wr32(&mut d, peln_pe::synth::OPT + 108, 4);
    assert_eq!(s.sign(&d, &TIME).unwrap_err().kind(), ErrorKind::Ambiguous);
    // Not PE at all.
    assert_eq!(
        s.sign(b"\x7fELF\x02\x01\x01", &TIME).unwrap_err().kind(),
        ErrorKind::NotPe
    );
}

#[test]
fn password_from_file_drops_one_newline() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("pw");
    std::fs::write(&f, b"peln-test\n").unwrap();
    let pw = Password::from_file_or_env(Some(&f)).unwrap().unwrap();
    Signer::load(&keys("rsa2048.3des.pem"), &keys("rsa2048.crt"), Some(&pw)).unwrap();
    let e = Password::from_file_or_env(Some(&dir.path().join("none")))
        .err()
        .unwrap();
    assert!(e.to_string().contains("none"), "{e}");
}
