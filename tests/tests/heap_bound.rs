//! Peak heap of a rootfs install does not grow with the Artifact: a counting global allocator
//! (this test binary only) measures `RootfsUpdate` installing real Artifacts of two sizes per
//! codec into a block device that keeps nothing but a SHA-256 of what the partition would hold.
//!
//! Budgets come from memory-budget.md ("Peak heap while installing"). What is measured is the
//! heap the install itself allocates: the decode window, the two frame buffers and the read
//! buffer are caller-owned and allocated once before any measurement (their sizes are printed
//! and listed in the table), so they are not part of the peaks.
//!
//! The installs run one after another in the single test function of this binary, so no other
//! test thread allocates while a peak is being measured.
#![allow(clippy::result_large_err)]
use mender_core::codec::Workspace;
use mender_core::hal::BlockDevice;
use mender_core::install::{Device, ImageWriter, RootfsUpdate, WriteStats};
use mender_core::provides::Installed;
use mender_core::reader::{Config, HeapBuffers, ARENA_SIZE_FULL};
use mender_tests::{require_tool, run_ok, sha256_hex, workspace_root, Rng, TempDir};
use sha2::{Digest, Sha256};
use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt;
use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts live heap bytes and their high-water mark.
///
/// `realloc` is counted as a change of size (new minus old), not as a second live block: glibc
/// moves large blocks with `mremap`, so the old and new block never both occupy memory there.
struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(n: usize) {
    let now = CURRENT.fetch_add(n, Ordering::SeqCst) + n;
    PEAK.fetch_max(now, Ordering::SeqCst);
}

fn shrank(n: usize) {
    CURRENT.fetch_sub(n, Ordering::SeqCst);
}

// SAFETY: every call is forwarded unchanged to `System`; only counters are updated around it.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                shrank(layout.size() - new_size);
            }
        }
        p
    }
}

#[global_allocator]
static HEAP: Counting = Counting;

/// Starts a measurement: the peak restarts at the current level, which is returned.
fn reset_peak() -> usize {
    let now = CURRENT.load(Ordering::SeqCst);
    PEAK.store(now, Ordering::SeqCst);
    now
}

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

/// Write unit and read chunk, as the Linux shell's standalone install uses.
const FRAME: usize = 64 * KIB;
/// zstd long-distance window the zstd Artifacts are compressed with (`--long=24`).
const ZSTD_WINDOW: usize = 16 * MIB;
/// Dictionary of `mender-artifact --compression lzma` (xz preset 9); checked from the stream.
const LZMA_DICT: usize = 64 * MIB;

// ---------------------------------------------------------------------------------------------
// Deterministic images.

/// Writes an image of `len` bytes and returns its SHA-256. Every image is a prefix of the
/// same stream of 64 KiB blocks: 1/16 random (decoders copy literals or stored blocks), 5/16
/// zeros (frames the writer skips on a blank device), the rest a random pattern of 1..200 bytes
/// repeated (short matches and long repeats). Mostly compressible so that xz preset 9 can
/// write ~200 MiB within seconds.
fn make_image(path: &Path, len: usize) -> [u8; 32] {
    const BLOCK: usize = 64 * KIB;
    let mut rng = Rng(0x6d65_6e64_6572_2d31);
    let mut file = File::create(path).expect("create image");
    let mut hash = Sha256::new();
    let mut block = vec![0u8; BLOCK];
    let mut pattern = [0u8; 200];
    let mut left = len;
    while left > 0 {
        match rng.below(16) {
            0 => rng.fill(&mut block),
            1..=5 => block.fill(0),
            _ => {
                let period = 1 + rng.below(pattern.len() as u64) as usize;
                let pattern = &mut pattern[..period];
                rng.fill(pattern);
                for (dst, src) in block.iter_mut().zip(pattern.iter().cycle()) {
                    *dst = *src;
                }
            }
        }
        let n = left.min(BLOCK);
        file.write_all(&block[..n]).expect("write image");
        hash.update(&block[..n]);
        left -= n;
    }
    hash.finalize().into()
}

