//! The JSON documents of an Artifact: `version`, `header-info` (format 3 and 2), `type-info`,
//! `meta-data` and format 2 `files` (../shared/spec/artifact-format.md §2).
//!
//! Documents are validated once when they arrive (shape, required fields, every capacity in
//! [`crate::limits`]) and then kept as raw bytes; the accessors here decode values on demand
//! into heapless types. That keeps the reader's RAM at the size of the documents instead of
//! the worst case of every list at full capacity.
use crate::json::{self, JsonError, Kind, Value};
use crate::limits::*;
use crate::stop::{parked, stop, Stop};
use crate::text::Brief;
use core::fmt;
use heapless::String;

/// Format 2 Artifacts are read only with the feature `format-v2` (default, and part of `std`);
/// without it the reader refuses them after `version`, and their rules here compile away.
pub(crate) const FORMAT_V2: bool = cfg!(feature = "format-v2");

/// Artifact name or group.
pub type Name = String<MAX_ARTIFACT_NAME_LEN>;
/// A provides/depends key.
pub type Key = String<MAX_KEY_LEN>;
/// A provides/depends value, or a clears glob.
pub type Text = String<MAX_VALUE_LEN>;
/// A device type.
pub type DeviceType = String<MAX_DEVICE_TYPE_LEN>;
/// A payload type such as `rootfs-image`.
pub type PayloadType = String<MAX_KEY_LEN>;

/// Which document a [`MetaError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Doc {
    Version,
    HeaderInfo,
    TypeInfo,
    MetaData,
    Files,
}

impl Doc {
    /// The document's file name in the Artifact.
    pub const fn name(self) -> &'static str {
        match self {
            Doc::Version => "version",
            Doc::HeaderInfo => "header-info",
            Doc::TypeInfo => "type-info",
            Doc::MetaData => "meta-data",
            Doc::Files => "files",
        }
    }
}

impl fmt::Display for Doc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A fixed capacity that an input exceeded: the constant's name and value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub name: &'static str,
    pub max: usize,
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "exceeds the limit {} ({})", self.name, self.max)
    }
}

macro_rules! limit {
    ($c:ident) => {
        Limit {
            name: stringify!($c),
            max: $c,
        }
    };
}
pub(crate) use limit;

/// A document that is not what the format allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetaError {
    /// Not valid JSON (bad syntax, bad escape, too deep).
    Json(Doc, JsonError),
    /// A field that the official reader refuses as unknown.
    UnknownField(Doc, String<MAX_KEY_LEN>),
    /// A field has the wrong JSON type.
    WrongType(Doc, &'static str),
    /// A value exceeds a capacity.
    Limit(Doc, &'static str, Limit),
    /// A rule of the format, with the official message where there is one.
    Invalid(&'static str),
    /// A key appears twice in one object.
    Duplicate(Doc, &'static str, String<MAX_KEY_LEN>),
    /// `version` names a version this reader does not read.
    UnsupportedVersion(u32),
    /// `version` has a format other than `mender`.
    UnsupportedFormat(String<32>),
}

impl MetaError {
    /// The error in a few fixed words and the key it carries, without `core::fmt`.
    pub fn brief(&self) -> Brief<'_> {
        match self {
            MetaError::Json(d, e) => Brief::new(d.name(), e.name(), ""),
            MetaError::UnknownField(d, k) => Brief::new(d.name(), "unknown field", k),
            MetaError::WrongType(d, field) => Brief::new(d.name(), "wrong JSON type", field),
            MetaError::Limit(d, what, l) => Brief::new(d.name(), l.name, what),
            MetaError::Invalid(msg) => Brief::only(msg),
            MetaError::Duplicate(d, _, k) => Brief::new(d.name(), "duplicate key", k),
            MetaError::UnsupportedVersion(_) => Brief::new("version", "unsupported version", ""),
            MetaError::UnsupportedFormat(f) => Brief::new("version", "unsupported format", f),
        }
    }
}

impl fmt::Display for MetaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetaError::Json(Doc::Version, _) => {
                f.write_str("reader: can not read version file: invalid JSON")
            }
            MetaError::Json(d, JsonError::TooDeep) => {
                write!(
                    f,
                    "{}: JSON nesting exceeds the limit MAX_JSON_DEPTH ({})",
                    d, MAX_JSON_DEPTH
                )
            }
            MetaError::Json(d, _) => {
                write!(f, "Could not parse header element {}: invalid JSON", d)
            }
            MetaError::UnknownField(Doc::Version, k) => {
                write!(
                    f,
                    "reader: can not read version file: json: unknown field \"{}\"",
                    k
                )
            }
            MetaError::UnknownField(d, k) => {
                write!(
                    f,
                    "Could not parse header element {}: json: unknown field \"{}\"",
                    d, k
                )
            }
            MetaError::WrongType(d, field) => {
                write!(f, "{}: field '{}' has the wrong JSON type", d, field)
            }
            MetaError::Limit(d, what, l) => write!(f, "{}: {} {}", d, what, l),
            MetaError::Invalid(msg) => f.write_str(msg),
            MetaError::Duplicate(d, what, k) => {
                write!(f, "{}: duplicate key \"{}\" in {}", d, k, what)
            }
            MetaError::UnsupportedVersion(1) => {
                f.write_str("reader: Mender-Artifact version 1 is no longer supported")
            }
            MetaError::UnsupportedVersion(v) => write!(f, "reader: unsupported version: {}", v),
            MetaError::UnsupportedFormat(s) => {
                write!(
                    f,
                    "The client only understands the 'mender' Artifact type. Got format: {}",
                    s
                )
            }
        }
    }
}

