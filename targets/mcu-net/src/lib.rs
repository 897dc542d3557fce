//! HTTPS download of a Mender Artifact for microcontrollers: one HTTP/1.1 `GET` over TLS 1.3
//! ([embedded-tls], blocking API) whose body is streamed straight into the core's push parser
//! ([`Reader::feed`]), so no part of the Artifact is ever stored here.
//!
//! * The server certificate is verified against **one** trusted certificate (a CA or the
//!   server's own self-signed certificate), P-256 ECDSA only, and its CN/SAN must match `host`,
//!   which is also sent as SNI. There is no list of public roots: this is meant for a server
//!   under the project's control (../shared/spec/crates.md §2.8).
//! * Validity dates are checked only with a [`TlsClock`]. [`fetch_artifact`] has none
//!   ([`NoClock`]), so an expired or not-yet-valid certificate is accepted; boards with a
//!   trustworthy RTC should use [`fetch_artifact_with_clock`].
//! * Bodies need `Content-Length` or end at the TLS `close_notify` (the request says
//!   `Connection: close`); chunked transfer coding is refused with
//!   [`NetError::UnsupportedTransferEncoding`]. Truncation is caught either way, because the
//!   reader only finishes on a complete, checksummed Artifact.
//! * RAM: [`RecordBuffers`] (~17.7 KB, caller-owned so it can live in a `static`), a
//!   [`MAX_RESPONSE_HEAD_LEN`] stack buffer and a copy of the server's certificate chain
//!   ([`MAX_CERT_CHAIN_LEN`]) inside the verifier.
//!
//! [embedded-tls]: https://docs.rs/embedded-tls/0.19
#![no_std]
#![forbid(unsafe_code)]
// Without a heap the reader's error carries its paths inline (like mender-core); it is
// returned once per download, so its size costs nothing that matters.
#![allow(clippy::result_large_err, clippy::large_enum_variant)]

use core::fmt;
use embedded_io::{BufRead, Read, Write};
use embedded_tls::blocking::{
    Aes128GcmSha256, Certificate, CryptoProvider, TlsConfig, TlsConnection, TlsContext, TlsError,
    TlsVerifier,
};
use embedded_tls::pki::CertVerifier;
use mender_core::reader::{Error as ReaderError, Event, Reader};

pub use embedded_tls::blocking::{NoClock, TlsClock};
pub use embedded_tls::CryptoRngCore;

/// The one cipher suite offered: AES-128-GCM is implemented by embedded-tls and supported by
/// every TLS 1.3 server (RFC 8446 §9.1 makes it mandatory).
pub type CipherSuite = Aes128GcmSha256;

/// Read record buffer: the largest TLS 1.3 record (16 KiB plaintext + 256 B expansion), which
/// a server may send whenever the client did not negotiate a smaller maximum fragment length.
pub const RECORD_READ_BUF_LEN: usize = 16_640;
/// Write record buffer: only the request and small handshake records go out (the larger read
/// buffer is used to encode the ClientHello).
pub const RECORD_WRITE_BUF_LEN: usize = 1_024;
/// Status line plus headers of the response. Typical servers send well under 1 KiB; more than
/// this is refused rather than buffered.
pub const MAX_RESPONSE_HEAD_LEN: usize = 2_048;
/// Bytes kept of the server's certificate chain between the Certificate and CertificateVerify
/// messages. One or two P-256 certificates are ~0.5–1 KB each.
pub const MAX_CERT_CHAIN_LEN: usize = 4_096;
/// embedded-tls's limit on the name used for hostname verification.
pub const MAX_HOST_LEN: usize = 64;

/// The TLS record buffers. Big, so the caller decides where they live (a `static`, the stack,
/// a heap box on a host).
pub struct RecordBuffers {
    pub read: [u8; RECORD_READ_BUF_LEN],
    pub write: [u8; RECORD_WRITE_BUF_LEN],
}

