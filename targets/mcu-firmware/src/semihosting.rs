//! ARM semihosting (the `bkpt 0xAB` interface of the "Semihosting for AArch32 and AArch64"
//! specification), as QEMU serves it with `-semihosting-config enable=on,target=native`: the
//! firmware's only link to the outside world under emulation. Files stand in for the
//! Artifact source, the NOR flash of each slot and the boot environment's flash sectors.
//!
//! Every call is synchronous and blocking. Errors carry the host's `errno` (SYS_ERRNO).
use crate::{ErrorText, Source};
use core::fmt;
use embedded_storage::nor_flash::{
    ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};
use mender_core::text::{push_decimal, push_truncated, truncated};

const SYS_OPEN: usize = 0x01;
const SYS_CLOSE: usize = 0x02;
const SYS_WRITE: usize = 0x05;
const SYS_READ: usize = 0x06;
const SYS_SEEK: usize = 0x0A;
const SYS_FLEN: usize = 0x0C;
const SYS_ERRNO: usize = 0x13;
const SYS_GET_CMDLINE: usize = 0x15;
const SYS_EXIT_EXTENDED: usize = 0x20;
/// `ADP_Stopped_ApplicationExit`: a normal exit whose subcode is the exit status.
const ADP_STOPPED_APPLICATION_EXIT: usize = 0x20026;

/// Open modes (an index into the C `fopen` modes `r rb r+ r+b w wb w+ w+b a ...`).
const MODE_READ_BINARY: usize = 1;
const MODE_READ_WRITE_BINARY: usize = 3;
/// `w` on the special name `:tt` is the console's standard output.
const MODE_WRITE: usize = 4;

/// Performs semihosting operation `op` with parameter `arg` (a pointer to the operation's
/// parameter block, or a value); returns the host's `r0`.
///
/// # Safety
/// `arg` must be what `op` expects: every pointer in the block must be valid for the reads
/// and writes the operation does, for the lengths the block gives.
unsafe fn call(op: usize, arg: usize) -> isize {
    let ret: isize;
    // SAFETY: the debugger/emulator handles the breakpoint and only touches the memory the
    // caller vouched for; no stack use, registers as declared.
    unsafe {
        core::arch::asm!(
            "bkpt #0xab",
            inout("r0") op => ret,
            in("r1") arg,
            options(nostack)
        );
    }
    ret
}

/// A semihosting failure: which operation, and the host's errno.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct HostError {
    pub op: &'static str,
    pub errno: i32,
}

impl HostError {
    /// The `Display` text, built without `core::fmt` (which the firmware leaves out).
    pub fn text(&self) -> ErrorText {
        let mut t = ErrorText::new();
        for part in ["semihosting ", self.op, " failed (host errno "] {
            push_truncated(&mut t, part);
        }
        if self.errno < 0 {
            push_truncated(&mut t, "-");
        }
        push_decimal(&mut t, self.errno.unsigned_abs().into(), 0);
        push_truncated(&mut t, ")");
        t
    }

    fn last(op: &'static str) -> Self {
        // SAFETY: SYS_ERRNO takes no parameter block.
        let errno = unsafe { call(SYS_ERRNO, 0) } as i32;
        HostError { op, errno }
    }
}

/// The same text as `Display`: a derived `Debug` would escape the `&str` and pull char
/// escaping tables (~1.5 KB) into the firmware just for error messages.
impl fmt::Debug for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "semihosting {} failed (host errno {})",
            self.op, self.errno
        )
    }
}

/// An open host file.
pub struct File {
    handle: usize,
}

impl File {
    fn open_mode(path: &str, mode: usize) -> Result<File, HostError> {
        // SYS_OPEN wants a NUL-terminated name and its length without the NUL.
        let mut name = [0u8; 128];
        let Some(dst) = name.get_mut(..path.len()).filter(|_| path.len() < 128) else {
            return Err(HostError {
                op: "open (path longer than 127 bytes)",
                errno: 0,
            });
        };
        dst.copy_from_slice(path.as_bytes());
        let block = [name.as_ptr() as usize, mode, path.len()];
        // SAFETY: the name is NUL-terminated and lives through the call.
        let h = unsafe { call(SYS_OPEN, block.as_ptr() as usize) };
        if h < 0 {
            return Err(HostError::last("open"));
        }
        Ok(File { handle: h as usize })
    }

    /// Opens an existing file for reading.
    pub fn open_read(path: &str) -> Result<File, HostError> {
        Self::open_mode(path, MODE_READ_BINARY)
    }

