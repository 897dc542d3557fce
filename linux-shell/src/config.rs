//! `mender.conf`: the JSON configuration, loaded like the Go 3.x client does it.
//!
//! The fallback file is decoded first and the main file on top of it, so the main file wins per
//! key; either file may be missing. Keys match case-insensitively, unknown keys are ignored,
//! `null` leaves a scalar or nested object unchanged and resets a list, and the error texts
//! follow Go's `encoding/json` (client-behavior.md §2). A hand-written reader keeps this exact
//! and costs far less than serde_json: Go's folding rules and its error wording would have to be
//! rebuilt on top of serde_json anyway.
//!
//! [`json`] is the small JSON reader and writer shared with [`crate::store`] and
//! [`crate::deploylog`].
use std::ffi::OsStr;
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// `--config` default.
pub const DEFAULT_CONFIG: &str = "/etc/mender/mender.conf";
/// `--fallback-config` default.
pub const DEFAULT_FALLBACK_CONFIG: &str = "/var/lib/mender/mender.conf";
/// `UbootEnvConfig` default: where fw_printenv/fw_setenv look for the environment location.
pub const DEFAULT_UBOOT_ENV_CONFIG: &str = "/etc/fw_env.config";
/// The file whose `ENV_DIR = ...` line grub-mender-grubenv honours first.
pub const GRUBENV_CONFIG: &str = "/etc/mender_grubenv.config";
/// A config file larger than this is refused instead of read into memory.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// Error text for an I/O failure, worded like Go's `*os.PathError` ("open /x: permission
/// denied"), because scripts and docs match the official client's messages.
pub fn go_path_error(op: &str, path: &Path, err: &io::Error) -> String {
    format!("{} {}: {}", op, path.display(), os_error_text(err))
}

/// The OS error description in Go's spelling: lower-case first letter, without Rust's
/// " (os error N)". (strerror texts are ASCII; only ASCII is folded, which keeps the Unicode
/// case tables out of the binary.)
pub fn os_error_text(err: &io::Error) -> String {
    let Some(code) = err.raw_os_error() else {
        return err.to_string();
    };
    let mut text = io::Error::from_raw_os_error(code).to_string();
    if let Some(cut) = text.rfind(" (os error ") {
        text.truncate(cut);
    }
    if let Some(first) = text.get_mut(..1) {
        first.make_ascii_lowercase();
    }
    text
}

/// Which bootloader environment the rootfs-image installer talks to (`BootEnvironment`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BootEnvironment {
    /// Not configured: decided at run time from what the device has.
    #[default]
    Auto,
    UBoot,
    Grub,
}

/// `HttpsClient`: client certificate for mutual TLS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpsClient {
    pub certificate: String,
    pub key: String,
    pub ssl_engine: String,
}

/// `Security`: the key that signs authorization requests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Security {
    pub auth_private_key: String,
    pub ssl_engine: String,
}

/// `Connectivity`: HTTP connection reuse.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Connectivity {
    pub disable_keep_alive: bool,
    pub idle_conn_timeout_seconds: i64,
}

/// One entry of `Servers`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Server {
    pub server_url: String,
}

/// The merged configuration. Scalars keep Go's zero values ("" / 0 / false) for "not set", so
/// the documented fallbacks (e.g. 1800 s poll intervals) stay with the code that uses them.
/// Integers are 64-bit, as Go's `int` on 64-bit devices.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    pub artifact_verify_key: String,
    /// 4.x list of keys; `Some` once the key appeared in a file, even as `[]`.
    pub artifact_verify_keys: Option<Vec<String>>,
    pub https_client: HttpsClient,
    pub security: Security,
    pub connectivity: Connectivity,
    pub rootfs_part_a: String,
    pub rootfs_part_b: String,
    pub boot_utilities_set_active_part: String,
    pub boot_utilities_get_next_active_part: String,
    pub device_type_file: String,
    pub dbus_enabled: bool,
    pub update_poll_interval_seconds: i64,
    pub inventory_poll_interval_seconds: i64,
    pub skip_verify: bool,
    pub retry_poll_interval_seconds: i64,
    pub retry_poll_count: i64,
    pub state_script_timeout_seconds: i64,
    pub state_script_retry_timeout_seconds: i64,
    pub state_script_retry_interval_seconds: i64,
    pub module_timeout_seconds: i64,
    pub update_control_map_expiration_time_seconds: i64,
    pub update_control_map_boot_expiration_time_seconds: i64,
    pub server_certificate: String,
    pub server_url: String,
    pub update_log_path: String,
    pub tenant_token: String,
    pub daemon_log_level: String,
    /// `None` when no file set `Servers` (or one set it to `null`); after [`Config::load`] it
    /// always holds at least the `ServerURL` entry.
    pub servers: Option<Vec<Server>>,
    /// Extension: `"uboot"`, `"grub"` or `"auto"`; see [`Config::boot_environment`].
    pub boot_environment: String,
    /// Extension: path of fw_env.config; see [`Config::uboot_env_config`].
    pub uboot_env_config: String,
    /// Extension: grub-mender-grubenv directory; see [`Config::grub_env_dir`].
    pub grub_env_dir: String,
    /// Extension: the `artifact_info` file (default /etc/mender/artifact_info), which names
    /// the factory Artifact until the first install is committed.
    pub artifact_info_file: String,
    /// Files that were read, in load order, for the "Loaded configuration file: X" lines.
    pub loaded_files: Vec<PathBuf>,
    /// Warnings the Go client logs while validating (e.g. no server URL); the caller logs them.
    pub warnings: Vec<String>,
}

/// Why the configuration could not be loaded. `Display` gives the official client's text.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file exists but could not be read; `message` is Go-worded ("open X: ...").
    Io { path: PathBuf, message: String },
    /// Not valid JSON; `detail` is Go's scanner message.
    Syntax { path: PathBuf, detail: String },
    /// Valid JSON, but a known key has the wrong type.
    Type { path: PathBuf, detail: String },
    /// Both `Servers` and `ServerURL` are set.
    BothServers,
    /// Both `ArtifactVerifyKey` and the 4.x `ArtifactVerifyKeys` are set.
    BothVerifyKeys,
    /// `BootEnvironment` is not one of the accepted values.
    BadBootEnvironment(String),
}

impl ConfigError {
    /// The file the error is about, for "Error loading configuration from file: X (...)".
    pub fn path(&self) -> Option<&Path> {
        match self {
            ConfigError::Io { path, .. }
            | ConfigError::Syntax { path, .. }
            | ConfigError::Type { path, .. } => Some(path),
            _ => None,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Io { message, .. } => f.write_str(message),
            ConfigError::Syntax { detail, .. } => {
                write!(f, "Error parsing mender configuration file: {detail}")
            }
            ConfigError::Type { detail, .. } => write!(f, "Error parsing config file: {detail}"),
            ConfigError::BothServers => {
                f.write_str("Both Servers AND ServerURL given in mender.conf")
            }
            ConfigError::BothVerifyKeys => {
                f.write_str("Both 'ArtifactVerifyKey' and 'ArtifactVerifyKeys' are set")
            }
            ConfigError::BadBootEnvironment(v) => write!(
                f,
                "Invalid BootEnvironment {v:?} in mender.conf: expected \"uboot\", \"grub\" or \
                 \"auto\""
            ),
        }
    }
}

impl std::error::Error for ConfigError {}

/// One place grub-mender-grubenv may keep its environment (bootenv-formats.md §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrubEnvCandidate {
    /// The `ENV_DIR` (holds `mender_grubenv1/` and `mender_grubenv2/`).
    pub dir: PathBuf,
    /// The candidate is taken if this directory exists; `None` = taken unconditionally.
    pub probe: Option<PathBuf>,
}

