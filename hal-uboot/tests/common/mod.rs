//! Helpers shared by the integration tests: temporary directories and the real U-Boot tools.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A directory removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("hal-uboot-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs a tool; panics (never skips) when it is not installed.
pub fn run(tool: &str, args: &[&str]) -> Output {
    match Command::new(tool).args(args).output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "`{tool}` is not installed; these tests need the real tools: \
             apt-get install u-boot-tools libubootenv-tool util-linux"
        ),
        Err(e) => panic!("running {tool}: {e}"),
    }
}

/// Like [`run`], and the tool must succeed.
pub fn run_ok(tool: &str, args: &[&str]) -> Output {
    let out = run(tool, args);
    assert!(
        out.status.success(),
        "{tool} {args:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `mkenvimage -s <size> [-r] -o <out>` from `vars` written as text (in the given order).
pub fn mkenvimage(dir: &TempDir, vars: &[(&str, &str)], size: usize, redundant: bool) -> Vec<u8> {
    let text: String = std::iter::once("# written by the hal-uboot tests\n".to_string())
        .chain(vars.iter().map(|(n, v)| format!("{n}={v}\n")))
        .collect();
    let input = dir.path("env.txt");
    let output = dir.path("mkenvimage.bin");
    std::fs::write(&input, text).unwrap();
    let size = format!("{size:#x}");
    let mut args = vec!["-s", &size];
    if redundant {
        args.push("-r");
    }
    let (o, i) = (output.to_str().unwrap(), input.to_str().unwrap());
    args.extend(["-o", o, i]);
    run_ok("mkenvimage", &args);
    std::fs::read(&output).unwrap()
}

/// Every variable as `fw_printenv -c <config>` prints it (values must not contain newlines).
pub fn printenv(config: &Path) -> BTreeMap<String, String> {
    let out = run_ok("fw_printenv", &["-c", config.to_str().unwrap()]);
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (n, v) = l.split_once('=').expect("fw_printenv line without '='");
            (n.to_string(), v.to_string())
        })
        .collect()
}

/// `fw_setenv -c <config> args...` (libubootenv: `name value` pairs, a lone name deletes).
pub fn setenv(config: &Path, args: &[&str]) {
    let mut all = vec!["-c", config.to_str().unwrap()];
    all.extend_from_slice(args);
    run_ok("fw_setenv", &all);
}

/// A byte map as strings, for comparing with `fw_printenv`.
pub fn strings(map: BTreeMap<Vec<u8>, Vec<u8>>) -> BTreeMap<String, String> {
    map.into_iter()
        .map(|(n, v)| (String::from_utf8(n).unwrap(), String::from_utf8(v).unwrap()))
        .collect()
}

/// Owned map from pairs.
pub fn map(vars: &[(&str, &str)]) -> BTreeMap<String, String> {
    vars.iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

/// The environment of a Mender device (spec §2), in mkenvimage input order (unsorted).
pub const MENDER_ENV: &[(&str, &str)] = &[
    ("bootcmd", "run mender_setup; run distro_bootcmd"),
    ("bootlimit", "1"),
    ("bootcount", "0"),
    ("upgrade_available", "0"),
    ("mender_boot_part", "2"),
    ("mender_boot_part_hex", "2"),
    ("mender_check_saveenv_canary", "1"),
    ("mender_saveenv_canary", "1"),
];
