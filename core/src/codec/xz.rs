//! xz (LZMA2) push decoder with memory bounded by the declared dictionary.
//!
//! Layout of an xz file (xz file format 1.x): stream header, blocks (block header, LZMA2
//! data, padding, check), index, stream footer; streams may be concatenated with zero padding
//! in multiples of four bytes between and after them. This decoder accepts exactly one filter,
//! LZMA2, which is what liblzma presets write; BCJ and delta chains are refused.
//!
//! Input is taken in any slicing. Small fixed fields are collected in an inline buffer; one
//! LZMA2 chunk of compressed data (at most 64 KiB) is collected whole before it is decoded, so
//! the LZMA decoder never has to suspend inside a symbol. Output goes into the dictionary ring
//! ([`dict`]) and is handed out from there, one window per call. Heap use is the ring (grown
//! lazily, never past the declared dictionary, which is checked against the limit before any
//! allocation), the chunk buffer, about 28 KiB of probabilities and 16 KiB of CRC-64 tables,
//! whatever the stream size.
//!
//! The index is verified without storing per-block records: the record count is compared, and
//! both the decoded blocks and the index records are folded into a CRC-32 of their (unpadded
//! size, uncompressed size) pairs.

mod crc64;
mod dict;
mod lzma;
#[cfg(test)]
mod tests;

use alloc::vec::Vec;

use crc::{Crc, Digest, CRC_32_ISO_HDLC};
use sha2::Digest as _;

use self::crc64::Tables as Crc64Tables;
use self::dict::Dict;
use self::lzma::Lzma;
use super::{CodecError, Compression, Step, Window, WINDOW_SIZE};

static CRC32: Crc<u32> = Crc::<u32>::new(&CRC_32_ISO_HDLC);

const HEADER_MAGIC: [u8; 6] = [0xFD, b'7', b'z', b'X', b'Z', 0x00];
const FOOTER_MAGIC: [u8; 2] = [b'Y', b'Z'];
/// Stream header and footer size.
const STREAM_FIELD_LEN: usize = 12;
/// Largest block header: (0xFF + 1) * 4.
const MAX_BLOCK_HEADER_LEN: usize = 1024;
/// LZMA2 filter id.
const FILTER_LZMA2: u64 = 0x21;
/// Largest compressed size of one LZMA chunk.
const MAX_CHUNK_PACKED: usize = 1 << 16;

/// Integrity check of the blocks of one stream.
#[derive(Clone, Copy, PartialEq, Eq)]
enum CheckKind {
    None,
    Crc32,
    Crc64,
    Sha256,
}

impl CheckKind {
    fn from_flags(id: u8) -> Result<Self, CodecError> {
        Ok(match id {
            0x00 => CheckKind::None,
            0x01 => CheckKind::Crc32,
            0x04 => CheckKind::Crc64,
            0x0A => CheckKind::Sha256,
            _ => return Err(CodecError::XzUnsupported),
        })
    }

    fn size(self) -> usize {
        match self {
            CheckKind::None => 0,
            CheckKind::Crc32 => 4,
            CheckKind::Crc64 => 8,
            CheckKind::Sha256 => 32,
        }
    }

    fn start(self) -> Check {
        match self {
            CheckKind::None => Check::None,
            CheckKind::Crc32 => Check::Crc32(CRC32.digest()),
            CheckKind::Crc64 => Check::Crc64(0),
            CheckKind::Sha256 => Check::Sha256(sha2::Sha256::new()),
        }
    }
}

/// Running check over a block's uncompressed data.
enum Check {
    None,
    Crc32(Digest<'static, u32>),
    Crc64(u64),
    Sha256(sha2::Sha256),
}

impl Check {
    fn update(&mut self, crc64: Option<&Crc64Tables>, data: &[u8]) {
        match self {
            Check::None => {}
            Check::Crc32(d) => d.update(data),
            Check::Crc64(c) => {
                if let Some(t) = crc64 {
                    *c = t.update(*c, data);
                }
            }
            Check::Sha256(d) => d.update(data),
        }
    }

