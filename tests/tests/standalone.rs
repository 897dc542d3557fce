//! Standalone A/B install end to end: the real `mender` binary on simulated U-Boot and GRUB
//! devices, rebooted by the simulated bootloader (which uses the real env tools).
use mender_tests::output_text;
use mender_tests::sim::{image, Boot, SimDevice};
use std::process::Output;

const PART_MIB: u32 = 4;

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// stderr with the log format's quote escaping undone, to match message texts.
fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).replace("\\\"", "\"")
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn expect_ok(what: &str, o: &Output) {
    assert_eq!(code(o), 0, "{what}: {}", output_text(o));
}

fn partition(dev: &SimDevice, num: u32) -> Vec<u8> {
    std::fs::read(dev.path(if num == 2 {
        "rootfs-a.p2"
    } else {
        "rootfs-b.p3"
    }))
    .unwrap()
}

#[test]
fn install_reboot_commit_and_back_again() {
    for boot in Boot::ALL {
        let dev = SimDevice::new(boot, PART_MIB);
        let img2 = image(1_500_000, 2);
        let a2 = dev.artifact("release-2", &img2, &["-p", "custom.key:abc"]);
        let out = dev.mender(&["install", a2.to_str().unwrap()]);
        expect_ok("install", &out);
        let text = stdout(&out);
        assert!(text.starts_with("Installing Artifact of size "), "{text}");
        assert!(
            text.contains("Use 'commit' to update, or 'rollback' to roll back the update."),
            "{text}"
        );
        assert_eq!(
            dev.var("upgrade_available").as_deref(),
            Some("1"),
            "{boot:?}"
        );
        assert_eq!(dev.var("mender_boot_part").as_deref(), Some("3"));
        assert_eq!(dev.var("bootcount").as_deref(), Some("0"));
        if boot == Boot::Uboot {
            assert_eq!(dev.var("mender_boot_part_hex").as_deref(), Some("3"));
        }
        assert_eq!(
            &partition(&dev, 3)[..img2.len()],
            &img2[..],
            "{boot:?}: image on B"
        );
        // Not committed yet: the installed name is still the factory one.
        assert_eq!(stdout(&dev.mender(&["show-artifact"])).trim(), "sim-base");
        assert_eq!(dev.boot(false), "booted 3 (rootfs-b.p3)");
        let out = dev.mender(&["commit"]);
        expect_ok("commit", &out);
        assert!(stdout(&out).contains("Committing Artifact..."));
        assert_eq!(dev.var("upgrade_available").as_deref(), Some("0"));
        assert_eq!(stdout(&dev.mender(&["show-artifact"])), "release-2\n");
        let provides = stdout(&dev.mender(&["show-provides"]));
        assert!(provides.contains("artifact_name=release-2\n"), "{provides}");
        assert!(provides.contains("custom.key=abc\n"), "{provides}");
        assert!(
            provides.contains("rootfs-image.version=release-2\n"),
            "{provides}"
        );
        // Committed: every further boot stays on B.
        assert_eq!(dev.boot(false), "booted 3 (rootfs-b.p3)");
        assert_eq!(dev.boot(false), "booted 3 (rootfs-b.p3)");
        // The next update goes to A; the default clears keep custom.key.
        let img3 = image(900_000, 3);
        let a3 = dev.artifact("release-3", &img3, &[]);
        expect_ok(
            "second install",
            &dev.mender(&["install", a3.to_str().unwrap()]),
        );
        assert_eq!(dev.var("mender_boot_part").as_deref(), Some("2"));
        assert_eq!(&partition(&dev, 2)[..img3.len()], &img3[..]);
        assert_eq!(dev.boot(false), "booted 2 (rootfs-a.p2)");
        expect_ok("second commit", &dev.mender(&["commit"]));
        let provides = stdout(&dev.mender(&["show-provides"]));
        assert!(
            provides.contains("artifact_name=release-3\n") && provides.contains("custom.key=abc\n"),
            "{provides}"
        );
        assert!(!provides.contains("release-2"), "{provides}");
        // Deployment logs: JSON lines, newest first.
        let logs: Vec<_> = std::fs::read_dir(dev.path("data"))
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.starts_with("deployments."))
            .collect();
        assert!(
            logs.iter().any(|n| n.starts_with("deployments.0001.")),
            "{logs:?}"
        );
    }
}

