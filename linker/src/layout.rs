//! Layout: every thing that takes space in the image is a [`Chunk`] (the headers, an input
//! section, a COMMON symbol, the GOT, range-extension thunks, `.reloc`, the COFF string table:
//! [`chunk`] lists the kinds, each in its own file here with its size, bytes and base
//! relocations); chunks are grouped into output sections, ordered, and given RVAs. The scan of
//! relocations that decides GOT slots and base relocations happens here too, because both change
//! sizes. Layout owns every address and writes no byte: the write phase asks each placed chunk
//! to fill its slice of the image.
//!
//! Section sizes are read from the inputs just before addresses are assigned, so a pass that
//! deletes bytes (RISC-V/LoongArch relaxation and ALIGN) slots in before [`compute`] places chunks.
use std::ops::Range;

use rayon::prelude::*;
use rustc_hash::FxHashMap;

pub mod base_relocs;
pub mod chunk;
pub mod common;
pub mod got;
pub mod headers;
pub mod relax;
pub mod scan;
pub mod section;
pub mod strtab;
pub mod thunks;

pub use chunk::{Chunk, ChunkKind};
pub use got::Got;
pub use headers::{Header, Subsystem};
pub use scan::{Fixup, ObjectFixups};
pub use strtab::StringTable;

use crate::arch::Arch;
use crate::baserel::BaseReloc;
use crate::error::{Error, Result};
use crate::input::{Format, SectionClass};
use crate::relax::Relaxation;
use crate::resolve::{Resolved, Target};

/// Defaults of `/ALIGN` and `/FILEALIGN`.
pub const SECTION_ALIGNMENT: u32 = 0x1000;
pub const FILE_ALIGNMENT: u32 = 0x200;
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum OutputKind {
    Text,
    RoData,
    Data,
    Bss,
    Reloc,
    /// One DWARF section, by its index in [`DEBUG_SECTIONS`].
    Debug(u8),
}

pub use crate::consts::DEBUG_SECTIONS;

impl OutputKind {
    pub fn name(self) -> &'static str {
        match self {
            OutputKind::Text => ".text",
            OutputKind::RoData => ".rdata",
            OutputKind::Data => ".data",
            OutputKind::Bss => ".bss",
            OutputKind::Reloc => ".reloc",
            OutputKind::Debug(i) => DEBUG_SECTIONS[i as usize],
        }
    }

    pub fn characteristics(self) -> u32 {
        use object::pe::*;
        match self {
            OutputKind::Text => (IMAGE_SCN_CNT_CODE | IMAGE_SCN_MEM_EXECUTE | IMAGE_SCN_MEM_READ).0,
            OutputKind::RoData => (IMAGE_SCN_CNT_INITIALIZED_DATA | IMAGE_SCN_MEM_READ).0,
            OutputKind::Data => {
                (IMAGE_SCN_CNT_INITIALIZED_DATA | IMAGE_SCN_MEM_READ | IMAGE_SCN_MEM_WRITE).0
            }
            OutputKind::Bss => {
                (IMAGE_SCN_CNT_UNINITIALIZED_DATA | IMAGE_SCN_MEM_READ | IMAGE_SCN_MEM_WRITE).0
            }
            OutputKind::Reloc | OutputKind::Debug(_) => {
                (IMAGE_SCN_CNT_INITIALIZED_DATA | IMAGE_SCN_MEM_READ | IMAGE_SCN_MEM_DISCARDABLE).0
            }
        }
    }

    pub fn has_file_data(self) -> bool {
        self != OutputKind::Bss
    }
}

#[derive(Clone, Debug)]
pub struct OutputSection {
    pub kind: OutputKind,
    /// The kind's characteristics, joined with those of sections merged into it and overridden
    /// by `/SECTION`.
    pub characteristics: u32,
    pub rva: u32,
    pub virtual_size: u32,
    pub file_offset: u32,
    pub file_size: u32,
    /// Range into [`Layout::chunks`].
    pub chunks: std::ops::Range<usize>,
}

pub struct Layout {
    pub image_base: u64,
    pub section_alignment: u32,
    pub file_alignment: u32,
    pub sections: Vec<OutputSection>,
    pub chunks: Vec<Chunk>,
    /// Per file, per input section: RVA, or `u32::MAX` when not in the image.
    pub section_rva: Vec<Vec<u32>>,
    pub common_rva: Vec<u32>,
    pub got: Got,
    pub thunks: thunks::Thunks,
    pub base_relocs: Vec<BaseReloc>,
    pub entry_rva: u32,
    pub size_of_headers: u32,
    pub size_of_image: u32,
    pub file_size: u32,
    /// What relaxation deleted: symbol values and relocation offsets map through it.
    pub relax: Relaxation,
    /// Where the DWARF sections begin (`u32::MAX`: none). Addresses inside them are offsets
    /// from their own section's start, as DWARF's cross-section references expect.
    pub debug_rva: u32,
    pub strtab: StringTable,
    /// The header fields the options give.
    pub header: Header,
    /// Per file: every live relocation as the scan decided it.
    pub fixups: Vec<ObjectFixups>,
}

