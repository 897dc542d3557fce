//! gzip (RFC 1952) push decoder on top of a raw inflate engine: miniz_oxide's inflate core
//! (fast, about 10.5 KB of state) or [`SmallInflate`] (about 1.1 KB), chosen per call by the
//! kind of workspace ([`WorkspaceMut`]); the gzip framing is the same code for both.
//!
//! The deflate history lives in the caller's 32 KiB [`Window`], used as the engine's wrapping
//! output ring, so this decoder needs no heap: only the inflate state (in the workspace) and a
//! few counters. The member header is parsed here, resumably down to single bytes, and the CRC-32
//! and ISIZE trailer is checked against the produced bytes. Concatenated members are accepted,
//! as Go's `gzip.Reader` (multistream by default) does.

use crc::{Crc, Digest, CRC_32_ISO_HDLC};
#[cfg(feature = "fast-inflate")]
use miniz_oxide::inflate::core::inflate_flags::TINFL_FLAG_HAS_MORE_INPUT;
#[cfg(feature = "fast-inflate")]
use miniz_oxide::inflate::core::{decompress, DecompressorOxide};
#[cfg(feature = "fast-inflate")]
use miniz_oxide::inflate::TINFLStatus;

use super::inflate::{InflateStatus, SmallInflate};
use super::{CodecError, Compression, Step, Window, WorkspaceMut, WINDOW_SIZE};

/// The inflate engine of one call, borrowed from the workspace: miniz_oxide (fast, big
/// tables) or [`SmallInflate`] (small state). Both write into the window ring the same way.
pub(super) enum Engine<'a> {
    #[cfg(feature = "fast-inflate")]
    Fast(&'a mut DecompressorOxide),
    Small(&'a mut SmallInflate),
}

impl Engine<'_> {
    fn init(&mut self) {
        match self {
            #[cfg(feature = "fast-inflate")]
            Engine::Fast(state) => state.init(),
            Engine::Small(state) => state.init(),
        }
    }

    /// Inflates into `window[out_pos..]`: (status, consumed, produced).
    fn decompress(
        &mut self,
        input: &[u8],
        window: &mut Window,
        out_pos: usize,
    ) -> (InflateStatus, usize, usize) {
        match self {
            #[cfg(feature = "fast-inflate")]
            Engine::Fast(state) => {
                let (status, used, produced) =
                    decompress(state, input, window, out_pos, TINFL_FLAG_HAS_MORE_INPUT);
                let status = match status {
                    TINFLStatus::Done => InflateStatus::Done,
                    TINFLStatus::NeedsMoreInput => InflateStatus::NeedsMoreInput,
                    TINFLStatus::HasMoreOutput => InflateStatus::HasMoreOutput,
                    _ => InflateStatus::Failed,
                };
                (status, used, produced)
            }
            Engine::Small(state) => state.decompress(input, window, out_pos),
        }
    }
}

/// CRC-32 of the gzip trailer, which runs over every output byte (gigabytes per update):
/// slicing-by-16 (16 KiB of tables, several GB/s) on hosted targets; bitwise, without a table,
/// on bare-metal ones, where flash is counted first, NOR programming is slower than a bitwise
/// CRC anyway, and the flash boot environment already links the same bitwise code (a 1 KiB
/// table there measured 1.0 KB more flash).
#[cfg(not(target_os = "none"))]
type CrcTable = crc::Table<16>;
#[cfg(target_os = "none")]
type CrcTable = crc::NoTable;

static CRC32: Crc<u32, CrcTable> = Crc::<u32, CrcTable>::new(&CRC_32_ISO_HDLC);

/// Header flag bits (RFC 1952 §2.3.1). FTEXT is only a hint and needs no handling.
const FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;
const FRESERVED: u8 = 0xe0;

/// Size of the fixed part of a member header: magic, CM, FLG, MTIME, XFL, OS.
const FIXED_HEADER_LEN: u8 = 10;

