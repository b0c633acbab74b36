//! The EFI System Partition: sizing rule, FAT16/FAT32 geometry, and a small writer for the few
//! files an ESP here holds (`\EFI\BOOT\BOOT<ARCH>.EFI`, and for `build-iso` the boot loader's
//! configuration, kernels and initrds).
//!
//! Why not `fatfs`: its latest release (0.3.6) writes long-name entries in front of "." and ".."
//! in every new directory and a non-zero ".." cluster for first-level FAT32 directories
//! (rafalh/rust-fatfs #99, #100, #117; fixed only on its unreleased master), and `fsck.fat -n`
//! reports both. The structures needed for a small tree written once are few, so we write them
//! here, where every byte is deterministic, and keep `fatfs` as an independent reader in tests.
//!
//! Layout (all sectors 512 bytes): reserved sectors (boot sector; FAT32 adds FSInfo at 1 and
//! backup boot sector + FSInfo at 6/7), two FATs, the FAT16 root directory, then clusters from 2.
//! Every object gets contiguous clusters in creation order, so file data can be streamed
//! straight to its final place.

use std::collections::HashSet;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::io::{HashingReader, Progress};
use crate::time::Civil;

pub const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;
const SECTOR: u64 = 512;
const DIRENT: usize = 32;

/// The design note's rule: sum of the inputs × 1.5, plus an 8 MiB floor, rounded up to the next
/// 16 MiB. The 1.5 leaves room to swap in a somewhat bigger UKI without re-laying out; the floor
/// covers FAT tables and directories when the inputs are tiny. `None` on overflow.
pub fn esp_size(inputs_total: u64) -> Option<u64> {
    let scaled = inputs_total.checked_add(inputs_total.div_ceil(2))?;
    let raw = scaled.checked_add(8 * MIB)?;
    raw.checked_next_multiple_of(16 * MIB)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FatType {
    Fat16,
    Fat32,
}

impl std::fmt::Display for FatType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FatType::Fat16 => "FAT16",
            FatType::Fat32 => "FAT32",
        })
    }
}

/// FAT variant and cluster size for an ESP of `size` bytes (a multiple of 16 MiB).
///
/// Below 512 MiB FAT16: the smallest ESP, 16 MiB, is too small for FAT32's 65525-cluster minimum
/// even with 512-byte clusters. The cluster is the smallest power of two ≥ 2 KiB that keeps the
/// count well under FAT16's 65524 limit. From 512 MiB on FAT32 with Microsoft's / mkfs.fat's
/// cluster table, which keeps the count above 65525.
pub fn fat_geometry(size: u64) -> (FatType, u32) {
    if size < 512 * MIB {
        let mut cluster = 2048u64;
        while size / cluster > 65_000 {
            cluster *= 2;
        }
        (FatType::Fat16, cluster as u32)
    } else {
        let cluster = if size <= 8 * GIB {
            4096
        } else if size <= 16 * GIB {
            8192
        } else if size <= 32 * GIB {
            16384
        } else {
            32768
        };
        (FatType::Fat32, cluster)
    }
}

/// Where everything of one FAT volume is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    pub fat_type: FatType,
    pub total_sectors: u32,
    pub sectors_per_cluster: u32,
    pub reserved_sectors: u32,
    pub fat_sectors: u32,
    /// FAT16's fixed root directory (512 entries); 0 on FAT32, whose root is a cluster chain.
    pub root_sectors: u32,
    pub clusters: u32,
}

