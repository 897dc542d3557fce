//! Which of RootfsPartA/B is running and which is the inactive target
//! (../shared/spec/client-behavior.md §6.1).
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// The A/B pair with the running one first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slots {
    pub active: PathBuf,
    pub active_num: u32,
    pub inactive: PathBuf,
    pub inactive_num: u32,
    /// RootfsPartA/B are regular files (a simulated device).
    pub simulated: bool,
}

/// The partition number: the trailing decimal digits of the device path (`/dev/mmcblk0p2` → 2).
pub fn part_number(path: &Path) -> Option<u32> {
    let s = path.to_str()?;
    let digits = s.len() - s.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    s[s.len() - digits..].parse().ok()
}

fn number(path: &Path, key: &str) -> Result<u32, String> {
    part_number(path).ok_or_else(|| {
        format!(
            "{} ({}) does not end with a partition number",
            key,
            path.display()
        )
    })
}

/// Detects the running partition. `boot_part` is `mender_boot_part` from the boot environment.
pub fn detect(a: Option<&Path>, b: Option<&Path>, boot_part: Option<u32>) -> Result<Slots, String> {
    let (Some(a), Some(b)) = (a, b) else {
        return Err("RootfsPartA and RootfsPartB are not both set.".into());
    };
    if a == b {
        return Err("RootfsPartA and RootfsPartB cannot be set to the same value.".into());
    }
    let (an, bn) = (number(a, "RootfsPartA")?, number(b, "RootfsPartB")?);
    let is_file = |p: &Path| std::fs::metadata(p).map(|m| m.is_file()).unwrap_or(false);
    let slots = |a_active: bool, simulated: bool| {
        let ((act, actn), (ina, inan)) = if a_active {
            ((a, an), (b, bn))
        } else {
            ((b, bn), (a, an))
        };
        Slots {
            active: act.to_path_buf(),
            active_num: actn,
            inactive: ina.to_path_buf(),
            inactive_num: inan,
            simulated,
        }
    };
    if is_file(a) && is_file(b) {
        // A simulated device: nothing is mounted from these files, so the boot environment
        // is the only record of which one "runs".
        return match boot_part {
            Some(n) if n == an => Ok(slots(true, true)),
            Some(n) if n == bn => Ok(slots(false, true)),
            _ => Err("Active root partition matches neither RootfsPartA nor RootfsPartB.".into()),
        };
    }
    let root_dev = std::fs::metadata("/")
        .map_err(|e| format!("stat /: {}", e))?
        .dev();
    let rdev = |p: &Path| {
        std::fs::metadata(p)
            .ok()
            .filter(|m| m.file_type().is_block_device())
            .map(|m| m.rdev())
    };
    if rdev(a) == Some(root_dev) {
        return Ok(slots(true, false));
    }
    if rdev(b) == Some(root_dev) {
        return Ok(slots(false, false));
    }
    // No device node matches the root file system: fall back to the mounted root's name, which
    // must agree with the boot environment.
    let mounted = mounted_root().unwrap_or_default();
    let n = part_number(Path::new(&mounted));
    match (n, boot_part) {
        (Some(n), Some(bp)) if n == bp && n == an => Ok(slots(true, false)),
        (Some(n), Some(bp)) if n == bp && n == bn => Ok(slots(false, false)),
        (Some(_), Some(bp)) => Err(format!(
            "No match between boot and root partitions.: mounted root '{}' does not match boot environment mender_boot_part: {}",
            mounted, bp
        )),
        _ => Err("Active root partition matches neither RootfsPartA nor RootfsPartB.".into()),
    }
}

/// The device mounted at `/`, from /proc/mounts.
fn mounted_root() -> Option<String> {
    let mounts = std::fs::read_to_string("/proc/mounts").ok()?;
    mounts
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            Some((f.next()?, f.next()?))
        })
        .find(|(_, mp)| *mp == "/")
        .map(|(dev, _)| dev.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_simulated_detection() {
        assert_eq!(part_number(Path::new("/dev/mmcblk0p2")), Some(2));
        assert_eq!(part_number(Path::new("/dev/sda13")), Some(13));
        assert_eq!(part_number(Path::new("/dev/root")), None);
        let dir = std::env::temp_dir().join(format!("mender-parts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (a, b) = (dir.join("sim-p2"), dir.join("sim-p3"));
        std::fs::write(&a, b"a").unwrap();
        std::fs::write(&b, b"b").unwrap();
        let s = detect(Some(&a), Some(&b), Some(3)).unwrap();
        assert_eq!((s.active_num, s.inactive_num, s.simulated), (3, 2, true));
        assert_eq!(s.inactive, a);
        assert!(detect(Some(&a), Some(&b), Some(4))
            .unwrap_err()
            .contains("matches neither"));
        assert!(detect(Some(&a), Some(&a), Some(2))
            .unwrap_err()
            .contains("same value"));
        assert!(detect(Some(&a), None, Some(2))
            .unwrap_err()
            .contains("not both set"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
