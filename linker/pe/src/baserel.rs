//! Base relocation blocks (`.reloc`, data directory 5): one page RVA and block size, then 16-bit
//! entries of a 4-bit type and a 12-bit page offset. [`parse`] reads them, [`encode`] writes them:
//! grouped in 4 KiB page blocks, sorted, each block padded to a 4-byte multiple (an odd entry
//! count gets an IMAGE_REL_BASED_ABSOLUTE filler).
use crate::headers::rd32;

pub const IMAGE_REL_BASED_ABSOLUTE: u8 = 0;
pub const IMAGE_REL_BASED_HIGHLOW: u8 = 3;
pub const IMAGE_REL_BASED_DIR64: u8 = 10;
/// RISC-V: HIGH20 = 5, LOW12I = 7, LOW12S = 8. LoongArch64: MARK_LA = 8.
pub const IMAGE_REL_BASED_RISCV_HIGH20: u8 = 5;
pub const IMAGE_REL_BASED_RISCV_LOW12I: u8 = 7;
pub const IMAGE_REL_BASED_RISCV_LOW12S: u8 = 8;
pub const IMAGE_REL_BASED_LOONGARCH64_MARK_LA: u8 = 8;

/// The base relocations a linker writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BaseRelocType {
    /// IMAGE_REL_BASED_HIGHLOW: a 32-bit absolute address (only for images pinned low).
    HighLow,
    /// IMAGE_REL_BASED_DIR64.
    Dir64,
    /// IMAGE_REL_BASED_LOONGARCH64_MARK_LA: the `lu12i.w, ori, lu32i.d, lu52i.d` sequence of an
    /// `la.abs`, patched as one 64-bit address by edk2.
    MarkLa,
}

impl BaseRelocType {
    pub fn code(self) -> u8 {
        match self {
            BaseRelocType::HighLow => IMAGE_REL_BASED_HIGHLOW,
            BaseRelocType::Dir64 => IMAGE_REL_BASED_DIR64,
            BaseRelocType::MarkLa => IMAGE_REL_BASED_LOONGARCH64_MARK_LA,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BaseReloc {
    pub rva: u32,
    pub typ: BaseRelocType,
}

const PAGE: u32 = 0x1000;

/// Pages in order with their entries; `relocs` must be sorted by RVA.
fn blocks(relocs: &[BaseReloc]) -> impl Iterator<Item = &[BaseReloc]> {
    relocs.chunk_by(|a, b| a.rva / PAGE == b.rva / PAGE)
}

/// The bytes [`encode`] writes for `relocs` (sorted by RVA, without duplicates).
pub fn encoded_size(relocs: &[BaseReloc]) -> u32 {
    blocks(relocs)
        .map(|b| 8 + 2 * (b.len() as u32).next_multiple_of(2))
        .sum()
}

/// Writes the blocks into `out`, which is [`encoded_size`] bytes long.
pub fn encode(relocs: &[BaseReloc], out: &mut [u8]) {
    let mut at = 0;
    let mut put = |bytes: &[u8]| {
        out[at..at + bytes.len()].copy_from_slice(bytes);
        at += bytes.len();
    };
    for block in blocks(relocs) {
        let page = block[0].rva & !(PAGE - 1);
        let entries = (block.len() as u32).next_multiple_of(2);
        put(&page.to_le_bytes());
        put(&(8 + 2 * entries).to_le_bytes());
        for r in block {
            let entry = u16::from(r.typ.code()) << 12 | (r.rva - page) as u16;
            put(&entry.to_le_bytes());
        }
        if block.len() % 2 == 1 {
            put(&0u16.to_le_bytes());
        }
    }
}

/// One block, its entries read where they lie: a linker checks its own `.reloc` before putting
/// the image in place, and a large image has a quarter of a million entries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block<'d> {
    /// Offset of the block inside the directory.
    pub at: usize,
    pub page: u32,
    pub size: u32,
    /// The entries' bytes, two each.
    raw: &'d [u8],
}

impl Block<'_> {
    /// (type, RVA) of each entry, padding included.
    pub fn entries(&self) -> impl ExactSizeIterator<Item = (u8, u32)> + '_ {
        let page = self.page;
        self.raw.chunks_exact(2).map(move |e| {
            let v = u16::from_le_bytes([e[0], e[1]]);
            ((v >> 12) as u8, page.wrapping_add(u32::from(v & 0xfff)))
        })
    }
}

/// A block that cannot be walked past: its offset in the directory and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Malformed {
    pub at: usize,
    pub field: &'static str,
    pub value: u32,
    pub reason: &'static str,
}

/// Splits the directory's bytes into blocks; stops at the first block whose size makes the rest
/// unreadable (edk2 stops there too, with an error).
pub fn parse(dir: &[u8]) -> Result<Vec<Block<'_>>, (Vec<Block<'_>>, Malformed)> {
    let mut blocks = Vec::new();
    let mut at = 0;
    while at < dir.len() {
        let (Some(page), Some(size)) = (rd32(dir, at), rd32(dir, at + 4)) else {
            let m = Malformed {
                at,
                field: "block header",
                value: (dir.len() - at) as u32,
                reason: "fewer than 8 bytes left in the directory for a block header",
            };
            return Err((blocks, m));
        };
        let bad = |reason| Malformed {
            at,
            field: "SizeOfBlock",
            value: size,
            reason,
        };
        if size < 8 {
            return Err((blocks, bad("smaller than the 8-byte block header")));
        }
        if size % 4 != 0 {
            return Err((
                blocks,
                bad("not a multiple of 4 (blocks are padded to 32 bits)"),
            ));
        }
        if at as u64 + u64::from(size) > dir.len() as u64 {
            return Err((
                blocks,
                bad("runs past the end of the base relocation directory"),
            ));
        }
        blocks.push(Block {
            at,
            page,
            size,
            raw: &dir[at + 8..at + size as usize],
        });
        at += size as usize;
    }
    Ok(blocks)
}

