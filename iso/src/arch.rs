//! The four UEFI architectures of `--uki linux/ARCH`: peln's one machine type (names and aliases,
//! PE machine values, removable-media boot file names), named `Arch` here as on the command line.
pub use peln_pe::machine::describe as machine_name;
pub use peln_pe::Machine as Arch;