impl Geometry {
    pub fn new(size: u64) -> Result<Geometry> {
        let (fat_type, cluster_bytes) = fat_geometry(size);
        let total = u32::try_from(size / SECTOR).map_err(|_| Error::TooLarge {
            what: format!("ESP of {size} bytes exceeds FAT32's 2^32 sectors"),
        })?;
        let spc = cluster_bytes / SECTOR as u32;
        let (entry_bytes, base_reserved, root_sectors) = match fat_type {
            FatType::Fat16 => (2u64, 1u32, 32u32),
            FatType::Fat32 => (4, 32, 0),
        };
        // Size the FAT as if the whole volume were data: slightly generous, never too small.
        let fat_sectors = ((u64::from(total / spc) + 2) * entry_bytes).div_ceil(SECTOR) as u32;
        // Pad the reserved area so the data area starts on a cluster boundary.
        let meta = base_reserved + 2 * fat_sectors + root_sectors;
        let reserved = base_reserved + (spc - meta % spc) % spc;
        let data_sectors = total - reserved - 2 * fat_sectors - root_sectors;
        let clusters = data_sectors / spc;
        let ok = match fat_type {
            FatType::Fat16 => (4085..=65524).contains(&clusters),
            FatType::Fat32 => (65525..=0x0FFF_FFF5).contains(&clusters),
        };
        if !ok {
            return Err(Error::TooLarge {
                what: format!(
                    "ESP of {size} bytes gives {clusters} clusters, illegal for {fat_type:?}"
                ),
            });
        }
        Ok(Geometry {
            fat_type,
            total_sectors: total,
            sectors_per_cluster: spc,
            reserved_sectors: reserved,
            fat_sectors,
            root_sectors,
            clusters,
        })
    }

    pub fn cluster_bytes(&self) -> u64 {
        u64::from(self.sectors_per_cluster) * SECTOR
    }

    fn fat_offset(&self, copy: u32) -> u64 {
        u64::from(self.reserved_sectors + copy * self.fat_sectors) * SECTOR
    }

    fn root_offset(&self) -> u64 {
        self.fat_offset(2)
    }

    fn data_offset(&self) -> u64 {
        self.root_offset() + u64::from(self.root_sectors) * SECTOR
    }

    pub fn cluster_offset(&self, c: u32) -> u64 {
        self.data_offset() + u64::from(c - 2) * self.cluster_bytes()
    }

    fn end_of_chain(&self) -> u32 {
        match self.fat_type {
            FatType::Fat16 => 0xFFFF,
            FatType::Fat32 => 0x0FFF_FFFF,
        }
    }
}

/// Fixed volume serial: the same inputs must give the same bytes (mkfs.fat would use the clock).
pub const VOLUME_ID: u32 = 0x4342_4953; // "CBIS"
pub const VOLUME_LABEL: [u8; 11] = *b"ESP        ";

/// FAT date and time words (FAT can say 1980..=2107; earlier instants clamp to 1980-01-01).
#[derive(Clone, Copy, Debug)]
struct Stamp {
    date: u16,
    time: u16,
    tenths: u8,
}

impl Stamp {
    fn new(epoch: u64) -> Stamp {
        let c = Civil::from_unix(epoch).fat_clamped();
        Stamp {
            date: (((c.year - 1980) as u16) << 9) | (u16::from(c.month) << 5) | u16::from(c.day),
            time: (u16::from(c.hour) << 11) | (u16::from(c.minute) << 5) | u16::from(c.second / 2),
            // Creation time has 10 ms resolution: carries the odd second.
            tenths: (c.second % 2) * 100,
        }
    }
}

const ATTR_DIR: u8 = 0x10;
const ATTR_ARCHIVE: u8 = 0x20;
const ATTR_VOLUME: u8 = 0x08;
const ATTR_LFN: u8 = 0x0F;

/// One 32-byte short directory entry.
fn sfn_entry(name: &[u8; 11], attr: u8, cluster: u32, size: u32, t: Stamp) -> [u8; 32] {
    let mut e = [0u8; 32];
    e[..11].copy_from_slice(name);
    e[11] = attr;
    if attr == ATTR_VOLUME {
        // A volume label carries only the write time.
        e[22..24].copy_from_slice(&t.time.to_le_bytes());
        e[24..26].copy_from_slice(&t.date.to_le_bytes());
        return e;
    }
    e[13] = t.tenths;
    e[14..16].copy_from_slice(&t.time.to_le_bytes());
    e[16..18].copy_from_slice(&t.date.to_le_bytes());
    e[18..20].copy_from_slice(&t.date.to_le_bytes());
    e[20..22].copy_from_slice(&((cluster >> 16) as u16).to_le_bytes());
    e[22..24].copy_from_slice(&t.time.to_le_bytes());
    e[24..26].copy_from_slice(&t.date.to_le_bytes());
    e[26..28].copy_from_slice(&(cluster as u16).to_le_bytes());
    e[28..32].copy_from_slice(&size.to_le_bytes());
    e
}

