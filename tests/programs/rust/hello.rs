//! Minimal `#![no_std]` UEFI application for the peln boot tests: no crates, own EFI definitions.
//!
//! Built as an object (`rustc --emit=obj --crate-type=lib`) and linked together with the sysroot's
//! `libcore` / `libcompiler_builtins` rlibs. It uses `core::fmt` (vtables, function pointers in
//! read-only data, string tables) and a trait object so that the link pulls real code from libcore.
//! Output, one line each:
//!   PELN rust: hello from no_std
//!   PELN rust: fmt 12345 -42 0xdeadbeef [1, 2, 3]
//!   PELN rust: dyn 7 14 21
//!   PELN RUST RESULT: PASS
#![no_std]
#![allow(clippy::missing_safety_doc)]

use core::fmt::{self, Write};

#[repr(C)]
pub struct TableHeader {
    signature: u64,
    revision: u32,
    header_size: u32,
    crc32: u32,
    reserved: u32,
}

#[repr(C)]
pub struct SimpleTextOutput {
    reset: extern "efiapi" fn(*mut SimpleTextOutput, bool) -> usize,
    output_string: extern "efiapi" fn(*mut SimpleTextOutput, *const u16) -> usize,
}

#[repr(C)]
pub struct RuntimeServices {
    hdr: TableHeader,
    _unused: [usize; 10],
    reset_system: extern "efiapi" fn(u32, usize, usize, *const u8) -> !,
}

#[repr(C)]
pub struct SystemTable {
    hdr: TableHeader,
    firmware_vendor: *const u16,
    firmware_revision: u32,
    console_in_handle: *mut u8,
    con_in: *mut u8,
    console_out_handle: *mut u8,
    con_out: *mut SimpleTextOutput,
    standard_error_handle: *mut u8,
    std_err: *mut SimpleTextOutput,
    runtime_services: *mut RuntimeServices,
    boot_services: *mut u8,
}

const EFI_RESET_SHUTDOWN: u32 = 2;

struct Console(*mut SimpleTextOutput);

impl Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut buf = [0u16; 64];
        let mut n = 0;
        for c in s.chars() {
            if c == '\n' {
                buf[n] = b'\r' as u16;
                n += 1;
            }
            buf[n] = c as u16;
            n += 1;
            if n >= buf.len() - 2 {
                self.flush(&mut buf, &mut n);
            }
        }
        self.flush(&mut buf, &mut n);
        Ok(())
    }
}

impl Console {
    fn flush(&mut self, buf: &mut [u16; 64], n: &mut usize) {
        buf[*n] = 0;
        // SAFETY: the firmware's ConOut protocol, valid until ExitBootServices.
        unsafe { ((*self.0).output_string)(self.0, buf.as_ptr()) };
        *n = 0;
    }
}

trait Shape {
    fn scaled(&self, k: u32) -> u32;
}

struct Unit(u32);

impl Shape for Unit {
    fn scaled(&self, k: u32) -> u32 {
        self.0 * k
    }
}

#[inline(never)]
fn use_dyn(s: &dyn Shape, k: u32) -> u32 {
    s.scaled(k)
}

#[no_mangle]
pub extern "efiapi" fn efi_main(_image: *mut u8, st: *mut SystemTable) -> usize {
    // SAFETY: the firmware passes a valid system table.
    let st = unsafe { &*st };
    let mut con = Console(st.con_out);
    let nums = core::hint::black_box([1u8, 2, 3]);
    let a = core::hint::black_box(12345u32);
    let b = core::hint::black_box(-42i64);
    let _ = writeln!(con, "\nPELN rust: hello from no_std");
    let _ = writeln!(con, "PELN rust: fmt {} {} {:#x} {:?}", a, b, 0xdeadbeefu32, nums);
    let unit: &dyn Shape = &Unit(core::hint::black_box(7));
    let r = [
        use_dyn(unit, core::hint::black_box(1)),
        use_dyn(unit, core::hint::black_box(2)),
        use_dyn(unit, core::hint::black_box(3)),
    ];
    let _ = writeln!(con, "PELN rust: dyn {} {} {}", r[0], r[1], r[2]);
    let ok = r == [7, 14, 21] && a == 12345;
    let _ = writeln!(con, "PELN RUST RESULT: {}", if ok { "PASS" } else { "FAIL" });
    // SAFETY: valid runtime services table; ResetSystem does not return.
    unsafe { ((*st.runtime_services).reset_system)(EFI_RESET_SHUTDOWN, 0, 0, core::ptr::null()) }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {}
}
