//! Deterministic test randomness for the core's unit tests, without a dev-dependency.

/// xorshift64*.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`0` when `n` is 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    pub(crate) fn bytes(&mut self, n: usize) -> std::vec::Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// How a test offers input to a push decoder: all at once, one byte at a time, or pieces of
/// random sizes (from 1 byte to more than a window).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Chunks {
    Whole,
    Bytes,
    Random(u64),
}

impl Chunks {
    /// The sizes of successive pieces.
    pub(crate) fn pieces(self) -> impl FnMut() -> usize {
        const SIZES: [usize; 10] = [1, 2, 3, 5, 7, 17, 100, 4096, 70_000, 200_000];
        let mut rng = Rng(match self {
            Chunks::Random(seed) => seed | 1,
            _ => 1,
        });
        move || match self {
            Chunks::Whole => usize::MAX,
            Chunks::Bytes => 1,
            Chunks::Random(_) => SIZES[rng.below(SIZES.len())],
        }
    }
}
