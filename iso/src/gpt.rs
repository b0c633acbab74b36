//! Protective MBR and GPT (UEFI 2.10 §5.2–5.3) for the hybrid image, in 512-byte LBAs.
//!
//! The GPT lives in the ISO 9660 system area (first 32 KiB), which ISO readers ignore; the backup
//! header and entry array sit in the last 33 sectors, after the ESP.

use sha2::{Digest, Sha256};
use uguid::{guid, Guid};

pub const SECTOR: u64 = 512;
/// 128 entries of 128 bytes: the size every GPT reader expects and the minimum the spec allows.
pub const ENTRIES: u32 = 128;
pub const ENTRY_SIZE: u32 = 128;
pub const ENTRY_ARRAY_SECTORS: u64 = (ENTRIES as u64 * ENTRY_SIZE as u64) / SECTOR;

/// The EFI System Partition, in on-disk (mixed-endian) order.
pub const TYPE_ESP: [u8; 16] = guid!("C12A7328-F81F-11D2-BA4B-00A0C93EC93B").to_bytes();
/// Microsoft basic data, in on-disk order: what xorriso uses for the ISO area.
pub const TYPE_BASIC_DATA: [u8; 16] = guid!("EBD0A0A2-B9E5-4433-87C0-68B6B72699C7").to_bytes();
/// Bit 60 of a basic-data partition: read-only. The ISO area is.
pub const ATTR_READ_ONLY: u64 = 1 << 60;

/// The canonical text form of an on-disk GUID, upper-case as sgdisk and the UEFI specification
/// print it ("C12A7328-F81F-11D2-BA4B-00A0C93EC93B").
pub fn guid_string(g: &[u8; 16]) -> String {
    Guid::from_bytes(*g).to_string().to_ascii_uppercase()
}

/// A reproducible GUID: SHA-256 of a purpose tag and the image's content seed, shaped as an
/// RFC 9562 version-8 ("custom") UUID so nobody mistakes it for a random v4.
pub fn derived_guid(seed: &[u8; 32], purpose: &str) -> [u8; 16] {
    let mut h = Sha256::new();
    h.update(b"cloud-boot-iso guid\0");
    h.update(purpose.as_bytes());
    h.update([0]);
    h.update(seed);
    let d = h.finalize();
    let mut g = [0u8; 16];
    g.copy_from_slice(&d[..16]);
    // Version nibble is the high nibble of the third field, stored little-endian at byte 7.
    g[7] = (g[7] & 0x0f) | 0x80;
    // Variant 0b10 in the top bits of byte 8 (not byte-swapped).
    g[8] = (g[8] & 0x3f) | 0x80;
    g
}

/// CRC-32 (IEEE 802.3, reflected, init/xorout 0xFFFFFFFF) as GPT requires: `crc32fast`'s.
pub use crc32fast::hash as crc32;

#[derive(Clone, Debug)]
pub struct Partition {
    pub type_guid: [u8; 16],
    pub guid: [u8; 16],
    pub first_lba: u64,
    pub last_lba: u64,
    pub attributes: u64,
    pub name: &'static str,
}

/// Everything needed to write both GPT copies.
#[derive(Clone, Debug)]
pub struct Gpt {
    pub disk_guid: [u8; 16],
    /// Size of the whole image in 512-byte sectors.
    pub total_lba: u64,
    pub partitions: Vec<Partition>,
}

impl Gpt {
    pub fn first_usable(&self) -> u64 {
        2 + ENTRY_ARRAY_SECTORS
    }
    pub fn last_usable(&self) -> u64 {
        self.total_lba - 2 - ENTRY_ARRAY_SECTORS
    }
    pub fn backup_header_lba(&self) -> u64 {
        self.total_lba - 1
    }
    pub fn backup_entries_lba(&self) -> u64 {
        self.total_lba - 1 - ENTRY_ARRAY_SECTORS
    }

    /// Protective MBR: one 0xEE partition from LBA 1 to the end (clamped to 32 bits).
    pub fn protective_mbr(&self) -> [u8; 512] {
        let mut m = [0u8; 512];
        let e = &mut m[446..462];
        e[0] = 0x00; // not bootable: UEFI ignores it, and BIOS has no loader here
        e[1..4].copy_from_slice(&[0x00, 0x02, 0x00]); // CHS of LBA 1
        e[4] = 0xEE;
        e[5..8].copy_from_slice(&[0xFF, 0xFF, 0xFF]); // CHS unrepresentable
        e[8..12].copy_from_slice(&1u32.to_le_bytes());
        let size = (self.total_lba - 1).min(u32::MAX as u64) as u32;
        e[12..16].copy_from_slice(&size.to_le_bytes());
        m[510] = 0x55;
        m[511] = 0xAA;
        m
    }

    /// The partition entry array, identical in both copies.
    pub fn entries(&self) -> Vec<u8> {
        let mut v = vec![0u8; (ENTRIES * ENTRY_SIZE) as usize];
        for (i, p) in self.partitions.iter().enumerate() {
            let e = &mut v[i * ENTRY_SIZE as usize..(i + 1) * ENTRY_SIZE as usize];
            e[0..16].copy_from_slice(&p.type_guid);
            e[16..32].copy_from_slice(&p.guid);
            e[32..40].copy_from_slice(&p.first_lba.to_le_bytes());
            e[40..48].copy_from_slice(&p.last_lba.to_le_bytes());
            e[48..56].copy_from_slice(&p.attributes.to_le_bytes());
            for (j, u) in p.name.encode_utf16().take(36).enumerate() {
                e[56 + 2 * j..58 + 2 * j].copy_from_slice(&u.to_le_bytes());
            }
        }
        v
    }

