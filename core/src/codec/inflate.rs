//! A compact, resumable raw deflate (RFC 1951) decoder for small-RAM targets.
//!
//! miniz_oxide's inflate state carries about 10.5 KB of fast lookup tables; with the 32 KiB
//! history window that is too much for a 48 KiB RAM budget. This decoder keeps only what
//! canonical Huffman decoding needs (the number of codes per length and the symbols in code
//! order) and decodes a code bit by bit, so its whole state is about 1.1 KB. It is slower
//! than miniz_oxide; on a microcontroller the flash writes are the bottleneck anyway.
//!
//! The history lives in the caller's [`Window`], used as a 32 KiB ring exactly like
//! miniz_oxide's wrapping output buffer, so the gzip decoder can drive either engine the same
//! way. Input is pulled into the bit buffer one byte at a time and only when the item being
//! decoded needs more bits, so the stream's end is found without consuming any byte after it.

use super::{Window, WINDOW_SIZE};

/// Outcome of one [`SmallInflate::decompress`] call; the same meanings as miniz_oxide's
/// statuses when it is called with a wrapping output buffer and "more input may follow".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InflateStatus {
    /// The final block ended; no byte after the stream's last byte was consumed.
    Done,
    /// All input was consumed and the stream has not ended.
    NeedsMoreInput,
    /// The window's end was reached; continue at output position 0.
    HasMoreOutput,
    /// The stream is corrupt; every further call fails too (until [`SmallInflate::init`]).
    Failed,
}

/// Longest code length deflate allows.
const MAX_BITS: usize = 15;
/// Literal/length symbols a dynamic block may define (286 and 287 are never valid).
const MAX_LIT_CODES: usize = 286;
/// Distance symbols a dynamic block may define (30 and 31 are never valid).
const MAX_DIST_CODES: usize = 30;
/// The end-of-block symbol.
const END_OF_BLOCK: u16 = 256;
/// Mask turning a position into a ring index (the window size is a power of two).
const RING_MASK: usize = WINDOW_SIZE - 1;

/// Length symbols 257..=285: base length and number of extra bits.
const LEN_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LEN_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
/// Distance symbols 0..=29: base distance and number of extra bits.
const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];
/// The order in which a dynamic header lists the code-length code's lengths.
const CODE_LENGTH_ORDER: [u8; 19] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

/// Where the decoder is. Every state decodes one item at a time (see [`Peek`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// BFINAL and BTYPE of the next block.
    BlockHeader,
    /// Padding to the byte boundary, LEN and NLEN of a stored block.
    StoredHeader,
    /// Copying a stored block; `left` bytes to go.
    Stored {
        left: u16,
    },
    /// HLIT, HDIST and HCLEN of a dynamic block.
    DynamicHeader,
    /// The `at`-th 3-bit length of the code-length code.
    CodeLengthLengths {
        at: u8,
    },
    /// The literal/length and distance code lengths; `at` of them are known.
    CodeLengths {
        at: u16,
    },
    /// Literals, length/distance pairs and the end-of-block code.
    Data,
    /// A back-reference cut by the window's end: `len` bytes from `dist` back still to copy.
    Copy {
        len: u16,
        dist: u16,
    },
    Done,
    Failed,
}

/// A canonical Huffman code of up to `N` symbols, stored the small way: the number of codes
/// of each length, and the symbols in code order (by length, then by symbol value).
struct Huffman<const N: usize> {
    counts: [u16; MAX_BITS + 1],
    symbols: [u16; N],
    /// Longest code length in use: decoding gives up after this many bits, so an invalid code
    /// is found without pulling bytes that may not belong to the stream.
    max: u8,
}

impl<const N: usize> Huffman<N> {
    const fn new() -> Self {
        Huffman {
            counts: [0; MAX_BITS + 1],
            symbols: [0; N],
            max: 0,
        }
    }

    /// Builds the code for `lengths` (symbol `i` has length `lengths[i]`, 0 = unused).
    /// Applies zlib's rules: an over-subscribed set is invalid; an incomplete one is invalid
    /// unless it is empty or a single code of length 1, and for the code-length code
    /// (`code_lengths`) the single code is not allowed either.
    fn build(&mut self, lengths: &[u8], code_lengths: bool) -> bool {
        match build_code(&mut self.counts, &mut self.symbols, lengths, code_lengths) {
            Some(max) => {
                self.max = max;
                true
            }
            None => false,
        }
    }
}

/// [`Huffman::build`] for any table size: one copy of the code for both tables.
fn build_code(
    counts: &mut [u16; MAX_BITS + 1],
    symbols: &mut [u16],
    lengths: &[u8],
    code_lengths: bool,
) -> Option<u8> {
    if lengths.len() > symbols.len() {
        return None;
    }
    *counts = [0; MAX_BITS + 1];
    for &len in lengths {
        *counts.get_mut(usize::from(len))? += 1;
    }
    counts[0] = 0;
    // Kraft: `left` is the number of unused codes of the current length.
    let mut left: i32 = 1;
    let mut max = 0;
    for (len, &count) in counts.iter().enumerate().skip(1) {
        left = left * 2 - i32::from(count);
        if left < 0 {
            return None;
        }
        if count != 0 {
            max = len;
        }
    }
    if left > 0 && max != 0 && (code_lengths || max != 1) {
        return None;
    }
    // First index in `symbols` of each length, then the symbols in canonical order.
    let mut next = [0u16; MAX_BITS + 1];
    let mut sum = 0u16;
    for (slot, &count) in next.iter_mut().zip(counts.iter()).skip(1) {
        *slot = sum;
        sum += count;
    }
    for (symbol, &len) in lengths.iter().enumerate() {
        if len == 0 {
            continue;
        }
        let at = next.get_mut(usize::from(len))?;
        *symbols.get_mut(usize::from(*at))? = symbol as u16;
        *at += 1;
    }
    Some(max as u8)
}

/// The bit buffer: bits are consumed from the least significant end.
#[derive(Clone, Copy)]
struct BitBuf {
    bits: u64,
    count: u32,
}

/// One item's worth of look-ahead: reads bits past the committed position, pulling input
/// bytes into the bit buffer as needed. Nothing is dropped from the buffer until `commit`, so
/// an item cut by the end of the input is decoded again from the start on the next call.
struct Peek<'a> {
    buf: &'a mut BitBuf,
    input: &'a [u8],
    pos: &'a mut usize,
    at: u32,
}

