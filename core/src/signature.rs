//! Artifact signatures: `manifest.sig` holds the base64 signature over the raw `manifest` bytes.
//! The core only decodes and dispatches; the cryptography sits behind [`Verifier`] so that a
//! Linux build can use ring while a microcontroller build brings its own.
use core::fmt;

/// Longest `manifest.sig` accepted, in base64 characters (RSA-4096 is 684; ECDSA P-256 88).
pub const MAX_SIGNATURE_B64_LEN: usize = 1024;
/// Longest decoded signature in bytes (RSA-8192 is 1024; RSA-4096 512).
pub const MAX_SIGNATURE_LEN: usize = MAX_SIGNATURE_B64_LEN / 4 * 3;

/// Why a signature was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureError {
    /// The signature does not match the manifest under the configured key(s).
    Mismatch,
    /// The signature bytes have a form no configured key can use (e.g. length).
    Malformed,
    /// `manifest.sig` is not valid base64.
    Base64,
    /// `manifest.sig` decodes to more bytes than the buffer for the longest supported signature.
    TooLong,
}

impl SignatureError {
    /// A short fixed name (see [`crate::text::Brief`]).
    pub const fn name(self) -> &'static str {
        match self {
            SignatureError::Mismatch => "signature mismatch",
            SignatureError::Malformed => "malformed signature",
            SignatureError::Base64 => "signature not base64",
            SignatureError::TooLong => "signature too long",
        }
    }
}

impl fmt::Display for SignatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SignatureError::Mismatch => {
                "failed to verify message with any of the provided verification keys"
            }
            SignatureError::Malformed => {
                "signature has a length or encoding no verification key accepts"
            }
            SignatureError::Base64 => "manifest.sig is not valid base64",
            SignatureError::TooLong => "manifest.sig is longer than any supported signature",
        })
    }
}

impl core::error::Error for SignatureError {}

/// Checks a decoded `manifest.sig` against the raw manifest bytes.
pub trait Verifier {
    fn verify(&self, manifest: &[u8], signature: &[u8]) -> Result<(), SignatureError>;
}

/// Decodes standard base64 (RFC 4648 alphabet, `=` padding required) into `out`, returning the
/// number of bytes written.
///
/// This is exactly what mender-artifact writes: one line, padded. One trailing `"\n"` or `"\r\n"`
/// is tolerated because editors and `echo` add it; any other whitespace, a missing or misplaced
/// `=`, or non-zero bits under the padding is rejected, so each signature has a single encoding.
/// If the output would not fit, `TooLong` is returned before anything is written; after other
/// errors `out` may hold partial output.
pub fn decode_base64(input: &[u8], out: &mut [u8]) -> Result<usize, SignatureError> {
    let input = input
        .strip_suffix(b"\r\n")
        .or_else(|| input.strip_suffix(b"\n"))
        .unwrap_or(input);
    if !input.len().is_multiple_of(4) {
        return Err(SignatureError::Base64);
    }
    let padding = match input {
        [.., b'=', b'='] => 2,
        [.., b'='] => 1,
        _ => 0,
    };
    let decoded_len = input.len() / 4 * 3 - padding;
    let out = out.get_mut(..decoded_len).ok_or(SignatureError::TooLong)?;

    let mut written = 0;
    let groups = input.chunks_exact(4);
    let last_group = groups.len().saturating_sub(1);
    for (index, group) in groups.enumerate() {
        // `=` may only appear as the padding counted above, i.e. in the last group.
        let pad_here = if index == last_group { padding } else { 0 };
        let mut sextets = [0u8; 4];
        for (slot, &c) in sextets.iter_mut().zip(group).take(4 - pad_here) {
            *slot = sextet(c).ok_or(SignatureError::Base64)?;
        }
        let [a, b, c, d] = sextets;
        let bytes = [a << 2 | b >> 4, b << 4 | c >> 2, c << 6 | d];
        // The bits under the padding carry no data; requiring zeros makes the encoding unique.
        let leftover = match pad_here {
            2 => b & 0x0f,
            1 => c & 0x03,
            _ => 0,
        };
        if leftover != 0 {
            return Err(SignatureError::Base64);
        }
        let n = 3 - pad_here;
        let dst = out
            .get_mut(written..written + n)
            .ok_or(SignatureError::Base64)?;
        dst.copy_from_slice(bytes.get(..n).ok_or(SignatureError::Base64)?);
        written += n;
    }
    Ok(written)
}

