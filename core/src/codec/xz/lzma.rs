//! The LZMA symbol decoder behind LZMA2 chunks.
//!
//! The container buffers one whole compressed chunk before decoding it, so the range decoder
//! never runs out of input in the middle of a symbol: reading past the end yields zeros and is
//! caught when the chunk is finished. A run stops only between symbols or inside a match copy
//! (the rest of the match is kept in `pending`), when the dictionary run handed to it is full.

use alloc::vec::Vec;

use super::dict::Dict;
use crate::codec::CodecError;

/// Probability model: 11-bit probabilities of a 0 bit, all starting at one half.
const PROB_INIT: u16 = 1024;
/// Range below which the decoder shifts in another input byte.
const TOP: u32 = 1 << 24;

/// Number of LZMA states (the kind of the last few symbols).
const STATES: usize = 12;
/// Largest `pos_bits`, so at most 16 position states.
const POS_STATES: usize = 16;

// Offsets of the probability groups in one flat array (no per-group allocation).
const IS_MATCH: usize = 0;
const IS_REP: usize = IS_MATCH + STATES * POS_STATES;
const IS_REP0: usize = IS_REP + STATES;
const IS_REP1: usize = IS_REP0 + STATES;
const IS_REP2: usize = IS_REP1 + STATES;
const IS_REP0_LONG: usize = IS_REP2 + STATES;
const POS_SLOT: usize = IS_REP0_LONG + STATES * POS_STATES;
/// Reverse bit trees for distance slots 4..14, laid end to end (114 entries).
const SPEC_POS: usize = POS_SLOT + 4 * 64;
const ALIGN: usize = SPEC_POS + 114;
const MATCH_LEN: usize = ALIGN + 16;
const REP_LEN: usize = MATCH_LEN + LEN_SIZE;
const LITERAL: usize = REP_LEN + LEN_SIZE;
/// One literal coder: 256 plain plus 2 × 256 "matched" probabilities.
const LITERAL_SIZE: usize = 0x300;
/// LZMA2 limits `lc + lp` to 4, so at most 16 literal coders.
const PROBS_LEN: usize = LITERAL + LITERAL_SIZE * 16;

// Length coder layout (relative to MATCH_LEN / REP_LEN).
const LEN_CHOICE: usize = 0;
const LEN_CHOICE2: usize = 1;
const LEN_LOW: usize = 2;
const LEN_MID: usize = LEN_LOW + POS_STATES * 8;
const LEN_HIGH: usize = LEN_MID + POS_STATES * 8;
const LEN_SIZE: usize = LEN_HIGH + 256;

/// Shortest match.
const MATCH_LEN_MIN: usize = 2;

/// Range decoder over one complete compressed chunk.
struct Rc<'a> {
    range: u32,
    code: u32,
    pos: usize,
    input: &'a [u8],
}

