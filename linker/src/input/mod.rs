//! Inputs: maps files, sniffs their kind, splits archives and normalizes ELF and COFF objects into
//! one borrowed view (sections, symbols, relocations, COMDAT groups). This is the only module that
//! uses `object::read`; it knows nothing of output addresses.
use rayon::prelude::*;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use object::elf::Rela64;
use object::read::archive::ArchiveFile;
use object::read::coff::CoffFile;
use object::read::elf::{FileHeader as _, Rela as _};
use object::{
    Endianness, FileKind, Object, ObjectComdat, ObjectSection, ObjectSymbol, SectionFlags,
    SectionKind, SymbolKind, SymbolSection,
};
use peln_pe::output::FileId;

use crate::consts::{Machine, DEBUG_SECTIONS};
use crate::error::{Error, Result};

mod archive;
mod coff;
mod elf;

pub use archive::Archive;
use archive::{is_object, member_name};
use coff::check_coff_machine;
use elf::ElfRelocs;

/// A hand-built COFF object with auxiliary records, for tests of what reads its symbols.
#[cfg(test)]
pub(crate) use coff::tests::object as coff_object;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    Elf,
    Coff,
}

/// Which output section an input section joins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SectionClass {
    Text,
    RoData,
    Data,
    Bss,
    /// DWARF (`.debug_info`, `.debug_line`, …) from ELF objects: copied into the image as
    /// discardable sections a debugger reads, never a GC root.
    Debug,
    /// Not part of the image: linker directives, notes, relocation tables, CodeView, compressed
    /// or unknown debug sections.
    Discard,
}

/// A relocation as read: 24 bytes, the hot record of the relocation loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reloc {
    pub offset: u32,
    pub r_type: u32,
    /// Index into the file's symbol table.
    pub symbol: u32,
    /// Explicit addend (ELF RELA); COFF addends stay in the section bytes.
    pub addend: i64,
}

