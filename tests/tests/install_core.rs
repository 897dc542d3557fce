//! The core's rootfs-image install against in-memory devices: what gets written, what is
//! refused before writing, and the boot-env protocol of switch, commit and rollback.
#![allow(clippy::result_large_err)]
use mender_core::install::{self, Device, ImageWriter, InstallError, Rollback, RootfsUpdate};
use mender_core::provides::Installed;
use mender_core::reader::{Config, HeapBuffers};
use mender_tests::fakes::{MemDevice, MemEnv};
use mender_tests::{mender_artifact, TempDir};
use std::collections::BTreeMap;

struct Store {
    name: String,
    group: Option<String>,
    provides: BTreeMap<String, String>,
}

impl Installed for Store {
    fn name(&self) -> &str {
        &self.name
    }
    fn group(&self) -> Option<&str> {
        self.group.as_deref()
    }
    fn provide(&self, key: &str) -> Option<&str> {
        self.provides.get(key).map(String::as_str)
    }
}

fn store(name: &str) -> Store {
    Store {
        name: name.into(),
        group: None,
        provides: BTreeMap::new(),
    }
}

const FRAME: usize = 4096;

/// Runs an install of `artifact` onto `dev`, feeding `chunk` bytes at a time.
fn install(
    artifact: &[u8],
    dev: &mut MemDevice,
    device_type: &str,
    installed: &Store,
) -> Result<install::WriteStats, InstallError> {
    let mut buffers = HeapBuffers::new();
    let (mut frame, mut scratch) = (vec![0u8; FRAME], vec![0u8; FRAME]);
    let writer = ImageWriter::new(dev, &mut frame, &mut scratch);
    let mut up = RootfsUpdate::new(
        buffers.buffers(),
        Config::default(),
        Device {
            device_type,
            installed,
        },
        writer,
    );
    for c in artifact.chunks(7000) {
        up.feed(c)?;
    }
    up.finish()
}

struct Fixture {
    _dir: TempDir,
    image: Vec<u8>,
    good: Vec<u8>,
    depends: Vec<u8>,
    module: Vec<u8>,
    big: Vec<u8>,
}

fn fixture() -> Fixture {
    let dir = TempDir::new("install-core");
    let image: Vec<u8> = (0..50_000u32)
        .map(|i| (i % 253) as u8 ^ (i >> 9) as u8)
        .collect();
    std::fs::write(dir.join("rootfs.img"), &image).unwrap();
    std::fs::write(dir.join("big.img"), vec![1u8; 70_000]).unwrap();
    let mk = |args: &[&str], out: &str| mender_artifact(dir.path(), args, out);
    let good = mk(
        &[
            "write",
            "rootfs-image",
            "-f",
            "rootfs.img",
            "-t",
            "sim",
            "-n",
            "v2",
        ],
        "good.mender",
    );
    let depends = mk(
        &[
            "write",
            "rootfs-image",
            "-f",
            "rootfs.img",
            "-t",
            "sim",
            "-n",
            "v3",
            "-N",
            "v2",
            "-d",
            "custom.key:abc",
        ],
        "depends.mender",
    );
    let module = mk(
        &[
            "write",
            "module-image",
            "-T",
            "single-file",
            "-t",
            "sim",
            "-n",
            "m",
            "-f",
            "rootfs.img",
        ],
        "m.mender",
    );
    let big = mk(
        &[
            "write",
            "rootfs-image",
            "-f",
            "big.img",
            "-t",
            "sim",
            "-n",
            "big",
        ],
        "big.mender",
    );
    Fixture {
        _dir: dir,
        image,
        good,
        depends,
        module,
        big,
    }
}

#[test]
fn writes_the_image_and_skips_unchanged_frames() {
    let f = fixture();
    let mut dev = MemDevice::new(vec![0xAA; 65_536]);
    let stats = install(&f.good, &mut dev, "sim", &store("v1")).unwrap();
    assert_eq!(&dev.data[..f.image.len()], &f.image[..]);
    assert!(
        dev.data[f.image.len()..].iter().all(|&b| b == 0xAA),
        "wrote past the image"
    );
    assert_eq!(stats.received, f.image.len() as u64);
    assert_eq!(stats.written, f.image.len() as u64);
    assert!(dev.syncs >= 1, "the image must be synced");
    // Installing the same image again writes nothing.
    let writes = dev.writes;
    let stats = install(&f.good, &mut dev, "sim", &store("v1")).unwrap();
    assert_eq!((stats.written, stats.skipped), (0, f.image.len() as u64));
    assert_eq!(dev.writes, writes);
}

