//! Layout: every thing that takes space in the image is a [`Chunk`] (an input section, a COMMON
//! symbol, the GOT, range-extension thunks, `.reloc`, the COFF string table); chunks are grouped
//! into output sections, ordered, and given RVAs. The scan of
//! relocations that decides GOT slots and base relocations happens here too, because both change
//! sizes. Layout never writes bytes.
//!
//! Section sizes are read from the inputs just before addresses are assigned, so a pass that
//! deletes bytes (RISC-V/LoongArch relaxation and ALIGN) slots in before [`compute`] places chunks.
use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};

pub mod relax;
pub mod thunks;

use crate::arch::{AbsoluteInsn, Arch};
use crate::baserel::{self, BaseReloc, BaseRelocType};
use crate::error::{Error, RelocSite, Result};
use crate::input::{Format, ObjectFile, SectionClass};
use crate::relax::Relaxation;
use crate::reloc::{Field, Formula, RelocInfo};
use crate::resolve::{Resolved, Target};

/// Defaults of `/ALIGN` and `/FILEALIGN`.
pub const SECTION_ALIGNMENT: u32 = 0x1000;
pub const FILE_ALIGNMENT: u32 = 0x200;
/// DOS header + stub + PE signature + COFF header + PE32+ optional header.
pub const HEADERS_BEFORE_SECTION_TABLE: u32 = peln_pe::headers::PE32PLUS_SECTION_TABLE as u32;
pub const SECTION_HEADER_SIZE: u32 = peln_pe::headers::SECTION_HEADER_SIZE as u32;
/// The header area lld-link reserves: its SizeOfHeaders counts a section header for every output
/// section it creates before dropping the empty ones, which comes to 0x400 at its default
/// FileAlignment. Tools that add sections to a linked image write their headers into that room
/// (ukify refuses a stub without it), and raw data still starts right after it.
pub const MIN_SIZE_OF_HEADERS: u32 = 0x400;
pub const GOT_ENTRY_SIZE: u32 = 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkKind {
    Input {
        file: u32,
        section: u32,
    },
    Common(u32),
    Got,
    /// Range-extension thunks: an index into [`thunks::Thunks::groups`].
    Thunk(u32),
    /// The `.reloc` blocks of [`Layout::base_relocs`].
    BaseRelocs,
    /// The COFF string table of [`Layout::strtab`] (long section names, DWARF's): in the file
    /// after the last section, at [`Layout::strtab_offset`], and mapped nowhere (RVA 0).
    StringTable,
}

/// The small hot record layout works on: 24 bytes.
#[derive(Clone, Copy, Debug)]
pub struct Chunk {
    pub kind: ChunkKind,
    pub rva: u32,
    pub size: u32,
    pub align: u32,
}

const _: () = assert!(std::mem::size_of::<Chunk>() == 24);

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

/// GOT slots, in the order the scan first needed them.
#[derive(Debug, Default)]
pub struct Got {
    pub rva: u32,
    pub slots: Vec<Target>,
    pub index: FxHashMap<Target, u32>,
}

impl Got {
    pub fn slot_rva(&self, target: Target) -> Option<u32> {
        self.index
            .get(&target)
            .map(|&i| self.rva + i * GOT_ENTRY_SIZE)
    }
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
    /// Section names longer than 8 bytes, NUL-terminated (the COFF string table without its
    /// 4-byte size), and the file offset of its chunk.
    pub strtab: Vec<u8>,
    pub strtab_offset: u32,
    /// (output section index, string table offset) for each long name.
    pub long_names: Vec<(usize, u32)>,
    /// Per file: every live relocation as the scan decided it.
    pub fixups: Vec<ObjectFixups>,
}

pub struct Options {
    pub image_base: u64,
    pub allow_absolute32: bool,
    pub sections: SectionOptions,
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
    fn strtab_len(&self) -> u32 {
        self.strtab.len() as u32
    }

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

