//! Writing: fills the image buffer from the layout (headers, then every chunk: section bytes, GOT,
//! thunks, `.reloc`, the string table), applies the scan's fixups through the arch's table and computes the PE
//! checksum; [`output`] commits the file atomically. It decides nothing the layout did not.
use rayon::prelude::*;

pub mod output;
pub mod pe;

pub use output::{commit, Output, OutputFile};

use crate::arch::Arch;
use crate::baserel;
use crate::error::{Error, RelocSite, Result};
use crate::layout::{Chunk, ChunkKind, Layout, GOT_ENTRY_SIZE};
use crate::reloc::{self, Formula, Operands, RelocInfo};
use crate::resolve::{Resolved, Target};
use pe::Header;

/// Fills `buf` (zeroed, `layout.file_size` bytes) with the image. Chunks are copied and
/// relocated in parallel, each into its own slice of the buffer, and errors are gathered in chunk
/// order: the bytes and the messages are the same whatever the number of threads.
pub fn image<A: Arch>(res: &Resolved, layout: &Layout, header: &Header, buf: &mut [u8]) -> Result {
    pe::write_headers(buf, layout, header, A::MACHINE.pe_machine());

    let mut slices: Vec<(&Chunk, &mut [u8])> = Vec::with_capacity(layout.chunks.len());
    let mut rest = &mut buf[..];
    let mut consumed = 0usize;
    for (chunk, at) in layout.placements() {
        let at = at as usize;
        let (_, tail) = std::mem::take(&mut rest).split_at_mut(at - consumed);
        let (out, tail) = tail.split_at_mut(chunk.size as usize);
        rest = tail;
        consumed = at + chunk.size as usize;
        slices.push((chunk, out));
    }
    // Only chunks with errors give a list: most give none, and collecting 100k empty ones costs.
    let errors: Vec<Vec<Error>> = tracing::debug_span!("chunks").in_scope(|| {
        slices
            .into_par_iter()
            .filter_map(|(chunk, out)| {
                let mut errors = Vec::new();
                write_chunk::<A>(res, layout, chunk, out, &mut errors);
                (!errors.is_empty()).then_some(errors)
            })
            .collect()
    });
    let errors: Vec<Error> = errors.into_iter().flatten().collect();
    Error::check(errors)?;

    tracing::debug_span!("checksum").in_scope(|| pe::write_checksum(buf));
    Ok(())
}

fn write_chunk<A: Arch>(
    res: &Resolved,
    layout: &Layout,
    chunk: &Chunk,
    out: &mut [u8],
    errors: &mut Vec<Error>,
) {
    match chunk.kind {
        ChunkKind::Input { file, section: s } => {
            let sec = &res.objects[file as usize].sections[s as usize];
            match layout.relax.edits(file, s) {
                Some(edits) => edits.copy(sec.data, out),
                None => out[..sec.data.len()].copy_from_slice(sec.data),
            }
            relocate::<A>(res, layout, file, s, chunk.rva, out, errors);
        }
        ChunkKind::Got => {
            for (i, &t) in layout.got.slots.iter().enumerate() {
                let at = i * GOT_ENTRY_SIZE as usize;
                out[at..at + 8].copy_from_slice(&layout.address(t).to_le_bytes());
            }
        }
        ChunkKind::Common(_) => {}
        ChunkKind::Thunk(g) => write_thunks::<A>(res, layout, g, chunk.rva, out, errors),
        ChunkKind::BaseRelocs => baserel::encode(&layout.base_relocs, out),
        ChunkKind::StringTable => {
            // Its size counts the size field itself.
            out[..4].copy_from_slice(&chunk.size.to_le_bytes());
            out[4..].copy_from_slice(&layout.strtab);
        }
    }
}

/// Applies the fixups the scan decided for one input section to its bytes in the output buffer
/// (already copied through the relaxation edits, as the fixups' offsets are).
fn relocate<A: Arch>(
    res: &Resolved,
    layout: &Layout,
    file: u32,
    section: u32,
    rva: u32,
    out: &mut [u8],
    errors: &mut Vec<Error>,
) {
    let obj = &res.objects[file as usize];
    let sec = &obj.sections[section as usize];
    let fixups = &layout.fixups[file as usize];
    for fx in fixups.of(section) {
        let (info, r) = (fx.info, sec.relocs.get(fx.reloc as usize));
        let at = fx.offset as usize;
        let error = |reason: String| Error::BadRelocation {
            reloc: info.name,
            file: obj.name.clone(),
            section: sec.name.to_string(),
            offset: r.offset.into(),
            reason,
        };
        if at + info.field.size() > out.len() {
            errors.push(error(format!(
                "field of {} bytes does not fit in a section of {} bytes",
                info.field.size(),
                out.len()
            )));
            continue;
        }
        if let Some((from_field, byte)) = fx.opcode {
            out[at.wrapping_add_signed(from_field.into())] = byte;
        }
        let p = layout.image_base + u64::from(rva) + u64::from(fx.offset);
        let (value, target) = if info.formula == Formula::PcrelLo {
            let Some(hi) = fixups.hi20(section, fx.reloc) else {
                errors.push(error("no HI20 relocation pairs with it".into()));
                continue;
            };
            let v = hi20_value(res, layout, file, hi);
            (v, v as u64)
        } else {
            let a = match obj.format {
                crate::input::Format::Coff => info.field.read(&out[at..]),
                crate::input::Format::Elf => r.addend,
            };
            let target = res.target(file, r.symbol);
            let mut ops = operands(layout, info.formula, target, a, p);
            if matches!(info.formula, Formula::Add | Formula::Sub) {
                ops.v = info.field.read(&out[at..]);
            }
            if let Some(s) = via_thunk::<A>(layout, info, file, section, target, a) {
                (ops.s, ops.a) = (s, 0);
            }
            (reloc::evaluate(info, &ops), ops.target(info.formula))
        };
        if let Err(unfit) = reloc::apply(info, &mut out[at..], value) {
            let site = RelocSite {
                reloc: info.name,
                symbol: res.symbol_name(file, r.symbol),
                file: obj.name.clone(),
                section: sec.name.to_string(),
                offset: r.offset.into(),
            };
            errors.push(unfit_error(site, unfit, target));
        }
    }
}

