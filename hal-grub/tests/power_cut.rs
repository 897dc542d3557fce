//! Power loss at every byte of a `set`: a file layer that stops after N written bytes and then
//! loses, or keeps, whatever was not fsynced. After every cut GRUB's boot script (emulated
//! below) and the next `get` must both see all old or all new values, and the next `set` must
//! succeed and leave two healthy, identical copies.
#![cfg(feature = "std")]

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use mender_core::hal::BootEnv;
use mender_hal_grub::block::{self, EnvBlock};
use mender_hal_grub::mender::{Fs, GrubEnv, COPY_DIRS, ENV, LOCK, LOCK_SUM};

const DIR: &str = "/boot/efi/grub-mender-grubenv";
const FACTORY: [(&str, &str); 5] = [
    ("bootcount", "0"),
    ("mender_boot_part", "2"),
    ("upgrade_available", "0"),
    ("mender_boot_part_hex", "2"),
    ("mender_systemd_machine_id", "0123456789abcdef"),
];
/// An install, plus a removal and a value with escapes.
const UPDATE: [(&str, &str); 6] = [
    ("mender_boot_part", "3"),
    ("mender_boot_part_hex", "3"),
    ("upgrade_available", "1"),
    ("bootcount", "0"),
    ("mender_systemd_machine_id", ""),
    ("note", "a\\b\nc"),
];
const NAMES: [&str; 6] = [
    "bootcount",
    "mender_boot_part",
    "upgrade_available",
    "mender_boot_part_hex",
    "mender_systemd_machine_id",
    "note",
];

type Vars = BTreeMap<String, String>;

#[derive(Debug, Clone, Default)]
struct Node {
    /// What survives a power cut; `None`: the file would not exist.
    durable: Option<Vec<u8>>,
    /// What the running system reads.
    live: Vec<u8>,
}

/// In-memory files with a write budget: once it is spent, every further operation fails (the
/// power is gone), and [`MemFs::after_cut`] lists what the disk may hold.
#[derive(Debug, Clone, Default)]
struct MemFs {
    files: BTreeMap<PathBuf, Node>,
    budget: Option<usize>,
    written: usize,
    dead: bool,
    locked: bool,
    log: Vec<String>,
}

fn cut() -> io::Error {
    io::Error::other("power cut")
}

impl MemFs {
    fn alive(&self) -> io::Result<()> {
        if self.dead {
            return Err(cut());
        }
        Ok(())
    }

    /// Every disk state after the cut: each file with unsynced changes keeps them or loses them
    /// (a torn write keeps its written prefix over the old bytes).
    fn after_cut(&self) -> Vec<MemFs> {
        let pending: Vec<&PathBuf> = self
            .files
            .iter()
            .filter(|(_, n)| n.durable.as_ref() != Some(&n.live))
            .map(|(p, _)| p)
            .collect();
        assert!(
            pending.len() <= 2,
            "more unsynced files than the protocol allows: {pending:?}"
        );
        (0..1u32 << pending.len())
            .map(|mask| {
                let mut files = BTreeMap::new();
                for (path, node) in &self.files {
                    let i = pending.iter().position(|p| *p == path);
                    let kept = match i {
                        Some(i) if mask & (1 << i) != 0 => Some(node.live.clone()),
                        _ => node.durable.clone(),
                    };
                    if let Some(data) = kept {
                        files.insert(
                            path.clone(),
                            Node {
                                durable: Some(data.clone()),
                                live: data,
                            },
                        );
                    }
                }
                MemFs {
                    files,
                    ..MemFs::default()
                }
            })
            .collect()
    }

    fn content(&self, copy: usize, name: &str) -> Option<&[u8]> {
        self.files.get(&path(copy, name)).map(|n| n.live.as_slice())
    }

    fn put(&mut self, copy: usize, name: &str, data: &[u8]) {
        self.files.insert(
            path(copy, name),
            Node {
                durable: Some(data.to_vec()),
                live: data.to_vec(),
            },
        );
    }
}

impl Fs for MemFs {
    fn read(&mut self, path: &Path) -> io::Result<Vec<u8>> {
        self.alive()?;
        self.files
            .get(path)
            .map(|n| n.live.clone())
            .ok_or_else(|| io::ErrorKind::NotFound.into())
    }

    fn write(&mut self, path: &Path, data: &[u8]) -> io::Result<()> {
        self.alive()?;
        assert!(self.locked, "write outside the lock");
        self.log.push(format!("write {}", path.display()));
        let n = self.budget.map_or(data.len(), |b| b.min(data.len()));
        let node = self.files.entry(path.to_owned()).or_default();
        if node.live.len() < n {
            node.live.resize(n, 0);
        }
        node.live[..n].copy_from_slice(&data[..n]);
        self.written += n;
        if let Some(budget) = &mut self.budget {
            *budget -= n;
        }
        if n < data.len() {
            self.dead = true;
            return Err(cut());
        }
        node.live.truncate(data.len());
        Ok(())
    }

