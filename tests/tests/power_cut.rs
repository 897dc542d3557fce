//! Power cuts across `mender install`, `commit` and `rollback` on simulated U-Boot and GRUB
//! devices. The client runs under an LD_PRELOAD shim (tests/faultcut/faultcut.c) that kills it
//! in the middle of its persistent writes: at both ends and inside every write call (payload,
//! state file, boot env), and at every rename/unlink. After each cut the simulated bootloader
//! must boot a consistent slot, and the client, restarted, must end in the old or the new
//! state: the image it reports installed is the one the device boots.
//!
//! Loss of data that was written but not yet synced is covered below this level, by the
//! fault-injecting storage tests of hal-uboot, hal-grub and the store.
use mender_tests::sim::{image, Boot, SimDevice};
use mender_tests::{output_text, require_tool, run_ok, target_dir};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

fn shim() -> PathBuf {
    static SHIM: OnceLock<PathBuf> = OnceLock::new();
    SHIM.get_or_init(|| {
        let cc = require_tool("gcc");
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("faultcut/faultcut.c");
        let out = target_dir().join(format!("faultcut-{}.so", std::process::id()));
        run_ok(
            Command::new(cc)
                .args(["-shared", "-fPIC", "-O2", "-o"])
                .arg(&out)
                .arg(&src)
                .arg("-ldl"),
        );
        out
    })
    .clone()
}

/// Runs mender under the shim; `budget` None = no cut (trace only).
fn mender_cut(dev: &SimDevice, args: &[&str], budget: Option<u64>, trace: Option<&Path>) -> Output {
    let mut cmd = Command::new(mender_tests::mender_bin());
    cmd.arg("-c")
        .arg(dev.path("mender.conf"))
        .arg("-d")
        .arg(dev.path("data"))
        .args(args);
    cmd.env("LD_PRELOAD", shim());
    if let Some(b) = budget {
        cmd.env("FAULTCUT_BUDGET", b.to_string());
    }
    if let Some(t) = trace {
        cmd.env("FAULTCUT_TRACE", t);
    }
    cmd.output().expect("run mender")
}

/// Cut points for the operations of a trace: both ends of every operation, a few bytes into
/// and before the end of each write, and a stride through long writes.
fn cut_points(trace: &str) -> Vec<u64> {
    let mut points = Vec::new();
    let mut at = 0u64;
    for line in trace.lines() {
        let n: u64 = line
            .split_whitespace()
            .nth(1)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        points.push(at);
        if n > 1 {
            for k in [1, 2, 3, 4, 5, 8, 13, 21, 64] {
                if k < n {
                    points.push(at + k);
                    points.push(at + n - k);
                }
            }
            let mut k = 509;
            while k < n {
                points.push(at + k);
                k += 509;
            }
        }
        at += n;
    }
    points.push(at);
    points.sort_unstable();
    points.dedup();
    points
}

fn snapshot(dev: &SimDevice) -> PathBuf {
    let snap = dev.dir.join("snapshot");
    run_ok(Command::new("cp").arg("-a").arg(dev.path("")).arg(&snap));
    snap
}

fn restore(dev: &SimDevice, snap: &Path) {
    let live = dev.path("");
    std::fs::remove_dir_all(&live).expect("remove device");
    run_ok(
        Command::new("cp")
            .arg("-a")
            .arg(snap)
            .arg(live.to_str().unwrap().trim_end_matches('/')),
    );
}

