//! `mender-artifact read` as a reference reader.
//!
//! The Debian 3.9 tool has no machine-readable output, so its text report is parsed here into the
//! same JSON shape `mender inspect --json` prints, letting the interop tests compare the two
//! directly. The layout comes from observing the real tool on many generated artifacts:
//!
//! ```text
//! Mender artifact:
//!   Name: app-2.0
//!   Format: mender
//!   Version: 3
//!   Signature: no signature
//!   Compatible devices: '[dev-a dev-b]'
//!   Provides group: prod                          (v3 only; empty value = no group)
//!   Depends on one of artifact(s): [a-1, a-2]     (v3 only)
//!   Depends on one of group(s): [beta]            (v3 only)
//!   State scripts:
//!     ArtifactInstall_Enter_00_x                  (tar order)
//!
//! Updates:
//!     0:
//!     Type:   docker                              (`Empty type` = null payload type)
//!     Provides: Nothing | Provides:\n\tkey: value (sorted keys)
//!     Depends: Nothing  | Depends:\n\tkey: value
//!     Clears Provides: ["a.*", "b"]               (only when the list exists)
//!     Metadata: Nothing | Metadata:\n\t{ ...indented JSON, each line prefixed by a tab... }
//!     Files: None | Files:\n      name: ... size: ... modified: ... checksum: ...
//! ```
//!
//! Limits, inherent in the text format and irrelevant for what the tool itself writes: device
//! types and clears entries must not contain the separators the tool joins them with (space,
//! `", "`), and list-valued depends (which only hand-made artifacts have) read back as strings.

use crate::{describe, output_text, require_tool, run};
use serde_json::{json, Map, Value};
use std::path::Path;
use std::process::Command;

/// `signature` value for an unsigned artifact.
pub const SIG_NONE: &str = "none";
/// `signature` value for a signature checked with the given key.
pub const SIG_VERIFIED: &str = "verified";
/// `signature` value for a signed artifact read without a key.
pub const SIG_PRESENT: &str = "present";
/// `signature` value when the given key did not verify the signature. `mender inspect` never
/// prints it (it exits 1 instead); the reader uses it to report what mender-artifact said.
pub const SIG_FAILED: &str = "failed";

/// Runs `mender-artifact read --no-progress [-k KEY] FILE` and parses the report.
///
/// A non-zero exit of the tool is an error carrying its output.
pub fn read_artifact(artifact: &Path, verify_key: Option<&Path>) -> Result<Value, String> {
    let mut cmd = Command::new(require_tool("mender-artifact"));
    cmd.arg("read").arg("--no-progress");
    if let Some(key) = verify_key {
        cmd.arg("-k").arg(key);
    }
    cmd.arg(artifact);
    let out = run(&mut cmd);
    if !out.status.success() {
        return Err(format!(
            "`{}` failed\n{}",
            describe(&cmd),
            output_text(&out)
        ));
    }
    let text = String::from_utf8(out.stdout)
        .map_err(|e| format!("`{}` printed non-UTF-8 output: {e}", describe(&cmd)))?;
    parse_read_output(&text).map_err(|e| {
        format!(
            "cannot parse the output of `{}`: {e}\n{text}",
            describe(&cmd)
        )
    })
}

/// Line cursor with 1-based line numbers for error messages.
struct Lines<'a> {
    lines: Vec<&'a str>,
    pos: usize,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        Lines {
            lines: text.lines().collect(),
            pos: 0,
        }
    }

    fn peek(&self) -> Option<&'a str> {
        self.lines.get(self.pos).copied()
    }

    fn next_line(&mut self) -> Option<&'a str> {
        let line = self.peek()?;
        self.pos += 1;
        Some(line)
    }

    /// Number of the line last returned by `next_line` (for messages).
    fn number(&self) -> usize {
        self.pos
    }

    /// The next line, which must start with `prefix`; returns the rest.
    fn expect_prefix(&mut self, prefix: &str) -> Result<&'a str, String> {
        match self.next_line() {
            Some(line) => line.strip_prefix(prefix).ok_or_else(|| {
                format!(
                    "line {}: expected `{}`, found `{line}`",
                    self.number(),
                    prefix.trim_end()
                )
            }),
            None => Err(format!(
                "output ends where `{}` was expected",
                prefix.trim_end()
            )),
        }
    }

    /// Consumes following lines that start with `prefix`, returning them without it.
    fn take_prefixed(&mut self, prefix: &str) -> Vec<&'a str> {
        let mut taken = Vec::new();
        while let Some(rest) = self.peek().and_then(|l| l.strip_prefix(prefix)) {
            taken.push(rest);
            self.pos += 1;
        }
        taken
    }
}