// ---------------------------------------------------------------------------------------------
// Plain ustar, enough to repack what mender-artifact writes.

struct Member {
    name: String,
    data: Vec<u8>,
}

fn field_str(field: &[u8]) -> Result<&str, String> {
    let end = field.iter().position(|&c| c == 0).unwrap_or(field.len());
    std::str::from_utf8(&field[..end]).map_err(|_| "tar: field is not UTF-8".to_string())
}

/// Members of an uncompressed tar archive (regular files only, as mender-artifact writes them).
fn untar(mut b: &[u8]) -> Result<Vec<Member>, String> {
    let mut out = Vec::new();
    loop {
        let header = b.get(..512).ok_or("tar: archive ends without end blocks")?;
        if header.iter().all(|&c| c == 0) {
            return Ok(out);
        }
        if header.get(257..262) != Some(b"ustar".as_slice()) {
            return Err("tar: not a ustar header".into());
        }
        let mut name = field_str(&header[..100])?.to_string();
        let prefix = field_str(&header[345..500])?;
        if !prefix.is_empty() {
            name = format!("{prefix}/{name}");
        }
        let size = field_str(&header[124..136])?;
        let size = u64::from_str_radix(size.trim_matches(' '), 8)
            .map_err(|e| format!("tar: size of {name}: {e}"))?;
        let size = usize::try_from(size).map_err(|e| format!("tar: size of {name}: {e}"))?;
        let padded = size.div_ceil(512) * 512;
        let data = b
            .get(512..512 + size)
            .ok_or_else(|| format!("tar: {name} is truncated"))?;
        out.push(Member {
            name,
            data: data.to_vec(),
        });
        b = b.get(512 + padded..).ok_or("tar: truncated padding")?;
    }
}

fn octal(field: &mut [u8], value: u64) {
    let text = format!("{:0w$o}\0", value, w = field.len() - 1);
    field.copy_from_slice(text.as_bytes());
}

/// A ustar archive of regular files (names of at most 100 bytes).
fn tar(members: &[Member]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in members {
        let mut h = [0u8; 512];
        let name = m.name.as_bytes();
        assert!(name.len() <= 100, "member name too long: {}", m.name);
        h[..name.len()].copy_from_slice(name);
        octal(&mut h[100..108], 0o600);
        octal(&mut h[108..116], 0);
        octal(&mut h[116..124], 0);
        octal(&mut h[124..136], m.data.len() as u64);
        octal(&mut h[136..148], 0);
        h[156] = b'0';
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].fill(b' ');
        let sum: u64 = h.iter().map(|&c| u64::from(c)).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(&m.data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.extend_from_slice(&[0u8; 1024]);
    out
}

/// Turns an uncompressed Artifact into a zstd one: `header.tar` and `data/0000.tar` are
/// compressed by the `zstd` CLI with a 16 MiB long-distance window, and the manifest's header
/// line gets the new name and digest (the data file digests are of the files inside the data
/// tar, so they stay).
fn repack_zstd(none: &Path, out: &Path, scratch: &TempDir) {
    let zstd = require_tool("zstd");
    let members = untar(&std::fs::read(none).expect("read the none Artifact")).expect("untar");
    let compress = |name: &str, data: &[u8]| -> Vec<u8> {
        let plain = scratch.join(format!("{name}.tar"));
        let packed = scratch.join(format!("{name}.tar.zst"));
        std::fs::write(&plain, data).expect("write tar");
        run_ok(
            Command::new(&zstd)
                .args(["-19", "--long=24", "-q", "-f", "-o"])
                .arg(&packed)
                .arg(&plain),
        );
        let packed_data = std::fs::read(&packed).expect("read zstd output");
        let _ = std::fs::remove_file(&plain);
        let _ = std::fs::remove_file(&packed);
        packed_data
    };
    let header = members
        .iter()
        .find(|m| m.name == "header.tar")
        .expect("header.tar in the none Artifact");
    let header_zst = compress("header", &header.data);
    let header_line = format!("{}  header.tar.zst", sha256_hex(&header_zst));
    let mut repacked = Vec::new();
    for m in members {
        let member = match m.name.as_str() {
            "manifest" => {
                let text = String::from_utf8(m.data).expect("manifest is text");
                let mut found = false;
                let mut lines: Vec<String> = Vec::new();
                for line in text.lines() {
                    if line.ends_with("  header.tar") {
                        found = true;
                        lines.push(header_line.clone());
                    } else {
                        lines.push(line.to_string());
                    }
                }
                assert!(found, "manifest has no header.tar line:\n{text}");
                let mut data = lines.join("\n");
                data.push('\n');
                Member {
                    name: m.name,
                    data: data.into_bytes(),
                }
            }
            "header.tar" => Member {
                name: "header.tar.zst".into(),
                data: header_zst.clone(),
            },
            "data/0000.tar" => Member {
                name: "data/0000.tar.zst".into(),
                data: compress("data", &m.data),
            },
            _ => m,
        };
        repacked.push(member);
    }
    std::fs::write(out, tar(&repacked)).expect("write the zstd Artifact");
}

/// The dictionary size an xz stream's first block declares (LZMA2 filter properties).
fn xz_dict_size(xz: &[u8]) -> Result<usize, String> {
    // Stream header (12) | block header size | block flags | [sizes] | filter id | props size | props
    let flags = *xz.get(13).ok_or("xz: short")?;
    if flags & 0x03 != 0 {
        return Err("xz: expected a single filter".into());
    }
    let mut pos = 14;
    let varint = |pos: &mut usize| -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..63).step_by(7) {
            let b = *xz.get(*pos).ok_or("xz: short varint")?;
            *pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("xz: varint too long".into())
    };
    for present in [0x40, 0x80] {
        if flags & present != 0 {
            varint(&mut pos)?;
        }
    }
    if varint(&mut pos)? != 0x21 || varint(&mut pos)? != 1 {
        return Err("xz: the filter is not LZMA2".into());
    }
    let props = u32::from(*xz.get(pos).ok_or("xz: short")?);
    if props > 40 {
        return Err("xz: bad dictionary property".into());
    }
    Ok(if props == 40 {
        u32::MAX as usize
    } else {
        (2 | (props & 1) as usize) << (props / 2 + 11)
    })
}