/// Where the decoder is inside the stream. Header stages follow RFC 1952 field order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// The fixed 10-byte header; `at` bytes of it seen.
    Fixed { at: u8 },
    /// The 2-byte XLEN of FEXTRA.
    ExtraLen { at: u8, len: u16 },
    /// Skipping the FEXTRA payload.
    ExtraData { left: u16 },
    /// Skipping the zero-terminated FNAME (any length, never stored).
    Name,
    /// Skipping the zero-terminated FCOMMENT (any length, never stored).
    Comment,
    /// The 2-byte FHCRC: low half of the CRC-32 of the header bytes before it.
    HeaderCrc { at: u8, value: u16 },
    /// Inside the deflate data.
    Body,
    /// The 8-byte CRC-32 + ISIZE trailer.
    Trailer { at: u8, buf: [u8; 8] },
    /// After a complete member: the stream may end here or another member may follow.
    Between,
    /// `done` has been reported.
    Done,
    /// A previous call failed; the error sticks.
    Failed(CodecError),
}

/// Push decoder for a (possibly multi-member) gzip stream. No heap; the inflate state is in
/// the workspace.
pub struct GzipDecoder {
    /// The inflate state in the workspace must be reset before the next deflate body.
    reset_inflate: bool,
    stage: Stage,
    /// FLG of the member whose header is being parsed.
    flags: u8,
    /// Next write position in the window ring; the deflate history ends just before it.
    out_pos: usize,
    /// CRC-32 of the header bytes (for FHCRC) and then of the member's output.
    crc: Digest<'static, u32, CrcTable>,
    /// Member output size modulo 2^32, as ISIZE stores it.
    size: u32,
    /// At least one member has been checked completely.
    member_done: bool,
}

impl Default for GzipDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl GzipDecoder {
    pub fn new() -> Self {
        GzipDecoder {
            reset_inflate: true,
            stage: Stage::Fixed { at: 0 },
            flags: 0,
            out_pos: 0,
            crc: CRC32.digest(),
            size: 0,
            member_done: false,
        }
    }

