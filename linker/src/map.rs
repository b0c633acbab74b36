//! `--map FILE`: every output section, the input sections in it and the symbols they define, with
//! addresses and sizes, in address order (stable across runs, so maps can be diffed); then what
//! identical code folding folded, in lld's `--print-icf-sections` lines.
use std::fmt::Write;

use rayon::prelude::*;

use crate::icf::{Fold, SectionRef};
use crate::input::{Binding, Format, InputSymbol, SymDef};
use crate::layout::{ChunkKind, Layout};
use crate::resolve::{Resolved, Target};

pub fn render(res: &Resolved, layout: &Layout, folds: &[Fold]) -> String {
    let listed: Vec<_> = (0..res.objects.len() as u32)
        .into_par_iter()
        .map(|file| listed_symbols(res, file))
        .collect();
    let mut out = String::new();
    let base = layout.image_base;
    let _ = writeln!(
        out,
        "ImageBase {base:#x}  Entry {:#x}",
        base + u64::from(layout.entry_rva)
    );
    let _ = writeln!(
        out,
        "{:>16} {:>8} {:>5} Out / In / Symbol",
        "Address", "Size", "Align"
    );
    for section in &layout.sections {
        let _ = writeln!(
            out,
            "{:16x} {:8x} {:5} {}",
            base + u64::from(section.rva),
            section.virtual_size,
            layout.section_alignment,
            section.kind.name()
        );
        for chunk in &layout.chunks[section.chunks.clone()] {
            let addr = base + u64::from(chunk.rva);
            match chunk.kind {
                ChunkKind::Input { file, section: s } => {
                    let obj = &res.objects[file as usize];
                    let sec = &obj.sections[s as usize];
                    let _ = writeln!(
                        out,
                        "{addr:16x} {:8x} {:5}     {}:({})",
                        chunk.size, chunk.align, obj.name, sec.name
                    );
                    let listed = &listed[file as usize];
                    let first = listed.partition_point(|l| l.0 < s);
                    let symbols = listed[first..].iter().take_while(|l| l.0 == s);
                    // Relaxation may have deleted bytes inside a symbol: map both ends.
                    let at = |v: u64| addr + layout.relax.map(file, s, v);
                    for &(_, value, sym) in symbols {
                        let _ = writeln!(
                            out,
                            "{:16x} {:8x}               {}",
                            at(value),
                            at(value + u64::from(sym.size)) - at(value),
                            sym.display_name()
                        );
                    }
                }
                ChunkKind::Common(i) => {
                    let c = &res.commons[i as usize];
                    let _ = writeln!(out, "{addr:16x} {:8x} {:5}     COMMON", c.size, chunk.align);
                    let _ = writeln!(out, "{addr:16x} {:8x}               {}", c.size, c.name);
                }
                ChunkKind::Thunk(g) => {
                    let g = &layout.thunks.groups[g as usize];
                    let obj = &res.objects[g.file as usize];
                    let _ = writeln!(
                        out,
                        "{addr:16x} {:8x} {:5}     <{} thunks after {}:({})>",
                        chunk.size,
                        chunk.align,
                        g.dests.len(),
                        obj.name,
                        obj.sections[g.section as usize].name
                    );
                }
                ChunkKind::BaseRelocs => {
                    let _ = writeln!(
                        out,
                        "{addr:16x} {:8x} {:5}     <base relocations>",
                        chunk.size, chunk.align
                    );
                }
                ChunkKind::Got => {
                    let _ = writeln!(
                        out,
                        "{addr:16x} {:8x} {:5}     <GOT>",
                        chunk.size, chunk.align
                    );
                }
                // In the file before and after every section, so in no section's chunk list.
                ChunkKind::Headers | ChunkKind::StringTable => {}
            }
        }
    }
    if !folds.is_empty() {
        // COFF functions' sections are all `.text`: their COMDAT symbol tells them apart.
        let name = |at: &SectionRef| {
            let obj = &res.objects[at.file as usize];
            let section = obj.sections[at.section as usize].name;
            let comdat = (obj.comdats.iter())
                .filter(|_| obj.format == Format::Coff)
                .find(|c| obj.comdat_sections(c).first() == Some(&at.section));
            match comdat {
                Some(c) => format!(
                    "{}:({section}) {}",
                    obj.name,
                    String::from_utf8_lossy(obj.comdat_key(c))
                ),
                None => format!("{}:({section})", obj.name),
            }
        };
        let _ = writeln!(out, "\nIdentical code folding:");
        for fold in folds {
            let _ = writeln!(out, "selected section {}", name(&fold.kept));
            for removed in &fold.removed {
                let _ = writeln!(out, "  removing identical section {}", name(removed));
            }
        }
    }
    out
}

/// The symbols the map lists under an object's sections, as (section, value, symbol): sorted by
/// section, then by value and name (ties in table order), so that each section's run is found
/// by a binary search. Gathered once per object, in parallel: a walk over every symbol of the
/// object for each of its sections was quadratic in the object (the 1000-object COFF link with
/// `--map`, 5 runs: 172-184 → 113-125 ms, the same map).
fn listed_symbols<'r, 'd>(
    res: &'r Resolved<'d>,
    file: u32,
) -> Vec<(u32, u64, &'r InputSymbol<'d>)> {
    let obj = &res.objects[file as usize];
    let mut listed: Vec<_> = (obj.symbols.iter())
        .zip(obj.aux.records())
        .filter(|(sym, _)| !sym.name.is_empty())
        .filter_map(|(sym, record)| match sym.def {
            SymDef::Section { section, value } => {
                // A global that lost to another definition belongs to the winner.
                let won = sym.binding == Binding::Local
                    || res.target(file, record)
                        == (Target::Section {
                            file,
                            section,
                            value: value as u32,
                        });
                won.then_some((section, value, sym))
            }
            _ => None,
        })
        .collect();
    listed.sort_by(|a, b| (a.0, a.1, a.2.name).cmp(&(b.0, b.1, b.2.name)));
    listed
}