/// Checksum of a short name, stored in each of its long-name entries.
fn lfn_checksum(name: &[u8; 11]) -> u8 {
    name.iter().fold(0u8, |s, &b| {
        ((s & 1) << 7).wrapping_add(s >> 1).wrapping_add(b)
    })
}

/// VFAT long-name entries for `name`, in on-disk order (highest ordinal first).
fn lfn_entries(name: &str, sfn: &[u8; 11]) -> Vec<[u8; 32]> {
    let mut units: Vec<u16> = name.encode_utf16().collect();
    let n = units.len().div_ceil(13);
    // NUL-terminate unless the name fills its last entry exactly, then pad with 0xFFFF.
    if !units.len().is_multiple_of(13) {
        units.push(0);
    }
    units.resize(n * 13, 0xFFFF);
    let sum = lfn_checksum(sfn);
    (0..n)
        .rev()
        .map(|i| {
            let mut e = [0u8; 32];
            e[0] = (i as u8 + 1) | if i + 1 == n { 0x40 } else { 0 };
            e[11] = ATTR_LFN;
            e[13] = sum;
            let chunk = &units[i * 13..i * 13 + 13];
            let slots = (1..11)
                .step_by(2)
                .chain((14..26).step_by(2))
                .chain((28..32).step_by(2));
            for (u, at) in chunk.iter().zip(slots) {
                e[at..at + 2].copy_from_slice(&u.to_le_bytes());
            }
            e
        })
        .collect()
}

/// A short name for `name`, and whether a long name is needed beside it. Names that already are
/// upper-case 8.3 are stored as is (as Windows and Linux vfat do); others get BASE~N.EXT with N
/// unique in the directory.
fn short_name(name: &str, taken: &mut HashSet<[u8; 11]>) -> ([u8; 11], bool) {
    let valid =
        |c: u8| c.is_ascii_uppercase() || c.is_ascii_digit() || b"!#$%&'()-@^_`{}~".contains(&c);
    let (base, ext) = match name.rfind('.') {
        Some(d) if d > 0 => (&name[..d], &name[d + 1..]),
        _ => (name, ""),
    };
    let fits = (1..=8).contains(&base.len())
        && ext.len() <= 3
        && base.bytes().chain(ext.bytes()).all(valid);
    let mut sfn = [b' '; 11];
    if fits {
        sfn[..base.len()].copy_from_slice(base.as_bytes());
        sfn[8..8 + ext.len()].copy_from_slice(ext.as_bytes());
        if taken.insert(sfn) {
            return (sfn, false);
        }
    }
    let clean = |s: &str| -> Vec<u8> {
        s.bytes()
            .filter(|&c| c != b' ' && c != b'.')
            .map(|c| {
                let c = c.to_ascii_uppercase();
                if valid(c) {
                    c
                } else {
                    b'_'
                }
            })
            .collect()
    };
    let b = clean(base);
    let e = clean(ext);
    for n in 1u32.. {
        let tail = format!("~{n}");
        let keep = b.len().min(8 - tail.len());
        let mut s = [b' '; 11];
        s[..keep].copy_from_slice(&b[..keep]);
        s[keep..keep + tail.len()].copy_from_slice(tail.as_bytes());
        let el = e.len().min(3);
        s[8..8 + el].copy_from_slice(&e[..el]);
        if taken.insert(s) {
            return (s, true);
        }
    }
    unreachable!()
}

/// One file of the ESP: its path there ('/'-separated, directories created as needed, in the
/// order first named) and where its bytes come from.
pub struct EspFile {
    pub path: String,
    pub data: EspData,
}

pub enum EspData {
    /// A host file, streamed; `size` is its length seen at validation time.
    Host { path: PathBuf, size: u64 },
    /// Small generated content (loader configuration).
    Bytes(Vec<u8>),
}

