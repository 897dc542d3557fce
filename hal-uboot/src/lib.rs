//! U-Boot boot environment for Mender.
//!
//! * [`image`]: a `no_std`, allocation-free codec for U-Boot environment images (single and
//!   redundant copies) working on caller-provided byte slices, plus the rules that pick the
//!   current redundant copy.
//! * [`config`]: the `fw_env.config` format of `fw_printenv`/`fw_setenv`.
//! * `device` (feature `std`): reads and writes the environment on a file or block device the
//!   way the Linux tools do, and implements [`mender_core::hal::BootEnv`].
//!
//! Byte formats and tool behaviour follow `shared/spec/bootenv-formats.md` §1, §2, §5, §6.
#![no_std]
#![deny(unsafe_code)]

#[cfg(any(feature = "std", test))]
extern crate std;

pub mod config;
pub mod image;

#[cfg(feature = "std")]
pub mod device;