    /// Decodes from `input` into the workspace's window; see [`super::Decoder::decode`] for
    /// the contract. The workspace's kind picks the inflate engine; a stream must use the same
    /// workspace throughout.
    ///
    /// Produced bytes are `window[out_start..out_start + out_len]`, contiguous; the rest of
    /// the window is deflate history and must not be modified by the caller. `done` is
    /// reported in a step of its own (with `out_len == 0`) once `last` input has been seen and
    /// the final member's trailer checked. After an error every further call fails the same way.
    pub fn decode(
        &mut self,
        input: &[u8],
        mut ws: WorkspaceMut<'_>,
        last: bool,
    ) -> Result<Step, CodecError> {
        let mut step = Step {
            out_start: self.out_pos,
            ..Step::default()
        };
        let (window, mut engine) = ws.split();
        match self.run(input, window, &mut engine, last, &mut step) {
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
        inflate: &mut Engine<'_>,
        last: bool,
        step: &mut Step,
    ) -> Result<(), CodecError> {
        let mut rest = input;
        // Set when the loop stops because every input byte has been used and more are needed.
        let starved = loop {
            match self.stage {
                Stage::Failed(e) => return Err(e),
                Stage::Done => {
                    if !rest.is_empty() {
                        return Err(CodecError::TrailingData(Compression::Gzip));
                    }
                    step.done = true;
                    break false;
                }
                Stage::Between => {
                    if rest.is_empty() {
                        if last && step.out_len == 0 {
                            self.stage = Stage::Done;
                            step.done = true;
                        }
                        break false;
                    }
                    self.stage = Stage::Fixed { at: 0 };
                }
                Stage::Fixed { at } => {
                    let Some((&b, tail)) = rest.split_first() else {
                        break true;
                    };
                    rest = tail;
                    self.fixed_header_byte(at, b)?;
                }
                Stage::ExtraLen { at, len } => {
                    let Some((&b, tail)) = rest.split_first() else {
                        break true;
                    };
                    rest = tail;
                    self.crc.update(&[b]);
                    let len = len | (u16::from(b) << (8 * at));
                    self.stage = if at == 0 {
                        Stage::ExtraLen { at: 1, len }
                    } else {
                        Stage::ExtraData { left: len }
                    };
                }
                Stage::ExtraData { left } => {
                    if left == 0 {
                        self.next_header_field(FEXTRA);
                        continue;
                    }
                    if rest.is_empty() {
                        break true;
                    }
                    let (skip, tail) = rest.split_at(rest.len().min(usize::from(left)));
                    self.crc.update(skip);
                    rest = tail;
                    // `skip.len() <= left`, so this cannot wrap; saturate anyway.
                    self.stage = Stage::ExtraData {
                        left: left.saturating_sub(skip.len() as u16),
                    };
                }
                Stage::Name | Stage::Comment => {
                    if rest.is_empty() {
                        break true;
                    }
                    let field = if self.stage == Stage::Name {
                        FNAME
                    } else {
                        FCOMMENT
                    };
                    match rest.iter().position(|&b| b == 0) {
                        Some(nul) => {
                            let (text, tail) = rest.split_at(nul.saturating_add(1));
                            self.crc.update(text);
                            rest = tail;
                            self.next_header_field(field);
                        }
                        None => {
                            self.crc.update(rest);
                            rest = &[];
                        }
                    }
                }
                Stage::HeaderCrc { at, value } => {
                    let Some((&b, tail)) = rest.split_first() else {
                        break true;
                    };
                    rest = tail;
                    let value = value | (u16::from(b) << (8 * at));
                    if at == 0 {
                        self.stage = Stage::HeaderCrc { at: 1, value };
                    } else {
                        if self.crc.clone().finalize() as u16 != value {
                            return Err(CodecError::GzipHeader);
                        }
                        self.next_header_field(FHCRC);
                    }
                }
                Stage::Body => {
                    // One contiguous output region per call: stop once something was produced.
                    if step.out_len != 0 {
                        break false;
                    }
                    if self.reset_inflate {
                        inflate.init();
                        self.reset_inflate = false;
                    }
                    let start = self.out_pos;
                    let (status, used, produced) = inflate.decompress(rest, window, start);
                    rest = rest.get(used..).ok_or(CodecError::Deflate)?;
                    if produced != 0 {
                        let end = start.checked_add(produced).ok_or(CodecError::Deflate)?;
                        let out = window.get(start..end).ok_or(CodecError::Deflate)?;
                        self.crc.update(out);
                        self.size = self.size.wrapping_add(produced as u32);
                        step.out_start = start;
                        step.out_len = produced;
                        self.out_pos = end & (WINDOW_SIZE - 1);
                    }
                    match status {
                        InflateStatus::Done => {
                            self.stage = Stage::Trailer { at: 0, buf: [0; 8] };
                            // Hand the last output out before the trailer check can fail.
                            if produced != 0 {
                                break false;
                            }
                        }
                        InflateStatus::NeedsMoreInput if rest.is_empty() => break true,
                        InflateStatus::NeedsMoreInput | InflateStatus::HasMoreOutput => {
                            // Guards against a caller loop that can never advance.
                            if used == 0 && produced == 0 {
                                return Err(CodecError::Deflate);
                            }
                            if produced != 0 {
                                break false;
                            }
                        }
                        InflateStatus::Failed if produced != 0 => {
                            // Hand out what was decoded before the corruption; the error
                            // follows on the next call (errors must not depend on chunking).
                            self.stage = Stage::Failed(CodecError::Deflate);
                            break false;
                        }
                        InflateStatus::Failed => return Err(CodecError::Deflate),
                    }
                }
                Stage::Trailer { at, mut buf } => {
                    if rest.is_empty() {
                        break true;
                    }
                    let have = usize::from(at);
                    let take = rest.len().min(buf.len().saturating_sub(have));
                    let (src, tail) = rest.split_at(take);
                    rest = tail;
                    for (dst, &b) in buf.iter_mut().skip(have).zip(src) {
                        *dst = b;
                    }
                    let at = at.saturating_add(take as u8);
                    if usize::from(at) < buf.len() {
                        self.stage = Stage::Trailer { at, buf };
                        continue;
                    }
                    let [c0, c1, c2, c3, s0, s1, s2, s3] = buf;
                    if self.crc.clone().finalize() != u32::from_le_bytes([c0, c1, c2, c3]) {
                        return Err(CodecError::GzipCrc);
                    }
                    if self.size != u32::from_le_bytes([s0, s1, s2, s3]) {
                        return Err(CodecError::GzipSize);
                    }
                    self.member_done = true;
                    self.stage = Stage::Between;
                }
            }
        };
        step.consumed = input.len() - rest.len();
        // Output produced by this call is handed out first, so the consumer sees every decoded
        // byte before the truncation (the verdict must not depend on input chunking).
        if starved && last && step.out_len == 0 {
            return Err(CodecError::Truncated(Compression::Gzip));
        }
        Ok(())
    }

    /// Checks byte `at` of the fixed header. A stream that does not start with the gzip magic
    /// is a bad header; after a complete member it is trailing data.
    fn fixed_header_byte(&mut self, at: u8, b: u8) -> Result<(), CodecError> {
        if at == 0 {
            self.crc = CRC32.digest();
        }
        let not_gzip = if self.member_done {
            CodecError::TrailingData(Compression::Gzip)
        } else {
            CodecError::GzipHeader
        };
        match at {
            0 if b != 0x1f => return Err(not_gzip),
            1 if b != 0x8b => return Err(not_gzip),
            // CM: 8 (deflate) is the only method defined.
            2 if b != 8 => return Err(CodecError::GzipHeader),
            3 if b & FRESERVED != 0 => return Err(CodecError::GzipHeader),
            3 => self.flags = b,
            _ => {}
        }
        self.crc.update(&[b]);
        let at = at.saturating_add(1);
        if at < FIXED_HEADER_LEN {
            self.stage = Stage::Fixed { at };
        } else {
            self.next_header_field(0);
        }
        Ok(())
    }

    /// Moves to the first optional header field after `done` (a flag bit, or 0 after the fixed
    /// part) that the member has, or into the body.
    fn next_header_field(&mut self, done: u8) {
        let flags = self.flags;
        // RFC 1952 field order; `done` is the flag bit of the field just finished.
        let order = [FEXTRA, FNAME, FCOMMENT, FHCRC];
        let from = order.iter().position(|&f| f == done).map_or(0, |i| i + 1);
        let next = order.iter().skip(from).copied().find(|&f| flags & f != 0);
        self.stage = match next {
            Some(FEXTRA) => Stage::ExtraLen { at: 0, len: 0 },
            Some(FNAME) => Stage::Name,
            Some(FCOMMENT) => Stage::Comment,
            Some(_) => Stage::HeaderCrc { at: 0, value: 0 },
            None => {
                self.reset_inflate = true;
                self.crc = CRC32.digest();
                self.size = 0;
                Stage::Body
            }
        };
    }
}

#[cfg(test)]
pub(super) mod tests {
    use crate::test_rng::Chunks;
    extern crate std;

