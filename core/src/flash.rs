//! Flash-backed HAL for microcontrollers: a root-filesystem slot and the boot environment on
//! NOR flash, over the `embedded-storage` [`NorFlash`] traits so any chip driver plugs in.
//!
//! NOR flash erases whole sectors to `0xFF` and programs by clearing bits, each write unit
//! once per erase. [`NorPartition`] therefore takes the image strictly front to back, erasing
//! each sector when the image first reaches into it; [`FlashBootEnv`] alternates between two
//! sectors so that the previous environment survives while the next one is written.
//!
//! # Boot environment record (read by the bootloader)
//!
//! Two consecutive erase sectors, copy 0 at the lower address, each holds at most one record
//! at its start. All integers are little-endian.
//!
//! | bytes          | field                                                          |
//! |----------------|----------------------------------------------------------------|
//! | 0..4           | magic `MENV` ([`ENV_MAGIC`])                                   |
//! | 4..8           | sequence number (u32), +1 (wrapping) per change                |
//! | 8..12          | `L`: length of the variables (u32)                             |
//! | 12..12+L       | variables, each `name=value` followed by one `\0` byte         |
//! | 12+L..16+L     | CRC-32 (ISO-HDLC, as zlib's `crc32`) of bytes `0..12+L`        |
//! | then           | `0xFF` (padding to the write unit, then erased flash)          |
//!
//! A copy is valid when the magic matches, `16+L` fits in `min(erase size,`
//! [`MAX_FLASH_ENV_SIZE`]`)`, the CRC matches, and every variable has a non-empty name and is
//! `\0`-terminated. The environment is the valid copy with the newer sequence number, compared
//! with wrap-around (`(a - b) as i32 > 0`); if both sequence numbers are equal, copy 0. No valid
//! copy (erased flash on first boot) means no variables. A change erases the copy that is not
//! the current one and then programs the new record there, so a power cut leaves either the
//! old record or the new one as the newest valid copy.
use crate::hal::{BlockDevice, BootEnv};
use crate::text::{truncated, ErrorText};
use core::fmt;
use crc::{Crc, NoTable, CRC_32_ISO_HDLC};
use embedded_storage::nor_flash::{NorFlash, NorFlashError, NorFlashErrorKind};

/// Largest flash write unit and read unit supported, in bytes: the tail buffer of
/// [`NorPartition`] and the read-back buffer of [`FlashBootEnv`] are this big.
pub const MAX_FLASH_UNIT: usize = 32;

/// Bytes of a boot-environment record including header, CRC and padding (less when the erase
/// sector is smaller): the stack buffer `get` and `set` of [`FlashBootEnv`] use.
pub const MAX_FLASH_ENV_SIZE: usize = 256;

/// First bytes of a boot-environment record.
pub const ENV_MAGIC: [u8; 4] = *b"MENV";

/// Bytes before the variables: magic, sequence number, length.
pub const ENV_HEADER_LEN: usize = 12;

/// Bytes of the CRC-32 after the variables.
pub const ENV_CRC_LEN: usize = 4;

/// Bitwise CRC: the record is at most [`MAX_FLASH_ENV_SIZE`] bytes, so a 1 KiB table would
/// cost more flash than it saves time.
static ENV_CRC: Crc<u32, NoTable> = Crc::<u32, NoTable>::new(&CRC_32_ISO_HDLC);

/// Why a flash partition or the flash boot environment refused an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FlashError<E> {
    /// The flash geometry or the region does not fit the rules (names which one).
    Geometry(&'static str),
    /// An access beyond the end of the region.
    OutOfRange { offset: u64, len: u64, size: u64 },
    /// A write that does not continue where the previous one ended.
    NotSequential { expected: u64, offset: u64 },
    /// A write after `sync` padded and programmed a partial last unit.
    Sealed { end: u64 },
    /// The new boot environment record does not fit.
    EnvFull { needed: usize, capacity: usize },
    /// The caller's buffer is shorter than the variable's value.
    ValueTooLong { len: usize, buf: usize },
    /// A variable name is empty or holds `=` or NUL, or a value holds NUL.
    BadVariable(&'static str),
    /// The programmed boot environment record reads back differently.
    Verify,
    /// The flash driver failed.
    Driver(E),
}

impl<E: NorFlashError> FlashError<E> {
    /// A short fixed name, which is also the text an install error keeps of it
    /// ([`FlashError::text`]): flash is firmware's, and firmware leaves `core::fmt` out.
    pub fn name(&self) -> &'static str {
        match self {
            FlashError::Geometry(why) | FlashError::BadVariable(why) => why,
            FlashError::OutOfRange { .. } => "flash access out of range",
            FlashError::NotSequential { .. } => "flash write not sequential",
            FlashError::Sealed { .. } => "flash write after the padded last unit",
            FlashError::EnvFull { .. } => "boot environment record full",
            FlashError::ValueTooLong { .. } => "boot environment value longer than the buffer",
            FlashError::Verify => "boot environment record reads back differently",
            FlashError::Driver(e) => match e.kind() {
                NorFlashErrorKind::NotAligned => "flash driver: not aligned",
                NorFlashErrorKind::OutOfBounds => "flash driver: out of bounds",
                _ => "flash driver error",
            },
        }
    }

    /// [`FlashError::name`] as an [`ErrorText`], built without `core::fmt`.
    pub fn text(&self) -> ErrorText {
        truncated(self.name())
    }
}

impl<E: NorFlashError> fmt::Display for FlashError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlashError::Geometry(why) => write!(f, "flash geometry: {}", why),
            FlashError::OutOfRange { offset, len, size } => write!(
                f,
                "flash access of {} bytes at offset {} is out of range (region is {} bytes)",
                len, offset, size
            ),
            FlashError::NotSequential { expected, offset } => write!(
                f,
                "flash write at offset {} is not sequential (expected offset {} or 0)",
                offset, expected
            ),
            FlashError::Sealed { end } => write!(
                f,
                "flash image was synced with a padded last unit at {} bytes; it cannot be extended",
                end
            ),
            FlashError::EnvFull { needed, capacity } => write!(
                f,
                "boot environment record needs {} bytes, more than its {} byte capacity",
                needed, capacity
            ),
            FlashError::ValueTooLong { len, buf } => write!(
                f,
                "boot environment value of {} bytes does not fit a {} byte buffer",
                len, buf
            ),
            FlashError::BadVariable(why) => write!(f, "boot environment: {}", why),
            FlashError::Verify => {
                f.write_str("boot environment record reads back differently from what was written")
            }
            FlashError::Driver(e) => write!(f, "flash driver error: {} ({:?})", e.kind(), e),
        }
    }
}

