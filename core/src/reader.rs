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
use crate::codec::{CodecError, CodecLimits, Compression, Decoder, Window};
use crate::limits::*;
use crate::manifest::{Manifest, ManifestError, MAX_MANIFEST_PATH_LEN};
use crate::meta::{self, limit, HeaderInfo, Limit, MetaError, TypeInfo};
use crate::signature::{
    decode_base64, SignatureError, Verifier, MAX_SIGNATURE_B64_LEN, MAX_SIGNATURE_LEN,
};
use crate::tar::{EntryKind, TarError, TarEvent, TarReader};
use core::fmt;
use heapless::{String, Vec};
use sha2::{Digest, Sha256};

/// A path-sized string inside errors.
pub type PathString = String<MAX_TAR_PATH_LEN>;

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
    NotInArtifact(String<512>),
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
    let mut p = PathString::new();
    for c in s.chars() {
        if p.push(c).is_err() {
            break;
        }
    }
    p
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

/// A payload file as it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadFile {
    pub payload: u16,
    pub name: String<MAX_FILE_NAME_LEN>,
    pub size: u64,
    pub sha256: [u8; 32],
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
    name: PathString,
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

/// Everything but the window, so that the window can be borrowed separately.
struct State<'v> {
    verifier: Option<&'v dyn Verifier>,
    codec_limits: CodecLimits,
    outer: TarReader,
    stage: Stage,
    member: Option<Member>,
    format: u32,
    version_sha: [u8; 32],
    small: Vec<u8, MAX_SIGNATURE_B64_LEN>,
    manifest_raw: Vec<u8, MAX_MANIFEST_SIZE>,
    manifest: Manifest,
    signature: SignatureStatus,
    hasher: Sha256,
    header_name: PathString,
    header_info: Vec<u8, MAX_HEADER_INFO_SIZE>,
    type_info: Vec<u8, MAX_TYPE_INFO_SIZE>,
    meta_data: Vec<u8, MAX_META_DATA_SIZE>,
    files_doc: Vec<u8, MAX_FILES_DOC_SIZE>,
    has_header_info: bool,
    has_type_info: bool,
    has_meta_data: bool,
    has_files_doc: bool,
    scripts: Vec<String<MAX_SCRIPT_NAME_LEN>, MAX_SCRIPTS>,
    /// The Artifact has `manifest-augment` (and so `header-augment.tar*`).
    augmented: bool,
    /// `header-augment`'s type-info and meta-data (unsigned by design of the format).
    augment_type_info: Vec<u8, MAX_TYPE_INFO_SIZE>,
    augment_meta_data: Vec<u8, MAX_META_DATA_SIZE>,
    has_augment_header_info: bool,
    has_augment_type_info: bool,
    has_augment_meta_data: bool,
    inner: Option<Inner>,
    files: Vec<PayloadFile, MAX_PAYLOAD_FILES>,
    next_data: u16,
    failed: bool,
}

/// The push parser. Feed it the Artifact in slices of any size.
pub struct Reader<'w> {
    window: &'w mut Window,
    st: State<'w>,
}

fn push_limited<const N: usize>(
    buf: &mut Vec<u8, N>,
    data: &[u8],
    what: &'static str,
    l: Limit,
) -> Result<(), Error> {
    buf.extend_from_slice(data)
        .map_err(|_| Error::Limit(what, l))
}

fn is_allowed_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b','))
}

impl<'w> Reader<'w> {
    /// A reader that decodes into the caller-owned `window` (32 KiB).
    pub fn new(window: &'w mut Window, config: Config<'w>) -> Self {
        Reader {
            window,
            st: State {
                verifier: config.verifier,
                codec_limits: config.codec_limits,
                outer: TarReader::new(),
                stage: Stage::Version,
                member: None,
                format: 0,
                version_sha: [0; 32],
                small: Vec::new(),
                manifest_raw: Vec::new(),
                manifest: Manifest::default(),
                signature: SignatureStatus::None,
                hasher: Sha256::new(),
                header_name: PathString::new(),
                header_info: Vec::new(),
                type_info: Vec::new(),
                meta_data: Vec::new(),
                files_doc: Vec::new(),
                has_header_info: false,
                has_type_info: false,
                has_meta_data: false,
                has_files_doc: false,
                scripts: Vec::new(),
                augmented: false,
                augment_type_info: Vec::new(),
                augment_meta_data: Vec::new(),
                has_augment_header_info: false,
                has_augment_type_info: false,
                has_augment_meta_data: false,
                inner: None,
                files: Vec::new(),
                next_data: 0,
                failed: false,
            },
        }
    }