/// Where a validation parks its error (`crate::stop`).
type Slot = Option<MetaError>;

/// Reported if a validation stopped without parking an error (a bug).
const LOST: &str = "meta: internal: stopped without an error";

fn doc_value<'a>(doc: Doc, raw: &'a [u8], s: &mut Slot) -> Result<Value<'a>, Stop> {
    let v = Value::of(raw).map_err(|e| stop(s, MetaError::Json(doc, e)))?;
    if v.kind != Kind::Object {
        return Err(stop(s, MetaError::WrongType(doc, "<top level>")));
    }
    Ok(v)
}

fn key_of(doc: Doc, k: &Value<'_>, s: &mut Slot) -> Result<String<MAX_KEY_LEN>, Stop> {
    k.string()
        .map_err(|_| stop(s, MetaError::Limit(doc, "a key", limit!(MAX_KEY_LEN))))
}

/// A string of at most `l.max` bytes. Limits come by reference: `&limit!(..)` is a promoted
/// static, so a call passes one address instead of building the `Limit` on the stack.
fn check_string(
    doc: Doc,
    field: &'static str,
    v: &Value<'_>,
    l: &Limit,
    s: &mut Slot,
) -> Result<(), Stop> {
    if v.kind != Kind::String {
        return Err(stop(s, MetaError::WrongType(doc, field)));
    }
    v.check_string(l.max).map_err(|e| match e {
        JsonError::Type => stop(s, MetaError::Limit(doc, field, *l)),
        e => stop(s, MetaError::Json(doc, e)),
    })
}

/// A list of at most `count.max` strings as [`check_string`] takes them; returns the count.
fn check_string_list(
    doc: Doc,
    field: &'static str,
    v: &Value<'_>,
    count: &Limit,
    len: &Limit,
    s: &mut Slot,
) -> Result<usize, Stop> {
    if v.kind != Kind::Array {
        return Err(stop(s, MetaError::WrongType(doc, field)));
    }
    let mut n = 0;
    for e in v.elements() {
        n += 1;
        if n > count.max {
            return Err(stop(s, MetaError::Limit(doc, field, *count)));
        }
        check_string(doc, field, &e, len, s)?;
    }
    Ok(n)
}