impl RecordBuffers {
    pub const fn new() -> Self {
        RecordBuffers {
            read: [0; RECORD_READ_BUF_LEN],
            write: [0; RECORD_WRITE_BUF_LEN],
        }
    }
}

impl Default for RecordBuffers {
    fn default() -> Self {
        Self::new()
    }
}

/// What to fetch and whom to trust.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// DNS name of the server: SNI, `Host` header and the name the certificate must carry.
    pub host: &'a str,
    /// TCP port, only used for the `Host` header (the caller connected the socket).
    pub port: u16,
    /// Absolute path with optional query, e.g. `/artifacts/demo.mender`.
    pub path: &'a str,
    /// DER of the single trusted certificate.
    pub ca_der: &'a [u8],
}

/// Why a download failed.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum NetError {
    /// The request cannot be sent as given (empty or too long host, bytes that would break
    /// the request line).
    InvalidRequest(&'static str),
    /// The server certificate did not verify against the trusted certificate or does not name
    /// the host.
    CertificateRejected(TlsError),
    /// Any other TLS or transport failure (handshake, alert, socket error).
    Tls(TlsError),
    /// The server answered with a status other than 200.
    HttpStatus(u16),
    /// The response is not valid HTTP/1.x.
    MalformedResponse(&'static str),
    /// Status line and headers exceed [`MAX_RESPONSE_HEAD_LEN`].
    ResponseHeadTooLong,
    /// A `Transfer-Encoding` (e.g. chunked) that is not supported.
    UnsupportedTransferEncoding,
    /// The connection closed before `Content-Length` bytes arrived.
    Truncated { expected: u64, received: u64 },
    /// The Artifact itself was rejected.
    Reader(ReaderError),
    /// The event callback asked to stop.
    Aborted(&'static str),
}

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetError::InvalidRequest(why) => write!(f, "invalid request: {}", why),
            NetError::CertificateRejected(e) => {
                write!(f, "TLS: server certificate rejected ({:?})", e)
            }
            NetError::Tls(e) => write!(f, "TLS failure: {:?}", e),
            NetError::HttpStatus(code) => write!(f, "HTTP status {} (expected 200)", code),
            NetError::MalformedResponse(why) => write!(f, "malformed HTTP response: {}", why),
            NetError::ResponseHeadTooLong => write!(
                f,
                "malformed HTTP response: headers longer than {} bytes",
                MAX_RESPONSE_HEAD_LEN
            ),
            NetError::UnsupportedTransferEncoding => {
                f.write_str("unsupported HTTP Transfer-Encoding (chunked is not supported)")
            }
            NetError::Truncated { expected, received } => write!(
                f,
                "connection closed after {} of {} body bytes",
                received, expected
            ),
            NetError::Reader(e) => write!(f, "artifact rejected: {}", e),
            NetError::Aborted(why) => write!(f, "download aborted: {}", why),
        }
    }
}

impl core::error::Error for NetError {}

impl From<ReaderError> for NetError {
    fn from(e: ReaderError) -> Self {
        NetError::Reader(e)
    }
}

/// Sorts embedded-tls errors: those its verifier returns for a bad chain or name become
/// [`NetError::CertificateRejected`].
fn tls_error(e: TlsError) -> NetError {
    match e {
        TlsError::InvalidCertificate
        | TlsError::InvalidCertificateEntry
        | TlsError::InvalidSignature
        | TlsError::InvalidSignatureScheme => NetError::CertificateRejected(e),
        other => NetError::Tls(other),
    }
}

/// Holds the RNG and the verifier for one handshake.
struct Provider<'a, R, C: TlsClock> {
    rng: R,
    verifier: CertVerifier<'a, CipherSuite, C, MAX_CERT_CHAIN_LEN>,
}

impl<R: CryptoRngCore, C: TlsClock> CryptoProvider for Provider<'_, R, C> {
    type CipherSuite = CipherSuite;
    /// No client certificate is offered, so nothing is ever signed.
    type Signature = [u8; 0];

    fn rng(&mut self) -> impl CryptoRngCore {
        &mut self.rng
    }

    fn verifier(&mut self) -> Result<&mut impl TlsVerifier<CipherSuite>, TlsError> {
        Ok(&mut self.verifier)
    }
}