/// The error for a value `reloc::apply` refused, `target` being the address it points at.
fn unfit_error(site: RelocSite, unfit: reloc::Unfit, target: u64) -> Error {
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

/// S, G and the rest `formula` uses for a relocation to `target` with addend `a` at address `p`
/// (the GOT slot and output section are looked up only when it needs them); V (the field's own
/// value, for ADD/SUB) is left to the caller, which has the field.
fn operands(layout: &Layout, formula: Formula, target: Target, a: i64, p: u64) -> Operands {
    let s = layout.address(target);
    let needs_section = matches!(formula, Formula::SecRel | Formula::SectionIndex);
    let section = (needs_section && target.is_relocatable())
        .then(|| layout.section_of(s.wrapping_sub(layout.image_base) as u32))
        .flatten();
    let (section_start, section_index) = match section {
        Some(i) => (
            layout.image_base + u64::from(layout.sections[i].rva),
            i as u16 + 1,
        ),
        None => (0, 0),
    };
    Operands {
        s,
        a,
        p,
        g: formula
            .needs_got_slot()
            .then(|| layout.got.slot_rva(target))
            .flatten()
            .map_or(0, |g| layout.image_base + u64::from(g)),
        got: layout.image_base + u64::from(layout.got.rva),
        image_base: layout.image_base,
        section_start,
        section_index,
        v: 0,
    }
}

/// The value of the HI20 relocation `(section, index, type)` of `file` that a PCREL_LO12 takes
/// the low 12 bits of (paired by the scan).
fn hi20_value(
    res: &Resolved,
    layout: &Layout,
    file: u32,
    (section, index, info): (u32, u32, &'static RelocInfo),
) -> i64 {
    let hi = res.objects[file as usize].sections[section as usize]
        .relocs
        .get(index as usize);
    let p = layout.address(Target::Section {
        file,
        section,
        value: hi.offset,
    });
    reloc::evaluate(
        info,
        &operands(
            layout,
            info.formula,
            res.target(file, hi.symbol),
            hi.addend,
            p,
        ),
    )
}

/// A branch that cannot reach its destination goes to the thunk layout placed for it.
fn via_thunk<A: Arch>(
    layout: &Layout,
    info: &RelocInfo,
    file: u32,
    section: u32,
    target: Target,
    a: i64,
) -> Option<u64> {
    if A::THUNK?.branch != info.field {
        return None;
    }
    let rva = layout.thunks.rva(file, section, target, a)?;
    Some(layout.image_base + u64::from(rva))
}

/// Fills one group of range-extension thunks: the arch's thunk code, relocated to each destination.
fn write_thunks<A: Arch>(
    res: &Resolved,
    layout: &Layout,
    group: u32,
    rva: u32,
    out: &mut [u8],
    errors: &mut Vec<Error>,
) {
    let Some(thunk) = A::THUNK else {
        return;
    };
    let g = &layout.thunks.groups[group as usize];
    let obj = &res.objects[g.file as usize];
    for (i, dest) in g.dests.iter().enumerate() {
        let at = i * thunk.code.len();
        let code = &mut out[at..at + thunk.code.len()];
        code.copy_from_slice(thunk.code);
        for (off, info) in thunk.relocs {
            let ops = Operands {
                s: layout.address(dest.target),
                a: dest.addend,
                p: layout.image_base + u64::from(rva) + (at as u64) + u64::from(*off),
                ..Operands::default()
            };
            let value = reloc::evaluate(info, &ops);
            if let Err(unfit) = reloc::apply(info, &mut code[*off as usize..], value) {
                let site = RelocSite {
                    reloc: info.name,
                    symbol: res.symbol_name(g.file, dest.symbol),
                    file: obj.name.clone(),
                    section: format!("thunks after {}", obj.sections[g.section as usize].name),
                    offset: (at as u64) + u64::from(*off),
                };
                errors.push(unfit_error(site, unfit, ops.target(info.formula)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::pe::Subsystem;
    use super::*;
    use crate::arch::amd64::Amd64;
    use crate::consts::{BaseRelocType, Machine};
    use crate::input::{Reloc, SectionClass};
    use crate::layout::OutputKind;
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
        };
        let layout = crate::layout::compute::<Amd64>(res, Relaxation::none(), &opts).unwrap();
        let header = Header {
            subsystem: Subsystem::EfiApplication,
            subsystem_version: (0, 0),
            dll: false,
            timestamp: 0,
            low_image: false,
        };
        let mut buf = vec![0u8; layout.file_size as usize];
        image::<Amd64>(res, &layout, &header, &mut buf).unwrap();
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
        assert_eq!(layout.file_size, layout.strtab_offset + strtab.size);
        let u32_at = |at: usize| u32::from_le_bytes(buf[at..at + 4].try_into().unwrap());
        let pe = u32_at(0x3c) as usize;
        assert_eq!(
            u32_at(pe + 12),
            layout.strtab_offset,
            "PointerToSymbolTable"
        );
        let at = layout.strtab_offset as usize;
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
