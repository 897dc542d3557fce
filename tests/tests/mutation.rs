//! A deterministic mutation smoke run (the CI-sized sibling of the cargo-fuzz target in
//! core/fuzz): damaged real Artifacts must be rejected or accepted without a panic, and the
//! verdict must not depend on how the input is chunked.
use mender_tests::{fixtures_dir, read_verdict, read_verdict_in, Rng};

#[test]
fn mutated_artifacts_never_panic_and_do_not_depend_on_chunking() {
    let bases = [
        "demo/demo.mender",
        "zstd/module-2files-zstd-better.mender",
        "zstd/rootfs-zstd-fastest.mender",
    ];
    let mut rng = Rng(0x6d65_6e64_6572_0001);
    let mut rejected = 0;
    let mut total = 0;
    for base in bases {
        let original = std::fs::read(fixtures_dir().join(base)).expect("fixture");
        assert_eq!(
            read_verdict(&original, &mut || 8192),
            Ok(()),
            "{base} must be valid"
        );
        for _ in 0..300 {
            let mut m = original.clone();
            match rng.below_usize(4) {
                0 => {
                    for _ in 0..=rng.below_usize(4) {
                        let i = rng.below_usize(m.len());
                        m[i] ^= 1 << rng.below_usize(8);
                    }
                }
                1 => m.truncate(rng.below_usize(m.len())),
                2 => {
                    let i = rng.below_usize(m.len());
                    let junk: Vec<u8> = (0..=rng.below_usize(64))
                        .map(|_| rng.next_u64() as u8)
                        .collect();
                    m.splice(i..i, junk);
                }
                _ => {
                    // Damage inside the first KiB, where the small members and headers are.
                    let i = rng.below_usize(1024.min(m.len()));
                    m[i] = rng.next_u64() as u8;
                }
            }
            let whole = read_verdict(&m, &mut || usize::MAX);
            let mut seed = rng.next_u64();
            let chunked = read_verdict(&m, &mut || {
                seed = seed.rotate_left(7) ^ 0x9e37_79b9;
                (seed % 700) as usize + 1
            });
            assert_eq!(whole, chunked, "{base}: verdict depends on chunking");
            total += 1;
            if whole.is_err() {
                rejected += 1;
            }
        }
    }
    // Most damage must be caught (a flipped bit in tar padding or a tar header's mtime is not).
    assert!(
        rejected * 10 >= total * 8,
        "only {rejected} of {total} mutations were rejected"
    );
}

/// Inputs the cargo-fuzz target (core/fuzz) once failed on. The first byte is the fuzzer's
/// chunk size, as in the fuzz target.
#[test]
fn fuzz_regressions() {
    let dir = fixtures_dir().join("fuzz-regressions");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("fuzz-regressions dir") {
        let path = entry.expect("dir entry").path();
        let data = std::fs::read(&path).expect("regression input");
        let Some((&k, rest)) = data.split_first() else {
            continue;
        };
        let whole = read_verdict(rest, &mut || usize::MAX);
        let chunked = read_verdict(rest, &mut || usize::from(k) + 1);
        assert_eq!(whole, chunked, "{}", path.display());
        // The microcontroller set-up of the fuzz target: a small arena, no workspace.
        let whole = read_verdict_in(rest, &mut || usize::MAX, 768, false);
        let chunked = read_verdict_in(rest, &mut || usize::from(k) + 1, 768, false);
        assert_eq!(whole, chunked, "{} (small arena)", path.display());
        n += 1;
    }
    assert!(n > 0, "no regression inputs in {}", dir.display());
}