impl Peek<'_> {
    /// The next `n` (<= 16) bits of the item.
    fn bits(&mut self, n: u32) -> Result<u32, InflateStatus> {
        let end = self.at + n;
        while self.buf.count < end {
            let Some(&byte) = self.input.get(*self.pos) else {
                return Err(InflateStatus::NeedsMoreInput);
            };
            *self.pos += 1;
            self.buf.bits |= u64::from(byte).checked_shl(self.buf.count).unwrap_or(0);
            self.buf.count += 8;
        }
        let value = self.buf.bits.checked_shr(self.at).unwrap_or(0) & ((1u64 << n) - 1);
        self.at = end;
        Ok(value as u32)
    }

    /// The next Huffman-coded symbol: canonical decoding, one bit (one code length) at a time.
    fn symbol<const N: usize>(&mut self, code: &Huffman<N>) -> Result<u16, InflateStatus> {
        // `value` is the code read so far, `first` the first code of the current length and
        // `index` the position of that code's symbol in `symbols`.
        let (mut value, mut first, mut index) = (0u32, 0u32, 0u32);
        for &count in code.counts.iter().skip(1).take(usize::from(code.max)) {
            value |= self.bits(1)?;
            let count = u32::from(count);
            let offset = value.wrapping_sub(first);
            if offset < count {
                return code
                    .symbols
                    .get((index + offset) as usize)
                    .copied()
                    .ok_or(InflateStatus::Failed);
            }
            index += count;
            first = (first + count) << 1;
            value <<= 1;
        }
        Err(InflateStatus::Failed)
    }

    /// The item is complete: drop its bits.
    fn commit(self) {
        self.buf.bits = self.buf.bits.checked_shr(self.at).unwrap_or(0);
        self.buf.count -= self.at;
    }
}

/// Resumable raw deflate decoder with about 1.1 KB of state and no heap. See the module docs.
pub struct SmallInflate {
    state: State,
    buf: BitBuf,
    /// The current block is the stream's last.
    final_block: bool,
    /// `lit` and `dist` hold the fixed codes (saves rebuilding them for every fixed block).
    fixed_loaded: bool,
    /// Number of literal/length and distance code lengths of the dynamic block being read.
    hlit: u16,
    hdist: u16,
    /// Number of code-length code lengths of the dynamic block being read.
    hclen: u8,
    /// Bytes produced since [`SmallInflate::init`], capped at the window size: how far back a
    /// distance may reach.
    history: u16,
    /// Code lengths of a dynamic header (or the fixed code's while building it).
    lengths: [u8; MAX_LIT_CODES + MAX_DIST_CODES],
    /// Literal/length code; while a dynamic header is read, the code-length code.
    lit: Huffman<288>,
    dist: Huffman<32>,
}

impl Default for SmallInflate {
    fn default() -> Self {
        Self::new()
    }
}

impl SmallInflate {
    /// A decoder ready for a new stream; `const` so that firmware can place it in a static.
    pub const fn new() -> Self {
        SmallInflate {
            state: State::BlockHeader,
            buf: BitBuf { bits: 0, count: 0 },
            final_block: false,
            fixed_loaded: false,
            hlit: 0,
            hdist: 0,
            hclen: 0,
            history: 0,
            lengths: [0; MAX_LIT_CODES + MAX_DIST_CODES],
            lit: Huffman::new(),
            dist: Huffman::new(),
        }
    }

    /// Starts a new deflate stream (and clears a failure).
    pub fn init(&mut self) {
        self.state = State::BlockHeader;
        self.buf = BitBuf { bits: 0, count: 0 };
        self.final_block = false;
        self.fixed_loaded = false;
        self.history = 0;
    }

    /// Decodes from `input` into `window[out_pos..]`.
    ///
    /// Returns the status, the number of input bytes consumed and the number of bytes written
    /// contiguously from `out_pos`. Output never goes past the window's end: there the call
    /// stops with [`InflateStatus::HasMoreOutput`] and the caller continues at position 0.
    /// The window is the history ring: the caller must not modify it between calls, and must
    /// pass the position that follows the previous call's output. `NeedsMoreInput` is only
    /// returned once all of `input` is consumed (bytes of a partly read item are kept).
    // The gzip decoder calls it from several places; one copy keeps firmware flash down.
    #[inline(never)]
    pub fn decompress(
        &mut self,
        input: &[u8],
        window: &mut Window,
        out_pos: usize,
    ) -> (InflateStatus, usize, usize) {
        let mut pos = 0;
        let mut out = out_pos;
        let status = loop {
            if let Err(status) = self.step(input, &mut pos, window, &mut out) {
                break status;
            }
        };
        if status == InflateStatus::Failed {
            self.state = State::Failed;
        }
        (status, pos, out.saturating_sub(out_pos))
    }

