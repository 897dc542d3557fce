//! Round trips against the real `xz` CLI, error paths, and a mutation fuzz loop.

extern crate std;

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Instant;
use std::vec::Vec;
use std::{eprintln, format, thread, vec};

use super::XzDecoder;
use crate::codec::{CodecError, Compression, DEFAULT_XZ_DICT_MAX, WINDOW_SIZE};

const MIB: u32 = 1024 * 1024;

/// Compresses `data` with the xz CLI (through a pipe, so xz does not know the size and keeps
/// the preset's full dictionary, as liblzma streaming encoders do).
fn xz(args: &[&str], data: &[u8]) -> Vec<u8> {
    let mut child = Command::new("xz")
        .args(args)
        .arg("-c")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("xz CLI installed");
    let mut stdin = child.stdin.take().expect("stdin");
    let owned = data.to_vec();
    let writer = thread::spawn(move || stdin.write_all(&owned).expect("write to xz"));
    let out = child.wait_with_output().expect("xz output");
    writer.join().expect("writer thread");
    assert!(out.status.success(), "xz {:?} failed", args);
    out.stdout
}

use crate::test_rng::Rng;

/// Random bytes, English-like text and repeats of earlier output, interleaved.
fn mixed(len: usize, seed: u64) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "mender",
        "artifact",
        "update",
        "rootfs",
        "device",
        "partition",
        "the",
        "of",
        "and",
        "install",
        "commit",
        "rollback",
        "xz",
        "lzma",
        "stream",
        "block",
        "index",
        "check",
    ];
    let mut rng = Rng(seed | 1);
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        match rng.below(3) {
            0 => {
                for _ in 0..rng.below(4000) + 1 {
                    out.push(rng.next() as u8);
                }
            }
            1 => {
                for _ in 0..rng.below(3000) + 1 {
                    out.extend_from_slice(WORDS[rng.below(WORDS.len())].as_bytes());
                    out.push(if rng.below(10) == 0 { b'\n' } else { b' ' });
                }
            }
            _ if !out.is_empty() => {
                let from = rng.below(out.len());
                let n = rng.below(20000).min(out.len() - from);
                out.extend_from_within(from..from + n);
            }
            _ => {}
        }
    }
    out.truncate(len);
    out
}

fn data_1m() -> &'static [u8] {
    static D: OnceLock<Vec<u8>> = OnceLock::new();
    D.get_or_init(|| mixed(1 << 20, 1))
}

fn data_1m_xz6() -> &'static [u8] {
    static D: OnceLock<Vec<u8>> = OnceLock::new();
    D.get_or_init(|| xz(&["-6"], data_1m()))
}

/// Feeds `data` to a decoder in pieces sized by `next`, as a caller would: unconsumed bytes
/// are offered again, more are added when the decoder makes no progress. Checks the contract.
fn run_with(
    dec: &mut XzDecoder,
    data: &[u8],
    mut next: impl FnMut() -> usize,
) -> Result<Vec<u8>, CodecError> {
    let mut win = [0u8; WINDOW_SIZE];
    let mut out = Vec::new();
    let (mut off, mut end) = (0usize, 0usize);
    loop {
        if off == end && end < data.len() {
            end = end.saturating_add(next().max(1)).min(data.len());
        }
        let last = end == data.len();
        let step = dec.decode(&data[off..end], &mut win, last)?;
        assert!(step.consumed <= end - off);
        assert!(step.out_start + step.out_len <= WINDOW_SIZE);
        off += step.consumed;
        out.extend_from_slice(&win[step.out_start..step.out_start + step.out_len]);
        if step.done {
            assert_eq!(off, data.len(), "done before all input was consumed");
            let again = dec.decode(&[], &mut win, true)?;
            assert!(again.done && again.out_len == 0 && again.consumed == 0);
            return Ok(out);
        }
        if step.consumed == 0 && step.out_len == 0 {
            assert!(!last, "no progress although last=true");
            end = end.saturating_add(next().max(1)).min(data.len());
        }
    }
}

