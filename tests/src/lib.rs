//! Shared helpers for the integration tests.
//!
//! The interop tests compare `mender inspect --json` with what the real `mender-artifact` reports,
//! so they need external tools, the freshly built `mender` binary, scratch directories and a JSON
//! comparison that tolerates the float64 re-encoding mender-artifact applies to numbers. Missing
//! tools are a hard failure: an interop test that silently skips proves nothing.

pub mod artifact_read;
pub mod fakes;
pub mod sim;

use serde_json::Value;
use sha2::{Digest, Sha256};
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// The cargo workspace root (this crate lives in `<root>/tests`).
pub fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map_or_else(|| manifest_dir.to_path_buf(), Path::to_path_buf)
}

/// Directory of this crate's checked-in fixtures.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Target directory the `mender` binary is built into: `CARGO_TARGET_DIR` if set (a relative
/// value is taken relative to the workspace root), else the workspace's `target/`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                workspace_root().join(dir)
            }
        }
        _ => workspace_root().join("target"),
    }
}

/// Cargo profile matching the one this test executable was built with, and the output directory
/// cargo uses for it.
///
/// The test executable lives in `<target>/[<triple>/]<dir>/deps/`; `debug` means `cargo test`'s
/// `test` profile (building `mender` with it reuses the already compiled `mender-core`), `release`
/// means `--release`, any other directory is a custom profile of the same name.
fn build_profile() -> (String, String) {
    let dir = std::env::current_exe().ok().and_then(|exe| {
        let deps = exe.parent()?;
        let profile_dir = deps.parent()?;
        Some(profile_dir.file_name()?.to_string_lossy().into_owned())
    });
    match dir.as_deref() {
        Some("release") => ("release".to_owned(), "release".to_owned()),
        Some(other) if other != "debug" && !other.is_empty() => {
            (other.to_owned(), other.to_owned())
        }
        _ => ("test".to_owned(), "debug".to_owned()),
    }
}

/// Path of the `mender` binary of `mender-linux`, built once per test process.
///
/// Runs `cargo build -q -p mender-linux --bin mender` with the test build's profile, so the
/// tests always exercise the current source, never a stale binary. Panics with cargo's output
/// if the build fails.
///
/// `MENDER_TEST_BIN` names a binary to test instead (a cross build from `targets/build.sh`,
/// run through [`mender_command`]); a relative path is taken from the workspace root.
pub fn mender_bin() -> PathBuf {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let bin = BIN.get_or_init(|| match std::env::var_os("MENDER_TEST_BIN") {
        Some(given) if !given.is_empty() => given_bin(PathBuf::from(given)),
        _ => build_mender(),
    });
    match bin {
        Ok(path) => path.clone(),
        Err(message) => panic!("{message}"),
    }
}

fn given_bin(path: PathBuf) -> Result<PathBuf, String> {
    let path = if path.is_absolute() {
        path
    } else {
        workspace_root().join(path)
    };
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!("MENDER_TEST_BIN: {} is not a file", path.display()))
    }
}

/// A command that runs the `mender` binary `bin`: directly, or behind the command prefix in
/// `MENDER_TEST_RUNNER` (words split at whitespace, e.g. `qemu-arm -L /usr/arm-linux-gnueabihf`)
/// so that a cross build runs under qemu-user.
pub fn mender_command(bin: &Path) -> Command {
    match std::env::var_os("MENDER_TEST_RUNNER") {
        Some(runner) => match runner.to_str() {
            Some(runner) => command_with_runner(runner, bin),
            None => panic!("MENDER_TEST_RUNNER is not valid UTF-8: {runner:?}"),
        },
        None => Command::new(bin),
    }
}

fn command_with_runner(runner: &str, bin: &Path) -> Command {
    let mut words = runner.split_whitespace();
    match words.next() {
        Some(program) => {
            let mut cmd = Command::new(program);
            cmd.args(words).arg(bin);
            cmd
        }
        None => Command::new(bin),
    }
}