    /// Decodes one item; `Err` ends the call with that status.
    fn step(
        &mut self,
        input: &[u8],
        pos: &mut usize,
        window: &mut Window,
        out: &mut usize,
    ) -> Result<(), InflateStatus> {
        let mut peek = Peek {
            buf: &mut self.buf,
            input,
            pos,
            at: 0,
        };
        match self.state {
            State::Done => return Err(InflateStatus::Done),
            State::Failed => return Err(InflateStatus::Failed),
            State::BlockHeader => {
                let header = peek.bits(3)?;
                peek.commit();
                self.final_block = header & 1 != 0;
                self.state = match header >> 1 {
                    0 => State::StoredHeader,
                    1 => {
                        if !self.load_fixed() {
                            return Err(InflateStatus::Failed);
                        }
                        State::Data
                    }
                    2 => State::DynamicHeader,
                    _ => return Err(InflateStatus::Failed),
                };
            }
            State::StoredHeader => {
                // Only whole bytes enter the buffer, so `count % 8` bits are the padding.
                let padding = peek.buf.count & 7;
                peek.bits(padding)?;
                let len = peek.bits(16)?;
                let nlen = peek.bits(16)?;
                if len != !nlen & 0xffff {
                    return Err(InflateStatus::Failed);
                }
                peek.commit();
                self.state = State::Stored { left: len as u16 };
            }
            State::Stored { left } => {
                if left == 0 {
                    self.end_block();
                    return Ok(());
                }
                let dst = window.get_mut(*out..).unwrap_or_default();
                if dst.is_empty() {
                    return Err(InflateStatus::HasMoreOutput);
                }
                let n = if self.buf.count >= 8 {
                    // Whole bytes still buffered (not expected, as bytes are pulled lazily).
                    if let Some(b) = dst.first_mut() {
                        *b = self.buf.bits as u8;
                    }
                    self.buf.bits >>= 8;
                    self.buf.count -= 8;
                    1
                } else {
                    let src = input.get(*pos..).unwrap_or_default();
                    if src.is_empty() {
                        return Err(InflateStatus::NeedsMoreInput);
                    }
                    let n = usize::from(left).min(dst.len()).min(src.len());
                    if let (Some(d), Some(s)) = (dst.get_mut(..n), src.get(..n)) {
                        d.copy_from_slice(s);
                    }
                    *pos += n;
                    n
                };
                *out += n;
                self.add_history(n);
                self.state = State::Stored {
                    left: left.saturating_sub(n as u16),
                };
            }
            State::DynamicHeader => {
                let fields = peek.bits(14)?;
                let hlit = (fields & 31) as u16 + 257;
                let hdist = ((fields >> 5) & 31) as u16 + 1;
                let hclen = (fields >> 10) as u8 + 4;
                // zlib: "too many length or distance symbols".
                if usize::from(hlit) > MAX_LIT_CODES || usize::from(hdist) > MAX_DIST_CODES {
                    return Err(InflateStatus::Failed);
                }
                peek.commit();
                (self.hlit, self.hdist, self.hclen) = (hlit, hdist, hclen);
                self.lengths = [0; MAX_LIT_CODES + MAX_DIST_CODES];
                self.state = State::CodeLengthLengths { at: 0 };
            }
            State::CodeLengthLengths { at } => {
                if at >= self.hclen {
                    // The code-length code lives in `lit` until the real codes are built.
                    self.fixed_loaded = false;
                    let lengths = self.lengths.get(..19).unwrap_or_default();
                    if !self.lit.build(lengths, true) {
                        return Err(InflateStatus::Failed);
                    }
                    self.state = State::CodeLengths { at: 0 };
                    return Ok(());
                }
                let len = peek.bits(3)?;
                peek.commit();
                let symbol = CODE_LENGTH_ORDER.get(usize::from(at)).copied();
                if let Some(slot) = symbol.and_then(|s| self.lengths.get_mut(usize::from(s))) {
                    *slot = len as u8;
                }
                self.state = State::CodeLengthLengths { at: at + 1 };
            }
            State::CodeLengths { at } => {
                let total = usize::from(self.hlit) + usize::from(self.hdist);
                let at = usize::from(at);
                if at >= total {
                    return self.build_block_codes();
                }
                let (len, repeat) = match peek.symbol(&self.lit)? {
                    len @ 0..=15 => (len as u8, 1),
                    16 => {
                        let previous = at.checked_sub(1).and_then(|i| self.lengths.get(i));
                        let Some(&previous) = previous else {
                            return Err(InflateStatus::Failed);
                        };
                        (previous, 3 + peek.bits(2)?)
                    }
                    17 => (0, 3 + peek.bits(3)?),
                    18 => (0, 11 + peek.bits(7)?),
                    _ => return Err(InflateStatus::Failed),
                };
                let end = at + repeat as usize;
                if end > total {
                    return Err(InflateStatus::Failed);
                }
                peek.commit();
                if let Some(run) = self.lengths.get_mut(at..end) {
                    run.fill(len);
                }
                self.state = State::CodeLengths { at: end as u16 };
            }
            State::Data => {
                if *out >= WINDOW_SIZE {
                    return Err(InflateStatus::HasMoreOutput);
                }
                let symbol = peek.symbol(&self.lit)?;
                if symbol < END_OF_BLOCK {
                    peek.commit();
                    if let Some(b) = window.get_mut(*out) {
                        *b = symbol as u8;
                    }
                    *out += 1;
                    self.add_history(1);
                    return Ok(());
                }
                if symbol == END_OF_BLOCK {
                    peek.commit();
                    self.end_block();
                    return Ok(());
                }
                let i = usize::from(symbol - 257);
                let (Some(&base), Some(&extra)) = (LEN_BASE.get(i), LEN_EXTRA.get(i)) else {
                    return Err(InflateStatus::Failed);
                };
                let len = base + peek.bits(u32::from(extra))? as u16;
                let i = usize::from(peek.symbol(&self.dist)?);
                let (Some(&base), Some(&extra)) = (DIST_BASE.get(i), DIST_EXTRA.get(i)) else {
                    return Err(InflateStatus::Failed);
                };
                let dist = u32::from(base) + peek.bits(u32::from(extra))?;
                // zlib: "invalid distance too far back".
                if dist > u32::from(self.history) {
                    return Err(InflateStatus::Failed);
                }
                peek.commit();
                self.state = State::Copy {
                    len,
                    dist: dist as u16,
                };
            }
            State::Copy { len, dist } => {
                let space = WINDOW_SIZE.saturating_sub(*out);
                if space == 0 {
                    return Err(InflateStatus::HasMoreOutput);
                }
                let n = usize::from(len).min(space);
                copy_match(window, *out, usize::from(dist), n);
                *out += n;
                self.add_history(n);
                let left = len.saturating_sub(n as u16);
                self.state = if left == 0 {
                    State::Data
                } else {
                    State::Copy { len: left, dist }
                };
            }
        }
        Ok(())
    }

    /// After a dynamic header's code lengths: checks them and builds the block's codes.
    fn build_block_codes(&mut self) -> Result<(), InflateStatus> {
        let hlit = usize::from(self.hlit);
        let total = hlit + usize::from(self.hdist);
        // zlib: "invalid code -- missing end-of-block".
        if self
            .lengths
            .get(usize::from(END_OF_BLOCK))
            .copied()
            .unwrap_or(0)
            == 0
        {
            return Err(InflateStatus::Failed);
        }
        let lit = self.lengths.get(..hlit).unwrap_or_default();
        let dist = self.lengths.get(hlit..total).unwrap_or_default();
        if !self.lit.build(lit, false) || !self.dist.build(dist, false) {
            return Err(InflateStatus::Failed);
        }
        self.state = State::Data;
        Ok(())
    }

    /// Puts the fixed codes (RFC 1951 §3.2.6) into `lit` and `dist` unless they are there.
    fn load_fixed(&mut self) -> bool {
        if self.fixed_loaded {
            return true;
        }
        for (symbol, len) in self.lengths.iter_mut().enumerate().take(288) {
            *len = match symbol {
                0..=143 => 8,
                144..=255 => 9,
                256..=279 => 7,
                _ => 8,
            };
        }
        let lit = self.lengths.get(..288).unwrap_or_default();
        let ok = self.lit.build(lit, false);
        let dist = self.lengths.get_mut(..32).unwrap_or_default();
        dist.fill(5);
        self.fixed_loaded = ok && self.dist.build(dist, false);
        self.fixed_loaded
    }

    fn end_block(&mut self) {
        if self.final_block {
            // The rest of the last byte is padding.
            self.buf = BitBuf { bits: 0, count: 0 };
            self.state = State::Done;
        } else {
            self.state = State::BlockHeader;
        }
    }

    fn add_history(&mut self, n: usize) {
        let total = usize::from(self.history).saturating_add(n).min(WINDOW_SIZE);
        self.history = total as u16;
    }
}

