//! Interop: `mender inspect --json` against the real `mender-artifact read` (Debian 3.9).
//!
//! Every artifact kind the real tool can write is generated into a scratch directory from small
//! inputs. Two kinds of checks run on them:
//!
//! * `reference_reader_matches_generation_model` checks the reference side alone: what
//!   `mender-artifact read` reports (parsed by `artifact_read`) must equal a model derived from the
//!   command line and the input files (digests computed here). It proves the generator and the
//!   parser before any comparison with our binary is trusted.
//! * The `inspect_*` tests run `mender inspect ARTIFACT [--verify-key PUB] --json` and require exit
//!   0 and a JSON document equal to the parsed `read` report (numbers compared by value).

use mender_tests::artifact_read::{read_artifact, SIG_FAILED, SIG_NONE, SIG_PRESENT, SIG_VERIFIED};
use mender_tests::{
    describe, inspect, inspect_json, json_differences, mismatch_report, output_text, pretty,
    require_tool, run, run_ok, sha256_hex, TempDir,
};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Signing keys the tool accepts (PKCS#1 RSA and SEC1 EC PEM, as 3.9 requires).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Key {
    Rsa2048,
    Rsa3072,
    Ec256,
}

impl Key {
    const ALL: [Key; 3] = [Key::Rsa2048, Key::Rsa3072, Key::Ec256];

    fn stem(self) -> &'static str {
        match self {
            Key::Rsa2048 => "rsa2048",
            Key::Rsa3072 => "rsa3072",
            Key::Ec256 => "ec256",
        }
    }

    fn private_file(self) -> String {
        format!("{}.pem", self.stem())
    }

    fn public_file(self) -> String {
        format!("{}.pub.pem", self.stem())
    }

    /// openssl arguments writing the private key to `out`, and the `openssl` subcommand that
    /// derives its public key.
    fn openssl_generate(self, out: &str) -> (Vec<String>, &'static str) {
        let words = match self {
            Key::Rsa2048 => format!("genrsa -traditional -out {out} 2048"),
            Key::Rsa3072 => format!("genrsa -traditional -out {out} 3072"),
            Key::Ec256 => format!("ecparam -genkey -name prime256v1 -noout -out {out}"),
        };
        let kind = if self == Key::Ec256 { "ec" } else { "rsa" };
        (words.split_whitespace().map(str::to_owned).collect(), kind)
    }
}

/// A generated input file and what the model needs to know about it.
struct Input {
    name: &'static str,
    size: u64,
    sha256: String,
}

impl Input {
    fn entry(&self) -> Value {
        json!({"name": self.name, "size": self.size, "sha256": self.sha256})
    }
}

/// Deterministic filler so failures reproduce byte for byte (xorshift64*).
fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let word = state.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes();
        let take = word.len().min(len - out.len());
        out.extend_from_slice(&word[..take]);
    }
    out
}

/// State scripts with names the writer accepts (`<State>_<Enter|Leave|Error>_<NN>[_<suffix>]`).
const SCRIPTS: [&str; 5] = [
    "ArtifactInstall_Enter_00_prepare",
    "ArtifactCommit_Leave_50_done",
    "ArtifactFailure_Enter_99_cleanup",
    "ArtifactRollback_Leave_01",
    "ArtifactReboot_Error_10_report",
];

/// Nested objects are fine; lists holding objects or lists are refused by `read` (3.9 copies
/// meta-data with that restriction), so they cannot be compared.
const META: &str = r#"{"service":"myapp","ports":[80,443],"restart":true,
 "nested":{"a":1,"list":["x",2.5,true,null],"deeper":{"b":{}}},"none":null,"empty_list":[],
 "empty_obj":{}}"#;

/// Numbers the tool re-encodes as float64 (rounding beyond 2^53, 1.0 -> 1, exponents).
const META_NUMBERS: &str = r#"{"big":12345678901234567890,"max_safe_plus":9007199254740993,
 "neg":-42,"float":0.1,"exp":1e21,"tiny":1e-7,"huge":1e300,"zero":-0,"one":1.0,"frac":-2.5e-3}"#;

/// Strings Go escapes differently from serde_json (`<`, `>`, `&`, U+2028/9, controls).
const META_TEXT: &str = r#"{"unicode":"é ü 日本 😀","escapes":"tab\t quote\" backslash\\ nl\n",
 "html":"<a href=\"x\">&amp;</a>","seps":"\u2028\u2029","control":"\u0001"}"#;

/// Augment meta-data: keys disjoint from [`META`], as the merge requires.
const META_AUGMENT: &str = r#"{"delta_from":"app-1.0","delta_size":4096}"#;

/// Scratch directory with the inputs, scripts, meta-data files and (optionally) keys.
struct Bench {
    dir: TempDir,
    tool: PathBuf,
    /// 256 KiB: 128 KiB pseudo-random then zeros, like a sparse filesystem image.
    rootfs: Input,
    /// 1 MiB pseudo-random: more than one compression block / window.
    big: Input,
    app: Input,
    config: Input,
    empty: Input,
}

