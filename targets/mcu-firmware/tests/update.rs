//! The firmware's `update` and `commit` on the host: the same generic functions the Cortex-M
//! binaries run, with the firmware's own buffer sizes, over an in-memory NOR flash (erase to
//! 0xFF, program ANDs bits, alignment enforced) behind the core's `NorPartition` and
//! `FlashBootEnv`, fed from a file in the firmware's read size. Artifacts come from the real
//! mender-artifact.
#![allow(clippy::result_large_err)]
use embedded_storage::nor_flash::{
    ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};
use mender_core::codec::SmallWorkspace;
use mender_core::flash::{FlashBootEnv, NorPartition};
use mender_core::hal::BootEnv as _;
use mender_core::install;
use mender_core::reader::Buffers;
use mender_mcu_firmware::{
    commit, update, DeviceInfo, FwError, Memory, Report, Slots, Source, ARENA_LEN, CHUNK_LEN,
    DEVICE_TYPE, FRAME_LEN, SLOT_A, SLOT_B,
};
use mender_tests::{require_tool, run_ok, Rng, TempDir};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

const ERASE: usize = 4096;
const WRITE: usize = 4;
const SLOT_LEN: usize = 32 * ERASE;

/// NOR flash in memory, with the media rules a driver sees: erase whole sectors to 0xFF,
/// program aligned words by clearing bits only.
struct MemNor {
    data: Vec<u8>,
    erases: usize,
}

#[derive(Debug)]
enum NorError {
    NotAligned,
    OutOfBounds,
    PowerLost,
}

std::thread_local! {
    /// The power supply of this test's chips: `None` never fails; `Some(n)` lets `n` more
    /// erase/program operations through, and the next one is cut half-way (half of its bytes
    /// programmed, or half of its range erased), after which every operation fails.
    static POWER: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

/// Whether the next erase/program runs whole (`true`) or is the one the power cut hits.
fn power_holds() -> Result<bool, NorError> {
    POWER.with(|p| match p.get() {
        None => Ok(true),
        Some(0) => {
            p.set(Some(usize::MAX));
            Ok(false)
        }
        Some(usize::MAX) => Err(NorError::PowerLost),
        Some(n) => {
            p.set(Some(n - 1));
            Ok(true)
        }
    })
}

impl NorFlashError for NorError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            NorError::NotAligned => NorFlashErrorKind::NotAligned,
            NorError::OutOfBounds => NorFlashErrorKind::OutOfBounds,
            NorError::PowerLost => NorFlashErrorKind::Other,
        }
    }
}

impl MemNor {
    /// A chip of `len` bytes holding old content (not erased).
    fn new(len: usize, seed: u64) -> MemNor {
        let mut data = vec![0; len];
        Rng(seed).fill(&mut data);
        MemNor { data, erases: 0 }
    }

    fn erased(len: usize) -> MemNor {
        MemNor {
            data: vec![0xFF; len],
            erases: 0,
        }
    }

    fn range(&self, offset: u32, len: usize, align: usize) -> Result<usize, NorError> {
        let start = offset as usize;
        let end = start.checked_add(len).ok_or(NorError::OutOfBounds)?;
        if end > self.data.len() {
            return Err(NorError::OutOfBounds);
        }
        if !start.is_multiple_of(align) || !len.is_multiple_of(align) {
            return Err(NorError::NotAligned);
        }
        Ok(start)
    }
}

impl ErrorType for MemNor {
    type Error = NorError;
}

impl ReadNorFlash for MemNor {
    const READ_SIZE: usize = 1;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), NorError> {
        let at = self.range(offset, bytes.len(), 1)?;
        bytes.copy_from_slice(&self.data[at..at + bytes.len()]);
        Ok(())
    }

    fn capacity(&self) -> usize {
        self.data.len()
    }
}

impl NorFlash for MemNor {
    const WRITE_SIZE: usize = WRITE;
    const ERASE_SIZE: usize = ERASE;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), NorError> {
        let len = to.checked_sub(from).ok_or(NorError::OutOfBounds)? as usize;
        let at = self.range(from, len, ERASE)?;
        if !power_holds()? {
            self.data[at..at + len / 2].fill(0xFF);
            return Err(NorError::PowerLost);
        }
        self.data[at..at + len].fill(0xFF);
        self.erases += len / ERASE;
        Ok(())
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), NorError> {
        let at = self.range(offset, bytes.len(), WRITE)?;
        let whole = power_holds()?;
        let n = if whole { bytes.len() } else { bytes.len() / 2 };
        for (old, new) in self.data[at..at + n].iter_mut().zip(bytes) {
            *old &= new;
        }
        if whole {
            Ok(())
        } else {
            Err(NorError::PowerLost)
        }
    }
}

