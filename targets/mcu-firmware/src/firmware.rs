//! The firmware's `main`, shared by both variants: read the command line, open the host files
//! that stand in for the Artifact, the two slots' NOR flash and the boot environment's flash
//! sectors, run [`crate::update`] or [`crate::commit`], print one result line and the measured
//! `stack_peak=N`, and leave QEMU with an exit status.
//!
//! Command line (`-semihosting-config enable=on,target=native,arg=mender-fw,arg=install,...`;
//! words are split at spaces, so paths must not contain any):
//!
//! ```text
//! mender-fw install ARTIFACT SLOT2 SLOT3 ENV   stream ARTIFACT into the inactive slot, switch
//! mender-fw commit ENV                         confirm the running slot
//! mender-fw status ENV                         print mender_boot_part and upgrade_available
//! ```
//!
//! Each SLOT file is one NOR flash chip holding one slot (a whole number of
//! [`crate::semihosting::FLASH_ERASE_SIZE`] sectors); ENV is a chip of two sectors holding the redundant boot
//! environment record. Exit status: 0 done, 1 the update or commit failed (the text says why;
//! the boot environment is unchanged), 2 bad command line or files, 3 panic or fault, 4 the
//! stack overflowed its area (the run is not trustworthy).
use crate::semihosting::{self, File, FileFlash, FileSource};
use crate::stack;
use crate::{DeviceInfo, Memory, Slots, ARENA_LEN, CHUNK_LEN, DEVICE_TYPE, FRAME_LEN};
use cortex_m_rt::{exception, ExceptionFrame};
use mender_core::codec::WorkspaceMut;
use mender_core::flash::{FlashBootEnv, NorPartition};
use mender_core::hal::BootEnv;
use mender_core::install::{self, InstallError};
use mender_core::reader::Buffers;
use mender_core::text::{push_decimal, push_hex_upper, Brief};

/// A number as text (u64 has at most 20 digits).
type Num = heapless::String<20>;

const EXIT_OK: u32 = 0;
const EXIT_FAILED: u32 = 1;
const EXIT_USAGE: u32 = 2;
const EXIT_FAULT: u32 = 3;
const EXIT_STACK: u32 = 4;

/// Runs the command line and exits. `workspace` decides whether compressed Artifacts can be
/// read; it is the only difference between the `fw-gzip` and `fw-plain` variants.
pub fn run(workspace: Option<WorkspaceMut<'_>>) -> ! {
    let mut out = console();
    let code = command(&mut out, workspace);
    finish(&mut out, code)
}

/// Prints the stack measurement and exits; an overflowed stack overrides a success.
fn finish(out: &mut Option<File>, code: u32) -> ! {
    let used = stack::measure();
    say(
        out,
        &[
            "stack_peak=",
            &num(used.peak as u64),
            " stack_size=",
            &num(used.size as u64),
            "\n",
        ],
    );
    if used.overflowed {
        say(out, &["mender-fw: error: the stack overflowed\n"]);
        semihosting::exit(EXIT_STACK);
    }
    semihosting::exit(code)
}

fn console() -> Option<File> {
    File::stdout().ok()
}

/// Prints `parts` to the console if there is one (a missing console must not stop an
/// update). Nothing here uses `core::fmt`: the formatter, its integer printing and the long
/// error texts cost 6.3 KB of flash (memory-budget.md).
fn say(out: &mut Option<File>, parts: &[&str]) {
    if let Some(f) = out {
        for p in parts {
            let _ = f.write_all(p.as_bytes());
        }
    }
}

fn num(v: u64) -> Num {
    let mut s = Num::new();
    push_decimal(&mut s, v, 0);
    s
}

/// Prints `mender-fw: error: ` and the brief's parts joined by `: `.
fn say_error(out: &mut Option<File>, brief: Brief<'_>) {
    say(out, &["mender-fw: error: "]);
    let mut sep = "";
    for part in brief.parts() {
        say(out, &[sep, part]);
        sep = ": ";
    }
    say(out, &["\n"]);
}

/// Prints `mender-fw: error: PATH: TEXT` for a file that could not be opened.
fn say_file_error(out: &mut Option<File>, path: &str, text: &str) {
    say(out, &["mender-fw: error: ", path, ": ", text, "\n"]);
}

fn command(out: &mut Option<File>, workspace: Option<WorkspaceMut<'_>>) -> u32 {
    let mut line = [0u8; 256];
    let cmdline = match semihosting::cmdline(&mut line) {
        Ok(c) => c,
        Err(e) => {
            say(out, &["mender-fw: error: ", &e.text(), "\n"]);
            return EXIT_USAGE;
        }
    };
    // The program name, the longest command and one slot more, so that an extra word leaves
    // no match.
    let mut words = [""; 7];
    let n = words
        .iter_mut()
        .zip(cmdline.split_ascii_whitespace())
        .map(|(slot, w)| *slot = w)
        .count();
    match words.get(..n).unwrap_or_default() {
        [_, "install", artifact, a, b, env] => install_cmd(out, workspace, artifact, a, b, env),
        [_, "commit", env] => commit_cmd(out, env),
        [_, "status", env] => status_cmd(out, env),
        _ => {
            say(
                out,
                &["usage: mender-fw install ARTIFACT SLOT2 SLOT3 ENV | commit ENV | status ENV\n"],
            );
            EXIT_USAGE
        }
    }
}

/// Opens a flash file (a slot's chip or the boot environment's), or says why it cannot.
fn flash(out: &mut Option<File>, path: &str) -> Option<FileFlash> {
    FileFlash::open(path)
        .map_err(|e| say_file_error(out, path, &e.text()))
        .ok()
}

