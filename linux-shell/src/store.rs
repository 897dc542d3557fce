//! Persistent client state in the data directory (default `/var/lib/mender`), plus the
//! read-only `artifact_info` and `device_type` files.
//!
//! The Go client keeps this in LMDB (`mender-store`, client-behavior.md §3.3); here each record
//! is a small file, replaced atomically:
//!
//! 1. write `<name>.tmp` in the same directory (mode 0600) and `fsync` it,
//! 2. `rename` it over `<name>`, 3. `fsync` the directory.
//!
//! A crash before step 2 leaves the old file; after it, the new one. So that a file torn by a
//! filesystem that does not keep that order (or damaged later) is never taken for valid state,
//! every record carries a checksum trailer:
//!
//! ```text
//! {"Version":1,"ArtifactName":"release-2",...}      one line of JSON
//! sha256=<64 lowercase hex digits>                  SHA-256 of every byte above
//! ```
//!
//! A record that is truncated, extended, altered, or not the expected shape is reported as
//! [`StoreError::Corrupt`] naming the file; what to do about it is the caller's decision.
//!
//! Records: [`ARTIFACT_FILE`] (name, group and provides of the installed Artifact, written
//! together in one replace at commit) and [`STANDALONE_FILE`] (the standalone install in
//! progress; its presence is what `commit`/`rollback` check).
use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::config::{go_path_error, json};
use crate::deploylog::Level;

/// `--data` default.
pub const DEFAULT_DATA_DIR: &str = "/var/lib/mender";
/// Where Yocto images record the name of the Artifact they were built as.
pub const DEFAULT_ARTIFACT_INFO: &str = "/etc/mender/artifact_info";
/// Record of the installed Artifact.
pub const ARTIFACT_FILE: &str = "installed-artifact";
/// Record of a standalone install waiting for `commit` or `rollback`.
pub const STANDALONE_FILE: &str = "standalone-state";
/// Records and manifest files larger than this are refused instead of read.
pub const MAX_FILE_BYTES: u64 = 1 << 20;
/// Go's `bufio.Scanner` line limit, which the manifest reader shares.
const MAX_MANIFEST_LINE: usize = 64 * 1024;
const RECORD_VERSION: u64 = 1;
const TRAILER: &[u8] = b"sha256=";

/// A failure reading or writing state. `Display` names the file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreError {
    /// An OS error; `message` is Go-worded ("open /x: permission denied").
    Io {
        path: PathBuf,
        kind: io::ErrorKind,
        message: String,
    },
    /// The file exists but is not a complete, intact record.
    Corrupt { path: PathBuf, reason: String },
    /// An intact record written by a newer format version.
    UnsupportedVersion { path: PathBuf, version: String },
    /// `artifact_info` / `device_type` syntax, with the Go client's message.
    Manifest(String),
    /// `show-artifact` found no name, or an empty one.
    EmptyArtifactName,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Io { message, .. } => f.write_str(message),
            StoreError::Corrupt { path, reason } => write!(
                f,
                "state file {} is damaged or incomplete: {}",
                path.display(),
                reason
            ),
            StoreError::UnsupportedVersion { path, version } => write!(
                f,
                "state file {} has format version {}, this client reads version {}",
                path.display(),
                version,
                RECORD_VERSION
            ),
            StoreError::Manifest(m) => f.write_str(m),
            StoreError::EmptyArtifactName => {
                f.write_str("The Artifact name is empty. Please set a valid name for the Artifact!")
            }
        }
    }
}

impl std::error::Error for StoreError {}

fn io_error(op: &str, path: &Path, e: &io::Error) -> StoreError {
    StoreError::Io {
        path: path.to_path_buf(),
        kind: e.kind(),
        message: go_path_error(op, path, e),
    }
}

/// The installed Artifact as last committed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InstalledArtifact {
    pub name: String,
    pub group: Option<String>,
    /// Merged type-info provides, without `artifact_name`/`artifact_group`.
    pub provides: BTreeMap<String, String>,
}

/// What the core's depends check asks about the installed Artifact.
impl mender_core::provides::Installed for InstalledArtifact {
    fn name(&self) -> &str {
        &self.name
    }
    fn group(&self) -> Option<&str> {
        self.group.as_deref()
    }
    fn provide(&self, key: &str) -> Option<&str> {
        self.provides.get(key).map(String::as_str)
    }
}

/// The A/B switch a rootfs-image install made: boot partition numbers before and after
/// (`mender_boot_part`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionSwitch {
    pub from: u32,
    pub to: u32,
}