/// A section's relocations, decoded on access from the object's own table: no copy and no
/// allocation per section (a large link has hundreds of thousands of sections).
#[derive(Clone, Copy, Debug)]
pub enum Relocs<'d> {
    Coff(&'d [object::pe::ImageRelocation]),
    /// Little-endian, every offset checked to fit 32 bits when read.
    Elf(&'d [Rela64<Endianness>]),
    /// Built by hand rather than read from a file.
    #[cfg(test)]
    Decoded(&'d [Reloc]),
}

impl<'d> Relocs<'d> {
    pub const NONE: Relocs<'static> = Relocs::Elf(&[]);

    pub fn len(&self) -> usize {
        match self {
            Relocs::Coff(t) => t.len(),
            Relocs::Elf(t) => t.len(),
            #[cfg(test)]
            Relocs::Decoded(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The relocation at `index`; panics past the end, as slice indexing does.
    #[inline]
    pub fn get(&self, index: usize) -> Reloc {
        use object::LittleEndian as LE;
        match self {
            Relocs::Coff(t) => {
                let r = &t[index];
                Reloc {
                    offset: r.virtual_address.get(LE),
                    r_type: u32::from(r.typ.get(LE).0),
                    symbol: r.symbol_table_index.get(LE),
                    addend: 0,
                }
            }
            Relocs::Elf(t) => {
                let (r, e) = (&t[index], Endianness::Little);
                Reloc {
                    offset: r.r_offset(e) as u32,
                    r_type: r.r_type(e, false).0,
                    symbol: r.r_sym(e, false),
                    addend: r.r_addend(e),
                }
            }
            #[cfg(test)]
            Relocs::Decoded(t) => t[index],
        }
    }

    pub fn iter(self) -> impl ExactSizeIterator<Item = Reloc> + Clone + 'd {
        (0..self.len()).map(move |i| self.get(i))
    }
}

#[derive(Debug)]
pub struct InputSection<'d> {
    pub name: &'d str,
    /// Empty for `.bss`-like sections.
    pub data: &'d [u8],
    /// The relocation table's bytes as they lie in the file, in `reloc_format`'s records:
    /// [`InputSection::relocs`] views them.
    reloc_table: &'d [u8],
    pub size: u32,
    /// The header's flags as read (COFF Characteristics; the low 32 bits of ELF sh_flags, where
    /// SHF_GNU_RETAIN is), kept for [`foldable`] and [`InputSection::retain`].
    pub flags: u32,
    /// COFF associative COMDAT: kept exactly when this other section is kept.
    pub follows: Leader,
    pub align: Align,
    pub class: SectionClass,
    reloc_format: Format,
}

// A large link has hundreds of thousands: the relocation table is a byte slice with its format
// beside it (not a 24-byte enum), the alignment and the leader take 6 bytes, not 12.
const _: () = assert!(std::mem::size_of::<InputSection>() == 64);

impl<'d> InputSection<'d> {
    #[inline]
    pub fn relocs(&self) -> Relocs<'d> {
        // The table was a slice of these records when set: its length is a multiple of theirs,
        // so their count is all the view needs (not a check of the tail, once per call).
        fn records<T: object::Pod>(table: &[u8]) -> &[T] {
            let count = table.len() / std::mem::size_of::<T>();
            object::pod::slice_from_bytes(table, count).map_or(&[], |(records, _)| records)
        }
        match self.reloc_format {
            Format::Coff => Relocs::Coff(records(self.reloc_table)),
            Format::Elf => Relocs::Elf(records(self.reloc_table)),
        }
    }

    pub fn set_relocs(&mut self, relocs: Relocs<'d>) {
        (self.reloc_table, self.reloc_format) = match relocs {
            Relocs::Coff(t) => (object::pod::bytes_of_slice(t), Format::Coff),
            Relocs::Elf(t) => (object::pod::bytes_of_slice(t), Format::Elf),
            #[cfg(test)]
            Relocs::Decoded(t) => (encode_relocs(t), Format::Elf),
        };
    }

    /// ELF SHF_GNU_RETAIN: a GC root.
    pub fn retain(&self) -> bool {
        self.reloc_format == Format::Elf && self.flags & object::elf::SHF_GNU_RETAIN.0 as u32 != 0
    }
}

/// Relocations built by hand, as the little-endian RELA records an ELF object holds.
#[cfg(test)]
fn encode_relocs(relocs: &[Reloc]) -> &'static [u8] {
    let mut bytes = Vec::with_capacity(24 * relocs.len());
    for r in relocs {
        bytes.extend(u64::from(r.offset).to_le_bytes());
        bytes.extend((u64::from(r.symbol) << 32 | u64::from(r.r_type)).to_le_bytes());
        bytes.extend(r.addend.to_le_bytes());
    }
    bytes.leak()
}

/// A section's alignment as read, from 1 to 64 KiB (not always a power of two), in 16 bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Align(u16);

impl Align {
    /// `align`, clamped to 1..=64 KiB.
    pub fn new(align: u64) -> Align {
        Align((align.clamp(1, 1 << 16) - 1) as u16)
    }

    pub fn get(self) -> u32 {
        u32::from(self.0) + 1
    }
}

/// A COFF associative section's leader, or none, in 4 bytes: the reader refuses a leader of
/// `u32::MAX`, which no section can have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Leader(u32);

impl Leader {
    pub const NONE: Leader = Leader(u32::MAX);

    /// The leader `section`, below `u32::MAX`.
    pub fn of(section: u32) -> Leader {
        debug_assert!(section != u32::MAX);
        Leader(section)
    }

    pub fn get(self) -> Option<u32> {
        (self != Leader::NONE).then_some(self.0)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binding {
    Local,
    Global,
    Weak,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SymDef {
    Undefined,
    Section {
        section: u32,
        value: u64,
    },
    Absolute(u64),
    Common {
        size: u64,
        /// A power of two, at most 2^31.
        align: u32,
    },
    /// COFF weak external: resolves to `default` (a symbol index) unless defined elsewhere.
    WeakAlias {
        default: u32,
    },
}

/// 40 bytes: a large link reads hundreds of thousands.
#[derive(Clone, Copy, Debug)]
pub struct InputSymbol<'d> {
    pub name: &'d [u8],
    pub def: SymDef,
    /// Saturated at `u32::MAX`: no section holds more, so validation refuses such a size anyway.
    pub size: u32,
    pub binding: Binding,
    pub is_function: bool,
}

const _: () = assert!(std::mem::size_of::<InputSymbol>() == 40);

impl InputSymbol<'_> {
    pub(crate) const NULL: InputSymbol<'static> = InputSymbol {
        name: b"",
        def: SymDef::Absolute(0),
        binding: Binding::Local,
        size: 0,
        is_function: false,
    };

    pub fn display_name(&self) -> String {
        String::from_utf8_lossy(self.name).into_owned()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Selection {
    Any,
    NoDuplicates,
    SameSize,
    ExactMatch,
    Largest,
}

/// A COMDAT group (COFF COMDAT section or ELF section group): one copy per key survives. 16
/// bytes: a large COFF link has one per function. The key is the name of the group's symbol
/// (both readers take the key from that symbol), so it is not stored a second time.
#[derive(Debug)]
pub struct Comdat {
    /// The leader first (COFF: the COMDAT section itself): [`ObjectFile::comdat_sections`].
    pub sections: GroupSections,
    /// The object's symbol that names the group (COFF: the COMDAT symbol; ELF: the signature).
    pub symbol: u32,
    pub selection: Selection,
    /// COFF leader of storage class STATIC: the group belongs to its object alone, so copies in
    /// other objects are neither duplicates nor replacements (rustc's liballoc and libcore both
    /// carry such NODUPLICATES leaders of one name; lld-link keeps each).
    pub local: bool,
}

const _: () = assert!(std::mem::size_of::<Comdat>() == 16);

/// A COMDAT group's sections, in 8 bytes: a COFF group has one, held here (its associates
/// follow it through [`InputSection::follows`]); an ELF group's are a run of
/// [`ObjectFile::group_members`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupSections {
    at: u32,
    /// `u32::MAX`: the one section `at`.
    len: u32,
}

impl GroupSections {
    pub fn one(section: u32) -> GroupSections {
        GroupSections {
            at: section,
            len: u32::MAX,
        }
    }

    /// `len` members from `at` in [`ObjectFile::group_members`].
    pub fn run(at: u32, len: u32) -> GroupSections {
        debug_assert!(len != u32::MAX);
        GroupSections { at, len }
    }
}

#[derive(Debug)]
pub struct ObjectFile<'d> {
    /// `path` or `archive(member)`, as diagnostics print it.
    pub name: String,
    pub format: Format,
    pub data: &'d [u8],
    /// Indexed by the object's own section index.
    pub sections: Vec<InputSection<'d>>,
    /// The object's symbols in table order. A COFF table's auxiliary records get none: a
    /// relocation's symbol index goes through [`ObjectFile::symbol_index`].
    pub symbols: Vec<InputSymbol<'d>>,
    /// Where a COFF symbol table's auxiliary records are (empty for ELF).
    pub aux: AuxRecords,
    pub comdats: Vec<Comdat>,
    /// The sections of the ELF groups, one run per group ([`GroupSections`]).
    pub group_members: Vec<u32>,
    /// `/DEFAULTLIB:` directives of a COFF `.drectve` section.
    pub default_libs: Vec<&'d str>,
    /// `/INCLUDE:` directives: symbols to pull in and keep.
    pub includes: Vec<&'d str>,
    /// The address-significance table (`.llvm_addrsig`, clang's and rustc's `-faddrsig`): ULEB128
    /// indices of the symbols whose address the program compares or leaks. Decoded and checked
    /// by [`addrsig_symbols`] only when identical code folding needs it.
    /// `None`: the object has none, so every symbol it names is taken as address-significant.
    pub addrsig: Option<&'d [u8]>,
}

/// Where a COFF symbol table's auxiliary records are. Relocations, weak externals and address
/// significance tables name symbols by their index in the table, records included; a third of a
/// clang object's records are auxiliary and nothing reads them once the symbols are read, so they
/// get no [`InputSymbol`]. Targets stay per record (relocations look them up by the index they
/// hold); where a symbol's record is wanted, it is mapped by rank: a bit per record and a running
/// count per 64 records, a quarter of a byte per record.
#[derive(Debug, Default)]
pub struct AuxRecords {
    /// Per 64 records: a bit per auxiliary record, and how many come before the block.
    blocks: Box<[(u64, u32)]>,
    /// Records in the table.
    records: u32,
    /// The index of the null symbol every auxiliary record maps to (what a relocation naming
    /// one reads, as when each had a null symbol of its own).
    null: u32,
}

impl AuxRecords {
    /// `records` records, of which those at `aux` (below `records`) are auxiliary; the null
    /// symbol follows the others. Without auxiliary records, empty: the identity. The last
    /// symbol's auxiliary records are not records a relocation may name (as when each symbol
    /// record had a slot and auxiliary records had slots only between symbols).
    pub(crate) fn new(records: usize, aux: impl IntoIterator<Item = usize>) -> Self {
        let mut blocks = vec![(0u64, 0u32); records.div_ceil(64)];
        for a in aux {
            blocks[a / 64].0 |= 1 << (a % 64);
        }
        let mut before = 0;
        for b in blocks.iter_mut() {
            b.1 = before;
            before += b.0.count_ones();
        }
        if before == 0 {
            return AuxRecords::default();
        }
        let below = |b: usize| match records - 64 * b {
            n if n >= 64 => u64::MAX,
            n => (1u64 << n) - 1,
        };
        let end = (blocks.iter().enumerate().rev())
            .map(|(b, &(bits, _))| (b, !bits & below(b)))
            .find(|&(_, symbols)| symbols != 0)
            .map_or(0, |(b, symbols)| {
                64 * b + 64 - symbols.leading_zeros() as usize
            });
        AuxRecords {
            blocks: blocks.into_boxed_slice(),
            records: end as u32,
            null: records as u32 - before,
        }
    }

    /// Whether there is any auxiliary record (and so a null symbol after the others).
    pub fn any(&self) -> bool {
        !self.blocks.is_empty()
    }

    /// How many of the table's `records` are symbol records.
    pub fn symbol_records(&self, records: usize) -> usize {
        match self.any() {
            true => self.null as usize,
            false => records,
        }
    }

    /// The symbol index of table record `record` (below the record count).
    #[inline]
    pub fn symbol(&self, record: u32) -> u32 {
        let Some(&(bits, before)) = self.blocks.get(record as usize / 64) else {
            return record;
        };
        let bit = 1u64 << (record % 64);
        match bits & bit {
            0 => record - before - (bits & (bit - 1)).count_ones(),
            _ => self.null,
        }
    }

    /// Whether table record `record` is auxiliary.
    #[inline]
    pub fn is_aux(&self, record: u32) -> bool {
        (self.blocks.get(record as usize / 64)).is_some_and(|b| b.0 >> (record % 64) & 1 != 0)
    }

    /// The record of each symbol in order (the null one after an auxiliary record has none).
    pub fn records(&self) -> impl Iterator<Item = u32> + '_ {
        let end = match self.blocks.is_empty() {
            true => u32::MAX,
            false => self.records,
        };
        (0..end).filter(|&r| !self.is_aux(r))
    }

    /// The table record of symbol `index`: a walk over the blocks, for a few symbols only.
    pub fn record(&self, index: u32) -> u32 {
        if self.blocks.is_empty() {
            return index;
        }
        let mut left = index;
        for (b, &(bits, _)) in self.blocks.iter().enumerate() {
            let symbols = !bits;
            let here = symbols.count_ones();
            if left < here {
                let mut m = symbols;
                for _ in 0..left {
                    m &= m - 1;
                }
                return b as u32 * 64 + m.trailing_zeros();
            }
            left -= here;
        }
        // The null symbol, past the records.
        self.records
    }
}

impl<'d> ObjectFile<'d> {
    /// How many indices a relocation may name: the table's records.
    pub fn symbol_records(&self) -> usize {
        match self.aux.blocks.is_empty() {
            true => self.symbols.len(),
            false => self.aux.records as usize,
        }
    }

