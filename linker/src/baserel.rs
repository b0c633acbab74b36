//! The `.reloc` section: base relocations grouped in 4 KiB page blocks, sorted, each block padded
//! to a 4-byte multiple (an odd entry count gets an IMAGE_REL_BASED_ABSOLUTE filler).

pub use crate::consts::BaseRelocType;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BaseReloc {
    pub rva: u32,
    pub typ: BaseRelocType,
}

const PAGE: u32 = 0x1000;

/// Pages in order with their entry counts; `relocs` must be sorted by RVA.
fn blocks(relocs: &[BaseReloc]) -> impl Iterator<Item = &[BaseReloc]> {
    relocs.chunk_by(|a, b| a.rva / PAGE == b.rva / PAGE)
}

pub fn encoded_size(relocs: &[BaseReloc]) -> u32 {
    blocks(relocs)
        .map(|b| 8 + 2 * (b.len() as u32).next_multiple_of(2))
        .sum()
}

/// Writes the blocks into `out`, [`encoded_size`] bytes (zeroed, so odd blocks' fillers are
/// already there).
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
            let entry = r.typ.code() << 12 | (r.rva - page) as u16;
            put(&entry.to_le_bytes());
        }
        if block.len() % 2 == 1 {
            put(&0u16.to_le_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
