//! Writing: executes the layout's plan. Each placed chunk gets its own slice of the image buffer
//! and fills it itself (headers, section bytes relocated through the arch's table, GOT, thunks,
//! `.reloc`, the string table: [`crate::layout::chunk`]); then the PE checksum is computed over
//! the whole, and [`output`] commits the file atomically. It decides nothing the layout did not.
use rayon::prelude::*;

pub mod output;

pub use output::{commit, Output, OutputFile};

use crate::arch::Arch;
use crate::error::{Error, Result};
use crate::layout::{Chunk, Layout};
use crate::resolve::Resolved;

/// Chunks are written in tasks of this many consecutive ones, each task with one slice of the
/// buffer: a few hundred slices for a large link rather than one per chunk (a 3 MiB list of
/// 130k of them, filled serially, for the 1000-object bench job).
const RUN: usize = 256;

/// Fills `buf` (zeroed, `layout.file_size` bytes) with the image. Chunks are written in parallel,
/// each into its own slice of the buffer, and errors are gathered in chunk order: the bytes and
/// the messages are the same whatever the number of threads.
pub fn image<A: Arch>(res: &Resolved, layout: &Layout, buf: &mut [u8]) -> Result {
    // (chunks, step from a chunk's RVA to its offset in the task's slice, the slice).
    let mut tasks: Vec<(&[Chunk], u32, &mut [u8])> = Vec::new();
    let mut rest = &mut buf[..];
    let mut consumed = 0usize;
    for (run, delta) in layout.placed_runs() {
        for part in run.chunks(RUN) {
            let at = |c: &Chunk| c.rva.wrapping_add(delta) as usize;
            let last = &part[part.len() - 1];
            let (start, end) = (at(&part[0]), at(last) + last.size as usize);
            let (_, tail) = std::mem::take(&mut rest).split_at_mut(start - consumed);
            let (out, tail) = tail.split_at_mut(end - start);
            rest = tail;
            consumed = end;
            tasks.push((part, delta.wrapping_sub(start as u32), out));
        }
    }
    // Only tasks with errors give a list: most give none.
    let errors: Vec<Vec<Error>> = tracing::debug_span!("chunks").in_scope(|| {
        tasks
            .into_par_iter()
            .filter_map(|(part, delta, out)| {
                let mut errors = Vec::new();
                for chunk in part {
                    let at = chunk.rva.wrapping_add(delta) as usize;
                    let out = &mut out[at..at + chunk.size as usize];
                    chunk.write_to::<A>(res, layout, out, &mut errors);
                }
                (!errors.is_empty()).then_some(errors)
            })
            .collect()
    });
    let errors: Vec<Error> = errors.into_iter().flatten().collect();
    Error::check(errors)?;

    tracing::debug_span!("checksum").in_scope(|| write_checksum(buf));
    Ok(())
}