fn member<'a>(v: &Value<'a>, name: &str) -> Option<Value<'a>> {
    // The key as written, quotes and all, is `"name"`.
    let quoted = |k: &[u8]| {
        k.len() == name.len() + 2 && k.get(1..).is_some_and(|k| k.starts_with(name.as_bytes()))
    };
    v.members().find(|(k, _)| quoted(k.raw)).map(|(_, v)| v)
}

/// Stands in for an absent value: it has no members and no elements, so an accessor iterates
/// `v.unwrap_or(NONE)` instead of flattening an `Option` (an iterator adapter less).
const NONE: Value<'static> = Value {
    kind: Kind::Null,
    raw: b"",
};

/// The elements of `list` that are strings of at most `N` bytes, in order (none without a
/// list).
fn strings<'a, const N: usize>(list: Option<Value<'a>>) -> impl Iterator<Item = String<N>> + 'a {
    strings_in(list.unwrap_or(NONE).elements())
}

/// The strings of at most `N` bytes among `e`. The list accessors share it: one iterator type,
/// so one copy of its code, per capacity.
fn strings_in<const N: usize>(e: json::Elements<'_>) -> impl Iterator<Item = String<N>> + '_ {
    e.filter_map(|e| e.string().ok())
}

fn no_duplicate_keys(
    doc: Doc,
    v: &Value<'_>,
    what: &'static str,
    s: &mut Slot,
) -> Result<(), Stop> {
    for (k, _) in v.members() {
        // The keys before `k`: up to `k` itself, found by where it starts in the document.
        for (other, _) in v.members() {
            if other.raw.as_ptr() == k.raw.as_ptr() {
                break;
            }
            if other.raw == k.raw {
                let key = key_of(doc, &k, s)?;
                return Err(stop(s, MetaError::Duplicate(doc, what, key)));
            }
        }
    }
    Ok(())
}

/// The `version` member: returns the format version (2 or 3).
#[inline(never)] // inlined into the reader's steps, it costs flash on Cortex-M
pub fn parse_version(raw: &[u8]) -> Result<u32, MetaError> {
    parked(MetaError::Invalid(LOST), |s| version_in(raw, s))
}

fn version_in(raw: &[u8], s: &mut Slot) -> Result<u32, Stop> {
    let v = doc_value(Doc::Version, raw, s)?;
    let mut format: Option<String<32>> = None;
    let mut version: Option<u32> = None;
    for (k, val) in v.members() {
        let key = key_of(Doc::Version, &k, s)?;
        match key.as_str() {
            "format" => {
                format = Some(
                    val.string()
                        .map_err(|_| stop(s, MetaError::WrongType(Doc::Version, "format")))?,
                )
            }
            "version" => {
                version = Some(
                    val.u32()
                        .map_err(|_| stop(s, MetaError::WrongType(Doc::Version, "version")))?,
                )
            }
            _ => return Err(stop(s, MetaError::UnknownField(Doc::Version, key))),
        }
    }
    let version = version.ok_or_else(|| stop(s, MetaError::WrongType(Doc::Version, "version")))?;
    if version != 2 && version != 3 {
        return Err(stop(s, MetaError::UnsupportedVersion(version)));
    }
    match format {
        Some(f) if f == "mender" => Ok(version),
        Some(f) => Err(stop(s, MetaError::UnsupportedFormat(f))),
        None => Err(stop(s, MetaError::UnsupportedFormat(String::new()))),
    }
}

/// Validated `header-info` (format 2 or 3), kept raw.
#[derive(Debug, Clone, Copy)]
pub struct HeaderInfo<'a> {
    v: Value<'a>,
    format: u32,
}

/// Validates a `header-info` document of the given format version.
#[inline(never)] // inlined into the reader's steps, it costs flash on Cortex-M
pub fn validate_header_info(raw: &[u8], format: u32) -> Result<(), MetaError> {
    parked(MetaError::Invalid(LOST), |s| header_info_in(raw, format, s))
}

