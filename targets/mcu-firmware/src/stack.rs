//! Peak stack use, measured on the running firmware: cortex-m-rt (feature `paint-stack`)
//! fills the whole stack area, from the end of `.bss` (`_stack_end`) to the top of RAM
//! (`_stack_start`), with [`PAINT`] before `main`; whatever the program used has lost the
//! paint. The deepest word that differs is the peak.
use cortex_m_rt::STACK_PAINT_VALUE as PAINT;

extern "C" {
    /// Top of the stack (end of RAM); provided by cortex-m-rt's `link.x`.
    static _stack_start: u32;
    /// Lowest address the stack may reach (end of `.bss`, 4-byte aligned).
    static _stack_end: u32;
}

/// What the stack measurement found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StackUse {
    /// Bytes between the top of RAM and the deepest word that lost its paint.
    pub peak: usize,
    /// Bytes the stack could grow to (RAM above `.bss`).
    pub size: usize,
    /// The lowest word of the area lost its paint: the stack may have run into `.bss`, so the
    /// run cannot be trusted.
    pub overflowed: bool,
}

/// Scans the painted area from its bottom for the first word that lost its paint.
pub fn measure() -> StackUse {
    let bottom = core::ptr::addr_of!(_stack_end) as usize;
    let top = core::ptr::addr_of!(_stack_start) as usize;
    let size = top.saturating_sub(bottom);
    let mut at = bottom;
    while at < top {
        // SAFETY: `at` is a 4-byte aligned address inside RAM between the two linker
        // symbols, which cortex-m-rt reserves for the stack; reading it has no side effect.
        let word = unsafe { core::ptr::read_volatile(at as *const u32) };
        if word != PAINT {
            break;
        }
        at += 4;
    }
    StackUse {
        peak: top.saturating_sub(at),
        size,
        overflowed: size > 0 && at == bottom,
    }
}
