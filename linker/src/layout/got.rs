//! The GOT chunk: one 8-byte slot per target that GOT-indirect relocations name, holding the
//! target's address; the slots of targets that move with the image get DIR64 base relocations.
use rustc_hash::FxHashMap;

use super::{Chunk, ChunkKind, Layout};
use crate::baserel::{BaseReloc, BaseRelocType};
use crate::resolve::Target;

pub const GOT_ENTRY_SIZE: u32 = 8;

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

    /// The GOT's chunk, when there is a GOT: when a slot is needed, or when some relocation
    /// addresses the GOT itself (`uses_base`), which then exists even with no slot.
    pub fn chunk(&self, uses_base: bool) -> Option<Chunk> {
        (!self.slots.is_empty() || uses_base).then(|| Chunk {
            kind: ChunkKind::Got,
            rva: 0,
            size: self.slots.len() as u32 * GOT_ENTRY_SIZE,
            align: GOT_ENTRY_SIZE,
        })
    }

    /// Whether the GOT chunk will have base relocations, known before it has an RVA.
    pub fn has_base_relocs(&self) -> bool {
        self.slots.iter().any(|t| t.is_relocatable())
    }
}

pub(super) fn write(layout: &Layout, out: &mut [u8]) {
    for (i, &t) in layout.got.slots.iter().enumerate() {
        let at = i * GOT_ENTRY_SIZE as usize;
        out[at..at + 8].copy_from_slice(&layout.address(t).to_le_bytes());
    }
}

pub(super) fn base_relocs(layout: &Layout, chunk: &Chunk, out: &mut Vec<BaseReloc>) {
    out.extend(
        (layout.got.slots.iter().enumerate())
            .filter(|(_, t)| t.is_relocatable())
            .map(|(i, _)| BaseReloc {
                rva: chunk.rva + i as u32 * GOT_ENTRY_SIZE,
                typ: BaseRelocType::Dir64,
            }),
    );
}
