//! The grub-mender-grubenv layout on the real file system, checked with the real
//! `grub-editenv` and `sha256sum`.
#![cfg(feature = "std")]

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{editenv_ok, TempDir};
use mender_core::hal::BootEnv;
use mender_hal_grub::block::{self, SIGNATURE};
use mender_hal_grub::mender::{
    env_dir_from_config, Error, GrubEnv, StdFs, COPY_DIRS, ENV, LOCK, LOCK_SUM,
};

const FACTORY: [(&str, &str); 3] = [
    ("bootcount", "0"),
    ("mender_boot_part", "2"),
    ("upgrade_available", "0"),
];
/// Digest of Mender's factory `lock` (observed, bootenv-formats.md §4).
const FACTORY_LOCK_SHA256: &str =
    "eba0a3647c8f60f467b15873c9cc87dbac22f928e6e4264f23f1020163498c6e";

struct Layout {
    _tmp: TempDir,
    dir: PathBuf,
    lock_file: PathBuf,
}

impl Layout {
    fn installed(tag: &str) -> Self {
        let tmp = TempDir::new(tag);
        let dir = tmp.path().join("grub-mender-grubenv");
        let lock_file = tmp.path().join("grub-mender-grubenv-set.lock");
        let layout = Layout {
            _tmp: tmp,
            dir,
            lock_file,
        };
        layout.env().install(&FACTORY).unwrap();
        layout
    }

    fn env(&self) -> GrubEnv<StdFs> {
        GrubEnv::with_fs(
            &self.dir,
            StdFs::with_lock_file(Some(self.lock_file.clone())),
        )
    }

    fn file(&self, copy: usize, name: &str) -> PathBuf {
        self.dir.join(COPY_DIRS[copy - 1]).join(name)
    }

    fn list(&self, copy: usize, name: &str) -> String {
        String::from_utf8(editenv_ok(&self.file(copy, name), &["list"])).unwrap()
    }

    /// `sha256sum -c lock.sha256sum` in the copy's directory, as the official tool checks.
    fn checksum_ok(&self, copy: usize) -> bool {
        let status = Command::new("sha256sum")
            .args(["-c", "--status", LOCK_SUM])
            .current_dir(self.dir.join(COPY_DIRS[copy - 1]))
            .status()
            .expect("sha256sum (coreutils) is needed");
        status.success()
    }

    fn snapshot(&self) -> Vec<Vec<u8>> {
        let mut all = Vec::new();
        for copy in [1, 2] {
            for name in [ENV, LOCK, LOCK_SUM] {
                all.push(std::fs::read(self.file(copy, name)).unwrap());
            }
        }
        all
    }

    /// Both copies healthy for the official tool and GRUB, with the same variables.
    fn assert_consistent(&self, expected_list: &str) {
        for copy in [1, 2] {
            assert!(self.checksum_ok(copy), "copy {copy} checksum");
            assert_eq!(self.list(copy, LOCK), "editing=0\n", "copy {copy} lock");
            assert_eq!(self.list(copy, ENV), expected_list, "copy {copy} env");
            assert_eq!(std::fs::metadata(self.file(copy, ENV)).unwrap().len(), 1024);
        }
    }
}

fn get(env: &mut impl BootEnv<Error = Error>, name: &str) -> Option<String> {
    let mut buf = [0; 1024];
    let len = env.get(name, &mut buf).unwrap()?;
    Some(String::from_utf8(buf[..len].to_vec()).unwrap())
}

#[test]
fn install_writes_mender_factory_files() {
    let layout = Layout::installed("factory");
    // The factory lock is Mender's blank block with `editing=0` spliced in.
    let mut lock = SIGNATURE.to_vec();
    lock.extend_from_slice(b"editing=0\n");
    lock.resize(1024, b'#');
    let mut env = SIGNATURE.to_vec();
    env.extend_from_slice(b"bootcount=0\nmender_boot_part=2\nupgrade_available=0\n");
    env.resize(1024, b'#');
    for copy in [1, 2] {
        assert_eq!(std::fs::read(layout.file(copy, LOCK)).unwrap(), lock);
        assert_eq!(std::fs::read(layout.file(copy, ENV)).unwrap(), env);
        assert_eq!(
            std::fs::read_to_string(layout.file(copy, LOCK_SUM)).unwrap(),
            format!("{FACTORY_LOCK_SHA256}  lock\n")
        );
    }
    layout.assert_consistent("bootcount=0\nmender_boot_part=2\nupgrade_available=0\n");
    assert_eq!(layout.env().health().unwrap(), [true, true]);
}