fn set_once<'a>(slot: &mut Option<&'a str>, value: &'a str, what: &str) -> Result<(), String> {
    if slot.replace(value).is_some() {
        return Err(format!("`{what}` appears twice"));
    }
    Ok(())
}

/// `[a, b]` as printed for artifact/group depends; `[]` is empty.
fn parse_comma_list(text: &str, what: &str) -> Result<Vec<String>, String> {
    let inner = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .ok_or_else(|| format!("{what}: expected `[...]`, found `{text}`"))?;
    if inner.is_empty() {
        return Ok(Vec::new());
    }
    Ok(inner.split(", ").map(str::to_owned).collect())
}

fn parse_signature(text: &str) -> Result<&'static str, String> {
    if text == "no signature" {
        Ok(SIG_NONE)
    } else if text == "signed and verified correctly" {
        Ok(SIG_VERIFIED)
    } else if text.starts_with("signed but no key for verification provided") {
        Ok(SIG_PRESENT)
    } else if text == "signed; verification using provided key failed" {
        Ok(SIG_FAILED)
    } else {
        Err(format!("unknown signature state `{text}`"))
    }
}

/// Parses the standard output of `mender-artifact read` into the `mender inspect --json` schema
/// (with `signature` possibly [`SIG_FAILED`]).
pub fn parse_read_output(text: &str) -> Result<Value, String> {
    let mut lines = Lines::new(text);
    lines.expect_prefix("Mender artifact:")?;

    let mut name = None;
    let mut format = None;
    let mut version = None;
    let mut signature = None;
    let mut devices = None;
    let mut group = None;
    let mut depends_names = None;
    let mut depends_groups = None;
    let mut scripts: Option<Vec<&str>> = None;

    loop {
        let line = lines.next_line().ok_or("output ends before `Updates:`")?;
        let at = lines.number();
        if line == "Updates:" {
            break;
        }
        if line.is_empty() {
            continue;
        }
        if let Some(v) = line.strip_prefix("  Name: ") {
            set_once(&mut name, v, "Name")?;
        } else if let Some(v) = line.strip_prefix("  Format: ") {
            set_once(&mut format, v, "Format")?;
        } else if let Some(v) = line.strip_prefix("  Version: ") {
            set_once(&mut version, v, "Version")?;
        } else if let Some(v) = line.strip_prefix("  Signature: ") {
            set_once(&mut signature, v, "Signature")?;
        } else if let Some(v) = line.strip_prefix("  Compatible devices: ") {
            set_once(&mut devices, v, "Compatible devices")?;
        } else if let Some(v) = line.strip_prefix("  Provides group: ") {
            set_once(&mut group, v, "Provides group")?;
        } else if let Some(v) = line.strip_prefix("  Depends on one of artifact(s): ") {
            set_once(&mut depends_names, v, "Depends on one of artifact(s)")?;
        } else if let Some(v) = line.strip_prefix("  Depends on one of group(s): ") {
            set_once(&mut depends_groups, v, "Depends on one of group(s)")?;
        } else if line == "  State scripts:" {
            if scripts.is_some() {
                return Err("`State scripts` appears twice".to_owned());
            }
            scripts = Some(lines.take_prefixed("    "));
        } else {
            return Err(format!(
                "line {at}: unexpected `{line}` in the artifact section"
            ));
        }
    }

    let name = name.ok_or("no `Name` line")?;
    let format = format.ok_or("no `Format` line")?;
    let version: u64 = version
        .ok_or("no `Version` line")?
        .parse()
        .map_err(|e| format!("`Version` is not an integer: {e}"))?;
    let signature = parse_signature(signature.ok_or("no `Signature` line")?)?;
    let devices_text = devices.ok_or("no `Compatible devices` line")?;
    let devices_list = devices_text
        .strip_prefix("'[")
        .and_then(|t| t.strip_suffix("]'"))
        .ok_or_else(|| format!("`Compatible devices` is not `'[...]'`: `{devices_text}`"))?;
    let devices: Vec<&str> = devices_list.split_whitespace().collect();
    let group = match group {
        Some(g) if !g.is_empty() => Value::from(g),
        _ => Value::Null,
    };
    let mut depends = Map::new();
    if let Some(text) = depends_names {
        let names = parse_comma_list(text, "Depends on one of artifact(s)")?;
        if !names.is_empty() {
            depends.insert("artifact_name".to_owned(), Value::from(names));
        }
    }
    if let Some(text) = depends_groups {
        let groups = parse_comma_list(text, "Depends on one of group(s)")?;
        if !groups.is_empty() {
            depends.insert("artifact_group".to_owned(), Value::from(groups));
        }
    }
    let mut scripts = scripts.ok_or("no `State scripts` line")?;
    scripts.sort_unstable();

    let mut payloads: Vec<(usize, Value)> = Vec::new();
    while let Some(line) = lines.next_line() {
        if line.is_empty() {
            continue;
        }
        let at = lines.number();
        let index = line
            .strip_prefix("  ")
            .and_then(|l| l.trim_start().strip_suffix(':'))
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| {
                format!("line {at}: expected a payload index like `    0:`, found `{line}`")
            })?;
        if payloads.iter().any(|(i, _)| *i == index) {
            return Err(format!("payload {index} appears twice"));
        }
        let payload = parse_payload(&mut lines).map_err(|e| format!("payload {index}: {e}"))?;
        payloads.push((index, payload));
    }
    payloads.sort_by_key(|(i, _)| *i);
    for (expected, (index, _)) in payloads.iter().enumerate() {
        if *index != expected {
            return Err(format!(
                "payload indices are not 0..n: found {index} at position {expected}"
            ));
        }
    }

    Ok(json!({
        "format": format,
        "version": version,
        "name": name,
        "group": group,
        "compatible_devices": devices,
        "depends": depends,
        "signature": signature,
        "scripts": scripts,
        "payloads": payloads.into_iter().map(|(_, p)| p).collect::<Vec<_>>(),
    }))
}

