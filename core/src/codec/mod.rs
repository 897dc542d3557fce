//! Push decompressors for compressed Artifact members (`header.tar.*`, `data/NNNN.tar.*`).
//!
//! Every decoder has the same sans-I/O shape: the caller offers compressed bytes and a
//! caller-owned output [`Window`]; the decoder consumes some input, produces some output
//! inside the window, and says where. The caller must have used all produced bytes before it
//! calls again, because the next call may overwrite them. gzip keeps its 32 KiB history in the
//! window itself (it is a ring); xz and zstd keep their (heap, bounded) history internally and
//! use the window as plain output space.

mod gzip;
mod inflate;
#[cfg(feature = "alloc")]
mod xz;
#[cfg(feature = "alloc")]
mod zstd;

use core::fmt;

pub use gzip::GzipDecoder;
pub use inflate::{InflateStatus, SmallInflate};
#[cfg(feature = "alloc")]
pub use xz::XzDecoder;
#[cfg(feature = "alloc")]
pub use zstd::ZstdDecoder;

/// Size of the caller-owned output window: the deflate history size, which is the most any
/// gzip stream can refer back.
pub const WINDOW_SIZE: usize = 32 * 1024;

/// The caller-owned output window shared by all decoders.
pub type Window = [u8; WINDOW_SIZE];

/// The memory the decoders work in, owned by the caller: the output [`Window`] and gzip's
/// fast inflate state (miniz_oxide, about 10.5 KB), about 43 KiB in all. Feature
/// `fast-inflate`; without it, [`SmallWorkspace`] is the workspace. It is kept out of the reader so that
/// a device that only takes uncompressed Artifacts does not pay for it, and so that it can be
/// placed where the caller wants (a static, the heap, a stack frame).
#[cfg(feature = "fast-inflate")]
pub struct Workspace {
    /// Decoded bytes; gzip uses it as its history ring, xz and zstd as plain output space.
    pub window: Window,
    pub(crate) inflate: miniz_oxide::inflate::core::DecompressorOxide,
}

#[cfg(feature = "fast-inflate")]
impl Workspace {
    pub fn new() -> Self {
        Workspace {
            window: [0; WINDOW_SIZE],
            inflate: miniz_oxide::inflate::core::DecompressorOxide::new(),
        }
    }
}

#[cfg(feature = "fast-inflate")]
impl Default for Workspace {
    fn default() -> Self {
        Self::new()
    }
}

/// The small-RAM variant of [`Workspace`]: the same window, but gzip runs on [`SmallInflate`]
/// (about 1.1 KB of state instead of miniz_oxide's 10.5 KB, at a lower speed). Meant for
/// microcontrollers, where the flash writes are slower than either engine.
pub struct SmallWorkspace {
    /// Decoded bytes; gzip uses it as its history ring, xz and zstd as plain output space.
    pub window: Window,
    inflate: SmallInflate,
}

impl SmallWorkspace {
    /// `const` so that firmware can place it in a static.
    pub const fn new() -> Self {
        SmallWorkspace {
            window: [0; WINDOW_SIZE],
            inflate: SmallInflate::new(),
        }
    }
}

impl Default for SmallWorkspace {
    fn default() -> Self {
        Self::new()
    }
}

/// A borrowed workspace of either kind; the variant picks gzip's inflate engine. A stream
/// must be decoded with the same workspace from start to end (it holds the history).
pub enum WorkspaceMut<'w> {
    /// miniz_oxide's inflate: fast, ~10.5 KB of state.
    #[cfg(feature = "fast-inflate")]
    Fast(&'w mut Workspace),
    /// [`SmallInflate`]: ~1.1 KB of state.
    Small(&'w mut SmallWorkspace),
}

#[cfg(feature = "fast-inflate")]
impl<'w> From<&'w mut Workspace> for WorkspaceMut<'w> {
    fn from(ws: &'w mut Workspace) -> Self {
        WorkspaceMut::Fast(ws)
    }
}

impl<'w> From<&'w mut SmallWorkspace> for WorkspaceMut<'w> {
    fn from(ws: &'w mut SmallWorkspace) -> Self {
        WorkspaceMut::Small(ws)
    }
}