/// A `usize` flash parameter as `u32`; the checks run before any address arithmetic.
fn to_u32(v: usize) -> Option<u32> {
    u32::try_from(v).ok()
}

/// The rules for the write and read units every user of the flash relies on.
fn check_units<F: NorFlash>() -> Result<(), &'static str> {
    if F::ERASE_SIZE == 0 || F::WRITE_SIZE == 0 || F::READ_SIZE == 0 {
        return Err("the flash reports a zero erase, write or read size");
    }
    if F::WRITE_SIZE > MAX_FLASH_UNIT || F::READ_SIZE > MAX_FLASH_UNIT {
        return Err("the flash write or read unit is larger than MAX_FLASH_UNIT");
    }
    if !F::ERASE_SIZE.is_multiple_of(F::WRITE_SIZE) || !F::ERASE_SIZE.is_multiple_of(F::READ_SIZE) {
        return Err("the flash erase size is not a multiple of its write and read sizes");
    }
    if to_u32(F::ERASE_SIZE).is_none() {
        return Err("the flash erase size does not fit 32 bits");
    }
    Ok(())
}

/// Checks that `[start, start+len)` is a whole number of sectors inside the flash and its
/// 32-bit address space.
fn check_region<F: NorFlash>(
    capacity: usize,
    start: u64,
    len: u64,
) -> Result<(u32, u32), &'static str> {
    check_units::<F>()?;
    let erase = F::ERASE_SIZE as u64;
    if !start.is_multiple_of(erase) || !len.is_multiple_of(erase) {
        return Err("the region start or length is not a multiple of the flash erase size");
    }
    let end = start
        .checked_add(len)
        .ok_or("the region extends beyond the flash")?;
    if end > capacity as u64 {
        return Err("the region extends beyond the flash");
    }
    match (u32::try_from(start), u32::try_from(len), u32::try_from(end)) {
        (Ok(start), Ok(len), Ok(_)) => Ok((start, len)),
        _ => Err("the region is beyond the 32-bit addresses of a NOR flash"),
    }
}

/// Reads `buf.len()` bytes at any `addr`, through a unit buffer where `addr` or the length is
/// not a multiple of `F::READ_SIZE` (at most [`MAX_FLASH_UNIT`], checked by the callers).
/// The caller guarantees that every read unit touched lies inside the flash.
fn read_any<F: NorFlash>(flash: &mut F, mut addr: u32, mut buf: &mut [u8]) -> Result<(), F::Error> {
    let r = F::READ_SIZE.max(1);
    while !buf.is_empty() {
        let skip = addr as usize % r;
        let direct = if skip == 0 { buf.len() / r * r } else { 0 };
        let rest = core::mem::take(&mut buf);
        if direct > 0 {
            let (now, later) = rest.split_at_mut(direct);
            flash.read(addr, now)?;
            addr = addr.wrapping_add(direct as u32);
            buf = later;
        } else {
            let mut unit = [0u8; MAX_FLASH_UNIT];
            let unit = unit.get_mut(..r).unwrap_or_default();
            flash.read(addr.wrapping_sub(skip as u32), unit)?;
            let n = (r - skip).min(rest.len());
            let (now, later) = rest.split_at_mut(n);
            if let Some(src) = unit.get(skip..skip + n) {
                now.copy_from_slice(src);
            }
            addr = addr.wrapping_add(n as u32);
            buf = later;
        }
    }
    Ok(())
}

/// A root-filesystem slot on NOR flash: a [`BlockDevice`] over `[start, start+len)` that takes
/// the image front to back.
///
/// Each sector is erased when a write first reaches into it, and data is programmed in whole
/// `F::WRITE_SIZE` units; up to one unit of an unaligned end waits in a small buffer until
/// the next write completes it or [`BlockDevice::sync`] pads it with `0xFF`. A write must start
/// where the previous one ended; a write at offset 0 starts a new image. `read` sees the
/// waiting bytes too.
///
/// Geometry is checked when the partition is made; a bad one is reported by every call, first
/// by `size`, so an install fails before it writes.
pub struct NorPartition<F: NorFlash> {
    flash: F,
    start: u32,
    len: u32,
    problem: Option<&'static str>,
    /// Region offset just past the last byte accepted by `write`.
    next: u32,
    /// Region offset below which sectors are erased for the current image.
    erased_to: u32,
    /// `sync` programmed a padded partial unit: the image cannot grow.
    sealed: bool,
    /// Bytes of the unit starting at `next - tail_len`, not yet programmed.
    tail: [u8; MAX_FLASH_UNIT],
    tail_len: usize,
}

impl<F: NorFlash> NorPartition<F> {
    /// The whole flash as one partition.
    pub fn new(flash: F) -> Self {
        let len = flash.capacity() as u64;
        Self::region(flash, 0, len)
    }

    /// The sectors `[start, start+len)` of `flash`; both must be multiples of `F::ERASE_SIZE`.
    pub fn region(flash: F, start: u64, len: u64) -> Self {
        let (start, len, problem) = match check_region::<F>(flash.capacity(), start, len) {
            Ok((start, len)) => (start, len, None),
            Err(why) => (0, 0, Some(why)),
        };
        NorPartition {
            flash,
            start,
            len,
            problem,
            next: 0,
            erased_to: 0,
            sealed: false,
            tail: [0xFF; MAX_FLASH_UNIT],
            tail_len: 0,
        }
    }

    /// The flash driver (to inspect it; writing through it would bypass the erase tracking).
    pub fn flash(&self) -> &F {
        &self.flash
    }

    /// Gives the flash driver back.
    pub fn into_inner(self) -> F {
        self.flash
    }

    fn ready(&self) -> Result<(), FlashError<F::Error>> {
        match self.problem {
            Some(why) => Err(FlashError::Geometry(why)),
            None => Ok(()),
        }
    }

    /// Region offset `end` (exclusive) of an access, if it lies inside the region.
    fn in_range(&self, offset: u64, len: usize) -> Result<u32, FlashError<F::Error>> {
        offset
            .checked_add(len as u64)
            .filter(|&end| end <= u64::from(self.len))
            .and_then(|end| u32::try_from(end).ok())
            .ok_or(FlashError::OutOfRange {
                offset,
                len: len as u64,
                size: u64::from(self.len),
            })
    }

