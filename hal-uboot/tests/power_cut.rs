//! Power cuts at every point of a `set`: a storage that stops after N units (one per byte
//! written, one per sync) and then decides what of the un-synced data survived.
#![cfg(feature = "std")]

use mender_hal_uboot::device::{Error, Location, Storage, UBootEnv};
use mender_hal_uboot::image::{serialize, Env, EnvError, FlagScheme, ImageError};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io;
use std::rc::Rc;

const SIZE: usize = 0x200;

/// What a cut leaves of the writes since the last sync.
#[derive(Clone, Copy, Debug)]
enum Cut {
    /// Everything written so far reached the media, the torn write included.
    KeepWritten,
    /// Nothing since the last sync survived.
    DropUnsynced,
    /// Only the last (torn) write survived: the device reordered it before earlier ones.
    OnlyLastWrite,
}

struct Disk {
    durable: Vec<u8>,
    volatile: Vec<u8>,
    /// Writes since the last sync, in order.
    pending: Vec<(usize, Vec<u8>)>,
    budget: usize,
    mode: Cut,
    dead: bool,
}

impl Disk {
    fn power_cut(&mut self) -> io::Error {
        self.dead = true;
        let survivors = match self.mode {
            Cut::KeepWritten => &self.pending[..],
            Cut::DropUnsynced => &[][..],
            Cut::OnlyLastWrite => &self.pending[self.pending.len().saturating_sub(1)..],
        };
        for (offset, data) in survivors {
            self.durable[*offset..offset + data.len()].copy_from_slice(data);
        }
        io::Error::other("power cut")
    }
}

#[derive(Clone)]
struct Faulty(Rc<RefCell<Disk>>);

impl Faulty {
    fn new(image: Vec<u8>, budget: usize, mode: Cut) -> Faulty {
        Faulty(Rc::new(RefCell::new(Disk {
            volatile: image.clone(),
            durable: image,
            pending: Vec::new(),
            budget,
            mode,
            dead: false,
        })))
    }

    fn durable(&self) -> Vec<u8> {
        self.0.borrow().durable.clone()
    }
}

impl Storage for Faulty {
    fn size(&mut self) -> io::Result<u64> {
        Ok(self.0.borrow().volatile.len() as u64)
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let disk = self.0.borrow();
        let src = disk
            .volatile
            .get(offset as usize..offset as usize + buf.len())
            .ok_or(io::ErrorKind::UnexpectedEof)?;
        buf.copy_from_slice(src);
        Ok(())
    }

    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        let mut disk = self.0.borrow_mut();
        if disk.dead {
            return Err(io::Error::other("no power"));
        }
        let offset = offset as usize;
        let n = data.len().min(disk.budget);
        disk.budget -= n;
        disk.volatile[offset..offset + n].copy_from_slice(&data[..n]);
        disk.pending.push((offset, data[..n].to_vec()));
        if n < data.len() {
            return Err(disk.power_cut());
        }
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        let mut disk = self.0.borrow_mut();
        if disk.dead {
            return Err(io::Error::other("no power"));
        }
        if disk.budget == 0 {
            return Err(disk.power_cut());
        }
        disk.budget -= 1;
        disk.durable = disk.volatile.clone();
        disk.pending.clear();
        Ok(())
    }
}

type Vars = BTreeMap<Vec<u8>, Vec<u8>>;

fn vars(pairs: &[(&str, &str)]) -> Vars {
    pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect()
}

fn env_on(disk: &Faulty, redundant: bool, scheme: FlagScheme) -> UBootEnv<Faulty> {
    let second = redundant.then(|| Location {
        storage: disk.clone(),
        offset: SIZE as i64,
    });
    let first = Location {
        storage: disk.clone(),
        offset: 0,
    };
    UBootEnv::new(first, second, SIZE as u64, scheme)
        .unwrap()
        .with_lock_path(None)
}

const OLD: &[(&str, &str)] = &[
    ("bootcount", "2"),
    ("bootlimit", "1"),
    ("mender_boot_part", "2"),
    ("mender_boot_part_hex", "2"),
    ("upgrade_available", "0"),
];
/// The rootfs-image install step plus a removal.
const CHANGE: &[(&str, &str)] = &[
    ("upgrade_available", "1"),
    ("mender_boot_part", "3"),
    ("mender_boot_part_hex", "3"),
    ("bootcount", "0"),
    ("bootlimit", ""),
];

/// `OLD` with `CHANGE` applied, sorted.
const CHANGE_APPLIED: &[(&str, &str)] = &[
    ("bootcount", "0"),
    ("mender_boot_part", "3"),
    ("mender_boot_part_hex", "3"),
    ("upgrade_available", "1"),
];

fn new_vars() -> Vars {
    let mut v = vars(OLD);
    for (n, value) in CHANGE {
        if value.is_empty() {
            v.remove(n.as_bytes());
        } else {
            v.insert(n.as_bytes().to_vec(), value.as_bytes().to_vec());
        }
    }
    v
}

fn copy(pairs: &[(&str, &str)], flag: Option<u8>) -> Vec<u8> {
    let mut image = vec![0u8; SIZE];
    serialize(&mut image, flag, &Env::EMPTY, pairs).unwrap();
    image
}