#[test]
fn set_changes_both_copies() {
    let layout = Layout::installed("set");
    let mut env = layout.env();
    env.set(&[
        ("upgrade_available", "1"),
        ("mender_boot_part", "3"),
        ("mender_boot_part_hex", "3"),
        ("bootcount", "0"),
    ])
    .unwrap();
    layout.assert_consistent(
        "bootcount=0\nmender_boot_part=3\nupgrade_available=1\nmender_boot_part_hex=3\n",
    );
    assert_eq!(get(&mut env, "mender_boot_part").as_deref(), Some("3"));
    assert_eq!(get(&mut env, "mender_boot_part_hex").as_deref(), Some("3"));
    assert_eq!(get(&mut env, "nothing"), None);

    env.set(&[
        ("upgrade_available", "0"),
        ("mender_boot_part_hex", ""),
        ("odd", "a\\b\nc"),
    ])
    .unwrap();
    layout.assert_consistent("bootcount=0\nmender_boot_part=3\nupgrade_available=0\nodd=a\\b\nc\n");
    assert_eq!(get(&mut env, "odd").as_deref(), Some("a\\b\nc"));
    assert_eq!(get(&mut env, "mender_boot_part_hex"), None);
    assert_eq!(
        std::fs::read(layout.file(1, ENV)).unwrap(),
        std::fs::read(layout.file(2, ENV)).unwrap()
    );
}

#[test]
fn torn_copy_2_is_ignored_then_repaired() {
    let layout = Layout::installed("torn2");
    let mut env = layout.env();
    env.set(&[("upgrade_available", "1"), ("mender_boot_part", "3")])
        .unwrap();
    let good = layout.snapshot();

    // A cut while copy 2 was being written: lock2 says editing, env2 is half garbage.
    editenv_ok(&layout.file(2, LOCK), &["set", "editing=1"]);
    let mut torn = std::fs::read(layout.file(2, ENV)).unwrap();
    torn[30..700].fill(0x5a);
    std::fs::write(layout.file(2, ENV), &torn).unwrap();
    assert!(!layout.checksum_ok(2));

    assert_eq!(env.health().unwrap(), [true, false]);
    assert_eq!(get(&mut env, "mender_boot_part").as_deref(), Some("3"));
    assert_eq!(get(&mut env, "upgrade_available").as_deref(), Some("1"));
    assert_eq!(env.repair().unwrap(), Some(2));
    assert_eq!(layout.snapshot(), good);
    assert_eq!(env.repair().unwrap(), None);
    layout.assert_consistent("bootcount=0\nmender_boot_part=3\nupgrade_available=1\n");
}

#[test]
fn bad_checksum_on_copy_1_reads_copy_2_and_set_repairs() {
    let layout = Layout::installed("sum1");
    let mut env = layout.env();
    env.set(&[("mender_boot_part", "3")]).unwrap();

    // Copy 1 fails its digest check and its env is wiped.
    let sum = std::fs::read_to_string(layout.file(1, LOCK_SUM)).unwrap();
    std::fs::write(layout.file(1, LOCK_SUM), sum.replacen('e', "f", 1)).unwrap();
    std::fs::write(layout.file(1, ENV), [0u8; 1024]).unwrap();
    assert!(!layout.checksum_ok(1));
    assert_eq!(env.health().unwrap(), [false, true]);
    assert_eq!(get(&mut env, "mender_boot_part").as_deref(), Some("3"));

    env.set(&[("bootcount", "1")]).unwrap();
    layout.assert_consistent("bootcount=1\nmender_boot_part=3\nupgrade_available=0\n");
    assert_eq!(layout.snapshot()[..3], layout.snapshot()[3..]);
}

