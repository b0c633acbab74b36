//! Finds the UKI sections in the stub's own loaded image (headers included, as edk2 maps them).
//! Every read is bounds-checked against the image size the firmware reported.

/// The sections a UKI may carry (each `None` when absent).
#[derive(Default, Debug, PartialEq, Eq)]
pub struct Sections<'a> {
    pub linux: Option<&'a [u8]>,
    pub initrd: Option<&'a [u8]>,
    pub cmdline: Option<&'a [u8]>,
    pub osrel: Option<&'a [u8]>,
    pub uname: Option<&'a [u8]>,
    pub sbat: Option<&'a [u8]>,
}

/// Why the headers could not be read.
#[derive(Debug, PartialEq, Eq)]
pub enum Error {
    /// No `MZ` at the image base.
    NoDosHeader,
    /// `e_lfanew` points outside the image or to something that is not `PE\0\0`.
    NoPeHeader,
    /// The section table does not fit in the image.
    SectionTable,
    /// A section's data lies outside the image.
    SectionOutOfBounds([u8; 8]),
}

impl Error {
    pub fn describe(&self) -> &'static str {
        match self {
            Error::NoDosHeader => "no MZ header at the image base",
            Error::NoPeHeader => "no PE header at e_lfanew",
            Error::SectionTable => "the section table lies outside the image",
            Error::SectionOutOfBounds(_) => "a section lies outside the image",
        }
    }
}

/// A bounds-checked view of `len` bytes at `base`, read with unaligned loads (no slice over the
/// whole image is formed: the stub's own `.data`/`.bss` are part of it).
struct Mem {
    base: *const u8,
    len: usize,
}

impl Mem {
    fn bytes<const N: usize>(&self, off: usize) -> Option<[u8; N]> {
        if off.checked_add(N)? > self.len {
            return None;
        }
        // SAFETY: off + N <= len, and the caller of `find` vouched for `len` readable bytes.
        Some(unsafe { core::ptr::read_unaligned(self.base.add(off) as *const [u8; N]) })
    }
    fn u16(&self, off: usize) -> Option<u16> {
        self.bytes(off).map(u16::from_le_bytes)
    }
    fn u32(&self, off: usize) -> Option<u32> {
        self.bytes(off).map(u32::from_le_bytes)
    }
}

/// Parses the PE headers of the image mapped at `base` (`len` bytes) and returns its UKI sections.
/// The first section of each name wins. A section's size is the number of bytes the loader copied:
/// `min(VirtualSize, SizeOfRawData)` (`SizeOfRawData` when `VirtualSize` is 0) — ukify sets the
/// `.linux` VirtualSize to the kernel's SizeOfImage and the others to the exact data length.
///
/// # Safety
/// `len` bytes at `base` must be readable for `'a`, and the bytes of the returned sections must
/// not be written during `'a`.
pub unsafe fn find<'a>(base: *const u8, len: usize) -> Result<Sections<'a>, Error> {
    let m = Mem { base, len };
    if m.bytes::<2>(0) != Some(*b"MZ") {
        return Err(Error::NoDosHeader);
    }
    let pe = m.u32(0x3c).ok_or(Error::NoDosHeader)? as usize;
    if m.bytes::<4>(pe) != Some(*b"PE\0\0") {
        return Err(Error::NoPeHeader);
    }
    let count = m.u16(pe + 6).ok_or(Error::NoPeHeader)? as usize;
    let opt_size = m.u16(pe + 20).ok_or(Error::NoPeHeader)? as usize;
    let table = pe + 24 + opt_size;
    if table + count * 40 > len {
        return Err(Error::SectionTable);
    }
    let mut s = Sections::default();
    for i in 0..count {
        let h = table + i * 40;
        let name: [u8; 8] = m.bytes(h).ok_or(Error::SectionTable)?;
        let slot = match &name {
            b".linux\0\0" => &mut s.linux,
            b".initrd\0" => &mut s.initrd,
            b".cmdline" => &mut s.cmdline,
            b".osrel\0\0" => &mut s.osrel,
            b".uname\0\0" => &mut s.uname,
            b".sbat\0\0\0" => &mut s.sbat,
            _ => continue,
        };
        if slot.is_some() {
            continue;
        }
        let field = |off| m.u32(h + off).ok_or(Error::SectionTable);
        let (vsize, rva, raw) = (field(8)? as usize, field(12)? as usize, field(16)? as usize);
        let size = if vsize == 0 { raw } else { vsize.min(raw) };
        match rva.checked_add(size) {
            Some(end) if end <= len => {}
            _ => return Err(Error::SectionOutOfBounds(name)),
        }
        // SAFETY: rva + size <= len (checked above).
        *slot = Some(unsafe { core::slice::from_raw_parts(base.add(rva), size) });
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PE image as edk2 maps it: headers at 0, sections at their RVAs.
    fn image(sections: &[(&[u8; 8], u32, u32, u32)], len: usize) -> Vec<u8> {
        let mut v = vec![0u8; len];
        v[0..2].copy_from_slice(b"MZ");
        v[0x3c..0x40].copy_from_slice(&0x80u32.to_le_bytes());
        v[0x80..0x84].copy_from_slice(b"PE\0\0");
        v[0x86..0x88].copy_from_slice(&(sections.len() as u16).to_le_bytes());
        v[0x94..0x96].copy_from_slice(&240u16.to_le_bytes());
        let mut h = 0x80 + 24 + 240;
        for (name, vsize, rva, raw) in sections {
            v[h..h + 8].copy_from_slice(*name);
            v[h + 8..h + 12].copy_from_slice(&vsize.to_le_bytes());
            v[h + 12..h + 16].copy_from_slice(&rva.to_le_bytes());
            v[h + 16..h + 20].copy_from_slice(&raw.to_le_bytes());
            h += 40;
        }
        v
    }

    fn find_in(v: &[u8]) -> Result<Sections<'_>, Error> {
        unsafe { find(v.as_ptr(), v.len()) }
    }

    #[test]
    fn finds_sections_and_takes_the_smaller_size() {
        let mut v = image(
            &[
                (b".text\0\0\0", 0x10, 0x1000, 0x200),
                (b".linux\0\0", 0x3000, 0x2000, 0x400),
                (b".cmdline", 5, 0x3000, 0x200),
                (b".initrd\0", 0, 0x4000, 0x200),
            ],
            0x5000,
        );
        v[0x3000..0x3005].copy_from_slice(b"quiet");
        let s = find_in(&v).unwrap();
        assert_eq!(s.linux.unwrap().len(), 0x400);
        assert_eq!(s.cmdline, Some(&b"quiet"[..]));
        assert_eq!(s.initrd.unwrap().len(), 0x200);
        assert_eq!((s.osrel, s.uname, s.sbat), (None, None, None));
    }

    #[test]
    fn rejects_what_lies_outside_the_image() {
        let v = image(&[(b".linux\0\0", 0x100, 0x1f80, 0x200)], 0x2000);
        assert_eq!(find_in(&v), Err(Error::SectionOutOfBounds(*b".linux\0\0")));
        let mut v = image(&[], 0x200);
        v[0x3c..0x40].copy_from_slice(&0x1fcu32.to_le_bytes());
        assert_eq!(find_in(&v), Err(Error::NoPeHeader));
        let mut v = image(&[], 0x200);
        v[0x86] = 200;
        assert_eq!(find_in(&v), Err(Error::SectionTable));
        assert_eq!(find_in(&[0u8; 0x40]), Err(Error::NoDosHeader));
        assert_eq!(find_in(b"MZ"), Err(Error::NoDosHeader));
    }
}