/// A standalone install that is waiting for `commit` or `rollback`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StandaloneState {
    /// The deployment log ID ([`crate::deploylog::standalone_deployment_id`]).
    pub deployment_id: String,
    pub artifact_name: String,
    pub artifact_group: Option<String>,
    /// Type-info provides of the new Artifact, committed at `commit`.
    pub type_info_provides: BTreeMap<String, String>,
    /// `clears_artifact_provides`: `None` = absent (new provides replace all old ones);
    /// `Some(vec![])` = present but empty (all old provides kept).
    pub clears_provides: Option<Vec<String>>,
    pub payload_type: String,
    /// `None` for payloads that do not switch partitions (Update Modules).
    pub partitions: Option<PartitionSwitch>,
}

/// The state directory. Opening does no I/O; the directory is created (mode 0700) on the
/// first write.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    pub fn open(dir: &Path) -> Store {
        Store {
            dir: dir.to_path_buf(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The committed Artifact, `None` on a fresh store.
    pub fn artifact(&self) -> Result<Option<InstalledArtifact>, StoreError> {
        let path = self.dir.join(ARTIFACT_FILE);
        let Some(v) = read_record(&path)? else {
            return Ok(None);
        };
        let bad = |reason: String| StoreError::Corrupt {
            path: path.clone(),
            reason,
        };
        Ok(Some(InstalledArtifact {
            name: field_str(&v, "ArtifactName").map_err(bad)?,
            group: field_opt_str(&v, "ArtifactGroup").map_err(bad)?,
            provides: field_map(&v, "ArtifactProvides").map_err(bad)?,
        }))
    }

    pub fn artifact_name(&self) -> Result<Option<String>, StoreError> {
        Ok(self.artifact()?.map(|a| a.name))
    }

    pub fn artifact_group(&self) -> Result<Option<String>, StoreError> {
        Ok(self.artifact()?.and_then(|a| a.group))
    }

    /// The stored type-info provides (empty on a fresh store).
    pub fn provides(&self) -> Result<BTreeMap<String, String>, StoreError> {
        Ok(self.artifact()?.map(|a| a.provides).unwrap_or_default())
    }

    /// What `show-provides` prints and depends are checked against: the provides plus
    /// `artifact_name` and `artifact_group` when present.
    pub fn all_provides(&self) -> Result<BTreeMap<String, String>, StoreError> {
        let mut out = BTreeMap::new();
        if let Some(a) = self.artifact()? {
            out.insert("artifact_name".to_string(), a.name);
            if let Some(g) = a.group {
                out.insert("artifact_group".to_string(), g);
            }
            out.extend(a.provides);
        }
        Ok(out)
    }

    /// Replaces name, group and provides in one atomic write. `artifact_name` and
    /// `artifact_group` keys in `provides` are dropped: they live in their own fields.
    pub fn commit_artifact(
        &self,
        name: &str,
        group: Option<&str>,
        provides: &BTreeMap<String, String>,
    ) -> Result<(), StoreError> {
        self.write_artifact(name, group, provides)
    }

    /// Changes only the name (e.g. appending `_INCONSISTENT`); group and provides stay.
    pub fn set_artifact_name(&self, name: &str) -> Result<(), StoreError> {
        let a = self.artifact()?.unwrap_or_default();
        self.write_artifact(name, a.group.as_deref(), &a.provides)
    }

    fn write_artifact(
        &self,
        name: &str,
        group: Option<&str>,
        provides: &BTreeMap<String, String>,
    ) -> Result<(), StoreError> {
        let mut s = format!("{{\"Version\":{RECORD_VERSION},\"ArtifactName\":");
        json::write_string(&mut s, name);
        s.push_str(",\"ArtifactGroup\":");
        write_opt_str(&mut s, group);
        s.push_str(",\"ArtifactProvides\":");
        write_map(&mut s, provides, true);
        s.push('}');
        write_atomic(&self.dir, ARTIFACT_FILE, &seal(&s), None)
    }

    /// The standalone install in progress, if any.
    pub fn standalone_state(&self) -> Result<Option<StandaloneState>, StoreError> {
        let path = self.dir.join(STANDALONE_FILE);
        let Some(v) = read_record(&path)? else {
            return Ok(None);
        };
        decode_standalone(&v)
            .map(Some)
            .map_err(|reason| StoreError::Corrupt { path, reason })
    }

    pub fn set_standalone_state(&self, st: &StandaloneState) -> Result<(), StoreError> {
        let mut s = format!("{{\"Version\":{RECORD_VERSION},\"DeploymentID\":");
        json::write_string(&mut s, &st.deployment_id);
        s.push_str(",\"ArtifactName\":");
        json::write_string(&mut s, &st.artifact_name);
        s.push_str(",\"ArtifactGroup\":");
        write_opt_str(&mut s, st.artifact_group.as_deref());
        s.push_str(",\"ArtifactTypeInfoProvides\":");
        write_map(&mut s, &st.type_info_provides, false);
        s.push_str(",\"ArtifactClearsProvides\":");
        match &st.clears_provides {
            None => s.push_str("null"),
            Some(list) => {
                s.push('[');
                for (i, p) in list.iter().enumerate() {
                    if i > 0 {
                        s.push(',');
                    }
                    json::write_string(&mut s, p);
                }
                s.push(']');
            }
        }
        s.push_str(",\"PayloadType\":");
        json::write_string(&mut s, &st.payload_type);
        match st.partitions {
            Some(p) => s.push_str(&format!(
                ",\"FromPartition\":{},\"ToPartition\":{}}}",
                p.from, p.to
            )),
            None => s.push_str(",\"FromPartition\":null,\"ToPartition\":null}"),
        }
        write_atomic(&self.dir, STANDALONE_FILE, &seal(&s), None)
    }

    /// Removes the standalone record (no error if there is none) and syncs the directory.
    pub fn clear_standalone_state(&self) -> Result<(), StoreError> {
        remove_durably(&self.dir, STANDALONE_FILE)
    }

    /// `show-artifact`'s name lookup, as the Go client does it: the stored name; if there is
    /// none, the `artifact_name=` line of `artifact_info` with a warning (and if the record is
    /// unreadable, an error line first, then the same fallback). An empty result is
    /// [`StoreError::EmptyArtifactName`].
    pub fn show_artifact_name(
        &self,
        artifact_info: &Path,
        log: &mut dyn FnMut(Level, &str),
    ) -> Result<String, StoreError> {
        let stored = match self.artifact_name() {
            Ok(n) => n,
            Err(e) => {
                log(
                    Level::Error,
                    &format!("Could not read artifact name from database: {e}"),
                );
                None
            }
        };
        let name = match stored {
            Some(n) => n,
            None => {
                log(
                    Level::Warning,
                    &artifact_info_fallback_warning(artifact_info),
                );
                manifest_value(artifact_info, "artifact_name")?.unwrap_or_default()
            }
        };
        if name.is_empty() {
            return Err(StoreError::EmptyArtifactName);
        }
        Ok(name)
    }
}

/// The warning logged when the name comes from `artifact_info` instead of the store.
pub fn artifact_info_fallback_warning(artifact_info: &Path) -> String {
    format!(
        "Returning artifact name from {} file. This is a fallback, in case the information \
         is missing from the database.",
        artifact_info.display()
    )
}

/// The device type from a `device_type` file (`device_type=<name>`); `None` if the file has
/// no such line.
pub fn device_type(path: &Path) -> Result<Option<String>, StoreError> {
    manifest_value(path, "device_type")
}

/// One value of a `key=value` manifest (`artifact_info`, `device_type`), parsed like the Go
/// client's `GetManifestData`: each line is trimmed; lines starting with `#` are skipped; any
/// other line without `=` (an empty line included) is an error; the key must match exactly
/// (it is not trimmed); the value is trimmed; the key appearing twice is an error. `None`
/// when the key is absent.
pub fn manifest_value(path: &Path, key: &str) -> Result<Option<String>, StoreError> {
    let Some(bytes) = read_capped(path, false)? else {
        return Ok(None);
    };
    let mut lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    let mut found = None;
    for raw in lines {
        if raw.len() > MAX_MANIFEST_LINE {
            return Err(StoreError::Manifest("bufio.Scanner: token too long".into()));
        }
        let text = String::from_utf8_lossy(raw);
        let line = text.trim();
        if line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            return Err(StoreError::Manifest(format!(
                "Broken device manifest file: ([{line}])"
            )));
        };
        if k == key {
            if found.is_some() {
                return Err(StoreError::Manifest(format!(
                    "More than one instance of {} found in manifest file {}.",
                    key,
                    path.display()
                )));
            }
            found = Some(v.trim().to_string());
        }
    }
    Ok(found)
}

