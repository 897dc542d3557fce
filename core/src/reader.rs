//! The Artifact reader: a push parser over the whole `.mender` stream.
//!
//! ```text
//! outer tar ─┬─ version, manifest, manifest.sig    buffered (small), checked
//!            ├─ header.tar[.gz|.xz|.zst]           hashed compressed, decoded, inner tar of JSON docs
//!            └─ data/NNNN.tar[...]                 decoded, inner tar of payload files -> events
//! ```
//! Order and names follow the official reader (../shared/spec/artifact-format.md §1). The header
//! is reported ([`Event::HeaderParsed`]) only after its checksum matched the manifest, and the
//! manifest only counts after its signature was checked (when a verifier is configured).
//! Payload bytes are handed out as they are decoded; each file is reported verified only after
//! its SHA-256 matched, so a consumer must not commit anything before
//! [`Event::PayloadFileVerified`] and [`Event::ArtifactComplete`].
#[cfg(feature = "alloc")]
#[cfg(all(feature = "alloc", feature = "fast-inflate"))]
use crate::codec::Workspace;
use crate::codec::{CodecError, CodecLimits, Compression, Decoder, WorkspaceMut};
use crate::limits::*;
use crate::manifest::{
    payload_index, split_data_path, Manifest, ManifestError, MAX_MANIFEST_PATH_LEN,
};
use crate::meta::{self, limit, HeaderInfo, Limit, MetaError, TypeInfo, FORMAT_V2};
use crate::signature::{
    decode_base64, SignatureError, Verifier, MAX_SIGNATURE_B64_LEN, MAX_SIGNATURE_LEN,
};
use crate::stop::{stop, OrStop, Stop};
use crate::tar::{EntryKind, TarError, TarEvent, TarReader, TarScratch};
use crate::text::{self, Brief};
use core::fmt;
use heapless::{String, Vec};
use sha2::{Digest, Sha256};

/// A path-sized string inside errors.
pub type PathString = String<MAX_ERROR_PATH_LEN>;

/// Why reading stopped. Texts follow the official reader where users search for them
/// (../shared/spec/artifact-format.md §5).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// Outer tar framing.
    Tar(TarError),
    /// Inner (header or data) tar framing, with the member name.
    InnerTar(PathString, TarError),
    /// Decompression of a member failed.
    Codec(PathString, CodecError),
    Manifest(ManifestError),
    Meta(MetaError),
    Signature(SignatureError),
    /// A fixed capacity was exceeded: what, and which limit.
    Limit(&'static str, Limit),
    /// A member out of the order the format allows: the members so far (after `version`, as
    /// the official message lists them) and the wrong one.
    Structure {
        seen: &'static str,
        wrong: PathString,
    },
    /// A `data/NNNN` member whose index is not the next payload of header-info.
    DataOutOfOrder(PathString),
    ChecksumMissing(PathString),
    /// A checksum mismatch of `version` or the header.
    Checksum {
        file: PathString,
        expected: [u8; 32],
        actual: [u8; 32],
    },
    /// A checksum mismatch of a payload file.
    PayloadChecksum {
        file: PathString,
        expected: [u8; 32],
        actual: [u8; 32],
    },
    /// The stream ended before the Artifact was complete.
    MissingFields,
    UnexpectedEof,
    NotSigned,
    InvalidDataFileName(PathString),
    ForbiddenFileName(PathString),
    DataFileNotFound(PathString),
    /// Manifest entries whose files never came (space separated, possibly shortened).
    NotInArtifact(String<MAX_ERROR_LIST_LEN>),
    /// A header member the format does not allow.
    UnsupportedHeaderFile(PathString),
    /// A rule with a fixed message.
    Invalid(&'static str),
    /// `header-augment` redefines a key of the signed header.
    ConflictingKey(&'static str, meta::Key),
    /// `feed` was called again after it returned an error.
    AfterError,
}

struct Hex<'a>(&'a [u8; 32]);
impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{:02x}", b)?;
        }
        Ok(())
    }
}

impl Error {
    /// The error in a few fixed words and the member, path or key it carries, without
    /// `core::fmt` (for firmware; the full text is `Display`).
    pub fn brief(&self) -> Brief<'_> {
        match self {
            Error::Tar(e) => Brief::new("Artifact", e.name(), ""),
            Error::InnerTar(m, e) => Brief::new(e.name(), "", m),
            Error::Codec(m, e) => Brief::new(e.name(), "", m),
            Error::Manifest(e) => e.brief(),
            Error::Meta(e) => e.brief(),
            Error::Signature(e) => Brief::only(e.name()),
            Error::Limit(what, l) => Brief::new("limit exceeded", l.name, what),
            Error::Structure { wrong, .. } => Brief::new("invalid structure", "", wrong),
            Error::DataOutOfOrder(p) => Brief::new("payload out of order", "", p),
            Error::ChecksumMissing(p) => Brief::new("checksum missing", "", p),
            Error::Checksum { file, .. } => Brief::new("checksum mismatch", "", file),
            Error::PayloadChecksum { file, .. } => {
                Brief::new("payload checksum mismatch", "", file)
            }
            Error::MissingFields => Brief::only("Artifact incomplete"),
            Error::UnexpectedEof => Brief::only("unexpected end of Artifact"),
            Error::NotSigned => Brief::only("Artifact not signed"),
            Error::InvalidDataFileName(p) => Brief::new("invalid data file name", "", p),
            Error::ForbiddenFileName(p) => Brief::new("forbidden file name", "", p),
            Error::DataFileNotFound(p) => Brief::new("data file not found", "", p),
            Error::NotInArtifact(list) => Brief::new("files missing from Artifact", "", list),
            Error::UnsupportedHeaderFile(p) => Brief::new("unsupported header file", "", p),
            Error::Invalid(msg) => Brief::only(msg),
            Error::ConflictingKey(what, k) => Brief::new("augment redefines a signed key", what, k),
            Error::AfterError => Brief::only("feed after an error"),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Tar(TarError::Truncated) | Error::UnexpectedEof => f.write_str("reader: unexpected EOF"),
            Error::Tar(e) => write!(f, "reader: {}", e),
            Error::InnerTar(m, e) => write!(f, "{}: {}", m, e),
            Error::Codec(m, e) => write!(f, "{}: {}", m, e),
            Error::Manifest(e) => write!(f, "Failed to populate the manifest's checksum store: {}", e),
            Error::Meta(e) => write!(f, "{}", e),
            Error::Signature(e) => write!(f, "reader: invalid signature: {}", e),
            Error::Limit(what, l) => write!(f, "{} {}", what, l),
            Error::Structure { seen, wrong } => {
                write!(f, "Invalid structure: [{}{}], wrong element: {}", seen, wrong, wrong)
            }
            Error::DataOutOfOrder(n) => write!(
                f,
                "reader: data member {} is out of order or has no payload in header-info",
                n
            ),
            Error::ChecksumMissing(p) => write!(f, "checksum: checksum missing for file: '{}'", p),
            Error::Checksum { file, expected, actual } => write!(
                f,
                "{}: invalid checksum; expected: [{}]; actual: [{}]",
                file,
                Hex(expected),
                Hex(actual)
            ),
            Error::PayloadChecksum { file, expected, actual } => write!(
                f,
                "Payload: can not install Payload: {}: invalid checksum; expected: [{}]; actual: [{}]",
                file,
                Hex(expected),
                Hex(actual)
            ),
            Error::MissingFields => f.write_str("The artifact does not contain all required fields"),
            Error::NotSigned => f.write_str("reader: expecting signed artifact, but no signature file found"),
            Error::InvalidDataFileName(n) => write!(f, "reader: invalid data file name: {}", n),
            Error::ForbiddenFileName(n) => write!(
                f,
                "Payload: data file {} contains forbidden characters. Only letters, digits and characters in the set \".,_-\" are allowed",
                n
            ),
            Error::DataFileNotFound(n) => write!(f, "Payload: can not find data file: {}", n),
            Error::NotInArtifact(list) => {
                write!(f, "Files found in manifest(s), that were not part of artifact: {}", list)
            }
            Error::UnsupportedHeaderFile(p) => write!(f, "update: unsupported file: {}", p),
            Error::Invalid(m) => f.write_str(m),
            Error::ConflictingKey(what, k) => {
                write!(f, "Conflicting keys not allowed in the {} parameters. key: {}", what, k)
            }
            Error::AfterError => f.write_str("reader: the Artifact was already rejected"),
        }
    }
}

impl core::error::Error for Error {}

impl From<TarError> for Error {
    fn from(e: TarError) -> Self {
        Error::Tar(e)
    }
}
impl From<MetaError> for Error {
    fn from(e: MetaError) -> Self {
        Error::Meta(e)
    }
}