pub struct Options {
    pub image_base: u64,
    pub allow_absolute32: bool,
    pub sections: SectionOptions,
    pub header: Header,
}

/// Output-section options of lld-link's command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SectionOptions {
    /// `/MERGE:from=to`, in command-line order.
    pub merge: Vec<(String, String)>,
    /// `/SECTION:name,attrs`: the permission bits (IMAGE_SCN_MEM_*) the section gets.
    pub permissions: Vec<(String, u32)>,
    pub section_alignment: u32,
    pub file_alignment: u32,
}

impl Default for SectionOptions {
    fn default() -> Self {
        SectionOptions {
            merge: Vec::new(),
            permissions: Vec::new(),
            section_alignment: SECTION_ALIGNMENT,
            file_alignment: FILE_ALIGNMENT,
        }
    }
}

/// The section header bits `/SECTION` replaces (lld's `permMask`).
pub const PERMISSION_MASK: u32 = 0xfe00_0000;

/// The output sections input sections are sorted into, by contents.
const GROUPS: [OutputKind; 4] = [
    OutputKind::Text,
    OutputKind::RoData,
    OutputKind::Data,
    OutputKind::Bss,
];

/// Which group each group's chunks go to after `/MERGE`. Input sections are placed by their
/// contents, not their names, so a merge of any other name (`.xdata`, `.pdata`) already holds.
fn merge_groups(merge: &[(String, String)]) -> Result<[usize; 4]> {
    let index = |name: &str| GROUPS.iter().position(|k| k.name() == name);
    let mut into = [0, 1, 2, 3];
    for (from, to) in merge {
        let Some(f) = index(from) else { continue };
        let t = match index(to) {
            Some(3) | None => {
                return Err(Error::Usage(format!(
                    "/MERGE:{from}={to}: {from} can go into .text, .rdata or .data only (the \
                     sections pectl writes; .bss has no file bytes)"
                )))
            }
            Some(t) => t,
        };
        into[f] = t;
    }
    // Follow chains (`.rdata=.data` then `.data=.text`) to a group that stays put.
    let direct = into;
    for (g, final_group) in into.iter_mut().enumerate() {
        let mut t = g;
        for _ in 0..=GROUPS.len() {
            t = direct[t];
        }
        if direct[t] != t {
            return Err(Error::Usage("/MERGE options form a cycle".into()));
        }
        *final_group = t;
    }
    Ok(into)
}

impl Layout {
    /// The address of a resolved target (0 for undefined weak symbols).
    pub fn address(&self, target: Target) -> u64 {
        match target {
            Target::Section {
                file,
                section,
                value,
            } => {
                let rva = self.section_rva[file as usize][section as usize];
                if rva == u32::MAX {
                    // Only debug info refers to sections the link dropped: lld's tombstone.
                    return 0;
                }
                if rva >= self.debug_rva {
                    let start = self
                        .sections
                        .iter()
                        .rev()
                        .find(|s| s.rva <= rva)
                        .map_or(rva, |s| s.rva);
                    return u64::from(rva - start) + u64::from(value);
                }
                self.image_base + u64::from(rva) + self.relax.map(file, section, value.into())
            }
            Target::Common(i) => self.image_base + u64::from(self.common_rva[i as usize]),
            Target::GotBase => self.image_base + u64::from(self.got.rva),
            Target::Absolute(v) => v,
            Target::UndefinedWeak | Target::Undefined => 0,
        }
    }

    /// Every chunk with bytes in the file, in file order, as runs sharing one step from RVA to
    /// file offset: the headers, each section with file data, the string table. Chunk `c` of
    /// the run `(chunks, delta)` is at file offset `c.rva.wrapping_add(delta)`.
    pub fn placed_runs(&self) -> impl Iterator<Item = (&[Chunk], u32)> {
        fn alone(c: &Chunk, at: u32) -> (&[Chunk], u32) {
            (std::slice::from_ref(c), at.wrapping_sub(c.rva))
        }
        let headers = (self.chunks.first())
            .filter(|c| c.kind == ChunkKind::Headers)
            .map(|c| alone(c, 0));
        let mapped = (self.sections.iter().filter(|s| s.kind.has_file_data())).map(|s| {
            (
                &self.chunks[s.chunks.clone()],
                s.file_offset.wrapping_sub(s.rva),
            )
        });
        let strtab = (self.chunks.last())
            .filter(|c| c.kind == ChunkKind::StringTable)
            .map(|c| alone(c, self.strtab.offset));
        headers.into_iter().chain(mapped).chain(strtab)
    }

