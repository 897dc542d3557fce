//! A streaming tar reader (ustar, PAX `path`/`size`, GNU long names and base-256 sizes), used
//! for the outer Artifact and for the header and data tars inside it.
//!
//! It never copies member data: [`TarReader::step`] reports how much of the caller's input is
//! member data ([`TarEvent::Data`]) and the caller says how much it used with
//! [`TarReader::consume_data`], so a downstream decoder may take less than offered.
//! Header fields are parsed with nom after the header checksum has been verified.
use crate::limits::{MAX_PAX_SIZE, MAX_TAR_PATH_LEN};
use core::fmt;
use heapless::{String, Vec};
use nom::bytes::complete::take;
use nom::IResult;
use nom::Parser;

/// Size of a tar block.
pub const BLOCK: usize = 512;

/// What kind of member a header describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Directory,
    /// Links, devices, FIFOs, ...: the raw type flag.
    Other(u8),
}

/// Tar-level failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TarError {
    /// The header checksum does not match: the stream is not tar or is corrupt.
    Checksum,
    /// A numeric field is not octal/base-256 or the magic is unknown.
    BadHeader,
    /// A PAX record is malformed.
    BadPax,
    /// A PAX extended header is larger than [`MAX_PAX_SIZE`].
    PaxTooLarge,
    /// A path is longer than [`MAX_TAR_PATH_LEN`] or not UTF-8.
    PathTooLong,
    /// The stream ended inside a member or a header.
    Truncated,
    /// Non-zero bytes after the end-of-archive marker.
    TrailingData,
}

impl fmt::Display for TarError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TarError::Checksum => "tar: invalid header checksum",
            TarError::BadHeader => "tar: invalid header",
            TarError::BadPax => "tar: invalid PAX extended header",
            TarError::PaxTooLarge => "tar: PAX extended header exceeds MAX_PAX_SIZE",
            TarError::PathTooLong => "tar: member path exceeds MAX_TAR_PATH_LEN or is not UTF-8",
            TarError::Truncated => "unexpected EOF",
            TarError::TrailingData => "tar: data after the end-of-archive marker",
        })
    }
}

/// A member header after PAX/GNU extensions were applied.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Entry {
    pub path: String<MAX_TAR_PATH_LEN>,
    pub size: u64,
    pub kind_flag: u8,
}

impl Entry {
    pub fn kind(&self) -> EntryKind {
        match self.kind_flag {
            b'0' | 0 | b'7' => EntryKind::File,
            b'5' => EntryKind::Directory,
            other => EntryKind::Other(other),
        }
    }
}

/// What [`TarReader::step`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TarEvent {
    /// All offered input was used; feed more.
    NeedMore,
    /// A new member starts; see [`TarReader::entry`].
    Entry,
    /// After skipping the bytes reported as consumed, the next `len` input bytes are member
    /// data, not yet consumed: the caller uses some of them and reports that with
    /// [`TarReader::consume_data`].
    Data { len: usize },
    /// The current member's data is complete.
    EntryEnd,
    /// The end-of-archive marker (two zero blocks) was read.
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Header,
    Data {
        remaining: u64,
    },
    /// Skipping padding up to the next block boundary.
    Pad {
        remaining: usize,
    },
    /// Reading a PAX `x` body or a GNU `L` name body into `ext`.
    Extension {
        remaining: u64,
        pad: usize,
        gnu_name: bool,
    },
    /// Skipping a body we ignore (PAX `g`, GNU `K`).
    Skip {
        remaining: u64,
    },
    /// After the end-of-archive marker: only zero bytes may follow.
    Ended,
}

/// A push tar reader. See the module docs.
pub struct TarReader {
    state: State,
    block: [u8; BLOCK],
    block_len: usize,
    zero_blocks: u8,
    entry: Entry,
    /// Body of a pending PAX or GNU long-name extension.
    ext: Vec<u8, MAX_PAX_SIZE>,
    next_path: Option<String<MAX_TAR_PATH_LEN>>,
    next_size: Option<u64>,
    /// Data bytes of the current entry that were announced but not yet completed.
    entry_open: bool,
}