impl Config {
    /// Loads `fallback`, then `main` over it, then validates like the Go client (`Servers`
    /// versus `ServerURL`, trailing `/` trimmed) plus the 4.x verify-key rule and the
    /// `BootEnvironment` value. Missing files are skipped.
    pub fn load(main: &Path, fallback: &Path) -> Result<Config, ConfigError> {
        let mut cfg = Config::default();
        for path in [fallback, main] {
            let Some(bytes) = read_config_file(path)? else {
                continue;
            };
            cfg.merge_json(&bytes).map_err(|e| match e {
                MergeError::Syntax(detail) => ConfigError::Syntax {
                    path: path.to_path_buf(),
                    detail,
                },
                MergeError::Type(detail) => ConfigError::Type {
                    path: path.to_path_buf(),
                    detail,
                },
            })?;
            cfg.loaded_files.push(path.to_path_buf());
        }
        cfg.validate()?;
        Ok(cfg)
    }

    /// Decodes one document over the current values (the per-file step of [`Config::load`]).
    fn merge_json(&mut self, doc: &[u8]) -> Result<(), MergeError> {
        let value = json::parse(doc).map_err(|e| MergeError::Syntax(e.0))?;
        decode_config(self, &value).map_err(|e| MergeError::Type(e.to_string()))
    }

    fn validate(&mut self) -> Result<(), ConfigError> {
        match &self.servers {
            None => {
                if self.server_url.is_empty() {
                    self.warnings
                        .push("No server URL(s) specified in mender configuration.".into());
                }
                self.servers = Some(vec![Server {
                    server_url: self.server_url.clone(),
                }]);
            }
            Some(_) if !self.server_url.is_empty() => return Err(ConfigError::BothServers),
            Some(_) => {}
        }
        if let Some(servers) = &mut self.servers {
            for (i, s) in servers.iter_mut().enumerate() {
                if let Some(trimmed) = s.server_url.strip_suffix('/') {
                    s.server_url = trimmed.to_string();
                }
                if s.server_url.is_empty() {
                    self.warnings.push(format!(
                        "Server entry {} has no associated server URL.",
                        i.saturating_add(1)
                    ));
                }
            }
        }
        if !self.https_client.key.is_empty() && !self.security.auth_private_key.is_empty() {
            self.warnings.push(
                "both config.HttpsClient.Key and config.Security.AuthPrivateKey specified; \
                 config.Security.AuthPrivateKey will take precedence over the former for the \
                 signing of auth requests."
                    .into(),
            );
        }
        if self.artifact_verify_keys.is_some() && !self.artifact_verify_key.is_empty() {
            return Err(ConfigError::BothVerifyKeys);
        }
        parse_boot_environment(&self.boot_environment)?;
        Ok(())
    }

    /// The servers to talk to (after load: `Servers`, or one entry made from `ServerURL`).
    pub fn servers(&self) -> &[Server] {
        self.servers.as_deref().unwrap_or(&[])
    }

    /// `RootfsPartA`/`RootfsPartB` when both are set; the Go client has no dual-rootfs support
    /// otherwise ("No dual rootfs configuration present").
    pub fn dual_rootfs(&self) -> Option<(&str, &str)> {
        if self.rootfs_part_a.is_empty() || self.rootfs_part_b.is_empty() {
            None
        } else {
            Some((&self.rootfs_part_a, &self.rootfs_part_b))
        }
    }

    /// `DeviceTypeFile`, defaulting to `<data>/device_type` (moved by `--data`).
    pub fn device_type_file(&self, data_dir: &Path) -> PathBuf {
        if self.device_type_file.is_empty() {
            data_dir.join("device_type")
        } else {
            PathBuf::from(&self.device_type_file)
        }
    }

    /// The public keys to verify Artifacts with: the 4.x `ArtifactVerifyKeys` list
    /// (duplicates dropped, order kept) or the single 3.x `ArtifactVerifyKey`; empty = no
    /// verification configured.
    pub fn verify_keys(&self) -> Vec<PathBuf> {
        let mut keys: Vec<PathBuf> = Vec::new();
        match &self.artifact_verify_keys {
            Some(list) => {
                for k in list {
                    let p = PathBuf::from(k);
                    if !keys.contains(&p) {
                        keys.push(p);
                    }
                }
            }
            None if !self.artifact_verify_key.is_empty() => {
                keys.push(PathBuf::from(&self.artifact_verify_key))
            }
            None => {}
        }
        keys
    }

    /// `BootEnvironment` (validated at load; empty means auto).
    pub fn boot_environment(&self) -> BootEnvironment {
        parse_boot_environment(&self.boot_environment).unwrap_or_default()
    }

    /// `ArtifactInfoFile`, default `/etc/mender/artifact_info`.
    pub fn artifact_info_file(&self) -> PathBuf {
        if self.artifact_info_file.is_empty() {
            PathBuf::from(crate::store::DEFAULT_ARTIFACT_INFO)
        } else {
            PathBuf::from(&self.artifact_info_file)
        }
    }

    /// `UbootEnvConfig`, default `/etc/fw_env.config`.
    pub fn uboot_env_config(&self) -> PathBuf {
        if self.uboot_env_config.is_empty() {
            PathBuf::from(DEFAULT_UBOOT_ENV_CONFIG)
        } else {
            PathBuf::from(&self.uboot_env_config)
        }
    }

    /// Where to look for the GRUB environment, in order. `GrubEnvDir` alone if set; otherwise
    /// grub-mender-grubenv's own search: the last `ENV_DIR = ...` line of
    /// `/etc/mender_grubenv.config` (if the file is readable; else an inherited `ENV_DIR`
    /// environment variable), then `/boot/efi/grub-mender-grubenv`,
    /// `/boot/grub/grub-mender-grubenv`, and the legacy `/boot/efi/EFI/BOOT` and `/boot/grub`
    /// when they hold `mender_grubenv1`.
    pub fn grub_env_dir_candidates(&self) -> Vec<GrubEnvCandidate> {
        self.grub_env_dir_candidates_in(Path::new("/"), std::env::var_os("ENV_DIR").as_deref())
    }

    /// [`Config::grub_env_dir_candidates`] below another root (tests, offline images);
    /// `inherited_env_dir` stands for the `ENV_DIR` environment variable.
    pub fn grub_env_dir_candidates_in(
        &self,
        root: &Path,
        inherited_env_dir: Option<&OsStr>,
    ) -> Vec<GrubEnvCandidate> {
        if !self.grub_env_dir.is_empty() {
            return vec![GrubEnvCandidate {
                dir: PathBuf::from(&self.grub_env_dir),
                probe: None,
            }];
        }
        let mut out = Vec::new();
        let conf = root.join(GRUBENV_CONFIG.trim_start_matches('/'));
        // The script's `[ -r file ]`: an unreadable file counts as absent.
        let explicit = match read_config_file(&conf) {
            Ok(Some(text)) => {
                grubenv_config_env_dir(&String::from_utf8_lossy(&text)).map(PathBuf::from)
            }
            _ => inherited_env_dir
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
        };
        if let Some(dir) = explicit {
            out.push(GrubEnvCandidate { dir, probe: None });
        }
        for (dir, probe) in [
            ("boot/efi/grub-mender-grubenv", ""),
            ("boot/grub/grub-mender-grubenv", ""),
            ("boot/efi/EFI/BOOT", "mender_grubenv1"),
            ("boot/grub", "mender_grubenv1"),
        ] {
            let dir = root.join(dir);
            let probe = if probe.is_empty() {
                dir.clone()
            } else {
                dir.join(probe)
            };
            out.push(GrubEnvCandidate {
                dir,
                probe: Some(probe),
            });
        }
        out
    }

