//! The `manifest` member: one `<64 lowercase hex>  <path>\n` line per covered file
//! (../shared/spec/artifact-format.md §3.1). Only the canonical form is accepted, so the raw
//! bytes that are signed equal what the official writer produces.
use crate::limits::{MAX_FILE_NAME_LEN, MAX_MANIFEST_ENTRIES};
use core::fmt;
use heapless::{String, Vec};
use nom::bytes::complete::{tag, take_while1, take_while_m_n};
use nom::{IResult, Parser};

/// Longest manifest path: `data/NNNN/` plus a file name.
pub const MAX_MANIFEST_PATH_LEN: usize = MAX_FILE_NAME_LEN + 10;

/// One manifest line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestEntry {
    pub sha256: [u8; 32],
    pub path: String<MAX_MANIFEST_PATH_LEN>,
    /// Set when the covered file was read and its checksum matched.
    pub seen: bool,
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

/// The parsed manifest.
#[derive(Debug, Clone, Default)]
pub struct Manifest {
    entries: Vec<ManifestEntry, MAX_MANIFEST_ENTRIES>,
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
    let (num, name) = rest.split_once('/')?;
    if num.len() != 4
        || !num.bytes().all(|c| c.is_ascii_digit())
        || name.is_empty()
        || name.contains('/')
    {
        return None;
    }
    Some((num.parse().ok()?, name))
}

impl Manifest {
    /// Parses the raw member bytes. Every line must be canonical and end with `\n`.
    pub fn parse(mut raw: &[u8]) -> Result<Manifest, ManifestError> {
        let mut m = Manifest::default();
        let mut n = 0;
        while !raw.is_empty() {
            n += 1;
            let (rest, (hex, path)) = line(raw).map_err(|_| ManifestError::MalformedLine(n))?;
            raw = rest;
            let path = core::str::from_utf8(path).map_err(|_| ManifestError::MalformedLine(n))?;
            let path: String<MAX_MANIFEST_PATH_LEN> =
                String::try_from(path).map_err(|_| ManifestError::PathTooLong(n))?;
            if path.starts_with("data/") && split_data_path(&path).is_none() {
                return Err(ManifestError::MalformedDataPath(path));
            }
            if m.find(&path).is_some() {
                return Err(ManifestError::Duplicate(path));
            }
            let mut sha256 = [0u8; 32];
            for (k, pair) in hex.chunks_exact(2).enumerate() {
                sha256[k] = hex_nibble(pair[0]) << 4 | hex_nibble(pair[1]);
            }
            m.entries
                .push(ManifestEntry {
                    sha256,
                    path,
                    seen: false,
                })
                .map_err(|_| ManifestError::TooManyEntries)?;
        }
        Ok(m)
    }

    /// Adds the entries of `manifest-augment` (paths must be new).
    pub fn merge(&mut self, other: &Manifest) -> Result<(), ManifestError> {
        for e in &other.entries {
            if self.find(&e.path).is_some() {
                return Err(ManifestError::Duplicate(e.path.clone()));
            }
            self.entries
                .push(e.clone())
                .map_err(|_| ManifestError::TooManyEntries)?;
        }
        Ok(())
    }

    pub fn find(&self, path: &str) -> Option<&ManifestEntry> {
        self.entries.iter().find(|e| e.path == path)
    }

    /// Marks `path` as seen and verified.
    pub fn mark_seen(&mut self, path: &str) {
        if let Some(e) = self.entries.iter_mut().find(|e| e.path == path) {
            e.seen = true;
        }
    }

    pub fn entries(&self) -> &[ManifestEntry] {
        &self.entries
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
        assert_eq!(m.entries().len(), 3);
        assert_eq!(m.find("version").unwrap().sha256[0], 0x96);
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
