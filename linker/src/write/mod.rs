//! Writing: executes the layout's plan. The image is written in pieces, runs of consecutive
//! chunks that fill one stretch of the file (the padding before them included), in parallel; each
//! chunk fills its own slice of its piece (headers, section bytes relocated through the arch's
//! table, GOT, thunks, `.reloc`, the string table: [`crate::layout::chunk`]), and each piece is
//! summed for the PE checksum while its bytes are still in cache. A file is written piece by
//! piece from one small buffer per thread ([`Target::File`]), never holding the whole image, and
//! [`output`] commits it atomically. It decides nothing the layout did not.
use std::fs::File;
use std::path::Path;

use peln_pe::output::write_at;
use rayon::prelude::*;

pub mod output;

pub use output::{commit, Output, OutputFile};

use crate::arch::Arch;
use crate::error::{Error, Result};
use crate::layout::{Chunk, Layout};
use crate::resolve::Resolved;

/// A piece holds the chunks that fit in this many bytes from its first one's start (at least
/// that one; a piece ends with its output section too): about two hundred pieces for a 10 MiB
/// image, each written with one call and small enough to stay in a core's cache between being
/// filled, summed and written.
const PIECE: usize = 64 << 10;

/// Where the image goes.
pub enum Target<'a> {
    /// A zeroed buffer of the file's size, filled in place.
    Memory(&'a mut [u8]),
    /// An empty file, written piece by piece at the pieces' offsets; `path` names it in errors.
    /// Fresh memory costs more than the work of a link (a page fault each page, and in a VM
    /// the host's too): composing each piece in a reused buffer spares the 10 MiB of a large
    /// image, and its copy into the page cache is spread over the threads instead of one serial
    /// write at the end.
    File { file: &'a File, path: &'a Path },
}

/// Consecutive chunks of one output section and the stretch of the file they fill: from where
/// the previous piece ended (so the padding between sections is written too) to the end of the
/// last chunk (of the file, for the last piece).
struct Piece<'l> {
    chunks: &'l [Chunk],
    /// From a chunk's RVA to its file offset.
    delta: u32,
    start: usize,
    end: usize,
}

/// The pieces of the image, in file order, covering it end to end.
fn pieces(layout: &Layout) -> Vec<Piece<'_>> {
    let mut pieces: Vec<Piece> = Vec::new();
    let mut written = 0;
    for (mut run, delta) in layout.placed_runs() {
        let at = |c: &Chunk| c.rva.wrapping_add(delta) as usize;
        while let Some(first) = run.first() {
            let from = at(first);
            let n = 1 + run[1..]
                .iter()
                .take_while(|c| at(c) + c.size as usize - from <= PIECE)
                .count();
            let (chunks, rest) = run.split_at(n);
            run = rest;
            let last = &chunks[n - 1];
            let end = at(last) + last.size as usize;
            pieces.push(Piece {
                chunks,
                delta,
                start: written,
                end,
            });
            written = end;
        }
    }
    if let Some(last) = pieces.last_mut() {
        last.end = last.end.max(layout.file_size as usize);
    }
    pieces
}

/// Fills `out` (zeroed, the piece's length) with the piece's chunks and returns its checksum
/// sum, or the chunks' errors.
fn fill<A: Arch>(
    res: &Resolved,
    layout: &Layout,
    piece: &Piece,
    out: &mut [u8],
) -> std::result::Result<u64, Vec<Error>> {
    let mut errors = Vec::new();
    for chunk in piece.chunks {
        let at = chunk.rva.wrapping_add(piece.delta) as usize - piece.start;
        chunk.write_to::<A>(
            res,
            layout,
            &mut out[at..at + chunk.size as usize],
            &mut errors,
        );
    }
    if errors.is_empty() {
        Ok(peln_pe::headers::word_sum_at(out, piece.start))
    } else {
        Err(errors)
    }
}