/// The window a zstd frame declares (Window_Descriptor, or the content size of a single
/// segment frame).
fn zstd_window(zst: &[u8]) -> Result<usize, String> {
    if zst.get(..4) != Some([0x28, 0xb5, 0x2f, 0xfd].as_slice()) {
        return Err("zstd: no frame magic".into());
    }
    let fhd = *zst.get(4).ok_or("zstd: short")?;
    if fhd & 0x20 != 0 {
        return Err("zstd: single-segment frame (no window descriptor)".into());
    }
    let wd = *zst.get(5).ok_or("zstd: short")?;
    let base = 1usize << (10 + (wd >> 3));
    Ok(base + base / 8 * usize::from(wd & 7))
}

fn member(artifact: &Path, name: &str) -> Vec<u8> {
    let members = untar(&std::fs::read(artifact).expect("read Artifact")).expect("untar");
    members
        .into_iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("{} has no {name}", artifact.display()))
        .data
}

// ---------------------------------------------------------------------------------------------
// The device: sizes checked, data hashed, nothing kept.

/// Why the sink refused an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SinkError(&'static str);

impl fmt::Display for SinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// A blank (all-zero) partition that keeps only the SHA-256 of its content from offset 0 up to
/// the furthest frame touched. The writer reads each frame and writes it only if it differs,
/// so a frame read and not written is hashed as zeros, and a written frame as its data.
/// Access must be sequential and inside the device, as [`ImageWriter`] promises.
struct HashingSink {
    size: u64,
    /// End of the hashed content.
    end: u64,
    /// A frame that was read and not (yet) written: offset and length.
    pending: Option<(u64, usize)>,
    hash: Sha256,
    syncs: usize,
}

static ZEROS: [u8; FRAME] = [0; FRAME];

impl HashingSink {
    fn new(size: u64) -> Self {
        HashingSink {
            size,
            end: 0,
            pending: None,
            hash: Sha256::new(),
            syncs: 0,
        }
    }