    #[cfg(feature = "fast-inflate")]
    use super::super::Workspace;
    use miniz_oxide::inflate::core::inflate_flags::TINFL_FLAG_HAS_MORE_INPUT;
    use miniz_oxide::inflate::core::{decompress, DecompressorOxide};
    use miniz_oxide::inflate::TINFLStatus;
    use std::format;
    use std::io::Write;
    use std::process::{Command, Stdio};
    use std::vec;
    use std::vec::Vec;

    use super::*;
    use crate::codec::SmallWorkspace;

    pub(in crate::codec) use crate::test_rng::Rng;

    /// Bare miniz_oxide inflate of a raw deflate `body` through the window ring, 1 MiB of
    /// input per call: the baseline the throughput benchmarks compare against. Returns the
    /// decoded length.
    pub(in crate::codec) fn miniz_inflate(body: &[u8], window: &mut Window) -> usize {
        let mut state = std::boxed::Box::new(DecompressorOxide::new());
        let (mut pos, mut out_pos, mut total) = (0usize, 0usize, 0usize);
        loop {
            let end = body.len().min(pos + (1 << 20));
            let (status, used, produced) = decompress(
                &mut state,
                &body[pos..end],
                &mut window[..],
                out_pos,
                TINFL_FLAG_HAS_MORE_INPUT,
            );
            pos += used;
            total += produced;
            out_pos = (out_pos + produced) & (WINDOW_SIZE - 1);
            if status == TINFLStatus::Done {
                return total;
            }
            assert!(
                used > 0 || produced > 0,
                "miniz made no progress: {status:?}"
            );
        }
    }