    /// Erases every sector that holds a byte below region offset `end` and is not erased yet.
    fn erase_through(&mut self, end: u32) -> Result<(), FlashError<F::Error>> {
        // Checked by `check_units`; `end <= len`, a multiple of the erase size, so no sector
        // erased here reaches past the region.
        let erase = F::ERASE_SIZE as u32;
        while self.erased_to < end {
            let from = self.start + self.erased_to;
            self.flash
                .erase(from, from + erase)
                .map_err(FlashError::Driver)?;
            self.erased_to += erase;
        }
        Ok(())
    }

    /// Programs the full tail unit, which starts at region offset `next - WRITE_SIZE`.
    fn program_tail(&mut self) -> Result<(), FlashError<F::Error>> {
        let w = F::WRITE_SIZE;
        let at = self.start + self.next - w as u32;
        let unit = self.tail.get(..w).unwrap_or_default();
        self.flash.write(at, unit).map_err(FlashError::Driver)?;
        self.tail_len = 0;
        Ok(())
    }
}

impl<F: NorFlash> BlockDevice for NorPartition<F> {
    type Error = FlashError<F::Error>;

    /// Sectors erase whole: the image is written once, front to back.
    const REWRITE_IN_PLACE: bool = false;

    fn error_text(e: &Self::Error) -> ErrorText {
        e.text()
    }

    fn size(&mut self) -> Result<u64, Self::Error> {
        self.ready()?;
        Ok(u64::from(self.len))
    }

    fn read(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), Self::Error> {
        self.ready()?;
        let end = self.in_range(offset, buf.len())?;
        // `in_range` proved `offset <= end <= len`, all below 2^32.
        let first = end - buf.len() as u32;
        read_any(&mut self.flash, self.start + first, buf).map_err(FlashError::Driver)?;
        // Bytes still waiting in the tail buffer are newer than the flash.
        let pending = self.next - self.tail_len as u32;
        let lo = first.max(pending);
        let hi = end.min(self.next);
        if lo < hi {
            let dst = buf.get_mut((lo - first) as usize..(hi - first) as usize);
            let src = self
                .tail
                .get((lo - pending) as usize..(hi - pending) as usize);
            if let (Some(dst), Some(src)) = (dst, src) {
                dst.copy_from_slice(src);
            }
        }
        Ok(())
    }

    fn write(&mut self, offset: u64, data: &[u8]) -> Result<(), Self::Error> {
        self.ready()?;
        let end = self.in_range(offset, data.len())?;
        if offset == 0 && self.next != 0 {
            self.next = 0;
            self.erased_to = 0;
            self.tail_len = 0;
            self.sealed = false;
        }
        if offset != u64::from(self.next) {
            return Err(FlashError::NotSequential {
                expected: u64::from(self.next),
                offset,
            });
        }
        if self.sealed && !data.is_empty() {
            return Err(FlashError::Sealed {
                end: u64::from(self.next),
            });
        }
        if data.is_empty() {
            return Ok(());
        }
        self.erase_through(end)?;
        let w = F::WRITE_SIZE;
        let mut data = data;
        if self.tail_len > 0 {
            let n = (w - self.tail_len).min(data.len());
            let (head, rest) = data.split_at(n);
            if let Some(dst) = self.tail.get_mut(self.tail_len..self.tail_len + n) {
                dst.copy_from_slice(head);
            }
            self.tail_len += n;
            self.next += n as u32;
            data = rest;
            if self.tail_len < w {
                return Ok(());
            }
            self.program_tail()?;
        }
        let (whole, rest) = data.split_at(data.len() / w * w);
        if !whole.is_empty() {
            self.flash
                .write(self.start + self.next, whole)
                .map_err(FlashError::Driver)?;
            self.next += whole.len() as u32;
        }
        if let Some(dst) = self.tail.get_mut(..rest.len()) {
            dst.copy_from_slice(rest);
        }
        self.tail_len = rest.len();
        self.next += rest.len() as u32;
        Ok(())
    }

    fn sync(&mut self) -> Result<(), Self::Error> {
        self.ready()?;
        if self.tail_len == 0 {
            return Ok(());
        }
        let w = F::WRITE_SIZE;
        if let Some(pad) = self.tail.get_mut(self.tail_len..w) {
            pad.fill(0xFF);
        }
        // Program as if the unit were complete; `next` stays at the image end.
        let at = self.start + self.next - self.tail_len as u32;
        let unit = self.tail.get(..w).unwrap_or_default();
        self.flash.write(at, unit).map_err(FlashError::Driver)?;
        self.tail_len = 0;
        self.sealed = true;
        Ok(())
    }
}

/// The newest valid record of a [`FlashBootEnv`].
#[derive(Debug, Clone, Copy)]
struct Current {
    copy: u32,
    seq: u32,
    len: usize,
}

/// Whether sequence number `a` is newer than `b` (wrap-around compare).
fn newer(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

fn le32(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes(b.try_into().ok()?))
}

/// Every `name=value\0` entry of well-formed variables (as [`parse`] accepts them: none is
/// empty), as `(name, value)`.
fn entries(vars: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    // Without the final NUL, splitting at NUL gives the entries; the filter drops the one
    // empty piece that splitting no variables gives.
    let before_last_nul = vars.split_last().map_or(&[][..], |(_, e)| e);
    before_last_nul
        .split(|&b| b == 0)
        .filter(|e| !e.is_empty())
        .map(|e| {
            let eq = e.iter().position(|&b| b == b'=').unwrap_or(e.len());
            let (name, value) = e.split_at(eq);
            (name, value.get(1..).unwrap_or_default())
        })
}

/// The value of variable `name` in well-formed variables.
fn value_of<'v>(vars: &'v [u8], name: &str) -> Option<&'v [u8]> {
    entries(vars)
        .find(|(n, _)| *n == name.as_bytes())
        .map(|(_, v)| v)
}

/// Sequence number and variables length of the record at the start of `rec`, if valid.
fn parse(rec: &[u8]) -> Option<(u32, usize)> {
    if rec.get(..4)? != ENV_MAGIC {
        return None;
    }
    let seq = le32(rec, 4)?;
    let len = usize::try_from(le32(rec, 8)?).ok()?;
    let body = ENV_HEADER_LEN.checked_add(len)?;
    let stored = le32(rec, body)?;
    if ENV_CRC.checksum(rec.get(..body)?) != stored {
        return None;
    }
    let well_formed = match rec.get(ENV_HEADER_LEN..body)?.split_last() {
        None => true,
        Some((0, entries)) => entries
            .split(|&b| b == 0)
            .all(|e| e.iter().position(|&b| b == b'=').is_some_and(|p| p > 0)),
        Some(_) => false,
    };
    well_formed.then_some((seq, len))
}

