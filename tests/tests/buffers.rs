//! The reader works in memory the caller lends it (`reader::Buffers`): a document arena and an
//! optional decode workspace. A device that takes uncompressed Artifacts only gives no
//! workspace; a small device gives a small arena. Both limits must end in a clear error, never
//! a panic, and a big enough arena must read exactly what the full one reads.
use mender_core::codec::{SmallWorkspace, Workspace, WorkspaceMut};
use mender_core::reader::{Buffers, Config, Event, Reader, ARENA_SIZE_FULL};
use mender_tests::{mender_artifact, TempDir};

/// Reads `artifact` 509 bytes at a time; returns the payload bytes or the error text.
fn read(
    artifact: &[u8],
    arena: &mut [u8],
    ws: Option<WorkspaceMut<'_>>,
) -> Result<Vec<u8>, String> {
    let buffers = Buffers {
        arena,
        workspace: ws,
    };
    let mut r = Reader::new(buffers, Config::default());
    let mut payload = Vec::new();
    for mut c in artifact.chunks(509) {
        loop {
            let (n, ev) = r.feed(c).map_err(|e| e.to_string())?;
            c = &c[n..];
            match ev {
                Event::NeedMore => break,
                Event::PayloadData(d) => payload.extend_from_slice(d),
                _ => {}
            }
        }
    }
    r.finish().map_err(|e| e.to_string())?;
    Ok(payload)
}

struct Artifacts {
    image: Vec<u8>,
    plain: Vec<u8>,
    gzip: Vec<u8>,
    scripts: Vec<u8>,
}

fn artifacts() -> Artifacts {
    let dir = TempDir::new("buffers");
    let image: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(dir.join("rootfs.img"), &image).unwrap();
    for s in ["ArtifactInstall_Enter_00_a", "ArtifactCommit_Leave_10_b"] {
        std::fs::write(dir.join(s), "#!/bin/sh\nexit 0\n").unwrap();
    }
    let mk = |extra: &[&str], out: &str| {
        let base = [
            "write",
            "rootfs-image",
            "-f",
            "rootfs.img",
            "-t",
            "sim",
            "-n",
            "v1",
        ];
        let args: Vec<&str> = base.iter().chain(extra).copied().collect();
        mender_artifact(dir.path(), &args, out)
    };
    Artifacts {
        plain: mk(&["--compression", "none"], "plain.mender"),
        gzip: mk(&[], "gzip.mender"),
        scripts: mk(
            &[
                "--compression",
                "none",
                "-s",
                "ArtifactInstall_Enter_00_a",
                "-s",
                "ArtifactCommit_Leave_10_b",
            ],
            "scripts.mender",
        ),
        image,
    }
}

#[test]
fn uncompressed_artifacts_need_no_workspace() {
    let a = artifacts();
    let mut arena = vec![0u8; 2048];
    assert_eq!(read(&a.plain, &mut arena, None).unwrap(), a.image);

    let err = read(&a.gzip, &mut arena, None).unwrap_err();
    assert_eq!(
        err,
        "header.tar.gz: compression Gzip needs a decode workspace, and this reader has none (uncompressed Artifacts only)"
    );

    // Either inflate engine reads it: the fast one (hosted) and the small one (firmware).
    let mut ws = Box::new(Workspace::new());
    assert_eq!(
        read(&a.gzip, &mut arena, Some((&mut *ws).into())).unwrap(),
        a.image
    );
    let mut small = Box::new(SmallWorkspace::new());
    assert_eq!(
        read(&a.gzip, &mut arena, Some((&mut *small).into())).unwrap(),
        a.image
    );
}

#[test]
fn a_small_arena_is_a_clear_limit_and_enough_is_enough() {
    let a = artifacts();
    let mut full = vec![0u8; ARENA_SIZE_FULL];
    assert_eq!(read(&a.scripts, &mut full, None).unwrap(), a.image);

    // Find the smallest arena that reads the Artifact; every smaller one must fail with the
    // arena named, whichever document it ran out in.
    let mut smallest = None;
    for size in 0..2048 {
        let mut arena = vec![0u8; size];
        match read(&a.scripts, &mut arena, None) {
            Ok(payload) => {
                assert_eq!(payload, a.image);
                smallest = Some(size);
                break;
            }
            Err(e) => assert!(
                e.contains("exceeds the limit Buffers::arena"),
                "arena of {size} bytes: {e}"
            ),
        }
    }
    let smallest = smallest.expect("a 2 KiB arena reads a rootfs Artifact with two scripts");
    // The documents that must be kept: manifest, header-info, type-info, script names.
    assert!(
        (300..1500).contains(&smallest),
        "smallest arena {smallest} bytes"
    );
}