fn path(s: &str) -> PathString {
    text::truncated(s)
}

/// What reading found. Borrowed data lives until the next call to [`Reader::feed`].
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// All offered input was consumed; feed more.
    NeedMore,
    /// `version`, `manifest` (and its signature) and the header were verified; see
    /// [`Reader::header`].
    HeaderParsed,
    /// A payload file starts.
    PayloadFileStart {
        payload: u16,
        name: &'a str,
        size: u64,
    },
    /// Decompressed payload file bytes, in order. Not verified until `PayloadFileVerified`.
    PayloadData(&'a [u8]),
    /// The file's SHA-256 matched the manifest.
    PayloadFileVerified { payload: u16, name: &'a str },
    /// The end of the Artifact was reached and every manifest entry was verified.
    ArtifactComplete,
}

/// How `manifest.sig` was handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureStatus {
    /// The Artifact is not signed.
    None,
    /// Signed, but no verifier was configured.
    Present,
    /// Signed and verified.
    Verified,
}

/// A payload file that was read and verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PayloadFile<'a> {
    pub payload: u16,
    pub name: &'a str,
    pub size: u64,
    pub sha256: [u8; 32],
}

/// A payload file as the reader tracks it; its name and checksum stay in the manifest.
#[derive(Debug, Clone, Copy)]
struct FileRecord {
    /// Position of its line in the manifest.
    entry: u8,
    size: u64,
    verified: bool,
}

/// Memory the caller gives the reader (sans-I/O, no allocator: the caller decides where it
/// lives and how much a build can afford).
pub struct Buffers<'w> {
    /// Holds the Artifact's documents while it is read: `manifest` (and `manifest-augment`),
    /// header-info, type-info, meta-data, state script names, and briefly `version` and
    /// `manifest.sig`. Each document keeps its own limit from [`crate::limits`]; the arena is
    /// the total. [`ARENA_SIZE_FULL`] never runs out before a per-document limit; a rootfs
    /// Artifact of the usual shape needs well under 2 KiB. Running out is
    /// [`Error::Limit`] naming the document and `Buffers::arena`.
    pub arena: &'w mut [u8],
    /// Decoder memory for compressed Artifacts: a [`crate::codec::Workspace`] (fast gzip, 43 KiB) or a
    /// [`crate::codec::SmallWorkspace`] (gzip at a fifth of the speed in 33 KiB, for
    /// microcontrollers). Without one only uncompressed Artifacts are read, and a compressed
    /// member is [`CodecError::NoWorkspace`].
    pub workspace: Option<WorkspaceMut<'w>>,
}

/// Buffers that own their memory on the heap: the full arena and a fast workspace (hosted
/// builds: features `alloc` and `fast-inflate`).
#[cfg(all(feature = "alloc", feature = "fast-inflate"))]
pub struct HeapBuffers {
    arena: alloc::vec::Vec<u8>,
    workspace: alloc::boxed::Box<Workspace>,
}

#[cfg(all(feature = "alloc", feature = "fast-inflate"))]
impl HeapBuffers {
    pub fn new() -> Self {
        HeapBuffers {
            arena: alloc::vec![0; ARENA_SIZE_FULL],
            workspace: alloc::boxed::Box::default(),
        }
    }

    /// Lends both to a reader.
    pub fn buffers(&mut self) -> Buffers<'_> {
        Buffers {
            arena: &mut self.arena,
            workspace: Some(WorkspaceMut::Fast(&mut self.workspace)),
        }
    }
}

#[cfg(all(feature = "alloc", feature = "fast-inflate"))]
impl Default for HeapBuffers {
    fn default() -> Self {
        Self::new()
    }
}

/// An arena this large holds every document at its own limit at once, so the arena itself
/// never sets a tighter limit (hosted builds use it).
pub const ARENA_SIZE_FULL: usize = 2 * MAX_MANIFEST_SIZE
    + MAX_HEADER_INFO_SIZE
    + 2 * (MAX_TYPE_INFO_SIZE + MAX_META_DATA_SIZE)
    + MAX_FILES_DOC_SIZE
    + MAX_SCRIPTS * (MAX_SCRIPT_NAME_LEN + 1)
    + if MAX_HEADER_INFO_SIZE > MAX_SIGNATURE_B64_LEN {
        MAX_HEADER_INFO_SIZE
    } else {
        MAX_SIGNATURE_B64_LEN
    };

// Verified manifest entries are tracked in a `u32` bit set.
const _: () = assert!(MAX_MANIFEST_ENTRIES <= 32);
// Files are named by their manifest position in a `u8`.
const _: () = assert!(MAX_MANIFEST_ENTRIES <= 255);

/// A document's place in the arena.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Span {
    start: usize,
    len: usize,
}

/// A stack of documents in the caller's buffer: a document grows only while it is the last
/// one, which the Artifact's fixed member order guarantees; transient ones are popped.
struct Arena<'w> {
    buf: &'w mut [u8],
    top: usize,
}

impl Arena<'_> {
    /// A new, empty document at the top.
    fn open(&self) -> Span {
        Span {
            start: self.top,
            len: 0,
        }
    }

    fn push(
        &mut self,
        doc: &mut Span,
        data: &[u8],
        what: &'static str,
        l: &Limit,
    ) -> Result<(), Error> {
        if doc.start + doc.len != self.top {
            return Err(Error::Invalid("reader: internal arena order"));
        }
        // Whichever limit the bytes reach first is reported, so the verdict does not depend
        // on how the input was chunked.
        let doc_room = l.max.saturating_sub(doc.len);
        let arena_room = self.buf.len().saturating_sub(self.top);
        if data.len() > doc_room.min(arena_room) {
            return Err(if arena_room < doc_room {
                Error::Limit(
                    what,
                    Limit {
                        name: "Buffers::arena",
                        max: self.buf.len(),
                    },
                )
            } else {
                Error::Limit(what, *l)
            });
        }
        let end = self.top + data.len();
        let dst = (self.buf.get_mut(self.top..end))
            .ok_or(Error::Invalid("reader: internal arena range"))?;
        dst.copy_from_slice(data);
        self.top = end;
        doc.len += data.len();
        Ok(())
    }

    // Called from dozens of places: one copy is smaller than inlining it into each.
    #[inline(never)]
    fn get(&self, doc: Span) -> &[u8] {
        self.buf.get(doc.start..doc.start + doc.len).unwrap_or(&[])
    }

    /// Frees `doc` and everything above it.
    fn pop(&mut self, doc: &mut Span) {
        self.top = self.top.min(doc.start);
        *doc = Span::default();
    }
}

/// Reader settings.
#[derive(Clone, Copy, Default)]
pub struct Config<'v> {
    /// With a verifier, unsigned Artifacts fail and signatures must verify.
    pub verifier: Option<&'v dyn Verifier>,
    /// Memory limits of the xz/zstd decoders.
    pub codec_limits: CodecLimits,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Version,
    Manifest,
    /// After `manifest`: `manifest.sig` or the header may follow.
    AfterManifest,
    /// After `manifest.sig`: `manifest-augment` or the header may follow.
    AfterSig,
    /// After `manifest-augment`: the header must follow.
    AfterAugment,
    /// Reading the header member.
    Header,
    /// After the header of an augmented Artifact: `header-augment.tar*` must follow.
    HeaderAugment,
    /// After the header: data members or the end.
    Data,
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Member {
    Version,
    Manifest,
    Signature,
    ManifestAugment,
    Header,
    HeaderAugment,
    Data(u16),
}

/// Where the bytes of the current inner tar entry go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Skip,
    HeaderInfo,
    TypeInfo,
    MetaData,
    Files,
    AugmentHeaderInfo,
    AugmentTypeInfo,
    AugmentMetaData,
    /// A payload file, by index into `files`.
    Payload(usize),
}

/// Raw, unborrowed form of an event (ranges instead of slices), so that the state machine can
/// run in a loop without holding borrows; turned into an [`Event`] at the end of `feed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Raw {
    NeedMore,
    HeaderParsed,
    FileStart(usize),
    /// Data at `start..start+len` of the input (`window == false`) or the window.
    Data {
        window: bool,
        start: usize,
        len: usize,
    },
    FileVerified(usize),
    Complete,
}

/// State of the compressed/uncompressed tar inside the current header or data member.
struct Inner {
    member: Member,
    kind: Compression,
    decoder: Option<Decoder>,
    decoded_all: bool,
    /// The outer member's bytes are all consumed; only decoder output is left.
    draining: bool,
    tar: TarReader,
    /// Decoded bytes in the window not yet given to `tar`.
    pending: (usize, usize),
    target: Target,
    entries: usize,
}