    /// Compares the finished check with the stored field.
    fn matches(self, stored: &[u8]) -> bool {
        match self {
            Check::None => stored.is_empty(),
            Check::Crc32(d) => stored == d.finalize().to_le_bytes(),
            Check::Crc64(c) => stored == c.to_le_bytes(),
            Check::Sha256(d) => stored == d.finalize().as_slice(),
        }
    }
}

/// Incremental reader of the format's variable-length integers (7 bits per byte, at most
/// nine bytes, no superfluous zero byte).
#[derive(Clone, Copy, Default)]
struct Varint {
    value: u64,
    shift: u32,
}

impl Varint {
    fn push(&mut self, b: u8) -> Result<Option<u64>, CodecError> {
        if self.shift >= 63 {
            return Err(CodecError::XzCorrupt);
        }
        self.value |= u64::from(b & 0x7F) << self.shift;
        if b & 0x80 != 0 {
            self.shift += 7;
            return Ok(None);
        }
        if b == 0 && self.shift != 0 {
            return Err(CodecError::XzCorrupt);
        }
        let v = self.value;
        *self = Varint::default();
        Ok(Some(v))
    }
}

/// Reads one variable-length integer from a complete field, advancing `at`.
fn read_varint(buf: &[u8], at: &mut usize) -> Result<u64, CodecError> {
    let mut v = Varint::default();
    loop {
        let b = *buf.get(*at).ok_or(CodecError::XzCorrupt)?;
        *at += 1;
        if let Some(value) = v.push(b)? {
            return Ok(value);
        }
    }
}

/// Where the decoder is in the format.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    /// Collecting the 12-byte stream header.
    StreamHeader,
    /// Next byte is a block header size or the index indicator.
    BlockOrIndex,
    /// Collecting the rest of a block header.
    BlockHeader,
    /// Next byte is an LZMA2 control byte.
    ChunkControl,
    /// Collecting the sizes (and properties) that follow the control byte.
    ChunkHeader,
    /// Collecting the compressed bytes of an LZMA chunk.
    ChunkData,
    /// Decoding a collected LZMA chunk.
    ChunkDecode,
    /// Copying an uncompressed chunk.
    ChunkStored,
    /// Zero bytes that align the block to four bytes.
    BlockPadding,
    /// Collecting the block's check field.
    BlockCheck,
    /// Index: number of records.
    IndexCount,
    /// Index: a record's unpadded size.
    IndexUnpadded,
    /// Index: a record's uncompressed size.
    IndexUncompressed,
    /// Index: zero padding to four bytes.
    IndexPadding,
    /// Index: its CRC-32.
    IndexCrc,
    /// Collecting the 12-byte stream footer.
    StreamFooter,
    /// After a footer: zero padding, another stream, or the end.
    StreamPadding,
}

/// Push decoder for `.xz` members.
pub struct XzDecoder {
    dict_max: u32,
    state: State,
    /// Fixed fields being collected: headers, footer, chunk header, check, index CRC.
    field: [u8; MAX_BLOCK_HEADER_LEN],
    field_len: usize,
    field_need: usize,
    /// Stream flags of the current stream (repeated in its footer).
    flags: [u8; 2],
    check_kind: CheckKind,
    check: Check,
    /// Tables for CRC-64 checks, made when a stream first uses them.
    crc64: Option<Crc64Tables>,
    dict: Dict,
    lzma: Lzma,
    /// One LZMA chunk of compressed data.
    chunk: Vec<u8>,
    chunk_control: u8,
    /// Uncompressed bytes of the current chunk still to produce.
    chunk_left: usize,
    /// Compressed bytes of the current LZMA chunk.
    chunk_packed: usize,
    need_dict_reset: bool,
    need_props: bool,
    /// Block header size, and sizes it declares.
    block_header_len: u64,
    block_declared_packed: Option<u64>,
    block_declared_unpacked: Option<u64>,
    /// Block data (LZMA2) bytes consumed and bytes produced so far.
    block_packed: u64,
    block_unpacked: u64,
    /// Blocks of this stream and the fold of their (unpadded, uncompressed) sizes.
    blocks: u64,
    blocks_hash: Digest<'static, u32>,
    /// Index being read: records left, its CRC-32, bytes so far, fold of its records.
    index_left: u64,
    index_crc: Digest<'static, u32>,
    index_len: u64,
    index_hash: Digest<'static, u32>,
    index_unpadded: u64,
    varint: Varint,
    /// Bytes of the current 4-byte group of stream padding.
    padding: usize,
    /// Streams completed.
    streams: u64,
    /// `done` was reported.
    finished: bool,
    /// First error; every later call repeats it.
    failed: Option<CodecError>,
}