fn header_info_in(raw: &[u8], format: u32, s: &mut Slot) -> Result<(), Stop> {
    const D: Doc = Doc::HeaderInfo;
    let v = doc_value(D, raw, s)?;
    no_duplicate_keys(D, &v, "header-info", s)?;
    let (payloads_key, name_ok, devices) = if !FORMAT_V2 || format == 3 {
        let mut payloads = None;
        let mut provides = None;
        let mut depends = None;
        for (k, val) in v.members() {
            let key = key_of(D, &k, s)?;
            match key.as_str() {
                "payloads" => payloads = Some(val),
                "artifact_provides" => provides = Some(val),
                "artifact_depends" => depends = Some(val),
                _ => return Err(stop(s, MetaError::UnknownField(D, key))),
            }
        }
        let provides = provides.ok_or_else(|| {
            stop(
                s,
                MetaError::Invalid("header-info: artifact_provides is missing"),
            )
        })?;
        if provides.kind != Kind::Object {
            return Err(stop(s, MetaError::WrongType(D, "artifact_provides")));
        }
        let mut has_name = false;
        for (k, val) in provides.members() {
            let key = key_of(D, &k, s)?;
            match key.as_str() {
                "artifact_name" => {
                    check_string(D, "artifact_name", &val, &limit!(MAX_ARTIFACT_NAME_LEN), s)?;
                    has_name = true;
                }
                "artifact_group" => {
                    check_string(D, "artifact_group", &val, &limit!(MAX_ARTIFACT_NAME_LEN), s)?
                }
                _ => return Err(stop(s, MetaError::UnknownField(D, key))),
            }
        }
        let mut devices = None;
        if let Some(dep) = depends {
            if dep.kind != Kind::Object {
                return Err(stop(s, MetaError::WrongType(D, "artifact_depends")));
            }
            no_duplicate_keys(D, &dep, "artifact_depends", s)?;
            for (k, val) in dep.members() {
                let key = key_of(D, &k, s)?;
                match key.as_str() {
                    "device_type" => devices = Some(val),
                    "artifact_name" | "artifact_group" => {
                        check_string_list(
                            D,
                            "artifact_depends",
                            &val,
                            &limit!(MAX_DEPENDS_NAMES),
                            &limit!(MAX_ARTIFACT_NAME_LEN),
                            s,
                        )?;
                    }
                    // Go's ArtifactDepends unmarshaller ignores other keys.
                    _ => {}
                }
            }
        }
        (payloads, has_name, devices)
    } else {
        let mut updates = None;
        let mut has_name = false;
        let mut devices = None;
        // Format 2's header-info has its own unmarshaller in Go: unknown keys are ignored.
        for (k, val) in v.members() {
            let key = key_of(D, &k, s)?;
            match key.as_str() {
                "updates" => updates = Some(val),
                "artifact_name" => {
                    check_string(D, "artifact_name", &val, &limit!(MAX_ARTIFACT_NAME_LEN), s)?;
                    has_name = true;
                }
                "device_types_compatible" => devices = Some(val),
                _ => {}
            }
        }
        (updates, has_name, devices)
    };
    if !name_ok {
        return Err(stop(
            s,
            MetaError::Invalid("header-info: artifact_name is missing"),
        ));
    }
    let devices = devices.ok_or_else(|| {
        stop(
            s,
            MetaError::Invalid("Invalid Artifact. No 'device-type' found."),
        )
    })?;
    let n = check_string_list(
        D,
        "device_type",
        &devices,
        &limit!(MAX_DEVICE_TYPES),
        &limit!(MAX_DEVICE_TYPE_LEN),
        s,
    )?;
    if n == 0 {
        return Err(stop(
            s,
            MetaError::Invalid("Invalid Artifact. No 'device-type' found."),
        ));
    }
    let payloads = payloads_key
        .ok_or_else(|| stop(s, MetaError::Invalid("header-info: payloads is missing")))?;
    if payloads.kind != Kind::Array {
        return Err(stop(s, MetaError::WrongType(D, "payloads")));
    }
    let mut count = 0;
    for p in payloads.elements() {
        count += 1;
        if count > MAX_PAYLOADS {
            return Err(stop(s, MetaError::Invalid(
                "Artifacts with more than one payload are not supported yet! (MAX_PAYLOADS is 1)",
            )));
        }
        if p.kind != Kind::Object {
            return Err(stop(s, MetaError::WrongType(D, "payloads")));
        }
        match member(&p, "type") {
            Some(t) if t.kind == Kind::Null && (!FORMAT_V2 || format == 3) => {}
            Some(t) => {
                check_string(D, "type", &t, &limit!(MAX_KEY_LEN), s)?;
                if t.raw == b"\"\"" {
                    return Err(stop(s, MetaError::Invalid("Unexpected empty Payload type")));
                }
            }
            None => {
                return Err(stop(
                    s,
                    MetaError::Invalid("header-info: payload type is missing"),
                ))
            }
        }
    }
    if count == 0 {
        return Err(stop(s, MetaError::Invalid("header-info: no payloads")));
    }
    Ok(())
}

