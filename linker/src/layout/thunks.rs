//! Range-extension thunks (lld `Thunks.cpp`, mold `thunks.cc`): a direct branch whose destination
//! is beyond its reach goes instead to a small stub, placed right after the branch's own input
//! section, and the stub reaches the destination. One stub per (calling section, destination).
//!
//! Decided before RVAs exist, from offsets inside `.text`: `.text` is the first output section and
//! starts page-aligned whatever the size of the headers, and no chunk aligns beyond a page, so
//! distances between text chunks are already final. Placing thunks moves the code after them,
//! which can push another branch out of reach, so planning repeats until a pass adds nothing;
//! thunks are never removed, so it ends. Only destinations inside `.text` get thunks: code does not
//! branch anywhere else, and a branch to an absolute or missing address still gets its overflow
//! error. No arch here both relaxes and uses thunks, so offsets are the inputs' own.
//!
//! A thunk chunk holds one group: the arch's thunk code once per destination, relocated to it
//! PC-relatively (no base relocations).
use std::ops::Range;

use rustc_hash::FxHashMap;

use super::chunk::unfit_error;
use super::{Chunk, ChunkKind, Layout, ObjectFixups};
use crate::arch::Arch;
use crate::error::{Error, RelocSite};
use crate::input::Format;
use crate::reloc::{self, Field, Operands, RelocInfo};
use crate::resolve::{Resolved, Target};

/// Every ISA with thunks here has 4-byte instructions.
const THUNK_ALIGN: u32 = 4;

#[derive(Clone, Copy, Debug)]
pub struct Destination {
    pub target: Target,
    pub addend: i64,
    /// The symbol the first branch named (an index into the calling file's symbols), for errors.
    pub symbol: u32,
}

/// The thunks after one input section, one per destination, each the arch's thunk code long.
#[derive(Debug)]
pub struct ThunkGroup {
    pub file: u32,
    pub section: u32,
    pub dests: Vec<Destination>,
    pub rva: u32,
}

#[derive(Debug, Default)]
pub struct Thunks {
    pub groups: Vec<ThunkGroup>,
    /// Calling section → group.
    callers: FxHashMap<(u32, u32), u32>,
    /// (calling file, calling section, target, addend) → (group, slot).
    index: FxHashMap<(u32, u32, Target, i64), (u32, u32)>,
    stride: u32,
}

impl Thunks {
    /// The thunk chunks [`plan`] inserted: one per group.
    pub fn chunks(&self) -> usize {
        self.groups.len()
    }

    /// The RVA of the thunk that a branch in `file`/`section` to `target + addend` goes through.
    pub fn rva(&self, file: u32, section: u32, target: Target, addend: i64) -> Option<u32> {
        let &(g, slot) = self.index.get(&(file, section, target, addend))?;
        Some(self.groups[g as usize].rva + slot * self.stride)
    }

    fn add(&mut self, b: &Branch) {
        let groups = &mut self.groups;
        let g = *self.callers.entry((b.file, b.section)).or_insert_with(|| {
            groups.push(ThunkGroup {
                file: b.file,
                section: b.section,
                dests: Vec::new(),
                rva: 0,
            });
            groups.len() as u32 - 1
        });
        let dests = &mut groups[g as usize].dests;
        self.index.insert(
            (b.file, b.section, b.target, b.addend),
            (g, dests.len() as u32),
        );
        dests.push(Destination {
            target: b.target,
            addend: b.addend,
            symbol: b.symbol,
        });
    }
}

/// A branch that could go through a thunk.
struct Branch {
    file: u32,
    section: u32,
    offset: u64,
    target: Target,
    addend: i64,
    symbol: u32,
    info: &'static RelocInfo,
}

