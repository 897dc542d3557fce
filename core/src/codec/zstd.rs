//! zstd (RFC 8878) push decoder on top of ruzstd's `FrameDecoder`.
//!
//! ruzstd decodes whole blocks from a reader and cannot resume a block that was cut short,
//! so this wrapper parses frame and block headers itself, hands ruzstd exactly one complete
//! block at a time (straight from the caller's input when it holds the whole block, otherwise
//! from a reassembly buffer of at most one block), and drains the decoded bytes into the
//! caller's window before decoding the next block. A frame whose window exceeds `window_max`
//! is refused from its header, before ruzstd allocates anything for it. Memory is then
//! ruzstd's history buffer (window + 256 KiB for the usual power-of-two windows, below twice
//! the window otherwise) plus a few 128 KiB block-sized buffers, whatever the stream length
//! or compression ratio. Content checksums (xxhash64) are verified through `ruzstd/hash`.

use alloc::vec::Vec;

use ruzstd::decoding::errors::FrameDecoderError;
use ruzstd::decoding::{BlockDecodingStrategy, FrameDecoder};
use ruzstd::io::Read as _;

use super::{CodecError, Compression, Step, Window};

/// zstd frame magic number, little-endian on the wire.
const FRAME_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
/// Skippable frames use magics 0x184D2A50..=0x184D2A5F; these are bytes 1..4 of them.
const SKIPPABLE_MAGIC_HIGH: [u8; 3] = [0x2a, 0x4d, 0x18];
/// Largest frame header: magic, descriptor, window byte, 4-byte dictionary id, 8-byte size.
const MAX_HEADER_LEN: usize = 4 + 1 + 1 + 4 + 8;
/// Largest block body the format allows (Block_Maximum_Size is at most 128 KiB).
const MAX_BLOCK_LEN: usize = 128 * 1024;
/// Block header size.
const BLOCK_HEADER_LEN: usize = 3;
/// Size of the optional content checksum after a frame's last block.
const CHECKSUM_LEN: usize = 4;

/// Where the decoder is inside the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Collecting a frame's magic number and header into `hdr`.
    Header,
    /// Skipping the payload of a skippable frame.
    Skip { left: u32 },
    /// Collecting and decoding the blocks of a frame.
    Block,
    /// The frame's last block has been decoded; hand out the rest, then check.
    FrameEnd,
    /// `done` has been reported.
    Done,
    /// A previous call failed; the error sticks.
    Failed(CodecError),
}

/// Push decoder for a zstd stream of one or more (possibly skippable) frames.
pub struct ZstdDecoder {
    frame: FrameDecoder,
    limit: u32,
    stage: Stage,
    /// Frame header bytes collected so far (`hdr[..hdr_len]`).
    hdr: [u8; MAX_HEADER_LEN],
    hdr_len: usize,
    /// Reassembly buffer for a block split across calls; empty otherwise.
    block: Vec<u8>,
    /// Frame_Content_Size of the current frame, when the header declares it.
    content_size: Option<u64>,
    /// The current frame ends with a content checksum.
    has_checksum: bool,
    /// Bytes of the current frame handed out so far.
    frame_out: u64,
    /// At least one frame (or skippable frame) has ended cleanly.
    frame_done: bool,
}

impl ZstdDecoder {
    /// A decoder that refuses frames whose window is larger than `window_max` bytes.
    pub fn new(window_max: u32) -> Self {
        let mut frame = FrameDecoder::new();
        frame.set_max_window_size(u64::from(window_max));
        ZstdDecoder {
            frame,
            limit: window_max,
            stage: Stage::Header,
            hdr: [0; MAX_HEADER_LEN],
            hdr_len: 0,
            block: Vec::new(),
            content_size: None,
            has_checksum: false,
            frame_out: 0,
            frame_done: false,
        }
    }

