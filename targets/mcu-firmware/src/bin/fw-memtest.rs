//! Checks the firmware's own `memcpy`, `memmove`, `memset` and `memcmp` (module `mem`,
//! assembly) on the target, under QEMU: every length up to 40 bytes at every alignment of both
//! pointers (for `memmove`: overlapping, in both directions), each
//! against a byte-by-byte reference that reads with volatile loads (so LLVM cannot turn it into
//! a call of the routine under test). Prints `mem ok` and exits 0, or names the first mismatch
//! and exits 1. Run by tests/mcu-firmware.sh.
#![no_std]
#![no_main]

use core::hint::black_box;
use mender_mcu_firmware::semihosting::{self, File};

const AREA: usize = 64;
const MAX_LEN: usize = 40;

#[cortex_m_rt::entry]
fn main() -> ! {
    let mut out = File::stdout().ok();
    let verdict = check();
    if let Some(f) = out.as_mut() {
        let _ = f.write_all(match verdict {
            Ok(()) => b"mem ok",
            Err(what) => what.as_bytes(),
        });
        let _ = f.write_all(b"\n");
    }
    semihosting::exit(if verdict.is_ok() { 0 } else { 1 })
}

/// A byte pattern that differs at every offset, so a shifted or short copy shows.
fn pattern(seed: u8) -> [u8; AREA] {
    let mut a = [0u8; AREA];
    let mut x = seed;
    for b in a.iter_mut() {
        x = x.wrapping_mul(37).wrapping_add(11);
        *b = x;
    }
    a
}

fn byte_at(a: &[u8; AREA], i: usize) -> u8 {
    // SAFETY: `i < AREA` at every call; a volatile read of an initialised byte.
    unsafe { core::ptr::read_volatile(a.as_ptr().add(i)) }
}

/// Checks that `area` holds `inside(i)` at every `i` in `at..at + len` and what `before` held
/// everywhere else; `what` is the error otherwise.
fn changed_only(
    area: &[u8; AREA],
    before: &[u8; AREA],
    at: usize,
    len: usize,
    inside: impl Fn(usize) -> u8,
    what: &'static str,
) -> Result<(), &'static str> {
    for i in 0..AREA {
        let want = if i >= at && i < at + len {
            inside(i)
        } else {
            byte_at(before, i)
        };
        if byte_at(area, i) != want {
            return Err(what);
        }
    }
    Ok(())
}

fn check() -> Result<(), &'static str> {
    let src = pattern(1);
    for src_off in 0..4 {
        for dst_off in 0..4 {
            for len in 0..=MAX_LEN {
                let len = black_box(len);
                // memcpy: exactly dst[dst_off..][..len] changes.
                let mut dst = pattern(2);
                let before = dst;
                dst[dst_off..dst_off + len].copy_from_slice(&src[src_off..src_off + len]);
                let copied = |i| byte_at(&src, i - dst_off + src_off);
                changed_only(&dst, &before, dst_off, len, copied, "memcpy: wrong byte")?;
                // memmove: the source range as it was lands at the destination, whether the
                // destination lies below or above the source (overlapping for short shifts).
                for (from, to) in [(src_off + 8, dst_off), (src_off, dst_off + 8)] {
                    let mut area = pattern(5);
                    let before = area;
                    area.copy_within(from..from + len, black_box(to));
                    let moved = |i| byte_at(&before, i - to + from);
                    changed_only(&area, &before, to, len, moved, "memmove: wrong byte")?;
                }
                // memset and memclr: the range takes the value, nothing else changes.
                for value in [0u8, 0xA5] {
                    let mut area = pattern(3);
                    let before = area;
                    area[dst_off..dst_off + len].fill(black_box(value));
                    changed_only(
                        &area,
                        &before,
                        dst_off,
                        len,
                        |_| value,
                        "memset: wrong byte",
                    )?;
                }
                // memcmp/bcmp: equal ranges compare equal; a change at the last byte orders
                // by that byte, as unsigned.
                let a = &src[src_off..src_off + len];
                let mut copy = pattern(4);
                copy[dst_off..dst_off + len].copy_from_slice(a);
                let b = &mut copy[dst_off..dst_off + len];
                if black_box(a) != black_box(&*b) || a.cmp(b) != core::cmp::Ordering::Equal {
                    return Err("memcmp: equal ranges differ");
                }
                if let Some(last) = b.last_mut() {
                    let was = *last;
                    *last = was.wrapping_add(0x80);
                    let want = was.cmp(last);
                    if black_box(a) == black_box(&*b) || a.cmp(b) != want {
                        return Err("memcmp: unequal ranges");
                    }
                }
            }
        }
    }
    Ok(())
}
