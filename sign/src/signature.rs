//! One Authenticode signature: building the PKCS#7 `SignedData` for an image digest, and reading
//! and checking one found in a certificate table.
use std::time::{Duration, UNIX_EPOCH};

use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use der::asn1::{Any, ObjectIdentifier as Oid, OctetString, SetOfVec};
use der::{Decode, Encode, Header, SliceReader};
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::signature::{SignatureEncoding, Signer as _, Verifier};
use sha2::{Digest, Sha256, Sha384, Sha512};
use x509_cert::attr::Attribute;
use x509_cert::time::Time;
use x509_cert::Certificate;

use crate::asn1::*;
use crate::key::public_key;
use crate::{Error, ErrorKind};

fn bad(what: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::BadSignature, what.to_string())
}

fn encoding(e: der::Error) -> Error {
    bad(format!("cannot encode the signature: {e}"))
}

fn attribute(oid: Oid, value: Any) -> Result<Attribute, der::Error> {
    Ok(Attribute {
        oid,
        values: SetOfVec::try_from(vec![value])?,
    })
}

/// The DER of a PKCS#7 `ContentInfo` holding the Authenticode `SignedData` of `digest`, signed by
/// `key` whose certificate is `cert`.
pub fn build(
    digest: &[u8; 32],
    key: &SigningKey<Sha256>,
    cert: &Certificate,
    signing_time: Option<u64>,
) -> Result<Vec<u8>, Error> {
    let idc = SpcIndirectDataContent {
        data: SpcAttributeTypeAndOptionalValue {
            value_type: SPC_PE_IMAGE_DATA,
            value: Some(
                Any::encode_from(&SpcPeImageData::obsolete().map_err(encoding)?)
                    .map_err(encoding)?,
            ),
        },
        message_digest: DigestInfo {
            digest_algorithm: sha256_algorithm(),
            digest: OctetString::new(digest.as_slice()).map_err(encoding)?,
        },
    };
    let econtent = Any::encode_from(&idc).map_err(encoding)?;
    // PKCS#7 (not CMS) digests the content's value octets, without the SEQUENCE header; so do
    // Windows, osslsigncode and sbsign.
    let content_digest = Sha256::digest(econtent.value());
    let mut attrs = vec![
        attribute(
            ID_CONTENT_TYPE,
            Any::encode_from(&SPC_INDIRECT_DATA).map_err(encoding)?,
        ),
        attribute(
            ID_MESSAGE_DIGEST,
            Any::encode_from(&OctetString::new(content_digest.as_slice()).map_err(encoding)?)
                .map_err(encoding)?,
        ),
        // An empty SpcSpOpusInfo: no program name or URL, as sbsign writes it.
        attribute(
            SPC_SP_OPUS_INFO,
            Any::new(der::Tag::Sequence, []).map_err(encoding)?,
        ),
    ];
    if let Some(secs) = signing_time {
        let time = Time::try_from(UNIX_EPOCH + Duration::from_secs(secs))
            .map_err(|e| bad(format!("signing time {secs} (SOURCE_DATE_EPOCH): {e}")))?;
        attrs.push(attribute(
            ID_SIGNING_TIME,
            Any::encode_from(&time).map_err(encoding)?,
        ));
    }
    let signed_attrs = SetOfVec::try_from(
        attrs
            .into_iter()
            .collect::<Result<Vec<_>, _>>()
            .map_err(encoding)?,
    )
    .map_err(encoding)?;
    // The signature covers the attributes' DER as a SET OF (RFC 5652 5.4), not as the [0]
    // IMPLICIT field they are stored in.
    let signature = key.sign(&signed_attrs.to_der().map_err(encoding)?).to_vec();
    let tbs = &cert.tbs_certificate;
    let signer_info = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: tbs.issuer.clone(),
            serial_number: tbs.serial_number.clone(),
        }),
        digest_alg: sha256_algorithm(),
        signed_attrs: Some(signed_attrs),
        signature_algorithm: rsa_encryption(),
        signature: OctetString::new(signature).map_err(encoding)?,
        unsigned_attrs: None,
    };
    let signed_data = SignedData {
        version: CmsVersion::V1,
        digest_algorithms: SetOfVec::try_from(vec![sha256_algorithm()]).map_err(encoding)?,
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: SPC_INDIRECT_DATA,
            econtent: Some(econtent),
        },
        certificates: Some(CertificateSet(
            SetOfVec::try_from(vec![CertificateChoices::Certificate(cert.clone())])
                .map_err(encoding)?,
        )),
        crls: None,
        signer_infos: SignerInfos(SetOfVec::try_from(vec![signer_info]).map_err(encoding)?),
    };
    ContentInfo {
        content_type: ID_SIGNED_DATA,
        content: Any::encode_from(&signed_data).map_err(encoding)?,
    }
    .to_der()
    .map_err(encoding)
}

