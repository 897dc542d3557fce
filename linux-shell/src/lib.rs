//! `mender-linux`: the Linux shell around `mender-core`: CLI, files, keys, logging.
//! Glue only; logic a microcontroller could use belongs in the core.
#[cfg(feature = "heap-stats")]
pub mod heap;
pub mod inspect;
pub mod verify;
pub mod blockdev;
pub mod partitions;
