//! Artifact signature verification with ring.
//!
//! Keys come from the PEM public key files in the configuration (`ArtifactVerifyKey(s)`); the
//! official client tries each in turn. ring wants bare key material (PKCS#1 `RSAPublicKey` DER,
//! or the 65-byte uncompressed P-256 point), not the SubjectPublicKeyInfo that `openssl -pubout`
//! writes, so the wrapper is stripped here with a small DER walker that checks every length.
use std::fmt;

use mender_core::signature::{decode_base64, SignatureError, Verifier};
use ring::signature::{
    UnparsedPublicKey, VerificationAlgorithm, ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_FIXED,
    RSA_PKCS1_2048_8192_SHA256,
};

/// ring's limits for `RSA_PKCS1_2048_8192_SHA256`; checked at load time so a bad key is reported
/// when the configuration is read, not as a mismatch on every Artifact.
const RSA_MIN_BITS: usize = 2048;
const RSA_MAX_BITS: usize = 8192;
/// Raw ECDSA P-256 `r || s`, the form mender-artifact writes.
const P256_RAW_SIG_LEN: usize = 64;
/// Longest DER ECDSA P-256 signature (two 33-byte INTEGERs plus headers).
const P256_DER_SIG_MAX_LEN: usize = 72;

/// Why a key file was not accepted. The texts are meant for the person editing the config.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// No `-----BEGIN ...-----` block: not a PEM file.
    NotPem,
    /// A private key; the label says which kind.
    PrivateKey(String),
    /// A PEM block that holds something other than a key, e.g. a certificate.
    NotAKey(String),
    /// A well-formed public key of a type Artifacts cannot be signed with.
    Unsupported(&'static str),
    /// RSA modulus under 2048 bits; mender-artifact signs with such keys but ring refuses them.
    RsaTooShort { bits: usize },
    /// RSA modulus over 8192 bits, ring's upper limit.
    RsaTooLong { bits: usize },
    /// Broken PEM or DER; the text says where.
    Malformed(&'static str),
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::NotPem => {
                f.write_str("not a PEM file: expected a \"-----BEGIN PUBLIC KEY-----\" block")
            }
            KeyError::PrivateKey(label) => write!(
                f,
                "this is a private key (PEM \"{label}\"); artifact verification needs the public \
                 key, e.g. from `openssl pkey -in <key> -pubout`"
            ),
            KeyError::NotAKey(label) => write!(
                f,
                "PEM block \"{label}\" is not a public key; expected \"PUBLIC KEY\" or \
                 \"RSA PUBLIC KEY\""
            ),
            KeyError::Unsupported(what) => write!(
                f,
                "unsupported key type: {what}; Artifacts are signed with RSA or ECDSA P-256 keys"
            ),
            KeyError::RsaTooShort { bits } => write!(
                f,
                "RSA key is {bits} bits; this client only verifies with RSA keys of \
                 {RSA_MIN_BITS} bits or more (sign Artifacts with a key of at least \
                 {RSA_MIN_BITS} bits; 3072 is recommended)"
            ),
            KeyError::RsaTooLong { bits } => write!(
                f,
                "RSA key is {bits} bits; the largest supported is {RSA_MAX_BITS} bits"
            ),
            KeyError::Malformed(what) => write!(f, "malformed public key: {what}"),
        }
    }
}

impl std::error::Error for KeyError {}

/// One public key an Artifact signature may be checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactKey(Key);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Key {
    /// PKCS#1 `RSAPublicKey` DER as ring takes it; `bits` of the modulus for messages and the
    /// signature length check (ring needs the signature exactly as long as the modulus).
    Rsa { der: Vec<u8>, bits: usize },
    /// Uncompressed SEC1 point `04 || x || y`.
    EcP256([u8; 65]),
}

impl ArtifactKey {
    /// Loads a key from the bytes of a PEM file: `PUBLIC KEY` (SubjectPublicKeyInfo, RSA or
    /// EC P-256) or `RSA PUBLIC KEY` (PKCS#1). Only the first key block is used, as the official
    /// client does; `EC PARAMETERS` blocks before it are skipped.
    pub fn from_pem(pem: &[u8]) -> Result<ArtifactKey, KeyError> {
        let (label, body) = first_pem_block(pem)?;
        let parse = match label {
            "PUBLIC KEY" => parse_spki,
            "RSA PUBLIC KEY" => parse_rsa_public_key,
            // Judged by the label alone: encrypted private keys carry header lines, not base64.
            _ => return Err(not_a_public_key(label)),
        };
        let mut der = vec![0; body.len() / 4 * 3];
        let len = decode_base64(body.as_bytes(), &mut der)
            .map_err(|_| KeyError::Malformed("PEM body is not valid base64"))?;
        parse(der.get(..len).unwrap_or_default()).map(ArtifactKey)
    }

