//! The update client as Cortex-M firmware: the job of the device is one generic function,
//! [`update`], that streams an Artifact from a [`Source`] in small chunks into the core's
//! [`RootfsUpdate`], which checks it and writes the payload into the *inactive* slot, and only
//! then switches the boot environment. [`commit`] confirms the new slot after a good boot.
//!
//! The same functions run on the host (tests over an in-memory NOR flash) and in the firmware
//! binaries (`fw-gzip`, `fw-plain`, feature `firmware`), which run under QEMU
//! (`-M mps2-an386`, a Cortex-M4F) and reach the Artifact, the flash and the boot environment
//! through ARM semihosting (module `semihosting`, Cortex-M only).
//!
//! Slots: the boot environment's `mender_boot_part` names the running slot, [`SLOT_A`] (2) or
//! [`SLOT_B`] (3), as on the Linux simulated device; unset means [`SLOT_A`] (a factory-fresh
//! environment). The other slot is written.
//!
//! Memory: nothing is allocated. The caller lends a [`Memory`]: the reader's document arena, an
//! optional decode workspace (`fw-gzip`: a `SmallWorkspace`; without one, compressed Artifacts
//! are refused clearly), the
//! image writer's frame and the read chunk. `memory-budget.md` ("Cortex-M firmware") has the
//! measured flash and RAM of both firmware variants.
#![no_std]
// Unsafe is confined to the semihosting calls and the stack measurement of the firmware.
#![deny(unsafe_op_in_unsafe_fn)]
// Without a heap the core's errors carry their texts inline, so they are large; one is
// returned per update.
#![allow(clippy::result_large_err, clippy::large_enum_variant)]

#[cfg(all(feature = "firmware", not(target_os = "none")))]
compile_error!(
    "feature `firmware` builds the Cortex-M binaries: add --target thumbv7em-none-eabihf"
);

#[cfg(all(feature = "firmware", target_arch = "arm", target_os = "none"))]
pub mod firmware;
#[cfg(all(feature = "firmware", target_arch = "arm", target_os = "none"))]
mod mem;
#[cfg(all(target_arch = "arm", target_os = "none"))]
pub mod semihosting;
#[cfg(all(feature = "firmware", target_arch = "arm", target_os = "none"))]
pub mod stack;

use core::fmt;
use mender_core::hal::{BlockDevice, BootEnv};
use mender_core::install::{self, Device, ImageWriter, InstallError, RootfsUpdate, WriteStats};
use mender_core::provides::Installed;
use mender_core::reader::{Buffers, Config};
use mender_core::text::{display_text, Brief};

/// The device type the firmware accepts Artifacts for (the QEMU board it runs on).
pub const DEVICE_TYPE: &str = "mps2-an386";
/// Bytes the firmware reads from the source per call and feeds to the reader at once. Small:
/// RAM is what runs out first, and the reader takes any chunk size.
pub const CHUNK_LEN: usize = 128;
/// The firmware's image-writer frame: a multiple of the flash write unit; NOR is programmed
/// front to back, so a larger frame only means fewer, longer program calls.
pub const FRAME_LEN: usize = 64;
/// The firmware's document arena. A rootfs Artifact as mender-artifact 3.9 writes it needs
/// 624 bytes, one with three device types, a provide and a group 704; an Artifact whose
/// documents need more is refused with a clear `Buffers::arena` limit error.
pub const ARENA_LEN: usize = 1024;

/// The slot (`mender_boot_part` value) that runs when the environment names none.
pub const SLOT_A: u32 = 2;
/// The other slot.
pub const SLOT_B: u32 = 3;

/// Where the Artifact comes from: a file, a socket, a serial link.
pub trait Source {
    type Error: fmt::Display;

    /// Reads up to `buf.len()` bytes into `buf`; `Ok(0)` is the end of the Artifact.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error>;

    /// The text [`FwError::Source`] keeps of `e`: its `Display` by default; firmware that
    /// leaves `core::fmt` out of flash builds it by hand.
    fn error_text(e: &Self::Error) -> ErrorText {
        display_text(e)
    }
}