    fn sync(&mut self, path: &Path) -> io::Result<()> {
        self.alive()?;
        if self.budget == Some(0) {
            self.dead = true;
            return Err(cut());
        }
        self.log.push(format!("sync {}", path.display()));
        let node = self.files.get_mut(path).ok_or(io::ErrorKind::NotFound)?;
        node.durable = Some(node.live.clone());
        Ok(())
    }

    fn create_dir_all(&mut self, _: &Path) -> io::Result<()> {
        self.alive()
    }

    fn lock(&mut self) -> io::Result<()> {
        self.alive()?;
        assert!(!self.locked, "lock taken twice");
        self.locked = true;
        Ok(())
    }

    fn unlock(&mut self) {
        self.locked = false;
    }
}

fn path(copy: usize, name: &str) -> PathBuf {
    Path::new(DIR).join(COPY_DIRS[copy - 1]).join(name)
}

/// GRUB's `load_env --file F names…`: nothing if the file is missing or not a block; else the
/// listed variables up to where the block breaks. Returns whether the whole block was read.
fn grub_load(fs: &MemFs, path: &Path, names: &[&str], vars: &mut Vars) -> bool {
    let Some(node) = fs.files.get(path) else {
        return false;
    };
    let Ok(block) = EnvBlock::new(&node.live) else {
        return false;
    };
    for var in block.vars() {
        let Ok(var) = var else { return false };
        let name = String::from_utf8(var.name().to_vec()).unwrap_or_default();
        if names.contains(&name.as_str()) {
            vars.insert(
                name,
                String::from_utf8(var.value().collect()).unwrap_or_default(),
            );
        }
    }
    true
}

/// What GRUB boots with (grub-mender-grubenv `mender_check_and_restore_env` then
/// `mender_load_env`): env1 unless lock2 says editing, else env2 if lock1 says editing.
fn grub_view(fs: &MemFs) -> Result<Vars, String> {
    let editing_zero = |copy| {
        let mut lock = Vars::from([("editing".to_owned(), "invalid".to_owned())]);
        grub_load(fs, &path(copy, LOCK), &["editing"], &mut lock);
        lock["editing"] == "0"
    };
    let copy = if !editing_zero(2) || editing_zero(1) {
        1
    } else {
        2
    };
    let mut vars = Vars::new();
    if !grub_load(fs, &path(copy, ENV), &NAMES, &mut vars) {
        return Err(format!("GRUB reads a broken env{copy}"));
    }
    Ok(vars)
}

/// What this crate's `BootEnv::get` returns.
fn our_view(fs: MemFs) -> Result<Vars, String> {
    let mut env = GrubEnv::with_fs(DIR, fs);
    let mut vars = Vars::new();
    for name in NAMES {
        let mut buf = [0; 256];
        match env.get(name, &mut buf) {
            Ok(Some(len)) => {
                vars.insert(
                    name.to_owned(),
                    String::from_utf8(buf[..len].to_vec()).unwrap(),
                );
            }
            Ok(None) => {}
            Err(e) => return Err(format!("get({name}): {e}")),
        }
    }
    Ok(vars)
}

fn apply(old: &Vars, update: &[(&str, &str)]) -> Vars {
    let mut new = old.clone();
    for (name, value) in update {
        match value.is_empty() {
            true => new.remove(*name),
            false => new.insert(name.to_string(), value.to_string()),
        };
    }
    new
}

fn ours(fs: &mut MemFs) -> Result<(), String> {
    let mut env = GrubEnv::with_fs(DIR, std::mem::take(fs));
    let result = env.set(&UPDATE);
    *fs = env.into_fs();
    result.map_err(|e| e.to_string())
}

