//! Checks the simulated device and bootloader in `tests/sim/` against the real Debian tools.
//!
//! Other tests and the README demo trust `boot.sh` as an independent oracle for what U-Boot and
//! GRUB do with the Mender variables, so its behaviour is pinned here: the environment
//! `make-device.sh` writes is what `fw_printenv`/`grub-editenv` read, an install that is not
//! committed rolls back on the next boot, a commit sticks, a failed kernel start leads to a
//! rollback, and a broken environment is reported as a device that does not boot. The client's
//! writes are imitated with the same tools, never with this workspace's code.

use mender_tests::{output_text, require_tool, run, run_ok, TempDir};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Which simulated bootloader a device uses.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Uboot,
    Grub,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Uboot => "uboot",
            Kind::Grub => "grub",
        }
    }
}

fn sim_script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sim").join(name)
}

fn require_tools(kind: Kind) {
    require_tool("bash");
    match kind {
        Kind::Uboot => {
            require_tool("mkenvimage");
            require_tool("fw_printenv");
            require_tool("fw_setenv");
        }
        Kind::Grub => {
            require_tool("grub-editenv");
            require_tool("sha256sum");
        }
    }
}

/// A device made by `make-device.sh` in a scratch directory.
struct Device {
    _tmp: TempDir,
    dir: PathBuf,
    kind: Kind,
}

impl Device {
    fn new(kind: Kind, extra: &[&str]) -> Device {
        require_tools(kind);
        let tmp = TempDir::new(&format!("sim-{}", kind.name()));
        let dir = tmp.join("device");
        run_ok(
            Command::new(sim_script("make-device.sh"))
                .arg(&dir)
                .arg(kind.name())
                .args(extra),
        );
        // make-device.sh writes physical paths (`pwd -P`); compare against the same.
        let dir = match std::fs::canonicalize(&dir) {
            Ok(dir) => dir,
            Err(e) => panic!("cannot resolve {}: {e}", dir.display()),
        };
        Device {
            _tmp: tmp,
            dir,
            kind,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn fw_config(&self) -> PathBuf {
        self.path("fw_env.config")
    }

    fn grub_file(&self, copy: u8, file: &str) -> PathBuf {
        self.path("grubenv")
            .join(format!("mender_grubenv{copy}"))
            .join(file)
    }

    /// Runs `boot.sh`, returning its raw output whatever the exit status.
    fn boot_raw(&self, fail: bool) -> Output {
        let mut cmd = Command::new(sim_script("boot.sh"));
        cmd.arg(&self.dir);
        if fail {
            cmd.arg("--fail");
        }
        run(&mut cmd)
    }

    /// Runs `boot.sh`, requires exit 0 and returns its one stdout line.
    fn boot(&self) -> String {
        self.boot_with(false)
    }

    fn boot_with(&self, fail: bool) -> String {
        let out = self.boot_raw(fail);
        assert!(
            out.status.success(),
            "boot.sh failed\n{}",
            output_text(&out)
        );
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines.len(),
            1,
            "boot.sh must print one line\n{}",
            output_text(&out)
        );
        lines.first().map_or_else(String::new, |l| (*l).to_owned())
    }

    fn active(&self) -> String {
        read_text(&self.path("active")).trim_end().to_owned()
    }

    /// The boot environment as the real tools print it (GRUB: copy 1, which the boot script reads).
    fn env(&self) -> BTreeMap<String, String> {
        match self.kind {
            Kind::Uboot => {
                let out = run_ok(Command::new("fw_printenv").arg("-c").arg(self.fw_config()));
                parse_vars(&out.stdout)
            }
            Kind::Grub => grub_list(&self.grub_file(1, "env")),
        }
    }

    /// Sets variables the way a client does: one `fw_setenv -s -` script for U-Boot, the
    /// grub-mender-grubenv lock2/env2/lock2/lock1/env1/lock1 sequence for GRUB.
    fn set_env(&self, pairs: &[(&str, &str)]) {
        match self.kind {
            Kind::Uboot => {
                let script: String = pairs.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
                fw_setenv_script(&self.fw_config(), &script);
            }
            Kind::Grub => {
                let args: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
                for copy in [2, 1] {
                    grub_set(&self.grub_file(copy, "lock"), &["editing=1".to_owned()]);
                    grub_set(&self.grub_file(copy, "env"), &args);
                    grub_set(&self.grub_file(copy, "lock"), &["editing=0".to_owned()]);
                }
            }
        }
    }

    /// What the client's install step writes before the reboot into B.
    fn install_to_b(&self) {
        self.set_env(&[
            ("upgrade_available", "1"),
            ("mender_boot_part", "3"),
            ("mender_boot_part_hex", "3"),
            ("bootcount", "0"),
        ]);
    }

    fn commit(&self) {
        self.set_env(&[("upgrade_available", "0")]);
    }
}

fn read_text(path: &Path) -> String {
    match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => panic!("cannot read {}: {e}", path.display()),
    }
}

