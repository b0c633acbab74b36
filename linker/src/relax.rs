//! Relaxation's vocabulary: which bytes of which sections go away (RISC-V CALL → JAL,
//! R_RISCV_ALIGN padding) and which instruction words change, decided before any address is
//! final. The result is a sorted deletion list per section (mold's `r_deltas`): layout reads
//! section sizes through it, symbol values and relocation offsets are mapped through it, and the
//! writer copies section bytes through it. Nothing is rewritten in place, so every later phase
//! sees one consistent picture. The arch files decide a section's edits with these types; the
//! phase that runs them to a fixed point is [`crate::layout::relax`], so this module knows no arch.
//! Arch code sees the symbol table only through [`Targets`] and [`Labels`], which the layout side
//! implements: what it decides from is then visible in the signatures.
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::input::{InputSection, SectionClass};
use crate::resolve::Resolved;

/// What relaxing one section may ask about the targets of its relocations. `symbol` is an index
/// into the relocating object's symbol table.
pub trait Targets {
    /// A bound on the distance, in the final `.text`, from input offset `offset` of the section
    /// being relaxed to `symbol + addend`; `None` when the target is not in `.text`.
    fn distance(&self, offset: u32, symbol: u32, addend: i64) -> Option<u64>;
    /// The largest power of two that divides `symbol + addend` wherever layout places it: at
    /// most its section's alignment, 1 for a target in no section.
    fn alignment(&self, symbol: u32, addend: i64) -> u64;
    /// The target is defined in a code section (so within `.text` span of every call site).
    fn in_text(&self, symbol: u32) -> bool;
}

/// What pairing a low-12 relocation with the instruction its label names may ask.
pub trait Labels {
    /// Where `symbol` points, `None` when not into a section.
    fn label(&self, symbol: u32) -> Option<Label<'_>>;
    /// The symbol as diagnostics print it.
    fn name(&self, symbol: u32) -> String;
}

/// A place a symbol labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Label<'a> {
    /// The section index in the relocating object; `None` when the place is in another object.
    pub section: Option<u32>,
    pub offset: u32,
    pub section_name: &'a str,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deletion {
    /// Offset in the input section as read.
    pub offset: u32,
    pub len: u32,
}

/// Up to four bytes written over the input at an (input) offset: a new instruction or fresh
/// NOP padding (longer padding is several patches). Inline, so a patch allocates nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Patch {
    offset: u32,
    len: u8,
    bytes: [u8; 4],
}

/// Where a deletion starts and the bytes deleted up to its end (mold's cumulative `r_deltas`),
/// so that mapping an offset is one binary search. Its length is what `through` adds to the
/// section's previous cut: 8 bytes a cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Cut {
    offset: u32,
    through: u32,
}

/// The deletion of `cuts[i]`, `cuts` being one section's.
fn deletion(cuts: &[Cut], i: usize) -> Deletion {
    let before = match i {
        0 => 0,
        _ => cuts[i - 1].through,
    };
    Deletion {
        offset: cuts[i].offset,
        len: cuts[i].through - before,
    }
}

/// What relaxation does to the sections of one file, as an arch decides it section by section:
/// the arch adds the current section's edits straight to the file's lists, which the phase reuses
/// from file to file (no allocation and no copy per section), ends each section with
/// [`SectionEdits::end`] and takes the file's edits at their exact size
/// ([`SectionEdits::take`]).
#[derive(Debug, Default)]
pub struct SectionEdits {
    file: FileEdits,
    /// Where the current section's entries start in the file's lists.
    from: Starts,
    /// A call was left long although a later round, with more bytes deleted, may find it in reach.
    pub pending: bool,
}

impl SectionEdits {
    /// No edits for the current section, keeping the lists' room.
    pub fn clear(&mut self) {
        self.file.cuts.truncate(self.from.cuts as usize);
        self.file.patches.truncate(self.from.patches as usize);
        self.file.rewrites.truncate(self.from.rewrites as usize);
        self.pending = false;
    }

