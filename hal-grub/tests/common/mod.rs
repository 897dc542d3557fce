//! Helpers shared by the integration tests: scratch directories and the real `grub-editenv`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use mender_hal_grub::block::EnvBlock;

/// A scratch directory removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("hal-grub-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `grub-editenv FILE ARGS…`; a missing tool is a test failure, never a skip.
pub fn editenv(file: &Path, args: &[&str]) -> Output {
    match Command::new("grub-editenv").arg(file).args(args).output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "grub-editenv is not installed: these interop tests need it \
             (Debian: apt-get install grub-common)"
        ),
        Err(e) => panic!("cannot run grub-editenv: {e}"),
    }
}

/// Runs `grub-editenv` and requires success; returns stdout.
pub fn editenv_ok(file: &Path, args: &[&str]) -> Vec<u8> {
    let out = editenv(file, args);
    assert!(
        out.status.success(),
        "grub-editenv {} {args:?} failed: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// What `grub-editenv list` prints for a block, computed by this crate's reader.
pub fn our_list(buf: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for var in EnvBlock::new(buf).unwrap().vars() {
        let Ok(var) = var else { break };
        out.extend_from_slice(var.name());
        out.push(b'=');
        out.extend(var.value());
        out.push(b'\n');
    }
    out
}