    /// `len` bytes mixing incompressible runs, text, and copies of earlier data from 1 KiB to
    /// 512 KiB back, so matches reach the full 32 KiB distance across the ring's wrap point.
    pub(in crate::codec) fn mixed(len: usize, seed: u64) -> Vec<u8> {
        const WORDS: [&str; 12] = [
            "mender ",
            "artifact ",
            "rootfs ",
            "update ",
            "device_type ",
            "payload\n",
            "header ",
            "signature ",
            "zstd ",
            "gzip ",
            "the ",
            "0123456789 ",
        ];
        let mut rng = Rng(seed);
        let mut out = Vec::with_capacity(len);
        while out.len() < len {
            match rng.below(4) {
                0 => (0..rng.below(4096) + 1).for_each(|_| out.push(rng.next() as u8)),
                1 => (0..rng.below(200) + 1)
                    .for_each(|_| out.extend_from_slice(WORDS[rng.below(WORDS.len())].as_bytes())),
                _ if out.len() > 1024 => {
                    let back =
                        [1024, 30_000, 32_768, 100_000, 512 * 1024][rng.below(5)].min(out.len());
                    let start = out.len() - back;
                    let n = (rng.below(8192) + 16).min(back);
                    out.extend_from_within(start..start + n);
                }
                _ => out.extend_from_slice(b"seed text "),
            }
        }
        out.truncate(len);
        out
    }

    /// Runs a CLI with `input` on stdin and returns its stdout.
    pub(in crate::codec) fn cli(program: &str, args: &[&str], input: &[u8]) -> Vec<u8> {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{program} must be installed for these tests: {e}"));
        let mut stdin = child.stdin.take().unwrap();
        let input = input.to_vec();
        let writer = std::thread::spawn(move || stdin.write_all(&input).unwrap());
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap();
        assert!(out.status.success(), "{program} {args:?} failed");
        out.stdout
    }

