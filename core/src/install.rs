//! The A/B rootfs-image install: stream the payload onto the inactive partition while it is
//! verified, then switch the boot environment; commit and roll back.
//!
//! Order of persistent effects, so that a power cut at any point leaves a bootable device:
//! 1. payload bytes go to the *inactive* partition only (a cut leaves the boot selection alone);
//! 2. after the Artifact is complete and every checksum matched, the device is synced;
//! 3. then one atomic boot-env change selects the new partition with `upgrade_available=1`, so
//!    the bootloader falls back by itself if the new system never commits.
use crate::hal::{BlockDevice, BootEnv};
use crate::provides::{self, DependsError, Installed};
use crate::reader::{self, ArtifactHeader, Buffers, Config, Event, Reader};
use crate::text::{self, Brief};
use core::fmt;
use heapless::String;

pub use crate::text::ErrorText;

/// Why an install, commit or rollback stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InstallError {
    Read(reader::Error),
    Depends(DependsError),
    /// The payload type has no installer here.
    UnsupportedPayload(String<{ crate::limits::MAX_KEY_LEN }>),
    /// A rootfs-image payload must hold exactly one file.
    FileCount,
    TooLarge {
        image: u64,
        device: u64,
    },
    /// The payload delivered more or fewer bytes than its tar header declared.
    SizeMismatch {
        declared: u64,
        written: u64,
    },
    Device(ErrorText),
    BootEnv(ErrorText),
    /// A boot-env variable has a value this client does not understand.
    BadBootVar(&'static str),
    /// `commit` found `upgrade_available` not set: the bootloader rolled back or never switched.
    NotUpgraded,
    /// The Artifact stream ended before it was complete.
    Incomplete,
}

impl InstallError {
    /// The error in a few fixed words and what it carries, without `core::fmt` (for
    /// firmware; the full text is `Display`).
    pub fn brief(&self) -> Brief<'_> {
        match self {
            InstallError::Read(e) => e.brief(),
            InstallError::Depends(e) => e.brief(),
            InstallError::UnsupportedPayload(t) => Brief::new("payload type not supported", "", t),
            InstallError::FileCount => Brief::only("rootfs-image needs exactly one file"),
            InstallError::TooLarge { .. } => Brief::only("image larger than the partition"),
            InstallError::SizeMismatch { .. } => Brief::only("payload size mismatch"),
            InstallError::Device(t) => Brief::new("inactive partition", "", t),
            InstallError::BootEnv(t) => Brief::new("boot environment", "", t),
            InstallError::BadBootVar(v) => Brief::new("boot environment", "invalid value", v),
            InstallError::NotUpgraded => Brief::only("upgrade_available is not set"),
            InstallError::Incomplete => Brief::only("unexpected end of Artifact"),
        }
    }
}

impl fmt::Display for InstallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InstallError::Read(e) => write!(f, "{}", e),
            InstallError::Depends(e) => write!(f, "{}", e),
            InstallError::UnsupportedPayload(t) => write!(
                f,
                "Artifact Payload type '{}' is not supported by this Mender Client. Make sure the Update Module is installed on the device",
                t
            ),
            InstallError::FileCount => f.write_str("Rootfs: Must provide exactly one update file"),
            InstallError::TooLarge { image, device } => write!(
                f,
                "Update ({} bytes) is larger than the size of device ({} bytes)",
                image, device
            ),
            InstallError::SizeMismatch { declared, written } => {
                write!(f, "payload size mismatch: declared {} bytes, received {}", declared, written)
            }
            InstallError::Device(e) => write!(f, "inactive partition: {}", e),
            InstallError::BootEnv(e) => write!(f, "boot environment: {}", e),
            InstallError::BadBootVar(v) => write!(f, "boot environment: invalid value of {}", v),
            InstallError::NotUpgraded => f.write_str(
                "Reboot to the new update failed. Expected \"upgrade_available\" flag to be true but it was false. Either the switch to the new partition was unsuccessful, or the bootloader rolled back",
            ),
            InstallError::Incomplete => f.write_str("reader: unexpected EOF"),
        }
    }
}