/// The PE checksum over the whole image, into its CheckSum field (the PE header at 0x80, where
/// the headers chunk puts it, still 0). The words are summed 1 MiB at a time in parallel: one
/// pass over a 10 MiB image is a serial 3 ms otherwise, and integer sums are the same in any order.
fn write_checksum(buf: &mut [u8]) {
    const FIELD: usize = peln_pe::headers::PE32PLUS_CHECKSUM;
    debug_assert_eq!(buf[FIELD..FIELD + 4], [0; 4]);
    let sum = buf
        .par_chunks(1 << 20)
        .map(peln_pe::headers::word_sum)
        .sum();
    let sum = peln_pe::headers::checksum_from_sum(sum, buf.len());
    buf[FIELD..FIELD + 4].copy_from_slice(&sum.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::amd64::Amd64;
    use crate::consts::{BaseRelocType, Machine};
    use crate::input::{Reloc, SectionClass};
    use crate::layout::{ChunkKind, Header, OutputKind};
    use crate::relax::Relaxation;
    use crate::resolve::OneObject;

    const R_X86_64_64: u32 = 1;
    const R_X86_64_PLT32: u32 = 4;

    /// `res` laid out at lld-link's default image base for amd64, and the image written.
    fn laid_out_and_written(res: &Resolved) -> (Layout, Vec<u8>) {
        let opts = crate::layout::Options {
            image_base: 0x1_4000_0000,
            allow_absolute32: false,
            sections: Default::default(),
            header: Header::default(),
        };
        let layout = crate::layout::compute::<Amd64>(res, Relaxation::none(), &opts).unwrap();
        let mut buf = vec![0u8; layout.file_size as usize];
        image::<Amd64>(res, &layout, &mut buf).unwrap();
        (layout, buf)
    }

    /// `call data_fn` at .text+1, and an 8-byte pointer to `data_fn` in .data: one PC-relative
    /// and one absolute relocation, laid out and written by hand-built input.
    #[test]
    fn laid_out_and_written_from_a_hand_built_object() {
        let res = OneObject::new(Machine::Amd64)
            .section(
                ".text",
                SectionClass::Text,
                16,
                &[0xe8, 0, 0, 0, 0, 0xc3, 0x90, 0x90, 0xc3],
                vec![Reloc {
                    offset: 1,
                    r_type: R_X86_64_PLT32,
                    symbol: 1,
                    addend: -4,
                }],
            )
            .section(
                ".data",
                SectionClass::Data,
                8,
                &[0; 8],
                vec![Reloc {
                    offset: 0,
                    r_type: R_X86_64_64,
                    symbol: 1,
                    addend: 0,
                }],
            )
            .symbol(b"data_fn", 1, 8)
            .build();
        let (layout, buf) = laid_out_and_written(&res);
        let text = layout.section(OutputKind::Text).unwrap();
        let data = layout.section(OutputKind::Data).unwrap();
        assert_eq!((text.rva, data.rva), (0x1000, 0x2000));
        assert_eq!(layout.base_relocs.len(), 1, "the pointer, nothing else");
        assert_eq!(layout.base_relocs[0].rva, data.rva);
        assert_eq!(layout.base_relocs[0].typ, BaseRelocType::Dir64);

        let at = |s: &crate::layout::OutputSection, off: usize| s.file_offset as usize + off;
        // call rel32: target .text+8, from the end of the 5-byte call.
        assert_eq!(buf[at(text, 1)..at(text, 5)], 3i32.to_le_bytes());
        assert_eq!(
            buf[at(data, 0)..at(data, 8)],
            (0x1_4000_1008u64).to_le_bytes()
        );
        // `.reloc` is a chunk like the others: one page block, DIR64 at page offset 0, padded.
        let reloc = layout.section(OutputKind::Reloc).unwrap();
        let kinds: Vec<ChunkKind> = layout.chunks[reloc.chunks.clone()]
            .iter()
            .map(|c| c.kind)
            .collect();
        assert_eq!(kinds, [ChunkKind::BaseRelocs]);
        assert_eq!(
            buf[at(reloc, 0)..at(reloc, 12)],
            [0x00, 0x20, 0, 0, 12, 0, 0, 0, 0x00, 0xa0, 0, 0]
        );
    }

    /// A DWARF section's name does not fit a section header: the header says `/4`, and the
    /// string table chunk after the last section holds the name, where PointerToSymbolTable says.
    #[test]
    fn long_section_names_go_to_the_string_table_chunk() {
        let res = OneObject::new(Machine::Amd64)
            .section(".text", SectionClass::Text, 16, &[0xc3], vec![])
            .section(".debug_info", SectionClass::Debug, 1, &[1, 2, 3], vec![])
            .symbol(b"entry", 1, 0)
            .build();
        let (layout, buf) = laid_out_and_written(&res);
        let strtab = layout.chunks.last().unwrap();
        assert_eq!(strtab.kind, ChunkKind::StringTable);
        assert_eq!(layout.file_size, layout.strtab.offset + strtab.size);
        let u32_at = |at: usize| u32::from_le_bytes(buf[at..at + 4].try_into().unwrap());
        let pe = u32_at(0x3c) as usize;
        assert_eq!(
            u32_at(pe + 12),
            layout.strtab.offset,
            "PointerToSymbolTable"
        );
        let at = layout.strtab.offset as usize;
        assert_eq!(&buf[at..], b"\x10\0\0\0.debug_info\0");
        let info = crate::consts::DEBUG_SECTIONS
            .iter()
            .position(|n| *n == ".debug_info")
            .unwrap();
        let debug = layout.section(OutputKind::Debug(info as u8)).unwrap();
        assert_eq!(&buf[debug.file_offset as usize..][..3], [1, 2, 3]);
        // The second header, after .text's: the name refers to offset 4 of the table.
        let headers = pe + 24 + 240;
        assert_eq!(&buf[headers + 40..headers + 48], b"/4\0\0\0\0\0\0");
    }
}
