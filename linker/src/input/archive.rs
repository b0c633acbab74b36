//! Static archives (`ar`, rlibs): an index from symbol name to member, members parsed only when
//! resolution wants them.
use object::read::archive::ArchiveFile;
use object::FileKind;
use rustc_hash::FxHashMap;

use super::{is_bitcode, parse_error, parse_object, Binding, Expect, ObjectFile, SymDef};
use crate::error::{Error, Result};

/// A static archive whose members are loaded only when they define a wanted symbol.
pub struct Archive<'d> {
    pub name: String,
    data: &'d [u8],
    file: ArchiveFile<'d>,
    /// Symbol name → member header offset.
    index: FxHashMap<&'d [u8], u64>,
    /// Every object member is linked, wanted or not (`--whole-archive`).
    pub whole: bool,
}

impl<'d> Archive<'d> {
    pub(super) fn parse(name: String, data: &'d [u8], expect: Expect) -> Result<Archive<'d>> {
        let file = ArchiveFile::parse(data).map_err(|e| parse_error(&name, e))?;
        if file.is_thin() {
            return Err(Error::Parse {
                file: name,
                reason: "thin archives are not supported".into(),
            });
        }
        let mut index = FxHashMap::default();
        match file.symbols().map_err(|e| parse_error(&name, e))? {
            Some(symbols) => {
                // Listed first, then hashed into a table of the final size: growing the table
                // would hash every name again at each doubling (an rlib lists thousands).
                let listed = symbols
                    .map(|sym| sym.map(|sym| (sym.name(), sym.offset().0)))
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(|e| parse_error(&name, e))?;
                index.reserve(listed.len());
                for (symbol, offset) in listed {
                    index.entry(symbol).or_insert(offset);
                }
            }
            // No symbol index (`ar S`, `llvm-ar rcS`): read every member's definitions instead,
            // as ld.lld does.
            None => {
                for member in file.members() {
                    let member = member.map_err(|e| parse_error(&name, e))?;
                    let bytes = member.data(data).map_err(|e| parse_error(&name, e))?;
                    if !is_object(bytes) {
                        continue;
                    }
                    let mname = member_name(&name, member.name());
                    let obj = parse_object(mname, bytes, expect)?;
                    for sym in &obj.symbols {
                        if sym.binding != Binding::Local && is_definition(sym.def) {
                            index
                                .entry(sym.name)
                                .or_insert(header_offset(data, &member));
                        }
                    }
                }
            }
        }
        Ok(Archive {
            name,
            data,
            file,
            index,
            whole: false,
        })
    }

    /// Offsets of the members that are objects (rlibs' `lib.rmeta` is not).
    pub fn object_members(&self) -> Result<Vec<u64>> {
        let mut offsets = Vec::new();
        for member in self.file.members() {
            let member = member.map_err(|e| parse_error(&self.name, e))?;
            let bytes = member
                .data(self.data)
                .map_err(|e| parse_error(&self.name, e))?;
            if is_object(bytes) || is_bitcode(bytes) {
                offsets.push(header_offset(self.data, &member));
            }
        }
        Ok(offsets)
    }

    /// The member offset defining `name`, if any.
    pub fn lookup(&self, name: &[u8]) -> Option<u64> {
        self.index.get(name).copied()
    }

    pub fn load_member(&self, offset: u64, expect: Expect) -> Result<ObjectFile<'d>> {
        let member = self
            .file
            .member(object::read::archive::ArchiveOffset(offset))
            .map_err(|e| parse_error(&self.name, e))?;
        let name = member_name(&self.name, member.name());
        let bytes = member.data(self.data).map_err(|e| parse_error(&name, e))?;
        parse_object(name, bytes, expect)
    }
}

/// Where a member's header starts: what [`ArchiveFile::member`] and the symbol index take (the
/// member's `file_range` starts after the header and a BSD long name).
pub(super) fn header_offset(archive: &[u8], member: &object::read::archive::ArchiveMember) -> u64 {
    let header = member.header().map_or(std::ptr::null(), |h| {
        (h as *const object::archive::Header).cast::<u8>()
    });
    (header as usize).wrapping_sub(archive.as_ptr() as usize) as u64
}

pub(super) fn member_name(archive: &str, member: &[u8]) -> String {
    format!("{archive}({})", String::from_utf8_lossy(member))
}

/// rlibs carry a `lib.rmeta` member that is not an object; it never defines a symbol.
pub(super) fn is_object(bytes: &[u8]) -> bool {
    matches!(
        FileKind::parse(bytes),
        Ok(FileKind::Elf64 | FileKind::Coff | FileKind::CoffBig)
    )
}

fn is_definition(def: SymDef) -> bool {
    matches!(
        def,
        SymDef::Section { .. } | SymDef::Absolute(_) | SymDef::Common { .. }
    )
}
