//! GRUB boot environment for Mender.
//!
//! - [`block`]: the GRUB environment block codec, `no_std` and allocation-free, working on
//!   caller-provided bytes (what `grub-editenv` and GRUB's `load_env`/`save_env` read and write).
//! - [`mender`] (feature `std`): the grub-mender-grubenv layout, two copies of `env` guarded by
//!   `lock` files, implementing [`mender_core::hal::BootEnv`] with the official tool's write
//!   order so that GRUB's boot script sees every change as atomic.
#![no_std]

#[cfg(feature = "std")]
extern crate std;

pub mod block;
#[cfg(feature = "std")]
pub mod mender;