fn run(data: &[u8], dict_max: u32, next: impl FnMut() -> usize) -> Result<Vec<u8>, CodecError> {
    run_with(&mut XzDecoder::new(dict_max), data, next)
}

fn whole(data: &[u8]) -> Result<Vec<u8>, CodecError> {
    run(data, DEFAULT_XZ_DICT_MAX, || usize::MAX)
}

fn bytewise(data: &[u8]) -> Result<Vec<u8>, CodecError> {
    run(data, DEFAULT_XZ_DICT_MAX, || 1)
}

/// Mostly tiny pieces, sometimes large ones.
fn random_chunks(data: &[u8], seed: u64) -> Result<Vec<u8>, CodecError> {
    let mut rng = Rng(seed | 1);
    run(data, DEFAULT_XZ_DICT_MAX, move || {
        if rng.below(2) == 0 {
            rng.below(16) + 1
        } else {
            rng.below(100_000) + 1
        }
    })
}

/// Whole, one byte at a time and in random pieces: each must give back `original`.
fn assert_round_trip(compressed: &[u8], original: &[u8]) {
    assert!(
        whole(compressed).expect("whole") == original,
        "whole input: output differs"
    );
    assert!(
        bytewise(compressed).expect("bytewise") == original,
        "1-byte input: output differs"
    );
    for seed in 1..4 {
        assert!(
            random_chunks(compressed, seed).expect("random") == original,
            "random chunks: output differs"
        );
    }
}

#[test]
fn crc64_matches_reference() {
    let t = super::crc64::Tables::new().expect("tables");
    let reference = crc::Crc::<u64>::new(&crc::CRC_64_XZ);
    assert_eq!(t.update(0, b"123456789"), 0x995D_C9BB_DF19_39FA);
    let data = mixed(10_000, 5);
    for (a, b) in [
        (0, 0),
        (0, 1),
        (3, 17),
        (8, 9000),
        (1, 10_000),
        (4999, 10_000),
    ] {
        let split = t.update(t.update(0, &data[..a]), &data[a..b]);
        assert_eq!(split, reference.checksum(&data[..b]), "{a}..{b}");
    }
}

#[test]
fn empty_input_file() {
    assert_round_trip(&xz(&["-6"], b""), b"");
    assert_round_trip(&xz(&["-9", "--check=none"], b""), b"");
}

#[test]
fn tiny_input() {
    assert_round_trip(&xz(&["-6"], b"x"), b"x");
    assert_round_trip(&xz(&["-9"], b"hello, mender\n"), b"hello, mender\n");
}

#[test]
fn presets_round_trip() {
    for preset in ["-0", "-6", "-9", "-9e"] {
        let c = xz(&[preset], data_1m());
        assert_round_trip(&c, data_1m());
    }
}

#[test]
fn five_mib_round_trip() {
    let data = mixed(5 << 20, 7);
    let c = xz(&["-6"], &data);
    assert_round_trip(&c, &data);
}

#[test]
fn check_types() {
    for check in ["none", "crc32", "crc64", "sha256"] {
        let c = xz(&["-6", &format!("--check={check}")], data_1m());
        assert!(whole(&c).expect("whole") == data_1m(), "{check}");
        assert!(
            random_chunks(&c, 9).expect("random") == data_1m(),
            "{check}"
        );
    }
    // One byte at a time once, with the most expensive check.
    let c = xz(&["-6", "--check=sha256"], data_1m());
    assert!(bytewise(&c).expect("bytewise") == data_1m());
}

#[test]
fn multi_block() {
    let c = xz(&["-6", "--block-size=100KiB"], data_1m());
    assert_round_trip(&c, data_1m());
}