    /// The current section's edits.
    pub fn view(&self) -> Edits<'_> {
        let from = self.from;
        Edits {
            cuts: &self.file.cuts[from.cuts as usize..],
            patches: &self.file.patches[from.patches as usize..],
            rewrites: &self.file.rewrites[from.rewrites as usize..],
            pending: self.pending,
        }
    }

    /// Adds a deletion after every one so far.
    pub fn delete(&mut self, d: Deletion) {
        let cuts = &self.file.cuts[self.from.cuts as usize..];
        debug_assert!(cuts.len().checked_sub(1).is_none_or(|i| {
            let p = deletion(cuts, i);
            p.offset + p.len <= d.offset
        }));
        let through = cuts.last().map_or(0, |c| c.through) + d.len;
        self.file.cuts.push(Cut {
            offset: d.offset,
            through,
        });
    }

    /// Replaces the two instructions at `offset` with the one instruction `word`, which
    /// relocation `reloc` then relocates as its type's shortened form
    /// ([`crate::arch::Arch::shortened`]): a call or address pair that now reaches its target in
    /// one. Returns the bytes deleted.
    pub fn shorten_pair(&mut self, offset: u32, word: u32, reloc: usize) -> u32 {
        self.file.patches.push(Patch {
            offset,
            len: 4,
            bytes: word.to_le_bytes(),
        });
        self.delete(Deletion {
            offset: offset + 4,
            len: 4,
        });
        // Kept sorted by relocation index: pairs come in offset order, which is index order
        // unless the object's relocations are not sorted.
        let (from, reloc) = (self.from.rewrites as usize, reloc as u32);
        let rewrites = &mut self.file.rewrites;
        match rewrites[from..].last() {
            Some(&last) if last > reloc => {
                let at = from + rewrites[from..].partition_point(|&r| r < reloc);
                rewrites.insert(at, reloc);
            }
            _ => rewrites.push(reloc),
        }
        4
    }

    /// Writes `bytes` over the input at `offset`, which no deletion covers.
    pub fn patch(&mut self, offset: u32, bytes: &[u8]) {
        for (k, piece) in bytes.chunks(4).enumerate() {
            let mut word = [0; 4];
            word[..piece.len()].copy_from_slice(piece);
            self.file.patches.push(Patch {
                offset: offset + 4 * k as u32,
                len: piece.len() as u8,
                bytes: word,
            });
        }
    }

    /// Records the current section's edits as section `section`'s, unless it has none, and
    /// starts the next section. Sections come in index order.
    pub fn end(&mut self, section: u32) {
        let (from, to) = (self.from, self.file.ends());
        if to != from || self.pending {
            let deleted = self.view().total();
            let file = &mut self.file;
            debug_assert!(file.sections.len() <= section as usize);
            if file.starts.is_empty() {
                file.starts.push(from);
            }
            let entry = (file.starts.len() - 1) as u32;
            debug_assert!(entry < PENDING);
            file.sections.resize(section as usize, UNEDITED);
            (file.sections).push(entry | if self.pending { PENDING } else { 0 });
            file.starts.push(to);
            file.deleted += u64::from(deleted);
            file.pending |= self.pending;
        }
        self.from = to;
        self.pending = false;
    }

    /// Adds `kept` (a previous round's edits of section `section`) as the current section's
    /// and ends it.
    pub fn keep(&mut self, section: u32, kept: Edits) {
        self.file.cuts.extend_from_slice(kept.cuts);
        self.file.patches.extend_from_slice(kept.patches);
        self.file.rewrites.extend_from_slice(kept.rewrites);
        self.pending = kept.pending;
        self.end(section);
    }

    /// The edits of the sections ended so far, each list allocated at its length; `self` is left
    /// empty with its room, for the next file.
    pub fn take(&mut self) -> FileEdits {
        let file = &mut self.file;
        // `Vec::clone` allocates exactly the length.
        let out = FileEdits {
            cuts: file.cuts.clone(),
            patches: file.patches.clone(),
            rewrites: file.rewrites.clone(),
            sections: file.sections.clone(),
            starts: file.starts.clone(),
            deleted: file.deleted,
            pending: file.pending,
        };
        file.cuts.clear();
        file.patches.clear();
        file.rewrites.clear();
        file.sections.clear();
        file.starts.clear();
        file.deleted = 0;
        file.pending = false;
        self.from = Starts::default();
        self.pending = false;
        out
    }
}