/// Value of one base64 character of the standard alphabet.
fn sextet(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference encoder for round-trip tests, written independently of the decoder's logic.
    fn encode(data: &[u8], out: &mut [u8]) -> usize {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut n = 0;
        for chunk in data.chunks(3) {
            let mut buf = [0u8; 3];
            buf[..chunk.len()].copy_from_slice(chunk);
            let v = u32::from(buf[0]) << 16 | u32::from(buf[1]) << 8 | u32::from(buf[2]);
            for i in 0..4 {
                out[n + i] = if i <= chunk.len() {
                    ALPHABET[(v >> (18 - 6 * i) & 63) as usize]
                } else {
                    b'='
                };
            }
            n += 4;
        }
        n
    }

    fn decode_ok(input: &[u8]) -> ([u8; 64], usize) {
        let mut out = [0u8; 64];
        let n = decode_base64(input, &mut out).unwrap();
        (out, n)
    }

    #[test]
    fn rfc4648_vectors() {
        let cases: [(&[u8], &[u8]); 7] = [
            (b"", b""),
            (b"Zg==", b"f"),
            (b"Zm8=", b"fo"),
            (b"Zm9v", b"foo"),
            (b"Zm9vYg==", b"foob"),
            (b"Zm9vYmE=", b"fooba"),
            (b"Zm9vYmFy", b"foobar"),
        ];
        for (encoded, plain) in cases {
            let (out, n) = decode_ok(encoded);
            assert_eq!(&out[..n], plain, "decoding {:?}", encoded);
        }
    }

    #[test]
    fn round_trips_every_byte_value_and_length() {
        let mut data = [0u8; 256];
        for (i, b) in data.iter_mut().enumerate() {
            *b = i as u8;
        }
        let mut encoded = [0u8; 344];
        let mut decoded = [0u8; 256];
        for len in [0, 1, 2, 3, 4, 5, 62, 63, 64, 255, 256] {
            let e = encode(&data[..len], &mut encoded);
            let n = decode_base64(&encoded[..e], &mut decoded).unwrap();
            assert_eq!(&decoded[..n], &data[..len], "length {len}");
        }
        // The whole alphabet, high bytes included.
        let e = encode(&data, &mut encoded);
        assert_eq!(e, 344, "RSA-2048 signatures are 344 characters");
        assert_eq!(decode_base64(&encoded[..e], &mut decoded), Ok(256));
        assert_eq!(decoded, data);
    }

    #[test]
    fn tolerates_one_trailing_newline_only() {
        assert_eq!(decode_ok(b"Zm8=\n").0[..2], *b"fo");
        assert_eq!(decode_ok(b"Zm8=\r\n").0[..2], *b"fo");
        assert_eq!(decode_ok(b"Zm9v\n").1, 3);
        assert_eq!(decode_ok(b"\n").1, 0, "an empty text stays empty");
        let mut out = [0u8; 8];
        for bad in [
            &b"Zm8=\n\n"[..],
            b"Zm8=\r",
            b"Zm8=\n\r",
            b"Zm8= ",
            b" Zm8=",
            b"\nZm8=",
            b"Zm9v\nZm8=",
            b"Zm9v\r\nZm8=",
            b"Zm\n8=",
            b"\n\n",
        ] {
            assert_eq!(
                decode_base64(bad, &mut out),
                Err(SignatureError::Base64),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn rejects_bad_characters() {
        let mut out = [0u8; 8];
        // URL-safe alphabet, NUL, high bytes and punctuation are all outside the standard set.
        for bad in [
            &b"Zm-v"[..],
            b"Zm_v",
            b"Zm9\0",
            b"Zm9\xff",
            b"Z*9v",
            b"Zm9v.A==",
        ] {
            assert_eq!(
                decode_base64(bad, &mut out),
                Err(SignatureError::Base64),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn rejects_bad_padding() {
        let mut out = [0u8; 16];
        for bad in [
            &b"Zg"[..],  // padding missing
            b"Zm8",      // padding missing
            b"Zg=",      // padding short
            b"Zg===",    // too much padding
            b"Z===",     // a single character cannot carry a byte
            b"====",     // nothing but padding
            b"Zg==Zm9v", // padding before the end
            b"Zm8=Zm8=", // padding before the end
            b"Z=9v",     // `=` inside a group
            b"Zm=v",     // `=` inside a group
        ] {
            assert_eq!(
                decode_base64(bad, &mut out),
                Err(SignatureError::Base64),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn rejects_non_zero_bits_under_padding() {
        let mut out = [0u8; 4];
        // `Zg==` and `Zm8=` are canonical; the next character up sets a bit that padding drops.
        assert_eq!(decode_base64(b"Zg==", &mut out), Ok(1));
        assert_eq!(
            decode_base64(b"Zh==", &mut out),
            Err(SignatureError::Base64)
        );
        assert_eq!(
            decode_base64(b"Zv==", &mut out),
            Err(SignatureError::Base64)
        );
        assert_eq!(decode_base64(b"Zm8=", &mut out), Ok(2));
        assert_eq!(
            decode_base64(b"Zm9=", &mut out),
            Err(SignatureError::Base64)
        );
        assert_eq!(
            decode_base64(b"Zm/=", &mut out),
            Err(SignatureError::Base64)
        );
    }

    #[test]
    fn rejects_output_that_does_not_fit_without_writing() {
        let mut out = [0xAAu8; 5];
        assert_eq!(
            decode_base64(b"Zm9vYmFy", &mut out),
            Err(SignatureError::TooLong)
        );
        assert_eq!(out, [0xAA; 5], "nothing written on overflow");
        let mut exact = [0u8; 6];
        assert_eq!(decode_base64(b"Zm9vYmFy", &mut exact), Ok(6));
        assert_eq!(&exact, b"foobar");
        // Padding shrinks the need: 5 bytes suffice for `Zm9vYmE=`.
        assert_eq!(decode_base64(b"Zm9vYmE=", &mut out), Ok(5));
        assert_eq!(&out, b"fooba");
    }

    #[test]
    fn longest_accepted_text_fits_the_signature_buffer() {
        let mut text = [b'A'; MAX_SIGNATURE_B64_LEN];
        let mut out = [0u8; MAX_SIGNATURE_LEN];
        assert_eq!(decode_base64(&text, &mut out), Ok(MAX_SIGNATURE_LEN));
        text[MAX_SIGNATURE_B64_LEN - 1] = b'=';
        assert_eq!(decode_base64(&text, &mut out), Ok(MAX_SIGNATURE_LEN - 1));
    }
}