/// Downloads `request.path` over HTTPS and feeds it to `reader`, without a clock (certificate
/// validity dates are not checked; see the crate docs). See [`fetch_artifact_with_clock`].
pub fn fetch_artifact<S, R>(
    socket: S,
    request: &Request<'_>,
    rng: R,
    buffers: &mut RecordBuffers,
    reader: &mut Reader<'_>,
    on_event: impl FnMut(Event<'_>) -> Result<(), &'static str>,
) -> Result<u64, NetError>
where
    S: Read + Write,
    R: CryptoRngCore,
{
    fetch_artifact_with_clock::<S, R, NoClock>(socket, request, rng, buffers, reader, on_event)
}

/// Downloads `request.path` over HTTPS and feeds the body to `reader`.
///
/// `socket` is a connected TCP stream (pass `&mut stream` to keep it). Every reader event but
/// `NeedMore` goes to `on_event`; returning `Err` stops the download with
/// [`NetError::Aborted`]. Returns the number of body bytes once [`Reader::finish`] accepted
/// the Artifact. Certificate validity is checked with `C::now()` when it returns `Some`.
pub fn fetch_artifact_with_clock<S, R, C>(
    socket: S,
    request: &Request<'_>,
    rng: R,
    buffers: &mut RecordBuffers,
    reader: &mut Reader<'_>,
    mut on_event: impl FnMut(Event<'_>) -> Result<(), &'static str>,
) -> Result<u64, NetError>
where
    S: Read + Write,
    R: CryptoRngCore,
    C: TlsClock,
{
    check_request(request)?;
    let config = TlsConfig::new().with_server_name(request.host);
    let provider: Provider<'_, R, C> = Provider {
        rng,
        verifier: CertVerifier::new(Certificate::X509(request.ca_der)),
    };
    let mut tls: TlsConnection<'_, S, CipherSuite> =
        TlsConnection::new(socket, &mut buffers.read, &mut buffers.write);
    tls.open(TlsContext::new(&config, provider))
        .map_err(tls_error)?;

    send_request(&mut tls, request).map_err(tls_error)?;
    let head = read_head(&mut tls)?;
    let body = stream_body(&mut tls, head.content_length, reader, &mut on_event)?;
    reader.finish()?;
    // The Artifact is complete and verified; a failed close_notify changes nothing about that.
    let _ = tls.close();
    Ok(body)
}

/// Refuses what would break the request line, a header, or embedded-tls's name limit.
fn check_request(r: &Request<'_>) -> Result<(), NetError> {
    if r.host.is_empty() || r.host.len() > MAX_HOST_LEN {
        return Err(NetError::InvalidRequest("host must be 1 to 64 bytes"));
    }
    if !r
        .host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        return Err(NetError::InvalidRequest(
            "host may hold only letters, digits, '-' and '.'",
        ));
    }
    if !r.path.starts_with('/') {
        return Err(NetError::InvalidRequest("path must start with '/'"));
    }
    if !r.path.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(NetError::InvalidRequest(
            "path may hold only visible ASCII (percent-encode the rest)",
        ));
    }
    Ok(())
}

fn send_request<W: Write<Error = TlsError>>(w: &mut W, r: &Request<'_>) -> Result<(), TlsError> {
    w.write_all(b"GET ")?;
    w.write_all(r.path.as_bytes())?;
    w.write_all(b" HTTP/1.1\r\nHost: ")?;
    w.write_all(r.host.as_bytes())?;
    if r.port != 443 {
        let mut digits = [0u8; 6];
        w.write_all(b":")?;
        w.write_all(decimal(r.port, &mut digits))?;
    }
    w.write_all(
        b"\r\nConnection: close\r\nAccept-Encoding: identity\r\nUser-Agent: mender-mcu-net\r\n\r\n",
    )?;
    w.flush()
}