fn deleted_before(cuts: &[Cut], offset: u32) -> u32 {
    let end = cuts.partition_point(|c| c.offset < offset);
    let Some(last) = end.checked_sub(1) else {
        return 0;
    };
    let d = deletion(cuts, last);
    cuts[last].through - (d.offset + d.len).saturating_sub(offset)
}

/// One section's edits, wherever they are kept.
#[derive(Clone, Copy, Debug)]
pub struct Edits<'a> {
    cuts: &'a [Cut],
    patches: &'a [Patch],
    /// The relocations whose pair was shortened to one instruction, which they relocate as
    /// their shortened form (CALL → JAL), sorted by index. 4 bytes each: the form follows from
    /// the type.
    pub rewrites: &'a [u32],
    pub pending: bool,
}

impl Edits<'_> {
    /// The deletions, in offset order.
    pub fn deletions(&self) -> impl Iterator<Item = Deletion> + '_ {
        (0..self.cuts.len()).map(|i| deletion(self.cuts, i))
    }

    /// Bytes deleted before `offset` (a deletion that starts before it and covers it counts up to
    /// `offset`).
    pub fn deleted_before(&self, offset: u32) -> u32 {
        deleted_before(self.cuts, offset)
    }

    pub fn is_deleted(&self, offset: u32) -> bool {
        let i = self.cuts.partition_point(|c| c.offset <= offset);
        i > 0 && {
            let d = deletion(self.cuts, i - 1);
            offset < d.offset + d.len
        }
    }

    pub fn total(&self) -> u32 {
        self.cuts.last().map_or(0, |c| c.through)
    }

    /// Relocation `reloc`'s pair was shortened: it relocates its type's shortened form.
    pub fn shortened(&self, reloc: u32) -> bool {
        self.rewrites.binary_search(&reloc).is_ok()
    }

    /// Copies `src` (the input bytes) to `dst` (the output, `src.len() - total()` long), dropping
    /// deleted ranges, then writes the patches where their offsets land.
    pub fn copy(&self, src: &[u8], dst: &mut [u8]) {
        let (mut from, mut to) = (0usize, 0usize);
        for d in self.deletions() {
            let keep = d.offset as usize - from;
            dst[to..to + keep].copy_from_slice(&src[from..d.offset as usize]);
            to += keep;
            from = (d.offset + d.len) as usize;
        }
        dst[to..to + src.len() - from].copy_from_slice(&src[from..]);
        for p in self.patches {
            debug_assert!(!self.is_deleted(p.offset));
            let out = (p.offset - self.deleted_before(p.offset)) as usize;
            let bytes = &p.bytes[..usize::from(p.len)];
            dst[out..out + bytes.len()].copy_from_slice(bytes);
        }
    }
}

/// The indices of a section's relocations in offset order, into `order` (cleared first, so the
/// phase reuses one list for every section): relaxation walks the section front to back, counting
/// the bytes deleted so far.
pub fn by_offset(sec: &InputSection, order: &mut Vec<u32>) {
    order.clear();
    let relocs = sec.relocs();
    order.extend(0..relocs.len() as u32);
    // Compilers emit them in offset order already.
    if !relocs.iter().is_sorted_by_key(|r| r.offset) {
        order.sort_by_key(|&i| relocs.get(i as usize).offset);
    }
}