    /// The first usable GRUB environment directory, or `None` where grub-mender-grubenv says
    /// "Cannot determine environment directory.".
    pub fn grub_env_dir(&self) -> Option<PathBuf> {
        pick_grub_env_dir(&self.grub_env_dir_candidates())
    }
}

/// First candidate that is unconditional or whose probe directory exists.
pub fn pick_grub_env_dir(candidates: &[GrubEnvCandidate]) -> Option<PathBuf> {
    candidates
        .iter()
        .find(|c| c.probe.as_ref().is_none_or(|p| p.is_dir()))
        .map(|c| c.dir.clone())
}

/// The value of the last `ENV_DIR *= *` line (the script's `egrep | sed | tail -n 1`); `None`
/// when there is none or it is empty, which sends the script on to its probes.
fn grubenv_config_env_dir(text: &str) -> Option<String> {
    let mut found = None;
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("ENV_DIR") else {
            continue;
        };
        let rest = rest.trim_start_matches(' ');
        if let Some(value) = rest.strip_prefix('=') {
            found = Some(value.trim_start_matches(' ').to_string());
        }
    }
    found.filter(|v| !v.is_empty())
}

fn parse_boot_environment(v: &str) -> Result<BootEnvironment, ConfigError> {
    if v.is_empty() || v.eq_ignore_ascii_case("auto") {
        Ok(BootEnvironment::Auto)
    } else if v.eq_ignore_ascii_case("uboot") {
        Ok(BootEnvironment::UBoot)
    } else if v.eq_ignore_ascii_case("grub") {
        Ok(BootEnvironment::Grub)
    } else {
        Err(ConfigError::BadBootEnvironment(v.to_string()))
    }
}

/// `Ok(None)` when the file does not exist (Go: `os.IsNotExist` on stat), the bytes otherwise.
fn read_config_file(path: &Path) -> Result<Option<Vec<u8>>, ConfigError> {
    let io_err = |op: &str, e: &io::Error| ConfigError::Io {
        path: path.to_path_buf(),
        message: go_path_error(op, path, e),
    };
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err("open", &e)),
    };
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_BYTES.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| io_err("read", &e))?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(ConfigError::Io {
            path: path.to_path_buf(),
            message: format!(
                "read {}: file larger than {} bytes",
                path.display(),
                MAX_CONFIG_BYTES
            ),
        });
    }
    Ok(Some(bytes))
}

enum MergeError {
    Syntax(String),
    Type(String),
}

/// Go's `*json.UnmarshalTypeError`, with the same wording.
struct TypeError {
    value: String,
    /// Innermost Go struct type and the dotted Go field path; `None` for the top-level value.
    context: Option<(&'static str, String)>,
    go_type: &'static str,
}

impl fmt::Display for TypeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.context {
            Some((st, path)) => write!(
                f,
                "json: cannot unmarshal {} into Go struct field {}.{} of type {}",
                self.value, st, path, self.go_type
            ),
            None => write!(
                f,
                "json: cannot unmarshal {} into Go value of type {}",
                self.value, self.go_type
            ),
        }
    }
}

/// A scalar field of [`Config`] to decode into.
enum Slot<'a> {
    Str(&'a mut String),
    Int(&'a mut i64),
    Bool(&'a mut bool),
}

/// Finds a field's slot; the tables below hold one per key, so decoding is one loop.
type Get = fn(&mut Config) -> Slot<'_>;

macro_rules! slot {
    ($variant:ident, $($field:ident).+) => {{
        fn get(c: &mut Config) -> Slot<'_> {
            Slot::$variant(&mut c.$($field).+)
        }
        get as Get
    }};
}

/// How a top-level key decodes.
enum Kind {
    Scalar(Get),
    /// A nested Go struct: its Go type and name (for errors) and its fields.
    Struct {
        go_type: &'static str,
        st: &'static str,
        fields: &'static [(&'static str, Get)],
    },
    Servers,
    VerifyKeys,
}

const TOP: &str = "MenderConfigFromFile";

const HTTPS_CLIENT: &[(&str, Get)] = &[
    ("Certificate", slot!(Str, https_client.certificate)),
    ("Key", slot!(Str, https_client.key)),
    ("SSLEngine", slot!(Str, https_client.ssl_engine)),
];
const SECURITY: &[(&str, Get)] = &[
    ("AuthPrivateKey", slot!(Str, security.auth_private_key)),
    ("SSLEngine", slot!(Str, security.ssl_engine)),
];
const CONNECTIVITY: &[(&str, Get)] = &[
    (
        "DisableKeepAlive",
        slot!(Bool, connectivity.disable_keep_alive),
    ),
    (
        "IdleConnTimeoutSeconds",
        slot!(Int, connectivity.idle_conn_timeout_seconds),
    ),
];
const DBUS: &[(&str, Get)] = &[("Enabled", slot!(Bool, dbus_enabled))];

/// The 3.4.0 `MenderConfigFromFile` fields, the 4.x `ArtifactVerifyKeys`, and this client's
/// extension keys.
const TOP_FIELDS: &[(&str, Kind)] = &[
    (
        "ArtifactVerifyKey",
        Kind::Scalar(slot!(Str, artifact_verify_key)),
    ),
    ("ArtifactVerifyKeys", Kind::VerifyKeys),
    (
        "HttpsClient",
        Kind::Struct {
            go_type: "client.HttpsClient",
            st: "HttpsClient",
            fields: HTTPS_CLIENT,
        },
    ),
    (
        "Security",
        Kind::Struct {
            go_type: "client.Security",
            st: "Security",
            fields: SECURITY,
        },
    ),
    (
        "Connectivity",
        Kind::Struct {
            go_type: "client.Connectivity",
            st: "Connectivity",
            fields: CONNECTIVITY,
        },
    ),
    ("RootfsPartA", Kind::Scalar(slot!(Str, rootfs_part_a))),
    ("RootfsPartB", Kind::Scalar(slot!(Str, rootfs_part_b))),
    (
        "BootUtilitiesSetActivePart",
        Kind::Scalar(slot!(Str, boot_utilities_set_active_part)),
    ),
    (
        "BootUtilitiesGetNextActivePart",
        Kind::Scalar(slot!(Str, boot_utilities_get_next_active_part)),
    ),
    ("DeviceTypeFile", Kind::Scalar(slot!(Str, device_type_file))),
    (
        "DBus",
        Kind::Struct {
            go_type: "conf.DBusConfig",
            st: "DBusConfig",
            fields: DBUS,
        },
    ),
    (
        "UpdatePollIntervalSeconds",
        Kind::Scalar(slot!(Int, update_poll_interval_seconds)),
    ),
    (
        "InventoryPollIntervalSeconds",
        Kind::Scalar(slot!(Int, inventory_poll_interval_seconds)),
    ),
    ("SkipVerify", Kind::Scalar(slot!(Bool, skip_verify))),
    (
        "RetryPollIntervalSeconds",
        Kind::Scalar(slot!(Int, retry_poll_interval_seconds)),
    ),
    ("RetryPollCount", Kind::Scalar(slot!(Int, retry_poll_count))),
    (
        "StateScriptTimeoutSeconds",
        Kind::Scalar(slot!(Int, state_script_timeout_seconds)),
    ),
    (
        "StateScriptRetryTimeoutSeconds",
        Kind::Scalar(slot!(Int, state_script_retry_timeout_seconds)),
    ),
    (
        "StateScriptRetryIntervalSeconds",
        Kind::Scalar(slot!(Int, state_script_retry_interval_seconds)),
    ),
    (
        "ModuleTimeoutSeconds",
        Kind::Scalar(slot!(Int, module_timeout_seconds)),
    ),
    (
        "UpdateControlMapExpirationTimeSeconds",
        Kind::Scalar(slot!(Int, update_control_map_expiration_time_seconds)),
    ),
    (
        "UpdateControlMapBootExpirationTimeSeconds",
        Kind::Scalar(slot!(Int, update_control_map_boot_expiration_time_seconds)),
    ),
    (
        "ServerCertificate",
        Kind::Scalar(slot!(Str, server_certificate)),
    ),
    ("ServerURL", Kind::Scalar(slot!(Str, server_url))),
    ("UpdateLogPath", Kind::Scalar(slot!(Str, update_log_path))),
    ("TenantToken", Kind::Scalar(slot!(Str, tenant_token))),
    ("DaemonLogLevel", Kind::Scalar(slot!(Str, daemon_log_level))),
    ("Servers", Kind::Servers),
    (
        "BootEnvironment",
        Kind::Scalar(slot!(Str, boot_environment)),
    ),
    ("UbootEnvConfig", Kind::Scalar(slot!(Str, uboot_env_config))),
    ("GrubEnvDir", Kind::Scalar(slot!(Str, grub_env_dir))),
    (
        "ArtifactInfoFile",
        Kind::Scalar(slot!(Str, artifact_info_file)),
    ),
];

