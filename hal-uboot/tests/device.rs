//! The file backend without the external tools: refusals leave the device untouched, flags,
//! the canary, configuration errors, and the `BootEnv` trait.
#![cfg(feature = "std")]

mod common;

use common::TempDir;
use mender_core::hal::BootEnv;
use mender_hal_uboot::config::{ConfigError, LineError};
use mender_hal_uboot::device::{Error, Location, UBootEnv, MAX_ENV_SIZE};
use mender_hal_uboot::image::{
    serialize, Env, EnvError, FlagScheme, ImageError, VarError, CANARY_ERROR,
};
use std::fs::File;
use std::path::{Path, PathBuf};

const SIZE: usize = 0x100;

fn copy(vars: &[(&str, &str)], flag: Option<u8>) -> Vec<u8> {
    let mut image = vec![0u8; SIZE];
    serialize(&mut image, flag, &Env::EMPTY, vars).unwrap();
    image
}

/// Both copies in one file at 0 and SIZE, plus the config naming them.
fn redundant(dir: &TempDir, a: &[u8], b: &[u8]) -> (PathBuf, PathBuf) {
    let file = dir.path("env.bin");
    std::fs::write(&file, [a, b].concat()).unwrap();
    let cfg = dir.path("fw_env.config");
    let f = file.display();
    std::fs::write(&cfg, format!("{f} 0 {SIZE:x}\n{f} {SIZE:#x} {SIZE:x}\n")).unwrap();
    (file, cfg)
}

fn open(dir: &TempDir, cfg: &Path) -> UBootEnv<File> {
    UBootEnv::open(cfg)
        .unwrap()
        .with_lock_path(Some(dir.path("lock")))
}

fn get(env: &mut UBootEnv<File>, name: &str) -> Result<Option<String>, Error> {
    let mut buf = [0u8; 64];
    Ok(env
        .get(name, &mut buf)?
        .map(|n| String::from_utf8(buf[..n].to_vec()).unwrap()))
}

#[test]
fn overflow_is_refused_without_changing_the_env() {
    let dir = TempDir::new("overflow");
    let (file, cfg) = redundant(&dir, &copy(&[("a", "1")], Some(1)), &copy(&[], Some(0)));
    let before = std::fs::read(&file).unwrap();
    let mut env = open(&dir, &cfg);
    let big = "x".repeat(SIZE);
    let err = env.set(&[("b", "2"), ("big", &big)]).unwrap_err();
    assert!(
        matches!(err, Error::Env(EnvError::Overflow { capacity, .. }) if capacity == SIZE - 5),
        "{err:?}"
    );
    assert!(err.to_string().contains("environment overflow"), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), before);
    assert_eq!(get(&mut env, "b").unwrap(), None, "no partial change");
    assert_eq!(get(&mut env, "a").unwrap().as_deref(), Some("1"));
}

#[test]
fn bad_crc_on_both_copies_is_an_error() {
    let dir = TempDir::new("badcrc");
    let mut a = copy(&[("mender_boot_part", "2")], Some(1));
    let mut b = copy(&[("mender_boot_part", "3")], Some(2));
    a[10] ^= 1;
    b[0] ^= 1;
    let (file, cfg) = redundant(&dir, &a, &b);
    let mut env = open(&dir, &cfg);
    for err in [
        get(&mut env, "mender_boot_part").unwrap_err(),
        env.set(&[("x", "1")]).unwrap_err(),
    ] {
        assert!(
            matches!(
                err,
                Error::Env(EnvError::BothCopiesBad {
                    first: ImageError::BadCrc { .. },
                    second: ImageError::BadCrc { .. },
                })
            ),
            "{err:?}"
        );
        assert!(err
            .to_string()
            .contains("both environment copies are invalid"));
    }
    assert_eq!(std::fs::read(&file).unwrap(), [a, b].concat());

    // An erased (all 0xFF) area is the same: bad CRC, not an empty environment.
    let single = dir.path("erased.bin");
    std::fs::write(&single, vec![0xff; SIZE]).unwrap();
    let cfg = dir.path("single.config");
    std::fs::write(&cfg, format!("{} 0 {SIZE:x}\n", single.display())).unwrap();
    let err = get(&mut open(&dir, &cfg), "x").unwrap_err();
    assert!(
        matches!(err, Error::Env(EnvError::Image(ImageError::BadCrc { .. }))),
        "{err:?}"
    );
}

#[test]
fn a_missing_second_copy_is_one_bad_copy() {
    let dir = TempDir::new("short");
    let (file, cfg) = redundant(&dir, &copy(&[("a", "1")], Some(9)), &[]);
    let mut env = open(&dir, &cfg);
    assert_eq!(get(&mut env, "a").unwrap().as_deref(), Some("1"));
    env.set(&[("a", "2")]).unwrap();
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!((bytes.len(), bytes[SIZE + 4]), (2 * SIZE, 10));
    assert_eq!(get(&mut env, "a").unwrap().as_deref(), Some("2"));
}

