//! `mender-linux`: the Linux shell around `mender-core`: CLI, files, keys, logging.
//! Glue only; logic a microcontroller could use belongs in the core.
pub mod blockdev;
pub mod bootenv;
pub mod config;
pub mod deploylog;
pub mod download;
#[cfg(feature = "heap-stats")]
pub mod heap;
pub mod inspect;
pub mod log;
pub mod partitions;
pub mod standalone;
pub mod store;
pub mod verify;