/// Writes `n` bytes at `out` (`out + n` within the window) copied from `dist` (1..=32768)
/// bytes back in the ring, with LZ77 semantics (a source may overlap what is being written).
fn copy_match(window: &mut Window, out: usize, dist: usize, n: usize) {
    let mut src = out.wrapping_add(WINDOW_SIZE).wrapping_sub(dist) & RING_MASK;
    let mut dst = out;
    let mut left = n;
    while left > 0 {
        let chunk = if src < dst {
            // [src, dst) is written already and repeats with period `dist`, so it can be
            // copied as a whole; the chunk doubles each round for short distances.
            left.min(dst - src)
        } else {
            // The source lies ahead in the ring (older bytes, not yet overwritten), or is the
            // destination itself (a distance of the whole window): a move up to the ring's end
            // reads each byte before it is replaced.
            left.min(WINDOW_SIZE - src)
        };
        if src + chunk > WINDOW_SIZE || dst + chunk > WINDOW_SIZE || chunk == 0 {
            return;
        }
        window.copy_within(src..src + chunk, dst);
        if src >= dst {
            src = (src + chunk) & RING_MASK;
        }
        dst += chunk;
        left -= chunk;
    }
}

#[cfg(test)]
mod tests {
    use crate::test_rng::Chunks;
    extern crate std;

    use std::boxed::Box;
    use std::format;
    use std::vec;
    use std::vec::Vec;

    use miniz_oxide::inflate::core::inflate_flags::TINFL_FLAG_HAS_MORE_INPUT;
    use miniz_oxide::inflate::core::{decompress, DecompressorOxide};
    use miniz_oxide::inflate::TINFLStatus;

    use super::super::gzip::tests::{bench_input, cli, miniz_inflate, mixed, Rng};
    use super::*;

    const CHUNKINGS: [Chunks; 4] = [
        Chunks::Whole,
        Chunks::Bytes,
        Chunks::Random(3),
        Chunks::Random(0xabcdef),
    ];

    /// What driving a decoder over a whole input ended with.
    #[derive(Debug, PartialEq)]
    struct Outcome {
        status: InflateStatus,
        out: Vec<u8>,
        consumed: usize,
    }

    /// Drives a decoder like a caller: offers a growing prefix of the unread input, collects
    /// each call's output from the ring before the next call, and checks the call contract.
    /// Ends at `Done`, `Failed`, or `NeedsMoreInput` with all of `data` offered.
    fn run(data: &[u8], chunks: Chunks) -> Outcome {
        let mut inflate = Box::new(SmallInflate::new());
        inflate.init();
        let mut window = Box::new([0u8; WINDOW_SIZE]);
        let mut piece = chunks.pieces();
        let (mut pos, mut end, mut out_pos) = (0usize, 0usize, 0usize);
        let mut out = Vec::new();
        let status = loop {
            if end == pos {
                end = data.len().min(pos.saturating_add(piece()));
            }
            let (status, used, produced) =
                inflate.decompress(&data[pos..end], &mut window, out_pos);
            assert!(used <= end - pos);
            assert!(out_pos + produced <= WINDOW_SIZE);
            out.extend_from_slice(&window[out_pos..out_pos + produced]);
            pos += used;
            out_pos = (out_pos + produced) & RING_MASK;
            match status {
                InflateStatus::Done | InflateStatus::Failed => break status,
                InflateStatus::NeedsMoreInput => {
                    assert_eq!(pos, end, "NeedsMoreInput with input left");
                    if end == data.len() {
                        break status;
                    }
                    end = data.len().min(end.saturating_add(piece()));
                }
                InflateStatus::HasMoreOutput => {
                    assert!(produced > 0, "HasMoreOutput without output");
                    assert_eq!(out_pos, 0, "HasMoreOutput before the window's end");
                }
            }
        };
        if status != InflateStatus::NeedsMoreInput {
            // Done and Failed stick and consume nothing more.
            let again = inflate.decompress(b"more", &mut window, out_pos);
            assert_eq!(again, (status, 0, 0));
        }
        Outcome {
            status,
            out,
            consumed: pos,
        }
    }

    /// miniz_oxide's verdict on a valid stream: its output and the bytes it consumed.
    fn miniz(data: &[u8]) -> (Vec<u8>, usize) {
        let mut state = Box::new(DecompressorOxide::new());
        let mut window = Box::new([0u8; WINDOW_SIZE]);
        let (mut pos, mut out_pos, mut out) = (0usize, 0usize, Vec::new());
        loop {
            let (status, used, produced) = decompress(
                &mut state,
                &data[pos..],
                &mut window[..],
                out_pos,
                TINFL_FLAG_HAS_MORE_INPUT,
            );
            out.extend_from_slice(&window[out_pos..out_pos + produced]);
            pos += used;
            out_pos = (out_pos + produced) & RING_MASK;
            match status {
                TINFLStatus::Done => return (out, pos),
                TINFLStatus::HasMoreOutput => {}
                other => panic!("miniz_oxide: {other:?}"),
            }
        }
    }

    /// A valid stream decodes to `expected` under every chunking, consumes exactly its own
    /// bytes (junk follows it), and agrees with miniz_oxide.
    fn check_valid(stream: &[u8], expected: &[u8], what: &str) {
        let mut input = stream.to_vec();
        input.extend_from_slice(b"\x1f\x8b junk after the deflate stream");
        let (reference, used) = miniz(&input);
        assert!(reference == expected, "{what}: miniz_oxide output differs");
        assert_eq!(used, stream.len(), "{what}: miniz_oxide consumed");
        for chunks in CHUNKINGS {
            let got = run(&input, chunks);
            assert_eq!(got.status, InflateStatus::Done, "{what} {chunks:?}");
            assert!(
                got.out == expected,
                "{what} {chunks:?}: output differs ({} vs {} bytes)",
                got.out.len(),
                expected.len()
            );
            assert_eq!(got.consumed, stream.len(), "{what} {chunks:?}: consumed");
        }
    }

    /// The verdict, output and consumed count of any input do not depend on the chunking.
    fn check_chunking_independent(data: &[u8]) -> Outcome {
        let whole = run(data, Chunks::Whole);
        for chunks in [Chunks::Bytes, Chunks::Random(data.len() as u64)] {
            let other = run(data, chunks);
            assert!(
                other == whole,
                "{chunks:?}: {:?}/{}/{} vs whole {:?}/{}/{}",
                other.status,
                other.out.len(),
                other.consumed,
                whole.status,
                whole.out.len(),
                whole.consumed
            );
        }
        whole
    }

    /// The raw deflate stream inside `gzip -n` output (10-byte header, 8-byte trailer).
    fn gzip_body(data: &[u8], level: &str) -> Vec<u8> {
        let gz = cli("gzip", &[level, "-n", "-c"], data);
        assert_eq!(gz[3], 0, "no optional header fields expected");
        gz[10..gz.len() - 8].to_vec()
    }

