//! COMMON chunks: one per COMMON symbol that won, in `.bss`, so zeroes with no file bytes and
//! nothing to write or relocate.
use super::{Chunk, ChunkKind};
use crate::error::{Error, Result};
use crate::resolve::Common;

/// The chunk of COMMON `index`: its size, and its alignment up to a page.
pub fn chunk(index: u32, common: &Common) -> Result<Chunk> {
    Ok(Chunk {
        kind: ChunkKind::Common(index),
        rva: 0,
        size: u32::try_from(common.size).map_err(|_| Error::ImageTooLarge { size: common.size })?,
        align: common.align.clamp(1, 4096) as u32,
    })
}