    /// Opens an existing file for reading and writing in place (never truncates).
    pub fn open_rw(path: &str) -> Result<File, HostError> {
        Self::open_mode(path, MODE_READ_WRITE_BINARY)
    }

    /// The console's standard output.
    pub fn stdout() -> Result<File, HostError> {
        Self::open_mode(":tt", MODE_WRITE)
    }

    /// Reads up to `buf.len()` bytes at the current position; 0 at the end of the file.
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize, HostError> {
        let block = [self.handle, buf.as_mut_ptr() as usize, buf.len()];
        // SAFETY: `buf` is valid for `buf.len()` bytes of writes.
        let not_read = unsafe { call(SYS_READ, block.as_ptr() as usize) };
        match usize::try_from(not_read) {
            Ok(rest) if rest <= buf.len() => Ok(buf.len() - rest),
            _ => Err(HostError::last("read")),
        }
    }

    /// Fills `buf` completely from the current position.
    pub fn read_exact(&mut self, mut buf: &mut [u8]) -> Result<(), HostError> {
        while !buf.is_empty() {
            let n = self.read(buf)?;
            if n == 0 {
                return Err(HostError {
                    op: "read (end of file)",
                    errno: 0,
                });
            }
            buf = buf.get_mut(n..).unwrap_or_default();
        }
        Ok(())
    }

    /// Writes all of `data` at the current position.
    pub fn write_all(&mut self, data: &[u8]) -> Result<(), HostError> {
        let block = [self.handle, data.as_ptr() as usize, data.len()];
        // SAFETY: `data` is valid for `data.len()` bytes of reads.
        let not_written = unsafe { call(SYS_WRITE, block.as_ptr() as usize) };
        if not_written == 0 {
            Ok(())
        } else {
            Err(HostError::last("write"))
        }
    }

    /// Moves to absolute byte position `pos`.
    pub fn seek(&mut self, pos: u32) -> Result<(), HostError> {
        let block = [self.handle, pos as usize];
        // SAFETY: a block of two values.
        if unsafe { call(SYS_SEEK, block.as_ptr() as usize) } == 0 {
            Ok(())
        } else {
            Err(HostError::last("seek"))
        }
    }

    /// The file's length in bytes.
    pub fn length(&mut self) -> Result<u32, HostError> {
        let block = [self.handle];
        // SAFETY: a block of one value.
        let n = unsafe { call(SYS_FLEN, block.as_ptr() as usize) };
        u32::try_from(n).map_err(|_| HostError::last("flen"))
    }
}

impl Drop for File {
    fn drop(&mut self) {
        let block = [self.handle];
        // SAFETY: a block of one value; the handle is not used again.
        let _ = unsafe { call(SYS_CLOSE, block.as_ptr() as usize) };
    }
}

impl fmt::Write for File {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.write_all(s.as_bytes()).map_err(|_| fmt::Error)
    }
}

/// The Artifact as a [`Source`]: a host file read sequentially, chunk by chunk.
pub struct FileSource(pub File);

impl Source for FileSource {
    type Error = HostError;

    fn error_text(e: &HostError) -> ErrorText {
        e.text()
    }

    fn read(&mut self, buf: &mut [u8]) -> Result<usize, HostError> {
        self.0.read(buf)
    }
}

/// The firmware's command line (`-semihosting-config ...,arg=A,arg=B`: "A B") in `buf`.
pub fn cmdline(buf: &mut [u8]) -> Result<&str, HostError> {
    let mut block = [buf.as_mut_ptr() as usize, buf.len()];
    // SAFETY: the host writes at most `buf.len()` bytes (including a NUL) and updates the
    // length in the block.
    if unsafe { call(SYS_GET_CMDLINE, block.as_mut_ptr() as usize) } != 0 {
        return Err(HostError::last("get_cmdline (too long?)"));
    }
    let len = block[1].min(buf.len());
    let bytes = buf.get(..len).unwrap_or_default();
    core::str::from_utf8(bytes).map_err(|_| HostError {
        op: "get_cmdline (not UTF-8)",
        errno: 0,
    })
}

/// Ends the emulation with exit status `code`.
pub fn exit(code: u32) -> ! {
    let block = [ADP_STOPPED_APPLICATION_EXIT, code as usize];
    // SAFETY: a block of two values; the host does not return.
    unsafe {
        call(SYS_EXIT_EXTENDED, block.as_ptr() as usize);
    }
    // Only reached when no semihosting host is attached: nothing else is left to do.
    loop {
        core::hint::spin_loop();
    }
}

