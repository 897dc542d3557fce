//! Interoperability with the real `grub-editenv` (Debian grub-common), in both directions.

mod common;

use common::{editenv, editenv_ok, our_list, TempDir};
use mender_hal_grub::block::{self, EnvBlock, Error, DEFAULT_SIZE};

fn get(buf: &[u8], name: &str) -> Option<Vec<u8>> {
    let mut out = vec![0; DEFAULT_SIZE];
    let len = EnvBlock::new(buf).unwrap().get(name, &mut out).unwrap()?;
    out.truncate(len);
    Some(out)
}

#[test]
fn blocks_written_by_grub_editenv_read_back() {
    let dir = TempDir::new("read");
    let file = dir.path().join("grubenv");
    editenv_ok(&file, &["create"]);
    editenv_ok(
        &file,
        &[
            "set",
            "bs=a\\b\\",
            "nl=x\ny\n",
            "eq=p=q",
            "sp=a b",
            "utf=h\u{e9}llo",
            "gone=1",
            "empty=",
        ],
    );
    editenv_ok(&file, &["set", "eq=p=q=r"]);
    editenv_ok(&file, &["unset", "gone"]);
    let buf = std::fs::read(&file).unwrap();
    assert_eq!(buf.len(), DEFAULT_SIZE);
    let expected: [(&str, &str); 6] = [
        ("bs", "a\\b\\"),
        ("nl", "x\ny\n"),
        ("eq", "p=q=r"),
        ("sp", "a b"),
        ("utf", "h\u{e9}llo"),
        ("empty", ""),
    ];
    let block = EnvBlock::new(&buf).unwrap();
    let vars: Vec<_> = block
        .vars()
        .map(|v| {
            let v = v.unwrap();
            (v.name().to_vec(), v.value().collect::<Vec<u8>>())
        })
        .collect();
    let want: Vec<_> = expected
        .iter()
        .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect();
    assert_eq!(vars, want);
    for (name, value) in expected {
        assert_eq!(get(&buf, name).as_deref(), Some(value.as_bytes()), "{name}");
    }
    assert_eq!(get(&buf, "gone"), None);
    assert_eq!(our_list(&buf), editenv_ok(&file, &["list"]));
}