#[test]
fn literal_and_position_context_bits() {
    for opts in [
        "lc=0,lp=4,pb=4",
        "lc=4,lp=0,pb=0",
        "lc=1,lp=3,pb=1",
        "lc=2,lp=2,pb=3",
    ] {
        let c = xz(
            &["--format=xz", &format!("--lzma2=preset=6,{opts}")],
            data_1m(),
        );
        assert!(whole(&c).expect(opts) == data_1m(), "{opts}");
        assert!(random_chunks(&c, 2).expect(opts) == data_1m(), "{opts}");
    }
}

#[test]
fn block_headers_with_sizes() {
    // Threaded xz writes compressed and uncompressed sizes into every block header.
    let c = xz(&["-6", "-T2", "--block-size=100KiB"], data_1m());
    assert_eq!(c[13] & 0xC0, 0xC0, "sizes present");
    assert_round_trip(&c, data_1m());

    // Declared uncompressed size off by one, header CRC fixed: the block does not match.
    let mut m = c.clone();
    let header_len = (m[12] as usize + 1) * 4;
    let mut at = 14;
    while m[at] & 0x80 != 0 {
        at += 1;
    }
    at += 1; // now at the uncompressed size
    m[at] ^= 1;
    let crc = super::CRC32
        .checksum(&m[12..12 + header_len - 4])
        .to_le_bytes();
    m[12 + header_len - 4..12 + header_len].copy_from_slice(&crc);
    assert_fails(&m, &[CodecError::XzCorrupt], "declared size");
}

#[test]
fn small_dictionary_wraps_the_ring() {
    let c = xz(&["--format=xz", "--lzma2=dict=4KiB"], data_1m());
    let mut dec = XzDecoder::new(DEFAULT_XZ_DICT_MAX);
    assert!(run_with(&mut dec, &c, || 777).expect("decode") == data_1m());
    assert!(dec.dict.buf.len() == 4096, "ring is exactly the dictionary");
    assert_round_trip(&c, data_1m());
}

#[test]
fn concatenated_streams_and_padding() {
    let a = data_1m();
    let b = mixed(50_000, 3);
    let mut two = xz(&["-9"], a);
    two.extend_from_slice(&xz(&["-0", "--check=sha256"], &b));
    let mut both = a.to_vec();
    both.extend_from_slice(&b);
    assert_round_trip(&two, &both);

    let mut padded = xz(&["-6"], a);
    padded.extend_from_slice(&[0; 8]);
    padded.extend_from_slice(&xz(&["-6", "--check=crc32"], &b));
    padded.extend_from_slice(&[0; 4]);
    assert_round_trip(&padded, &both);

    let mut empty_streams = xz(&["-6"], b"");
    empty_streams.extend_from_slice(&[0; 12]);
    empty_streams.extend_from_slice(&xz(&["-6"], b""));
    assert_round_trip(&empty_streams, b"");
}

#[test]
fn bcj_filter_is_unsupported() {
    let c = xz(&["--x86", "--lzma2=preset=6"], data_1m());
    assert_eq!(whole(&c), Err(CodecError::XzUnsupported));
    assert_eq!(bytewise(&c), Err(CodecError::XzUnsupported));
    let c = xz(&["--delta=dist=4", "--lzma2=preset=6"], data_1m());
    assert_eq!(whole(&c), Err(CodecError::XzUnsupported));
}

#[test]
fn unsupported_check_type() {
    // Stream flags with check id 2 (a 4-byte check xz does not define), valid CRC-32.
    let mut c = xz(&["-6", "--check=none"], b"abc");
    c[7] = 0x02;
    let crc = super::CRC32.checksum(&c[6..8]).to_le_bytes();
    c[8..12].copy_from_slice(&crc);
    assert_eq!(whole(&c), Err(CodecError::XzUnsupported));
}