/// Reads a whole file of at most [`MAX_FILE_BYTES`]; `None` if it does not exist and
/// `missing_ok`.
fn read_capped(path: &Path, missing_ok: bool) -> Result<Option<Vec<u8>>, StoreError> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if missing_ok && e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error("open", path, &e)),
    };
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| io_error("read", path, &e))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(StoreError::Corrupt {
            path: path.to_path_buf(),
            reason: format!("larger than {MAX_FILE_BYTES} bytes"),
        });
    }
    Ok(Some(bytes))
}

fn read_record(path: &Path) -> Result<Option<json::Value>, StoreError> {
    match read_capped(path, true)? {
        None => Ok(None),
        Some(bytes) => unseal(path, &bytes).map(Some),
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len().saturating_mul(2));
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

fn sha256_hex(data: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, data).as_ref())
}

/// The file bytes for one JSON line: the line, then the checksum trailer.
fn seal(json_line: &str) -> Vec<u8> {
    let mut body = Vec::with_capacity(json_line.len().saturating_add(80));
    body.extend_from_slice(json_line.as_bytes());
    body.push(b'\n');
    let sum = sha256_hex(&body);
    body.extend_from_slice(TRAILER);
    body.extend_from_slice(sum.as_bytes());
    body.push(b'\n');
    body
}

