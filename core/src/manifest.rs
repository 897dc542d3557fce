//! The `manifest` member: one `<64 lowercase hex>  <path>\n` line per covered file
//! (../shared/spec/artifact-format.md §3.1). Only the canonical form is accepted, so the raw
//! bytes that are signed equal what the official writer produces.
use crate::limits::{MAX_FILE_NAME_LEN, MAX_MANIFEST_ENTRIES};
use crate::text::Brief;
use core::fmt;
use heapless::String;
use nom::bytes::complete::{tag, take_while1, take_while_m_n};
use nom::{IResult, Parser};

/// Longest manifest path: `data/NNNN/` plus a file name.
pub const MAX_MANIFEST_PATH_LEN: usize = MAX_FILE_NAME_LEN + 10;

/// One manifest line, borrowed from the raw manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ManifestEntry<'a> {
    pub sha256: [u8; 32],
    pub path: &'a str,
}

/// Why a manifest was refused. Texts follow the official reader where it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestError {
    /// A line that is not `<64 lowercase hex><two spaces><path>\n` (line number, 1-based).
    MalformedLine(usize),
    Duplicate(String<MAX_MANIFEST_PATH_LEN>),
    TooManyEntries,
    PathTooLong(usize),
    /// A `data/...` path that is not `data/NNNN/<name>`.
    MalformedDataPath(String<MAX_MANIFEST_PATH_LEN>),
}

impl ManifestError {
    /// The error in a few fixed words and the path it carries, without `core::fmt`.
    pub fn brief(&self) -> Brief<'_> {
        match self {
            ManifestError::MalformedLine(_) => Brief::new("manifest", "malformed line", ""),
            ManifestError::Duplicate(p) => Brief::new("manifest", "duplicate entry", p),
            ManifestError::TooManyEntries => Brief::new("manifest", "too many entries", ""),
            ManifestError::PathTooLong(_) => Brief::new("manifest", "path too long", ""),
            ManifestError::MalformedDataPath(p) => Brief::new("manifest", "malformed data path", p),
        }
    }
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ManifestError::MalformedLine(n) => {
                write!(f, "checksum: malformed checksum line: line {}", n)
            }
            ManifestError::Duplicate(p) => write!(f, "checksum: duplicate manifest entry: '{}'", p),
            ManifestError::TooManyEntries => {
                write!(
                    f,
                    "manifest has more than MAX_MANIFEST_ENTRIES ({}) entries",
                    MAX_MANIFEST_ENTRIES
                )
            }
            ManifestError::PathTooLong(n) => write!(
                f,
                "manifest line {}: path exceeds MAX_MANIFEST_PATH_LEN ({} bytes)",
                n, MAX_MANIFEST_PATH_LEN
            ),
            ManifestError::MalformedDataPath(p) => write!(f, "Malformed manifest entry: '{}'", p),
        }
    }
}

/// A validated manifest: a view over the raw bytes of `manifest` and, in an augmented
/// Artifact, `manifest-augment`. Nothing is copied: the reader keeps the raw bytes anyway (they
/// are what the signature covers), and lines are looked up by scanning, which is cheap for the
/// few entries an Artifact has ([`MAX_MANIFEST_ENTRIES`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct Manifest<'a> {
    main: &'a [u8],
    augment: &'a [u8],
}

fn is_lower_hex(c: u8) -> bool {
    c.is_ascii_digit() || (b'a'..=b'f').contains(&c)
}

fn line(i: &[u8]) -> IResult<&[u8], (&[u8], &[u8])> {
    let (i, (hex, _, path, _)) = (
        take_while_m_n(64, 64, is_lower_hex),
        tag("  "),
        take_while1(|c: u8| c > b' ' && c != 0x7f),
        tag("\n"),
    )
        .parse(i)?;
    Ok((i, (hex, path)))
}

fn hex_nibble(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        _ => c.wrapping_sub(b'a').wrapping_add(10) & 0x0f,
    }
}

/// Splits `data/NNNN/<name>` into the payload index and the name.
pub fn split_data_path(path: &str) -> Option<(u16, &str)> {
    let rest = path.strip_prefix("data/")?;
    let (num, name) = crate::text::split_once_byte(rest, b'/')?;
    let index = payload_index(num)?;
    if name.is_empty() || name.bytes().any(|c| c == b'/') {
        return None;
    }
    Some((index, name))
}

/// The payload index `NNNN` of a path: exactly four ASCII digits.
pub(crate) fn payload_index(num: &str) -> Option<u16> {
    let digits: [u8; 4] = num.as_bytes().try_into().ok()?;
    digits.iter().try_fold(0u16, |v, &c| {
        c.is_ascii_digit().then(|| v * 10 + u16::from(c - b'0'))
    })
}

/// The lines of one raw manifest; stops at the first line that is not canonical, reporting
/// its 1-based number.
struct Lines<'a> {
    raw: &'a [u8],
    n: usize,
}

impl<'a> Iterator for Lines<'a> {
    type Item = Result<ManifestEntry<'a>, ManifestError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.raw.is_empty() {
            return None;
        }
        self.n += 1;
        let n = self.n;
        let parsed = line(self.raw)
            .ok()
            .and_then(|(rest, (hex, path))| Some((rest, hex, core::str::from_utf8(path).ok()?)));
        let Some((rest, hex, path)) = parsed else {
            self.raw = &[];
            return Some(Err(ManifestError::MalformedLine(n)));
        };
        self.raw = rest;
        let mut sha256 = [0u8; 32];
        for (k, pair) in hex.chunks_exact(2).enumerate() {
            sha256[k] = hex_nibble(pair[0]) << 4 | hex_nibble(pair[1]);
        }
        Some(Ok(ManifestEntry { sha256, path }))
    }
}