    // ---- A small deflate writer, to make block layouts and broken streams on purpose ----

    /// LSB-first bit writer.
    struct BitWriter {
        out: Vec<u8>,
        acc: u64,
        n: u32,
    }

    impl BitWriter {
        fn new() -> Self {
            BitWriter {
                out: Vec::new(),
                acc: 0,
                n: 0,
            }
        }
        fn put(&mut self, value: u32, n: u32) {
            self.acc |= u64::from(value) << self.n;
            self.n += n;
            while self.n >= 8 {
                self.out.push(self.acc as u8);
                self.acc >>= 8;
                self.n -= 8;
            }
        }
        /// A Huffman code: most significant bit first.
        fn code(&mut self, code: u32, len: u8) {
            for i in (0..u32::from(len)).rev() {
                self.put((code >> i) & 1, 1);
            }
        }
        fn align(&mut self) {
            if self.n > 0 {
                self.put(0, 8 - self.n);
            }
        }
        fn finish(mut self) -> Vec<u8> {
            self.align();
            self.out
        }
    }

    /// A canonical code built from lengths (RFC 1951 §3.2.2).
    struct Code {
        lengths: Vec<u8>,
        codes: Vec<u32>,
    }

    impl Code {
        fn new(lengths: &[u8]) -> Self {
            let mut count = [0u32; 16];
            for &l in lengths {
                count[usize::from(l)] += 1;
            }
            count[0] = 0;
            let mut next = [0u32; 16];
            let mut code = 0;
            for len in 1..16 {
                code = (code + count[len - 1]) << 1;
                next[len] = code;
            }
            let codes = lengths
                .iter()
                .map(|&l| {
                    let c = next[usize::from(l)];
                    next[usize::from(l)] += 1;
                    c
                })
                .collect();
            Code {
                lengths: lengths.to_vec(),
                codes,
            }
        }
        fn put(&self, w: &mut BitWriter, symbol: usize) {
            assert_ne!(self.lengths[symbol], 0, "symbol {symbol} has no code");
            w.code(self.codes[symbol], self.lengths[symbol]);
        }
    }

    fn fixed_lit_lengths() -> Vec<u8> {
        (0..288)
            .map(|s| match s {
                0..=143 => 8,
                144..=255 => 9,
                256..=279 => 7,
                _ => 8,
            })
            .collect()
    }

    /// Complete literal/length lengths for the writer's dynamic blocks: the fixed ones, with
    /// 284/285 unused (so lengths stop at 226) and 280..=283 one bit shorter to stay complete.
    fn dynamic_lit_lengths() -> Vec<u8> {
        let mut l = fixed_lit_lengths();
        l.truncate(286);
        l[280..284].fill(7);
        l[284..286].fill(0);
        l
    }

    /// Complete distance lengths for the writer's dynamic blocks: codes 4..=19 (distances
    /// 5..=1024), so the zero runs at the end of the literal lengths and at the start of the
    /// distance lengths form one repeat that crosses from one into the other.
    fn dynamic_dist_lengths() -> Vec<u8> {
        (0..30)
            .map(|s| if (4..20).contains(&s) { 4 } else { 0 })
            .collect()
    }

    /// Code-length code used by the writer: all 19 symbols (13 of length 4, 6 of length 5).
    fn cl_lengths() -> [u8; 19] {
        core::array::from_fn(|s| if s <= 12 { 4 } else { 5 })
    }

    /// Run-length codes (symbol, extra value, extra bits) for a code length sequence.
    fn rle(lengths: &[u8]) -> Vec<(usize, u32, u32)> {
        let mut items = Vec::new();
        let mut i = 0;
        while i < lengths.len() {
            let v = lengths[i];
            let run = lengths[i..].iter().take_while(|&&x| x == v).count();
            if v == 0 && run >= 11 {
                let r = run.min(138);
                items.push((18, r as u32 - 11, 7));
                i += r;
            } else if v == 0 && run >= 3 {
                let r = run.min(10);
                items.push((17, r as u32 - 3, 3));
                i += r;
            } else if v != 0 && i > 0 && lengths[i - 1] == v && run >= 3 {
                let r = run.min(6);
                items.push((16, r as u32 - 3, 2));
                i += r;
            } else {
                items.push((usize::from(v), 0, 0));
                i += 1;
            }
        }
        items
    }

    /// A dynamic block header: counts, the code-length code `cl` (its first `hclen` lengths
    /// in transmission order are sent) and the code-length items.
    fn dynamic_header(
        w: &mut BitWriter,
        hlit: usize,
        hdist: usize,
        hclen: usize,
        cl: &[u8; 19],
        items: &[(usize, u32, u32)],
    ) {
        w.put(hlit as u32 - 257, 5);
        w.put(hdist as u32 - 1, 5);
        w.put(hclen as u32 - 4, 4);
        for &s in &CODE_LENGTH_ORDER[..hclen] {
            w.put(u32::from(cl[usize::from(s)]), 3);
        }
        let code = Code::new(cl);
        for &(symbol, extra, bits) in items {
            code.put(w, symbol);
            w.put(extra, bits);
        }
    }

    #[derive(Clone, Copy, Debug)]
    enum Block {
        Stored,
        Fixed,
        Dynamic,
    }

    /// Writes one length/distance pair.
    fn put_match(w: &mut BitWriter, lit: &Code, dist: &Code, len: usize, d: usize) {
        let li = LEN_BASE
            .iter()
            .rposition(|&b| usize::from(b) <= len)
            .unwrap();
        lit.put(w, 257 + li);
        w.put(
            (len - usize::from(LEN_BASE[li])) as u32,
            u32::from(LEN_EXTRA[li]),
        );
        let di = DIST_BASE
            .iter()
            .rposition(|&b| usize::from(b) <= d)
            .unwrap();
        dist.put(w, di);
        w.put(
            (d - usize::from(DIST_BASE[di])) as u32,
            u32::from(DIST_EXTRA[di]),
        );
    }