impl Bench {
    fn new(label: &str) -> Bench {
        let tool = require_tool("mender-artifact");
        let dir = TempDir::new(label);
        let mut rootfs = pseudo_random(128 * 1024, 1);
        rootfs.resize(256 * 1024, 0);
        let config: Vec<u8> = (0..40)
            .flat_map(|i| format!("option_{i} = value-{}\n", i * 7).into_bytes())
            .collect();
        let input = |name: &'static str, data: Vec<u8>| {
            write_file(&dir.join(name), &data);
            Input {
                name,
                size: data.len() as u64,
                sha256: sha256_hex(&data),
            }
        };
        let rootfs = input("rootfs.img", rootfs);
        let big = input("big.img", pseudo_random(1024 * 1024, 2));
        let app = input("app.bin", pseudo_random(10_000, 3));
        let config = input("config.txt", config);
        let empty = input("empty.dat", Vec::new());
        for script in SCRIPTS {
            let path = dir.join(script);
            write_file(&path, format!("#!/bin/sh\n# {script}\nexit 0\n").as_bytes());
            set_mode(&path, 0o755);
        }
        write_file(&dir.join("meta.json"), META.as_bytes());
        write_file(&dir.join("meta-numbers.json"), META_NUMBERS.as_bytes());
        write_file(&dir.join("meta-text.json"), META_TEXT.as_bytes());
        write_file(&dir.join("meta-empty.json"), b"{}");
        write_file(&dir.join("meta-augment.json"), META_AUGMENT.as_bytes());
        Bench {
            dir,
            tool,
            rootfs,
            big,
            app,
            config,
            empty,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Generates the RSA 2048/3072 and P-256 key pairs with openssl.
    fn make_keys(&self) {
        let openssl = require_tool("openssl");
        for key in Key::ALL {
            let (args, kind) = key.openssl_generate(&key.private_file());
            run_ok(
                Command::new(&openssl)
                    .current_dir(self.dir.path())
                    .args(args),
            );
            run_ok(
                Command::new(&openssl)
                    .current_dir(self.dir.path())
                    .args([kind, "-in", &key.private_file(), "-pubout", "-out"])
                    .arg(key.public_file()),
            );
        }
    }

    fn public_key(&self, key: Key) -> PathBuf {
        self.path(&key.public_file())
    }

    fn meta(&self, file: &str) -> Value {
        let text = std::fs::read_to_string(self.path(file)).unwrap_or_default();
        match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => panic!("meta-data input {file} is not JSON: {e}"),
        }
    }

    /// Runs `mender-artifact` with `args` in the bench directory, naming `artifact` on failure.
    fn tool_ok(&self, artifact: &str, args: &[String]) -> Result<(), String> {
        let mut cmd = Command::new(&self.tool);
        cmd.current_dir(self.dir.path()).args(args);
        let out = run(&mut cmd);
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "artifact {artifact}: `{}` failed\n{}",
                describe(&cmd),
                output_text(&out)
            ))
        }
    }

    /// Runs the tool's write command (plus `sign` when asked) and returns the artifact path.
    fn generate(&self, spec: &Spec) -> Result<PathBuf, String> {
        let out_name = format!("{}.mender", spec.name);
        let written = match spec.sign_after {
            Some(_) => format!("{}.unsigned.mender", spec.name),
            None => out_name.clone(),
        };
        let mut write = spec.write.clone();
        write.extend(["-o".to_owned(), written.clone()]);
        self.tool_ok(&spec.name, &write)?;
        if let Some(key) = spec.sign_after {
            let sign = ["sign", "-k", &key.private_file(), "-o", &out_name, &written];
            self.tool_ok(&spec.name, &sign.map(str::to_owned))?;
        }
        Ok(self.path(&out_name))
    }
}

fn write_file(path: &Path, data: &[u8]) {
    if let Err(e) = std::fs::write(path, data) {
        panic!("cannot write {}: {e}", path.display());
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    if let Err(e) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)) {
        panic!("cannot chmod {}: {e}", path.display());
    }
}

/// One artifact: how to make it and what `read` (with the signing key, if any) must report.
struct Spec {
    name: String,
    write: Vec<String>,
    /// Sign with `mender-artifact sign` after writing.
    sign_after: Option<Key>,
    /// Key the artifact is signed with (by `write -k` or `sign`).
    key: Option<Key>,
    expected: Value,
}

impl Spec {
    /// `command` is the `mender-artifact` command line split on whitespace (use [`Spec::arg`]
    /// for arguments containing spaces); `--no-progress` is added where the subcommand has it
    /// (3.9's `module-image` does not).
    fn new(name: &str, command: &str, expected: Value) -> Spec {
        let mut write: Vec<String> = command.split_whitespace().map(str::to_owned).collect();
        if write.get(1).is_some_and(|sub| sub != "module-image") {
            write.push("--no-progress".to_owned());
        }
        Spec {
            name: name.to_owned(),
            write,
            sign_after: None,
            key: None,
            expected,
        }
    }

    /// Appends one argument verbatim.
    fn arg(mut self, arg: impl Into<String>) -> Spec {
        self.write.push(arg.into());
        self
    }

    /// Signed at write time with `-k`.
    fn signed(self, key: Key) -> Spec {
        let mut spec = self.arg("-k").arg(key.private_file());
        spec.key = Some(key);
        spec.expected["signature"] = json!(SIG_VERIFIED);
        spec
    }

    /// Signed afterwards with `mender-artifact sign`.
    fn signed_after(mut self, key: Key) -> Spec {
        self.sign_after = Some(key);
        self.key = Some(key);
        self.expected["signature"] = json!(SIG_VERIFIED);
        self
    }

    /// Applies hand edits to the expected document.
    fn expect(mut self, edit: impl FnOnce(&mut Value)) -> Spec {
        edit(&mut self.expected);
        self
    }
}

// ---- model of what mender-artifact 3.9 writes (shared/spec/artifact-format.md §2.8) ----

fn artifact(version: u64, name: &str, devices: &[&str], payload: Value) -> Value {
    json!({
        "format": "mender",
        "version": version,
        "name": name,
        "group": null,
        "compatible_devices": devices,
        "depends": {},
        "signature": SIG_NONE,
        "scripts": [],
        "payloads": [payload],
    })
}

