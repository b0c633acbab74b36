//! The relocation scan: before any address exists, every live relocation is decided once (a
//! [`Fixup`] the input-section chunk applies, kept only where it differs from the relocation as
//! read), with the GOT slots it needs and the places the loader must patch. Both change sizes,
//! so layout runs it before placing chunks.
use rayon::prelude::*;
use rustc_hash::FxHashSet;

use super::{Got, Options};
use crate::arch::{AbsoluteInsn, Arch};
use crate::baserel::BaseRelocType;
use crate::error::{Error, RelocSite, Result};
use crate::input::{Format, InputSection, ObjectFile, Relocs, SectionClass};
use crate::relax::Relaxation;
use crate::reloc::{Field, Formula, RelocInfo};
use crate::resolve::{Resolved, Target};

/// What the relocation scan decides before any address exists.
pub(super) struct Scan {
    pub(super) got: Got,
    /// Some relocation addresses the GOT or names `_GLOBAL_OFFSET_TABLE_`: the GOT exists even
    /// with no slot.
    pub(super) uses_got_base: bool,
    pub(super) fixups: Vec<ObjectFixups>,
}

/// One relocation as the scan decided it: the writer applies it and decides nothing.
#[derive(Clone, Copy, Debug)]
pub struct Fixup {
    /// Where the field is in the output chunk: the input offset mapped through relaxation.
    pub offset: u32,
    /// The relocation's index in its input section (symbol, addend, diagnostics).
    pub reloc: u32,
    /// What to apply: the type after relaxation's rewrite and GOT relaxation (whose opcode
    /// byte the writer finds through [`Arch::relaxation_of`]).
    pub info: &'static RelocInfo,
}

// One per live relocation: 16 bytes rather than 24 with the opcode carried along.
const _: () = assert!(std::mem::size_of::<Fixup>() == 16);

/// The fixups of one object's live sections, by section, and the places in them the loader
/// patches.
///
/// A section whose relocations all apply as read (each at its own offset, with its own type:
/// nothing relaxed, shortened or rewritten, as in every COFF object) keeps no list: the writer
/// reads its relocations again instead. A large COFF link has a third of a million relocations,
/// and the 16 bytes kept for each cost the kernel more in fresh pages than decoding them twice.
#[derive(Debug, Default)]
pub struct ObjectFixups {
    list: Vec<Fixup>,
    /// Per section index: where its fixups start in `list` (and where the last one's end).
    starts: Vec<u32>,
    /// A bit per section index: its fixups are its relocations as read ([`Fixups::AsRead`]).
    as_read: Vec<u64>,
    sites: Vec<AbsSite>,
    /// Per section index: where its sites start in `sites` (and where the last one's end).
    site_starts: Vec<u32>,
    /// Each PCREL_LO12 fixup's HI20, by (section, relocation index): its section, relocation
    /// index and type. Sorted by construction (the scan walks sections and relocations in
    /// order) and looked up by binary search: no hash map grown entry by entry.
    hi20: Vec<((u32, u32), Hi20)>,
}

/// A PCREL_LO12's HI20: its section, relocation index and type.
pub type Hi20 = (u32, u32, &'static RelocInfo);

impl ObjectFixups {
    /// The fixups of `section` (`sec`, read from a file of `format`), in relocation order.
    pub fn of<'a, A: Arch>(
        &'a self,
        section: u32,
        sec: &InputSection<'a>,
        format: Format,
    ) -> Fixups<'a> {
        let s = section as usize;
        match self
            .as_read
            .get(s / 64)
            .is_some_and(|w| w >> (s % 64) & 1 != 0)
        {
            true => Fixups::AsRead {
                relocs: sec.relocs(),
                next: 0,
                format,
                info: A::reloc_info,
            },
            false => Fixups::Decided(self.list[range(&self.starts, section)].iter()),
        }
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
    pub(super) fn sites_of(&self, section: u32) -> &[AbsSite] {
        &self.sites[range(&self.site_starts, section)]
    }

    /// How many fixups the scan kept (those of sections that do not apply as read).
    #[cfg(test)]
    pub(super) fn kept(&self) -> usize {
        self.list.len()
    }

    /// How many places in the object's sections hold absolute addresses.
    pub(super) fn site_count(&self) -> usize {
        self.sites.len()
    }
}

/// A section's fixups: those the scan decided and kept, or its relocations as read, each with
/// the arch's type for it (markers and relocations without effect left out, as the scan leaves
/// them out).
pub enum Fixups<'a> {
    Decided(std::slice::Iter<'a, Fixup>),
    AsRead {
        relocs: Relocs<'a>,
        next: usize,
        format: Format,
        /// The arch's table ([`Arch::reloc_info`]).
        info: fn(Format, u32) -> Option<&'static RelocInfo>,
    },
}