#[test]
fn copies_that_differ_follow_copy_1() {
    // Left by a cut after copy 2 was complete and before copy 1 was touched: GRUB boots
    // from env1, so env1 is the truth and env2 is brought back in line.
    let layout = Layout::installed("differ");
    editenv_ok(
        &layout.file(2, ENV),
        &["set", "mender_boot_part=3", "upgrade_available=1"],
    );
    let mut env = layout.env();
    assert_eq!(env.health().unwrap(), [true, true]);
    assert_eq!(get(&mut env, "mender_boot_part").as_deref(), Some("2"));
    assert_eq!(env.repair().unwrap(), Some(2));
    layout.assert_consistent("bootcount=0\nmender_boot_part=2\nupgrade_available=0\n");
}

#[test]
fn both_copies_corrupt_is_an_error_and_writes_nothing() {
    let layout = Layout::installed("both");
    for copy in [1, 2] {
        editenv_ok(&layout.file(copy, LOCK), &["set", "editing=1"]);
    }
    let before = layout.snapshot();
    let mut env = layout.env();
    assert!(matches!(
        env.get("bootcount", &mut [0; 8]),
        Err(Error::BothCorrupt)
    ));
    assert!(matches!(
        env.set(&[("bootcount", "1")]),
        Err(Error::BothCorrupt)
    ));
    assert!(matches!(env.repair(), Err(Error::BothCorrupt)));
    assert_eq!(layout.snapshot(), before);
    assert_eq!(
        Error::BothCorrupt.to_string(),
        "Unable to restore environment both are corrupt."
    );
}

#[test]
fn refused_changes_write_nothing() {
    let layout = Layout::installed("refuse");
    let before = layout.snapshot();
    let mut env = layout.env();
    let huge = "x".repeat(1000);
    let err = env.set(&[("bootcount", "1"), ("big", &huge)]).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Format {
                source: block::Error::NoSpace { .. },
                ..
            }
        ),
        "{err}"
    );
    assert!(matches!(
        env.set(&[("a=b", "1")]),
        Err(Error::Arg(block::Error::InvalidName))
    ));
    assert!(matches!(
        env.set(&[("a", "nul\0")]),
        Err(Error::Arg(block::Error::InvalidValue))
    ));
    assert!(matches!(
        env.get("bootcount", &mut []),
        Err(Error::Arg(block::Error::BufferTooSmall { needed: 1 }))
    ));
    // Setting what is already there writes nothing either.
    env.set(&FACTORY).unwrap();
    assert_eq!(layout.snapshot(), before);
}

#[test]
fn missing_copy_is_recreated() {
    let layout = Layout::installed("missing");
    std::fs::remove_dir_all(layout.dir.join(COPY_DIRS[1])).unwrap();
    let mut env = layout.env();
    assert_eq!(env.health().unwrap(), [true, false]);
    env.set(&[("bootcount", "1")]).unwrap();
    layout.assert_consistent("bootcount=1\nmender_boot_part=2\nupgrade_available=0\n");
}

#[test]
fn flock_excludes_the_official_tools() {
    let layout = Layout::installed("flock");
    let lock_file: &Path = &layout.lock_file;
    // A shell takes the lock as the official script does (`flock` on a descriptor), says so,
    // then becomes `sleep`, so killing the child releases the lock.
    let mut holder = Command::new("sh")
        .args([
            "-c",
            "exec 9>>\"$0\" && flock 9 && echo held && exec sleep 30",
        ])
        .arg(lock_file)
        .stdout(Stdio::piped())
        .spawn()
        .expect("sh and flock (util-linux)");
    let mut line = String::new();
    BufReader::new(holder.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "held\n");
    let mut env = layout.env();
    let result = env.set(&[("bootcount", "1")]);
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert!(matches!(result, Err(Error::Lock(_))), "{result:?}");
    env.set(&[("bootcount", "1")]).unwrap();
    assert_eq!(get(&mut env, "bootcount").as_deref(), Some("1"));
}

#[test]
fn env_dir_config_parsing() {
    assert_eq!(
        env_dir_from_config("ENV_DIR = /boot/efi/EFI/BOOT\n"),
        Some("/boot/efi/EFI/BOOT")
    );
    assert_eq!(
        env_dir_from_config("ENV_DIR=/a\nOTHER=1\nENV_DIR   =   /b\n"),
        Some("/b")
    );
    assert_eq!(env_dir_from_config("# ENV_DIR = /a\nENV_DIRX=/b\n"), None);
    assert_eq!(env_dir_from_config("ENV_DIR=/a\nENV_DIR =\n"), None);
}