#[test]
fn rollback_before_and_after_reboot() {
    for boot in Boot::ALL {
        let dev = SimDevice::new(boot, PART_MIB);
        let a2 = dev.artifact("release-2", &image(300_000, 4), &[]);
        // Before the reboot: rollback points back at the running partition.
        expect_ok("install", &dev.mender(&["install", a2.to_str().unwrap()]));
        let out = dev.mender(&["rollback"]);
        expect_ok("rollback", &out);
        assert!(stdout(&out).contains("Rolling back Artifact..."));
        assert_eq!(
            dev.var("mender_boot_part").as_deref(),
            Some("2"),
            "{boot:?}"
        );
        assert_eq!(dev.var("upgrade_available").as_deref(), Some("0"));
        assert_eq!(dev.boot(false), "booted 2 (rootfs-a.p2)");
        assert_eq!(stdout(&dev.mender(&["show-artifact"])).trim(), "sim-base");
        let out = dev.mender(&["commit"]);
        assert_eq!(code(&out), 2, "{}", output_text(&out));
        assert!(stderr(&out).contains("There is nothing to commit"));
        // After the reboot into the update: rollback points at the old partition.
        expect_ok("install", &dev.mender(&["install", a2.to_str().unwrap()]));
        assert_eq!(dev.boot(false), "booted 3 (rootfs-b.p3)");
        expect_ok("rollback", &dev.mender(&["rollback"]));
        assert_eq!(dev.var("mender_boot_part").as_deref(), Some("2"));
        assert_eq!(dev.boot(false), "booted 2 (rootfs-a.p2)");
        assert_eq!(stdout(&dev.mender(&["show-artifact"])).trim(), "sim-base");
    }
}

#[test]
fn failed_boot_falls_back_and_the_client_recovers() {
    for boot in Boot::ALL {
        let dev = SimDevice::new(boot, PART_MIB);
        let a2 = dev.artifact("release-2", &image(200_000, 5), &[]);
        expect_ok("install", &dev.mender(&["install", a2.to_str().unwrap()]));
        // The new system never comes up; the bootloader falls back by itself.
        assert!(dev.boot(true).starts_with("booted 3"));
        assert_eq!(
            dev.boot(false),
            "rolled back: booted 2 (rootfs-a.p2)",
            "{boot:?}"
        );
        assert_eq!(dev.var("upgrade_available").as_deref(), Some("0"));
        let out = dev.mender(&["commit"]);
        assert_eq!(code(&out), 1, "{}", output_text(&out));
        assert!(
            stderr(&out).contains("Reboot to the new update failed."),
            "{}",
            stderr(&out)
        );
        expect_ok("rollback", &dev.mender(&["rollback"]));
        assert_eq!(stdout(&dev.mender(&["show-artifact"])).trim(), "sim-base");
        assert_eq!(dev.boot(false), "booted 2 (rootfs-a.p2)");
        // And the device takes the next update normally.
        expect_ok(
            "install again",
            &dev.mender(&["install", a2.to_str().unwrap()]),
        );
        assert_eq!(dev.boot(false), "booted 3 (rootfs-b.p3)");
        expect_ok("commit", &dev.mender(&["commit"]));
    }
}