impl Rc<'_> {
    #[inline(always)]
    fn normalize(&mut self) {
        if self.range < TOP {
            // Past the end of the chunk the decoder reads zeros; `finish` rejects that.
            let b = match self.input.get(self.pos) {
                Some(&b) => b,
                None => 0,
            };
            self.pos += 1;
            self.range <<= 8;
            self.code = (self.code << 8) | u32::from(b);
        }
    }

    /// Decodes one bit with adaptive probability `p`. `p` stays in 31..=2017, so `bound`
    /// is strictly between 0 and `range` and nothing can overflow even on corrupt input.
    #[inline(always)]
    fn bit(&mut self, p: &mut u16) -> usize {
        let bound = (self.range >> 11) * u32::from(*p);
        let bit = if self.code < bound {
            self.range = bound;
            *p += (2048 - *p) >> 5;
            0
        } else {
            self.range -= bound;
            self.code -= bound;
            *p -= *p >> 5;
            1
        };
        self.normalize();
        bit
    }

    /// Bit tree of `bits` levels, most significant bit first; `probs[1..1 << bits]` is used.
    #[inline(always)]
    fn tree(&mut self, probs: &mut [u16], bits: u32) -> usize {
        let mut m = 1usize;
        for _ in 0..bits {
            let b = match probs.get_mut(m) {
                Some(p) => self.bit(p),
                None => 0,
            };
            m = (m << 1) | b;
        }
        m - (1 << bits)
    }

    /// Bit tree read least significant bit first (distance low bits).
    #[inline(always)]
    fn reverse_tree(&mut self, probs: &mut [u16], bits: u32) -> u32 {
        let mut m = 1usize;
        let mut sym = 0u32;
        for i in 0..bits {
            let b = match probs.get_mut(m) {
                Some(p) => self.bit(p),
                None => 0,
            };
            m = (m << 1) | b;
            sym |= (b as u32) << i;
        }
        sym
    }

    /// `n` bits with fixed probability one half.
    #[inline(always)]
    fn direct(&mut self, n: u32) -> u32 {
        let mut r = 0u32;
        for _ in 0..n {
            self.range >>= 1;
            let b = if self.code >= self.range {
                self.code -= self.range;
                1
            } else {
                0
            };
            r = (r << 1) | b;
            self.normalize();
        }
        r
    }

    /// Match length, 2..=273.
    #[inline(always)]
    fn len(&mut self, probs: &mut [u16], pos_state: usize) -> usize {
        let ps = pos_state * 8;
        if self.bit(&mut probs[LEN_CHOICE]) == 0 {
            MATCH_LEN_MIN + self.tree(&mut probs[LEN_LOW + ps..LEN_LOW + ps + 8], 3)
        } else if self.bit(&mut probs[LEN_CHOICE2]) == 0 {
            MATCH_LEN_MIN + 8 + self.tree(&mut probs[LEN_MID + ps..LEN_MID + ps + 8], 3)
        } else {
            MATCH_LEN_MIN + 16 + self.tree(&mut probs[LEN_HIGH..LEN_HIGH + 256], 8)
        }
    }

    /// Match distance minus one, for a match of `len` bytes.
    #[inline(always)]
    fn distance(&mut self, probs: &mut [u16], len: usize) -> u32 {
        let len_state = (len - MATCH_LEN_MIN).min(3);
        let base = POS_SLOT + len_state * 64;
        let slot = self.tree(&mut probs[base..base + 64], 6) as u32;
        if slot < 4 {
            return slot;
        }
        let direct = (slot >> 1) - 1;
        let dist = (2 | (slot & 1)) << direct;
        if slot < 14 {
            // Slot trees start at SPEC_POS + dist - slot (dist >= slot), indexed from 1.
            let start = SPEC_POS - 1 + (dist - slot) as usize;
            dist + self.reverse_tree(&mut probs[start..SPEC_POS + 114], direct)
        } else {
            let high = self.direct(direct - 4) << 4;
            dist + high + self.reverse_tree(&mut probs[ALIGN..ALIGN + 16], 4)
        }
    }
}

/// Decoder state that lives across chunks (probabilities, state, repeat distances) plus the
/// range decoder of the current chunk.
pub(super) struct Lzma {
    /// All probabilities; empty until the first chunk that sets properties.
    probs: Vec<u16>,
    lc: u32,
    lp_mask: u64,
    pb_mask: u64,
    state: usize,
    reps: [u32; 4],
    /// Bytes of a match still to copy after a run stopped at its limit.
    pending: usize,
    range: u32,
    code: u32,
    in_pos: usize,
}

impl Lzma {
    pub(super) const fn new() -> Self {
        Lzma {
            probs: Vec::new(),
            lc: 0,
            lp_mask: 0,
            pb_mask: 0,
            state: 0,
            reps: [0; 4],
            pending: 0,
            range: 0,
            code: 0,
            in_pos: 0,
        }
    }

    /// Applies an LZMA2 properties byte (`(pb * 5 + lp) * 9 + lc`, with `lc + lp <= 4`).
    pub(super) fn set_props(&mut self, props: u8) -> Result<(), CodecError> {
        if props >= 9 * 5 * 5 {
            return Err(CodecError::XzCorrupt);
        }
        let lc = u32::from(props % 9);
        let rest = props / 9;
        let lp = u32::from(rest % 5);
        let pb = u32::from(rest / 5);
        if lc + lp > 4 {
            return Err(CodecError::XzCorrupt);
        }
        self.lc = lc;
        self.lp_mask = (1 << lp) - 1;
        self.pb_mask = (1 << pb) - 1;
        Ok(())
    }