fn show_artifact(dev: &SimDevice) -> String {
    let out = dev.mender(&["show-artifact"]);
    assert!(
        out.status.success(),
        "show-artifact after a cut: {}",
        output_text(&out)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Install,
    Commit,
    Rollback,
}

fn scenario(boot: Boot, op: Op) {
    let dev = SimDevice::new(boot, 1);
    let img = image(40_000, 11);
    let art = dev.artifact("r2", &img, &[]);
    let art = art.to_str().unwrap();
    // Preconditions.
    match op {
        Op::Install => {}
        Op::Commit => {
            assert_eq!(code(&dev.mender(&["install", art])), 0);
            assert_eq!(dev.boot(false), "booted 3 (rootfs-b.p3)");
        }
        Op::Rollback => assert_eq!(code(&dev.mender(&["install", art])), 0),
    }
    let args: Vec<&str> = match op {
        Op::Install => vec!["install", art],
        Op::Commit => vec!["commit"],
        Op::Rollback => vec!["rollback"],
    };
    let snap = snapshot(&dev);
    let a_before = std::fs::read(dev.path("rootfs-a.p2")).unwrap();
    let trace = dev.dir.join("trace");
    let full = mender_cut(&dev, &args, None, Some(&trace));
    assert_eq!(
        code(&full),
        0,
        "{op:?} without a cut: {}",
        output_text(&full)
    );
    let points = cut_points(&std::fs::read_to_string(&trace).unwrap());
    assert!(points.len() > 5, "trace too short: {points:?}");
    for &n in &points {
        restore(&dev, &snap);
        let out = mender_cut(&dev, &args, Some(n), None);
        assert!(
            matches!(code(&out), 0 | 99),
            "{boot:?} {op:?} cut at {n}: {}",
            output_text(&out)
        );
        let ctx = format!("{boot:?} {op:?} cut at {n} of {}", points.last().unwrap());
        // Power back on: the bootloader must find a consistent slot.
        let booted = {
            dev.boot(false);
            dev.active()
        };
        match op {
            Op::Install => {
                if booted == 3 {
                    // The switch happened only after the whole image was written and synced.
                    let b = std::fs::read(dev.path("rootfs-b.p3")).unwrap();
                    assert_eq!(
                        &b[..img.len()],
                        &img[..],
                        "{ctx}: booted an incomplete image"
                    );
                    assert_eq!(
                        code(&dev.mender(&["commit"])),
                        0,
                        "{ctx}: commit after the reboot"
                    );
                    assert_eq!(show_artifact(&dev), "r2", "{ctx}");
                } else {
                    assert_eq!(booted, 2, "{ctx}");
                    assert_eq!(
                        std::fs::read(dev.path("rootfs-a.p2")).unwrap(),
                        a_before,
                        "{ctx}: A changed"
                    );
                    assert_eq!(show_artifact(&dev), "sim-base", "{ctx}");
                    // Recover and install again.
                    assert!(matches!(code(&dev.mender(&["rollback"])), 0 | 2), "{ctx}");
                    let again = dev.mender(&["install", art]);
                    assert_eq!(
                        code(&again),
                        0,
                        "{ctx}: install after the cut: {}",
                        output_text(&again)
                    );
                    assert_eq!(dev.boot(false), "booted 3 (rootfs-b.p3)", "{ctx}");
                    assert_eq!(code(&dev.mender(&["commit"])), 0, "{ctx}");
                    assert_eq!(show_artifact(&dev), "r2", "{ctx}");
                }
            }
            Op::Commit => {
                let again = dev.mender(&["commit"]);
                if booted == 3 {
                    // 0: the restarted commit finished the job; 2: it had been finished.
                    assert!(
                        matches!(code(&again), 0 | 2),
                        "{ctx}: finishing the commit: {}",
                        output_text(&again)
                    );
                    assert_eq!(show_artifact(&dev), "r2", "{ctx}");
                } else {
                    // The commit never reached the boot env: the bootloader rolled back.
                    assert_eq!(booted, 2, "{ctx}");
                    assert_eq!(code(&again), 1, "{ctx}: {}", output_text(&again));
                    assert_eq!(code(&dev.mender(&["rollback"])), 0, "{ctx}");
                    assert_eq!(show_artifact(&dev), "sim-base", "{ctx}");
                }
                assert_eq!(
                    dev.boot(false),
                    format!(
                        "booted {booted} ({})",
                        if booted == 3 {
                            "rootfs-b.p3"
                        } else {
                            "rootfs-a.p2"
                        }
                    ),
                    "{ctx}"
                );
            }
            Op::Rollback => {
                assert!(matches!(code(&dev.mender(&["rollback"])), 0 | 2), "{ctx}");
                assert_eq!(
                    dev.boot(false),
                    "booted 2 (rootfs-a.p2)",
                    "{ctx}: rollback must end on A"
                );
                assert_eq!(show_artifact(&dev), "sim-base", "{ctx}");
            }
        }
    }
}

#[test]
fn install_uboot() {
    scenario(Boot::Uboot, Op::Install);
}
#[test]
fn install_grub() {
    scenario(Boot::Grub, Op::Install);
}
#[test]
fn commit_uboot() {
    scenario(Boot::Uboot, Op::Commit);
}
#[test]
fn commit_grub() {
    scenario(Boot::Grub, Op::Commit);
}
#[test]
fn rollback_uboot() {
    scenario(Boot::Uboot, Op::Rollback);
}
#[test]
fn rollback_grub() {
    scenario(Boot::Grub, Op::Rollback);
}