impl<'w> WorkspaceMut<'w> {
    /// The output window (where a [`Step`]'s bytes are).
    pub fn window(&mut self) -> &mut Window {
        match self {
            #[cfg(feature = "fast-inflate")]
            WorkspaceMut::Fast(ws) => &mut ws.window,
            WorkspaceMut::Small(ws) => &mut ws.window,
        }
    }

    /// The output window, read-only.
    pub fn window_ref(&self) -> &Window {
        match self {
            #[cfg(feature = "fast-inflate")]
            WorkspaceMut::Fast(ws) => &ws.window,
            WorkspaceMut::Small(ws) => &ws.window,
        }
    }

    /// A shorter-lived copy of this borrow, to pass on while keeping this one.
    pub fn reborrow(&mut self) -> WorkspaceMut<'_> {
        match self {
            #[cfg(feature = "fast-inflate")]
            WorkspaceMut::Fast(ws) => WorkspaceMut::Fast(ws),
            WorkspaceMut::Small(ws) => WorkspaceMut::Small(ws),
        }
    }

    #[cfg(feature = "alloc")]
    fn into_window(self) -> &'w mut Window {
        match self {
            #[cfg(feature = "fast-inflate")]
            WorkspaceMut::Fast(ws) => &mut ws.window,
            WorkspaceMut::Small(ws) => &mut ws.window,
        }
    }

    /// The window and gzip's inflate engine, borrowed apart.
    fn split(&mut self) -> (&mut Window, gzip::Engine<'_>) {
        match self {
            #[cfg(feature = "fast-inflate")]
            WorkspaceMut::Fast(ws) => (&mut ws.window, gzip::Engine::Fast(&mut ws.inflate)),
            WorkspaceMut::Small(ws) => (&mut ws.window, gzip::Engine::Small(&mut ws.inflate)),
        }
    }
}

/// Default cap on the xz (LZMA2) dictionary: what `mender-artifact --compression lzma` uses
/// (preset 9, 64 MiB). A larger dictionary is refused with [`CodecError::XzDictionaryTooLarge`].
pub const DEFAULT_XZ_DICT_MAX: u32 = 64 * 1024 * 1024;

/// Default cap on the zstd window: `zstd_best` in mender-artifact 4.x uses 32 MiB.
pub const DEFAULT_ZSTD_WINDOW_MAX: u32 = 32 * 1024 * 1024;

/// Compression of an Artifact member, decided by its name suffix as the official reader does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Xz,
    Zstd,
}

impl Compression {
    /// The suffix after `.tar` in member names (`""`, `".gz"`, `".xz"`, `".zst"`).
    pub const fn suffix(self) -> &'static str {
        match self {
            Compression::None => "",
            Compression::Gzip => ".gz",
            Compression::Xz => ".xz",
            Compression::Zstd => ".zst",
        }
    }

    /// Parses the part of a member name that follows `.tar`; `None` for anything unknown.
    pub fn from_suffix(s: &str) -> Option<Self> {
        Some(match s {
            "" => Compression::None,
            ".gz" => Compression::Gzip,
            ".xz" => Compression::Xz,
            ".zst" => Compression::Zstd,
            _ => return None,
        })
    }
}

/// Memory limits for the heap-backed decoders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodecLimits {
    /// Largest xz/LZMA2 dictionary accepted, in bytes.
    pub xz_dict_max: u32,
    /// Largest zstd window accepted, in bytes.
    pub zstd_window_max: u32,
}

impl Default for CodecLimits {
    fn default() -> Self {
        CodecLimits {
            xz_dict_max: DEFAULT_XZ_DICT_MAX,
            zstd_window_max: DEFAULT_ZSTD_WINDOW_MAX,
        }
    }
}

/// What one [`Decoder::decode`] call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Step {
    /// Input bytes consumed.
    pub consumed: usize,
    /// Start of the produced bytes in the window.
    pub out_start: usize,
    /// Number of produced bytes (`window[out_start..out_start + out_len]`).
    pub out_len: usize,
    /// The compressed stream ended cleanly (checks passed) and all output has been handed out.
    pub done: bool,
}