impl EspFile {
    pub fn size(&self) -> u64 {
        match &self.data {
            EspData::Host { size, .. } => *size,
            EspData::Bytes(b) => b.len() as u64,
        }
    }
}

/// A directory of the ESP being laid out: its entries (long-name entries included) and, per
/// child, the slot of its short entry, filled once the child has clusters.
struct Dir {
    parent: usize,
    cluster: u32,
    names: Vec<(String, usize)>,
    entries: Vec<[u8; 32]>,
    taken: HashSet<[u8; 11]>,
    /// (slot in `entries`, short name, child) in creation order.
    children: Vec<(usize, [u8; 11], Child)>,
}

#[derive(Clone, Copy)]
enum Child {
    Dir(usize),
    File(usize),
}

impl Dir {
    fn new(parent: usize) -> Dir {
        Dir {
            parent,
            cluster: 0,
            names: Vec::new(),
            entries: Vec::new(),
            taken: HashSet::new(),
            children: Vec::new(),
        }
    }

    /// Adds the directory entries of `name`; its short entry is filled once it has clusters.
    fn add(&mut self, name: &str, child: Child) {
        let (sfn, long) = short_name(name, &mut self.taken);
        if long {
            self.entries.extend(lfn_entries(name, &sfn));
        }
        self.names.push((name.to_string(), self.children.len()));
        self.children.push((self.entries.len(), sfn, child));
        self.entries.push([0; 32]);
    }

    fn find(&self, name: &str) -> Option<Child> {
        self.names
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|&(_, i)| self.children[i].2)
    }
}