    /// State reset: fresh probabilities, state and repeat distances. Allocates on first use.
    pub(super) fn reset(&mut self) -> Result<(), CodecError> {
        if self.probs.len() != PROBS_LEN {
            self.probs
                .try_reserve_exact(PROBS_LEN)
                .map_err(|_| CodecError::OutOfMemory)?;
            self.probs.resize(PROBS_LEN, PROB_INIT);
        }
        self.probs.fill(PROB_INIT);
        self.state = 0;
        self.reps = [0; 4];
        self.pending = 0;
        Ok(())
    }

    /// Starts the range decoder on a chunk's compressed bytes.
    pub(super) fn start_chunk(&mut self, input: &[u8]) -> Result<(), CodecError> {
        match input {
            [0, a, b, c, d, ..] => {
                self.code = u32::from_be_bytes([*a, *b, *c, *d]);
                self.range = u32::MAX;
                self.in_pos = 5;
                if self.code == u32::MAX {
                    return Err(CodecError::XzCorrupt);
                }
                Ok(())
            }
            _ => Err(CodecError::XzCorrupt),
        }
    }

    /// After the chunk's last byte of output: the encoder's flush must have been read exactly
    /// and no match may reach into the next chunk.
    pub(super) fn finish_chunk(&self, input: &[u8]) -> Result<(), CodecError> {
        if self.in_pos != input.len() || self.code != 0 || self.pending != 0 {
            return Err(CodecError::XzCorrupt);
        }
        Ok(())
    }

    /// Decodes from `input` (the whole chunk) into `dict` until `dict.pos == limit`.
    pub(super) fn run(
        &mut self,
        input: &[u8],
        dict: &mut Dict,
        limit: usize,
    ) -> Result<(), CodecError> {
        if self.probs.len() != PROBS_LEN {
            return Err(CodecError::XzCorrupt);
        }
        let mut rc = Rc {
            range: self.range,
            code: self.code,
            pos: self.in_pos,
            input,
        };
        let probs = self.probs.as_mut_slice();
        let buf = dict.buf.as_mut_slice();
        let ring = buf.len();
        let limit = limit.min(ring);
        let mut pos = dict.pos;
        let mut total = dict.total;
        let mut state = self.state;
        let [mut rep0, mut rep1, mut rep2, mut rep3] = self.reps;
        let lc = self.lc;
        let mut pending = self.pending;
        let mut result = Ok(());

        if pending > 0 && pos < limit {
            let n = pending.min(limit - pos);
            if copy_match(buf, pos, rep0 as usize, total, n) {
                pos += n;
                total = total.wrapping_add(n as u64);
                pending -= n;
            } else {
                result = Err(CodecError::XzCorrupt);
            }
        }

        while pos < limit && pending == 0 && result.is_ok() {
            let pos_state = (total & self.pb_mask) as usize;
            if rc.bit(&mut probs[IS_MATCH + state * POS_STATES + pos_state]) == 0 {
                // Literal, coded with the context of the previous byte and position.
                let prev = if total > 0 {
                    buf[if pos > 0 { pos - 1 } else { ring - 1 }]
                } else {
                    0
                };
                let ctx = (((total & self.lp_mask) as u32) << lc) + (u32::from(prev) >> (8 - lc));
                let base = LITERAL + LITERAL_SIZE * ctx as usize;
                let lit = &mut probs[base..base + LITERAL_SIZE];
                let mut sym = 1usize;
                if state >= 7 {
                    // After a match the byte at rep0 predicts the literal until a bit differs.
                    let Some(at) = back(pos, rep0 as usize, total, ring) else {
                        result = Err(CodecError::XzCorrupt);
                        break;
                    };
                    let mut mbyte = usize::from(buf[at]);
                    loop {
                        let mbit = (mbyte >> 7) & 1;
                        mbyte <<= 1;
                        let b = rc.bit(&mut lit[((1 + mbit) << 8) + sym]);
                        sym = (sym << 1) | b;
                        if mbit != b || sym >= 0x100 {
                            break;
                        }
                    }
                }
                while sym < 0x100 {
                    sym = (sym << 1) | rc.bit(&mut lit[sym]);
                }
                buf[pos] = sym as u8;
                pos += 1;
                total = total.wrapping_add(1);
                state = if state < 4 {
                    0
                } else if state < 10 {
                    state - 3
                } else {
                    state - 6
                };
                continue;
            }

            let len;
            if rc.bit(&mut probs[IS_REP + state]) == 0 {
                len = rc.len(&mut probs[MATCH_LEN..MATCH_LEN + LEN_SIZE], pos_state);
                state = if state < 7 { 7 } else { 10 };
                let dist = rc.distance(probs, len);
                rep3 = rep2;
                rep2 = rep1;
                rep1 = rep0;
                // 0xFFFF_FFFF would be the LZMA end marker, which LZMA2 does not allow; it
                // fails the distance check below like any other distance beyond the history.
                rep0 = dist;
            } else {
                if rc.bit(&mut probs[IS_REP0 + state]) == 0 {
                    if rc.bit(&mut probs[IS_REP0_LONG + state * POS_STATES + pos_state]) == 0 {
                        // Short rep: one byte from distance rep0.
                        state = if state < 7 { 9 } else { 11 };
                        let Some(at) = back(pos, rep0 as usize, total, ring) else {
                            result = Err(CodecError::XzCorrupt);
                            break;
                        };
                        buf[pos] = buf[at];
                        pos += 1;
                        total = total.wrapping_add(1);
                        continue;
                    }
                } else {
                    let dist;
                    if rc.bit(&mut probs[IS_REP1 + state]) == 0 {
                        dist = rep1;
                    } else {
                        if rc.bit(&mut probs[IS_REP2 + state]) == 0 {
                            dist = rep2;
                        } else {
                            dist = rep3;
                            rep3 = rep2;
                        }
                        rep2 = rep1;
                    }
                    rep1 = rep0;
                    rep0 = dist;
                }
                len = rc.len(&mut probs[REP_LEN..REP_LEN + LEN_SIZE], pos_state);
                state = if state < 7 { 8 } else { 11 };
            }

            let n = len.min(limit - pos);
            if !copy_match(buf, pos, rep0 as usize, total, n) {
                result = Err(CodecError::XzCorrupt);
                break;
            }
            pos += n;
            total = total.wrapping_add(n as u64);
            pending = len - n;
        }

        self.pending = pending;
        self.range = rc.range;
        self.code = rc.code;
        self.in_pos = rc.pos;
        self.state = state;
        self.reps = [rep0, rep1, rep2, rep3];
        dict.pos = pos;
        dict.total = total;
        result
    }