    /// Decodes from `input` into `window`; see [`super::Decoder::decode`] for the contract.
    ///
    /// Output is written linearly from the start of the window, at most one window per call.
    /// `done` is reported in a step of its own (with `out_len == 0`) once `last` input has been
    /// seen at a frame boundary. After an error every further call fails the same way.
    pub fn decode(
        &mut self,
        input: &[u8],
        window: &mut Window,
        last: bool,
    ) -> Result<Step, CodecError> {
        let mut step = Step::default();
        match self.run(input, window, last, &mut step) {
            Ok(()) => Ok(step),
            Err(e) => {
                self.stage = Stage::Failed(e);
                Err(e)
            }
        }
    }

    fn run(
        &mut self,
        input: &[u8],
        window: &mut Window,
        last: bool,
        step: &mut Step,
    ) -> Result<(), CodecError> {
        let mut rest = input;
        // Set when the loop stops because every input byte has been used and more are needed.
        let starved = loop {
            if matches!(self.stage, Stage::Block | Stage::FrameEnd) && self.frame.can_collect() > 0
            {
                let n = self
                    .frame
                    .read(&mut window[..])
                    .map_err(|_| CodecError::ZstdCorrupt)?;
                self.frame_out = self.frame_out.saturating_add(n as u64);
                if self.content_size.is_some_and(|size| self.frame_out > size) {
                    return Err(CodecError::ZstdCorrupt);
                }
                step.out_len = n;
                break false;
            }
            match self.stage {
                Stage::Failed(e) => return Err(e),
                Stage::Done => {
                    if !rest.is_empty() {
                        return Err(CodecError::TrailingData(Compression::Zstd));
                    }
                    step.done = true;
                    break false;
                }
                Stage::Header => {
                    if rest.is_empty() {
                        if self.hdr_len == 0 && self.frame_done && last {
                            self.stage = Stage::Done;
                            step.done = true;
                            break false;
                        }
                        // An empty stream, or one cut inside a header, is truncated.
                        break true;
                    }
                    let need = self.header_need();
                    let take = rest.len().min(need.saturating_sub(self.hdr_len));
                    let (src, tail) = rest.split_at(take);
                    let end = self.hdr_len.saturating_add(take);
                    self.hdr
                        .get_mut(self.hdr_len..end)
                        .ok_or(CodecError::ZstdCorrupt)?
                        .copy_from_slice(src);
                    self.hdr_len = end;
                    rest = tail;
                    self.check_magic()?;
                    if self.hdr_len == self.header_need() {
                        self.start_frame()?;
                    }
                }
                Stage::Skip { left } => {
                    if left == 0 {
                        self.frame_done = true;
                        self.stage = Stage::Header;
                        continue;
                    }
                    if rest.is_empty() {
                        break true;
                    }
                    let take = rest.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                    rest = rest.get(take..).unwrap_or_default();
                    self.stage = Stage::Skip {
                        left: left.saturating_sub(take as u32),
                    };
                }
                Stage::Block => {
                    // Fast path: the whole block is in the caller's input, decode it in place.
                    if self.block.is_empty() {
                        if let Some(&[b0, b1, b2]) = rest.get(..BLOCK_HEADER_LEN) {
                            let need = block_len([b0, b1, b2], self.has_checksum)?;
                            if let Some(whole) = rest.get(..need) {
                                self.decode_block(whole)?;
                                rest = rest.get(need..).unwrap_or_default();
                                continue;
                            }
                        }
                    }
                    if rest.is_empty() {
                        break true;
                    }
                    // Slow path: reassemble the block, header first.
                    if self.block.len() < BLOCK_HEADER_LEN {
                        let take = rest.len().min(BLOCK_HEADER_LEN - self.block.len());
                        let (src, tail) = rest.split_at(take);
                        self.block
                            .try_reserve(take)
                            .map_err(|_| CodecError::OutOfMemory)?;
                        self.block.extend_from_slice(src);
                        rest = tail;
                    }
                    let need = match *self.block.as_slice() {
                        [b0, b1, b2, ..] => block_len([b0, b1, b2], self.has_checksum)?,
                        _ => continue,
                    };
                    let take = rest.len().min(need.saturating_sub(self.block.len()));
                    let (src, tail) = rest.split_at(take);
                    // Reserve the whole block once, not per (possibly one-byte) piece.
                    self.block
                        .try_reserve_exact(need.saturating_sub(self.block.len()))
                        .map_err(|_| CodecError::OutOfMemory)?;
                    self.block.extend_from_slice(src);
                    rest = tail;
                    if self.block.len() == need {
                        let block = core::mem::take(&mut self.block);
                        let res = self.decode_block(&block);
                        // Keep the allocation for the next split block.
                        self.block = block;
                        self.block.clear();
                        res?;
                    }
                }
                Stage::FrameEnd => {
                    // All output of the frame has been handed out (checked above).
                    if self.content_size.is_some_and(|size| size != self.frame_out) {
                        return Err(CodecError::ZstdCorrupt);
                    }
                    if self.has_checksum {
                        let stored = self.frame.get_checksum_from_data();
                        if stored.is_none() || stored != self.frame.get_calculated_checksum() {
                            return Err(CodecError::ZstdCorrupt);
                        }
                    }
                    self.frame_done = true;
                    self.stage = Stage::Header;
                }
            }
        };
        step.consumed = input.len() - rest.len();
        if starved && last {
            return Err(CodecError::Truncated(Compression::Zstd));
        }
        Ok(())
    }