impl Inner {
    /// The member's name as the Artifact has it, for messages.
    fn name(&self) -> PathString {
        member_name(self.member, self.kind)
    }
}

fn member_name(member: Member, kind: Compression) -> PathString {
    let mut p = PathString::new();
    match member {
        Member::Data(i) => {
            p.push_str("data/").ok();
            text::push_decimal(&mut p, i.into(), 4);
            p.push_str(".tar").ok();
            p.push_str(kind.suffix()).ok();
        }
        Member::HeaderAugment => {
            p.push_str("header-augment.tar").ok();
            p.push_str(kind.suffix()).ok();
        }
        _ => {
            p.push_str(header_member(kind)).ok();
        }
    }
    p
}

fn header_member(kind: Compression) -> &'static str {
    match kind {
        Compression::None => "header.tar",
        Compression::Gzip => "header.tar.gz",
        Compression::Xz => "header.tar.xz",
        Compression::Zstd => "header.tar.zst",
    }
}

/// Everything but the workspace, so that the workspace can be borrowed separately.
struct State<'w> {
    verifier: Option<&'w dyn Verifier>,
    codec_limits: CodecLimits,
    arena: Arena<'w>,
    outer: TarReader,
    /// Shared by `outer` and the current inner tar (see [`TarScratch`]).
    tar_scratch: TarScratch,
    stage: Stage,
    member: Option<Member>,
    format: u32,
    version_sha: [u8; 32],
    /// `version` or `manifest.sig` while it is read (transient, at the top of the arena).
    small: Span,
    manifest_raw: Span,
    augment_manifest_raw: Span,
    /// Manifest entries whose file was read and matched (bit = position in the manifest).
    seen: u32,
    signature: SignatureStatus,
    hasher: Sha256,
    header_kind: Compression,
    header_info: Span,
    type_info: Span,
    meta_data: Span,
    files_doc: Span,
    has_header_info: bool,
    has_type_info: bool,
    has_meta_data: bool,
    has_files_doc: bool,
    /// State script names, each followed by `\n`.
    scripts: Span,
    /// The Artifact has `manifest-augment` (and so `header-augment.tar*`).
    augmented: bool,
    /// `header-augment`'s header-info (transient), type-info and meta-data (unsigned by design
    /// of the format).
    augment_header_info: Span,
    augment_type_info: Span,
    augment_meta_data: Span,
    has_augment_header_info: bool,
    has_augment_type_info: bool,
    has_augment_meta_data: bool,
    inner: Option<Inner>,
    files: Vec<FileRecord, MAX_PAYLOAD_FILES>,
    next_data: u16,
    failed: bool,
    /// The error that stopped the reader, parked here until `feed` returns it (`crate::stop`).
    error: Option<Error>,
    /// The caller gave a workspace, so compressed members can be decoded.
    has_workspace: bool,
}

/// The push parser. Feed it the Artifact in slices of any size.
pub struct Reader<'w> {
    workspace: Option<WorkspaceMut<'w>>,
    st: State<'w>,
}

/// Augmented Artifacts (`manifest-augment`, `header-augment.tar*`) are read only with the
/// feature `augment` (default, and part of `std`): a microcontroller build can leave their
/// checks out of flash (memory-budget.md, "Cortex-M firmware").
const AUGMENT: bool = cfg!(feature = "augment");

/// What a build without the feature `augment` says of an augmented Artifact. This and the other
/// fixed messages are `&str` wrapped in `Error::Invalid` where they are used: a `const` of the
/// whole `Error` (about 270 bytes) is kept whole in flash and copied (memory-budget.md).
const NO_AUGMENT: &str =
    "reader: augmented Artifacts (manifest-augment) are not supported by this build (mender-core feature `augment`)";

/// State scripts in the header are read only with the feature `scripts` (default, and part of
/// `std`): a device that cannot run them (a microcontroller) refuses such an Artifact rather
/// than install it without its scripts.
const SCRIPTS: bool = cfg!(feature = "scripts");

/// What a build without the feature `scripts` says of an Artifact with state scripts.
const NO_SCRIPTS: &str =
    "reader: Artifacts with state scripts are not supported by this build (mender-core feature `scripts`)";

/// `manifest.sig` is decoded and checked against [`Config::verifier`] only with the feature
/// `verify` (default, and part of `std`). A build without it (the Cortex-M firmware, which has
/// no key) reads signed Artifacts as the official client does without a key, and refuses
/// every Artifact when a verifier is configured all the same: nothing is installed unverified.
const VERIFY: bool = cfg!(feature = "verify");

/// What a build without the feature `verify` says when a verifier is configured.
const NO_VERIFY: &str =
    "reader: signature verification is not supported by this build (mender-core feature `verify`)";

/// What a build without the feature `format-v2` says of a format 2 Artifact.
const NO_FORMAT_V2: &str =
    "reader: Artifact format version 2 is not supported by this build (mender-core feature `format-v2`)";

fn is_allowed_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b','))
}

impl<'w> Reader<'w> {
    /// A reader working in the caller's `buffers`.
    pub fn new(buffers: Buffers<'w>, config: Config<'w>) -> Self {
        let has_workspace = buffers.workspace.is_some();
        Reader {
            workspace: buffers.workspace,
            st: State {
                verifier: config.verifier,
                codec_limits: config.codec_limits,
                arena: Arena {
                    buf: buffers.arena,
                    top: 0,
                },
                outer: TarReader::new(),
                tar_scratch: TarScratch::new(),
                stage: Stage::Version,
                member: None,
                format: 0,
                version_sha: [0; 32],
                small: Span::default(),
                manifest_raw: Span::default(),
                augment_manifest_raw: Span::default(),
                seen: 0,
                signature: SignatureStatus::None,
                hasher: Sha256::new(),
                header_kind: Compression::None,
                header_info: Span::default(),
                type_info: Span::default(),
                meta_data: Span::default(),
                files_doc: Span::default(),
                has_header_info: false,
                has_type_info: false,
                has_meta_data: false,
                has_files_doc: false,
                scripts: Span::default(),
                augmented: false,
                augment_header_info: Span::default(),
                augment_type_info: Span::default(),
                augment_meta_data: Span::default(),
                has_augment_header_info: false,
                has_augment_type_info: false,
                has_augment_meta_data: false,
                inner: None,
                files: Vec::new(),
                next_data: 0,
                failed: false,
                error: None,
                has_workspace,
            },
        }
    }

    /// Consumes a prefix of `input` and reports what happened. Call again with the rest (and
    /// then new input) until [`Event::NeedMore`]; the returned count says how much was used.
    pub fn feed<'s>(&'s mut self, input: &'s [u8]) -> Result<(usize, Event<'s>), Error> {
        if self.st.failed {
            return Err(Error::AfterError);
        }
        let r = self
            .st
            .run(self.workspace.as_mut().map(|w| w.reborrow()), input);
        let (used, raw) = match r {
            Ok(v) => v,
            Err(Stop) => {
                self.st.failed = true;
                let lost = Error::Invalid("reader: internal: stopped without an error");
                return Err(self.st.error.take().unwrap_or(lost));
            }
        };
        let st = &self.st;
        let ev = match raw {
            Raw::NeedMore => Event::NeedMore,
            Raw::HeaderParsed => Event::HeaderParsed,
            Raw::Complete => Event::ArtifactComplete,
            Raw::FileStart(i) | Raw::FileVerified(i) => {
                let f = st
                    .file(i)
                    .ok_or(Error::Invalid("reader: internal file index"))?;
                if matches!(raw, Raw::FileStart(_)) {
                    Event::PayloadFileStart {
                        payload: f.payload,
                        name: f.name,
                        size: f.size,
                    }
                } else {
                    Event::PayloadFileVerified {
                        payload: f.payload,
                        name: f.name,
                    }
                }
            }
            Raw::Data { window, start, len } => {
                let src: &[u8] = match (window, &self.workspace) {
                    (true, Some(ws)) => &ws.window_ref()[..],
                    (true, None) => &[],
                    (false, _) => input,
                };
                Event::PayloadData(
                    src.get(start..start + len)
                        .ok_or(Error::Invalid("reader: internal data range"))?,
                )
            }
        };
        Ok((used, ev))
    }

    /// Call at the end of the input: `Ok` only if the Artifact was complete.
    pub fn finish(&self) -> Result<(), Error> {
        match self.st.stage {
            Stage::Done => Ok(()),
            s if s < Stage::Header => Err(Error::MissingFields),
            _ => Err(Error::UnexpectedEof),
        }
    }

    /// The verified header, once [`Event::HeaderParsed`] was reported.
    pub fn header(&self) -> Option<ArtifactHeader<'_>> {
        let st = &self.st;
        if st.stage < Stage::Data {
            return None;
        }
        let doc = |s: Span| st.arena.get(s);
        Some(ArtifactHeader {
            format: st.format,
            info: HeaderInfo::new(doc(st.header_info), st.format)?,
            type_info: if st.has_type_info && (!FORMAT_V2 || st.format == 3) {
                TypeInfo::new(doc(st.type_info))
            } else {
                None
            },
            meta_data: non_empty(st.has_meta_data, doc(st.meta_data)),
            scripts: Scripts(if SCRIPTS {
                core::str::from_utf8(doc(st.scripts)).unwrap_or("")
            } else {
                ""
            }),
            signature: st.signature,
            header_member: header_member(st.header_kind),
            augment: if AUGMENT && st.augmented {
                Some(Augment {
                    type_info: TypeInfo::new(doc(st.augment_type_info))?,
                    meta_data: non_empty(st.has_augment_meta_data, doc(st.augment_meta_data)),
                })
            } else {
                None
            },
        })
    }

    /// Payload files read and verified so far, in Artifact order (complete after
    /// [`Event::ArtifactComplete`]).
    pub fn files(&self) -> impl Iterator<Item = PayloadFile<'_>> + '_ {
        (0..self.st.files.len())
            .filter_map(|i| self.st.file(i))
            .filter(|f| f.verified)
            .map(|f| PayloadFile {
                payload: f.payload,
                name: f.name,
                size: f.size,
                sha256: f.sha256,
            })
    }
}