#[test]
fn dictionary_limit() {
    let c = xz(&["-9"], b"small artifact header");
    let mut dec = XzDecoder::new(8 * MIB);
    assert_eq!(
        run_with(&mut dec, &c, || usize::MAX),
        Err(CodecError::XzDictionaryTooLarge {
            needed: 64 * MIB,
            limit: 8 * MIB
        })
    );
    assert_eq!(dec.heap(), 0, "refused before allocating");
    let mut dec = XzDecoder::new(64 * MIB);
    assert_eq!(
        run_with(&mut dec, &c, || usize::MAX).expect("decode"),
        b"small artifact header"
    );
    // A 64 MiB dictionary declared for 21 bytes: the ring holds just the output.
    assert_eq!(dec.dict.buf.len(), 21);
    assert!(dec.heap() < 128 * 1024, "heap {}", dec.heap());
}

#[test]
fn heap_follows_output_not_declared_dictionary() {
    let c = xz(&["-9"], data_1m());
    let mut dec = XzDecoder::new(DEFAULT_XZ_DICT_MAX);
    assert!(run_with(&mut dec, &c, || 65536).expect("decode") == data_1m());
    assert_eq!(dec.dict.buf.len(), data_1m().len());
    assert!(
        dec.heap() <= data_1m().len() + 128 * 1024,
        "heap {}",
        dec.heap()
    );
}

/// Offsets of the parts of a single-stream, single-block file.
struct Layout {
    block_header: usize,
    data: usize,
    check: usize,
    index: usize,
    footer: usize,
}

fn layout(c: &[u8], check_len: usize) -> Layout {
    let footer = c.len() - 12;
    let backward =
        (u32::from_le_bytes(c[footer + 4..footer + 8].try_into().unwrap()) as usize + 1) * 4;
    let index = footer - backward;
    Layout {
        block_header: 12,
        data: 12 + (c[12] as usize + 1) * 4,
        check: index - check_len,
        index,
        footer,
    }
}

fn flipped(c: &[u8], at: usize) -> Vec<u8> {
    let mut m = c.to_vec();
    m[at] ^= 0x41;
    m
}

fn assert_fails(c: &[u8], allowed: &[CodecError], what: &str) {
    for r in [whole(c), bytewise(c), random_chunks(c, 5)] {
        match r {
            Err(e) if allowed.contains(&e) => {}
            other => panic!(
                "{what}: got {:?}, wanted one of {:?}",
                other.map(|v| v.len()),
                allowed
            ),
        }
    }
}

#[test]
fn corruption_is_detected() {
    let c = data_1m_xz6();
    let l = layout(c, 8);
    for at in [0, 3, 5] {
        assert_fails(
            &flipped(c, at),
            &[CodecError::XzHeader],
            "stream header magic",
        );
    }
    for at in [7, 9] {
        assert_fails(
            &flipped(c, at),
            &[CodecError::XzHeader],
            "stream flags / CRC",
        );
    }
    for at in [
        l.block_header,
        l.block_header + 1,
        l.block_header + 2,
        l.data - 1,
    ] {
        assert_fails(&flipped(c, at), &[CodecError::XzCorrupt], "block header");
    }
    let data_err = [CodecError::XzCorrupt, CodecError::XzCheck];
    for at in [
        l.data,
        l.data + 1,
        l.data + 3,
        l.data + 100,
        l.data + 5000,
        (l.data + l.check) / 2,
        l.check - 3,
    ] {
        assert_fails(&flipped(c, at), &data_err, "compressed data");
    }
    for at in l.check..l.index {
        assert_fails(&flipped(c, at), &[CodecError::XzCheck], "check");
    }
    // A damaged index indicator reads as a block header that runs past the end.
    assert_fails(
        &flipped(c, l.index),
        &[
            CodecError::XzCorrupt,
            CodecError::Truncated(Compression::Xz),
        ],
        "index",
    );
    for at in l.index + 1..l.footer {
        assert_fails(&flipped(c, at), &[CodecError::XzCorrupt], "index");
    }
    for at in l.footer..c.len() {
        assert_fails(&flipped(c, at), &[CodecError::XzCorrupt], "footer");
    }
}