#[test]
fn bad_input_leaves_the_boot_selection_untouched() {
    for boot in Boot::ALL {
        let dev = SimDevice::new(boot, PART_MIB);
        let data = image(100_000, 6);
        let wrong_type = {
            let p = dev.artifact("wrong-type", &data, &[]);
            let other = dev.dir.join("other.mender");
            std::process::Command::new("mender-artifact")
                .args([
                    "write",
                    "rootfs-image",
                    "-t",
                    "other-board",
                    "-n",
                    "x",
                    "-f",
                ])
                .arg(dev.dir.join("wrong-type.img"))
                .arg("-o")
                .arg(&other)
                .output()
                .unwrap();
            let _ = p;
            other
        };
        let depends = dev.artifact("needs-v1", &data, &["-N", "release-1"]);
        let too_big = dev.artifact("too-big", &image(5 * 1024 * 1024, 7), &[]);
        let plain = dev.artifact("plain", &data, &["--compression", "none"]);
        let mut bytes = std::fs::read(&plain).unwrap();
        let at = bytes.len() - 1024 - 512 - 40_000; // inside the image data of the last member
        bytes[at] ^= 0x55;
        let corrupt = dev.dir.join("corrupt.mender");
        std::fs::write(&corrupt, &bytes).unwrap();
        let truncated = dev.dir.join("truncated.mender");
        std::fs::write(&truncated, &std::fs::read(&plain).unwrap()[..60_000]).unwrap();
        let cases = [
            (&wrong_type, "installer: image (device types [other-board]) not compatible with device sim-device"),
            (&depends, "Artifact dependency \"artifact_name\" not satisfied by currently installed artifact ([release-1] != sim-base)."),
            (&too_big, "is larger than the size of device"),
            (&corrupt, "invalid checksum"),
            (&truncated, "unexpected EOF"),
        ];
        let before = dev.env_files();
        let a_before = partition(&dev, 2);
        for (artifact, needle) in cases {
            let out = dev.mender(&["install", artifact.to_str().unwrap()]);
            assert_eq!(code(&out), 1, "{boot:?} {needle}: {}", output_text(&out));
            assert!(
                stderr(&out).contains(needle),
                "{boot:?}: '{}' lacks '{needle}'",
                stderr(&out)
            );
            assert_eq!(
                dev.env_files(),
                before,
                "{boot:?} {needle}: boot environment changed"
            );
            assert_eq!(
                partition(&dev, 2),
                a_before,
                "{boot:?} {needle}: active partition changed"
            );
            assert_eq!(
                code(&dev.mender(&["commit"])),
                2,
                "{needle}: a state record was left"
            );
        }
        assert_eq!(dev.boot(false), "booted 2 (rootfs-a.p2)");
    }
}

#[test]
fn command_line_exit_codes() {
    let dev = SimDevice::new(Boot::Uboot, PART_MIB);
    let a2 = dev.artifact("release-2", &image(10_000, 8), &[]);
    let out = dev.mender(&["install", a2.to_str().unwrap(), "--reboot-exit-code"]);
    assert_eq!(code(&out), 4, "{}", output_text(&out));
    assert!(
        stdout(&out).contains("At least one payload requested a reboot of the device it updated.")
    );
    let out = dev.mender(&["install", a2.to_str().unwrap()]);
    assert_eq!(
        code(&out),
        1,
        "a second install over a pending one must be refused"
    );
    assert_eq!(code(&dev.mender(&["bogus"])), 3);
    let out = dev.mender(&["commit", "extra"]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("Ambiguous arguments given - unrecognized argument: extra"));
    expect_ok("rollback", &dev.mender(&["rollback"]));
    assert_eq!(code(&dev.mender(&["rollback"])), 2);
    let out = dev.mender(&["-l", "loud", "show-artifact"]);
    assert_eq!(code(&out), 1);
}

#[test]
fn a_failed_rollback_marks_the_artifact_inconsistent() {
    let dev = SimDevice::new(Boot::Uboot, PART_MIB);
    let a2 = dev.artifact("release-2", &image(20_000, 9), &[]);
    expect_ok("install", &dev.mender(&["install", a2.to_str().unwrap()]));
    // Both environment copies destroyed: the rollback cannot know or set the boot selection.
    for f in ["uboot-env-1.bin", "uboot-env-2.bin"] {
        std::fs::write(dev.path(f), vec![0u8; 0x4000]).unwrap();
    }
    let out = dev.mender(&["rollback"]);
    assert_eq!(code(&out), 1, "{}", output_text(&out));
    assert_eq!(
        stdout(&dev.mender(&["show-artifact"])),
        "release-2_INCONSISTENT\n"
    );
    assert_eq!(
        code(&dev.mender(&["rollback"])),
        2,
        "the failed deployment is over"
    );
}

