//! Facts about the formats every phase shares: the machines, base-relocation types and the DWARF
//! sections an image carries. A leaf: it imports nothing from the crate, so readers, arch
//! tables and the writer all depend on it and not on each other.

// The workspace's one machine type lives in the PE layer; the linker names it as its own.
pub use peln_pe::machine::{
    Machine, IMAGE_FILE_MACHINE_AMD64, IMAGE_FILE_MACHINE_ARM64, IMAGE_FILE_MACHINE_LOONGARCH64,
    IMAGE_FILE_MACHINE_RISCV64,
};

pub use peln_pe::baserel::BaseRelocType;

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