/// Go's struct-field matching for letter-only names: ASCII case folding, plus the Kelvin sign
/// for `k` and the long s for `s` (the two non-ASCII runes that fold to ASCII letters).
fn key_matches(key: &str, name: &str) -> bool {
    let mut chars = key.chars();
    for n in name.bytes() {
        let Some(k) = chars.next() else {
            return false;
        };
        let ok = if k.is_ascii() {
            (k as u8).eq_ignore_ascii_case(&n)
        } else {
            match n.to_ascii_lowercase() {
                b'k' => k == '\u{212A}',
                b's' => k == '\u{017F}',
                _ => false,
            }
        };
        if !ok {
            return false;
        }
    }
    chars.next().is_none()
}

/// The table entry for a JSON key: an exact match first, then a folded one (Go's order).
fn lookup<'t, T>(key: &str, table: &'t [(&'static str, T)]) -> Option<&'t (&'static str, T)> {
    table
        .iter()
        .find(|(n, _)| *n == key)
        .or_else(|| table.iter().find(|(n, _)| key_matches(key, n)))
}

/// Stores `v` into a scalar field. `null` changes nothing (Go); a mismatch gives Go's value
/// description and type name.
fn set(slot: Slot<'_>, v: &json::Value) -> Result<(), (String, &'static str)> {
    match (slot, v) {
        (_, json::Value::Null) => Ok(()),
        (Slot::Str(d), json::Value::String(s)) => {
            d.clone_from(s);
            Ok(())
        }
        (Slot::Int(d), json::Value::Number(n)) => match n.parse::<i64>() {
            Ok(i) => {
                *d = i;
                Ok(())
            }
            Err(_) => Err((format!("number {n}"), "int")),
        },
        (Slot::Bool(d), json::Value::Bool(b)) => {
            *d = *b;
            Ok(())
        }
        (slot, v) => Err((
            v.go_kind().to_string(),
            match slot {
                Slot::Str(_) => "string",
                Slot::Int(_) => "int",
                Slot::Bool(_) => "bool",
            },
        )),
    }
}

/// The members of a nested struct's object; `Ok(None)` for `null` (no change), `Err(kind)`
/// for anything else.
fn object(v: &json::Value) -> Result<Option<&[(String, json::Value)]>, &'static str> {
    match v {
        json::Value::Null => Ok(None),
        json::Value::Object(m) => Ok(Some(m)),
        other => Err(other.go_kind()),
    }
}

/// Go's decoding into a slice: `null` resets it, an array sets its length but decodes element
/// `i` over the old element `i` (so a `null` element keeps the old value).
fn decode_list<T: Clone + Default>(
    dst: &mut Option<Vec<T>>,
    v: &json::Value,
    not_a_list: impl FnOnce(&'static str) -> TypeError,
    mut elem: impl FnMut(&mut T, &json::Value) -> Result<(), TypeError>,
) -> Result<(), TypeError> {
    match v {
        json::Value::Null => {
            *dst = None;
            Ok(())
        }
        json::Value::Array(items) => {
            let old = dst.take().unwrap_or_default();
            let mut new = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let mut e = old.get(i).cloned().unwrap_or_default();
                elem(&mut e, item)?;
                new.push(e);
            }
            *dst = Some(new);
            Ok(())
        }
        other => Err(not_a_list(other.go_kind())),
    }
}

fn decode_config(cfg: &mut Config, v: &json::Value) -> Result<(), TypeError> {
    let members = match v {
        json::Value::Null => return Ok(()),
        json::Value::Object(m) => m,
        other => {
            return Err(TypeError {
                value: other.go_kind().into(),
                context: None,
                go_type: "conf.MenderConfigFromFile",
            })
        }
    };
    for (key, val) in members {
        let Some((name, kind)) = lookup(key, TOP_FIELDS) else {
            continue;
        };
        let at = |st: &'static str, path: String| {
            move |(value, go_type): (String, &'static str)| TypeError {
                value,
                context: Some((st, path)),
                go_type,
            }
        };
        match kind {
            Kind::Scalar(get) => set(get(cfg), val).map_err(at(TOP, name.to_string()))?,
            Kind::Struct {
                go_type,
                st,
                fields,
            } => {
                let members =
                    object(val).map_err(|k| at(TOP, name.to_string())((k.into(), go_type)))?;
                for (k, v) in members.unwrap_or_default() {
                    if let Some((field, get)) = lookup(k, fields) {
                        set(get(cfg), v).map_err(at(st, format!("{name}.{field}")))?;
                    }
                }
            }
            Kind::VerifyKeys => decode_list(
                &mut cfg.artifact_verify_keys,
                val,
                |k| at(TOP, name.to_string())((k.into(), "[]string")),
                |e, item| set(Slot::Str(e), item).map_err(at(TOP, name.to_string())),
            )?,
            Kind::Servers => decode_list(
                &mut cfg.servers,
                val,
                |k| at(TOP, name.to_string())((k.into(), "[]client.MenderServer")),
                |e: &mut Server, item| {
                    let members = object(item).map_err(|k| {
                        at(TOP, name.to_string())((k.into(), "client.MenderServer"))
                    })?;
                    for (k, v) in members.unwrap_or_default() {
                        if lookup(k, &[("ServerURL", ())]).is_some() {
                            set(Slot::Str(&mut e.server_url), v)
                                .map_err(at("MenderServer", format!("{name}.ServerURL")))?;
                        }
                    }
                    Ok(())
                },
            )?,
        }
    }
    Ok(())
}

/// A small JSON reader and writer with Go `encoding/json` behaviour where it shows: the
/// scanner's error messages, U+FFFD for invalid UTF-8 and lone surrogates, and the encoder's
/// escaping (including `<`, `>`, `&`, U+2028 and U+2029).
pub mod json {
    use std::fmt::Write as _;

    /// Nesting beyond this is refused, so hostile input cannot exhaust the stack. Go allows
    /// 10000 levels; no configuration or state file comes near either limit.
    pub const MAX_DEPTH: usize = 128;

