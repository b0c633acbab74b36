//! The four UEFI machines peln knows: their names, PE and ELF machine values and removable-media
//! boot file names. The one definition for the workspace (the linker re-exports it).
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Machine {
    Amd64,
    Arm64,
    Riscv64,
    Loongarch64,
}

/// PE machine values. `object` has no LoongArch constant, so all four live here.
pub const IMAGE_FILE_MACHINE_AMD64: u16 = 0x8664;
pub const IMAGE_FILE_MACHINE_ARM64: u16 = 0xaa64;
pub const IMAGE_FILE_MACHINE_RISCV64: u16 = 0x5064;
pub const IMAGE_FILE_MACHINE_LOONGARCH64: u16 = 0x6264;

impl Machine {
    pub const ALL: [Machine; 4] = [
        Machine::Amd64,
        Machine::Arm64,
        Machine::Riscv64,
        Machine::Loongarch64,
    ];

    /// Accepts the canonical (Go/Debian) names and the aliases other toolchains use.
    pub fn from_name(name: &str) -> Option<Machine> {
        Some(match name.to_ascii_lowercase().as_str() {
            "amd64" | "x86_64" | "x64" | "x86-64" => Machine::Amd64,
            "arm64" | "aarch64" | "aa64" => Machine::Arm64,
            "riscv64" => Machine::Riscv64,
            "loongarch64" | "loong64" => Machine::Loongarch64,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Machine::Amd64 => "amd64",
            Machine::Arm64 => "arm64",
            Machine::Riscv64 => "riscv64",
            Machine::Loongarch64 => "loongarch64",
        }
    }

    /// IMAGE_FILE_MACHINE_* of the COFF file header.
    pub fn pe_machine(self) -> u16 {
        match self {
            Machine::Amd64 => IMAGE_FILE_MACHINE_AMD64,
            Machine::Arm64 => IMAGE_FILE_MACHINE_ARM64,
            Machine::Riscv64 => IMAGE_FILE_MACHINE_RISCV64,
            Machine::Loongarch64 => IMAGE_FILE_MACHINE_LOONGARCH64,
        }
    }

    pub fn from_pe_machine(value: u16) -> Option<Machine> {
        Machine::ALL.into_iter().find(|m| m.pe_machine() == value)
    }

    /// e_machine of an ELF object for this machine.
    pub fn elf_machine(self) -> u16 {
        match self {
            Machine::Amd64 => object::elf::EM_X86_64.0,
            Machine::Arm64 => object::elf::EM_AARCH64.0,
            Machine::Riscv64 => object::elf::EM_RISCV.0,
            Machine::Loongarch64 => object::elf::EM_LOONGARCH.0,
        }
    }

    pub fn from_elf_machine(value: u16) -> Option<Machine> {
        Machine::ALL.into_iter().find(|m| m.elf_machine() == value)
    }

    /// File name under `\EFI\BOOT\` that this machine's firmware loads from removable media
    /// (UEFI 2.10 §3.5.1.1).
    pub fn efi_boot_file(self) -> &'static str {
        match self {
            Machine::Amd64 => "BOOTX64.EFI",
            Machine::Arm64 => "BOOTAA64.EFI",
            Machine::Riscv64 => "BOOTRISCV64.EFI",
            Machine::Loongarch64 => "BOOTLOONGARCH64.EFI",
        }
    }
}

impl fmt::Display for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// "0x8664 (amd64)": messages name machines both ways, so neither number nor name must be looked
/// up. Machines peln does not target get their usual name too, so "wrong machine" says which.
pub fn describe(machine: u16) -> String {
    let name = match Machine::from_pe_machine(machine) {
        Some(m) => m.name(),
        None => match machine {
            0x014c => "i386",
            0x01c0 | 0x01c2 | 0x01c4 => "arm32",
            0x0200 => "ia64",
            0x5032 => "riscv32",
            0x5128 => "riscv128",
            0x6232 => "loongarch32",
            0xa641 => "arm64ec",
            0xa64e => "arm64x",
            _ => "unknown",
        },
    };
    format!("{machine:#06x} ({name})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_values_and_boot_files_round_trip() {
        let got: Vec<_> = Machine::ALL
            .iter()
            .map(|m| (m.pe_machine(), m.efi_boot_file()))
            .collect();
        assert_eq!(
            got,
            [
                (0x8664, "BOOTX64.EFI"),
                (0xaa64, "BOOTAA64.EFI"),
                (0x5064, "BOOTRISCV64.EFI"),
                (0x6264, "BOOTLOONGARCH64.EFI")
            ]
        );
        for m in Machine::ALL {
            assert_eq!(Machine::from_name(m.name()), Some(m));
            assert_eq!(Machine::from_pe_machine(m.pe_machine()), Some(m));
            assert_eq!(Machine::from_elf_machine(m.elf_machine()), Some(m));
        }
        for (alias, m) in [
            ("x86_64", Machine::Amd64),
            ("X64", Machine::Amd64),
            ("aarch64", Machine::Arm64),
            ("aa64", Machine::Arm64),
            ("loong64", Machine::Loongarch64),
        ] {
            assert_eq!(Machine::from_name(alias), Some(m));
        }
        assert_eq!(Machine::from_name("sparc64"), None);
        assert_eq!(describe(0xaa64), "0xaa64 (arm64)");
        assert_eq!(describe(0x014c), "0x014c (i386)");
    }
}
