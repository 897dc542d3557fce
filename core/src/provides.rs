//! Provides and depends (../shared/spec/client-behavior.md §7): the checks made before an
//! Artifact is installed and the provides set that is stored when it is committed.
use crate::limits::{MAX_DEVICE_TYPE_LEN, MAX_ERROR_LIST_LEN, MAX_ERROR_PATH_LEN, MAX_VALUE_LEN};
use crate::meta::Key;
use crate::reader::ArtifactHeader;
use crate::text::{self, Brief};
use core::fmt;
use heapless::String;

/// What the device has installed, as stored by the shell (files on Linux, flash on an MCU).
pub trait Installed {
    /// The installed Artifact name.
    fn name(&self) -> &str;
    /// The installed Artifact group, if any.
    fn group(&self) -> Option<&str>;
    /// A stored provide (`artifact_name`/`artifact_group` are not looked up here).
    fn provide(&self, key: &str) -> Option<&str>;
}

/// An Artifact that does not fit this device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DependsError {
    /// The device type is not among the Artifact's compatible devices.
    DeviceType {
        device: String<MAX_DEVICE_TYPE_LEN>,
        compatible: String<MAX_ERROR_LIST_LEN>,
    },
    /// A depends entry the installed Artifact does not satisfy.
    Unsatisfied {
        key: Key,
        want: String<MAX_ERROR_LIST_LEN>,
        have: Option<String<MAX_ERROR_PATH_LEN>>,
    },
}

impl DependsError {
    /// The error in a few fixed words and what it carries, without `core::fmt`.
    pub fn brief(&self) -> Brief<'_> {
        match self {
            DependsError::DeviceType { compatible, .. } => {
                Brief::new("device type not compatible", "Artifact is for", compatible)
            }
            DependsError::Unsatisfied { key, .. } => Brief::new("depends not satisfied", "", key),
        }
    }
}

impl fmt::Display for DependsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DependsError::DeviceType { device, compatible } => {
                write!(f, "installer: image (device types [{}]) not compatible with device {}", compatible, device)
            }
            DependsError::Unsatisfied { key, want, have } => write!(
                f,
                "Artifact dependency \"{}\" not satisfied by currently installed artifact ({} != {}).",
                key,
                want,
                have.as_deref().unwrap_or("<nil>")
            ),
        }
    }
}

/// `*` matches any run of characters; everything else matches itself.
pub fn glob_match(pattern: &str, key: &str) -> bool {
    match text::split_once_byte(pattern, b'*') {
        None => pattern == key,
        Some((head, rest)) => {
            let Some(tail) = key.strip_prefix(head) else {
                return false;
            };
            (0..=tail.len())
                .filter(|&i| tail.is_char_boundary(i))
                .any(|i| glob_match(rest, &tail[i..]))
        }
    }
}

/// A list of values gathered for an error text while looking for `have` among them: each
/// value is decoded once, and the list code exists once, not once per iterator type (firmware
/// flash). Values are joined by spaces; one that no longer fits is left out.
struct Search<'h> {
    have: Option<&'h str>,
    found: bool,
    list: String<MAX_ERROR_LIST_LEN>,
    /// Put before the next value: nothing before the first.
    sep: &'static str,
}

impl<'h> Search<'h> {
    // Out of line: four lists start here (firmware flash).
    #[inline(never)]
    fn new(have: Option<&'h str>) -> Self {
        Search {
            have,
            found: false,
            list: String::new(),
            sep: "",
        }
    }

    fn add(&mut self, item: &str) {
        self.found |= self.have == Some(item);
        let _ = self.list.push_str(self.sep);
        let _ = self.list.push_str(item);
        self.sep = " ";
    }
}