/// NOR flash erase sector of the emulated part (a common 4 KiB SPI NOR sector).
pub const FLASH_ERASE_SIZE: usize = 4096;
/// Program granularity of the emulated part.
pub const FLASH_WRITE_SIZE: usize = 4;

/// A NOR flash chip emulated in a host file of the chip's size: erase fills sectors with
/// 0xFF, program ANDs the new bits into what is there (bits go from 1 to 0 only), as the
/// real part would. Offsets and lengths are checked like a driver would.
pub struct FileFlash {
    file: File,
    capacity: u32,
}

/// A flash access out of bounds or off alignment, or a host failure.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum FlashError {
    NotAligned,
    OutOfBounds,
    Host(HostError),
}

impl NorFlashError for FlashError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            FlashError::NotAligned => NorFlashErrorKind::NotAligned,
            FlashError::OutOfBounds => NorFlashErrorKind::OutOfBounds,
            FlashError::Host(_) => NorFlashErrorKind::Other,
        }
    }
}

/// As `Display` (see [`HostError`]'s `Debug`).
impl fmt::Debug for FlashError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for FlashError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlashError::NotAligned => f.write_str("flash access not aligned"),
            FlashError::OutOfBounds => f.write_str("flash access out of bounds"),
            FlashError::Host(e) => write!(f, "flash file: {}", e),
        }
    }
}

impl FlashError {
    /// The `Display` text, built without `core::fmt`.
    pub fn text(&self) -> ErrorText {
        match self {
            FlashError::NotAligned => truncated("flash access not aligned"),
            FlashError::OutOfBounds => truncated("flash access out of bounds"),
            FlashError::Host(e) => e.text(),
        }
    }
}

impl From<HostError> for FlashError {
    fn from(e: HostError) -> Self {
        FlashError::Host(e)
    }
}

impl FileFlash {
    /// Opens `path` as a flash chip; its length must be a whole number of sectors.
    pub fn open(path: &str) -> Result<FileFlash, FlashError> {
        let mut file = File::open_rw(path)?;
        let capacity = file.length()?;
        if capacity == 0 || !(capacity as usize).is_multiple_of(FLASH_ERASE_SIZE) {
            return Err(FlashError::NotAligned);
        }
        Ok(FileFlash { file, capacity })
    }

    fn range(&self, offset: u32, len: usize, align: usize) -> Result<(), FlashError> {
        let end = (offset as usize)
            .checked_add(len)
            .ok_or(FlashError::OutOfBounds)?;
        if end > self.capacity as usize {
            return Err(FlashError::OutOfBounds);
        }
        if !(offset as usize).is_multiple_of(align) || !len.is_multiple_of(align) {
            return Err(FlashError::NotAligned);
        }
        Ok(())
    }
}

impl ErrorType for FileFlash {
    type Error = FlashError;
}

impl ReadNorFlash for FileFlash {
    const READ_SIZE: usize = 1;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), FlashError> {
        self.range(offset, bytes.len(), 1)?;
        self.file.seek(offset)?;
        self.file.read_exact(bytes)?;
        Ok(())
    }

    fn capacity(&self) -> usize {
        self.capacity as usize
    }
}

impl NorFlash for FileFlash {
    const WRITE_SIZE: usize = FLASH_WRITE_SIZE;
    const ERASE_SIZE: usize = FLASH_ERASE_SIZE;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), FlashError> {
        let len = to.checked_sub(from).ok_or(FlashError::OutOfBounds)? as usize;
        self.range(from, len, FLASH_ERASE_SIZE)?;
        // Filled on the stack: a constant array would take its whole length in flash.
        let erased = [0xFF; 128];
        self.file.seek(from)?;
        let mut left = len;
        while left > 0 {
            let n = left.min(erased.len());
            self.file.write_all(&erased[..n])?;
            left -= n;
        }
        Ok(())
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), FlashError> {
        self.range(offset, bytes.len(), FLASH_WRITE_SIZE)?;
        let mut cell = [0u8; 64];
        let mut at = offset;
        for part in bytes.chunks(cell.len()) {
            let old = cell.get_mut(..part.len()).unwrap_or_default();
            self.file.seek(at)?;
            self.file.read_exact(old)?;
            for (o, n) in old.iter_mut().zip(part) {
                *o &= *n;
            }
            self.file.seek(at)?;
            self.file.write_all(old)?;
            at = at.saturating_add(part.len() as u32);
        }
        Ok(())
    }
}