    /// A header sector. `primary` selects which copy (they differ in MyLBA/AlternateLBA and in
    /// where the entry array is).
    pub fn header(&self, primary: bool, entries_crc: u32) -> [u8; 512] {
        let (my, alt, entries_lba): (u64, u64, u64) = if primary {
            (1, self.backup_header_lba(), 2)
        } else {
            (self.backup_header_lba(), 1, self.backup_entries_lba())
        };
        let mut h = [0u8; 512];
        h[0..8].copy_from_slice(b"EFI PART");
        h[8..12].copy_from_slice(&0x0001_0000u32.to_le_bytes());
        h[12..16].copy_from_slice(&92u32.to_le_bytes());
        // 16..20 CRC, 20..24 reserved
        h[24..32].copy_from_slice(&my.to_le_bytes());
        h[32..40].copy_from_slice(&alt.to_le_bytes());
        h[40..48].copy_from_slice(&self.first_usable().to_le_bytes());
        h[48..56].copy_from_slice(&self.last_usable().to_le_bytes());
        h[56..72].copy_from_slice(&self.disk_guid);
        h[72..80].copy_from_slice(&entries_lba.to_le_bytes());
        h[80..84].copy_from_slice(&ENTRIES.to_le_bytes());
        h[84..88].copy_from_slice(&ENTRY_SIZE.to_le_bytes());
        h[88..92].copy_from_slice(&entries_crc.to_le_bytes());
        let crc = crc32(&h[..92]);
        h[16..20].copy_from_slice(&crc.to_le_bytes());
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn esp_type_guid_bytes_and_text() {
        assert_eq!(
            TYPE_ESP,
            [
                0x28, 0x73, 0x2A, 0xC1, 0x1F, 0xF8, 0xD2, 0x11, 0xBA, 0x4B, 0x00, 0xA0, 0xC9, 0x3E,
                0xC9, 0x3B
            ]
        );
        assert_eq!(
            guid_string(&TYPE_ESP),
            "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
        );
    }

    #[test]
    fn derived_guid_is_v8_and_stable() {
        let g = derived_guid(&[7u8; 32], "disk");
        let s = guid_string(&g);
        assert_eq!(&s[14..15], "8", "{s}");
        assert!(matches!(&s[19..20], "8" | "9" | "A" | "B"), "{s}");
        assert_eq!(g, derived_guid(&[7u8; 32], "disk"));
        assert_ne!(g, derived_guid(&[7u8; 32], "esp"));
    }

    fn sample() -> Gpt {
        Gpt {
            disk_guid: [1; 16],
            total_lba: 100_000,
            partitions: vec![
                Partition {
                    type_guid: TYPE_BASIC_DATA,
                    guid: [2; 16],
                    first_lba: 64,
                    last_lba: 2047,
                    attributes: ATTR_READ_ONLY,
                    name: "ISO9660",
                },
                Partition {
                    type_guid: TYPE_ESP,
                    guid: [3; 16],
                    first_lba: 2048,
                    last_lba: 99_963,
                    attributes: 0,
                    name: "ESP",
                },
            ],
        }
    }

    #[test]
    fn header_fields_and_crcs() {
        let g = sample();
        let entries = g.entries();
        let ecrc = crc32(&entries);
        let h = g.header(true, ecrc);
        assert_eq!(&h[..8], b"EFI PART");
        let u64at = |o: usize| u64::from_le_bytes(h[o..o + 8].try_into().unwrap());
        assert_eq!(u64at(24), 1);
        assert_eq!(u64at(32), 99_999);
        assert_eq!(u64at(40), 34);
        assert_eq!(u64at(48), 99_966);
        assert_eq!(u64at(72), 2);
        assert_eq!(u32::from_le_bytes(h[88..92].try_into().unwrap()), ecrc);
        // Header CRC is over the 92 bytes with the CRC field zeroed.
        let mut z = h;
        z[16..20].fill(0);
        assert_eq!(
            u32::from_le_bytes(h[16..20].try_into().unwrap()),
            crc32(&z[..92])
        );
        let b = g.header(false, ecrc);
        let u64b = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
        assert_eq!((u64b(24), u64b(32), u64b(72)), (99_999, 1, 99_967));
        // Entry 2: ESP type, name in UTF-16LE.
        assert_eq!(&entries[128..144], &TYPE_ESP);
        assert_eq!(&entries[128 + 56..128 + 62], b"E\0S\0P\0");
        assert_eq!(
            u64::from_le_bytes(entries[48..56].try_into().unwrap()),
            1 << 60
        );
    }

    #[test]
    fn protective_mbr_layout() {
        let m = sample().protective_mbr();
        assert_eq!(
            &m[446..462],
            &[0, 0, 2, 0, 0xEE, 0xFF, 0xFF, 0xFF, 1, 0, 0, 0, 0x9F, 0x86, 0x01, 0]
        );
        assert_eq!(&m[510..], &[0x55, 0xAA]);
    }
}