/// The first relocation of type `r_type` at `offset`, among `order` ([`by_offset`]'s): found by
/// binary search, as a section holds thousands of relocations.
pub fn at_offset(sec: &InputSection, order: &[u32], offset: u32, r_type: u32) -> Option<usize> {
    let relocs = sec.relocs();
    let first = order.partition_point(|&j| relocs.get(j as usize).offset < offset);
    (order[first..].iter())
        .map(|&j| j as usize)
        .take_while(|&j| relocs.get(j).offset == offset)
        .find(|&j| relocs.get(j).r_type == r_type)
}

/// What an arch's relaxation may assume about the final image.
pub struct Context<'r> {
    /// Relaxation requested (`--no-relax` clears it). Mandatory edits (ALIGN) happen regardless.
    pub enabled: bool,
    /// Every text address is within this many bytes of every other (the whole `.text` is smaller,
    /// padding included), so short PC-relative forms reach any code target.
    pub text_span: u64,
    /// The same bound for any two addresses in the image.
    pub image_span: u64,
    places: &'r Places,
    previous: &'r Relaxation,
}

/// Per file, per section: where a live text section starts in `.text` with the deletions of a
/// round ([`NOT_TEXT`]: not in `.text`), placed in link order as layout places ELF text. Kept
/// from round to round, so that later rounds place into the same lists.
#[derive(Default)]
pub struct Places {
    text_start: Vec<Vec<u64>>,
    /// Deleting bytes can widen alignment padding between two places, by less than the largest
    /// alignment of a text section (see [`Context::text_distance`]).
    slack: u64,
}

/// A section [`Places`] does not place.
const NOT_TEXT: u64 = u64::MAX;

impl Places {
    /// Places every live text section of `res` with `relaxation`'s deletions.
    pub fn place(&mut self, res: &Resolved, relaxation: &Relaxation) {
        if self.text_start.len() != res.objects.len() {
            self.text_start = (res.objects.iter())
                .map(|obj| vec![NOT_TEXT; obj.sections.len()])
                .collect();
        }
        // Each section's alignment and size, looked up in parallel: only the running offset is
        // serial (it was 14 % of a riscv64 link's main thread). `align - 1` in the high half
        // keeps the pair apart from NOT_TEXT.
        (res.objects.par_iter().zip(&mut self.text_start).enumerate()).for_each(
            |(f, (obj, by_index))| {
                for (s, (sec, slot)) in obj.sections.iter().zip(by_index.iter_mut()).enumerate() {
                    *slot = if res.live[f][s] && sec.class == SectionClass::Text {
                        let size = relaxation.size(f as u32, s as u32, sec);
                        u64::from(sec.align.get() - 1) << 32 | u64::from(size)
                    } else {
                        NOT_TEXT
                    };
                }
            },
        );
        let (mut at, mut slack) = (0u64, 0u64);
        for slot in self.text_start.iter_mut().flatten() {
            if *slot == NOT_TEXT {
                continue;
            }
            let (align, size) = ((*slot >> 32) + 1, *slot & u64::from(u32::MAX));
            slack = slack.max(align - 1);
            at = at.next_multiple_of(align);
            *slot = at;
            at += size;
        }
        self.slack = slack;
    }
}

impl<'r> Context<'r> {
    /// `places` must come from `previous` ([`Places::place`]).
    pub fn new(
        enabled: bool,
        text_span: u64,
        image_span: u64,
        places: &'r Places,
        previous: &'r Relaxation,
    ) -> Context<'r> {
        Context {
            enabled,
            text_span,
            image_span,
            places,
            previous,
        }
    }

    /// The relaxation of the previous round, which places are computed from.
    pub fn previous(&self) -> &'r Relaxation {
        self.previous
    }

    /// A bound on the distance, in the final `.text`, from input offset `offset` of a section to
    /// `value + addend` of another; `None` when either is not in `.text`. Earlier rounds'
    /// deletions only bring two places closer, except that the padding before an aligned section
    /// may grow: by less than its alignment over any stretch (the layout of a stretch is the same
    /// when its start moves by a multiple of the largest alignment), hence `slack`.
    pub fn text_distance(
        &self,
        (file, section, offset): (u32, u32, u32),
        (to_file, to_section, value): (u32, u32, u32),
        addend: i64,
    ) -> Option<u64> {
        let place = |f: u32, s: u32, value: u64| {
            let start = self.places.text_start[f as usize][s as usize];
            (start != NOT_TEXT).then(|| start + self.previous.map(f, s, value))
        };
        let to = place(to_file, to_section, value.into())?.wrapping_add_signed(addend);
        let from = place(file, section, offset.into())?;
        Some(to.abs_diff(from) + self.places.slack)
    }
}