    /// How many header bytes the frame being collected needs, judged from those seen so far.
    fn header_need(&self) -> usize {
        let magic_len = FRAME_MAGIC.len();
        if self.hdr_len < magic_len {
            magic_len
        } else if self.hdr[0] != FRAME_MAGIC[0] {
            // Skippable: magic and a 4-byte payload length.
            magic_len + 4
        } else if self.hdr_len == magic_len {
            magic_len + 1
        } else {
            magic_len + 1 + descriptor_fields_len(self.hdr[magic_len])
        }
    }

    /// Rejects bytes that cannot begin a frame: a bad stream, or junk after the last frame.
    fn check_magic(&self) -> Result<(), CodecError> {
        let seen = self
            .hdr
            .get(..self.hdr_len.min(FRAME_MAGIC.len()))
            .unwrap_or_default();
        let is_frame = FRAME_MAGIC.starts_with(seen);
        let is_skippable = match seen.split_first() {
            Some((&m0, high)) => m0 & 0xf0 == 0x50 && SKIPPABLE_MAGIC_HIGH.starts_with(high),
            None => true,
        };
        if is_frame || is_skippable {
            Ok(())
        } else if self.frame_done {
            Err(CodecError::TrailingData(Compression::Zstd))
        } else {
            Err(CodecError::ZstdCorrupt)
        }
    }

    /// Acts on a complete frame header in `hdr[..hdr_len]`: checks the window against the
    /// limit before ruzstd allocates it, then starts the frame (or the skip).
    fn start_frame(&mut self) -> Result<(), CodecError> {
        let header = self
            .hdr
            .get(..self.hdr_len)
            .ok_or(CodecError::ZstdCorrupt)?;
        let (magic, fields) = header.split_at(header.len().min(FRAME_MAGIC.len()));
        if magic != FRAME_MAGIC {
            let len = match fields {
                &[a, b, c, d] => u32::from_le_bytes([a, b, c, d]),
                _ => return Err(CodecError::ZstdCorrupt),
            };
            self.stage = Stage::Skip { left: len };
            self.hdr_len = 0;
            return Ok(());
        }
        let info = parse_frame_header(fields)?;
        if info.window > u64::from(self.limit) {
            return Err(CodecError::ZstdWindowTooLarge {
                needed: info.window,
                limit: self.limit,
            });
        }
        self.frame.reset(header).map_err(|e| match e {
            FrameDecoderError::WindowSizeTooBig { requested, .. } => {
                CodecError::ZstdWindowTooLarge {
                    needed: requested,
                    limit: self.limit,
                }
            }
            _ => CodecError::ZstdCorrupt,
        })?;
        self.content_size = info.content_size;
        self.has_checksum = info.has_checksum;
        self.frame_out = 0;
        self.block.clear();
        self.hdr_len = 0;
        self.stage = Stage::Block;
        Ok(())
    }