#[test]
fn refuses_before_writing() {
    let f = fixture();
    let cases: Vec<(&[u8], &str, Store, &str)> = vec![
        (&f.good, "other-device", store("v1"), "installer: image (device types [sim]) not compatible with device other-device"),
        (&f.depends, "sim", store("v1"), "Artifact dependency \"artifact_name\" not satisfied by currently installed artifact ([v2] != v1)."),
        (&f.depends, "sim", store("v2"), "Artifact dependency \"custom.key\" not satisfied by currently installed artifact (abc != <nil>)."),
        (&f.module, "sim", store("v1"), "Artifact Payload type 'single-file' is not supported"),
        (&f.big, "sim", store("v1"), "Update (70000 bytes) is larger than the size of device (65536 bytes)"),
    ];
    for (artifact, device_type, installed, needle) in cases {
        let mut dev = MemDevice::new(vec![0xAA; 65_536]);
        let err = install(artifact, &mut dev, device_type, &installed)
            .unwrap_err()
            .to_string();
        assert!(err.contains(needle), "'{err}' does not contain '{needle}'");
        assert_eq!(dev.writes, 0, "{needle}: wrote before refusing");
    }
    let mut ok = store("v2");
    ok.provides.insert("custom.key".into(), "abc".into());
    let mut dev = MemDevice::new(vec![0; 65_536]);
    install(&f.depends, &mut dev, "sim", &ok).unwrap();
}

#[test]
fn corrupt_or_cut_payload_never_completes() {
    let f = fixture();
    // The last byte of the payload file inside an uncompressed copy is not reachable in the
    // gzip artifact, so cut the stream instead, at many places: never complete.
    for cut in (0..f.good.len()).step_by(1999) {
        let mut dev = MemDevice::new(vec![0; 65_536]);
        assert!(
            install(&f.good[..cut], &mut dev, "sim", &store("v1")).is_err(),
            "cut at {cut}"
        );
    }
    // A device that dies in the middle of the image: the install fails, nothing else happens.
    for fuel in [0, 1, 5] {
        let mut dev = MemDevice::new(vec![0; 65_536]);
        dev.fuel = Some(fuel);
        let err = install(&f.good, &mut dev, "sim", &store("v1")).unwrap_err();
        assert!(matches!(err, InstallError::Device(_)), "{err}");
    }
}

#[test]
fn boot_env_protocol() {
    let mut env = MemEnv::with(&[
        ("mender_boot_part", "2"),
        ("mender_boot_part_hex", "2"),
        ("upgrade_available", "0"),
        ("bootcount", "0"),
    ]);
    // Nothing pending: commit fails with the official text, rollback does nothing.
    assert!(install::commit(&mut env)
        .unwrap_err()
        .to_string()
        .starts_with("Reboot to the new update failed."));
    assert_eq!(
        install::rollback(&mut env, 2, 3).unwrap(),
        Rollback::NothingToDo
    );
    assert_eq!(env.sets, 0);
    // Install switches in one change, with uppercase hex.
    install::switch_to(&mut env, 11).unwrap();
    assert_eq!(env.sets, 1);
    assert_eq!(
        (
            env.var("upgrade_available"),
            env.var("mender_boot_part"),
            env.var("mender_boot_part_hex"),
            env.var("bootcount")
        ),
        (Some("1"), Some("11"), Some("B"), Some("0"))
    );
    // Rollback before rebooting points back at the running partition.
    assert_eq!(
        install::rollback(&mut env, 2, 11).unwrap(),
        Rollback::SwitchedTo(2)
    );
    assert_eq!(
        (env.var("mender_boot_part"), env.var("upgrade_available")),
        (Some("2"), Some("0"))
    );
    // Rollback after booting the update points at the other one.
    install::switch_to(&mut env, 3).unwrap();
    assert_eq!(
        install::rollback(&mut env, 3, 2).unwrap(),
        Rollback::SwitchedTo(2)
    );
    // Commit clears the flag.
    install::switch_to(&mut env, 3).unwrap();
    install::commit(&mut env).unwrap();
    assert_eq!(
        (env.var("mender_boot_part"), env.var("upgrade_available")),
        (Some("3"), Some("0"))
    );
    // A failing environment write is reported and changes nothing.
    let before = env.vars.clone();
    env.fuel = Some(0);
    assert!(matches!(
        install::switch_to(&mut env, 2),
        Err(InstallError::BootEnv(_))
    ));
    assert_eq!(env.vars, before);
}