impl Iterator for Fixups<'_> {
    type Item = Fixup;

    fn next(&mut self) -> Option<Fixup> {
        match self {
            Fixups::Decided(list) => list.next().copied(),
            Fixups::AsRead {
                relocs,
                next,
                format,
                info,
            } => loop {
                let i = *next;
                if i >= relocs.len() {
                    return None;
                }
                *next += 1;
                let r = relocs.get(i);
                // An unknown type stopped the link at the scan.
                match info(*format, r.r_type) {
                    Some(info) if info.formula.touches() => {
                        return Some(Fixup {
                            offset: r.offset,
                            reloc: i as u32,
                            info,
                        })
                    }
                    _ => continue,
                }
            },
        }
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
pub(super) fn scan<A: Arch>(res: &Resolved, relax: &Relaxation, opts: &Options) -> Result<Scan> {
    let per_object: Vec<ObjectScan> = res
        .objects
        .par_iter()
        .enumerate()
        .map_init(Scratch::default, |scratch, (f, obj)| {
            scan_object::<A>(res, relax, opts, f, obj, scratch)
        })
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

/// A scanning thread's lists, reused from object to object: what is kept of them is copied out
/// at its size (a list grown by doubling in each object would keep up to twice its size, and
/// cost the pages of every size it passed through).
#[derive(Default)]
struct Scratch {
    /// The fixups of a section that may yet apply as read.
    fixups: Vec<Fixup>,
    sites: Vec<AbsSite>,
}

fn scan_object<A: Arch>(
    res: &Resolved,
    relax: &Relaxation,
    opts: &Options,
    f: usize,
    obj: &ObjectFile,
    scratch: &mut Scratch,
) -> ObjectScan {
    let mut out = ObjectScan::default();
    // Sized for the sections relaxation edits, which cannot keep their relocations as read.
    let edited_relocs = (obj.sections.iter().enumerate())
        .filter(|&(s, _)| res.live[f][s] && relax.edits(f as u32, s as u32).is_some())
        .map(|(_, sec)| sec.relocs().len())
        .sum();
    out.fixups.list.reserve_exact(edited_relocs);
    scratch.sites.clear();
    out.fixups.as_read = vec![0; obj.sections.len().div_ceil(64)];
    out.fixups.starts.reserve_exact(obj.sections.len() + 1);
    out.fixups.site_starts.reserve_exact(obj.sections.len() + 1);
    let mut got_seen: FxHashSet<Target> = FxHashSet::default();
    // The arch's index for pairing relocations, built for files that pair any.
    let mut labels = None;
    let symbols = super::relax::Symbols {
        res,
        file: f as u32,
    };
    for (s, sec) in obj.sections.iter().enumerate() {
        out.fixups.starts.push(out.fixups.list.len() as u32);
        out.fixups.site_starts.push(scratch.sites.len() as u32);
        if !res.live[f][s] {
            continue;
        }
        let edits = relax.edits(f as u32, s as u32);
        scratch.fixups.clear();
        let mut as_read = edits.is_none();
        for (i, r) in sec.relocs().iter().enumerate() {
            if edits.is_some_and(|e| e.is_deleted(r.offset)) {
                continue;
            }
            let info = if edits.is_some_and(|e| e.shortened(i as u32)) {
                A::shortened(r.r_type)
            } else {
                A::reloc_info(obj.format, r.r_type)
            };
            let Some(mut info) = info else {
                out.errors.push(Error::UnknownRelocation {
                    file: obj.name.clone(),
                    section: sec.name.to_string(),
                    offset: r.offset.into(),
                    r_type: A::reloc_name(obj.format, r.r_type),
                });
                continue;
            };
            if !info.formula.touches() {
                continue;
            }
            let target = res.target(f as u32, r.symbol);
            out.uses_got_base |= info.formula.uses_got() || target == Target::GotBase;
            if let Some(relaxed) = A::relax_got(info, sec.data, r.offset as usize) {
                info = relaxed.info;
                as_read = false;
            }
            scratch.fixups.push(Fixup {
                offset: relax.map(f as u32, s as u32, r.offset.into()) as u32,
                reloc: i as u32,
                info,
            });
            // DWARF holds link-time addresses for a debugger: nothing for the loader.
            if sec.class == SectionClass::Debug {
                continue;
            }
            if info.formula == Formula::PcrelLo {
                match A::pair_lo12(&obj.sections, &symbols, r.symbol, &mut labels) {
                    Ok((hs, hj)) => {
                        let hi = obj.sections[hs as usize].relocs().get(hj as usize);
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
                Field::Insn(_) => match A::absolute_insn(sec.relocs(), i) {
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
            scratch.sites.push(AbsSite {
                offset: r.offset,
                typ,
            });
        }
        if as_read {
            out.fixups.as_read[s / 64] |= 1 << (s % 64);
        } else {
            out.fixups.list.extend_from_slice(&scratch.fixups);
        }
    }
    out.fixups.starts.push(out.fixups.list.len() as u32);
    out.fixups.site_starts.push(scratch.sites.len() as u32);
    out.fixups.sites = scratch.sites.to_vec();
    out
}

/// A place that will hold an absolute address: known by input offset until RVAs exist.
#[derive(Clone, Copy, Debug)]
pub(super) struct AbsSite {
    pub(super) offset: u32,
    pub(super) typ: BaseRelocType,
}
