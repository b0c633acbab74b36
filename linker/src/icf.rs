//! Identical code folding, after resolve (and GC) and before relaxation and layout: live sections
//! that are byte-for-byte identical and whose relocations point to identical (or already folded)
//! targets become one. The first in link order stays; the others are dropped like GC'd sections,
//! and every symbol in them now refers to the same place in the kept one.
//!
//! The algorithm is lld's (`lld/COFF/ICF.cpp`, `lld/ELF/ICF.cpp`), partition refinement: the
//! candidates are partitioned by a hash of their contents, each class is split by comparing the
//! parts that cannot change (bytes, size, alignment, kind, relocation types, offsets and addends,
//! targets outside the candidates), then split again and again by the classes of the relocation
//! targets (and of COFF associative children) until no class splits. Classes start optimistic,
//! so a cycle of identical functions calling each other folds. A class is named by the position
//! of its first member in the sorted candidate list: every split writes the new names into a
//! second array while the first is read, so the classes are processed in parallel and the result
//! does not depend on the number of threads.
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

use rayon::prelude::*;
use rustc_hash::FxHasher;

use crate::error::Result;
use crate::input::{addrsig_symbols, foldable, Format, InputSection, SectionClass};
use crate::resolve::{Resolved, Target};

/// `--icf=` / `/OPT:ICF`, `/OPT:SAFEICF`, `/OPT:NOICF`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Level {
    #[default]
    None,
    /// Code folds even when its address is significant (C function pointers compared for
    /// equality may then compare equal); read-only data only where no symbol's address is.
    All,
    /// Nothing whose address is significant folds.
    Safe,
}