    /// `gzip` on a named file, so the header carries FNAME.
    fn gzip_file(name: &str, data: &[u8], level: &str) -> Vec<u8> {
        let dir =
            std::env::temp_dir().join(format!("mender-gz-test-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, data).unwrap();
        let out = cli("gzip", &[level, "-N", "-c", path.to_str().unwrap()], &[]);
        std::fs::remove_dir_all(&dir).unwrap();
        out
    }

    /// The inflate engines the build has; every decoder test runs with each.
    #[cfg(feature = "fast-inflate")]
    const ENGINES: [Kind; 2] = [Kind::Fast, Kind::Small];
    #[cfg(not(feature = "fast-inflate"))]
    const ENGINES: [Kind; 1] = [Kind::Small];

    #[derive(Clone, Copy, Debug)]
    enum Kind {
        #[cfg(feature = "fast-inflate")]
        Fast,
        Small,
    }

    /// An owned workspace of either kind (boxed: they are too big for a test thread's stack).
    enum TestWs {
        #[cfg(feature = "fast-inflate")]
        Fast(std::boxed::Box<Workspace>),
        Small(std::boxed::Box<SmallWorkspace>),
    }

    impl TestWs {
        fn new(kind: Kind) -> Self {
            match kind {
                #[cfg(feature = "fast-inflate")]
                Kind::Fast => TestWs::Fast(std::boxed::Box::default()),
                Kind::Small => TestWs::Small(std::boxed::Box::default()),
            }
        }

        fn get(&mut self) -> WorkspaceMut<'_> {
            match self {
                #[cfg(feature = "fast-inflate")]
                TestWs::Fast(ws) => WorkspaceMut::from(&mut **ws),
                TestWs::Small(ws) => WorkspaceMut::from(&mut **ws),
            }
        }
    }

    /// Drives a decoder like a real caller: offers a growing prefix of the unread input,
    /// collects every produced region before the next call, and checks the contract.
    fn drive(kind: Kind, data: &[u8], chunks: Chunks) -> Result<Vec<u8>, CodecError> {
        let mut dec = GzipDecoder::new();
        let mut ws = TestWs::new(kind);
        let mut ws = ws.get();
        let mut piece = chunks.pieces();
        let (mut pos, mut end) = (0usize, 0usize);
        let mut out = Vec::new();
        loop {
            if end == pos {
                end = data.len().min(pos.saturating_add(piece()));
            }
            let last = end == data.len();
            let step = dec.decode(&data[pos..end], ws.reborrow(), last)?;
            assert!(step.consumed <= end - pos);
            assert!(step.out_start + step.out_len <= WINDOW_SIZE);
            out.extend_from_slice(&ws.window_ref()[step.out_start..step.out_start + step.out_len]);
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
        let again = dec.decode(&[], ws.reborrow(), true)?;
        assert!(again.done && again.out_len == 0 && again.consumed == 0);
        Ok(out)
    }

    fn all_chunkings(data: &[u8], expected: &[u8]) {
        for kind in ENGINES {
            for chunks in [
                Chunks::Whole,
                Chunks::Bytes,
                Chunks::Random(7),
                Chunks::Random(12345),
            ] {
                let out = drive(kind, data, chunks)
                    .unwrap_or_else(|e| panic!("{kind:?} {chunks:?}: {e}"));
                assert!(
                    out == expected,
                    "{kind:?} {chunks:?}: output differs ({} vs {} bytes)",
                    out.len(),
                    expected.len()
                );
            }
        }
    }

    fn inputs() -> Vec<Vec<u8>> {
        vec![Vec::new(), b"hello, mender\n".to_vec(), mixed(1 << 20, 42)]
    }

    #[test]
    fn cli_levels_round_trip() {
        for data in inputs() {
            for level in ["-1", "-9"] {
                all_chunkings(&cli("gzip", &[level, "-c"], &data), &data);
            }
        }
    }

    #[test]
    fn named_member_round_trips() {
        let data = mixed(200_000, 3);
        let gz = gzip_file("a-rather-long-file-name.tar", &data, "-6");
        assert_ne!(gz[3] & FNAME, 0, "gzip -N on a file stores the name");
        all_chunkings(&gz, &data);
    }

    #[test]
    fn concatenated_members() {
        let a = mixed(300_000, 5);
        let b = b"second member".to_vec();
        let mut gz = cli("gzip", &["-1", "-c"], &a);
        gz.extend(cli("gzip", &["-9", "-c"], &[]));
        gz.extend(gzip_file("b.txt", &b, "-9"));
        let mut expected = a.clone();
        expected.extend_from_slice(&b);
        all_chunkings(&gz, &expected);
    }

    /// Splits a `gzip -n` stream into its deflate body and its 8-byte trailer.
    fn body_and_trailer(gz: &[u8]) -> (&[u8], &[u8]) {
        assert_eq!(gz[3], 0, "no optional fields expected");
        gz[10..].split_at(gz.len() - 18)
    }

    #[test]
    fn all_optional_header_fields() {
        let data = mixed(100_000, 9);
        let gz = cli("gzip", &["-n", "-c"], &data);
        let (body, trailer) = body_and_trailer(&gz);
        let mut member = vec![
            0x1f,
            0x8b,
            8,
            0x01 | FHCRC | FEXTRA | FNAME | FCOMMENT,
            1,
            2,
            3,
            4,
            0,
            3,
        ];
        member.extend_from_slice(&[5, 1]); // XLEN = 261
        member.extend((0..261).map(|i| i as u8));
        member.extend(std::iter::repeat_n(b'n', 5000));
        member.push(0);
        member.extend_from_slice(b"a comment\0");
        let hcrc = CRC32.checksum(&member) as u16;
        member.extend_from_slice(&hcrc.to_le_bytes());
        member.extend_from_slice(body);
        member.extend_from_slice(trailer);
        all_chunkings(&member, &data);

        let hcrc_at = member.len() - body.len() - trailer.len() - 2;
        member[hcrc_at] ^= 1;
        for kind in ENGINES {
            assert_eq!(
                drive(kind, &member, Chunks::Bytes).map(|v| v.len()),
                Err(CodecError::GzipHeader)
            );
        }
    }

    fn expect_err(data: &[u8], want: CodecError) {
        for kind in ENGINES {
            for chunks in [Chunks::Whole, Chunks::Bytes, Chunks::Random(99)] {
                assert_eq!(
                    drive(kind, data, chunks).map(|v| v.len()),
                    Err(want),
                    "{kind:?} {chunks:?}"
                );
            }
        }
    }

    #[test]
    fn corrupt_deflate_is_reported() {
        let gz = cli("gzip", &["-n", "-c"], &mixed(50_000, 1));
        let mut bad = gz.clone();
        bad[10] |= 0b110; // BTYPE 3 is reserved
        expect_err(&bad, CodecError::Deflate);
        // Any flipped body byte must fail one check or another, never pass silently.
        for at in [11, 100, 5000, gz.len() / 2, gz.len() - 9] {
            let mut bad = gz.clone();
            bad[at] ^= 0x10;
            for kind in ENGINES {
                assert!(
                    drive(kind, &bad, Chunks::Whole).is_err(),
                    "{kind:?}: flip at {at} went unnoticed"
                );
            }
        }
    }

    #[test]
    fn wrong_crc_and_size() {
        let gz = cli("gzip", &["-c"], &mixed(70_000, 2));
        let n = gz.len();
        let mut bad = gz.clone();
        bad[n - 8] ^= 1;
        expect_err(&bad, CodecError::GzipCrc);
        let mut bad = gz.clone();
        bad[n - 1] ^= 1;
        expect_err(&bad, CodecError::GzipSize);
    }

    #[test]
    fn truncation_is_reported() {
        let gz = gzip_file("t.bin", &mixed(100_000, 4), "-6");
        for cut in [
            0,
            1,
            2,
            9,
            10,
            12,
            200,
            gz.len() / 2,
            gz.len() - 8,
            gz.len() - 3,
            gz.len() - 1,
        ] {
            expect_err(&gz[..cut], CodecError::Truncated(Compression::Gzip));
        }
        // A second member that stops right after its magic is truncated too.
        let mut two = gz.clone();
        two.extend_from_slice(&[0x1f, 0x8b]);
        expect_err(&two, CodecError::Truncated(Compression::Gzip));
    }

    #[test]
    fn trailing_data_and_bad_headers() {
        let gz = cli("gzip", &["-c"], b"payload");
        let with = |tail: &[u8]| [gz.as_slice(), tail].concat();
        expect_err(&with(b"junk"), CodecError::TrailingData(Compression::Gzip));
        expect_err(&with(&[0]), CodecError::TrailingData(Compression::Gzip));
        expect_err(
            &with(&[0x1f, 0x00]),
            CodecError::TrailingData(Compression::Gzip),
        );
        expect_err(&with(&[0x1f, 0x8b, 9]), CodecError::GzipHeader);

        let mut bad = gz.clone();
        bad[1] = 0x8c;
        expect_err(&bad, CodecError::GzipHeader);
        let mut bad = gz.clone();
        bad[2] = 7;
        expect_err(&bad, CodecError::GzipHeader);
        let mut bad = gz.clone();
        bad[3] |= 0x20;
        expect_err(&bad, CodecError::GzipHeader);
        expect_err(b"plain text, not gzip", CodecError::GzipHeader);
    }

    #[test]
    fn errors_stick_and_done_rejects_more_input() {
        let gz = cli("gzip", &["-c"], b"x");
        for kind in ENGINES {
            let mut ws = TestWs::new(kind);
            let mut ws = ws.get();
            let mut dec = GzipDecoder::new();
            // The output comes first; the trailer (8 bytes) is checked by the next call.
            let s = dec.decode(&gz, ws.reborrow(), true).unwrap();
            assert_eq!((s.consumed, s.out_len, s.done), (gz.len() - 8, 1, false));
            let s = dec
                .decode(&gz[gz.len() - 8..], ws.reborrow(), true)
                .unwrap();
            assert_eq!((s.consumed, s.out_len), (8, 0));
            assert!(dec.decode(&[], ws.reborrow(), true).unwrap().done);
            assert_eq!(
                dec.decode(b"z", ws.reborrow(), true),
                Err(CodecError::TrailingData(Compression::Gzip))
            );

            let mut dec = GzipDecoder::new();
            assert_eq!(
                dec.decode(b"\x1f\x8b\x07", ws.reborrow(), false),
                Err(CodecError::GzipHeader)
            );
            assert_eq!(
                dec.decode(&gz, ws.reborrow(), true),
                Err(CodecError::GzipHeader)
            );
        }
    }

    /// Random corruption and truncation never panic, and never pass with wrong output.
    #[test]
    fn random_damage_never_passes_silently() {
        let data = mixed(60_000, 8);
        let gz = cli("gzip", &["-c"], &data);
        let mut rng = Rng(0x5eed);
        for round in 0..400 {
            let mut bad = gz.clone();
            for _ in 0..1 + rng.below(3) {
                let at = rng.below(bad.len());
                bad[at] ^= 1 << rng.below(8);
            }
            if round % 4 == 0 {
                bad.truncate(rng.below(bad.len()));
            }
            let chunks = if round % 2 == 0 {
                Chunks::Whole
            } else {
                Chunks::Random(round)
            };
            let results = ENGINES.map(|kind| drive(kind, &bad, chunks));
            for out in results.iter().flatten() {
                assert!(
                    *out == data,
                    "round {round}: damaged stream decoded to different data"
                );
            }
            // All engines pass or fail together. The error kind may differ: miniz_oxide
            // accepts a few streams zlib rejects (e.g. distances beyond the start of the
            // output), which then fail the CRC check instead.
            assert!(
                results.iter().all(|r| r.is_ok() == results[0].is_ok()),
                "round {round}: the engines disagree"
            );
        }
    }

    /// Throughput on 256 MiB (192 MiB of /usr as tar when available, else synthetic, plus 64
    /// MiB random), best of 3, next to bare miniz_oxide inflate (no header, no CRC) and CRC-32
    /// alone as references. Run:
    /// cargo test --release -p mender-core codec::gzip -- --ignored --nocapture
    #[cfg(feature = "fast-inflate")]
    #[test]
    #[ignore]
    fn throughput() {
        let data = bench_input();
        let gz = cli("gzip", &["-6", "-n", "-c"], &data);
        let (body, _) = body_and_trailer(&gz);
        let mib = |secs: f64| data.len() as f64 / secs / 1048576.0;
        let mut ws = std::boxed::Box::new(Workspace::new());
        let (mut ours, mut small, mut inflate, mut crc) = (f64::MAX, f64::MAX, f64::MAX, f64::MAX);
        for _ in 0..3 {
            for (kind, best) in [(Kind::Fast, &mut ours), (Kind::Small, &mut small)] {
                let mut test_ws = TestWs::new(kind);
                let mut test_ws = test_ws.get();
                let mut dec = GzipDecoder::new();
                let (mut pos, mut total) = (0usize, 0usize);
                let t = std::time::Instant::now();
                loop {
                    let end = gz.len().min(pos + (1 << 20));
                    let step = dec
                        .decode(&gz[pos..end], test_ws.reborrow(), end == gz.len())
                        .unwrap();
                    pos += step.consumed;
                    total += step.out_len;
                    if step.done {
                        break;
                    }
                }
                *best = best.min(t.elapsed().as_secs_f64());
                assert_eq!(total, data.len());
            }

            let t = std::time::Instant::now();
            let total = miniz_inflate(body, &mut ws.window);
            inflate = inflate.min(t.elapsed().as_secs_f64());
            assert_eq!(total, data.len());

            let t = std::time::Instant::now();
            std::hint::black_box(CRC32.checksum(&data));
            crc = crc.min(t.elapsed().as_secs_f64());
        }
        std::println!(
            "gzip -6: {} -> {} bytes: GzipDecoder {:.0} MiB/s (small engine {:.0} MiB/s), bare inflate {:.0} MiB/s, CRC-32 alone {:.0} MiB/s",
            data.len(),
            gz.len(),
            mib(ours),
            mib(small),
            mib(inflate),
            mib(crc)
        );
    }

    pub(in crate::codec) fn bench_input() -> Vec<u8> {
        const MIB: usize = 1 << 20;
        let mut data = Command::new("sh")
            .args(["-c", "tar cf - /usr 2>/dev/null | head -c 201326592"])
            .output()
            .map(|o| o.stdout)
            .unwrap_or_default();
        if data.len() < 192 * MIB {
            data = mixed(192 * MIB, 77);
        }
        let mut rng = Rng(31337);
        data.extend((0..64 * MIB / 8).flat_map(|_| rng.next().to_le_bytes()));
        data
    }
}