#[test]
fn corruption_in_multi_block_index() {
    let c = xz(&["-6", "--block-size=100KiB"], data_1m());
    let l = layout(&c, 8);
    for at in l.index + 1..l.footer {
        assert_fails(&flipped(&c, at), &[CodecError::XzCorrupt], "index");
    }
    // Swap two index records' sizes by re-encoding is hard; instead drop the last block's
    // record count by one with a fixed-up CRC: the count no longer matches.
    let mut m = c.clone();
    m[l.index + 1] -= 1;
    let crc_at = l.footer - 4;
    let crc = super::CRC32.checksum(&m[l.index..crc_at]).to_le_bytes();
    m[crc_at..l.footer].copy_from_slice(&crc);
    assert_fails(&m, &[CodecError::XzCorrupt], "record count");
}

#[test]
fn index_record_mismatch_with_valid_crc() {
    // Two blocks; swap the two records in the index and fix its CRC: counts and totals still
    // match, the per-block sizes do not.
    let data = mixed(300_000, 11);
    let c = xz(&["-6", "--block-size=200000"], &data);
    let l = layout(&c, 8);
    let idx = &c[l.index..l.footer - 4];
    assert_eq!(idx[1], 2, "two records");
    let mut at = 2;
    let mut records = Vec::new();
    for _ in 0..4 {
        let start = at;
        while idx[at] & 0x80 != 0 {
            at += 1;
        }
        at += 1;
        records.push(idx[start..at].to_vec());
    }
    let mut new_idx = idx[..2].to_vec();
    for i in [2, 3, 0, 1] {
        new_idx.extend_from_slice(&records[i]);
    }
    new_idx.extend_from_slice(&idx[at..]);
    assert_eq!(new_idx.len(), idx.len());
    let mut m = c.clone();
    m[l.index..l.footer - 4].copy_from_slice(&new_idx);
    let crc = super::CRC32.checksum(&new_idx).to_le_bytes();
    m[l.footer - 4..l.footer].copy_from_slice(&crc);
    assert_fails(&m, &[CodecError::XzCorrupt], "swapped records");
}

#[test]
fn truncation_is_reported() {
    let c = xz(&["-6", "--block-size=64KiB"], &data_1m()[..300_000]);
    let mut cuts: Vec<usize> = (0..200).chain(c.len() - 200..c.len()).collect();
    cuts.extend((0..c.len()).step_by(997));
    for cut in cuts {
        let t = &c[..cut];
        assert_eq!(
            whole(t),
            Err(CodecError::Truncated(Compression::Xz)),
            "cut at {cut}"
        );
        assert_eq!(
            random_chunks(t, cut as u64),
            Err(CodecError::Truncated(Compression::Xz)),
            "cut at {cut}"
        );
    }
    let small = xz(&["-9"], b"hello");
    for cut in 0..small.len() {
        assert_eq!(
            bytewise(&small[..cut]),
            Err(CodecError::Truncated(Compression::Xz)),
            "cut at {cut}"
        );
    }
}

#[test]
fn trailing_data() {
    let c = xz(&["-6"], b"payload");
    let with = |tail: &[u8]| {
        let mut m = c.clone();
        m.extend_from_slice(tail);
        m
    };
    let trailing = CodecError::TrailingData(Compression::Xz);
    assert_fails(&with(b"junk"), &[trailing], "junk");
    assert_fails(&with(b"\0\0\0\0junk"), &[trailing], "junk after padding");
    assert_fails(
        &with(&[0xFD, b'7', b'z', b'X', b'Y']),
        &[trailing],
        "almost a stream",
    );
    assert_fails(
        &with(&[0, 0, 0]),
        &[CodecError::XzCorrupt],
        "padding not a multiple of 4",
    );
    assert_fails(
        &with(&[0, 1, 0, 0]),
        &[CodecError::XzCorrupt],
        "non-zero padding",
    );
    assert_eq!(whole(&with(&[0; 16])).expect("padding"), b"payload");

    // More input after done.
    let mut dec = XzDecoder::new(DEFAULT_XZ_DICT_MAX);
    assert_eq!(
        run_with(&mut dec, &c, || usize::MAX).expect("decode"),
        b"payload"
    );
    let mut win = [0u8; WINDOW_SIZE];
    assert_eq!(dec.decode(b"x", &mut win, true), Err(trailing));
}