impl Default for TarReader {
    fn default() -> Self {
        Self::new()
    }
}

struct RawHeader<'a> {
    name: &'a [u8],
    size: &'a [u8],
    checksum: &'a [u8],
    typeflag: u8,
    magic: &'a [u8],
    version: &'a [u8],
    prefix: &'a [u8],
}

fn raw_header(b: &[u8]) -> IResult<&[u8], RawHeader<'_>> {
    let (b, name) = take(100usize)(b)?;
    let (b, _mode_uid_gid) = take(24usize)(b)?;
    let (b, size) = take(12usize)(b)?;
    let (b, _mtime) = take(12usize)(b)?;
    let (b, checksum) = take(8usize)(b)?;
    let (b, typeflag) = take(1usize)(b)?;
    let (b, _linkname) = take(100usize)(b)?;
    let (b, (magic, version)) = (take(6usize), take(2usize)).parse(b)?;
    let (b, _names_dev) = take(80usize)(b)?;
    let (b, prefix) = take(155usize)(b)?;
    Ok((
        b,
        RawHeader {
            name,
            size,
            checksum,
            typeflag: typeflag[0],
            magic,
            version,
            prefix,
        },
    ))
}

/// Parses an octal field (leading spaces, digits, then NUL/space terminators) or a GNU
/// base-256 field (high bit of the first byte set).
fn numeric(field: &[u8]) -> Result<u64, TarError> {
    if let Some(&first) = field.first() {
        if first & 0x80 != 0 {
            if first & 0x40 != 0 {
                return Err(TarError::BadHeader); // negative
            }
            let mut v: u64 = u64::from(first & 0x3f);
            for &c in &field[1..] {
                v = v
                    .checked_mul(256)
                    .and_then(|v| v.checked_add(u64::from(c)))
                    .ok_or(TarError::BadHeader)?;
            }
            return Ok(v);
        }
    }
    let parsed: IResult<&[u8], (&[u8], &[u8])> = (
        nom::bytes::complete::take_while(|c| c == b' '),
        nom::bytes::complete::take_while(|c: u8| (b'0'..=b'7').contains(&c)),
    )
        .parse(field);
    let (rest, (_, digits)) = parsed.map_err(|_| TarError::BadHeader)?;
    if !rest.iter().all(|&c| c == 0 || c == b' ') {
        return Err(TarError::BadHeader);
    }
    let mut v: u64 = 0;
    for &d in digits {
        v = v
            .checked_mul(8)
            .and_then(|v| v.checked_add(u64::from(d - b'0')))
            .ok_or(TarError::BadHeader)?;
    }
    Ok(v)
}

fn cstr(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&c| c == 0).unwrap_or(field.len());
    &field[..end]
}

fn checksum_ok(block: &[u8; BLOCK], stored: &[u8]) -> Result<bool, TarError> {
    let stored = numeric(stored)?;
    let mut unsigned: u64 = 0;
    let mut signed: i64 = 0;
    for (i, &c) in block.iter().enumerate() {
        let c = if (148..156).contains(&i) { b' ' } else { c };
        unsigned += u64::from(c);
        signed += i64::from(c as i8);
    }
    Ok(stored == unsigned || i64::try_from(stored).ok() == Some(signed))
}

fn path_from(parts: &[&[u8]]) -> Result<String<MAX_TAR_PATH_LEN>, TarError> {
    let mut s = String::new();
    for p in parts {
        let p = core::str::from_utf8(p).map_err(|_| TarError::PathTooLong)?;
        s.push_str(p).map_err(|_| TarError::PathTooLong)?;
    }
    Ok(s)
}

