//! ISO 9660 (ECMA-119) with Rock Ridge (SUSP 1.12 / RRIP 1.10), Joliet and El Torito.
//!
//! Layout of the image, in 2048-byte blocks:
//!
//! ```text
//!   0..16   system area: protective MBR + primary GPT (written by gpt.rs)
//!   16      primary volume descriptor      17  El Torito boot record
//!   18      Joliet supplementary VD        19  terminator
//!   20..    path tables (primary L, M, Joliet L, M), primary directories, Joliet
//!           directories, Rock Ridge continuation areas, boot catalog
//!   ..      file data, in depth-first name order, contiguous per file
//!   ..      ESP (1 MiB aligned), the El Torito image and GPT partition 2 at once
//!   ..      backup GPT
//! ```
//!
//! The PVD's volume space size runs to the end of the ESP, so the ESP is inside the ISO volume.
//! That is what makes an El Torito sector count of 0 work: edk2 (PartitionDxe/ElTorito.c) treats
//! a count < 2 as "from the boot image to the end of the volume", which is then exactly the ESP.
//! xorriso ends the volume before its appended partition, and edk2 then finds an empty
//! partition: such a CD does not boot once the ESP passes 32 MiB.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use crate::error::{Error, Result};
use crate::time::Civil;
use crate::tree::{Kind, Tree};

pub const BLOCK: u64 = 2048;
/// First block after the volume descriptor set.
pub const META_START: u32 = 20;
/// Largest extent of one directory record section: 4 GiB − 2 KiB, block aligned (ISO level 3
/// multi-extent files chain such sections).
pub const MAX_EXTENT: u64 = 0xFFFF_F800;

const FLAG_DIR: u8 = 0x02;
const FLAG_MULTI_EXTENT: u8 = 0x80;

/// Both-byte-order 32-bit field (ECMA-119 7.3.3).
pub fn both32(v: u32) -> [u8; 8] {
    let l = v.to_le_bytes();
    let b = v.to_be_bytes();
    [l[0], l[1], l[2], l[3], b[0], b[1], b[2], b[3]]
}

/// Both-byte-order 16-bit field (ECMA-119 7.2.3).
pub fn both16(v: u16) -> [u8; 4] {
    let l = v.to_le_bytes();
    let b = v.to_be_bytes();
    [l[0], l[1], b[0], b[1]]
}

// ---------------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------------

/// Map to d-characters (A–Z, 0–9, _): what a strict ISO 9660 reader accepts. The real names are
/// in Rock Ridge and Joliet; these are the fallback for readers with neither.
fn d_chars(s: &[u8]) -> Vec<u8> {
    s.iter()
        .map(|&c| match c {
            b'A'..=b'Z' | b'0'..=b'9' | b'_' => c,
            b'a'..=b'z' => c.to_ascii_uppercase(),
            _ => b'_',
        })
        .collect()
}

/// Primary identifier split into the parts ECMA-119 9.3 sorts by.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IsoName {
    pub base: Vec<u8>,
    /// `None` for directories (their identifier has no '.' and no version).
    pub ext: Option<Vec<u8>>,
}

impl IsoName {
    pub fn ident(&self) -> Vec<u8> {
        let mut v = self.base.clone();
        if let Some(ext) = &self.ext {
            v.push(b'.');
            v.extend_from_slice(ext);
            v.extend_from_slice(b";1");
        }
        v
    }
}

/// Compare two byte strings as if the shorter were padded with spaces (ECMA-119 9.3).
fn pad_cmp<T: Ord + Copy>(a: &[T], b: &[T], pad: T) -> Ordering {
    let n = a.len().max(b.len());
    for i in 0..n {
        let x = a.get(i).copied().unwrap_or(pad);
        let y = b.get(i).copied().unwrap_or(pad);
        match x.cmp(&y) {
            Ordering::Equal => {}
            o => return o,
        }
    }
    Ordering::Equal
}

fn iso_name_cmp(a: &IsoName, b: &IsoName) -> Ordering {
    pad_cmp(&a.base, &b.base, b' ').then_with(|| {
        pad_cmp(
            a.ext.as_deref().unwrap_or(&[]),
            b.ext.as_deref().unwrap_or(&[]),
            b' ',
        )
    })
}

/// Level-2 style names: files BASE.EXT;1 with BASE+EXT ≤ 30, directories ≤ 31 characters.
/// Collisions (after upper-casing and truncation) get a decimal suffix on the base, assigned in
/// the sorted order of the real names, so the result is deterministic.
fn primary_names(tree: &Tree, children: &[usize]) -> Vec<IsoName> {
    let mut used = HashSet::new();
    // Per mangled name, the next suffix to try: keeps thousands of same-prefix names linear.
    let mut next_suffix: HashMap<IsoName, u32> = HashMap::new();
    children
        .iter()
        .map(|&c| {
            let name = &tree.nodes[c].name;
            let (base, ext, max_base) = if tree.is_dir(c) {
                (d_chars(name), None, 31)
            } else {
                let (b, e) = match name.iter().rposition(|&x| x == b'.') {
                    Some(dot) if dot > 0 => (&name[..dot], &name[dot + 1..]),
                    _ => (&name[..], &[][..]),
                };
                let mut e = d_chars(e);
                e.truncate(8);
                let max_base = 30 - e.len();
                (d_chars(b), Some(e), max_base)
            };
            let mut b = base.clone();
            b.truncate(max_base);
            let key = IsoName {
                base: b.clone(),
                ext: ext.clone(),
            };
            let mut n = next_suffix.get(&key).copied().unwrap_or(0);
            if n > 0 {
                let suffix = n.to_string().into_bytes();
                b = base.clone();
                b.truncate(max_base - suffix.len());
                b.extend_from_slice(&suffix);
            }
            loop {
                let cand = IsoName {
                    base: b.clone(),
                    ext: ext.clone(),
                };
                if used.insert(cand.clone()) {
                    next_suffix.insert(key, n + 1);
                    return cand;
                }
                n += 1;
                let suffix = n.to_string().into_bytes();
                b = base.clone();
                b.truncate(max_base - suffix.len());
                b.extend_from_slice(&suffix);
            }
        })
        .collect()
}