/// Why `name` cannot be a variable name, if it cannot ([`FlashError::BadVariable`]).
fn check_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("empty variable name");
    }
    if name.bytes().any(|b| b == b'=' || b == 0) {
        return Err("variable name holds '=' or NUL");
    }
    Ok(())
}

/// The boot environment in two erase sectors of NOR flash (layout in the [module docs](self)).
///
/// Nothing is cached: every `get` and `set` reads the flash, so a bootloader's own changes
/// are seen. Both use one [`MAX_FLASH_ENV_SIZE`] stack buffer for the record.
pub struct FlashBootEnv<F: NorFlash> {
    flash: F,
    start: u32,
    problem: Option<&'static str>,
}

impl<F: NorFlash> FlashBootEnv<F> {
    /// The environment in the first two erase sectors of `flash`.
    pub fn new(flash: F) -> Self {
        Self::at(flash, 0)
    }

    /// The environment in the two erase sectors from `start` (a multiple of `F::ERASE_SIZE`).
    pub fn at(flash: F, start: u64) -> Self {
        let two = (F::ERASE_SIZE as u64).saturating_mul(2);
        let checked = check_region::<F>(flash.capacity(), start, two).and_then(|(start, _)| {
            let cap = Self::capacity();
            if cap < ENV_HEADER_LEN + ENV_CRC_LEN {
                Err("the flash erase size is too small for a boot environment record")
            } else if !cap.is_multiple_of(F::WRITE_SIZE) || !cap.is_multiple_of(F::READ_SIZE) {
                Err("MAX_FLASH_ENV_SIZE is not a multiple of the flash write and read sizes")
            } else {
                Ok(start)
            }
        });
        let (start, problem) = match checked {
            Ok(start) => (start, None),
            Err(why) => (0, Some(why)),
        };
        FlashBootEnv {
            flash,
            start,
            problem,
        }
    }

    /// The flash driver (to inspect it).
    pub fn flash(&self) -> &F {
        &self.flash
    }

    /// Gives the flash driver back.
    pub fn into_inner(self) -> F {
        self.flash
    }

    /// Bytes a record may use, padding included.
    pub fn capacity() -> usize {
        F::ERASE_SIZE.min(MAX_FLASH_ENV_SIZE)
    }

    fn ready(&self) -> Result<(), FlashError<F::Error>> {
        match self.problem {
            Some(why) => Err(FlashError::Geometry(why)),
            None => Ok(()),
        }
    }

    fn copy_addr(&self, copy: u32) -> u32 {
        // Checked by `at`: both sectors lie inside the flash and its 32-bit addresses.
        self.start + copy * F::ERASE_SIZE as u32
    }

    fn read_copy(
        &mut self,
        copy: u32,
        rec: &mut [u8],
    ) -> Result<Option<(u32, usize)>, FlashError<F::Error>> {
        let addr = self.copy_addr(copy);
        read_any(&mut self.flash, addr, rec).map_err(FlashError::Driver)?;
        Ok(parse(rec))
    }

    /// Finds the newest valid record and leaves it in `buf`.
    fn load(
        &mut self,
        buf: &mut [u8; MAX_FLASH_ENV_SIZE],
    ) -> Result<Option<Current>, FlashError<F::Error>> {
        let rec = buf.get_mut(..Self::capacity()).unwrap_or_default();
        let one = self.read_copy(1, rec)?;
        let zero = self.read_copy(0, rec)?;
        let pick = |copy, (seq, len)| Current { copy, seq, len };
        Ok(match (zero, one) {
            (None, None) => None,
            (Some(z), None) => Some(pick(0, z)),
            (Some(z), Some(o)) if !newer(o.0, z.0) => Some(pick(0, z)),
            (_, Some(o)) => {
                if self.read_copy(1, rec)? != Some(o) {
                    return Err(FlashError::Verify);
                }
                Some(pick(1, o))
            }
        })
    }

    /// Writes `buf[..used]` as the record of `copy`: erase, program, read back.
    fn store(&mut self, copy: u32, buf: &[u8], used: usize) -> Result<(), FlashError<F::Error>> {
        let addr = self.copy_addr(copy);
        let erase = F::ERASE_SIZE as u32;
        self.flash
            .erase(addr, addr + erase)
            .map_err(FlashError::Driver)?;
        let w = F::WRITE_SIZE;
        let padded = used.div_ceil(w) * w;
        let rec = buf.get(..padded).ok_or(FlashError::EnvFull {
            needed: padded,
            capacity: Self::capacity(),
        })?;
        self.flash.write(addr, rec).map_err(FlashError::Driver)?;
        // Read back in small pieces: the record buffer is the only big one.
        let r = F::READ_SIZE;
        let piece = MAX_FLASH_UNIT / r * r;
        let mut back = [0u8; MAX_FLASH_UNIT];
        let total = padded.div_ceil(r) * r;
        let mut done = 0;
        while done < total {
            let n = piece.min(total - done);
            let got = back.get_mut(..n).unwrap_or_default();
            self.flash
                .read(addr + done as u32, got)
                .map_err(FlashError::Driver)?;
            if buf.get(done..done + n) != Some(&*got) {
                return Err(FlashError::Verify);
            }
            done += n;
        }
        Ok(())
    }
}

impl<F: NorFlash> BootEnv for FlashBootEnv<F> {
    type Error = FlashError<F::Error>;

    fn error_text(e: &Self::Error) -> ErrorText {
        e.text()
    }

    fn get(&mut self, name: &str, out: &mut [u8]) -> Result<Option<usize>, Self::Error> {
        self.ready()?;
        check_name(name).map_err(FlashError::BadVariable)?;
        let mut buf = [0xFF; MAX_FLASH_ENV_SIZE];
        let Some(cur) = self.load(&mut buf)? else {
            return Ok(None);
        };
        let vars = buf
            .get(ENV_HEADER_LEN..ENV_HEADER_LEN + cur.len)
            .unwrap_or_default();
        let Some(value) = value_of(vars, name) else {
            return Ok(None);
        };
        let room = out.len();
        let dst = out.get_mut(..value.len()).ok_or(FlashError::ValueTooLong {
            len: value.len(),
            buf: room,
        })?;
        dst.copy_from_slice(value);
        Ok(Some(value.len()))
    }