/// Checks the trailer and returns the JSON object; every failure is `Corrupt`.
fn unseal(path: &Path, bytes: &[u8]) -> Result<json::Value, StoreError> {
    let bad = |reason: &str| StoreError::Corrupt {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    if bytes.is_empty() {
        return Err(bad("empty file"));
    }
    let Some(without_nl) = bytes.strip_suffix(b"\n") else {
        return Err(bad("no complete checksum line"));
    };
    let Some(split) = without_nl.iter().rposition(|&b| b == b'\n') else {
        return Err(bad("no checksum line"));
    };
    let (body, trailer) = without_nl.split_at(split.saturating_add(1));
    let Some(sum) = trailer.strip_prefix(TRAILER) else {
        return Err(bad("no checksum line"));
    };
    if sum.len() != 64 || !sum.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(bad("malformed checksum line"));
    }
    if sha256_hex(body).as_bytes() != sum {
        return Err(bad("checksum mismatch"));
    }
    let line = body.strip_suffix(b"\n").unwrap_or(body);
    if line.contains(&b'\n') {
        return Err(bad("more than one record line"));
    }
    let v = json::parse(line).map_err(|e| bad(&format!("invalid JSON: {e}")))?;
    if !matches!(v, json::Value::Object(_)) {
        return Err(bad("record is not a JSON object"));
    }
    match v.get("Version") {
        Some(json::Value::Number(n)) if n.parse::<u64>() == Ok(RECORD_VERSION) => Ok(v),
        Some(json::Value::Number(n)) => Err(StoreError::UnsupportedVersion {
            path: path.to_path_buf(),
            version: n.clone(),
        }),
        _ => Err(bad("no Version field")),
    }
}

fn field_str(v: &json::Value, key: &str) -> Result<String, String> {
    match v.get(key) {
        Some(json::Value::String(s)) => Ok(s.clone()),
        _ => Err(format!("field {key}: expected a string")),
    }
}

fn field_opt_str(v: &json::Value, key: &str) -> Result<Option<String>, String> {
    match v.get(key) {
        Some(json::Value::String(s)) => Ok(Some(s.clone())),
        Some(json::Value::Null) => Ok(None),
        _ => Err(format!("field {key}: expected a string or null")),
    }
}

fn field_map(v: &json::Value, key: &str) -> Result<BTreeMap<String, String>, String> {
    let Some(json::Value::Object(members)) = v.get(key) else {
        return Err(format!("field {key}: expected an object"));
    };
    let mut out = BTreeMap::new();
    for (k, item) in members {
        let json::Value::String(s) = item else {
            return Err(format!("field {key}.{k}: expected a string"));
        };
        out.insert(k.clone(), s.clone());
    }
    Ok(out)
}

