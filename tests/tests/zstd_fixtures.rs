//! zstd artifacts written by mender-artifact 4.0.0 (`fixtures/zstd/`, see its README.md).
//!
//! The Debian 3.9 tool can neither write nor read zstd, so the expected `mender inspect --json`
//! documents are hand-written (`fixtures/zstd/*.json`). Two tests keep those documents honest:
//! one recomputes every digest and size from the input files and the artifact's manifest, the
//! other recompresses each artifact to gzip and has the real `mender-artifact read` confirm the
//! rest. Only then is `mender inspect` compared with them.

use mender_tests::artifact_read::{read_artifact, SIG_NONE, SIG_PRESENT, SIG_VERIFIED};
use mender_tests::{
    fixtures_dir, inspect_json, json_differences, mismatch_report, pretty, require_tool, run_ok,
    sha256_file, sha256_hex, TempDir,
};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Fixture stems and the public key of the signed one.
const FIXTURES: [(&str, Option<&str>); 4] = [
    ("rootfs-zstd-fastest", None),
    ("rootfs-zstd-best", None),
    ("module-2files-zstd-better", None),
    (
        "rootfs-zstd-signed-ec256",
        Some("rootfs-zstd-signed-ec256.pub.pem"),
    ),
];

fn dir() -> PathBuf {
    fixtures_dir().join("zstd")
}

fn artifact(stem: &str) -> PathBuf {
    dir().join(format!("{stem}.mender"))
}

/// The hand-written expectation, as inspect prints it with the right key (if signed).
fn expected(stem: &str) -> Value {
    let path = dir().join(format!("{stem}.json"));
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => panic!("cannot read {}: {e}", path.display()),
    };
    match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => panic!("{} is not JSON: {e}", path.display()),
    }
}

fn tar_member(archive: &Path, member: &str) -> Vec<u8> {
    let out = run_ok(
        Command::new(require_tool("tar"))
            .arg("-xOf")
            .arg(archive)
            .arg(member),
    );
    out.stdout
}