fn read_bytes(path: &Path) -> Vec<u8> {
    match std::fs::read(path) {
        Ok(data) => data,
        Err(e) => panic!("cannot read {}: {e}", path.display()),
    }
}

fn write_bytes(path: &Path, data: &[u8]) {
    if let Err(e) = std::fs::write(path, data) {
        panic!("cannot write {}: {e}", path.display());
    }
}

/// Parses `name=value` lines (the output of both `fw_printenv` and `grub-editenv list`).
fn parse_vars(stdout: &[u8]) -> BTreeMap<String, String> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn grub_list(file: &Path) -> BTreeMap<String, String> {
    let out = run_ok(Command::new("grub-editenv").arg(file).arg("list"));
    parse_vars(&out.stdout)
}

fn grub_set(file: &Path, pairs: &[String]) {
    run_ok(
        Command::new("grub-editenv")
            .arg(file)
            .arg("set")
            .args(pairs),
    );
}

fn fw_setenv_script(config: &Path, script: &str) {
    let mut cmd = Command::new("fw_setenv");
    cmd.arg("-c")
        .arg(config)
        .args(["-s", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => panic!("cannot run fw_setenv: {e}"),
    };
    if let Some(mut stdin) = child.stdin.take() {
        if let Err(e) = stdin.write_all(script.as_bytes()) {
            panic!("cannot feed fw_setenv: {e}");
        }
    }
    let out = match child.wait_with_output() {
        Ok(out) => out,
        Err(e) => panic!("fw_setenv did not finish: {e}"),
    };
    assert!(
        out.status.success(),
        "fw_setenv -s - failed\n{}",
        output_text(&out)
    );
}

fn var<'a>(env: &'a BTreeMap<String, String>, name: &str) -> &'a str {
    env.get(name).map_or("<unset>", String::as_str)
}

/// Asserts that the environment holds each of `expected`.
fn assert_vars(env: &BTreeMap<String, String>, expected: &[(&str, &str)]) {
    for (name, value) in expected {
        assert_eq!(var(env, name), *value, "variable {name} in {env:?}");
    }
}

/// Flips one byte inside the data area of a U-Boot env copy so its CRC no longer matches.
fn corrupt_uboot_copy(path: &Path) {
    let mut data = read_bytes(path);
    match data.get_mut(10) {
        Some(byte) => *byte ^= 0x55,
        None => panic!("{} is shorter than 11 bytes", path.display()),
    }
    write_bytes(path, &data);
}

fn assert_does_not_boot(device: &Device, reason: &str) {
    let out = device.boot_raw(false);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("device does not boot") && stderr.contains(reason),
        "expected a failed boot mentioning {reason:?}\n{}",
        output_text(&out)
    );
    assert_eq!(device.active(), "none");
}