/// A file as the reader reports it, resolved from its record and manifest line.
struct FileView<'a> {
    payload: u16,
    name: &'a str,
    size: u64,
    sha256: [u8; 32],
    verified: bool,
}

/// State script names in header order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scripts<'a>(&'a str);

impl<'a> Scripts<'a> {
    pub fn iter(&self) -> impl Iterator<Item = &'a str> + 'a {
        self.0.split_terminator('\n')
    }

    pub fn len(&self) -> usize {
        self.iter().count()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'a> IntoIterator for Scripts<'a> {
    type Item = &'a str;
    type IntoIter = core::str::SplitTerminator<'a, char>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.split_terminator('\n')
    }
}

/// The verified Artifact header.
#[derive(Clone, Copy)]
pub struct ArtifactHeader<'a> {
    /// Format version: 2 or 3.
    pub format: u32,
    pub info: HeaderInfo<'a>,
    /// type-info of payload 0 (format 3).
    pub type_info: Option<TypeInfo<'a>>,
    /// Raw meta-data JSON object of payload 0, if any.
    pub meta_data: Option<&'a [u8]>,
    /// State script names in header order.
    pub scripts: Scripts<'a>,
    pub signature: SignatureStatus,
    /// `header.tar[...]` as named in the Artifact.
    pub header_member: &'a str,
    /// `header-augment` of an augmented Artifact: unsigned additions to payload 0.
    pub augment: Option<Augment<'a>>,
}

/// What `header-augment.tar*` adds. Not covered by the signature (format design); the reader
/// only lets it add keys, never change signed ones.
#[derive(Clone, Copy)]
pub struct Augment<'a> {
    pub type_info: TypeInfo<'a>,
    pub meta_data: Option<&'a [u8]>,
}

impl<'a> ArtifactHeader<'a> {
    /// The type of payload `index`: the augment's when there is one (it may override it).
    pub fn payload_type(&self, index: usize) -> Option<meta::PayloadType> {
        match (&self.augment, index) {
            (Some(a), 0) => a.type_info.kind(),
            _ => self.info.payload_type(index),
        }
    }

    /// Provides of payload 0, the signed ones first, then the augment's.
    pub fn provides(&self) -> impl Iterator<Item = (meta::Key, meta::Text)> + 'a {
        let aug = self.augment.map(|a| a.type_info);
        self.type_info
            .into_iter()
            .chain(aug)
            .flat_map(|t| t.provides())
    }

    /// Depends of payload 0, the signed ones first, then the augment's.
    pub fn depends(&self) -> impl Iterator<Item = (meta::Key, meta::DependValue<'a>)> + 'a {
        let aug = self.augment.map(|a| a.type_info);
        self.type_info
            .into_iter()
            .chain(aug)
            .flat_map(|t| t.depends())
    }

    /// `clears_artifact_provides` of payload 0 (the signed one, else the augment's).
    pub fn clears(&self) -> Option<impl Iterator<Item = meta::Text> + 'a> {
        let signed = self.type_info.filter(|t| t.clears().is_some());
        signed
            .or(self
                .augment
                .map(|a| a.type_info)
                .filter(|t| t.clears().is_some()))?
            .clears()
    }
}

fn non_empty(present: bool, raw: &[u8]) -> Option<&[u8]> {
    (present && !raw.iter().all(u8::is_ascii_whitespace)).then_some(raw)
}

impl<'v> State<'v> {
    fn run(
        &mut self,
        mut ws: Option<WorkspaceMut<'_>>,
        input: &[u8],
    ) -> Result<(usize, Raw), Stop> {
        const NO_WS: &str = "reader: internal: decoder without workspace";
        let mut used = 0;
        loop {
            // 1. Decoded bytes waiting for the inner tar, or a member being drained.
            if let Some(inner) = &mut self.inner {
                if inner.pending.0 < inner.pending.1 {
                    let (a, b) = inner.pending;
                    let window = ws
                        .as_ref()
                        .ok_or_else(|| stop(&mut self.error, Error::Invalid(NO_WS)))?
                        .window_ref();
                    let bytes = (window.get(a..b))
                        .ok_or_else(|| stop(&mut self.error, Error::Invalid(NO_WS)))?;
                    let (n, raw) = self.inner_step(bytes)?;
                    if let Some(inner) = &mut self.inner {
                        inner.pending.0 += n;
                    }
                    if let Some(raw) = raw {
                        return Ok((used, shift(raw, true, a)));
                    }
                    continue;
                }
                if inner.draining {
                    if !inner.decoded_all {
                        if let Some(dec) = &mut inner.decoder {
                            let w = ws
                                .as_mut()
                                .ok_or_else(|| stop(&mut self.error, Error::Invalid(NO_WS)))?;
                            let step = (dec.decode(&[], w.reborrow(), true)).map_err(|e| {
                                stop(&mut self.error, Error::Codec(inner.name(), e))
                            })?;
                            inner.pending = (step.out_start, step.out_start + step.out_len);
                            inner.decoded_all = step.done;
                            if step.out_len == 0 && !step.done {
                                return Err(stop(
                                    &mut self.error,
                                    Error::Codec(inner.name(), CodecError::Truncated(inner.kind)),
                                ));
                            }
                            continue;
                        }
                        inner.decoded_all = true;
                    }
                    if let Some(raw) = self.finish_inner()? {
                        return Ok((used, raw));
                    }
                    continue;
                }
            }
            // 2. The outer tar.
            let (n, ev) = self
                .outer
                .step(&input[used..], &mut self.tar_scratch)
                .or_stop(&mut self.error)?;
            used += n;
            match ev {
                TarEvent::NeedMore => return Ok((used, Raw::NeedMore)),
                TarEvent::Entry => self.begin_member()?,
                TarEvent::Data { len } => {
                    let data = &input[used..used + len];
                    let last = len as u64 == self.outer.remaining();
                    // Small members are kept whole in the arena, each within its own limit.
                    let buffered = match self.member {
                        Some(Member::Version) => {
                            Some((&mut self.small, "version", &limit!(MAX_VERSION_SIZE)))
                        }
                        Some(Member::Signature) => Some((
                            &mut self.small,
                            "manifest.sig",
                            &limit!(MAX_SIGNATURE_B64_LEN),
                        )),
                        Some(Member::Manifest) => Some((
                            &mut self.manifest_raw,
                            "manifest",
                            &limit!(MAX_MANIFEST_SIZE),
                        )),
                        Some(Member::ManifestAugment) if AUGMENT => Some((
                            &mut self.augment_manifest_raw,
                            "manifest-augment",
                            &limit!(MAX_MANIFEST_SIZE),
                        )),
                        _ => None,
                    };
                    if let Some((doc, what, l)) = buffered {
                        (self.arena)
                            .push(doc, data, what, l)
                            .or_stop(&mut self.error)?;
                        self.outer.consume_data(len);
                        used += len;
                        continue;
                    }
                    match self.member {
                        Some(Member::Header | Member::HeaderAugment | Member::Data(_)) => {
                            let Some(inner) = &mut self.inner else {
                                return Err(stop(
                                    &mut self.error,
                                    Error::Invalid("reader: internal state"),
                                ));
                            };
                            if let Some(dec) = &mut inner.decoder {
                                let w = ws
                                    .as_mut()
                                    .ok_or_else(|| stop(&mut self.error, Error::Invalid(NO_WS)))?;
                                let step = (dec.decode(data, w.reborrow(), last)).map_err(|e| {
                                    stop(&mut self.error, Error::Codec(inner.name(), e))
                                })?;
                                if !matches!(inner.member, Member::Data(_)) {
                                    self.hasher.update(&data[..step.consumed]);
                                }
                                inner.pending = (step.out_start, step.out_start + step.out_len);
                                inner.decoded_all = step.done;
                                self.outer.consume_data(step.consumed);
                                used += step.consumed;
                                if step.consumed == 0 && step.out_len == 0 && !step.done {
                                    if last {
                                        return Err(stop(
                                            &mut self.error,
                                            Error::Codec(
                                                inner.name(),
                                                CodecError::Truncated(inner.kind),
                                            ),
                                        ));
                                    }
                                    return Ok((used, Raw::NeedMore));
                                }
                            } else {
                                let (k, raw) = self.inner_step(data)?;
                                // Header members are hashed as stored; data files are
                                // hashed per file inside inner_step.
                                if self
                                    .inner
                                    .as_ref()
                                    .is_some_and(|i| !matches!(i.member, Member::Data(_)))
                                {
                                    self.hasher.update(&data[..k]);
                                }
                                self.outer.consume_data(k);
                                let at = used;
                                used += k;
                                if let Some(raw) = raw {
                                    return Ok((used, shift(raw, false, at)));
                                }
                            }
                        }
                        _ => {
                            // Every member is buffered or decoded: begin_member refuses others.
                            return Err(stop(
                                &mut self.error,
                                Error::Invalid("reader: internal state"),
                            ));
                        }
                    }
                }
                TarEvent::EntryEnd => {
                    if let Some(raw) = self.end_member()? {
                        return Ok((used, raw));
                    }
                }
                TarEvent::End => return Ok((used, self.end_archive()?)),
            }
        }
    }