    /// The index into [`ObjectFile::symbols`] of table record `record` (a relocation's symbol).
    #[inline]
    pub fn symbol_index(&self, record: u32) -> u32 {
        self.aux.symbol(record)
    }

    /// The sections of `comdat`, its leader first.
    pub fn comdat_sections<'a>(&'a self, comdat: &'a Comdat) -> &'a [u32] {
        let GroupSections { at, len } = comdat.sections;
        match len {
            u32::MAX => std::slice::from_ref(&comdat.sections.at),
            _ => &self.group_members[at as usize..(at + len) as usize],
        }
    }

    /// The name one copy per link of `comdat` survives by.
    pub fn comdat_key(&self, comdat: &Comdat) -> &'d [u8] {
        // [`validate`] checked the index.
        self.symbols[comdat.symbol as usize].name
    }
}

/// What every object must agree with: the machine, and how many bytes each relocation type
/// patches (from the arch's table), so that the reader proves each relocation lies inside its
/// section while knowing nothing else of the arch.
#[derive(Clone, Copy)]
pub struct Expect {
    pub machine: Machine,
    pub field_size: fn(Format, u32) -> Option<u32>,
}

/// A mapped input file. The arena every later phase borrows from.
pub struct Mapped {
    pub path: PathBuf,
    map: Option<memmap2::Mmap>,
    /// An archive to link whole.
    pub whole: bool,
    /// Which file it is, from the status read to map it: the output is checked against it.
    pub id: Option<FileId>,
}

impl Mapped {
    pub fn open(path: &Path) -> Result<Mapped> {
        Mapped::map(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    /// [`Mapped::open`], the error its I/O error alone.
    fn map(path: &Path) -> std::io::Result<Mapped> {
        let file = File::open(path)?;
        let meta = file.metadata()?;
        let (len, id) = (meta.len(), FileId::of(&meta));
        // SAFETY: the map is read-only and inputs are not expected to change during a link; a
        // concurrent truncation is the same hazard every mmap-based linker (lld, mold) accepts.
        let map = if len == 0 {
            None
        } else {
            // The length given: memmap2 would otherwise ask the file system a second time.
            let len = usize::try_from(len).map_err(std::io::Error::other)?;
            Some(unsafe { memmap2::MmapOptions::new().len(len).map(&file) }?)
        };
        Ok(Mapped {
            path: path.to_path_buf(),
            map,
            whole: false,
            id,
        })
    }

    pub fn bytes(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }
}

/// Everything read from the command line: objects to link and archives to pull members from.
pub struct Inputs<'d> {
    pub objects: Vec<ObjectFile<'d>>,
    pub archives: Vec<Archive<'d>>,
}

/// One input file's bytes, wherever they come from (a mapped file, a fuzzer's buffer).
pub struct Source<'d> {
    /// As diagnostics name it.
    pub name: String,
    pub bytes: &'d [u8],
    /// An archive linked whole (`--whole-archive`).
    pub whole: bool,
}

impl Mapped {
    pub fn source(&self) -> Source<'_> {
        Source {
            name: self.path.display().to_string(),
            bytes: self.bytes(),
            whole: self.whole,
        }
    }
}

/// A link's input files by command-line position: given in memory, or opened from disk when
/// first needed.
#[derive(Clone, Copy)]
pub enum Files<'d> {
    Given(&'d [Source<'d>]),
    Opening(&'d Opening<'d>),
}

impl<'d> Files<'d> {
    pub fn len(&self) -> usize {
        match self {
            Files::Given(sources) => sources.len(),
            Files::Opening(opening) => opening.paths.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// File `i`, opened first if it is not yet.
    pub fn get(&self, i: usize) -> Result<Source<'d>> {
        match *self {
            Files::Given(sources) => {
                let s = &sources[i];
                Ok(Source {
                    name: s.name.clone(),
                    bytes: s.bytes,
                    whole: s.whole,
                })
            }
            Files::Opening(opening) => opening.get(i).map(Mapped::source),
        }
    }
}

/// Input files opened in command-line order by whichever thread needs one first. Mapping a
/// file takes the address space's lock, so opening is serial work whatever the threads:
/// [`Opening::open_ahead`] does it on one thread while the others parse the files already open
/// (and a parser that gets ahead opens its file itself, so nothing waits on a thread that is
/// not running, with one thread or many).
pub struct Opening<'p> {
    paths: &'p [PathBuf],
    /// The inputs linked whole (`--whole-archive`).
    whole: &'p [PathBuf],
    claimed: Vec<AtomicBool>,
    opened: Vec<OnceLock<std::io::Result<Mapped>>>,
}

impl<'p> Opening<'p> {
    pub fn new(paths: &'p [PathBuf], whole: &'p [PathBuf]) -> Opening<'p> {
        Opening {
            paths,
            whole,
            claimed: paths.iter().map(|_| AtomicBool::new(false)).collect(),
            opened: paths.iter().map(|_| OnceLock::new()).collect(),
        }
    }

    /// Opens file `i` unless another thread has claimed it.
    fn claim(&self, i: usize) {
        if !self.claimed[i].swap(true, Ordering::AcqRel) {
            let path = &self.paths[i];
            let opened = Mapped::map(path).map(|mut m| {
                m.whole = self.whole.contains(path);
                m
            });
            let _ = self.opened[i].set(opened);
        }
    }

    /// File `i`: opened here, or by the thread that claimed it (which is opening it now).
    fn get(&self, i: usize) -> Result<&Mapped> {
        self.claim(i);
        let opened = loop {
            match self.opened[i].get() {
                Some(opened) => break opened,
                None => std::thread::yield_now(),
            }
        };
        // The slot keeps its error for whoever asks again: each asker gets a copy saying the same.
        opened.as_ref().map_err(|e| Error::Io {
            path: self.paths[i].clone(),
            source: std::io::Error::new(e.kind(), e.to_string()),
        })
    }

    /// Opens every file not yet claimed, in order.
    pub fn open_ahead(&self) {
        for i in 0..self.paths.len() {
            self.claim(i);
        }
    }

    /// Every file, opened; the first failure in command-line order is the error.
    pub fn into_mapped(self) -> Result<Vec<Mapped>> {
        self.open_ahead();
        (self.opened.into_iter().zip(self.paths))
            .map(|(o, path)| {
                o.into_inner()
                    .expect("every file was opened")
                    .map_err(|source| Error::Io {
                        path: path.clone(),
                        source,
                    })
            })
            .collect()
    }
}

/// Reads each input, in parallel: objects are parsed and checked, archives indexed. The first
/// failing input in command-line order is the error, whatever the threads did.
pub fn load<'d>(files: Files<'d>, expect: Expect) -> Result<Inputs<'d>> {
    enum Read<'d> {
        Object(ObjectFile<'d>),
        Archive(Archive<'d>),
    }
    // In file order on each thread (a range splits in halves, each thread working from the
    // front of its own): files being opened in order are parsed as they come.
    let read: Vec<Result<Read<'d>>> = (0..files.len())
        .into_par_iter()
        .map(|i| {
            let f = files.get(i)?;
            match FileKind::parse(f.bytes) {
                Ok(FileKind::Archive) => Archive::parse(f.name, f.bytes, expect).map(|mut a| {
                    a.whole = f.whole;
                    Read::Archive(a)
                }),
                _ => parse_object(f.name, f.bytes, expect).map(Read::Object),
            }
        })
        .collect();
    let mut inputs = Inputs {
        objects: Vec::with_capacity(files.len()),
        archives: Vec::new(),
    };
    for r in read {
        match r? {
            Read::Object(o) => inputs.objects.push(o),
            Read::Archive(a) => inputs.archives.push(a),
        }
    }
    Ok(inputs)
}

/// LLVM bitcode (`-flto`), raw or in its wrapper header.
fn is_bitcode(bytes: &[u8]) -> bool {
    bytes.starts_with(b"BC\xc0\xde") || bytes.starts_with(&[0xde, 0xc0, 0x17, 0x0b])
}

