//! Byte-level interoperability with the real Debian tools: `mkenvimage` (u-boot-tools 2023.01)
//! and `fw_printenv`/`fw_setenv` (libubootenv-tool 0.3.2), both directions, single and
//! redundant, on files. The tests panic when a tool is missing.
#![cfg(feature = "std")]

mod common;

use common::*;
use mender_hal_uboot::device::{Error, UBootEnv, DEFAULT_LOCK_PATH};
use mender_hal_uboot::image::{serialize, Env, EnvError, Layout};
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const SIZE: usize = 0x4000;

/// Writes an `fw_env.config` with one line per `(file, offset)`.
fn config(dir: &TempDir, name: &str, copies: &[(&Path, &str)], size: usize) -> PathBuf {
    let text: String = copies
        .iter()
        .map(|(file, offset)| format!("{} {offset} {size:#x}\n", file.display()))
        .collect();
    let path = dir.path(name);
    std::fs::write(&path, format!("# test config\n{text}")).unwrap();
    path
}

fn open(dir: &TempDir, config: &Path) -> UBootEnv<File> {
    UBootEnv::open(config)
        .unwrap()
        .with_lock_path(Some(dir.path("test.lock")))
}

fn get(env: &mut UBootEnv<File>, name: &str) -> Option<String> {
    let mut buf = [0u8; 256];
    env.get(name, &mut buf)
        .unwrap()
        .map(|n| String::from_utf8(buf[..n].to_vec()).unwrap())
}

fn flag(file: &Path, offset: u64) -> u8 {
    std::fs::read(file).unwrap()[offset as usize + 4]
}

/// The install step of the rootfs-image installer plus values the Go 3.x parser would choke on
/// (`=`), spaces and UTF-8, and a removal.
const OUR_CHANGE: &[(&str, &str)] = &[
    ("upgrade_available", "1"),
    ("mender_boot_part", "3"),
    ("mender_boot_part_hex", "3"),
    ("bootcount", "0"),
    ("bootlimit", ""),
    ("eq", "x=y z"),
    ("utf", "h\u{e9}llo"),
];

fn after_our_change() -> std::collections::BTreeMap<String, String> {
    let mut expect = map(MENDER_ENV);
    for (n, v) in OUR_CHANGE {
        if v.is_empty() {
            expect.remove(*n);
        } else {
            expect.insert(n.to_string(), v.to_string());
        }
    }
    expect
}

#[test]
fn images_are_byte_identical_to_mkenvimage() {
    let dir = TempDir::new("bytes");
    let mut sorted = MENDER_ENV.to_vec();
    sorted.sort();
    for (layout, flag) in [(Layout::Single, None), (Layout::Redundant, Some(1))] {
        let redundant = flag.is_some();
        for vars in [&sorted[..], &[]] {
            let tool = mkenvimage(&dir, vars, SIZE, redundant);
            let mut ours = vec![0u8; SIZE];
            serialize(&mut ours, flag, &Env::EMPTY, vars).unwrap();
            assert!(
                tool == ours,
                "{layout:?} {vars:?}: image differs from mkenvimage"
            );
        }
        // Unsorted input: read back in the tool's (input) order.
        let tool = mkenvimage(&dir, MENDER_ENV, SIZE, redundant);
        let env = Env::parse(&tool, layout).unwrap();
        let read: Vec<_> = env.vars().collect();
        let want: Vec<_> = MENDER_ENV
            .iter()
            .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
            .collect();
        assert_eq!(read, want);
        assert_eq!(env.flag(), flag);
    }
}

#[test]
fn single_file_both_directions() {
    let dir = TempDir::new("single");
    let file = dir.path("single.bin");
    std::fs::write(&file, mkenvimage(&dir, MENDER_ENV, SIZE, false)).unwrap();
    let cfg = config(&dir, "single.config", &[(&file, "0x0")], SIZE);
    let mut env = open(&dir, &cfg);
    assert_eq!(env.layout(), Layout::Single);

    // mkenvimage -> us.
    assert_eq!(strings(env.read_all().unwrap()), map(MENDER_ENV));
    assert_eq!(strings(env.read_all().unwrap()), printenv(&cfg));

    // us -> fw_printenv.
    env.set(OUR_CHANGE).unwrap();
    assert_eq!(printenv(&cfg), after_our_change());

    // fw_setenv on top of ours -> us (set and delete).
    setenv(&cfg, &["bootcount", "1", "extra", "from tool"]);
    setenv(&cfg, &["eq"]);
    assert_eq!(get(&mut env, "bootcount").as_deref(), Some("1"));
    assert_eq!(get(&mut env, "extra").as_deref(), Some("from tool"));
    assert_eq!(get(&mut env, "eq"), None);

    // A value with a newline survives both ways byte-exact.
    env.set(&[("nl", "line1\nline2")]).unwrap();
    let out = run_ok("fw_printenv", &["-c", cfg.to_str().unwrap(), "-n", "nl"]);
    assert_eq!(out.stdout, b"line1\nline2\n");
}