#[test]
fn errors_are_sticky() {
    let c = flipped(data_1m_xz6(), 0);
    let mut dec = XzDecoder::new(DEFAULT_XZ_DICT_MAX);
    let mut win = [0u8; WINDOW_SIZE];
    assert_eq!(dec.decode(&c, &mut win, true), Err(CodecError::XzHeader));
    assert_eq!(
        dec.decode(&c[12..], &mut win, true),
        Err(CodecError::XzHeader)
    );
    assert_eq!(dec.decode(&[], &mut win, true), Err(CodecError::XzHeader));
}

#[test]
fn needs_more_input_without_last() {
    let c = data_1m_xz6();
    let mut dec = XzDecoder::new(DEFAULT_XZ_DICT_MAX);
    let mut win = [0u8; WINDOW_SIZE];
    let step = dec
        .decode(&c[..10], &mut win, false)
        .expect("partial header");
    assert_eq!((step.consumed, step.out_len, step.done), (10, 0, false));
    let step = dec.decode(&[], &mut win, false).expect("no input");
    assert_eq!((step.consumed, step.out_len, step.done), (0, 0, false));
    assert_eq!(
        dec.decode(&[], &mut win, true),
        Err(CodecError::Truncated(Compression::Xz))
    );
}

/// Random mutations of valid files: any result but a panic or a stall is fine.
#[test]
fn fuzz_mutations_never_panic() {
    let base = mixed(40_000, 21);
    let seeds = [
        xz(&["-6", "--block-size=16KiB"], &base),
        xz(
            &[
                "--format=xz",
                "--lzma2=dict=4KiB,lc=4,lp=0,pb=0",
                "--check=sha256",
            ],
            &base,
        ),
        xz(&["-0", "--check=crc32"], &base[..5000]),
        xz(&["-9", "--check=none"], &base[..3000]),
    ];
    let mut rng = Rng(0x5EED);
    let mut outcomes = [0usize; 2];
    // XZ_FUZZ_ITERS and XZ_FUZZ_SEED allow longer or different runs by hand.
    let iters = std::env::var("XZ_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    if let Some(seed) = std::env::var("XZ_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        rng = Rng(seed);
    }
    for i in 0..iters {
        let src = &seeds[i % seeds.len()];
        let mut m = src.clone();
        for _ in 0..rng.below(4) + 1 {
            if m.is_empty() {
                break;
            }
            // Bias towards the first and last bytes, where the headers and index are.
            let at = match rng.below(3) {
                0 => rng.below(m.len().min(64)),
                1 => m.len() - 1 - rng.below(m.len().min(64)),
                _ => rng.below(m.len()),
            };
            match rng.below(6) {
                0 => m.truncate(at),
                1 => m.insert(at, rng.next() as u8),
                2 if at < m.len() => {
                    m.remove(at);
                }
                _ if at < m.len() => m[at] ^= 1 << rng.below(8),
                _ => {}
            }
        }
        let mut r2 = Rng(rng.next());
        let r = run(&m, DEFAULT_XZ_DICT_MAX, move || {
            if r2.below(2) == 0 {
                r2.below(8) + 1
            } else {
                r2.below(70_000) + 1
            }
        });
        outcomes[r.is_ok() as usize] += 1;
    }
    // Deep: flips only inside LZMA data of a file without check, so the symbol decoder
    // itself meets garbage (bad distances, matches past the chunk end, lengths, ...).
    let deep = xz(&["-6", "--check=none"], &base);
    let l = layout(&deep, 0);
    for _ in 0..iters / 4 {
        let mut m = deep.clone();
        for _ in 0..rng.below(3) + 1 {
            let at = l.data + 6 + rng.below(l.check - l.data - 6);
            m[at] ^= 1 << rng.below(8);
        }
        let n = rng.below(5000) + 1;
        let _ = run(&m, DEFAULT_XZ_DICT_MAX, move || n);
    }
    // Almost every mutation must be caught (a flip that lands in an unused probability
    // context or in `--check=none` data can survive).
    assert!(
        outcomes[0] > outcomes[1] * 10,
        "errors {} vs ok {}",
        outcomes[0],
        outcomes[1]
    );
}

