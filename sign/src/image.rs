//! The bytes Authenticode hashes, and the certificate table that carries the signatures.
//!
//! The ranges are those of edk2's `HashPeImage` (DxeImageVerificationLib): the headers up to
//! SizeOfHeaders without CheckSum and the security directory entry, then each section's raw data
//! in PointerToRawData order, then the file from SizeOfHeaders + ΣSizeOfRawData up to the
//! certificate table. systemd's `pe_hash()` computes the same ranges but pads a file whose length
//! is not a multiple of 8 with zeros, as sbsign and osslsigncode do; and edk2 sorts sections
//! stably where systemd's qsort does not. The trailing range starts at a *sum* of sizes, not
//! where the last section ends: on an image whose raw data has a gap or an overlap the signers
//! hash different bytes, some of the file is hashed twice and some not at all. Such an image
//! (and one whose headers or table are placed so the verifiers would disagree) is refused here,
//! so every signature we make or accept means the same bytes to every verifier.
use std::ops::Range;

use peln_pe::headers::{rd16, rd32, IMAGE_DIRECTORY_ENTRY_SECURITY};
use peln_pe::Headers;
use sha2::{Digest, Sha256};

use crate::{Error, ErrorKind};

/// WIN_CERTIFICATE's revision and type for Authenticode.
pub const WIN_CERT_REVISION_2_0: u16 = 0x0200;
pub const WIN_CERT_TYPE_PKCS_SIGNED_DATA: u16 = 0x0002;
/// dwLength, wRevision, wCertificateType.
pub const WIN_CERT_HEADER: usize = 8;

/// An image's hashed ranges and its certificate table.
pub struct Layout {
    /// Where the security directory entry (VirtualAddress, Size) is in the file.
    pub security_entry: usize,
    pub checksum_field: usize,
    /// The ranges hashed, in order.
    pub ranges: Vec<Range<usize>>,
    /// Zero bytes hashed after the ranges (systemd's and the signers' padding to 8 bytes).
    pub padding: usize,
    /// The certificate table's file range, when the image has one.
    pub table: Option<Range<usize>>,
}

pub fn not_pe(e: peln_pe::NotPe) -> Error {
    Error::new(ErrorKind::NotPe, format!("not a PE image: {e}"))
}

fn ambiguous(what: String) -> Error {
    Error::new(
        ErrorKind::Ambiguous,
        format!("{what}: verifiers (edk2, systemd, sbsign) would hash different bytes, refusing"),
    )
}

fn bad_table(what: String) -> Error {
    Error::new(ErrorKind::BadTable, format!("certificate table: {what}"))
}

/// Where the security directory entry is, if the optional header has one.
pub fn security_entry(h: &Headers) -> Option<usize> {
    let dirs = h.opt + if h.pe32plus { 112 } else { 96 };
    let at = dirs + 8 * IMAGE_DIRECTORY_ENTRY_SECURITY;
    (h.number_of_rva_and_sizes as usize > IMAGE_DIRECTORY_ENTRY_SECURITY
        && at + 8 <= h.opt + usize::from(h.size_of_optional_header))
    .then_some(at)
}

/// The certificate table the security directory entry at `security_entry` points at: `None`
/// when the entry is empty, otherwise its file range, which must be the file's last bytes (where
/// signers append it and where edk2 and systemd look for it).
pub fn certificate_table(
    image: &[u8],
    security_entry: usize,
) -> Result<Option<Range<usize>>, Error> {
    let (table_at, table_size) = (
        rd32(image, security_entry).unwrap_or(0) as usize,
        rd32(image, security_entry + 4).unwrap_or(0) as usize,
    );
    let table = match (table_at, table_size) {
        (0, 0) => return Ok(None),
        _ => table_at..table_at.saturating_add(table_size),
    };
    if table.end != image.len() {
        return Err(bad_table(format!(
            "{:#x}..{:#x} is not at the end of the file ({:#x})",
            table.start,
            table.end,
            image.len()
        )));
    }
    Ok(Some(table))
}

