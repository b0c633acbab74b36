//! The relaxation phase: rounds of the arch's per-section decisions ([`Arch::relax_section`])
//! until deleting more bytes brings no further call in reach. What a round decides, and how
//! offsets map through it, is [`crate::relax`]'s; this module only drives the rounds.
use rayon::prelude::*;

use crate::arch::Arch;
use crate::error::{Error, Result};
use crate::input::SectionClass;
use crate::relax::{Context, FileEdits, Label, Labels, Places, Relaxation, SectionEdits, Targets};
use crate::resolve::{Resolved, Target};

/// Rounds of relaxation before the last one's decisions stand (each is sound on its own).
const MAX_ROUNDS: usize = 8;

pub fn relax<A: Arch>(res: &Resolved, enabled: bool) -> Result<Relaxation> {
    if !A::EDITS_SECTIONS {
        return Ok(Relaxation::none());
    }
    // Output sections start on 4 KiB boundaries; the 8 bytes per relocation bound the GOT. Both
    // sums in one pass over the live sections, in parallel (two serial walks over the 250k
    // section records of the riscv64 bench job took 3 ms).
    let (text, all) = (res.objects.par_iter().enumerate())
        .map(|(f, o)| {
            let (mut text, mut all) = (0u64, 0u64);
            for (sec, _) in o
                .sections
                .iter()
                .zip(&res.live[f])
                .filter(|(_, &live)| live)
            {
                let bytes = u64::from(sec.size) + u64::from(sec.align.get());
                if sec.class == SectionClass::Text {
                    text += bytes;
                }
                all += bytes + 8 * sec.relocs().len() as u64;
            }
            (text, all)
        })
        .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    let commons: u64 = res.commons.iter().map(|c| c.size + c.align).sum();
    let (text_span, image_span) = (text, all + commons + 6 * 0x1000);
    // Each round decides afresh from the places the previous round's deletions give. Deleting
    // only shrinks distances, so what one round relaxes the next relaxes too, and a round that
    // deletes no more than the one before has reached the fixed point.
    // A section with no pending call would come out of another round the same (its ALIGN cuts
    // depend only on its own deletions), so later rounds redo only sections with pending calls,
    // and only the files holding one get new edits (17 sections on the riscv64 bench).
    let mut relaxation = Relaxation::none();
    let mut places = Places::default();
    for round in 0..MAX_ROUNDS {
        let before = relaxation.total();
        places.place(res, &relaxation);
        let ctx = Context::new(enabled, text_span, image_span, &places, &relaxation);
        let redone = relax_round::<A>(res, &ctx, round == 0)?;
        if round == 0 {
            relaxation = Relaxation::from_files(redone.into_iter().map(|(_, f)| f).collect());
        } else {
            relaxation.replace(redone);
        }
        let pending = relaxation.pending();
        let done = !pending || relaxation.total() == before;
        tracing::debug!(round, deleted = relaxation.total(), pending, "relaxed");
        if done || !enabled {
            break;
        }
    }
    Ok(relaxation)
}

/// A file's new edits in a round (none when a later round leaves it as it was) and its errors.
type FileOutcome = (Option<(u32, FileEdits)>, Vec<Error>);

/// What relaxing one object reuses from the previous object on the same thread, so that a round
/// allocates only what it keeps.
#[derive(Default)]
struct Scratch {
    edits: SectionEdits,
    order: Vec<u32>,
}

/// One round: the edits of every file (`first`) or of the files with a pending section, each
/// pending section relaxed afresh against the places `ctx` gives and the others' kept from `ctx`'s
/// relaxation. Objects are relaxed in parallel, each into the same reused lists; errors come back
/// in link order.
fn relax_round<A: Arch>(
    res: &Resolved,
    ctx: &Context,
    first: bool,
) -> Result<Vec<(u32, FileEdits)>> {
    let previous = ctx.previous();
    let per_object: Vec<FileOutcome> = res
        .objects
        .par_iter()
        .enumerate()
        .map_init(Scratch::default, |scratch, (f, obj)| {
            let f = f as u32;
            let mut errors = Vec::new();
            let kept = previous.file(f);
            if !first && !kept.is_some_and(|k| k.pending()) {
                return (None, errors);
            }
            for (s, sec) in obj.sections.iter().enumerate() {
                let s32 = s as u32;
                if !res.live[f as usize][s]
                    || sec.relocs().is_empty()
                    || sec.class == SectionClass::Debug
                {
                    continue;
                }
                let kept = kept.and_then(|k| k.get(s32));
                if !first && !kept.is_some_and(|e| e.pending) {
                    if let Some(kept) = kept {
                        scratch.edits.keep(s32, kept);
                    }
                    continue;
                }
                crate::relax::by_offset(sec, &mut scratch.order);
                let targets = SectionTargets {
                    symbols: Symbols { res, file: f },
                    section: s32,
                    ctx,
                };
                let (edits, order) = (&mut scratch.edits, &scratch.order);
                match A::relax_section(&obj.name, sec, order, &targets, ctx, edits) {
                    Ok(()) => edits.end(s32),
                    Err(e) => {
                        edits.clear();
                        errors.push(e);
                    }
                }
            }
            (Some((f, scratch.edits.take())), errors)
        })
        .collect();
    let mut redone = Vec::with_capacity(if first { per_object.len() } else { 0 });
    let mut errors = Vec::new();
    for (file, e) in per_object {
        redone.extend(file);
        errors.extend(e);
    }
    Error::check(errors)?;
    Ok(redone)
}