    fn set(&mut self, vars: &[(&str, &str)]) -> Result<(), Self::Error> {
        self.ready()?;
        for (name, value) in vars {
            check_name(name).map_err(FlashError::BadVariable)?;
            if value.bytes().any(|b| b == 0) {
                return Err(FlashError::BadVariable("variable value holds NUL"));
            }
        }
        let mut buf = [0xFF; MAX_FLASH_ENV_SIZE];
        let cur = self.load(&mut buf)?;
        let old_len = cur.map_or(0, |c| c.len);
        let body = buf
            .get_mut(ENV_HEADER_LEN..ENV_HEADER_LEN + old_len)
            .unwrap_or_default();

        // Nothing to do when every variable already holds its value: spare the flash.
        let unchanged = vars.iter().all(|(name, value)| {
            value_of(body, name) == (!value.is_empty()).then_some(value.as_bytes())
        });
        if unchanged {
            return Ok(());
        }

        // Drop every variable being set, keeping the others in order.
        let mut kept = 0;
        let mut at = 0;
        while let Some(entry) = body
            .get(at..)
            .and_then(|rest| rest.split_inclusive(|&b| b == 0).next())
        {
            let len = entry.len();
            let name = entry.split(|&b| b == b'=').next().unwrap_or_default();
            if !vars.iter().any(|(n, _)| n.as_bytes() == name) {
                body.copy_within(at..at + len, kept);
                kept += len;
            }
            at += len;
        }

        // Append the new values: the last occurrence of a name wins; empty values stay
        // removed. What does not fit the buffer is left out, and refused just below.
        let mut end = ENV_HEADER_LEN + kept;
        for (i, (name, value)) in vars.iter().enumerate() {
            if value.is_empty() || vars.iter().skip(i + 1).any(|(n, _)| n == name) {
                continue;
            }
            for part in [name.as_bytes(), b"=", value.as_bytes(), b"\0"] {
                if let Some(dst) = buf.get_mut(end..end + part.len()) {
                    dst.copy_from_slice(part);
                }
                end += part.len();
            }
        }
        let len = end - ENV_HEADER_LEN;
        let used = end + ENV_CRC_LEN;
        let capacity = Self::capacity();
        if used > capacity {
            return Err(FlashError::EnvFull {
                needed: used,
                capacity,
            });
        }
        let seq = cur.map_or(1, |c| c.seq.wrapping_add(1));
        let target = cur.map_or(0, |c| 1 - c.copy);
        // One 12-byte copy: three 4-byte ones each cost a call to the slice copy in firmware.
        let header = [ENV_MAGIC, seq.to_le_bytes(), (len as u32).to_le_bytes()];
        buf[..ENV_HEADER_LEN].copy_from_slice(header.as_flattened());
        let crc = ENV_CRC.checksum(buf.get(..end).unwrap_or_default());
        if let Some(dst) = buf.get_mut(end..used) {
            dst.copy_from_slice(&crc.to_le_bytes());
        }
        if let Some(rest) = buf.get_mut(used..) {
            rest.fill(0xFF);
        }
        self.store(target, &buf, used)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::install::{self, ImageWriter, InstallError};
    use embedded_storage::nor_flash::{ErrorType, NorFlashErrorKind, ReadNorFlash};
    use std::format;
    use std::string::{String, ToString};
    use std::vec;
    use std::vec::Vec;

    use crate::test_rng::Rng;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum SimError {
        NotAligned,
        OutOfBounds,
        /// A unit programmed twice without an erase in between.
        Reprogram,
        PowerLost,
    }

    impl NorFlashError for SimError {
        fn kind(&self) -> NorFlashErrorKind {
            match self {
                SimError::NotAligned => NorFlashErrorKind::NotAligned,
                SimError::OutOfBounds => NorFlashErrorKind::OutOfBounds,
                SimError::Reprogram | SimError::PowerLost => NorFlashErrorKind::Other,
            }
        }
    }

    /// NOR flash in memory with the media rules enforced: aligned accesses in range, erase
    /// sets whole sectors to 0xFF, program ANDs bits and each write unit once per erase.
    /// `cut` makes the operation (erase or program) with that index lose power half-way,
    /// after which every call fails.
    struct Sim<const R: usize, const W: usize, const E: usize> {
        data: Vec<u8>,
        programmed: Vec<bool>,
        ops: usize,
        cut: Option<usize>,
        dead: bool,
        rng: Rng,
        erases: usize,
    }

    impl<const R: usize, const W: usize, const E: usize> Sim<R, W, E> {
        /// A chip holding `data`, all of it programmed (old content).
        fn holding(data: Vec<u8>) -> Self {
            assert_eq!(data.len() % E, 0);
            let units = data.len() / W;
            Sim {
                data,
                programmed: vec![true; units],
                ops: 0,
                cut: None,
                dead: false,
                rng: Rng(0x9E37_79B9_7F4A_7C15),
                erases: 0,
            }
        }

        fn erased(len: usize) -> Self {
            let mut sim = Self::holding(vec![0xFF; len]);
            sim.programmed.fill(false);
            sim
        }

        /// Power fails during operation `op` (0-based), partly applied as chosen by `seed`.
        fn cut_at(mut self, op: usize, seed: u64) -> Self {
            self.cut = Some(op);
            self.rng = Rng(seed | 1);
            self
        }

        fn check(&self, offset: u32, len: usize, align: usize) -> Result<usize, SimError> {
            if self.dead {
                return Err(SimError::PowerLost);
            }
            let at = offset as usize;
            if at.checked_add(len).is_none_or(|end| end > self.data.len()) {
                return Err(SimError::OutOfBounds);
            }
            if !at.is_multiple_of(align) || !len.is_multiple_of(align) {
                return Err(SimError::NotAligned);
            }
            Ok(at)
        }

        /// Whether this operation is the one that loses power.
        fn cutting(&mut self) -> bool {
            let now = self.ops;
            self.ops += 1;
            self.cut == Some(now)
        }
    }

    impl<const R: usize, const W: usize, const E: usize> ErrorType for Sim<R, W, E> {
        type Error = SimError;
    }

    impl<const R: usize, const W: usize, const E: usize> ReadNorFlash for Sim<R, W, E> {
        const READ_SIZE: usize = R;

        fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), SimError> {
            let at = self.check(offset, bytes.len(), R)?;
            bytes.copy_from_slice(&self.data[at..at + bytes.len()]);
            Ok(())
        }

        fn capacity(&self) -> usize {
            self.data.len()
        }
    }

    impl<const R: usize, const W: usize, const E: usize> NorFlash for Sim<R, W, E> {
        const WRITE_SIZE: usize = W;
        const ERASE_SIZE: usize = E;

