//! Input-section chunks: an input section's bytes, copied through relaxation's edits and relocated
//! by the fixups the scan decided; its base relocations are the absolute addresses the scan found
//! in it. DWARF sections are input chunks too, in their own output sections.
use super::chunk::unfit_error;
use super::{Chunk, ChunkKind, Layout};
use crate::arch::Arch;
use crate::baserel::BaseReloc;
use crate::error::{Error, RelocSite};
use crate::input::{Format, InputSection, SectionClass};
use crate::relax::Relaxation;
use crate::reloc::{self, Formula, Operands, RelocInfo};
use crate::resolve::{Resolved, Target};

/// The chunk of live section `section` of `file`: its size after relaxation's deletions (DWARF is
/// never relaxed).
pub fn chunk(relax: &Relaxation, file: u32, section: u32, sec: &InputSection) -> Chunk {
    let size = match sec.class {
        SectionClass::Debug => sec.size,
        _ => relax.size(file, section, sec),
    };
    Chunk {
        kind: ChunkKind::Input { file, section },
        rva: 0,
        size,
        align: sec.align.get(),
    }
}

pub(super) fn write<A: Arch>(
    res: &Resolved,
    layout: &Layout,
    chunk: &Chunk,
    file: u32,
    section: u32,
    out: &mut [u8],
    errors: &mut Vec<Error>,
) {
    let sec = &res.objects[file as usize].sections[section as usize];
    match layout.relax.edits(file, section) {
        Some(edits) => edits.copy(sec.data, out),
        None => out[..sec.data.len()].copy_from_slice(sec.data),
    }
    relocate::<A>(res, layout, file, section, chunk.rva, out, errors);
}

/// The absolute-address sites the scan found in the section, at their places after relaxation.
pub(super) fn base_relocs(
    layout: &Layout,
    chunk: &Chunk,
    file: u32,
    section: u32,
    out: &mut Vec<BaseReloc>,
) {
    let sites = layout.fixups[file as usize].sites_of(section);
    out.extend(sites.iter().map(|s| BaseReloc {
        rva: chunk.rva + layout.relax.map(file, section, s.offset.into()) as u32,
        typ: s.typ,
    }));
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
    let relocs = sec.relocs();
    let fixups = &layout.fixups[file as usize];
    for fx in fixups.of::<A>(section, sec, obj.format) {
        let (info, r) = (fx.info, relocs.get(fx.reloc as usize));
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
        if let Some(relaxed) = A::relaxation_of(info) {
            out[at.wrapping_add_signed(relaxed.at)] = relaxed.byte;
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
                Format::Coff => info.field.read(&out[at..]),
                Format::Elf => r.addend,
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
        .relocs()
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
