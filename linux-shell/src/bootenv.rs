//! The boot environment of this device: U-Boot (fw_env.config) or GRUB (grub-mender-grubenv
//! directory), chosen by the `BootEnvironment` config key (extension; "auto" by default).
use mender_core::hal::BootEnv;
use mender_hal_grub::mender::GrubEnv;
use mender_hal_uboot::device::UBootEnv;
use std::fs::File;
use std::path::{Path, PathBuf};

/// Which bootloader to talk to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    Uboot(PathBuf),
    Grub(PathBuf),
}

/// The opened environment.
pub enum LinuxBootEnv {
    Uboot(UBootEnv<File>),
    Grub(GrubEnv),
}

impl LinuxBootEnv {
    pub fn open(choice: &Choice) -> Result<LinuxBootEnv, String> {
        match choice {
            Choice::Uboot(config) => UBootEnv::open(config)
                .map(LinuxBootEnv::Uboot)
                .map_err(|e| format!("U-Boot environment ({}): {}", config.display(), e)),
            Choice::Grub(dir) => Ok(LinuxBootEnv::Grub(GrubEnv::open(dir))),
        }
    }
}

/// "auto": a grub-mender-grubenv directory wins when one exists, else fw_env.config.
pub fn choose(
    kind: &str,
    uboot_config: &Path,
    grub_dir: Option<PathBuf>,
) -> Result<Choice, String> {
    match kind {
        "uboot" => Ok(Choice::Uboot(uboot_config.to_path_buf())),
        "grub" => grub_dir
            .map(Choice::Grub)
            .ok_or_else(|| "Cannot determine environment directory.".to_string()),
        _ => match grub_dir {
            Some(dir) if dir.join("mender_grubenv1").is_dir() => Ok(Choice::Grub(dir)),
            _ if uboot_config.exists() => Ok(Choice::Uboot(uboot_config.to_path_buf())),
            _ => Err(format!(
                "no boot environment found: neither a grub-mender-grubenv directory nor {}",
                uboot_config.display()
            )),
        },
    }
}

impl BootEnv for LinuxBootEnv {
    type Error = String;

    fn get(&mut self, name: &str, buf: &mut [u8]) -> Result<Option<usize>, String> {
        match self {
            LinuxBootEnv::Uboot(e) => e.get(name, buf).map_err(|e| e.to_string()),
            LinuxBootEnv::Grub(e) => e.get(name, buf).map_err(|e| e.to_string()),
        }
    }

    fn set(&mut self, vars: &[(&str, &str)]) -> Result<(), String> {
        match self {
            LinuxBootEnv::Uboot(e) => e.set(vars).map_err(|e| e.to_string()),
            LinuxBootEnv::Grub(e) => e.set(vars).map_err(|e| e.to_string()),
        }
    }
}
