//! The `.reloc` chunk: every chunk's base relocations, sorted by RVA and deduplicated, encoded in
//! 4 KiB page blocks by `peln-pe`'s encoder. It is made after every other mapped chunk has its RVA
//! and needs none of its own.
use rayon::prelude::*;

use super::{Chunk, ChunkKind, Got, Layout, ObjectFixups};
use crate::baserel::{self, BaseReloc};

/// Whether there will be a `.reloc` chunk, known before RVAs exist (the headers count its
/// section header): whether any chunk kind with base relocations will have one, an input section
/// an absolute address or the GOT a slot of a movable target.
pub fn needed(fixups: &[ObjectFixups], got: &Got) -> bool {
    fixups.iter().any(|f| f.site_count() > 0) || got.has_base_relocs()
}

/// What every chunk of `layout` asks the loader to patch, in ascending RVA order, each RVA once;
/// gathered for runs of chunks in parallel, then joined in chunk order.
pub fn collect(layout: &Layout) -> Vec<BaseReloc> {
    let runs: Vec<Vec<BaseReloc>> = (layout.chunks.par_chunks(4096))
        .map(|run| {
            let mut relocs = Vec::new();
            for c in run {
                c.base_relocs(layout, &mut relocs);
            }
            relocs
        })
        .collect();
    let sites = layout.fixups.iter().map(|f| f.site_count()).sum::<usize>();
    let mut relocs: Vec<BaseReloc> = Vec::with_capacity(sites + layout.got.slots.len());
    for run in runs {
        relocs.extend(run);
    }
    relocs.sort_by_key(|r| r.rva);
    relocs.dedup_by_key(|r| r.rva);
    relocs
}

/// The chunk holding `relocs` at `rva`.
pub fn chunk(relocs: &[BaseReloc], rva: u32) -> Chunk {
    Chunk {
        kind: ChunkKind::BaseRelocs,
        rva,
        size: baserel::encoded_size(relocs),
        align: 4,
    }
}

pub(super) fn write(layout: &Layout, out: &mut [u8]) {
    baserel::encode(&layout.base_relocs, out);
}
