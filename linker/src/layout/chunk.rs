//! Everything that takes space in the image is a [`Chunk`] (lld's COFF `Chunk`): a small record
//! that layout orders and places, and behind its kind one file that knows that kind's size, bytes
//! and base relocations:
//!
//! | kind | file | bytes | base relocations |
//! |---|---|---|---|
//! | [`Headers`](ChunkKind::Headers) | `headers.rs` | DOS stub, PE headers, section table | none |
//! | [`Input`](ChunkKind::Input) | `section.rs` | an input section through relaxation, relocated | its absolute addresses |
//! | [`Common`](ChunkKind::Common) | `common.rs` | none: zeroes | none |
//! | [`Got`](ChunkKind::Got) | `got.rs` | each slot's target address | slots of movable targets |
//! | [`Thunk`](ChunkKind::Thunk) | `thunks.rs` | the arch's thunk code per destination | none: PC-relative |
//! | [`BaseRelocs`](ChunkKind::BaseRelocs) | `base_relocs.rs` | the `.reloc` blocks | none |
//! | [`StringTable`](ChunkKind::StringTable) | `strtab.rs` | long section names | none |
//!
//! A kind makes its record with its size and alignment; layout gives it an RVA; the writer hands
//! each chunk its own zeroed slice of the image and asks it to fill it. Padding between chunks is
//! the zeroes they leave. The `match`es here are the only places that tell kinds apart.
use super::{base_relocs, got, headers, section, strtab, thunks, Layout};
use crate::arch::Arch;
use crate::baserel::BaseReloc;
use crate::error::{Error, RelocSite};
use crate::reloc;
use crate::resolve::Resolved;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkKind {
    /// At file offset and RVA 0, [`Layout::size_of_headers`] long.
    Headers,
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
    /// after the last section, at [`strtab::StringTable::offset`], and mapped nowhere (RVA 0).
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

impl Chunk {
    /// Fills `out`, the chunk's own slice of the image (zeroed, `size` bytes), once every chunk is
    /// placed. Errors that depend on addresses (a relocation out of range) are added to `errors`.
    pub fn write_to<A: Arch>(
        &self,
        res: &Resolved,
        layout: &Layout,
        out: &mut [u8],
        errors: &mut Vec<Error>,
    ) {
        match self.kind {
            ChunkKind::Headers => headers::write(layout, A::MACHINE.pe_machine(), out),
            ChunkKind::Input { file, section } => {
                section::write::<A>(res, layout, self, file, section, out, errors)
            }
            ChunkKind::Common(_) => {}
            ChunkKind::Got => got::write(layout, out),
            ChunkKind::Thunk(group) => thunks::write::<A>(res, layout, self, group, out, errors),
            ChunkKind::BaseRelocs => base_relocs::write(layout, out),
            ChunkKind::StringTable => strtab::write(&layout.strtab, out),
        }
    }

    /// Adds the places in the chunk the loader patches when it moves the image (lld's
    /// `getBaserels`), once the chunk has its RVA: `.reloc` is made from what every chunk adds.
    pub fn base_relocs(&self, layout: &Layout, out: &mut Vec<BaseReloc>) {
        match self.kind {
            ChunkKind::Input { file, section } => {
                section::base_relocs(layout, self, file, section, out)
            }
            ChunkKind::Got => got::base_relocs(layout, self, out),
            ChunkKind::Headers
            | ChunkKind::Common(_)
            | ChunkKind::Thunk(_)
            | ChunkKind::BaseRelocs
            | ChunkKind::StringTable => {}
        }
    }
}

/// The error for a value [`reloc::apply`] refused in a chunk's bytes, `target` being the address
/// it points at.
pub(super) fn unfit_error(site: RelocSite, unfit: reloc::Unfit, target: u64) -> Error {
    let site = Box::new(site);
    match unfit {
        reloc::Unfit::Range { value, range } => Error::RelocOverflow { site, value, range },
        reloc::Unfit::Align { align, .. } => Error::RelocMisaligned {
            site,
            target,
            align,
        },
    }
}