    fn begin_member(&mut self) -> Result<(), Stop> {
        let e = self.outer.entry();
        let name = e.path.clone();
        if e.kind() != EntryKind::File {
            return Err(stop(
                &mut self.error,
                Error::Invalid("reader: the Artifact holds a tar entry that is not a regular file"),
            ));
        }
        let structure = |seen: &'static str| Error::Structure {
            seen,
            wrong: path(&name),
        };
        let member = match self.stage {
            Stage::Version => {
                if name != "version" {
                    return Err(stop(
                        &mut self.error,
                        Error::Invalid("reader: can not read version file: invalid argument"),
                    ));
                }
                Member::Version
            }
            Stage::Manifest => {
                if name != "manifest" {
                    return Err(stop(&mut self.error, structure("")));
                }
                Member::Manifest
            }
            Stage::AfterManifest | Stage::AfterSig => {
                let sig = self.stage == Stage::AfterSig;
                if name == "manifest.sig" && !sig {
                    Member::Signature
                } else if name == "manifest-augment" {
                    if !AUGMENT {
                        return Err(stop(&mut self.error, Error::Invalid(NO_AUGMENT)));
                    }
                    if self.verifier.is_some() && !sig {
                        return Err(stop(&mut self.error, Error::NotSigned));
                    }
                    self.augment_manifest_raw = self.arena.open();
                    Member::ManifestAugment
                } else if let Some(kind) = self.header_compression(&name) {
                    if self.verifier.is_some() && !sig {
                        return Err(stop(&mut self.error, Error::NotSigned));
                    }
                    self.start_inner(Member::Header, &name, kind)?;
                    self.header_kind = kind;
                    Member::Header
                } else {
                    return Err(stop(
                        &mut self.error,
                        structure(if sig {
                            "manifest manifest.sig "
                        } else {
                            "manifest "
                        }),
                    ));
                }
            }
            Stage::AfterAugment | Stage::HeaderAugment if !AUGMENT => {
                return Err(stop(&mut self.error, Error::Invalid(NO_AUGMENT)));
            }
            Stage::AfterAugment => {
                let Some(kind) = self.header_compression(&name) else {
                    return Err(stop(
                        &mut self.error,
                        structure(if self.signature == SignatureStatus::None {
                            "manifest manifest-augment "
                        } else {
                            "manifest manifest.sig manifest-augment "
                        }),
                    ));
                };
                self.start_inner(Member::Header, &name, kind)?;
                self.header_kind = kind;
                Member::Header
            }
            Stage::HeaderAugment => {
                // The augment header uses the same compression as the header.
                let kind = self.header_kind;
                if name.strip_prefix("header-augment.tar") != Some(kind.suffix()) {
                    return Err(stop(
                        &mut self.error,
                        Error::Structure {
                            seen: "manifest manifest-augment header ",
                            wrong: path(&name),
                        },
                    ));
                }
                self.start_inner(Member::HeaderAugment, &name, kind)?;
                Member::HeaderAugment
            }
            Stage::Data => {
                let idx = data_member_index(&name).ok_or_else(|| {
                    stop(&mut self.error, Error::InvalidDataFileName(path(&name)))
                })?;
                let (index, kind) = idx;
                if index != self.next_data || usize::from(index) >= self.payload_count() {
                    return Err(stop(&mut self.error, Error::DataOutOfOrder(path(&name))));
                }
                self.next_data += 1;
                self.start_inner(Member::Data(index), &name, kind)?;
                Member::Data(index)
            }
            Stage::Header | Stage::Done => {
                return Err(stop(
                    &mut self.error,
                    Error::InvalidDataFileName(path(&name)),
                ))
            }
        };
        match member {
            Member::Version | Member::Signature => self.small = self.arena.open(),
            Member::Manifest => self.manifest_raw = self.arena.open(),
            _ => {}
        }
        self.member = Some(member);
        Ok(())
    }

    /// Parks "unsupported header file" for `p`: one copy of the path truncation for the
    /// many places that refuse a header member.
    fn unsupported(&mut self, p: &str) -> Stop {
        stop(&mut self.error, Error::UnsupportedHeaderFile(path(p)))
    }

    fn header_compression(&self, name: &str) -> Option<Compression> {
        let suffix = name.strip_prefix("header.tar")?;
        Compression::from_suffix(suffix)
    }

    fn payload_count(&self) -> usize {
        self.header_info().map_or(0, |h| h.payload_count())
    }

    fn header_info(&self) -> Option<HeaderInfo<'_>> {
        HeaderInfo::new(self.arena.get(self.header_info), self.format)
    }

    /// The manifest (with the augment's entries once read).
    fn manifest(&self) -> Manifest<'_> {
        let augment = if AUGMENT {
            self.arena.get(self.augment_manifest_raw)
        } else {
            &[]
        };
        Manifest::validated(self.arena.get(self.manifest_raw), augment)
    }

    /// Records that the file at manifest position `i` was read and matched.
    fn mark_seen(&mut self, i: usize) {
        self.seen |= 1u32.checked_shl(i as u32).unwrap_or(0);
    }

    fn file(&self, i: usize) -> Option<FileView<'_>> {
        let rec = self.files.get(i)?;
        let entry = self.manifest().entries().nth(usize::from(rec.entry))?;
        let (payload, name) = split_data_path(entry.path)?;
        Some(FileView {
            payload,
            name,
            size: rec.size,
            sha256: entry.sha256,
            verified: rec.verified,
        })
    }

    fn start_inner(&mut self, member: Member, name: &str, kind: Compression) -> Result<(), Stop> {
        if kind != Compression::None && !self.has_workspace {
            return Err(stop(
                &mut self.error,
                Error::Codec(path(name), CodecError::NoWorkspace(kind)),
            ));
        }
        let decoder = Decoder::new(kind, &self.codec_limits)
            .map_err(|e| stop(&mut self.error, Error::Codec(path(name), e)))?;
        if matches!(member, Member::Header | Member::HeaderAugment) {
            if self.manifest().find(name).is_none() {
                return Err(stop(&mut self.error, Error::ChecksumMissing(path(name))));
            }
            self.hasher = Sha256::new();
        }
        self.inner = Some(Inner {
            member,
            kind,
            decoder,
            decoded_all: false,
            draining: false,
            tar: TarReader::new(),
            pending: (0, 0),
            target: Target::Skip,
            entries: 0,
        });
        Ok(())
    }

    fn end_member(&mut self) -> Result<Option<Raw>, Stop> {
        match self.member.take() {
            Some(Member::Version) => {
                let raw = self.arena.get(self.small);
                self.format = meta::parse_version(raw).or_stop(&mut self.error)?;
                if !FORMAT_V2 && self.format == 2 {
                    return Err(stop(&mut self.error, Error::Invalid(NO_FORMAT_V2)));
                }
                self.version_sha = Sha256::digest(raw).into();
                self.arena.pop(&mut self.small);
                self.stage = Stage::Manifest;
            }
            Some(Member::Manifest) => {
                let raw = self.arena.get(self.manifest_raw);
                let manifest =
                    Manifest::parse(raw).map_err(|e| stop(&mut self.error, Error::Manifest(e)))?;
                let (i, entry) = manifest.find("version").ok_or_else(|| {
                    stop(&mut self.error, Error::ChecksumMissing(path("version")))
                })?;
                if entry.sha256 != self.version_sha {
                    return Err(stop(
                        &mut self.error,
                        Error::Checksum {
                            file: path("version"),
                            expected: entry.sha256,
                            actual: self.version_sha,
                        },
                    ));
                }
                self.mark_seen(i);
                self.stage = Stage::AfterManifest;
            }
            Some(Member::Signature) => {
                self.check_signature()?;
                self.arena.pop(&mut self.small);
                self.stage = Stage::AfterSig;
            }
            Some(Member::ManifestAugment) if !AUGMENT => {
                return Err(stop(&mut self.error, Error::Invalid(NO_AUGMENT)));
            }
            Some(Member::ManifestAugment) => {
                let main = Manifest::validated(self.arena.get(self.manifest_raw), &[]);
                let augment = self.arena.get(self.augment_manifest_raw);
                main.merge(augment)
                    .map_err(|e| stop(&mut self.error, Error::Manifest(e)))?;
                self.augmented = true;
                self.stage = Stage::AfterAugment;
            }
            Some(m @ (Member::Header | Member::HeaderAugment | Member::Data(_))) => {
                if m == Member::Header {
                    self.stage = Stage::Header;
                }
                match &mut self.inner {
                    Some(inner) => inner.draining = true,
                    None => {
                        return Err(stop(
                            &mut self.error,
                            Error::Invalid("reader: internal state"),
                        ))
                    }
                }
                return Ok(None);
            }
            None => {}
        }
        Ok(None)
    }

    /// Decodes `manifest.sig` and verifies it when a verifier is configured; notes it as
    /// present otherwise. Kept out of line: its signature buffer should not enlarge the stack
    /// frame of every member's end.
    #[inline(never)]
    fn check_signature(&mut self) -> Result<(), Stop> {
        let Some(v) = self.verifier else {
            // Without a key the official reader does not decode `manifest.sig` either
            // (observed: `mender-artifact read` of a non-base64 signature succeeds, "signed
            // but no key for verification provided").
            self.signature = SignatureStatus::Present;
            return Ok(());
        };
        if !VERIFY {
            return Err(stop(&mut self.error, Error::Invalid(NO_VERIFY)));
        }
        let mut sig = [0u8; MAX_SIGNATURE_LEN];
        let n = decode_base64(self.arena.get(self.small), &mut sig)
            .map_err(|e| stop(&mut self.error, Error::Signature(e)))?;
        v.verify(self.arena.get(self.manifest_raw), &sig[..n])
            .map_err(|e| stop(&mut self.error, Error::Signature(e)))?;
        self.signature = SignatureStatus::Verified;
        Ok(())
    }

    /// The decoder and inner tar are done: close the header or data member.
    fn finish_inner(&mut self) -> Result<Option<Raw>, Stop> {
        let Some(inner) = self.inner.take() else {
            return Ok(None);
        };
        if !inner.tar.at_boundary() {
            return Err(stop(
                &mut self.error,
                Error::InnerTar(inner.name(), TarError::Truncated),
            ));
        }
        match inner.member {
            Member::Header => {
                if !self.has_header_info {
                    return Err(stop(
                        &mut self.error,
                        Error::Invalid(
                            "readHeader: invalid argument: the header has no header-info",
                        ),
                    ));
                }
                if (!FORMAT_V2 || self.format == 3) && !self.has_type_info {
                    return Err(stop(
                        &mut self.error,
                        Error::Invalid("header: headers/0000/type-info is missing"),
                    ));
                }
                if FORMAT_V2 && self.format == 2 && !self.has_files_doc {
                    return Err(stop(
                        &mut self.error,
                        Error::Invalid("header: headers/0000/files is missing"),
                    ));
                }
                self.verify_header_sum(&inner.name())?;
                if AUGMENT && self.augmented {
                    self.stage = Stage::HeaderAugment;
                    return Ok(None);
                }
                self.stage = Stage::Data;
                Ok(Some(Raw::HeaderParsed))
            }
            Member::HeaderAugment if AUGMENT => {
                if !self.has_augment_header_info || !self.has_augment_type_info {
                    return Err(stop(
                        &mut self.error,
                        Error::Invalid(
                            "header-augment: header-info and headers/0000/type-info are required",
                        ),
                    ));
                }
                self.verify_header_sum(&inner.name())?;
                self.check_augment_conflicts().or_stop(&mut self.error)?;
                self.stage = Stage::Data;
                Ok(Some(Raw::HeaderParsed))
            }
            _ => Ok(None),
        }
    }

    /// Compares the hash of the (compressed) header member just read with the manifest.
    fn verify_header_sum(&mut self, name: &PathString) -> Result<(), Stop> {
        let actual: [u8; 32] = core::mem::take(&mut self.hasher).finalize().into();
        let found = self.manifest().find(name).map(|(i, e)| (i, e.sha256));
        let Some((i, expected)) = found else {
            return Err(stop(&mut self.error, Error::ChecksumMissing(name.clone())));
        };
        if expected != actual {
            return Err(stop(
                &mut self.error,
                Error::Checksum {
                    file: name.clone(),
                    expected,
                    actual,
                },
            ));
        }
        self.mark_seen(i);
        Ok(())
    }

    /// The augment may add provides, depends and meta-data keys, never change existing ones
    /// (the official reader's merge fails on conflicting keys). Out of line: only augmented
    /// Artifacts need it, and its decoded keys should not enlarge the common path's frame.
    #[inline(never)]
    fn check_augment_conflicts(&self) -> Result<(), Error> {
        let (Some(orig), Some(aug)) = (
            TypeInfo::new(self.arena.get(self.type_info)),
            TypeInfo::new(self.arena.get(self.augment_type_info)),
        ) else {
            return Ok(());
        };
        for (k, _) in aug.provides() {
            if orig.provides().any(|(o, _)| o == k) {
                return Err(Error::ConflictingKey("provides", k));
            }
        }
        for (k, _) in aug.depends() {
            if orig.depends().any(|(o, _)| o == k) {
                return Err(Error::ConflictingKey("depends", k));
            }
        }
        // Keys are compared in place, one decoded key at a time: collecting them would cost
        // kilobytes of stack, which a microcontroller does not have.
        if self.has_meta_data && self.has_augment_meta_data {
            let (Ok(orig), Ok(aug)) = (
                crate::json::Value::of(self.arena.get(self.meta_data)),
                crate::json::Value::of(self.arena.get(self.augment_meta_data)),
            ) else {
                return Ok(());
            };
            for (k, _) in aug.members() {
                let Ok(k) = k.string::<MAX_KEY_LEN>() else {
                    continue;
                };
                if orig
                    .members()
                    .any(|(o, _)| o.string::<MAX_KEY_LEN>().is_ok_and(|o| o == k))
                {
                    return Err(Error::ConflictingKey("meta-data", k));
                }
            }
        }
        Ok(())
    }

    fn end_archive(&mut self) -> Result<Raw, Stop> {
        if self.stage != Stage::Data {
            return Err(stop(&mut self.error, Error::MissingFields));
        }
        let mut missing: String<MAX_ERROR_LIST_LEN> = String::new();
        let unseen = (self.manifest().entries().enumerate())
            .filter(|(i, _)| self.seen & 1u32.checked_shl(*i as u32).unwrap_or(0) == 0);
        for (_, e) in unseen {
            if !missing.is_empty() && missing.push(' ').is_err() {
                break;
            }
            if missing.push_str(e.path).is_err() {
                break;
            }
        }
        let rootfs = (self.header_info())
            .and_then(|h| h.payload_type(0))
            .is_some_and(|t| t == "rootfs-image");
        if rootfs && self.files.len() != 1 && missing.is_empty() {
            return Err(stop(
                &mut self.error,
                Error::Invalid("Rootfs: Must provide exactly one update file"),
            ));
        }
        if !missing.is_empty() {
            return Err(stop(&mut self.error, Error::NotInArtifact(missing)));
        }
        self.stage = Stage::Done;
        Ok(Raw::Complete)
    }

    /// Runs the inner tar over decoded bytes. Returns bytes used and maybe an event whose data
    /// range is relative to `bytes`.
    fn inner_step(&mut self, bytes: &[u8]) -> Result<(usize, Option<Raw>), Stop> {
        let mut used = 0;
        loop {
            let Some(inner) = &mut self.inner else {
                return Ok((used, None));
            };
            let (n, ev) = inner
                .tar
                .step(&bytes[used..], &mut self.tar_scratch)
                .map_err(|e| stop(&mut self.error, Error::InnerTar(inner.name(), e)))?;
            used += n;
            match ev {
                TarEvent::NeedMore => return Ok((used, None)),
                TarEvent::End => continue,
                TarEvent::Entry => {
                    if let Some(raw) = self.inner_entry()? {
                        return Ok((used, Some(raw)));
                    }
                }
                TarEvent::Data { len } => {
                    let data = &bytes[used..used + len];
                    let target = inner.target;
                    inner.tar.consume_data(len);
                    let a = &mut self.arena;
                    match target {
                        Target::Skip => {}
                        Target::HeaderInfo => {
                            let l = &limit!(MAX_HEADER_INFO_SIZE);
                            a.push(&mut self.header_info, data, "header-info", l)
                                .or_stop(&mut self.error)?
                        }
                        Target::TypeInfo => {
                            let l = &limit!(MAX_TYPE_INFO_SIZE);
                            a.push(&mut self.type_info, data, "type-info", l)
                                .or_stop(&mut self.error)?
                        }
                        Target::MetaData => {
                            let l = &limit!(MAX_META_DATA_SIZE);
                            a.push(&mut self.meta_data, data, "meta-data", l)
                                .or_stop(&mut self.error)?
                        }
                        Target::AugmentHeaderInfo
                        | Target::AugmentTypeInfo
                        | Target::AugmentMetaData
                            if !AUGMENT => {}
                        Target::AugmentHeaderInfo => {
                            let l = &limit!(MAX_HEADER_INFO_SIZE);
                            let doc = &mut self.augment_header_info;
                            a.push(doc, data, "header-augment header-info", l)
                                .or_stop(&mut self.error)?
                        }
                        Target::AugmentTypeInfo => {
                            let l = &limit!(MAX_TYPE_INFO_SIZE);
                            let doc = &mut self.augment_type_info;
                            a.push(doc, data, "header-augment type-info", l)
                                .or_stop(&mut self.error)?
                        }
                        Target::AugmentMetaData => {
                            let l = &limit!(MAX_META_DATA_SIZE);
                            let doc = &mut self.augment_meta_data;
                            a.push(doc, data, "header-augment meta-data", l)
                                .or_stop(&mut self.error)?
                        }
                        Target::Files if !FORMAT_V2 => {}
                        Target::Files => {
                            let l = &limit!(MAX_FILES_DOC_SIZE);
                            a.push(&mut self.files_doc, data, "files", l)
                                .or_stop(&mut self.error)?
                        }
                        Target::Payload(_) => {
                            self.hasher.update(data);
                            let start = used;
                            used += len;
                            return Ok((
                                used,
                                Some(Raw::Data {
                                    window: false,
                                    start,
                                    len,
                                }),
                            ));
                        }
                    }
                    used += len;
                }
                TarEvent::EntryEnd => {
                    if let Some(raw) = self.inner_entry_end()? {
                        return Ok((used, Some(raw)));
                    }
                }
            }
        }
    }

    fn inner_entry(&mut self) -> Result<Option<Raw>, Stop> {
        let Some(inner) = &mut self.inner else {
            return Ok(None);
        };
        let entry = inner.tar.entry().clone();
        inner.entries += 1;
        let first = inner.entries == 1;
        let member = inner.member;
        let p: &str = &entry.path;
        match member {
            Member::Header => {
                if first && p != "header-info" {
                    return Err(stop(&mut self.error, Error::Invalid(
                        "readHeader: invalid argument: header-info must be the first header entry",
                    )));
                }
                if entry.kind() == EntryKind::Directory {
                    inner.target = Target::Skip;
                    return Ok(None);
                }
                if entry.kind() != EntryKind::File {
                    return Err(self.unsupported(&entry.path));
                }
                let target = if p == "header-info" {
                    if self.has_header_info {
                        return Err(self.unsupported(&entry.path));
                    }
                    self.has_header_info = true;
                    self.header_info = self.arena.open();
                    Target::HeaderInfo
                } else if let Some(script) = p.strip_prefix("scripts/") {
                    if !SCRIPTS {
                        return Err(stop(&mut self.error, Error::Invalid(NO_SCRIPTS)));
                    }
                    // Scripts come right after header-info; mender-artifact 3.9 also writes
                    // them into format-2 headers.
                    if self.has_type_info
                        || self.has_meta_data
                        || self.has_files_doc
                        || script.is_empty()
                        || script.bytes().any(|c| c == b'/' || c.is_ascii_control())
                    {
                        return Err(self.unsupported(&entry.path));
                    }
                    if script.len() > MAX_SCRIPT_NAME_LEN {
                        return Err(stop(
                            &mut self.error,
                            Error::Limit("state script name", limit!(MAX_SCRIPT_NAME_LEN)),
                        ));
                    }
                    let count =
                        Scripts(core::str::from_utf8(self.arena.get(self.scripts)).unwrap_or(""))
                            .len();
                    if count >= MAX_SCRIPTS {
                        return Err(stop(
                            &mut self.error,
                            Error::Limit("state scripts", limit!(MAX_SCRIPTS)),
                        ));
                    }
                    if count == 0 {
                        self.scripts = self.arena.open();
                    }
                    let l = &limit!(ARENA_SIZE_FULL);
                    self.arena
                        .push(&mut self.scripts, script.as_bytes(), "state scripts", l)
                        .or_stop(&mut self.error)?;
                    self.arena
                        .push(&mut self.scripts, b"\n", "state scripts", l)
                        .or_stop(&mut self.error)?;
                    Target::Skip
                } else if let Some(rest) = p.strip_prefix("headers/") {
                    let (num, file) = text::split_once_byte(rest, b'/')
                        .ok_or_else(|| self.unsupported(&entry.path))?;
                    let index = payload_index(num).map_or(usize::MAX, usize::from);
                    if index >= self.payload_count() {
                        return Err(stop(
                            &mut self.error,
                            Error::Invalid(
                                "header: headers/NNNN entry without a payload in header-info",
                            ),
                        ));
                    }
                    let empty_payload =
                        (self.header_info()).is_some_and(|h| h.payload_type(index).is_none());
                    match (file, self.format) {
                        ("type-info", _) if !self.has_type_info => {
                            self.has_type_info = true;
                            self.type_info = self.arena.open();
                            Target::TypeInfo
                        }
                        ("meta-data", _) if !self.has_meta_data && !empty_payload => {
                            self.has_meta_data = true;
                            self.meta_data = self.arena.open();
                            Target::MetaData
                        }
                        ("files", 2) if FORMAT_V2 && !self.has_files_doc => {
                            self.has_files_doc = true;
                            self.files_doc = self.arena.open();
                            Target::Files
                        }
                        _ => return Err(self.unsupported(&entry.path)),
                    }
                } else {
                    return Err(self.unsupported(&entry.path));
                };
                if let Some(inner) = &mut self.inner {
                    inner.target = target;
                }
                Ok(None)
            }
            Member::HeaderAugment if AUGMENT => {
                if first && p != "header-info" {
                    return Err(stop(&mut self.error, Error::Invalid(
                        "readHeader: invalid argument: header-info must be the first header-augment entry",
                    )));
                }
                let target = match p {
                    _ if entry.kind() == EntryKind::Directory => Target::Skip,
                    _ if entry.kind() != EntryKind::File => {
                        return Err(self.unsupported(&entry.path))
                    }
                    "header-info" if !self.has_augment_header_info => {
                        self.has_augment_header_info = true;
                        self.augment_header_info = self.arena.open();
                        Target::AugmentHeaderInfo
                    }
                    "headers/0000/type-info" if !self.has_augment_type_info => {
                        self.has_augment_type_info = true;
                        self.augment_type_info = self.arena.open();
                        Target::AugmentTypeInfo
                    }
                    "headers/0000/meta-data" if !self.has_augment_meta_data => {
                        self.has_augment_meta_data = true;
                        self.augment_meta_data = self.arena.open();
                        Target::AugmentMetaData
                    }
                    _ => return Err(self.unsupported(&entry.path)),
                };
                if let Some(inner) = &mut self.inner {
                    inner.target = target;
                }
                Ok(None)
            }
            Member::Data(index) => {
                if entry.kind() != EntryKind::File {
                    return Err(stop(
                        &mut self.error,
                        Error::Invalid(
                            "Payload: data tar holds an entry that is not a regular file",
                        ),
                    ));
                }
                if !is_allowed_name(p) {
                    return Err(stop(
                        &mut self.error,
                        Error::ForbiddenFileName(path(&entry.path)),
                    ));
                }
                if p.len() > MAX_FILE_NAME_LEN {
                    return Err(stop(
                        &mut self.error,
                        Error::Limit("payload file name", limit!(MAX_FILE_NAME_LEN)),
                    ));
                }
                let h = self.header_info();
                if h.is_some_and(|h| h.payload_type(usize::from(index)).is_none()) {
                    return Err(stop(
                        &mut self.error,
                        Error::Invalid("Empty Payload Artifacts cannot have a payload"),
                    ));
                }
                if FORMAT_V2
                    && self.format == 2
                    && !meta::files_lists(self.arena.get(self.files_doc), p)
                {
                    return Err(stop(
                        &mut self.error,
                        Error::DataFileNotFound(path(&entry.path)),
                    ));
                }
                let mut mpath: String<MAX_MANIFEST_PATH_LEN> = String::new();
                // A path that does not fit is no manifest entry either.
                let fits = mpath.push_str("data/").is_ok()
                    && text::push_decimal(&mut mpath, index as u64, 4)
                    && mpath.push('/').is_ok()
                    && mpath.push_str(p).is_ok();
                let found = fits
                    .then(|| self.manifest().find(&mpath).map(|(i, _)| i))
                    .flatten();
                let Some(at) = found else {
                    return Err(stop(
                        &mut self.error,
                        Error::DataFileNotFound(path(&entry.path)),
                    ));
                };
                let started = self.files.iter().any(|f| usize::from(f.entry) == at);
                if started || self.seen & 1u32.checked_shl(at as u32).unwrap_or(0) != 0 {
                    return Err(stop(
                        &mut self.error,
                        Error::Invalid("Payload: the same data file appears twice"),
                    ));
                }
                self.files
                    .push(FileRecord {
                        entry: u8::try_from(at).map_err(|_| {
                            stop(
                                &mut self.error,
                                Error::Invalid("reader: internal file index"),
                            )
                        })?,
                        size: entry.size,
                        verified: false,
                    })
                    .map_err(|_| {
                        stop(
                            &mut self.error,
                            Error::Limit("payload files", limit!(MAX_PAYLOAD_FILES)),
                        )
                    })?;
                self.hasher = Sha256::new();
                let i = self.files.len() - 1;
                if let Some(inner) = &mut self.inner {
                    inner.target = Target::Payload(i);
                }
                Ok(Some(Raw::FileStart(i)))
            }
            _ => Ok(None),
        }
    }

    fn inner_entry_end(&mut self) -> Result<Option<Raw>, Stop> {
        let Some(inner) = &mut self.inner else {
            return Ok(None);
        };
        let target = core::mem::replace(&mut inner.target, Target::Skip);
        match target {
            Target::Skip => {}
            Target::HeaderInfo => {
                meta::validate_header_info(self.arena.get(self.header_info), self.format)
                    .or_stop(&mut self.error)?
            }
            Target::TypeInfo => {
                if !FORMAT_V2 || self.format == 3 {
                    let t = self.header_info().and_then(|h| h.payload_type(0));
                    meta::validate_type_info(self.arena.get(self.type_info), t.as_deref())
                        .or_stop(&mut self.error)?;
                }
            }
            Target::MetaData => {
                meta::validate_meta_data(self.arena.get(self.meta_data)).or_stop(&mut self.error)?
            }
            Target::AugmentHeaderInfo | Target::AugmentTypeInfo | Target::AugmentMetaData
                if !AUGMENT => {}
            Target::AugmentHeaderInfo => {
                meta::validate_header_info(self.arena.get(self.augment_header_info), 3)
                    .or_stop(&mut self.error)?
            }
            Target::AugmentTypeInfo => {
                let t = HeaderInfo::new(self.arena.get(self.augment_header_info), 3)
                    .and_then(|h| h.payload_type(0));
                meta::validate_type_info(self.arena.get(self.augment_type_info), t.as_deref())
                    .or_stop(&mut self.error)?;
            }
            Target::AugmentMetaData => {
                meta::validate_meta_data(self.arena.get(self.augment_meta_data))
                    .or_stop(&mut self.error)?
            }
            Target::Files if !FORMAT_V2 => {}
            Target::Files => {
                meta::validate_files(self.arena.get(self.files_doc)).or_stop(&mut self.error)?
            }
            Target::Payload(i) => {
                let actual: [u8; 32] = core::mem::take(&mut self.hasher).finalize().into();
                let wrong = match self.file(i) {
                    None => Some(Error::Invalid("reader: internal file index")),
                    Some(f) if f.sha256 != actual => Some(Error::PayloadChecksum {
                        file: path(f.name),
                        expected: f.sha256,
                        actual,
                    }),
                    Some(_) => None,
                };
                if let Some(e) = wrong {
                    return Err(stop(&mut self.error, e));
                }
                let at = self
                    .files
                    .get(i)
                    .map_or(usize::MAX, |r| usize::from(r.entry));
                self.mark_seen(at);
                if let Some(r) = self.files.get_mut(i) {
                    r.verified = true;
                }
                return Ok(Some(Raw::FileVerified(i)));
            }
        }
        Ok(None)
    }
}