/// Decides the thunks the branches in `chunks[text]` (the `.text` chunks, in order) need and
/// inserts a chunk for each group after its calling section: [`Thunks::chunks`] more.
pub fn plan<A: Arch>(
    res: &Resolved,
    fixups: &[ObjectFixups],
    chunks: &mut Vec<Chunk>,
    mut text: Range<usize>,
) -> Thunks {
    let mut thunks = Thunks::default();
    let Some(thunk) = A::THUNK else {
        return thunks;
    };
    thunks.stride = thunk.code.len() as u32;
    let branches = branches::<A>(res, fixups, &chunks[text.clone()], thunk.branch);
    loop {
        let offsets = offsets(&chunks[text.clone()]);
        let mut grown = false;
        for b in &branches {
            if thunks
                .index
                .contains_key(&(b.file, b.section, b.target, b.addend))
            {
                continue;
            }
            let Target::Section {
                file,
                section,
                value,
            } = b.target
            else {
                continue;
            };
            let (Some(&to), Some(&from)) = (
                offsets.get(&(file, section)),
                offsets.get(&(b.file, b.section)),
            ) else {
                continue;
            };
            let distance = to
                .wrapping_add(u64::from(value))
                .wrapping_add(b.addend as u64)
                .wrapping_sub(from + b.offset) as i64;
            if !b.info.range.contains(b.info.field.bits(), distance) {
                thunks.add(b);
                grown = true;
            }
        }
        if !grown {
            return thunks;
        }
        let placed = place(&chunks[text.clone()], &thunks);
        let end = text.start + placed.len();
        chunks.splice(text.clone(), placed);
        text.end = end;
    }
}

fn branches<A: Arch>(
    res: &Resolved,
    fixups: &[ObjectFixups],
    text: &[Chunk],
    field: Field,
) -> Vec<Branch> {
    let mut out = Vec::new();
    for c in text {
        let ChunkKind::Input { file, section } = c.kind else {
            continue;
        };
        let obj = &res.objects[file as usize];
        let sec = &obj.sections[section as usize];
        let relocs = sec.relocs();
        for fx in fixups[file as usize].of::<A>(section, sec, obj.format) {
            if fx.info.field != field {
                continue;
            }
            let r = relocs.get(fx.reloc as usize);
            // COFF addends live in the instruction; a field past the end is the writer's error.
            let addend = match obj.format {
                Format::Elf => r.addend,
                Format::Coff => match sec.data.get(r.offset as usize..) {
                    Some(bytes) if bytes.len() >= field.size() => field.read(bytes),
                    _ => continue,
                },
            };
            out.push(Branch {
                file,
                section,
                offset: fx.offset.into(),
                target: res.target(file, r.symbol),
                addend,
                symbol: r.symbol,
                info: fx.info,
            });
        }
    }
    out
}

/// Offset of each input section from the start of `.text`.
fn offsets(text: &[Chunk]) -> FxHashMap<(u32, u32), u64> {
    let mut out = FxHashMap::default();
    let mut off = 0u64;
    for c in text {
        off = off.next_multiple_of(u64::from(c.align.max(1)));
        if let ChunkKind::Input { file, section } = c.kind {
            out.insert((file, section), off);
        }
        off += u64::from(c.size);
    }
    out
}

/// `text` with its thunk chunks rebuilt, each group right after its calling section.
fn place(old: &[Chunk], thunks: &Thunks) -> Vec<Chunk> {
    let mut text = Vec::with_capacity(old.len() + thunks.groups.len());
    for &c in old {
        match c.kind {
            ChunkKind::Thunk(_) => continue,
            ChunkKind::Input { file, section } => {
                text.push(c);
                if let Some(&g) = thunks.callers.get(&(file, section)) {
                    text.push(Chunk {
                        kind: ChunkKind::Thunk(g),
                        rva: 0,
                        size: thunks.groups[g as usize].dests.len() as u32 * thunks.stride,
                        align: THUNK_ALIGN,
                    });
                }
            }
            _ => text.push(c),
        }
    }
    text
}

/// Fills one group of range-extension thunks: the arch's thunk code, relocated to each destination.
pub(super) fn write<A: Arch>(
    res: &Resolved,
    layout: &Layout,
    chunk: &Chunk,
    group: u32,
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
                p: layout.image_base + u64::from(chunk.rva) + (at as u64) + u64::from(*off),
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