/// The memory an update works in, owned by the caller so that the firmware decides where it
/// lives (its stack, a static) and how much each variant can afford.
pub struct Memory<'w> {
    /// The reader's document arena and optional decode workspace.
    pub buffers: Buffers<'w>,
    /// The image writer's buffer: all of it is the write unit on NOR flash; a device that
    /// rewrites in place splits it into a frame and its read-back half.
    pub frame: &'w mut [u8],
    /// Read buffer for the [`Source`]: each read is fed to the reader whole.
    pub chunk: &'w mut [u8],
}

/// The two root slots, by the partition numbers the boot environment uses.
pub struct Slots<'a, B> {
    /// [`SLOT_A`] (2).
    pub a: &'a mut B,
    /// [`SLOT_B`] (3).
    pub b: &'a mut B,
}

/// What the firmware knows about itself before installing.
///
/// There is no store of installed provides on this device: [`NothingInstalled`] stands in, so
/// an Artifact that depends on an installed Artifact name, group or provide is refused (the
/// safe answer when it cannot be checked), and one that depends only on the device type is
/// accepted.
#[derive(Debug, Clone, Copy)]
pub struct DeviceInfo<'c> {
    /// Compared with the Artifact's compatible device types.
    pub device_type: &'c str,
}

/// The installed-Artifact record of a device that keeps none: no name, no group, no provides.
/// Depends on any of them are therefore never satisfied (see [`DeviceInfo`]).
pub struct NothingInstalled;

impl Installed for NothingInstalled {
    fn name(&self) -> &str {
        ""
    }
    fn group(&self) -> Option<&str> {
        None
    }
    fn provide(&self, _key: &str) -> Option<&str> {
        None
    }
}

/// What a successful update did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    /// The slot that now holds the image and boots next (with `upgrade_available=1`).
    pub slot: u32,
    /// Bytes of the Artifact read from the source.
    pub artifact_bytes: u64,
    /// What the image writer did.
    pub stats: WriteStats,
}

/// Text of a source error, folded at the boundary as the core does for devices.
pub type ErrorText = install::ErrorText;

/// Why an update or commit stopped. In every case the boot environment is as it was.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FwError {
    /// Reading, checking or writing the Artifact, or the boot environment.
    Install(InstallError),
    /// The source failed.
    Source(ErrorText),
    /// An installed update still waits for its commit (`upgrade_available=1`): a second install
    /// would overwrite the slot the bootloader falls back to, or the one under test.
    Pending,
    /// `mender_boot_part` names a slot this device does not have.
    UnknownSlot(u32),
}

impl fmt::Display for FwError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FwError::Install(e) => write!(f, "{}", e),
            FwError::Source(e) => write!(f, "reading the Artifact: {}", e),
            FwError::Pending => f.write_str(
                "an update is installed and waits for commit (upgrade_available=1); commit or roll back first",
            ),
            FwError::UnknownSlot(s) => write!(
                f,
                "boot environment: mender_boot_part={} is neither slot {} nor {}",
                s, SLOT_A, SLOT_B
            ),
        }
    }
}

impl FwError {
    /// The error in a few fixed words and what it carries, without `core::fmt`: what the
    /// firmware prints (the full text is `Display`).
    pub fn brief(&self) -> Brief<'_> {
        match self {
            FwError::Install(e) => e.brief(),
            FwError::Source(t) => Brief::new("reading the Artifact", "", t),
            FwError::Pending => Brief::new(
                "an update waits for commit (upgrade_available=1)",
                "commit or roll back first",
                "",
            ),
            FwError::UnknownSlot(_) => Brief::new(
                "boot environment",
                "mender_boot_part names no slot of this device",
                "",
            ),
        }
    }
}

impl From<InstallError> for FwError {
    fn from(e: InstallError) -> Self {
        FwError::Install(e)
    }
}