#[test]
fn full_block_from_grub_editenv() {
    let dir = TempDir::new("full");
    let file = dir.path().join("grubenv");
    editenv_ok(&file, &["create"]);
    let value = "v".repeat(926);
    editenv_ok(&file, &["set", &format!("ab={}", &value[..925])]);
    assert_eq!(
        EnvBlock::new(&std::fs::read(&file).unwrap())
            .unwrap()
            .free(),
        Ok(1)
    );
    editenv_ok(&file, &["set", &format!("ab={value}")]);
    let mut buf = std::fs::read(&file).unwrap();
    assert_eq!(EnvBlock::new(&buf).unwrap().free(), Ok(0));
    assert_eq!(get(&buf, "ab").as_deref(), Some(value.as_bytes()));

    // Both refuse one more byte and leave the block as it was.
    let before = buf.clone();
    assert!(matches!(
        block::set(&mut buf, &[("x", "1")]),
        Err(Error::NoSpace { .. })
    ));
    assert_eq!(buf, before);
    let out = editenv(&file, &["set", "x=1"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("environment block too small"));
    assert_eq!(std::fs::read(&file).unwrap(), before);
}

#[test]
fn grub_editenv_lists_exactly_our_variables() {
    let dir = TempDir::new("list");
    let file = dir.path().join("grubenv");
    let mut buf = vec![0; DEFAULT_SIZE];
    block::create(&mut buf).unwrap();
    let vars = [
        ("mender_boot_part", "3"),
        ("bs", "c:\\dir\\"),
        ("nl", "one\ntwo"),
        ("eq", "k=v"),
        ("utf", "\u{e9}t\u{e9}"),
    ];
    block::set(&mut buf, &vars).unwrap();
    block::set(&mut buf, &[("mender_boot_part", "2"), ("extra", "x")]).unwrap();
    std::fs::write(&file, &buf).unwrap();
    let expected =
        "mender_boot_part=2\nbs=c:\\dir\\\nnl=one\ntwo\neq=k=v\nutf=\u{e9}t\u{e9}\nextra=x\n";
    assert_eq!(
        String::from_utf8(editenv_ok(&file, &["list"])).unwrap(),
        expected
    );

    // grub-editenv keeps editing our block in place at the same size.
    editenv_ok(&file, &["set", "nl=short"]);
    editenv_ok(&file, &["unset", "bs"]);
    let after = std::fs::read(&file).unwrap();
    assert_eq!(after.len(), DEFAULT_SIZE);
    block::set(&mut buf, &[("nl", "short"), ("bs", "")]).unwrap();
    assert_eq!(after, buf);
}

/// xorshift64: a fixed pseudo-random sequence, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

#[test]
fn edits_are_byte_identical_to_grub_editenv() {
    let dir = TempDir::new("same");
    let file = dir.path().join("grubenv");
    editenv_ok(&file, &["create"]);
    let mut ours = vec![0; DEFAULT_SIZE];
    block::create(&mut ours).unwrap();
    assert_eq!(std::fs::read(&file).unwrap(), ours);

    let names = [
        "a",
        "bootcount",
        "mender_boot_part",
        "x_y",
        "upgrade_available",
    ];
    let values = [
        "0",
        "1",
        "",
        "a\\b",
        "l1\nl2",
        "=",
        "\\\n\\",
        "long value with spaces",
        "\u{e9}",
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for step in 0..150 {
        let count = 1 + rng.below(3);
        let vars: Vec<(&str, &str)> = (0..count)
            .map(|_| {
                (
                    names[rng.below(names.len())],
                    values[rng.below(values.len())],
                )
            })
            .collect();
        // grub-editenv sets empty values; removal is `unset`, one command per kind.
        let (unset, set): (Vec<_>, Vec<_>) = vars.iter().partition(|(_, v)| v.is_empty());
        let ops: Vec<Vec<(&str, &str)>> = if rng.below(2) == 0 {
            vec![set.clone(), unset.clone()]
        } else {
            vec![unset.clone(), set.clone()]
        };
        for op in ops.into_iter().filter(|op| !op.is_empty()) {
            if op[0].1.is_empty() {
                let mut args = vec!["unset"];
                args.extend(op.iter().map(|(n, _)| *n));
                editenv_ok(&file, &args);
            } else {
                let args: Vec<String> = op.iter().map(|(n, v)| format!("{n}={v}")).collect();
                let mut argv = vec!["set"];
                argv.extend(args.iter().map(String::as_str));
                editenv_ok(&file, &argv);
            }
            block::set(&mut ours, &op).unwrap();
            assert_eq!(std::fs::read(&file).unwrap(), ours, "step {step}: {op:?}");
        }
    }
    assert_eq!(our_list(&ours), editenv_ok(&file, &["list"]));
}

#[test]
fn broken_blocks_agree_with_grub_editenv() {
    let dir = TempDir::new("broken");
    // (block, variables GRUB reads, whether grub-editenv still writes to it)
    let cases: [(&[u8], usize, bool); 5] = [
        // A comment with an escaped newline: grub-editenv appends inside it, so GRUB never sees
        // the new variable.
        (b"# GRUB Environment Block\na=1\n#c\\\n####", 1, true),
        // Value runs off the end.
        (b"# GRUB Environment Block\na=1\nb=2", 1, false),
        // A line without `=`: GRUB reads the name `b\nc`, but grub-editenv's line-based set
        // still edits the block. We refuse: the two GRUB code paths disagree on its lines.
        (b"# GRUB Environment Block\na=1\nb\nc=2\n####", 2, true),
        // Readable, but the tail is not `\n` + padding.
        (b"# GRUB Environment Block\na=1\n#x", 1, false),
        // An escaped last newline: grub-editenv appends after it, which GRUB then reads as
        // part of `a`'s value.
        (b"# GRUB Environment Block\na=1\\\n####", 0, true),
    ];
    for (i, (content, readable, grub_writes)) in cases.into_iter().enumerate() {
        let file = dir.path().join(format!("case{i}"));
        std::fs::write(&file, content).unwrap();
        // GRUB lists what it reads before the break; so do we.
        assert_eq!(editenv_ok(&file, &["list"]), our_list(content), "case {i}");
        let listed = EnvBlock::new(content)
            .unwrap()
            .vars()
            .filter(Result::is_ok)
            .count();
        assert_eq!(listed, readable, "case {i}");
        let out = editenv(&file, &["set", "z=1"]);
        assert_eq!(out.status.success(), grub_writes, "case {i}");
        let mut buf = content.to_vec();
        assert!(
            matches!(
                block::set(&mut buf, &[("z", "1")]),
                Err(Error::Malformed { .. })
            ),
            "case {i}"
        );
        assert_eq!(buf, content);
    }

    // No signature, or nothing but the signature: both reject the block.
    for (i, content) in [
        &b"# GRUB Environment Bloc\n"[..],
        b"# GRUB Environment Block\n",
    ]
    .iter()
    .enumerate()
    {
        let file = dir.path().join(format!("sig{i}"));
        std::fs::write(&file, content).unwrap();
        let out = editenv(&file, &["list"]);
        assert!(String::from_utf8_lossy(&out.stderr).contains("invalid environment block"));
        assert_eq!(EnvBlock::new(content).unwrap_err(), Error::BadSignature);
    }
}
