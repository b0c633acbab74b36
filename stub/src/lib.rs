//! peln-stub: a UKI stub. The firmware starts the UKI; the stub
//! 1. finds its own `.linux`, `.initrd` and `.cmdline` sections (and `.osrel`, `.uname`, `.sbat`)
//!    through EFI_LOADED_IMAGE_PROTOCOL.ImageBase,
//! 2. if there is an initrd, installs VenMedia(LINUX_EFI_INITRD_MEDIA_GUID)/End with an
//!    EFI_LOAD_FILE2_PROTOCOL that returns it, on a new handle (how Linux's EFI stub finds it),
//! 3. LoadImage()s `.linux` from memory, sets the child's LoadOptions to `.cmdline` in UCS-2, and
//!    StartImage()s it.
//!
//! Every failure is printed on ConOut with its EFI status; the stub then uninstalls what it
//! installed and returns the status to the firmware.
//!
//! The image entry point `efi_main` is in `arch-shims/<arch>.S`: it passes the stack pointer the
//! firmware called it with to [`stub_main`]. Build with `stub/build.sh <arch> <outdir>`.
#![cfg_attr(not(test), no_std)]

mod efi;
mod pe;

use core::ffi::c_void;
use core::ptr::{null, null_mut};
use core::sync::atomic::{AtomicPtr, Ordering};
use efi::*;

/// The machine name printed in the banner (as `pectl link --machine` spells it).
const ARCH: &str = if cfg!(target_arch = "x86_64") {
    "amd64"
} else if cfg!(target_arch = "aarch64") {
    "arm64"
} else if cfg!(target_arch = "riscv64") {
    "riscv64"
} else if cfg!(target_arch = "loongarch64") {
    "loongarch64"
} else {
    "unknown"
};

/// ConOut, for the panic handler.
static CON_OUT: AtomicPtr<SimpleTextOutput> = AtomicPtr::new(null_mut());

/// Prints to ConOut, buffering UCS-2 units and turning `\n` into `\r\n`.
struct Con {
    out: *mut SimpleTextOutput,
    buf: [u16; 80],
    n: usize,
}

