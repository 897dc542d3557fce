//! Reads and writes the environment on its device, as `fw_printenv`/`fw_setenv` do (spec §6),
//! without running them.
//!
//! Every operation takes the tools' `flock`, reads every copy in full, picks the current one
//! ([`FlagScheme`]) and checks Mender's saveenv canary. A write serializes the new image
//! (sorted, no duplicates, refused on overflow) and then:
//!
//! * **redundant**: writes only the non-current copy with the next flag and syncs it. A power
//!   cut leaves that copy with a bad CRC (or not yet newer), so every reader still takes the
//!   untouched old copy: the change is all-or-nothing. NOR (boolean) additionally clears the old
//!   copy's flag after the new copy is durable.
//! * **single**: rewrites the only copy in place (as libubootenv does) and syncs it. This cannot
//!   be atomic: a power cut mid-write leaves a copy whose CRC fails, and the next read reports
//!   that bad CRC instead of returning a mix. Use a redundant environment (Mender does).
//!
//! MTD and UBI devices (erase blocks, `UBI_IOCVOLUP`) are refused, not half-supported.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::string::{String, ToString};
use std::vec::Vec;
use std::{fmt, format, vec};

use crate::config::{self, ConfigError, DeviceLine, FwEnvConfig};
use crate::image::{self, Env, EnvError, FlagScheme, Layout, VarError, FLAG_OBSOLETE};

/// Lock file of libubootenv 0.3.x and U-Boot's tools up to v2023.04 (`/run/fw_printenv.lock`
/// from v2023.07: pass it to [`UBootEnv::with_lock_path`] on such systems).
pub const DEFAULT_LOCK_PATH: &str = "/var/lock/fw_printenv.lock";
/// Where both tools look for their configuration.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/fw_env.config";
/// Largest environment accepted (two buffers of this size are allocated). Mender's default is
/// 0x20000; this bounds a corrupt or hostile config.
pub const MAX_ENV_SIZE: usize = 16 << 20;

/// Positional storage holding one or both copies. Small on purpose, so tests can inject faults.
pub trait Storage {
    /// Size in bytes (resolves negative offsets).
    fn size(&mut self) -> io::Result<u64>;
    /// Fills `buf` from `offset`; a short read is `ErrorKind::UnexpectedEof`.
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()>;
    /// Writes all of `data` at `offset`; nothing is durable before [`Storage::sync`].
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()>;
    /// Makes completed writes durable (`fsync`).
    fn sync(&mut self) -> io::Result<()>;
}

/// A file or block device.
impl Storage for File {
    fn size(&mut self) -> io::Result<u64> {
        // Block devices report a zero metadata length; seeking to the end works for both.
        self.seek(SeekFrom::End(0))
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        FileExt::read_exact_at(self, buf, offset)
    }

    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        FileExt::write_all_at(self, data, offset)
    }

    fn sync(&mut self) -> io::Result<()> {
        self.sync_all()
    }
}

/// Where one copy lives.
#[derive(Debug)]
pub struct Location<S> {
    pub storage: S,
    /// Byte offset; negative counts back from the end of the storage.
    pub offset: i64,
}

