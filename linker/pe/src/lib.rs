//! The one PE layer of peln. Every tool that reads, patches or writes PE images goes through here:
//! the linker (its [`Machine`] and [`checksum`]), `pectl uki` (header patching), `pectl inspect`,
//! `pectl verify` and `cloud-boot-iso` (the load checks of [`verify`]), and every tool's output
//! ([`output::write_atomic`]).
//!
//! Headers are read through the `object` crate's PE types ([`object::pe`]); what this crate adds is
//! the file offsets of every field a tool patches, and checks that report the field and value a
//! firmware would choke on rather than a bare "malformed".
pub mod baserel;
pub mod headers;
pub mod machine;
pub mod output;
pub mod synth;
pub mod verify;

pub use headers::{checksum, checksum_field, Headers, NotPe, Section};
pub use machine::Machine;