/// The Artifact read from a file, as the firmware reads it through semihosting.
struct FileSource(std::fs::File);

impl Source for FileSource {
    type Error = std::io::Error;

    fn read(&mut self, buf: &mut [u8]) -> Result<usize, std::io::Error> {
        self.0.read(buf)
    }
}

/// A device: two slot chips and the boot environment's two-sector chip.
struct Board {
    a: NorPartition<MemNor>,
    b: NorPartition<MemNor>,
    env: FlashBootEnv<MemNor>,
}

impl Board {
    fn new() -> Board {
        Board {
            a: NorPartition::new(MemNor::new(SLOT_LEN, 1)),
            b: NorPartition::new(MemNor::new(SLOT_LEN, 2)),
            env: FlashBootEnv::new(MemNor::erased(2 * ERASE)),
        }
    }

    fn slot(&mut self, part: u32) -> &[u8] {
        let nor = if part == SLOT_A { &self.a } else { &self.b };
        &nor.flash().data
    }

    fn env_bytes(&self) -> Vec<u8> {
        self.env.flash().data.clone()
    }

    fn vars(&mut self) -> (Option<u32>, bool) {
        (
            install::boot_part(&mut self.env).expect("boot part"),
            install::upgrade_available(&mut self.env).expect("upgrade_available"),
        )
    }

    /// Runs the firmware's update with its own buffer sizes; `gzip` lends a workspace as the
    /// `fw-gzip` variant does.
    fn update(&mut self, artifact: &Path, gzip: bool) -> Result<Report, FwError> {
        let mut arena = [0u8; ARENA_LEN];
        let mut frame = [0u8; FRAME_LEN];
        let mut chunk = [0u8; CHUNK_LEN];
        let mut ws = gzip.then(|| Box::new(SmallWorkspace::new()));
        let mem = Memory {
            buffers: Buffers {
                arena: &mut arena,
                workspace: ws.as_deref_mut().map(Into::into),
            },
            frame: &mut frame,
            chunk: &mut chunk,
        };
        let file = std::fs::File::open(artifact).expect("artifact file");
        update(
            &mut FileSource(file),
            mem,
            Slots {
                a: &mut self.a,
                b: &mut self.b,
            },
            &mut self.env,
            DeviceInfo {
                device_type: DEVICE_TYPE,
            },
        )
    }
}

struct Fixture {
    dir: TempDir,
    image: Vec<u8>,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = TempDir::new("mcu-firmware");
        // Not a multiple of the sector or page size, and not compressible to nothing.
        let mut image = vec![0u8; 70_001];
        Rng(7).fill(&mut image[..40_000]);
        std::fs::write(dir.join("rootfs.img"), &image).expect("image");
        Fixture { dir, image }
    }

    /// `mender-artifact write rootfs-image` of the image with `args`, as file `name`.
    fn artifact(&self, name: &str, args: &[&str]) -> PathBuf {
        let tool = require_tool("mender-artifact");
        run_ok(
            Command::new(tool)
                .args(["write", "rootfs-image", "-f", "rootfs.img", "-n", "fw-v2"])
                .args(args)
                .arg("-o")
                .arg(name)
                .current_dir(self.dir.path()),
        );
        self.dir.join(name)
    }

    fn plain(&self) -> PathBuf {
        self.artifact(
            "plain.mender",
            &["-t", DEVICE_TYPE, "--compression", "none"],
        )
    }

    fn gzip(&self) -> PathBuf {
        self.artifact("gzip.mender", &["-t", DEVICE_TYPE])
    }

    fn write(&self, name: &str, data: &[u8]) -> PathBuf {
        let path = self.dir.join(name);
        std::fs::write(&path, data).expect("write artifact");
        path
    }
}