fn lines(raw: &[u8]) -> Lines<'_> {
    Lines { raw, n: 0 }
}

fn owned(p: &str) -> String<MAX_MANIFEST_PATH_LEN> {
    crate::text::truncated(p)
}

impl<'a> Manifest<'a> {
    /// Validates the raw `manifest` member. Every line must be canonical and end with `\n`.
    pub fn parse(raw: &'a [u8]) -> Result<Manifest<'a>, ManifestError> {
        let m = Manifest {
            main: &[],
            augment: &[],
        };
        m.check_new(raw)?;
        Ok(Manifest {
            main: raw,
            augment: &[],
        })
    }

    /// Adds the entries of `manifest-augment` (validated like the manifest; paths must be new).
    pub fn merge(self, augment: &'a [u8]) -> Result<Manifest<'a>, ManifestError> {
        self.check_new(augment)?;
        Ok(Manifest {
            main: self.main,
            augment,
        })
    }

    /// A manifest whose parts were validated before (by [`Manifest::parse`] and
    /// [`Manifest::merge`]); the reader keeps only the raw bytes between calls.
    pub(crate) fn validated(main: &'a [u8], augment: &'a [u8]) -> Manifest<'a> {
        Manifest { main, augment }
    }

    /// Checks that `raw` is canonical, its paths well-formed and new, and the total in bounds.
    fn check_new(&self, raw: &[u8]) -> Result<(), ManifestError> {
        let mut count = self.len();
        for (k, entry) in lines(raw).enumerate() {
            let entry = entry?;
            let n = k + 1;
            if entry.path.len() > MAX_MANIFEST_PATH_LEN {
                return Err(ManifestError::PathTooLong(n));
            }
            if entry.path.starts_with("data/") && split_data_path(entry.path).is_none() {
                return Err(ManifestError::MalformedDataPath(owned(entry.path)));
            }
            let earlier = lines(raw).take(k).flatten().any(|e| e.path == entry.path);
            if earlier || self.find(entry.path).is_some() {
                return Err(ManifestError::Duplicate(owned(entry.path)));
            }
            count += 1;
            if count > MAX_MANIFEST_ENTRIES {
                return Err(ManifestError::TooManyEntries);
            }
        }
        Ok(())
    }

    /// Every entry, the manifest's first, then the augment's; numbered by position.
    pub fn entries(&self) -> impl Iterator<Item = ManifestEntry<'a>> + 'a {
        lines(self.main).chain(lines(self.augment)).flatten()
    }

    /// The entry for `path` and its position in [`Manifest::entries`].
    pub fn find(&self, path: &str) -> Option<(usize, ManifestEntry<'a>)> {
        self.entries().enumerate().find(|(_, e)| e.path == path)
    }

    pub fn len(&self) -> usize {
        self.entries().count()
    }

    pub fn is_empty(&self) -> bool {
        self.main.is_empty() && self.augment.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    const H: &str = "96bcd965947569404798bcbdb614f103db5a004eb6e364cfc162c146890ea35b";

    #[test]
    fn parses_canonical_lines() {
        let raw = std::format!("{H}  data/0000/rootfs.img\n{H}  header.tar.gz\n{H}  version\n");
        let m = Manifest::parse(raw.as_bytes()).unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(m.find("version").unwrap().0, 2);
        assert_eq!(m.find("version").unwrap().1.sha256[0], 0x96);
        let aug = std::format!("{H}  data/0000/extra.img\n");
        let m = m.merge(aug.as_bytes()).unwrap();
        assert_eq!(m.find("data/0000/extra.img").unwrap().0, 3);
        assert!(matches!(
            m.merge(aug.as_bytes()),
            Err(ManifestError::Duplicate(_))
        ));
        assert_eq!(
            split_data_path("data/0000/rootfs.img"),
            Some((0, "rootfs.img"))
        );
    }

    #[test]
    fn refuses_non_canonical() {
        let upper = H.to_uppercase();
        for bad in [
            std::format!("{H}  version"),
            std::format!("{H} version\n"),
            std::format!("{H}  version\r\n"),
            std::format!("{upper}  version\n"),
            std::format!("{H}  version\n\n"),
            std::format!("{H}  my file\n"),
        ] {
            assert!(
                matches!(
                    Manifest::parse(bad.as_bytes()),
                    Err(ManifestError::MalformedLine(_))
                ),
                "{bad:?}"
            );
        }
        let dup = std::format!("{H}  version\n{H}  version\n");
        assert!(matches!(
            Manifest::parse(dup.as_bytes()),
            Err(ManifestError::Duplicate(_))
        ));
        let sub = std::format!("{H}  data/0000/sub/a.bin\n");
        assert!(matches!(
            Manifest::parse(sub.as_bytes()),
            Err(ManifestError::MalformedDataPath(_))
        ));
        let digits = std::format!("{H}  data/00a0/a.bin\n");
        assert!(matches!(
            Manifest::parse(digits.as_bytes()),
            Err(ManifestError::MalformedDataPath(_))
        ));
    }
}