    /// Checks one decoded signature. `Malformed` means this key cannot use a signature of that
    /// form (type or length), `Mismatch` that it was tried and failed.
    fn check(&self, manifest: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
        let ok = |alg: &'static dyn VerificationAlgorithm, key: &[u8]| {
            UnparsedPublicKey::new(alg, key)
                .verify(manifest, signature)
                .is_ok()
        };
        let verified = match &self.0 {
            Key::Rsa { der, bits } => {
                if signature.len() != bits.div_ceil(8) {
                    return Err(SignatureError::Malformed);
                }
                ok(&RSA_PKCS1_2048_8192_SHA256, der)
            }
            Key::EcP256(point) => {
                // mender-artifact writes raw r||s; PKCS#11/HSM signers produce DER. A 64-byte DER
                // signature is possible in principle, so a 64-byte `SEQUENCE` gets both tries.
                let raw = signature.len() == P256_RAW_SIG_LEN;
                let der =
                    signature.first() == Some(&0x30) && signature.len() <= P256_DER_SIG_MAX_LEN;
                if !raw && !der {
                    return Err(SignatureError::Malformed);
                }
                (raw && ok(&ECDSA_P256_SHA256_FIXED, point))
                    || (der && ok(&ECDSA_P256_SHA256_ASN1, point))
            }
        };
        if verified {
            Ok(())
        } else {
            Err(SignatureError::Mismatch)
        }
    }
}

/// Names the key in logs: `RSA-3072`, `ECDSA P-256`.
impl fmt::Display for ArtifactKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Key::Rsa { bits, .. } => write!(f, "RSA-{bits}"),
            Key::EcP256(_) => f.write_str("ECDSA P-256"),
        }
    }
}

fn not_a_public_key(label: &str) -> KeyError {
    // Labels come from a local file; keep the message short whatever the file holds.
    let shown: String = label.chars().take(40).collect();
    // Every kind of private key block ends this way: RSA, EC, DSA, PKCS#8, encrypted, OpenSSH.
    if label.ends_with("PRIVATE KEY") {
        KeyError::PrivateKey(shown)
    } else {
        KeyError::NotAKey(shown)
    }
}

/// The configured verification keys; a signature is accepted if any of them verifies it.
#[derive(Debug, Clone, Default)]
pub struct KeyVerifier(pub Vec<ArtifactKey>);

impl Verifier for KeyVerifier {
    /// `Mismatch` if at least one key could take the signature's form and none verified it;
    /// `Malformed` if no key could even take its form (e.g. an EC signature, RSA keys only).
    fn verify(&self, manifest: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
        let mut tried = self.0.is_empty();
        for key in &self.0 {
            match key.check(manifest, signature) {
                Ok(()) => return Ok(()),
                Err(SignatureError::Mismatch) => tried = true,
                Err(_) => {}
            }
        }
        Err(if tried {
            SignatureError::Mismatch
        } else {
            SignatureError::Malformed
        })
    }
}

/// Finds the first PEM block other than `EC PARAMETERS`; returns its label and base64 body.
fn first_pem_block(pem: &[u8]) -> Result<(&str, String), KeyError> {
    let text = std::str::from_utf8(pem).map_err(|_| KeyError::NotPem)?;
    let mut lines = text.lines().map(str::trim_ascii);
    loop {
        let label = lines
            .by_ref()
            .find_map(|l| l.strip_prefix("-----BEGIN ")?.strip_suffix("-----"))
            .ok_or(KeyError::NotPem)?;
        let mut body = String::new();
        loop {
            let line = lines
                .next()
                .ok_or(KeyError::Malformed("PEM block has no END line"))?;
            if let Some(end) = line
                .strip_prefix("-----END ")
                .and_then(|l| l.strip_suffix("-----"))
            {
                if end != label {
                    return Err(KeyError::Malformed("PEM END line does not match BEGIN"));
                }
                break;
            }
            body.push_str(line);
        }
        if label != "EC PARAMETERS" {
            return Ok((label, body));
        }
    }
}

const TAG_INTEGER: u8 = 0x02;
const TAG_BIT_STRING: u8 = 0x03;
const TAG_NULL: u8 = 0x05;
const TAG_OID: u8 = 0x06;
const TAG_SEQUENCE: u8 = 0x30;

// Algorithm and curve OIDs, content bytes only.
const OID_RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const OID_RSA_PSS: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a];
const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_DSA: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x01];
const OID_X25519: &[u8] = &[0x2b, 0x65, 0x6e];
const OID_X448: &[u8] = &[0x2b, 0x65, 0x6f];
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];
const OID_ED448: &[u8] = &[0x2b, 0x65, 0x71];
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
const OID_P521: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x23];
const OID_SECP256K1: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x0a];

/// Splits one DER element off `input`: (tag, contents, rest). Handles what public keys use:
/// single-byte tags and definite lengths below 64 KiB, minimally encoded.
fn der_element(input: &[u8]) -> Result<(u8, &[u8], &[u8]), KeyError> {
    const TRUNCATED: KeyError = KeyError::Malformed("DER truncated");
    let (&tag, rest) = input.split_first().ok_or(TRUNCATED)?;
    if tag & 0x1f == 0x1f {
        return Err(KeyError::Malformed("DER tag form not used in keys"));
    }
    let (&first, rest) = rest.split_first().ok_or(TRUNCATED)?;
    let (len, rest) = match first {
        0..=0x7f => (usize::from(first), rest),
        0x81 => match rest {
            [len @ 0x80..=0xff, rest @ ..] => (usize::from(*len), rest),
            [_, ..] => return Err(KeyError::Malformed("DER length not minimal")),
            [] => return Err(TRUNCATED),
        },
        0x82 => match rest {
            [hi @ 1..=0xff, lo, rest @ ..] => (usize::from(u16::from_be_bytes([*hi, *lo])), rest),
            [_, _, ..] => return Err(KeyError::Malformed("DER length not minimal")),
            _ => return Err(TRUNCATED),
        },
        _ => return Err(KeyError::Malformed("DER length too large or indefinite")),
    };
    let (contents, rest) = rest.split_at_checked(len).ok_or(TRUNCATED)?;
    Ok((tag, contents, rest))
}