impl<'a> HeaderInfo<'a> {
    /// Wraps a document that [`validate_header_info`] accepted.
    pub fn new(raw: &'a [u8], format: u32) -> Option<Self> {
        Some(HeaderInfo {
            v: Value::of(raw).ok()?,
            format,
        })
    }

    fn provides(&self) -> Option<Value<'a>> {
        if !FORMAT_V2 || self.format == 3 {
            member(&self.v, "artifact_provides")
        } else {
            Some(self.v)
        }
    }

    fn depends(&self) -> Option<Value<'a>> {
        if !FORMAT_V2 || self.format == 3 {
            member(&self.v, "artifact_depends")
        } else {
            None
        }
    }

    /// The Artifact name.
    pub fn name(&self) -> Name {
        self.provides()
            .and_then(|p| member(&p, "artifact_name"))
            .and_then(|n| n.string().ok())
            .unwrap_or_default()
    }

    /// The Artifact group, if any.
    pub fn group(&self) -> Option<Name> {
        if FORMAT_V2 && self.format != 3 {
            return None;
        }
        self.provides()
            .and_then(|p| member(&p, "artifact_group"))
            .and_then(|n| n.string().ok())
    }

    /// Compatible device types, in document order.
    pub fn device_types(&self) -> impl Iterator<Item = DeviceType> + 'a {
        let list = if !FORMAT_V2 || self.format == 3 {
            self.depends().and_then(|d| member(&d, "device_type"))
        } else {
            member(&self.v, "device_types_compatible")
        };
        strings(list)
    }

    /// `artifact_depends.artifact_name` (the installed Artifact must be one of these).
    pub fn depends_names(&self) -> Option<impl Iterator<Item = Name> + 'a> {
        self.depends_list("artifact_name")
    }

    /// `artifact_depends.artifact_group`.
    pub fn depends_groups(&self) -> Option<impl Iterator<Item = Name> + 'a> {
        self.depends_list("artifact_group")
    }

    /// The names in `artifact_depends.<key>`, if there is such a list.
    fn depends_list(&self, key: &str) -> Option<impl Iterator<Item = Name> + 'a> {
        let l = self.depends().and_then(|d| member(&d, key))?;
        Some(strings(Some(l)))
    }

    /// The type of payload `index` (`None` for an empty payload).
    pub fn payload_type(&self, index: usize) -> Option<PayloadType> {
        let p = self.payloads().nth(index)?;
        member(&p, "type")?.string().ok()
    }

    /// Number of payloads.
    pub fn payload_count(&self) -> usize {
        self.payloads().count()
    }

    /// The payload list (format 2: `updates`).
    fn payloads(&self) -> json::Elements<'a> {
        let key = if !FORMAT_V2 || self.format == 3 {
            "payloads"
        } else {
            "updates"
        };
        member(&self.v, key).unwrap_or(NONE).elements()
    }
}