/// A slot's flash file as a partition covering all of it.
fn slot(out: &mut Option<File>, path: &str) -> Option<NorPartition<FileFlash>> {
    flash(out, path).map(NorPartition::new)
}

/// The boot environment's flash file.
fn env(out: &mut Option<File>, path: &str) -> Option<FlashBootEnv<FileFlash>> {
    flash(out, path).map(FlashBootEnv::new)
}

fn install_cmd(
    out: &mut Option<File>,
    workspace: Option<WorkspaceMut<'_>>,
    artifact: &str,
    a: &str,
    b: &str,
    env_path: &str,
) -> u32 {
    let mut source = match File::open_read(artifact) {
        Ok(f) => FileSource(f),
        Err(e) => {
            say_file_error(out, artifact, &e.text());
            return EXIT_USAGE;
        }
    };
    let (Some(mut slot_a), Some(mut slot_b), Some(mut env)) =
        (slot(out, a), slot(out, b), env(out, env_path))
    else {
        return EXIT_USAGE;
    };
    let mut arena = [0u8; ARENA_LEN];
    let mut frame = [0u8; FRAME_LEN];
    let mut chunk = [0u8; CHUNK_LEN];
    let mem = Memory {
        buffers: Buffers {
            arena: &mut arena,
            workspace,
        },
        frame: &mut frame,
        chunk: &mut chunk,
    };
    let slots = Slots {
        a: &mut slot_a,
        b: &mut slot_b,
    };
    let device = DeviceInfo {
        device_type: DEVICE_TYPE,
    };
    match crate::update(&mut source, mem, slots, &mut env, device) {
        Ok(r) => {
            say(
                out,
                &[
                    "mender-fw: installed slot=",
                    &num(r.slot.into()),
                    " artifact_bytes=",
                    &num(r.artifact_bytes),
                    " image_bytes=",
                    &num(r.stats.received),
                    " written=",
                    &num(r.stats.written),
                    "\n",
                ],
            );
            EXIT_OK
        }
        Err(e) => {
            say_error(out, e.brief());
            EXIT_FAILED
        }
    }
}

fn commit_cmd(out: &mut Option<File>, env_path: &str) -> u32 {
    let Some(mut env) = env(out, env_path) else {
        return EXIT_USAGE;
    };
    match crate::commit(&mut env) {
        Ok(slot) => {
            say(
                out,
                &["mender-fw: committed slot=", &num(slot.into()), "\n"],
            );
            EXIT_OK
        }
        Err(e) => {
            say_error(out, e.brief());
            EXIT_FAILED
        }
    }
}

fn status_cmd(out: &mut Option<File>, env_path: &str) -> u32 {
    let Some(mut env) = env(out, env_path) else {
        return EXIT_USAGE;
    };
    match status(&mut env) {
        Ok((part, pending)) => {
            let part = part.map(|p| num(p.into()));
            say(
                out,
                &[
                    "mender-fw: status mender_boot_part=",
                    part.as_deref().unwrap_or("unset"),
                    " upgrade_available=",
                    &num(pending.into()),
                    "\n",
                ],
            );
            EXIT_OK
        }
        Err(e) => {
            say_error(out, e.brief());
            EXIT_FAILED
        }
    }
}

/// `mender_boot_part` and `upgrade_available`, or the first error reading them.
fn status<E: BootEnv>(env: &mut E) -> Result<(Option<u32>, bool), InstallError> {
    Ok((install::boot_part(env)?, install::upgrade_available(env)?))
}

/// Prints that the firmware panicked and exits with status 3. The panic's message and place
/// are not printed: formatting them keeps every panic message of the core and the code that
/// formats them in flash (10.1 KB measured on fw-gzip). A panic is a bug (the code is written
/// not to panic on any input), and the same code runs in the host tests with full messages.
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    let mut out = console();
    say(&mut out, &["mender-fw: panic\n"]);
    semihosting::exit(EXIT_FAULT)
}

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    let mut out = console();
    let mut pc = Num::new();
    push_hex_upper(&mut pc, frame.pc().into());
    say(&mut out, &["mender-fw: hard fault at pc=0x", &pc, "\n"]);
    semihosting::exit(EXIT_FAULT)
}

/// Device interrupts of the vector table (cortex-m-rt feature `device`): the firmware
/// enables none, so every entry reports an unexpected exception. 32 entries, the external
/// interrupts of the MPS2 AN386 board, instead of the 240 cortex-m-rt puts there for a generic
/// ARMv7-M (0.8 KB of flash).
#[link_section = ".vector_table.interrupts"]
#[no_mangle]
static __INTERRUPTS: [unsafe extern "C" fn(); 32] = [unexpected_interrupt; 32];

unsafe extern "C" fn unexpected_interrupt() {
    // The active exception number is in IPSR's low 9 bits; device interrupts start at 16.
    let ipsr: u32;
    // SAFETY: reads a special register; no memory access.
    unsafe { core::arch::asm!("mrs {}, IPSR", out(reg) ipsr, options(nomem, nostack)) };
    unexpected((ipsr & 0x1FF) as i16 - 16)
}

#[exception]
unsafe fn DefaultHandler(irqn: i16) {
    unexpected(irqn)
}

/// Reports an exception or interrupt nothing handles (IRQ number, negative for system
/// exceptions) and exits with status 3.
fn unexpected(irqn: i16) -> ! {
    let mut out = console();
    let sign = if irqn < 0 { "-" } else { "" };
    say(
        &mut out,
        &[
            "mender-fw: unexpected exception ",
            sign,
            &num(irqn.unsigned_abs().into()),
            "\n",
        ],
    );
    semihosting::exit(EXIT_FAULT)
}