        fn erase(&mut self, from: u32, to: u32) -> Result<(), SimError> {
            let len = to.checked_sub(from).ok_or(SimError::OutOfBounds)? as usize;
            let at = self.check(from, len, E)?;
            if self.cutting() {
                // Sometimes the erase completes just before the power goes.
                let all = self.rng.below(4) == 0;
                for i in at..at + len {
                    if all || self.rng.next() & 1 == 1 {
                        self.data[i] = 0xFF;
                    }
                }
                self.dead = true;
                return Err(SimError::PowerLost);
            }
            self.data[at..at + len].fill(0xFF);
            self.programmed[at / W..(at + len) / W].fill(false);
            self.erases += len / E;
            Ok(())
        }

        fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), SimError> {
            let at = self.check(offset, bytes.len(), W)?;
            let units = at / W..(at + bytes.len()) / W;
            if self.programmed[units.clone()].iter().any(|&p| p) {
                return Err(SimError::Reprogram);
            }
            let mut n = bytes.len();
            if self.cutting() {
                // Sometimes the program completes just before the power goes.
                n = match self.rng.below(4) {
                    0 => bytes.len(),
                    _ => self.rng.below(bytes.len() + 1),
                };
                self.dead = true;
            }
            for (old, new) in self.data[at..at + n].iter_mut().zip(bytes) {
                *old &= new;
            }
            self.programmed[units].fill(true);
            if self.dead {
                return Err(SimError::PowerLost);
            }
            Ok(())
        }
    }

    /// Writes `image` in chunks of random (mostly odd) sizes, then syncs.
    fn write_chunked<B: BlockDevice>(dev: &mut B, image: &[u8], rng: &mut Rng) {
        let mut at = 0;
        while at < image.len() {
            let n = (1 + rng.below(97)).min(image.len() - at);
            dev.write(at as u64, &image[at..at + n]).expect("write");
            at += n;
        }
        dev.sync().expect("sync");
    }

    /// Round trip of several image sizes through a partition in the middle of a chip holding
    /// old data: the image reads back, the last unit is padded with 0xFF, sectors past the
    /// image and outside the region keep their old bytes.
    fn round_trip<const R: usize, const W: usize, const E: usize>() {
        let mut rng = Rng(R as u64 * 1000 + W as u64 * 10 + E as u64);
        let sizes = [0, 1, W - 1, W, W + 1, E - 1, E, E + 1, 3 * E + 5, 8 * E];
        for size in sizes {
            let old = rng.bytes(10 * E);
            let mut part =
                NorPartition::region(Sim::<R, W, E>::holding(old.clone()), E as u64, 8 * E as u64);
            assert_eq!(part.size().expect("size"), 8 * E as u64);
            let image = rng.bytes(size);
            write_chunked(&mut part, &image, &mut rng);

            // Reads at unaligned offsets and lengths through the partition.
            for _ in 0..20 {
                let from = rng.below(size + 1);
                let len = rng.below(size - from + 1);
                let mut back = vec![0; len];
                part.read(from as u64, &mut back).expect("read");
                assert_eq!(
                    back,
                    image[from..from + len],
                    "size {size} read {from}+{len}"
                );
            }
            let data = &part.flash().data;
            let written = &data[E..E + size];
            assert_eq!(written, &image[..], "size {size}");
            let padded = size.div_ceil(W) * W;
            assert!(data[E + size..E + padded].iter().all(|&b| b == 0xFF));
            let erased_end = E + size.div_ceil(E) * E;
            assert!(data[E + padded..erased_end].iter().all(|&b| b == 0xFF));
            assert_eq!(
                data[erased_end..],
                old[erased_end..],
                "size {size}: sectors past the image"
            );
            assert_eq!(data[..E], old[..E], "size {size}: sector before the region");
            assert_eq!(part.flash().erases, size.div_ceil(E));
        }
    }

    #[test]
    fn partition_round_trips_images() {
        round_trip::<1, 4, 256>();
        round_trip::<4, 8, 512>();
        round_trip::<1, 1, 64>();
        round_trip::<8, 32, 128>();
    }

    #[test]
    fn partition_read_sees_pending_tail() {
        let mut part = NorPartition::new(Sim::<1, 8, 64>::holding(vec![0x5A; 256]));
        part.write(0, b"0123456789").expect("write");
        let mut back = [0; 10];
        part.read(0, &mut back).expect("read");
        assert_eq!(&back, b"0123456789");
        // Only the aligned part reached the flash so far.
        assert_eq!(&part.flash().data[..10], b"01234567\xFF\xFF");
        part.sync().expect("sync");
        assert_eq!(
            &part.flash().data[..16],
            b"0123456789\xFF\xFF\xFF\xFF\xFF\xFF"
        );
    }

    #[test]
    fn partition_refuses_non_sequential_and_out_of_range_writes() {
        let mut part = NorPartition::new(Sim::<1, 4, 64>::erased(256));
        part.write(0, &[1; 10]).expect("write");
        let gap = part.write(20, &[2; 4]).unwrap_err();
        assert_eq!(
            gap,
            FlashError::NotSequential {
                expected: 10,
                offset: 20
            }
        );
        assert!(gap.to_string().contains("not sequential"), "{gap}");
        assert_eq!(
            part.write(6, &[2; 4]).unwrap_err(),
            FlashError::NotSequential {
                expected: 10,
                offset: 6
            }
        );
        part.write(10, &[3; 5]).expect("continues");
        let far = part.write(15, &[4; 242]).unwrap_err();
        assert_eq!(
            far,
            FlashError::OutOfRange {
                offset: 15,
                len: 242,
                size: 256
            }
        );
        assert!(far.to_string().contains("out of range"), "{far}");
        let mut buf = [0; 2];
        assert!(matches!(
            part.read(255, &mut buf),
            Err(FlashError::OutOfRange { .. })
        ));
        part.sync().expect("sync");
        assert_eq!(
            &part.flash().data[..17],
            &[1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 3, 3, 3, 0xFF, 0xFF]
        );

        // A padded last unit cannot be extended; offset 0 starts a new image.
        let sealed = part.write(15, &[5]).unwrap_err();
        assert_eq!(sealed, FlashError::Sealed { end: 15 });
        part.write(0, &[7; 70]).expect("restart");
        part.sync().expect("sync");
        assert_eq!(&part.flash().data[..70], &[7; 70]);
        assert!(part.flash().data[70..128].iter().all(|&b| b == 0xFF));
    }

    #[test]
    fn partition_reports_bad_geometry_and_driver_errors() {
        let mut off = NorPartition::region(Sim::<1, 4, 64>::erased(256), 32, 128);
        let err = off.size().unwrap_err();
        assert!(matches!(err, FlashError::Geometry(_)));
        assert!(
            err.to_string().contains("multiple of the flash erase size"),
            "{err}"
        );
        assert!(matches!(off.write(0, &[1]), Err(FlashError::Geometry(_))));

        let mut beyond = NorPartition::region(Sim::<1, 4, 64>::erased(256), 192, 128);
        assert!(beyond
            .size()
            .unwrap_err()
            .to_string()
            .contains("beyond the flash"));

        let mut part = NorPartition::new(Sim::<1, 4, 64>::erased(256).cut_at(0, 1));
        let err = part.write(0, &[1; 8]).unwrap_err();
        assert_eq!(err, FlashError::Driver(SimError::PowerLost));
        let text = err.to_string();
        assert!(
            text.contains("flash driver error") && text.contains("PowerLost"),
            "{text}"
        );
    }

    #[test]
    fn image_writer_refuses_an_image_larger_than_the_region() {
        let mut part = NorPartition::region(Sim::<1, 4, 64>::erased(512), 64, 256);
        let mut frame = [0; 64];
        let mut writer = ImageWriter::new(&mut part, &mut frame, &mut []);
        assert_eq!(
            writer.begin(257),
            Err(InstallError::TooLarge {
                image: 257,
                device: 256
            })
        );
        writer.begin(256).expect("fits");
    }

    /// The old slot content shares most frames with the new image: a writer that skipped
    /// equal frames would leave them erased (or be refused as non-sequential).
    #[test]
    fn image_writer_writes_every_frame_over_old_flash() {
        const FRAME: usize = 256;
        let mut rng = Rng(42);
        let image = rng.bytes(10 * FRAME + 3);
        let mut old = image.clone();
        old.resize(32 * 512, 0);
        for frame in old.chunks_mut(FRAME).step_by(3) {
            frame.copy_from_slice(&rng.bytes(frame.len()));
        }
        let mut part = NorPartition::new(Sim::<1, 4, 512>::holding(old));
        let mut frame = [0; FRAME];
        let mut writer = ImageWriter::new(&mut part, &mut frame, &mut []);
        writer.begin(image.len() as u64).expect("begin");
        let mut at = 0;
        while at < image.len() {
            let n = (1 + rng.below(300)).min(image.len() - at);
            writer.write(&image[at..at + n]).expect("write");
            at += n;
        }
        let stats = writer.finish().expect("finish");
        assert_eq!(stats.written, image.len() as u64);
        assert_eq!(stats.skipped, 0);
        assert_eq!(&part.flash().data[..image.len()], &image[..]);
    }

    type EnvSim = Sim<1, 8, 1024>;

    /// Every variable of the current record, in record order.
    fn dump<F: NorFlash>(env: &mut FlashBootEnv<F>) -> Vec<(String, String)> {
        let mut buf = [0xFF; MAX_FLASH_ENV_SIZE];
        let Some(cur) = env.load(&mut buf).expect("load") else {
            return Vec::new();
        };
        entries(&buf[ENV_HEADER_LEN..ENV_HEADER_LEN + cur.len])
            .map(|(n, v)| {
                (
                    String::from_utf8(n.to_vec()).expect("name"),
                    String::from_utf8(v.to_vec()).expect("value"),
                )
            })
            .collect()
    }

    fn get<F: NorFlash>(env: &mut FlashBootEnv<F>, name: &str) -> Option<String> {
        let mut buf = [0; 64];
        let n = env.get(name, &mut buf).expect("get")?;
        Some(String::from_utf8(buf[..n].to_vec()).expect("utf-8"))
    }

    fn vars(list: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut v: Vec<_> = list
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        v.sort();
        v
    }

    fn sorted(mut v: Vec<(String, String)>) -> Vec<(String, String)> {
        v.sort();
        v
    }

    /// A record built from the module docs' layout, independently of `set`.
    fn record(seq: u32, vars: &[(&str, &str)]) -> Vec<u8> {
        let mut body = Vec::new();
        for (n, v) in vars {
            body.extend_from_slice(format!("{n}={v}\0").as_bytes());
        }
        let mut rec = b"MENV".to_vec();
        rec.extend_from_slice(&seq.to_le_bytes());
        rec.extend_from_slice(&(body.len() as u32).to_le_bytes());
        rec.extend_from_slice(&body);
        let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC).checksum(&rec);
        rec.extend_from_slice(&crc.to_le_bytes());
        rec
    }

    #[test]
    fn env_first_boot_is_empty() {
        let mut env = FlashBootEnv::new(EnvSim::erased(2048));
        assert_eq!(get(&mut env, "mender_boot_part"), None);
        assert!(!install::upgrade_available(&mut env).expect("flag"));
        // Old data that is no record also reads as empty, and a first `set` works.
        let mut env = FlashBootEnv::new(EnvSim::holding(Rng(5).bytes(2048)));
        assert_eq!(dump(&mut env), vars(&[]));
        env.set(&[("a", "1")]).expect("set");
        assert_eq!(get(&mut env, "a").as_deref(), Some("1"));
    }

    #[test]
    fn env_set_get_remove_and_layout() {
        // The environment in sectors 1 and 2 of four: 0 and 3 are someone else's.
        let old = Rng(9).bytes(4096);
        let mut env = FlashBootEnv::at(EnvSim::holding(old.clone()), 1024);
        env.set(&[("mender_boot_part", "2"), ("bootcount", "0")])
            .expect("set");
        assert_eq!(get(&mut env, "mender_boot_part").as_deref(), Some("2"));
        assert_eq!(get(&mut env, "bootcount").as_deref(), Some("0"));
        assert_eq!(get(&mut env, "missing"), None);
        let first = record(1, &[("mender_boot_part", "2"), ("bootcount", "0")]);
        assert_eq!(&env.flash().data[1024..1024 + first.len()], &first[..]);

        env.set(&[("bootcount", "1"), ("mender_boot_part", ""), ("x", "y")])
            .expect("set");
        assert_eq!(
            dump(&mut env),
            vec![
                ("bootcount".to_string(), "1".to_string()),
                ("x".to_string(), "y".to_string()),
            ]
        );
        let second = record(2, &[("bootcount", "1"), ("x", "y")]);
        assert_eq!(&env.flash().data[2048..2048 + second.len()], &second[..]);
        let padded = second.len().div_ceil(8) * 8;
        assert!(env.flash().data[2048 + second.len()..3072]
            .iter()
            .all(|&b| b == 0xFF));
        assert!(padded <= MAX_FLASH_ENV_SIZE);
        assert_eq!(env.flash().data[..1024], old[..1024]);
        assert_eq!(env.flash().data[3072..], old[3072..]);

        // The last occurrence of a name wins; setting what is already there writes nothing.
        env.set(&[("x", "1"), ("x", "2")]).expect("set");
        assert_eq!(get(&mut env, "x").as_deref(), Some("2"));
        let erases = env.flash().erases;
        env.set(&[("x", "2"), ("gone", "")]).expect("no-op");
        assert_eq!(env.flash().erases, erases);

        let mut small = [0; 1];
        assert_eq!(
            env.get("bootcount", &mut [0; 0]),
            Err(FlashError::ValueTooLong { len: 1, buf: 0 })
        );
        assert_eq!(env.get("bootcount", &mut small), Ok(Some(1)));
        for bad in ["", "a=b", "a\0"] {
            assert!(
                matches!(env.set(&[(bad, "1")]), Err(FlashError::BadVariable(_))),
                "{bad:?}"
            );
        }
        assert!(matches!(
            env.set(&[("a", "1\0")]),
            Err(FlashError::BadVariable(_))
        ));
    }

    #[test]
    fn env_overflow_changes_nothing() {
        let mut env = FlashBootEnv::new(EnvSim::erased(2048));
        env.set(&[("keep", "me")]).expect("set");
        let before = env.flash().data.clone();
        let long = "v".repeat(MAX_FLASH_ENV_SIZE);
        let err = env.set(&[("big", &long), ("keep", "")]).unwrap_err();
        assert!(
            matches!(
                err,
                FlashError::EnvFull {
                    capacity: MAX_FLASH_ENV_SIZE,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("capacity"), "{err}");
        assert_eq!(env.flash().data, before);
        assert_eq!(dump(&mut env), vars(&[("keep", "me")]));

        // Exactly full fits: header + "k=" + value + NUL + CRC.
        let fill = "w".repeat(MAX_FLASH_ENV_SIZE - ENV_HEADER_LEN - ENV_CRC_LEN - 3);
        env.set(&[("keep", ""), ("k", &fill)])
            .expect("exactly full");
        assert_eq!(dump(&mut env), vars(&[("k", &fill)]));
    }

    #[test]
    fn env_picks_newest_valid_copy_across_wrap() {
        assert!(newer(0, u32::MAX));
        assert!(!newer(u32::MAX, 0));
        let mut data = vec![0xFF; 2048];
        let old = record(u32::MAX, &[("v", "old")]);
        let new = record(0, &[("v", "new")]);
        data[..old.len()].copy_from_slice(&old);
        data[1024..1024 + new.len()].copy_from_slice(&new);
        let mut env = FlashBootEnv::new(EnvSim::holding(data.clone()));
        assert_eq!(get(&mut env, "v").as_deref(), Some("new"));
        // The next change goes to copy 0 with sequence 1.
        env.set(&[("v", "next")]).expect("set");
        let next = record(1, &[("v", "next")]);
        assert_eq!(&env.flash().data[..next.len()], &next[..]);

        // A corrupt newer copy is ignored.
        data[1024 + ENV_HEADER_LEN] ^= 1;
        let mut env = FlashBootEnv::new(EnvSim::holding(data));
        assert_eq!(get(&mut env, "v").as_deref(), Some("old"));
    }

    /// Install switch, then commit, with power lost at every erase and program of both and
    /// several ways of half-applying it: after each cut the environment is exactly the state
    /// before or after the interrupted change, and the next change works.
    #[test]
    fn env_survives_power_loss_at_every_point() {
        let s0 = vars(&[
            ("mender_boot_part", "2"),
            ("mender_boot_part_hex", "2"),
            ("upgrade_available", "0"),
            ("bootcount", "0"),
            ("extra", "keep"),
        ]);
        let s1 = vars(&[
            ("mender_boot_part", "3"),
            ("mender_boot_part_hex", "3"),
            ("upgrade_available", "1"),
            ("bootcount", "0"),
            ("extra", "keep"),
        ]);
        let mut s2 = s1.clone();
        for (n, v) in s2.iter_mut() {
            if n == "upgrade_available" {
                *v = "0".to_string();
            }
        }

        // Both copies hold valid records before the update.
        let mut setup = FlashBootEnv::new(EnvSim::holding(Rng(3).bytes(2048)));
        setup
            .set(&[("mender_boot_part", "2"), ("extra", "old")])
            .expect("setup");
        setup
            .set(&[
                ("mender_boot_part_hex", "2"),
                ("upgrade_available", "0"),
                ("bootcount", "0"),
                ("extra", "keep"),
            ])
            .expect("setup");
        assert_eq!(sorted(dump(&mut setup)), s0);
        let image = setup.into_inner().data;

        let mut outcomes = [[0usize; 2]; 2];
        for seed in 1..=16u64 {
            let mut cut = 0;
            loop {
                let mut env = FlashBootEnv::new(EnvSim::holding(image.clone()).cut_at(cut, seed));
                let stage = match install::switch_to(&mut env, 3) {
                    Err(_) => 0,
                    Ok(()) => match install::commit(&mut env) {
                        Err(_) => 1,
                        Ok(()) => 2,
                    },
                };
                let flash = env.into_inner();
                if stage == 2 {
                    assert!(!flash.dead);
                    break;
                }
                assert!(flash.dead, "cut {cut}: failed without power loss");
                let mut env = FlashBootEnv::new(EnvSim::holding(flash.data));
                let now = sorted(dump(&mut env));
                let (before, after) = if stage == 0 { (&s0, &s1) } else { (&s1, &s2) };
                let newer = if now == *before {
                    0
                } else if now == *after {
                    1
                } else {
                    panic!("seed {seed} cut {cut}: mixed environment {now:?}");
                };
                outcomes[stage][newer] += 1;
                env.set(&[("extra", "after")]).expect("next set");
                assert_eq!(get(&mut env, "extra").as_deref(), Some("after"));
                assert_eq!(
                    get(&mut env, "mender_boot_part"),
                    now.iter()
                        .find(|(n, _)| n == "mender_boot_part")
                        .map(|(_, v)| v.clone())
                );
                cut += 1;
            }
            // Each change is one erase and one program.
            assert_eq!(cut, 4, "seed {seed}");
        }
        // Cuts fell both before and after each change took effect.
        for stage in outcomes {
            assert!(stage[0] > 0 && stage[1] > 0, "{outcomes:?}");
        }
    }
}
