//! Writing: fills the image buffer from the layout (headers, section bytes, GOT, `.reloc`), applies
//! relocations through the arch's table, computes the PE checksum, and commits the file atomically.
use std::io::Write;
use std::path::Path;

use crate::arch::Arch;
use crate::baserel;
use crate::error::{Error, Result};
use crate::layout::{ChunkKind, Layout, OutputKind, GOT_ENTRY_SIZE};
use crate::pe::{self, Header};
use crate::reloc::{self, Formula, Operands};
use crate::resolve::Resolved;

pub fn image<A: Arch>(res: &Resolved, layout: &Layout, header: &Header) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; layout.file_size as usize];
    pe::write_headers(&mut buf, layout, header, A::MACHINE.pe_machine());

    let mut errors = Vec::new();
    for section in &layout.sections {
        if !section.kind.has_file_data() {
            continue;
        }
        for chunk in &layout.chunks[section.chunks.clone()] {
            let at = (section.file_offset + (chunk.rva - section.rva)) as usize;
            let out = &mut buf[at..at + chunk.size as usize];
            match chunk.kind {
                ChunkKind::Input { file, section: s } => {
                    let sec = &res.objects[file as usize].sections[s as usize];
                    out[..sec.data.len()].copy_from_slice(sec.data);
                    relocate::<A>(res, layout, file, s, chunk.rva, out, &mut errors);
                }
                ChunkKind::Got => {
                    for (i, &t) in layout.got.slots.iter().enumerate() {
                        let at = i * GOT_ENTRY_SIZE as usize;
                        out[at..at + 8].copy_from_slice(&layout.address(t).to_le_bytes());
                    }
                }
                ChunkKind::Common(_) => {}
            }
        }
        if section.kind == OutputKind::Reloc {
            let mut bytes = Vec::with_capacity(section.virtual_size as usize);
            baserel::encode(&layout.base_relocs, &mut bytes);
            let at = section.file_offset as usize;
            buf[at..at + bytes.len()].copy_from_slice(&bytes);
        }
    }
    Error::check(errors)?;
    pe::write_checksum(&mut buf);
    Ok(buf)
}

/// Applies one input section's relocations to its bytes in the output buffer.
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
    for r in sec.relocs.iter() {
        // The scan already rejected unknown types.
        let Some(mut info) = A::reloc_info(obj.format, r.r_type) else {
            continue;
        };
        if info.formula == Formula::None {
            continue;
        }
        let at = r.offset as usize;
        let bad = |reason: String| Error::BadRelocation {
            reloc: info.name,
            file: obj.name.clone(),
            section: sec.name.to_string(),
            offset: r.offset.into(),
            reason,
        };
        if at + info.field.size() > out.len() {
            errors.push(bad(format!(
                "field of {} bytes does not fit in a section of {} bytes",
                info.field.size(),
                out.len()
            )));
            continue;
        }
        if let Some(relaxed) = A::relax_got(info, sec.data, at) {
            out[at.wrapping_add_signed(relaxed.at)] = relaxed.byte;
            info = relaxed.info;
        }
        let target = res.target(file, r.symbol);
        let a = match obj.format {
            crate::input::Format::Coff => info.field.read(&out[at..]),
            crate::input::Format::Elf => r.addend,
        };
        let s = layout.address(target);
        let (section_start, section_index) = match layout
            .section_of((s.wrapping_sub(layout.image_base)) as u32)
            .filter(|_| target.is_relocatable())
        {
            Some(i) => (
                layout.image_base + u64::from(layout.sections[i].rva),
                i as u16 + 1,
            ),
            None => (0, 0),
        };
        let ops = Operands {
            s,
            a,
            p: layout.image_base + u64::from(rva) + u64::from(r.offset),
            g: layout
                .got
                .slot_rva(target)
                .map_or(0, |g| layout.image_base + u64::from(g)),
            got: layout.image_base + u64::from(layout.got.rva),
            image_base: layout.image_base,
            section_start,
            section_index,
        };
        let value = reloc::evaluate(info, &ops);
        if let Err(o) = reloc::apply(info, &mut out[at..], value) {
            errors.push(Error::RelocOverflow {
                reloc: info.name,
                symbol: res.symbol_name(file, r.symbol),
                file: obj.name.clone(),
                section: sec.name.to_string(),
                offset: r.offset.into(),
                value: o.value,
                range: o.range,
            });
        }
    }
}

/// Writes `bytes` to a temporary file beside `path` and renames it into place, so a failed link
/// never leaves a partial file or clobbers a previous good one.
pub fn commit(path: &Path, bytes: &[u8]) -> Result {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.pectl-{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}