impl From<reader::Error> for InstallError {
    fn from(e: reader::Error) -> Self {
        InstallError::Read(e)
    }
}

/// What the image writer did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// Bytes of the image received.
    pub received: u64,
    /// Bytes written because they differed from what the partition held.
    pub written: u64,
    /// Bytes left alone because the partition already held them.
    pub skipped: u64,
}

/// Writes an image onto a block device in frames, reading each frame back first and skipping
/// frames that are already equal (flash wear, and speed on re-installs). Never writes beyond
/// the declared image size. On a device that cannot rewrite in place
/// ([`BlockDevice::REWRITE_IN_PLACE`] is `false`, NOR flash) every frame is written in order
/// and nothing is read back: an erase-on-write device would lose a skipped frame.
pub struct ImageWriter<'a, B: BlockDevice> {
    dev: &'a mut B,
    frame: &'a mut [u8],
    scratch: &'a mut [u8],
    fill: usize,
    offset: u64,
    declared: u64,
    stats: WriteStats,
}

impl<'a, B: BlockDevice> ImageWriter<'a, B> {
    /// `frame` and `scratch` must have the same, non-zero length: the write unit. When the
    /// device cannot rewrite in place, `scratch` is unused and may be empty (unit = `frame`).
    pub fn new(dev: &'a mut B, frame: &'a mut [u8], scratch: &'a mut [u8]) -> Self {
        ImageWriter {
            dev,
            frame,
            scratch,
            fill: 0,
            offset: 0,
            declared: 0,
            stats: WriteStats::default(),
        }
    }

    /// Starts an image of `size` bytes; refuses one larger than the device before writing.
    pub fn begin(&mut self, size: u64) -> Result<(), InstallError> {
        let device = self
            .dev
            .size()
            .map_err(|e| InstallError::Device(B::error_text(&e)))?;
        if size > device {
            return Err(InstallError::TooLarge {
                image: size,
                device,
            });
        }
        self.declared = size;
        self.fill = 0;
        self.offset = 0;
        self.stats = WriteStats::default();
        Ok(())
    }

    pub fn write(&mut self, mut data: &[u8]) -> Result<(), InstallError> {
        let unit = if B::REWRITE_IN_PLACE {
            self.frame.len().min(self.scratch.len())
        } else {
            self.frame.len()
        };
        if unit == 0 {
            return Err(InstallError::Device(text::truncated(
                "image writer has no frame buffer",
            )));
        }
        if self.stats.received + data.len() as u64 > self.declared {
            return Err(InstallError::SizeMismatch {
                declared: self.declared,
                written: self.stats.received + data.len() as u64,
            });
        }
        self.stats.received += data.len() as u64;
        while !data.is_empty() {
            let n = (unit - self.fill).min(data.len());
            self.frame[self.fill..self.fill + n].copy_from_slice(&data[..n]);
            self.fill += n;
            data = &data[n..];
            if self.fill == unit {
                self.flush()?;
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), InstallError> {
        let n = self.fill;
        if n == 0 {
            return Ok(());
        }
        let dev_err = |e: B::Error| InstallError::Device(B::error_text(&e));
        // Only a device that rewrites in place may keep a frame it already holds.
        let equal = B::REWRITE_IN_PLACE && {
            self.dev
                .read(self.offset, &mut self.scratch[..n])
                .map_err(dev_err)?;
            self.scratch[..n] == self.frame[..n]
        };
        if equal {
            self.stats.skipped += n as u64;
        } else {
            self.dev
                .write(self.offset, &self.frame[..n])
                .map_err(dev_err)?;
            self.stats.written += n as u64;
        }
        self.offset += n as u64;
        self.fill = 0;
        Ok(())
    }

    /// Writes the last partial frame and syncs; the image must be complete.
    pub fn finish(&mut self) -> Result<WriteStats, InstallError> {
        self.flush()?;
        if self.stats.received != self.declared {
            return Err(InstallError::SizeMismatch {
                declared: self.declared,
                written: self.stats.received,
            });
        }
        self.dev
            .sync()
            .map_err(|e| InstallError::Device(B::error_text(&e)))?;
        Ok(self.stats)
    }
}

/// Where an update stands, for progress reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// The header was verified and the Artifact accepted for this device.
    pub accepted: bool,
    /// Image bytes received so far and the image size.
    pub received: u64,
    pub total: u64,
    /// The Artifact was read to its end and every checksum matched; the image is synced.
    pub complete: bool,
}

/// What the device knows about itself, for the checks before installing.
pub struct Device<'c> {
    pub device_type: &'c str,
    pub installed: &'c dyn Installed,
}