/// Every file's edits.
pub struct Relaxation {
    files: Vec<FileEdits>,
}

/// One file's edits: every edited section's lists end to end, in section order, and where each
/// section's are. Built in a reused [`SectionEdits`] and copied out at their exact sizes
/// ([`SectionEdits::take`]), so that nothing kept has room to spare.
#[derive(Debug, Default)]
pub struct FileEdits {
    cuts: Vec<Cut>,
    patches: Vec<Patch>,
    rewrites: Vec<u32>,
    /// By section index, up to the last section edited: the section's entry in `starts`, with
    /// [`PENDING`] set when a call in it was left long; [`UNEDITED`] for a section as read.
    sections: Vec<u32>,
    /// Where each edited section's lists start, in section order, then where the last one's end:
    /// an entry is 12 bytes where a (start, end) per list would be 24.
    starts: Vec<Starts>,
    /// Bytes deleted from all its sections.
    deleted: u64,
    /// Some section has [`Edits::pending`] set.
    pending: bool,
}

/// A section edited by nothing.
const UNEDITED: u32 = u32::MAX;
/// The section's [`Edits::pending`], beside its index in [`FileEdits::starts`].
const PENDING: u32 = 1 << 31;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Starts {
    cuts: u32,
    patches: u32,
    rewrites: u32,
}

impl FileEdits {
    /// Where the lists end.
    fn ends(&self) -> Starts {
        Starts {
            cuts: self.cuts.len() as u32,
            patches: self.patches.len() as u32,
            rewrites: self.rewrites.len() as u32,
        }
    }

    /// Some section still has a call left long that more deletions may bring in reach.
    pub fn pending(&self) -> bool {
        self.pending
    }

    /// Section `section`'s entry in `starts` and its pending flag, when edited.
    #[inline(always)]
    fn entry(&self, section: u32) -> Option<(usize, bool)> {
        match self.sections.get(section as usize) {
            None | Some(&UNEDITED) => None,
            Some(&e) => Some(((e & !PENDING) as usize, e & PENDING != 0)),
        }
    }

    #[inline]
    pub fn get(&self, section: u32) -> Option<Edits<'_>> {
        let (k, pending) = self.entry(section)?;
        let (from, to) = (self.starts[k], self.starts[k + 1]);
        let span = |from: u32, to: u32| from as usize..to as usize;
        Some(Edits {
            cuts: &self.cuts[span(from.cuts, to.cuts)],
            patches: &self.patches[span(from.patches, to.patches)],
            rewrites: &self.rewrites[span(from.rewrites, to.rewrites)],
            pending,
        })
    }

    /// A section's deletions alone: what mapping an offset needs, on every relocation.
    #[inline(always)]
    fn cuts(&self, section: u32) -> &[Cut] {
        match self.entry(section) {
            Some((k, _)) => {
                &self.cuts[self.starts[k].cuts as usize..self.starts[k + 1].cuts as usize]
            }
            None => &[],
        }
    }
}

impl Relaxation {
    /// Every section as read.
    pub fn none() -> Relaxation {
        Relaxation { files: Vec::new() }
    }

    /// One [`FileEdits`] per file, in link order.
    pub(crate) fn from_files(files: Vec<FileEdits>) -> Relaxation {
        Relaxation { files }
    }

    /// Replaces the edits of the files `redone` names.
    pub(crate) fn replace(&mut self, redone: Vec<(u32, FileEdits)>) {
        for (f, edits) in redone {
            self.files[f as usize] = edits;
        }
    }

