//! The grub-mender-grubenv layout: Mender's power-safe use of GRUB environment blocks.
//!
//! `ENV_DIR/mender_grubenv1/` and `ENV_DIR/mender_grubenv2/` each hold `env` (the variables),
//! `lock` (a block holding only `editing=0|1`) and `lock.sha256sum` (the digest of `lock` in its
//! `editing=0` state). A copy is healthy when its `lock` matches that digest and says
//! `editing=0`. Writers change copy 2 (lock `editing=1`, env, lock `editing=0`), then copy 1 the
//! same way, fsyncing each step, so at any instant at most one copy is being edited.
//!
//! GRUB's boot script reads `env1`, except when `lock2` says `editing=0` and `lock1` does not;
//! then it reads `env2`. This module reads `env1` when copy 1 is healthy, else `env2`, which
//! picks the same file in every state a [`GrubEnv::set`] can leave behind. The commit point of
//! a change is the first write to `lock1`.
//!
//! Two deliberate differences from `grub-mender-grubenv-set`: files are overwritten in place
//! without truncation (never short, same sectors), and repair copies `lock` and its digest from
//! the healthy copy (the script recreates `lock` with `grub-editenv create`, whose bytes differ
//! from Mender's factory `lock`, so its own digest check then fails).

use std::fmt::{self, Write as _};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::string::String;
use std::time::{Duration, Instant};
use std::vec::Vec;
use std::{format, thread, vec};

use mender_core::hal::BootEnv;
use sha2::{Digest, Sha256};

use crate::block::{self, EnvBlock};

/// Directories of copy 1 and copy 2 under the environment directory.
pub const COPY_DIRS: [&str; 2] = ["mender_grubenv1", "mender_grubenv2"];
/// The variables of one copy.
pub const ENV: &str = "env";
/// The block holding [`EDITING`] for one copy.
pub const LOCK: &str = "lock";
/// `sha256sum` output for `lock` in its `editing=0` state.
pub const LOCK_SUM: &str = "lock.sha256sum";
/// The variable in `lock`: `0` when the copy's `env` is complete.
pub const EDITING: &str = "editing";
/// The official tools' `flock` file, so they and this code never write at the same time.
pub const LOCK_FILE: &str = "/var/lock/grub-mender-grubenv-set.lock";
/// How long the official tools wait for the `flock` (`flock -w 1`).
pub const LOCK_TIMEOUT: Duration = Duration::from_secs(1);
/// Largest file read; real blocks are 1 KiB, so anything bigger is not an environment.
pub const MAX_FILE_SIZE: u64 = 64 * 1024;
/// Where the BIOS/EFI builds record `ENV_DIR = …`.
pub const CONFIG_FILE: &str = "/etc/mender_grubenv.config";
/// Environment directories tried when the config names none, in order.
pub const DEFAULT_DIRS: [&str; 2] = [
    "/boot/efi/grub-mender-grubenv",
    "/boot/grub/grub-mender-grubenv",
];
/// Older layouts, used only if `mender_grubenv1` exists inside them.
pub const LEGACY_DIRS: [&str; 2] = ["/boot/efi/EFI/BOOT", "/boot/grub"];

/// Which copy (1 or 2), as numbered by the directory names.
pub type CopyNumber = u8;

/// Failures of the layout.
#[derive(Debug)]
pub enum Error {
    /// A file operation failed.
    Io { path: PathBuf, source: io::Error },
    /// The process lock could not be taken (another writer holds it past [`LOCK_TIMEOUT`]).
    Lock(io::Error),
    /// A file is not a usable block, or the change does not fit in it; nothing was written.
    Format { path: PathBuf, source: block::Error },
    /// The caller's name, value or buffer was unusable; nothing was written.
    Arg(block::Error),
    /// Neither copy is healthy; values are never guessed.
    BothCorrupt,
    /// A copy still fails its check right after this code wrote it.
    CorruptAfterUpdate { copy: CopyNumber },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Error::Lock(e) => write!(f, "can't acquire flock(): {e}"),
            Error::Format { path, source } => write!(f, "{}: {source}", path.display()),
            Error::Arg(e) => write!(f, "{e}"),
            Error::BothCorrupt => write!(f, "Unable to restore environment both are corrupt."),
            Error::CorruptAfterUpdate { copy } => {
                write!(f, "Environment {copy} unexpectedly corrupt after update.")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } | Error::Lock(source) => Some(source),
            Error::Format { source, .. } | Error::Arg(source) => Some(source),
            _ => None,
        }
    }
}

