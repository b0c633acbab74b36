//! peln: a PE32+/UEFI linker.