fn check_common_layout(device: &Device, device_type: &str, artifact_name: &str, mib: u64) {
    let dir = device.dir.as_path();
    for img in ["rootfs-a.p2", "rootfs-b.p3"] {
        let meta = std::fs::metadata(dir.join(img)).expect("partition image exists");
        assert!(meta.is_file(), "{img} is a regular file");
        assert_eq!(meta.len(), mib * 1024 * 1024, "{img} size");
    }
    let a = read_bytes(&dir.join("rootfs-a.p2"));
    assert!(a.starts_with(b"MENDER-SIM ROOTFS A\n"), "A has its header");
    assert_eq!(
        read_text(&dir.join("data/device_type")),
        format!("device_type={device_type}\n")
    );
    assert_eq!(
        read_text(&dir.join("etc/artifact_info")),
        format!("artifact_name={artifact_name}\n")
    );
    assert_eq!(device.active(), "A 2");

    let conf: Value =
        serde_json::from_str(&read_text(&dir.join("mender.conf"))).expect("mender.conf is JSON");
    let text = |key: &str| conf.get(key).and_then(Value::as_str).map(str::to_owned);
    let abs = |name: &str| Some(dir.join(name).to_string_lossy().into_owned());
    assert!(dir.is_absolute());
    assert_eq!(text("RootfsPartA"), abs("rootfs-a.p2"));
    assert_eq!(text("RootfsPartB"), abs("rootfs-b.p3"));
    assert_eq!(text("DeviceTypeFile"), abs("data/device_type"));
    assert_eq!(text("BootEnvironment").as_deref(), Some(device.kind.name()));
    match device.kind {
        Kind::Uboot => {
            assert_eq!(text("UbootEnvConfig"), abs("fw_env.config"));
            assert_eq!(text("GrubEnvDir"), None);
        }
        Kind::Grub => {
            assert_eq!(text("GrubEnvDir"), abs("grubenv"));
            assert_eq!(text("UbootEnvConfig"), None);
        }
    }
}

const INITIAL_UBOOT: [(&str, &str); 7] = [
    ("bootlimit", "1"),
    ("bootcount", "0"),
    ("upgrade_available", "0"),
    ("mender_boot_part", "2"),
    ("mender_boot_part_hex", "2"),
    ("mender_check_saveenv_canary", "1"),
    ("mender_saveenv_canary", "1"),
];

#[test]
fn uboot_device_layout_is_readable_by_the_real_tools() {
    let device = Device::new(
        Kind::Uboot,
        &[
            "--part-size",
            "2",
            "--device-type",
            "board-x",
            "--artifact-name",
            "release-7",
        ],
    );
    check_common_layout(&device, "board-x", "release-7", 2);
    assert_vars(&device.env(), &INITIAL_UBOOT);

    // Two equal redundant copies of 0x4000 bytes with flag byte 1: the tools pick copy 1 on the
    // tie, and copy 2 is just as valid.
    let one = read_bytes(&device.path("uboot-env-1.bin"));
    let two = read_bytes(&device.path("uboot-env-2.bin"));
    assert_eq!(one.len(), 0x4000);
    assert_eq!(one, two);
    assert_eq!(one.get(4), Some(&1));
    let config = read_text(&device.fw_config());
    let lines: Vec<&str> = config.lines().filter(|l| !l.starts_with('#')).collect();
    let expect = |n: u8| {
        format!(
            "{} 0x0 0x4000",
            device.path(&format!("uboot-env-{n}.bin")).display()
        )
    };
    assert_eq!(lines, vec![expect(1), expect(2)]);

    // The first write goes to copy 2 with flag 2 and leaves copy 1 alone.
    device.set_env(&[("probe", "x")]);
    assert_eq!(read_bytes(&device.path("uboot-env-1.bin")), one);
    assert_eq!(read_bytes(&device.path("uboot-env-2.bin")).get(4), Some(&2));
    // Copy 2 alone carries the environment once copy 1 is broken.
    corrupt_uboot_copy(&device.path("uboot-env-1.bin"));
    let env = device.env();
    assert_vars(&env, &INITIAL_UBOOT);
    assert_vars(&env, &[("probe", "x")]);
}