    /// Deflates `data` in blocks of the planned kinds and sizes (the last one is final), with
    /// greedy matches from a hash of 3-byte prefixes over the whole history.
    fn encode(data: &[u8], plan: &[(Block, usize)]) -> Vec<u8> {
        assert_eq!(plan.iter().map(|p| p.1).sum::<usize>(), data.len());
        let mut w = BitWriter::new();
        let mut head = vec![usize::MAX; 1 << 16];
        let hash = |i: usize| {
            (usize::from(data[i]) << 8 ^ usize::from(data[i + 1]) << 4 ^ usize::from(data[i + 2]))
                & 0xffff
        };
        let (fixed_lit, fixed_dist) = (Code::new(&fixed_lit_lengths()), Code::new(&[5; 32]));
        let (dyn_lit, dyn_dist) = (
            Code::new(&dynamic_lit_lengths()),
            Code::new(&dynamic_dist_lengths()),
        );
        let mut start = 0;
        for (n, &(kind, size)) in plan.iter().enumerate() {
            let end = start + size;
            let last = u32::from(n + 1 == plan.len());
            match kind {
                Block::Stored => {
                    w.put(last, 1);
                    w.put(0, 2);
                    w.align();
                    w.put(size as u32, 16);
                    w.put(!size as u32 & 0xffff, 16);
                    w.out.extend_from_slice(&data[start..end]);
                }
                Block::Fixed | Block::Dynamic => {
                    let (lit, dist, max_len, dists) = match kind {
                        Block::Fixed => (&fixed_lit, &fixed_dist, 258, 1..=32768),
                        _ => (&dyn_lit, &dyn_dist, 226, 5..=1024),
                    };
                    w.put(last, 1);
                    if let Block::Fixed = kind {
                        w.put(1, 2);
                    } else {
                        w.put(2, 2);
                        let lengths = [dynamic_lit_lengths(), dynamic_dist_lengths()].concat();
                        dynamic_header(&mut w, 286, 30, 19, &cl_lengths(), &rle(&lengths));
                    }
                    let mut i = start;
                    while i < end {
                        let mut len = 0;
                        let mut d = 0;
                        if i + 3 <= data.len() {
                            let h = hash(i);
                            let cand = head[h];
                            head[h] = i;
                            if cand != usize::MAX && dists.contains(&(i - cand)) {
                                d = i - cand;
                                len = data[i..end]
                                    .iter()
                                    .zip(&data[cand..])
                                    .take(max_len)
                                    .take_while(|(a, b)| a == b)
                                    .count();
                            }
                        }
                        if len >= 3 {
                            put_match(&mut w, lit, dist, len, d);
                            for j in i + 1..(i + len).min(data.len().saturating_sub(2)) {
                                head[hash(j)] = j;
                            }
                            i += len;
                        } else {
                            lit.put(&mut w, usize::from(data[i]));
                            i += 1;
                        }
                    }
                    lit.put(&mut w, 256);
                }
            }
            start = end;
        }
        w.finish()
    }

    /// Test inputs: empty, 1 byte, text, random, long runs, and > 100 KiB with far matches.
    fn samples() -> Vec<(&'static str, Vec<u8>)> {
        let mut rng = Rng(99);
        let text = b"The quick brown fox jumps over the lazy dog. Mender artifacts carry \
                     rootfs images, header.tar.gz and data/0000.tar.gz members.\n"
            .repeat(40);
        let mut runs = Vec::new();
        for i in 0..400 {
            runs.extend(std::iter::repeat_n(i as u8, 1 + rng.below(3000)));
        }
        vec![
            ("empty", Vec::new()),
            ("one byte", vec![b'x']),
            ("text", text),
            ("random", (0..50_000).map(|_| rng.next() as u8).collect()),
            ("runs", runs),
            ("mixed", mixed(300_000, 11)),
        ]
    }

    #[test]
    fn gzip_cli_streams() {
        for (what, data) in samples() {
            for level in ["-1", "-6", "-9"] {
                check_valid(
                    &gzip_body(&data, level),
                    &data,
                    &format!("{what} gzip {level}"),
                );
            }
        }
    }

    /// A random block plan: sizes from 0 to `max` bytes, kinds from `kinds`.
    fn plan(len: usize, max: usize, kinds: &[Block], seed: u64) -> Vec<(Block, usize)> {
        let mut rng = Rng(seed);
        let mut plan = Vec::new();
        let mut left = len;
        while left > 0 || plan.is_empty() {
            let size = rng.below(max + 1).min(left);
            plan.push((kinds[rng.below(kinds.len())], size));
            left -= size;
        }
        plan
    }

    #[test]
    fn written_block_layouts() {
        use Block::*;
        for (what, data) in samples() {
            let whole = |kind| plan(data.len(), 65_535, &[kind], 1);
            let layouts = [
                ("stored", whole(Stored)),
                ("fixed", vec![(Fixed, data.len())]),
                ("dynamic", vec![(Dynamic, data.len())]),
                (
                    "small blocks",
                    plan(data.len(), 700, &[Stored, Fixed, Dynamic], 5),
                ),
                (
                    "tiny blocks",
                    plan(data.len(), 40, &[Stored, Fixed, Dynamic], 6),
                ),
            ];
            for (layout, plan) in layouts {
                check_valid(&encode(&data, &plan), &data, &format!("{what} {layout}"));
            }
        }
    }

    #[test]
    fn truncated_streams_need_more_input() {
        let data = mixed(100_000, 21);
        for stream in [
            gzip_body(&data, "-6"),
            encode(
                &data,
                &plan(
                    data.len(),
                    5000,
                    &[Block::Stored, Block::Fixed, Block::Dynamic],
                    8,
                ),
            ),
        ] {
            for cut in [0, 1, 2, 3, 4, 5, 100, stream.len() / 2, stream.len() - 1] {
                let got = check_chunking_independent(&stream[..cut]);
                assert_eq!(got.status, InflateStatus::NeedsMoreInput, "cut {cut}");
                assert_eq!(got.consumed, cut);
                assert!(
                    data.starts_with(&got.out),
                    "cut {cut}: output is not a prefix"
                );
            }
        }
    }