/// Cuts `update` after every possible byte count and checks every resulting disk state.
/// Returns the number of states checked, or the first violation.
fn check_every_cut(
    start: &MemFs,
    update: fn(&mut MemFs) -> Result<(), String>,
) -> Result<usize, String> {
    let old = grub_view(start)?;
    if our_view(start.clone())? != old {
        return Err("start state: get disagrees with GRUB".into());
    }
    let new = apply(&old, &UPDATE);
    let mut full = start.clone();
    update(&mut full)?;
    let total = full.written;
    let mut states = 0;
    for n in 0..=total {
        let mut fs = start.clone();
        fs.budget = Some(n);
        if update(&mut fs).is_ok() {
            return Err(format!("set succeeded with {n} of {total} bytes"));
        }
        for (i, disk) in fs.after_cut().into_iter().enumerate() {
            let at = format!("cut after {n} of {total} bytes, disk state {i}");
            let grub = grub_view(&disk).map_err(|e| format!("{at}: {e}"))?;
            if grub != old && grub != new {
                return Err(format!("{at}: GRUB sees a mix: {grub:?}"));
            }
            let got = our_view(disk.clone()).map_err(|e| format!("{at}: {e}"))?;
            if got != grub {
                return Err(format!("{at}: get sees {got:?}, GRUB {grub:?}"));
            }
            // The next boot's client repeats the change; it must complete cleanly.
            let mut again = disk;
            update(&mut again).map_err(|e| format!("{at}: retry: {e}"))?;
            let mut env = GrubEnv::with_fs(DIR, again);
            if env.health().map_err(|e| e.to_string())? != [true, true] {
                return Err(format!("{at}: retry left a broken copy"));
            }
            let again = env.into_fs();
            if again.content(1, ENV) != again.content(2, ENV) {
                return Err(format!("{at}: retry left different copies"));
            }
            if grub_view(&again)? != new || our_view(again)? != new {
                return Err(format!("{at}: retry did not apply the change"));
            }
            states += 1;
        }
    }
    Ok(states)
}

fn installed() -> MemFs {
    let mut env = GrubEnv::with_fs(DIR, MemFs::default());
    env.install(&FACTORY).unwrap();
    let mut fs = env.into_fs();
    fs.log.clear();
    fs.written = 0;
    fs
}

fn editing_lock(fs: &MemFs, copy: usize) -> Vec<u8> {
    let mut lock = fs.content(copy, LOCK).unwrap().to_vec();
    block::set(&mut lock, &[("editing", "1")]).unwrap();
    lock
}

#[test]
fn every_cut_of_a_set_is_all_old_or_all_new() {
    let healthy = installed();

    let mut torn1 = healthy.clone();
    torn1.put(1, LOCK, &editing_lock(&healthy, 1));
    let mut env1 = healthy.content(1, ENV).unwrap().to_vec();
    env1[40..500].fill(0);
    torn1.put(1, ENV, &env1);

    let mut bad_sum2 = healthy.clone();
    bad_sum2.put(2, LOCK_SUM, b"0000  lock\n");

    let mut differ = healthy.clone();
    let mut env2 = healthy.content(2, ENV).unwrap().to_vec();
    block::set(
        &mut env2,
        &[("mender_boot_part", "3"), ("upgrade_available", "1")],
    )
    .unwrap();
    differ.put(2, ENV, &env2);

    let mut missing2 = healthy.clone();
    missing2
        .files
        .retain(|p, _| !p.starts_with(Path::new(DIR).join(COPY_DIRS[1])));

    let starts = [
        ("healthy", healthy),
        ("copy 1 torn", torn1),
        ("copy 2 bad digest", bad_sum2),
        ("copies differ", differ),
        ("copy 2 missing", missing2),
    ];
    std::thread::scope(|scope| {
        let runs: Vec<_> = starts
            .iter()
            .map(|(name, start)| (name, scope.spawn(|| check_every_cut(start, ours))))
            .collect();
        for (name, run) in runs {
            let states = run
                .join()
                .unwrap()
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            println!("{name}: {states} disk states checked");
            assert!(states > 6 * 1024, "{name}: only {states} states");
        }
    });
}

/// The harness can fail: a writer that edits env1 in place without the lock protocol tears it.
#[test]
fn a_plain_in_place_write_is_caught() {
    fn naive(fs: &mut MemFs) -> Result<(), String> {
        fs.lock().map_err(|e| e.to_string())?;
        let result = (|| {
            for copy in [1, 2] {
                let p = path(copy, ENV);
                let mut env = fs.read(&p)?;
                block::set(&mut env, &UPDATE).map_err(io::Error::other)?;
                fs.write(&p, &env)?;
                fs.sync(&p)?;
            }
            Ok::<_, io::Error>(())
        })();
        fs.unlock();
        result.map_err(|e| e.to_string())
    }
    let err = check_every_cut(&installed(), naive).unwrap_err();
    assert!(err.contains("GRUB"), "{err}");
}

#[test]
fn write_order_matches_the_official_tool() {
    let mut fs = installed();
    ours(&mut fs).unwrap();
    let step = |op: &str, copy: usize, name: &str| format!("{op} {}", path(copy, name).display());
    let mut expected = Vec::new();
    for copy in [2, 1] {
        for name in [LOCK, ENV, LOCK] {
            expected.push(step("write", copy, name));
            expected.push(step("sync", copy, name));
        }
    }
    assert_eq!(fs.log, expected);
}
