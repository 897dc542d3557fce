//! Small `memcpy`, `memset` and `memcmp` for the firmware, in place of compiler-builtins'
//! speed-tuned ones: those take 1.8 KB of flash (unrolled, misalignment-shifting copies for
//! every entry point), these about 150 bytes. Copies run a word at a time when both pointers
//! are word-aligned and a byte at a time otherwise; the firmware copies small frames and
//! inflate matches, and programming NOR flash takes far longer than either
//! (memory-budget.md, "Cortex-M firmware").
//!
//! compiler-builtins defines its versions with weak linkage so that a program can bring its
//! own; these strong symbols win at link time. They are assembly so that LLVM cannot turn the
//! loops back into calls of themselves. Entry points and argument orders follow the C library
//! and the ARM run-time ABI (`__aeabi_memset(dest, n, c)`, `__aeabi_memclr(dest, n)`).
//! Word access uses only `ldr`/`str` on aligned addresses, so it works with unaligned-access
//! trapping on (`CCR.UNALIGN_TRP`) and on any memory type.
//!
//! Tested by every firmware run (tests/mcu-firmware.sh): the slots are compared byte for byte
//! with the Artifact's image, and gzip's CRC-32 checks every byte inflate copied.
core::arch::global_asm!(
    ".syntax unified",
    ".thumb",
    ".section .text.mender_fw_mem,\"ax\",%progbits",
    // memcpy(dest r0, src r1, n r2) -> dest; the __aeabi_ forms return nothing.
    ".global memcpy",
    ".type memcpy,%function",
    ".thumb_func",
    "memcpy:",
    "    mov   r12, r0",
    "    orr   r3, r0, r1",
    "    lsls  r3, r3, #30",
    "    bne   2f",
    "1:  subs  r2, r2, #4",
    "    blo   3f",
    "    ldr   r3, [r1], #4",
    "    str   r3, [r0], #4",
    "    b     1b",
    "3:  adds  r2, r2, #4",
    "2:  subs  r2, r2, #1",
    "    blo   4f",
    "    ldrb  r3, [r1], #1",
    "    strb  r3, [r0], #1",
    "    b     2b",
    "4:  mov   r0, r12",
    "    bx    lr",
    ".size memcpy, . - memcpy",
    ".global __aeabi_memcpy",
    ".thumb_set __aeabi_memcpy, memcpy",
    ".global __aeabi_memcpy4",
    ".thumb_set __aeabi_memcpy4, memcpy",
    ".global __aeabi_memcpy8",
    ".thumb_set __aeabi_memcpy8, memcpy",
    // __aeabi_memclr(dest r0, n r1): memset with c = 0.
    ".global __aeabi_memclr",
    ".type __aeabi_memclr,%function",
    ".thumb_func",
    "__aeabi_memclr:",
    "    movs  r2, #0",
    // __aeabi_memset(dest r0, n r1, c r2): swap into memset's order.
    ".global __aeabi_memset",
    ".type __aeabi_memset,%function",
    ".thumb_func",
    "__aeabi_memset:",
    "    mov   r3, r1",
    "    mov   r1, r2",
    "    mov   r2, r3",
    // memset(dest r0, c r1, n r2) -> dest.
    ".global memset",
    ".type memset,%function",
    ".thumb_func",
    "memset:",
    "    mov   r12, r0",
    "    and   r1, r1, #255",
    "    orr   r1, r1, r1, lsl #8",
    "    orr   r1, r1, r1, lsl #16",
    "    lsls  r3, r0, #30",
    "    bne   2f",
    "1:  subs  r2, r2, #4",
    "    blo   3f",
    "    str   r1, [r0], #4",
    "    b     1b",
    "3:  adds  r2, r2, #4",
    "2:  subs  r2, r2, #1",
    "    blo   4f",
    "    strb  r1, [r0], #1",
    "    b     2b",
    "4:  mov   r0, r12",
    "    bx    lr",
    ".size memset, . - __aeabi_memclr",
    ".global __aeabi_memclr4",
    ".thumb_set __aeabi_memclr4, __aeabi_memclr",
    ".global __aeabi_memclr8",
    ".thumb_set __aeabi_memclr8, __aeabi_memclr",
    ".global __aeabi_memset4",
    ".thumb_set __aeabi_memset4, __aeabi_memset",
    ".global __aeabi_memset8",
    ".thumb_set __aeabi_memset8, __aeabi_memset",
    // memcmp(a r0, b r1, n r2) -> difference of the first unequal bytes (unsigned), or 0.
    ".global memcmp",
    ".type memcmp,%function",
    ".thumb_func",
    "memcmp:",
    "1:  subs  r2, r2, #1",
    "    blo   2f",
    "    ldrb  r3, [r0], #1",
    "    ldrb  r12, [r1], #1",
    "    subs  r3, r3, r12",
    "    beq   1b",
    "    mov   r0, r3",
    "    bx    lr",
    "2:  movs  r0, #0",
    "    bx    lr",
    ".size memcmp, . - memcmp",
    ".global bcmp",
    ".thumb_set bcmp, memcmp",
);