fn payload(kind: Value, provides: Value, clears: Value, files: Vec<Value>) -> Value {
    json!({
        "type": kind,
        "provides": provides,
        "depends": {},
        "clears_provides": clears,
        "meta_data": null,
        "files": files,
    })
}

/// `write rootfs-image` with default software version, checksum provide and clears.
fn rootfs_v3(name: &str, devices: &[&str], image: &Input) -> Value {
    artifact(
        3,
        name,
        devices,
        payload(
            json!("rootfs-image"),
            json!({"rootfs-image.checksum": image.sha256, "rootfs-image.version": name}),
            json!(["artifact_group", "rootfs_image_checksum", "rootfs-image.*"]),
            vec![image.entry()],
        ),
    )
}

/// `write module-image -T kind` with the default `rootfs-image.<kind>.version` provide.
fn module(kind: &str, name: &str, devices: &[&str], files: &[&Input]) -> Value {
    artifact(
        3,
        name,
        devices,
        payload(
            json!(kind),
            json!({ format!("rootfs-image.{kind}.version"): name }),
            json!([format!("rootfs-image.{kind}.*")]),
            files.iter().map(|f| f.entry()).collect(),
        ),
    )
}

/// `write bootstrap-artifact`: empty payload, nothing by default.
fn bootstrap(name: &str, devices: &[&str]) -> Value {
    artifact(
        3,
        name,
        devices,
        payload(Value::Null, json!({}), Value::Null, vec![]),
    )
}

/// `write rootfs-image -v 2`: no provides/depends/clears/meta-data at all.
fn rootfs_v2(name: &str, devices: &[&str], image: &Input) -> Value {
    artifact(
        2,
        name,
        devices,
        payload(
            json!("rootfs-image"),
            json!({}),
            Value::Null,
            vec![image.entry()],
        ),
    )
}

/// mender-artifact stores meta-data numbers as float64; the model does the same.
fn as_float64(value: Value) -> Value {
    match value {
        Value::Number(n) => n.as_f64().map_or(Value::Number(n), Value::from),
        Value::Array(items) => Value::Array(items.into_iter().map(as_float64).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, as_float64(v))).collect())
        }
        other => other,
    }
}

fn sorted(names: &[&str]) -> Value {
    let mut names = names.to_vec();
    names.sort_unstable();
    json!(names)
}

// ---- the artifact groups ----

#[derive(Clone, Copy, Debug)]
enum Group {
    Rootfs,
    Module,
    Signed,
    ProvidesDepends,
    ScriptsMetaData,
    Bootstrap,
    Format2,
    Augmented,
}

impl Group {
    const ALL: [Group; 8] = [
        Group::Rootfs,
        Group::Module,
        Group::Signed,
        Group::ProvidesDepends,
        Group::ScriptsMetaData,
        Group::Bootstrap,
        Group::Format2,
        Group::Augmented,
    ];

    fn specs(self, b: &Bench) -> Vec<Spec> {
        match self {
            Group::Rootfs => rootfs_specs(b),
            Group::Module => module_specs(b),
            Group::Signed => signed_specs(b),
            Group::ProvidesDepends => provides_depends_specs(b),
            Group::ScriptsMetaData => scripts_meta_specs(b),
            Group::Bootstrap => bootstrap_specs(),
            Group::Format2 => format2_specs(b),
            Group::Augmented => augmented_specs(b),
        }
    }
}

/// rootfs-image v3 with each compression, several device types and a 1 MiB image.
fn rootfs_specs(b: &Bench) -> Vec<Spec> {
    let img = &b.rootfs;
    let w = "write rootfs-image -f rootfs.img";
    vec![
        Spec::new(
            "rootfs-none",
            &format!("{w} -t qemux86-64 -n rootfs-none --compression none"),
            rootfs_v3("rootfs-none", &["qemux86-64"], img),
        ),
        Spec::new(
            "rootfs-gzip-default",
            &format!("{w} -t qemux86-64 -t raspberrypi4 -n rootfs-gzip"),
            rootfs_v3("rootfs-gzip", &["qemux86-64", "raspberrypi4"], img),
        ),
        Spec::new(
            "rootfs-gzip",
            &format!("{w} -t qemux86-64 -n rootfs-gzip-x --compression gzip"),
            rootfs_v3("rootfs-gzip-x", &["qemux86-64"], img),
        ),
        Spec::new(
            "rootfs-lzma",
            &format!("{w} -t qemux86-64 -n rootfs-lzma --compression lzma"),
            rootfs_v3("rootfs-lzma", &["qemux86-64"], img),
        ),
        Spec::new(
            "rootfs-1mib-three-devices",
            "write rootfs-image -f big.img -t dev-a -t dev-b -t dev-c -n rootfs-1mib",
            rootfs_v3("rootfs-1mib", &["dev-a", "dev-b", "dev-c"], &b.big),
        ),
        Spec::new(
            "rootfs-1mib-lzma",
            "write rootfs-image -f big.img -t dev -n rootfs-1mib-xz --compression lzma",
            rootfs_v3("rootfs-1mib-xz", &["dev"], &b.big),
        ),
    ]
}

