//! Links the firmware binaries with cortex-m-rt's `link.x` and each variant's memory map
//! (`link/<bin>.x`, copied as `memory.x` into a directory of its own). Only for bare-metal
//! Cortex-M targets: host builds (the library and its tests) are not touched.
use std::path::PathBuf;

/// Each binary and the memory map it links with: the check of the firmware's own memory
/// routines (`fw-memtest`) runs in the map of `fw-plain`.
const BINS: [(&str, &str); 3] = [
    ("fw-gzip", "fw-gzip"),
    ("fw-plain", "fw-plain"),
    ("fw-memtest", "fw-plain"),
];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let target = std::env::var("TARGET").unwrap_or_default();
    if !(target.starts_with("thumb") && target.ends_with("-none-eabihf")
        || target.starts_with("thumb") && target.ends_with("-none-eabi"))
    {
        return;
    }
    let out = match std::env::var_os("OUT_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => panic!("cargo sets OUT_DIR for build scripts"),
    };
    for (bin, map) in BINS {
        let src = format!("link/{map}.x");
        println!("cargo:rerun-if-changed={src}");
        let dir = out.join(bin);
        // cortex-m-rt's feature `device` includes `device.x` for interrupt handler names; the
        // firmware's own `__INTERRUPTS` (firmware.rs) names none.
        if let Err(e) = std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::copy(&src, dir.join("memory.x")).map(|_| ()))
            .and_then(|()| std::fs::write(dir.join("device.x"), ""))
        {
            panic!("cannot place {src} as {}/memory.x: {e}", dir.display());
        }
        println!("cargo:rustc-link-arg-bin={bin}=-L{}", dir.display());
    }
    println!("cargo:rustc-link-arg-bins=--nmagic");
    // Identical code folding: monomorphized copies that compile to the same code are kept
    // once (0.6 KB of flash measured on fw-gzip). Nothing here compares function addresses.
    println!("cargo:rustc-link-arg-bins=--icf=all");
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
}