/// A rootfs-image install: feed it the Artifact; it checks and writes the inactive partition.
/// The boot selection is untouched until [`switch_to`] is called after [`Progress::complete`].
pub struct RootfsUpdate<'w, B: BlockDevice> {
    reader: Reader<'w>,
    writer: ImageWriter<'w, B>,
    device: Device<'w>,
    progress: Progress,
    files: usize,
    stats: WriteStats,
}

impl<'w, B: BlockDevice> RootfsUpdate<'w, B> {
    pub fn new(
        buffers: Buffers<'w>,
        config: Config<'w>,
        device: Device<'w>,
        writer: ImageWriter<'w, B>,
    ) -> Self {
        RootfsUpdate {
            reader: Reader::new(buffers, config),
            writer,
            device,
            progress: Progress::default(),
            files: 0,
            stats: WriteStats::default(),
        }
    }

    /// Consumes all of `input`.
    pub fn feed(&mut self, mut input: &[u8]) -> Result<Progress, InstallError> {
        loop {
            let (used, event) = self.reader.feed(input)?;
            match event {
                Event::NeedMore => return Ok(self.progress),
                Event::HeaderParsed => {
                    let header = self.reader.header().ok_or(InstallError::Incomplete)?;
                    accept(&header, &self.device)?;
                    self.progress.accepted = true;
                }
                Event::PayloadFileStart { size, .. } => {
                    self.files += 1;
                    if self.files > 1 {
                        return Err(InstallError::FileCount);
                    }
                    self.writer.begin(size)?;
                    self.progress.total = size;
                }
                Event::PayloadData(data) => {
                    self.writer.write(data)?;
                    self.progress.received += data.len() as u64;
                }
                Event::PayloadFileVerified { .. } => self.stats = self.writer.finish()?,
                Event::ArtifactComplete => {
                    if self.files != 1 {
                        return Err(InstallError::FileCount);
                    }
                    self.progress.complete = true;
                }
            }
            input = &input[used..];
        }
    }

    /// Call at the end of the input; `Ok` only when the image is complete, verified and synced.
    pub fn finish(&self) -> Result<WriteStats, InstallError> {
        self.reader.finish()?;
        if !self.progress.complete {
            return Err(InstallError::Incomplete);
        }
        Ok(self.stats)
    }

    /// The verified header (after [`Progress::accepted`]).
    pub fn header(&self) -> Option<ArtifactHeader<'_>> {
        self.reader.header()
    }
}

/// The checks made before anything is written: a rootfs-image payload, and depends. Out of
/// line: its decoded names and error texts would otherwise enlarge the frame of every `feed`.
#[inline(never)]
pub fn accept(header: &ArtifactHeader<'_>, device: &Device<'_>) -> Result<(), InstallError> {
    match header.payload_type(0) {
        Some(t) if t == "rootfs-image" => {}
        Some(t) => return Err(InstallError::UnsupportedPayload(t)),
        None => return Err(InstallError::UnsupportedPayload(String::new())),
    }
    provides::check_depends(header, device.device_type, device.installed)
        .map_err(InstallError::Depends)
}