    /// A parsed value. Numbers keep their literal text; objects keep member order and
    /// duplicates (later ones win when decoded, as in Go).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Value {
        Null,
        Bool(bool),
        Number(String),
        String(String),
        Array(Vec<Value>),
        Object(Vec<(String, Value)>),
    }

    impl Value {
        /// Go's name for the JSON kind in type errors.
        pub fn go_kind(&self) -> &'static str {
            match self {
                Value::Null => "null",
                Value::Bool(_) => "bool",
                Value::Number(_) => "number",
                Value::String(_) => "string",
                Value::Array(_) => "array",
                Value::Object(_) => "object",
            }
        }

        /// The last member named exactly `key` of an object.
        pub fn get(&self, key: &str) -> Option<&Value> {
            match self {
                Value::Object(m) => m.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
                _ => None,
            }
        }
    }

    /// A syntax error; the text is Go's (`invalid character 'x' looking for beginning of
    /// value`, `unexpected end of JSON input`).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct SyntaxError(pub String);

    impl std::fmt::Display for SyntaxError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(&self.0)
        }
    }

    impl std::error::Error for SyntaxError {}

    /// Parses one complete document (whitespace around it allowed).
    pub fn parse(doc: &[u8]) -> Result<Value, SyntaxError> {
        let mut p = Parser { b: doc, i: 0 };
        p.ws();
        let v = p.value(0)?;
        p.ws();
        match p.peek() {
            None => Ok(v),
            Some(c) => Err(invalid(c, "after top-level value")),
        }
    }

    /// Appends `s` as a JSON string literal, escaped like Go's encoder.
    pub fn write_string(out: &mut String, s: &str) {
        out.push('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x20
                    || matches!(c, '<' | '>' | '&' | '\u{2028}' | '\u{2029}') =>
                {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                c => out.push(c),
            }
        }
        out.push('"');
    }

    /// Appends `v` compactly (member order kept).
    pub fn write_value(out: &mut String, v: &Value) {
        match v {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Number(n) => out.push_str(n),
            Value::String(s) => write_string(out, s),
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_value(out, item);
                }
                out.push(']');
            }
            Value::Object(members) => {
                out.push('{');
                for (i, (k, item)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_string(out, k);
                    out.push(':');
                    write_value(out, item);
                }
                out.push('}');
            }
        }
    }

    fn eof() -> SyntaxError {
        SyntaxError("unexpected end of JSON input".into())
    }

    fn invalid(c: u8, context: &str) -> SyntaxError {
        SyntaxError(format!("invalid character {} {}", quote_char(c), context))
    }

    /// Go's `quoteChar`: the byte as a rune, quoted like `strconv.Quote` but in single quotes.
    fn quote_char(c: u8) -> String {
        match c {
            b'\'' => "'\\''".into(),
            b'"' => "'\"'".into(),
            b'\\' => "'\\\\'".into(),
            0x07 => "'\\a'".into(),
            0x08 => "'\\b'".into(),
            0x0c => "'\\f'".into(),
            b'\n' => "'\\n'".into(),
            b'\r' => "'\\r'".into(),
            b'\t' => "'\\t'".into(),
            0x0b => "'\\v'".into(),
            c if c < 0x20 || c == 0x7f => format!("'\\x{c:02x}'"),
            // Latin-1 controls, NBSP and the soft hyphen are not printable for strconv.
            c if c >= 0x80 && (c < 0xa1 || c == 0xad) => format!("'\\u{:04x}'", c),
            c => format!("'{}'", char::from(c)),
        }
    }

    struct Parser<'a> {
        b: &'a [u8],
        i: usize,
    }

    impl Parser<'_> {
        fn peek(&self) -> Option<u8> {
            self.b.get(self.i).copied()
        }

        fn bump(&mut self) -> Option<u8> {
            let c = self.peek()?;
            self.i = self.i.saturating_add(1);
            Some(c)
        }

        fn ws(&mut self) {
            while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
                self.i = self.i.saturating_add(1);
            }
        }

        fn value(&mut self, depth: usize) -> Result<Value, SyntaxError> {
            let c = self.peek().ok_or_else(eof)?;
            match c {
                b'{' | b'[' if depth >= MAX_DEPTH => Err(invalid(c, "exceeded max depth")),
                b'{' => self.object(depth.saturating_add(1)),
                b'[' => self.array(depth.saturating_add(1)),
                b'"' => self.string().map(Value::String),
                b'-' | b'0'..=b'9' => self.number(),
                b't' => self.literal("true", Value::Bool(true)),
                b'f' => self.literal("false", Value::Bool(false)),
                b'n' => self.literal("null", Value::Null),
                c => Err(invalid(c, "looking for beginning of value")),
            }
        }

        fn literal(&mut self, word: &'static str, v: Value) -> Result<Value, SyntaxError> {
            for expected in word.bytes() {
                let c = self.bump().ok_or_else(eof)?;
                if c != expected {
                    return Err(invalid(
                        c,
                        &format!("in literal {} (expecting {})", word, quote_char(expected)),
                    ));
                }
            }
            Ok(v)
        }

        fn digits(&mut self) {
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.i = self.i.saturating_add(1);
            }
        }

        fn number(&mut self) -> Result<Value, SyntaxError> {
            let start = self.i;
            if self.peek() == Some(b'-') {
                self.i = self.i.saturating_add(1);
            }
            match self.bump() {
                None => return Err(eof()),
                Some(b'0') => {}
                Some(b'1'..=b'9') => self.digits(),
                Some(c) => return Err(invalid(c, "in numeric literal")),
            }
            if self.peek() == Some(b'.') {
                self.i = self.i.saturating_add(1);
                match self.bump() {
                    None => return Err(eof()),
                    Some(b'0'..=b'9') => self.digits(),
                    Some(c) => return Err(invalid(c, "after decimal point in numeric literal")),
                }
            }
            if matches!(self.peek(), Some(b'e' | b'E')) {
                self.i = self.i.saturating_add(1);
                if matches!(self.peek(), Some(b'+' | b'-')) {
                    self.i = self.i.saturating_add(1);
                }
                match self.bump() {
                    None => return Err(eof()),
                    Some(b'0'..=b'9') => self.digits(),
                    Some(c) => return Err(invalid(c, "in exponent of numeric literal")),
                }
            }
            let text = self.b.get(start..self.i).unwrap_or_default();
            // Only ASCII digits, signs, '.', 'e' were accepted above.
            Ok(Value::Number(String::from_utf8_lossy(text).into_owned()))
        }

        fn hex4(&mut self) -> Result<u32, SyntaxError> {
            let mut v = 0u32;
            for _ in 0..4 {
                let c = self.bump().ok_or_else(eof)?;
                let d = char::from(c)
                    .to_digit(16)
                    .ok_or_else(|| invalid(c, "in \\u hexadecimal character escape"))?;
                v = (v << 4) | d;
            }
            Ok(v)
        }

        /// A string literal (the cursor is on the opening quote), unescaped.
        fn string(&mut self) -> Result<String, SyntaxError> {
            self.i = self.i.saturating_add(1);
            let mut raw: Vec<u8> = Vec::new();
            loop {
                let c = self.bump().ok_or_else(eof)?;
                match c {
                    b'"' => return Ok(utf8_lossy_per_byte(&raw)),
                    b'\\' => {
                        let e = self.bump().ok_or_else(eof)?;
                        let ch = match e {
                            b'"' => '"',
                            b'\\' => '\\',
                            b'/' => '/',
                            b'b' => '\u{8}',
                            b'f' => '\u{c}',
                            b'n' => '\n',
                            b'r' => '\r',
                            b't' => '\t',
                            b'u' => self.unicode_escape()?,
                            c => return Err(invalid(c, "in string escape code")),
                        };
                        let mut buf = [0u8; 4];
                        raw.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                    }
                    c if c < 0x20 => return Err(invalid(c, "in string literal")),
                    c => raw.push(c),
                }
            }
        }

        /// After `\u`: one code point; a valid surrogate pair is joined, anything else that is
        /// a surrogate becomes U+FFFD (Go's `unquote`).
        fn unicode_escape(&mut self) -> Result<char, SyntaxError> {
            let first = self.hex4()?;
            if !(0xD800..0xE000).contains(&first) {
                return Ok(char::from_u32(first).unwrap_or('\u{FFFD}'));
            }
            if (0xD800..0xDC00).contains(&first)
                && self.b.get(self.i) == Some(&b'\\')
                && self.b.get(self.i.saturating_add(1)) == Some(&b'u')
            {
                let save = self.i;
                self.i = self.i.saturating_add(2);
                // A malformed second escape is reported by the main loop when it re-reads it.
                if let Ok(second) = self.hex4() {
                    if (0xDC00..0xE000).contains(&second) {
                        let cp = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
                        return Ok(char::from_u32(cp).unwrap_or('\u{FFFD}'));
                    }
                }
                self.i = save;
            }
            Ok('\u{FFFD}')
        }

        fn object(&mut self, depth: usize) -> Result<Value, SyntaxError> {
            self.i = self.i.saturating_add(1);
            let mut members = Vec::new();
            self.ws();
            match self.peek() {
                None => return Err(eof()),
                Some(b'}') => {
                    self.i = self.i.saturating_add(1);
                    return Ok(Value::Object(members));
                }
                Some(_) => {}
            }
            loop {
                match self.peek() {
                    None => return Err(eof()),
                    Some(b'"') => {}
                    Some(c) => {
                        return Err(invalid(c, "looking for beginning of object key string"))
                    }
                }
                let key = self.string()?;
                self.ws();
                match self.bump() {
                    None => return Err(eof()),
                    Some(b':') => {}
                    Some(c) => return Err(invalid(c, "after object key")),
                }
                self.ws();
                let v = self.value(depth)?;
                members.push((key, v));
                self.ws();
                match self.bump() {
                    None => return Err(eof()),
                    Some(b',') => self.ws(),
                    Some(b'}') => return Ok(Value::Object(members)),
                    Some(c) => return Err(invalid(c, "after object key:value pair")),
                }
            }
        }

        fn array(&mut self, depth: usize) -> Result<Value, SyntaxError> {
            self.i = self.i.saturating_add(1);
            let mut items = Vec::new();
            self.ws();
            match self.peek() {
                None => return Err(eof()),
                Some(b']') => {
                    self.i = self.i.saturating_add(1);
                    return Ok(Value::Array(items));
                }
                Some(_) => {}
            }
            loop {
                items.push(self.value(depth)?);
                self.ws();
                match self.bump() {
                    None => return Err(eof()),
                    Some(b',') => self.ws(),
                    Some(b']') => return Ok(Value::Array(items)),
                    Some(c) => return Err(invalid(c, "after array element")),
                }
            }
        }
    }

    /// UTF-8 decoding that replaces every byte of an invalid sequence with U+FFFD, as Go does.
    fn utf8_lossy_per_byte(mut bytes: &[u8]) -> String {
        let mut out = String::with_capacity(bytes.len());
        loop {
            match std::str::from_utf8(bytes) {
                Ok(s) => {
                    out.push_str(s);
                    return out;
                }
                Err(e) => {
                    let (good, rest) = bytes.split_at(e.valid_up_to());
                    out.push_str(std::str::from_utf8(good).unwrap_or_default());
                    let bad = e.error_len().unwrap_or(rest.len()).max(1);
                    for _ in 0..bad.min(rest.len()) {
                        out.push('\u{FFFD}');
                    }
                    bytes = rest.get(bad..).unwrap_or_default();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::json::{self, Value};
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn tmpdir(tag: &str) -> PathBuf {
        static N: AtomicUsize = AtomicUsize::new(0);
        let d = std::env::temp_dir().join(format!(
            "mender-config-{}-{}-{}",
            tag,
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn load_strs(fallback: Option<&str>, main: Option<&str>) -> Result<Config, ConfigError> {
        let d = tmpdir("load");
        let f = d.join("fallback.conf");
        let m = d.join("main.conf");
        if let Some(t) = fallback {
            std::fs::write(&f, t).unwrap();
        }
        if let Some(t) = main {
            std::fs::write(&m, t).unwrap();
        }
        let r = Config::load(&m, &f);
        let _ = std::fs::remove_dir_all(&d);
        r
    }

    fn syntax(doc: &str) -> String {
        json::parse(doc.as_bytes()).unwrap_err().0
    }

    #[test]
    fn missing_files_give_defaults() {
        let c = load_strs(None, None).unwrap();
        assert!(c.loaded_files.is_empty());
        assert_eq!(c.servers(), &[Server::default()]);
        // Go logs both: the missing URL, then the empty entry made from it.
        assert_eq!(
            c.warnings,
            vec![
                "No server URL(s) specified in mender configuration.".to_string(),
                "Server entry 1 has no associated server URL.".to_string()
            ]
        );
        assert_eq!(c.boot_environment(), BootEnvironment::Auto);
        assert_eq!(c.uboot_env_config(), PathBuf::from("/etc/fw_env.config"));
        assert_eq!(
            c.device_type_file(Path::new("/data")),
            PathBuf::from("/data/device_type")
        );
        assert!(c.verify_keys().is_empty());
        assert_eq!(c.dual_rootfs(), None);
    }

    #[test]
    fn main_wins_per_key_and_fallback_fills_the_rest() {
        let c = load_strs(
            Some(r#"{"RootfsPartA":"/dev/a-fb","RootfsPartB":"/dev/b-fb","TenantToken":"t"}"#),
            Some(r#"{"RootfsPartA":"/dev/mmcblk0p2","ServerURL":"https://x/"}"#),
        )
        .unwrap();
        assert_eq!(c.dual_rootfs(), Some(("/dev/mmcblk0p2", "/dev/b-fb")));
        assert_eq!(c.tenant_token, "t");
        assert_eq!(c.loaded_files.len(), 2);
        assert!(c.loaded_files[0].ends_with("fallback.conf"));
        // One trailing slash trimmed; ServerURL became Servers[0].
        assert_eq!(c.servers()[0].server_url, "https://x");
        assert!(c.warnings.is_empty());
    }

    #[test]
    fn keys_are_case_insensitive_unknown_ignored_last_duplicate_wins() {
        let c = load_strs(
            None,
            Some(
                r#"{"rootfsparta":"a","ROOTFSPARTB":"b","NoSuchKey":{"x":[1,2]},
                    "devicetypefile":"/one","DeviceTypeFile":"/two",
                    "httpsclient":{"KEY":"k","certificate":"c"},
                    "Servers":[{"serverurl":"https://s1"}],
                    "bootenvironment":"GRUB","ubootenvconfig":"/etc/fw.cfg"}"#,
            ),
        )
        .unwrap();
        assert_eq!(c.dual_rootfs(), Some(("a", "b")));
        assert_eq!(c.device_type_file(Path::new("/d")), PathBuf::from("/two"));
        assert_eq!(c.https_client.key, "k");
        assert_eq!(c.https_client.certificate, "c");
        assert_eq!(c.servers()[0].server_url, "https://s1");
        assert_eq!(c.boot_environment(), BootEnvironment::Grub);
        assert_eq!(c.uboot_env_config(), PathBuf::from("/etc/fw.cfg"));
    }

    #[test]
    fn go_folding_accepts_kelvin_and_long_s() {
        assert!(key_matches("\u{212A}ey", "Key"));
        assert!(key_matches("\u{017F}kipVerify", "SkipVerify"));
        assert!(key_matches("skipverify", "SkipVerify"));
        assert!(!key_matches("SkipVerif", "SkipVerify"));
        assert!(!key_matches("SkipVerifyX", "SkipVerify"));
        assert!(!key_matches("\u{212A}ey", "Bey"));
        assert!(!key_matches("Skip_Verify", "SkipVerify"));
    }

    #[test]
    fn nested_objects_merge_and_null_semantics() {
        let c = load_strs(
            Some(
                r#"{"HttpsClient":{"Certificate":"c","Key":"k"},"Servers":[{"ServerURL":"https://a"}],
                   "RootfsPartA":"x","ArtifactVerifyKeys":["k1","k2"]}"#,
            ),
            Some(
                r#"{"HttpsClient":{"Key":"k2"},"Servers":[{}],"RootfsPartA":null,
                   "ArtifactVerifyKeys":["k3",null]}"#,
            ),
        )
        .unwrap();
        // Nested struct merged per key.
        assert_eq!(c.https_client.certificate, "c");
        assert_eq!(c.https_client.key, "k2");
        // Go decodes array element i over the old element i.
        assert_eq!(c.servers()[0].server_url, "https://a");
        // null leaves a string alone; a null list element keeps the old element.
        assert_eq!(c.rootfs_part_a, "x");
        assert_eq!(
            c.verify_keys(),
            vec![PathBuf::from("k3"), PathBuf::from("k2")]
        );

        // null resets a list; a shorter list truncates.
        let c = load_strs(
            Some(r#"{"Servers":[{"ServerURL":"https://a"},{"ServerURL":"https://b"}]}"#),
            Some(r#"{"Servers":null,"ServerURL":"https://c"}"#),
        )
        .unwrap();
        assert_eq!(c.servers().len(), 1);
        assert_eq!(c.servers()[0].server_url, "https://c");
        let c = load_strs(
            Some(r#"{"Servers":[{"ServerURL":"https://a"},{"ServerURL":"https://b"}]}"#),
            Some(r#"{"Servers":[{"ServerURL":"https://z/"}]}"#),
        )
        .unwrap();
        assert_eq!(
            c.servers(),
            &[Server {
                server_url: "https://z".into()
            }]
        );
    }

    #[test]
    fn both_servers_and_server_url_is_an_error() {
        let e = load_strs(
            None,
            Some(r#"{"ServerURL":"https://a","Servers":[{"ServerURL":"https://b"}]}"#),
        )
        .unwrap_err();
        assert_eq!(e, ConfigError::BothServers);
        assert_eq!(
            e.to_string(),
            "Both Servers AND ServerURL given in mender.conf"
        );
        // Across files too, and an empty list still counts as given.
        let e = load_strs(
            Some(r#"{"Servers":[]}"#),
            Some(r#"{"ServerURL":"https://a"}"#),
        )
        .unwrap_err();
        assert_eq!(e, ConfigError::BothServers);
    }

    #[test]
    fn empty_server_entry_warns() {
        let c = load_strs(None, Some(r#"{"Servers":[{"ServerURL":"https://a"},{}]}"#)).unwrap();
        assert_eq!(
            c.warnings,
            vec!["Server entry 2 has no associated server URL.".to_string()]
        );
    }

    #[test]
    fn verify_key_single_and_list_rules() {
        let c = load_strs(None, Some(r#"{"ArtifactVerifyKey":"/etc/mender/key.pem"}"#)).unwrap();
        assert_eq!(c.verify_keys(), vec![PathBuf::from("/etc/mender/key.pem")]);
        let c = load_strs(None, Some(r#"{"ArtifactVerifyKeys":["/a","/b","/a"]}"#)).unwrap();
        assert_eq!(
            c.verify_keys(),
            vec![PathBuf::from("/a"), PathBuf::from("/b")]
        );
        let e = load_strs(
            None,
            Some(r#"{"ArtifactVerifyKeys":["/a"],"ArtifactVerifyKey":"/b"}"#),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Both 'ArtifactVerifyKey' and 'ArtifactVerifyKeys' are set"
        );
        let e = load_strs(
            None,
            Some(r#"{"ArtifactVerifyKeys":[],"ArtifactVerifyKey":"/b"}"#),
        )
        .unwrap_err();
        assert_eq!(e, ConfigError::BothVerifyKeys);
    }

    #[test]
    fn syntax_errors_use_go_messages() {
        let e = load_strs(None, Some("{\"ServerURL\": \"x\",}")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Error parsing mender configuration file: invalid character '}' looking for \
             beginning of object key string"
        );
        assert!(e.path().unwrap().ends_with("main.conf"));
        // Fallback errors stop the load too.
        let e = load_strs(Some(""), None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Error parsing mender configuration file: unexpected end of JSON input"
        );
        assert!(e.path().unwrap().ends_with("fallback.conf"));

        assert_eq!(
            syntax("x"),
            "invalid character 'x' looking for beginning of value"
        );
        assert_eq!(
            syntax("{\"a\" 1}"),
            "invalid character '1' after object key"
        );
        assert_eq!(
            syntax("{\"a\":1 \"b\":2}"),
            "invalid character '\"' after object key:value pair"
        );
        assert_eq!(syntax("[1 2]"), "invalid character '2' after array element");
        assert_eq!(
            syntax("[1,]"),
            "invalid character ']' looking for beginning of value"
        );
        assert_eq!(
            syntax("{} {}"),
            "invalid character '{' after top-level value"
        );
        assert_eq!(syntax("01"), "invalid character '1' after top-level value");
        assert_eq!(syntax("-x"), "invalid character 'x' in numeric literal");
        assert_eq!(
            syntax("1.e"),
            "invalid character 'e' after decimal point in numeric literal"
        );
        assert_eq!(syntax("1e+"), "unexpected end of JSON input");
        assert_eq!(
            syntax("1ex"),
            "invalid character 'x' in exponent of numeric literal"
        );
        assert_eq!(
            syntax("trve"),
            "invalid character 'v' in literal true (expecting 'u')"
        );
        assert_eq!(syntax("nul"), "unexpected end of JSON input");
        assert_eq!(
            syntax("\"a\nb\""),
            "invalid character '\\n' in string literal"
        );
        assert_eq!(
            syntax("\"\\q\""),
            "invalid character 'q' in string escape code"
        );
        assert_eq!(
            syntax("\"\\u12g4\""),
            "invalid character 'g' in \\u hexadecimal character escape"
        );
        assert_eq!(
            syntax("\u{feff}{}"),
            "invalid character 'ï' looking for beginning of value"
        );
        assert_eq!(
            syntax("\x01"),
            "invalid character '\\x01' looking for beginning of value"
        );
        assert_eq!(
            syntax("'"),
            "invalid character '\\'' looking for beginning of value"
        );
        assert_eq!(syntax("   "), "unexpected end of JSON input");
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowing() {
        let deep = "[".repeat(json::MAX_DEPTH + 1);
        assert_eq!(syntax(&deep), "invalid character '[' exceeded max depth");
        let ok = format!(
            "{}{}",
            "[".repeat(json::MAX_DEPTH),
            "]".repeat(json::MAX_DEPTH)
        );
        assert!(json::parse(ok.as_bytes()).is_ok());
        let huge = "[".repeat(1_000_000);
        assert!(json::parse(huge.as_bytes()).is_err());
    }

    #[test]
    fn type_errors_use_go_messages() {
        let e = load_strs(None, Some(r#"{"RootfsPartA":5}"#)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Error parsing config file: json: cannot unmarshal number into Go struct field \
             MenderConfigFromFile.RootfsPartA of type string"
        );
        let cases = [
            (
                r#"{"UpdatePollIntervalSeconds":1.5}"#,
                "json: cannot unmarshal number 1.5 into Go struct field \
                 MenderConfigFromFile.UpdatePollIntervalSeconds of type int",
            ),
            (
                r#"{"updatepollintervalseconds":"5"}"#,
                "json: cannot unmarshal string into Go struct field \
                 MenderConfigFromFile.UpdatePollIntervalSeconds of type int",
            ),
            (
                r#"{"SkipVerify":1}"#,
                "json: cannot unmarshal number into Go struct field \
                 MenderConfigFromFile.SkipVerify of type bool",
            ),
            (
                r#"{"HttpsClient":{"Key":[]}}"#,
                "json: cannot unmarshal array into Go struct field \
                 HttpsClient.HttpsClient.Key of type string",
            ),
            (
                r#"{"HttpsClient":"x"}"#,
                "json: cannot unmarshal string into Go struct field \
                 MenderConfigFromFile.HttpsClient of type client.HttpsClient",
            ),
            (
                r#"{"Servers":{}}"#,
                "json: cannot unmarshal object into Go struct field \
                 MenderConfigFromFile.Servers of type []client.MenderServer",
            ),
            (
                r#"{"Servers":[{"ServerURL":true}]}"#,
                "json: cannot unmarshal bool into Go struct field \
                 MenderServer.Servers.ServerURL of type string",
            ),
            (
                r#"{"Servers":[7]}"#,
                "json: cannot unmarshal number into Go struct field \
                 MenderConfigFromFile.Servers of type client.MenderServer",
            ),
            (
                r#"[]"#,
                "json: cannot unmarshal array into Go value of type conf.MenderConfigFromFile",
            ),
            (
                r#"{"ModuleTimeoutSeconds":99999999999999999999}"#,
                "json: cannot unmarshal number 99999999999999999999 into Go struct field \
                 MenderConfigFromFile.ModuleTimeoutSeconds of type int",
            ),
        ];
        for (doc, want) in cases {
            match load_strs(None, Some(doc)).unwrap_err() {
                ConfigError::Type { detail, .. } => assert_eq!(detail, want, "{doc}"),
                other => panic!("{doc}: {other:?}"),
            }
        }
    }

    #[test]
    fn scalar_values_of_every_kind_decode() {
        let c = load_strs(
            None,
            Some(
                r#"{"UpdatePollIntervalSeconds":-0,"InventoryPollIntervalSeconds":28800,
                    "SkipVerify":true,"Connectivity":{"DisableKeepAlive":true,
                    "IdleConnTimeoutSeconds":30},"DBus":{"enabled":true},"ServerURL":"https://h",
                    "Security":{"AuthPrivateKey":"/k","SSLEngine":"e"},"HttpsClient":{"Key":"/k2"},
                    "GrubEnvDir":"/boot/g","RetryPollCount":3}"#,
            ),
        )
        .unwrap();
        assert_eq!(c.update_poll_interval_seconds, 0);
        assert_eq!(c.inventory_poll_interval_seconds, 28800);
        assert!(c.skip_verify && c.connectivity.disable_keep_alive && c.dbus_enabled);
        assert_eq!(c.connectivity.idle_conn_timeout_seconds, 30);
        assert_eq!(c.security.ssl_engine, "e");
        assert_eq!(c.retry_poll_count, 3);
        assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
        assert!(c.warnings[0].starts_with("both config.HttpsClient.Key"));
        assert_eq!(
            c.grub_env_dir_candidates(),
            vec![GrubEnvCandidate {
                dir: "/boot/g".into(),
                probe: None
            }]
        );
        assert_eq!(c.grub_env_dir(), Some(PathBuf::from("/boot/g")));
    }

    #[test]
    fn bad_boot_environment_is_rejected() {
        let e = load_strs(None, Some(r#"{"BootEnvironment":"efi"}"#)).unwrap_err();
        assert_eq!(e, ConfigError::BadBootEnvironment("efi".into()));
        let c = load_strs(None, Some(r#"{"BootEnvironment":"uboot"}"#)).unwrap();
        assert_eq!(c.boot_environment(), BootEnvironment::UBoot);
    }

    #[test]
    fn unreadable_config_is_a_go_style_error() {
        let d = tmpdir("dir");
        // A directory opens but cannot be read.
        let e = Config::load(&d, &d.join("missing")).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("read {}: is a directory", d.display())
        );
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn grub_search_order_follows_grub_mender_grubenv() {
        let root = tmpdir("grub");
        let c = Config::default();
        let cands = c.grub_env_dir_candidates_in(&root, None);
        assert_eq!(cands.len(), 4);
        assert_eq!(cands[0].dir, root.join("boot/efi/grub-mender-grubenv"));
        assert_eq!(cands[2].dir, root.join("boot/efi/EFI/BOOT"));
        assert_eq!(
            cands[2].probe,
            Some(root.join("boot/efi/EFI/BOOT/mender_grubenv1"))
        );
        assert_eq!(pick_grub_env_dir(&cands), None);

        // Legacy location is found only through its mender_grubenv1 directory.
        std::fs::create_dir_all(root.join("boot/grub/mender_grubenv1")).unwrap();
        let cands = c.grub_env_dir_candidates_in(&root, None);
        assert_eq!(pick_grub_env_dir(&cands), Some(root.join("boot/grub")));
        std::fs::create_dir_all(root.join("boot/grub/grub-mender-grubenv")).unwrap();
        let cands = c.grub_env_dir_candidates_in(&root, None);
        assert_eq!(
            pick_grub_env_dir(&cands),
            Some(root.join("boot/grub/grub-mender-grubenv"))
        );

        // The inherited variable counts only while the config file is absent.
        let cands = c.grub_env_dir_candidates_in(&root, Some(OsStr::new("/env/dir")));
        assert_eq!(pick_grub_env_dir(&cands), Some(PathBuf::from("/env/dir")));
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(
            root.join("etc/mender_grubenv.config"),
            "# x\nENV_DIR = /first\nENV_DIR=/boot/efi/custom\nXENV_DIR=/no\n",
        )
        .unwrap();
        let cands = c.grub_env_dir_candidates_in(&root, Some(OsStr::new("/env/dir")));
        assert_eq!(
            pick_grub_env_dir(&cands),
            Some(PathBuf::from("/boot/efi/custom"))
        );
        // A config file without ENV_DIR overrides the variable with "", so probing happens.
        std::fs::write(root.join("etc/mender_grubenv.config"), "OTHER=1\n").unwrap();
        let cands = c.grub_env_dir_candidates_in(&root, Some(OsStr::new("/env/dir")));
        assert_eq!(
            pick_grub_env_dir(&cands),
            Some(root.join("boot/grub/grub-mender-grubenv"))
        );
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn json_strings_unescape_like_go() {
        let v = json::parse(br#""a\u00e9\ud83d\ude00\ud800x\u0041\/\"\\""#).unwrap();
        assert_eq!(v, Value::String("a\u{e9}\u{1F600}\u{FFFD}xA/\"\\".into()));
        // Invalid UTF-8: one U+FFFD per bad byte.
        let v = json::parse(b"\"a\xe2\x82b\xff\"").unwrap();
        assert_eq!(v, Value::String("a\u{FFFD}\u{FFFD}b\u{FFFD}".into()));
        // High surrogate followed by a non-low escape: replacement, then the escape itself.
        let v = json::parse(br#""\ud800\u0041""#).unwrap();
        assert_eq!(v, Value::String("\u{FFFD}A".into()));
    }

    #[test]
    fn json_writer_escapes_like_go_and_round_trips() {
        let mut out = String::new();
        json::write_string(&mut out, "q\"b\\n\n\t\r\u{1}<>&\u{2028}é");
        assert_eq!(out, r#""q\"b\\n\n\t\r\u0001\u003c\u003e\u0026\u2028é""#);
        let doc = r#"{"a":[1,-2.5e3,true,false,null,"x"],"b":{},"c":[]}"#;
        let v = json::parse(doc.as_bytes()).unwrap();
        let mut out = String::new();
        json::write_value(&mut out, &v);
        assert_eq!(out, doc);
        assert_eq!(v.get("b"), Some(&Value::Object(vec![])));
        assert_eq!(v.get("zz"), None);
    }

    #[test]
    fn go_error_text_for_os_errors() {
        let e = io::Error::from_raw_os_error(2);
        assert_eq!(
            go_path_error("open", Path::new("/etc/mender/artifact_info"), &e),
            "open /etc/mender/artifact_info: no such file or directory"
        );
        assert_eq!(
            os_error_text(&io::Error::from_raw_os_error(13)),
            "permission denied"
        );
    }
}