    /// Adds the base relocations `chunk` needs once placed: the absolute-address sites the scan
    /// found in an input section, the relocatable GOT slots.
    fn chunk_base_relocs(&self, chunk: &Chunk, out: &mut Vec<BaseReloc>) {
        match chunk.kind {
            ChunkKind::Input { file, section } => {
                let sites = self.fixups[file as usize].sites_of(section);
                out.extend(sites.iter().map(|s| BaseReloc {
                    rva: chunk.rva + self.relax.map(file, section, s.offset.into()) as u32,
                    typ: s.typ,
                }));
            }
            ChunkKind::Got => out.extend(
                (self.got.slots.iter().enumerate())
                    .filter(|(_, t)| t.is_relocatable())
                    .map(|(i, _)| BaseReloc {
                        rva: chunk.rva + i as u32 * GOT_ENTRY_SIZE,
                        typ: BaseRelocType::Dir64,
                    }),
            ),
            // Thunks branch PC-relatively; COMMONs are zeroes; `.reloc` is what this fills.
            ChunkKind::Common(_)
            | ChunkKind::Thunk(_)
            | ChunkKind::BaseRelocs
            | ChunkKind::StringTable => {}
        }
    }

    /// The output section (0-based index) containing `rva`.
    /// Every chunk with bytes in the file, with its file offset: the chunks of the sections
    /// that have file data, then the string table.
    pub fn placements(&self) -> impl Iterator<Item = (&Chunk, u32)> {
        let mapped = (self.sections.iter().filter(|s| s.kind.has_file_data())).flat_map(|s| {
            self.chunks[s.chunks.clone()]
                .iter()
                .map(move |c| (c, s.file_offset + (c.rva - s.rva)))
        });
        let strtab = (self.chunks.last())
            .filter(|c| c.kind == ChunkKind::StringTable)
            .map(|c| (c, self.strtab_offset));
        mapped.chain(strtab)
    }

    pub fn section_of(&self, rva: u32) -> Option<usize> {
        self.sections
            .iter()
            .position(|s| rva >= s.rva && rva < s.rva + s.virtual_size.max(1))
    }

    pub fn section(&self, kind: OutputKind) -> Option<&OutputSection> {
        self.sections.iter().find(|s| s.kind == kind)
    }
}

/// A place that will hold an absolute address: known by input offset until RVAs exist.
#[derive(Debug)]
struct AbsSite {
    offset: u32,
    typ: BaseRelocType,
}

fn align_up(value: u64, align: u64) -> u64 {
    value.div_ceil(align) * align
}

