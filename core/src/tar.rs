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

impl TarError {
    /// A short fixed name (see [`crate::text::Brief`]).
    pub const fn name(self) -> &'static str {
        match self {
            TarError::Checksum => "tar header checksum mismatch",
            TarError::BadHeader => "bad tar header",
            TarError::BadPax => "bad PAX record",
            TarError::PaxTooLarge => "PAX header too large",
            TarError::PathTooLong => "tar path too long",
            TarError::Truncated => "tar stream truncated",
            TarError::TrailingData => "data after the end of the tar",
        }
    }
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

/// Buffers a tar reader needs only between members: the header block being collected and the
/// path an extension header set for the next member. The Artifact's outer tar and the inner tar
/// of its current member share one: the outer reader collects a header only between members,
/// when no inner tar is open, and the inner one only inside a member. Sharing saves 768 bytes.
pub struct TarScratch {
    block: [u8; BLOCK],
    /// The path from a PAX record or GNU long name (bytes, checked as UTF-8 when the member's
    /// header comes).
    next_path: Vec<u8, MAX_TAR_PATH_LEN>,
}

impl TarScratch {
    pub const fn new() -> Self {
        TarScratch {
            block: [0; BLOCK],
            next_path: Vec::new(),
        }
    }
}

impl Default for TarScratch {
    fn default() -> Self {
        Self::new()
    }
}

/// A push tar reader. See the module docs.
pub struct TarReader {
    state: State,
    /// Bytes of the header block collected so far in the scratch.
    block_len: usize,
    zero_blocks: u8,
    entry: Entry,
    /// Where the streaming parse of a PAX or GNU long-name body stands.
    ext: Ext,
    /// A PAX record or GNU long name set the next member's path (in the scratch).
    has_next_path: bool,
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
    // 512 bytes of at most 255 each: both sums fit 32 bits.
    let mut unsigned: u32 = 0;
    let mut signed: i32 = 0;
    for (i, &c) in block.iter().enumerate() {
        let c = if (148..156).contains(&i) { b' ' } else { c };
        unsigned += u32::from(c);
        signed += i32::from(c as i8);
    }
    Ok(stored == u64::from(unsigned) || i64::try_from(stored).ok() == Some(i64::from(signed)))
}

fn path_from(parts: &[&[u8]]) -> Result<String<MAX_TAR_PATH_LEN>, TarError> {
    let mut s = String::new();
    for p in parts {
        let p = core::str::from_utf8(p).map_err(|_| TarError::PathTooLong)?;
        s.push_str(p).map_err(|_| TarError::PathTooLong)?;
    }
    Ok(s)
}

/// The streaming parse of an extension body, one byte at a time (bodies are small, and this
/// way none is buffered). PAX records are `"<len> <key>=<value>\n"`, `len` counting the whole
/// record; only `path` and `size` matter for Artifacts, other records are skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ext {
    /// Reading a record's length: its value so far and the digits read.
    Len { len: usize, digits: usize },
    /// Reading the key; `left` bytes of the record remain. `n` > 4 means "some other key".
    Key { left: usize, key: [u8; 4], n: u8 },
    /// Reading the value of `field`; `left` bytes of the record remain (the last is `\n`).
    Value { left: usize, field: PaxField },
    /// A GNU long name: bytes up to the first NUL are the path.
    GnuName { ended: bool },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PaxField {
    Path,
    Size { value: u64, digits: bool },
    Other,
}

