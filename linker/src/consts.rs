//! Facts about the formats every phase shares: the machines, base-relocation types and the DWARF
//! sections an image carries. A leaf: it imports nothing from the crate, so readers, arch
//! tables and the writer all depend on it and not on each other.

/// The four UEFI machines the linker knows by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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

    /// Accepts the canonical names and the aliases other toolchains use.
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
}

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
    pub fn code(self) -> u16 {
        match self {
            BaseRelocType::HighLow => 3,
            BaseRelocType::Dir64 => 10,
            BaseRelocType::MarkLa => 8,
        }
    }
}

/// The DWARF sections copied into images, in output order. Their names exceed the 8 bytes of a
/// section header, so the headers say `/N`: an offset into a COFF string table at the end of the
/// file (what lld-link and GNU ld write for MinGW).
pub const DEBUG_SECTIONS: &[&str] = &[
    ".debug_abbrev",
    ".debug_info",
    ".debug_line",
    ".debug_line_str",
    ".debug_str",
    ".debug_str_offsets",
    ".debug_addr",
    ".debug_rnglists",
    ".debug_loclists",
    ".debug_ranges",
    ".debug_loc",
    ".debug_aranges",
    ".debug_frame",
    ".debug_names",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases_map_to_machines_and_pe_values() {
        let cases = [
            (
                &["amd64", "x86_64", "x64", "X86-64"][..],
                Machine::Amd64,
                0x8664,
            ),
            (&["arm64", "aarch64", "aa64"][..], Machine::Arm64, 0xaa64),
            (&["riscv64"][..], Machine::Riscv64, 0x5064),
            (
                &["loongarch64", "loong64"][..],
                Machine::Loongarch64,
                0x6264,
            ),
        ];
        for (names, machine, pe) in cases {
            for n in names {
                assert_eq!(Machine::from_name(n), Some(machine), "{n}");
            }
            assert_eq!(machine.pe_machine(), pe);
            assert_eq!(Machine::from_pe_machine(pe), Some(machine));
            assert_eq!(
                Machine::from_elf_machine(machine.elf_machine()),
                Some(machine)
            );
        }
        assert_eq!(Machine::from_name("mips"), None);
    }
}