/// User + system CPU time of this process (Linux), which a busy machine distorts less than
/// wall time.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.get(stat.rfind(')')? + 2..)?.split(' ').collect();
    let ticks = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// Throughput and heap on a 64 MiB `xz -9` file. Run with
/// `cargo test --release -p mender-core --features alloc codec::xz -- --ignored --nocapture`.
#[test]
#[ignore]
fn measure_64mib_preset9() {
    let mut corpus = Vec::new();
    // Real binaries make the most typical payload; fall back to synthetic data.
    for dir in ["/usr/lib/x86_64-linux-gnu", "/usr/bin", "/usr/share"] {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for p in paths {
            if corpus.len() >= 64 << 20 {
                break;
            }
            if let Ok(bytes) = std::fs::read(&p) {
                corpus.extend_from_slice(&bytes);
            }
        }
    }
    corpus.truncate(64 << 20);
    let synthetic = mixed(64 << 20, 99);
    for (name, data) in [("system files", &corpus), ("synthetic mix", &synthetic)] {
        if data.len() < 64 << 20 {
            eprintln!("{name}: only {} bytes available, skipped", data.len());
            continue;
        }
        let c = xz(&["-9"], data);
        let mut dec = XzDecoder::new(DEFAULT_XZ_DICT_MAX);
        let t = Instant::now();
        let cpu = cpu_seconds();
        let out = run_with(&mut dec, &c, || 64 * 1024).expect("decode");
        let secs = t.elapsed().as_secs_f64();
        let cpu = cpu_seconds().zip(cpu).map(|(b, a)| b - a);
        assert!(out == *data);
        let mib = data.len() as f64 / f64::from(MIB);
        eprintln!(
            "{name}: {} MiB -> {:.1} MiB compressed; {:.1} MiB/s wall, {} MiB/s CPU time; \
             decoder heap {} bytes",
            data.len() >> 20,
            c.len() as f64 / f64::from(MIB),
            mib / secs,
            cpu.map_or("?".into(), |c| format!("{:.1}", mib / c)),
            dec.heap()
        );
    }
}

#[test]
fn output_comes_in_window_sized_pieces() {
    let dec = XzDecoder::new(DEFAULT_XZ_DICT_MAX);
    assert_eq!(dec.heap(), 0);
    let c = xz(&["-6"], &vec![b'a'; 3 * WINDOW_SIZE + 5]);
    let mut dec = XzDecoder::new(DEFAULT_XZ_DICT_MAX);
    let mut win = [0u8; WINDOW_SIZE];
    let mut total = 0;
    let mut off = 0;
    loop {
        let step = dec.decode(&c[off..], &mut win, true).expect("decode");
        off += step.consumed;
        assert!(step.out_len <= WINDOW_SIZE);
        assert!(win[..step.out_len].iter().all(|&b| b == b'a'));
        total += step.out_len;
        if step.done {
            break;
        }
    }
    assert_eq!(total, 3 * WINDOW_SIZE + 5);
}