    /// The output section (0-based index) containing `rva`.
    pub fn section_of(&self, rva: u32) -> Option<usize> {
        self.sections
            .iter()
            .position(|s| rva >= s.rva && rva < s.rva + s.virtual_size.max(1))
    }

    pub fn section(&self, kind: OutputKind) -> Option<&OutputSection> {
        self.sections.iter().find(|s| s.kind == kind)
    }
}

fn align_up(value: u64, align: u64) -> u64 {
    // Alignments are powers of two but for a malformed ELF `sh_addralign`, taken as it is: the
    // mask spares the chunk placement loop a 64-bit division per chunk.
    match align.is_power_of_two() {
        true => (value + align - 1) & !(align - 1),
        false => value.div_ceil(align) * align,
    }
}

/// The plan of the image: the scan; input chunks ordered into output sections, then thunks, the
/// GOT and COMMONs; the headers chunk, sized for the sections that will exist; RVAs and file
/// offsets; then `.reloc` from every placed chunk's base relocations, DWARF and the string table.
pub fn compute<A: Arch>(res: &Resolved, relax: Relaxation, opts: &Options) -> Result<Layout> {
    let scan::Scan {
        got,
        uses_got_base,
        fixups,
    } = tracing::debug_span!("scan").in_scope(|| scan::scan::<A>(res, &relax, opts))?;
    let _order = tracing::debug_span!("order").entered();
    // Every relocation is decided; GOT slots and base-relocation sites are known; sizes are
    // final.
    let into = merge_groups(&opts.sections.merge)?;
    let (section_alignment, file_alignment) = (
        opts.sections.section_alignment,
        opts.sections.file_alignment,
    );

    // Per object, in parallel: each live section's group (0-3 the image's, 4 on DWARF by index
    // in DEBUG_SECTIONS), its grouping key as an index into the object's own distinct keys, and
    // its chunk.
    let placed: Vec<Placed> = res
        .objects
        .par_iter()
        .enumerate()
        .map(|(f, obj)| {
            let mut keys = KeyIds::default();
            let mut list = Vec::with_capacity(res.live[f].iter().filter(|&&l| l).count());
            for (s, sec) in obj.sections.iter().enumerate() {
                if !res.live[f][s] {
                    continue;
                }
                let group = match sec.class {
                    SectionClass::Text => 0,
                    SectionClass::RoData => 1,
                    SectionClass::Data => 2,
                    SectionClass::Bss => 3,
                    SectionClass::Debug => match DEBUG_SECTIONS.iter().position(|n| *n == sec.name)
                    {
                        Some(i) => 4 + i as u8,
                        None => continue,
                    },
                    SectionClass::Discard => continue,
                };
                let key = match obj.format {
                    Format::Coff if group < 4 => grouping_key(sec.name),
                    _ => ("", ""),
                };
                let chunk = section::chunk(&relax, f as u32, s as u32, sec);
                list.push((group, keys.id(key), chunk));
            }
            (keys, list)
        })
        .collect();
    // COFF `$` grouping: `.text$mn` and `.text$zz` join `.text`, ordered by the suffix. ELF
    // sections share one key. Keys are few and sections many: the keys are ranked once, and
    // sections go to buckets by (group, key rank), each bucket in command-line order. A counting
    // sort: the buckets' sizes first, then every chunk straight to its place in the image's list
    // of chunks, so that no list grows or is copied into another (a large link has hundreds of
    // thousands).
    let mut key_ids = KeyIds::default();
    let global_ids: Vec<Vec<u32>> = placed
        .iter()
        .map(|(keys, _)| keys.keys.iter().map(|&k| key_ids.id(k)).collect())
        .collect();
    let rank = key_ids.ranks();
    let n = rank.len();
    let bucket = |global: &[u32], group: u8, key: u32| {
        usize::from(group) * n + rank[global[key as usize] as usize] as usize
    };
    // Per object, in parallel: the buckets it has chunks in, each with their count, in bucket
    // order; DWARF sections count as buckets after the image's. An object has chunks in a few
    // buckets, or in one per section where each has a key of its own (MinGW's `.text$name`):
    // never a row of every bucket.
    let counts: Vec<Vec<(u32, u32)>> = (placed.par_iter().zip(&global_ids))
        .map(|((_, list), global)| {
            let mut buckets: Vec<u32> = (list.iter())
                .map(|&(group, key, _)| match group {
                    0..4 => bucket(global, group, key) as u32,
                    d => (4 * n + usize::from(d) - 4) as u32,
                })
                .collect();
            buckets.sort_unstable();
            let mut count: Vec<(u32, u32)> = Vec::new();
            for b in buckets {
                match count.last_mut() {
                    Some((last, c)) if *last == b => *c += 1,
                    _ => count.push((b, 1)),
                }
            }
            count
        })
        .collect();
    let mut sizes = vec![0usize; 4 * n + DEBUG_SECTIONS.len()];
    for &(b, c) in counts.iter().flatten() {
        sizes[b as usize] += c as usize;
    }
    let debug_sizes = sizes.split_off(4 * n);
    // Each bucket's first place within its output group: buckets in order, a group's after
    // the buckets merged into it before.
    let mut next = vec![0usize; 4 * n];
    let mut group_sizes = [0usize; 4];
    for (b, size) in sizes.iter().enumerate() {
        next[b] = group_sizes[into[b / n]];
        group_sizes[into[b / n]] += size;
    }
    // The GOT ends the data group, then COMMONs the bss group.
    let got_chunk = got.chunk(uses_got_base);
    let commons: Vec<Chunk> = (res.commons.iter().enumerate())
        .map(|(i, c)| common::chunk(i as u32, c))
        .collect::<Result<_>>()?;
    let mut ends = group_sizes;
    ends[into[2]] += usize::from(got_chunk.is_some());
    ends[into[3]] += commons.len();
    // Every chunk in one list, in image order, sorted straight into it: the headers, the four
    // groups (each a range of the list), then `.reloc`, DWARF and the string table, pushed as
    // they are made. The list is made by both threads: its pages are fresh memory.
    let mut ranges: [Range<usize>; 4] = Default::default();
    let mut end = 1;
    for (range, size) in ranges.iter_mut().zip(ends) {
        *range = end..end + size;
        end += size;
    }
    let unplaced = Chunk {
        kind: ChunkKind::Headers,
        rva: 0,
        size: 0,
        align: 1,
    };
    let debug_chunks: usize = debug_sizes.iter().sum();
    let mut chunks = Vec::with_capacity(end + 1 + debug_chunks + 1);
    (0..end)
        .into_par_iter()
        .map(|_| unplaced)
        .collect_into_vec(&mut chunks);
    // Each object's chunks of a bucket are one run of the list (a bucket's objects in
    // command-line order), cut out of it here so that the objects fill their runs in parallel.
    let mut by_bucket: Vec<(u32, u32, u32)> = (counts.iter().enumerate())
        .flat_map(|(f, count)| count.iter().map(move |&(b, c)| (b, f as u32, c)))
        .filter(|&(b, _, _)| (b as usize) < 4 * n)
        .collect();
    by_bucket.sort_unstable();
    let mut runs: Vec<(usize, usize, usize, usize)> = (by_bucket.into_iter())
        .map(|(b, f, len)| {
            let (b, len) = (b as usize, len as usize);
            let at = ranges[into[b / n]].start + next[b];
            next[b] += len;
            (at, len, f as usize, b)
        })
        .collect();
    runs.sort_unstable_by_key(|r| r.0);
    let mut object_runs: Vec<Vec<(usize, &mut [Chunk])>> =
        placed.iter().map(|_| Vec::new()).collect();
    let (mut rest, mut cut) = (&mut chunks[..], 0);
    for (at, len, f, b) in runs {
        let (_, tail) = std::mem::take(&mut rest).split_at_mut(at - cut);
        let (run, tail) = tail.split_at_mut(len);
        object_runs[f].push((b, run));
        (rest, cut) = (tail, at + len);
    }
    (placed.par_iter().zip(&global_ids).zip(object_runs)).for_each(
        |(((_, list), global), mut runs)| {
            runs.sort_unstable_by_key(|run| run.0);
            let mut filled = vec![0; runs.len()];
            for &(group, key, chunk) in list {
                if group < 4 {
                    let b = bucket(global, group, key);
                    let r = (runs.binary_search_by_key(&b, |run| run.0))
                        .expect("a run per bucket with chunks");
                    runs[r].1[filled[r]] = chunk;
                    filled[r] += 1;
                }
            }
        },
    );
    let mut debug_groups: Vec<Vec<Chunk>> =
        debug_sizes.iter().map(|&s| Vec::with_capacity(s)).collect();
    if debug_chunks > 0 {
        for (_, list) in &placed {
            for &(group, _, chunk) in list {
                if group >= 4 {
                    debug_groups[usize::from(group) - 4].push(chunk);
                }
            }
        }
    }
    drop(placed);
    let mut filled = group_sizes;
    for (g, chunk) in (got_chunk.map(|c| (into[2], c)))
        .into_iter()
        .chain(commons.into_iter().map(|c| (into[3], c)))
    {
        chunks[ranges[g].start + filled[g]] = chunk;
        filled[g] += 1;
    }
    drop(_order);
    // Every branch that cannot reach its destination has a thunk chunk after its section.
    let thunks = thunks::plan::<A>(res, &fixups, &mut chunks, ranges[0].clone());
    let grown = thunks.chunks();
    ranges[0].end += grown;
    for range in &mut ranges[1..] {
        *range = range.start + grown..range.end + grown;
    }
    let _place = tracing::debug_span!("place").entered();

    let kinds = GROUPS;
    let section_count = ranges
        .iter()
        .filter(|r| chunks[r.start..r.end].iter().any(|c| c.size > 0))
        .count()
        + usize::from(base_relocs::needed(&fixups, &got))
        + debug_groups
            .iter()
            .filter(|g| g.iter().any(|c| c.size > 0))
            .count();
    // The headers come first, sized for every section header, `.reloc`'s included.
    let headers = headers::chunk(section_count, file_alignment);
    let size_of_headers = headers.size;
    chunks[0] = headers;

    let mut sections = Vec::new();
    let mut rva = u64::from(section_alignment).max(u64::from(size_of_headers));
    let mut file_offset = u64::from(size_of_headers);
    for (g, (kind, range)) in kinds.into_iter().zip(ranges).enumerate() {
        if range.is_empty() {
            continue;
        }
        rva = align_up(rva, u64::from(section_alignment));
        let mut off = 0u64;
        for c in &mut chunks[range.clone()] {
            off = align_up(off, u64::from(c.align));
            c.rva = (rva + off) as u32;
            off += u64::from(c.size);
        }
        // Empty sections (clang's COFF objects carry an empty `.data`) place their chunks but get
        // no header: a zero-sized section would only confuse loaders.
        if off == 0 {
            continue;
        }
        let file_size = if kind.has_file_data() {
            align_up(off, u64::from(file_alignment))
        } else {
            0
        };
        sections.push(OutputSection {
            kind,
            characteristics: (0..GROUPS.len())
                .filter(|&m| into[m] == g)
                .fold(0, |c, m| c | GROUPS[m].characteristics()),
            rva: rva as u32,
            virtual_size: off as u32,
            file_offset: if file_size > 0 { file_offset as u32 } else { 0 },
            file_size: file_size as u32,
            chunks: range,
        });
        file_offset += file_size;
        rva += off;
        if rva > u64::from(u32::MAX) {
            return Err(Error::ImageTooLarge { size: rva });
        }
    }

    let mut layout = Layout {
        image_base: opts.image_base,
        section_alignment,
        file_alignment,
        sections,
        section_rva: res
            .objects
            .iter()
            .map(|o| vec![u32::MAX; o.sections.len()])
            .collect(),
        common_rva: vec![0; res.commons.len()],
        got,
        thunks,
        base_relocs: Vec::new(),
        entry_rva: 0,
        size_of_headers,
        size_of_image: 0,
        file_size: 0,
        chunks,
        relax,
        debug_rva: u32::MAX,
        strtab: StringTable::default(),
        header: opts.header.clone(),
        fixups,
    };
    for c in &layout.chunks {
        match c.kind {
            ChunkKind::Input { file, section } => {
                layout.section_rva[file as usize][section as usize] = c.rva
            }
            ChunkKind::Common(i) => layout.common_rva[i as usize] = c.rva,
            ChunkKind::Got => layout.got.rva = c.rva,
            ChunkKind::Thunk(g) => layout.thunks.groups[g as usize].rva = c.rva,
            ChunkKind::Headers => {}
            ChunkKind::BaseRelocs | ChunkKind::StringTable => {
                unreachable!("placed after the other chunks")
            }
        }
    }
    // Every chunk has its RVA.

    drop(_place);
    let _baserel = tracing::debug_span!("baserel").entered();
    // Each chunk's base relocations (lld's `getBaserels`), in one `.reloc` chunk of its own.
    let relocs = base_relocs::collect(&layout);
    if !relocs.is_empty() {
        let reloc_rva = align_up(rva, u64::from(section_alignment)) as u32;
        let chunk = base_relocs::chunk(&relocs, reloc_rva);
        let size = chunk.size;
        let start = layout.chunks.len();
        layout.chunks.push(chunk);
        layout.sections.push(OutputSection {
            kind: OutputKind::Reloc,
            characteristics: OutputKind::Reloc.characteristics(),
            rva: reloc_rva,
            virtual_size: size,
            file_offset: file_offset as u32,
            file_size: align_up(u64::from(size), u64::from(file_alignment)) as u32,
            chunks: start..start + 1,
        });
        file_offset += u64::from(layout.sections.last().unwrap().file_size);
        rva = u64::from(reloc_rva) + u64::from(size);
    }
    layout.base_relocs = relocs;

    // DWARF last: a debugger reads it from the file; it changes no other address.
    for (i, group) in debug_groups.into_iter().enumerate() {
        let size: u64 = group.iter().map(|c| u64::from(c.size)).sum();
        if size == 0 {
            continue;
        }
        rva = align_up(rva, u64::from(section_alignment));
        if layout.debug_rva == u32::MAX {
            layout.debug_rva = rva as u32;
        }
        let start = layout.chunks.len();
        let mut off = 0u64;
        for mut c in group {
            off = align_up(off, u64::from(c.align));
            c.rva = (rva + off) as u32;
            off += u64::from(c.size);
            if let ChunkKind::Input { file, section } = c.kind {
                layout.section_rva[file as usize][section as usize] = c.rva;
            }
            layout.chunks.push(c);
        }
        let file_size = align_up(off, u64::from(file_alignment));
        layout.strtab.add(layout.sections.len(), DEBUG_SECTIONS[i]);
        layout.sections.push(OutputSection {
            kind: OutputKind::Debug(i as u8),
            characteristics: OutputKind::Debug(i as u8).characteristics(),
            rva: rva as u32,
            virtual_size: off as u32,
            file_offset: file_offset as u32,
            file_size: file_size as u32,
            chunks: start..layout.chunks.len(),
        });
        file_offset += file_size;
        rva += off;
        if rva > u64::from(u32::MAX) {
            return Err(Error::ImageTooLarge { size: rva });
        }
    }
    if let Some(chunk) = layout.strtab.chunk(file_offset as u32) {
        layout.chunks.push(chunk);
        file_offset += u64::from(chunk.size);
    }
    layout.size_of_image = align_up(rva, u64::from(section_alignment)) as u32;
    for (name, permissions) in &opts.sections.permissions {
        for s in layout.sections.iter_mut().filter(|s| s.kind.name() == name) {
            s.characteristics = (s.characteristics & !PERMISSION_MASK) | permissions;
        }
    }
    layout.file_size = file_offset as u32;
    let entry = layout.address(res.entry) - layout.image_base;
    layout.entry_rva = entry as u32;
    Ok(layout)
}