/// module-image `single-file` and `docker` with 0, 1 and 3 files (one of them empty).
fn module_specs(b: &Bench) -> Vec<Spec> {
    let three = [&b.app, &b.config, &b.empty];
    let files3 = "-f app.bin -f config.txt -f empty.dat";
    let single = "write module-image -T single-file -t dev";
    let docker = "write module-image -T docker";
    vec![
        Spec::new(
            "module-single-0files-none",
            &format!("{single} -n ms0 --compression none"),
            module("single-file", "ms0", &["dev"], &[]),
        ),
        Spec::new(
            "module-single-1file-gzip",
            &format!("{single} -n ms1 -f app.bin"),
            module("single-file", "ms1", &["dev"], &[&b.app]),
        ),
        Spec::new(
            "module-single-3files-lzma",
            &format!("{single} -n ms3 {files3} --compression lzma"),
            module("single-file", "ms3", &["dev"], &three),
        ),
        Spec::new(
            "module-docker-0files-gzip",
            &format!("{docker} -t dev -n md0 --compression gzip"),
            module("docker", "md0", &["dev"], &[]),
        ),
        Spec::new(
            "module-docker-1file-none",
            &format!("{docker} -t dev -n md1 -f config.txt --compression none"),
            module("docker", "md1", &["dev"], &[&b.config]),
        ),
        Spec::new(
            "module-docker-3files-gzip-3devices",
            &format!(
                "{docker} -t dev-a -t dev-b -t dev-c -n md3 -f config.txt -f empty.dat -f app.bin"
            ),
            module(
                "docker",
                "md3",
                &["dev-a", "dev-b", "dev-c"],
                &[&b.config, &b.empty, &b.app],
            ),
        ),
        Spec::new(
            "module-docker-3files-lzma",
            &format!("{docker} -t dev -n md3l {files3} --compression lzma"),
            module("docker", "md3l", &["dev"], &three),
        ),
    ]
}

/// RSA 2048, RSA 3072 and ECDSA P-256, signed by `write -k` and by `sign` afterwards, on
/// rootfs, module, bootstrap and format-2 artifacts.
fn signed_specs(b: &Bench) -> Vec<Spec> {
    let three = [&b.app, &b.config, &b.empty];
    let files3 = "-f app.bin -f config.txt -f empty.dat";
    let rootfs = "write rootfs-image -f rootfs.img -t dev";
    let v2 = "write rootfs-image -v 2 -f rootfs.img -t dev";
    let img = &b.rootfs;
    vec![
        Spec::new(
            "signed-rsa2048-rootfs",
            &format!("{rootfs} -n s-rsa2048"),
            rootfs_v3("s-rsa2048", &["dev"], img),
        )
        .signed(Key::Rsa2048),
        Spec::new(
            "signed-rsa3072-rootfs-lzma",
            &format!("{rootfs} -n s-rsa3072 --compression lzma"),
            rootfs_v3("s-rsa3072", &["dev"], img),
        )
        .signed(Key::Rsa3072),
        Spec::new(
            "signed-ec256-rootfs-none",
            &format!("{rootfs} -n s-ec256 --compression none"),
            rootfs_v3("s-ec256", &["dev"], img),
        )
        .signed(Key::Ec256),
        Spec::new(
            "signed-ec256-module-3files",
            &format!("write module-image -T single-file -t dev -n s-mod-ec {files3}"),
            module("single-file", "s-mod-ec", &["dev"], &three),
        )
        .signed(Key::Ec256),
        Spec::new(
            "signed-rsa3072-module-docker-0files",
            "write module-image -T docker -t dev -n s-mod-rsa --compression none",
            module("docker", "s-mod-rsa", &["dev"], &[]),
        )
        .signed(Key::Rsa3072),
        Spec::new(
            "signed-ec256-bootstrap",
            "write bootstrap-artifact -t dev -n s-boot",
            bootstrap("s-boot", &["dev"]),
        )
        .signed(Key::Ec256),
        Spec::new(
            "signed-rsa2048-v2",
            &format!("{v2} -n s-v2"),
            rootfs_v2("s-v2", &["dev"], img),
        )
        .signed(Key::Rsa2048),
        Spec::new(
            "signed-after-rsa2048-rootfs",
            &format!("{rootfs} -n sa-rsa2048"),
            rootfs_v3("sa-rsa2048", &["dev"], img),
        )
        .signed_after(Key::Rsa2048),
        Spec::new(
            "signed-after-rsa3072-module",
            &format!("write module-image -T docker -t dev -n sa-mod {files3}"),
            module("docker", "sa-mod", &["dev"], &three),
        )
        .signed_after(Key::Rsa3072),
        Spec::new(
            "signed-after-ec256-rootfs-lzma",
            &format!("{rootfs} -n sa-ec256 --compression lzma"),
            rootfs_v3("sa-ec256", &["dev"], img),
        )
        .signed_after(Key::Ec256),
        Spec::new(
            "signed-after-ec256-bootstrap",
            "write bootstrap-artifact -t dev -n sa-boot -p k:v",
            bootstrap("sa-boot", &["dev"]),
        )
        .signed_after(Key::Ec256)
        .expect(|e| e["payloads"][0]["provides"] = json!({"k": "v"})),
        Spec::new(
            "signed-after-rsa3072-v2",
            &format!("{v2} -n sa-v2 --compression none"),
            rootfs_v2("sa-v2", &["dev"], img),
        )
        .signed_after(Key::Rsa3072),
        Spec::new(
            "signed-after-ec256-v2",
            &format!("{v2} -n sa-v2-ec"),
            rootfs_v2("sa-v2-ec", &["dev"], img),
        )
        .signed_after(Key::Ec256),
    ]
}