    /// The pending frame kept its blank content.
    fn settle(&mut self) {
        if let Some((_, mut len)) = self.pending.take() {
            self.end += len as u64;
            while len > 0 {
                let n = len.min(ZEROS.len());
                self.hash.update(&ZEROS[..n]);
                len -= n;
            }
        }
    }

    fn check_range(&self, offset: u64, len: usize) -> Result<(), SinkError> {
        if offset != self.end {
            return Err(SinkError("access is not sequential"));
        }
        match offset.checked_add(len as u64) {
            Some(end) if end <= self.size => Ok(()),
            _ => Err(SinkError("access beyond the device")),
        }
    }

    fn digest(mut self) -> ([u8; 32], u64) {
        self.settle();
        (self.hash.finalize().into(), self.end)
    }
}

impl BlockDevice for HashingSink {
    type Error = SinkError;

    fn size(&mut self) -> Result<u64, SinkError> {
        Ok(self.size)
    }

    fn read(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), SinkError> {
        self.settle();
        self.check_range(offset, buf.len())?;
        buf.fill(0);
        self.pending = Some((offset, buf.len()));
        Ok(())
    }

    fn write(&mut self, offset: u64, data: &[u8]) -> Result<(), SinkError> {
        match self.pending.take() {
            Some(p) if p == (offset, data.len()) => {}
            Some(p) => {
                self.pending = Some(p);
                return Err(SinkError("write does not cover the frame just read"));
            }
            None => self.check_range(offset, data.len())?,
        }
        self.hash.update(data);
        self.end += data.len() as u64;
        Ok(())
    }

    fn sync(&mut self) -> Result<(), SinkError> {
        self.settle();
        self.syncs += 1;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Measured installs.

struct Nothing;

impl Installed for Nothing {
    fn name(&self) -> &str {
        "v1"
    }
    fn group(&self) -> Option<&str> {
        None
    }
    fn provide(&self, _key: &str) -> Option<&str> {
        None
    }
}

/// Caller-owned memory, allocated once before any measurement.
struct Buffers {
    window: HeapBuffers,
    frame: Vec<u8>,
    scratch: Vec<u8>,
    input: Vec<u8>,
}

struct Measured {
    /// Peak heap above the level at the start of the install.
    peak: usize,
    /// Heap still held after the install, above that level (must be zero).
    leaked: isize,
    stats: WriteStats,
    digest: [u8; 32],
    device_end: u64,
    syncs: usize,
}

/// Installs `artifact` through `RootfsUpdate` into a blank sink of `device_size` bytes,
/// measuring the heap from just before the update is created until it is dropped.
fn install(artifact: &Path, device_size: u64, bufs: &mut Buffers) -> Measured {
    let mut file = File::open(artifact).expect("open Artifact");
    let installed = Nothing;
    let mut sink = HashingSink::new(device_size);
    let base = reset_peak();
    let result = {
        let writer = ImageWriter::new(&mut sink, &mut bufs.frame, &mut bufs.scratch);
        let mut update = RootfsUpdate::new(
            bufs.window.buffers(),
            Config::default(),
            Device {
                device_type: "sim",
                installed: &installed,
            },
            writer,
        );
        let mut fed = Ok(());
        loop {
            let n = match file.read(&mut bufs.input) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => panic!("reading {}: {e}", artifact.display()),
            };
            if let Err(e) = update.feed(&bufs.input[..n]) {
                fed = Err(e);
                break;
            }
        }
        fed.and_then(|()| update.finish())
    };
    let peak = PEAK.load(Ordering::SeqCst).saturating_sub(base);
    let leaked = CURRENT.load(Ordering::SeqCst) as isize - base as isize;
    let stats = match result {
        Ok(stats) => stats,
        Err(e) => panic!("installing {} failed: {e}", artifact.display()),
    };
    let syncs = sink.syncs;
    let (digest, device_end) = sink.digest();
    Measured {
        peak,
        leaked,
        stats,
        digest,
        device_end,
        syncs,
    }
}

// ---------------------------------------------------------------------------------------------
// Budgets.

const SECTION: &str = "## Peak heap while installing (core, tests/tests/heap_bound.rs)";
const GROWTH_ROW: &str = "growth from the small to the large Artifact";

/// Budget column of row `key` in this test's section of memory-budget.md.
fn budget(doc: &str, key: &str) -> usize {
    let section = doc
        .split_once(SECTION)
        .map(|(_, rest)| rest.split("\n## ").next().unwrap_or(rest))
        .unwrap_or_else(|| panic!("memory-budget.md has no section '{SECTION}'"));
    let cells = section
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with('|'))
        .map(|l| {
            l.trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_string())
                .collect::<Vec<_>>()
        })
        .find(|cells| cells.first().is_some_and(|c| c == key))
        .unwrap_or_else(|| panic!("memory-budget.md section '{SECTION}' has no row '{key}'"));
    cells
        .get(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("row '{key}': budget is not a number: {cells:?}"))
}