/// One object's live sections as ordering sees them: its distinct grouping keys, and per section
/// its group, its key's index among those, and its chunk.
type Placed<'a> = (KeyIds<'a>, Vec<(u8, u32, Chunk)>);

/// Ids for the distinct grouping keys of the sections, in the order first seen.
#[derive(Default)]
struct KeyIds<'a> {
    ids: FxHashMap<(&'a str, &'a str), u32>,
    keys: Vec<(&'a str, &'a str)>,
    /// Consecutive sections mostly share their key: the last one is checked first.
    last: Option<((&'a str, &'a str), u32)>,
}

impl<'a> KeyIds<'a> {
    fn id(&mut self, key: (&'a str, &'a str)) -> u32 {
        if let Some((_, id)) = self
            .last
            .filter(|(k, _)| same(k.0, key.0) && same(k.1, key.1))
        {
            return id;
        }
        let keys = &mut self.keys;
        let id = *self.ids.entry(key).or_insert_with(|| {
            keys.push(key);
            keys.len() as u32 - 1
        });
        self.last = Some((key, id));
        id
    }

    /// By id: the key's place among all keys in sorted order.
    fn ranks(&self) -> Vec<u32> {
        let mut by_key: Vec<u32> = (0..self.keys.len() as u32).collect();
        by_key.sort_unstable_by_key(|&id| self.keys[id as usize]);
        let mut rank = vec![0; self.keys.len()];
        for (r, &id) in by_key.iter().enumerate() {
            rank[id as usize] = r as u32;
        }
        rank
    }
}