/// The machine an object (or an archive's first object member) is for; `None` for a file that
/// does not tell (an archive without objects, a machine-independent COFF object).
pub fn sniff_machine(name: &str, data: &[u8]) -> Result<Option<Machine>> {
    let unknown = |format, raw| Error::Parse {
        file: name.to_string(),
        reason: format!("unsupported machine {}", machine_name(format, raw)),
    };
    match FileKind::parse(data) {
        Ok(FileKind::Archive) => {
            let file = ArchiveFile::parse(data).map_err(|e| parse_error(name, e))?;
            for member in file.members() {
                let member = member.map_err(|e| parse_error(name, e))?;
                let bytes = member.data(data).map_err(|e| parse_error(name, e))?;
                if is_object(bytes) || is_bitcode(bytes) {
                    return sniff_machine(&member_name(name, member.name()), bytes);
                }
            }
            Ok(None)
        }
        Ok(FileKind::Elf64) => {
            let elf = object::read::elf::ElfFile64::<object::Endianness>::parse(data)
                .map_err(|e| parse_error(name, e))?;
            let raw = elf.elf_header().e_machine(elf.endian()).0;
            Machine::from_elf_machine(raw)
                .map(Some)
                .ok_or_else(|| unknown(Format::Elf, raw))
        }
        Ok(FileKind::Coff | FileKind::CoffBig) => {
            let raw = u16::from_le_bytes([data[0], data[1]]);
            let raw = if raw == 0xffff {
                // bigobj: the machine follows the 0/0xffff signature and the version.
                u16::from_le_bytes([data[6], data[7]])
            } else {
                raw
            };
            match raw {
                0 => Ok(None),
                _ => Machine::from_pe_machine(raw)
                    .map(Some)
                    .ok_or_else(|| unknown(Format::Coff, raw)),
            }
        }
        // Let the full parse explain what the file is.
        _ => read_any(name.to_string(), data, Machine::Amd64).map(|_| None),
    }
}

fn parse_error(file: &str, e: impl std::fmt::Display) -> Error {
    Error::Parse {
        file: file.to_string(),
        reason: e.to_string(),
    }
}

fn machine_name(format: Format, raw: u16) -> String {
    let known = match format {
        Format::Elf => Machine::from_elf_machine(raw),
        Format::Coff => Machine::from_pe_machine(raw),
    };
    match (format, known) {
        (_, Some(m)) => format!("{} ({raw:#x})", m.name()),
        (Format::Elf, None) => format!("ELF e_machine {raw:#x}"),
        (Format::Coff, None) => format!("COFF machine {raw:#x}"),
    }
}

pub fn parse_object<'d>(name: String, data: &'d [u8], expect: Expect) -> Result<ObjectFile<'d>> {
    let obj = read_any(name, data, expect.machine)?;
    validate(&obj, expect.field_size)?;
    Ok(obj)
}

fn read_any<'d>(name: String, data: &'d [u8], machine: Machine) -> Result<ObjectFile<'d>> {
    if is_bitcode(data) {
        return Err(Error::Parse {
            file: name,
            reason: "is LLVM bitcode (link-time optimisation: -flto, -C linker-plugin-lto); \
                     pectl links native objects only, so build without LTO"
                .into(),
        });
    }
    let kind = FileKind::parse(data).map_err(|_| Error::Parse {
        file: name.clone(),
        reason: "not an ELF or COFF object file or archive".into(),
    })?;
    let bad = |reason: &str| Error::Parse {
        file: name.clone(),
        reason: reason.into(),
    };
    let wrong = |format, raw| Error::WrongMachine {
        file: name.clone(),
        found: machine_name(format, raw),
        expected: machine.name(),
    };
    match kind {
        FileKind::Elf64 => {
            let elf = object::read::elf::ElfFile64::<object::Endianness>::parse(data)
                .map_err(|e| parse_error(&name, e))?;
            let header = elf.elf_header();
            let endian = elf.endian();
            if !elf.is_little_endian() {
                return Err(bad("big-endian ELF is not supported"));
            }
            if header.e_type(endian) != object::elf::ET_REL {
                return Err(bad("not a relocatable ELF object (ET_REL)"));
            }
            let raw = header.e_machine(endian).0;
            if raw != machine.elf_machine() {
                return Err(wrong(Format::Elf, raw));
            }
            let relocs = ElfRelocs::new(&elf, data).map_err(|e| parse_error(&name, e))?;
            let names = elf::section_names(&elf, data);
            let mut obj = read_object(name, data, Format::Elf, &elf, &|i| relocs.get(i), &names)?;
            elf::common_alignments(&elf, &mut obj.symbols)
                .map_err(|e| parse_error(&obj.name, e))?;
            obj.addrsig = relocs.addrsig;
            Ok(obj)
        }
        FileKind::Coff => {
            let coff = CoffFile::<&[u8]>::parse(data).map_err(|e| parse_error(&name, e))?;
            check_coff_machine(&coff, machine).map_err(|raw| wrong(Format::Coff, raw))?;
            read_coff(name, data, &coff)
        }
        FileKind::CoffBig => {
            let coff = CoffFile::<&[u8], object::pe::AnonObjectHeaderBigobj>::parse(data)
                .map_err(|e| parse_error(&name, e))?;
            check_coff_machine(&coff, machine).map_err(|raw| wrong(Format::Coff, raw))?;
            read_coff(name, data, &coff)
        }
        FileKind::Elf32 => Err(bad("32-bit ELF objects cannot go into a PE32+ image")),
        FileKind::Pe32 | FileKind::Pe64 => Err(bad("is a linked PE image, not an object file")),
        FileKind::CoffImport => Err(bad(
            "is a COFF import library member: UEFI images import nothing",
        )),
        _ => Err(bad("not an ELF or COFF object file or archive")),
    }
}

/// A COFF object, regular or bigobj: sections through `object`, symbols, COMDATs and directives
/// read raw by [`coff`].
fn read_coff<'d, C: object::read::coff::CoffHeader>(
    name: String,
    data: &'d [u8],
    coff: &CoffFile<'d, &'d [u8], C>,
) -> Result<ObjectFile<'d>> {
    let relocs = |i| coff::read_relocs(coff, data, i);
    let names = |i| coff::section_name(coff, i);
    let mut obj = read_object(name, data, Format::Coff, coff, &relocs, &names)?;
    coff::read_symbols(&mut obj, coff)?;
    coff::read_drectve(&mut obj, coff);
    obj.addrsig = coff::read_addrsig(&obj, coff)?;
    Ok(obj)
}

/// The relocations of one section (by index); the error is the reason.
type ReadRelocs<'a, 'd> = dyn Fn(usize) -> std::result::Result<Relocs<'d>, String> + 'a;

/// The name of one section (by index), `None` when it cannot be read or is not UTF-8. Read from
/// the raw headers rather than through `object`: its lookups search each name's end with
/// `memchr`, whose dispatch costs more than scanning a name of a few bytes (6 % of the
/// instructions of a 1000-object COFF link).
type SectionName<'a, 'd> = dyn Fn(usize) -> Option<&'d str> + 'a;

/// Names are read eight bytes at a time as a word, finding the NUL and any non-ASCII byte at
/// once: an ASCII name (every name a compiler makes) then needs no separate UTF-8 validation.
const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// Where the first zero byte of `word` (little-endian) is, if it has one.
fn first_nul(word: u64) -> Option<usize> {
    // The lowest flagged byte is the first zero byte (flags above it may be false).
    let zero = word.wrapping_sub(ONES) & !word & HIGH;
    (zero != 0).then(|| zero.trailing_zeros() as usize / 8)
}

/// The bytes of `word` below byte `len`.
fn low_bytes(word: u64, len: usize) -> u64 {
    word & u64::MAX.checked_shr(64 - 8 * len as u32).unwrap_or(0)
}