/// Applies the records of a PAX extended header (`"<len> key=value\n"`); only `path` and
/// `size` matter for Artifacts, others are skipped.
fn parse_pax(
    mut body: &[u8],
    path: &mut Option<String<MAX_TAR_PATH_LEN>>,
    size: &mut Option<u64>,
) -> Result<(), TarError> {
    while !body.is_empty() {
        let sp = body
            .iter()
            .position(|&c| c == b' ')
            .ok_or(TarError::BadPax)?;
        let len_digits = &body[..sp];
        if len_digits.is_empty() || !len_digits.iter().all(u8::is_ascii_digit) {
            return Err(TarError::BadPax);
        }
        let mut len: usize = 0;
        for &d in len_digits {
            len = len
                .checked_mul(10)
                .and_then(|l| l.checked_add(usize::from(d - b'0')))
                .ok_or(TarError::BadPax)?;
        }
        if len <= sp + 1 || len > body.len() || body[len - 1] != b'\n' {
            return Err(TarError::BadPax);
        }
        let record = &body[sp + 1..len - 1];
        let eq = record
            .iter()
            .position(|&c| c == b'=')
            .ok_or(TarError::BadPax)?;
        let (key, value) = (&record[..eq], &record[eq + 1..]);
        match key {
            b"path" => *path = Some(path_from(&[value])?),
            b"size" => {
                if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
                    return Err(TarError::BadPax);
                }
                let mut v: u64 = 0;
                for &d in value {
                    v = v
                        .checked_mul(10)
                        .and_then(|v| v.checked_add(u64::from(d - b'0')))
                        .ok_or(TarError::BadPax)?;
                }
                *size = Some(v);
            }
            _ => {}
        }
        body = &body[len..];
    }
    Ok(())
}