/// `a == b` without a `memcmp` call for empty strings: an empty `str` constant's pointer is
/// dangling (0x1), and glibc's AVX-512 `memcmp` still does a masked load from it for no bytes,
/// which on this VM's CPU costs 79 ns a call against 2.2 ns with a real pointer (a
/// fault-suppression assist on the unmapped page, by all signs): 7 % of the samples of a
/// 1000-object ELF link, whose sections all have the empty key.
#[inline(always)]
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && (a.is_empty() || a == b)
}

/// `.text$mn` → (`.text`, `mn`); other names sort as their own group with an empty suffix.
fn grouping_key(name: &str) -> (&str, &str) {
    // A byte scan: names are a few bytes, and it inlines into the per-object placement loop
    // where `str`'s char searcher was left as a call (1.8 % of a 200-file link's instructions).
    match name.bytes().position(|b| b == b'$') {
        Some(i) => (&name[..i], &name[i + 1..]),
        None => (name, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::amd64::Amd64;
    use crate::consts::Machine;
    use crate::resolve::OneObject;

    /// `res` laid out as an amd64 image at lld-link's default base, unrelaxed.
    fn amd64_layout(res: &Resolved, sections: SectionOptions) -> Layout {
        let opts = Options {
            image_base: 0x1_4000_0000,
            allow_absolute32: false,
            sections,
            header: Header::default(),
        };
        compute::<Amd64>(res, Relaxation::none(), &opts).unwrap()
    }

    /// COFF `$` grouping: a section joins the group of its name before the `$`, groups are in
    /// name order, members by suffix, and sections with one key keep their input order.
    #[test]
    fn coff_sections_group_by_name_and_sort_by_suffix_stably() {
        let mut res = OneObject::new(Machine::Amd64)
            .section(".text$zz", SectionClass::Text, 1, b"\x01", vec![])
            .section(".text", SectionClass::Text, 1, b"\x02", vec![])
            .section(".text$mn", SectionClass::Text, 1, b"\x03", vec![])
            .section(".text", SectionClass::Text, 1, b"\x04", vec![])
            .section(".text$a", SectionClass::Text, 1, b"\x05", vec![])
            .build();
        res.objects[0].format = Format::Coff;
        let layout = amd64_layout(&res, SectionOptions::default());
        let text = layout.section(OutputKind::Text).unwrap();
        let order: Vec<u32> = layout.chunks[text.chunks.clone()]
            .iter()
            .map(|c| match c.kind {
                ChunkKind::Input { section, .. } => section,
                other => panic!("{other:?} in .text"),
            })
            .collect();
        assert_eq!(order, [2, 4, 5, 3, 1], ".text, .text, $a, $mn, $zz");
    }

    /// A section whose relocations all apply as read keeps no fixup list, yet yields the fixups
    /// a kept list would (markers left out); one whose relocation GOT relaxation rewrites keeps
    /// its list, with the rewritten type.
    #[test]
    fn fixups_are_kept_only_where_a_relocation_is_rewritten() {
        use crate::input::Reloc;
        let reloc = |offset, r_type, symbol| Reloc {
            offset,
            r_type,
            symbol,
            addend: -4,
        };
        let (none, pc32, gotpcrelx) = (0, 2, 41);
        // `mov foo@GOTPCREL(%rip), %rax` (relaxed to lea), then a call in a section of its own.
        let mov = b"\x48\x8b\x05\0\0\0\0\xc3";
        let call = b"\xe8\0\0\0\0\xc3";
        let res = OneObject::new(Machine::Amd64)
            .section(
                ".text",
                SectionClass::Text,
                16,
                mov,
                vec![reloc(3, gotpcrelx, 1)],
            )
            .section(
                ".text",
                SectionClass::Text,
                16,
                call,
                vec![reloc(1, none, 1), reloc(1, pc32, 1)],
            )
            .symbol(b"foo", 1, 0)
            .build();
        let layout = amd64_layout(&res, SectionOptions::default());
        let fixups = &layout.fixups[0];
        let of = |s: u32| -> Vec<(u32, u32, &str)> {
            let sec = &res.objects[0].sections[s as usize];
            (fixups.of::<Amd64>(s, sec, Format::Elf))
                .map(|f| (f.offset, f.reloc, f.info.name))
                .collect()
        };
        assert_eq!(
            of(1),
            [(3, 0, "R_X86_64_GOTPCRELX (relaxed to lea)")],
            "rewritten: kept"
        );
        assert_eq!(
            of(2),
            [(1, 1, "R_X86_64_PC32")],
            "as read, the marker left out"
        );
        assert_eq!(fixups.kept(), 1, "only the rewritten relocation is kept");
    }

    /// Across objects, a grouping key's sections come in command-line order, each object's in
    /// its own order: objects fill their runs of the list side by side.
    #[test]
    fn objects_sections_of_one_key_follow_command_line_order() {
        let object = |names: &[&'static str]| {
            let mut one = OneObject::new(Machine::Amd64);
            for name in names {
                one = one.section(name, SectionClass::Text, 1, b"\xc3", vec![]);
            }
            let mut res = one.build();
            res.objects[0].format = Format::Coff;
            res
        };
        let mut res = object(&[".text$b", ".text", ".text$b", ".text"]);
        for other in [
            object(&[".text", ".text$b", ".text$a"]),
            object(&[".text$a"]),
        ] {
            res.objects.extend(other.objects);
            res.targets.extend(other.targets);
            res.live.extend(other.live);
        }
        let layout = amd64_layout(&res, SectionOptions::default());
        let text = layout.section(OutputKind::Text).unwrap();
        let order: Vec<(u32, u32)> = layout.chunks[text.chunks.clone()]
            .iter()
            .map(|c| match c.kind {
                ChunkKind::Input { file, section } => (file, section),
                other => panic!("{other:?} in .text"),
            })
            .collect();
        let expected = [
            (0, 2),
            (0, 4),
            (1, 1),
            (1, 3),
            (2, 1),
            (0, 1),
            (0, 3),
            (1, 2),
        ];
        assert_eq!(order, expected, ".text, then $a, then $b; objects in order");
    }

    /// Key parts compare as `==` does, empty ones included.
    #[test]
    fn same_is_string_equality() {
        let empty = String::new();
        for (a, b) in [
            ("", ""),
            ("", ".text"),
            (".text", ".text"),
            (".text", ".texu"),
            ("a", "ab"),
        ] {
            assert_eq!(same(a, b), a == b, "{a:?} {b:?}");
            assert_eq!(same(b, a), a == b, "{b:?} {a:?}");
        }
        assert!(same(&empty, "") && same(&".text$"[6..], ""));
    }

    /// Powers of two by mask, anything else (a malformed ELF `sh_addralign`) by division, as
    /// before the mask.
    #[test]
    fn align_up_rounds_to_the_next_multiple() {
        let cases = [
            (0, 16, 0),
            (5, 4, 8),
            (8, 4, 8),
            (0x1001, 0x1000, 0x2000),
            (5, 1, 5),
        ];
        for (value, align, up) in cases.into_iter().chain([(5, 12, 12), (25, 12, 36)]) {
            assert_eq!(align_up(value, align), up, "align_up({value}, {align})");
        }
    }

    /// The writer splits the image into the placed chunks' slices: they come in file order, none
    /// overlaps the next, the headers chunk is first at offset 0 and the string table last, and
    /// every byte of the file past the headers belongs to a section or the string table.
    #[test]
    fn placed_chunks_tile_the_file_in_order_from_the_headers() {
        let res = OneObject::new(Machine::Amd64)
            .section(".text", SectionClass::Text, 16, &[0xc3; 0x30], vec![])
            .section(".text", SectionClass::Text, 64, &[0xcc; 3], vec![])
            .section(".data", SectionClass::Data, 8, b"data", vec![])
            // Section 4: 8 bytes of image, none of file.
            .section(".bss", SectionClass::Bss, 8, &[0; 8], vec![])
            .section(".debug_info", SectionClass::Debug, 1, &[1, 2, 3], vec![])
            .symbol(b"entry", 1, 0)
            .build();
        let layout = amd64_layout(&res, SectionOptions::default());
        let placed: Vec<(ChunkKind, u32, u32)> = (layout.placed_runs())
            .flat_map(|(run, delta)| run.iter().map(move |c| (c, c.rva.wrapping_add(delta))))
            .map(|(c, at)| (c.kind, at, c.size))
            .collect();
        assert_eq!(
            placed.first(),
            Some(&(ChunkKind::Headers, 0, layout.size_of_headers))
        );
        assert_eq!(placed.last().map(|p| p.0), Some(ChunkKind::StringTable));
        for pair in placed.windows(2) {
            let ((_, a, size), (kind, b, _)) = (pair[0], pair[1]);
            assert!(
                a + size <= b,
                "{kind:?} at {b:#x} overlaps the chunk before"
            );
        }
        let (_, at, size) = *placed.last().unwrap();
        assert_eq!(at + size, layout.file_size);
        assert!(
            !placed
                .iter()
                .any(|p| matches!(p.0, ChunkKind::Input { section: 4, .. })),
            ".bss has no file bytes"
        );
    }

    /// The header area is lld-link's 0x400 at its FileAlignment (and at EDK2's 32), a whole
    /// FileAlignment above that; raw data follows it back to back, with no gap a signer would
    /// have to decide about.
    #[test]
    fn headers_reserve_lld_links_room_and_raw_data_follows_without_gaps() {
        let res = OneObject::new(Machine::Amd64)
            .section(".text", SectionClass::Text, 16, &[0xc3; 0x300], vec![])
            .section(".rdata", SectionClass::RoData, 8, b"rodata", vec![])
            .section(".data", SectionClass::Data, 8, b"data", vec![])
            .build();
        for (file_alignment, size_of_headers) in [(0x200, 0x400), (32, 0x400), (0x1000, 0x1000)] {
            let sections = SectionOptions {
                file_alignment,
                ..SectionOptions::default()
            };
            let layout = amd64_layout(&res, sections);
            assert_eq!(
                layout.size_of_headers, size_of_headers,
                "FileAlignment {file_alignment:#x}"
            );
            let mut end = layout.size_of_headers;
            for s in &layout.sections {
                assert_eq!(
                    s.file_offset,
                    end,
                    "{} at FileAlignment {file_alignment:#x}",
                    s.kind.name()
                );
                end += s.file_size;
            }
            assert_eq!(layout.file_size, end);
        }
    }
}