/// The running slot, from `mender_boot_part` ([`SLOT_A`] when unset).
pub fn active_slot<E: BootEnv>(env: &mut E) -> Result<u32, FwError> {
    match install::boot_part(env)?.unwrap_or(SLOT_A) {
        s @ (SLOT_A | SLOT_B) => Ok(s),
        other => Err(FwError::UnknownSlot(other)),
    }
}

/// The slot an update goes to: the one not running.
pub fn inactive_slot<E: BootEnv>(env: &mut E) -> Result<u32, FwError> {
    Ok(if active_slot(env)? == SLOT_A {
        SLOT_B
    } else {
        SLOT_A
    })
}

/// Installs the Artifact that `source` yields: checks it against `device` while it streams,
/// writes the payload into the inactive slot, and after the whole Artifact verified and the
/// slot was synced, selects that slot for the next boot with a fallback
/// ([`install::switch_to`]). Any failure returns before the boot environment is touched; the
/// inactive slot may then hold part of an image, which nothing boots.
///
/// Never inlined: merged into the firmware's command dispatch, the streaming loop and the
/// reader inlined into it cost 0.9 KB more flash (register pressure, error values rebuilt from
/// registers); the separate frame costs 1.3 KB more stack peak, within the budget.
#[inline(never)]
pub fn update<S: Source, B: BlockDevice, E: BootEnv>(
    source: &mut S,
    mem: Memory<'_>,
    slots: Slots<'_, B>,
    env: &mut E,
    device: DeviceInfo<'_>,
) -> Result<Report, FwError> {
    if install::upgrade_available(env)? {
        return Err(FwError::Pending);
    }
    let slot = inactive_slot(env)?;
    let target = if slot == SLOT_A { slots.a } else { slots.b };
    let Memory {
        buffers,
        frame,
        chunk,
    } = mem;
    let (artifact_bytes, stats) = stream(source, buffers, frame, chunk, target, device)?;
    install::switch_to(env, slot)?;
    Ok(Report {
        slot,
        artifact_bytes,
        stats,
    })
}

/// Feeds the whole source through a [`RootfsUpdate`] onto `target`; returns the Artifact bytes
/// read and what was written, once the Artifact is complete, verified and synced.
fn stream<S: Source, B: BlockDevice>(
    source: &mut S,
    buffers: Buffers<'_>,
    frame: &mut [u8],
    chunk: &mut [u8],
    target: &mut B,
    device: DeviceInfo<'_>,
) -> Result<(u64, WriteStats), FwError> {
    let installed = NothingInstalled;
    let mut up = RootfsUpdate::new(
        buffers,
        Config::default(),
        Device {
            device_type: device.device_type,
            installed: &installed,
        },
        image_writer(target, frame),
    );
    let mut total: u64 = 0;
    loop {
        let n = source
            .read(chunk)
            .map_err(|e| FwError::Source(S::error_text(&e)))?;
        let Some(data) = chunk.get(..n).filter(|d| !d.is_empty()) else {
            break;
        };
        total = total.saturating_add(n as u64);
        up.feed(data)?;
    }
    Ok((total, up.finish()?))
}

/// The image writer over `dev`. NOR flash is written front to back without reading back, so
/// all of `frame` is the write unit; a device that rewrites in place needs a read-back buffer
/// as large as the unit, so `frame` is split into the two halves.
fn image_writer<'w, B: BlockDevice>(dev: &'w mut B, frame: &'w mut [u8]) -> ImageWriter<'w, B> {
    if B::REWRITE_IN_PLACE {
        let half = frame.len() / 2;
        let (frame, scratch) = frame.split_at_mut(half);
        ImageWriter::new(dev, frame, scratch)
    } else {
        ImageWriter::new(dev, frame, &mut [])
    }
}

/// Commits the running update (after the new slot booted and checked itself): clears
/// `upgrade_available` so the bootloader keeps the slot. Returns that slot. Fails, changing
/// nothing, when no update waits for a commit.
pub fn commit<E: BootEnv>(env: &mut E) -> Result<u32, FwError> {
    let slot = active_slot(env)?;
    install::commit(env)?;
    Ok(slot)
}
