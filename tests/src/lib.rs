//! Shared test harness for peln: toolchain discovery with one skip/fail policy, a QEMU + edk2 boot
//! runner, C/Rust compile helpers, the self-checking C test program and link helpers (our `pectl`
//! and the `lld-link-19` reference).
//!
//! A typical boot test, with `pectl` as a dev-dependency of the test crate:
//!
//! ```ignore
//! use peln_tests::{Arch, LinkOpts, Variant};
//! #[test]
//! fn pectl_coff_amd64_boots() {
//!     let Some(run) = peln_tests::c_program_with_pectl(
//!         pectl::run, Arch::Amd64, &Variant::coff(), &LinkOpts::default()) else { return };
//!     run.assert_passed();
//! }
//! ```
//!
//! Skip policy: when a tool or the firmware is missing, a test prints `skipped: <why>` to stderr and
//! returns — unless the environment variable `CI` is set (e.g. `CI=true`), in which case it fails.
//! Use [`require!`] in tests, or the `Option`-returning helpers, which apply the same policy through
//! [`skip_or_fail`].

pub mod bad_input;
pub mod cc;
pub mod dwarf;
pub mod env;
pub mod kernel;
pub mod link;
pub mod pe;
pub mod program;
pub mod qemu;
pub mod realapp;
pub mod rust;
pub mod secureboot;
pub mod stub;
pub mod work;

pub use cc::{archive, compile_c, ObjFormat};
pub use env::{
    check_needs, fw_dir, is_ci, secure_boot_firmware, skip_or_fail, skip_unless, tool, Need,
    Requirement, SecureBootFirmware, SNAKEOIL_PASSWORD,
};
pub use link::{
    link_elf_fixed_reference, link_with_lld, link_with_pectl, pectl_link_args, LinkOpts, PectlRun,
};
pub use program::{
    assert_icf_folds_the_twin, assert_pectl_prints_what_lld_link_prints, assert_program_passed,
    build_test_program, c_program_with_elf_reference, c_program_with_lld, c_program_with_pectl,
    pectl_c_program_passes, pectl_linked_program, peln_lines, ProgramRun, TestProgram, Variant,
    CHECKS,
};
pub use qemu::{
    boot, boot_efi, boot_efi_with, make_esp_dir, BootOpts, BootResult, FirmwareKind, Media,
    ACCESS_DENIED,
};
pub use work::WorkDir;

/// `len` bytes that look like nothing, from a fixed xorshift64 stream started at `seed` (not 0):
/// the same every run, so a failure reproduces.
pub fn pseudo_random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// The four UEFI architectures peln links for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Arch {
    Amd64,
    Arm64,
    Riscv64,
    Loongarch64,
}

impl Arch {
    pub const ALL: [Arch; 4] = [Arch::Amd64, Arch::Arm64, Arch::Riscv64, Arch::Loongarch64];