/// Decompression failures. Texts name the codec and the problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CodecError {
    /// The codec is not compiled in (xz and zstd need the `alloc` feature).
    NotSupported(Compression),
    /// A compressed member, but the reader was given no [`Workspace`].
    NoWorkspace(Compression),
    /// The compressed stream ended before its end marker.
    Truncated(Compression),
    /// Bytes follow the end of the compressed stream inside the member.
    TrailingData(Compression),
    GzipHeader,
    GzipCrc,
    GzipSize,
    /// Corrupt deflate data.
    Deflate,
    XzHeader,
    XzCorrupt,
    XzCheck,
    /// A filter other than LZMA2 (BCJ, delta, ...) or an unsupported check type.
    XzUnsupported,
    XzDictionaryTooLarge {
        needed: u32,
        limit: u32,
    },
    ZstdCorrupt,
    ZstdWindowTooLarge {
        needed: u64,
        limit: u32,
    },
    /// The heap allocation for a dictionary or window failed.
    OutOfMemory,
}

impl CodecError {
    /// A short fixed name (see [`crate::text::Brief`]).
    pub const fn name(&self) -> &'static str {
        match self {
            CodecError::NotSupported(_) => "compression not supported by this build",
            CodecError::NoWorkspace(_) => "compressed member, but no decode workspace",
            CodecError::Truncated(_) => "compressed stream truncated",
            CodecError::TrailingData(_) => "data after the compressed stream",
            CodecError::GzipHeader => "bad gzip header",
            CodecError::GzipCrc => "gzip CRC mismatch",
            CodecError::GzipSize => "gzip size mismatch",
            CodecError::Deflate => "corrupt deflate data",
            CodecError::XzHeader => "bad xz header",
            CodecError::XzCorrupt => "corrupt xz data",
            CodecError::XzCheck => "xz check mismatch",
            CodecError::XzUnsupported => "unsupported xz filter or check",
            CodecError::XzDictionaryTooLarge { .. } => "xz dictionary over the limit",
            CodecError::ZstdCorrupt => "corrupt zstd data",
            CodecError::ZstdWindowTooLarge { .. } => "zstd window over the limit",
            CodecError::OutOfMemory => "decompressor out of memory",
        }
    }
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodecError::NotSupported(c) => {
                write!(f, "compression {:?} is not supported by this build", c)
            }
            CodecError::NoWorkspace(c) => write!(
                f,
                "compression {:?} needs a decode workspace, and this reader has none (uncompressed Artifacts only)",
                c
            ),
            CodecError::Truncated(c) => write!(f, "{:?}: unexpected EOF", c),
            CodecError::TrailingData(c) => {
                write!(f, "{:?}: trailing data after compressed stream", c)
            }
            CodecError::GzipHeader => f.write_str("gzip: invalid header"),
            CodecError::GzipCrc => f.write_str("gzip: invalid checksum"),
            CodecError::GzipSize => f.write_str("gzip: size mismatch in trailer"),
            CodecError::Deflate => f.write_str("flate: corrupt input"),
            CodecError::XzHeader => f.write_str("xz: invalid stream header"),
            CodecError::XzCorrupt => f.write_str("xz: corrupt data"),
            CodecError::XzCheck => f.write_str("xz: checksum mismatch"),
            CodecError::XzUnsupported => f.write_str("xz: unsupported filter or check"),
            CodecError::XzDictionaryTooLarge { needed, limit } => write!(
                f,
                "xz: dictionary of {} bytes exceeds the configured limit of {} bytes",
                needed, limit
            ),
            CodecError::ZstdCorrupt => f.write_str("zstd: corrupt data"),
            CodecError::ZstdWindowTooLarge { needed, limit } => write!(
                f,
                "zstd: window of {} bytes exceeds the configured limit of {} bytes",
                needed, limit
            ),
            CodecError::OutOfMemory => f.write_str("decompressor: out of memory"),
        }
    }
}

impl core::error::Error for CodecError {}