/// Checks device type and every depends entry against what is installed; nothing is written
/// before this passes.
pub fn check_depends(
    header: &ArtifactHeader<'_>,
    device_type: &str,
    installed: &dyn Installed,
) -> Result<(), DependsError> {
    // `for_each` and `try_for_each`, not `for`: folding the flattened JSON iterators is
    // smaller code than stepping them (firmware flash).
    let mut types = Search::new(Some(device_type));
    header.info.device_types().for_each(|d| types.add(&d));
    if !types.found {
        return Err(DependsError::DeviceType {
            device: text::truncated(device_type),
            compatible: types.list,
        });
    }
    let unsatisfied = |key: &str, want: String<MAX_ERROR_LIST_LEN>, have: Option<&str>| {
        DependsError::Unsatisfied {
            key: text::truncated(key),
            want,
            have: have.map(text::truncated),
        }
    };
    let name = Some(installed.name());
    if let Some(names) = header.info.depends_names() {
        let mut s = Search::new(name);
        names.for_each(|n| s.add(&n));
        if !s.found {
            return Err(unsatisfied("artifact_name", bracket(&s.list), name));
        }
    }
    if let Some(groups) = header.info.depends_groups() {
        let mut s = Search::new(installed.group());
        groups.for_each(|g| s.add(&g));
        if !s.found {
            return Err(unsatisfied("artifact_group", bracket(&s.list), s.have));
        }
    }
    header.depends().try_for_each(|(key, value)| {
        let have = match key.as_str() {
            "artifact_name" => name,
            "artifact_group" => installed.group(),
            k => installed.provide(k),
        };
        let mut s = Search::new(have);
        value.values().for_each(|v| s.add(&v));
        if s.found {
            return Ok(());
        }
        let want = if value.is_list() {
            bracket(&s.list)
        } else {
            s.list
        };
        Err(unsatisfied(&key, want, have))
    })
}

/// `[s]`: a list cut short keeps whole characters and still ends in its bracket (the inner
/// text gives up the room for both brackets).
fn bracket(s: &str) -> String<MAX_ERROR_LIST_LEN> {
    let inner: String<{ MAX_ERROR_LIST_LEN - 2 }> = text::truncated(s);
    let mut o = String::new();
    for part in ["[", &inner, "]"] {
        o.push_str(part).ok();
    }
    o
}

/// Whether an old provide survives the commit of an Artifact with these clears globs. No
/// clears list at all means the new provides replace everything (the historic default).
pub fn survives<'g, I: IntoIterator<Item = &'g str>>(key: &str, clears: Option<I>) -> bool {
    match clears {
        None => false,
        Some(globs) => !globs.into_iter().any(|g| glob_match(g, key)),
    }
}

/// [`survives`] for the clears of a parsed header.
pub fn survives_header(key: &str, header: &ArtifactHeader<'_>) -> bool {
    match header.clears() {
        None => false,
        Some(mut globs) => !globs.any(|g| glob_match(&g, key)),
    }
}

/// The group stored after committing `header` on top of `old_group`: the Artifact's own group,
/// else the old one if a clears list exists and does not match `artifact_group`.
pub fn committed_group<'h>(
    header: &'h ArtifactHeader<'_>,
    old_group: Option<&'h str>,
) -> Option<String<{ crate::limits::MAX_ARTIFACT_NAME_LEN }>> {
    if let Some(g) = header.info.group() {
        return Some(g);
    }
    old_group
        .filter(|_| survives_header("artifact_group", header))
        .map(text::truncated)
}

/// Longest value a provide may have, re-exported for shells that store provides.
pub const MAX_PROVIDE_VALUE_LEN: usize = MAX_VALUE_LEN;

#[cfg(test)]
mod tests {
    use super::{bracket, glob_match};

    #[test]
    fn globs() {
        assert!(glob_match("rootfs-image.*", "rootfs-image.version"));
        assert!(glob_match("*", "anything"));
        assert!(glob_match("a*b*c", "aXXbYYc"));
        assert!(!glob_match("a*b*c", "aXXbYY"));
        assert!(glob_match("artifact_group", "artifact_group"));
        assert!(!glob_match("rootfs-image.*", "rootfs_image_checksum"));
        assert!(glob_match(
            "data-partition.*.version",
            "data-partition.app.version"
        ));
        assert!(glob_match("é*", "é日本"));
    }

    #[test]
    fn a_bracketed_list_cut_short_keeps_whole_characters() {
        assert_eq!(bracket("a b"), "[a b]");
        let long = "é".repeat(128);
        let b = bracket(&long);
        assert_eq!(b.len(), 256);
        assert_eq!(&b[1..255], "é".repeat(127));
        assert!(b.starts_with('[') && b.ends_with(']'));
        assert_eq!(bracket(&"a".repeat(255))[1..255], "a".repeat(254));
    }
}