#[test]
fn grub_device_layout_is_readable_by_the_real_tools() {
    let device = Device::new(Kind::Grub, &[]);
    check_common_layout(&device, "sim-device", "sim-base", 64);
    let expected_env = [
        ("bootcount", "0"),
        ("mender_boot_part", "2"),
        ("upgrade_available", "0"),
    ];
    for copy in [1, 2] {
        let env_file = device.grub_file(copy, "env");
        let lock_file = device.grub_file(copy, "lock");
        assert_eq!(read_bytes(&env_file).len(), 1024);
        assert_eq!(read_bytes(&lock_file).len(), 1024);
        let env = grub_list(&env_file);
        assert_vars(&env, &expected_env);
        assert_eq!(env.len(), expected_env.len(), "copy {copy}: {env:?}");
        let lock = grub_list(&lock_file);
        assert_eq!(lock.len(), 1);
        assert_vars(&lock, &[("editing", "0")]);
        // `sha256sum lock` output, checkable from the copy's directory as the Linux tools do.
        let sum = read_text(&device.grub_file(copy, "lock.sha256sum"));
        let digest = mender_tests::sha256_file(&lock_file);
        assert_eq!(sum, format!("{digest}  lock\n"));
        let dir = device.grub_file(copy, "");
        run_ok(
            Command::new("sha256sum")
                .args(["-c", "--status", "lock.sha256sum"])
                .current_dir(&dir),
        );
    }
}

/// Install, boot into B, reboot without a commit: the bootloader must roll back to A.
fn uncommitted_update_rolls_back(kind: Kind) {
    let device = Device::new(kind, &["--part-size", "1"]);
    device.install_to_b();
    assert_eq!(device.boot(), "booted 3 (rootfs-b.p3)");
    assert_eq!(device.active(), "B 3");
    assert_vars(
        &device.env(),
        &[
            ("upgrade_available", "1"),
            ("bootcount", "1"),
            ("mender_boot_part", "3"),
        ],
    );

    assert_eq!(device.boot(), "rolled back: booted 2 (rootfs-a.p2)");
    assert_eq!(device.active(), "A 2");
    let env = device.env();
    assert_vars(
        &env,
        &[("upgrade_available", "0"), ("mender_boot_part", "2")],
    );
    match kind {
        // altbootcmd flips both numbers; bootcount is left over the limit.
        Kind::Uboot => assert_vars(&env, &[("mender_boot_part_hex", "2"), ("bootcount", "2")]),
        // GRUB resets the count and never touches the _hex copy the client wrote.
        Kind::Grub => {
            assert_vars(&env, &[("bootcount", "0"), ("mender_boot_part_hex", "3")]);
            assert_eq!(
                grub_list(&device.grub_file(2, "env")),
                env,
                "both copies agree"
            );
            for copy in [1, 2] {
                assert_vars(
                    &grub_list(&device.grub_file(copy, "lock")),
                    &[("editing", "0")],
                );
            }
        }
    }

    // Nothing pending any more: the device stays on A.
    assert_eq!(device.boot(), "booted 2 (rootfs-a.p2)");
    assert_eq!(device.boot(), "booted 2 (rootfs-a.p2)");
    assert_eq!(device.active(), "A 2");
}

#[test]
fn uboot_uncommitted_update_rolls_back() {
    uncommitted_update_rolls_back(Kind::Uboot);
}

#[test]
fn grub_uncommitted_update_rolls_back() {
    uncommitted_update_rolls_back(Kind::Grub);
}

/// Install, boot into B, commit: further boots stay on B and never touch the counter again.
fn committed_update_sticks(kind: Kind) {
    let device = Device::new(kind, &["--part-size", "1"]);
    device.install_to_b();
    assert_eq!(device.boot(), "booted 3 (rootfs-b.p3)");
    device.commit();
    for _ in 0..3 {
        assert_eq!(device.boot(), "booted 3 (rootfs-b.p3)");
        assert_eq!(device.active(), "B 3");
    }
    assert_vars(
        &device.env(),
        &[
            ("upgrade_available", "0"),
            ("mender_boot_part", "3"),
            ("bootcount", "1"),
        ],
    );

    // A second update from B back to A follows the same rules.
    device.set_env(&[
        ("upgrade_available", "1"),
        ("mender_boot_part", "2"),
        ("mender_boot_part_hex", "2"),
        ("bootcount", "0"),
    ]);
    assert_eq!(device.boot(), "booted 2 (rootfs-a.p2)");
    assert_eq!(device.boot(), "rolled back: booted 3 (rootfs-b.p3)");
    assert_eq!(device.active(), "B 3");
}