    /// Hand-made streams: one of each thing zlib rejects fails, and the edge cases zlib
    /// accepts decode.
    #[test]
    fn rejects_what_zlib_rejects() {
        let fail = |stream: Vec<u8>, what: &str| {
            for chunks in CHUNKINGS {
                let got = run(&stream, chunks);
                assert_eq!(got.status, InflateStatus::Failed, "{what} {chunks:?}");
            }
        };
        let fixed = |f: &dyn Fn(&mut BitWriter, &Code, &Code)| {
            let mut w = BitWriter::new();
            w.put(1, 1);
            w.put(1, 2);
            f(
                &mut w,
                &Code::new(&fixed_lit_lengths()),
                &Code::new(&[5; 32]),
            );
            w.finish()
        };
        // A dynamic block from explicit code-length items, followed by one literal and EOB.
        let dynamic = |hlit: usize, hdist: usize, cl: &[u8; 19], items: &[(usize, u32, u32)]| {
            let mut w = BitWriter::new();
            w.put(1, 1);
            w.put(2, 2);
            dynamic_header(&mut w, hlit, hdist, 19, cl, items);
            w.finish()
        };
        let lits = |lengths: &[u8]| -> Vec<(usize, u32, u32)> {
            lengths.iter().map(|&l| (usize::from(l), 0, 0)).collect()
        };

        fail(vec![0b111], "block type 3");
        fail(vec![0b110, 0, 0, 0, 0], "block type 3, not final");
        let mut w = BitWriter::new();
        w.put(1, 1);
        w.put(0, 2);
        w.align();
        w.put(5, 16);
        w.put(!5u32 & 0xffff ^ 0x100, 16);
        fail(w.finish(), "stored LEN != !NLEN");

        // Code-length code: over-subscribed (three codes of length 1), incomplete (two
        // codes of length 2), and a single code of length 1 (allowed elsewhere, not here).
        let mut cl = [0u8; 19];
        cl[0] = 1;
        cl[1] = 1;
        cl[8] = 1;
        fail(
            dynamic(257, 1, &cl, &[]),
            "over-subscribed code-length code",
        );
        let mut cl = [0u8; 19];
        cl[0] = 2;
        cl[8] = 2;
        fail(dynamic(257, 1, &cl, &[]), "incomplete code-length code");
        // (With one code-length symbol no valid code set can follow, so the rule only shows
        // in failing before any code length is read: no items follow here.)
        let mut cl = [0u8; 19];
        cl[1] = 1;
        fail(dynamic(257, 1, &cl, &[]), "single code-length code");

        let cl = cl_lengths();
        // Literal/length code over-subscribed: 257 codes of length 8.
        fail(
            dynamic(257, 1, &cl, &lits(&[8; 258])),
            "over-subscribed lit/len",
        );
        // Incomplete literal/length code: three codes of length 2.
        let mut l = vec![0u8; 257];
        l[0] = 2;
        l[1] = 2;
        l[256] = 2;
        l.push(1);
        fail(dynamic(257, 1, &cl, &lits(&l)), "incomplete lit/len");
        // Incomplete distance code: two codes of length 2.
        let mut l = vec![0u8; 257];
        l[0] = 1;
        l[256] = 1;
        l.extend_from_slice(&[2, 2]);
        fail(dynamic(257, 2, &cl, &lits(&l)), "incomplete distance");
        // Missing end-of-block code.
        let mut l = vec![0u8; 257];
        l[0] = 1;
        l[1] = 1;
        l.push(1);
        fail(dynamic(257, 1, &cl, &lits(&l)), "missing end-of-block");
        // Repeat 16 as the first code length.
        fail(
            dynamic(257, 1, &cl, &[(16, 0, 2)]),
            "repeat with no previous length",
        );
        // A zero run past HLIT + HDIST (257 + 1 lengths, 138 + 138 = 276 > 258).
        fail(
            dynamic(257, 1, &cl, &[(18, 127, 7), (18, 127, 7)]),
            "code lengths overflow",
        );
        // A repeat of 16 that overflows the end.
        let mut items = lits(&[0; 256]);
        items.extend_from_slice(&[(1, 0, 0), (16, 0, 2)]);
        fail(dynamic(257, 1, &cl, &items), "repeat 16 overflows");
        // HLIT 287 / HDIST 31 (zlib: too many length or distance symbols).
        fail(dynamic(287, 1, &cl, &[]), "HLIT 287");
        fail(dynamic(288, 1, &cl, &[]), "HLIT 288");
        fail(dynamic(257, 31, &cl, &[]), "HDIST 31");
        fail(dynamic(257, 32, &cl, &[]), "HDIST 32");

        // Fixed codes 286/287 and distance codes 30/31 exist but are invalid.
        fail(fixed(&|w, lit, _| lit.put(w, 286)), "lit/len 286");
        fail(fixed(&|w, lit, _| lit.put(w, 287)), "lit/len 287");
        for d in [30, 31] {
            let stream = fixed(&|w, lit, dist| {
                lit.put(w, usize::from(b'a'));
                lit.put(w, 257);
                dist.put(w, d);
            });
            fail(stream, "distance code 30/31");
        }
        // Distance beyond the bytes produced so far: 1 byte of history, distance 2.
        let far = fixed(&|w, lit, dist| {
            lit.put(w, usize::from(b'a'));
            put_match(w, lit, dist, 3, 2);
            lit.put(w, 256);
        });
        fail(far, "distance too far back");
        // The distance limit counts the whole stream, across blocks.
        let mut w = BitWriter::new();
        let (lit, dist) = (Code::new(&fixed_lit_lengths()), Code::new(&[5; 32]));
        w.put(0, 1);
        w.put(1, 2);
        lit.put(&mut w, usize::from(b'a'));
        lit.put(&mut w, 256);
        w.put(1, 1);
        w.put(1, 2);
        lit.put(&mut w, usize::from(b'b'));
        put_match(&mut w, &lit, &dist, 4, 2);
        lit.put(&mut w, 256);
        check_valid(&w.finish(), b"ababab", "distance into the previous block");
    }

    #[test]
    fn accepts_what_zlib_accepts() {
        let cl = cl_lengths();
        let dynamic = |hdist: usize, dist_lengths: &[u8], body: &dyn Fn(&mut BitWriter)| {
            let mut w = BitWriter::new();
            w.put(1, 1);
            w.put(2, 2);
            // Literals 'a' and 'b' and EOB of length 2, length symbol 257 (3) of length 2.
            let mut l = vec![0u8; 258];
            l[usize::from(b'a')] = 2;
            l[usize::from(b'b')] = 2;
            l[256] = 2;
            l[257] = 2;
            l.extend_from_slice(dist_lengths);
            assert_eq!(l.len(), 258 + hdist);
            dynamic_header(&mut w, 258, hdist, 19, &cl, &rle(&l));
            body(&mut w);
            w.finish()
        };
        // Codes of that literal/length set, in symbol order: a=00, b=01, EOB=10, 257=11.
        let a = |w: &mut BitWriter| w.code(0b00, 2);
        let eob = |w: &mut BitWriter| w.code(0b10, 2);
        // A single distance code of length 1 (code 0): distance 1.
        let stream = dynamic(1, &[1], &|w| {
            a(w);
            w.code(0b11, 2);
            w.code(0, 1);
            eob(w);
        });
        check_valid(&stream, b"aaaa", "single distance code");
        // No distance codes at all, literals only.
        let stream = dynamic(1, &[0], &|w| {
            a(w);
            eob(w);
        });
        check_valid(&stream, b"a", "empty distance code");
        // That stream using a distance fails.
        let stream = dynamic(1, &[0], &|w| {
            a(w);
            w.code(0b11, 2);
            w.code(0, 1);
            eob(w);
        });
        assert_eq!(run(&stream, Chunks::Whole).status, InflateStatus::Failed);
        // A single distance code: the unused code (1) fails.
        let stream = dynamic(1, &[1], &|w| {
            a(w);
            w.code(0b11, 2);
            w.code(1, 1);
            eob(w);
        });
        assert_eq!(run(&stream, Chunks::Whole).status, InflateStatus::Failed);

        // A literal/length code of just EOB (length 1): an empty block.
        let mut w = BitWriter::new();
        w.put(1, 1);
        w.put(2, 2);
        let mut l = vec![0u8; 257];
        l[256] = 1;
        l.push(0);
        dynamic_header(&mut w, 257, 1, 19, &cl, &rle(&l));
        w.code(0, 1);
        check_valid(&w.finish(), b"", "EOB-only code");
        // Empty stored and fixed blocks before the final one.
        let plan = [(Block::Stored, 0), (Block::Fixed, 0), (Block::Dynamic, 0)];
        check_valid(&encode(b"", &plan), b"", "empty blocks");
    }