/// `Provides:`/`Depends:` block: ` Nothing`, or tab-indented `key: value` lines.
fn parse_map(lines: &mut Lines<'_>, label: &str) -> Result<Map<String, Value>, String> {
    let rest = lines.expect_prefix(label)?;
    let mut map = Map::new();
    match rest {
        " Nothing" => {}
        "" => {
            let entries = lines.take_prefixed("\t");
            if entries.is_empty() {
                return Err(format!("`{label}` has no entries"));
            }
            for entry in entries {
                let (key, value) = entry
                    .split_once(": ")
                    .ok_or_else(|| format!("`{label}` entry without `: `: `{entry}`"))?;
                if map.insert(key.to_owned(), Value::from(value)).is_some() {
                    return Err(format!("`{label}` repeats key `{key}`"));
                }
            }
        }
        other => return Err(format!("`{label}` reports `{}`", other.trim_start())),
    }
    Ok(map)
}

/// `["a", "b"]` as printed for clears_artifact_provides.
fn parse_clears(text: &str) -> Result<Vec<String>, String> {
    let inner = text
        .strip_prefix("[\"")
        .and_then(|t| t.strip_suffix("\"]"))
        .ok_or_else(|| format!("`Clears Provides` is not `[\"...\"]`: `{text}`"))?;
    Ok(inner.split("\", \"").map(str::to_owned).collect())
}

fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn parse_files(lines: &mut Lines<'_>) -> Result<Vec<Value>, String> {
    let rest = lines.expect_prefix("    Files:")?;
    let mut files = Vec::new();
    match rest {
        " None" => return Ok(files),
        "" => {}
        other => return Err(format!("`Files` reports `{}`", other.trim_start())),
    }
    while lines
        .peek()
        .is_some_and(|l| l.starts_with("      name:     "))
    {
        let name = lines.expect_prefix("      name:     ")?;
        let size_text = lines.expect_prefix("      size:     ")?;
        let size: u64 = size_text
            .parse()
            .map_err(|e| format!("file {name}: size `{size_text}` is not an integer: {e}"))?;
        lines.expect_prefix("      modified: ")?;
        let checksum = lines.expect_prefix("      checksum: ")?;
        if !is_sha256_hex(checksum) {
            return Err(format!(
                "file {name}: checksum `{checksum}` is not 64 lowercase hex digits"
            ));
        }
        files.push(json!({"name": name, "size": size, "sha256": checksum}));
    }
    if files.is_empty() {
        return Err("`Files:` lists no file".to_owned());
    }
    Ok(files)
}

fn parse_payload(lines: &mut Lines<'_>) -> Result<Value, String> {
    let kind = match lines.expect_prefix("    Type:   ")? {
        "Empty type" => Value::Null,
        other => Value::from(other),
    };
    let provides = parse_map(lines, "    Provides:")?;
    let depends = parse_map(lines, "    Depends:")?;
    let clears = match lines
        .peek()
        .and_then(|l| l.strip_prefix("    Clears Provides: "))
    {
        Some(text) => {
            lines.next_line();
            Value::from(parse_clears(text)?)
        }
        None => Value::Null,
    };
    let meta_data = match lines.expect_prefix("    Metadata:")? {
        " Nothing" => Value::Null,
        "" => {
            let json_text = lines.take_prefixed("\t").join("\n");
            match serde_json::from_str::<Value>(&json_text) {
                Ok(value @ Value::Object(_)) => value,
                Ok(other) => return Err(format!("`Metadata` is not a JSON object: {other}")),
                Err(e) => return Err(format!("`Metadata` is not valid JSON ({e}): {json_text}")),
            }
        }
        other => return Err(format!("`Metadata` reports `{}`", other.trim_start())),
    };
    let files = parse_files(lines)?;
    Ok(json!({
        "type": kind,
        "provides": provides,
        "depends": depends,
        "clears_provides": clears,
        "meta_data": meta_data,
        "files": files,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str) -> String {
        let path = crate::fixtures_dir().join("read-output").join(name);
        match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) => panic!("cannot read sample {}: {e}", path.display()),
        }
    }

    fn parse_ok(name: &str) -> Value {
        match parse_read_output(&sample(name)) {
            Ok(v) => v,
            Err(e) => panic!("sample {name} does not parse: {e}"),
        }
    }

    #[test]
    fn rootfs_v3_default() {
        let image = "068b2bfcfd957b09fe5fcdf835f1eb4dcf54ee5935acb10bd2df5ca3394c4271";
        assert_eq!(
            parse_ok("rootfs-v3.txt"),
            json!({
                "format": "mender", "version": 3, "name": "r1", "group": null,
                "compatible_devices": ["qemu"], "depends": {}, "signature": "none", "scripts": [],
                "payloads": [{
                    "type": "rootfs-image",
                    "provides": {"rootfs-image.checksum": image, "rootfs-image.version": "r1"},
                    "depends": {},
                    "clears_provides": ["artifact_group", "rootfs_image_checksum", "rootfs-image.*"],
                    "meta_data": null,
                    "files": [{"name": "rootfs.img", "size": 65536, "sha256": image}],
                }],
            })
        );
    }

    #[test]
    fn module_heavy() {
        let parsed = parse_ok("module-heavy.txt");
        let expected = json!({
            "format": "mender", "version": 3, "name": "app-2.0", "group": "prod",
            "compatible_devices": ["dev-a", "dev-b"],
            "depends": {"artifact_name": ["app-1.0", "app-1.1"], "artifact_group": ["beta", "prod"]},
            "signature": "none",
            "scripts": ["ArtifactCommit_Leave_50_done", "ArtifactInstall_Enter_00_hello"],
            "payloads": [{
                "type": "docker",
                "provides": {
                    "data-partition.myapp.version": "2.0.0",
                    "myapp.build": "42",
                    "myapp.variant": "full",
                },
                "depends": {"data-partition.myapp.version": "1.9.0", "rootfs-image.checksum": "2d86"},
                "clears_provides": ["myapp.*", "legacy_key", "data-partition.myapp.*"],
                "meta_data": {
                    "big": 12345678901234567000u64, "e": [], "f": 1.5, "n": null, "neg": -3,
                    "nested": {"a": 1}, "o": {}, "ports": [80, 443], "restart": true,
                    "s": "x y\"z\\u00e9", "service": "myapp",
                },
                "files": [
                    {"name": "app.bin", "size": 3000,
                     "sha256": "c88ffa0960a8c4dc29b042192b928a7664b1877d16be3d748eedc7e91a0b530b"},
                    {"name": "config.txt", "size": 10,
                     "sha256": "d5c5f09b69f25bf5059606bc891a4bdaac96e4ba058fc001cab9a8a4b9ee7c39"},
                ],
            }],
        });
        assert!(
            crate::json_equivalent(&expected, &parsed),
            "{:?}",
            crate::json_differences(&expected, &parsed)
        );
    }

    #[test]
    fn meta_data_numbers_keep_their_values() {
        let parsed = parse_ok("module-meta-numbers.txt");
        let meta = &parsed["payloads"][0]["meta_data"];
        assert_eq!(meta["a"].as_f64(), Some(1e300));
        assert_eq!(meta["b"].as_f64(), Some(0.1));
        assert_eq!(meta["c"].as_f64(), Some(0.0));
        assert_eq!(meta["d"].as_u64(), Some(1));
        assert_eq!(meta["w"].as_f64(), Some(1e20));
        assert_eq!(meta["y"].as_f64(), Some(1e-7));
        assert_eq!(meta["z"].as_f64(), Some(1e21));
        // Go escapes <, > and & in strings; the parsed value holds the characters.
        assert_eq!(meta["u"], json!("é<>&\u{2028}"));
    }

    #[test]
    fn bootstrap_empty_type() {
        assert_eq!(
            parse_ok("bootstrap.txt"),
            json!({
                "format": "mender", "version": 3, "name": "b2", "group": "gg",
                "compatible_devices": ["qemu", "q2"],
                "depends": {"artifact_name": ["a1"], "artifact_group": ["g1", "g2"]},
                "signature": "none", "scripts": [],
                "payloads": [{
                    "type": null, "provides": {}, "depends": {"x.y": "1"},
                    "clears_provides": ["foo.*"], "meta_data": null, "files": [],
                }],
            })
        );
    }

    #[test]
    fn module_without_files() {
        let parsed = parse_ok("module-nofiles.txt");
        assert_eq!(parsed["payloads"][0]["files"], json!([]));
        assert_eq!(parsed["payloads"][0]["type"], json!("single-file"));
        assert_eq!(
            parsed["payloads"][0]["clears_provides"],
            json!(["rootfs-image.single-file.*"])
        );
    }

    #[test]
    fn format_2_with_scripts_and_signature_present() {
        assert_eq!(
            parse_ok("rootfs-v2-signed-nokey.txt"),
            json!({
                "format": "mender", "version": 2, "name": "v2s", "group": null,
                "compatible_devices": ["qemu", "other"], "depends": {},
                "signature": "present", "scripts": ["ArtifactInstall_Enter_00_hello"],
                "payloads": [{
                    "type": "rootfs-image", "provides": {}, "depends": {},
                    "clears_provides": null, "meta_data": null,
                    "files": [{"name": "rootfs.img", "size": 65536,
                        "sha256": "068b2bfcfd957b09fe5fcdf835f1eb4dcf54ee5935acb10bd2df5ca3394c4271"}],
                }],
            })
        );
    }

    #[test]
    fn signature_states() {
        assert_eq!(
            parse_ok("signed-verified.txt")["signature"],
            json!(SIG_VERIFIED)
        );
        assert_eq!(
            parse_ok("signed-wrong-key.txt")["signature"],
            json!(SIG_FAILED)
        );
        assert!(parse_signature("signed, maybe").is_err());
    }

    #[test]
    fn no_checksum_and_empty_provide_value() {
        let text = sample("rootfs-v3.txt")
            .replace(
                "\trootfs-image.version: r1\n",
                "\trootfs-image.version: r1\n\tempty: \n\tcolon: a: b\n",
            )
            .replace("    Clears Provides: [\"artifact_group\", \"rootfs_image_checksum\", \"rootfs-image.*\"]\n", "");
        let parsed = parse_read_output(&text).expect("edited sample parses");
        assert_eq!(parsed["payloads"][0]["provides"]["empty"], json!(""));
        assert_eq!(parsed["payloads"][0]["provides"]["colon"], json!("a: b"));
        assert_eq!(parsed["payloads"][0]["clears_provides"], json!(null));
    }

    #[test]
    fn rejects_malformed_reports() {
        let good = sample("module-heavy.txt");
        let cases: Vec<(&str, String)> = vec![
            ("empty", String::new()),
            ("no header", good.replacen("Mender artifact:\n", "", 1)),
            ("no Updates", good.replace("Updates:\n", "")),
            (
                "bad version",
                good.replace("  Version: 3", "  Version: three"),
            ),
            (
                "dup name",
                good.replace("  Name: app-2.0\n", "  Name: a\n  Name: b\n"),
            ),
            (
                "bad devices",
                good.replace("'[dev-a dev-b]'", "[dev-a dev-b]"),
            ),
            ("bad signature", good.replace("no signature", "mystery")),
            (
                "invalid provides",
                good.replace(
                    "    Provides:\n",
                    "    Provides: Invalid provides section: x\n",
                ),
            ),
            (
                "bad checksum",
                good.replace("c88ffa0960a8c4dc", "C88FFA0960A8C4DC"),
            ),
            ("bad size", good.replace("size:     3000", "size:     3k")),
            ("meta not object", {
                let start = good.find("    Metadata:").unwrap_or(0);
                let end = good.find("    Files:").unwrap_or(0);
                format!(
                    "{}    Metadata:\n\t[1, 2]\n{}",
                    &good[..start],
                    &good[end..]
                )
            }),
            (
                "meta broken",
                good.replace("\t  \"restart\": true,\n", "\t  \"restart\": tru,\n"),
            ),
            (
                "unknown header line",
                good.replace("  Format: mender\n", "  Format: mender\n  Colour: blue\n"),
            ),
            (
                "garbage payload index",
                good.replace("    0:\n", "    zero:\n"),
            ),
            (
                "truncated in files",
                good.replace("      checksum: d5c5", ""),
            ),
            (
                "dup payload",
                format!("{good}{}", &good[good.find("    0:").unwrap_or(0)..]),
            ),
            ("skipped index", good.replace("    0:\n", "    1:\n")),
        ];
        for (what, text) in cases {
            assert!(
                parse_read_output(&text).is_err(),
                "case `{what}` parsed:\n{text}"
            );
        }
    }

    /// Any truncation or line deletion of real output yields Ok or Err, never a panic.
    #[test]
    fn never_panics_on_mangled_output() {
        for name in [
            "module-heavy.txt",
            "bootstrap.txt",
            "rootfs-v2-signed-nokey.txt",
        ] {
            let text = sample(name);
            for cut in (0..=text.len()).filter(|&i| text.is_char_boundary(i)) {
                let _ = parse_read_output(&text[..cut]);
            }
            let lines: Vec<&str> = text.lines().collect();
            for skip in 0..lines.len() {
                let mangled: Vec<&str> = lines
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != skip)
                    .map(|(_, l)| *l)
                    .collect();
                let result = parse_read_output(&mangled.join("\n"));
                // Dropping a required line must be noticed; only blank lines and
                // optional/list lines may go unnoticed.
                let line = lines.get(skip).copied().unwrap_or("");
                let required = [
                    "  Name:",
                    "  Format:",
                    "  Version:",
                    "  Signature:",
                    "    Type:",
                ]
                .iter()
                .any(|p| line.starts_with(p));
                if required {
                    assert!(result.is_err(), "{name}: dropping `{line}` went unnoticed");
                }
            }
        }
    }
}
