//! Text without `core::fmt`. The formatter, its integer printing and the long error texts
//! cost a Cortex-M firmware 6.3 KB of flash (memory-budget.md, "Cortex-M firmware"), so
//! what the core builds itself (member names, boot-env values) is put together here, and every
//! error also tells itself as a [`Brief`]: fixed short names plus the name or path it carries.
//! Hosted builds print the full `Display` texts (the ones users search for); firmware prints
//! the brief.

use core::fmt::{self, Write};
use heapless::String;

/// Text of a device or boot-env error, folded at the boundary (no generic error types leak).
pub type ErrorText = String<160>;

/// `e`'s `Display` text, cut to fit: the default [`crate::hal::BlockDevice::error_text`].
pub fn display_text(e: &dyn fmt::Display) -> ErrorText {
    let mut s = ErrorText::new();
    let _ = write!(Truncating(&mut s), "{}", e);
    s
}

/// Writes into a fixed string, dropping what does not fit (error texts only).
struct Truncating<'a, const N: usize>(&'a mut String<N>);

impl<const N: usize> Write for Truncating<'_, N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        push_truncated(self.0, s);
        Ok(())
    }
}

/// An error in a few fixed words: `what` went wrong, its `cause` (may be empty), and the
/// `detail` it carries: a path, member, key or device text (may be empty). Printed as the
/// non-empty parts joined by `": "` ([`Brief::parts`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Brief<'a> {
    pub what: &'static str,
    pub cause: &'static str,
    pub detail: &'a str,
}

impl<'a> Brief<'a> {
    pub const fn new(what: &'static str, cause: &'static str, detail: &'a str) -> Self {
        Brief {
            what,
            cause,
            detail,
        }
    }

    /// A brief with only its `what`.
    pub const fn only(what: &'static str) -> Self {
        Brief::new(what, "", "")
    }

    /// The non-empty parts, in order.
    pub fn parts(&self) -> impl Iterator<Item = &'a str> {
        [self.what, self.cause, self.detail]
            .into_iter()
            .filter(|p| !p.is_empty())
    }
}

/// Appends `v` in decimal, left-padded with zeros to at least `width` digits. Returns `false`
/// (and leaves `s` as it was) when it does not fit.
pub fn push_decimal<const N: usize>(s: &mut String<N>, v: u64, width: usize) -> bool {
    push_digits(s, v, 10, width)
}

/// Appends `v` in uppercase hexadecimal without prefix. Returns `false` (and leaves `s` as it
/// was) when it does not fit.
pub fn push_hex_upper<const N: usize>(s: &mut String<N>, v: u64) -> bool {
    push_digits(s, v, 16, 1)
}

fn push_digits<const N: usize>(s: &mut String<N>, v: u64, radix: u64, width: usize) -> bool {
    push_digits_view(s.as_mut_view(), v, radix, width)
}

/// Appends `v` in `radix` (10 or 16), at least `width` digits. One copy for every string
/// capacity (firmware flash).
#[inline(never)]
fn push_digits_view(
    s: &mut heapless::string::StringView,
    mut v: u64,
    radix: u64,
    width: usize,
) -> bool {
    // u64::MAX has 20 decimal digits; wider padding is never asked for here.
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    let width = width.clamp(1, buf.len());
    while at > 0 && (v > 0 || buf.len() - at < width) {
        let (q, d) = div_rem(v, radix);
        let d = d as u8;
        at -= 1;
        buf[at] = if d < 10 { b'0' + d } else { b'A' + d - 10 };
        v = q;
    }
    // ASCII digits only.
    s.push_str(core::str::from_utf8(&buf[at..]).unwrap_or_default())
        .is_ok()
}

/// `v / d` and `v % d`. A 32-bit target has no 64-bit divide instruction, and the library
/// routine for it costs 0.9 KB of flash (Cortex-M4); numbers printed here are mostly small,
/// so they take the 32-bit divide, and larger ones a bitwise long division.
fn div_rem(v: u64, d: u64) -> (u64, u64) {
    if let (Ok(v), Ok(d)) = (u32::try_from(v), u32::try_from(d)) {
        return ((v / d).into(), (v % d).into());
    }
    let (mut q, mut r) = (0u64, 0u64);
    for bit in (0..64).rev() {
        r = (r << 1) | ((v >> bit) & 1);
        if r >= d {
            r -= d;
            q |= 1 << bit;
        }
    }
    (q, r)
}

/// `s` split around the first `sep` (an ASCII byte, so both sides are whole characters). A
/// plain byte search: `str::split_once` brings a word-at-a-time `memchr` (firmware flash).
pub fn split_once_byte(s: &str, sep: u8) -> Option<(&str, &str)> {
    let at = s.bytes().position(|b| b == sep)?;
    Some((s.get(..at)?, s.get(at + 1..)?))
}

/// Appends as much of `text` as fits (whole characters), for names inside error values.
pub fn push_truncated<const N: usize>(s: &mut String<N>, text: &str) {
    push_truncated_view(s.as_mut_view(), text);
}

/// As much of `text` as fits in a new `String<N>` (whole characters).
pub fn truncated<const N: usize>(text: &str) -> String<N> {
    let mut s = String::new();
    push_truncated(&mut s, text);
    s
}

/// One copy of the loop for every capacity.
fn push_truncated_view(s: &mut heapless::string::StringView, text: &str) {
    let mut end = text.len().min(s.capacity() - s.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    // Cut at a character boundary, so it fits and is whole.
    let _ = s.push_str(text.get(..end).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::format;

    #[test]
    fn numbers_match_the_formatter() {
        let mut rng = crate::test_rng::Rng(7);
        let mut values = std::vec![
            0u64,
            1,
            9,
            10,
            15,
            16,
            255,
            9999,
            10000,
            u32::MAX as u64,
            u64::MAX
        ];
        values.extend((0..500).map(|_| rng.next() >> rng.below(64)));
        for v in values {
            let mut s: String<24> = String::new();
            assert!(push_decimal(&mut s, v, 4));
            assert_eq!(s.as_str(), format!("{v:04}"));
            let mut s: String<24> = String::new();
            assert!(push_decimal(&mut s, v, 0));
            assert_eq!(s.as_str(), format!("{v}"));
            let mut s: String<24> = String::new();
            assert!(push_hex_upper(&mut s, v));
            assert_eq!(s.as_str(), format!("{v:X}"));
        }
    }

    #[test]
    fn what_does_not_fit_is_refused_whole() {
        let mut s: String<6> = String::new();
        s.push_str("ab").unwrap();
        assert!(!push_decimal(&mut s, 12345, 0));
        assert_eq!(s.as_str(), "ab");
        assert!(push_hex_upper(&mut s, 0xBEEF));
        assert_eq!(s.as_str(), "abBEEF");
        let mut t: String<3> = String::new();
        push_truncated(&mut t, "päth");
        assert_eq!(t.as_str(), "pä");
    }

    #[test]
    fn brief_parts_skip_empty_ones() {
        let b = Brief::new("checksum mismatch", "", "data/0000/rootfs.img");
        assert_eq!(
            b.parts().collect::<std::vec::Vec<_>>(),
            ["checksum mismatch", "data/0000/rootfs.img"]
        );
        assert_eq!(Brief::only("x").parts().count(), 1);
    }
}