/// Errors of the device backend.
#[derive(Debug)]
pub enum Error {
    Io {
        context: String,
        source: io::Error,
    },
    Config {
        path: PathBuf,
        error: ConfigError,
    },
    /// Bad CRC, both copies bad, overflow, ...
    Env(EnvError),
    InvalidVariable {
        name: String,
        error: VarError,
    },
    /// `mender_check_saveenv_canary=1` without `mender_saveenv_canary=1`; shows the official
    /// client's text ([`image::CANARY_ERROR`]).
    Canary,
    ValueTooLong {
        name: String,
        len: usize,
        capacity: usize,
    },
    BadEnvSize {
        size: u64,
    },
    OffsetOutOfRange {
        offset: i64,
        device_size: u64,
    },
    UnsupportedDevice {
        device: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { context, source } => write!(f, "{context}: {source}"),
            Error::Config { path, error } => write!(f, "{error} ({})", path.display()),
            Error::Env(e) => write!(f, "U-Boot environment: {e}"),
            Error::InvalidVariable { name, error } => write!(f, "cannot set {name:?}: {error}"),
            Error::Canary => f.write_str(image::CANARY_ERROR),
            Error::ValueTooLong {
                name,
                len,
                capacity,
            } => write!(
                f,
                "value of {name:?} is {len} bytes, the buffer holds {capacity}"
            ),
            Error::BadEnvSize { size } => write!(
                f,
                "environment size {size:#x} is outside {:#x}..={MAX_ENV_SIZE:#x}",
                Layout::Single.min_size()
            ),
            Error::OffsetOutOfRange {
                offset,
                device_size,
            } => write!(
                f,
                "offset {offset} lies before the start of the {device_size}-byte device"
            ),
            Error::UnsupportedDevice { device } => write!(
                f,
                "{device}: MTD/UBI environments need erase or volume-update ioctls, \
                 which this writer does not implement"
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<EnvError> for Error {
    fn from(e: EnvError) -> Self {
        Error::Env(e)
    }
}

fn io_error(context: String) -> impl FnOnce(io::Error) -> Error {
    move |source| Error::Io { context, source }
}

struct Slot<S> {
    storage: S,
    offset: u64,
}

/// A U-Boot environment on one or two storage locations.
pub struct UBootEnv<S> {
    first: Slot<S>,
    /// Present for a redundant environment.
    second: Option<Slot<S>>,
    scheme: FlagScheme,
    lock_path: Option<PathBuf>,
    /// One image buffer per copy; for a single copy the second is the output scratch.
    bufs: [Vec<u8>; 2],
}

impl<S: Storage> UBootEnv<S> {
    /// `second` makes the environment redundant. `env_size` is U-Boot's `CONFIG_ENV_SIZE`.
    /// The lock defaults to [`DEFAULT_LOCK_PATH`].
    pub fn new(
        first: Location<S>,
        second: Option<Location<S>>,
        env_size: u64,
        scheme: FlagScheme,
    ) -> Result<Self, Error> {
        let layout = if second.is_some() {
            Layout::Redundant
        } else {
            Layout::Single
        };
        let size = usize::try_from(env_size)
            .ok()
            .filter(|s| (layout.min_size()..=MAX_ENV_SIZE).contains(s))
            .ok_or(Error::BadEnvSize { size: env_size })?;
        Ok(UBootEnv {
            first: resolve(first)?,
            second: second.map(resolve).transpose()?,
            scheme,
            lock_path: Some(PathBuf::from(DEFAULT_LOCK_PATH)),
            bufs: [vec![0; size], vec![0; size]],
        })
    }

    /// Uses another lock file, or none (only when nothing else can touch the environment).
    pub fn with_lock_path(mut self, path: Option<PathBuf>) -> Self {
        self.lock_path = path;
        self
    }

    pub fn layout(&self) -> Layout {
        if self.second.is_some() {
            Layout::Redundant
        } else {
            Layout::Single
        }
    }

    /// Resolved byte offset of copy `index` (0 or 1).
    pub fn offset(&self, index: usize) -> Option<u64> {
        match index {
            0 => Some(self.first.offset),
            1 => self.second.as_ref().map(|s| s.offset),
            _ => None,
        }
    }

    /// Reads `name` into `buf`; `None` when unset. Fails on the canary check like the official
    /// client, and when both copies (or the single copy) are invalid.
    pub fn get(&mut self, name: &str, buf: &mut [u8]) -> Result<Option<usize>, Error> {
        let _lock = self.lock()?;
        let lens = self.read_copies()?;
        let (_, env) = self.current(lens)?;
        if !env.saveenv_canary_ok() {
            return Err(Error::Canary);
        }
        let Some(value) = env.get(name.as_bytes()) else {
            return Ok(None);
        };
        let capacity = buf.len();
        let too_long = || Error::ValueTooLong {
            name: name.to_string(),
            len: value.len(),
            capacity,
        };
        buf.get_mut(..value.len())
            .ok_or_else(too_long)?
            .copy_from_slice(value);
        Ok(Some(value.len()))
    }

    /// Every variable of the current copy, deduplicated (last wins) and sorted, like
    /// `fw_printenv` lists them. No canary check: this is for diagnostics.
    pub fn read_all(&mut self) -> Result<BTreeMap<Vec<u8>, Vec<u8>>, Error> {
        let _lock = self.lock()?;
        let lens = self.read_copies()?;
        let (_, env) = self.current(lens)?;
        Ok(env.vars().map(|(n, v)| (n.to_vec(), v.to_vec())).collect())
    }

    /// Applies all `vars` as one change (an empty value removes). Writes nothing when the
    /// variables already have these values or when anything is refused.
    pub fn set(&mut self, vars: &[(&str, &str)]) -> Result<(), Error> {
        for (name, value) in vars {
            image::check_var(name, value).map_err(|error| Error::InvalidVariable {
                name: name.to_string(),
                error,
            })?;
        }
        let _lock = self.lock()?;
        let lens = self.read_copies()?;
        let layout = self.layout();
        let scheme = self.scheme;
        let (current, flag) = {
            let (current, env) = self.current(lens)?;
            if !env.saveenv_canary_ok() {
                return Err(Error::Canary);
            }
            (current, env.flag())
        };
        let target = match layout {
            Layout::Single => 0,
            Layout::Redundant => usize::from(current == 0),
        };

        let [b0, b1] = &mut self.bufs;
        let (old, out) = if current == 0 {
            (&b0[..], b1)
        } else {
            (&b1[..], b0)
        };
        let old = old
            .get(..lens.get(current).copied().unwrap_or(0))
            .unwrap_or_default();
        let base = Env::parse(old, layout).map_err(EnvError::from)?;
        let used = image::serialize(out, flag.map(|f| scheme.next_flag(f)), &base, vars)?;
        let data = layout.data_offset();
        if out.get(data..data + used) == old.get(data..data + base.used_len()) {
            return Ok(());
        }

        let slot = slot_mut(&mut self.first, &mut self.second, target);
        write_synced(slot, 0, out, target)?;
        if layout == Layout::Redundant && scheme == FlagScheme::Boolean {
            // NOR: only after the new copy is durable may the old one stop being valid.
            let obsolete = [FLAG_OBSOLETE];
            write_synced(
                slot_mut(&mut self.first, &mut self.second, current),
                image::CRC_LEN as u64,
                &obsolete,
                current,
            )?;
        }
        Ok(())
    }

    /// Reads every copy into its buffer; returns the bytes read per copy (0 after a short read,
    /// which makes that copy invalid rather than an I/O error).
    fn read_copies(&mut self) -> Result<[usize; 2], Error> {
        let mut lens = [0; 2];
        let slots = [Some(&mut self.first), self.second.as_mut()];
        for (index, (slot, buf)) in slots.into_iter().flatten().zip(&mut self.bufs).enumerate() {
            match slot.storage.read_at(slot.offset, buf) {
                Ok(()) => {
                    if let Some(len) = lens.get_mut(index) {
                        *len = buf.len();
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {}
                Err(e) => {
                    return Err(io_error(format!(
                        "reading environment copy {} at {:#x}",
                        index + 1,
                        slot.offset
                    ))(e))
                }
            }
        }
        Ok(lens)
    }

    fn current(&self, lens: [usize; 2]) -> Result<(usize, Env<'_>), Error> {
        let [a, b] = [0, 1].map(|i| {
            let len = lens.get(i).copied().unwrap_or(0);
            self.bufs
                .get(i)
                .and_then(|buf| buf.get(..len))
                .unwrap_or_default()
        });
        match self.layout() {
            Layout::Single => Ok((0, Env::parse(a, Layout::Single).map_err(EnvError::from)?)),
            Layout::Redundant => Ok(image::select([a, b], self.scheme)?),
        }
    }

    /// Holds the tools' exclusive `flock` until the returned file is dropped.
    fn lock(&self) -> Result<Option<File>, Error> {
        let Some(path) = &self.lock_path else {
            return Ok(None);
        };
        let context = || format!("locking {}", path.display());
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io_error(context()))?;
        flock_exclusive(&file).map_err(io_error(context()))?;
        Ok(Some(file))
    }
}

/// Copy `index`'s slot; anything but a present second copy is the first.
fn slot_mut<'s, S>(
    first: &'s mut Slot<S>,
    second: &'s mut Option<Slot<S>>,
    index: usize,
) -> &'s mut Slot<S> {
    match (index, second) {
        (1, Some(second)) => second,
        _ => first,
    }
}

/// Writes `data` at `at` inside copy `index`'s slot and makes it durable.
fn write_synced<S: Storage>(
    slot: &mut Slot<S>,
    at: u64,
    data: &[u8],
    index: usize,
) -> Result<(), Error> {
    let offset = slot.offset + at;
    let context = |op| format!("{op} environment copy {} at {offset:#x}", index + 1);
    slot.storage
        .write_at(offset, data)
        .map_err(io_error(context("writing")))?;
    slot.storage.sync().map_err(io_error(context("syncing")))
}

fn resolve<S: Storage>(mut location: Location<S>) -> Result<Slot<S>, Error> {
    let offset = match u64::try_from(location.offset) {
        Ok(offset) => offset,
        Err(_) => {
            let device_size = location
                .storage
                .size()
                .map_err(io_error("reading the device size".to_string()))?;
            device_size
                .checked_sub(location.offset.unsigned_abs())
                .ok_or(Error::OffsetOutOfRange {
                    offset: location.offset,
                    device_size,
                })?
        }
    };
    Ok(Slot {
        storage: location.storage,
        offset,
    })
}

#[allow(unsafe_code)]
fn flock_exclusive(file: &File) -> io::Result<()> {
    loop {
        // SAFETY: flock(2) only uses the descriptor number, which `file` keeps open.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

impl UBootEnv<File> {
    /// Opens the environment described by an `fw_env.config` file (for example
    /// [`DEFAULT_CONFIG_PATH`]). Files and block devices use the incremental flag.
    pub fn open(config_path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = config_path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(io_error(format!("reading {}", path.display())))?;
        let config = config::parse(&text).map_err(|error| Error::Config {
            path: path.to_path_buf(),
            error,
        })?;
        Self::from_config(&config)
    }

    /// Opens the devices named by a parsed configuration.
    pub fn from_config(config: &FwEnvConfig<'_>) -> Result<Self, Error> {
        let second = config.second.as_ref().map(open_device).transpose()?;
        Self::new(
            open_device(&config.first)?,
            second,
            config.first.env_size,
            FlagScheme::Incremental,
        )
    }
}

fn open_device(line: &DeviceLine<'_>) -> Result<Location<File>, Error> {
    if line.device.starts_with("/dev/mtd") || line.device.starts_with("/dev/ubi") {
        return Err(Error::UnsupportedDevice {
            device: line.device.to_string(),
        });
    }
    let read_write = OpenOptions::new().read(true).write(true).open(line.device);
    // Reading still works where writing is not allowed; a later write reports the error.
    let file = match read_write {
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem
            ) =>
        {
            File::open(line.device)
        }
        other => other,
    }
    .map_err(io_error(format!(
        "opening {} (fw_env.config line {})",
        line.device, line.line
    )))?;
    Ok(Location {
        storage: file,
        offset: line.offset,
    })
}

/// `set` keeps the trait's power-loss promise for redundant environments; a single copy can
/// only promise that a torn write reads back as a bad-CRC error (see the module docs).
impl<S: Storage> mender_core::hal::BootEnv for UBootEnv<S> {
    type Error = Error;

    fn get(&mut self, name: &str, buf: &mut [u8]) -> Result<Option<usize>, Error> {
        UBootEnv::get(self, name, buf)
    }

    fn set(&mut self, vars: &[(&str, &str)]) -> Result<(), Error> {
        UBootEnv::set(self, vars)
    }
}