/// A local HTTP server (python3 -m http.server) for `install URL`, stopped on drop.
struct HttpServer(std::process::Child, u16);

impl HttpServer {
    fn serve(dir: &std::path::Path) -> HttpServer {
        mender_tests::require_tool("python3");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new("python3")
            .args([
                "-m",
                "http.server",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--directory",
            ])
            .arg(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start python3 http.server");
        let server = HttpServer(child, port);
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return server;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        // The panic drops `server`, which stops the child.
        panic!("the local HTTP server did not start");
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn install_from_a_url() {
    let dev = SimDevice::new(Boot::Grub, PART_MIB);
    let img = image(700_000, 10);
    let a2 = dev.artifact("release-2", &img, &[]);
    let server = HttpServer::serve(a2.parent().unwrap());
    let url = format!("http://127.0.0.1:{}/release-2.mender", server.1);
    let out = dev.mender(&["install", &url]);
    expect_ok("install URL", &out);
    let size = std::fs::metadata(&a2).unwrap().len();
    assert!(
        stdout(&out).starts_with(&format!("Installing Artifact of size {size}...")),
        "{}",
        stdout(&out)
    );
    assert_eq!(&partition(&dev, 3)[..img.len()], &img[..]);
    assert_eq!(dev.boot(false), "booted 3 (rootfs-b.p3)");
    expect_ok("commit", &dev.mender(&["commit"]));
    let before = dev.env_files();
    let missing = format!("http://127.0.0.1:{}/nothing.mender", server.1);
    let out = dev.mender(&["install", &missing]);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("the server answered HTTP 404"),
        "{}",
        stderr(&out)
    );
    let out = dev.mender(&["install", "https://127.0.0.1:9/x.mender"]);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("https:// is not supported"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        dev.env_files(),
        before,
        "failed downloads must not touch the boot environment"
    );
}

#[test]
fn a_configured_verify_key_requires_signed_artifacts() {
    let dev = SimDevice::new(Boot::Uboot, PART_MIB);
    let openssl = mender_tests::require_tool("openssl");
    let key = dev.dir.join("key.pem");
    let public = dev.dir.join("key.pub.pem");
    mender_tests::run_ok(
        std::process::Command::new(&openssl)
            .args([
                "ecparam",
                "-genkey",
                "-name",
                "prime256v1",
                "-noout",
                "-out",
            ])
            .arg(&key),
    );
    mender_tests::run_ok(
        std::process::Command::new(&openssl)
            .args(["ec", "-pubout", "-in"])
            .arg(&key)
            .arg("-out")
            .arg(&public),
    );
    let conf_path = dev.path("mender.conf");
    let mut conf: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&conf_path).unwrap()).unwrap();
    conf["ArtifactVerifyKey"] = serde_json::json!(public.to_str().unwrap());
    std::fs::write(&conf_path, serde_json::to_vec_pretty(&conf).unwrap()).unwrap();
    let data = image(30_000, 12);
    let unsigned = dev.artifact("unsigned", &data, &[]);
    let out = dev.mender(&["install", unsigned.to_str().unwrap()]);
    assert_eq!(code(&out), 1, "{}", output_text(&out));
    assert!(
        stderr(&out).contains("reader: expecting signed artifact, but no signature file found"),
        "{}",
        stderr(&out)
    );
    let signed = dev.artifact("signed", &data, &["-k", key.to_str().unwrap()]);
    expect_ok(
        "signed install",
        &dev.mender(&["install", signed.to_str().unwrap()]),
    );
    assert_eq!(dev.var("mender_boot_part").as_deref(), Some("3"));
}
