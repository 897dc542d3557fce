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
}

impl fmt::Display for SignatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SignatureError::Mismatch => "failed to verify message with any of the provided verification keys",
            SignatureError::Malformed => "signature has a length or encoding no verification key accepts",
            SignatureError::Base64 => "manifest.sig is not valid base64",
        })
    }
}

impl core::error::Error for SignatureError {}

/// Checks a decoded `manifest.sig` against the raw manifest bytes.
pub trait Verifier {
    fn verify(&self, manifest: &[u8], signature: &[u8]) -> Result<(), SignatureError>;
}