    /// Decodes exactly one complete block (`whole` is header, body and, for the last block of
    /// a frame with a checksum, the checksum).
    fn decode_block(&mut self, whole: &[u8]) -> Result<(), CodecError> {
        let mut src = whole;
        let finished = self
            .frame
            .decode_blocks(&mut src, BlockDecodingStrategy::UptoBlocks(1))
            .map_err(|_| CodecError::ZstdCorrupt)?;
        if !src.is_empty() {
            return Err(CodecError::ZstdCorrupt);
        }
        if finished {
            self.stage = Stage::FrameEnd;
        }
        Ok(())
    }
}

/// What the decoder needs from a frame header.
struct FrameInfo {
    window: u64,
    content_size: Option<u64>,
    has_checksum: bool,
}

/// Bytes after the descriptor byte: window descriptor, dictionary id and content size.
fn descriptor_fields_len(fhd: u8) -> usize {
    let single_segment = fhd & 0x20 != 0;
    let window = if single_segment { 0 } else { 1 };
    let dict_id = [0, 1, 2, 4][usize::from(fhd & 0x03)];
    let content_size = match fhd >> 6 {
        0 if single_segment => 1,
        0 => 0,
        1 => 2,
        2 => 4,
        _ => 8,
    };
    window + dict_id + content_size
}

/// Parses a frame header (after the magic) far enough to know its window and checks.
fn parse_frame_header(fields: &[u8]) -> Result<FrameInfo, CodecError> {
    let (&fhd, mut rest) = fields.split_first().ok_or(CodecError::ZstdCorrupt)?;
    if fhd & 0x08 != 0 || rest.len() != descriptor_fields_len(fhd) {
        // Reserved bit set, or a header of the wrong size.
        return Err(CodecError::ZstdCorrupt);
    }
    let single_segment = fhd & 0x20 != 0;
    let mut window = 0u64;
    if !single_segment {
        let (&wd, tail) = rest.split_first().ok_or(CodecError::ZstdCorrupt)?;
        rest = tail;
        let base = 1u64 << (10 + u32::from(wd >> 3));
        window = base + base / 8 * u64::from(wd & 0x07);
    }
    let dict_len = [0, 1, 2, 4][usize::from(fhd & 0x03)];
    let fcs_bytes = rest.get(dict_len..).unwrap_or_default();
    let content_size = match *fcs_bytes {
        [] => None,
        [a] => Some(u64::from(a)),
        [a, b] => Some(u64::from(u16::from_le_bytes([a, b])) + 256),
        [a, b, c, d] => Some(u64::from(u32::from_le_bytes([a, b, c, d]))),
        [a, b, c, d, e, f, g, h] => Some(u64::from_le_bytes([a, b, c, d, e, f, g, h])),
        _ => return Err(CodecError::ZstdCorrupt),
    };
    if single_segment {
        window = content_size.ok_or(CodecError::ZstdCorrupt)?;
    }
    Ok(FrameInfo {
        window,
        content_size,
        has_checksum: fhd & 0x04 != 0,
    })
}

