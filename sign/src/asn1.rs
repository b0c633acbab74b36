//! Authenticode's ASN.1: the `SpcIndirectDataContent` a signature carries, inside CMS / PKCS#7
//! `SignedData` (RFC 5652 types from the `cms` crate). Everything is encoded and decoded through
//! `der`'s typed encoders.
use der::asn1::{Any, BitString, BmpString, ContextSpecific, ObjectIdentifier as Oid, OctetString};
use der::{Sequence, TagMode, TagNumber};
use spki::AlgorithmIdentifierOwned;

pub const ID_SIGNED_DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.2");
pub const ID_CONTENT_TYPE: Oid = Oid::new_unwrap("1.2.840.113549.1.9.3");
pub const ID_MESSAGE_DIGEST: Oid = Oid::new_unwrap("1.2.840.113549.1.9.4");
pub const ID_SIGNING_TIME: Oid = Oid::new_unwrap("1.2.840.113549.1.9.5");
pub const ID_SHA256: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.1");
pub const RSA_ENCRYPTION: Oid = Oid::new_unwrap("1.2.840.113549.1.1.1");
pub const SHA256_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.11");
pub const SHA384_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.12");
pub const SHA512_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.13");
pub const SPC_INDIRECT_DATA: Oid = Oid::new_unwrap("1.3.6.1.4.1.311.2.1.4");
pub const SPC_PE_IMAGE_DATA: Oid = Oid::new_unwrap("1.3.6.1.4.1.311.2.1.15");
pub const SPC_SP_OPUS_INFO: Oid = Oid::new_unwrap("1.3.6.1.4.1.311.2.1.12");

/// ```text
/// SpcIndirectDataContent ::= SEQUENCE {
///     data                    SpcAttributeTypeAndOptionalValue,
///     messageDigest           DigestInfo }
/// ```
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct SpcIndirectDataContent {
    pub data: SpcAttributeTypeAndOptionalValue,
    pub message_digest: DigestInfo,
}

/// `SEQUENCE { type OBJECT IDENTIFIER, value ANY DEFINED BY type OPTIONAL }`: for a PE image the
/// type is `SPC_PE_IMAGE_DATAOBJ` and the value an [`SpcPeImageData`], which no verifier reads.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct SpcAttributeTypeAndOptionalValue {
    pub value_type: Oid,
    pub value: Option<Any>,
}

/// `DigestInfo ::= SEQUENCE { digestAlgorithm AlgorithmIdentifier, digest OCTET STRING }`
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct DigestInfo {
    pub digest_algorithm: AlgorithmIdentifierOwned,
    pub digest: OctetString,
}

/// ```text
/// SpcPeImageData ::= SEQUENCE {
///     flags  SpcPeImageFlags DEFAULT { includeResources },   -- BIT STRING
///     file   [0] EXPLICIT SpcLink OPTIONAL }
/// SpcLink ::= CHOICE { ..., file [2] EXPLICIT SpcString }
/// SpcString ::= CHOICE { unicode [0] IMPLICIT BMPString, ... }
/// ```
/// Written as every signer writes it: no flags, and the file link the spec calls obsolete,
/// `<<<Obsolete>>>`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct SpcPeImageData {
    pub flags: BitString,
    pub file: ContextSpecific<ContextSpecific<ContextSpecific<BmpString>>>,
}

fn explicit<T>(tag_number: TagNumber, value: T) -> ContextSpecific<T> {
    ContextSpecific {
        tag_number,
        tag_mode: TagMode::Explicit,
        value,
    }
}

impl SpcPeImageData {
    pub fn obsolete() -> der::Result<SpcPeImageData> {
        let unicode = ContextSpecific {
            tag_number: TagNumber::N0,
            tag_mode: TagMode::Implicit,
            value: BmpString::from_utf8("<<<Obsolete>>>")?,
        };
        Ok(SpcPeImageData {
            flags: BitString::new(0, [])?,
            file: explicit(TagNumber::N0, explicit(TagNumber::N2, unicode)),
        })
    }
}

/// SHA-256 as an AlgorithmIdentifier, with the NULL parameters OpenSSL writes (and so sbsign
/// and osslsigncode).
pub fn sha256_algorithm() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: ID_SHA256,
        parameters: Some(Any::null()),
    }
}

pub fn rsa_encryption() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: RSA_ENCRYPTION,
        parameters: Some(Any::null()),
    }
}