/// `n` in decimal, written to the end of `buf`.
fn decimal(mut n: u16, buf: &mut [u8; 6]) -> &[u8] {
    let mut start = buf.len();
    loop {
        start -= 1;
        if let Some(slot) = buf.get_mut(start) {
            *slot = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.get(start..).unwrap_or(&[])
}

/// What the body framing needs from the response head.
#[derive(Debug, PartialEq, Eq)]
struct Head {
    content_length: Option<u64>,
}

/// Reads status line and headers (exactly, leaving the body in the TLS buffer) and checks them.
fn read_head<T: BufRead<Error = TlsError>>(tls: &mut T) -> Result<Head, NetError> {
    let mut buf = [0u8; MAX_RESPONSE_HEAD_LEN];
    let mut len = 0usize;
    loop {
        let avail = match tls.fill_buf() {
            Ok(a) => a,
            Err(TlsError::ConnectionClosed) => {
                return Err(NetError::MalformedResponse(
                    "connection closed before the end of the headers",
                ))
            }
            Err(e) => return Err(tls_error(e)),
        };
        let mut taken = 0usize;
        let mut done = false;
        for &b in avail {
            let slot = buf.get_mut(len).ok_or(NetError::ResponseHeadTooLong)?;
            *slot = b;
            len += 1;
            taken += 1;
            if buf.get(..len).is_some_and(|h| h.ends_with(b"\r\n\r\n")) {
                done = true;
                break;
            }
        }
        tls.consume(taken);
        if done {
            break;
        }
    }
    parse_head(buf.get(..len).unwrap_or(&[]))
}

/// Parses `HTTP/1.x NNN reason` and the header lines (the head ends with an empty line).
fn parse_head(head: &[u8]) -> Result<Head, NetError> {
    let mut lines = head.split(|&b| b == b'\n').map(|l| match l {
        [rest @ .., b'\r'] => Some(rest),
        _ => None,
    });
    let status = lines
        .next()
        .flatten()
        .ok_or(NetError::MalformedResponse("status line"))?;
    let code = parse_status(status)?;
    if code != 200 {
        return Err(NetError::HttpStatus(code));
    }
    let mut content_length = None;
    for line in lines {
        // The head ends with an empty CRLF line, so every line before it must end in CRLF.
        let line = line.ok_or(NetError::MalformedResponse("header line not ended by CRLF"))?;
        if line.is_empty() {
            break;
        }
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or(NetError::MalformedResponse("header line without ':'"))?;
        let (name, value) = line.split_at(colon);
        let value = trim(value.get(1..).unwrap_or(&[]));
        if name.is_empty() || !name.iter().all(|b| b.is_ascii_graphic()) {
            return Err(NetError::MalformedResponse("header name"));
        }
        if name.eq_ignore_ascii_case(b"content-length") {
            let n = parse_length(value)?;
            if content_length.is_some_and(|old| old != n) {
                return Err(NetError::MalformedResponse("conflicting Content-Length"));
            }
            content_length = Some(n);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding")
            && !value.eq_ignore_ascii_case(b"identity")
        {
            return Err(NetError::UnsupportedTransferEncoding);
        }
    }
    Ok(Head { content_length })
}

fn parse_status(line: &[u8]) -> Result<u16, NetError> {
    let bad = NetError::MalformedResponse("status line");
    let rest = line.strip_prefix(b"HTTP/1.").ok_or(bad.clone())?;
    match rest {
        [minor, b' ', d1, d2, d3, tail @ ..]
            if minor.is_ascii_digit()
                && [d1, d2, d3].iter().all(|d| d.is_ascii_digit())
                && (tail.is_empty() || tail.first() == Some(&b' ')) =>
        {
            Ok(u16::from(d1 - b'0') * 100 + u16::from(d2 - b'0') * 10 + u16::from(d3 - b'0'))
        }
        _ => Err(bad),
    }
}

fn parse_length(v: &[u8]) -> Result<u64, NetError> {
    let bad = NetError::MalformedResponse("Content-Length");
    if v.is_empty() {
        return Err(bad);
    }
    v.iter().try_fold(0u64, |acc, &b| {
        if !b.is_ascii_digit() {
            return Err(bad.clone());
        }
        acc.checked_mul(10)
            .and_then(|a| a.checked_add(u64::from(b - b'0')))
            .ok_or(bad.clone())
    })
}

fn trim(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

/// Feeds the body from the TLS buffer into the reader without copying it.
fn stream_body<T: BufRead<Error = TlsError>>(
    tls: &mut T,
    content_length: Option<u64>,
    reader: &mut Reader<'_>,
    on_event: &mut impl FnMut(Event<'_>) -> Result<(), &'static str>,
) -> Result<u64, NetError> {
    let mut received = 0u64;
    loop {
        let want = match content_length {
            Some(n) => n.saturating_sub(received),
            None => u64::MAX,
        };
        if want == 0 {
            return Ok(received);
        }
        let avail = match tls.fill_buf() {
            Ok(a) => a,
            Err(TlsError::ConnectionClosed) => {
                return match content_length {
                    None => Ok(received),
                    Some(expected) => Err(NetError::Truncated { expected, received }),
                }
            }
            Err(e) => return Err(tls_error(e)),
        };
        let take = usize::try_from(want).map_or(avail.len(), |w| w.min(avail.len()));
        let mut chunk = avail.get(..take).unwrap_or(avail);
        loop {
            let (used, ev) = reader.feed(chunk)?;
            if ev == Event::NeedMore {
                break;
            }
            on_event(ev).map_err(NetError::Aborted)?;
            chunk = chunk.get(used..).unwrap_or(&[]);
        }
        tls.consume(take);
        received = received.saturating_add(take as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_and_headers() {
        let h = parse_head(b"HTTP/1.1 200 OK\r\nContent-Length:  42 \r\nX: y\r\n\r\n").unwrap();
        assert_eq!(h.content_length, Some(42));
        let h = parse_head(b"HTTP/1.0 200\r\n\r\n").unwrap();
        assert_eq!(h.content_length, None);
        assert!(matches!(
            parse_head(b"HTTP/1.1 404 Not Found\r\n\r\n"),
            Err(NetError::HttpStatus(404))
        ));
        assert!(matches!(
            parse_head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Err(NetError::UnsupportedTransferEncoding)
        ));
        assert!(matches!(
            parse_head(b"HTTP/1.1 200 OK\nX: y\r\n\r\n"),
            Err(NetError::MalformedResponse(_))
        ));
        assert!(matches!(
            parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
            Err(NetError::MalformedResponse(_))
        ));
        assert!(matches!(
            parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n"),
            Err(NetError::MalformedResponse(_))
        ));
        assert!(matches!(
            parse_head(b"HTTP/2 200\r\n\r\n"),
            Err(NetError::MalformedResponse(_))
        ));
        assert!(matches!(
            parse_head(b"HTTP/1.1 20x OK\r\n\r\n"),
            Err(NetError::MalformedResponse(_))
        ));
    }

    #[test]
    fn port_digits() {
        let mut b = [0u8; 6];
        assert_eq!(decimal(0, &mut b), b"0");
        assert_eq!(decimal(8443, &mut b), b"8443");
        assert_eq!(decimal(65535, &mut b), b"65535");
    }

    #[test]
    fn request_checks() {
        let ok = Request {
            host: "localhost",
            port: 443,
            path: "/a?b=c",
            ca_der: &[],
        };
        assert!(check_request(&ok).is_ok());
        let bad_path = Request {
            path: "/a\r\nX: y",
            ..ok
        };
        assert!(matches!(
            check_request(&bad_path),
            Err(NetError::InvalidRequest(_))
        ));
        let bad_host = Request { host: "a b", ..ok };
        assert!(matches!(
            check_request(&bad_host),
            Err(NetError::InvalidRequest(_))
        ));
    }
}