fn field_opt_list(v: &json::Value, key: &str) -> Result<Option<Vec<String>>, String> {
    match v.get(key) {
        Some(json::Value::Null) => Ok(None),
        Some(json::Value::Array(items)) => items
            .iter()
            .map(|i| match i {
                json::Value::String(s) => Ok(s.clone()),
                _ => Err(format!("field {key}: expected strings")),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        _ => Err(format!("field {key}: expected a list or null")),
    }
}

fn field_opt_u32(v: &json::Value, key: &str) -> Result<Option<u32>, String> {
    match v.get(key) {
        Some(json::Value::Null) => Ok(None),
        Some(json::Value::Number(n)) => n
            .parse::<u32>()
            .map(Some)
            .map_err(|_| format!("field {key}: expected a partition number")),
        _ => Err(format!("field {key}: expected a number or null")),
    }
}

fn decode_standalone(v: &json::Value) -> Result<StandaloneState, String> {
    let partitions = match (
        field_opt_u32(v, "FromPartition")?,
        field_opt_u32(v, "ToPartition")?,
    ) {
        (Some(from), Some(to)) => Some(PartitionSwitch { from, to }),
        (None, None) => None,
        _ => return Err("FromPartition and ToPartition: only one is set".into()),
    };
    Ok(StandaloneState {
        deployment_id: field_str(v, "DeploymentID")?,
        artifact_name: field_str(v, "ArtifactName")?,
        artifact_group: field_opt_str(v, "ArtifactGroup")?,
        type_info_provides: field_map(v, "ArtifactTypeInfoProvides")?,
        clears_provides: field_opt_list(v, "ArtifactClearsProvides")?,
        payload_type: field_str(v, "PayloadType")?,
        partitions,
    })
}

fn write_opt_str(out: &mut String, v: Option<&str>) {
    match v {
        Some(s) => json::write_string(out, s),
        None => out.push_str("null"),
    }
}

/// A JSON object of the map; with `drop_names`, without `artifact_name`/`artifact_group`
/// (the installed Artifact stores those in their own fields).
fn write_map(out: &mut String, map: &BTreeMap<String, String>, drop_names: bool) {
    out.push('{');
    let mut first = true;
    for (k, v) in map {
        if drop_names && (k == "artifact_name" || k == "artifact_group") {
            continue;
        }
        if !std::mem::take(&mut first) {
            out.push(',');
        }
        json::write_string(out, k);
        out.push(':');
        json::write_string(out, v);
    }
    out.push('}');
}

/// Where the power-loss tests stop [`write_atomic`]; never set outside tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(test), allow(dead_code))]
enum Crash {
    AfterCreate,
    /// Only this many bytes of the temporary file were written.
    AfterBytes(usize),
    BeforeFileSync,
    BeforeRename,
    BeforeDirSync,
}

fn crashed() -> StoreError {
    StoreError::Io {
        path: PathBuf::new(),
        kind: io::ErrorKind::Interrupted,
        message: "simulated power loss".into(),
    }
}

fn ensure_dir(dir: &Path) -> Result<(), StoreError> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| io_error("mkdir", dir, &e))
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error("sync", dir, &e))
}

/// tmp + fsync + rename + fsync(dir); `crash` stops part-way, leaving the disk as a power
/// cut at that point would (the data written so far, nothing after).
fn write_atomic(
    dir: &Path,
    name: &str,
    data: &[u8],
    crash: Option<Crash>,
) -> Result<(), StoreError> {
    ensure_dir(dir)?;
    let tmp = dir.join(format!("{name}.tmp"));
    let dst = dir.join(name);
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| io_error("open", &tmp, &e))?;
    if crash == Some(Crash::AfterCreate) {
        return Err(crashed());
    }
    if let Some(Crash::AfterBytes(n)) = crash {
        let part = data.get(..n).unwrap_or(data);
        f.write_all(part).map_err(|e| io_error("write", &tmp, &e))?;
        return Err(crashed());
    }
    f.write_all(data).map_err(|e| io_error("write", &tmp, &e))?;
    if crash == Some(Crash::BeforeFileSync) {
        return Err(crashed());
    }
    f.sync_all().map_err(|e| io_error("sync", &tmp, &e))?;
    drop(f);
    if crash == Some(Crash::BeforeRename) {
        return Err(crashed());
    }
    fs::rename(&tmp, &dst).map_err(|e| io_error("rename", &tmp, &e))?;
    if crash == Some(Crash::BeforeDirSync) {
        return Err(crashed());
    }
    sync_dir(dir)
}