/// Joliet: UCS-2 names up to 64 units (files: 62 + ";1"), with the characters Joliet forbids
/// (and anything outside the BMP) replaced by '_'.
fn make_joliet_names(tree: &Tree, children: &[usize]) -> Vec<Vec<u16>> {
    let mut used = HashSet::new();
    let mut next_suffix: HashMap<Vec<u16>, u32> = HashMap::new();
    children
        .iter()
        .map(|&c| {
            let is_dir = tree.is_dir(c);
            let units: Vec<u16> = String::from_utf8_lossy(&tree.nodes[c].name)
                .chars()
                .map(|ch| {
                    if (ch as u32) > 0xFFFF || ch < ' ' || "*/:;?\\".contains(ch) {
                        b'_' as u16
                    } else {
                        ch as u16
                    }
                })
                .collect();
            let max = if is_dir { 64 } else { 62 };
            // Keep a short extension when truncating: "…long-name.efi", not "…long-na".
            let (base, ext): (Vec<u16>, Vec<u16>) =
                match units.iter().rposition(|&u| u == b'.' as u16) {
                    Some(dot) if !is_dir && dot > 0 && units.len() - dot <= 16 => {
                        (units[..dot].to_vec(), units[dot..].to_vec())
                    }
                    _ => (units.clone(), Vec::new()),
                };
            let room = max - ext.len();
            let mut b = base.clone();
            b.truncate(room);
            let mut key = b.clone();
            key.extend_from_slice(&ext);
            let mut n = next_suffix.get(&key).copied().unwrap_or(0);
            if n > 0 {
                let suffix: Vec<u16> = n.to_string().encode_utf16().collect();
                b = base.clone();
                b.truncate(room - suffix.len());
                b.extend_from_slice(&suffix);
            }
            loop {
                let mut cand = b.clone();
                cand.extend_from_slice(&ext);
                if used.insert(cand.clone()) {
                    next_suffix.insert(key, n + 1);
                    return cand;
                }
                n += 1;
                let suffix: Vec<u16> = n.to_string().encode_utf16().collect();
                b = base.clone();
                b.truncate(room - suffix.len());
                b.extend_from_slice(&suffix);
            }
        })
        .collect()
}

fn ucs2be(units: &[u16]) -> Vec<u8> {
    units.iter().flat_map(|u| u.to_be_bytes()).collect()
}

// ---------------------------------------------------------------------------------------------
// Rock Ridge / SUSP entries
// ---------------------------------------------------------------------------------------------

const RRIP_ID: &[u8] = b"RRIP_1991A";
const RRIP_DES: &[u8] =
    b"THE ROCK RIDGE INTERCHANGE PROTOCOL PROVIDES SUPPORT FOR POSIX FILE SYSTEM SEMANTICS";
const RRIP_SRC: &[u8] = b"PLEASE CONTACT DISC PUBLISHER FOR SPECIFICATION SOURCE.  SEE PUBLISHER IDENTIFIER IN PRIMARY VOLUME DESCRIPTOR FOR CONTACT INFORMATION.";

fn susp(sig: &[u8; 2], body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(4 + body.len());
    v.extend_from_slice(sig);
    v.push((4 + body.len()) as u8);
    v.push(1);
    v.extend_from_slice(body);
    v
}

/// SP: "SUSP in use", first entry of the root's "." record.
fn sp() -> Vec<u8> {
    susp(b"SP", &[0xBE, 0xEF, 0])
}

/// ER: names RRIP_1991A. Linux enables Rock Ridge only after finding it.
fn er() -> Vec<u8> {
    let mut b = vec![
        RRIP_ID.len() as u8,
        RRIP_DES.len() as u8,
        RRIP_SRC.len() as u8,
        1,
    ];
    b.extend_from_slice(RRIP_ID);
    b.extend_from_slice(RRIP_DES);
    b.extend_from_slice(RRIP_SRC);
    susp(b"ER", &b)
}

/// PX in its RRIP 1.10 (36-byte) form, matching the RRIP_1991A ER.
fn px(mode: u32, nlink: u32) -> Vec<u8> {
    let mut b = Vec::with_capacity(32);
    b.extend_from_slice(&both32(mode));
    b.extend_from_slice(&both32(nlink));
    b.extend_from_slice(&both32(0)); // uid
    b.extend_from_slice(&both32(0)); // gid
    susp(b"PX", &b)
}

/// TF with modify, access and attribute-change times, all the build instant.
fn tf(date: &[u8; 7]) -> Vec<u8> {
    let mut b = vec![0x0E];
    for _ in 0..3 {
        b.extend_from_slice(date);
    }
    susp(b"TF", &b)
}

/// NM, split into CONTINUE-chained pieces that each fit one SUSP entry.
fn nm(name: &[u8]) -> Vec<Vec<u8>> {
    let chunks: Vec<&[u8]> = name.chunks(250).collect();
    chunks
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let flags = if i + 1 < chunks.len() { 1 } else { 0 };
            let mut b = vec![flags];
            b.extend_from_slice(c);
            susp(b"NM", &b)
        })
        .collect()
}

fn ce_entry(block: u32, off: u32, len: u32) -> Vec<u8> {
    let mut b = Vec::with_capacity(24);
    b.extend_from_slice(&both32(block));
    b.extend_from_slice(&both32(off));
    b.extend_from_slice(&both32(len));
    susp(b"CE", &b)
}

const CE_LEN: usize = 28;

/// Sequential allocator for continuation areas; a piece never crosses a block boundary.
#[derive(Default)]
struct CeAlloc {
    block: u32,
    off: u32,
    bytes: Vec<u8>,
}

