//! CRC-64/XZ over block data, eight bytes per step.
//!
//! The check runs over every output byte, and a one-table CRC (as `crc`'s default) costs
//! about a tenth of the whole decode. Eight tables make it several times faster; they are
//! computed into the heap (16 KiB) when a stream first uses CRC-64, rather than stored as
//! 16 KiB of constants in the device image. The narrow headers still use `crc`.

use alloc::vec::Vec;

use crate::codec::CodecError;

/// Reflected polynomial of CRC-64/XZ (ECMA-182).
const POLY: u64 = 0xC96C_5795_D787_0F42;

/// `t[k][b]`: CRC contribution of byte `b` followed by `k` zero bytes.
pub(super) struct Tables(Vec<[u64; 256]>);

impl Tables {
    pub(super) fn new() -> Result<Self, CodecError> {
        let mut t: Vec<[u64; 256]> = Vec::new();
        t.try_reserve_exact(8)
            .map_err(|_| CodecError::OutOfMemory)?;
        let mut first = [0u64; 256];
        for (b, slot) in first.iter_mut().enumerate() {
            let mut c = b as u64;
            for _ in 0..8 {
                c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
            }
            *slot = c;
        }
        t.push(first);
        for k in 1..8 {
            let mut next = [0u64; 256];
            for (b, slot) in next.iter_mut().enumerate() {
                let prev = t[k - 1][b];
                *slot = (prev >> 8) ^ first[(prev & 0xFF) as usize];
            }
            t.push(next);
        }
        Ok(Tables(t))
    }

    /// Continues a CRC (`crc` is the finished value so far; start with 0).
    pub(super) fn update(&self, crc: u64, data: &[u8]) -> u64 {
        let [t0, t1, t2, t3, t4, t5, t6, t7] = match self.0.as_slice() {
            [a, b, c, d, e, f, g, h] => [a, b, c, d, e, f, g, h],
            _ => return crc,
        };
        let mut c = !crc;
        let mut words = data.chunks_exact(8);
        for w in &mut words {
            let v = c ^ u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
            c = t7[(v & 0xFF) as usize]
                ^ t6[((v >> 8) & 0xFF) as usize]
                ^ t5[((v >> 16) & 0xFF) as usize]
                ^ t4[((v >> 24) & 0xFF) as usize]
                ^ t3[((v >> 32) & 0xFF) as usize]
                ^ t2[((v >> 40) & 0xFF) as usize]
                ^ t1[((v >> 48) & 0xFF) as usize]
                ^ t0[(v >> 56) as usize];
        }
        for &b in words.remainder() {
            c = t0[((c ^ u64::from(b)) & 0xFF) as usize] ^ (c >> 8);
        }
        !c
    }

    /// Heap bytes held.
    #[cfg(test)]
    pub(super) fn heap(&self) -> usize {
        self.0.capacity() * core::mem::size_of::<[u64; 256]>()
    }
}