/// A decoded Authenticode signature.
pub struct Decoded {
    /// The image digest it signs.
    pub image_digest: Vec<u8>,
    econtent: Any,
    signer_info: SignerInfo,
    pub signer: Certificate,
    /// Every certificate it carries (the signer's chain, for a verifier that trusts an issuer).
    certs: Vec<Certificate>,
}

/// The length of the DER value at the start of `blob` (signers pad the WIN_CERTIFICATE after it).
fn der_len(blob: &[u8]) -> der::Result<usize> {
    let mut reader = SliceReader::new(blob)?;
    let header = Header::decode(&mut reader)?;
    let len = (header.encoded_len()? + header.length)?;
    usize::try_from(len)
}

impl Decoded {
    /// Decodes a WIN_CERTIFICATE's PKCS#7 blob (DER, then zero padding) as Authenticode.
    pub fn decode(blob: &[u8]) -> Result<Decoded, Error> {
        let der_err = |e: der::Error| bad(format!("malformed PKCS#7: {e}"));
        let len = der_len(blob).map_err(der_err)?;
        let (der, padding) = blob.split_at(len.min(blob.len()));
        if padding.iter().any(|&b| b != 0) {
            return Err(bad(format!(
                "{} bytes of data after the PKCS#7 (only zero padding may follow it)",
                padding.len()
            )));
        }
        // edk2 (HashPeImageByType) does not decode the PKCS#7 to pick the hash: it needs a
        // two-byte outer length (0x82) and reads the first digest algorithm's OID at offset 32.
        let oid = ID_SHA256.as_bytes();
        if der.get(1) != Some(&0x82) || der.get(32..32 + oid.len()) != Some(oid) {
            return Err(bad(
                "edk2 would not find SHA-256 where it reads the digest algorithm (offset 32, \
                 after two-byte lengths)",
            ));
        }
        let info = ContentInfo::from_der(der).map_err(der_err)?;
        if info.content_type != ID_SIGNED_DATA {
            return Err(bad(format!(
                "PKCS#7 content type {}, not signedData",
                info.content_type
            )));
        }
        let sd: SignedData = info.content.decode_as().map_err(der_err)?;
        let encap = &sd.encap_content_info;
        if encap.econtent_type != SPC_INDIRECT_DATA {
            return Err(bad(format!(
                "content type {}, not Authenticode's SpcIndirectDataContent ({SPC_INDIRECT_DATA})",
                encap.econtent_type
            )));
        }
        let econtent = encap
            .econtent
            .clone()
            .ok_or_else(|| bad("the SignedData has no content (a detached signature)"))?;
        let idc: SpcIndirectDataContent = econtent.decode_as().map_err(der_err)?;
        if idc.data.value_type != SPC_PE_IMAGE_DATA {
            return Err(bad(format!(
                "signed data of type {}, not a PE image ({SPC_PE_IMAGE_DATA})",
                idc.data.value_type
            )));
        }
        let alg = &idc.message_digest.digest_algorithm.oid;
        if *alg != ID_SHA256 {
            return Err(bad(format!(
                "image digest algorithm {alg}; only SHA-256 ({ID_SHA256}) is supported"
            )));
        }
        let signer_info = match sd.signer_infos.0.as_slice() {
            [one] => one.clone(),
            more => {
                return Err(bad(format!(
                    "{} SignerInfos; Authenticode has exactly one",
                    more.len()
                )))
            }
        };
        if signer_info.digest_alg.oid != ID_SHA256 {
            return Err(bad(format!(
                "signer digest algorithm {}; only SHA-256 is supported",
                signer_info.digest_alg.oid
            )));
        }
        let SignerIdentifier::IssuerAndSerialNumber(sid) = &signer_info.sid else {
            return Err(bad(
                "the signer is named by key identifier, not issuer and serial number",
            ));
        };
        let certs: Vec<Certificate> = sd
            .certificates
            .iter()
            .flat_map(|set| set.0.iter())
            .filter_map(|c| match c {
                CertificateChoices::Certificate(c) => Some(c.clone()),
                CertificateChoices::Other(_) => None,
            })
            .collect();
        let signer = certs
            .iter()
            .find(|c| {
                c.tbs_certificate.issuer == sid.issuer
                    && c.tbs_certificate.serial_number == sid.serial_number
            })
            .cloned()
            .ok_or_else(|| {
                bad(format!(
                    "the signer's certificate (issuer `{}`, serial {}) is not in the signature",
                    sid.issuer, sid.serial_number
                ))
            })?;
        Ok(Decoded {
            image_digest: idc.message_digest.digest.as_bytes().to_vec(),
            econtent,
            signer_info,
            signer,
            certs,
        })
    }

