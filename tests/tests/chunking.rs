//! The reader's results do not depend on how the input is cut: every split point of small
//! Artifacts (gzip, none, xz, zstd) yields the same events as feeding the whole file.
use mender_core::reader::{Config, Event, HeapBuffers, Reader};
use mender_tests::{fixtures_dir, require_tool, run_ok, TempDir};
use std::process::Command;

/// An event with payload bytes owned, consecutive data merged.
#[derive(Debug, PartialEq, Eq)]
enum Ev {
    Header(String),
    Start(u16, String, u64),
    Data(Vec<u8>),
    Verified(u16, String),
    Complete,
}

fn events(parts: &[&[u8]]) -> Result<Vec<Ev>, String> {
    let mut buffers = HeapBuffers::new();
    let mut r = Reader::new(buffers.buffers(), Config::default());
    let mut out: Vec<Ev> = Vec::new();
    for part in parts {
        let mut c = *part;
        loop {
            let (n, ev) = r.feed(c).map_err(|e| e.to_string())?;
            c = &c[n..];
            match ev {
                Event::NeedMore => break,
                Event::HeaderParsed => out.push(Ev::Header(String::new())),
                Event::PayloadFileStart {
                    payload,
                    name,
                    size,
                } => out.push(Ev::Start(payload, name.into(), size)),
                Event::PayloadData(d) => match out.last_mut() {
                    Some(Ev::Data(v)) => v.extend_from_slice(d),
                    _ => out.push(Ev::Data(d.to_vec())),
                },
                Event::PayloadFileVerified { payload, name } => {
                    out.push(Ev::Verified(payload, name.into()))
                }
                Event::ArtifactComplete => out.push(Ev::Complete),
            }
        }
    }
    r.finish().map_err(|e| e.to_string())?;
    // The header's name is part of what must not change.
    if let (Some(Ev::Header(h)), Some(hdr)) = (
        out.iter_mut().find(|e| matches!(e, Ev::Header(_))),
        r.header(),
    ) {
        *h = hdr.info.name().to_string();
    }
    Ok(out)
}

fn check_all_splits(label: &str, bytes: &[u8], step: usize) {
    let whole = events(&[bytes]).unwrap_or_else(|e| panic!("{label}: {e}"));
    assert!(whole.contains(&Ev::Complete), "{label}");
    let mut k = 0;
    while k <= bytes.len() {
        let split = events(&[&bytes[..k], &bytes[k..]])
            .unwrap_or_else(|e| panic!("{label} split at {k}: {e}"));
        assert_eq!(split, whole, "{label}: events differ when split at {k}");
        k += step;
    }
    let bytewise: Vec<&[u8]> = bytes.chunks(1).collect();
    assert_eq!(events(&bytewise).unwrap(), whole, "{label}: 1-byte chunks");
    let odd: Vec<&[u8]> = bytes.chunks(333).collect();
    assert_eq!(events(&odd).unwrap(), whole, "{label}: 333-byte chunks");
}

#[test]
fn every_split_point_gives_the_same_events() {
    let tool = require_tool("mender-artifact");
    let dir = TempDir::new("chunking");
    std::fs::write(dir.join("a.txt"), b"hello artifact\n".repeat(40)).unwrap();
    std::fs::write(
        dir.join("b.bin"),
        (0..3000u32)
            .map(|i| (i * 7 % 251) as u8)
            .collect::<Vec<u8>>(),
    )
    .unwrap();
    for compression in ["gzip", "none", "lzma"] {
        let out = dir.join(format!("{compression}.mender"));
        run_ok(
            Command::new(&tool)
                .args([
                    "write",
                    "module-image",
                    "-T",
                    "single-file",
                    "-t",
                    "dev",
                    "-n",
                    "split-me",
                ])
                .args([
                    "-f",
                    "a.txt",
                    "-f",
                    "b.bin",
                    "--compression",
                    compression,
                    "-o",
                ])
                .arg(&out)
                .current_dir(dir.path()),
        );
        let bytes = std::fs::read(&out).unwrap();
        check_all_splits(compression, &bytes, 1);
    }
}

#[test]
fn zstd_fixture_splits() {
    let path = fixtures_dir().join("zstd/module-2files-zstd-better.mender");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    check_all_splits("zstd", &bytes, 3);
}