/// One object's symbols as the arch sees them when pairing ([`Labels`]).
#[derive(Clone, Copy)]
pub(crate) struct Symbols<'a> {
    pub res: &'a Resolved<'a>,
    pub file: u32,
}

impl Symbols<'_> {
    /// The (file, section, offset) `symbol` is defined at, when in a section.
    fn place(&self, symbol: u32) -> Option<(u32, u32, u32)> {
        match self.res.target(self.file, symbol) {
            Target::Section {
                file,
                section,
                value,
            } => Some((file, section, value)),
            _ => None,
        }
    }
}

impl Labels for Symbols<'_> {
    fn label(&self, symbol: u32) -> Option<Label<'_>> {
        let (file, section, offset) = self.place(symbol)?;
        Some(Label {
            section: (file == self.file).then_some(section),
            offset,
            section_name: self.res.objects[file as usize].sections[section as usize].name,
        })
    }

    fn name(&self, symbol: u32) -> String {
        self.res.symbol_name(self.file, symbol)
    }
}

/// What one section's relaxation sees of its targets ([`Targets`]), in one round's places.
struct SectionTargets<'a> {
    symbols: Symbols<'a>,
    section: u32,
    ctx: &'a Context<'a>,
}

impl Targets for SectionTargets<'_> {
    fn distance(&self, offset: u32, symbol: u32, addend: i64) -> Option<u64> {
        let to = self.symbols.place(symbol)?;
        let from = (self.symbols.file, self.section, offset);
        self.ctx.text_distance(from, to, addend)
    }

    fn alignment(&self, symbol: u32, addend: i64) -> u64 {
        let Some((file, section, value)) = self.symbols.place(symbol) else {
            return 1;
        };
        let align = u64::from(
            self.symbols.res.objects[file as usize].sections[section as usize]
                .align
                .get(),
        );
        // Input alignments are not always powers of two: only their lowest bit is guaranteed.
        let at = i64::from(value).wrapping_add(addend) as u64;
        let lowest = |v: u64| v & v.wrapping_neg();
        match at {
            0 => lowest(align),
            _ => lowest(align).min(lowest(at)),
        }
    }

    fn in_text(&self, symbol: u32) -> bool {
        self.symbols.res.in_text(self.symbols.file, symbol)
    }
}

/// Section 1 of `res`'s first object relaxed by `A` as a first round would, over the spans
/// given: the arch files' relaxation tests.
#[cfg(test)]
pub(crate) fn relax_section_one<A: Arch>(
    res: &Resolved,
    enabled: bool,
    span: u64,
) -> Result<SectionEdits> {
    let none = Relaxation::none();
    let mut places = Places::default();
    places.place(res, &none);
    let ctx = Context::new(enabled, span, span, &places, &none);
    let targets = SectionTargets {
        symbols: Symbols { res, file: 0 },
        section: 1,
        ctx: &ctx,
    };
    let mut edits = SectionEdits::default();
    let obj = &res.objects[0];
    let mut order = Vec::new();
    crate::relax::by_offset(&obj.sections[1], &mut order);
    A::relax_section(
        &obj.name,
        &obj.sections[1],
        &order,
        &targets,
        &ctx,
        &mut edits,
    )?;
    Ok(edits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::Machine;
    use crate::resolve::OneObject;

    #[test]
    fn the_view_gives_alignment_in_text_and_labels_from_the_symbol_table() {
        let res = OneObject::new(Machine::Loongarch64)
            .section(".text", SectionClass::Text, 16, &[0; 32], vec![])
            .section(".data", SectionClass::Data, 12, &[0; 16], vec![])
            .symbol(b"code", 1, 8)
            .symbol(b"datum", 2, 0)
            .build();
        let none = Relaxation::none();
        let mut places = Places::default();
        places.place(&res, &none);
        let ctx = Context::new(true, u64::MAX, u64::MAX, &places, &none);
        let symbols = Symbols { res: &res, file: 0 };
        let targets = SectionTargets {
            symbols,
            section: 1,
            ctx: &ctx,
        };
        // The address's lowest set bit, capped by the section's alignment (only the lowest bit
        // of a non-power-of-two alignment holds).
        let aligns = [(1, 0), (1, 2), (1, 8), (2, 0), (2, 8)].map(|(s, a)| targets.alignment(s, a));
        assert_eq!(aligns, [8, 2, 16, 4, 4]);
        assert_eq!(
            targets.alignment(7, 0),
            1,
            "an undefined symbol is in no section"
        );
        assert!(targets.in_text(1) && !targets.in_text(2));
        assert_eq!(
            targets.distance(0, 1, 4),
            Some(12 + 15),
            "the slack is 16-byte alignment's"
        );
        assert_eq!(targets.distance(0, 2, 0), None, "data is not in .text");
        assert_eq!(
            symbols.label(2),
            Some(Label {
                section: Some(2),
                offset: 0,
                section_name: ".data",
            })
        );
        assert_eq!(
            (symbols.label(7), symbols.name(2).as_str()),
            (None, "datum")
        );
    }
}