/// Total size of a block from its 3-byte header: header, body and the frame checksum when
/// this is the last block of a frame that has one.
fn block_len(header: [u8; 3], has_checksum: bool) -> Result<usize, CodecError> {
    let [b0, b1, b2] = header;
    let raw = u32::from_le_bytes([b0, b1, b2, 0]);
    let last = raw & 1 != 0;
    let size = (raw >> 3) as usize;
    if size > MAX_BLOCK_LEN {
        return Err(CodecError::ZstdCorrupt);
    }
    let body = match (raw >> 1) & 0x03 {
        0 | 2 => size, // Raw and Compressed: the body is `size` bytes.
        1 => 1,        // RLE: one byte repeated `size` times.
        _ => return Err(CodecError::ZstdCorrupt),
    };
    let checksum = if last && has_checksum {
        CHECKSUM_LEN
    } else {
        0
    };
    Ok(BLOCK_HEADER_LEN + body + checksum)
}

#[cfg(test)]
mod tests {
    use crate::test_rng::Chunks;
    extern crate std;

    use std::vec;
    use std::vec::Vec;

    use super::super::gzip::tests::{bench_input, cli, mixed, Rng};
    use super::super::WINDOW_SIZE;
    use super::*;

    const MIB: u32 = 1 << 20;

    /// Drives a decoder like a real caller: offers a growing prefix of the unread input,
    /// copies out every produced region, then scribbles over the window (it is plain output
    /// space for zstd) and checks the contract.
    fn drive_with(data: &[u8], chunks: Chunks, limit: u32) -> Result<Vec<u8>, CodecError> {
        let mut dec = ZstdDecoder::new(limit);
        let mut window = [0u8; WINDOW_SIZE];
        let mut piece = chunks.pieces();
        let (mut pos, mut end) = (0usize, 0usize);
        let mut out = Vec::new();
        loop {
            if end == pos {
                end = data.len().min(pos.saturating_add(piece()));
            }
            let last = end == data.len();
            let step = dec.decode(&data[pos..end], &mut window, last)?;
            assert!(step.consumed <= end - pos);
            out.extend_from_slice(&window[step.out_start..step.out_start + step.out_len]);
            window.fill(0xa5);
            pos += step.consumed;
            if step.done {
                assert_eq!(step.out_len, 0, "done comes in a step of its own");
                assert_eq!(pos, data.len());
                break;
            }
            if step.consumed == 0 && step.out_len == 0 {
                assert!(!last, "a call with last=true must make progress");
                end = data.len().min(end.saturating_add(piece()));
            }
        }
        let again = dec.decode(&[], &mut window, true)?;
        assert!(again.done && again.out_len == 0 && again.consumed == 0);
        Ok(out)
    }

    fn drive(data: &[u8], chunks: Chunks) -> Result<Vec<u8>, CodecError> {
        drive_with(data, chunks, 32 * MIB)
    }

    fn all_chunkings(data: &[u8], expected: &[u8]) {
        for chunks in [
            Chunks::Whole,
            Chunks::Bytes,
            Chunks::Random(7),
            Chunks::Random(4242),
        ] {
            let out = drive(data, chunks).unwrap_or_else(|e| panic!("{chunks:?}: {e}"));
            assert!(
                out == expected,
                "{chunks:?}: output differs ({} vs {} bytes)",
                out.len(),
                expected.len()
            );
        }
    }

    fn expect_err(data: &[u8], want: CodecError) {
        for chunks in [Chunks::Whole, Chunks::Bytes, Chunks::Random(99)] {
            assert_eq!(
                drive(data, chunks).map(|v| v.len()),
                Err(want),
                "{chunks:?}"
            );
        }
    }

    fn zstd(args: &[&str], data: &[u8]) -> Vec<u8> {
        let mut all = vec!["-q", "-c"];
        all.extend_from_slice(args);
        cli("zstd", &all, data)
    }

