//! `mender-core`: the Mender Artifact reader as a `no_std`, allocation-bounded push parser.
//!
//! The caller feeds byte slices of any length to [`reader::Reader::feed`] and gets
//! [`reader::Event`]s back; the core performs no I/O, reads no clock and, without the `alloc`
//! feature, never allocates. Every fixed capacity is a named constant in [`limits`] and is listed
//! in the workspace's `memory-budget.md`.
#![no_std]
#![forbid(unsafe_code)]
// Errors carry the offending name or path inline (there is no allocator), so they are large.
#![allow(clippy::result_large_err, clippy::large_enum_variant)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(any(feature = "std", test))]
extern crate std;

pub mod codec;
pub mod flash;
pub mod hal;
pub mod install;
pub mod json;
pub mod limits;
pub mod manifest;
pub mod meta;
pub mod provides;
pub mod reader;
pub mod signature;
mod stop;
pub mod tar;
#[cfg(test)]
mod test_rng;
pub mod text;