/// Like [`der_element`] but requires `tag`.
fn der_expect<'a>(
    input: &'a [u8],
    tag: u8,
    what: &'static str,
) -> Result<(&'a [u8], &'a [u8]), KeyError> {
    match der_element(input)? {
        (t, contents, rest) if t == tag => Ok((contents, rest)),
        _ => Err(KeyError::Malformed(what)),
    }
}

/// `input` must be exactly one element with `tag`.
fn der_only<'a>(input: &'a [u8], tag: u8, what: &'static str) -> Result<&'a [u8], KeyError> {
    match der_expect(input, tag, what)? {
        (contents, []) => Ok(contents),
        _ => Err(KeyError::Malformed("trailing data after DER element")),
    }
}

/// SubjectPublicKeyInfo: `SEQUENCE { SEQUENCE { algorithm OID, parameters }, BIT STRING }`.
fn parse_spki(der: &[u8]) -> Result<Key, KeyError> {
    let spki = der_only(der, TAG_SEQUENCE, "SubjectPublicKeyInfo is not a SEQUENCE")?;
    let (algorithm, rest) = der_expect(spki, TAG_SEQUENCE, "algorithm is not a SEQUENCE")?;
    let bits = der_only(rest, TAG_BIT_STRING, "public key is not a BIT STRING")?;
    let key = match bits {
        [0, key @ ..] => key,
        _ => return Err(KeyError::Malformed("public key BIT STRING has unused bits")),
    };
    let (oid, params) = der_expect(algorithm, TAG_OID, "algorithm is not an OID")?;
    match oid {
        OID_RSA_ENCRYPTION => {
            // Parameters must be NULL; some encoders omit them.
            if !params.is_empty() {
                der_only(params, TAG_NULL, "RSA parameters are not NULL")?;
            }
            parse_rsa_public_key(key)
        }
        OID_EC_PUBLIC_KEY => {
            let curve = match der_element(params)? {
                (TAG_OID, curve, []) => curve,
                (TAG_SEQUENCE, _, []) => {
                    return Err(KeyError::Unsupported(
                        "EC key with explicit curve parameters",
                    ))
                }
                _ => return Err(KeyError::Malformed("EC parameters are not a named curve")),
            };
            match curve {
                OID_P256 => parse_p256_point(key),
                OID_P384 => Err(KeyError::Unsupported(
                    "ECDSA P-384 (only P-256 is supported)",
                )),
                OID_P521 => Err(KeyError::Unsupported(
                    "ECDSA P-521 (only P-256 is supported)",
                )),
                OID_SECP256K1 => Err(KeyError::Unsupported(
                    "ECDSA secp256k1 (only P-256 is supported)",
                )),
                _ => Err(KeyError::Unsupported(
                    "ECDSA on an unknown curve (only P-256 is supported)",
                )),
            }
        }
        OID_ED25519 => Err(KeyError::Unsupported("Ed25519")),
        OID_ED448 => Err(KeyError::Unsupported("Ed448")),
        OID_X25519 | OID_X448 => Err(KeyError::Unsupported(
            "X25519/X448 (key agreement keys cannot sign)",
        )),
        OID_DSA => Err(KeyError::Unsupported("DSA")),
        OID_RSA_PSS => Err(KeyError::Unsupported(
            "RSA-PSS key (Artifacts use RSA PKCS#1 v1.5 with an rsaEncryption key)",
        )),
        _ => Err(KeyError::Unsupported("unknown algorithm OID")),
    }
}

/// PKCS#1 `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }`, checked
/// against ring's limits so that the key is refused now rather than at each verification.
fn parse_rsa_public_key(der: &[u8]) -> Result<Key, KeyError> {
    let seq = der_only(der, TAG_SEQUENCE, "RSAPublicKey is not a SEQUENCE")?;
    let (n, rest) = der_expect(seq, TAG_INTEGER, "RSA modulus is not an INTEGER")?;
    let e = der_only(rest, TAG_INTEGER, "RSA exponent is not an INTEGER")?;
    let n = positive_integer(n)?;
    let e = positive_integer(e)?;

    let (&top, _) = n
        .split_first()
        .ok_or(KeyError::Malformed("RSA modulus is zero"))?;
    let bits = n.len() * 8 - top.leading_zeros() as usize;
    // ring compares the minimum against the byte length rounded up to bits.
    if n.len() * 8 < RSA_MIN_BITS {
        return Err(KeyError::RsaTooShort { bits });
    }
    if bits > RSA_MAX_BITS {
        return Err(KeyError::RsaTooLong { bits });
    }
    if n.last().is_some_and(|b| b & 1 == 0) {
        return Err(KeyError::Malformed("RSA modulus is even"));
    }
    // ring accepts odd exponents from 3 to 2^33 - 1.
    let e = match e {
        [] => 0,
        [..] if e.len() > 5 => u64::MAX,
        _ => e.iter().fold(0u64, |acc, &b| acc << 8 | u64::from(b)),
    };
    if !(3..1 << 33).contains(&e) || e & 1 == 0 {
        return Err(KeyError::Unsupported(
            "RSA key with a public exponent that is even or outside 3..2^33 (65537 is usual)",
        ));
    }
    Ok(Key::Rsa {
        der: der.to_vec(),
        bits,
    })
}