impl Level {
    /// The names of GNU ld's `--icf=` (and `pectl link --icf`).
    pub fn from_name(name: &str) -> Option<Level> {
        Some(match name {
            "none" => Level::None,
            "all" => Level::All,
            "safe" => Level::Safe,
            _ => return None,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SectionRef {
    pub file: u32,
    pub section: u32,
}

/// What splitting one class gives: the classes of two members or more (ranges of the candidate
/// order) and the members left alone.
#[derive(Default)]
struct Split {
    classes: Vec<std::ops::Range<usize>>,
    alone: Vec<u32>,
}

/// One class of identical sections.
#[derive(Debug, PartialEq, Eq)]
pub struct Fold {
    /// The first in link order: it stays.
    pub kept: SectionRef,
    /// Dropped, in link order; their symbols now point into `kept`.
    pub removed: Vec<SectionRef>,
}

/// Folds `res`'s identical sections: the folded ones are no longer live and every target in them
/// is moved to the kept section (same offset). Returns the folds, by their kept section. The
/// only error is a malformed address-significance table, read only here (as lld reads it only
/// when it folds).
pub fn fold(mut res: Resolved<'_>, level: Level) -> Result<(Resolved<'_>, Vec<Fold>)> {
    if level == Level::None {
        return Ok((res, Vec::new()));
    }
    let icf = tracing::debug_span!("candidates").in_scope(|| Icf::new(&res, level))?;
    let folds = icf.run();
    tracing::debug_span!("redirect").in_scope(|| redirect(&mut res, &folds));
    Ok((res, folds))
}

const NOT_A_CANDIDATE: u32 = u32::MAX;

struct Icf<'r, 'd> {
    res: &'r Resolved<'d>,
    /// Per file: the flat number of its section 0 (files' sections numbered one after another).
    base: Vec<u32>,
    /// Per flat section number: its candidate number, or NOT_A_CANDIDATE.
    candidate: Vec<u32>,
    /// By candidate number, in link order.
    sections: Vec<SectionRef>,
    /// By candidate number: its COFF associative children that take part (what lld's
    /// `assocEquals` compares; debug and discarded children are left out).
    children: Vec<Vec<SectionRef>>,
    /// By candidate number, `target_starts[c]..target_ends[c]`: the candidates its relocations
    /// point into, in relocation order. Every round of splitting reads them; a flat list spares
    /// it three dependent lookups per relocation (symbol, target, candidate number).
    targets: Vec<u32>,
    target_starts: Vec<usize>,
    target_ends: Vec<usize>,
    /// The class of each candidate, twice: one array is read while the other is written.
    class: [Vec<AtomicU32>; 2],
}

impl<'r, 'd> Icf<'r, 'd> {
    fn new(res: &'r Resolved<'d>, level: Level) -> Result<Self> {
        let mut base = Vec::with_capacity(res.objects.len());
        let mut total = 0u32;
        for obj in &res.objects {
            base.push(total);
            total += obj.sections.len() as u32;
        }
        let significant = address_significant(res, &base, total as usize)?;
        let entry = match res.entry {
            Target::Section { file, section, .. } => Some((file, section)),
            _ => None,
        };
        let per_object: Vec<Vec<(SectionRef, Vec<SectionRef>)>> = (res.objects.par_iter())
            .enumerate()
            .map(|(f, obj)| {
                let vtables: Vec<u32> = match obj.format {
                    Format::Coff => (obj.comdats.iter())
                        .filter(|c| {
                            let key = obj.comdat_key(c);
                            key.starts_with(b"??_7") || key.starts_with(b"_ZTV")
                        })
                        .map(|c| obj.comdat_sections(c)[0])
                        .collect(),
                    Format::Elf => Vec::new(),
                };
                let eligible = |s: usize, sec: &InputSection| {
                    if !res.live[f][s]
                        || entry == Some((f as u32, s as u32))
                        || !foldable(obj.format, sec)
                    {
                        return false;
                    }
                    if level == Level::All && sec.class == SectionClass::Text {
                        return true;
                    }
                    // lld-link folds unwind data and vtables whatever the tables say.
                    let coff_always = obj.format == Format::Coff
                        && (matches!(sec.name.split('$').next(), Some(".pdata" | ".xdata"))
                            || vtables.contains(&(s as u32)));
                    coff_always || !significant[(base[f] + s as u32) as usize]
                };
                let mut list: Vec<(SectionRef, Vec<SectionRef>)> = (obj.sections.iter())
                    .enumerate()
                    .filter(|&(s, sec)| eligible(s, sec))
                    .map(|(s, _)| {
                        let at = SectionRef {
                            file: f as u32,
                            section: s as u32,
                        };
                        (at, Vec::new())
                    })
                    .collect();
                // Children, in section order, each under its leader when that is a candidate.
                for (s, sec) in obj.sections.iter().enumerate() {
                    let Some(leader) = sec.follows.get() else {
                        continue;
                    };
                    if !res.live[f][s]
                        || matches!(sec.class, SectionClass::Debug | SectionClass::Discard)
                    {
                        continue;
                    }
                    if let Ok(i) = list.binary_search_by_key(&leader, |(at, _)| at.section) {
                        list[i].1.push(SectionRef {
                            file: f as u32,
                            section: s as u32,
                        });
                    }
                }
                list
            })
            .collect();
        let mut candidate = vec![NOT_A_CANDIDATE; total as usize];
        let mut sections = Vec::new();
        let mut children = Vec::new();
        for (at, kids) in per_object.into_iter().flatten() {
            candidate[(base[at.file as usize] + at.section) as usize] = sections.len() as u32;
            sections.push(at);
            children.push(kids);
        }
        let n = sections.len();
        let class = [(); 2].map(|_| (0..n).map(|_| AtomicU32::new(0)).collect());
        let mut icf = Icf {
            res,
            base,
            candidate,
            sections,
            children,
            targets: Vec::new(),
            target_starts: Vec::new(),
            target_ends: Vec::new(),
            class,
        };
        // Each candidate has room for all its relocations, in candidate order; those that point
        // into candidates fill its room from the front. One pass of lookups, by both threads,
        // each over runs of candidates whose rooms are one slice.
        let relocs = |c: usize| icf.section(icf.sections[c]).relocs();
        let mut room = Vec::with_capacity(n + 1);
        room.push(0usize);
        for c in 0..n {
            room.push(room[c] + relocs(c).len());
        }
        const RUN: usize = 1024;
        let mut targets = vec![0u32; room[n]];
        let mut ends = vec![0usize; n];
        let mut slices = Vec::with_capacity(n.div_ceil(RUN));
        let mut rest = &mut targets[..];
        for first in (0..n).step_by(RUN) {
            let last = (first + RUN).min(n);
            let len = room[last] - room[first];
            let (slice, tail) = std::mem::take(&mut rest).split_at_mut(len);
            slices.push((first, slice));
            rest = tail;
        }
        (slices.into_par_iter().zip(ends.par_chunks_mut(RUN))).for_each(|((first, out), ends)| {
            for (c, end) in (first..).zip(ends) {
                let at = icf.sections[c];
                let mut next = room[c] - room[first];
                for r in relocs(c).iter() {
                    if let Some(t) = icf.candidate_of(icf.res.target(at.file, r.symbol)) {
                        out[next] = t;
                        next += 1;
                    }
                }
                *end = room[first] + next;
            }
        });
        room.pop();
        (icf.targets, icf.target_starts, icf.target_ends) = (targets, room, ends);
        Ok(icf)
    }

    /// The candidates candidate `c`'s relocations point into, in relocation order.
    fn targets_of(&self, c: u32) -> &[u32] {
        let (start, end) = (self.target_starts[c as usize], self.target_ends[c as usize]);
        &self.targets[start..end]
    }

    fn section(&self, at: SectionRef) -> &'r InputSection<'d> {
        &self.res.objects[at.file as usize].sections[at.section as usize]
    }

    /// The candidate number of the section `target` lies in, if it is one.
    fn candidate_of(&self, target: Target) -> Option<u32> {
        match target {
            Target::Section { file, section, .. } => {
                let c = self.candidate[(self.base[file as usize] + section) as usize];
                (c != NOT_A_CANDIDATE).then_some(c)
            }
            _ => None,
        }
    }

    fn run(self) -> Vec<Fold> {
        let n = self.sections.len();
        let _hash = tracing::debug_span!("hash").entered();
        let mut hashes: Vec<u64> = (0..n).into_par_iter().map(|c| self.hash(c)).collect();
        // Twice, as lld does: each section's hash takes in those of the sections it refers to, so
        // functions that differ only in what they call (the common case) are told apart here
        // rather than by comparing every pair of a large class.
        for _ in 0..2 {
            hashes = (0..n)
                .into_par_iter()
                .map(|c| {
                    (self.targets_of(c as u32).iter())
                        .fold(hashes[c], |h, &t| h.wrapping_add(hashes[t as usize]))
                })
                .collect();
        }
        // Sorted by (hash, link order): equal hashes are neighbours, each run in link order.
        let mut order: Vec<u32> = (0..n as u32).collect();
        order.par_sort_unstable_by_key(|&c| (hashes[c as usize], c));
        let mut groups = Vec::new();
        let mut start = 0;
        for i in 1..=n {
            if i == n || hashes[order[i] as usize] != hashes[order[start] as usize] {
                groups.push(start..i);
                start = i;
            }
        }
        drop(hashes);
        // Unfolded candidates keep their name in both arrays from now on.
        for g in &groups {
            for &c in &order[g.clone()] {
                self.class[0][c as usize].store(g.start as u32, Relaxed);
                self.class[1][c as usize].store(g.start as u32, Relaxed);
            }
        }
        groups.retain(|g| g.len() > 1);
        drop(_hash);
        let _split = tracing::debug_span!("split").entered();
        let mut groups = self.split_all(&mut order, groups, None);
        // A split either adds a class or leaves a member alone: it changes one of the two.
        let shape =
            |g: &[std::ops::Range<usize>]| (g.len(), g.iter().map(|r| r.len()).sum::<usize>());
        let mut round = 0;
        loop {
            let before = shape(&groups);
            groups = self.split_all(&mut order, groups, Some(round % 2));
            round += 1;
            if shape(&groups) == before {
                break;
            }
        }
        tracing::debug!(
            candidates = n,
            rounds = round,
            classes = groups.len(),
            "icf"
        );
        let mut folds: Vec<Fold> = groups
            .into_iter()
            .map(|g| {
                let mut members = order[g].iter().map(|&c| self.sections[c as usize]);
                let kept = members.next().expect("classes have two members or more");
                Fold {
                    kept,
                    removed: members.collect(),
                }
            })
            .collect();
        folds.sort_unstable_by_key(|f| f.kept);
        folds
    }

    /// Splits every class in `groups` (ranges of `order`, two members or more) into classes of
    /// equal members, in parallel, and returns those with two members or more. `read`: the class
    /// array the relocation targets are compared by; `None` compares only what cannot change.
    fn split_all(
        &self,
        order: &mut [u32],
        groups: Vec<std::ops::Range<usize>>,
        read: Option<usize>,
    ) -> Vec<std::ops::Range<usize>> {
        let mut slices = Vec::with_capacity(groups.len());
        let mut rest = order;
        let mut at = 0;
        for g in &groups {
            let (_, tail) = std::mem::take(&mut rest).split_at_mut(g.start - at);
            let (slice, tail) = tail.split_at_mut(g.len());
            slices.push((g.start, slice));
            rest = tail;
            at = g.end;
        }
        let split: Vec<Split> = slices
            .into_par_iter()
            .map(|(start, slice)| {
                let mut out = Split::default();
                self.split(start, slice, read, &mut out);
                out
            })
            .collect();
        // A member left alone keeps its last name for good, in both arrays: the one this round
        // read gets it only now that no class reads it any more (lld leaves no class out of a
        // round, so it never needs this).
        if let Some(r) = read {
            for &c in split.iter().flat_map(|s| &s.alone) {
                let name = self.class[1 - r][c as usize].load(Relaxed);
                self.class[r][c as usize].store(name, Relaxed);
            }
        }
        split.into_iter().flat_map(|s| s.classes).collect()
    }

    /// Splits one class into classes of equal members. By relocation targets' classes, the
    /// members are first sorted by a hash of those classes (stably: link order stays within equal
    /// hashes), so that a class falling apart into many costs a sort rather than lld's
    /// comparison of every member with every class found so far; each run of equal hashes is
    /// then segregated as lld does, which a hash collision cannot fool.
    fn split(&self, start: usize, slice: &mut [u32], read: Option<usize>, out: &mut Split) {
        let Some(r) = read else {
            self.segregate(start, slice, read, out);
            return;
        };
        let mut keyed: Vec<(u64, u32)> = slice
            .iter()
            .map(|&c| (self.targets_hash(c, r), c))
            .collect();
        keyed.sort_by_key(|&(key, _)| key);
        for (to, &(_, c)) in slice.iter_mut().zip(&keyed) {
            *to = c;
        }
        let mut begin = 0;
        for run in keyed.chunk_by(|a, b| a.0 == b.0) {
            let end = begin + run.len();
            self.segregate(start + begin, &mut slice[begin..end], read, out);
            begin = end;
        }
    }

    /// lld's `segregate`: the members equal to the first go to the front (both parts keep their
    /// order) and take the front's position as their class; repeated on the rest. Classes of two
    /// members or more are added to `out`, members left alone to its `alone`.
    fn segregate(&self, start: usize, slice: &mut [u32], read: Option<usize>, out: &mut Split) {
        let mut begin = 0;
        let mut rest: Vec<u32> = Vec::new();
        while begin < slice.len() {
            let first = slice[begin];
            let mut mid = begin + 1;
            rest.clear();
            for i in begin + 1..slice.len() {
                let c = slice[i];
                let equal = match read {
                    None => self.equal_constant(first, c),
                    Some(r) => self.equal_variable(first, c, r),
                };
                if equal {
                    slice[mid] = c;
                    mid += 1;
                } else {
                    rest.push(c);
                }
            }
            slice[mid..].copy_from_slice(&rest);
            let name = (start + begin) as u32;
            // A round writes only the array it does not read: other classes, split in parallel,
            // read this round's names of their targets, whatever the order the threads run in.
            // The first, constant round reads none and sets both.
            for &c in &slice[begin..mid] {
                for (i, class) in self.class.iter().enumerate() {
                    if read.is_none() || read == Some(1 - i) {
                        class[c as usize].store(name, Relaxed);
                    }
                }
            }
            if mid - begin > 1 {
                out.classes.push(start + begin..start + mid);
            } else {
                out.alone.push(slice[begin]);
            }
            begin = mid;
        }
    }

    /// A hash of what [`Self::equal_variable`] compares: the classes (by the array `read`) of
    /// the relocation targets inside the candidates and of the associative children.
    fn targets_hash(&self, c: u32, read: usize) -> u64 {
        let class = |c: u32| self.class[read][c as usize].load(Relaxed);
        let mut h = FxHasher::default();
        for &t in self.targets_of(c) {
            class(t).hash(&mut h);
        }
        for &child in &self.children[c as usize] {
            self.candidate_of(section_start(child))
                .map(class)
                .hash(&mut h);
        }
        h.finish()
    }

    /// A hash of everything [`Self::equal_constant`] compares.
    fn hash(&self, c: usize) -> u64 {
        let at = self.sections[c];
        let obj = &self.res.objects[at.file as usize];
        let sec = self.section(at);
        let mut h = FxHasher::default();
        (
            sec.class,
            sec.size,
            sec.align.get(),
            sec.data,
            sec.relocs().len(),
        )
            .hash(&mut h);
        if obj.format == Format::Coff {
            sec.name.hash(&mut h);
        }
        for r in sec.relocs().iter() {
            (r.offset, r.r_type, r.addend).hash(&mut h);
            match self.res.target(at.file, r.symbol) {
                t @ Target::Section { value, .. } if self.candidate_of(t).is_some() => {
                    value.hash(&mut h)
                }
                t => t.hash(&mut h),
            }
        }
        self.children[c].len().hash(&mut h);
        h.finish()
    }

    /// lld's `equalsConstant`: kind, size, alignment, bytes, relocation types, offsets and
    /// addends; targets outside the candidates are the same place, targets inside them the same
    /// offset (their classes are compared by [`Self::equal_variable`]).
    fn equal_constant(&self, a: u32, b: u32) -> bool {
        let (at, bt) = (self.sections[a as usize], self.sections[b as usize]);
        let (sa, sb) = (self.section(at), self.section(bt));
        let coff = self.res.objects[at.file as usize].format == Format::Coff;
        if sa.class != sb.class
            || sa.size != sb.size
            || sa.align != sb.align
            || sa.data != sb.data
            || sa.relocs().len() != sb.relocs().len()
            || (coff && sa.name != sb.name)
            || self.children[a as usize].len() != self.children[b as usize].len()
        {
            return false;
        }
        sa.relocs().iter().zip(sb.relocs().iter()).all(|(ra, rb)| {
            if (ra.offset, ra.r_type, ra.addend) != (rb.offset, rb.r_type, rb.addend) {
                return false;
            }
            let (ta, tb) = (
                self.res.target(at.file, ra.symbol),
                self.res.target(bt.file, rb.symbol),
            );
            match (self.candidate_of(ta), self.candidate_of(tb)) {
                (Some(_), Some(_)) => offset(ta) == offset(tb),
                (None, None) => ta == tb,
                _ => false,
            }
        })
    }

    /// lld's `equalsVariable`: the relocation targets inside the candidates, and the
    /// associative children, are in the same classes (by the array `read`). `a` and `b` are
    /// equal by [`Self::equal_constant`]: their relocations point into candidates at the same
    /// places, so their lists of targets pair up.
    fn equal_variable(&self, a: u32, b: u32, read: usize) -> bool {
        let class = |c: u32| self.class[read][c as usize].load(Relaxed);
        let targets_equal = (self.targets_of(a).iter())
            .zip(self.targets_of(b))
            .all(|(&x, &y)| class(x) == class(y));
        targets_equal
            && (self.children[a as usize].iter())
                .zip(&self.children[b as usize])
                .all(|(&x, &y)| {
                    match (
                        self.candidate_of(section_start(x)),
                        self.candidate_of(section_start(y)),
                    ) {
                        (Some(x), Some(y)) => class(x) == class(y),
                        _ => false,
                    }
                })
    }
}

fn offset(t: Target) -> u32 {
    match t {
        Target::Section { value, .. } => value,
        _ => 0,
    }
}

fn section_start(at: SectionRef) -> Target {
    Target::Section {
        file: at.file,
        section: at.section,
        value: 0,
    }
}

/// Per flat section number: a symbol in it is address-significant, by the objects'
/// `.llvm_addrsig` tables (lld's `findKeepUniqueSections`). An object without a table makes every
/// symbol it names significant, its own and those it refers to.
fn address_significant(res: &Resolved, base: &[u32], total: usize) -> Result<Vec<bool>> {
    let marks: Vec<Result<Vec<u32>>> = (res.objects.par_iter())
        .enumerate()
        .map(|(f, obj)| {
            let flat = |t: &Target| match *t {
                Target::Section { file, section, .. } => Some(base[file as usize] + section),
                _ => None,
            };
            let targets = &res.targets[f];
            Ok(match addrsig_symbols(obj)? {
                Some(table) => (table.iter())
                    .filter_map(|&i| flat(&targets[i as usize]))
                    .collect(),
                None => targets.iter().filter_map(flat).collect(),
            })
        })
        .collect();
    let mut significant = vec![false; total];
    // The first malformed table in link order is the error.
    for i in marks
        .into_iter()
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .flatten()
    {
        significant[i as usize] = true;
    }
    Ok(significant)
}

/// Drops the removed sections and moves every target in them to the kept section.
fn redirect(res: &mut Resolved, folds: &[Fold]) {
    if folds.is_empty() {
        return;
    }
    // Per file, per section: where its contents went.
    let mut moved: Vec<Vec<Option<SectionRef>>> = Vec::new();
    moved.resize_with(res.objects.len(), Vec::new);
    for fold in folds {
        for r in &fold.removed {
            let (f, s) = (r.file as usize, r.section as usize);
            res.live[f][s] = false;
            if moved[f].is_empty() {
                moved[f] = vec![None; res.objects[f].sections.len()];
            }
            moved[f][s] = Some(fold.kept);
        }
    }
    let to = |t: Target| match t {
        Target::Section {
            file,
            section,
            value,
        } => match moved[file as usize]
            .get(section as usize)
            .copied()
            .flatten()
        {
            Some(kept) => Target::Section {
                file: kept.file,
                section: kept.section,
                value,
            },
            None => t,
        },
        t => t,
    };
    res.targets
        .par_iter_mut()
        .for_each(|targets| targets.iter_mut().for_each(|t| *t = to(*t)));
    res.entry = to(res.entry);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consts::Machine;
    use crate::input::Reloc;
    use crate::resolve::OneObject;

    /// `call rel32; ret` and the call's relocation (R_X86_64_PLT32; ICF does not read types).
    const CALLS: &[u8] = b"\xe8\0\0\0\0\xc3";
    const LEAF_A: &[u8] = b"\x31\xc0\xc3";
    const LEAF_B: &[u8] = b"\x31\xd2\xc3";

    fn call(symbol: u32) -> Reloc {
        Reloc {
            offset: 1,
            r_type: 4,
            symbol,
            addend: -4,
        }
    }

    /// One object whose section `k` (1-based) is function `k`, defined by symbol `k`, with the
    /// given bytes and calls (by function number). Function 1 is the entry.
    fn functions(list: &[(&'static [u8], &[u32])]) -> OneObject<'static> {
        let mut o = OneObject::new(Machine::Amd64);
        for (k, (bytes, callees)) in list.iter().enumerate() {
            let relocs = callees
                .iter()
                .enumerate()
                .map(|(i, &c)| Reloc {
                    offset: 1 + 5 * i as u32,
                    ..call(c)
                })
                .collect();
            o = o
                .section(".text.f", SectionClass::Text, 16, bytes, relocs)
                .symbol(b"f", k as u32 + 1, 0);
        }
        o
    }

    /// The entry: calls every other function, so none is garbage.
    fn entry(n: u32) -> (&'static [u8], Vec<u32>) {
        (vec![0u8; 5 * n as usize].leak(), (2..=n).collect())
    }

    /// The folds as (kept, removed) section numbers.
    fn folded(res: Resolved<'static>, level: Level) -> (Resolved<'static>, Vec<(u32, Vec<u32>)>) {
        let (res, folds) = fold(res, level).unwrap();
        let list = folds
            .iter()
            .map(|f| {
                (
                    f.kept.section,
                    f.removed.iter().map(|r| r.section).collect(),
                )
            })
            .collect();
        (res, list)
    }

    fn build(list: &[(&'static [u8], &[u32])]) -> Resolved<'static> {
        let (main, calls) = entry(list.len() as u32 + 1);
        let mut all = vec![(main, &calls[..])];
        all.extend_from_slice(list);
        functions(&all).build()
    }

    #[test]
    fn identical_functions_fold_and_their_symbols_move_to_the_kept_one() {
        let res = build(&[(LEAF_A, &[]), (LEAF_A, &[]), (LEAF_B, &[])]);
        let (res, folds) = folded(res, Level::All);
        assert_eq!(folds, [(2, vec![3])]);
        assert!(res.live[0][2] && !res.live[0][3] && res.live[0][4]);
        let at = |section| Target::Section {
            file: 0,
            section,
            value: 0,
        };
        assert_eq!(res.target(0, 3), at(2), "symbol 3 now names the kept copy");
        assert_eq!(res.target(0, 4), at(4));
    }

    #[test]
    fn functions_calling_different_functions_stay_apart() {
        // 2 calls 4 and 3 calls 5: 4 and 5 differ, so 2 and 3 do too.
        let res = build(&[(CALLS, &[4]), (CALLS, &[5]), (LEAF_A, &[]), (LEAF_B, &[])]);
        assert_eq!(folded(res, Level::All).1, []);
        // Once 4 and 5 are identical, 2 and 3 are too.
        let res = build(&[(CALLS, &[4]), (CALLS, &[5]), (LEAF_A, &[]), (LEAF_A, &[])]);
        assert_eq!(folded(res, Level::All).1, [(2, vec![3]), (4, vec![5])]);
    }

    #[test]
    fn a_cycle_of_identical_functions_calling_each_other_folds() {
        // ping1 (2) ↔ pong1 (3), ping2 (4) ↔ pong2 (5); pings and pongs differ in bytes.
        const PONG: &[u8] = b"\xe8\0\0\0\0\x90\xc3";
        let res = build(&[(CALLS, &[3]), (PONG, &[2]), (CALLS, &[5]), (PONG, &[4])]);
        assert_eq!(folded(res, Level::All).1, [(2, vec![4]), (3, vec![5])]);
    }

    #[test]
    fn a_difference_deep_down_a_call_chain_keeps_the_whole_chain_apart() {
        // Three copies of a chain of four calls, the third ending in a different leaf: copies one
        // and two fold at every level; the third learns it differs one level per round.
        let mut list: Vec<(&'static [u8], Vec<u32>)> = Vec::new();
        for copy in 0..3u32 {
            let first = 2 + 5 * copy;
            for level in 0..4 {
                list.push((CALLS, vec![first + level + 1]));
            }
            list.push((if copy == 2 { LEAF_B } else { LEAF_A }, vec![]));
        }
        let list: Vec<(&'static [u8], &[u32])> = list.iter().map(|(b, c)| (*b, &c[..])).collect();
        let folds = folded(build(&list), Level::All).1;
        assert_eq!(folds, (2..7).map(|s| (s, vec![s + 5])).collect::<Vec<_>>());
    }

    #[test]
    fn address_significant_sections_stay_apart_under_safe() {
        // Symbol 3 (function 3) is address-significant: `safe` keeps it, `all` folds code anyway.
        let res = || {
            let (main, calls) = entry(3);
            functions(&[(main, &calls), (LEAF_A, &[]), (LEAF_A, &[])])
                .addrsig(&[3])
                .build()
        };
        assert_eq!(folded(res(), Level::Safe).1, []);
        assert_eq!(folded(res(), Level::All).1, [(2, vec![3])]);
        // Without a table every symbol is significant: only code folds, and only under `all`.
        let res = build(&[(LEAF_A, &[]), (LEAF_A, &[])]);
        assert_eq!(folded(res, Level::Safe).1, []);
        // Read-only data folds only where no address is significant, under `all` too.
        let data = |table: &'static [u8]| {
            let (main, calls) = entry(3);
            functions(&[(main, &calls)])
                .section(".rodata.a", SectionClass::RoData, 8, b"constant", vec![])
                .symbol(b"a", 2, 0)
                .section(".rodata.b", SectionClass::RoData, 8, b"constant", vec![])
                .symbol(b"b", 3, 0)
                .addrsig(table)
                .build()
        };
        assert_eq!(folded(data(&[3]), Level::All).1, []);
        assert_eq!(folded(data(&[]), Level::All).1, [(2, vec![3])]);
        assert_eq!(folded(data(&[]), Level::Safe).1, [(2, vec![3])]);
    }

    #[test]
    fn the_entry_writable_data_and_other_alignments_never_fold() {
        // Function 2 is byte-identical to the entry (which calls nothing here).
        let res = functions(&[(LEAF_A, &[]), (LEAF_A, &[])]).build();
        assert_eq!(folded(res, Level::All).1, []);
        let (main, calls) = entry(5);
        let res = functions(&[(main, &calls)])
            .section(".data.a", SectionClass::Data, 8, b"variable", vec![])
            .symbol(b"a", 2, 0)
            .section(".data.b", SectionClass::Data, 8, b"variable", vec![])
            .symbol(b"b", 3, 0)
            .section(".text.c", SectionClass::Text, 16, LEAF_A, vec![])
            .symbol(b"c", 4, 0)
            .section(".text.d", SectionClass::Text, 32, LEAF_A, vec![])
            .symbol(b"d", 5, 0)
            .build();
        assert_eq!(folded(res, Level::All).1, []);
    }

    #[test]
    fn coff_leaders_fold_with_their_associative_children_only_when_those_are_identical() {
        // Functions 2 and 3, each with an unwind record (sections 4 and 5) pointing at it.
        let res = |second_unwind: &'static [u8]| {
            let (main, calls) = entry(3);
            let mut res = functions(&[(main, &calls), (LEAF_A, &[]), (LEAF_A, &[])])
                .section(
                    ".pdata",
                    SectionClass::RoData,
                    4,
                    b"unwind",
                    vec![Reloc {
                        offset: 0,
                        r_type: 3,
                        symbol: 2,
                        addend: 0,
                    }],
                )
                .symbol(b"$pdata$2", 4, 0)
                .section(
                    ".pdata",
                    SectionClass::RoData,
                    4,
                    second_unwind,
                    vec![Reloc {
                        offset: 0,
                        r_type: 3,
                        symbol: 3,
                        addend: 0,
                    }],
                )
                .symbol(b"$pdata$3", 5, 0)
                .build();
            let obj = &mut res.objects[0];
            obj.format = Format::Coff;
            for s in &mut obj.sections[2..] {
                s.flags |= object::pe::IMAGE_SCN_LNK_COMDAT.0;
            }
            obj.sections[4].follows = crate::input::Leader::of(2);
            obj.sections[5].follows = crate::input::Leader::of(3);
            res
        };
        assert_eq!(
            folded(res(b"unwind"), Level::All).1,
            [(2, vec![3]), (4, vec![5])]
        );
        assert_eq!(folded(res(b"UNWIND"), Level::All).1, []);
    }

    #[test]
    fn the_same_folds_whatever_the_number_of_threads() {
        // 600 functions of four bodies, each calling one other: many classes, several rounds.
        let bodies: [&'static [u8]; 4] = [
            CALLS,
            b"\xe8\0\0\0\0\x90\xc3",
            CALLS,
            b"\xe8\0\0\0\0\xcc\xc3",
        ];
        let n = 600u32;
        let calls: Vec<[u32; 1]> = (0..n).map(|i| [2 + (i * 7 + i / 5) % n]).collect();
        let list: Vec<(&'static [u8], &[u32])> = (0..n)
            .map(|i| (bodies[(i * i % 7 % 4) as usize], &calls[i as usize][..]))
            .collect();
        let run = |threads| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| folded(build(&list), Level::All).1)
        };
        let one = run(1);
        assert!(one.len() > 10, "the input folds: {one:?}");
        assert_eq!(one, run(4));
    }
}