/// `name` as a `str` when the bytes in `high` (all of the name's, or'ed) are ASCII or the name
/// is valid UTF-8.
fn ascii_or_utf8(name: &[u8], high: u64) -> Option<&str> {
    if high & HIGH == 0 {
        // SAFETY: every byte is below 0x80: ASCII, so UTF-8.
        Some(unsafe { std::str::from_utf8_unchecked(name) })
    } else {
        std::str::from_utf8(name).ok()
    }
}

/// A COFF name held inline in an 8-byte field (a section header's or a symbol record's): up to
/// its first NUL, or all eight bytes. With the name's bytes as a word, for [`ascii_or_utf8`].
fn inline_name(field: &[u8; 8]) -> (&[u8], u64) {
    let word = u64::from_le_bytes(*field);
    let len = first_nul(word).unwrap_or(8);
    (&field[..len], low_bytes(word, len))
}

/// The NUL-terminated UTF-8 string at `offset` in a string table; `None` when it runs past the
/// end or is not UTF-8. ELF names are a dozen bytes or more: a word at a time (the UTF-8
/// validation alone cost 2.7 % of a riscv64 link's instructions).
fn table_str(strings: &[u8], offset: usize) -> Option<&str> {
    let rest = strings.get(offset..)?;
    let mut high = 0;
    let mut at = 0;
    let end = loop {
        let Some(word) = rest.get(at..at + 8) else {
            let tail = &rest[at..];
            let end = at + tail.iter().position(|&b| b == 0)?;
            high |= rest[at..end].iter().fold(0, |h, &b| h | u64::from(b));
            break end;
        };
        let w = u64::from_le_bytes(word.try_into().expect("8 bytes"));
        if let Some(len) = first_nul(w) {
            high |= low_bytes(w, len);
            break at + len;
        }
        high |= w;
        at += 8;
    };
    ascii_or_utf8(&rest[..end], high)
}

fn read_object<'d, O: Object<'d>>(
    name: String,
    data: &'d [u8],
    format: Format,
    file: &O,
    relocs: &ReadRelocs<'_, 'd>,
    names: &SectionName<'_, 'd>,
) -> Result<ObjectFile<'d>> {
    // Sized once: `object` numbers sections and symbols densely (COFF from 1, with auxiliary
    // symbol slots skipped), so the largest index comes last.
    let section_count = file.sections().last().map_or(0, |s| s.index().0 + 1);
    let mut sections: Vec<InputSection<'d>> = Vec::with_capacity(section_count);
    for section in file.sections() {
        let index = section.index().0;
        if sections.len() < index {
            sections.resize_with(index, empty_section);
        }
        let section_name = names(index).unwrap_or("<invalid name>");
        let read = read_section(&name, section_name, &section, relocs)?;
        match sections.get_mut(index) {
            Some(slot) => *slot = read,
            None => sections.push(read),
        }
    }

    // COFF symbols and COMDATs come from `coff::read_symbols`, in one pass over the raw table:
    // `object` would walk it once per question, and finds each COMDAT's associative sections
    // by walking the whole table, quadratic in an object with one COMDAT per function.
    let mut symbols: Vec<InputSymbol<'d>> = Vec::new();
    let mut comdats = Vec::new();
    let mut group_members = Vec::new();
    if format == Format::Elf {
        symbols.reserve_exact(file.symbols().last().map_or(0, |s| s.index().0 + 1));
        for sym in file.symbols() {
            let index = sym.index().0;
            if symbols.len() < index {
                symbols.resize(index, InputSymbol::NULL);
            }
            let read = read_elf_symbol(&sym);
            match symbols.get_mut(index) {
                Some(slot) => *slot = read,
                None => symbols.push(read),
            }
        }
        if symbols.is_empty() {
            symbols.push(InputSymbol::NULL);
        }
        for comdat in file.comdats() {
            // The key is the signature's name, read with the symbols: an unreadable one is
            // refused here rather than read as empty there.
            file.symbol_by_index(comdat.symbol())
                .and_then(|s| s.name_bytes())
                .map_err(|e| parse_error(&name, e))?;
            let at = group_members.len();
            group_members.extend(comdat.sections().map(|s| s.0 as u32));
            let len = group_members.len() - at;
            comdats.push(Comdat {
                // GRP_COMDAT has one rule: the first group of a signature wins.
                selection: Selection::Any,
                sections: GroupSections::run(at as u32, len as u32),
                symbol: comdat.symbol().0 as u32,
                local: false,
            });
        }
    }

    Ok(ObjectFile {
        name,
        format,
        data,
        sections,
        symbols,
        comdats,
        group_members,
        aux: AuxRecords::default(),
        default_libs: Vec::new(),
        includes: Vec::new(),
        addrsig: None,
    })
}

/// The symbol table records of the object's address-significance table (`None`: it has none),
/// each checked against the symbol table.
pub fn addrsig_symbols(obj: &ObjectFile) -> Result<Option<Vec<u32>>> {
    let Some(table) = obj.addrsig else {
        return Ok(None);
    };
    let bad = |reason: String| Error::Parse {
        file: obj.name.clone(),
        reason,
    };
    let symbols = obj.symbol_records();
    let mut r = gimli::EndianSlice::new(table, gimli::LittleEndian);
    let mut indices = Vec::new();
    while !r.is_empty() {
        let at = table.len() - r.len();
        match gimli::leb128::read::unsigned(&mut r) {
            Ok(i) if i < symbols as u64 => indices.push(i as u32),
            Ok(i) => {
                return Err(bad(format!(
                    ".llvm_addrsig: entry at {at:#x} names symbol {i}, but the symbol table has \
                     {symbols}"
                )))
            }
            Err(_) => return Err(bad(format!(".llvm_addrsig: bad ULEB128 at {at:#x}"))),
        }
    }
    Ok(Some(indices))
}

pub(crate) fn empty_section<'d>() -> InputSection<'d> {
    InputSection {
        name: "",
        data: &[],
        reloc_table: &[],
        size: 0,
        flags: 0,
        follows: Leader::NONE,
        align: Align::new(1),
        class: SectionClass::Discard,
        reloc_format: Format::Elf,
    }
}

fn classify(name: &str, flags: SectionFlags, kind: SectionKind) -> SectionClass {
    use object::elf::{SHF_ALLOC, SHF_EXECINSTR, SHF_WRITE};
    use object::pe::{
        IMAGE_SCN_CNT_CODE, IMAGE_SCN_CNT_INITIALIZED_DATA, IMAGE_SCN_CNT_UNINITIALIZED_DATA,
        IMAGE_SCN_LNK_INFO, IMAGE_SCN_LNK_REMOVE, IMAGE_SCN_MEM_DISCARDABLE, IMAGE_SCN_MEM_EXECUTE,
        IMAGE_SCN_MEM_READ, IMAGE_SCN_MEM_WRITE,
    };
    match flags {
        SectionFlags::Elf { sh_flags, .. } => {
            let flags = sh_flags.0;
            let compressed = flags & object::elf::SHF_COMPRESSED.0 != 0;
            if flags & SHF_ALLOC.0 == 0 {
                if !compressed && DEBUG_SECTIONS.contains(&name) {
                    SectionClass::Debug
                } else {
                    SectionClass::Discard
                }
            } else if flags & SHF_EXECINSTR.0 != 0 {
                SectionClass::Text
            } else if kind == SectionKind::UninitializedData {
                SectionClass::Bss
            } else if flags & SHF_WRITE.0 != 0 {
                SectionClass::Data
            } else {
                SectionClass::RoData
            }
        }
        SectionFlags::Coff { characteristics } => {
            let c = characteristics.0;
            let drop = IMAGE_SCN_LNK_REMOVE.0 | IMAGE_SCN_LNK_INFO.0 | IMAGE_SCN_MEM_DISCARDABLE.0;
            if c & drop != 0 || name.starts_with(".debug") {
                SectionClass::Discard
            } else if c & (IMAGE_SCN_CNT_CODE.0 | IMAGE_SCN_MEM_EXECUTE.0) != 0 {
                SectionClass::Text
            } else if c & IMAGE_SCN_CNT_UNINITIALIZED_DATA.0 != 0 {
                SectionClass::Bss
            } else if c & IMAGE_SCN_MEM_WRITE.0 != 0 {
                SectionClass::Data
            } else if c & (IMAGE_SCN_MEM_READ.0 | IMAGE_SCN_CNT_INITIALIZED_DATA.0) != 0 {
                SectionClass::RoData
            } else {
                SectionClass::Discard
            }
        }
        _ => SectionClass::Discard,
    }
}