/// Provides, depends, clears and software-version flags; artifact-level name/group depends.
fn provides_depends_specs(b: &Bench) -> Vec<Spec> {
    let img = &b.rootfs;
    let sum = img.sha256.clone();
    let default_clears = ["artifact_group", "rootfs_image_checksum", "rootfs-image.*"];
    let rootfs = |file: &str, name: &str, flags: &str| {
        Spec::new(
            file,
            &format!("write rootfs-image -f rootfs.img -t dev -n {name} {flags}"),
            rootfs_v3(name, &["dev"], img),
        )
    };
    let module_cmd = |kind: &str, name: &str, flags: &str| {
        format!("write module-image -T {kind} -t dev -n {name} {flags}")
    };
    vec![
        rootfs(
            "rootfs-provides-depends-clears",
            "pdc",
            "-p a.b:c -p x:y -p x:z -p colon:1:2 -p empty: -d k:v \
             --clears-provides a.* --clears-provides x",
        )
        .arg("-p")
        .arg("spaced:v w")
        .arg("-d")
        .arg(format!("rootfs-image.checksum:{sum}"))
        .expect(|e| {
            let p = &mut e["payloads"][0];
            p["provides"]["a.b"] = json!("c");
            p["provides"]["x"] = json!("z");
            p["provides"]["colon"] = json!("1:2");
            p["provides"]["empty"] = json!("");
            p["provides"]["spaced"] = json!("v w");
            p["depends"] = json!({"k": "v", "rootfs-image.checksum": sum});
            let mut clears = vec!["a.*", "x"];
            clears.extend(default_clears);
            p["clears_provides"] = json!(clears);
        }),
        rootfs(
            "rootfs-no-default-clears",
            "ndc",
            "--no-default-clears-provides",
        )
        .expect(|e| e["payloads"][0]["clears_provides"] = Value::Null),
        rootfs(
            "rootfs-no-default-clears-custom",
            "ndcc",
            "--no-default-clears-provides --clears-provides only.*",
        )
        .expect(|e| e["payloads"][0]["clears_provides"] = json!(["only.*"])),
        rootfs(
            "rootfs-no-default-software-version",
            "ndsv",
            "--no-default-software-version",
        )
        .expect(|e| {
            let p = &mut e["payloads"][0];
            p["provides"] = json!({"rootfs-image.checksum": img.sha256});
            p["clears_provides"] = Value::Null;
        }),
        rootfs(
            "rootfs-software-name-version",
            "swnv",
            "--software-name myos --software-version 9.9",
        )
        .expect(|e| {
            let p = &mut e["payloads"][0];
            p["provides"] =
                json!({"rootfs-image.checksum": img.sha256, "rootfs-image.myos.version": "9.9"});
            p["clears_provides"] = json!(["rootfs-image.myos.*"]);
        }),
        rootfs(
            "rootfs-software-filesystem",
            "swfs",
            "--software-filesystem sysfs",
        )
        .expect(|e| {
            let p = &mut e["payloads"][0];
            p["provides"] = json!({"rootfs-image.checksum": img.sha256, "sysfs.version": "swfs"});
            p["clears_provides"] = json!(["sysfs.*"]);
        }),
        rootfs(
            "rootfs-software-filesystem-name",
            "swfn",
            "--software-filesystem sysfs --software-name n",
        )
        .expect(|e| {
            let p = &mut e["payloads"][0];
            p["provides"] = json!({"rootfs-image.checksum": img.sha256, "sysfs.n.version": "swfn"});
            p["clears_provides"] = json!(["sysfs.n.*"]);
        }),
        rootfs(
            "rootfs-legacy-checksum",
            "legacy",
            "--legacy-rootfs-image-checksum",
        )
        .expect(|e| {
            e["payloads"][0]["provides"] =
                json!({"rootfs_image_checksum": img.sha256, "rootfs-image.version": "legacy"});
        }),
        rootfs(
            "rootfs-no-checksum-provide",
            "nocs",
            "--no-checksum-provide",
        )
        .expect(|e| e["payloads"][0]["provides"] = json!({"rootfs-image.version": "nocs"})),
        rootfs(
            "rootfs-version-override",
            "ovr",
            "-p rootfs-image.version:custom",
        )
        .expect(|e| e["payloads"][0]["provides"]["rootfs-image.version"] = json!("custom")),
        rootfs(
            "rootfs-name-group-depends",
            "ngd",
            "-N rel-1 -N rel-2 -g prod -G beta -G prod",
        )
        .expect(|e| {
            e["group"] = json!("prod");
            e["depends"] =
                json!({"artifact_name": ["rel-1", "rel-2"], "artifact_group": ["beta", "prod"]});
        }),
        rootfs("rootfs-group-only", "grp", "-g fleet").expect(|e| e["group"] = json!("fleet")),
        rootfs("rootfs-depends-name-only", "dno", "-N rel-0")
            .expect(|e| e["depends"] = json!({"artifact_name": ["rel-0"]})),
        Spec::new(
            "module-heavy",
            &format!(
                "write module-image -T docker -t dev-a -t dev-b -n app-2.0 -N app-1.0 -N app-1.1 \
                 -g prod -G beta -G prod -p myapp.variant:full -p myapp.build:42 \
                 -d rootfs-image.checksum:{sum} -d data-partition.myapp.version:1.9.0 \
                 --clears-provides myapp.* --clears-provides legacy_key \
                 --software-filesystem data-partition --software-name myapp \
                 --software-version 2.0.0 -m meta.json -s {} -s {} -f app.bin",
                SCRIPTS[0], SCRIPTS[1]
            ),
            module("docker", "app-2.0", &["dev-a", "dev-b"], &[&b.app]),
        )
        .expect(|e| {
            e["group"] = json!("prod");
            e["depends"] = json!({
                "artifact_name": ["app-1.0", "app-1.1"],
                "artifact_group": ["beta", "prod"],
            });
            e["scripts"] = sorted(&SCRIPTS[..2]);
            let p = &mut e["payloads"][0];
            p["provides"] = json!({
                "data-partition.myapp.version": "2.0.0",
                "myapp.build": "42",
                "myapp.variant": "full",
            });
            p["depends"] = json!({
                "data-partition.myapp.version": "1.9.0",
                "rootfs-image.checksum": sum,
            });
            p["clears_provides"] = json!(["myapp.*", "legacy_key", "data-partition.myapp.*"]);
            p["meta_data"] = as_float64(b.meta("meta.json"));
        }),
        Spec::new(
            "module-software-name-version",
            &module_cmd(
                "docker",
                "mswn",
                "--software-name other --software-version 1.2 -f app.bin",
            ),
            module("docker", "mswn", &["dev"], &[&b.app]),
        )
        .expect(|e| {
            let p = &mut e["payloads"][0];
            p["provides"] = json!({"rootfs-image.other.version": "1.2"});
            p["clears_provides"] = json!(["rootfs-image.other.*"]);
        }),
        Spec::new(
            "module-software-filesystem",
            &module_cmd(
                "docker",
                "mswf",
                "--software-filesystem data-partition -f app.bin",
            ),
            module("docker", "mswf", &["dev"], &[&b.app]),
        )
        .expect(|e| {
            let p = &mut e["payloads"][0];
            p["provides"] = json!({"data-partition.docker.version": "mswf"});
            p["clears_provides"] = json!(["data-partition.docker.*"]);
        }),
        Spec::new(
            "module-no-default-software-version",
            &module_cmd(
                "docker",
                "mnsv",
                "--no-default-software-version -p k:v -f app.bin",
            ),
            module("docker", "mnsv", &["dev"], &[&b.app]),
        )
        .expect(|e| {
            let p = &mut e["payloads"][0];
            p["provides"] = json!({"k": "v"});
            p["clears_provides"] = Value::Null;
        }),
        Spec::new(
            "module-no-default-clears",
            &module_cmd(
                "single-file",
                "mndc",
                "--no-default-clears-provides -f config.txt",
            ),
            module("single-file", "mndc", &["dev"], &[&b.config]),
        )
        .expect(|e| e["payloads"][0]["clears_provides"] = Value::Null),
        Spec::new(
            "module-depends-only",
            &module_cmd("single-file", "mdo", "-d a.b:1 -G beta"),
            module("single-file", "mdo", &["dev"], &[]),
        )
        .expect(|e| {
            e["depends"] = json!({"artifact_group": ["beta"]});
            e["payloads"][0]["depends"] = json!({"a.b": "1"});
        }),
    ]
}