    /// Checks the signed attributes (contentType, messageDigest of the content) and the RSA
    /// signature over them with the signer's certificate.
    pub fn check_signature(&self) -> Result<(), Error> {
        let attrs = self
            .signer_info
            .signed_attrs
            .as_ref()
            .ok_or_else(|| bad("the SignerInfo has no signed attributes"))?;
        let value = |oid: Oid| -> Result<&Any, Error> {
            let found: Vec<&Attribute> = attrs.iter().filter(|a| a.oid == oid).collect();
            match found.as_slice() {
                [a] if a.values.len() == 1 => Ok(a.values.iter().next().expect("one value")),
                _ => Err(Error::new(
                    ErrorKind::AttributeMismatch,
                    format!("signed attribute {oid}: not exactly one, with one value"),
                )),
            }
        };
        let content_type: Oid = value(ID_CONTENT_TYPE)?
            .decode_as()
            .map_err(|e| bad(format!("contentType attribute: {e}")))?;
        if content_type != SPC_INDIRECT_DATA {
            return Err(Error::new(
                ErrorKind::AttributeMismatch,
                format!("the contentType attribute is {content_type}, not SpcIndirectDataContent"),
            ));
        }
        let message_digest: OctetString = value(ID_MESSAGE_DIGEST)?
            .decode_as()
            .map_err(|e| bad(format!("messageDigest attribute: {e}")))?;
        if message_digest.as_bytes() != Sha256::digest(self.econtent.value()).as_slice() {
            return Err(Error::new(
                ErrorKind::AttributeMismatch,
                "the messageDigest attribute is not the hash of the signed content \
                 (the SpcIndirectDataContent was changed after signing)",
            ));
        }
        let alg = &self.signer_info.signature_algorithm.oid;
        if *alg != RSA_ENCRYPTION && *alg != SHA256_WITH_RSA {
            return Err(bad(format!(
                "signature algorithm {alg}; only RSA PKCS#1 v1.5 with SHA-256 is supported"
            )));
        }
        let signed = attrs.to_der().map_err(encoding)?;
        rsa_verify(
            &self.signer,
            SHA256_WITH_RSA,
            &signed,
            self.signer_info.signature.as_bytes(),
        )
        .map_err(|why| {
            Error::new(
                ErrorKind::SignatureInvalid,
                format!(
                    "the RSA signature does not verify with the signer's certificate `{}`: {why}",
                    self.signer.tbs_certificate.subject
                ),
            )
        })
    }

    /// The index of the trusted certificate the signer is, or chains to through certificates
    /// the signature carries (edk2's db check: the signer or an issuer of it is in db).
    pub fn trusted_by(&self, trusted: &[Certificate]) -> Option<usize> {
        let mut cert = &self.signer;
        // A chain longer than this is no real chain; the bound also stops issuer loops.
        for _ in 0..8 {
            if let Some(i) = trusted.iter().position(|t| t == cert) {
                return Some(i);
            }
            if let Some(i) = trusted.iter().position(|t| issued_by(cert, t)) {
                return Some(i);
            }
            cert = self
                .certs
                .iter()
                .find(|c| *c != cert && issued_by(cert, c))?;
        }
        None
    }
}

fn issued_by(cert: &Certificate, issuer: &Certificate) -> bool {
    cert.tbs_certificate.issuer == issuer.tbs_certificate.subject
        && cert.tbs_certificate.to_der().is_ok_and(|tbs| {
            let sig = cert.signature.raw_bytes();
            rsa_verify(issuer, cert.signature_algorithm.oid, &tbs, sig).is_ok()
        })
}

/// Verifies an RSA PKCS#1 v1.5 signature of `msg` with `cert`'s key; `alg` is the
/// sha*WithRSAEncryption algorithm. The error says why, in words.
fn rsa_verify(cert: &Certificate, alg: Oid, msg: &[u8], sig: &[u8]) -> Result<(), String> {
    let key = public_key(cert).map_err(|e| e.to_string())?;
    let sig = Signature::try_from(sig).map_err(|e| e.to_string())?;
    let checked = match alg {
        SHA256_WITH_RSA => VerifyingKey::<Sha256>::new(key).verify(msg, &sig),
        SHA384_WITH_RSA => VerifyingKey::<Sha384>::new(key).verify(msg, &sig),
        SHA512_WITH_RSA => VerifyingKey::<Sha512>::new(key).verify(msg, &sig),
        other => return Err(format!("unsupported signature algorithm {other}")),
    };
    checked.map_err(|_| "signature mismatch".to_string())
}