impl Layout {
    /// Reads the ranges of `image`, refusing anything on which the verifiers would disagree.
    pub fn read(image: &[u8]) -> Result<Layout, Error> {
        let h = Headers::parse(image).map_err(not_pe)?;
        let security_entry = security_entry(&h).ok_or_else(|| {
            ambiguous(format!(
                "the optional header has no security directory entry (NumberOfRvaAndSizes {})",
                h.number_of_rva_and_sizes
            ))
        })?;
        let checksum_field = h.checksum_offset();
        let size_of_headers = h.size_of_headers as usize;
        if size_of_headers < h.table_end() || size_of_headers > image.len() {
            return Err(ambiguous(format!(
                "SizeOfHeaders {size_of_headers:#x} is not between the end of the section table \
                 ({:#x}) and the end of the file ({:#x})",
                h.table_end(),
                image.len()
            )));
        }
        let mut ranges = vec![
            0..checksum_field,
            checksum_field + 4..security_entry,
            security_entry + 8..size_of_headers,
        ];
        let mut sections: Vec<_> = h
            .sections
            .iter()
            .filter(|s| s.size_of_raw_data > 0)
            .collect();
        sections.sort_by_key(|s| s.pointer_to_raw_data);
        let mut end = size_of_headers;
        for s in sections {
            let start = s.pointer_to_raw_data as usize;
            if start != end {
                let what = if start > end { "a gap" } else { "an overlap" };
                return Err(ambiguous(format!(
                    "section {} raw data starts at {start:#x}, the data before it ends at {end:#x} \
                     ({what})",
                    s.name()
                )));
            }
            end = start + s.size_of_raw_data as usize;
            if end > image.len() {
                return Err(ambiguous(format!(
                    "section {} raw data ({start:#x}..{end:#x}) runs past the end of the file \
                     ({:#x})",
                    s.name(),
                    image.len()
                )));
            }
            ranges.push(start..end);
        }
        let table = certificate_table(image, security_entry)?;
        let hashed_end = match &table {
            None => image.len(),
            Some(t) => {
                if t.start < end {
                    return Err(bad_table(format!(
                        "starts at {:#x}, inside the section data (which ends at {end:#x})",
                        t.start
                    )));
                }
                if t.start % 8 != 0 || t.len() % 8 != 0 {
                    return Err(bad_table(format!(
                        "{:#x}..{:#x} is not 8-byte aligned",
                        t.start, t.end
                    )));
                }
                t.start
            }
        };
        ranges.push(end..hashed_end);
        Ok(Layout {
            security_entry,
            checksum_field,
            ranges,
            padding: (8 - hashed_end % 8) % 8,
            table,
        })
    }

    pub fn digest(&self, image: &[u8]) -> [u8; 32] {
        let mut sha = Sha256::new();
        for r in &self.ranges {
            sha.update(&image[r.clone()]);
        }
        sha.update(&[0u8; 8][..self.padding]);
        sha.finalize().into()
    }
}

/// The PKCS#7 blobs of the certificate table's entries, in order. Each entry is a WIN_CERTIFICATE
/// of revision 2.0 and type PKCS_SIGNED_DATA, the next one at dwLength rounded up to 8, and the
/// last one ending where the table does (edk2 walks the table the same way).
pub fn entries<'d>(image: &'d [u8], table: &Range<usize>) -> Result<Vec<&'d [u8]>, Error> {
    let mut at = table.start;
    let mut out = Vec::new();
    while at < table.end {
        let n = out.len();
        let len = rd32(image, at).unwrap_or(0) as usize;
        let end = at.saturating_add(len);
        if len <= WIN_CERT_HEADER || end > table.end {
            return Err(bad_table(format!(
                "entry {n} at {at:#x}: dwLength {len:#x} does not fit the table ({:#x}..{:#x})",
                table.start, table.end
            )));
        }
        let revision = rd16(image, at + 4).unwrap_or(0);
        let kind = rd16(image, at + 6).unwrap_or(0);
        if revision != WIN_CERT_REVISION_2_0 || kind != WIN_CERT_TYPE_PKCS_SIGNED_DATA {
            return Err(bad_table(format!(
                "entry {n} at {at:#x}: revision {revision:#x} type {kind:#x}, not an \
                 Authenticode signature (revision 0x200, type 2 PKCS_SIGNED_DATA)"
            )));
        }
        out.push(&image[at + WIN_CERT_HEADER..end]);
        at = end.next_multiple_of(8);
    }
    if at != table.end {
        return Err(bad_table(format!(
            "its last entry ends at {at:#x}, past the table's end {:#x}",
            table.end
        )));
    }
    if out.is_empty() {
        return Err(bad_table("empty".into()));
    }
    Ok(out)
}

/// One WIN_CERTIFICATE for a PKCS#7 blob, padded to 8 bytes; dwLength counts the padding, as
/// osslsigncode writes it (edk2 and Windows step to the next entry at dwLength rounded up to 8
/// either way).
pub fn win_certificate(pkcs7: &[u8]) -> Vec<u8> {
    let len = (WIN_CERT_HEADER + pkcs7.len()).next_multiple_of(8);
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(&(len as u32).to_le_bytes());
    out.extend_from_slice(&WIN_CERT_REVISION_2_0.to_le_bytes());
    out.extend_from_slice(&WIN_CERT_TYPE_PKCS_SIGNED_DATA.to_le_bytes());
    out.extend_from_slice(pkcs7);
    out.resize(len, 0);
    out
}