/// State scripts (all five on one artifact) and meta-data variants.
fn scripts_meta_specs(b: &Bench) -> Vec<Spec> {
    let all_scripts: String = SCRIPTS.iter().map(|s| format!(" -s {s}")).collect();
    let meta_module = |file: &str, name: &str, meta: &str| {
        Spec::new(
            file,
            &format!("write module-image -T app -t dev -n {name} -m {meta} -f app.bin"),
            module("app", name, &["dev"], &[&b.app]),
        )
    };
    vec![
        Spec::new(
            "rootfs-all-scripts",
            &format!("write rootfs-image -f rootfs.img -t dev -n rsc{all_scripts}"),
            rootfs_v3("rsc", &["dev"], &b.rootfs),
        )
        .expect(|e| e["scripts"] = sorted(&SCRIPTS)),
        Spec::new(
            "module-scripts-meta",
            &format!(
                "write module-image -T app -t dev -n msm -s {} -s {} -m meta.json -f app.bin \
                 --compression lzma",
                SCRIPTS[3], SCRIPTS[4]
            ),
            module("app", "msm", &["dev"], &[&b.app]),
        )
        .expect(|e| {
            e["scripts"] = sorted(&SCRIPTS[3..]);
            e["payloads"][0]["meta_data"] = as_float64(b.meta("meta.json"));
        }),
        meta_module("module-meta-numbers", "mmn", "meta-numbers.json")
            .expect(|e| e["payloads"][0]["meta_data"] = as_float64(b.meta("meta-numbers.json"))),
        meta_module("module-meta-text", "mmt", "meta-text.json")
            .expect(|e| e["payloads"][0]["meta_data"] = b.meta("meta-text.json")),
        // An empty object is not stored at all, so there is no meta-data.
        meta_module("module-meta-empty", "mme", "meta-empty.json"),
    ]
}

/// Empty-payload (bootstrap) artifacts.
fn bootstrap_specs() -> Vec<Spec> {
    vec![
        Spec::new(
            "bootstrap-plain",
            "write bootstrap-artifact -t dev -n boot-1",
            bootstrap("boot-1", &["dev"]),
        ),
        Spec::new(
            "bootstrap-full-none",
            "write bootstrap-artifact -t dev-a -t dev-b -n boot-2 -N rel-1 -g grp -G g1 -G g2 \
             -p extra.key:v -d x.y:1 --clears-provides foo.* --compression none",
            bootstrap("boot-2", &["dev-a", "dev-b"]),
        )
        .expect(|e| {
            e["group"] = json!("grp");
            e["depends"] = json!({"artifact_name": ["rel-1"], "artifact_group": ["g1", "g2"]});
            let p = &mut e["payloads"][0];
            p["provides"] = json!({"extra.key": "v"});
            p["depends"] = json!({"x.y": "1"});
            p["clears_provides"] = json!(["foo.*"]);
        }),
        Spec::new(
            "bootstrap-lzma",
            "write bootstrap-artifact -t dev -n boot-3 --compression lzma",
            bootstrap("boot-3", &["dev"]),
        ),
    ]
}