    /// Heap bytes held.
    #[cfg(test)]
    pub(super) fn heap(&self) -> usize {
        self.probs.capacity() * core::mem::size_of::<u16>()
    }
}

/// Ring index of the byte `dist + 1` positions behind `pos`, if that is valid history:
/// written since the last reset (`total` bytes) and still in the ring. The ring is the whole
/// dictionary once it wraps, and holds all `total` bytes before that.
#[inline(always)]
fn back(pos: usize, dist: usize, total: u64, ring: usize) -> Option<usize> {
    if dist as u64 >= total || dist >= ring {
        return None;
    }
    let d = dist + 1;
    Some(if pos >= d { pos - d } else { pos + ring - d })
}

/// Copies `n` bytes from `dist + 1` behind `pos` to `pos` (`pos + n` within the ring). The
/// source may overlap the destination (repeating pattern) or wrap around the ring end.
/// Returns false if the distance reaches beyond the valid history.
#[inline(always)]
fn copy_match(buf: &mut [u8], pos: usize, dist: usize, total: u64, n: usize) -> bool {
    let ring = buf.len();
    let Some(mut src) = back(pos, dist, total, ring) else {
        return false;
    };
    if pos + n > ring {
        return false;
    }
    if src < pos {
        // Source does not wrap. Most matches are short, where a library memmove call costs
        // more than the copy; 8-byte steps are exact when the distance is at least 8 (each
        // step reads only bytes already written).
        let mut i = 0;
        if dist >= 7 {
            while i + 8 <= n {
                let mut w = [0u8; 8];
                w.copy_from_slice(&buf[src + i..src + i + 8]);
                buf[pos + i..pos + i + 8].copy_from_slice(&w);
                i += 8;
            }
        }
        while i < n {
            buf[pos + i] = buf[src + i];
            i += 1;
        }
        return true;
    }
    for i in pos..pos + n {
        buf[i] = buf[src];
        src += 1;
        if src == ring {
            src = 0;
        }
    }
    true
}