    /// Consumes a prefix of `input` and reports what happened. Call again with the rest (and
    /// then new input) until [`Event::NeedMore`]; the returned count says how much was used.
    pub fn feed<'s>(&'s mut self, input: &'s [u8]) -> Result<(usize, Event<'s>), Error> {
        if self.st.failed {
            return Err(Error::AfterError);
        }
        let r = self.st.run(self.window, input);
        let (used, raw) = match r {
            Ok(v) => v,
            Err(e) => {
                self.st.failed = true;
                return Err(e);
            }
        };
        let st = &self.st;
        let ev = match raw {
            Raw::NeedMore => Event::NeedMore,
            Raw::HeaderParsed => Event::HeaderParsed,
            Raw::Complete => Event::ArtifactComplete,
            Raw::FileStart(i) | Raw::FileVerified(i) => {
                let f = st
                    .files
                    .get(i)
                    .ok_or(Error::Invalid("reader: internal file index"))?;
                if matches!(raw, Raw::FileStart(_)) {
                    Event::PayloadFileStart {
                        payload: f.payload,
                        name: &f.name,
                        size: f.size,
                    }
                } else {
                    Event::PayloadFileVerified {
                        payload: f.payload,
                        name: &f.name,
                    }
                }
            }
            Raw::Data { window, start, len } => {
                let src: &[u8] = if window { &self.window[..] } else { input };
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
        Some(ArtifactHeader {
            format: st.format,
            info: HeaderInfo::new(&st.header_info, st.format)?,
            type_info: if st.has_type_info && st.format == 3 {
                TypeInfo::new(&st.type_info)
            } else {
                None
            },
            meta_data: non_empty(st.has_meta_data, &st.meta_data),
            scripts: &st.scripts,
            signature: st.signature,
            header_member: &st.header_name,
            augment: if st.augmented {
                Some(Augment {
                    type_info: TypeInfo::new(&st.augment_type_info)?,
                    meta_data: non_empty(st.has_augment_meta_data, &st.augment_meta_data),
                })
            } else {
                None
            },
        })
    }

    /// Payload files read and verified so far (complete after [`Event::ArtifactComplete`]).
    pub fn files(&self) -> &[PayloadFile] {
        &self.st.files
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
    pub scripts: &'a [String<MAX_SCRIPT_NAME_LEN>],
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
    fn run(&mut self, window: &mut Window, input: &[u8]) -> Result<(usize, Raw), Error> {
        let mut used = 0;
        loop {
            // 1. Decoded bytes waiting for the inner tar, or a member being drained.
            if let Some(inner) = &mut self.inner {
                if inner.pending.0 < inner.pending.1 {
                    let (a, b) = inner.pending;
                    let (n, raw) = self.inner_step(&window[a..b])?;
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
                            let step = dec
                                .decode(&[], window, true)
                                .map_err(|e| Error::Codec(inner.name.clone(), e))?;
                            inner.pending = (step.out_start, step.out_start + step.out_len);
                            inner.decoded_all = step.done;
                            if step.out_len == 0 && !step.done {
                                return Err(Error::Codec(
                                    inner.name.clone(),
                                    CodecError::Truncated(inner.kind),
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
            let (n, ev) = self.outer.step(&input[used..])?;
            used += n;
            match ev {
                TarEvent::NeedMore => return Ok((used, Raw::NeedMore)),
                TarEvent::Entry => self.begin_member()?,
                TarEvent::Data { len } => {
                    let data = &input[used..used + len];
                    let last = len as u64 == self.outer.remaining();
                    let buffered = match self.member {
                        Some(Member::Version) => {
                            push_limited(
                                &mut self.small,
                                data,
                                "version",
                                limit!(MAX_VERSION_SIZE),
                            )?;
                            if self.small.len() > MAX_VERSION_SIZE {
                                return Err(Error::Limit("version", limit!(MAX_VERSION_SIZE)));
                            }
                            true
                        }
                        Some(Member::Signature) => {
                            let l = limit!(MAX_SIGNATURE_B64_LEN);
                            push_limited(&mut self.small, data, "manifest.sig", l)?;
                            true
                        }
                        Some(Member::Manifest | Member::ManifestAugment) => {
                            let l = limit!(MAX_MANIFEST_SIZE);
                            push_limited(&mut self.manifest_raw, data, "manifest", l)?;
                            true
                        }
                        _ => false,
                    };
                    if buffered {
                        self.outer.consume_data(len);
                        used += len;
                        continue;
                    }
                    match self.member {
                        Some(Member::Header | Member::HeaderAugment | Member::Data(_)) => {
                            let Some(inner) = &mut self.inner else {
                                return Err(Error::Invalid("reader: internal state"));
                            };
                            if let Some(dec) = &mut inner.decoder {
                                let step = dec
                                    .decode(data, window, last)
                                    .map_err(|e| Error::Codec(inner.name.clone(), e))?;
                                if !matches!(inner.member, Member::Data(_)) {
                                    self.hasher.update(&data[..step.consumed]);
                                }
                                inner.pending = (step.out_start, step.out_start + step.out_len);
                                inner.decoded_all = step.done;
                                self.outer.consume_data(step.consumed);
                                used += step.consumed;
                                if step.consumed == 0 && step.out_len == 0 && !step.done {
                                    if last {
                                        return Err(Error::Codec(
                                            inner.name.clone(),
                                            CodecError::Truncated(inner.kind),
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
                            return Err(Error::Invalid("reader: internal state"));
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

    fn begin_member(&mut self) -> Result<(), Error> {
        let e = self.outer.entry();
        let name = e.path.clone();
        if e.kind() != EntryKind::File {
            return Err(Error::Invalid(
                "reader: the Artifact holds a tar entry that is not a regular file",
            ));
        }
        let structure = |seen: &'static str| Error::Structure {
            seen,
            wrong: name.clone(),
        };
        let member = match self.stage {
            Stage::Version => {
                if name != "version" {
                    return Err(Error::Invalid(
                        "reader: can not read version file: invalid argument",
                    ));
                }
                Member::Version
            }
            Stage::Manifest => {
                if name != "manifest" {
                    return Err(structure(""));
                }
                Member::Manifest
            }
            Stage::AfterManifest | Stage::AfterSig => {
                let sig = self.stage == Stage::AfterSig;
                if name == "manifest.sig" && !sig {
                    Member::Signature
                } else if name == "manifest-augment" {
                    if self.verifier.is_some() && !sig {
                        return Err(Error::NotSigned);
                    }
                    self.manifest_raw.clear();
                    Member::ManifestAugment
                } else if let Some(kind) = self.header_compression(&name) {
                    if self.verifier.is_some() && !sig {
                        return Err(Error::NotSigned);
                    }
                    self.start_inner(Member::Header, &name, kind)?;
                    self.header_name = name.clone();
                    Member::Header
                } else {
                    return Err(structure(if sig {
                        "manifest manifest.sig "
                    } else {
                        "manifest "
                    }));
                }
            }
            Stage::AfterAugment => {
                let Some(kind) = self.header_compression(&name) else {
                    return Err(structure(if self.signature == SignatureStatus::None {
                        "manifest manifest-augment "
                    } else {
                        "manifest manifest.sig manifest-augment "
                    }));
                };
                self.start_inner(Member::Header, &name, kind)?;
                self.header_name = name.clone();
                Member::Header
            }
            Stage::HeaderAugment => {
                // The augment header uses the same compression as the header.
                let want = self.header_name.strip_prefix("header.tar").unwrap_or("");
                if name.strip_prefix("header-augment.tar") != Some(want) {
                    return Err(Error::Structure {
                        seen: "manifest manifest-augment header ",
                        wrong: name.clone(),
                    });
                }
                let kind = self
                    .header_compression(&self.header_name.clone())
                    .unwrap_or(Compression::None);
                self.start_inner(Member::HeaderAugment, &name, kind)?;
                Member::HeaderAugment
            }
            Stage::Data => {
                let idx = data_member_index(&name)
                    .ok_or_else(|| Error::InvalidDataFileName(name.clone()))?;
                let (index, kind) = idx;
                if index != self.next_data || usize::from(index) >= self.payload_count() {
                    return Err(Error::DataOutOfOrder(name.clone()));
                }
                self.next_data += 1;
                self.start_inner(Member::Data(index), &name, kind)?;
                Member::Data(index)
            }
            Stage::Header | Stage::Done => return Err(Error::InvalidDataFileName(name)),
        };
        self.member = Some(member);
        Ok(())
    }

    fn header_compression(&self, name: &str) -> Option<Compression> {
        let suffix = name.strip_prefix("header.tar")?;
        Compression::from_suffix(suffix)
    }

    fn payload_count(&self) -> usize {
        HeaderInfo::new(&self.header_info, self.format).map_or(0, |h| h.payload_count())
    }

    fn start_inner(&mut self, member: Member, name: &str, kind: Compression) -> Result<(), Error> {
        let decoder =
            Decoder::new(kind, &self.codec_limits).map_err(|e| Error::Codec(path(name), e))?;
        if matches!(member, Member::Header | Member::HeaderAugment) {
            if self.manifest.find(name).is_none() {
                return Err(Error::ChecksumMissing(path(name)));
            }
            self.hasher = Sha256::new();
        }
        self.inner = Some(Inner {
            member,
            name: path(name),
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

    fn end_member(&mut self) -> Result<Option<Raw>, Error> {
        match self.member.take() {
            Some(Member::Version) => {
                self.format = meta::parse_version(&self.small)?;
                self.version_sha = Sha256::digest(&self.small).into();
                self.small.clear();
                self.stage = Stage::Manifest;
            }
            Some(Member::Manifest) => {
                self.manifest = Manifest::parse(&self.manifest_raw).map_err(Error::Manifest)?;
                let entry = self
                    .manifest
                    .find("version")
                    .ok_or_else(|| Error::ChecksumMissing(path("version")))?;
                if entry.sha256 != self.version_sha {
                    return Err(Error::Checksum {
                        file: path("version"),
                        expected: entry.sha256,
                        actual: self.version_sha,
                    });
                }
                self.manifest.mark_seen("version");
                self.stage = Stage::AfterManifest;
            }
            Some(Member::Signature) => {
                let mut sig = [0u8; MAX_SIGNATURE_LEN];
                let n = decode_base64(&self.small, &mut sig).map_err(Error::Signature)?;
                self.signature = match self.verifier {
                    Some(v) => {
                        v.verify(&self.manifest_raw, &sig[..n])
                            .map_err(Error::Signature)?;
                        SignatureStatus::Verified
                    }
                    None => SignatureStatus::Present,
                };
                self.small.clear();
                self.stage = Stage::AfterSig;
            }
            Some(Member::ManifestAugment) => {
                let augment = Manifest::parse(&self.manifest_raw).map_err(Error::Manifest)?;
                self.manifest.merge(&augment).map_err(Error::Manifest)?;
                self.manifest_raw.clear();
                self.augmented = true;
                self.stage = Stage::AfterAugment;
            }
            Some(m @ (Member::Header | Member::HeaderAugment | Member::Data(_))) => {
                if m == Member::Header {
                    self.stage = Stage::Header;
                }
                match &mut self.inner {
                    Some(inner) => inner.draining = true,
                    None => return Err(Error::Invalid("reader: internal state")),
                }
                return Ok(None);
            }
            None => {}
        }
        Ok(None)
    }

    /// The decoder and inner tar are done: close the header or data member.
    fn finish_inner(&mut self) -> Result<Option<Raw>, Error> {
        let Some(inner) = self.inner.take() else {
            return Ok(None);
        };
        if !inner.tar.at_boundary() {
            return Err(Error::InnerTar(inner.name, TarError::Truncated));
        }
        match inner.member {
            Member::Header => {
                if !self.has_header_info {
                    return Err(Error::Invalid(
                        "readHeader: invalid argument: the header has no header-info",
                    ));
                }
                if self.format == 3 && !self.has_type_info {
                    return Err(Error::Invalid("header: headers/0000/type-info is missing"));
                }
                if self.format == 2 && !self.has_files_doc {
                    return Err(Error::Invalid("header: headers/0000/files is missing"));
                }
                self.verify_header_sum(&inner.name)?;
                if self.augmented {
                    self.stage = Stage::HeaderAugment;
                    return Ok(None);
                }
                self.stage = Stage::Data;
                Ok(Some(Raw::HeaderParsed))
            }
            Member::HeaderAugment => {
                if !self.has_augment_header_info || !self.has_augment_type_info {
                    return Err(Error::Invalid(
                        "header-augment: header-info and headers/0000/type-info are required",
                    ));
                }
                self.verify_header_sum(&inner.name)?;
                self.check_augment_conflicts()?;
                self.stage = Stage::Data;
                Ok(Some(Raw::HeaderParsed))
            }
            _ => Ok(None),
        }
    }

    /// Compares the hash of the (compressed) header member just read with the manifest.
    fn verify_header_sum(&mut self, name: &PathString) -> Result<(), Error> {
        let actual: [u8; 32] = core::mem::take(&mut self.hasher).finalize().into();
        let entry = self
            .manifest
            .find(name)
            .ok_or_else(|| Error::ChecksumMissing(name.clone()))?;
        if entry.sha256 != actual {
            return Err(Error::Checksum {
                file: name.clone(),
                expected: entry.sha256,
                actual,
            });
        }
        self.manifest.mark_seen(name);
        Ok(())
    }

    /// The augment may add provides, depends and meta-data keys, never change existing ones
    /// (the official reader's merge fails on conflicting keys).
    fn check_augment_conflicts(&self) -> Result<(), Error> {
        let (Some(orig), Some(aug)) = (
            TypeInfo::new(&self.type_info),
            TypeInfo::new(&self.augment_type_info),
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
        let keys = |raw: &'_ [u8]| -> Vec<meta::Key, MAX_PROVIDES> {
            crate::json::Value::of(raw)
                .map(|v| {
                    v.members()
                        .filter_map(|(k, _)| k.string().ok())
                        .take(MAX_PROVIDES)
                        .collect()
                })
                .unwrap_or_default()
        };
        if self.has_meta_data && self.has_augment_meta_data {
            let orig_keys = keys(&self.meta_data);
            for k in keys(&self.augment_meta_data) {
                if orig_keys.contains(&k) {
                    return Err(Error::ConflictingKey("meta-data", k));
                }
            }
        }
        Ok(())
    }

    fn end_archive(&mut self) -> Result<Raw, Error> {
        if self.stage != Stage::Data {
            return Err(Error::MissingFields);
        }
        let mut missing: String<512> = String::new();
        for e in self.manifest.entries().iter().filter(|e| !e.seen) {
            if !missing.is_empty() && missing.push(' ').is_err() {
                break;
            }
            if missing.push_str(&e.path).is_err() {
                break;
            }
        }
        let rootfs = HeaderInfo::new(&self.header_info, self.format)
            .and_then(|h| h.payload_type(0))
            .is_some_and(|t| t == "rootfs-image");
        if rootfs && self.files.len() != 1 && missing.is_empty() {
            return Err(Error::Invalid(
                "Rootfs: Must provide exactly one update file",
            ));
        }
        if !missing.is_empty() {
            return Err(Error::NotInArtifact(missing));
        }
        self.stage = Stage::Done;
        Ok(Raw::Complete)
    }

    /// Runs the inner tar over decoded bytes. Returns bytes used and maybe an event whose data
    /// range is relative to `bytes`.
    fn inner_step(&mut self, bytes: &[u8]) -> Result<(usize, Option<Raw>), Error> {
        let mut used = 0;
        loop {
            let Some(inner) = &mut self.inner else {
                return Ok((used, None));
            };
            let (n, ev) = inner
                .tar
                .step(&bytes[used..])
                .map_err(|e| Error::InnerTar(inner.name.clone(), e))?;
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
                    match target {
                        Target::Skip => {}
                        Target::HeaderInfo => push_limited(
                            &mut self.header_info,
                            data,
                            "header-info",
                            limit!(MAX_HEADER_INFO_SIZE),
                        )?,
                        Target::TypeInfo => push_limited(
                            &mut self.type_info,
                            data,
                            "type-info",
                            limit!(MAX_TYPE_INFO_SIZE),
                        )?,
                        Target::MetaData => push_limited(
                            &mut self.meta_data,
                            data,
                            "meta-data",
                            limit!(MAX_META_DATA_SIZE),
                        )?,
                        Target::AugmentHeaderInfo => push_limited(
                            &mut self.manifest_raw,
                            data,
                            "header-augment header-info",
                            limit!(MAX_MANIFEST_SIZE),
                        )?,
                        Target::AugmentTypeInfo => push_limited(
                            &mut self.augment_type_info,
                            data,
                            "header-augment type-info",
                            limit!(MAX_TYPE_INFO_SIZE),
                        )?,
                        Target::AugmentMetaData => push_limited(
                            &mut self.augment_meta_data,
                            data,
                            "header-augment meta-data",
                            limit!(MAX_META_DATA_SIZE),
                        )?,
                        Target::Files => push_limited(
                            &mut self.files_doc,
                            data,
                            "files",
                            limit!(MAX_FILES_DOC_SIZE),
                        )?,
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

    fn inner_entry(&mut self) -> Result<Option<Raw>, Error> {
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
                    return Err(Error::Invalid(
                        "readHeader: invalid argument: header-info must be the first header entry",
                    ));
                }
                if entry.kind() == EntryKind::Directory {
                    inner.target = Target::Skip;
                    return Ok(None);
                }
                if entry.kind() != EntryKind::File {
                    return Err(Error::UnsupportedHeaderFile(entry.path.clone()));
                }
                let target = if p == "header-info" {
                    if self.has_header_info {
                        return Err(Error::UnsupportedHeaderFile(entry.path.clone()));
                    }
                    self.has_header_info = true;
                    Target::HeaderInfo
                } else if let Some(script) = p.strip_prefix("scripts/") {
                    // Scripts come right after header-info; mender-artifact 3.9 also writes
                    // them into format-2 headers.
                    if self.has_type_info || self.has_files_doc || script.contains('/') {
                        return Err(Error::UnsupportedHeaderFile(entry.path.clone()));
                    }
                    let name = String::try_from(script).map_err(|_| {
                        Error::Limit("state script name", limit!(MAX_SCRIPT_NAME_LEN))
                    })?;
                    self.scripts
                        .push(name)
                        .map_err(|_| Error::Limit("state scripts", limit!(MAX_SCRIPTS)))?;
                    Target::Skip
                } else if let Some(rest) = p.strip_prefix("headers/") {
                    let (num, file) = rest
                        .split_once('/')
                        .ok_or_else(|| Error::UnsupportedHeaderFile(entry.path.clone()))?;
                    let index: usize = if num.len() == 4 && num.bytes().all(|c| c.is_ascii_digit())
                    {
                        num.parse().unwrap_or(usize::MAX)
                    } else {
                        usize::MAX
                    };
                    if index >= self.payload_count() {
                        return Err(Error::Invalid(
                            "header: headers/NNNN entry without a payload in header-info",
                        ));
                    }
                    let empty_payload = HeaderInfo::new(&self.header_info, self.format)
                        .is_some_and(|h| h.payload_type(index).is_none());
                    match (file, self.format) {
                        ("type-info", _) if !self.has_type_info => {
                            self.has_type_info = true;
                            Target::TypeInfo
                        }
                        ("meta-data", _) if !self.has_meta_data && !empty_payload => {
                            self.has_meta_data = true;
                            Target::MetaData
                        }
                        ("files", 2) if !self.has_files_doc => {
                            self.has_files_doc = true;
                            Target::Files
                        }
                        _ => return Err(Error::UnsupportedHeaderFile(entry.path.clone())),
                    }
                } else {
                    return Err(Error::UnsupportedHeaderFile(entry.path.clone()));
                };
                if let Some(inner) = &mut self.inner {
                    inner.target = target;
                }
                Ok(None)
            }
            Member::HeaderAugment => {
                if first && p != "header-info" {
                    return Err(Error::Invalid(
                        "readHeader: invalid argument: header-info must be the first header-augment entry",
                    ));
                }
                let target = match p {
                    _ if entry.kind() == EntryKind::Directory => Target::Skip,
                    _ if entry.kind() != EntryKind::File => {
                        return Err(Error::UnsupportedHeaderFile(entry.path.clone()))
                    }
                    "header-info" if !self.has_augment_header_info => {
                        self.has_augment_header_info = true;
                        // The signed manifest is no longer needed: its buffer holds the
                        // augment's header-info while it is checked.
                        self.manifest_raw.clear();
                        Target::AugmentHeaderInfo
                    }
                    "headers/0000/type-info" if !self.has_augment_type_info => {
                        self.has_augment_type_info = true;
                        Target::AugmentTypeInfo
                    }
                    "headers/0000/meta-data" if !self.has_augment_meta_data => {
                        self.has_augment_meta_data = true;
                        Target::AugmentMetaData
                    }
                    _ => return Err(Error::UnsupportedHeaderFile(entry.path.clone())),
                };
                if let Some(inner) = &mut self.inner {
                    inner.target = target;
                }
                Ok(None)
            }
            Member::Data(index) => {
                if entry.kind() != EntryKind::File {
                    return Err(Error::Invalid(
                        "Payload: data tar holds an entry that is not a regular file",
                    ));
                }
                if !is_allowed_name(p) {
                    return Err(Error::ForbiddenFileName(entry.path.clone()));
                }
                let name: String<MAX_FILE_NAME_LEN> = String::try_from(p)
                    .map_err(|_| Error::Limit("payload file name", limit!(MAX_FILE_NAME_LEN)))?;
                let h = HeaderInfo::new(&self.header_info, self.format);
                if h.is_some_and(|h| h.payload_type(usize::from(index)).is_none()) {
                    return Err(Error::Invalid(
                        "Empty Payload Artifacts cannot have a payload",
                    ));
                }
                if self.format == 2 && !meta::files_lists(&self.files_doc, &name) {
                    return Err(Error::DataFileNotFound(entry.path.clone()));
                }
                let mut mpath: String<MAX_MANIFEST_PATH_LEN> = String::new();
                let _ = core::fmt::write(&mut mpath, format_args!("data/{:04}/{}", index, name));
                match self.manifest.find(&mpath) {
                    None => return Err(Error::DataFileNotFound(entry.path.clone())),
                    Some(e) if e.seen => {
                        return Err(Error::Invalid("Payload: the same data file appears twice"))
                    }
                    Some(_) => {}
                }
                self.files
                    .push(PayloadFile {
                        payload: index,
                        name,
                        size: entry.size,
                        sha256: [0; 32],
                    })
                    .map_err(|_| Error::Limit("payload files", limit!(MAX_PAYLOAD_FILES)))?;
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

    fn inner_entry_end(&mut self) -> Result<Option<Raw>, Error> {
        let Some(inner) = &mut self.inner else {
            return Ok(None);
        };
        let target = core::mem::replace(&mut inner.target, Target::Skip);
        match target {
            Target::Skip => {}
            Target::HeaderInfo => meta::validate_header_info(&self.header_info, self.format)?,
            Target::TypeInfo => {
                if self.format == 3 {
                    let t = HeaderInfo::new(&self.header_info, self.format)
                        .and_then(|h| h.payload_type(0));
                    meta::validate_type_info(&self.type_info, t.as_deref())?;
                }
            }
            Target::MetaData => meta::validate_meta_data(&self.meta_data)?,
            Target::AugmentHeaderInfo => meta::validate_header_info(&self.manifest_raw, 3)?,
            Target::AugmentTypeInfo => {
                let t = HeaderInfo::new(&self.manifest_raw, 3).and_then(|h| h.payload_type(0));
                meta::validate_type_info(&self.augment_type_info, t.as_deref())?;
            }
            Target::AugmentMetaData => meta::validate_meta_data(&self.augment_meta_data)?,
            Target::Files => meta::validate_files(&self.files_doc)?,
            Target::Payload(i) => {
                let actual: [u8; 32] = core::mem::take(&mut self.hasher).finalize().into();
                let f = self
                    .files
                    .get_mut(i)
                    .ok_or(Error::Invalid("reader: internal file index"))?;
                let mut mpath: String<MAX_MANIFEST_PATH_LEN> = String::new();
                let _ =
                    core::fmt::write(&mut mpath, format_args!("data/{:04}/{}", f.payload, f.name));
                let expected = self
                    .manifest
                    .find(&mpath)
                    .map(|e| e.sha256)
                    .ok_or_else(|| Error::DataFileNotFound(path(&f.name)))?;
                if expected != actual {
                    return Err(Error::PayloadChecksum {
                        file: path(&f.name),
                        expected,
                        actual,
                    });
                }
                f.sha256 = actual;
                self.manifest.mark_seen(&mpath);
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
    if !num.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let kind = Compression::from_suffix(suffix.strip_prefix(".tar")?)?;
    Some((num.parse().ok()?, kind))
}