#[test]
fn redundant_two_files_both_directions() {
    let dir = TempDir::new("redund");
    let (a, b) = (dir.path("envA.bin"), dir.path("envB.bin"));
    let image = mkenvimage(&dir, MENDER_ENV, SIZE, true);
    std::fs::write(&a, &image).unwrap();
    std::fs::write(&b, &image).unwrap();
    let cfg = config(&dir, "redund.config", &[(&a, "0x0"), (&b, "0x0")], SIZE);
    let mut env = open(&dir, &cfg);
    assert_eq!(env.layout(), Layout::Redundant);
    assert_eq!(strings(env.read_all().unwrap()), printenv(&cfg));

    // (1,1): copy A is current; we write B with flag 2 and leave A untouched.
    env.set(OUR_CHANGE).unwrap();
    assert_eq!(std::fs::read(&a).unwrap(), image);
    assert_eq!((flag(&a, 0), flag(&b, 0)), (1, 2));
    assert_eq!(printenv(&cfg), after_our_change());

    // The tool writes A with flag 3; we read its change.
    setenv(&cfg, &["bootcount", "1"]);
    assert_eq!((flag(&a, 0), flag(&b, 0)), (3, 2));
    assert_eq!(get(&mut env, "bootcount").as_deref(), Some("1"));

    // And we write B with flag 4, which the tool reads.
    env.set(&[("upgrade_available", "0")]).unwrap();
    assert_eq!((flag(&a, 0), flag(&b, 0)), (3, 4));
    let mut expect = after_our_change();
    expect.insert("bootcount".into(), "1".into());
    expect.insert("upgrade_available".into(), "0".into());
    assert_eq!(printenv(&cfg), expect);
    assert_eq!(strings(env.read_all().unwrap()), expect);
}

/// Flags A=0xFE, B=0xFF: B is current; the next write goes to A with 0x00, and both we and
/// the tool then take A (0 beats 255); the tool's next write goes to B with 0x01.
#[test]
fn flag_wrap_255_to_0_with_the_tool() {
    let dir = TempDir::new("wrap");
    let (a, b) = (dir.path("envA.bin"), dir.path("envB.bin"));
    let mut image = mkenvimage(&dir, MENDER_ENV, SIZE, true);
    image[4] = 0xfe; // the flag is outside the CRC
    std::fs::write(&a, &image).unwrap();
    image[4] = 0xff;
    std::fs::write(&b, &image).unwrap();
    let cfg = config(&dir, "wrap.config", &[(&a, "0"), (&b, "0")], SIZE);
    let mut env = open(&dir, &cfg);

    env.set(&[("bootcount", "7")]).unwrap();
    assert_eq!((flag(&a, 0), flag(&b, 0)), (0x00, 0xff));
    assert_eq!(printenv(&cfg)["bootcount"], "7");

    setenv(&cfg, &["bootcount", "8"]);
    assert_eq!((flag(&a, 0), flag(&b, 0)), (0x00, 0x01));
    assert_eq!(get(&mut env, "bootcount").as_deref(), Some("8"));
}

/// Both copies in one bigger "device" file, addressed from its end. libubootenv 0.3.2 rejects
/// negative offsets on regular files ("Configuration file wrong or corrupted", observed), so the
/// tool gets the equivalent positive offsets for the same bytes.
#[test]
fn negative_offsets_in_a_bigger_device() {
    let dir = TempDir::new("negative");
    let dev = dir.path("device.bin");
    let size = 0x2000;
    let image = mkenvimage(&dir, MENDER_ENV, size, true);
    let mut device = vec![0x5au8; 0x10000];
    device[0xc000..0xe000].copy_from_slice(&image);
    device[0xe000..].copy_from_slice(&image);
    std::fs::write(&dev, &device).unwrap();
    let ours = config(
        &dir,
        "ours.config",
        &[(&dev, "-0x4000"), (&dev, "-8192")],
        size,
    );
    let tools = config(
        &dir,
        "tool.config",
        &[(&dev, "0xc000"), (&dev, "0xe000")],
        size,
    );
    let mut env = open(&dir, &ours);
    assert_eq!((env.offset(0), env.offset(1)), (Some(0xc000), Some(0xe000)));

    env.set(OUR_CHANGE).unwrap();
    assert_eq!(printenv(&tools), after_our_change());
    setenv(&tools, &["bootcount", "1"]);
    assert_eq!(get(&mut env, "bootcount").as_deref(), Some("1"));
    // Bytes outside the two copies are untouched.
    let now = std::fs::read(&dev).unwrap();
    assert_eq!(now.len(), 0x10000);
    assert!(now[..0xc000].iter().all(|&b| b == 0x5a));

    // A single copy addressed from the end.
    let single = dir.path("single-device.bin");
    let mut device = vec![0u8; 0x8000];
    device[0x6000..].copy_from_slice(&mkenvimage(&dir, MENDER_ENV, size, false));
    std::fs::write(&single, &device).unwrap();
    let ours = config(&dir, "ours1.config", &[(&single, "-0x2000")], size);
    let tools = config(&dir, "tool1.config", &[(&single, "0x6000")], size);
    let mut env = open(&dir, &ours);
    env.set(&[("mender_boot_part", "3")]).unwrap();
    assert_eq!(printenv(&tools)["mender_boot_part"], "3");
    setenv(&tools, &["mender_boot_part", "2"]);
    assert_eq!(get(&mut env, "mender_boot_part").as_deref(), Some("2"));
}

