//! The COFF string table chunk: section names longer than the 8 bytes of a section header (the
//! DWARF sections'), which the header names as `/N`, N the name's offset in the table. It sits in
//! the file after the last section, where PointerToSymbolTable points, and is mapped nowhere.
use super::{Chunk, ChunkKind};

#[derive(Debug, Default)]
pub struct StringTable {
    /// The names, NUL-terminated: the table without its 4-byte size.
    pub names: Vec<u8>,
    /// Its file offset (0: no table).
    pub offset: u32,
    /// (output section index, table offset) for each long name.
    pub long_names: Vec<(usize, u32)>,
}

impl StringTable {
    /// Names output section `section` `name` through the table.
    pub fn add(&mut self, section: usize, name: &str) {
        self.long_names.push((section, 4 + self.names.len() as u32));
        self.names.extend_from_slice(name.as_bytes());
        self.names.push(0);
    }

    /// The table's offset for a section named through it.
    pub fn offset_of(&self, section: usize) -> Option<u32> {
        (self.long_names.iter())
            .find(|(s, _)| *s == section)
            .map(|&(_, offset)| offset)
    }

    /// Its chunk once placed at file offset `offset`, or none when no name needs it.
    pub fn chunk(&mut self, offset: u32) -> Option<Chunk> {
        if self.names.is_empty() {
            return None;
        }
        self.offset = offset;
        Some(Chunk {
            kind: ChunkKind::StringTable,
            rva: 0,
            size: 4 + self.names.len() as u32,
            align: 1,
        })
    }
}

pub(super) fn write(table: &StringTable, out: &mut [u8]) {
    // Its size counts the size field itself.
    let size = out.len() as u32;
    out[..4].copy_from_slice(&size.to_le_bytes());
    out[4..].copy_from_slice(&table.names);
}