/// Write a FAT volume of `size` bytes at byte `base` of `out` holding `files`. The region must
/// read as zeros beforehand (a fresh `set_len`): free clusters and FAT entries are left as they
/// are. Each file's ESP path and bytes are streamed through `hasher` on the way (the GPT GUID
/// seed).
///
/// Clusters are given in creation order: the FAT32 root, the other directories in the order they
/// are first named, then the files in the order given, so the same list gives the same bytes.
#[allow(clippy::too_many_arguments)]
pub fn write_esp(
    out: &File,
    out_path: &Path,
    base: u64,
    size: u64,
    files: &[EspFile],
    epoch: u64,
    hasher: &mut sha2::Sha256,
    progress: &mut Progress,
) -> Result<Geometry> {
    use sha2::Digest;
    let g = Geometry::new(size)?;
    let t = Stamp::new(epoch);
    let cb = g.cluster_bytes();
    let put = |off: u64, bytes: &[u8]| {
        out.write_all_at(bytes, base + off)
            .map_err(|e| Error::io("write", out_path, e))
    };

    // The directory tree and every entry's place; FAT names are case-insensitive.
    let mut dirs = vec![Dir::new(0)];
    dirs[0]
        .entries
        .push(sfn_entry(&VOLUME_LABEL, ATTR_VOLUME, 0, 0, t));
    for (i, f) in files.iter().enumerate() {
        let comps: Vec<&str> = f.path.split('/').filter(|c| !c.is_empty()).collect();
        let (leaf, parents) = comps.split_last().expect("ESP paths are never empty");
        let mut d = 0;
        for p in parents {
            d = match dirs[d].find(p) {
                Some(Child::Dir(c)) => c,
                Some(Child::File(_)) => panic!("ESP path {} runs through a file", f.path),
                None => {
                    dirs.push(Dir::new(d));
                    let c = dirs.len() - 1;
                    dirs[d].add(p, Child::Dir(c));
                    c
                }
            };
        }
        assert!(
            dirs[d].find(leaf).is_none(),
            "ESP path {} given twice",
            f.path
        );
        dirs[d].add(leaf, Child::File(i));
    }
    if g.fat_type == FatType::Fat16 && dirs[0].entries.len() > 512 {
        return Err(Error::TooLarge {
            what: "more than 512 entries in the FAT16 ESP's root directory".into(),
        });
    }

    // Allocate contiguous cluster runs in creation order.
    let mut next = 2u32;
    let mut chains: Vec<(u32, u32)> = Vec::new(); // (first, count)
    let mut alloc = |bytes: u64| -> Result<u32> {
        let n = bytes.div_ceil(cb).max(1);
        if u64::from(next - 2) + n > u64::from(g.clusters) {
            return Err(Error::TooLarge {
                what: format!("inputs do not fit the {} MiB ESP", size / MIB),
            });
        }
        let first = next;
        chains.push((first, n as u32));
        next += n as u32;
        Ok(first)
    };
    if g.fat_type == FatType::Fat32 {
        dirs[0].cluster = alloc((dirs[0].entries.len() * DIRENT) as u64)?;
    }
    for d in dirs.iter_mut().skip(1) {
        // "." and ".." come first.
        d.cluster = alloc(((d.entries.len() + 2) * DIRENT) as u64)?;
    }
    let mut file_clusters = Vec::with_capacity(files.len());
    for f in files {
        let size = f.size();
        file_clusters.push(if size == 0 { 0 } else { alloc(size)? });
    }

    // Directories. ".." of a first-level directory is cluster 0, even on FAT32.
    for i in 0..dirs.len() {
        let d = &dirs[i];
        let mut entries = d.entries.clone();
        for &(slot, sfn, child) in &d.children {
            entries[slot] = match child {
                Child::Dir(c) => sfn_entry(&sfn, ATTR_DIR, dirs[c].cluster, 0, t),
                Child::File(f) => {
                    let size32 = u32::try_from(files[f].size()).map_err(|_| Error::TooLarge {
                        what: format!("ESP file {}: FAT files are limited to 4 GiB", files[f].path),
                    })?;
                    sfn_entry(&sfn, ATTR_ARCHIVE, file_clusters[f], size32, t)
                }
            };
        }
        let off = if i == 0 {
            match g.fat_type {
                FatType::Fat16 => g.root_offset(),
                FatType::Fat32 => g.cluster_offset(d.cluster),
            }
        } else {
            let parent = if d.parent == 0 {
                0
            } else {
                dirs[d.parent].cluster
            };
            let mut dots = vec![
                sfn_entry(b".          ", ATTR_DIR, d.cluster, 0, t),
                sfn_entry(b"..         ", ATTR_DIR, parent, 0, t),
            ];
            dots.extend(entries);
            entries = dots;
            g.cluster_offset(d.cluster)
        };
        put(off, &entries.concat())?;
    }

    // File data, straight into its clusters.
    let mut buf = vec![0u8; 1 << 20];
    for (f, &first) in files.iter().zip(&file_clusters) {
        hasher.update(f.path.as_bytes());
        hasher.update([0]);
        let (host, expected) = match &f.data {
            EspData::Bytes(b) => {
                hasher.update(b);
                put(g.cluster_offset(first), b)?;
                progress.advance(b.len() as u64);
                continue;
            }
            EspData::Host { path, size } => (path, *size),
        };
        let src = File::open(host).map_err(|e| Error::io("open", host, e))?;
        let mut r = HashingReader {
            inner: src,
            hasher: &mut *hasher,
        };
        let mut pos = 0u64;
        loop {
            let n = match r.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io("read", host, e)),
            };
            if pos + n as u64 > expected {
                pos += n as u64;
                break;
            }
            // The region reads as zeros already: leave zero runs as holes (sparse, faster).
            if buf[..n].iter().any(|&b| b != 0) {
                put(g.cluster_offset(first) + pos, &buf[..n])?;
            }
            pos += n as u64;
            progress.advance(n as u64);
        }
        if pos != expected {
            // The ESP was laid out from the validated length; a different length now means the
            // file is being rewritten and the image would not match what was checked.
            return Err(Error::ChangedDuringBuild {
                path: host.clone(),
                expected,
                found: pos,
            });
        }
    }

    // FATs: media/clean-shutdown entries 0 and 1, then one chain per object.
    let eoc = g.end_of_chain();
    let mut fat = vec![0u32; next as usize];
    fat[0] = eoc & !0x7 | 0x8; // 0xFFF8 / 0x0FFFFFF8: media byte 0xF8
    fat[1] = eoc; // clean, no I/O errors
    for &(first, n) in &chains {
        for c in first..first + n {
            fat[c as usize] = if c + 1 == first + n { eoc } else { c + 1 };
        }
    }
    let fat_bytes: Vec<u8> = match g.fat_type {
        FatType::Fat16 => fat.iter().flat_map(|&v| (v as u16).to_le_bytes()).collect(),
        FatType::Fat32 => fat.iter().flat_map(|&v| v.to_le_bytes()).collect(),
    };
    put(g.fat_offset(0), &fat_bytes)?;
    put(g.fat_offset(1), &fat_bytes)?;

    // Boot sector(s) last: a crash before here leaves no valid-looking filesystem.
    let root_cluster = dirs[0].cluster;
    let bs = boot_sector(&g, root_cluster);
    put(0, &bs)?;
    if g.fat_type == FatType::Fat32 {
        let fsinfo = fsinfo(g.clusters - (next - 2), next);
        put(SECTOR, &fsinfo)?;
        put(6 * SECTOR, &bs)?;
        put(7 * SECTOR, &fsinfo)?;
    }
    Ok(g)
}

