//! The four UEFI architectures: their `--uki` names, PE machine values and removable-media
//! boot file names (UEFI 2.10 §3.5.1.1).

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Arch {
    Amd64,
    Arm64,
    Riscv64,
    Loongarch64,
}

impl Arch {
    pub const ALL: [Arch; 4] = [Arch::Amd64, Arch::Arm64, Arch::Riscv64, Arch::Loongarch64];

    /// Accepts the design note's Go-style names and the usual aliases (kernel/LLVM spellings).
    pub fn parse(s: &str) -> Option<Arch> {
        match s.to_ascii_lowercase().as_str() {
            "amd64" | "x86_64" | "x86-64" | "x64" => Some(Arch::Amd64),
            "arm64" | "aarch64" | "aa64" => Some(Arch::Arm64),
            "riscv64" => Some(Arch::Riscv64),
            "loongarch64" | "loong64" => Some(Arch::Loongarch64),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Arch::Amd64 => "amd64",
            Arch::Arm64 => "arm64",
            Arch::Riscv64 => "riscv64",
            Arch::Loongarch64 => "loongarch64",
        }
    }

    /// IMAGE_FILE_MACHINE_* of the PE COFF header.
    pub fn machine(self) -> u16 {
        match self {
            Arch::Amd64 => 0x8664,
            Arch::Arm64 => 0xaa64,
            Arch::Riscv64 => 0x5064,
            Arch::Loongarch64 => 0x6264,
        }
    }

    /// File name under `\EFI\BOOT\` that this arch's firmware loads from removable media.
    pub fn boot_file(self) -> &'static str {
        match self {
            Arch::Amd64 => "BOOTX64.EFI",
            Arch::Arm64 => "BOOTAA64.EFI",
            Arch::Riscv64 => "BOOTRISCV64.EFI",
            Arch::Loongarch64 => "BOOTLOONGARCH64.EFI",
        }
    }

    pub fn from_machine(machine: u16) -> Option<Arch> {
        Arch::ALL.into_iter().find(|a| a.machine() == machine)
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// "0x8664 (amd64)": errors name machines both ways so neither number nor name must be looked up.
pub fn machine_name(machine: u16) -> String {
    let name = match Arch::from_machine(machine) {
        Some(a) => a.name(),
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
    fn aliases_resolve() {
        assert_eq!(Arch::parse("x86_64"), Some(Arch::Amd64));
        assert_eq!(Arch::parse("aarch64"), Some(Arch::Arm64));
        assert_eq!(Arch::parse("loong64"), Some(Arch::Loongarch64));
        assert_eq!(Arch::parse("riscv64"), Some(Arch::Riscv64));
        assert_eq!(Arch::parse("sparc64"), None);
    }

    #[test]
    fn machines_and_boot_files() {
        let got: Vec<_> = Arch::ALL
            .iter()
            .map(|a| (a.machine(), a.boot_file()))
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
        assert_eq!(machine_name(0xaa64), "0xaa64 (arm64)");
        assert_eq!(machine_name(0x014c), "0x014c (i386)");
    }
}