/// One corrupted copy: we and the tool both use the other one; our write replaces the bad
/// copy with flag = good + 1. Both corrupted: we refuse (no invented env) and so does the tool.
#[test]
fn corrupted_copies() {
    let dir = TempDir::new("corrupt");
    let (a, b) = (dir.path("envA.bin"), dir.path("envB.bin"));
    let image = mkenvimage(&dir, MENDER_ENV, SIZE, true);
    std::fs::write(&a, &image).unwrap();
    std::fs::write(&b, &image).unwrap();
    let cfg = config(&dir, "c.config", &[(&a, "0"), (&b, "0")], SIZE);
    let mut env = open(&dir, &cfg);
    env.set(&[("bootcount", "5")]).unwrap(); // B = flag 2, current

    let mut bad = std::fs::read(&b).unwrap();
    bad[20] ^= 0x01;
    std::fs::write(&b, &bad).unwrap();
    assert_eq!(get(&mut env, "bootcount").as_deref(), Some("0"));
    assert_eq!(printenv(&cfg)["bootcount"], "0");
    env.set(&[("bootcount", "6")]).unwrap();
    assert_eq!((flag(&a, 0), flag(&b, 0)), (1, 2));
    assert_eq!(printenv(&cfg)["bootcount"], "6");

    let mut bad = std::fs::read(&a).unwrap();
    bad[100] ^= 0x80;
    std::fs::write(&a, &bad).unwrap();
    let mut bad = std::fs::read(&b).unwrap();
    bad[100] ^= 0x80;
    std::fs::write(&b, &bad).unwrap();
    let err = env.set(&[("bootcount", "7")]).unwrap_err();
    assert!(
        matches!(err, Error::Env(EnvError::BothCopiesBad { .. })),
        "{err}"
    );
    assert!(err
        .to_string()
        .contains("both environment copies are invalid"));
    assert_eq!(std::fs::read(&b).unwrap(), bad, "nothing may be written");
    let out = run("fw_printenv", &["-c", cfg.to_str().unwrap()]);
    assert!(!out.status.success(), "fw_printenv accepted two bad copies");
}

/// We and the tools exclude each other through the same `flock`: while a third process holds
/// `/var/lock/fw_printenv.lock`, neither our `set` (default lock path) nor `fw_setenv` writes;
/// once it is released both changes land.
#[test]
fn shares_the_tools_lock() {
    let dir = TempDir::new("lock");
    let (a, b) = (dir.path("envA.bin"), dir.path("envB.bin"));
    let image = mkenvimage(&dir, MENDER_ENV, SIZE, true);
    std::fs::write(&a, &image).unwrap();
    std::fs::write(&b, &image).unwrap();
    let cfg = config(&dir, "lock.config", &[(&a, "0"), (&b, "0")], SIZE);

    // Hold the lock until our stdin closes; "locked" proves it is held before we go on.
    let mut holder = match Command::new("flock")
        .args([DEFAULT_LOCK_PATH, "-c", "echo locked; cat >/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => panic!("`flock` (util-linux) is needed for this test: {e}"),
    };
    let mut line = String::new();
    BufReader::new(holder.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "locked\n");

    let ours = std::thread::spawn({
        let cfg = cfg.clone();
        move || {
            let mut env = UBootEnv::open(&cfg).unwrap(); // default lock path
            env.set(&[("bootcount", "1")])
        }
    });
    let mut tool = Command::new("fw_setenv")
        .args(["-c", cfg.to_str().unwrap(), "upgrade_available", "1"])
        .spawn()
        .expect("fw_setenv (libubootenv-tool) is not installed");
    std::thread::sleep(Duration::from_millis(300));
    assert!(!ours.is_finished(), "our set did not wait for the lock");
    assert!(tool.try_wait().unwrap().is_none(), "fw_setenv did not wait");
    assert_eq!(std::fs::read(&a).unwrap(), image);
    assert_eq!(std::fs::read(&b).unwrap(), image);

    holder.stdin.take().unwrap().write_all(b"").unwrap(); // then dropped: EOF
    holder.wait().unwrap();
    ours.join().unwrap().unwrap();
    assert!(tool.wait().unwrap().success());
    let vars = printenv(&cfg);
    assert_eq!(
        (&*vars["bootcount"], &*vars["upgrade_available"]),
        ("1", "1")
    );
}