/// Format 2 (`write rootfs-image -v 2`).
fn format2_specs(b: &Bench) -> Vec<Spec> {
    let img = &b.rootfs;
    let w = "write rootfs-image -v 2 -f rootfs.img";
    vec![
        Spec::new(
            "v2-none",
            &format!("{w} -t dev -n v2-none --compression none"),
            rootfs_v2("v2-none", &["dev"], img),
        ),
        Spec::new(
            "v2-gzip-2devices",
            &format!("{w} -t dev-a -t dev-b -n v2-gzip"),
            rootfs_v2("v2-gzip", &["dev-a", "dev-b"], img),
        ),
        Spec::new(
            "v2-lzma",
            &format!("{w} -t dev -n v2-lzma --compression lzma"),
            rootfs_v2("v2-lzma", &["dev"], img),
        ),
        Spec::new(
            "v2-scripts",
            &format!("{w} -t dev -n v2-scr -s {} -s {}", SCRIPTS[0], SCRIPTS[2]),
            rootfs_v2("v2-scr", &["dev"], img),
        )
        .expect(|e| e["scripts"] = sorted(&[SCRIPTS[0], SCRIPTS[2]])),
        // Format 2 has nowhere to put v3 metadata; the tool drops it silently.
        Spec::new(
            "v2-ignores-v3-flags",
            &format!(
                "{w} -t dev -n v2-flags -p a:b -d c:d --clears-provides x -N n -g g -G gg \
                 --software-name q"
            ),
            rootfs_v2("v2-flags", &["dev"], img),
        ),
        Spec::new(
            "v2-1mib",
            "write rootfs-image -v 2 -f big.img -t dev -n v2-big",
            rootfs_v2("v2-big", &["dev"], &b.big),
        ),
    ]
}

// ---- checks ----

/// A generated artifact and the key it is signed with.
struct Generated {
    name: String,
    path: PathBuf,
    key: Option<Key>,
    expected: Value,
}

/// Builds a bench and generates every artifact of `group`; generation failures are collected.
fn generate_group(group: Group) -> (Bench, Vec<Generated>, Vec<String>) {
    let bench = Bench::new(&format!("{group:?}").to_lowercase());
    let specs = group.specs(&bench);
    if specs.iter().any(|s| s.key.is_some()) {
        bench.make_keys();
    }
    let mut generated = Vec::new();
    let mut failures = Vec::new();
    for spec in specs {
        match bench.generate(&spec) {
            Ok(path) => generated.push(Generated {
                name: spec.name,
                path,
                key: spec.key,
                expected: spec.expected,
            }),
            Err(e) => failures.push(e),
        }
    }
    (bench, generated, failures)
}

fn finish(what: &str, checked: usize, failures: Vec<String>) {
    if !failures.is_empty() {
        panic!(
            "{what}: {} of {checked} checks failed\n\n{}",
            failures.len(),
            failures.join("\n\n========\n\n")
        );
    }
    assert!(checked > 0, "{what}: nothing was checked");
}

/// The reference side alone: `read` must report exactly what the generation model predicts,
/// with the right key (verified), without a key (present) and with a wrong key (failed).
#[test]
fn reference_reader_matches_generation_model() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for group in Group::ALL {
        let (bench, generated, gen_failures) = generate_group(group);
        failures.extend(gen_failures);
        for art in &generated {
            let mut cases = vec![(art.key, art.expected.clone(), "read")];
            if let Some(key) = art.key {
                let mut unverified = art.expected.clone();
                unverified["signature"] = json!(SIG_PRESENT);
                cases.push((None, unverified, "read without key"));
                let wrong = Key::ALL.into_iter().find(|k| *k != key).unwrap_or(key);
                let mut failed = art.expected.clone();
                failed["signature"] = json!(SIG_FAILED);
                cases.push((Some(wrong), failed, "read with a wrong key"));
            }
            for (key, expected, how) in cases {
                checked += 1;
                let key_path = key.map(|k| bench.public_key(k));
                match read_artifact(&art.path, key_path.as_deref()) {
                    Ok(parsed) if json_differences(&expected, &parsed).is_empty() => {}
                    Ok(parsed) => failures.push(mismatch_report(
                        &art.name,
                        &format!("{how}: mender-artifact read differs from the generation model"),
                        "model",
                        &expected,
                        "mender-artifact read (parsed)",
                        &parsed,
                    )),
                    Err(e) => failures.push(format!("artifact {}: {how}: {e}", art.name)),
                }
            }
        }
    }
    finish("reference reader vs model", checked, failures);
}

/// `mender inspect --json` must equal the parsed `read` report, with the signing key (verified)
/// and, for signed artifacts, also without a key (present).
fn inspect_group(group: Group) {
    let (bench, generated, mut failures) = generate_group(group);
    let mut checked = 0;
    for art in &generated {
        let mut keys = vec![art.key];
        if art.key.is_some() {
            keys.push(None);
        }
        for key in keys {
            checked += 1;
            let key_path = key.map(|k| bench.public_key(k));
            let how = match key {
                Some(k) => format!("with --verify-key {}", k.public_file()),
                None => "without a key".to_owned(),
            };
            let reference = match read_artifact(&art.path, key_path.as_deref()) {
                Ok(v) => v,
                Err(e) => {
                    failures.push(format!(
                        "artifact {}: {how}: reference read failed: {e}",
                        art.name
                    ));
                    continue;
                }
            };
            match inspect_json(&art.path, key_path.as_deref()) {
                Ok(ours) if json_differences(&reference, &ours).is_empty() => {}
                Ok(ours) => failures.push(mismatch_report(
                    &art.name,
                    &format!("{how}: mender inspect --json differs from mender-artifact read"),
                    "mender-artifact read (parsed)",
                    &reference,
                    "mender inspect --json",
                    &ours,
                )),
                Err(e) => failures.push(format!(
                    "artifact {}: {how}: {e}\n--- mender-artifact read (parsed) ---\n{}",
                    art.name,
                    pretty(&reference)
                )),
            }
        }
    }
    finish(
        &format!("inspect vs read, group {group:?}"),
        checked,
        failures,
    );
}