#[test]
fn uboot_committed_update_sticks() {
    committed_update_sticks(Kind::Uboot);
}

#[test]
fn grub_committed_update_sticks() {
    committed_update_sticks(Kind::Grub);
}

/// `--fail`: the new kernel dies before the client can commit; the next power-on rolls back.
fn failed_kernel_rolls_back(kind: Kind) {
    let device = Device::new(kind, &["--part-size", "1"]);
    device.install_to_b();
    let line = device.boot_with(true);
    assert!(
        line.starts_with("booted 3 (rootfs-b.p3)") && line.contains("failed"),
        "{line}"
    );
    assert_eq!(device.active(), "none");
    assert_vars(
        &device.env(),
        &[("upgrade_available", "1"), ("bootcount", "1")],
    );
    assert_eq!(device.boot(), "rolled back: booted 2 (rootfs-a.p2)");
    assert_eq!(device.active(), "A 2");
    assert_vars(&device.env(), &[("upgrade_available", "0")]);

    // A failed start of the stable system changes nothing: the next boot tries it again.
    let line = device.boot_with(true);
    assert!(line.starts_with("booted 2 (rootfs-a.p2)"), "{line}");
    assert_eq!(device.boot(), "booted 2 (rootfs-a.p2)");
}

#[test]
fn uboot_failed_kernel_rolls_back() {
    failed_kernel_rolls_back(Kind::Uboot);
}

#[test]
fn grub_failed_kernel_rolls_back() {
    failed_kernel_rolls_back(Kind::Grub);
}

/// An empty B image cannot boot; the decision is already saved, so the next boot rolls back.
fn empty_partition_does_not_boot(kind: Kind) {
    let device = Device::new(kind, &["--part-size", "1"]);
    write_bytes(&device.path("rootfs-b.p3"), b"");
    device.install_to_b();
    assert_does_not_boot(&device, "rootfs-b.p3");
    assert_eq!(device.boot(), "rolled back: booted 2 (rootfs-a.p2)");
}

#[test]
fn uboot_empty_partition_does_not_boot() {
    empty_partition_does_not_boot(Kind::Uboot);
}

#[test]
fn grub_empty_partition_does_not_boot() {
    empty_partition_does_not_boot(Kind::Grub);
}

#[test]
fn uboot_env_with_one_bad_copy_boots_and_with_two_does_not() {
    let device = Device::new(Kind::Uboot, &["--part-size", "1"]);
    device.install_to_b(); // lands in copy 2
    corrupt_uboot_copy(&device.path("uboot-env-1.bin"));
    assert_eq!(device.boot(), "booted 3 (rootfs-b.p3)");
    corrupt_uboot_copy(&device.path("uboot-env-2.bin"));
    // The bootcount save repaired copy 1; breaking it again leaves nothing readable.
    corrupt_uboot_copy(&device.path("uboot-env-1.bin"));
    assert_does_not_boot(&device, "cannot read the U-Boot environment");
}

#[test]
fn uboot_restores_the_canary_and_rejects_mismatched_partition_numbers() {
    let device = Device::new(Kind::Uboot, &["--part-size", "1"]);
    // `name=` in an fw_setenv script deletes: the state of a device that never booted before.
    device.set_env(&[("mender_saveenv_canary", "")]);
    assert_eq!(device.env().get("mender_saveenv_canary"), None);
    assert_eq!(device.boot(), "booted 2 (rootfs-a.p2)");
    assert_vars(&device.env(), &[("mender_saveenv_canary", "1")]);

    device.set_env(&[("mender_boot_part", "3")]);
    assert_does_not_boot(&device, "name different partitions");
    device.set_env(&[("mender_boot_part", "5"), ("mender_boot_part_hex", "5")]);
    assert_does_not_boot(&device, "not a partition of this device");
}