fn read_section<'d, S: ObjectSection<'d>>(
    file: &str,
    name: &'d str,
    section: &S,
    read_relocs: &ReadRelocs<'_, 'd>,
) -> Result<InputSection<'d>> {
    let flags = section.flags();
    let class = classify(name, flags, section.kind());
    if let SectionFlags::Elf { sh_flags, .. } = flags {
        if sh_flags.0 & object::elf::SHF_TLS.0 != 0 && class != SectionClass::Discard {
            return Err(Error::Parse {
                file: file.to_string(),
                reason: format!(
                    "section {name}: thread-local storage has no meaning in a UEFI image"
                ),
            });
        }
    }
    let size = u32::try_from(section.size()).map_err(|_| Error::Parse {
        file: file.to_string(),
        reason: format!("section {name} is larger than 4 GiB"),
    })?;
    let data = if class == SectionClass::Bss || class == SectionClass::Discard {
        &[][..]
    } else {
        section
            .data()
            .map_err(|e| parse_error(file, format!("section {name}: {e}")))?
    };
    let mut read = InputSection {
        name,
        data,
        reloc_table: &[],
        size,
        flags: match flags {
            SectionFlags::Coff { characteristics } => characteristics.0,
            // SHF_WRITE, SHF_LINK_ORDER and SHF_GNU_RETAIN are in the low half.
            SectionFlags::Elf { sh_flags, .. } => sh_flags.0 as u32,
            _ => 0,
        },
        follows: Leader::NONE,
        align: Align::new(section.align()),
        class,
        reloc_format: match flags {
            SectionFlags::Elf { .. } => Format::Elf,
            _ => Format::Coff,
        },
    };
    if class != SectionClass::Discard {
        let relocs = read_relocs(section.index().0)
            .map_err(|e| parse_error(file, format!("section {name}: {e}")))?;
        read.set_relocs(relocs);
    }
    Ok(read)
}

/// Whether identical code folding may fold `sec` into an identical section, by the format's
/// rules (lld's `isEligible`, the parts a section's header decides): a COFF COMDAT section that
/// is not writable; an allocated ELF section that is read-only (or `.data.rel.ro`, read-only
/// once loaded), not SHF_LINK_ORDER, not `.init`/`.fini`, and not named as a C identifier
/// (`__start_`/`__stop_` symbols enumerate those). Whether it folds also depends on address
/// significance ([`ObjectFile::addrsig`]) and the ICF level.
pub fn foldable(format: Format, sec: &InputSection) -> bool {
    use object::elf::{SHF_LINK_ORDER, SHF_WRITE};
    let name = sec.name;
    match (format, sec.class) {
        (_, SectionClass::Bss | SectionClass::Debug | SectionClass::Discard) => false,
        (Format::Coff, SectionClass::Data) => false,
        (Format::Coff, _) => sec.flags & object::pe::IMAGE_SCN_LNK_COMDAT.0 != 0,
        (Format::Elf, _) => {
            let relro = || name == ".data.rel.ro" || name.starts_with(".data.rel.ro.");
            (sec.flags & SHF_WRITE.0 as u32 == 0 || relro())
                && sec.flags & SHF_LINK_ORDER.0 as u32 == 0
                && !matches!(name, ".init" | ".fini")
                && !is_c_identifier(name)
        }
    }
}

/// A name `__start_NAME`/`__stop_NAME` symbols can be made for.
fn is_c_identifier(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn read_elf_symbol<'d, S: ObjectSymbol<'d>>(sym: &S) -> InputSymbol<'d> {
    let binding = if sym.is_local() {
        Binding::Local
    } else if sym.is_weak() {
        Binding::Weak
    } else {
        Binding::Global
    };
    let def = match sym.section() {
        SymbolSection::Section(i) => SymDef::Section {
            section: i.0 as u32,
            value: sym.address(),
        },
        SymbolSection::Absolute => SymDef::Absolute(sym.address()),
        // STT_FILE (`object` gives it no section) is absolute, as in lld: a name, not a
        // reference that could be left undefined.
        SymbolSection::None if sym.kind() == SymbolKind::File => SymDef::Absolute(sym.address()),
        // The alignment is st_value, which `object` does not give: elf::common_alignments.
        SymbolSection::Common => SymDef::Common {
            size: sym.size(),
            align: 1,
        },
        _ => SymDef::Undefined,
    };
    InputSymbol {
        name: sym.name_bytes().unwrap_or(b""),
        def,
        binding,
        size: u32::try_from(sym.size()).unwrap_or(u32::MAX),
        is_function: sym.kind() == object::SymbolKind::Text,
    }
}

/// Why `leader` cannot lead the section `what` names.
fn not_a_leader(what: &str, leader: u32) -> String {
    format!("{what}: associative COMDAT leader {leader} is not another section")
}