#[test]
fn plain_and_gzip_artifacts_install_into_the_inactive_slot() {
    let f = Fixture::new();
    for (artifact, gzip) in [(f.plain(), false), (f.gzip(), true), (f.plain(), true)] {
        let mut board = Board::new();
        let other = board.slot(SLOT_A).to_vec();
        let report = board.update(&artifact, gzip).expect("update");
        let len = std::fs::metadata(&artifact).expect("artifact").len();
        assert_eq!(report.slot, SLOT_B, "unset mender_boot_part runs slot A");
        assert_eq!(report.artifact_bytes, len);
        assert_eq!(report.stats.received, f.image.len() as u64);
        let slot = board.slot(SLOT_B);
        assert_eq!(
            &slot[..f.image.len()],
            &f.image[..],
            "{}",
            artifact.display()
        );
        assert_eq!(
            board.slot(SLOT_A),
            &other[..],
            "the running slot was written"
        );
        assert_eq!(board.vars(), (Some(SLOT_B), true));

        // The new slot boots and commits; the next update goes to the other slot.
        assert_eq!(commit(&mut board.env).expect("commit"), SLOT_B);
        assert_eq!(board.vars(), (Some(SLOT_B), false));
        let report = board.update(&artifact, gzip).expect("second update");
        assert_eq!(report.slot, SLOT_A);
        assert_eq!(&board.slot(SLOT_A)[..f.image.len()], &f.image[..]);
        assert_eq!(board.vars(), (Some(SLOT_A), true));
    }
}

/// Runs an update that must fail with `needle` in its text, and checks that the boot
/// environment's flash did not change by a single byte.
fn refused(board: &mut Board, artifact: &Path, gzip: bool, needle: &str) -> FwError {
    let before = board.env_bytes();
    let vars = board.vars();
    let err = board.update(artifact, gzip).expect_err(needle);
    let text = err.to_string();
    assert!(
        text.contains(needle),
        "'{text}' does not contain '{needle}'"
    );
    assert_eq!(
        board.env_bytes(),
        before,
        "{needle}: boot environment changed"
    );
    assert_eq!(board.vars(), vars);
    err
}

#[test]
fn failures_leave_the_boot_environment_untouched() {
    let f = Fixture::new();
    let plain_path = f.plain();
    let plain = std::fs::read(&plain_path).expect("plain");

    let wrong = f.artifact("wrong.mender", &["-t", "other-board"]);
    let mut board = Board::new();
    let slot_before = board.slot(SLOT_B).to_vec();
    refused(
        &mut board,
        &wrong,
        true,
        "not compatible with device mps2-an386",
    );
    assert_eq!(
        board.slot(SLOT_B),
        &slot_before[..],
        "wrote before refusing"
    );

    // Depends on an installed Artifact name: this device keeps no record, so it is refused.
    let depends = f.artifact(
        "depends.mender",
        &["-t", DEVICE_TYPE, "--compression", "none", "-N", "fw-v1"],
    );
    refused(
        &mut Board::new(),
        &depends,
        false,
        "Artifact dependency \"artifact_name\" not satisfied",
    );

    // One flipped bit in the payload: everything is written, the checksum fails at the end.
    let at = plain
        .windows(64)
        .position(|w| w == &f.image[1000..1064])
        .expect("image bytes in the uncompressed Artifact");
    let mut corrupt = plain.clone();
    corrupt[at + 10] ^= 0x01;
    let corrupt = f.write("corrupt.mender", &corrupt);
    refused(&mut Board::new(), &corrupt, false, "invalid checksum");

    for cut in [plain.len() / 3, at + 40_000, plain.len() - 1024] {
        let truncated = f.write("truncated.mender", &plain[..cut]);
        refused(&mut Board::new(), &truncated, false, "unexpected EOF");
    }

    let gzip = f.gzip();
    let mut board = Board::new();
    let slot_before = board.slot(SLOT_B).to_vec();
    refused(
        &mut board,
        &gzip,
        false,
        "header.tar.gz: compression Gzip needs a decode workspace, and this reader has none (uncompressed Artifacts only)",
    );
    assert_eq!(board.slot(SLOT_B), &slot_before[..]);
}

