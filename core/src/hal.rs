//! Hardware abstraction: the two things an A/B install touches. Both traits are small and
//! blocking, and each method states what a power cut in the middle of it may leave behind;
//! the installer orders its calls so that every cut leaves the old or the new state.

use crate::text::{display_text, ErrorText};
use core::fmt::{Debug, Display};

/// The storage of a root filesystem partition (a block device, an MTD/flash partition, or a
/// file standing in for one).
pub trait BlockDevice {
    type Error: Debug + Display;

    /// Whether a range can be rewritten without touching its neighbours: block devices and
    /// files can; NOR flash cannot (sectors erase whole, so it is written front to back once).
    /// When `false`, the image writer never reads back and never skips equal frames: it
    /// writes every byte, sequentially, from offset 0.
    const REWRITE_IN_PLACE: bool = true;

    /// Capacity in bytes. An image larger than this is refused before anything is written.
    fn size(&mut self) -> Result<u64, Self::Error>;

    /// Reads `buf.len()` bytes at `offset` (used to skip blocks that are already equal).
    fn read(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), Self::Error>;

    /// Writes `data` at `offset`.
    ///
    /// Power loss: every byte of the range may afterwards hold its old or its new value; bytes
    /// outside the range are untouched. Nothing is durable before [`BlockDevice::sync`].
    fn write(&mut self, offset: u64, data: &[u8]) -> Result<(), Self::Error>;

    /// Makes all completed writes durable. Power loss during `sync` is like power loss during
    /// the writes it covers.
    fn sync(&mut self) -> Result<(), Self::Error>;

    /// The text an install error keeps of `e` (`InstallError::Device`). By default its
    /// `Display`; a device in firmware that leaves `core::fmt` out of flash returns a fixed
    /// text instead ([`crate::flash::NorPartition`] does).
    fn error_text(e: &Self::Error) -> ErrorText {
        display_text(e)
    }
}

/// The bootloader's environment (U-Boot env, GRUB env block, or a flash record on a
/// microcontroller): string variables.
pub trait BootEnv {
    type Error: Debug + Display;

    /// Reads variable `name` into `buf`; returns its length, or `None` when it is not set.
    /// A value longer than `buf` is an error, never silently truncated.
    fn get(&mut self, name: &str, buf: &mut [u8]) -> Result<Option<usize>, Self::Error>;

    /// Sets every `(name, value)` as one atomic change; an empty value removes the variable.
    ///
    /// Power loss: afterwards the bootloader and the next `get` see either all of the old
    /// values or all of the new ones, never a mix and never a corrupt environment.
    fn set(&mut self, vars: &[(&str, &str)]) -> Result<(), Self::Error>;

    /// The text an install error keeps of `e` (`InstallError::BootEnv`); see
    /// [`BlockDevice::error_text`].
    fn error_text(e: &Self::Error) -> ErrorText {
        display_text(e)
    }
}