/// Boot sector with the BIOS parameter block (Microsoft FAT spec 1.03, §3).
fn boot_sector(g: &Geometry, root_cluster: u32) -> [u8; 512] {
    let mut b = [0u8; 512];
    let fat32 = g.fat_type == FatType::Fat32;
    // Jump over the BPB to a `hlt; jmp $-1` loop: nobody should BIOS-boot an ESP.
    let code = if fat32 { 0x5A } else { 0x3E };
    b[0..3].copy_from_slice(&[0xEB, code as u8 - 2, 0x90]);
    b[code..code + 3].copy_from_slice(&[0xF4, 0xEB, 0xFD]);
    b[3..11].copy_from_slice(b"MSWIN4.1");
    b[11..13].copy_from_slice(&(SECTOR as u16).to_le_bytes());
    b[13] = g.sectors_per_cluster as u8;
    b[14..16].copy_from_slice(&(g.reserved_sectors as u16).to_le_bytes());
    b[16] = 2; // FATs
    let root_entries: u16 = if fat32 { 0 } else { 512 };
    b[17..19].copy_from_slice(&root_entries.to_le_bytes());
    if !fat32 && g.total_sectors < 0x10000 {
        b[19..21].copy_from_slice(&(g.total_sectors as u16).to_le_bytes());
    } else {
        b[32..36].copy_from_slice(&g.total_sectors.to_le_bytes());
    }
    b[21] = 0xF8; // fixed disk
    if !fat32 {
        b[22..24].copy_from_slice(&(g.fat_sectors as u16).to_le_bytes());
    }
    b[24..26].copy_from_slice(&32u16.to_le_bytes()); // sectors per track (geometry is fiction)
    b[26..28].copy_from_slice(&64u16.to_le_bytes()); // heads
    let ext = if fat32 {
        b[36..40].copy_from_slice(&g.fat_sectors.to_le_bytes());
        // 40: flags 0 = mirrored FATs; 42: version 0.0
        b[44..48].copy_from_slice(&root_cluster.to_le_bytes());
        b[48..50].copy_from_slice(&1u16.to_le_bytes()); // FSInfo sector
        b[50..52].copy_from_slice(&6u16.to_le_bytes()); // backup boot sector
        64
    } else {
        36
    };
    b[ext] = 0x80; // drive number
    b[ext + 2] = 0x29; // extended boot signature: the next three fields are valid
    b[ext + 3..ext + 7].copy_from_slice(&VOLUME_ID.to_le_bytes());
    b[ext + 7..ext + 18].copy_from_slice(&VOLUME_LABEL);
    b[ext + 18..ext + 26].copy_from_slice(if fat32 { b"FAT32   " } else { b"FAT16   " });
    b[510] = 0x55;
    b[511] = 0xAA;
    b
}