/// Checks type-info's `artifact_provides` or (`depends`) `artifact_depends`: an object, no
/// duplicate keys, at most [`MAX_PROVIDES`] keys of bounded length, and bounded string values
/// (depends values may also be lists of them: any-of).
fn provides_or_depends(obj: &Value<'_>, depends: bool, s: &mut Slot) -> Result<(), Stop> {
    const D: Doc = Doc::TypeInfo;
    let what = if depends {
        "artifact_depends"
    } else {
        "artifact_provides"
    };
    if obj.kind != Kind::Object {
        return Err(stop(s, MetaError::WrongType(D, what)));
    }
    no_duplicate_keys(D, obj, what, s)?;
    for (n, (k, v)) in obj.members().enumerate() {
        if n >= MAX_PROVIDES {
            return Err(stop(s, MetaError::Limit(D, what, limit!(MAX_PROVIDES))));
        }
        key_of(D, &k, s)?;
        match v.kind {
            Kind::String => check_string(D, what, &v, &limit!(MAX_VALUE_LEN), s)?,
            Kind::Array if depends => {
                let count = &limit!(MAX_DEPENDS_VALUES);
                check_string_list(D, what, &v, count, &limit!(MAX_VALUE_LEN), s)?;
            }
            _ if depends => return Err(stop(s, MetaError::WrongType(D, what))),
            _ => {
                return Err(stop(
                    s,
                    MetaError::Invalid("error reading type-info: Invalid TypeInfo provides type"),
                ))
            }
        }
    }
    Ok(())
}

/// Validates a format-3 `type-info` against the payload type from header-info.
#[inline(never)] // inlined into the reader's steps, it costs flash on Cortex-M
pub fn validate_type_info(raw: &[u8], header_type: Option<&str>) -> Result<(), MetaError> {
    parked(MetaError::Invalid(LOST), |s| {
        type_info_in(raw, header_type, s)
    })
}

fn type_info_in(raw: &[u8], header_type: Option<&str>, s: &mut Slot) -> Result<(), Stop> {
    const D: Doc = Doc::TypeInfo;
    let v = doc_value(D, raw, s)?;
    no_duplicate_keys(D, &v, "type-info", s)?;
    for (k, val) in v.members() {
        let key = key_of(D, &k, s)?;
        match key.as_str() {
            "type" => {
                let t: Option<PayloadType> =
                    match val.kind {
                        Kind::Null => None,
                        Kind::String => Some(val.string().map_err(|_| {
                            stop(s, MetaError::Limit(D, "type", limit!(MAX_KEY_LEN)))
                        })?),
                        _ => return Err(stop(s, MetaError::WrongType(D, "type"))),
                    };
                // mender-artifact 3.3.0-4.3.0 write "" for rootfs-image (spec §2.5): tolerated.
                let ok = match (t.as_deref(), header_type) {
                    (Some(""), Some("rootfs-image")) => true,
                    (a, b) => a == b,
                };
                if !ok {
                    return Err(stop(
                        s,
                        MetaError::Invalid("Type in type-info header does not match header-info"),
                    ));
                }
            }
            "artifact_provides" => provides_or_depends(&val, false, s)?,
            "artifact_depends" => provides_or_depends(&val, true, s)?,
            "clears_artifact_provides" if val.kind != Kind::Null => {
                check_string_list(
                    D,
                    "clears_artifact_provides",
                    &val,
                    &limit!(MAX_CLEARS),
                    &limit!(MAX_VALUE_LEN),
                    s,
                )?;
            }
            // Unknown type-info keys are ignored by the official reader.
            _ => {}
        }
    }
    Ok(())
}

/// A depends value: one string or a list (any-of).
#[derive(Debug, Clone, Copy)]
pub enum DependValue<'a> {
    One(Value<'a>),
    AnyOf(Value<'a>),
}

impl<'a> DependValue<'a> {
    /// All accepted values (one for a plain string).
    #[inline(never)] // inlined into provides.rs's checks, it costs flash on Cortex-M
    pub fn values(&self) -> impl Iterator<Item = Text> + 'a {
        strings_in(match self {
            DependValue::One(v) => v.alone(),
            DependValue::AnyOf(l) => l.elements(),
        })
    }

    pub fn is_list(&self) -> bool {
        matches!(self, DependValue::AnyOf(_))
    }
}