    /// Bytes deleted from the whole image.
    pub(crate) fn total(&self) -> u64 {
        self.files.iter().map(|f| f.deleted).sum()
    }

    /// Some section still has a call left long that more deletions may bring in reach.
    pub(crate) fn pending(&self) -> bool {
        self.files.iter().any(|f| f.pending)
    }

    /// File `file`'s edits, `None` before any round.
    pub(crate) fn file(&self, file: u32) -> Option<&FileEdits> {
        self.files.get(file as usize)
    }

    #[inline]
    pub fn edits(&self, file: u32, section: u32) -> Option<Edits<'_>> {
        self.files.get(file as usize)?.get(section)
    }

    #[inline(always)]
    fn cuts(&self, file: u32, section: u32) -> &[Cut] {
        self.files
            .get(file as usize)
            .map_or(&[], |f| f.cuts(section))
    }

    /// An input offset as it is in the output section. Inlined with the lookups under it, as
    /// before the per-section index had a level more: layout maps every relocation and symbol
    /// (out of line, 6M more instructions in the riscv64 bench's layout).
    #[inline(always)]
    pub fn map(&self, file: u32, section: u32, offset: u64) -> u64 {
        offset - u64::from(deleted_before(self.cuts(file, section), offset as u32))
    }

    #[inline]
    pub fn size(&self, file: u32, section: u32, sec: &InputSection) -> u32 {
        sec.size - self.cuts(file, section).last().map_or(0, |c| c.through)
    }
}

/// An R_*_ALIGN request: NOP padding at `offset` that must end on an `align` boundary.
pub struct AlignRequest {
    pub reloc: &'static str,
    pub offset: u32,
    pub align: u64,
    /// Bytes of NOPs the assembler left (the most any alignment can need).
    pub padding: u64,
    /// Give up aligning (delete all padding) when more than this would be kept; 0: no limit.
    pub max_skip: u64,
}

