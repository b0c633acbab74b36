//! Base relocation blocks (`.reloc`, data directory 5): one page RVA and block size, then 16-bit
//! entries of a 4-bit type and a 12-bit page offset.
use crate::headers::{rd16, rd32};

pub const IMAGE_REL_BASED_ABSOLUTE: u8 = 0;
pub const IMAGE_REL_BASED_HIGHLOW: u8 = 3;
pub const IMAGE_REL_BASED_DIR64: u8 = 10;
/// RISC-V: HIGH20 = 5, LOW12I = 7, LOW12S = 8. LoongArch64: MARK_LA = 8.
pub const IMAGE_REL_BASED_RISCV_HIGH20: u8 = 5;
pub const IMAGE_REL_BASED_RISCV_LOW12I: u8 = 7;
pub const IMAGE_REL_BASED_RISCV_LOW12S: u8 = 8;
pub const IMAGE_REL_BASED_LOONGARCH64_MARK_LA: u8 = 8;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// Offset of the block inside the directory.
    pub at: usize,
    pub page: u32,
    pub size: u32,
    /// (type, RVA) of each entry, padding included.
    pub entries: Vec<(u8, u32)>,
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
pub fn parse(dir: &[u8]) -> Result<Vec<Block>, (Vec<Block>, Malformed)> {
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
        let entries = (at + 8..at + size as usize)
            .step_by(2)
            .map(|e| {
                let v = rd16(dir, e).unwrap_or(0);
                ((v >> 12) as u8, page.wrapping_add(u32::from(v & 0xfff)))
            })
            .collect();
        blocks.push(Block {
            at,
            page,
            size,
            entries,
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
        assert_eq!(blocks[0].entries, [(10, 0x1008), (10, 0x1010)]);
        assert_eq!(blocks[1].entries, [(10, 0x3000), (0, 0x3000)]);
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
}