/// Content of a DER INTEGER that must be positive, without the sign byte.
fn positive_integer(int: &[u8]) -> Result<&[u8], KeyError> {
    match int {
        [] => Err(KeyError::Malformed("empty INTEGER")),
        [0, next, ..] if *next < 0x80 => Err(KeyError::Malformed("INTEGER not minimal")),
        [0, rest @ ..] => Ok(rest),
        [first, ..] if *first >= 0x80 => Err(KeyError::Malformed("negative INTEGER")),
        _ => Ok(int),
    }
}

fn parse_p256_point(point: &[u8]) -> Result<Key, KeyError> {
    match point {
        [0x04, ..] => point
            .try_into()
            .map(Key::EcP256)
            .map_err(|_| KeyError::Malformed("P-256 point is not 65 bytes")),
        [0x02 | 0x03, ..] => Err(KeyError::Unsupported(
            "compressed P-256 point (write the key with `openssl ec -pubout` defaults)",
        )),
        _ => Err(KeyError::Malformed("P-256 point is not in SEC1 form")),
    }
}

/// Loads the PEM public keys at `paths` (`--verify-key`, `ArtifactVerifyKey(s)`).
pub fn load_keys<P: AsRef<std::path::Path>>(paths: &[P]) -> Result<KeyVerifier, String> {
    let mut keys = Vec::new();
    for p in paths {
        let p = p.as_ref();
        let pem = std::fs::read(p)
            .map_err(|e| format!("can not read verification key {}: {}", p.display(), e))?;
        keys.push(
            ArtifactKey::from_pem(&pem)
                .map_err(|e| format!("verification key {}: {}", p.display(), e))?,
        );
    }
    Ok(KeyVerifier(keys))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mender_core::signature::MAX_SIGNATURE_LEN;
    use std::path::PathBuf;
    use std::process::Command;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const MANIFEST: &[u8] = b"\
0c5a2f2d0e5d2b8b54a4dbd27e8f61f4c1f3b9f0b39a0e6f3c3e58e0b6b5a0d4  data/0000/image.img\n\
96bcde4fd3a2d1a0e0f9b7a8c6f5e4d3c2b1a09f8e7d6c5b4a3928170f6e5d4c  header.tar.gz\n\
52c76ab66947278a897c2a6df8b4d77badfa343fec7ba3b2983c2ecbbb041a35  version\n";

    /// A scratch directory under the system temp dir, removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new() -> Scratch {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let dir =
                std::env::temp_dir().join(format!("mender-verify-test-{}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }

        fn read(&self, name: &str) -> Vec<u8> {
            std::fs::read(self.0.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
        }

        fn write(&self, name: &str, data: &[u8]) {
            std::fs::write(self.0.join(name), data).unwrap();
        }

        /// Runs a real tool inside the directory and fails the test with its stderr if it fails.
        fn run(&self, program: &str, args: &[&str]) {
            let out = Command::new(program)
                .args(args)
                .current_dir(&self.0)
                .output()
                .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
            assert!(
                out.status.success(),
                "{program} {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }

        /// `<name>.pem`: traditional PKCS#1 private key (what mender-artifact 3.9 loads);
        /// `<name>.pub`: its SubjectPublicKeyInfo.
        fn rsa(&self, name: &str, bits: u32) {
            let (pem, public) = (format!("{name}.pem"), format!("{name}.pub"));
            let bits = bits.to_string();
            self.run("openssl", &["genrsa", "-traditional", "-out", &pem, &bits]);
            self.run("openssl", &["rsa", "-in", &pem, "-pubout", "-out", &public]);
        }

        /// `<name>.pem`: SEC1 private key; `<name>.pub`: its SubjectPublicKeyInfo.
        fn ec(&self, name: &str, curve: &str) {
            let (pem, public) = (format!("{name}.pem"), format!("{name}.pub"));
            self.run(
                "openssl",
                &["ecparam", "-genkey", "-name", curve, "-noout", "-out", &pem],
            );
            self.run("openssl", &["ec", "-in", &pem, "-pubout", "-out", &public]);
        }

        /// Signs `manifest` with `openssl dgst -sha256 -sign` (PKCS#1 v1.5 for RSA, DER for EC).
        fn sign(&self, key: &str) -> Vec<u8> {
            self.write("manifest", MANIFEST);
            let sig = format!("{key}.sig");
            let pem = format!("{key}.pem");
            self.run(
                "openssl",
                &["dgst", "-sha256", "-sign", &pem, "-out", &sig, "manifest"],
            );
            self.read(&sig)
        }

        fn key(&self, file: &str) -> ArtifactKey {
            ArtifactKey::from_pem(&self.read(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
        }

        fn key_error(&self, file: &str) -> KeyError {
            ArtifactKey::from_pem(&self.read(file)).expect_err(file)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// DER `ECDSA-Sig-Value` to the raw big-endian `r || s` mender-artifact writes.
    fn der_to_raw(der: &[u8]) -> [u8; 64] {
        assert_eq!(der[0], 0x30);
        assert_eq!(usize::from(der[1]), der.len() - 2);
        let mut raw = [0u8; 64];
        let mut at = 2;
        for half in raw.chunks_mut(32) {
            assert_eq!(der[at], 0x02);
            let len = usize::from(der[at + 1]);
            let int = &der[at + 2..at + 2 + len];
            let int = int.strip_prefix(&[0]).unwrap_or(int);
            half[32 - int.len()..].copy_from_slice(int);
            at += 2 + len;
        }
        assert_eq!(at, der.len());
        raw
    }

    fn verifier(keys: &[&ArtifactKey]) -> KeyVerifier {
        KeyVerifier(keys.iter().map(|k| (*k).clone()).collect())
    }

    fn tampered(manifest: &[u8]) -> Vec<u8> {
        let mut m = manifest.to_vec();
        m[0] ^= 0x01;
        m
    }

    /// Minimal DER encoder for hand-built keys.
    fn tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        match contents.len() {
            n @ 0..=0x7f => out.push(n as u8),
            n @ 0x80..=0xff => out.extend([0x81, n as u8]),
            n => out.extend([0x82, (n >> 8) as u8, n as u8]),
        }
        out.extend_from_slice(contents);
        out
    }

    fn rsa_der(n: &[u8], e: &[u8]) -> Vec<u8> {
        let ints = [tlv(TAG_INTEGER, n), tlv(TAG_INTEGER, e)].concat();
        tlv(TAG_SEQUENCE, &ints)
    }

    /// An odd modulus of `bytes` bytes with the top bit set, as a positive DER INTEGER.
    fn modulus(bytes: usize) -> Vec<u8> {
        let mut n = vec![0x00, 0xc5];
        n.resize(bytes + 1, 0x5a);
        n[bytes] = 0x5b;
        n
    }

    #[test]
    fn rsa_2048_and_3072_signatures_verify() {
        let s = Scratch::new();
        s.rsa("r2048", 2048);
        s.rsa("r3072", 3072);
        let k2048 = s.key("r2048.pub");
        let k3072 = s.key("r3072.pub");
        assert_eq!(k2048.to_string(), "RSA-2048");
        assert_eq!(k3072.to_string(), "RSA-3072");

        let sig2048 = s.sign("r2048");
        let sig3072 = s.sign("r3072");
        assert_eq!((sig2048.len(), sig3072.len()), (256, 384));
        assert_eq!(verifier(&[&k2048]).verify(MANIFEST, &sig2048), Ok(()));
        assert_eq!(verifier(&[&k3072]).verify(MANIFEST, &sig3072), Ok(()));
        // Each configured key is tried in turn.
        let both = verifier(&[&k3072, &k2048]);
        assert_eq!(both.verify(MANIFEST, &sig2048), Ok(()));
        assert_eq!(both.verify(MANIFEST, &sig3072), Ok(()));

        // The PKCS#1 "RSA PUBLIC KEY" form is the same key.
        s.run(
            "openssl",
            &[
                "rsa",
                "-in",
                "r2048.pem",
                "-RSAPublicKey_out",
                "-out",
                "r2048.rsapub",
            ],
        );
        assert!(s
            .read("r2048.rsapub")
            .starts_with(b"-----BEGIN RSA PUBLIC KEY-----"));
        let pkcs1 = s.key("r2048.rsapub");
        assert_eq!(pkcs1, k2048);
        assert_eq!(verifier(&[&pkcs1]).verify(MANIFEST, &sig2048), Ok(()));
    }

    #[test]
    fn ec_p256_raw_and_der_signatures_verify() {
        let s = Scratch::new();
        s.ec("ec", "prime256v1");
        let key = s.key("ec.pub");
        assert_eq!(key.to_string(), "ECDSA P-256");
        let der = s.sign("ec");
        let raw = der_to_raw(&der);
        let v = verifier(&[&key]);
        assert_eq!(v.verify(MANIFEST, &der), Ok(()), "DER form");
        assert_eq!(v.verify(MANIFEST, &raw), Ok(()), "raw r||s form");

        let mut bad_raw = raw;
        bad_raw[40] ^= 0x80;
        assert_eq!(v.verify(MANIFEST, &bad_raw), Err(SignatureError::Mismatch));
        let mut bad_der = der.clone();
        *bad_der.last_mut().unwrap() ^= 0x01;
        assert_eq!(v.verify(MANIFEST, &bad_der), Err(SignatureError::Mismatch));
        // A DER signature with trailing junk is not a valid encoding, whatever its length.
        let der_junk = [&der[..], &[0]].concat();
        assert!(v.verify(MANIFEST, &der_junk).is_err());
        // Neither 64 bytes nor a SEQUENCE: no P-256 form fits.
        assert_eq!(
            v.verify(MANIFEST, &raw[..63]),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn wrong_key_or_tampered_manifest_is_a_mismatch() {
        let s = Scratch::new();
        s.rsa("ra", 2048);
        s.rsa("rb", 2048);
        s.ec("ea", "prime256v1");
        s.ec("eb", "prime256v1");
        let (ra, rb, ea, eb) = (
            s.key("ra.pub"),
            s.key("rb.pub"),
            s.key("ea.pub"),
            s.key("eb.pub"),
        );
        let rsa_sig = s.sign("ra");
        let ec_der = s.sign("ea");
        let ec_raw = der_to_raw(&ec_der);

        let wrong = verifier(&[&rb, &eb]);
        for sig in [&rsa_sig[..], &ec_der, &ec_raw] {
            assert_eq!(wrong.verify(MANIFEST, sig), Err(SignatureError::Mismatch));
        }
        let right = verifier(&[&ra, &ea]);
        let changed = tampered(MANIFEST);
        for sig in [&rsa_sig[..], &ec_der, &ec_raw] {
            assert_eq!(right.verify(MANIFEST, sig), Ok(()));
            assert_eq!(right.verify(&changed, sig), Err(SignatureError::Mismatch));
        }
        // One more byte in the manifest is a different message too.
        let longer = [MANIFEST, b"\n"].concat();
        assert_eq!(
            right.verify(&longer, &rsa_sig),
            Err(SignatureError::Mismatch)
        );

        // A signature no configured key can take is reported as such.
        assert_eq!(
            verifier(&[&ra]).verify(MANIFEST, &ec_raw),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verifier(&[&ea]).verify(MANIFEST, &rsa_sig),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verifier(&[&ra]).verify(MANIFEST, &[]),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            KeyVerifier(Vec::new()).verify(MANIFEST, &rsa_sig),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn artifacts_signed_by_mender_artifact_verify() {
        let s = Scratch::new();
        s.write("image.img", &[0x5a; 4096]);
        s.rsa("r2048", 2048);
        s.rsa("r3072", 3072);
        s.ec("ec", "prime256v1");
        let keys = [s.key("r2048.pub"), s.key("r3072.pub"), s.key("ec.pub")];

        for (name, b64_len) in [("r2048", 344), ("r3072", 512), ("ec", 88)] {
            let artifact = format!("{name}.mender");
            let out = format!("x-{name}");
            let pem = format!("{name}.pem");
            s.run(
                "mender-artifact",
                &[
                    "write",
                    "rootfs-image",
                    "-f",
                    "image.img",
                    "-t",
                    "dev",
                    "-n",
                    "n",
                    "-k",
                    &pem,
                    "-o",
                    &artifact,
                    "--no-progress",
                ],
            );
            std::fs::create_dir(s.0.join(&out)).unwrap();
            s.run(
                "tar",
                &["-xf", &artifact, "-C", &out, "manifest", "manifest.sig"],
            );
            let manifest = s.read(&format!("{out}/manifest"));
            let sig_text = s.read(&format!("{out}/manifest.sig"));
            assert_eq!(sig_text.len(), b64_len, "{name}: manifest.sig length");

            let mut sig = [0u8; MAX_SIGNATURE_LEN];
            let len = decode_base64(&sig_text, &mut sig).unwrap();
            let sig = &sig[..len];
            let own = s.key(&format!("{name}.pub"));
            assert_eq!(verifier(&[&own]).verify(&manifest, sig), Ok(()), "{name}");
            // With every key configured the right one is found; without it, no key verifies.
            let all = KeyVerifier(keys.to_vec());
            assert_eq!(all.verify(&manifest, sig), Ok(()), "{name} among all keys");
            let others: Vec<_> = keys.iter().filter(|k| **k != own).cloned().collect();
            assert!(
                KeyVerifier(others).verify(&manifest, sig).is_err(),
                "{name} without its key"
            );
            assert_eq!(
                all.verify(&tampered(&manifest), sig),
                Err(SignatureError::Mismatch),
                "{name} tampered"
            );
        }
    }

    #[test]
    fn zstd_fixture_signed_by_mender_artifact_4_verifies() {
        // The project's own copy of the mender-artifact 4.0 fixtures.
        const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/zstd");
        let s = Scratch::new();
        let artifact = format!("{DIR}/rootfs-zstd-signed-ec256.mender");
        s.run("tar", &["-xf", &artifact, "manifest", "manifest.sig"]);
        let pem = std::fs::read(format!("{DIR}/rootfs-zstd-signed-ec256.pub.pem")).unwrap();
        let key = ArtifactKey::from_pem(&pem).unwrap();
        assert_eq!(key.to_string(), "ECDSA P-256");

        let manifest = s.read("manifest");
        let sig_text = s.read("manifest.sig");
        let mut sig = [0u8; MAX_SIGNATURE_LEN];
        let len = decode_base64(&sig_text, &mut sig).unwrap();
        assert_eq!(len, 64, "mender-artifact writes raw r||s");
        let v = KeyVerifier(vec![key]);
        assert_eq!(v.verify(&manifest, &sig[..len]), Ok(()));
        assert_eq!(
            v.verify(&tampered(&manifest), &sig[..len]),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn short_rsa_keys_are_refused_with_a_clear_message() {
        let s = Scratch::new();
        s.rsa("r1024", 1024);
        s.run(
            "openssl",
            &[
                "rsa",
                "-in",
                "r1024.pem",
                "-RSAPublicKey_out",
                "-out",
                "r1024.rsapub",
            ],
        );
        for file in ["r1024.pub", "r1024.rsapub"] {
            let err = s.key_error(file);
            assert_eq!(err, KeyError::RsaTooShort { bits: 1024 }, "{file}");
            let text = err.to_string();
            assert!(
                text.contains("1024 bits") && text.contains("2048"),
                "{text}"
            );
        }
    }

    #[test]
    fn unsupported_key_types_are_named() {
        let s = Scratch::new();
        s.ec("p384", "secp384r1");
        s.ec("k256", "secp256k1");
        s.run(
            "openssl",
            &["genpkey", "-algorithm", "ed25519", "-out", "ed.pem"],
        );
        s.run(
            "openssl",
            &["pkey", "-in", "ed.pem", "-pubout", "-out", "ed.pub"],
        );
        s.ec("p256", "prime256v1");
        s.run(
            "openssl",
            &[
                "ec",
                "-in",
                "p256.pem",
                "-pubout",
                "-conv_form",
                "compressed",
                "-out",
                "c.pub",
            ],
        );
        for (file, name) in [
            ("p384.pub", "P-384"),
            ("k256.pub", "secp256k1"),
            ("ed.pub", "Ed25519"),
            ("c.pub", "compressed P-256"),
        ] {
            let err = s.key_error(file);
            assert!(matches!(err, KeyError::Unsupported(_)), "{file}: {err:?}");
            let text = err.to_string();
            assert!(
                text.starts_with("unsupported key type") && text.contains(name),
                "{text}"
            );
        }
    }

    #[test]
    fn private_keys_are_refused_as_private() {
        let s = Scratch::new();
        s.rsa("rsa", 2048);
        s.run(
            "openssl",
            &[
                "ecparam",
                "-genkey",
                "-name",
                "prime256v1",
                "-out",
                "ec-with-params.pem",
            ],
        );
        s.run(
            "openssl",
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                "p8.pem",
            ],
        );
        s.run(
            "openssl",
            &[
                "pkcs8", "-topk8", "-in", "p8.pem", "-passout", "pass:x", "-out", "enc.pem",
            ],
        );
        for (file, label) in [
            ("rsa.pem", "RSA PRIVATE KEY"),
            ("ec-with-params.pem", "EC PRIVATE KEY"),
            ("p8.pem", "PRIVATE KEY"),
            ("enc.pem", "ENCRYPTED PRIVATE KEY"),
        ] {
            let err = s.key_error(file);
            assert_eq!(err, KeyError::PrivateKey(label.into()), "{file}");
            let text = err.to_string();
            assert!(
                text.contains("private key") && text.contains("needs the public key"),
                "{text}"
            );
        }
    }

    #[test]
    fn garbage_is_refused() {
        let spki_p256_prefix = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE";
        let cases: [(&[u8], KeyError); 9] = [
            (b"", KeyError::NotPem),
            (b"hello\n", KeyError::NotPem),
            (b"\xff\xfe-----BEGIN PUBLIC KEY-----\n", KeyError::NotPem),
            (
                b"-----BEGIN PUBLIC KEY-----\nAAAA\n",
                KeyError::Malformed("PEM block has no END line"),
            ),
            (
                b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END RSA PUBLIC KEY-----\n",
                KeyError::Malformed("PEM END line does not match BEGIN"),
            ),
            (
                b"-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n",
                KeyError::Malformed("PEM body is not valid base64"),
            ),
            (
                b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
                KeyError::Malformed("SubjectPublicKeyInfo is not a SEQUENCE"),
            ),
            (
                b"-----BEGIN PUBLIC KEY-----\nMAA=\n-----END PUBLIC KEY-----\n",
                KeyError::Malformed("DER truncated"),
            ),
            (
                b"-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n",
                KeyError::NotAKey("CERTIFICATE".into()),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(
                ArtifactKey::from_pem(input),
                Err(expected),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        // A valid P-256 SPKI header followed by too few point bytes.
        let short = format!(
            "-----BEGIN PUBLIC KEY-----\n{spki_p256_prefix}AAAA\n-----END PUBLIC KEY-----\n"
        );
        assert_eq!(
            ArtifactKey::from_pem(short.as_bytes()),
            Err(KeyError::Malformed("DER truncated"))
        );
    }

    #[test]
    fn truncated_or_corrupted_der_never_panics() {
        let s = Scratch::new();
        s.rsa("rsa", 2048);
        s.ec("ec", "prime256v1");
        for name in ["rsa", "ec"] {
            let (public, der_file) = (format!("{name}.pub"), format!("{name}.der"));
            s.run(
                "openssl",
                &[
                    "pkey", "-pubin", "-in", &public, "-outform", "DER", "-out", &der_file,
                ],
            );
            let der = s.read(&der_file);
            assert!(parse_spki(&der).is_ok());
            for len in 0..der.len() {
                assert!(
                    parse_spki(&der[..len]).is_err(),
                    "{name} truncated to {len}"
                );
            }
            let mut longer = der.clone();
            longer.push(0);
            assert!(parse_spki(&longer).is_err(), "{name} with trailing byte");
            // Any single corrupted byte must give an answer, not a panic.
            for at in 0..der.len() {
                for mask in [0x01, 0x80, 0xff] {
                    let mut bad = der.clone();
                    bad[at] ^= mask;
                    let _ = parse_spki(&bad);
                }
            }
        }
    }

    #[test]
    fn der_lengths_and_integers_must_be_canonical() {
        let too_long = KeyError::Malformed("DER length too large or indefinite");
        let not_minimal = KeyError::Malformed("DER length not minimal");
        let truncated = KeyError::Malformed("DER truncated");
        assert_eq!(der_element(&[0x30, 0x80, 0, 0]), Err(too_long.clone()));
        assert_eq!(der_element(&[0x30, 0x83, 0, 0, 1, 0]), Err(too_long));
        assert_eq!(
            der_element(&[0x30, 0x81, 0x05, 1, 2, 3, 4, 5]),
            Err(not_minimal.clone())
        );
        assert_eq!(der_element(&[0x30, 0x82, 0x00, 0x90]), Err(not_minimal));
        assert_eq!(der_element(&[0x30, 0x05, 1, 2]), Err(truncated.clone()));
        assert_eq!(der_element(&[0x30, 0x81]), Err(truncated.clone()));
        assert_eq!(der_element(&[0x30, 0x82, 0x01]), Err(truncated.clone()));
        assert_eq!(der_element(&[0x30]), Err(truncated.clone()));
        assert_eq!(der_element(&[]), Err(truncated));
        assert!(der_element(&[0x1f, 0x01, 0x00]).is_err());
        let big = [&[0x04, 0x82, 0x01, 0x00][..], &[7; 256], &[9]].concat();
        assert_eq!(der_element(&big), Ok((0x04, &[7u8; 256][..], &[9u8][..])));

        assert!(positive_integer(&[]).is_err());
        assert!(positive_integer(&[0x00, 0x7f]).is_err(), "superfluous zero");
        assert!(positive_integer(&[0x80]).is_err(), "negative");
        assert_eq!(positive_integer(&[0x00, 0x80]), Ok(&[0x80][..]));
        assert_eq!(positive_integer(&[0x7f]), Ok(&[0x7f][..]));
    }

    #[test]
    fn rsa_limits_match_ring() {
        let f4 = [0x01, 0x00, 0x01];
        let ok = parse_rsa_public_key(&rsa_der(&modulus(256), &f4));
        assert!(matches!(ok, Ok(Key::Rsa { bits: 2048, .. })), "{ok:?}");
        assert!(matches!(
            parse_rsa_public_key(&rsa_der(&modulus(1024), &[3])),
            Ok(Key::Rsa { bits: 8192, .. })
        ));
        assert_eq!(
            parse_rsa_public_key(&rsa_der(&modulus(255), &f4)),
            Err(KeyError::RsaTooShort { bits: 2040 })
        );
        // 8193 bits: one more byte with only the low bit set on top.
        let mut n = modulus(1025).split_off(1);
        n[0] = 0x01;
        assert_eq!(
            parse_rsa_public_key(&rsa_der(&n, &f4)),
            Err(KeyError::RsaTooLong { bits: 8193 })
        );
        let mut even = modulus(256);
        even[256] = 0x5a;
        assert_eq!(
            parse_rsa_public_key(&rsa_der(&even, &f4)),
            Err(KeyError::Malformed("RSA modulus is even"))
        );
        for e in [
            &[0x01][..],
            &[0x02],
            &[0x01, 0x00, 0x00],
            &[0x02, 0x00, 0x00, 0x00, 0x01],
            &[0x01; 6],
        ] {
            assert!(
                matches!(
                    parse_rsa_public_key(&rsa_der(&modulus(256), e)),
                    Err(KeyError::Unsupported(_))
                ),
                "exponent {e:?}"
            );
        }
        assert!(
            parse_rsa_public_key(&rsa_der(&modulus(256), &[0x01, 0xff, 0xff, 0xff, 0xff])).is_ok()
        );
        // Trailing data inside or after the SEQUENCE.
        let mut inner = [tlv(TAG_INTEGER, &modulus(256)), tlv(TAG_INTEGER, &f4)].concat();
        inner.push(0);
        assert!(parse_rsa_public_key(&tlv(TAG_SEQUENCE, &inner)).is_err());
        let mut outer = rsa_der(&modulus(256), &f4);
        outer.push(0);
        assert!(parse_rsa_public_key(&outer).is_err());
    }

    #[test]
    fn key_error_texts_name_the_problem() {
        let text = |e: KeyError| e.to_string();
        assert!(text(KeyError::NotPem).contains("not a PEM file"));
        assert!(text(KeyError::NotAKey("CERTIFICATE".into()))
            .contains("\"CERTIFICATE\" is not a public key"));
        assert!(text(KeyError::Malformed("DER truncated"))
            .contains("malformed public key: DER truncated"));
        assert!(text(KeyError::RsaTooLong { bits: 16384 }).contains("16384"));
    }
}
