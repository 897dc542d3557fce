//! Firmware variant for uncompressed Artifacts only: no decode `Workspace`, so a compressed
//! Artifact is refused with a clear error before anything is written. RAM budget 16 KiB
//! (`memory-budget.md`, "Cortex-M firmware").
#![no_std]
#![no_main]

#[cortex_m_rt::entry]
fn main() -> ! {
    mender_mcu_firmware::firmware::run(None)
}