fn padding(size: u64) -> usize {
    ((BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64) as usize
}

impl TarReader {
    pub const fn new() -> Self {
        TarReader {
            state: State::Header,
            block_len: 0,
            zero_blocks: 0,
            entry: Entry {
                path: String::new(),
                size: 0,
                kind_flag: 0,
            },
            ext: Ext::Len { len: 0, digits: 0 },
            has_next_path: false,
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
            && !self.has_next_path
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

    /// Marks `n` bytes of the data offered by [`TarEvent::Data`] as used. Out of line: the
    /// 64-bit saturating subtraction is called from every place that feeds data on.
    #[inline(never)]
    pub fn consume_data(&mut self, n: usize) {
        if let State::Data { remaining } = &mut self.state {
            *remaining = remaining.saturating_sub(n as u64);
        }
    }

    /// Advances over `input`; returns bytes consumed and what happened.
    pub fn step(
        &mut self,
        input: &[u8],
        sc: &mut TarScratch,
    ) -> Result<(usize, TarEvent), TarError> {
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
                    for &c in &rest[..n] {
                        self.ext_byte(c, sc)?;
                    }
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
                    // A PAX body must end at a record boundary.
                    if !gnu_name && self.ext != (Ext::Len { len: 0, digits: 0 }) {
                        return Err(TarError::BadPax);
                    }
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
                    sc.block[self.block_len..self.block_len + n].copy_from_slice(&rest[..n]);
                    self.block_len += n;
                    used += n;
                    if self.block_len < BLOCK {
                        return Ok((used, TarEvent::NeedMore));
                    }
                    self.block_len = 0;
                    if let Some(ev) = self.header_block(sc)? {
                        return Ok((used, ev));
                    }
                }
            }
        }
    }

    /// Takes one byte of an extension body.
    fn ext_byte(&mut self, c: u8, sc: &mut TarScratch) -> Result<(), TarError> {
        self.ext = match self.ext {
            Ext::GnuName { ended: true } => return Ok(()),
            Ext::GnuName { ended: false } if c == 0 => Ext::GnuName { ended: true },
            Ext::GnuName { ended: false } => {
                sc.next_path.push(c).map_err(|_| TarError::PathTooLong)?;
                Ext::GnuName { ended: false }
            }
            Ext::Len { len, digits } if c.is_ascii_digit() => Ext::Len {
                len: len
                    .checked_mul(10)
                    .and_then(|l| l.checked_add(usize::from(c - b'0')))
                    .ok_or(TarError::BadPax)?,
                digits: digits + 1,
            },
            // The record must hold at least its length, the space and the newline.
            Ext::Len { len, digits } if c == b' ' && digits > 0 && len > digits + 1 => Ext::Key {
                left: len - digits - 1,
                key: [0; 4],
                n: 0,
            },
            Ext::Len { .. } => return Err(TarError::BadPax),
            Ext::Key { left: 1, .. } => return Err(TarError::BadPax),
            Ext::Key { left, key, n } if c == b'=' => {
                let field = match &key[..usize::from(n.min(4))] {
                    _ if n > 4 => PaxField::Other,
                    b"path" => {
                        sc.next_path.clear();
                        self.has_next_path = true;
                        PaxField::Path
                    }
                    b"size" => PaxField::Size {
                        value: 0,
                        digits: false,
                    },
                    _ => PaxField::Other,
                };
                Ext::Value {
                    left: left - 1,
                    field,
                }
            }
            Ext::Key { left, mut key, n } => {
                if let Some(k) = key.get_mut(usize::from(n)) {
                    *k = c;
                }
                Ext::Key {
                    left: left - 1,
                    key,
                    n: n.saturating_add(1).min(5),
                }
            }
            Ext::Value { left: 1, field } => {
                if c != b'\n' {
                    return Err(TarError::BadPax);
                }
                match field {
                    PaxField::Size { digits: false, .. } => return Err(TarError::BadPax),
                    PaxField::Size { value, .. } => self.next_size = Some(value),
                    PaxField::Path | PaxField::Other => {}
                }
                Ext::Len { len: 0, digits: 0 }
            }
            Ext::Value { left, field } => {
                let field = match field {
                    PaxField::Path => {
                        sc.next_path.push(c).map_err(|_| TarError::PathTooLong)?;
                        field
                    }
                    PaxField::Size { value, .. } if c.is_ascii_digit() => PaxField::Size {
                        value: value
                            .checked_mul(10)
                            .and_then(|v| v.checked_add(u64::from(c - b'0')))
                            .ok_or(TarError::BadPax)?,
                        digits: true,
                    },
                    PaxField::Size { .. } => return Err(TarError::BadPax),
                    PaxField::Other => field,
                };
                Ext::Value {
                    left: left - 1,
                    field,
                }
            }
        };
        Ok(())
    }

    /// Interprets a complete header block; returns an event when one is due.
    fn header_block(&mut self, sc: &mut TarScratch) -> Result<Option<TarEvent>, TarError> {
        if sc.block.iter().all(|&c| c == 0) {
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
        let (_, h) = raw_header(&sc.block)
            .map_err(|_: nom::Err<nom::error::Error<&[u8]>>| TarError::BadHeader)?;
        if !checksum_ok(&sc.block, h.checksum)? {
            return Err(TarError::Checksum);
        }
        let ustar = h.magic == b"ustar\0" && h.version == b"00";
        let gnu = h.magic == b"ustar " && h.version == b" \0";
        let v7 = h.magic.iter().all(|&c| c == 0);
        if !(ustar || gnu || v7) {
            return Err(TarError::BadHeader);
        }
        let size = numeric(h.size)?;
        let typeflag = h.typeflag;
        let header_path = if matches!(typeflag, b'x' | b'L' | b'g' | b'K') || self.has_next_path {
            None
        } else if ustar && !cstr(h.prefix).is_empty() {
            Some(path_from(&[cstr(h.prefix), b"/", cstr(h.name)])?)
        } else {
            Some(path_from(&[cstr(h.name)])?)
        };
        match typeflag {
            b'x' | b'L' => {
                if size > MAX_PAX_SIZE as u64 {
                    return Err(TarError::PaxTooLarge);
                }
                let gnu_name = typeflag == b'L';
                self.state = State::Extension {
                    remaining: size,
                    pad: padding(size),
                    gnu_name,
                };
                self.ext = if gnu_name {
                    sc.next_path.clear();
                    self.has_next_path = true;
                    Ext::GnuName { ended: false }
                } else {
                    Ext::Len { len: 0, digits: 0 }
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
        let path = match header_path {
            Some(p) => p,
            None => {
                self.has_next_path = false;
                let p = path_from(&[&sc.next_path])?;
                sc.next_path.clear();
                p
            }
        };
        let size = self.next_size.take().unwrap_or(size);
        // Only regular files carry data we read; other kinds have a size of their body anyway.
        self.entry = Entry {
            path,
            size,
            kind_flag: typeflag,
        };
        self.entry_open = true;
        self.state = State::Data { remaining: size };
        Ok(Some(TarEvent::Entry))
    }
}

/// Tar writing for tests, here and in the reader's tests.
#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::vec::Vec as StdVec;

    pub(crate) fn header(name: &str, size_field: &[u8], flag: u8, prefix: &str) -> [u8; BLOCK] {
        let mut h = [0u8; BLOCK];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[124..124 + size_field.len()].copy_from_slice(size_field);
        h[156] = flag;
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[345..345 + prefix.len()].copy_from_slice(prefix.as_bytes());
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..156].copy_from_slice(std::format!("{:06o}\0 ", sum).as_bytes());
        h
    }

    pub(crate) fn octal(n: u64) -> StdVec<u8> {
        std::format!("{:011o}\0", n).into_bytes()
    }

    pub(crate) fn member(out: &mut StdVec<u8>, h: [u8; BLOCK], data: &[u8]) {
        out.extend_from_slice(&h);
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(BLOCK) * BLOCK, 0);
    }

    /// Runs the reader over `input` in `chunk`-sized pieces; returns (path, size, data) per entry.
    fn entries(
        input: &[u8],
        chunk: usize,
    ) -> Result<StdVec<(std::string::String, u64, StdVec<u8>)>, TarError> {
        let mut t = TarReader::new();
        let mut sc = TarScratch::new();
        let mut out: StdVec<(std::string::String, u64, StdVec<u8>)> = StdVec::new();
        for c in input.chunks(chunk) {
            let mut c = c;
            loop {
                let (n, ev) = t.step(c, &mut sc)?;
                c = &c[n..];
                match ev {
                    TarEvent::NeedMore => break,
                    TarEvent::Entry => out.push((
                        t.entry().path.as_str().into(),
                        t.entry().size,
                        StdVec::new(),
                    )),
                    TarEvent::Data { len } => {
                        // Take only part of what is offered, as a slow consumer would.
                        let take = len.min(100);
                        out.last_mut().unwrap().2.extend_from_slice(&c[..take]);
                        t.consume_data(take);
                        c = &c[take..];
                    }
                    TarEvent::EntryEnd | TarEvent::End => {}
                }
            }
        }
        assert!(t.ended(), "no end marker");
        Ok(out)
    }

    #[test]
    fn ustar_prefix_pax_gnu_and_base256() {
        let mut a = StdVec::new();
        member(&mut a, header("plain", &octal(5), b'0', ""), b"hello");
        member(
            &mut a,
            header("name.txt", &octal(3), b'0', "scripts"),
            b"abc",
        );
        let long = "x".repeat(150);
        let pax = std::format!("{} path={}\n", 3 + 1 + 5 + long.len() + 1, long);
        let pax2 = "19 size=9000000000\n";
        let body = std::format!("{pax}{pax2}");
        member(
            &mut a,
            header("PaxHeaders.0/x", &octal(body.len() as u64), b'x', ""),
            body.as_bytes(),
        );
        member(&mut a, header("x", &octal(0), b'0', ""), b"");
        let mut t = TarReader::new();
        let mut sc = TarScratch::new();
        let mut found = StdVec::new();
        let mut c = &a[..];
        loop {
            let (n, ev) = t.step(c, &mut sc).unwrap();
            c = &c[n..];
            match ev {
                TarEvent::Entry => found.push((t.entry().path.clone(), t.entry().size)),
                TarEvent::Data { len } => {
                    t.consume_data(len);
                    c = &c[len..];
                    if found.len() == 3 {
                        break; // the 9 GB member: its data is not in this test archive
                    }
                }
                TarEvent::NeedMore => break,
                _ => {}
            }
        }
        assert_eq!(found[0].0.as_str(), "plain");
        assert_eq!(found[1].0.as_str(), "scripts/name.txt");
        assert_eq!(found[2].0.as_str(), long.as_str());
        assert_eq!(found[2].1, 9_000_000_000);
    }

    #[test]
    fn gnu_long_name_and_base256_size() {
        let mut a = StdVec::new();
        member(
            &mut a,
            header("././@LongLink", &octal(201), b'L', ""),
            &[b'g'; 201],
        );
        member(&mut a, header("short", &octal(2), b'0', ""), b"ok");
        let mut b256 = [0u8; 12];
        b256[0] = 0x80;
        b256[11] = 4;
        member(&mut a, header("bin", &b256, b'0', ""), b"four");
        a.extend_from_slice(&[0; 1024]);
        for chunk in [1, 13, 512, a.len()] {
            let e = entries(&a, chunk).unwrap();
            assert_eq!(e.len(), 2);
            assert_eq!(e[0].0, "g".repeat(201));
            assert_eq!(e[0].2, b"ok");
            assert_eq!(
                (e[1].0.as_str(), e[1].1, e[1].2.as_slice()),
                ("bin", 4, &b"four"[..])
            );
        }
    }

    #[test]
    fn refuses_bad_input() {
        let mut h = header("a", &octal(1), b'0', "");
        h[0] = b'b'; // checksum no longer matches
        assert_eq!(entries(&h, 512).unwrap_err(), TarError::Checksum);
        let h = header("a", b"12x4\0", b'0', "");
        assert_eq!(entries(&h, 512).unwrap_err(), TarError::BadHeader);
        let mut a = StdVec::new();
        member(&mut a, header("a", &octal(1), b'0', ""), b"z");
        a.extend_from_slice(&[0; 1024]);
        a.push(1);
        assert_eq!(entries(&a, 100).unwrap_err(), TarError::TrailingData);
        let big = std::format!("{} path=x\n", 2000);
        let mut a = StdVec::new();
        member(&mut a, header("p", &octal(2000), b'x', ""), big.as_bytes());
        assert_eq!(entries(&a, 512).unwrap_err(), TarError::PaxTooLarge);
        let mut a = StdVec::new();
        member(&mut a, header("p", &octal(9), b'x', ""), b"8 path=x\n");
        member(&mut a, header("q", &octal(0), b'0', ""), b"");
        a.extend_from_slice(&[0; 1024]);
        assert_eq!(entries(&a, 512).unwrap_err(), TarError::BadPax);
    }
}