/// Validated `type-info`, kept raw.
#[derive(Debug, Clone, Copy)]
pub struct TypeInfo<'a> {
    v: Value<'a>,
}

impl<'a> TypeInfo<'a> {
    #[inline(never)] // inlined into the reader's steps, it costs flash on Cortex-M
    pub fn new(raw: &'a [u8]) -> Option<Self> {
        Some(TypeInfo {
            v: Value::of(raw).ok()?,
        })
    }

    /// The payload type (`None` for an empty payload or `""`).
    pub fn kind(&self) -> Option<PayloadType> {
        member(&self.v, "type")?
            .string()
            .ok()
            .filter(|t: &PayloadType| !t.is_empty())
    }

    /// `artifact_provides`, in document order.
    pub fn provides(&self) -> impl Iterator<Item = (Key, Text)> + 'a {
        member(&self.v, "artifact_provides")
            .unwrap_or(NONE)
            .members()
            .filter_map(|(k, v)| Some((k.string().ok()?, v.string().ok()?)))
    }

    /// `artifact_depends`, in document order.
    pub fn depends(&self) -> impl Iterator<Item = (Key, DependValue<'a>)> + 'a {
        member(&self.v, "artifact_depends")
            .unwrap_or(NONE)
            .members()
            .filter_map(|(k, v)| {
                let key = k.string().ok()?;
                Some((
                    key,
                    if v.kind == Kind::Array {
                        DependValue::AnyOf(v)
                    } else {
                        DependValue::One(v)
                    },
                ))
            })
    }

    /// `clears_artifact_provides`, or `None` when absent (or null).
    pub fn clears(&self) -> Option<impl Iterator<Item = Text> + 'a> {
        let l = member(&self.v, "clears_artifact_provides").filter(|l| l.kind == Kind::Array)?;
        Some(strings(Some(l)))
    }
}

