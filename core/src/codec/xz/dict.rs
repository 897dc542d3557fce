//! LZMA history ("dictionary") as a ring that grows only as far as the output needs.
//!
//! A stream may declare a 64 MiB dictionary for a few KiB of data (mender-artifact's headers),
//! so the ring starts empty and grows, by `realloc`, just far enough for the chunk being
//! decoded, never beyond the declared size: its length is at most `min(size, block output so
//! far + one chunk (<= 2 MiB))`. Once it has the full size it wraps. Produced bytes stay in
//! the ring until the container has handed all of them out, and only then does the next run
//! write, so a run may overwrite any older byte.
//!
//! Growing a contiguous buffer means the allocator briefly holds the old and the new block if
//! its `realloc` copies; glibc and musl move large blocks with `mremap` instead.

use alloc::vec::Vec;

use crate::codec::CodecError;

pub(super) struct Dict {
    /// Ring storage; its length never exceeds `size`.
    pub(super) buf: Vec<u8>,
    /// Dictionary size declared by the current block's LZMA2 filter.
    pub(super) size: usize,
    /// Next write position in `buf`.
    pub(super) pos: usize,
    /// Start of the bytes produced but not yet handed out (`flushed..pos`).
    pub(super) flushed: usize,
    /// Output since the last reset: its low bits select the LZMA position contexts, and no
    /// match may reach further back.
    pub(super) total: u64,
}

impl Dict {
    pub(super) const fn new() -> Self {
        Dict {
            buf: Vec::new(),
            size: 0,
            pos: 0,
            flushed: 0,
            total: 0,
        }
    }

    /// Starts a block whose filter declares `size`. Keeps the allocation if it still fits.
    pub(super) fn set_size(&mut self, size: usize) {
        self.size = size;
        self.buf.truncate(size);
        self.reset();
    }

    /// LZMA2 dictionary reset: forget all history. Called only when nothing is pending.
    pub(super) fn reset(&mut self) {
        self.pos = 0;
        self.flushed = 0;
        self.total = 0;
    }

    /// Bytes produced but not yet handed out.
    pub(super) fn pending(&self) -> usize {
        self.pos - self.flushed
    }

    /// Hands out up to `max` produced bytes.
    pub(super) fn take(&mut self, max: usize) -> &[u8] {
        let start = self.flushed;
        let end = start + self.pending().min(max);
        self.flushed = end;
        self.buf.get(start..end).unwrap_or(&[])
    }

    /// Makes room for up to `want` (≥ 1) new bytes once everything has been handed out, and
    /// returns the end of the writable run `pos..limit` (non-empty, at most `want` long).
    pub(super) fn prepare(&mut self, want: usize) -> Result<usize, CodecError> {
        let len = self.buf.len();
        let target = self.pos.saturating_add(want).min(self.size);
        if target > len {
            // Exact growth: the ring never holds more than one chunk beyond the output so far.
            self.buf
                .try_reserve_exact(target - len)
                .map_err(|_| CodecError::OutOfMemory)?;
            self.buf.resize(target, 0);
        }
        if self.pos >= self.buf.len() {
            // Full size reached: wrap. Everything before has been handed out.
            self.pos = 0;
            self.flushed = 0;
        }
        if self.buf.is_empty() {
            return Err(CodecError::XzCorrupt);
        }
        Ok(self.pos + want.min(self.buf.len() - self.pos))
    }

    /// Records `n` bytes written at `pos` by someone else (stored LZMA2 chunks).
    pub(super) fn advance(&mut self, n: usize) {
        self.pos += n;
        self.total = self.total.wrapping_add(n as u64);
    }

    /// Writes `data` (at most the run returned by `prepare`) at `pos`.
    pub(super) fn write(&mut self, data: &[u8]) -> Result<(), CodecError> {
        let end = self.pos + data.len();
        let dst = self
            .buf
            .get_mut(self.pos..end)
            .ok_or(CodecError::XzCorrupt)?;
        dst.copy_from_slice(data);
        self.advance(data.len());
        Ok(())
    }

    /// Heap bytes held.
    #[cfg(test)]
    pub(super) fn heap(&self) -> usize {
        self.buf.capacity()
    }
}