/// One decoder of any compiled-in kind. `Compression::None` needs no decoder.
pub enum Decoder {
    Gzip(GzipDecoder),
    #[cfg(feature = "alloc")]
    Xz(alloc::boxed::Box<XzDecoder>),
    #[cfg(feature = "alloc")]
    Zstd(alloc::boxed::Box<ZstdDecoder>),
}

impl Decoder {
    /// A decoder for `kind`; `None` for `Compression::None`.
    pub fn new(kind: Compression, limits: &CodecLimits) -> Result<Option<Decoder>, CodecError> {
        let _ = limits;
        Ok(Some(match kind {
            Compression::None => return Ok(None),
            Compression::Gzip => Decoder::Gzip(GzipDecoder::new()),
            #[cfg(feature = "alloc")]
            Compression::Xz => {
                Decoder::Xz(alloc::boxed::Box::new(XzDecoder::new(limits.xz_dict_max)))
            }
            #[cfg(feature = "alloc")]
            Compression::Zstd => Decoder::Zstd(alloc::boxed::Box::new(ZstdDecoder::new(
                limits.zstd_window_max,
            ))),
            #[cfg(not(feature = "alloc"))]
            other => return Err(CodecError::NotSupported(other)),
        }))
    }

    /// Decodes from `input` into `window`. `last` says that `input` holds the final bytes of
    /// the member: a stream that has not ended by then is [`CodecError::Truncated`].
    ///
    /// Contract (all decoders): bytes produced by the previous call must have been used by the
    /// caller; a call makes progress (consumes, produces, or reports `done`) unless it needs
    /// more input and `last` is false; once `done` is reported, further calls with empty input
    /// keep reporting `done`. `Truncated` is only reported by a call that produces no output,
    /// so every decodable byte reaches the consumer first and errors do not depend on how the
    /// input was chunked.
    ///
    /// The workspace's kind picks gzip's inflate engine; xz and zstd use only its window.
    pub fn decode(
        &mut self,
        input: &[u8],
        ws: WorkspaceMut<'_>,
        last: bool,
    ) -> Result<Step, CodecError> {
        match self {
            Decoder::Gzip(d) => d.decode(input, ws, last),
            #[cfg(feature = "alloc")]
            Decoder::Xz(d) => d.decode(input, ws.into_window(), last),
            #[cfg(feature = "alloc")]
            Decoder::Zstd(d) => d.decode(input, ws.into_window(), last),
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use std::boxed::Box;
    use std::vec;
    use std::vec::Vec;

    use super::gzip::tests::{cli, mixed};
    use super::*;

    /// `Decoder::decode` decodes every compiled-in codec in both kinds of workspace.
    #[test]
    fn decode_with_either_workspace() {
        let data = mixed(200_000, 17);
        #[allow(unused_mut)]
        let mut cases = vec![(Compression::Gzip, cli("gzip", &["-c"], &data))];
        #[cfg(feature = "alloc")]
        cases.extend([
            (Compression::Xz, cli("xz", &["-c"], &data)),
            (Compression::Zstd, cli("zstd", &["-c"], &data)),
        ]);
        #[cfg(feature = "fast-inflate")]
        let mut fast = Box::<Workspace>::default();
        let mut small = Box::<SmallWorkspace>::default();
        for (kind, stream) in cases {
            for mut ws in [
                #[cfg(feature = "fast-inflate")]
                WorkspaceMut::from(&mut *fast),
                WorkspaceMut::from(&mut *small),
            ] {
                let mut dec = Decoder::new(kind, &CodecLimits::default())
                    .unwrap()
                    .unwrap();
                let (mut pos, mut out) = (0, Vec::new());
                loop {
                    let end = stream.len().min(pos + 5000);
                    let last = end == stream.len();
                    let step = dec.decode(&stream[pos..end], ws.reborrow(), last).unwrap();
                    out.extend_from_slice(&ws.window_ref()[step.out_start..][..step.out_len]);
                    pos += step.consumed;
                    if step.done {
                        break;
                    }
                }
                assert!(out == data, "{kind:?}: output differs");
                // The window accessors see the same memory.
                let first = ws.window_ref()[0];
                ws.window()[0] = !first;
                assert_eq!(ws.window_ref()[0], !first);
            }
        }
    }
}