    /// Random bytes and single-bit flips of valid streams never panic, and what they decode
    /// to (verdict, output, consumed bytes) does not depend on the chunking.
    #[test]
    fn damaged_input_is_chunking_independent() {
        let mut rng = Rng(0xdead);
        let mut verdicts = [0usize; 4];
        let mut count = |o: Outcome| {
            verdicts[o.status as usize] += 1;
        };
        for _ in 0..1500 {
            let len = 1 + rng.below(400);
            let mut data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            // Make half of them start like fixed or dynamic blocks, to get past the header.
            if rng.below(2) == 0 {
                data[0] = (data[0] & !0b110) | [0b010, 0b100][rng.below(2)];
            }
            count(check_chunking_independent(&data));
        }
        let data = mixed(12_000, 5);
        let streams = [
            gzip_body(&data, "-6"),
            encode(
                &data,
                &plan(
                    data.len(),
                    3000,
                    &[Block::Stored, Block::Fixed, Block::Dynamic],
                    2,
                ),
            ),
            gzip_body(&samples()[2].1, "-9"),
        ];
        for stream in &streams {
            for _ in 0..1000 {
                let mut bad = stream.clone();
                let bit = rng.below(bad.len() * 8);
                bad[bit / 8] ^= 1 << (bit % 8);
                count(check_chunking_independent(&bad));
            }
        }
        // The damage reached every final verdict (the test is not vacuous).
        let [done, more, _, failed] = verdicts;
        assert!(done > 0 && more > 0 && failed > 0, "{verdicts:?}");
    }

    /// `copy_match` equals the byte-by-byte ring copy of the format, for every kind of
    /// distance: 1 (runs), shorter and longer than the length, reaching across the ring's end,
    /// and the whole window (each byte onto itself).
    #[test]
    fn copy_match_is_the_bytewise_ring_copy() {
        let mut rng = Rng(0xc0de);
        let mut cases = vec![(0, 32768, 258), (100, 32768, 3), (32768 - 258, 32768, 258)];
        for _ in 0..3000 {
            let n = 3 + rng.below(256);
            let out = rng.below(WINDOW_SIZE - n + 1);
            let dist = match rng.below(4) {
                0 => 1 + rng.below(8),
                1 => 1 + rng.below(n + 8),
                2 => out.saturating_sub(rng.below(4)).max(1),
                _ => 1 + rng.below(WINDOW_SIZE),
            };
            cases.push((out, dist, n));
        }
        for (out, dist, n) in cases {
            let mut window = Box::new([0u8; WINDOW_SIZE]);
            window.iter_mut().for_each(|b| *b = rng.next() as u8);
            let mut expected = window.clone();
            for k in 0..n {
                let from = (out + k + WINDOW_SIZE - dist) % WINDOW_SIZE;
                expected[out + k] = expected[from];
            }
            copy_match(&mut window, out, dist, n);
            assert!(window[..] == expected[..], "out {out} dist {dist} len {n}");
        }
    }

    /// After `init` a decoder starts afresh (no history, no failure).
    #[test]
    fn init_starts_a_new_stream() {
        let mut inflate = Box::new(SmallInflate::new());
        let mut window = Box::new([0u8; WINDOW_SIZE]);
        inflate.init();
        assert_eq!(
            inflate.decompress(&[0b111], &mut window, 0),
            (InflateStatus::Failed, 1, 0)
        );
        inflate.init();
        let stream = encode(b"abcabcabc", &[(Block::Fixed, 9)]);
        let (status, used, produced) = inflate.decompress(&stream, &mut window, 100);
        assert_eq!(
            (status, used, produced),
            (InflateStatus::Done, stream.len(), 9)
        );
        assert_eq!(&window[100..109], b"abcabcabc");
        // A stream starting with a match back into the previous stream's output fails.
        inflate.init();
        let mut w = BitWriter::new();
        w.put(1, 1);
        w.put(1, 2);
        put_match(
            &mut w,
            &Code::new(&fixed_lit_lengths()),
            &Code::new(&[5; 32]),
            3,
            3,
        );
        let (status, _, produced) = inflate.decompress(&w.finish(), &mut window, 109);
        assert_eq!((status, produced), (InflateStatus::Failed, 0));
    }

    #[test]
    fn state_stays_small() {
        // About 1.1 KB; the point of this decoder (miniz_oxide's state is 10,504 bytes).
        let size = core::mem::size_of::<SmallInflate>();
        assert!(size <= 1200, "SmallInflate is {size} bytes");
    }

    /// Throughput next to miniz_oxide on the gzip bench input (see gzip.rs). Run:
    /// cargo test --release -p mender-core codec::inflate -- --ignored --nocapture
    #[test]
    #[ignore]
    fn throughput() {
        let data = bench_input();
        let body = gzip_body(&data, "-6");
        let mib = |secs: f64| data.len() as f64 / secs / 1048576.0;
        let (mut small, mut fast) = (f64::MAX, f64::MAX);
        let mut window = Box::new([0u8; WINDOW_SIZE]);
        for _ in 0..3 {
            let mut inflate = Box::new(SmallInflate::new());
            inflate.init();
            let (mut pos, mut out_pos, mut total) = (0usize, 0usize, 0usize);
            let t = std::time::Instant::now();
            loop {
                let end = body.len().min(pos + (1 << 20));
                let (status, used, produced) =
                    inflate.decompress(&body[pos..end], &mut window, out_pos);
                pos += used;
                total += produced;
                out_pos = (out_pos + produced) & RING_MASK;
                match status {
                    InflateStatus::Done => break,
                    InflateStatus::Failed => panic!("bench stream failed"),
                    _ => {}
                }
            }
            small = small.min(t.elapsed().as_secs_f64());
            assert_eq!((total, pos), (data.len(), body.len()));

            let t = std::time::Instant::now();
            let total = miniz_inflate(&body, &mut window);
            fast = fast.min(t.elapsed().as_secs_f64());
            assert_eq!(total, data.len());
        }
        std::println!(
            "raw inflate of gzip -6, {} -> {} bytes: SmallInflate {:.0} MiB/s, miniz_oxide {:.0} MiB/s",
            body.len(),
            data.len(),
            mib(small),
            mib(fast)
        );
    }
}