fn remove_durably(dir: &Path, name: &str) -> Result<(), StoreError> {
    let path = dir.join(name);
    match fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_error("remove", &path, &e)),
    }
    let _ = fs::remove_file(dir.join(format!("{name}.tmp")));
    sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn tmpdir(tag: &str) -> PathBuf {
        static N: AtomicUsize = AtomicUsize::new(0);
        let d = std::env::temp_dir().join(format!(
            "mender-store-{}-{}-{}",
            tag,
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn sample_state() -> StandaloneState {
        StandaloneState {
            deployment_id: "standalone-1795347499".into(),
            artifact_name: "release-2 \"quoted\" <é>".into(),
            artifact_group: Some("grp".into()),
            type_info_provides: map(&[
                ("rootfs-image.version", "release-2"),
                ("k\n", "v\u{1}"),
                ("artifact_group", "kept"),
            ]),
            clears_provides: Some(vec!["rootfs-image.*".into()]),
            payload_type: "rootfs-image".into(),
            partitions: Some(PartitionSwitch { from: 2, to: 3 }),
        }
    }

    fn is_corrupt(r: Result<impl fmt::Debug, StoreError>) -> bool {
        matches!(r, Err(StoreError::Corrupt { .. }))
    }

    #[test]
    fn fresh_store_is_empty() {
        let d = tmpdir("fresh");
        let s = Store::open(&d.join("not-yet"));
        assert_eq!(s.artifact().unwrap(), None);
        assert_eq!(s.artifact_name().unwrap(), None);
        assert_eq!(s.artifact_group().unwrap(), None);
        assert!(s.provides().unwrap().is_empty());
        assert!(s.all_provides().unwrap().is_empty());
        assert_eq!(s.standalone_state().unwrap(), None);
        s.clear_standalone_state().unwrap();
        assert!(!d.join("not-yet").exists());
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn commit_round_trip_and_modes() {
        let d = tmpdir("commit");
        let data = d.join("data");
        let s = Store::open(&data);
        let provides = map(&[
            ("rootfs-image.version", "v2"),
            ("artifact_name", "dropped"),
            ("artifact_group", "dropped"),
            ("custom.key", "abc"),
        ]);
        s.commit_artifact("v2", Some("g1"), &provides).unwrap();
        assert_eq!(s.artifact_name().unwrap().as_deref(), Some("v2"));
        assert_eq!(s.artifact_group().unwrap().as_deref(), Some("g1"));
        assert_eq!(
            s.provides().unwrap(),
            map(&[("custom.key", "abc"), ("rootfs-image.version", "v2")])
        );
        assert_eq!(
            s.all_provides().unwrap(),
            map(&[
                ("artifact_group", "g1"),
                ("artifact_name", "v2"),
                ("custom.key", "abc"),
                ("rootfs-image.version", "v2")
            ])
        );
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&data.join(ARTIFACT_FILE)), 0o600);
        assert!(!data.join("installed-artifact.tmp").exists());

        // Marking inconsistent keeps group and provides.
        s.set_artifact_name("v2_INCONSISTENT").unwrap();
        let a = s.artifact().unwrap().unwrap();
        assert_eq!(a.name, "v2_INCONSISTENT");
        assert_eq!(a.group.as_deref(), Some("g1"));
        assert_eq!(a.provides.len(), 2);

        // A commit without group removes it.
        s.commit_artifact("v3", None, &BTreeMap::new()).unwrap();
        assert_eq!(s.artifact_group().unwrap(), None);
        assert_eq!(s.all_provides().unwrap(), map(&[("artifact_name", "v3")]));
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn standalone_round_trip_and_clear() {
        let d = tmpdir("standalone");
        let s = Store::open(&d);
        let mut st = sample_state();
        s.set_standalone_state(&st).unwrap();
        assert_eq!(s.standalone_state().unwrap(), Some(st.clone()));
        st.clears_provides = Some(vec![]);
        st.partitions = None;
        st.artifact_group = None;
        s.set_standalone_state(&st).unwrap();
        assert_eq!(s.standalone_state().unwrap(), Some(st.clone()));
        st.clears_provides = None;
        s.set_standalone_state(&st).unwrap();
        assert_eq!(s.standalone_state().unwrap(), Some(st));
        s.clear_standalone_state().unwrap();
        assert_eq!(s.standalone_state().unwrap(), None);
        s.clear_standalone_state().unwrap();
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn every_truncation_and_every_byte_flip_is_detected() {
        let d = tmpdir("torn");
        let s = Store::open(&d);
        s.set_standalone_state(&sample_state()).unwrap();
        s.commit_artifact("v1", Some("g"), &map(&[("a", "b")]))
            .unwrap();
        for file in [STANDALONE_FILE, ARTIFACT_FILE] {
            let path = d.join(file);
            let good = fs::read(&path).unwrap();
            let read = |s: &Store| {
                if file == ARTIFACT_FILE {
                    s.artifact().map(|_| ())
                } else {
                    s.standalone_state().map(|_| ())
                }
            };
            assert!(read(&s).is_ok());
            for cut in 0..good.len() {
                fs::write(&path, &good[..cut]).unwrap();
                assert!(is_corrupt(read(&s)), "{file} truncated to {cut} bytes");
            }
            for pos in 0..good.len() {
                for flip in [0x01u8, 0x20, 0x80] {
                    let mut bad = good.clone();
                    bad[pos] ^= flip;
                    fs::write(&path, &bad).unwrap();
                    let r = read(&s);
                    assert!(is_corrupt(r), "{file} byte {pos} ^ {flip:#x}");
                }
            }
            let mut longer = good.clone();
            longer.extend_from_slice(b"x\n");
            fs::write(&path, &longer).unwrap();
            assert!(is_corrupt(read(&s)));
            fs::write(&path, &good).unwrap();
            assert!(read(&s).is_ok());
        }
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn intact_checksum_over_bad_content_is_still_rejected() {
        let d = tmpdir("shape");
        let s = Store::open(&d);
        let cases: &[(&str, &str)] = &[
            (
                r#"{"Version":1,"ArtifactName":5,"ArtifactGroup":null,"ArtifactProvides":{}}"#,
                "ArtifactName",
            ),
            (
                r#"{"Version":1,"ArtifactName":"a","ArtifactGroup":null,"ArtifactProvides":{"x":1}}"#,
                "ArtifactProvides.x",
            ),
            (
                r#"{"Version":1,"ArtifactName":"a","ArtifactProvides":{}}"#,
                "ArtifactGroup",
            ),
            (
                r#"{"ArtifactName":"a","ArtifactGroup":null,"ArtifactProvides":{}}"#,
                "Version",
            ),
            (r#"[1]"#, "not a JSON object"),
            (r#"{"Version":1,"#, "invalid JSON"),
        ];
        for (content, needle) in cases {
            fs::write(d.join(ARTIFACT_FILE), seal(content)).unwrap();
            let e = s.artifact().unwrap_err();
            let text = e.to_string();
            assert!(matches!(e, StoreError::Corrupt { .. }), "{content}");
            assert!(text.contains(needle), "{text}");
            assert!(text.contains(&d.join(ARTIFACT_FILE).display().to_string()));
        }
        fs::write(
            d.join(STANDALONE_FILE),
            seal(
                r#"{"Version":1,"DeploymentID":"x","ArtifactName":"a","ArtifactGroup":null,
                "ArtifactTypeInfoProvides":{},"ArtifactClearsProvides":null,"PayloadType":"p",
                "FromPartition":2,"ToPartition":null}"#
                    .replace('\n', "")
                    .as_str(),
            ),
        )
        .unwrap();
        assert!(is_corrupt(s.standalone_state()));
        fs::write(
            d.join(ARTIFACT_FILE),
            seal(r#"{"Version":2,"ArtifactName":"a"}"#),
        )
        .unwrap();
        assert_eq!(
            s.artifact().unwrap_err(),
            StoreError::UnsupportedVersion {
                path: d.join(ARTIFACT_FILE),
                version: "2".into()
            }
        );
        let _ = fs::remove_dir_all(&d);
    }

    /// Power loss at every step and after every byte of the temporary file: the reader sees
    /// exactly the old record until the rename, exactly the new one after it, and never an
    /// error; the next write after "reboot" succeeds.
    #[test]
    fn power_loss_at_every_point_keeps_old_or_new() {
        let d = tmpdir("crash");
        let s = Store::open(&d);
        let old = sample_state();
        let mut new = sample_state();
        new.artifact_name = "release-3".into();
        new.partitions = Some(PartitionSwitch { from: 3, to: 2 });
        let new_bytes = {
            s.set_standalone_state(&new).unwrap();
            fs::read(d.join(STANDALONE_FILE)).unwrap()
        };
        let mut points = vec![
            Crash::AfterCreate,
            Crash::BeforeFileSync,
            Crash::BeforeRename,
            Crash::BeforeDirSync,
        ];
        points.extend((0..=new_bytes.len()).map(Crash::AfterBytes));
        for had_old in [true, false] {
            for &point in &points {
                if had_old {
                    s.set_standalone_state(&old).unwrap();
                } else {
                    s.clear_standalone_state().unwrap();
                }
                let r = write_atomic(&d, STANDALONE_FILE, &new_bytes, Some(point));
                assert_eq!(r, Err(crashed()));
                let seen = s.standalone_state().unwrap();
                let expect = if point == Crash::BeforeDirSync {
                    Some(new.clone())
                } else if had_old {
                    Some(old.clone())
                } else {
                    None
                };
                assert_eq!(seen, expect, "{point:?}, old present: {had_old}");
                // Recovery: a later write goes through over the stale temporary file.
                let mut next = old.clone();
                next.deployment_id = "after".into();
                s.set_standalone_state(&next).unwrap();
                assert_eq!(s.standalone_state().unwrap(), Some(next));
            }
        }
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn unreadable_record_is_an_io_error() {
        let d = tmpdir("io");
        fs::create_dir_all(d.join(ARTIFACT_FILE)).unwrap();
        let e = Store::open(&d).artifact().unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("read {}: is a directory", d.join(ARTIFACT_FILE).display())
        );
        let _ = fs::remove_dir_all(&d);
    }

    fn manifest(text: &[u8], key: &str) -> Result<Option<String>, StoreError> {
        let d = tmpdir("manifest");
        let p = d.join("artifact_info");
        fs::write(&p, text).unwrap();
        let r = manifest_value(&p, key);
        let _ = fs::remove_dir_all(&d);
        r
    }

    #[test]
    fn manifest_parsing_follows_go() {
        let ok = |t: &[u8], k: &str| manifest(t, k).unwrap();
        assert_eq!(
            ok(b"artifact_name=rel-1\n", "artifact_name").as_deref(),
            Some("rel-1")
        );
        assert_eq!(
            ok(
                b"# c\n  artifact_name = rel 1 \r\nartifact_group=g",
                "artifact_name"
            ),
            None,
            "the key is not trimmed"
        );
        assert_eq!(
            ok(
                b"  # c\n\tartifact_name=  rel 1 \r\nartifact_group=g",
                "artifact_name"
            )
            .as_deref(),
            Some("rel 1")
        );
        assert_eq!(
            ok(b"a=1\na=2\nartifact_group=g", "artifact_group").as_deref(),
            Some("g")
        );
        assert_eq!(ok(b"x=a=b\n", "x").as_deref(), Some("a=b"));
        assert_eq!(ok(b"", "x"), None);
        assert_eq!(ok(b"device_type=", "device_type").as_deref(), Some(""));

        let err = |t: &[u8], k: &str| manifest(t, k).unwrap_err().to_string();
        assert_eq!(
            err(b"x=1\nbroken line\n", "x"),
            "Broken device manifest file: ([broken line])"
        );
        assert_eq!(
            err(b"x=1\n\nz=2\n", "x"),
            "Broken device manifest file: ([])"
        );
        assert!(err(b"x=1\nx=2\n", "x")
            .starts_with("More than one instance of x found in manifest file "));
        let mut long = b"x=".to_vec();
        long.extend(std::iter::repeat_n(b'a', MAX_MANIFEST_LINE));
        assert_eq!(err(&long, "x"), "bufio.Scanner: token too long");
    }

    #[test]
    fn device_type_file() {
        let d = tmpdir("dt");
        let p = d.join("device_type");
        fs::write(&p, "device_type=raspberrypi4").unwrap();
        assert_eq!(device_type(&p).unwrap().as_deref(), Some("raspberrypi4"));
        let e = device_type(&d.join("missing")).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "open {}: no such file or directory",
                d.join("missing").display()
            )
        );
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn show_artifact_name_store_then_fallback() {
        let d = tmpdir("show");
        let info = d.join("artifact_info");
        let s = Store::open(&d.join("data"));
        let mut logged: Vec<(Level, String)> = Vec::new();

        // Missing artifact_info on a fresh store: Go's open error.
        let e = s
            .show_artifact_name(&info, &mut |l, m| logged.push((l, m.to_string())))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("open {}: no such file or directory", info.display())
        );
        assert_eq!(logged.len(), 1);
        assert_eq!(logged[0].0, Level::Warning);
        assert!(logged[0].1.contains("This is a fallback"));

        fs::write(&info, "artifact_name=from-info\n").unwrap();
        logged.clear();
        let n = s
            .show_artifact_name(&info, &mut |l, m| logged.push((l, m.to_string())))
            .unwrap();
        assert_eq!(n, "from-info");
        assert_eq!(logged.len(), 1);

        fs::write(&info, "artifact_name=\n").unwrap();
        let e = s.show_artifact_name(&info, &mut |_, _| {}).unwrap_err();
        assert_eq!(e, StoreError::EmptyArtifactName);

        s.commit_artifact("stored", None, &BTreeMap::new()).unwrap();
        logged.clear();
        let n = s
            .show_artifact_name(&info, &mut |l, m| logged.push((l, m.to_string())))
            .unwrap();
        assert_eq!(n, "stored");
        assert!(logged.is_empty());

        // A damaged record is reported and the fallback used.
        fs::write(&info, "artifact_name=from-info\n").unwrap();
        let path = d.join("data").join(ARTIFACT_FILE);
        let mut bytes = fs::read(&path).unwrap();
        bytes.truncate(bytes.len() - 3);
        fs::write(&path, bytes).unwrap();
        logged.clear();
        let n = s
            .show_artifact_name(&info, &mut |l, m| logged.push((l, m.to_string())))
            .unwrap();
        assert_eq!(n, "from-info");
        assert_eq!(logged[0].0, Level::Error);
        assert!(logged[0]
            .1
            .starts_with("Could not read artifact name from database: state file"));
        assert_eq!(logged[1].0, Level::Warning);
        let _ = fs::remove_dir_all(&d);
    }
}