/// The size in bytes a base relocation of `typ` patches (0 for padding, `None` for types no
/// UEFI machine defines).
pub fn patch_size(machine: u16, typ: u8) -> Option<u32> {
    use crate::machine::*;
    Some(match (machine, typ) {
        (_, IMAGE_REL_BASED_ABSOLUTE) => 0,
        (_, IMAGE_REL_BASED_HIGHLOW) => 4,
        (_, IMAGE_REL_BASED_DIR64) => 8,
        (
            IMAGE_FILE_MACHINE_RISCV64,
            IMAGE_REL_BASED_RISCV_HIGH20
            | IMAGE_REL_BASED_RISCV_LOW12I
            | IMAGE_REL_BASED_RISCV_LOW12S,
        ) => 4,
        // lu12i.w, ori, lu32i.d, lu52i.d.
        (IMAGE_FILE_MACHINE_LOONGARCH64, IMAGE_REL_BASED_LOONGARCH64_MARK_LA) => 16,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(page: u32, entries: &[u16]) -> Vec<u8> {
        let mut v = page.to_le_bytes().to_vec();
        v.extend_from_slice(&(8 + 2 * entries.len() as u32).to_le_bytes());
        for e in entries {
            v.extend_from_slice(&e.to_le_bytes());
        }
        v
    }

    #[test]
    fn parses_blocks_and_padding() {
        let mut dir = block(0x1000, &[0xa008, 0xa010]);
        dir.extend(block(0x3000, &[0xa000, 0x0000]));
        let blocks = parse(&dir).unwrap();
        assert_eq!(blocks.len(), 2);
        let entries = |b: &Block| b.entries().collect::<Vec<_>>();
        assert_eq!(entries(&blocks[0]), [(10, 0x1008), (10, 0x1010)]);
        assert_eq!(entries(&blocks[1]), [(10, 0x3000), (0, 0x3000)]);
    }

    #[test]
    fn names_the_bad_size() {
        let mut dir = block(0x1000, &[0xa008, 0xa010]);
        dir.extend(block(0x2000, &[0xa008]));
        let (good, m) = parse(&dir).unwrap_err();
        assert_eq!(good.len(), 1);
        assert_eq!((m.at, m.field, m.value), (12, "SizeOfBlock", 10));
        let (_, m) = parse(&[0, 0x10, 0, 0, 4, 0, 0, 0]).unwrap_err();
        assert_eq!((m.field, m.value), ("SizeOfBlock", 4));
        let (_, m) = parse(&[0, 0x10, 0, 0, 0x10, 0, 0, 0]).unwrap_err();
        assert!(m.reason.contains("past the end"), "{m:?}");
    }

    #[test]
    fn blocks_are_per_page_and_padded_to_even_entry_counts() {
        let r = |rva, typ| BaseReloc { rva, typ };
        let relocs = [
            r(0x1008, BaseRelocType::Dir64),
            r(0x1010, BaseRelocType::Dir64),
            r(0x1ff8, BaseRelocType::Dir64),
            r(0x3000, BaseRelocType::HighLow),
        ];
        let mut out = vec![0xff; encoded_size(&relocs) as usize];
        encode(&relocs, &mut out);
        #[rustfmt::skip]
        let expected = [
            0x00, 0x10, 0, 0,  16, 0, 0, 0,  0x08, 0xa0,  0x10, 0xa0,  0xf8, 0xaf,  0, 0,
            0x00, 0x30, 0, 0,  12, 0, 0, 0,  0x00, 0x30,  0, 0,
        ];
        assert_eq!(out, expected);
    }

    /// What `encode` writes, `parse` reads back: every entry with its type and RVA, in order,
    /// plus one ABSOLUTE filler per odd block, and the blocks fill the directory exactly.
    #[test]
    fn encoded_blocks_parse_back_to_the_same_relocations() {
        let types = [
            BaseRelocType::Dir64,
            BaseRelocType::HighLow,
            BaseRelocType::MarkLa,
        ];
        // Sorted and distinct, as a linker hands them over; some pages empty, some full.
        let mut relocs: Vec<BaseReloc> = (0..500u32)
            .map(|i| BaseReloc {
                rva: 0x1000 + i * i * 3 + (i % 7) * 8,
                typ: types[(i % 3) as usize],
            })
            .collect();
        relocs.sort_by_key(|r| r.rva);
        relocs.dedup_by_key(|r| r.rva);
        let mut out = vec![0; encoded_size(&relocs) as usize];
        encode(&relocs, &mut out);
        let blocks = parse(&out).unwrap();
        let mut read: Vec<(u8, u32)> = Vec::new();
        for b in &blocks {
            assert_eq!(b.page % PAGE, 0);
            assert!(b.entries().all(|(_, rva)| rva / PAGE == b.page / PAGE));
            let fillers = (b.entries())
                .filter(|e| e.0 == IMAGE_REL_BASED_ABSOLUTE)
                .count();
            assert!(fillers <= 1 && b.entries().len() % 2 == 0);
            read.extend(b.entries().filter(|e| e.0 != IMAGE_REL_BASED_ABSOLUTE));
        }
        let written: Vec<(u8, u32)> = relocs.iter().map(|r| (r.typ.code(), r.rva)).collect();
        assert_eq!(read, written);
        let end = blocks.last().map_or(0, |b| b.at + b.size as usize);
        assert_eq!(end, out.len());
    }
}