/// The file operations the layout needs; a fault-injecting implementation can stand in for
/// [`StdFs`] to test power loss.
pub trait Fs {
    /// Reads a whole file (`NotFound` if it does not exist).
    fn read(&mut self, path: &Path) -> io::Result<Vec<u8>>;
    /// Overwrites `path` in place from offset 0, creating it if missing, and leaves it exactly
    /// `data.len()` bytes long. Nothing is durable before [`Fs::sync`].
    fn write(&mut self, path: &Path, data: &[u8]) -> io::Result<()>;
    /// Makes the file's data and its directory entry durable.
    fn sync(&mut self, path: &Path) -> io::Result<()>;
    /// Creates a directory and its parents, durably.
    fn create_dir_all(&mut self, path: &Path) -> io::Result<()>;
    /// Takes the inter-process lock, waiting at most [`LOCK_TIMEOUT`].
    fn lock(&mut self) -> io::Result<()>;
    /// Releases the lock taken by [`Fs::lock`].
    fn unlock(&mut self);
}

/// The real file system.
///
/// Writes go in place without truncating first, so a file never becomes short or empty and
/// keeps the sectors GRUB's `save_env` rewrites (`grub-editenv` truncates, then writes).
#[derive(Debug)]
pub struct StdFs {
    lock_path: Option<PathBuf>,
    held: Option<File>,
}

impl StdFs {
    /// Locks [`LOCK_FILE`], shared with the official tools.
    pub fn new() -> Self {
        Self::with_lock_file(Some(PathBuf::from(LOCK_FILE)))
    }

    /// Locks another file, or nothing with `None` (when no other writer can exist).
    pub fn with_lock_file(lock_path: Option<PathBuf>) -> Self {
        StdFs {
            lock_path,
            held: None,
        }
    }
}

impl Default for StdFs {
    fn default() -> Self {
        Self::new()
    }
}

impl Fs for StdFs {
    fn read(&mut self, path: &Path) -> io::Result<Vec<u8>> {
        let mut data = Vec::new();
        File::open(path)?
            .take(MAX_FILE_SIZE + 1)
            .read_to_end(&mut data)?;
        if data.len() as u64 > MAX_FILE_SIZE {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "file too large for an environment",
            ));
        }
        Ok(data)
    }

    fn write(&mut self, path: &Path, data: &[u8]) -> io::Result<()> {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        file.write_all(data)?;
        file.set_len(data.len() as u64)
    }

    fn sync(&mut self, path: &Path) -> io::Result<()> {
        File::open(path)?.sync_all()?;
        sync_parent(path)
    }

    fn create_dir_all(&mut self, path: &Path) -> io::Result<()> {
        std::fs::create_dir_all(path)?;
        sync_parent(path)
    }

    fn lock(&mut self) -> io::Result<()> {
        let Some(path) = &self.lock_path else {
            return Ok(());
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let deadline = Instant::now() + LOCK_TIMEOUT;
        loop {
            // SAFETY: flock only reads the descriptor, which `file` keeps open for the call.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
                self.held = Some(file);
                return Ok(());
            }
            let err = io::Error::last_os_error();
            if !matches!(
                err.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
            ) {
                return Err(err);
            }
            if Instant::now() >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("{} is held", path.display()),
                ));
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    fn unlock(&mut self) {
        // Closing the descriptor releases the flock.
        self.held = None;
    }
}

fn sync_parent(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => File::open(dir)?.sync_all(),
        _ => File::open(".")?.sync_all(),
    }
}

/// The `ENV_DIR = …` value of a `mender_grubenv.config` text (the last one wins, as in the
/// official tools).
pub fn env_dir_from_config(text: &str) -> Option<&str> {
    text.lines()
        .filter_map(|line| line.strip_prefix("ENV_DIR"))
        .filter_map(|rest| rest.trim_start_matches(' ').strip_prefix('='))
        .map(|value| value.trim_start_matches(' '))
        .next_back()
        .filter(|value| !value.is_empty())
}

/// Finds the environment directory the way the official tools do: [`CONFIG_FILE`], then
/// [`DEFAULT_DIRS`], then [`LEGACY_DIRS`] that contain `mender_grubenv1`.
pub fn locate_env_dir() -> Option<PathBuf> {
    if let Ok(text) = std::fs::read_to_string(CONFIG_FILE) {
        if let Some(dir) = env_dir_from_config(&text) {
            return Some(PathBuf::from(dir));
        }
    }
    let default = DEFAULT_DIRS
        .iter()
        .map(PathBuf::from)
        .find(|dir| dir.is_dir());
    default.or_else(|| {
        LEGACY_DIRS
            .iter()
            .map(PathBuf::from)
            .find(|dir| dir.join(COPY_DIRS[0]).is_dir())
    })
}

/// A grub-mender-grubenv environment directory.
#[derive(Debug)]
pub struct GrubEnv<F: Fs = StdFs> {
    dir: PathBuf,
    fs: F,
}

impl GrubEnv<StdFs> {
    /// The layout in `dir` on the real file system, locking [`LOCK_FILE`].
    pub fn open(dir: impl Into<PathBuf>) -> Self {
        Self::with_fs(dir, StdFs::new())
    }
}