#[test]
fn grub_restores_a_copy_that_was_being_edited() {
    let device = Device::new(Kind::Grub, &["--part-size", "1"]);
    // A client died while writing copy 2: lock2 says editing, env2 is half-updated.
    grub_set(&device.grub_file(2, "lock"), &["editing=1".to_owned()]);
    grub_set(
        &device.grub_file(2, "env"),
        &[
            "mender_boot_part=3".to_owned(),
            "upgrade_available=1".to_owned(),
        ],
    );
    assert_eq!(device.boot(), "booted 2 (rootfs-a.p2)");
    assert_eq!(
        grub_list(&device.grub_file(2, "env")),
        grub_list(&device.grub_file(1, "env"))
    );
    assert_vars(
        &grub_list(&device.grub_file(2, "lock")),
        &[("editing", "0")],
    );
    let digest = mender_tests::sha256_file(&device.grub_file(2, "lock"));
    assert!(read_text(&device.grub_file(2, "lock.sha256sum")).starts_with(&digest));

    // Died while writing copy 1 (copy 2 already done): copy 1 is rebuilt from copy 2, so the
    // install takes effect.
    for (file, pairs) in [
        ("lock", vec!["editing=1"]),
        (
            "env",
            vec!["upgrade_available=1", "mender_boot_part=3", "bootcount=0"],
        ),
        ("lock", vec!["editing=0"]),
    ] {
        let pairs: Vec<String> = pairs.into_iter().map(str::to_owned).collect();
        grub_set(&device.grub_file(2, file), &pairs);
    }
    grub_set(&device.grub_file(1, "lock"), &["editing=1".to_owned()]);
    assert_eq!(device.boot(), "booted 3 (rootfs-b.p3)");
    assert_vars(
        &device.env(),
        &[("mender_boot_part", "3"), ("bootcount", "1")],
    );
    assert_vars(
        &grub_list(&device.grub_file(1, "lock")),
        &[("editing", "0")],
    );
}

#[test]
fn grub_invalid_or_missing_env_does_not_boot() {
    let device = Device::new(Kind::Grub, &["--part-size", "1"]);
    device.set_env(&[("bootcount", "2")]);
    assert_does_not_boot(&device, "bootcount='2'");

    let device = Device::new(Kind::Grub, &["--part-size", "1"]);
    for copy in [1, 2] {
        if let Err(e) = std::fs::remove_file(device.grub_file(copy, "env")) {
            panic!("cannot remove env copy {copy}: {e}");
        }
    }
    assert_does_not_boot(&device, "unreadable or invalid");
    // GRUB cannot create files: the sim must not have recreated them either.
    assert!(!device.grub_file(1, "env").exists());
}

#[test]
fn scripts_reject_bad_usage() {
    require_tools(Kind::Uboot);
    let tmp = TempDir::new("sim-usage");
    let make = |args: &[&str]| {
        run(Command::new(sim_script("make-device.sh"))
            .arg(tmp.join("dev"))
            .args(args))
    };
    for bad in [
        &["lilo"][..],
        &["uboot", "--part-size", "0"],
        &["uboot", "--part-size", "x"],
        &["uboot", "--bogus", "1"],
        &["uboot", "--device-type"],
    ] {
        let out = make(bad);
        assert!(
            !out.status.success(),
            "{bad:?} accepted\n{}",
            output_text(&out)
        );
    }
    assert!(
        !tmp.join("dev").exists(),
        "a rejected call created the device dir"
    );

    run_ok(
        Command::new(sim_script("make-device.sh"))
            .arg(tmp.join("dev"))
            .arg("uboot")
            .args(["--part-size", "1"]),
    );
    let again = make(&["grub"]);
    assert!(
        !again.status.success()
            && String::from_utf8_lossy(&again.stderr).contains("already holds a device"),
        "{}",
        output_text(&again)
    );

    let out = run(Command::new(sim_script("boot.sh"))
        .arg(tmp.join("dev"))
        .arg("--bogus"));
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
    let out = run(Command::new(sim_script("boot.sh")).arg(tmp.join("nothing")));
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
}
