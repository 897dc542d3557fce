//! Firmware variant that reads gzip-compressed and uncompressed Artifacts: it lends the reader
//! a `SmallWorkspace` (the 32 KiB window and the small inflate engine's 1 KiB) on its stack.
//! RAM budget 48 KiB (`memory-budget.md`, "Cortex-M firmware").
#![no_std]
#![no_main]

use mender_core::codec::SmallWorkspace;

#[cortex_m_rt::entry]
fn main() -> ! {
    // In `main`'s own frame: built in place, never moved, and counted by the stack measurement.
    let mut workspace = SmallWorkspace::new();
    mender_mcu_firmware::firmware::run(Some((&mut workspace).into()))
}