/// Checks every index and range the later phases use without a check of their own: section
/// numbers of symbols, associative leaders and COMDAT members, symbol indices of relocations,
/// relocated fields inside their section, symbol values inside their section. After this, an
/// [`ObjectFile`] is consistent by construction.
fn validate(obj: &ObjectFile, field_size: fn(Format, u32) -> Option<u32>) -> Result {
    let bad = |reason: String| {
        Err(Error::Parse {
            file: obj.name.clone(),
            reason,
        })
    };
    let (sections, symbols) = (obj.sections.len(), obj.symbol_records());
    let section_name = |i: u32| format!("section {i} ({})", obj.sections[i as usize].name);
    // An object uses a few relocation types: the arch's table, behind a function pointer the
    // reader cannot inline, is asked once per type and slot of this small direct-mapped cache
    // (3 % of a COFF link's instructions were these calls). An empty slot says type u32::MAX
    // patches 0 bytes: what the table says of a type no arch has.
    let mut widths = [(u32::MAX, 0u32); 16];
    for (i, sec) in obj.sections.iter().enumerate() {
        // Zero-filled code or data (no file contents, as `.skip` may give) is fine as long as
        // nothing patches it; otherwise relocations read the bytes they patch.
        let has_bytes = !matches!(sec.class, SectionClass::Bss | SectionClass::Discard);
        let zero_filled = sec.data.is_empty() && sec.relocs().is_empty();
        if has_bytes && sec.data.len() != sec.size as usize && !zero_filled {
            return bad(format!(
                "{}: {} bytes of contents for a size of {}",
                section_name(i as u32),
                sec.data.len(),
                sec.size
            ));
        }
        if let Some(leader) = sec.follows.get() {
            if leader as usize >= sections || leader as usize == i {
                return bad(not_a_leader(&section_name(i as u32), leader));
            }
        }
        for r in sec.relocs().iter() {
            if r.symbol as usize >= symbols {
                return bad(format!(
                    "{}: relocation at {:#x} names symbol {}, but the symbol table has {symbols}",
                    section_name(i as u32),
                    r.offset,
                    r.symbol
                ));
            }
            // Unknown types are reported with their location once the link needs them.
            let slot = &mut widths[r.r_type as usize % widths.len()];
            if slot.0 != r.r_type {
                *slot = (r.r_type, field_size(obj.format, r.r_type).unwrap_or(0));
            }
            let width = slot.1;
            if u64::from(r.offset) + u64::from(width) > u64::from(sec.size) {
                return bad(format!(
                    "{}: relocation type {} at {:#x} patches {width} bytes beyond the section's {}",
                    section_name(i as u32),
                    r.r_type,
                    r.offset,
                    sec.size
                ));
            }
        }
    }
    for (i, sym) in obj.symbols.iter().enumerate() {
        let what = || {
            let record = obj.aux.record(i as u32);
            format!("symbol {record} ({})", String::from_utf8_lossy(sym.name))
        };
        match sym.def {
            SymDef::Section { section, value } => {
                if section as usize >= sections {
                    return bad(format!(
                        "{} is in section {section}, but the object has {sections}",
                        what()
                    ));
                }
                let size = obj.sections[section as usize].size;
                if value > u64::from(size) {
                    return bad(format!(
                        "{} has value {value:#x}, beyond the {size} bytes of {}",
                        what(),
                        section_name(section)
                    ));
                }
                // The map and diagnostics measure a symbol by its end.
                if u64::from(sym.size) > u64::from(size) - value {
                    return bad(format!(
                        "{} at {value:#x} of size {:#x} runs past the {size} bytes of {}",
                        what(),
                        sym.size,
                        section_name(section)
                    ));
                }
            }
            SymDef::WeakAlias { default } if default as usize >= obj.symbols.len() => {
                return bad(format!(
                    "{}: weak external default {default} is not a symbol",
                    what()
                ));
            }
            _ => {}
        }
    }
    for comdat in &obj.comdats {
        if comdat.symbol as usize >= obj.symbols.len() {
            return bad(format!(
                "COMDAT group symbol {} is not a symbol (the table has {symbols})",
                comdat.symbol
            ));
        }
        let members = obj.comdat_sections(comdat);
        if let Some(&s) = members.iter().find(|&&s| s as usize >= sections) {
            return bad(format!(
                "COMDAT group {} names section {s}, but the object has {sections}",
                String::from_utf8_lossy(obj.comdat_key(comdat))
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Data32 for every type, as an arch table would say.
    fn four_bytes(_: Format, _: u32) -> Option<u32> {
        Some(4)
    }

    fn object() -> ObjectFile<'static> {
        let mut text = empty_section();
        text.name = ".text";
        text.class = SectionClass::Text;
        text.data = &[0; 8];
        text.size = 8;
        text.set_relocs(relocs(Reloc {
            offset: 4,
            r_type: 1,
            symbol: 1,
            addend: 0,
        }));
        ObjectFile {
            name: "t.o".into(),
            format: Format::Elf,
            data: &[],
            sections: vec![empty_section(), text],
            symbols: vec![
                InputSymbol::NULL,
                InputSymbol {
                    name: b"f",
                    def: SymDef::Section {
                        section: 1,
                        value: 8,
                    },
                    ..InputSymbol::NULL
                },
            ],
            comdats: vec![],
            group_members: vec![],
            aux: Default::default(),
            default_libs: vec![],
            includes: vec![],
            addrsig: None,
        }
    }

    fn relocs(r: Reloc) -> Relocs<'static> {
        Relocs::Decoded(vec![r].leak())
    }

    fn refused(obj: &ObjectFile) -> String {
        validate(obj, four_bytes).unwrap_err().to_string()
    }

    #[test]
    fn address_significance_tables_are_checked_when_read() {
        let read = |table: &'static [u8]| {
            let mut o = object();
            o.addrsig = Some(table);
            addrsig_symbols(&o).map_err(|e| e.to_string())
        };
        assert_eq!(read(&[1, 0x81, 0]), Ok(Some(vec![1, 1])));
        assert_eq!(
            read(&[1, 5]).unwrap_err(),
            "t.o: cannot read input: .llvm_addrsig: entry at 0x1 names symbol 5, but the symbol \
             table has 2"
        );
        assert_eq!(
            read(&[0x80]).unwrap_err(),
            "t.o: cannot read input: .llvm_addrsig: bad ULEB128 at 0x0"
        );
        assert!(addrsig_symbols(&object()).unwrap().is_none());
    }

    #[test]
    fn string_table_names_end_at_their_nul_and_must_be_utf8() {
        let table = b"\0.text\0.rela.text.a_long_name\0caf\xc3\xa9\0bad\xff\0.twelve.byte\0tail";
        let at = |name: &[u8]| {
            (table.windows(name.len()).position(|w| w == name)).expect("name in the table")
        };
        assert_eq!(table_str(table, 0), Some(""));
        assert_eq!(table_str(table, 1), Some(".text"));
        assert_eq!(table_str(table, 3), Some("ext"));
        let long = at(b".rela.text.a_long_name");
        assert_eq!(table_str(table, long), Some(".rela.text.a_long_name"));
        assert_eq!(table_str(table, at(b"caf")), Some("café"));
        assert_eq!(table_str(table, at(b"bad")), None, "not UTF-8");
        assert_eq!(table_str(table, at(b".twelve")), Some(".twelve.byte"));
        assert_eq!(table_str(table, at(b"tail")), None, "no NUL before the end");
        assert_eq!(table_str(table, table.len()), None);
        assert_eq!(table_str(table, table.len() + 1), None);
    }

    #[test]
    fn inline_names_end_at_their_nul_or_fill_the_field() {
        fn str_of(field: &[u8; 8]) -> Option<&str> {
            let (name, word) = inline_name(field);
            ascii_or_utf8(name, word)
        }
        assert_eq!(str_of(b".text\0\0\0"), Some(".text"));
        assert_eq!(str_of(b".text$mn"), Some(".text$mn"), "eight bytes, no NUL");
        assert_eq!(str_of(b"\0abcdefg"), Some(""));
        assert_eq!(
            str_of(b"a\0\xff\xff\xff\xff\xff\xff"),
            Some("a"),
            "past the NUL is not the name"
        );
        assert_eq!(str_of(b"caf\xc3\xa9\0\0\0"), Some("café"));
        assert_eq!(str_of(b"bad\xff\0\0\0\0"), None, "not UTF-8");
        assert_eq!(inline_name(b"f1_2\0\0\0\0").0, b"f1_2");
    }

    #[test]
    fn record_indices_map_to_symbols_across_blocks() {
        // Auxiliary records on both sides of the 64-record blocks' edges, and a run of them.
        let aux: Vec<usize> = (1..200)
            .filter(|r| r % 3 == 1 || (60..70).contains(r) || *r == 127)
            .collect();
        let symbols = (200 - aux.len()) as u32;
        let map = AuxRecords::new(200, aux.iter().copied());
        let mut next = 0;
        for record in 0..200u32 {
            if aux.contains(&(record as usize)) {
                assert_eq!(
                    map.symbol(record),
                    symbols,
                    "record {record}: the null symbol"
                );
            } else {
                assert_eq!(map.symbol(record), next, "record {record}");
                assert_eq!(map.record(next), record, "symbol {next}");
                next += 1;
            }
        }
        assert_eq!(next, symbols);
        assert_eq!(
            map.record(symbols),
            200,
            "the null symbol is past the records"
        );
        // Record 199 is the last symbol's auxiliary record: a relocation may name up to 198.
        assert_eq!(map.records, 199);
        let full = AuxRecords::new(128, [1, 127]);
        assert_eq!((full.records, full.null), (127, 126));
        let none = AuxRecords::new(70, []);
        assert!(!none.any());
        assert_eq!(
            (none.symbol(7), none.record(7)),
            (7, 7),
            "ELF: the identity"
        );
    }

    #[test]
    fn alignments_and_leaders_keep_what_was_read_in_fewer_bytes() {
        let align = |a: u64| Align::new(a).get();
        assert_eq!([align(0), align(1), align(3), align(16)], [1, 1, 3, 16]);
        assert_eq!([align(1 << 16), align(1 << 20)], [1 << 16, 1 << 16]);
        assert_eq!(Leader::NONE.get(), None);
        assert_eq!(
            [Leader::of(0).get(), Leader::of(u32::MAX - 1).get()],
            [Some(0), Some(u32::MAX - 1)]
        );
    }

    #[test]
    fn relocation_tables_keep_their_records_and_only_elf_retains() {
        let r = Reloc {
            offset: 4,
            r_type: 2,
            symbol: 7,
            addend: -3,
        };
        let mut sec = empty_section();
        sec.set_relocs(relocs(r));
        assert_eq!((sec.relocs().len(), sec.relocs().get(0)), (1, r));
        let coff = [object::pe::ImageRelocation {
            virtual_address: object::U32::new(object::LittleEndian, 8),
            symbol_table_index: object::U32::new(object::LittleEndian, 9),
            typ: object::U16::new(object::LittleEndian, object::pe::RelocationType(3)),
        }];
        sec.set_relocs(Relocs::Coff(&coff));
        let read = sec.relocs().get(0);
        assert_eq!(
            (read.offset, read.symbol, read.r_type, read.addend),
            (8, 9, 3, 0)
        );
        // Bit 21 is SHF_GNU_RETAIN in ELF, part of the alignment field in COFF.
        sec.flags = object::elf::SHF_GNU_RETAIN.0 as u32;
        assert!(!sec.retain());
        sec.set_relocs(Relocs::NONE);
        assert!(sec.retain());
    }

    /// clang's amd64 ELF object of `comdat-a.cpp`, read.
    fn comdat_a() -> ObjectFile<'static> {
        let bytes = include_bytes!("../../../pectl/tests/fixtures/comdat-a.o");
        let expect = Expect {
            machine: Machine::Amd64,
            field_size: four_bytes,
        };
        parse_object("comdat-a.o".into(), bytes, expect).unwrap()
    }

    #[test]
    fn elf_groups_list_their_sections_in_one_run() {
        let obj = comdat_a();
        let groups: Vec<_> = (obj.comdats.iter())
            .map(|c| {
                let members = obj.comdat_sections(c);
                let names: Vec<_> = members
                    .iter()
                    .map(|&s| obj.sections[s as usize].name)
                    .collect();
                (
                    String::from_utf8_lossy(obj.comdat_key(c)).into_owned(),
                    names,
                )
            })
            .collect();
        assert_eq!(
            groups,
            [
                ("_Z5twicei".to_string(), vec![".text._Z5twicei"]),
                (
                    "_ZN7CounterILi3EE5valueE".to_string(),
                    vec![".data._ZN7CounterILi3EE5valueE"]
                ),
            ]
        );
        assert_eq!(obj.group_members, [5, 7]);
    }

    #[test]
    fn an_elf_source_file_symbol_is_absolute_not_undefined() {
        let obj = comdat_a();
        let file = (obj.symbols.iter()).find(|s| s.name == b"comdat-a.cpp");
        let file = file.map(|s| (s.def, s.binding));
        assert_eq!(file, Some((SymDef::Absolute(0), Binding::Local)));
    }

    #[test]
    fn a_consistent_object_passes() {
        validate(&object(), four_bytes).unwrap();
    }

    #[test]
    fn every_index_and_range_is_checked() {
        let mut o = object();
        let r = o.sections[1].relocs().get(0);
        o.sections[1].set_relocs(relocs(Reloc { offset: 5, ..r }));
        assert_eq!(
            refused(&o),
            "t.o: cannot read input: section 1 (.text): relocation type 1 at 0x5 patches 4 bytes \
             beyond the section's 8"
        );
        let mut o = object();
        let r = o.sections[1].relocs().get(0);
        o.sections[1].set_relocs(relocs(Reloc { symbol: 2, ..r }));
        assert!(refused(&o).contains("names symbol 2, but the symbol table has 2"));
        let mut o = object();
        o.symbols[1].def = SymDef::Section {
            section: 2,
            value: 0,
        };
        assert!(refused(&o).contains("symbol 1 (f) is in section 2, but the object has 2"));
        let mut o = object();
        o.symbols[1].def = SymDef::Section {
            section: 1,
            value: 9,
        };
        assert!(refused(&o).contains("has value 0x9, beyond the 8 bytes of section 1 (.text)"));
        let mut o = object();
        o.symbols[1].size = u32::MAX;
        assert!(refused(&o).contains("of size 0xffffffff runs past the 8 bytes"));
        let mut o = object();
        o.symbols[1].def = SymDef::WeakAlias { default: 7 };
        assert!(refused(&o).contains("weak external default 7 is not a symbol"));
        let mut o = object();
        o.sections[1].follows = Leader::of(1);
        assert!(refused(&o).contains("associative COMDAT leader 1 is not another section"));
        let mut o = object();
        o.comdats.push(Comdat {
            selection: Selection::Any,
            sections: GroupSections::one(3),
            symbol: 1,
            local: false,
        });
        assert!(refused(&o).contains("COMDAT group f names section 3"));
        o.comdats[0].symbol = 2;
        assert!(refused(&o).contains("COMDAT group symbol 2 is not a symbol (the table has 2)"));
        let mut o = object();
        o.sections[1].data = &[0; 4];
        assert!(refused(&o).contains("4 bytes of contents for a size of 8"));
    }

    /// Files in a fresh directory: `i.bin` holds `i` bytes of `i` each, and `missing.bin` is
    /// not there.
    fn files(test: &str, names: &[&str]) -> (PathBuf, Vec<PathBuf>) {
        let dir = std::env::temp_dir().join(format!("peln-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        let paths: Vec<PathBuf> = names.iter().map(|n| dir.join(n)).collect();
        for p in &paths {
            let name = p.file_stem().unwrap().to_str().unwrap();
            if let Ok(i) = name.parse::<u8>() {
                std::fs::write(p, vec![i; i as usize]).unwrap();
            }
        }
        (dir, paths)
    }

    /// However the files are asked for, on how many threads, and whether the thread opening
    /// ahead runs before, during or after: each is opened once and read as it is.
    #[test]
    fn files_being_opened_ahead_are_each_opened_once_by_whoever_needs_them_first() {
        let names: Vec<String> = (1..=40u8).map(|i| format!("{i}.bin")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let (dir, paths) = files("opening", &names);
        let whole = [paths[3].clone()];
        for ahead in [None, Some(0), Some(2)] {
            let opening = Opening::new(&paths, &whole);
            let files = Files::Opening(&opening);
            let got: Vec<(String, Vec<u8>, bool)> = std::thread::scope(|s| {
                if ahead == Some(0) {
                    opening.open_ahead();
                } else if ahead == Some(2) {
                    s.spawn(|| opening.open_ahead());
                }
                // Two askers from opposite ends, racing each other for every file.
                let back = s.spawn(|| {
                    (0..files.len())
                        .rev()
                        .map(|i| files.get(i).unwrap().bytes.len())
                        .sum::<usize>()
                });
                let front: Vec<_> = (0..files.len())
                    .map(|i| files.get(i).unwrap())
                    .map(|f| (f.name, f.bytes.to_vec(), f.whole))
                    .collect();
                assert_eq!(back.join().unwrap(), (1..=40).sum::<usize>());
                front
            });
            for (i, (name, bytes, whole)) in got.into_iter().enumerate() {
                let n = i as u8 + 1;
                assert_eq!(name, paths[i].display().to_string());
                assert_eq!(bytes, vec![n; n as usize], "{name}, ahead {ahead:?}");
                assert_eq!(whole, i == 3);
            }
            let mapped = opening.into_mapped().unwrap();
            assert_eq!(mapped.len(), 40);
            assert!(mapped.iter().zip(&paths).all(|(m, p)| &m.path == p));
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// A file that cannot be opened is the error of whoever asks for it, naming it with the
    /// system's reason, each time it is asked for; of all the files, the first that fails.
    #[test]
    fn a_file_that_cannot_be_opened_is_the_error_of_whoever_asks_for_it() {
        let (dir, paths) = files("unopened", &["1.bin", "missing.bin", "2.bin", "gone.bin"]);
        let opening = Opening::new(&paths, &[]);
        opening.open_ahead();
        let files = Files::Opening(&opening);
        assert_eq!(files.get(0).unwrap().bytes, [1]);
        for _ in 0..2 {
            let e = files
                .get(1)
                .err()
                .expect("missing.bin cannot be opened")
                .to_string();
            assert!(e.starts_with(&paths[1].display().to_string()), "{e}");
            assert!(e.contains("No such file or directory"), "{e}");
        }
        let e = opening.into_mapped().err().unwrap().to_string();
        assert!(e.contains("missing.bin") && !e.contains("gone.bin"), "{e}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