    /// `zstd` on a file, so the frame declares its content size (single segment when small).
    fn zstd_file(data: &[u8], args: &[&str]) -> Vec<u8> {
        let dir = std::env::temp_dir().join(std::format!(
            "mender-zst-test-{}-{}",
            std::process::id(),
            data.len()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("in.bin");
        std::fs::write(&path, data).unwrap();
        let mut all = args.to_vec();
        all.push(path.to_str().unwrap());
        let out = zstd(&all, &[]);
        std::fs::remove_dir_all(&dir).unwrap();
        out
    }

    fn inputs() -> Vec<Vec<u8>> {
        vec![Vec::new(), b"hello, mender\n".to_vec(), mixed(1 << 20, 42)]
    }

    /// Frame_Header_Descriptor of a stream's first frame.
    fn descriptor(zst: &[u8]) -> u8 {
        assert_eq!(zst[..4], FRAME_MAGIC);
        zst[4]
    }

    #[test]
    fn cli_levels_round_trip() {
        for data in inputs() {
            for args in [&["-1"][..], &["-19"], &["-3", "--long=24"]] {
                let zst = zstd(args, &data);
                assert_ne!(descriptor(&zst) & 0x04, 0, "checksum on by default");
                all_chunkings(&zst, &data);
            }
        }
    }

    #[test]
    fn with_and_without_checksum_and_content_size() {
        let data = mixed(700_000, 11);
        let plain = zstd(&["-3", "--no-check"], &data);
        assert_eq!(descriptor(&plain) & 0x04, 0);
        all_chunkings(&plain, &data);
        let sized = zstd_file(&data, &["-3"]);
        assert_ne!(
            descriptor(&sized) & 0x20,
            0,
            "single segment with its content size"
        );
        all_chunkings(&sized, &data);
        all_chunkings(&zstd_file(b"tiny", &["-19", "--no-check"]), b"tiny");
        all_chunkings(&zstd_file(b"", &["-1"]), b"");
    }

    fn skippable(magic_low: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0x50 | magic_low, 0x2a, 0x4d, 0x18];
        f.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn multiple_and_skippable_frames() {
        let a = mixed(400_000, 12);
        let b = b"second frame".to_vec();
        let mut zst = skippable(0, b"leading metadata");
        zst.extend(zstd(&["-1"], &a));
        zst.extend(skippable(0xf, &[]));
        zst.extend(zstd(&["-19", "--no-check"], &[]));
        zst.extend(zstd_file(&b, &["-5"]));
        zst.extend(skippable(7, &[9; 300_000]));
        let expected = [a, b].concat();
        all_chunkings(&zst, &expected);
        all_chunkings(&skippable(1, b"only a skippable frame"), b"");
    }

    #[test]
    fn handcrafted_blocks() {
        // Single segment, 1-byte content size 3: an empty raw block, then a last raw block.
        let mut f = vec![0x28, 0xb5, 0x2f, 0xfd, 0x20, 3, 0, 0, 0, (3 << 3) | 1, 0, 0];
        f.extend_from_slice(b"abc");
        all_chunkings(&f, b"abc");
        // An RLE block: 'z' repeated 5 times.
        let rle = [
            0x28,
            0xb5,
            0x2f,
            0xfd,
            0x20,
            5,
            (5 << 3) | 0b011,
            0,
            0,
            b'z',
        ];
        all_chunkings(&rle, b"zzzzz");
        // Declared content size larger than the data.
        let mut short = f.clone();
        short[5] = 4;
        expect_err(&short, CodecError::ZstdCorrupt);
        // Reserved block type.
        let mut bad = f.clone();
        bad[6] |= 0b110;
        expect_err(&bad, CodecError::ZstdCorrupt);
        // Reserved descriptor bit.
        let mut bad = f.clone();
        bad[4] |= 0x08;
        expect_err(&bad, CodecError::ZstdCorrupt);
        // A dictionary is required but none can be given.
        let dict = [
            0x28,
            0xb5,
            0x2f,
            0xfd,
            0x21,
            7,
            3,
            (3 << 3) | 1,
            0,
            0,
            b'a',
            b'b',
            b'c',
        ];
        expect_err(&dict, CodecError::ZstdCorrupt);
    }

    #[test]
    fn window_limit_is_enforced_before_decoding() {
        let data = mixed(1 << 20, 13);
        // From a pipe the size is unknown, so the frame keeps the 128 MiB window.
        let zst = zstd(&["-1", "--long=27"], &data);
        let want = CodecError::ZstdWindowTooLarge {
            needed: 1 << 27,
            limit: 8 * MIB,
        };
        for chunks in [Chunks::Whole, Chunks::Bytes] {
            assert_eq!(
                drive_with(&zst, chunks, 8 * MIB).map(|v| v.len()),
                Err(want)
            );
        }
        // The header alone is enough to refuse, before any block is looked at.
        let mut dec = ZstdDecoder::new(8 * MIB);
        let mut window = [0u8; WINDOW_SIZE];
        assert_eq!(dec.decode(&zst[..6], &mut window, false), Err(want));
        // The same stream is fine when the limit allows it.
        assert!(drive_with(&zst, Chunks::Random(5), 128 * MIB).unwrap() == data);
        // Single-segment frames declare their whole content size as the window.
        let small = &data[..700_000];
        let sized = zstd_file(small, &["-3"]);
        assert_ne!(descriptor(&sized) & 0x20, 0);
        let got = drive_with(&sized, Chunks::Whole, 699_999).map(|v| v.len());
        assert_eq!(
            got,
            Err(CodecError::ZstdWindowTooLarge {
                needed: 700_000,
                limit: 699_999
            })
        );
        assert!(drive_with(&sized, Chunks::Whole, 700_000).unwrap() == small);
    }

    #[test]
    fn corruption_is_reported() {
        let data = mixed(300_000, 14);
        let zst = zstd(&["-3"], &data);
        let n = zst.len();
        // The stored content checksum is the last 4 bytes.
        for at in [n - 4, n - 1] {
            let mut bad = zst.clone();
            bad[at] ^= 0x40;
            expect_err(&bad, CodecError::ZstdCorrupt);
        }
        // First block header: reserved block type.
        let first_block = 5 + descriptor_fields_len(zst[4]);
        let mut bad = zst.clone();
        bad[first_block] |= 0b110;
        expect_err(&bad, CodecError::ZstdCorrupt);
        // Bad magic.
        let mut bad = zst.clone();
        bad[0] = 0x29;
        expect_err(&bad, CodecError::ZstdCorrupt);
        expect_err(b"plain text", CodecError::ZstdCorrupt);
    }

    #[test]
    fn truncation_is_reported() {
        let zst = [zstd(&["-3"], &mixed(300_000, 15)), skippable(2, b"meta")].concat();
        for cut in [
            0,
            1,
            3,
            4,
            5,
            7,
            9,
            20,
            zst.len() / 2,
            zst.len() - 16,
            zst.len() - 13,
            zst.len() - 5,
        ] {
            expect_err(&zst[..cut], CodecError::Truncated(Compression::Zstd));
        }
        // A second frame that stops inside its magic.
        let mut two = zstd(&["-1"], b"x");
        two.extend_from_slice(&FRAME_MAGIC[..2]);
        expect_err(&two, CodecError::Truncated(Compression::Zstd));
    }

    #[test]
    fn trailing_data_is_reported() {
        let zst = zstd(&["-1"], b"payload");
        for tail in [&b"junk"[..], &[0], &[0x28, 0xb5, 0x00], &[0x5a, 0x2a, 0x4c]] {
            expect_err(
                &[zst.as_slice(), tail].concat(),
                CodecError::TrailingData(Compression::Zstd),
            );
        }
        let mut window = [0u8; WINDOW_SIZE];
        let mut dec = ZstdDecoder::new(MIB);
        let s = dec.decode(&zst, &mut window, true).unwrap();
        assert_eq!(
            (s.consumed, &window[..s.out_len], s.done),
            (zst.len(), &b"payload"[..], false)
        );
        assert!(dec.decode(&[], &mut window, true).unwrap().done);
        assert_eq!(
            dec.decode(b"z", &mut window, true),
            Err(CodecError::TrailingData(Compression::Zstd))
        );
        assert_eq!(
            dec.decode(&[], &mut window, true),
            Err(CodecError::TrailingData(Compression::Zstd))
        );
    }

    #[test]
    fn huge_ratio_streams_out_in_window_steps() {
        let zeros = vec![0u8; 48 << 20];
        let zst = zstd(&["-19"], &zeros);
        assert!(zst.len() < 10_000);
        let mut dec = ZstdDecoder::new(32 * MIB);
        let mut window = [0u8; WINDOW_SIZE];
        let (mut pos, mut total) = (0, 0);
        loop {
            let step = dec.decode(&zst[pos..], &mut window, true).unwrap();
            assert!(window[..step.out_len].iter().all(|&b| b == 0));
            pos += step.consumed;
            total += step.out_len;
            if step.done {
                break;
            }
        }
        assert_eq!(total, zeros.len());
    }

    /// Random corruption and truncation never panic, and never pass with wrong output.
    #[test]
    fn random_damage_never_passes_silently() {
        let data = mixed(60_000, 16);
        let streams = [zstd(&["-3"], &data), zstd_file(&data, &["-19"])];
        let mut rng = Rng(0xbad5eed);
        for round in 0..600u64 {
            let mut bad = streams[(round % 2) as usize].clone();
            for _ in 0..1 + rng.below(3) {
                let at = rng.below(bad.len());
                bad[at] ^= 1 << rng.below(8);
            }
            if round % 5 == 0 {
                bad.truncate(rng.below(bad.len()));
            }
            let chunks = if round % 3 == 0 {
                Chunks::Random(round)
            } else {
                Chunks::Whole
            };
            if let Ok(out) = drive(&bad, chunks) {
                assert!(
                    out == data,
                    "round {round}: damaged stream decoded to different data"
                );
            }
        }
    }

    /// Throughput on the same 256 MiB input as the gzip measurement, best of 3, next to
    /// ruzstd's own `StreamingDecoder` as the reference. Run:
    /// cargo test --release -p mender-core --features alloc codec::zstd -- --ignored --nocapture
    #[test]
    #[ignore]
    fn throughput() {
        let data = bench_input();
        let mib = |secs: f64| data.len() as f64 / secs / 1048576.0;
        for level in ["-3", "-11"] {
            let zst = zstd(&[level, "-T0"], &data);
            let mut window = [0u8; WINDOW_SIZE];
            let (mut ours, mut reference) = (f64::MAX, f64::MAX);
            for _ in 0..3 {
                let mut dec = ZstdDecoder::new(32 * MIB);
                let (mut pos, mut total) = (0usize, 0usize);
                let t = std::time::Instant::now();
                loop {
                    let end = zst.len().min(pos + (1 << 20));
                    let step = dec
                        .decode(&zst[pos..end], &mut window, end == zst.len())
                        .unwrap();
                    pos += step.consumed;
                    total += step.out_len;
                    if step.done {
                        break;
                    }
                }
                ours = ours.min(t.elapsed().as_secs_f64());
                assert_eq!(total, data.len());

                let t = std::time::Instant::now();
                let mut src: &[u8] = &zst;
                let mut sd = ruzstd::decoding::StreamingDecoder::new(&mut src).unwrap();
                let mut total = 0usize;
                loop {
                    match sd.read(&mut window[..]).unwrap() {
                        0 => break,
                        n => total += n,
                    }
                }
                reference = reference.min(t.elapsed().as_secs_f64());
                assert_eq!(total, data.len());
            }
            std::println!(
                "zstd {level}: {} -> {} bytes: ZstdDecoder {:.0} MiB/s, ruzstd StreamingDecoder {:.0} MiB/s",
                data.len(),
                zst.len(),
                mib(ours),
                mib(reference)
            );
        }
    }
}