#[test]
fn flag_wraps_from_255_to_0() {
    let dir = TempDir::new("wrap");
    let (file, cfg) = redundant(&dir, &copy(&[("n", "0")], Some(255)), &copy(&[], Some(254)));
    let mut env = open(&dir, &cfg);
    let flags = || {
        let b = std::fs::read(&file).unwrap();
        (b[4], b[SIZE + 4])
    };
    env.set(&[("n", "1")]).unwrap();
    assert_eq!(flags(), (255, 0));
    assert_eq!(get(&mut env, "n").unwrap().as_deref(), Some("1"));
    env.set(&[("n", "2")]).unwrap();
    assert_eq!(flags(), (1, 0));
    assert_eq!(get(&mut env, "n").unwrap().as_deref(), Some("2"));
}

#[test]
fn unchanged_values_write_nothing() {
    let dir = TempDir::new("noop");
    let (file, cfg) = redundant(&dir, &copy(&[("a", "1")], Some(3)), &copy(&[], Some(2)));
    let before = std::fs::read(&file).unwrap();
    let mut env = open(&dir, &cfg);
    env.set(&[("a", "1"), ("gone", "")]).unwrap();
    assert_eq!(std::fs::read(&file).unwrap(), before);
}

#[test]
fn saveenv_canary() {
    let dir = TempDir::new("canary");
    let check = ("mender_check_saveenv_canary", "1");
    let (file, cfg) = redundant(
        &dir,
        &copy(&[check, ("a", "1")], Some(1)),
        &copy(&[], Some(0)),
    );
    let before = std::fs::read(&file).unwrap();
    let mut env = open(&dir, &cfg);
    let err = get(&mut env, "a").unwrap_err();
    assert!(matches!(err, Error::Canary));
    assert_eq!(err.to_string(), CANARY_ERROR);
    assert!(CANARY_ERROR.starts_with("Failed mender_saveenv_canary check. There is an error"));
    assert!(matches!(env.set(&[("a", "2")]), Err(Error::Canary)));
    assert_eq!(std::fs::read(&file).unwrap(), before, "nothing written");

    for (canary, ok) in [("0", false), ("yes", false), ("1", true)] {
        let image = copy(
            &[check, ("a", "1"), ("mender_saveenv_canary", canary)],
            Some(1),
        );
        let (_, cfg) = redundant(&dir, &image, &copy(&[], Some(0)));
        let mut env = open(&dir, &cfg);
        assert_eq!(get(&mut env, "a").is_ok(), ok, "canary {canary:?}");
        assert_eq!(env.set(&[("a", "2")]).is_ok(), ok, "canary {canary:?}");
    }
    // Without mender_check_saveenv_canary=1 nothing is checked.
    let image = copy(&[("mender_check_saveenv_canary", "0"), ("a", "1")], Some(1));
    let (_, cfg) = redundant(&dir, &image, &copy(&[], Some(0)));
    assert_eq!(
        get(&mut open(&dir, &cfg), "a").unwrap().as_deref(),
        Some("1")
    );
}