/// FAT32 FSInfo sector with exact free count and next-free hint (fsck.fat checks the count).
fn fsinfo(free: u32, next_free: u32) -> [u8; 512] {
    let mut s = [0u8; 512];
    s[0..4].copy_from_slice(&0x4161_5252u32.to_le_bytes());
    s[484..488].copy_from_slice(&0x6141_7272u32.to_le_bytes());
    s[488..492].copy_from_slice(&free.to_le_bytes());
    s[492..496].copy_from_slice(&next_free.to_le_bytes());
    s[508..512].copy_from_slice(&0xAA55_0000u32.to_le_bytes());
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::Arch;
    use std::io::Read;

    #[test]
    fn sizing_rule_examples() {
        // Tiny input: 8 MiB floor rounds up to one 16 MiB step.
        assert_eq!(esp_size(0), Some(16 * MIB));
        assert_eq!(esp_size(1), Some(16 * MIB));
        // Exactly on a step stays there: 16 MiB × 1.5 + 8 = 32 MiB.
        assert_eq!(esp_size(16 * MIB), Some(32 * MIB));
        // The design note: "3-arch ISO with ~20 MiB UKIs each lands at a 96–112 MiB ESP".
        assert_eq!(esp_size(3 * 20 * MIB), Some(112 * MIB));
        assert_eq!(esp_size(3 * 19 * MIB), Some(96 * MIB));
        assert_eq!(esp_size(3 * 18 * MIB), Some(96 * MIB));
        // Four Debian UEFI shells (~3.9 MB) fit the smallest ESP.
        assert_eq!(
            esp_size(894_336 + 868_352 + 1_129_152 + 1_015_808),
            Some(16 * MIB)
        );
        assert_eq!(esp_size(u64::MAX), None);
    }

    #[test]
    fn geometry_keeps_cluster_counts_legal_and_data_aligned() {
        for mib in (16..=4096).step_by(16) {
            let g = Geometry::new(mib * MIB).unwrap();
            assert!(
                g.fat_sectors as u64 * 512 / if g.fat_type == FatType::Fat16 { 2 } else { 4 }
                    >= g.clusters as u64 + 2
            );
            assert_eq!(g.data_offset() % g.cluster_bytes(), 0, "{mib} MiB");
            assert_eq!(g.fat_type == FatType::Fat32, mib >= 512, "{mib} MiB");
        }
        let g = Geometry::new(16 * MIB).unwrap();
        assert_eq!(
            (g.sectors_per_cluster, g.reserved_sectors, g.fat_sectors),
            (4, 2, 33)
        );
        assert_eq!(g.clusters, (32768 - 2 - 66 - 32) / 4);
        assert_eq!(fat_geometry(496 * MIB), (FatType::Fat16, 8192));
        assert_eq!(fat_geometry(512 * MIB), (FatType::Fat32, 4096));
    }

    #[test]
    fn short_and_long_names() {
        let mut taken = HashSet::new();
        assert_eq!(
            short_name("BOOTX64.EFI", &mut taken),
            (*b"BOOTX64 EFI", false)
        );
        assert_eq!(
            short_name("BOOTRISCV64.EFI", &mut taken),
            (*b"BOOTRI~1EFI", true)
        );
        assert_eq!(
            short_name("BOOTRISCV65.EFI", &mut taken),
            (*b"BOOTRI~2EFI", true)
        );
        // The classic checksum example: "BOOTRI~1EFI".
        let e = lfn_entries("BOOTRISCV64.EFI", b"BOOTRI~1EFI");
        assert_eq!(e.len(), 2);
        assert_eq!(e[0][0], 0x42);
        assert_eq!(e[1][0], 0x01);
        assert_eq!(e[0][11], 0x0F);
        assert_eq!(e[0][13], lfn_checksum(b"BOOTRI~1EFI"));
        // Second entry holds units 13.. : "FI", NUL, then 0xFFFF padding.
        assert_eq!(&e[0][1..7], &[b'F', 0, b'I', 0, 0, 0]);
        assert_eq!(&e[0][7..9], &[0xFF, 0xFF]);
    }

    fn build(size: u64, inputs: &[(Arch, Vec<u8>)]) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let mut ins = Vec::new();
        for (a, data) in inputs {
            let p = dir.path().join(a.efi_boot_file());
            std::fs::write(&p, data).unwrap();
            ins.push(EspFile {
                path: format!("EFI/BOOT/{}", a.efi_boot_file()),
                data: EspData::Host {
                    path: p,
                    size: data.len() as u64,
                },
            });
        }
        let out = tempfile::tempfile().unwrap();
        out.set_len(size + 4096).unwrap();
        let mut h = <sha2::Sha256 as sha2::Digest>::new();
        let mut p = Progress::new("t", 0, false);
        write_esp(&out, Path::new("t"), 4096, size, &ins, 0, &mut h, &mut p).unwrap();
        let mut v = vec![0u8; size as usize];
        out.read_exact_at(&mut v, 4096).unwrap();
        v
    }

    fn read_back(img: Vec<u8>, path: &str) -> Vec<u8> {
        let fs =
            fatfs::FileSystem::new(std::io::Cursor::new(img), fatfs::FsOptions::new()).unwrap();
        let mut f = fs.root_dir().open_file(path).unwrap();
        let mut got = Vec::new();
        f.read_to_end(&mut got).unwrap();
        got
    }

    #[test]
    fn fat16_bytes_and_independent_read_back() {
        let x: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        let r: Vec<u8> = (0..5000u32).map(|i| (i * 7) as u8).collect();
        let img = build(
            16 * MIB,
            &[(Arch::Amd64, x.clone()), (Arch::Riscv64, r.clone())],
        );
        assert_eq!(
            img,
            build(
                16 * MIB,
                &[(Arch::Amd64, x.clone()), (Arch::Riscv64, r.clone())]
            )
        );
        assert_eq!(&img[0..3], &[0xEB, 0x3C, 0x90]);
        assert_eq!(&img[39..43], &VOLUME_ID.to_le_bytes());
        assert_eq!(&img[43..54], b"ESP        ");
        assert_eq!(&img[54..62], b"FAT16   ");
        assert_eq!(&img[510..512], &[0x55, 0xAA]);
        // FAT[0], FAT[1]; root dir cluster chain is absent on FAT16, EFI dir at cluster 2.
        let g = Geometry::new(16 * MIB).unwrap();
        let fat = &img[g.fat_offset(0) as usize..];
        assert_eq!(&fat[..8], &[0xF8, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
        assert_eq!(
            img[g.fat_offset(0) as usize..g.fat_offset(1) as usize],
            img[g.fat_offset(1) as usize..g.root_offset() as usize]
        );
        // The EFI directory starts with "." and ".." and no long-name entries.
        let efi = &img[g.cluster_offset(2) as usize..];
        assert_eq!(&efi[..11], b".          ");
        assert_eq!(&efi[32..43], b"..         ");
        assert_eq!(&efi[64..75], b"BOOT       ");
        assert_eq!(read_back(img.clone(), "EFI/BOOT/BOOTX64.EFI"), x);
        assert_eq!(read_back(img, "EFI/BOOT/BOOTRISCV64.EFI"), r);
    }

    #[test]
    fn fat32_for_big_esps() {
        let x = vec![0x5Au8; 10_000];
        let img = build(512 * MIB, &[(Arch::Arm64, x.clone())]);
        assert_eq!(&img[82..90], b"FAT32   ");
        assert_eq!(&img[0..512], &img[6 * 512..7 * 512], "backup boot sector");
        let g = Geometry::new(512 * MIB).unwrap();
        // FSInfo: free = all clusters but root, EFI, BOOT and the 3 file clusters.
        let free = u32::from_le_bytes(img[512 + 488..512 + 492].try_into().unwrap());
        assert_eq!(free, g.clusters - 6);
        // ".." of the first-level EFI directory is 0 (not the root's cluster 2).
        let efi = &img[g.cluster_offset(3) as usize..];
        assert_eq!(&efi[32..43], b"..         ");
        assert_eq!(&efi[32 + 26..32 + 28], &[0, 0]);
        assert_eq!(read_back(img, "EFI/BOOT/BOOTAA64.EFI"), x);
    }
}