    /// The removable-media boot file name, `EFI/BOOT/<this>`.
    pub fn efi_boot_file(self) -> &'static str {
        match self {
            Arch::Amd64 => "BOOTX64.EFI",
            Arch::Arm64 => "BOOTAA64.EFI",
            Arch::Riscv64 => "BOOTRISCV64.EFI",
            Arch::Loongarch64 => "BOOTLOONGARCH64.EFI",
        }
    }

    /// The value of `pectl link --machine`.
    pub fn pectl_machine(self) -> &'static str {
        match self {
            Arch::Amd64 => "amd64",
            Arch::Arm64 => "arm64",
            Arch::Riscv64 => "riscv64",
            Arch::Loongarch64 => "loongarch64",
        }
    }

    /// Whether LLVM 19 can produce COFF objects for this arch (it cannot for riscv64/loongarch64:
    /// clang silently emits ELF for their `*-windows-*` triples).
    pub fn supports_coff(self) -> bool {
        matches!(self, Arch::Amd64 | Arch::Arm64)
    }

    /// The clang `-target` triple. Panics for COFF on riscv64/loongarch64 (see [`Arch::supports_coff`]).
    pub fn clang_triple(self, format: ObjFormat) -> &'static str {
        match (self, format) {
            (Arch::Amd64, ObjFormat::Coff) => "x86_64-pc-windows-msvc",
            (Arch::Amd64, ObjFormat::Elf) => "x86_64-unknown-elf",
            (Arch::Arm64, ObjFormat::Coff) => "aarch64-pc-windows-msvc",
            (Arch::Arm64, ObjFormat::Elf) => "aarch64-unknown-elf",
            (Arch::Riscv64, ObjFormat::Elf) => "riscv64-unknown-elf",
            (Arch::Loongarch64, ObjFormat::Elf) => "loongarch64-unknown-elf",
            (a, ObjFormat::Coff) => {
                panic!("LLVM 19 cannot emit COFF objects for {a:?}: use ObjFormat::Elf")
            }
        }
    }

    /// Arch-specific clang flags needed for UEFI code (ABI, code model, disabled SIMD units).
    pub fn clang_arch_flags(self) -> &'static [&'static str] {
        match self {
            Arch::Amd64 => &["-mno-red-zone"],
            Arch::Arm64 => &[],
            Arch::Riscv64 => &["-march=rv64gc", "-mabi=lp64d", "-mcmodel=medany"],
            // edk2 does not enable LSX/LASX: the program would die with #SXD.
            Arch::Loongarch64 => &["-mno-lsx", "-mno-lasx"],
        }
    }

    /// `lld-link /machine:` value, for the arches lld-link supports.
    pub fn lld_link_machine(self) -> Option<&'static str> {
        match self {
            Arch::Amd64 => Some("x64"),
            Arch::Arm64 => Some("arm64"),
            _ => None,
        }
    }

    /// The rustc target to build a UEFI program with, when rustup has one here.
    pub fn rust_uefi_target(self) -> Option<&'static str> {
        match self {
            Arch::Amd64 => Some("x86_64-unknown-uefi"),
            Arch::Arm64 => Some("aarch64-unknown-uefi"),
            // No UEFI target: the bare-metal one emits ELF with the same calling convention.
            Arch::Riscv64 => Some("riscv64gc-unknown-none-elf"),
            Arch::Loongarch64 => None,
        }
    }

    /// The QEMU system emulator binary.
    pub fn qemu_binary(self) -> &'static str {
        match self {
            Arch::Amd64 => "qemu-system-x86_64",
            Arch::Arm64 => "qemu-system-aarch64",
            Arch::Riscv64 => "qemu-system-riscv64",
            Arch::Loongarch64 => "qemu-system-loongarch64",
        }
    }

    /// edk2 firmware (CODE, VARS template), relative to [`fw_dir`].
    pub fn firmware_rel_paths(self) -> (&'static str, &'static str) {
        match self {
            Arch::Amd64 => (
                "usr/share/OVMF/OVMF_CODE_4M.fd",
                "usr/share/OVMF/OVMF_VARS_4M.fd",
            ),
            Arch::Arm64 => (
                "usr/share/AAVMF/AAVMF_CODE.fd",
                "usr/share/AAVMF/AAVMF_VARS.fd",
            ),
            Arch::Riscv64 => (
                "usr/share/qemu-efi-riscv64/RISCV_VIRT_CODE.fd",
                "usr/share/qemu-efi-riscv64/RISCV_VIRT_VARS.fd",
            ),
            Arch::Loongarch64 => (
                "usr/share/qemu-efi-loongarch64/QEMU_EFI.fd",
                "usr/share/qemu-efi-loongarch64/QEMU_VARS.fd",
            ),
        }
    }

    /// edk2's Secure Boot build (CODE, VARS template with Debian's snakeoil certificate enrolled as
    /// PK, KEK and db, directory of `PkKek-1-snakeoil.{key,pem}`), relative to [`fw_dir`]; `None` on
    /// riscv64 and loongarch64, whose Debian edk2 is built without Secure Boot.
    pub fn secure_boot_rel_paths(self) -> Option<(&'static str, &'static str, &'static str)> {
        match self {
            Arch::Amd64 => Some((
                "usr/share/OVMF/OVMF_CODE_4M.secboot.fd",
                "usr/share/OVMF/OVMF_VARS_4M.snakeoil.fd",
                "usr/share/ovmf",
            )),
            Arch::Arm64 => Some((
                "usr/share/AAVMF/AAVMF_CODE.secboot.fd",
                "usr/share/AAVMF/AAVMF_VARS.snakeoil.fd",
                "usr/share/qemu-efi-aarch64",
            )),
            Arch::Riscv64 | Arch::Loongarch64 => None,
        }
    }

    /// Debian's U-Boot for QEMU (`u-boot-qemu`), relative to [`fw_dir`]; there is no
    /// loongarch64 build.
    pub fn uboot_rel_path(self) -> Option<&'static str> {
        match self {
            Arch::Amd64 => Some("usr/lib/u-boot/qemu-x86_64/u-boot.rom"),
            Arch::Arm64 => Some("usr/lib/u-boot/qemu_arm64/u-boot.bin"),
            Arch::Riscv64 => Some("usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin"),
            Arch::Loongarch64 => None,
        }
    }

    /// The edk2 UEFI Shell application, relative to [`fw_dir`].
    pub fn uefi_shell_rel_path(self) -> &'static str {
        match self {
            Arch::Amd64 => "usr/share/efi-shell-x64/shellx64.efi",
            Arch::Arm64 => "usr/share/efi-shell-aa64/shellaa64.efi",
            Arch::Riscv64 => "usr/share/efi-shell-riscv64/shellriscv64.efi",
            Arch::Loongarch64 => "usr/share/efi-shell-loongarch64/shellloongarch64.efi",
        }
    }

    /// IMAGE_FILE_MACHINE_* value of a PE image for this arch.
    pub fn pe_machine(self) -> u16 {
        match self {
            Arch::Amd64 => 0x8664,
            Arch::Arm64 => 0xaa64,
            Arch::Riscv64 => 0x5064,
            Arch::Loongarch64 => 0x6264,
        }
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.pectl_machine())
    }
}