#[test]
fn refused_variables_and_short_buffers() {
    let dir = TempDir::new("vars");
    let (file, cfg) = redundant(&dir, &copy(&[("long", "0123456789")], Some(1)), &[]);
    let before = std::fs::read(&file).unwrap();
    let mut env = open(&dir, &cfg);
    let err = env.set(&[("ok", "1"), ("a=b", "1")]).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidVariable { name, error: VarError::NameHasEquals } if name == "a=b"),
        "{err:?}"
    );
    assert!(matches!(
        env.set(&[("v", "a\0b")]),
        Err(Error::InvalidVariable {
            error: VarError::ValueHasNul,
            ..
        })
    ));
    assert_eq!(std::fs::read(&file).unwrap(), before);

    let mut small = [0u8; 4];
    let err = env.get("long", &mut small).unwrap_err();
    assert!(
        matches!(
            err,
            Error::ValueTooLong {
                len: 10,
                capacity: 4,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(get(&mut env, "missing").unwrap(), None);
}

#[test]
fn config_and_device_errors() {
    let dir = TempDir::new("config");
    let cfg = dir.path("bad.config");
    std::fs::write(
        &cfg,
        "# env\n/dev/mmcblk0 0x800000 0x20000\n/dev/mmcblk0 0x1000000\n",
    )
    .unwrap();
    let err = UBootEnv::open(&cfg).err().unwrap();
    assert!(
        matches!(
            err,
            Error::Config {
                error: ConfigError::Line {
                    line: 3,
                    error: LineError::MissingFields
                },
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("line 3"), "{err}");

    std::fs::write(&cfg, "/dev/mtd1 0 0x20000 0x20000\n").unwrap();
    let err = UBootEnv::open(&cfg).err().unwrap();
    assert!(matches!(err, Error::UnsupportedDevice { .. }), "{err:?}");

    let file = dir.path("small.bin");
    std::fs::write(&file, vec![0u8; 0x1000]).unwrap();
    std::fs::write(&cfg, format!("{} -0x2000 0x100\n", file.display())).unwrap();
    let err = UBootEnv::open(&cfg).err().unwrap();
    assert!(
        matches!(
            err,
            Error::OffsetOutOfRange {
                offset: -0x2000,
                device_size: 0x1000
            }
        ),
        "{err:?}"
    );

    std::fs::write(
        &cfg,
        format!("{} 0 {:x}\n", file.display(), MAX_ENV_SIZE + 1),
    )
    .unwrap();
    let err = UBootEnv::open(&cfg).err().unwrap();
    assert!(matches!(err, Error::BadEnvSize { .. }), "{err:?}");

    std::fs::write(&cfg, format!("{} 0 4\n", file.display())).unwrap();
    let err = UBootEnv::open(&cfg).err().unwrap();
    assert!(matches!(err, Error::BadEnvSize { size: 4 }), "{err:?}");

    let err = UBootEnv::open(dir.path("missing.config")).err().unwrap();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
}

/// The trait as the core uses it: an install's atomic switch, read back.
#[test]
fn boot_env_trait() {
    fn switch<E: BootEnv>(env: &mut E) -> Result<Option<usize>, E::Error> {
        env.set(&[
            ("upgrade_available", "1"),
            ("mender_boot_part", "3"),
            ("mender_boot_part_hex", "3"),
            ("bootcount", "0"),
        ])?;
        env.get("mender_boot_part", &mut [0u8; 8])
    }
    let dir = TempDir::new("trait");
    let (_, cfg) = redundant(&dir, &copy(&[("mender_boot_part", "2")], Some(1)), &[]);
    let mut env = open(&dir, &cfg);
    assert_eq!(switch(&mut env).unwrap(), Some(1));
    assert_eq!(
        get(&mut env, "upgrade_available").unwrap().as_deref(),
        Some("1")
    );
}

/// A held lock at the configured path makes `set` wait.
#[test]
fn set_waits_for_the_lock() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let dir = TempDir::new("lockwait");
    let (file, cfg) = redundant(&dir, &copy(&[("a", "1")], Some(1)), &[]);
    let before = std::fs::read(&file).unwrap();
    let lock = dir.path("lock");
    let mut holder = Command::new("flock")
        .arg(&lock)
        .args(["-c", "echo locked; cat >/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("`flock` (util-linux) is needed for this test");
    let mut line = String::new();
    BufReader::new(holder.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "locked\n");
    let writer = std::thread::spawn(move || {
        let mut env = UBootEnv::open(&cfg).unwrap().with_lock_path(Some(lock));
        env.set(&[("a", "2")])
    });
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(!writer.is_finished(), "set did not wait for the lock");
    assert_eq!(std::fs::read(&file).unwrap(), before);
    drop(holder.stdin.take());
    holder.wait().unwrap();
    writer.join().unwrap().unwrap();
    assert_ne!(std::fs::read(&file).unwrap(), before);
}

/// The generic constructor with two files and the NOR scheme.
#[test]
fn boolean_scheme_on_files() {
    let dir = TempDir::new("nor");
    let (a, b) = (dir.path("a.bin"), dir.path("b.bin"));
    std::fs::write(&a, copy(&[("v", "1")], Some(1))).unwrap();
    std::fs::write(&b, copy(&[("v", "0")], Some(0))).unwrap();
    let rw = |p: &Path| File::options().read(true).write(true).open(p).unwrap();
    let mut env = UBootEnv::new(
        Location {
            storage: rw(&a),
            offset: 0,
        },
        Some(Location {
            storage: rw(&b),
            offset: 0,
        }),
        SIZE as u64,
        FlagScheme::Boolean,
    )
    .unwrap()
    .with_lock_path(None);
    let flags = || (std::fs::read(&a).unwrap()[4], std::fs::read(&b).unwrap()[4]);
    env.set(&[("v", "2")]).unwrap();
    assert_eq!(flags(), (0, 1));
    env.set(&[("v", "3")]).unwrap();
    assert_eq!(flags(), (1, 0));
    let mut buf = [0u8; 4];
    assert_eq!(env.get("v", &mut buf).unwrap(), Some(1));
    assert_eq!(&buf[..1], b"3");
}