fn partition_vars(part: u32) -> (String<10>, String<8>) {
    let (mut dec, mut hex) = (String::new(), String::new());
    // Both always fit: u32::MAX has 10 decimal and 8 hex digits.
    text::push_decimal(&mut dec, part.into(), 0);
    text::push_hex_upper(&mut hex, part.into());
    (dec, hex)
}

/// Selects partition `part` for the next boot with a fallback: `upgrade_available=1`,
/// `mender_boot_part`, `mender_boot_part_hex` (uppercase, as the 3.x client) and `bootcount=0`
/// in one atomic change.
pub fn switch_to<E: BootEnv>(env: &mut E, part: u32) -> Result<(), InstallError> {
    let (dec, hex) = partition_vars(part);
    env.set(&[
        ("upgrade_available", "1"),
        ("mender_boot_part", &dec),
        ("mender_boot_part_hex", &hex),
        ("bootcount", "0"),
    ])
    .map_err(|e| InstallError::BootEnv(E::error_text(&e)))
}

/// Reads a boot-env variable as text.
pub fn read_var<'b, E: BootEnv>(
    env: &mut E,
    name: &str,
    buf: &'b mut [u8],
) -> Result<Option<&'b str>, InstallError> {
    match env
        .get(name, buf)
        .map_err(|e| InstallError::BootEnv(E::error_text(&e)))?
    {
        None => Ok(None),
        Some(n) => {
            let v = buf.get(..n).ok_or(InstallError::BadBootVar("a variable"))?;
            Ok(Some(
                core::str::from_utf8(v).map_err(|_| InstallError::BadBootVar("a variable"))?,
            ))
        }
    }
}

/// Whether an update waits for commit (`upgrade_available=1`).
pub fn upgrade_available<E: BootEnv>(env: &mut E) -> Result<bool, InstallError> {
    let mut buf = [0u8; 16];
    Ok(read_var(env, "upgrade_available", &mut buf)? == Some("1"))
}

/// The partition `mender_boot_part` selects.
pub fn boot_part<E: BootEnv>(env: &mut E) -> Result<Option<u32>, InstallError> {
    let mut buf = [0u8; 16];
    match read_var(env, "mender_boot_part", &mut buf)? {
        None => Ok(None),
        Some(v) => v
            .trim_ascii()
            .parse()
            .map(Some)
            .map_err(|_| InstallError::BadBootVar("mender_boot_part")),
    }
}

/// Commits the running update: clears `upgrade_available`, so the bootloader keeps this
/// partition. Fails if the flag is not set (the bootloader rolled back or never switched).
pub fn commit<E: BootEnv>(env: &mut E) -> Result<(), InstallError> {
    if !upgrade_available(env)? {
        return Err(InstallError::NotUpgraded);
    }
    env.set(&[("upgrade_available", "0")])
        .map_err(|e| InstallError::BootEnv(E::error_text(&e)))
}

/// What a rollback did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rollback {
    /// No update was pending (`upgrade_available` not set): nothing changed.
    NothingToDo,
    /// The boot selection now points at this partition with `upgrade_available=0`.
    SwitchedTo(u32),
}

/// Rolls back as the 3.x client does: if not yet rebooted into the update, point back at the
/// running partition; if running the update, point at the other one.
pub fn rollback<E: BootEnv>(
    env: &mut E,
    active: u32,
    inactive: u32,
) -> Result<Rollback, InstallError> {
    if !upgrade_available(env)? {
        return Ok(Rollback::NothingToDo);
    }
    let target = if boot_part(env)? != Some(active) {
        active
    } else {
        inactive
    };
    let (dec, hex) = partition_vars(target);
    env.set(&[
        ("mender_boot_part", &dec),
        ("mender_boot_part_hex", &hex),
        ("upgrade_available", "0"),
    ])
    .map_err(|e| InstallError::BootEnv(E::error_text(&e)))?;
    Ok(Rollback::SwitchedTo(target))
}