/// Moves a data range from slice-relative to input- or window-relative.
fn shift(raw: Raw, window: bool, base: usize) -> Raw {
    match raw {
        Raw::Data { start, len, .. } => Raw::Data {
            window,
            start: base + start,
            len,
        },
        other => other,
    }
}

/// Parses `data/NNNN.tar[.gz|.xz|.zst]`.
fn data_member_index(name: &str) -> Option<(u16, Compression)> {
    let rest = name.strip_prefix("data/")?;
    let (num, suffix) = rest.split_at_checked(4)?;
    let index = payload_index(num)?;
    let kind = Compression::from_suffix(suffix.strip_prefix(".tar")?)?;
    Some((index, kind))
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::tar::tests::{header, member, octal};
    use std::{format, vec::Vec as StdVec};

    /// Appends a regular-file member.
    fn file(out: &mut StdVec<u8>, name: &str, data: &[u8]) {
        let h = header(name, &octal(data.len() as u64), b'0', "");
        member(out, h, data);
    }

    /// The start of a signed Artifact whose `manifest.sig` is not base64: `version`,
    /// `manifest` (covering `version`) and the signature.
    fn signed_start() -> StdVec<u8> {
        let version = br#"{"format":"mender","version":3}"#;
        let hex: std::string::String = Sha256::digest(version)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let mut out = StdVec::new();
        file(&mut out, "version", version);
        file(&mut out, "manifest", format!("{hex}  version\n").as_bytes());
        file(&mut out, "manifest.sig", b"!!!!");
        out
    }

    struct AcceptAll;
    impl Verifier for AcceptAll {
        fn verify(&self, _: &[u8], _: &[u8]) -> Result<(), SignatureError> {
            Ok(())
        }
    }

    fn read(verifier: Option<&dyn Verifier>) -> Result<Event<'static>, Error> {
        let mut arena = [0u8; 1024];
        let config = Config {
            verifier,
            ..Config::default()
        };
        let mut reader = Reader::new(
            Buffers {
                arena: &mut arena,
                workspace: None,
            },
            config,
        );
        let input = signed_start();
        let mut rest = &input[..];
        while !rest.is_empty() {
            let (used, event) = reader.feed(rest)?;
            assert_eq!(event, Event::NeedMore, "only the first members were fed");
            rest = &rest[used..];
        }
        Ok(Event::NeedMore)
    }

    /// Without a verifier `manifest.sig` is not decoded, as the official reader does without
    /// a key: a signature that is not even base64 passes.
    #[test]
    fn without_a_verifier_the_signature_is_not_decoded() {
        assert_eq!(read(None), Ok(Event::NeedMore));
    }

    /// With a verifier the signature is decoded first (feature `verify`); a build without
    /// the feature refuses the Artifact rather than install it unverified.
    #[test]
    fn with_a_verifier_the_signature_is_checked_or_the_build_refuses() {
        let expected = if VERIFY {
            Error::Signature(SignatureError::Base64)
        } else {
            Error::Invalid(NO_VERIFY)
        };
        assert_eq!(read(Some(&AcceptAll)), Err(expected));
    }
}