impl XzDecoder {
    /// A decoder that refuses dictionaries larger than `dict_max` bytes. Allocates nothing yet.
    pub fn new(dict_max: u32) -> Self {
        XzDecoder {
            dict_max,
            state: State::StreamHeader,
            field: [0; MAX_BLOCK_HEADER_LEN],
            field_len: 0,
            field_need: STREAM_FIELD_LEN,
            flags: [0; 2],
            check_kind: CheckKind::None,
            check: Check::None,
            crc64: None,
            dict: Dict::new(),
            lzma: Lzma::new(),
            chunk: Vec::new(),
            chunk_control: 0,
            chunk_left: 0,
            chunk_packed: 0,
            need_dict_reset: true,
            need_props: true,
            block_header_len: 0,
            block_declared_packed: None,
            block_declared_unpacked: None,
            block_packed: 0,
            block_unpacked: 0,
            blocks: 0,
            blocks_hash: CRC32.digest(),
            index_left: 0,
            index_crc: CRC32.digest(),
            index_len: 0,
            index_hash: CRC32.digest(),
            index_unpadded: 0,
            varint: Varint::default(),
            padding: 0,
            streams: 0,
            finished: false,
            failed: None,
        }
    }

    /// Decodes from `input` into `window`; see [`super::Decoder::decode`] for the contract.
    pub fn decode(
        &mut self,
        input: &[u8],
        window: &mut Window,
        last: bool,
    ) -> Result<Step, CodecError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        let r = self.step(input, window, last);
        if let Err(e) = r {
            self.failed = Some(e);
        }
        r
    }

    /// Heap bytes currently held (dictionary ring, chunk buffer, probabilities).
    #[cfg(test)]
    fn heap(&self) -> usize {
        self.dict.heap()
            + self.chunk.capacity()
            + self.lzma.heap()
            + self.crc64.as_ref().map_or(0, |t| t.heap())
    }

    fn step(&mut self, input: &[u8], window: &mut Window, last: bool) -> Result<Step, CodecError> {
        if self.finished {
            if input.is_empty() {
                return Ok(Step {
                    done: true,
                    ..Step::default()
                });
            }
            return Err(CodecError::TrailingData(Compression::Xz));
        }
        let mut consumed = 0;
        loop {
            if self.dict.pending() > 0 {
                let out = self.dict.take(WINDOW_SIZE);
                let n = out.len();
                window[..n].copy_from_slice(out);
                self.check.update(self.crc64.as_ref(), &window[..n]);
                return Ok(Step {
                    consumed,
                    out_start: 0,
                    out_len: n,
                    done: false,
                });
            }
            let rest = input.get(consumed..).unwrap_or(&[]);
            let used = match self.state {
                // These make output from what they already hold, without input.
                State::ChunkDecode => {
                    self.decode_chunk()?;
                    continue;
                }
                _ if rest.is_empty() => break,
                _ => self.consume(rest)?,
            };
            consumed += used;
        }
        if !last {
            return Ok(Step {
                consumed,
                ..Step::default()
            });
        }
        if self.state == State::StreamPadding {
            if self.padding != 0 {
                return Err(CodecError::XzCorrupt);
            }
            self.finished = true;
            return Ok(Step {
                consumed,
                done: true,
                ..Step::default()
            });
        }
        Err(CodecError::Truncated(Compression::Xz))
    }

    /// Collects bytes into `field` until `field_need` are there; returns bytes taken and
    /// whether the field is complete.
    fn collect(&mut self, input: &[u8]) -> (usize, bool) {
        let want = self.field_need.saturating_sub(self.field_len);
        let n = want.min(input.len());
        if let (Some(dst), Some(src)) = (
            self.field.get_mut(self.field_len..self.field_len + n),
            input.get(..n),
        ) {
            dst.copy_from_slice(src);
            self.field_len += n;
        }
        (n, self.field_len >= self.field_need)
    }

    /// Starts collecting a field of `need` bytes, some of which may already be there.
    fn expect(&mut self, state: State, need: usize, have: usize) {
        self.state = state;
        self.field_need = need;
        self.field_len = have;
    }

    /// Processes a non-empty `input` in the current state; returns bytes consumed.
    fn consume(&mut self, input: &[u8]) -> Result<usize, CodecError> {
        let first = input.first().copied().unwrap_or(0);
        match self.state {
            State::StreamHeader => {
                let (n, done) = self.collect(input);
                if self.streams > 0 {
                    // Anything after a stream that does not begin like one is not ours.
                    let got = self.field_len.min(HEADER_MAGIC.len());
                    if self.field.get(..got) != HEADER_MAGIC.get(..got) {
                        return Err(CodecError::TrailingData(Compression::Xz));
                    }
                }
                if done {
                    self.stream_header()?;
                }
                Ok(n)
            }
            State::BlockOrIndex => {
                if first == 0 {
                    self.index_crc = CRC32.digest();
                    self.index_crc.update(&[0]);
                    self.index_len = 1;
                    self.index_hash = CRC32.digest();
                    self.varint = Varint::default();
                    self.state = State::IndexCount;
                } else {
                    self.field[0] = first;
                    self.expect(State::BlockHeader, (usize::from(first) + 1) * 4, 1);
                }
                Ok(1)
            }
            State::BlockHeader => {
                let (n, done) = self.collect(input);
                if done {
                    self.block_header()?;
                }
                Ok(n)
            }
            State::ChunkControl => {
                self.block_packed += 1;
                self.chunk_control(first)?;
                Ok(1)
            }
            State::ChunkHeader => {
                let (n, done) = self.collect(input);
                self.block_packed += n as u64;
                if done {
                    self.chunk_header()?;
                }
                Ok(n)
            }
            State::ChunkData => {
                let n = (self.chunk_packed - self.chunk.len()).min(input.len());
                self.chunk.extend_from_slice(input.get(..n).unwrap_or(&[]));
                self.block_packed += n as u64;
                if self.chunk.len() == self.chunk_packed {
                    self.lzma.start_chunk(&self.chunk)?;
                    self.state = State::ChunkDecode;
                }
                Ok(n)
            }
            State::ChunkDecode => self.decode_chunk().map(|()| 0),
            State::ChunkStored => {
                let limit = self.dict.prepare(self.chunk_left.min(input.len()))?;
                let n = limit - self.dict.pos;
                self.dict
                    .write(input.get(..n).ok_or(CodecError::XzCorrupt)?)?;
                self.chunk_left -= n;
                self.block_packed += n as u64;
                self.block_unpacked += n as u64;
                if self.chunk_left == 0 {
                    self.state = State::ChunkControl;
                }
                Ok(n)
            }
            State::BlockPadding => {
                if self.field_len == self.field_need {
                    self.start_check();
                    return Ok(0);
                }
                if first != 0 {
                    return Err(CodecError::XzCorrupt);
                }
                self.field_len += 1;
                Ok(1)
            }
            State::BlockCheck => {
                let (n, done) = self.collect(input);
                if done {
                    self.block_end()?;
                }
                Ok(n)
            }
            State::IndexCount | State::IndexUnpadded | State::IndexUncompressed => {
                self.index_crc.update(&[first]);
                self.index_len += 1;
                if let Some(v) = self.varint.push(first)? {
                    self.index_value(v)?;
                }
                Ok(1)
            }
            State::IndexPadding => {
                if first != 0 {
                    return Err(CodecError::XzCorrupt);
                }
                self.index_crc.update(&[0]);
                self.index_len += 1;
                if self.index_len.is_multiple_of(4) {
                    self.expect(State::IndexCrc, 4, 0);
                }
                Ok(1)
            }
            State::IndexCrc => {
                let (n, done) = self.collect(input);
                if done {
                    let crc = core::mem::replace(&mut self.index_crc, CRC32.digest()).finalize();
                    let blocks =
                        core::mem::replace(&mut self.blocks_hash, CRC32.digest()).finalize();
                    let index = core::mem::replace(&mut self.index_hash, CRC32.digest()).finalize();
                    if self.field[..4] != crc.to_le_bytes() || blocks != index {
                        return Err(CodecError::XzCorrupt);
                    }
                    self.index_len += 4;
                    self.expect(State::StreamFooter, STREAM_FIELD_LEN, 0);
                }
                Ok(n)
            }
            State::StreamFooter => {
                let (n, done) = self.collect(input);
                if done {
                    self.stream_footer()?;
                }
                Ok(n)
            }
            State::StreamPadding => {
                if self.padding == 0 && first != 0 {
                    // Another stream follows.
                    self.expect(State::StreamHeader, STREAM_FIELD_LEN, 0);
                    return Ok(0);
                }
                if first != 0 {
                    return Err(CodecError::XzCorrupt);
                }
                self.padding = (self.padding + 1) % 4;
                Ok(1)
            }
        }
    }

    fn stream_header(&mut self) -> Result<(), CodecError> {
        let f = &self.field;
        if f[..6] != HEADER_MAGIC {
            return Err(if self.streams > 0 {
                CodecError::TrailingData(Compression::Xz)
            } else {
                CodecError::XzHeader
            });
        }
        let flags = [f[6], f[7]];
        if CRC32.checksum(&flags).to_le_bytes() != f[8..12] {
            return Err(CodecError::XzHeader);
        }
        if flags[0] != 0 || flags[1] & 0xF0 != 0 {
            return Err(CodecError::XzUnsupported);
        }
        self.check_kind = CheckKind::from_flags(flags[1])?;
        self.flags = flags;
        self.blocks = 0;
        self.blocks_hash = CRC32.digest();
        self.state = State::BlockOrIndex;
        Ok(())
    }

    fn block_header(&mut self) -> Result<(), CodecError> {
        let len = self.field_need;
        let h = self.field.get(..len).ok_or(CodecError::XzCorrupt)?;
        let (body, crc) = h.split_at(len - 4);
        if CRC32.checksum(body).to_le_bytes() != crc {
            return Err(CodecError::XzCorrupt);
        }
        let flags = body[1];
        if flags & 0x3C != 0 {
            return Err(CodecError::XzUnsupported);
        }
        let mut at = 2;
        let packed = if flags & 0x40 != 0 {
            Some(read_varint(body, &mut at)?)
        } else {
            None
        };
        let unpacked = if flags & 0x80 != 0 {
            Some(read_varint(body, &mut at)?)
        } else {
            None
        };
        if packed == Some(0) {
            return Err(CodecError::XzCorrupt);
        }
        let filters = usize::from(flags & 3) + 1;
        let mut dict_size = None;
        for i in 0..filters {
            let id = read_varint(body, &mut at)?;
            let props_len = read_varint(body, &mut at)?;
            let props_end = usize::try_from(props_len)
                .ok()
                .and_then(|p| at.checked_add(p))
                .filter(|&e| e <= body.len())
                .ok_or(CodecError::XzCorrupt)?;
            let props = &body[at..props_end];
            at = props_end;
            if id != FILTER_LZMA2 || i + 1 != filters {
                return Err(CodecError::XzUnsupported);
            }
            let &[p] = props else {
                return Err(CodecError::XzUnsupported);
            };
            dict_size = Some(lzma2_dict_size(p)?);
        }
        if body[at..].iter().any(|&b| b != 0) {
            return Err(CodecError::XzUnsupported);
        }
        let dict_size = dict_size.ok_or(CodecError::XzCorrupt)?;
        if dict_size > self.dict_max {
            return Err(CodecError::XzDictionaryTooLarge {
                needed: dict_size,
                limit: self.dict_max,
            });
        }
        let dict_size = usize::try_from(dict_size).map_err(|_| CodecError::OutOfMemory)?;
        if self.check_kind == CheckKind::Crc64 && self.crc64.is_none() {
            self.crc64 = Some(Crc64Tables::new()?);
        }
        self.dict.set_size(dict_size);
        self.block_header_len = len as u64;
        self.block_declared_packed = packed;
        self.block_declared_unpacked = unpacked;
        self.block_packed = 0;
        self.block_unpacked = 0;
        self.need_dict_reset = true;
        self.need_props = true;
        self.check = self.check_kind.start();
        self.state = State::ChunkControl;
        Ok(())
    }

    fn chunk_control(&mut self, c: u8) -> Result<(), CodecError> {
        if c == 0 {
            // End of the block's LZMA2 data.
            if self
                .block_declared_packed
                .is_some_and(|p| p != self.block_packed)
                || self
                    .block_declared_unpacked
                    .is_some_and(|u| u != self.block_unpacked)
            {
                return Err(CodecError::XzCorrupt);
            }
            let pad = (4 - (self.block_packed % 4) as usize) % 4;
            self.expect(State::BlockPadding, pad, 0);
            return Ok(());
        }
        if c == 1 || c >= 0xE0 {
            self.dict.reset();
            self.need_dict_reset = false;
            self.need_props = true;
        } else if self.need_dict_reset {
            return Err(CodecError::XzCorrupt);
        }
        self.chunk_control = c;
        if c >= 0x80 {
            let need = if c >= 0xC0 {
                self.need_props = false;
                5
            } else if self.need_props {
                return Err(CodecError::XzCorrupt);
            } else {
                4
            };
            self.expect(State::ChunkHeader, need, 0);
        } else if c <= 2 {
            self.expect(State::ChunkHeader, 2, 0);
        } else {
            return Err(CodecError::XzCorrupt);
        }
        Ok(())
    }

    fn chunk_header(&mut self) -> Result<(), CodecError> {
        let c = self.chunk_control;
        let f = &self.field;
        if c < 0x80 {
            self.chunk_left = usize::from(u16::from_be_bytes([f[0], f[1]])) + 1;
            self.state = State::ChunkStored;
            return Ok(());
        }
        let high = usize::from(c & 0x1F) << 16;
        self.chunk_left = (high | usize::from(u16::from_be_bytes([f[0], f[1]]))) + 1;
        self.chunk_packed = usize::from(u16::from_be_bytes([f[2], f[3]])) + 1;
        if c >= 0xC0 {
            self.lzma.set_props(f[4])?;
        }
        if c >= 0xA0 {
            self.lzma.reset()?;
        }
        self.chunk.clear();
        self.chunk
            .try_reserve_exact(self.chunk_packed.min(MAX_CHUNK_PACKED))
            .map_err(|_| CodecError::OutOfMemory)?;
        self.state = State::ChunkData;
        Ok(())
    }

    /// Decodes as much of the collected chunk as the dictionary ring takes in one run.
    fn decode_chunk(&mut self) -> Result<(), CodecError> {
        let limit = self.dict.prepare(self.chunk_left)?;
        let before = self.dict.pos;
        self.lzma.run(&self.chunk, &mut self.dict, limit)?;
        let n = self.dict.pos - before;
        if n == 0 {
            return Err(CodecError::XzCorrupt);
        }
        self.chunk_left -= n;
        self.block_unpacked += n as u64;
        if self.chunk_left == 0 {
            self.lzma.finish_chunk(&self.chunk)?;
            self.state = State::ChunkControl;
        }
        Ok(())
    }

    fn start_check(&mut self) {
        self.expect(State::BlockCheck, self.check_kind.size(), 0);
    }

    fn block_end(&mut self) -> Result<(), CodecError> {
        let check = core::mem::replace(&mut self.check, Check::None);
        let size = self.check_kind.size();
        if !check.matches(self.field.get(..size).unwrap_or(&[])) {
            return Err(CodecError::XzCheck);
        }
        let unpadded = self
            .block_header_len
            .checked_add(self.block_packed)
            .and_then(|v| v.checked_add(size as u64))
            .ok_or(CodecError::XzCorrupt)?;
        self.blocks_hash.update(&unpadded.to_le_bytes());
        self.blocks_hash.update(&self.block_unpacked.to_le_bytes());
        self.blocks += 1;
        self.state = State::BlockOrIndex;
        Ok(())
    }

    /// One complete variable-length integer of the index.
    fn index_value(&mut self, v: u64) -> Result<(), CodecError> {
        match self.state {
            State::IndexCount => {
                if v != self.blocks {
                    return Err(CodecError::XzCorrupt);
                }
                self.index_left = v;
            }
            State::IndexUnpadded => {
                self.index_unpadded = v;
                self.state = State::IndexUncompressed;
                return Ok(());
            }
            _ => {
                self.index_hash.update(&self.index_unpadded.to_le_bytes());
                self.index_hash.update(&v.to_le_bytes());
                self.index_left -= 1;
            }
        }
        if self.index_left > 0 {
            self.state = State::IndexUnpadded;
        } else if self.index_len.is_multiple_of(4) {
            self.expect(State::IndexCrc, 4, 0);
        } else {
            self.state = State::IndexPadding;
        }
        Ok(())
    }

    fn stream_footer(&mut self) -> Result<(), CodecError> {
        let f = &self.field;
        if f[10..12] != FOOTER_MAGIC {
            return Err(CodecError::XzCorrupt);
        }
        if CRC32.checksum(&f[4..10]).to_le_bytes() != f[..4] {
            return Err(CodecError::XzCorrupt);
        }
        let backward = (u64::from(u32::from_le_bytes([f[4], f[5], f[6], f[7]])) + 1) * 4;
        if f[8..10] != self.flags || backward != self.index_len {
            return Err(CodecError::XzCorrupt);
        }
        self.streams += 1;
        self.padding = 0;
        self.state = State::StreamPadding;
        Ok(())
    }
}

/// Dictionary size from the LZMA2 filter property byte: 2 or 3 times a power of two, 4 KiB
/// up to 3 GiB, or 4 GiB - 1 for the value 40.
fn lzma2_dict_size(p: u8) -> Result<u32, CodecError> {
    match p {
        40 => Ok(u32::MAX),
        0..40 => Ok((2 | u32::from(p & 1)) << (p / 2 + 11)),
        _ => Err(CodecError::XzUnsupported),
    }
}
