//! Broken Artifacts: each must be rejected with a specific error, never a panic, and with the
//! same error whether it is fed whole or one byte at a time.
//!
//! Bases are made by the real `mender-artifact` (uncompressed, so members can be edited); the
//! tests take them apart into their members, break one thing, and put them back together,
//! recomputing the manifest checksums unless the checksum itself is what is being broken.
use mender_tests::{mender_artifact, mender_bin, read_verdict, require_tool, run_ok, TempDir};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::process::Command;

/// One tar member.
#[derive(Clone, Debug)]
struct Member {
    name: String,
    data: Vec<u8>,
    typeflag: u8,
}

fn octal(v: u64, width: usize) -> Vec<u8> {
    let s = format!("{:0w$o}\0", v, w = width - 1);
    s.into_bytes()
}

/// Writes a ustar archive (names up to 100 bytes, as the tests need).
fn tar(members: &[Member]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in members {
        let mut h = [0u8; 512];
        let name = m.name.as_bytes();
        assert!(name.len() <= 100, "test member name too long: {}", m.name);
        h[..name.len()].copy_from_slice(name);
        h[100..108].copy_from_slice(&octal(0o600, 8));
        h[108..116].copy_from_slice(&octal(0, 8));
        h[116..124].copy_from_slice(&octal(0, 8));
        h[124..136].copy_from_slice(&octal(m.data.len() as u64, 12));
        h[136..148].copy_from_slice(&octal(0, 12));
        h[156] = m.typeflag;
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u64 = h.iter().map(|&b| u64::from(b)).sum();
        h[148..156].copy_from_slice(format!("{:06o}\0 ", sum).as_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(&m.data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.extend_from_slice(&[0u8; 1024]);
    out
}

/// Reads the members of a plain ustar archive (what mender-artifact writes for small inputs).
fn untar(mut b: &[u8]) -> Vec<Member> {
    let mut out = Vec::new();
    while b.len() >= 512 && b[..512].iter().any(|&c| c != 0) {
        let h = &b[..512];
        let cstr = |f: &[u8]| {
            String::from_utf8_lossy(&f[..f.iter().position(|&c| c == 0).unwrap_or(f.len())])
                .into_owned()
        };
        let mut name = cstr(&h[..100]);
        let prefix = cstr(&h[345..500]);
        if !prefix.is_empty() {
            name = format!("{prefix}/{name}");
        }
        let size = u64::from_str_radix(cstr(&h[124..136]).trim(), 8).expect("octal size");
        let size = usize::try_from(size).expect("size");
        out.push(Member {
            name,
            data: b[512..512 + size].to_vec(),
            typeflag: h[156],
        });
        b = &b[512 + size.div_ceil(512) * 512..];
    }
    out
}

fn sha(d: &[u8]) -> String {
    Sha256::digest(d)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// An uncompressed Artifact taken apart.
#[derive(Clone)]
struct Parts {
    version: Vec<u8>,
    manifest: Option<Vec<u8>>,
    sig: Option<Vec<u8>>,
    header: Vec<Member>,
    /// data/NNNN.tar members with their inner files.
    data: Vec<(String, Vec<Member>)>,
    /// Outer members inserted before the header (after the manifest/sig) and after the data.
    extra_before_header: Vec<Member>,
    extra_after_data: Vec<Member>,
}

impl Parts {
    fn from(artifact: &[u8]) -> Parts {
        let mut p = Parts {
            version: vec![],
            manifest: None,
            sig: None,
            header: vec![],
            data: vec![],
            extra_before_header: vec![],
            extra_after_data: vec![],
        };
        for m in untar(artifact) {
            match m.name.as_str() {
                "version" => p.version = m.data,
                // Rebuilt members differ in tar metadata, so the manifest is recomputed.
                "manifest" => p.manifest = None,
                "manifest.sig" => p.sig = Some(m.data),
                "header.tar" => p.header = untar(&m.data),
                n if n.starts_with("data/") => p.data.push((m.name.clone(), untar(&m.data))),
                n => panic!("unexpected member {n} in base artifact"),
            }
        }
        p
    }

    /// The manifest the writer would produce for the current contents.
    fn fresh_manifest(&self) -> Vec<u8> {
        let mut lines = String::new();
        for (name, files) in &self.data {
            let idx = &name[5..9];
            for f in files {
                lines += &format!("{}  data/{}/{}\n", sha(&f.data), idx, f.name);
            }
        }
        lines += &format!("{}  header.tar\n", sha(&tar(&self.header)));
        lines += &format!("{}  version\n", sha(&self.version));
        lines.into_bytes()
    }

    /// Reassembles; `manifest: None` recomputes it.
    fn build(&self) -> Vec<u8> {
        let file = |name: &str, data: Vec<u8>| Member {
            name: name.into(),
            data,
            typeflag: b'0',
        };
        let mut outer = vec![file("version", self.version.clone())];
        outer.push(file(
            "manifest",
            self.manifest
                .clone()
                .unwrap_or_else(|| self.fresh_manifest()),
        ));
        if let Some(s) = &self.sig {
            outer.push(file("manifest.sig", s.clone()));
        }
        outer.extend(self.extra_before_header.iter().cloned());
        outer.push(file("header.tar", tar(&self.header)));
        for (name, files) in &self.data {
            outer.push(file(name, tar(files)));
        }
        outer.extend(self.extra_after_data.iter().cloned());
        tar(&outer)
    }

    fn header_doc(&mut self, name: &str) -> &mut Vec<u8> {
        &mut self
            .header
            .iter_mut()
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("no {name}"))
            .data
    }

    fn set_header_doc(&mut self, name: &str, doc: &str) {
        *self.header_doc(name) = doc.as_bytes().to_vec();
    }
}

/// Feeds `bytes` with the given chunk size; returns the error text, or None if accepted.
fn read_error(bytes: &[u8], chunk: usize) -> Option<String> {
    read_verdict(bytes, &mut || chunk).err()
}

/// Asserts that `bytes` is rejected with a message containing `needle`, whole and byte-wise.
fn rejects(case: &str, bytes: &[u8], needle: &str) {
    let whole = read_error(bytes, usize::MAX)
        .unwrap_or_else(|| panic!("{case}: accepted, expected '{needle}'"));
    assert!(
        whole.contains(needle),
        "{case}: error '{whole}' does not contain '{needle}'"
    );
    let small = read_error(bytes, 1)
        .unwrap_or_else(|| panic!("{case}: accepted when fed 1 byte at a time"));
    assert_eq!(
        small, whole,
        "{case}: error differs when fed 1 byte at a time"
    );
    let odd = read_error(bytes, 509)
        .unwrap_or_else(|| panic!("{case}: accepted when fed 509 bytes at a time"));
    assert_eq!(
        odd, whole,
        "{case}: error differs when fed 509 bytes at a time"
    );
}

struct Bases {
    _dir: TempDir,
    rootfs: Vec<u8>,
    module: Vec<u8>,
    rootfs_gz: Vec<u8>,
    many_files: Vec<u8>,
}

fn write_file(p: &Path, data: &[u8]) {
    std::fs::write(p, data).expect("write input");
}

fn bases() -> Bases {
    let dir = TempDir::new("malformed");
    let img: Vec<u8> = (0..20_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    write_file(&dir.join("rootfs.img"), &img);
    write_file(&dir.join("a.bin"), b"first file\n");
    write_file(&dir.join("b.bin"), &img[..3000]);
    let mk = |args: &[&str], out: &str| mender_artifact(dir.path(), args, out);
    let rootfs = mk(
        &[
            "write",
            "rootfs-image",
            "-f",
            "rootfs.img",
            "-t",
            "dev",
            "-n",
            "base",
            "--compression",
            "none",
        ],
        "rootfs.mender",
    );
    let module = mk(
        &[
            "write",
            "module-image",
            "-T",
            "single-file",
            "-t",
            "dev",
            "-n",
            "mod",
            "-f",
            "a.bin",
            "-f",
            "b.bin",
            "--compression",
            "none",
        ],
        "module.mender",
    );
    let rootfs_gz = mk(
        &[
            "write",
            "rootfs-image",
            "-f",
            "rootfs.img",
            "-t",
            "dev",
            "-n",
            "gz",
        ],
        "gz.mender",
    );
    let mut args: Vec<String> = [
        "write",
        "module-image",
        "-T",
        "single-file",
        "-t",
        "dev",
        "-n",
        "many",
        "--compression",
        "none",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for i in 0..17 {
        let name = format!("f{i}.txt");
        write_file(&dir.join(&name), format!("file {i}\n").as_bytes());
        args.push("-f".into());
        args.push(name);
    }
    let args: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    let many_files = mk(&args, "many.mender");
    Bases {
        _dir: dir,
        rootfs,
        module,
        rootfs_gz,
        many_files,
    }
}

#[test]
fn the_bases_are_valid() {
    let b = bases();
    for (n, a) in [
        ("rootfs", &b.rootfs),
        ("module", &b.module),
        ("gz", &b.rootfs_gz),
    ] {
        assert_eq!(read_error(a, 4096), None, "{n}");
        // Rebuilding without changes must give an Artifact that is still accepted.
        if n != "gz" {
            assert_eq!(
                read_error(&Parts::from(a).build(), 4096),
                None,
                "{n} rebuilt"
            );
        }
    }
}

#[test]
fn outer_structure_errors() {
    let b = bases();
    let p = Parts::from(&b.rootfs);
    let all = untar(&b.rootfs);
    let pick = |names: &[&str]| -> Vec<u8> {
        tar(&names
            .iter()
            .map(|n| all.iter().find(|m| m.name == *n).cloned().unwrap())
            .collect::<Vec<_>>())
    };
    rejects(
        "manifest first",
        &pick(&["manifest", "version", "header.tar", "data/0000.tar"]),
        "can not read version file",
    );
    rejects(
        "no manifest",
        &pick(&["version", "header.tar", "data/0000.tar"]),
        "Invalid structure: [header.tar], wrong element: header.tar",
    );
    rejects(
        "data before header",
        &pick(&["version", "manifest", "data/0000.tar", "header.tar"]),
        "Invalid structure: [manifest data/0000.tar], wrong element: data/0000.tar",
    );
    rejects(
        "no data",
        &pick(&["version", "manifest", "header.tar"]),
        "Files found in manifest(s), that were not part of artifact: data/0000/rootfs.img",
    );
    rejects(
        "only version",
        &pick(&["version"]),
        "The artifact does not contain all required fields",
    );
    rejects(
        "empty input",
        b"",
        "The artifact does not contain all required fields",
    );
    let mut q = p.clone();
    q.extra_before_header.push(Member {
        name: "junk".into(),
        data: b"x".to_vec(),
        typeflag: b'0',
    });
    rejects("junk before header", &q.build(), "wrong element: junk");
    let mut q = p.clone();
    q.extra_after_data.push(Member {
        name: "junk".into(),
        data: b"x".to_vec(),
        typeflag: b'0',
    });
    rejects(
        "junk after data",
        &q.build(),
        "reader: invalid data file name: junk",
    );
    let mut q = p.clone();
    q.extra_after_data.push(Member {
        name: "data/0001.tar".into(),
        data: tar(&[]),
        typeflag: b'0',
    });
    rejects(
        "data without payload",
        &q.build(),
        "reader: data member data/0001.tar is out of order",
    );
    let mut q = p.clone();
    q.extra_after_data.push(Member {
        name: "data/0000.tar".into(),
        data: tar(&[]),
        typeflag: b'0',
    });
    rejects(
        "data twice",
        &q.build(),
        "reader: data member data/0000.tar is out of order",
    );
    let mut q = p.clone();
    q.extra_before_header.push(Member {
        name: "manifest-augment".into(),
        data: vec![],
        typeflag: b'0',
    });
    rejects(
        "augment without header-augment",
        &q.build(),
        "wrong element: data/0000.tar",
    );
    let mut q = p.clone();
    q.extra_after_data.push(Member {
        name: "data/0001.tar".into(),
        data: vec![],
        typeflag: b'2',
    });
    rejects("symlink member", &q.build(), "not a regular file");
    let mut bytes = b.rootfs.clone();
    bytes.extend_from_slice(b"trailing junk");
    rejects(
        "trailing junk",
        &bytes,
        "data after the end-of-archive marker",
    );
    let mut bytes = b.rootfs.clone();
    bytes[0] ^= 0x20; // first byte of the first header's name: breaks its checksum
    rejects("tar checksum", &bytes, "invalid header checksum");
}

#[test]
fn version_errors() {
    let b = bases();
    let p = Parts::from(&b.rootfs);
    for (doc, needle) in [
        (
            r#"{"format":"mender","version":1}"#,
            "reader: Mender-Artifact version 1 is no longer supported",
        ),
        (
            r#"{"format":"mender","version":4}"#,
            "reader: unsupported version: 4",
        ),
        (
            r#"{"format":"mender","version":3,"x":1}"#,
            "reader: can not read version file: json: unknown field \"x\"",
        ),
        (
            r#"{"format":"mender","version":3"#,
            "reader: can not read version file",
        ),
        (r#"{"format":"other","version":3}"#, "Got format: other"),
    ] {
        let mut q = p.clone();
        q.version = doc.as_bytes().to_vec();
        rejects(doc, &q.build(), needle);
    }
    let mut q = p.clone();
    q.version = vec![b' '; 300];
    rejects("oversized version", &q.build(), "MAX_VERSION_SIZE");
}

#[test]
fn manifest_and_checksum_errors() {
    let b = bases();
    let p = Parts::from(&b.module);
    let m = String::from_utf8(p.fresh_manifest()).unwrap();
    let edit = |f: &dyn Fn(&str) -> String| {
        let mut q = p.clone();
        q.manifest = Some(f(&m).into_bytes());
        q.build()
    };
    let zero = "0".repeat(64);
    rejects(
        "version sum",
        &edit(&|m| {
            let l = m
                .lines()
                .find(|l| l.ends_with("  version"))
                .unwrap()
                .to_string();
            m.replace(&l, &format!("{zero}  version"))
        }),
        "version: invalid checksum; expected: [0000",
    );
    rejects(
        "version missing",
        &edit(&|m| {
            m.lines()
                .filter(|l| !l.ends_with("version"))
                .map(|l| format!("{l}\n"))
                .collect()
        }),
        "checksum: checksum missing for file: 'version'",
    );
    rejects(
        "header missing",
        &edit(&|m| {
            m.lines()
                .filter(|l| !l.ends_with("header.tar"))
                .map(|l| format!("{l}\n"))
                .collect()
        }),
        "checksum: checksum missing for file: 'header.tar'",
    );
    rejects(
        "header sum",
        &edit(&|m| {
            let l = m
                .lines()
                .find(|l| l.ends_with("header.tar"))
                .unwrap()
                .to_string();
            m.replace(&l, &format!("{zero}  header.tar"))
        }),
        "header.tar: invalid checksum; expected: [0000",
    );
    rejects(
        "one space",
        &edit(&|m| m.replacen("  ", " ", 1)),
        "malformed checksum line",
    );
    rejects(
        "uppercase hex",
        &edit(&|m| {
            m.to_uppercase()
                .replace("DATA/0000", "data/0000")
                .replace("HEADER.TAR", "header.tar")
                .replace("VERSION", "version")
        }),
        "malformed checksum line",
    );
    rejects(
        "no final newline",
        &edit(&|m| m.trim_end().to_string()),
        "malformed checksum line",
    );
    rejects(
        "crlf",
        &edit(&|m| m.replace('\n', "\r\n")),
        "malformed checksum line",
    );
    rejects(
        "ghost file",
        &edit(&|m| format!("{zero}  data/0000/ghost.bin\n{m}")),
        "Files found in manifest(s), that were not part of artifact: data/0000/ghost.bin",
    );
    rejects(
        "sub dir",
        &edit(&|m| format!("{zero}  data/0000/sub/a.bin\n{m}")),
        "Malformed manifest entry: 'data/0000/sub/a.bin'",
    );
    rejects(
        "duplicate",
        &edit(&|m| format!("{m}{}\n", m.lines().next().unwrap())),
        "duplicate manifest entry",
    );
    rejects(
        "oversized manifest",
        &edit(&|m| format!("{m}{}", format!("{zero}  padding\n").repeat(60))),
        "MAX_MANIFEST",
    );
    rejects(
        "too many entries",
        &edit(&|m| {
            let mut s = m.to_string();
            for i in 0..20 {
                s += &format!("{zero}  x{i}\n");
            }
            s
        }),
        "MAX_MANIFEST_ENTRIES",
    );
    // A file whose content does not match its manifest line.
    let mut q = p.clone();
    q.manifest = Some(p.fresh_manifest());
    q.data[0].1[1].data[0] ^= 1;
    rejects(
        "payload corrupted",
        &q.build(),
        "Payload: can not install Payload: b.bin: invalid checksum; expected: [",
    );
    let mut q = p.clone();
    q.manifest = Some(p.fresh_manifest());
    q.data[0].1[1].name = "c.bin".into();
    rejects(
        "file not in manifest",
        &q.build(),
        "Payload: can not find data file: c.bin",
    );
    for bad in ["../a.bin", "sub/a.bin", "my file.bin", "..", "a\u{e9}.bin"] {
        let mut q = p.clone();
        q.manifest = Some(p.fresh_manifest());
        q.data[0].1[0].name = bad.into();
        rejects(bad, &q.build(), "contains forbidden characters");
    }
    rejects("too many files", &b.many_files, "MAX_MANIFEST_ENTRIES");
}

#[test]
fn header_errors() {
    let b = bases();
    let p = Parts::from(&b.rootfs);
    let hi = String::from_utf8(p.header[0].data.clone()).unwrap();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "unknown key",
            hi.replacen('{', r#"{"extra":1,"#, 1),
            "Could not parse header element header-info: json: unknown field \"extra\"",
        ),
        (
            "bad json",
            hi.replacen('}', "", 1),
            "Could not parse header element header-info: invalid JSON",
        ),
        (
            "bad escape",
            hi.replace("\"base\"", r#""ba\qse""#),
            "invalid JSON",
        ),
        (
            "no device type",
            hi.replace(r#""device_type":["dev"]"#, r#""device_type":[]"#),
            "Invalid Artifact. No 'device-type' found.",
        ),
        (
            "empty type",
            hi.replace(r#""type":"rootfs-image""#, r#""type":"""#),
            "Unexpected empty Payload type",
        ),
        (
            "two payloads",
            hi.replace(
                r#"[{"type":"rootfs-image"}]"#,
                r#"[{"type":"rootfs-image"},{"type":"x"}]"#,
            ),
            "more than one payload",
        ),
        (
            "long name",
            hi.replace("\"base\"", &format!("\"{}\"", "n".repeat(300))),
            "MAX_ARTIFACT_NAME_LEN",
        ),
        (
            "many devices",
            hi.replace(r#"["dev"]"#, &format!("[{}]", vec!["\"d\""; 17].join(","))),
            "MAX_DEVICE_TYPES",
        ),
        (
            "oversized",
            format!("{}{}", hi, " ".repeat(3000)),
            "MAX_HEADER_INFO_SIZE",
        ),
    ];
    for (case, doc, needle) in cases {
        let mut q = p.clone();
        q.set_header_doc("header-info", &doc);
        rejects(case, &q.build(), needle);
    }
    let ti = String::from_utf8(p.header_doc_clone("headers/0000/type-info")).unwrap();
    for (case, doc, needle) in [
        (
            "provides list",
            ti.replacen(
                r#""artifact_provides":{"#,
                r#""artifact_provides":{"k":["a"],"#,
                1,
            ),
            "Invalid TypeInfo provides type",
        ),
        (
            "type mismatch",
            ti.replacen(r#""type":"""#, r#""type":"docker""#, 1),
            "does not match header-info",
        ),
        (
            "deep",
            format!(r#"{{"type":"","x":{}1{}}}"#, "[".repeat(40), "]".repeat(40)),
            "MAX_JSON_DEPTH",
        ),
        (
            "many clears",
            ti.replacen(
                r#""clears_artifact_provides":["#,
                &format!(r#""clears_artifact_provides":[{}"#, "\"x\",".repeat(40)),
                1,
            ),
            "MAX_CLEARS",
        ),
    ] {
        let mut q = p.clone();
        q.set_header_doc("headers/0000/type-info", &doc);
        rejects(case, &q.build(), needle);
    }
    let mut q = p.clone();
    q.set_header_doc("headers/0000/meta-data", "[1,2]");
    rejects(
        "meta-data array",
        &q.build(),
        "Top level object in meta-data must be a JSON object",
    );
    let mut q = p.clone();
    q.header.swap(0, 1);
    rejects(
        "header-info not first",
        &q.build(),
        "header-info must be the first header entry",
    );
    let mut q = p.clone();
    q.header.push(Member {
        name: "headers/0000/bogus".into(),
        data: vec![],
        typeflag: b'0',
    });
    rejects(
        "bogus header file",
        &q.build(),
        "update: unsupported file: headers/0000/bogus",
    );
    let mut q = p.clone();
    q.header.retain(|m| m.name != "headers/0000/type-info");
    rejects("no type-info", &q.build(), "type-info is missing");
}

impl Parts {
    fn header_doc_clone(&self, name: &str) -> Vec<u8> {
        self.header
            .iter()
            .find(|m| m.name == name)
            .map(|m| m.data.clone())
            .unwrap_or_default()
    }
}

#[test]
fn truncation_and_huge_sizes() {
    let b = bases();
    for (label, a) in [("none", &b.rootfs), ("gzip", &b.rootfs_gz)] {
        // Cut at many offsets, including inside headers, members, padding and the end marker.
        let mut cut = 0;
        while cut < a.len() {
            let err = read_error(&a[..cut], 997);
            assert!(
                err.is_some(),
                "{label}: truncation at {cut} of {} accepted",
                a.len()
            );
            cut += if cut < 4096 { 61 } else { 1531 };
        }
        assert!(
            read_error(&a[..a.len() - 1], 4096).is_some(),
            "{label}: last byte cut accepted"
        );
    }
    // A data member that declares far more bytes than the stream has.
    let mut bytes = b.rootfs.clone();
    let data_hdr = untar_offsets(&bytes)
        .into_iter()
        .find(|(n, _)| n == "data/0000.tar")
        .unwrap()
        .1;
    bytes[data_hdr + 124..data_hdr + 136].copy_from_slice(b"77777777777\0");
    fix_checksum(&mut bytes[data_hdr..data_hdr + 512]);
    assert!(read_error(&bytes, 4096).is_some());
    // A gzip data member whose compressed bytes are damaged (not covered by the manifest).
    let mut bytes = b.rootfs_gz.clone();
    let off = untar_offsets(&bytes)
        .into_iter()
        .find(|(n, _)| n == "data/0000.tar.gz")
        .unwrap()
        .1;
    bytes[off + 512 + 2000] ^= 0xff;
    let err = read_error(&bytes, 4096).expect("corrupt gzip accepted");
    assert!(
        err.contains("data/0000.tar.gz") || err.contains("invalid checksum"),
        "{err}"
    );
}

fn untar_offsets(b: &[u8]) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let mut off = 0;
    while off + 512 <= b.len() && b[off..off + 512].iter().any(|&c| c != 0) {
        let h = &b[off..off + 512];
        let name =
            String::from_utf8_lossy(&h[..h.iter().position(|&c| c == 0).unwrap()]).into_owned();
        let size = usize::from_str_radix(String::from_utf8_lossy(&h[124..135]).trim(), 8).unwrap();
        out.push((name, off));
        off += 512 + size.div_ceil(512) * 512;
    }
    out
}

fn fix_checksum(h: &mut [u8]) {
    h[148..156].copy_from_slice(b"        ");
    let sum: u64 = h.iter().map(|&b| u64::from(b)).sum();
    h[148..156].copy_from_slice(format!("{:06o}\0 ", sum).as_bytes());
}

/// Signature failures go through the binary, which owns the key handling.
#[test]
fn signature_errors() {
    let tool = require_tool("mender-artifact");
    let openssl = require_tool("openssl");
    let dir = TempDir::new("malformed-sig");
    std::fs::write(dir.join("r.img"), vec![7u8; 5000]).unwrap();
    for (key, args) in [
        (
            "ec.pem",
            vec![
                "ecparam",
                "-genkey",
                "-name",
                "prime256v1",
                "-noout",
                "-out",
            ],
        ),
        (
            "other.pem",
            vec![
                "ecparam",
                "-genkey",
                "-name",
                "prime256v1",
                "-noout",
                "-out",
            ],
        ),
    ] {
        run_ok(Command::new(&openssl).args(&args).arg(dir.join(key)));
        run_ok(
            Command::new(&openssl)
                .args(["ec", "-in"])
                .arg(dir.join(key))
                .arg("-pubout")
                .arg("-out")
                .arg(dir.join(format!("{key}.pub"))),
        );
    }
    let mk = |extra: &[&str], out: &str| {
        run_ok(
            Command::new(&tool)
                .args([
                    "write",
                    "rootfs-image",
                    "-f",
                    "r.img",
                    "-t",
                    "dev",
                    "-n",
                    "s",
                    "--compression",
                    "none",
                ])
                .args(extra)
                .arg("-o")
                .arg(out)
                .current_dir(dir.path()),
        );
        dir.join(out)
    };
    let signed = mk(&["-k", "ec.pem"], "signed.mender");
    let unsigned = mk(&[], "unsigned.mender");
    let inspect = |artifact: &Path, key: &str| {
        let out = Command::new(mender_bin())
            .args(["inspect", "--json", "--verify-key"])
            .arg(dir.join(key))
            .arg(artifact)
            .output()
            .expect("run mender");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, _) = inspect(&signed, "ec.pem.pub");
    assert_eq!(code, Some(0));
    let (code, err) = inspect(&signed, "other.pem.pub");
    assert_eq!(code, Some(1));
    assert!(err.contains("reader: invalid signature"), "{err}");
    let (code, err) = inspect(&unsigned, "ec.pem.pub");
    assert_eq!(code, Some(1));
    assert!(
        err.contains("reader: expecting signed artifact, but no signature file found"),
        "{err}"
    );
    // Damage the signature: invalid base64, then valid base64 of the wrong bytes.
    let bytes = std::fs::read(&signed).unwrap();
    let mut p = Parts::from(&bytes);
    p.manifest = None;
    let good_sig = p.sig.clone().unwrap();
    for (case, sig, needle) in [
        ("not base64", b"!!!!".to_vec(), "base64"),
        (
            "flipped",
            {
                let mut s = good_sig.clone();
                s[10] = if s[10] == b'A' { b'B' } else { b'A' };
                s
            },
            "reader: invalid signature",
        ),
        ("empty", vec![], "reader: invalid signature"),
    ] {
        let mut q = p.clone();
        q.sig = Some(sig);
        let f = dir.join(format!("{case}.mender"));
        std::fs::write(&f, q.build()).unwrap();
        let (code, err) = inspect(&f, "ec.pem.pub");
        assert_eq!(code, Some(1), "{case}");
        assert!(err.contains(needle), "{case}: {err}");
        // Without a key the signature is not decoded, as with the official reader
        // (`mender-artifact read` reads a non-base64 manifest.sig without complaint).
        let out = Command::new(mender_bin())
            .args(["inspect", "--json"])
            .arg(&f)
            .output()
            .expect("run mender");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{case} without a key: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // A manifest changed after signing.
    let mut q = p.clone();
    q.sig = Some(good_sig);
    q.version = br#"{"format":"mender", "version":3}"#.to_vec();
    let f = dir.join("resigned.mender");
    std::fs::write(&f, q.build()).unwrap();
    let (code, err) = inspect(&f, "ec.pem.pub");
    assert_eq!(code, Some(1));
    assert!(err.contains("reader: invalid signature"), "{err}");
}

/// Augmented Artifacts: the unsigned augment may add, never redefine, and must be complete.
#[test]
fn augment_errors() {
    let tool = require_tool("mender-artifact");
    let dir = TempDir::new("malformed-augment");
    std::fs::write(dir.join("app.bin"), vec![1u8; 3000]).unwrap();
    std::fs::write(dir.join("delta.bin"), b"delta").unwrap();
    let mk = |extra: &[&str], out: &str| -> Vec<u8> {
        run_ok(
            Command::new(&tool)
                .args([
                    "write",
                    "module-image",
                    "-T",
                    "mender-binary-delta",
                    "-t",
                    "dev",
                    "-n",
                    "a1",
                ])
                .args([
                    "-f",
                    "app.bin",
                    "--augment-type",
                    "mender-binary-delta",
                    "--augment-file",
                    "delta.bin",
                ])
                .args(["--compression", "none"])
                .args(extra)
                .arg("-o")
                .arg(out)
                .current_dir(dir.path()),
        );
        std::fs::read(dir.join(out)).unwrap()
    };
    let good = mk(&["--augment-provides", "aug.key:v"], "good.mender");
    assert_eq!(read_error(&good, 4096), None);
    let conflict = mk(
        &[
            "--augment-provides",
            "rootfs-image.mender-binary-delta.version:x",
        ],
        "conflict.mender",
    );
    rejects(
        "augment redefines a signed provide",
        &conflict,
        "Conflicting keys not allowed in the provides parameters. key: rootfs-image.mender-binary-delta.version",
    );
    let members = untar(&good);
    let without = |name: &str| {
        tar(&members
            .iter()
            .filter(|m| m.name != name)
            .cloned()
            .collect::<Vec<_>>())
    };
    rejects(
        "no header-augment",
        &without("header-augment.tar"),
        "wrong element: data/0000.tar",
    );
    rejects(
        "no manifest-augment",
        &without("manifest-augment"),
        "reader: invalid data file name: header-augment.tar",
    );
    let renamed: Vec<Member> = members
        .iter()
        .cloned()
        .map(|mut m| {
            if m.name == "header-augment.tar" {
                m.name = "header-augment.tar.gz".into();
            }
            m
        })
        .collect();
    rejects(
        "augment suffix differs",
        &tar(&renamed),
        "wrong element: header-augment.tar.gz",
    );
    // Augment data files are checked against manifest-augment like any other.
    let mut damaged = members.clone();
    let data = damaged
        .iter_mut()
        .find(|m| m.name == "data/0000.tar")
        .unwrap();
    let mut files = untar(&data.data);
    files.last_mut().unwrap().data[0] ^= 1;
    data.data = tar(&files);
    rejects(
        "augment file corrupted",
        &tar(&damaged),
        "Payload: can not install Payload: delta.bin: invalid checksum",
    );
}