/// Validates `meta-data`: empty, or a JSON object.
pub fn validate_meta_data(raw: &[u8]) -> Result<(), MetaError> {
    if raw
        .iter()
        .all(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
    {
        return Ok(());
    }
    match json::validate(raw) {
        Ok(Kind::Object) => Ok(()),
        Ok(_) => Err(MetaError::Invalid(
            "Top level object in meta-data must be a JSON object",
        )),
        Err(e) => Err(MetaError::Json(Doc::MetaData, e)),
    }
}

/// Validates a format-2 `files` document (`{"files":["rootfs.img"]}`).
#[inline(never)] // inlined into the reader's steps, it costs flash on Cortex-M
pub fn validate_files(raw: &[u8]) -> Result<(), MetaError> {
    parked(MetaError::Invalid(LOST), |s| files_in(raw, s))
}

fn files_in(raw: &[u8], s: &mut Slot) -> Result<(), Stop> {
    let v = doc_value(Doc::Files, raw, s)?;
    let mut seen = false;
    for (k, val) in v.members() {
        let key = key_of(Doc::Files, &k, s)?;
        if key != "files" {
            return Err(stop(s, MetaError::UnknownField(Doc::Files, key)));
        }
        check_string_list(
            Doc::Files,
            "files",
            &val,
            &limit!(MAX_PAYLOAD_FILES),
            &limit!(MAX_FILE_NAME_LEN),
            s,
        )?;
        seen = true;
    }
    if !seen {
        return Err(stop(
            s,
            MetaError::Invalid("files: the files list is missing"),
        ));
    }
    Ok(())
}

/// Whether a format-2 `files` document lists `name`.
pub fn files_lists(raw: &[u8], name: &str) -> bool {
    Value::of(raw)
        .ok()
        .and_then(|v| member(&v, "files"))
        .is_some_and(|l| {
            l.elements()
                .any(|e| e.string::<MAX_FILE_NAME_LEN>().is_ok_and(|s| s == name))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_rules() {
        assert_eq!(parse_version(br#"{"format":"mender","version":3}"#), Ok(3));
        assert_eq!(parse_version(br#"{"format":"mender","version":2}"#), Ok(2));
        assert_eq!(
            std::format!(
                "{}",
                parse_version(br#"{"format":"mender","version":1}"#).unwrap_err()
            ),
            "reader: Mender-Artifact version 1 is no longer supported"
        );
        assert_eq!(
            std::format!(
                "{}",
                parse_version(br#"{"format":"mender","version":4}"#).unwrap_err()
            ),
            "reader: unsupported version: 4"
        );
        assert_eq!(
            std::format!(
                "{}",
                parse_version(br#"{"format":"mender","version":3,"x":1}"#).unwrap_err()
            ),
            "reader: can not read version file: json: unknown field \"x\""
        );
    }

    #[test]
    fn header_info_v3() {
        let raw = br#"{"payloads":[{"type":"rootfs-image"}],"artifact_provides":{"artifact_name":"release-2","artifact_group":"fix"},"artifact_depends":{"artifact_name":["release-1"],"device_type":["dev-a","dev-b"],"artifact_group":["beta"]}}"#;
        validate_header_info(raw, 3).unwrap();
        let h = HeaderInfo::new(raw, 3).unwrap();
        assert_eq!(h.name().as_str(), "release-2");
        assert_eq!(h.group().unwrap().as_str(), "fix");
        assert_eq!(h.device_types().count(), 2);
        assert_eq!(
            h.depends_names().unwrap().next().unwrap().as_str(),
            "release-1"
        );
        assert_eq!(h.payload_type(0).unwrap().as_str(), "rootfs-image");

        let extra = br#"{"payloads":[{"type":"x"}],"artifact_provides":{"artifact_name":"a"},"artifact_depends":{"device_type":["d"]},"extra":1}"#;
        assert_eq!(
            std::format!("{}", validate_header_info(extra, 3).unwrap_err()),
            "Could not parse header element header-info: json: unknown field \"extra\""
        );
        let nodev = br#"{"payloads":[{"type":"x"}],"artifact_provides":{"artifact_name":"a"},"artifact_depends":{"device_type":[]}}"#;
        assert_eq!(
            std::format!("{}", validate_header_info(nodev, 3).unwrap_err()),
            "Invalid Artifact. No 'device-type' found."
        );
    }

    #[test]
    fn type_info_rules() {
        let raw = br#"{"type":"","artifact_provides":{"rootfs-image.version":"v1"},"artifact_depends":{"a":"1","b":["x","y"]},"clears_artifact_provides":["rootfs-image.*"]}"#;
        validate_type_info(raw, Some("rootfs-image")).unwrap();
        let t = TypeInfo::new(raw).unwrap();
        assert_eq!(t.provides().count(), 1);
        let deps: std::vec::Vec<_> = t.depends().collect();
        assert!(!deps[0].1.is_list() && deps[1].1.is_list());
        assert_eq!(deps[1].1.values().count(), 2);
        let one: std::vec::Vec<_> = deps[0].1.values().collect();
        assert_eq!(one, ["1"]);
        assert_eq!(t.clears().unwrap().count(), 1);
        let list = br#"{"type":"x","artifact_provides":{"k":["a"]}}"#;
        assert!(validate_type_info(list, Some("x")).is_err());
        assert!(validate_type_info(br#"{"type":""}"#, Some("docker")).is_err());
    }

    #[test]
    fn the_first_key_repeating_an_earlier_one_is_the_duplicate() {
        let raw = br#"{"x":1,"y":2,"y":3,"x":4}"#;
        assert_eq!(
            std::format!("{}", validate_type_info(raw, None).unwrap_err()),
            "type-info: duplicate key \"y\" in type-info"
        );
    }

    #[test]
    fn meta_data_must_be_object() {
        assert!(validate_meta_data(b"").is_ok());
        assert!(validate_meta_data(br#"{"a":[1,{"b":null}]}"#).is_ok());
        assert_eq!(
            std::format!("{}", validate_meta_data(b"[1]").unwrap_err()),
            "Top level object in meta-data must be a JSON object"
        );
        assert!(validate_meta_data(br#"{"a":"\q"}"#).is_err());
    }
}