impl CeAlloc {
    fn alloc(&mut self, data: &[u8]) -> (u32, u32) {
        let len = data.len() as u32;
        if self.off + len > BLOCK as u32 {
            self.block += 1;
            self.off = 0;
        }
        let at = (self.block, self.off);
        let pos = (self.block as u64 * BLOCK + self.off as u64) as usize;
        if self.bytes.len() < pos + data.len() {
            self.bytes.resize(pos + data.len(), 0);
        }
        self.bytes[pos..pos + data.len()].copy_from_slice(data);
        self.off += len;
        at
    }
    fn blocks(&self) -> u32 {
        if self.bytes.is_empty() {
            0
        } else {
            self.block + 1
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Directory records
// ---------------------------------------------------------------------------------------------

/// One directory record (ECMA-119 9.1). `su` is the System Use field; the record is padded to
/// an even length.
pub fn dir_record(
    ident: &[u8],
    extent: u32,
    size: u32,
    flags: u8,
    date: &[u8; 7],
    su: &[u8],
) -> Vec<u8> {
    let pad = usize::from(ident.len().is_multiple_of(2));
    let mut len = 33 + ident.len() + pad + su.len();
    len += len % 2;
    let mut r = Vec::with_capacity(len);
    r.push(len as u8);
    r.push(0); // extended attribute record length
    r.extend_from_slice(&both32(extent));
    r.extend_from_slice(&both32(size));
    r.extend_from_slice(date);
    r.push(flags);
    r.push(0); // file unit size (not interleaved)
    r.push(0); // interleave gap
    r.extend_from_slice(&both16(1)); // volume sequence number
    r.push(ident.len() as u8);
    r.extend_from_slice(ident);
    r.resize(33 + ident.len() + pad, 0);
    r.extend_from_slice(su);
    r.resize(len, 0);
    debug_assert!(len <= 255);
    r
}

/// Append a record to a directory extent; records may not straddle a block (ECMA-119 6.8.1.1).
fn push_record(dir: &mut Vec<u8>, rec: &[u8]) {
    let used = dir.len() % BLOCK as usize;
    if used + rec.len() > BLOCK as usize {
        dir.resize(dir.len() + BLOCK as usize - used, 0);
    }
    dir.extend_from_slice(rec);
}

fn pad_block(v: &mut Vec<u8>) {
    let n = v.len().next_multiple_of(BLOCK as usize).max(BLOCK as usize);
    v.resize(n, 0);
}

/// Where every extent lives. Zeros while measuring: record lengths do not depend on them.
#[derive(Clone, Debug, Default)]
struct Locs {
    /// (first block, byte size) of each directory's primary and Joliet extents, by node.
    pdir: Vec<(u32, u32)>,
    jdir: Vec<(u32, u32)>,
    /// First data block of each file, by node.
    file: Vec<u32>,
    /// First block of the continuation areas.
    ce_base: u32,
}

/// All the naming and ordering decisions, made once.
pub struct Layout {
    iso_names: Vec<Option<IsoName>>,
    joliet_names: Vec<Vec<u16>>,
    /// Children in on-disc record order, per directory node.
    pchildren: Vec<Vec<usize>>,
    jchildren: Vec<Vec<usize>>,
    /// Directories in path-table order (level, parent number, identifier).
    pdirs: Vec<usize>,
    jdirs: Vec<usize>,
    locs: Locs,
    pub l_pt: [u32; 2],
    pub m_pt: [u32; 2],
    pub pt_size: [u32; 2],
    pub catalog: u32,
    /// First block after the metadata; file data starts here.
    pub data_start: u32,
    /// First block after the file data.
    pub data_end: u64,
    date7: [u8; 7],
}

/// Volume-wide values that are only known once the ESP is placed.
pub struct VolumeParams<'a> {
    pub label: &'a str,
    /// Volume space size in blocks (through the end of the ESP).
    pub space_blocks: u32,
    pub esp_block: u32,
    pub esp_bytes: u64,
    pub when: Civil,
}

impl Layout {
    pub fn compute(tree: &Tree, when: Civil) -> Result<Layout> {
        let n = tree.nodes.len();
        let mut iso_names = vec![None; n];
        let mut joliet_names = vec![Vec::new(); n];
        let mut pchildren = vec![Vec::new(); n];
        let mut jchildren = vec![Vec::new(); n];
        for d in 0..n {
            if !tree.is_dir(d) {
                continue;
            }
            let kids = tree.children(d);
            for (&c, name) in kids.iter().zip(primary_names(tree, kids)) {
                iso_names[c] = Some(name);
            }
            for (&c, name) in kids.iter().zip(make_joliet_names(tree, kids)) {
                joliet_names[c] = name;
            }
            let mut p = kids.to_vec();
            p.sort_by(|&a, &b| {
                iso_name_cmp(
                    iso_names[a].as_ref().unwrap(),
                    iso_names[b].as_ref().unwrap(),
                )
            });
            let mut j = kids.to_vec();
            j.sort_by(|&a, &b| pad_cmp(&joliet_names[a], &joliet_names[b], b' ' as u16));
            pchildren[d] = p;
            jchildren[d] = j;
        }
        let pdirs = bfs_dirs(tree, &pchildren);
        let jdirs = bfs_dirs(tree, &jchildren);
        if pdirs.len() > u16::MAX as usize {
            return Err(Error::TooLarge {
                what: format!(
                    "{} directories (path tables number them in 16 bits)",
                    pdirs.len()
                ),
            });
        }
        let mut lay = Layout {
            iso_names,
            joliet_names,
            pchildren,
            jchildren,
            pdirs,
            jdirs,
            locs: Locs {
                pdir: vec![(0, 0); n],
                jdir: vec![(0, 0); n],
                file: vec![0; n],
                ce_base: 0,
            },
            l_pt: [0; 2],
            m_pt: [0; 2],
            pt_size: [0; 2],
            catalog: 0,
            data_start: 0,
            data_end: 0,
            date7: when.iso_dir_date(),
        };

        // Path tables: sizes do not depend on locations.
        let mut next = META_START as u64;
        for j in 0..2 {
            let size = lay.path_table(tree, j == 1, false).len() as u64;
            lay.pt_size[j] = size as u32;
            let blocks = size.div_ceil(BLOCK).max(1);
            lay.l_pt[j] = next as u32;
            lay.m_pt[j] = (next + blocks) as u32;
            next += 2 * blocks;
        }

        // Measure directories, then give them places.
        let mut ce = CeAlloc::default();
        for &d in &lay.pdirs.clone() {
            let size = lay.primary_dir(tree, d, &mut ce).len() as u64;
            lay.locs.pdir[d] = (next as u32, size as u32);
            next += size / BLOCK;
        }
        for &d in &lay.jdirs.clone() {
            let size = lay.joliet_dir(tree, d).len() as u64;
            lay.locs.jdir[d] = (next as u32, size as u32);
            next += size / BLOCK;
        }
        lay.locs.ce_base = next as u32;
        next += ce.blocks() as u64;
        lay.catalog = next as u32;
        next += 1;
        lay.data_start = next as u32;

        for f in tree.files_dfs() {
            let Kind::File { size, .. } = &tree.nodes[f].kind else {
                unreachable!()
            };
            // Empty files point at block 0 with length 0, as mkisofs does: they own no data.
            lay.locs.file[f] = if *size == 0 { 0 } else { next as u32 };
            next += size.div_ceil(BLOCK);
            if next > u32::MAX as u64 {
                return Err(Error::TooLarge {
                    what: "ISO 9660 data beyond 2^32 blocks (8 TiB)".into(),
                });
            }
        }
        lay.data_end = next;
        Ok(lay)
    }

    /// Byte offset in the image where a file's data goes.
    pub fn file_offset(&self, node: usize) -> u64 {
        self.locs.file[node] as u64 * BLOCK
    }

    fn name_ident(&self, node: usize, joliet: bool) -> Vec<u8> {
        if joliet {
            let mut u = self.joliet_names[node].clone();
            if self.iso_names[node]
                .as_ref()
                .is_some_and(|n| n.ext.is_some())
            {
                u.extend_from_slice(&[b';' as u16, b'1' as u16]);
            }
            ucs2be(&u)
        } else {
            self.iso_names[node].as_ref().unwrap().ident()
        }
    }

    /// Path table (ECMA-119 9.4), L (little-endian) or M (big-endian) form; `big` picks which.
    fn path_table(&self, tree: &Tree, joliet: bool, big: bool) -> Vec<u8> {
        let dirs = if joliet { &self.jdirs } else { &self.pdirs };
        let mut number = vec![0u16; tree.nodes.len()];
        for (i, &d) in dirs.iter().enumerate() {
            number[d] = (i + 1) as u16;
        }
        let mut v = Vec::new();
        for &d in dirs {
            let ident = if d == 0 {
                vec![0]
            } else {
                self.name_ident(d, joliet)
            };
            let extent = if joliet {
                self.locs.jdir[d].0
            } else {
                self.locs.pdir[d].0
            };
            let parent = number[tree.nodes[d].parent];
            v.push(ident.len() as u8);
            v.push(0);
            if big {
                v.extend_from_slice(&extent.to_be_bytes());
                v.extend_from_slice(&parent.to_be_bytes());
            } else {
                v.extend_from_slice(&extent.to_le_bytes());
                v.extend_from_slice(&parent.to_le_bytes());
            }
            v.extend_from_slice(&ident);
            if ident.len() % 2 == 1 {
                v.push(0);
            }
        }
        v
    }

    fn mode(&self, tree: &Tree, node: usize) -> (u32, u32) {
        if tree.is_dir(node) {
            let subdirs = tree
                .children(node)
                .iter()
                .filter(|&&c| tree.is_dir(c))
                .count();
            (0o040555, 2 + subdirs as u32)
        } else if tree.nodes[node].exec {
            (0o100555, 1)
        } else {
            (0o100444, 1)
        }
    }

    /// System Use entries of a record: `inline` if they fit, `forced` always in a continuation
    /// area (the ER, which is too long to share the root's "." record).
    fn rr_entries(&self, tree: &Tree, node: usize, rec: Rec) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
        let (mode, nlink) = self.mode(tree, node);
        let mut inline = Vec::new();
        let mut forced = Vec::new();
        if rec == Rec::Dot && node == 0 {
            inline.push(sp());
            forced.push(er());
        }
        inline.push(px(mode, nlink));
        inline.push(tf(&self.date7));
        if rec == Rec::Named {
            inline.extend(nm(&tree.nodes[node].name));
        }
        (inline, forced)
    }

    /// Build the System Use field, spilling into a continuation area when it does not fit.
    fn system_use(
        &self,
        inline: Vec<Vec<u8>>,
        forced: Vec<Vec<u8>>,
        avail: usize,
        ce: &mut CeAlloc,
    ) -> Vec<u8> {
        let total: usize = inline.iter().map(Vec::len).sum();
        if forced.is_empty() && total <= avail {
            return inline.concat();
        }
        let mut su = Vec::new();
        let mut cont = Vec::new();
        let mut spilled = false;
        for e in inline {
            if !spilled && su.len() + e.len() + CE_LEN <= avail {
                su.extend_from_slice(&e);
            } else {
                spilled = true;
                cont.extend_from_slice(&e);
            }
        }
        for e in forced {
            cont.extend_from_slice(&e);
        }
        let (b, off) = ce.alloc(&cont);
        su.extend_from_slice(&ce_entry(self.locs.ce_base + b, off, cont.len() as u32));
        su
    }

    fn record_with_su(
        &self,
        tree: &Tree,
        node: usize,
        rec: Rec,
        ident: &[u8],
        (extent, size, flags): (u32, u32, u8),
        ce: &mut CeAlloc,
    ) -> Vec<u8> {
        let (inline, forced) = self.rr_entries(tree, node, rec);
        let base = 33 + ident.len() + usize::from(ident.len().is_multiple_of(2));
        let su = self.system_use(inline, forced, 254 - base, ce);
        dir_record(ident, extent, size, flags, &self.date7, &su)
    }

    /// The primary (Rock Ridge) extent of directory `d`.
    fn primary_dir(&self, tree: &Tree, d: usize, ce: &mut CeAlloc) -> Vec<u8> {
        let mut v = Vec::new();
        let (ext, size) = self.locs.pdir[d];
        let parent = tree.nodes[d].parent;
        let (pext, psize) = self.locs.pdir[parent];
        let r = self.record_with_su(tree, d, Rec::Dot, &[0], (ext, size, FLAG_DIR), ce);
        push_record(&mut v, &r);
        let r = self.record_with_su(tree, parent, Rec::DotDot, &[1], (pext, psize, FLAG_DIR), ce);
        push_record(&mut v, &r);
        for &c in &self.pchildren[d] {
            let ident = self.name_ident(c, false);
            match &tree.nodes[c].kind {
                Kind::Dir { .. } => {
                    let (e, s) = self.locs.pdir[c];
                    let r = self.record_with_su(tree, c, Rec::Named, &ident, (e, s, FLAG_DIR), ce);
                    push_record(&mut v, &r);
                }
                Kind::File { size, .. } => {
                    for (e, s, last) in sections(self.locs.file[c], *size) {
                        let flags = if last { 0 } else { FLAG_MULTI_EXTENT };
                        let r = self.record_with_su(tree, c, Rec::Named, &ident, (e, s, flags), ce);
                        push_record(&mut v, &r);
                    }
                }
            }
        }
        pad_block(&mut v);
        v
    }

    /// The Joliet extent of directory `d` (no System Use: Joliet readers ignore Rock Ridge).
    fn joliet_dir(&self, tree: &Tree, d: usize) -> Vec<u8> {
        let mut v = Vec::new();
        let (ext, size) = self.locs.jdir[d];
        let (pext, psize) = self.locs.jdir[tree.nodes[d].parent];
        push_record(
            &mut v,
            &dir_record(&[0], ext, size, FLAG_DIR, &self.date7, &[]),
        );
        push_record(
            &mut v,
            &dir_record(&[1], pext, psize, FLAG_DIR, &self.date7, &[]),
        );
        for &c in &self.jchildren[d] {
            let ident = self.name_ident(c, true);
            match &tree.nodes[c].kind {
                Kind::Dir { .. } => {
                    let (e, s) = self.locs.jdir[c];
                    push_record(
                        &mut v,
                        &dir_record(&ident, e, s, FLAG_DIR, &self.date7, &[]),
                    );
                }
                Kind::File { size, .. } => {
                    for (e, s, last) in sections(self.locs.file[c], *size) {
                        let flags = if last { 0 } else { FLAG_MULTI_EXTENT };
                        push_record(&mut v, &dir_record(&ident, e, s, flags, &self.date7, &[]));
                    }
                }
            }
        }
        pad_block(&mut v);
        v
    }

    /// Bytes of blocks 16..data_start: volume descriptors, path tables, directories,
    /// continuation areas and the boot catalog.
    pub fn metadata(&self, tree: &Tree, p: &VolumeParams) -> Vec<u8> {
        let start = 16u64;
        let mut out = vec![0u8; ((self.data_start as u64 - start) * BLOCK) as usize];
        let mut put = |block: u64, bytes: &[u8]| {
            let off = ((block - start) * BLOCK) as usize;
            out[off..off + bytes.len()].copy_from_slice(bytes);
        };
        put(16, &self.volume_descriptor(p, false));
        put(17, &boot_record(self.catalog));
        put(18, &self.volume_descriptor(p, true));
        put(19, &terminator());
        for j in 0..2 {
            put(self.l_pt[j] as u64, &self.path_table(tree, j == 1, false));
            put(self.m_pt[j] as u64, &self.path_table(tree, j == 1, true));
        }
        let mut ce = CeAlloc::default();
        for &d in &self.pdirs {
            put(
                self.locs.pdir[d].0 as u64,
                &self.primary_dir(tree, d, &mut ce),
            );
        }
        for &d in &self.jdirs {
            put(self.locs.jdir[d].0 as u64, &self.joliet_dir(tree, d));
        }
        put(self.locs.ce_base as u64, &ce.bytes);
        put(self.catalog as u64, &boot_catalog(p.esp_block, p.esp_bytes));
        out
    }

    /// PVD (type 1) or Joliet SVD (type 2, UCS-2 level 3), ECMA-119 8.4/8.5.
    fn volume_descriptor(&self, p: &VolumeParams, joliet: bool) -> [u8; 2048] {
        let mut v = [0u8; 2048];
        v[0] = if joliet { 2 } else { 1 };
        v[1..6].copy_from_slice(b"CD001");
        v[6] = 1;
        let text = |v: &mut [u8; 2048], off: usize, len: usize, s: &[u8]| {
            if joliet {
                let units: Vec<u16> = String::from_utf8_lossy(s).encode_utf16().collect();
                for i in 0..len / 2 {
                    let u = units.get(i).copied().unwrap_or(b' ' as u16);
                    v[off + 2 * i..off + 2 * i + 2].copy_from_slice(&u.to_be_bytes());
                }
                // 37-byte fields leave one odd byte: 0.
                if len % 2 == 1 {
                    v[off + len - 1] = 0;
                }
            } else {
                for i in 0..len {
                    v[off + i] = s.get(i).copied().unwrap_or(b' ');
                }
            }
        };
        text(&mut v, 8, 32, b"");
        let label: Vec<u8> = if joliet {
            p.label.as_bytes().to_vec()
        } else {
            d_chars(p.label.as_bytes())
        };
        text(&mut v, 40, 32, &label);
        v[80..88].copy_from_slice(&both32(p.space_blocks));
        if joliet {
            v[88..91].copy_from_slice(b"%/E");
        }
        v[120..124].copy_from_slice(&both16(1));
        v[124..128].copy_from_slice(&both16(1));
        v[128..132].copy_from_slice(&both16(BLOCK as u16));
        let j = usize::from(joliet);
        v[132..140].copy_from_slice(&both32(self.pt_size[j]));
        v[140..144].copy_from_slice(&self.l_pt[j].to_le_bytes());
        v[148..152].copy_from_slice(&self.m_pt[j].to_be_bytes());
        let (re, rs) = if joliet {
            self.locs.jdir[0]
        } else {
            self.locs.pdir[0]
        };
        v[156..190].copy_from_slice(&dir_record(&[0], re, rs, FLAG_DIR, &self.date7, &[]));
        text(&mut v, 190, 128, b""); // volume set
        text(&mut v, 318, 128, b""); // publisher
        text(&mut v, 446, 128, b""); // data preparer
        text(&mut v, 574, 128, b"CLOUD-BOOT-ISO"); // application
        text(&mut v, 702, 37, b""); // copyright file
        text(&mut v, 739, 37, b""); // abstract file
        text(&mut v, 776, 37, b""); // bibliographic file
        let dt = p.when.iso_dec_datetime();
        v[813..830].copy_from_slice(&dt);
        v[830..847].copy_from_slice(&dt);
        // Expiration and effective: "not specified" (ECMA-119 8.4.26.1).
        v[847..863].copy_from_slice(b"0000000000000000");
        v[864..880].copy_from_slice(b"0000000000000000");
        v[881] = 1; // file structure version
        v
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Rec {
    Dot,
    DotDot,
    Named,
}

/// Directories breadth first, children in record order: the path table order.
fn bfs_dirs(tree: &Tree, children: &[Vec<usize>]) -> Vec<usize> {
    let mut out = vec![0usize];
    let mut i = 0;
    while i < out.len() {
        let d = out[i];
        out.extend(children[d].iter().copied().filter(|&c| tree.is_dir(c)));
        i += 1;
    }
    out
}

/// (extent, length, is_last) of each directory-record section of a file of `size` bytes.
pub fn sections(first: u32, size: u64) -> Vec<(u32, u32, bool)> {
    if size == 0 {
        return vec![(first, 0, true)];
    }
    let n = size.div_ceil(MAX_EXTENT);
    (0..n)
        .map(|i| {
            let len = (size - i * MAX_EXTENT).min(MAX_EXTENT);
            let ext = first as u64 + i * (MAX_EXTENT / BLOCK);
            (ext as u32, len as u32, i + 1 == n)
        })
        .collect()
}

fn terminator() -> [u8; 2048] {
    let mut v = [0u8; 2048];
    v[0] = 255;
    v[1..6].copy_from_slice(b"CD001");
    v[6] = 1;
    v
}

// ---------------------------------------------------------------------------------------------
// El Torito
// ---------------------------------------------------------------------------------------------

/// Boot record volume descriptor (El Torito 1.0 §2.0) pointing at the catalog.
pub fn boot_record(catalog: u32) -> [u8; 2048] {
    let mut v = [0u8; 2048];
    v[0] = 0;
    v[1..6].copy_from_slice(b"CD001");
    v[6] = 1;
    v[7..7 + 23].copy_from_slice(b"EL TORITO SPECIFICATION");
    v[71..75].copy_from_slice(&catalog.to_le_bytes());
    v
}

/// El Torito sector count (512-byte virtual sectors) of a no-emulation image of `bytes`.
///
/// The field is 16 bits. Past 65535 sectors (ESP ≥ 32 MiB) we write 0, like libisofs: edk2 then
/// takes the boot image to run to the end of the ISO volume, which our layout makes exactly the
/// ESP (see the module comment).
pub fn sector_count(bytes: u64) -> u16 {
    let n = bytes / 512;
    if n <= u16::MAX as u64 {
        n as u16
    } else {
        0
    }
}

/// Boot catalog: a validation entry for platform 0xEF (UEFI) and one bootable no-emulation
/// default entry for the ESP.
pub fn boot_catalog(esp_block: u32, esp_bytes: u64) -> [u8; 2048] {
    let mut c = [0u8; 2048];
    c[0] = 1; // header id
    c[1] = 0xEF; // platform: EFI
    c[30] = 0x55;
    c[31] = 0xAA;
    // Checksum: the 16 little-endian words of the validation entry sum to 0.
    let sum = c[..32].chunks(2).fold(0u16, |s, w| {
        s.wrapping_add(u16::from_le_bytes([w[0], w[1]]))
    });
    c[28..30].copy_from_slice(&0u16.wrapping_sub(sum).to_le_bytes());
    let e = &mut c[32..64];
    e[0] = 0x88; // bootable
    e[1] = 0; // no emulation
    e[2..4].copy_from_slice(&0u16.to_le_bytes()); // load segment: default
    e[4] = 0; // system type
    e[6..8].copy_from_slice(&sector_count(esp_bytes).to_le_bytes());
    e[8..12].copy_from_slice(&esp_block.to_le_bytes());
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::Node;
    use std::path::PathBuf;

    fn file(t: &mut Tree, dir: usize, name: &str, size: u64) -> usize {
        let id = t.nodes.len();
        t.nodes.push(Node {
            name: name.as_bytes().to_vec(),
            parent: dir,
            kind: Kind::File {
                host: PathBuf::from("/dev/null"),
                size,
            },
            exec: false,
        });
        if let Kind::Dir { children } = &mut t.nodes[dir].kind {
            children.push(id);
            let names: Vec<Vec<u8>> = t.nodes.iter().map(|n| n.name.clone()).collect();
            if let Kind::Dir { children } = &mut t.nodes[dir].kind {
                children.sort_by(|&a, &b| names[a].cmp(&names[b]));
            }
        }
        id
    }

    fn dir(t: &mut Tree, parent: usize, name: &str) -> usize {
        let id = t.nodes.len();
        t.nodes.push(Node {
            name: name.as_bytes().to_vec(),
            parent,
            kind: Kind::Dir {
                children: Vec::new(),
            },
            exec: true,
        });
        if let Kind::Dir { children } = &mut t.nodes[parent].kind {
            children.push(id);
        }
        id
    }

    #[test]
    fn both_endian_fields() {
        assert_eq!(both32(0x0102_0304), [4, 3, 2, 1, 1, 2, 3, 4]);
        assert_eq!(both16(0x0800), [0, 8, 8, 0]);
    }

    #[test]
    fn directory_record_bytes() {
        let date = [124, 2, 29, 12, 34, 56, 0];
        let r = dir_record(b"A.TXT;1", 0x1234, 5, 0, &date, &[]);
        // 33 + 7 = 40, odd identifier length → no pad byte, even already.
        assert_eq!(r.len(), 40);
        assert_eq!(r[0], 40);
        assert_eq!(&r[2..10], &both32(0x1234));
        assert_eq!(&r[10..18], &both32(5));
        assert_eq!(&r[18..25], &date);
        assert_eq!(r[25], 0);
        assert_eq!(&r[28..32], &both16(1));
        assert_eq!(r[32], 7);
        assert_eq!(&r[33..40], b"A.TXT;1");
        // Root "." record: one-byte identifier 0x00, 34 bytes, directory flag.
        let r = dir_record(&[0], 20, 2048, FLAG_DIR, &date, &[]);
        assert_eq!(r.len(), 34);
        assert_eq!(r[25], 2);
        // Even identifier gets a pad byte, and the total is padded to even.
        let r = dir_record(b"AB", 1, 1, 0, &date, &[1, 2, 3]);
        assert_eq!(r.len(), 33 + 2 + 1 + 3 + 1);
        assert_eq!(&r[35..39], &[0, 1, 2, 3]);
    }

    #[test]
    fn primary_names_are_dchars_and_unique() {
        let mut t = Tree::new();
        let a = file(&mut t, 0, "readme.txt", 1);
        let b = file(&mut t, 0, "README.TXT", 1);
        let c = file(&mut t, 0, "archive.tar.gz", 1);
        let d = file(&mut t, 0, "noext", 1);
        let e = file(
            &mut t,
            0,
            "a-very-long-file-name-that-goes-on-and-on.squashfs",
            1,
        );
        let kids = t.children(0).to_vec();
        let names = primary_names(&t, &kids);
        let by = |n: usize| names[kids.iter().position(|&k| k == n).unwrap()].ident();
        // Sorted by real name: "README.TXT" < "a-very…" < "archive…" < "noext" < "readme.txt".
        assert_eq!(by(b), b"README.TXT;1");
        assert_eq!(by(a), b"README1.TXT;1");
        assert_eq!(by(c), b"ARCHIVE_TAR.GZ;1");
        assert_eq!(by(d), b"NOEXT.;1");
        assert_eq!(by(e), b"A_VERY_LONG_FILE_NAME_.SQUASHFS;1");
        assert_eq!(by(e).len() - 2, 31); // base 22 + '.' + ext 8
    }

    #[test]
    fn thousands_of_same_prefix_names_stay_unique_and_short() {
        let mut t = Tree::new();
        let prefix = "p".repeat(70);
        for i in 0..3000 {
            file(&mut t, 0, &format!("{prefix}-{i:05}.txt"), 1);
        }
        let kids = t.children(0).to_vec();
        let p: Vec<Vec<u8>> = primary_names(&t, &kids)
            .iter()
            .map(IsoName::ident)
            .collect();
        let j = make_joliet_names(&t, &kids);
        assert_eq!(p.iter().collect::<HashSet<_>>().len(), 3000);
        assert_eq!(j.iter().collect::<HashSet<_>>().len(), 3000);
        assert!(p.iter().all(|n| n.len() <= 33 && n.ends_with(b".TXT;1")));
        assert!(j.iter().all(|n| n.len() <= 62));
        // Base ≤ 27 (30 − "TXT"): the first keeps 27 P, the 3000th is 23 P + "2999".
        assert_eq!(p[0], format!("{}.TXT;1", "P".repeat(27)).into_bytes());
        assert_eq!(
            p[2999],
            format!("{}2999.TXT;1", "P".repeat(23)).into_bytes()
        );
    }

    #[test]
    fn joliet_names_keep_case_and_extension() {
        let mut t = Tree::new();
        let long = format!("{}.efi", "x".repeat(80));
        let a = file(&mut t, 0, &long, 1);
        let b = file(&mut t, 0, "Mixed Case:name?.txt", 1);
        let kids = t.children(0).to_vec();
        let names = make_joliet_names(&t, &kids);
        let by = |n: usize| {
            String::from_utf16(&names[kids.iter().position(|&k| k == n).unwrap()]).unwrap()
        };
        assert_eq!(by(a), format!("{}.efi", "x".repeat(58)));
        assert_eq!(by(b), "Mixed Case_name_.txt");
    }

    #[test]
    fn sections_split_large_files() {
        assert_eq!(sections(100, 0), vec![(100, 0, true)]);
        assert_eq!(sections(100, 5000), vec![(100, 5000, true)]);
        let big = (5u64 << 30) + 3;
        let s = sections(100, big);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0], (100, 0xFFFF_F800, false));
        assert_eq!(s[1], (100 + 0x1F_FFFF, (big - 0xFFFF_F800) as u32, true));
    }

    #[test]
    fn el_torito_catalog_checksum_and_entry() {
        let c = boot_catalog(1234, 16 << 20);
        assert_eq!(&c[..2], &[1, 0xEF]);
        assert_eq!(&c[30..32], &[0x55, 0xAA]);
        let sum = c[..32].chunks(2).fold(0u16, |s, w| {
            s.wrapping_add(u16::from_le_bytes([w[0], w[1]]))
        });
        assert_eq!(sum, 0);
        // 0x0001 + 0x00EF... : words 0x EF01 and 0xAA55 → checksum = -(0xEF01 + 0xAA55).
        assert_eq!(
            u16::from_le_bytes([c[28], c[29]]),
            0u16.wrapping_sub(0xEF01u16.wrapping_add(0xAA55))
        );
        assert_eq!(c[32], 0x88);
        assert_eq!(c[33], 0);
        assert_eq!(u16::from_le_bytes([c[38], c[39]]), 32768);
        assert_eq!(u32::from_le_bytes(c[40..44].try_into().unwrap()), 1234);
        assert!(c[64..].iter().all(|&b| b == 0));
        // 32 MiB and up: count 0 (see `sector_count`).
        assert_eq!(sector_count(32 << 20), 0);
        assert_eq!(sector_count((32 << 20) - 512), 65535);
        let b = boot_record(33);
        assert_eq!(&b[..7], b"\0CD001\x01");
        assert_eq!(&b[7..32], b"EL TORITO SPECIFICATION\0\0");
        assert_eq!(&b[71..75], &[33, 0, 0, 0]);
    }

    fn sample() -> (Tree, Layout, Vec<u8>) {
        let mut t = Tree::new();
        let docs = dir(&mut t, 0, "docs");
        file(&mut t, docs, "guide.txt", 3000);
        file(&mut t, 0, "hello.txt", 6);
        file(&mut t, 0, "empty", 0);
        let lay = Layout::compute(&t, Civil::from_unix(0)).unwrap();
        let p = VolumeParams {
            label: "My_Label",
            space_blocks: 4242,
            esp_block: 512,
            esp_bytes: 16 << 20,
            when: Civil::from_unix(0),
        };
        let meta = lay.metadata(&t, &p);
        (t, lay, meta)
    }

    fn block(meta: &[u8], b: u64) -> &[u8] {
        let o = ((b - 16) * BLOCK) as usize;
        &meta[o..o + BLOCK as usize]
    }

    #[test]
    fn pvd_fields() {
        let (_, lay, meta) = sample();
        let v = block(&meta, 16);
        assert_eq!(&v[..7], b"\x01CD001\x01");
        assert_eq!(&v[40..72], b"MY_LABEL                        ");
        assert_eq!(&v[80..88], &both32(4242));
        assert_eq!(&v[120..132], &[1, 0, 0, 1, 1, 0, 0, 1, 0, 8, 8, 0]);
        assert_eq!(&v[132..140], &both32(lay.pt_size[0]));
        assert_eq!(
            u32::from_le_bytes(v[140..144].try_into().unwrap()),
            META_START
        );
        assert_eq!(
            u32::from_be_bytes(v[148..152].try_into().unwrap()),
            META_START + 1
        );
        // Root record inside the PVD.
        assert_eq!(v[156], 34);
        assert_eq!(&v[158..166], &both32(lay.locs.pdir[0].0));
        assert_eq!(&v[166..174], &both32(2048));
        assert_eq!(&v[574..588], b"CLOUD-BOOT-ISO");
        assert_eq!(&v[813..830], b"1970010100000000\0");
        assert_eq!(v[881], 1);
        let j = block(&meta, 18);
        assert_eq!(&j[..7], b"\x02CD001\x01");
        assert_eq!(&j[88..91], b"%/E");
        assert_eq!(&j[40..50], b"\0M\0y\0_\0L\0a");
        assert_eq!(&block(&meta, 19)[..7], b"\xffCD001\x01");
        assert_eq!(
            u32::from_le_bytes(block(&meta, 17)[71..75].try_into().unwrap()),
            lay.catalog
        );
    }

    #[test]
    fn path_tables_both_orders() {
        let (_, lay, meta) = sample();
        let l = block(&meta, lay.l_pt[0] as u64);
        let m = block(&meta, lay.m_pt[0] as u64);
        // Root: len 1, extent, parent 1, id 0x00, pad.
        let root = lay.locs.pdir[0].0;
        assert_eq!(
            &l[..10],
            &[1, 0, root as u8, (root >> 8) as u8, 0, 0, 1, 0, 0, 0]
        );
        assert_eq!(&m[..8], &[1, 0, 0, 0, (root >> 8) as u8, root as u8, 0, 1]);
        // "DOCS": parent 1.
        assert_eq!(&l[10..12], &[4, 0]);
        assert_eq!(&l[16..18], &[1, 0]);
        assert_eq!(&l[18..22], b"DOCS");
        assert_eq!(lay.pt_size[0], 10 + 12);
    }

    #[test]
    fn root_directory_has_susp_and_rock_ridge() {
        let (_, lay, meta) = sample();
        let root = block(&meta, lay.locs.pdir[0].0 as u64);
        let dot_len = root[0] as usize;
        let su = &root[34..dot_len];
        // SP first, then PX, TF, CE (the ER lives in the continuation area).
        assert_eq!(&su[..7], b"SP\x07\x01\xbe\xef\x00");
        assert_eq!(&su[7..11], b"PX\x24\x01");
        assert_eq!(&su[11..19], &both32(0o040555));
        assert_eq!(&su[43..47], b"TF\x1a\x01");
        assert_eq!(&su[69..73], b"CE\x1c\x01");
        let ce_block = u32::from_le_bytes(su[73..77].try_into().unwrap());
        let ce_len = u32::from_le_bytes(su[89..93].try_into().unwrap());
        assert_eq!(ce_block, lay.locs.ce_base);
        let er = &block(&meta, ce_block as u64)[..ce_len as usize];
        assert_eq!(&er[..8], &[b'E', b'R', 237, 1, 10, 84, 135, 1]);
        assert_eq!(&er[8..18], b"RRIP_1991A");
        // Children in ISO order: DOCS, EMPTY.;1, HELLO.TXT;1, each with NM = real name.
        let mut off = dot_len;
        off += root[off] as usize; // ".."
        let mut seen = Vec::new();
        while root[off] != 0 {
            let len = root[off] as usize;
            let idl = root[off + 32] as usize;
            let ident = &root[off + 33..off + 33 + idl];
            let su_start = off + 33 + idl + usize::from(idl.is_multiple_of(2));
            let su = &root[su_start..off + len];
            let nm_at = su.windows(2).position(|w| w == b"NM").unwrap();
            let nm_len = su[nm_at + 2] as usize;
            seen.push((
                String::from_utf8_lossy(ident).into_owned(),
                String::from_utf8_lossy(&su[nm_at + 5..nm_at + nm_len]).into_owned(),
            ));
            off += len;
        }
        assert_eq!(
            seen,
            [
                ("DOCS".to_string(), "docs".to_string()),
                ("EMPTY.;1".to_string(), "empty".to_string()),
                ("HELLO.TXT;1".to_string(), "hello.txt".to_string())
            ]
        );
    }

    #[test]
    fn long_rock_ridge_names_spill_to_continuation() {
        let mut t = Tree::new();
        let name = "n".repeat(255);
        file(&mut t, 0, &name, 1);
        let lay = Layout::compute(&t, Civil::from_unix(0)).unwrap();
        let mut ce = CeAlloc::default();
        let root = lay.primary_dir(&t, 0, &mut ce);
        // ER (237) plus the spilled NM pieces (255 + 2 × 5 headers).
        assert_eq!(ce.bytes.len(), 237 + 255 + 10);
        let mut off = root[0] as usize;
        off += root[off] as usize;
        assert!(root[off] as usize <= 255);
        assert!(root[off..off + root[off] as usize]
            .windows(2)
            .any(|w| w == b"CE"));
    }
}
