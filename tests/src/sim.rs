//! A simulated device (tests/sim/make-device.sh) driven through the real `mender` binary and
//! rebooted with the simulated bootloader (tests/sim/boot.sh), which uses the real
//! fw_setenv/grub-editenv and so checks our environment writes independently.
use crate::{mender_bin, mender_command, require_tool, run, run_ok, workspace_root, TempDir};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The bootloader of a simulated device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Boot {
    Uboot,
    Grub,
}

impl Boot {
    pub const ALL: [Boot; 2] = [Boot::Uboot, Boot::Grub];
    pub fn name(self) -> &'static str {
        match self {
            Boot::Uboot => "uboot",
            Boot::Grub => "grub",
        }
    }
}

/// A simulated device in a temp dir.
pub struct SimDevice {
    pub dir: TempDir,
    pub boot: Boot,
    bin: PathBuf,
}

impl SimDevice {
    pub fn new(boot: Boot, part_mib: u32) -> SimDevice {
        for t in [
            "mkenvimage",
            "fw_printenv",
            "fw_setenv",
            "grub-editenv",
            "mender-artifact",
        ] {
            require_tool(t);
        }
        let dir = TempDir::new(&format!("sim-{}", boot.name()));
        let dev = dir.join("dev");
        run_ok(
            Command::new("bash")
                .arg(workspace_root().join("tests/sim/make-device.sh"))
                .arg(&dev)
                .arg(boot.name())
                .args(["--part-size", &part_mib.to_string()]),
        );
        SimDevice {
            dir,
            boot,
            bin: mender_bin(),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join("dev").join(name)
    }

    /// `mender -c mender.conf -d data ARGS`.
    pub fn mender(&self, args: &[&str]) -> Output {
        self.mender_with(&self.bin, args)
    }

    /// The same with another build of the binary (e.g. with fault injection); both honour
    /// `MENDER_TEST_RUNNER` (see [`mender_command`]).
    pub fn mender_with(&self, bin: &Path, args: &[&str]) -> Output {
        let mut cmd = mender_command(bin);
        cmd.arg("-c")
            .arg(self.path("mender.conf"))
            .arg("-d")
            .arg(self.path("data"))
            .args(args);
        run(&mut cmd)
    }

    /// One simulated power-on; returns the bootloader's line (`booted 3 (...)`).
    pub fn boot(&self, fail: bool) -> String {
        let mut cmd = Command::new("bash");
        cmd.arg(workspace_root().join("tests/sim/boot.sh"))
            .arg(self.path(""));
        if fail {
            cmd.arg("--fail");
        }
        let out = run(&mut cmd);
        assert!(
            out.status.success(),
            "the simulated device does not boot: {}",
            crate::output_text(&out)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// The partition number the machine runs after the last boot.
    pub fn active(&self) -> u32 {
        let s = std::fs::read_to_string(self.path("active")).unwrap_or_default();
        s.split_whitespace()
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }

    /// The boot environment as the real tools print it.
    pub fn env(&self) -> Vec<(String, String)> {
        let out = match self.boot {
            Boot::Uboot => run_ok(
                Command::new("fw_printenv")
                    .arg("-c")
                    .arg(self.path("fw_env.config")),
            ),
            Boot::Grub => run_ok(
                Command::new("grub-editenv")
                    .arg(self.path("grubenv/mender_grubenv1/env"))
                    .arg("list"),
            ),
        };
        let mut vars: Vec<(String, String)> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                l.split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
            })
            .collect();
        vars.sort();
        vars
    }

    pub fn var(&self, name: &str) -> Option<String> {
        self.env()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// Bytes of every file of the boot environment, to prove it untouched.
    pub fn env_files(&self) -> Vec<Vec<u8>> {
        let names: &[&str] = match self.boot {
            Boot::Uboot => &["uboot-env-1.bin", "uboot-env-2.bin"],
            Boot::Grub => &[
                "grubenv/mender_grubenv1/env",
                "grubenv/mender_grubenv1/lock",
                "grubenv/mender_grubenv2/env",
                "grubenv/mender_grubenv2/lock",
            ],
        };
        names
            .iter()
            .map(|n| std::fs::read(self.path(n)).unwrap_or_default())
            .collect()
    }

    /// Writes an Artifact with the real mender-artifact from an image of `data`.
    pub fn artifact(&self, name: &str, data: &[u8], extra: &[&str]) -> PathBuf {
        let img = self.dir.join(format!("{name}.img"));
        std::fs::write(&img, data).expect("write image");
        let out = self.dir.join(format!("{name}.mender"));
        run_ok(
            Command::new(require_tool("mender-artifact"))
                .args([
                    "write",
                    "rootfs-image",
                    "-t",
                    "sim-device",
                    "-n",
                    name,
                    "-f",
                ])
                .arg(&img)
                .args(extra)
                .arg("-o")
                .arg(&out),
        );
        out
    }
}

/// Deterministic image content of `len` bytes for `seed`.
pub fn image(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|i| {
            if i % 4096 < 1024 {
                0
            } else {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            }
        })
        .collect()
}