pub fn compute<A: Arch>(res: &Resolved, relax: Relaxation, opts: &Options) -> Result<Layout> {
    let Scan {
        got,
        uses_got_base,
        fixups,
    } = tracing::debug_span!("scan").in_scope(|| scan::<A>(res, &relax, opts))?;
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
            let mut list = Vec::new();
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
                let size = match group {
                    0..4 => relax.size(f as u32, s as u32, sec),
                    _ => sec.size,
                };
                let key = match obj.format {
                    Format::Coff if group < 4 => grouping_key(sec.name),
                    _ => ("", ""),
                };
                let kind = ChunkKind::Input {
                    file: f as u32,
                    section: s as u32,
                };
                let chunk = Chunk {
                    kind,
                    rva: 0,
                    size,
                    align: sec.align,
                };
                list.push((group, keys.id(key), chunk));
            }
            (keys, list)
        })
        .collect();
    // COFF `$` grouping: `.text$mn` and `.text$zz` join `.text`, ordered by the suffix. ELF
    // sections share one key. Keys are few and sections many: the keys are ranked once, and
    // sections go to buckets by (group, key rank), each bucket in command-line order.
    let mut key_ids = KeyIds::default();
    let global: Vec<Vec<u32>> = placed
        .iter()
        .map(|(keys, _)| keys.keys.iter().map(|&k| key_ids.id(k)).collect())
        .collect();
    let rank = key_ids.ranks();
    let n = rank.len();
    let mut buckets: Vec<Vec<Chunk>> = vec![Vec::new(); 4 * n];
    let mut debug_groups: Vec<Vec<Chunk>> = vec![Vec::new(); DEBUG_SECTIONS.len()];
    for ((_, list), global) in placed.iter().zip(&global) {
        for &(group, key, chunk) in list {
            match group {
                0..4 => {
                    let rank = rank[global[key as usize] as usize] as usize;
                    buckets[usize::from(group) * n + rank].push(chunk);
                }
                d => debug_groups[usize::from(d) - 4].push(chunk),
            }
        }
    }
    let mut groups: [Vec<Chunk>; 4] = Default::default();
    for (b, chunks) in buckets.into_iter().enumerate() {
        groups[into[b / n]].extend(chunks);
    }
    drop(_order);
    let thunks = thunks::plan::<A>(res, &fixups, &mut groups[0]);
    let _place = tracing::debug_span!("place").entered();
    // Every branch that cannot reach its destination has a thunk chunk after its section.
    if !got.slots.is_empty() || uses_got_base {
        groups[into[2]].push(Chunk {
            kind: ChunkKind::Got,
            rva: 0,
            size: got.slots.len() as u32 * GOT_ENTRY_SIZE,
            align: GOT_ENTRY_SIZE,
        });
    }
    for (i, c) in res.commons.iter().enumerate() {
        groups[into[3]].push(Chunk {
            kind: ChunkKind::Common(i as u32),
            rva: 0,
            size: u32::try_from(c.size).map_err(|_| Error::ImageTooLarge { size: c.size })?,
            align: c.align.clamp(1, 4096) as u32,
        });
    }

    let kinds = GROUPS;
    let section_count = kinds
        .iter()
        .zip(&groups)
        .filter(|(_, g)| g.iter().any(|c| c.size > 0))
        .count()
        + usize::from(
            fixups.iter().any(|f| !f.sites.is_empty())
                || got.slots.iter().any(|t| t.is_relocatable()),
        )
        + debug_groups
            .iter()
            .filter(|g| g.iter().any(|c| c.size > 0))
            .count();
    let size_of_headers = align_up(
        u64::from(HEADERS_BEFORE_SECTION_TABLE + SECTION_HEADER_SIZE * section_count as u32)
            .max(u64::from(MIN_SIZE_OF_HEADERS)),
        u64::from(file_alignment),
    ) as u32;

    let mut chunks = Vec::new();
    let mut sections = Vec::new();
    let mut rva = u64::from(section_alignment).max(u64::from(size_of_headers));
    let mut file_offset = u64::from(size_of_headers);
    for (g, (kind, group)) in kinds.into_iter().zip(groups).enumerate() {
        if group.is_empty() {
            continue;
        }
        rva = align_up(rva, u64::from(section_alignment));
        let start = chunks.len();
        let mut off = 0u64;
        for mut c in group {
            off = align_up(off, u64::from(c.align));
            c.rva = (rva + off) as u32;
            off += u64::from(c.size);
            chunks.push(c);
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
            chunks: start..chunks.len(),
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
        strtab: Vec::new(),
        strtab_offset: 0,
        long_names: Vec::new(),
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
            ChunkKind::BaseRelocs | ChunkKind::StringTable => {
                unreachable!("placed after the other chunks")
            }
        }
    }
    // Every chunk has its RVA.

    drop(_place);
    let _baserel = tracing::debug_span!("baserel").entered();
    // Each chunk's base relocations (lld's `getBaserels`), in one `.reloc` chunk of its own;
    // gathered for runs of chunks in parallel, then joined in chunk order.
    let sites = layout.fixups.iter().map(|f| f.sites.len()).sum::<usize>();
    let runs: Vec<Vec<BaseReloc>> = (layout.chunks.par_chunks(4096))
        .map(|run| {
            let mut relocs = Vec::new();
            for c in run {
                layout.chunk_base_relocs(c, &mut relocs);
            }
            relocs
        })
        .collect();
    let mut relocs: Vec<BaseReloc> = Vec::with_capacity(sites + layout.got.slots.len());
    for run in runs {
        relocs.extend(run);
    }
    relocs.sort_by_key(|r| r.rva);
    relocs.dedup_by_key(|r| r.rva);
    if !relocs.is_empty() {
        let size = baserel::encoded_size(&relocs);
        let reloc_rva = align_up(rva, u64::from(section_alignment)) as u32;
        let start = layout.chunks.len();
        layout.chunks.push(Chunk {
            kind: ChunkKind::BaseRelocs,
            rva: reloc_rva,
            size,
            align: 4,
        });
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
        let name = DEBUG_SECTIONS[i];
        layout
            .long_names
            .push((layout.sections.len(), 4 + layout.strtab_len()));
        layout.strtab.extend_from_slice(name.as_bytes());
        layout.strtab.push(0);
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
    if !layout.strtab.is_empty() {
        layout.strtab_offset = file_offset as u32;
        let size = 4 + layout.strtab_len();
        layout.chunks.push(Chunk {
            kind: ChunkKind::StringTable,
            rva: 0,
            size,
            align: 1,
        });
        file_offset += u64::from(size);
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
        if let Some((_, id)) = self.last.filter(|(k, _)| *k == key) {
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

/// `.text$mn` → (`.text`, `mn`); other names sort as their own group with an empty suffix.
fn grouping_key(name: &str) -> (&str, &str) {
    // A byte scan: names are a few bytes, and it inlines into the per-object placement loop
    // where `str`'s char searcher was left as a call (1.8 % of a 200-file link's instructions).
    match name.bytes().position(|b| b == b'$') {
        Some(i) => (&name[..i], &name[i + 1..]),
        None => (name, ""),
    }
}

/// What the relocation scan decides before any address exists.
struct Scan {
    got: Got,
    /// Some relocation addresses the GOT or names `_GLOBAL_OFFSET_TABLE_`: the GOT exists even
    /// with no slot.
    uses_got_base: bool,
    fixups: Vec<ObjectFixups>,
}

/// One relocation as the scan decided it: the writer applies it and decides nothing.
#[derive(Clone, Copy, Debug)]
pub struct Fixup {
    /// Where the field is in the output chunk: the input offset mapped through relaxation.
    pub offset: u32,
    /// The relocation's index in its input section (symbol, addend, diagnostics).
    pub reloc: u32,
    /// What to apply: the type after relaxation's rewrite and GOT relaxation.
    pub info: &'static RelocInfo,
    /// GOT relaxation's new opcode byte, at this distance from the field (x86-64 `mov` → `lea`).
    pub opcode: Option<(i8, u8)>,
}

/// A PCREL_LO12's HI20: its section, relocation index and type.
pub type Hi20 = (u32, u32, &'static RelocInfo);

/// The fixups of one object's live sections, by section, and the places in them the loader
/// patches.
#[derive(Debug, Default)]
pub struct ObjectFixups {
    list: Vec<Fixup>,
    /// Per section index: where its fixups start in `list` (and where the last one's end).
    starts: Vec<u32>,
    sites: Vec<AbsSite>,
    /// Per section index: where its sites start in `sites` (and where the last one's end).
    site_starts: Vec<u32>,
    /// Each PCREL_LO12 fixup's HI20, by (section, relocation index): its section, relocation
    /// index and type. Sorted by construction (the scan walks sections and relocations in
    /// order) and looked up by binary search: no hash map grown entry by entry.
    hi20: Vec<((u32, u32), Hi20)>,
}

impl ObjectFixups {
    pub fn of(&self, section: u32) -> &[Fixup] {
        &self.list[range(&self.starts, section)]
    }

    /// The HI20 (section, relocation index, type) that the PCREL_LO12 at relocation `reloc` of
    /// `section` pairs with.
    pub fn hi20(&self, section: u32, reloc: u32) -> Option<Hi20> {
        let at = self
            .hi20
            .binary_search_by_key(&(section, reloc), |&(k, _)| k);
        at.ok().map(|i| self.hi20[i].1)
    }

    /// The places in `section` that hold absolute addresses.
    fn sites_of(&self, section: u32) -> &[AbsSite] {
        &self.sites[range(&self.site_starts, section)]
    }
}

/// Entry `i` of a list grouped by `starts` (one start per group, then the end).
fn range(starts: &[u32], i: u32) -> std::ops::Range<usize> {
    match starts.get(i as usize..i as usize + 2) {
        Some(&[from, to]) => from as usize..to as usize,
        _ => 0..0,
    }
}

/// What the scan of one object finds; objects are scanned in parallel and merged in link order.
#[derive(Default)]
struct ObjectScan {
    /// Targets needing a GOT slot, each once, in the order the object first needs them.
    got: Vec<Target>,
    uses_got_base: bool,
    fixups: ObjectFixups,
    errors: Vec<Error>,
}

/// Decides every live relocation once: its final type and output offset (a [`Fixup`]), its GOT
/// slot, whether the loader must patch it (a base-relocation site) and, for a PCREL_LO12, its
/// HI20. Unknown types, unpaired LO12s and 32-bit absolute addresses the loader cannot move are
/// rejected here: every relocation error that does not depend on addresses is found before any
/// byte is written.
fn scan<A: Arch>(res: &Resolved, relax: &Relaxation, opts: &Options) -> Result<Scan> {
    let per_object: Vec<ObjectScan> = res
        .objects
        .par_iter()
        .enumerate()
        .map(|(f, obj)| scan_object::<A>(res, relax, opts, f, obj))
        .collect();
    // Merged in link order: GOT slots come out in the order a sequential scan would give them.
    let mut got = Got::default();
    let mut uses_got_base = false;
    let mut fixups = Vec::with_capacity(per_object.len());
    let mut errors = Vec::new();
    for o in per_object {
        for target in o.got {
            if !got.index.contains_key(&target) {
                got.index.insert(target, got.slots.len() as u32);
                got.slots.push(target);
            }
        }
        uses_got_base |= o.uses_got_base;
        fixups.push(o.fixups);
        errors.extend(o.errors);
    }
    Error::check(errors)?;
    Ok(Scan {
        got,
        uses_got_base,
        fixups,
    })
}

fn scan_object<A: Arch>(
    res: &Resolved,
    relax: &Relaxation,
    opts: &Options,
    f: usize,
    obj: &ObjectFile,
) -> ObjectScan {
    let mut out = ObjectScan::default();
    let live_relocs = (obj.sections.iter().enumerate())
        .filter(|(s, _)| res.live[f][*s])
        .map(|(_, sec)| sec.relocs.len())
        .sum();
    out.fixups.list.reserve_exact(live_relocs);
    out.fixups.starts.reserve_exact(obj.sections.len() + 1);
    out.fixups.site_starts.reserve_exact(obj.sections.len() + 1);
    let mut got_seen: FxHashSet<Target> = FxHashSet::default();
    // The arch's index for pairing relocations, built for files that pair any.
    let mut labels = None;
    let symbols = self::relax::Symbols {
        res,
        file: f as u32,
    };
    for (s, sec) in obj.sections.iter().enumerate() {
        out.fixups.starts.push(out.fixups.list.len() as u32);
        out.fixups.site_starts.push(out.fixups.sites.len() as u32);
        if !res.live[f][s] {
            continue;
        }
        let edits = relax.edits(f as u32, s as u32);
        for (i, r) in sec.relocs.iter().enumerate() {
            if edits.is_some_and(|e| e.is_deleted(r.offset)) {
                continue;
            }
            let Some(mut info) = edits
                .and_then(|e| e.rewrite(i as u32))
                .or_else(|| A::reloc_info(obj.format, r.r_type))
            else {
                out.errors.push(Error::UnknownRelocation {
                    file: obj.name.clone(),
                    section: sec.name.to_string(),
                    offset: r.offset.into(),
                    r_type: A::reloc_name(obj.format, r.r_type),
                });
                continue;
            };
            if matches!(info.formula, Formula::None | Formula::Marker) {
                continue;
            }
            let target = res.target(f as u32, r.symbol);
            out.uses_got_base |= info.formula.uses_got() || target == Target::GotBase;
            let opcode = A::relax_got(info, sec.data, r.offset as usize).map(|relaxed| {
                info = relaxed.info;
                (relaxed.at as i8, relaxed.byte)
            });
            out.fixups.list.push(Fixup {
                offset: relax.map(f as u32, s as u32, r.offset.into()) as u32,
                reloc: i as u32,
                info,
                opcode,
            });
            // DWARF holds link-time addresses for a debugger: nothing for the loader.
            if sec.class == SectionClass::Debug {
                continue;
            }
            if info.formula == Formula::PcrelLo {
                match A::pair_lo12(&obj.sections, &symbols, r.symbol, &mut labels) {
                    Ok((hs, hj)) => {
                        let hi = obj.sections[hs as usize].relocs.get(hj as usize);
                        let hinfo = A::reloc_info(obj.format, hi.r_type)
                            .expect("labels hold known HI20 types");
                        out.fixups
                            .hi20
                            .push(((s as u32, i as u32), (hs, hj, hinfo)));
                    }
                    Err(reason) => out.errors.push(Error::BadRelocation {
                        reloc: info.name,
                        file: obj.name.clone(),
                        section: sec.name.to_string(),
                        offset: r.offset.into(),
                        reason,
                    }),
                }
                continue;
            }
            if info.formula.needs_got_slot() && got_seen.insert(target) {
                out.got.push(target);
            }
            let moves = target.is_relocatable() || info.formula == Formula::Relative;
            if !info.is_absolute() || !moves {
                continue;
            }
            let typ = match info.field {
                Field::Data64 => Some(BaseRelocType::Dir64),
                Field::Data32 if opts.allow_absolute32 => Some(BaseRelocType::HighLow),
                Field::Insn(_) => match A::absolute_insn(sec.relocs, i) {
                    AbsoluteInsn::BaseReloc(t) => Some(t),
                    AbsoluteInsn::Covered => continue,
                    AbsoluteInsn::Unsupported => None,
                },
                _ => None,
            };
            let Some(typ) = typ else {
                out.errors.push(Error::UnrelocatableAbsolute {
                    site: Box::new(RelocSite {
                        reloc: info.name,
                        symbol: res.symbol_name(f as u32, r.symbol),
                        file: obj.name.clone(),
                        section: sec.name.to_string(),
                        offset: r.offset.into(),
                    }),
                    hint: A::NARROW_ABSOLUTE_HINT,
                });
                continue;
            };
            out.fixups.sites.push(AbsSite {
                offset: r.offset,
                typ,
            });
        }
    }
    out.fixups.starts.push(out.fixups.list.len() as u32);
    out.fixups.site_starts.push(out.fixups.sites.len() as u32);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::amd64::Amd64;
    use crate::consts::Machine;
    use crate::resolve::OneObject;

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
        let opts = Options {
            image_base: 0x1_4000_0000,
            allow_absolute32: false,
            sections: SectionOptions::default(),
        };
        let layout = compute::<Amd64>(&res, Relaxation::none(), &opts).unwrap();
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
            let opts = Options {
                image_base: 0x1_4000_0000,
                allow_absolute32: false,
                sections: SectionOptions {
                    file_alignment,
                    ..SectionOptions::default()
                },
            };
            let layout = compute::<Amd64>(&res, Relaxation::none(), &opts).unwrap();
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