#[test]
fn inspect_rootfs_image_compressions() {
    inspect_group(Group::Rootfs);
}

#[test]
fn inspect_module_image_file_counts() {
    inspect_group(Group::Module);
}

#[test]
fn inspect_signed_artifacts() {
    inspect_group(Group::Signed);
}

#[test]
fn inspect_provides_depends_clears() {
    inspect_group(Group::ProvidesDepends);
}

#[test]
fn inspect_scripts_and_meta_data() {
    inspect_group(Group::ScriptsMetaData);
}

#[test]
fn inspect_bootstrap_artifacts() {
    inspect_group(Group::Bootstrap);
}

#[test]
fn inspect_format_2() {
    inspect_group(Group::Format2);
}

#[test]
fn inspect_augmented_artifacts() {
    inspect_group(Group::Augmented);
}

/// Augmented module artifacts (`--augment-*`): the augment header adds provides, depends,
/// meta-data and data files to payload 0, outside the signature.
fn augmented_specs(b: &Bench) -> Vec<Spec> {
    let base = |name: &str, extra: &str| {
        Spec::new(
            name,
            &format!(
                "write module-image -T mender-binary-delta -t dev -n {name} -f app.bin \
                 --augment-type mender-binary-delta --augment-file config.txt \
                 --augment-provides aug.key:augval --augment-depends aug.dep:x {extra}"
            ),
            module("mender-binary-delta", name, &["dev"], &[&b.app, &b.config]),
        )
        .expect(|e| {
            e["payloads"][0]["provides"]["aug.key"] = json!("augval");
            e["payloads"][0]["depends"]["aug.dep"] = json!("x");
        })
    };
    let with_meta = |e: &mut Value| {
        let mut merged = b.meta("meta.json");
        if let (Some(m), Value::Object(aug)) = (merged.as_object_mut(), b.meta("meta-augment.json"))
        {
            m.extend(aug);
        }
        e["payloads"][0]["meta_data"] = as_float64(merged);
    };
    vec![
        base("augmented-gzip", ""),
        base("augmented-none", "--compression none"),
        base("augmented-lzma", "--compression lzma"),
        base(
            "augmented-meta",
            "-m meta.json --augment-meta-data meta-augment.json",
        )
        .expect(with_meta),
        base("augmented-signed-ec", "").signed(Key::Ec256),
        base("augmented-signed-rsa", "-p own.key:v")
            .signed(Key::Rsa3072)
            .expect(|e| {
                e["payloads"][0]["provides"]["own.key"] = json!("v");
            }),
    ]
}

/// A signature checked with the wrong key fails in both readers: `read` says so, `inspect` exits
/// 1. An unsigned artifact with `--verify-key` also exits 1 (`read` just reports no signature).
#[test]
fn inspect_rejects_wrong_key_and_missing_signature() {
    let bench = Bench::new("wrongkey");
    bench.make_keys();
    let img = &bench.rootfs;
    let specs = vec![
        Spec::new(
            "wk-rsa2048",
            "write rootfs-image -f rootfs.img -t dev -n wk-rsa",
            rootfs_v3("wk-rsa", &["dev"], img),
        )
        .signed(Key::Rsa2048),
        Spec::new(
            "wk-ec256-module",
            "write module-image -T docker -t dev -n wk-ec -f app.bin",
            module("docker", "wk-ec", &["dev"], &[&bench.app]),
        )
        .signed(Key::Ec256),
        Spec::new(
            "wk-rsa3072-after-v2",
            "write rootfs-image -v 2 -f rootfs.img -t dev -n wk-v2",
            rootfs_v2("wk-v2", &["dev"], img),
        )
        .signed_after(Key::Rsa3072),
        Spec::new(
            "wk-unsigned",
            "write rootfs-image -f rootfs.img -t dev -n wk-unsigned",
            rootfs_v3("wk-unsigned", &["dev"], img),
        ),
    ];
    let mut failures = Vec::new();
    let mut checked = 0;
    for spec in &specs {
        let path = match bench.generate(spec) {
            Ok(p) => p,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        let expected_sig = if spec.key.is_some() {
            SIG_FAILED
        } else {
            SIG_NONE
        };
        for wrong in Key::ALL.into_iter().filter(|k| Some(*k) != spec.key) {
            checked += 1;
            let key = bench.public_key(wrong);
            match read_artifact(&path, Some(&key)) {
                Ok(parsed) if parsed["signature"] == json!(expected_sig) => {}
                Ok(parsed) => failures.push(format!(
                    "artifact {}: read -k {} reported signature {} instead of {expected_sig}",
                    spec.name,
                    wrong.public_file(),
                    parsed["signature"]
                )),
                Err(e) => failures.push(format!("artifact {}: {e}", spec.name)),
            }
            let out = inspect(&path, Some(&key));
            if out.status.code() != Some(1) {
                failures.push(format!(
                    "artifact {} (signed with {:?}): mender inspect --verify-key {} must exit 1\n{}",
                    spec.name,
                    spec.key,
                    wrong.public_file(),
                    output_text(&out)
                ));
            }
        }
    }
    finish("wrong key / missing signature", checked, failures);
}