#[test]
fn an_uncommitted_update_blocks_the_next_and_commit_needs_one() {
    let f = Fixture::new();
    let plain = f.plain();
    let mut board = Board::new();
    let err = commit(&mut board.env).expect_err("nothing to commit");
    assert!(
        err.to_string()
            .contains("Expected \"upgrade_available\" flag to be true"),
        "{err}"
    );
    board.update(&plain, false).expect("update");
    let slot_a = board.slot(SLOT_A).to_vec();
    let err = refused(&mut board, &plain, false, "waits for commit");
    assert_eq!(err, FwError::Pending);
    assert_eq!(board.slot(SLOT_A), &slot_a[..]);
}

#[test]
fn a_boot_environment_naming_another_slot_is_refused() {
    let f = Fixture::new();
    let plain = f.plain();
    let mut board = Board::new();
    board
        .env
        .set(&[("mender_boot_part", "5")])
        .expect("set boot part");
    let err = refused(&mut board, &plain, false, "mender_boot_part=5");
    assert_eq!(err, FwError::UnknownSlot(5));
}

/// The firmware's arena holds a rootfs Artifact with the usual extras (several device types,
/// provides, clears, depends on a device type); a much smaller one fails with the limit named.
#[test]
fn the_firmware_arena_is_enough_and_too_little_is_clear() {
    let f = Fixture::new();
    let rich = f.artifact(
        "rich.mender",
        &[
            "-t",
            DEVICE_TYPE,
            "-t",
            "mps2-an385",
            "-t",
            "mps2-an500",
            "--compression",
            "none",
            "-p",
            "firmware.flavour:release",
            "-g",
            "fw-group",
        ],
    );
    let mut board = Board::new();
    board.update(&rich, false).expect("rich Artifact");

    let mut arena = [0u8; 256];
    let mut frame = [0u8; FRAME_LEN];
    let mut chunk = [0u8; CHUNK_LEN];
    let mem = Memory {
        buffers: Buffers {
            arena: &mut arena,
            workspace: None,
        },
        frame: &mut frame,
        chunk: &mut chunk,
    };
    let mut board = Board::new();
    let before = board.env_bytes();
    let file = std::fs::File::open(&rich).expect("artifact");
    let err = update(
        &mut FileSource(file),
        mem,
        Slots {
            a: &mut board.a,
            b: &mut board.b,
        },
        &mut board.env,
        DeviceInfo {
            device_type: DEVICE_TYPE,
        },
    )
    .expect_err("256-byte arena");
    assert!(err.to_string().contains("Buffers::arena"), "{err}");
    assert_eq!(board.env_bytes(), before);
}

/// Power is cut at every erase and program operation of an update (the slot's sectors and
/// pages, the boot environment's switch), each cut half-applying the operation. After each
/// cut the device "reboots": the environment read anew from its flash is either the old one
/// (slot A runs, nothing pending), or the new one (slot B with `upgrade_available=1`), and
/// then slot B holds the whole image: never a mix, never an unreadable environment.
#[test]
fn a_power_cut_at_any_flash_operation_leaves_the_old_or_the_new_state() {
    let f = Fixture::new();
    let artifact = f.plain();
    // The operations of an uninterrupted update.
    POWER.with(|p| p.set(Some(usize::MAX - 1)));
    Board::new().update(&artifact, false).expect("update");
    let total = usize::MAX - 1 - POWER.with(|p| p.get()).expect("counting");
    POWER.with(|p| p.set(None));
    assert!(total > 1000, "only {total} flash operations");

    let (mut old, mut new) = (0, 0);
    for cut in 0..=total {
        let mut board = Board::new();
        POWER.with(|p| p.set(Some(cut)));
        let result = board.update(&artifact, false);
        POWER.with(|p| p.set(None));
        if cut < total {
            assert!(
                result.is_err(),
                "cut {cut} of {total}: the update succeeded"
            );
        }
        let mut env = FlashBootEnv::new(MemNor {
            data: board.env_bytes(),
            erases: 0,
        });
        let part = install::boot_part(&mut env);
        let pending = install::upgrade_available(&mut env);
        match (part, pending) {
            (Ok(None), Ok(false)) => old += 1,
            (Ok(Some(SLOT_B)), Ok(true)) => {
                assert!(
                    board.slot(SLOT_B)[..f.image.len()] == f.image[..],
                    "cut {cut}: slot B selected without the whole image"
                );
                new += 1;
            }
            other => panic!("cut {cut} of {total}: environment {other:?}"),
        }
    }
    assert!(old > 0 && new > 0, "old {old}, new {new}");
}
