//! Bit-field helpers shared by the ISA encoders.

/// Bits `hi..=lo` of `value`, shifted down to bit 0.
pub const fn extract(value: u64, hi: u32, lo: u32) -> u32 {
    ((value >> lo) & ((1u64 << (hi - lo + 1)) - 1)) as u32
}

/// Sign-extends the low `bits` bits of `value`.
pub const fn sign_extend(value: u64, bits: u32) -> i64 {
    let shift = 64 - bits;
    ((value << shift) as i64) >> shift
}

pub fn read32(bytes: &[u8]) -> u32 {
    u32::from_le_bytes(bytes[..4].try_into().unwrap())
}

pub fn write32(bytes: &mut [u8], value: u32) {
    bytes[..4].copy_from_slice(&value.to_le_bytes());
}

pub fn read16(bytes: &[u8]) -> u16 {
    u16::from_le_bytes(bytes[..2].try_into().unwrap())
}

pub fn write16(bytes: &mut [u8], value: u16) {
    bytes[..2].copy_from_slice(&value.to_le_bytes());
}

/// Clears `mask` in the little-endian 32-bit word at `bytes` and ORs in `bits`.
pub fn patch32(bytes: &mut [u8], mask: u32, bits: u32) {
    write32(bytes, (read32(bytes) & !mask) | (bits & mask));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extract_and_sign_extend() {
        assert_eq!(extract(0b1011_0000, 7, 4), 0b1011);
        assert_eq!(sign_extend(0x80, 8), -128);
        assert_eq!(sign_extend(0x7f, 8), 127);
        let mut b = [0xff, 0xff, 0xff, 0xff];
        patch32(&mut b, 0x0000_ff00, 0x1234_5600);
        assert_eq!(read32(&b), 0xffff_56ff);
    }
}