impl Con {
    fn new(out: *mut SimpleTextOutput) -> Con {
        Con {
            out,
            buf: [0; 80],
            n: 0,
        }
    }
    fn unit(&mut self, u: u16) {
        if u == u16::from(b'\n') {
            self.unit(u16::from(b'\r'));
        }
        if self.n == self.buf.len() - 1 {
            self.flush();
        }
        self.buf[self.n] = u;
        self.n += 1;
    }
    fn flush(&mut self) {
        self.buf[self.n] = 0;
        if !self.out.is_null() && self.n > 0 {
            // SAFETY: the firmware's ConOut; the string is NUL-terminated.
            unsafe { ((*self.out).output_string)(self.out, self.buf.as_ptr()) };
        }
        self.n = 0;
    }
    fn str(&mut self, s: &str) -> &mut Con {
        for c in s.chars() {
            self.unit(ucs2(c));
        }
        self
    }
    /// UTF-8 bytes, converted as the command line is (see [`for_each_ucs2`]).
    fn utf8(&mut self, b: &[u8]) -> &mut Con {
        for_each_ucs2(b, |u| self.unit(u));
        self
    }
    fn dec(&mut self, mut v: u64) -> &mut Con {
        let mut d = [0u8; 20];
        let mut i = d.len();
        loop {
            i -= 1;
            d[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        d[i..].iter().for_each(|&c| self.unit(c.into()));
        self
    }
    fn hex(&mut self, v: u64) -> &mut Con {
        self.str("0x");
        let digits = ((64 - v.leading_zeros() as usize).div_ceil(4)).max(1);
        for i in (0..digits).rev() {
            self.unit(b"0123456789abcdef"[(v >> (i * 4)) as usize & 15].into());
        }
        self
    }
    /// `EFI_LOAD_ERROR (0x8000000000000001)`.
    fn status(&mut self, s: Status) -> &mut Con {
        self.str(status_name(s).unwrap_or("EFI status"))
            .str(" (")
            .hex(s as u64)
            .str(")")
    }
    /// `peln-stub: <what> failed: <status>` and a newline.
    fn failed(&mut self, what: &str, s: Status) -> Status {
        self.str("peln-stub: ")
            .str(what)
            .str(" failed: ")
            .status(s)
            .str("\n")
            .flush();
        s
    }
    fn line(&mut self, s: &str) {
        self.str("peln-stub: ").str(s).str("\n").flush();
    }
}

/// `s` if it is an error, else `fallback` (for calls that "succeeded" without a result).
fn error_or(s: Status, fallback: Status) -> Status {
    if is_error(s) {
        s
    } else {
        fallback
    }
}

fn ucs2(c: char) -> u16 {
    u16::try_from(u32::from(c)).unwrap_or(0xfffd)
}

/// Strips trailing NULs and line ends from the `.cmdline` bytes.
fn trim_cmdline(mut b: &[u8]) -> &[u8] {
    while let [rest @ .., b'\0' | b'\n' | b'\r'] = b {
        b = rest;
    }
    b
}

/// UTF-8 → UCS-2: invalid sequences and characters beyond the BMP become U+FFFD.
fn for_each_ucs2(b: &[u8], mut f: impl FnMut(u16)) {
    for chunk in b.utf8_chunks() {
        chunk.valid().chars().for_each(|c| f(ucs2(c)));
        if !chunk.invalid().is_empty() {
            f(0xfffd);
        }
    }
}

/// The initrd's EFI_LOAD_FILE2_PROTOCOL, followed by what it serves. LoadFile gets `This`, a
/// pointer to `proto`, and finds the data behind it.
#[repr(C)]
struct InitrdLoader {
    proto: LoadFile2,
    data: *const u8,
    len: usize,
}

/// EFI_LOAD_FILE2_PROTOCOL.LoadFile as Linux's EFI stub calls it: first with no buffer to learn
/// the size (EFI_BUFFER_TOO_SMALL), then with a buffer of that size.
unsafe extern "efiapi" fn initrd_load_file(
    this: *mut LoadFile2,
    _file_path: *mut c_void,
    boot_policy: u8,
    size: *mut usize,
    buffer: *mut c_void,
) -> Status {
    if this.is_null() || size.is_null() {
        return INVALID_PARAMETER;
    }
    if boot_policy != 0 {
        return UNSUPPORTED;
    }
    // SAFETY: `this` is the `proto` of an InitrdLoader (only those are installed with this function).
    let l = unsafe { &*(this as *const InitrdLoader) };
    // SAFETY: `size` is non-null; the caller owns `*size` bytes at `buffer`.
    unsafe {
        if buffer.is_null() || *size < l.len {
            *size = l.len;
            return BUFFER_TOO_SMALL;
        }
        core::ptr::copy_nonoverlapping(l.data, buffer as *mut u8, l.len);
        *size = l.len;
    }
    SUCCESS
}

/// Called by `efi_main` (arch-shims/<arch>.S) with the firmware's arguments and `entry_sp`, the
/// stack pointer at the firmware's call (before a return address is pushed on x86-64), which UEFI
/// requires to be 16-byte aligned. The shim realigned the stack before calling, so a misaligned
/// firmware stack is reported (and survived) instead of faulting.
///
/// # Safety
/// Only the firmware (through the shim) calls this, with a valid image handle and system table.
#[no_mangle]
pub unsafe extern "efiapi" fn stub_main(
    image: Handle,
    st: *mut SystemTable,
    entry_sp: usize,
) -> Status {
    if st.is_null() {
        return INVALID_PARAMETER;
    }
    // SAFETY: the system table the firmware passed.
    let (con_out, bs) = unsafe { ((*st).con_out, &*(*st).boot_services) };
    CON_OUT.store(con_out, Ordering::Relaxed);
    let mut con = Con::new(con_out);

    let mut li: *mut LoadedImage = null_mut();
    // SAFETY: boot services calls with valid pointers; the loaded image describes our mapping.
    let s = unsafe {
        (bs.handle_protocol)(
            image,
            &LOADED_IMAGE_PROTOCOL_GUID,
            &mut li as *mut _ as *mut *mut c_void,
        )
    };
    if is_error(s) || li.is_null() {
        return con.failed(
            "HandleProtocol(EFI_LOADED_IMAGE_PROTOCOL)",
            error_or(s, LOAD_ERROR),
        );
    }
    // SAFETY: ImageBase/ImageSize describe our own image; the UKI sections are never written.
    let found = unsafe {
        let li = &*li;
        let size = usize::try_from(li.image_size).unwrap_or(usize::MAX);
        pe::find(li.image_base as *const u8, size)
    };
    let secs = match found {
        Ok(s) => s,
        Err(e) => {
            con.str("peln-stub: cannot read its own PE headers: ")
                .str(e.describe());
            if let pe::Error::SectionOutOfBounds(name) = e {
                con.str(" (").utf8(trim_cmdline(&name)).str(")");
            }
            con.str("\n").flush();
            return LOAD_ERROR;
        }
    };
    let len = |s: Option<&[u8]>| s.map_or(0, |s| s.len() as u64);
    let cmdline = secs.cmdline.map(trim_cmdline);
    con.str("peln-stub ")
        .str(ARCH)
        .str(": linux ")
        .dec(len(secs.linux))
        .str(" bytes, initrd ")
        .dec(len(secs.initrd))
        .str(" bytes, cmdline \"")
        .utf8(cmdline.unwrap_or(b""))
        .str("\"\n");
    if let Some(u) = secs.uname {
        con.str("peln-stub: uname ").utf8(trim_cmdline(u)).str("\n");
    }
    for (name, sec) in [(".osrel", secs.osrel), (".sbat", secs.sbat)] {
        if let Some(sec) = sec {
            con.str("peln-stub: ")
                .str(name)
                .str(" ")
                .dec(sec.len() as u64)
                .str(" bytes\n");
        }
    }
    if entry_sp % 16 != 0 {
        // Not fatal: edk2 2025.02 on loongarch64 does this (sp = 8 mod 16), and the shim realigned.
        con.str("peln-stub: firmware called efi_main with a misaligned stack (sp ")
            .hex(entry_sp as u64)
            .str("; UEFI requires 16-byte alignment): continuing on a realigned stack\n");
    }
    con.flush();
    let linux = match secs.linux {
        Some([]) => {
            con.line("the .linux section is empty");
            return LOAD_ERROR;
        }
        Some(l) => l,
        None => {
            con.line("no .linux section");
            return NOT_FOUND;
        }
    };

    // The command line as UCS-2, NUL-terminated, in pool memory that outlives StartImage's return.
    let mut options: (*mut u16, usize) = (null_mut(), 0);
    if let Some(c) = cmdline {
        let mut units = 1;
        for_each_ucs2(c, |_| units += 1);
        let mut p: *mut c_void = null_mut();
        // SAFETY: boot services call with a valid out pointer.
        let s = unsafe { (bs.allocate_pool)(LOADER_DATA, units * 2, &mut p) };
        if is_error(s) {
            return con.failed("AllocatePool for the command line", s);
        }
        let p = p as *mut u16;
        let mut i = 0;
        // SAFETY: `units` u16s were allocated; the last one gets the NUL.
        for_each_ucs2(c, |u| unsafe {
            p.add(i).write_unaligned(u);
            i += 1;
        });
        unsafe { p.add(i).write_unaligned(0) };
        options = (p, units * 2);
    }

    let loader = InitrdLoader {
        proto: LoadFile2 {
            load_file: initrd_load_file,
        },
        data: secs.initrd.map_or(null(), |i| i.as_ptr()),
        len: len(secs.initrd) as usize,
    };
    let mut initrd_handle: Handle = null_mut();
    let s = run(
        bs,
        image,
        linux,
        options,
        &loader,
        &mut initrd_handle,
        &mut con,
    );

    // Cleanup: whatever `run` installed and allocated (the kernel returned or never started).
    // SAFETY: boot services calls on what we installed/allocated.
    unsafe {
        if !initrd_handle.is_null() {
            for (guid, interface, [_, what]) in initrd_protocols(&loader).into_iter().rev() {
                let u = (bs.uninstall_protocol_interface)(initrd_handle, guid, interface);
                if is_error(u) {
                    con.failed(what, u);
                }
            }
        }
        if !options.0.is_null() {
            (bs.free_pool)(options.0 as *mut c_void);
        }
    }
    s
}

/// The protocols on the initrd's handle, in the order they are installed: the vendor-media device
/// path Linux's EFI stub looks for, and LoadFile2 on it. Each with what its install and its
/// uninstall are called in messages.
fn initrd_protocols(loader: &InitrdLoader) -> [(&'static Guid, *mut c_void, [&'static str; 2]); 2] {
    [
        (
            &DEVICE_PATH_PROTOCOL_GUID,
            INITRD_DEVICE_PATH.as_ptr() as *mut c_void,
            [
                "InstallProtocolInterface(initrd device path)",
                "UninstallProtocolInterface(initrd device path)",
            ],
        ),
        (
            &LOAD_FILE2_PROTOCOL_GUID,
            &loader.proto as *const LoadFile2 as *mut c_void,
            [
                "InstallProtocolInterface(LoadFile2 for the initrd)",
                "UninstallProtocolInterface(LoadFile2)",
            ],
        ),
    ]
}

/// Installs the initrd (filling `initrd_handle`), loads and starts `.linux`. Returns the status to
/// hand back to the firmware; the caller uninstalls what is on `initrd_handle`.
fn run(
    bs: &BootServices,
    image: Handle,
    linux: &[u8],
    options: (*mut u16, usize),
    loader: &InitrdLoader,
    initrd_handle: &mut Handle,
    con: &mut Con,
) -> Status {
    // SAFETY (whole function): boot services calls with valid pointers. The device path is a
    // static and `loader` outlives every call the firmware or kernel can make into it: both are
    // uninstalled before stub_main returns.
    unsafe {
        if loader.len > 0 {
            let mut h: Handle = null_mut();
            let protocols = initrd_protocols(loader);
            for (i, &(guid, interface, [what, _])) in protocols.iter().enumerate() {
                let s =
                    (bs.install_protocol_interface)(&mut h, guid, EFI_NATIVE_INTERFACE, interface);
                if is_error(s) {
                    // The handle is not handed back: what is on it comes off again.
                    for &(guid, interface, _) in &protocols[..i] {
                        (bs.uninstall_protocol_interface)(h, guid, interface);
                    }
                    return con.failed(what, s);
                }
            }
            *initrd_handle = h;
        }

        // Load from memory with a MemoryMapped() device path: edk2's image verification refuses a
        // NULL path (EFI_ACCESS_DENIED) when it is built with secure boot support.
        let start = linux.as_ptr() as u64;
        let dp = MemMapDevicePath::new(start, start + linux.len() as u64 - 1);
        let mut child: Handle = null_mut();
        let s = (bs.load_image)(
            0,
            image,
            dp.0.as_ptr() as *const c_void,
            linux.as_ptr() as *const c_void,
            linux.len(),
            &mut child,
        );
        if is_error(s) {
            // On EFI_SECURITY_VIOLATION the image is loaded but may not be started.
            if s == SECURITY_VIOLATION && !child.is_null() {
                (bs.unload_image)(child);
            }
            return con.failed("LoadImage", s);
        }

        if !options.0.is_null() {
            let mut cli: *mut LoadedImage = null_mut();
            let s = (bs.handle_protocol)(
                child,
                &LOADED_IMAGE_PROTOCOL_GUID,
                &mut cli as *mut _ as *mut *mut c_void,
            );
            if is_error(s) || cli.is_null() {
                (bs.unload_image)(child);
                return con.failed(
                    "HandleProtocol(EFI_LOADED_IMAGE_PROTOCOL) of the kernel",
                    error_or(s, LOAD_ERROR),
                );
            }
            (*cli).load_options = options.0 as *mut c_void;
            (*cli).load_options_size = options.1 as u32;
        }

        let s = (bs.start_image)(child, null_mut(), null_mut());
        if is_error(s) {
            con.failed("StartImage", s);
        }
        s
    }
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    Con::new(CON_OUT.load(Ordering::Relaxed)).line("panic");
    loop {
        core::hint::spin_loop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_is_laid_out_as_efi_guid() {
        // Firmware reads an EFI_GUID through a pointer: 16 bytes, edk2's 4-byte alignment, the
        // first three fields little-endian (the device path test checks the bytes).
        assert_eq!(core::mem::size_of::<Guid>(), 16);
        assert_eq!(core::mem::align_of::<Guid>(), 4);
        assert_eq!(
            LOAD_FILE2_PROTOCOL_GUID.to_bytes()[..8],
            [0xc1, 0xc0, 0x06, 0x40, 0xb3, 0xfc, 0x3e, 0x40]
        );
    }

    fn ucs2_of(b: &[u8]) -> Vec<u16> {
        let mut v = Vec::new();
        for_each_ucs2(b, |u| v.push(u));
        v
    }

    #[test]
    fn cmdline_is_trimmed_and_converted() {
        assert_eq!(
            trim_cmdline(b"quiet root=/dev/vda\n\0\0"),
            b"quiet root=/dev/vda"
        );
        assert_eq!(trim_cmdline(b"\n\0"), b"");
        assert_eq!(
            ucs2_of("a é €".as_bytes()),
            [0x61, 0x20, 0xe9, 0x20, 0x20ac]
        );
        assert_eq!(ucs2_of(b"x\xffy"), [0x78, 0xfffd, 0x79]);
        assert_eq!(ucs2_of("😀".as_bytes()), [0xfffd]);
    }

    #[test]
    fn initrd_device_path_is_vendor_media_then_end() {
        let p = INITRD_DEVICE_PATH;
        assert_eq!(&p[..4], &[4, 3, 20, 0]);
        assert_eq!(
            &p[4..20],
            &[
                0x27, 0xe4, 0x68, 0x55, 0xfc, 0x68, 0x3d, 0x4f, 0xac, 0x74, 0xca, 0x55, 0x52, 0x31,
                0xcc, 0x68
            ]
        );
        assert_eq!(&p[20..], &[0x7f, 0xff, 4, 0]);
    }

    #[test]
    fn load_file_reports_size_then_copies() {
        let data = b"initrd-bytes";
        let mut l = InitrdLoader {
            proto: LoadFile2 {
                load_file: initrd_load_file,
            },
            data: data.as_ptr(),
            len: data.len(),
        };
        let this = &mut l.proto as *mut LoadFile2;
        let mut size = 0usize;
        let mut buf = [0u8; 16];
        let bp = buf.as_mut_ptr() as *mut c_void;
        unsafe {
            assert_eq!(
                initrd_load_file(this, null_mut(), 0, null_mut(), bp),
                INVALID_PARAMETER
            );
            assert_eq!(
                initrd_load_file(this, null_mut(), 1, &mut size, bp),
                UNSUPPORTED
            );
            assert_eq!(
                initrd_load_file(this, null_mut(), 0, &mut size, null_mut()),
                BUFFER_TOO_SMALL
            );
            assert_eq!(size, data.len());
            assert_eq!(
                initrd_load_file(this, null_mut(), 0, &mut size, bp),
                SUCCESS
            );
        }
        assert_eq!(&buf[..size], data);
    }

    #[test]
    fn status_names() {
        assert_eq!(status_name(LOAD_ERROR), Some("EFI_LOAD_ERROR"));
        assert_eq!(
            status_name(SECURITY_VIOLATION),
            Some("EFI_SECURITY_VIOLATION")
        );
        assert_eq!(status_name(SUCCESS), Some("EFI_SUCCESS"));
        assert_eq!(status_name(ERROR_BIT | 29), None);
        assert_eq!(status_name(ERROR_BIT | 1000), None);
    }
}