impl AlignRequest {
    /// How many padding bytes stay once `deleted` earlier bytes of the section are gone, and the
    /// deletion of the rest. The section's own alignment must cover the request, since only
    /// offsets inside it are known here.
    pub fn cut(
        &self,
        file: &str,
        sec: &InputSection,
        deleted: u32,
        granule: u64,
    ) -> Result<(u32, Option<Deletion>)> {
        let error = |reason: String| Error::BadRelocation {
            reloc: self.reloc,
            file: file.to_string(),
            section: sec.name.to_string(),
            offset: self.offset.into(),
            reason,
        };
        let (align, padding) = (self.align, self.padding);
        if align > u64::from(sec.align.get())
            || u64::from(self.offset) + padding > u64::from(sec.size)
        {
            return Err(error(format!(
                "{padding} bytes of padding for {align}-byte alignment cannot be satisfied in a \
                 section of {} bytes aligned to {}",
                sec.size,
                sec.align.get()
            )));
        }
        let at = u64::from(self.offset - deleted);
        let needed = at.next_multiple_of(align) - at;
        let keep = if self.max_skip != 0 && needed > self.max_skip {
            0
        } else {
            needed
        };
        if keep > padding || keep % granule != 0 {
            return Err(error(format!(
                "{align}-byte alignment at output offset {at:#x} needs {keep} bytes of padding, \
                 only {padding} are there"
            )));
        }
        let deletion = (keep < padding).then(|| Deletion {
            offset: self.offset + keep as u32,
            len: (padding - keep) as u32,
        });
        Ok((keep as u32, deletion))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_map_through_sorted_deletions() {
        let mut e = SectionEdits::default();
        e.delete(Deletion { offset: 4, len: 4 });
        e.delete(Deletion { offset: 12, len: 2 });
        let got: Vec<u32> = [0, 4, 6, 8, 12, 13, 14, 20]
            .iter()
            .map(|&o| o - e.view().deleted_before(o))
            .collect();
        assert_eq!(got, [0, 4, 4, 4, 8, 8, 8, 14]);
        assert!(
            e.view().is_deleted(4)
                && e.view().is_deleted(7)
                && !e.view().is_deleted(8)
                && e.view().is_deleted(13)
        );
        assert_eq!(e.view().total(), 6);
    }

    #[test]
    fn a_file_keeps_each_edited_sections_lists_apart_at_their_exact_size() {
        let mut e = SectionEdits::default();
        e.delete(Deletion { offset: 4, len: 4 });
        e.end(2);
        e.end(3);
        e.patch(0, &[1, 2]);
        e.delete(Deletion { offset: 8, len: 2 });
        e.delete(Deletion { offset: 12, len: 4 });
        e.pending = true;
        e.end(5);
        e.delete(Deletion { offset: 0, len: 2 });
        e.clear();
        e.end(6);
        let file = e.take();
        assert!(e.take().get(2).is_none(), "taking empties the scratch");
        assert_eq!(file.cuts.capacity(), 3);
        assert!([0, 1, 3, 4, 6, 7].iter().all(|&s| file.get(s).is_none()));
        let two = file.get(2).unwrap();
        let deletions: Vec<_> = two.deletions().collect();
        assert_eq!(deletions, [Deletion { offset: 4, len: 4 }]);
        assert!(two.patches.is_empty() && !two.pending);
        let five = file.get(5).unwrap();
        assert_eq!(
            (five.total(), five.patches.len(), five.pending),
            (6, 1, true)
        );
        assert_eq!((file.deleted, file.pending()), (10, true));
    }

    #[test]
    fn rewrites_stay_sorted_by_relocation_whatever_the_offsets() {
        let mut e = SectionEdits::default();
        e.shorten_pair(0, 0, 3);
        e.end(1);
        for (offset, reloc) in [(0, 7), (8, 2), (16, 5)] {
            e.shorten_pair(offset, 0, reloc);
        }
        assert_eq!(e.view().rewrites, [2, 5, 7]);
        assert!(e.view().shortened(5) && !e.view().shortened(3));
    }

    #[test]
    fn relocations_at_an_offset_are_found_in_offset_order() {
        let reloc = |offset, r_type| crate::input::Reloc {
            offset,
            r_type,
            symbol: 0,
            addend: 0,
        };
        let relocs = [
            reloc(8, 1),
            reloc(0, 2),
            reloc(8, 2),
            reloc(4, 2),
            reloc(8, 3),
        ];
        let mut sec = crate::input::empty_section();
        sec.set_relocs(crate::input::Relocs::Decoded(&relocs));
        let mut order = Vec::new();
        by_offset(&sec, &mut order);
        assert_eq!(order, [1, 3, 0, 2, 4]);
        let found = [(8, 2), (8, 3), (4, 2), (4, 1), (12, 2)]
            .map(|(offset, r_type)| at_offset(&sec, &order, offset, r_type));
        assert_eq!(found, [Some(2), Some(4), Some(3), None, None]);
    }

    #[test]
    fn a_long_patch_is_written_whole_after_a_deletion() {
        let mut e = SectionEdits::default();
        e.delete(Deletion { offset: 0, len: 2 });
        e.patch(2, &[1, 2, 3, 4, 5, 6]);
        let mut out = [0u8; 8];
        e.view().copy(&[9; 10], &mut out);
        assert_eq!(out, [1, 2, 3, 4, 5, 6, 9, 9]);
    }

    #[test]
    fn copy_drops_deleted_bytes_and_applies_patches() {
        let mut e = SectionEdits::default();
        e.patch(0, &[0xaa]);
        e.delete(Deletion { offset: 2, len: 2 });
        e.patch(4, &[0xbb, 0xcc]);
        let mut out = [0u8; 4];
        e.view().copy(&[1, 2, 3, 4, 5, 6], &mut out);
        assert_eq!(out, [0xaa, 2, 0xbb, 0xcc]);
    }
}