fn padding(size: u64) -> usize {
    ((BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64) as usize
}

impl TarReader {
    pub const fn new() -> Self {
        TarReader {
            state: State::Header,
            block: [0; BLOCK],
            block_len: 0,
            zero_blocks: 0,
            entry: Entry {
                path: String::new(),
                size: 0,
                kind_flag: 0,
            },
            ext: Vec::new(),
            next_path: None,
            next_size: None,
            entry_open: false,
        }
    }

    /// The member announced by the last [`TarEvent::Entry`].
    pub fn entry(&self) -> &Entry {
        &self.entry
    }

    /// Whether the reader stands between members (a clean place for the stream to stop).
    pub fn at_boundary(&self) -> bool {
        matches!(self.state, State::Header | State::Ended)
            && self.block_len == 0
            && !self.entry_open
            && self.next_path.is_none()
            && self.next_size.is_none()
    }

    /// Whether the end-of-archive marker has been read.
    pub fn ended(&self) -> bool {
        self.state == State::Ended
    }

    /// Bytes of the current member's data not yet consumed.
    pub fn remaining(&self) -> u64 {
        match self.state {
            State::Data { remaining } => remaining,
            _ => 0,
        }
    }

    /// Marks `n` bytes of the data offered by [`TarEvent::Data`] as used.
    pub fn consume_data(&mut self, n: usize) {
        if let State::Data { remaining } = &mut self.state {
            *remaining = remaining.saturating_sub(n as u64);
        }
    }

    /// Advances over `input`; returns bytes consumed and what happened.
    pub fn step(&mut self, input: &[u8]) -> Result<(usize, TarEvent), TarError> {
        let mut used = 0;
        loop {
            let rest = &input[used..];
            match self.state {
                State::Data { remaining } => {
                    if remaining == 0 {
                        self.entry_open = false;
                        self.state = State::Pad {
                            remaining: padding(self.entry.size),
                        };
                        return Ok((used, TarEvent::EntryEnd));
                    }
                    if rest.is_empty() {
                        return Ok((used, TarEvent::NeedMore));
                    }
                    let len = usize::try_from(remaining)
                        .unwrap_or(usize::MAX)
                        .min(rest.len());
                    return Ok((used, TarEvent::Data { len }));
                }
                State::Pad { remaining } => {
                    let n = remaining.min(rest.len());
                    used += n;
                    if n == remaining {
                        self.state = State::Header;
                    } else {
                        self.state = State::Pad {
                            remaining: remaining - n,
                        };
                        return Ok((used, TarEvent::NeedMore));
                    }
                }
                State::Skip { remaining } => {
                    let n = usize::try_from(remaining)
                        .unwrap_or(usize::MAX)
                        .min(rest.len());
                    used += n;
                    let left = remaining - n as u64;
                    if left == 0 {
                        self.state = State::Header;
                    } else {
                        self.state = State::Skip { remaining: left };
                        return Ok((used, TarEvent::NeedMore));
                    }
                }
                State::Extension {
                    remaining,
                    pad,
                    gnu_name,
                } => {
                    let n = usize::try_from(remaining)
                        .unwrap_or(usize::MAX)
                        .min(rest.len());
                    self.ext
                        .extend_from_slice(&rest[..n])
                        .map_err(|_| TarError::PaxTooLarge)?;
                    used += n;
                    let left = remaining - n as u64;
                    if left > 0 {
                        self.state = State::Extension {
                            remaining: left,
                            pad,
                            gnu_name,
                        };
                        return Ok((used, TarEvent::NeedMore));
                    }
                    if gnu_name {
                        self.next_path = Some(path_from(&[cstr(&self.ext)])?);
                    } else {
                        parse_pax(&self.ext, &mut self.next_path, &mut self.next_size)?;
                    }
                    self.ext.clear();
                    self.state = State::Pad { remaining: pad };
                }
                State::Ended => {
                    if rest.iter().any(|&c| c != 0) {
                        return Err(TarError::TrailingData);
                    }
                    return Ok((input.len(), TarEvent::NeedMore));
                }
                State::Header => {
                    let want = BLOCK - self.block_len;
                    let n = want.min(rest.len());
                    self.block[self.block_len..self.block_len + n].copy_from_slice(&rest[..n]);
                    self.block_len += n;
                    used += n;
                    if self.block_len < BLOCK {
                        return Ok((used, TarEvent::NeedMore));
                    }
                    self.block_len = 0;
                    if let Some(ev) = self.header_block()? {
                        return Ok((used, ev));
                    }
                }
            }
        }
    }

    /// Interprets a complete header block; returns an event when one is due.
    fn header_block(&mut self) -> Result<Option<TarEvent>, TarError> {
        if self.block.iter().all(|&c| c == 0) {
            self.zero_blocks += 1;
            if self.zero_blocks == 2 {
                self.state = State::Ended;
                return Ok(Some(TarEvent::End));
            }
            return Ok(None);
        }
        if self.zero_blocks > 0 {
            return Err(TarError::BadHeader);
        }
        let block = self.block;
        let (_, h) = raw_header(&block)
            .map_err(|_: nom::Err<nom::error::Error<&[u8]>>| TarError::BadHeader)?;
        if !checksum_ok(&block, h.checksum)? {
            return Err(TarError::Checksum);
        }
        let ustar = h.magic == b"ustar\0" && h.version == b"00";
        let gnu = h.magic == b"ustar " && h.version == b" \0";
        let v7 = h.magic.iter().all(|&c| c == 0);
        if !(ustar || gnu || v7) {
            return Err(TarError::BadHeader);
        }
        let size = numeric(h.size)?;
        match h.typeflag {
            b'x' | b'L' => {
                if size > MAX_PAX_SIZE as u64 {
                    return Err(TarError::PaxTooLarge);
                }
                self.state = State::Extension {
                    remaining: size,
                    pad: padding(size),
                    gnu_name: h.typeflag == b'L',
                };
                return Ok(None);
            }
            b'g' | b'K' => {
                self.state = State::Skip {
                    remaining: size + padding(size) as u64,
                };
                return Ok(None);
            }
            _ => {}
        }
        let path = match self.next_path.take() {
            Some(p) => p,
            None if ustar && !cstr(h.prefix).is_empty() => {
                path_from(&[cstr(h.prefix), b"/", cstr(h.name)])?
            }
            None => path_from(&[cstr(h.name)])?,
        };
        let size = self.next_size.take().unwrap_or(size);
        // Only regular files carry data we read; other kinds have a size of their body anyway.
        self.entry = Entry {
            path,
            size,
            kind_flag: h.typeflag,
        };
        self.entry_open = true;
        self.state = State::Data { remaining: size };
        Ok(Some(TarEvent::Entry))
    }
}