/// Cuts power after every possible number of units of one `set` (until one finishes) and
/// returns, per cut, what a fresh reader sees after power comes back.
fn cut_everywhere(
    initial: &[u8],
    redundant: bool,
    scheme: FlagScheme,
    mode: Cut,
) -> Vec<Result<Vars, Error>> {
    let mut seen = Vec::new();
    for budget in 0.. {
        let disk = Faulty::new(initial.to_vec(), budget, mode);
        let result = env_on(&disk, redundant, scheme).set(CHANGE);
        let rebooted = Faulty::new(disk.durable(), usize::MAX, mode);
        seen.push(env_on(&rebooted, redundant, scheme).read_all());
        if result.is_ok() {
            return seen;
        }
        assert!(budget < 4 * SIZE, "set never completed");
    }
    unreachable!()
}

fn check_redundant(initial: &[u8], scheme: FlagScheme) {
    let (old, new) = (vars(OLD), new_vars());
    for mode in [Cut::KeepWritten, Cut::DropUnsynced, Cut::OnlyLastWrite] {
        let seen = cut_everywhere(initial, true, scheme, mode);
        let (mut olds, mut news) = (0, 0);
        for (budget, outcome) in seen.iter().enumerate() {
            match outcome {
                Ok(v) if *v == old => olds += 1,
                Ok(v) if *v == new => news += 1,
                other => panic!("{scheme:?} {mode:?}, cut after {budget} units: {other:?}"),
            }
        }
        // The last run completed, so it reads new; a cut before anything is written reads old.
        assert!(matches!(seen.last(), Some(Ok(v)) if *v == new));
        assert!(matches!(seen.first(), Some(Ok(v)) if *v == old));
        if let Cut::DropUnsynced = mode {
            // Nothing un-synced survives, and a synced new copy alone is not yet current
            // (NOR: tie until the old flag is cleared), so only the finished run reads new.
            assert_eq!((olds, news), (seen.len() - 1, 1), "{scheme:?}");
        }
    }
}

#[test]
fn redundant_incremental_is_all_or_nothing() {
    // Copy 1 current (flag 5) with OLD; copy 2 stale (flag 4).
    let mut initial = copy(OLD, Some(5));
    initial.extend(copy(&[("stale", "1")], Some(4)));
    check_redundant(&initial, FlagScheme::Incremental);
}

#[test]
fn redundant_incremental_across_the_flag_wrap() {
    let mut initial = copy(&[("stale", "1")], Some(254));
    initial.extend(copy(OLD, Some(255)));
    check_redundant(&initial, FlagScheme::Incremental);
}

#[test]
fn redundant_boolean_nor_is_all_or_nothing() {
    // NOR: copy 1 active, copy 2 obsolete. The set writes copy 2 with ACTIVE, syncs, then
    // clears copy 1's flag: every cut in between must still read one consistent side.
    let mut initial = copy(OLD, Some(1));
    initial.extend(copy(&[("stale", "1")], Some(0)));
    check_redundant(&initial, FlagScheme::Boolean);
    let disk = Faulty::new(initial, usize::MAX, Cut::KeepWritten);
    env_on(&disk, true, FlagScheme::Boolean)
        .set(CHANGE)
        .unwrap();
    let done = disk.durable();
    assert_eq!((done[4], done[SIZE + 4]), (0, 1));
}

/// A single copy is rewritten in place, so it cannot be atomic. What a cut leaves must read
/// as the old values, the new values, or a bad-CRC error — never a mix and never garbage.
#[test]
fn single_copy_cut_reads_as_bad_crc_not_garbage() {
    let (old, new) = (vars(OLD), new_vars());
    for mode in [Cut::KeepWritten, Cut::DropUnsynced, Cut::OnlyLastWrite] {
        let (before, after) = (copy(OLD, None), copy(CHANGE_APPLIED, None));
        let seen = cut_everywhere(&before, false, FlagScheme::Incremental, mode);
        let mut bad_crc = 0;
        for (budget, outcome) in seen.iter().enumerate() {
            match outcome {
                Ok(v) if *v == old || *v == new => {}
                Err(Error::Env(EnvError::Image(ImageError::BadCrc { .. }))) => bad_crc += 1,
                other => panic!("{mode:?}, cut after {budget} units: {other:?}"),
            }
        }
        // A cut after b bytes leaves after[..b] + before[b..]: torn exactly while b lies past
        // the first and not past the last differing byte.
        let differs = |i: &usize| before[*i] != after[*i];
        let first = (0..SIZE).find(differs).unwrap();
        let last = (0..SIZE).rev().find(differs).unwrap();
        match mode {
            // Un-synced data is lost: the old copy stays intact.
            Cut::DropUnsynced => assert_eq!(bad_crc, 0),
            _ => assert_eq!(bad_crc, last - first, "{mode:?}"),
        }
    }
    // The error a torn single copy gives says what happened.
    let mut torn = copy(OLD, None);
    torn[40] ^= 0xff;
    let disk = Faulty::new(torn, usize::MAX, Cut::KeepWritten);
    let err = env_on(&disk, false, FlagScheme::Incremental)
        .read_all()
        .unwrap_err();
    assert!(err.to_string().contains("bad CRC"), "{err}");
}