/// One Artifact to install: its label, file and the image it carries.
struct Case {
    codec: &'static str,
    image_len: usize,
    artifact: std::path::PathBuf,
    image_digest: [u8; 32],
}

fn spawn_write(tool: &Path, dir: &TempDir, image: &str, compression: &str, out: &str) -> Child {
    Command::new(tool)
        .args([
            "write",
            "rootfs-image",
            "-t",
            "sim",
            "-n",
            "v2",
            "-f",
            image,
        ])
        .args(["--compression", compression, "-o", out])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start mender-artifact")
}

fn wait_ok(child: Child, what: &str) {
    let out = child.wait_with_output().expect("wait for mender-artifact");
    assert!(
        out.status.success(),
        "mender-artifact {what} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn peak_heap_is_bounded_and_independent_of_artifact_size() {
    let tool = require_tool("mender-artifact");
    let dir = TempDir::new("heap-bound");
    let doc = std::fs::read_to_string(workspace_root().join("memory-budget.md"))
        .expect("memory-budget.md");

    // Images (prefixes of one stream) and Artifacts. The xz images exceed the 64 MiB
    // dictionary, so the dictionary reaches its full size in both and then only wraps.
    let sizes = [4 * MIB, 24 * MIB, 64 * MIB, 72 * MIB, 136 * MIB];
    let digests: Vec<[u8; 32]> = sizes
        .iter()
        .map(|&len| make_image(&dir.join(format!("img-{}M", len / MIB)), len))
        .collect();
    let digest_of = |len: usize| digests[sizes.iter().position(|&s| s == len).expect("size")];
    let jobs: Vec<(usize, &str, &str)> = vec![
        (136, "lzma", "xz"),
        (72, "lzma", "xz"),
        (4, "lzma", "xz"),
        (4, "gzip", "gzip"),
        (64, "gzip", "gzip"),
        (24, "none", "none"),
        (64, "none", "none"),
    ];
    let children: Vec<(Child, String)> = jobs
        .iter()
        .map(|&(mib, compression, label)| {
            let out = format!("{label}-{mib}M.mender");
            let child = spawn_write(&tool, &dir, &format!("img-{mib}M"), compression, &out);
            (child, out)
        })
        .collect();
    for (child, out) in children {
        wait_ok(child, &out);
    }
    for mib in [24, 64] {
        repack_zstd(
            &dir.join(format!("none-{mib}M.mender")),
            &dir.join(format!("zstd-{mib}M.mender")),
            &dir,
        );
    }
    for mib in [4, 24, 64, 72, 136] {
        let _ = std::fs::remove_file(dir.join(format!("img-{mib}M")));
    }

    // The streams declare what the budgets assume.
    for mib in [24, 64] {
        let zst = member(
            &dir.join(format!("zstd-{mib}M.mender")),
            "data/0000.tar.zst",
        );
        assert_eq!(zstd_window(&zst), Ok(ZSTD_WINDOW), "zstd-{mib}M window");
    }
    for mib in [4, 72, 136] {
        let xz = member(&dir.join(format!("xz-{mib}M.mender")), "data/0000.tar.xz");
        assert_eq!(xz_dict_size(&xz), Ok(LZMA_DICT), "xz-{mib}M dictionary");
    }

    let case = |codec: &'static str, mib: usize| Case {
        codec,
        image_len: mib * MIB,
        artifact: dir.join(format!("{codec}-{mib}M.mender")),
        image_digest: digest_of(mib * MIB),
    };
    let cases = [
        case("gzip", 4),
        case("gzip", 64),
        case("zstd", 24),
        case("zstd", 64),
        case("xz", 4),
        case("xz", 72),
        case("xz", 136),
    ];

    let mut bufs = Buffers {
        window: HeapBuffers::new(),
        frame: vec![0u8; FRAME],
        scratch: vec![0u8; FRAME],
        input: vec![0u8; FRAME],
    };
    eprintln!(
        "caller-owned, allocated before measuring: workspace {} + arena {ARENA_SIZE_FULL} + \
         frame {FRAME} + scratch {FRAME} + read buffer {FRAME} bytes",
        std::mem::size_of::<Workspace>()
    );

    // The counter sees allocations: a 1 MiB vector shows up in the peak.
    let base = reset_peak();
    let probe = std::hint::black_box(vec![1u8; MIB]);
    assert!(
        PEAK.load(Ordering::SeqCst) - base >= MIB,
        "allocator not counting"
    );
    drop(probe);

    let mut peaks = Vec::new();
    for c in &cases {
        // Room after the image, so that writing past it would be seen in the digest length.
        let m = install(&c.artifact, (c.image_len + FRAME) as u64, &mut bufs);
        eprintln!(
            "{:>4} {:>3} MiB: peak {:>9} bytes above start, written {} skipped {}",
            c.codec,
            c.image_len / MIB,
            m.peak,
            m.stats.written,
            m.stats.skipped
        );
        let name = c.artifact.display();
        assert_eq!(
            m.device_end, c.image_len as u64,
            "{name}: bytes on the device"
        );
        assert!(
            m.digest == c.image_digest,
            "{name}: the partition does not hold the image"
        );
        assert_eq!(m.stats.received, c.image_len as u64, "{name}: received");
        assert!(
            m.stats.written > 0 && m.stats.skipped > 0,
            "{name}: expected both written and skipped (zero) frames: {:?}",
            m.stats
        );
        assert!(m.syncs >= 1, "{name}: the image was not synced");
        assert_eq!(m.leaked, 0, "{name}: heap still held after the install");
        let limit = budget(&doc, c.codec);
        assert!(
            m.peak <= limit,
            "{name}: peak heap {} bytes exceeds the budget of {limit} (memory-budget.md)",
            m.peak
        );
        peaks.push((c.codec, c.image_len, m.peak));
    }

    // Not proportional: the large run of each codec peaks at most `slack` above the small one.
    let slack = budget(&doc, GROWTH_ROW);
    let peak_of = |codec: &str, mib: usize| {
        peaks
            .iter()
            .find(|(c, len, _)| *c == codec && *len == mib * MIB)
            .map(|&(_, _, p)| p)
            .expect("measured")
    };
    for (codec, small, large) in [("gzip", 4, 64), ("zstd", 24, 64), ("xz", 72, 136)] {
        let (s, l) = (peak_of(codec, small), peak_of(codec, large));
        assert!(
            l <= s + slack,
            "{codec}: {large} MiB peaks at {l} bytes, more than {slack} above the {small} MiB \
             run ({s}): heap grows with the Artifact"
        );
    }

    // xz grows its dictionary only as far as the output (the data tar: the image plus a
    // header and two end blocks), so a 4 MiB image needs a small fraction of the declared
    // 64 MiB. The allowance is the xz budget's part beyond the dictionary.
    let xz_constant = budget(&doc, "xz").saturating_sub(LZMA_DICT);
    let tar_output = 4 * MIB + 3 * 512;
    let small = peak_of("xz", 4);
    assert!(
        small <= tar_output + xz_constant,
        "xz 4 MiB: peak {small} bytes, more than the {tar_output} bytes of output plus \
         {xz_constant}: the dictionary grew beyond the output"
    );
}