fn build_mender() -> Result<PathBuf, String> {
    let target = target_dir();
    let (profile, profile_dir) = build_profile();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace_root())
        .args([
            "build",
            "-q",
            "-p",
            "mender-linux",
            "--bin",
            "mender",
            "--profile",
        ])
        .arg(&profile)
        .arg("--manifest-path")
        .arg(workspace_root().join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target);
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run `{}`: {e}", describe(&cmd)))?;
    if !out.status.success() {
        return Err(format!(
            "building the mender binary failed: `{}` exited with {}\n{}",
            describe(&cmd),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let bin = target
        .join(profile_dir)
        .join(format!("mender{}", std::env::consts::EXE_SUFFIX));
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!(
            "`{}` succeeded but {} does not exist",
            describe(&cmd),
            bin.display()
        ))
    }
}

/// Finds an executable `name` in `PATH`.
pub fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| {
            std::fs::metadata(candidate)
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

/// Returns the path of the external tool `name`, panicking with an install hint if it is missing.
///
/// Interop tests must fail loudly rather than skip when their reference tool is absent.
pub fn require_tool(name: &str) -> PathBuf {
    match find_tool(name) {
        Some(path) => path,
        None => {
            let package = match name {
                "mender-artifact" => "mender-artifact",
                "openssl" => "openssl",
                "zstd" => "zstd",
                "xz" => "xz-utils",
                "gzip" => "gzip",
                "tar" => "tar",
                other => other,
            };
            panic!(
                "required external tool `{name}` is not in PATH; the interop tests cannot run \
                 without it (Debian: `apt-get install -y {package}`)"
            )
        }
    }
}

/// A scratch directory removed on drop (kept if `MENDER_TESTS_KEEP_TMP` is set, for debugging).
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates a fresh, uniquely named directory under the system temp dir.
    pub fn new(label: &str) -> TempDir {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let base = std::env::temp_dir();
        let mut last_error = None;
        for _ in 0..100 {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = base.join(format!(
                "mender-tests-{label}-{}-{n}-{nanos}",
                std::process::id()
            ));
            match std::fs::create_dir(&path) {
                Ok(()) => return TempDir { path },
                Err(e) => last_error = Some(e),
            }
        }
        panic!(
            "cannot create a temp dir under {}: {last_error:?}",
            base.display()
        )
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn join(&self, name: impl AsRef<Path>) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("MENDER_TESTS_KEEP_TMP").is_some() {
            eprintln!("keeping {}", self.path.display());
        } else {
            // Best effort: a leftover scratch dir must not turn a passing test into a failure.
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Renders a command line for failure messages.
pub fn describe(cmd: &Command) -> String {
    let mut text = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        text.push(' ');
        text.push_str(&shell_word(arg));
    }
    text
}

fn shell_word(arg: &OsStr) -> String {
    let s = arg.to_string_lossy();
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,+@%".contains(c));
    if plain {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Runs `cmd` to completion and returns its output; panics only if it cannot be started.
pub fn run(cmd: &mut Command) -> Output {
    match cmd.output() {
        Ok(out) => out,
        Err(e) => panic!("cannot run `{}`: {e}", describe(cmd)),
    }
}

/// Runs `cmd` and panics with its stdout/stderr unless it exits 0.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = run(cmd);
    if !out.status.success() {
        panic!("`{}` failed\n{}", describe(cmd), output_text(&out));
    }
    out
}

/// Runs the real `mender-artifact` in `dir` with `args` and `-o out`; returns the Artifact.
pub fn mender_artifact(dir: &Path, args: &[&str], out: &str) -> Vec<u8> {
    let tool = require_tool("mender-artifact");
    run_ok(
        Command::new(tool)
            .args(args)
            .arg("-o")
            .arg(out)
            .current_dir(dir),
    );
    std::fs::read(dir.join(out)).unwrap_or_else(|e| panic!("reading {out}: {e}"))
}

/// Exit status, stdout and stderr of a finished command, for failure messages.
pub fn output_text(out: &Output) -> String {
    format!(
        "status: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Lowercase hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    let digest = Sha256::digest(data);
    let mut hex = String::with_capacity(64);
    for byte in digest {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// Lowercase hex SHA-256 of a file's content.
pub fn sha256_file(path: &Path) -> String {
    match std::fs::read(path) {
        Ok(data) => sha256_hex(&data),
        Err(e) => panic!("cannot read {}: {e}", path.display()),
    }
}

/// Runs `mender inspect ARTIFACT [--verify-key KEY] --json` and returns its raw output.
pub fn inspect(artifact: &Path, verify_key: Option<&Path>) -> Output {
    let mut cmd = mender_command(&mender_bin());
    cmd.arg("inspect").arg(artifact);
    if let Some(key) = verify_key {
        cmd.arg("--verify-key").arg(key);
    }
    cmd.arg("--json");
    run(&mut cmd)
}

/// Runs `mender inspect ... --json`, requiring exit 0 and exactly one JSON object on stdout.
pub fn inspect_json(artifact: &Path, verify_key: Option<&Path>) -> Result<Value, String> {
    let out = inspect(artifact, verify_key);
    if !out.status.success() {
        return Err(format!(
            "mender inspect did not exit 0\n{}",
            output_text(&out)
        ));
    }
    match serde_json::from_slice::<Value>(&out.stdout) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(other) => Err(format!(
            "mender inspect printed JSON that is not an object: {other}"
        )),
        Err(e) => Err(format!(
            "mender inspect printed no valid JSON ({e})\n{}",
            output_text(&out)
        )),
    }
}

/// Pretty-printed JSON for failure messages.
pub fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

/// Where `actual` differs from `expected`, as JSON-pointer-addressed descriptions; empty if they
/// are equivalent.
///
/// Object key order is irrelevant, array order matters. Numbers are equal if they are the same
/// integer or, failing that, the same float64: mender-artifact re-encodes meta-data numbers as
/// float64, so `12345678901234567000` and `1.2345678901234567e19` denote the same value.
pub fn json_differences(expected: &Value, actual: &Value) -> Vec<String> {
    let mut out = Vec::new();
    diff_at("", expected, actual, &mut out);
    out
}

/// True if [`json_differences`] finds nothing.
pub fn json_equivalent(expected: &Value, actual: &Value) -> bool {
    json_differences(expected, actual).is_empty()
}

fn numbers_equal(a: &serde_json::Number, b: &serde_json::Number) -> bool {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return x == y;
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return x == y;
    }
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

fn pointer_escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn diff_at(path: &str, expected: &Value, actual: &Value, out: &mut Vec<String>) {
    let here = if path.is_empty() { "/" } else { path };
    match (expected, actual) {
        (Value::Number(a), Value::Number(b)) => {
            if !numbers_equal(a, b) {
                out.push(format!("{here}: expected {a}, got {b}"));
            }
        }
        (Value::Object(a), Value::Object(b)) => {
            for (key, value) in a {
                let sub = format!("{path}/{}", pointer_escape(key));
                match b.get(key) {
                    Some(other) => diff_at(&sub, value, other, out),
                    None => out.push(format!("{sub}: missing (expected {value})")),
                }
            }
            for (key, value) in b {
                if !a.contains_key(key) {
                    out.push(format!(
                        "{path}/{}: unexpected key (value {value})",
                        pointer_escape(key)
                    ));
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            if a.len() != b.len() {
                out.push(format!(
                    "{here}: expected {} elements, got {}",
                    a.len(),
                    b.len()
                ));
            }
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                diff_at(&format!("{path}/{i}"), x, y, out);
            }
        }
        (a, b) => {
            if a != b {
                out.push(format!("{here}: expected {a}, got {b}"));
            }
        }
    }
}

/// Failure report naming the artifact and showing both documents and their differences.
pub fn mismatch_report(
    artifact: &str,
    what: &str,
    expected_label: &str,
    expected: &Value,
    actual_label: &str,
    actual: &Value,
) -> String {
    let diffs = json_differences(expected, actual);
    format!(
        "artifact {artifact}: {what}\ndifferences:\n  {}\n--- {expected_label} ---\n{}\n--- {actual_label} ---\n{}",
        diffs.join("\n  "),
        pretty(expected),
        pretty(actual)
    )
}

/// xorshift64*: reproducible pseudo-random numbers for tests, without a dependency.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// An index below `n` (0 when `n` is 0).
    pub fn below_usize(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

/// Reads `data` with the core reader in pieces whose sizes `chunks` picks; the error text, if
/// any (including an incomplete Artifact at the end).
pub fn read_verdict(data: &[u8], chunks: &mut dyn FnMut() -> usize) -> Result<(), String> {
    read_verdict_in(data, chunks, mender_core::reader::ARENA_SIZE_FULL, true)
}

/// [`read_verdict`] with an arena of `arena` bytes, and a decode workspace or none (the
/// microcontroller set-up).
pub fn read_verdict_in(
    data: &[u8],
    chunks: &mut dyn FnMut() -> usize,
    arena: usize,
    workspace: bool,
) -> Result<(), String> {
    use mender_core::codec::Workspace;
    use mender_core::reader::{Buffers, Config, Event, Reader};
    let mut arena = vec![0u8; arena];
    let mut ws = workspace.then(|| Box::new(Workspace::new()));
    let buffers = Buffers {
        arena: &mut arena,
        workspace: ws.as_deref_mut().map(Into::into),
    };
    let mut r = Reader::new(buffers, Config::default());
    let mut rest = data;
    while !rest.is_empty() {
        let n = chunks().clamp(1, rest.len());
        let (mut c, tail) = rest.split_at(n);
        rest = tail;
        loop {
            let (used, ev) = r.feed(c).map_err(|e| e.to_string())?;
            c = &c[used..];
            if ev == Event::NeedMore {
                break;
            }
        }
    }
    r.finish().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_compare_by_value() {
        let a: Value = serde_json::from_str(r#"{"big":12345678901234567000,"d":1,"z":1e21}"#)
            .expect("valid JSON");
        let b: Value = serde_json::from_str(
            r#"{"big":1.2345678901234567e19,"d":1.0,"z":1000000000000000000000}"#,
        )
        .expect("valid JSON");
        assert!(json_equivalent(&a, &b), "{:?}", json_differences(&a, &b));
        assert!(!json_equivalent(&json!({"n": 1}), &json!({"n": 2})));
        assert!(!json_equivalent(&json!({"n": 1}), &json!({"n": "1"})));
        assert!(!json_equivalent(
            &json!(-1),
            &json!(18446744073709551615u64)
        ));
    }

    #[test]
    fn differences_name_paths() {
        let expected = json!({"a": [1, {"b": "x"}], "k": null, "gone": 1});
        let actual = json!({"a": [1, {"b": "y"}], "k": null, "extra": true});
        let diffs = json_differences(&expected, &actual);
        assert_eq!(
            diffs,
            vec![
                "/a/1/b: expected \"x\", got \"y\"".to_owned(),
                "/gone: missing (expected 1)".to_owned(),
                "/extra: unexpected key (value true)".to_owned(),
            ]
        );
        let short = json_differences(&json!([1, 2]), &json!([1]));
        assert_eq!(short, vec!["/: expected 2 elements, got 1".to_owned()]);
    }

    #[test]
    fn sha256_matches_known_vector() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn temp_dir_is_removed_on_drop() {
        let path = {
            let dir = TempDir::new("selftest");
            std::fs::write(dir.join("f"), b"x").expect("write into temp dir");
            dir.path().to_path_buf()
        };
        if std::env::var_os("MENDER_TESTS_KEEP_TMP").is_none() {
            assert!(!path.exists());
        }
    }

    #[test]
    fn require_tool_finds_sh_and_rejects_missing() {
        assert!(require_tool("sh").is_file());
        let missing = std::panic::catch_unwind(|| require_tool("no-such-tool-mender-tests"));
        assert!(missing.is_err());
    }

    #[test]
    fn runner_prefixes_the_binary() {
        let bin = Path::new("/b/mender");
        let cmd = command_with_runner("  qemu-arm -L /usr/arm-linux-gnueabihf ", bin);
        assert_eq!(
            describe(&cmd),
            "qemu-arm -L /usr/arm-linux-gnueabihf /b/mender"
        );
        assert_eq!(
            describe(&command_with_runner("qemu-aarch64", bin)),
            "qemu-aarch64 /b/mender"
        );
        assert_eq!(describe(&command_with_runner(" ", bin)), "/b/mender");
    }

    #[test]
    fn given_binary_must_exist() {
        let dir = TempDir::new("given-bin");
        let bin = dir.join("mender");
        assert!(given_bin(bin.clone()).is_err());
        std::fs::write(&bin, b"").expect("write into temp dir");
        assert_eq!(given_bin(bin.clone()), Ok(bin));
        let relative = given_bin(PathBuf::from("tests/Cargo.toml"));
        assert_eq!(relative, Ok(workspace_root().join("tests/Cargo.toml")));
    }

    #[test]
    fn describe_quotes_odd_arguments() {
        let mut cmd = Command::new("tool");
        cmd.args(["plain-arg", "two words", "it's"]);
        assert_eq!(describe(&cmd), r"tool plain-arg 'two words' 'it'\''s'");
    }
}