/// Writes the image to `target`, the PE checksum included. Pieces are written in parallel and
/// errors gathered in file order: the bytes and the messages are the same whatever the number
/// of threads. On error a file may hold part of the image (its caller removes it).
pub fn image<A: Arch>(res: &Resolved, layout: &Layout, target: Target) -> Result {
    let pieces = pieces(layout);
    let len = layout.file_size as usize;
    let chunks = tracing::debug_span!("chunks");
    match target {
        Target::Memory(buf) => {
            let mut slices = Vec::with_capacity(pieces.len());
            let mut rest = &mut buf[..];
            for piece in &pieces {
                let (out, tail) = std::mem::take(&mut rest).split_at_mut(piece.end - piece.start);
                slices.push((piece, out));
                rest = tail;
            }
            let sums = chunks.in_scope(|| {
                (slices.into_par_iter())
                    .map(|(piece, out)| fill::<A>(res, layout, piece, out))
                    .collect()
            });
            buf[FIELD..FIELD + 4].copy_from_slice(&checksum(sums, len)?);
            Ok(())
        }
        Target::File { file, path } => {
            let io = |source| Error::Io {
                path: path.to_path_buf(),
                source,
            };
            // Per piece: its sum or its chunks' errors, and its write's failure.
            let written: Vec<_> = chunks.in_scope(|| {
                (pieces.par_iter())
                    .map_init(Vec::new, |buf, piece| {
                        buf.clear();
                        buf.resize(piece.end - piece.start, 0);
                        let sum = fill::<A>(res, layout, piece, buf);
                        let failed = sum.is_ok().then(|| write_at(file, buf, piece.start as u64));
                        (sum, failed.and_then(std::result::Result::err))
                    })
                    .collect()
            });
            let (sums, failures): (Vec<_>, Vec<_>) = written.into_iter().unzip();
            let checksum = checksum(sums, len)?;
            // A full disk fails every piece after the first that fails: said once, the first
            // in file order.
            if let Some(e) = failures.into_iter().flatten().next() {
                return Err(io(e));
            }
            write_at(file, &checksum, FIELD as u64).map_err(io)
        }
    }
}

/// The CheckSum field's bytes from the pieces' sums, or every piece's errors in file order. The
/// headers chunk left the field 0, so the pieces' sum is the one the field must hold.
fn checksum(sums: Vec<std::result::Result<u64, Vec<Error>>>, len: usize) -> Result<[u8; 4]> {
    let mut total = 0u64;
    let mut errors = Vec::new();
    for sum in sums {
        match sum {
            Ok(sum) => total += sum,
            Err(e) => errors.extend(e),
        }
    }
    Error::check(errors)?;
    Ok(peln_pe::headers::checksum_from_sum(total, len).to_le_bytes())
}

/// The PE32+ CheckSum field, where the headers chunk puts the PE header.
const FIELD: usize = peln_pe::headers::PE32PLUS_CHECKSUM;

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
        image::<Amd64>(res, &layout, Target::Memory(&mut buf)).unwrap();
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

    /// A file gets the image piece by piece, each composed in a reused buffer and written at its
    /// offset: the same bytes as the image written in memory, CheckSum included, where pieces
    /// start at odd offsets too (summed as the high halves of their words).
    #[test]
    fn an_image_written_to_a_file_is_the_one_written_in_memory() {
        let code: Vec<u8> = (0..70_001u32).map(|i| (i * 7 + i / 251) as u8).collect();
        let res = OneObject::new(Machine::Amd64)
            .section(".text", SectionClass::Text, 1, &code, vec![])
            .section(".text", SectionClass::Text, 1, &code, vec![])
            .section(".text", SectionClass::Text, 1, &code[..333], vec![])
            .symbol(b"entry", 1, 0)
            .build();
        let (layout, in_memory) = laid_out_and_written(&res);
        let starts: Vec<usize> = pieces(&layout).iter().map(|p| p.start).collect();
        assert!(
            starts.len() >= 4 && starts.iter().any(|s| s % 2 == 1),
            "{starts:?}"
        );

        let path = std::env::temp_dir().join(format!("peln-write-{}.efi", std::process::id()));
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        let written = image::<Amd64>(
            &res,
            &layout,
            Target::File {
                file: &file,
                path: &path,
            },
        );
        let on_disk = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        written.unwrap();
        assert!(
            on_disk == in_memory,
            "the file differs from the image in memory"
        );
        let field = peln_pe::headers::checksum_field(&on_disk).unwrap();
        let stored = u32::from_le_bytes(on_disk[field..field + 4].try_into().unwrap());
        assert_eq!(stored, peln_pe::headers::checksum(&on_disk, field));
        assert_ne!(stored, 0);
    }
}