fn tar_members(archive: &Path) -> Vec<String> {
    let out = run_ok(Command::new(require_tool("tar")).arg("-tf").arg(archive));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// `manifest` as path -> digest.
fn manifest(archive: &Path) -> BTreeMap<String, String> {
    let text = String::from_utf8_lossy(&tar_member(archive, "manifest")).into_owned();
    let mut entries = BTreeMap::new();
    for line in text.lines() {
        match line.split_once("  ") {
            Some((digest, path)) => {
                entries.insert(path.to_owned(), digest.to_owned());
            }
            None => panic!("{}: malformed manifest line `{line}`", archive.display()),
        }
    }
    entries
}

/// Digests and sizes in the expectations are recomputed from the input files, and the data
/// entries of each artifact's manifest must list exactly those files.
#[test]
fn expectations_agree_with_inputs_and_manifests() {
    require_tool("tar");
    let image_sha = sha256_file(&dir().join("image.img"));
    for (stem, key) in FIXTURES {
        let exp = expected(stem);
        let art = artifact(stem);
        let files = exp["payloads"][0]["files"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(!files.is_empty(), "{stem}: expectation lists no files");
        let mut from_json = BTreeMap::new();
        for file in &files {
            let name = file["name"].as_str().unwrap_or_default();
            let input = dir().join(name);
            let data = match std::fs::read(&input) {
                Ok(d) => d,
                Err(e) => panic!("{stem}: input {} unreadable: {e}", input.display()),
            };
            assert_eq!(
                file["sha256"],
                json!(sha256_hex(&data)),
                "{stem}: sha256 of {name}"
            );
            assert_eq!(file["size"], json!(data.len()), "{stem}: size of {name}");
            from_json.insert(format!("data/0000/{name}"), sha256_hex(&data));
        }
        let from_manifest: BTreeMap<String, String> = manifest(&art)
            .into_iter()
            .filter(|(path, _)| path.starts_with("data/"))
            .collect();
        assert_eq!(from_manifest, from_json, "{stem}: manifest data entries");

        let payload = &exp["payloads"][0];
        if payload["type"] == json!("rootfs-image") {
            assert_eq!(
                payload["provides"]["rootfs-image.checksum"],
                json!(image_sha),
                "{stem}: rootfs-image.checksum provide"
            );
            assert_eq!(
                payload["provides"]["rootfs-image.version"], exp["name"],
                "{stem}: default software version is the artifact name"
            );
        }
        let signed = tar_members(&art).iter().any(|m| m == "manifest.sig");
        assert_eq!(signed, key.is_some(), "{stem}: manifest.sig presence");
        let want_sig = if key.is_some() {
            SIG_VERIFIED
        } else {
            SIG_NONE
        };
        assert_eq!(exp["signature"], json!(want_sig), "{stem}: signature field");
    }
}

/// Rebuilds `stem` with gzip instead of zstd (header digest in the manifest updated, signature
/// dropped) so mender-artifact 3.9 can read it.
fn recompress_to_gzip(stem: &str, work: &TempDir) -> PathBuf {
    let tar = require_tool("tar");
    let zstd = require_tool("zstd");
    let gzip = require_tool("gzip");
    let unpacked = work.join(stem);
    if let Err(e) = std::fs::create_dir_all(&unpacked) {
        panic!("cannot create {}: {e}", unpacked.display());
    }
    run_ok(
        Command::new(&tar)
            .arg("-xf")
            .arg(artifact(stem))
            .arg("-C")
            .arg(&unpacked),
    );
    for member in ["header.tar", "data/0000.tar"] {
        let zst = unpacked.join(format!("{member}.zst"));
        let plain = run_ok(Command::new(&zstd).arg("-dc").arg(&zst)).stdout;
        let plain_path = unpacked.join(member);
        if let Err(e) = std::fs::write(&plain_path, plain) {
            panic!("cannot write {}: {e}", plain_path.display());
        }
        run_ok(Command::new(&gzip).arg("-n").arg(&plain_path));
        if let Err(e) = std::fs::remove_file(&zst) {
            panic!("cannot remove {}: {e}", zst.display());
        }
    }
    let header_sha = sha256_file(&unpacked.join("header.tar.gz"));
    let manifest_path = unpacked.join("manifest");
    let old = std::fs::read_to_string(&manifest_path).unwrap_or_default();
    let mut new = String::new();
    for line in old.lines() {
        if line.ends_with("  header.tar.zst") {
            new.push_str(&format!("{header_sha}  header.tar.gz\n"));
        } else {
            new.push_str(line);
            new.push('\n');
        }
    }
    assert_ne!(old, new, "{stem}: manifest has no header.tar.zst line");
    if let Err(e) = std::fs::write(&manifest_path, new) {
        panic!("cannot write {}: {e}", manifest_path.display());
    }
    let out = work.join(format!("{stem}.gz.mender"));
    run_ok(
        Command::new(&tar)
            .arg("--format=ustar")
            .arg("-cf")
            .arg(&out)
            .arg("-C")
            .arg(&unpacked)
            .args(["version", "manifest", "header.tar.gz", "data/0000.tar.gz"]),
    );
    out
}

/// The real tool, reading a gzip copy of each fixture, reports what the expectation says
/// (except the signature, which the copy no longer has).
#[test]
fn expectations_match_mender_artifact_on_gzip_copies() {
    let work = TempDir::new("zstd-regz");
    let mut failures = Vec::new();
    for (stem, _) in FIXTURES {
        let copy = recompress_to_gzip(stem, &work);
        let mut exp = expected(stem);
        exp["signature"] = json!(SIG_NONE);
        match read_artifact(&copy, None) {
            Ok(parsed) if json_differences(&exp, &parsed).is_empty() => {}
            Ok(parsed) => failures.push(mismatch_report(
                stem,
                "gzip copy read by mender-artifact differs from the hand-written expectation",
                "expectation",
                &exp,
                "mender-artifact read (parsed)",
                &parsed,
            )),
            Err(e) => failures.push(format!("artifact {stem}: {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// `mender inspect --json` on the original zstd artifacts; the signed one with its key
/// (verified) and without (present).
#[test]
fn inspect_matches_zstd_expectations() {
    let mut failures = Vec::new();
    for (stem, key) in FIXTURES {
        let art = artifact(stem);
        let key_path = key.map(|k| dir().join(k));
        let mut cases = vec![(key_path.clone(), expected(stem))];
        if key_path.is_some() {
            let mut unverified = expected(stem);
            unverified["signature"] = json!(SIG_PRESENT);
            cases.push((None, unverified));
        }
        for (key, exp) in cases {
            let how = match &key {
                Some(k) => format!("with --verify-key {}", k.display()),
                None => "without a key".to_owned(),
            };
            match inspect_json(&art, key.as_deref()) {
                Ok(ours) if json_differences(&exp, &ours).is_empty() => {}
                Ok(ours) => failures.push(mismatch_report(
                    stem,
                    &format!("{how}: mender inspect --json differs from the expectation"),
                    "expectation",
                    &exp,
                    "mender inspect --json",
                    &ours,
                )),
                Err(e) => failures.push(format!(
                    "artifact {stem}: {how}: {e}\n--- expectation ---\n{}",
                    pretty(&exp)
                )),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n========\n\n"));
}
