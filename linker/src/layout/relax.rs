//! The relaxation phase: rounds of the arch's per-section decisions ([`Arch::relax_section`])
//! until deleting more bytes brings no further call in reach. What a round decides, and how
//! offsets map through it, is [`crate::relax`]'s; this module only drives the rounds.
use rayon::prelude::*;

use crate::arch::Arch;
use crate::error::{Error, Result};
use crate::input::SectionClass;
use crate::relax::{Context, FileEdits, Relaxation, SectionEdits};
use crate::resolve::Resolved;

/// Rounds of relaxation before the last one's decisions stand (each is sound on its own).
const MAX_ROUNDS: usize = 8;

pub fn relax<A: Arch>(res: &Resolved, enabled: bool) -> Result<Relaxation> {
    if !A::EDITS_SECTIONS {
        return Ok(Relaxation::none());
    }
    let span = |class: Option<SectionClass>| -> u64 {
        res.objects
            .iter()
            .enumerate()
            .flat_map(|(f, o)| {
                o.sections
                    .iter()
                    .enumerate()
                    .filter(move |(s, sec)| res.live[f][*s] && class.is_none_or(|c| sec.class == c))
            })
            .map(|(_, sec)| {
                let got = if class.is_none() {
                    8 * sec.relocs.len() as u64
                } else {
                    0
                };
                u64::from(sec.size) + u64::from(sec.align) + got
            })
            .sum()
    };
    // Output sections start on 4 KiB boundaries; the 8 bytes per relocation bound the GOT.
    let commons: u64 = res.commons.iter().map(|c| c.size + c.align).sum();
    let (text_span, image_span) = (
        span(Some(SectionClass::Text)),
        span(None) + commons + 6 * 0x1000,
    );
    // Each round decides afresh from the places the previous round's deletions give. Deleting
    // only shrinks distances, so what one round relaxes the next relaxes too, and a round that
    // deletes no more than the one before has reached the fixed point.
    // A section with no pending call would come out of another round the same (its ALIGN cuts
    // depend only on its own deletions), so later rounds redo only sections with pending calls.
    let mut relaxation = Relaxation::none();
    for round in 0..MAX_ROUNDS {
        let before = relaxation.total();
        let ctx = Context::new(res, enabled, text_span, image_span, &relaxation);
        let next = relax_round::<A>(res, &ctx, |f, s| {
            round == 0 || relaxation.edits(f, s).is_some_and(|e| e.pending)
        })?;
        drop(ctx);
        relaxation = next;
        let pending = relaxation.pending();
        let done = !pending || relaxation.total() == before;
        tracing::debug!(round, deleted = relaxation.total(), pending, "relaxed");
        if done || !enabled {
            break;
        }
    }
    Ok(relaxation)
}

/// One round: every file's edits, the sections for which `redo` says so relaxed afresh against
/// the places `ctx` gives, the others' kept from `ctx`'s relaxation. Objects are relaxed in
/// parallel, each section into the same cleared lists; errors come back in link order.
fn relax_round<A: Arch>(
    res: &Resolved,
    ctx: &Context,
    redo: impl Fn(u32, u32) -> bool + Sync,
) -> Result<Relaxation> {
    let per_object: Vec<(FileEdits, Vec<Error>)> = res
        .objects
        .par_iter()
        .enumerate()
        .map(|(f, obj)| {
            let mut errors = Vec::new();
            let mut file = FileEdits::default();
            let mut scratch = SectionEdits::default();
            let sections = obj.sections.len();
            for (s, sec) in obj.sections.iter().enumerate() {
                let (f, s32) = (f as u32, s as u32);
                if !res.live[f as usize][s]
                    || sec.relocs.is_empty()
                    || sec.class == SectionClass::Debug
                {
                    continue;
                }
                if !redo(f, s32) {
                    if let Some(kept) = ctx.previous().edits(f, s32) {
                        file.push(sections, s32, kept);
                    }
                    continue;
                }
                scratch.clear();
                match A::relax_section(res, f, s32, ctx, &mut scratch) {
                    Ok(()) => file.push(sections, s32, scratch.view()),
                    Err(e) => errors.push(e),
                }
            }
            (file, errors)
        })
        .collect();
    let (files, errors): (Vec<_>, Vec<_>) = per_object.into_iter().unzip();
    Error::check(errors.into_iter().flatten().collect())?;
    Ok(Relaxation::from_files(files))
}