impl<F: Fs> GrubEnv<F> {
    pub fn with_fs(dir: impl Into<PathBuf>, fs: F) -> Self {
        GrubEnv {
            dir: dir.into(),
            fs,
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn fs_mut(&mut self) -> &mut F {
        &mut self.fs
    }

    pub fn into_fs(self) -> F {
        self.fs
    }

    /// Directory of copy `copy` (1, else 2).
    pub fn copy_dir(&self, copy: CopyNumber) -> PathBuf {
        let [one, two] = COPY_DIRS;
        self.dir.join(if copy == 1 { one } else { two })
    }

    /// Path of `file` in copy `copy` (1, else 2).
    pub fn path(&self, copy: CopyNumber, file: &str) -> PathBuf {
        self.copy_dir(copy).join(file)
    }

    fn create_copy_dir(&mut self, copy: CopyNumber) -> Result<(), Error> {
        let dir = self.copy_dir(copy);
        self.fs.create_dir_all(&dir).map_err(|e| Error::Io {
            path: dir,
            source: e,
        })
    }

    /// Writes factory files like Mender's `make-env-and-lock-files`: both `env` files get
    /// `vars` in a fresh 1 KiB block, both `lock` files `editing=0`, plus their digests.
    /// Provisioning only: it overwrites without the lock protocol.
    pub fn install(&mut self, vars: &[(&str, &str)]) -> Result<(), Error> {
        let mut env = vec![0; block::DEFAULT_SIZE];
        let mut lock = vec![0; block::DEFAULT_SIZE];
        for (buf, vars) in [(&mut env, vars), (&mut lock, &[(EDITING, "0")][..])] {
            block::create_blank(buf)
                .and_then(|()| block::set(buf, vars))
                .map_err(Error::Arg)?;
        }
        let sum = format!("{}  {LOCK}\n", hex(&Sha256::digest(&lock)));
        self.locked(|s| {
            for copy in [2, 1] {
                s.create_copy_dir(copy)?;
                s.put(copy, ENV, &env)?;
                s.put(copy, LOCK, &lock)?;
                s.put(copy, LOCK_SUM, sum.as_bytes())?;
            }
            Ok(())
        })
    }

    /// Whether each copy is healthy (`[copy1, copy2]`).
    pub fn health(&mut self) -> Result<[bool; 2], Error> {
        self.locked(|s| Ok([s.healthy(1)?, s.healthy(2)?]))
    }

    /// The current `env` block, as `grub-mender-grubenv-print` would list it: copy 1 if it is
    /// healthy, else copy 2. Never writes.
    pub fn env(&mut self) -> Result<Vec<u8>, Error> {
        self.locked(|s| s.current().map(|(_, env)| env))
    }

    /// Rewrites a broken copy from the healthy one, or copy 2 from copy 1 when both are
    /// healthy but differ (left by an interrupted change). Returns the copy it rewrote.
    pub fn repair(&mut self) -> Result<Option<CopyNumber>, Error> {
        self.locked(Self::repair_locked)
    }

    fn locked<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T, Error>) -> Result<T, Error> {
        self.fs.lock().map_err(Error::Lock)?;
        let result = f(self);
        self.fs.unlock();
        result
    }

    fn read(&mut self, copy: CopyNumber, file: &str) -> Result<Vec<u8>, Error> {
        let path = self.path(copy, file);
        self.fs
            .read(&path)
            .map_err(|e| Error::Io { path, source: e })
    }

    /// Writes and fsyncs one file.
    fn put(&mut self, copy: CopyNumber, file: &str, data: &[u8]) -> Result<(), Error> {
        let path = self.path(copy, file);
        let done = self
            .fs
            .write(&path, data)
            .and_then(|()| self.fs.sync(&path));
        done.map_err(|e| Error::Io { path, source: e })
    }

    /// `None` when the file does not exist.
    fn read_opt(&mut self, copy: CopyNumber, file: &str) -> Result<Option<Vec<u8>>, Error> {
        match self.read(copy, file) {
            Ok(data) => Ok(Some(data)),
            Err(Error::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Healthy: `lock` matches its digest and says `editing=0`. A missing `lock` or digest
    /// makes a copy unhealthy; other read errors are errors.
    fn healthy(&mut self, copy: CopyNumber) -> Result<bool, Error> {
        let lock = self.read_opt(copy, LOCK)?;
        let sum = self.read_opt(copy, LOCK_SUM)?;
        Ok(match (lock, sum) {
            (Some(lock), Some(sum)) => digest_matches(&sum, &lock) && editing_is_zero(&lock),
            _ => false,
        })
    }

    fn current(&mut self) -> Result<(CopyNumber, Vec<u8>), Error> {
        for copy in [1, 2] {
            if self.healthy(copy)? {
                return Ok((copy, self.read(copy, ENV)?));
            }
        }
        Err(Error::BothCorrupt)
    }

    fn repair_locked(&mut self) -> Result<Option<CopyNumber>, Error> {
        let (from, to) = match (self.healthy(1)?, self.healthy(2)?) {
            (false, false) => return Err(Error::BothCorrupt),
            (true, false) => (1, 2),
            (false, true) => (2, 1),
            (true, true) if Some(self.read(1, ENV)?) == self.read_opt(2, ENV)? => return Ok(None),
            (true, true) => (1, 2),
        };
        let lock = self.read(from, LOCK)?;
        let sum = self.read(from, LOCK_SUM)?;
        let env = self.read(from, ENV)?;
        self.create_copy_dir(to)?;
        // Mark the copy as being edited first: GRUB may consider it healthy (only its digest
        // file may be bad), and it must not boot from a half-written env.
        self.put(to, LOCK, &self.editing_image(from, &lock)?)?;
        self.put(to, ENV, &env)?;
        self.put(to, LOCK_SUM, &sum)?;
        self.put(to, LOCK, &lock)?;
        self.verify(to)?;
        Ok(Some(to))
    }

    /// The healthy `lock` of `copy` with `editing=1` (same length, so same sectors).
    fn editing_image(&self, copy: CopyNumber, lock: &[u8]) -> Result<Vec<u8>, Error> {
        let mut image = lock.to_vec();
        block::set(&mut image, &[(EDITING, "1")]).map_err(|e| Error::Format {
            path: self.path(copy, LOCK),
            source: e,
        })?;
        Ok(image)
    }

    fn verify(&mut self, copy: CopyNumber) -> Result<(), Error> {
        match self.healthy(copy)? {
            true => Ok(()),
            false => Err(Error::CorruptAfterUpdate { copy }),
        }
    }

    fn set_locked(&mut self, vars: &[(&str, &str)]) -> Result<(), Error> {
        self.repair_locked()?;
        // Both copies now hold the same env; build the new one once, before any write.
        let old = self.read(1, ENV)?;
        let mut new = old.clone();
        block::set(&mut new, vars).map_err(|e| Error::Format {
            path: self.path(1, ENV),
            source: e,
        })?;
        if new == old {
            return Ok(());
        }
        for copy in [2, 1] {
            let lock = self.read(copy, LOCK)?;
            self.put(copy, LOCK, &self.editing_image(copy, &lock)?)?;
            self.put(copy, ENV, &new)?;
            self.put(copy, LOCK, &lock)?;
            self.verify(copy)?;
        }
        Ok(())
    }
}

impl<F: Fs> BootEnv for GrubEnv<F> {
    type Error = Error;

    /// Reads from the current copy (see [`GrubEnv::env`]); never writes.
    fn get(&mut self, name: &str, buf: &mut [u8]) -> Result<Option<usize>, Error> {
        self.locked(|s| {
            let (copy, env) = s.current()?;
            EnvBlock::new(&env)
                .and_then(|b| b.get(name, buf))
                .map_err(|e| match e {
                    block::Error::InvalidName | block::Error::BufferTooSmall { .. } => {
                        Error::Arg(e)
                    }
                    _ => Error::Format {
                        path: s.path(copy, ENV),
                        source: e,
                    },
                })
        })
    }

    /// Repairs a broken copy, then writes copy 2 and copy 1 in the official order. Refuses
    /// bad names, NUL values and a change that does not fit before writing anything.
    fn set(&mut self, vars: &[(&str, &str)]) -> Result<(), Error> {
        block::check_vars(vars).map_err(Error::Arg)?;
        self.locked(|s| s.set_locked(vars))
    }
}

/// Whether a lock block reads `editing=0` in full (the last `editing` line counts, as in GRUB).
fn editing_is_zero(lock: &[u8]) -> bool {
    let Ok(block) = EnvBlock::new(lock) else {
        return false;
    };
    let mut zero = false;
    for var in block.vars() {
        let Ok(var) = var else { return false };
        if var.name() == EDITING.as_bytes() {
            zero = var.value().eq(*b"0");
        }
    }
    zero
}

/// Whether `sum` (a `sha256sum` line naming `lock`) holds the digest of `lock`.
fn digest_matches(sum: &[u8], lock: &[u8]) -> bool {
    let line = sum.split(|&b| b == b'\n').next().unwrap_or_default();
    let Some((digest, rest)) = line.split_at_checked(64) else {
        return false;
    };
    let named_lock = matches!(rest, [b' ', b' ' | b'*', name @ ..] if name == LOCK.as_bytes());
    named_lock && digest.eq_ignore_ascii_case(hex(&Sha256::digest(lock)).as_bytes())
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(out, "{b:02x}");
    }
    out
}