/// One `#[test]` per case, each calling one test function with its argument: the per-arch (or
/// per-variant) tests of a test function without a hand-written wrapper for each. A case may
/// carry attributes, such as its doc comment.
///
/// ```ignore
/// peln_tests::tests_of!(hands_off:
///     uki_hands_off_cmdline_and_initrd_amd64 => Arch::Amd64,
///     /// The same on arm64.
///     uki_hands_off_cmdline_and_initrd_arm64 => Arch::Arm64,
/// );
/// ```
#[macro_export]
macro_rules! tests_of {
    ($body:path: $($(#[$attr:meta])* $name:ident => $arg:expr),+ $(,)?) => {
        $(
            $(#[$attr])*
            #[test]
            fn $name() {
                $body($arg)
            }
        )+
    };
}

/// Unwraps a requirement (an `Option`, a `Result<T, impl Display>` or a `bool`), or applies the skip
/// policy and `return`s from the calling test: prints `skipped: <why>` (or panics when `CI` is set).
///
/// ```ignore
/// let clang = require!(peln_tests::tool("clang-19"), "clang-19 not on PATH");
/// require!(peln_tests::check_needs(Arch::Amd64, &[Need::Clang, Need::Qemu]));
/// ```
#[macro_export]
macro_rules! require {
    ($req:expr $(,)?) => {
        match $crate::Requirement::check($req) {
            ::std::result::Result::Ok(v) => v,
            ::std::result::Result::Err(why) => {
                $crate::skip_or_fail(&why);
                return;
            }
        }
    };
    ($req:expr, $($why:tt)+) => {
        match $crate::Requirement::check($req) {
            ::std::result::Result::Ok(v) => v,
            ::std::result::Result::Err(why) => {
                $crate::skip_or_fail(&format!("{}: {}", format!($($why)+), why));
                return;
            }
        }
    };
}
