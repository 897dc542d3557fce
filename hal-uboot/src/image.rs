//! U-Boot environment image codec (no I/O, no allocation).
//!
//! One copy of the environment is `envsize` bytes (U-Boot's `CONFIG_ENV_SIZE`):
//!
//! | offset | size | single copy | redundant copy |
//! |---|---|---|---|
//! | 0 | 4 | CRC-32 (LE) of bytes 4.. | CRC-32 (LE) of bytes 5.. |
//! | 4 | 1 | data | flag byte (not covered by the CRC) |
//! | 4 or 5 | rest | data | data |
//!
//! Data is `name=value\0name=value\0…` ending at the first empty string, then filler. The CRC
//! covers the filler too. Nothing in the image says whether it is single or redundant, so the
//! caller states the [`Layout`] (from `fw_env.config`: one line or two).

use core::fmt;
use crc::{Crc, CRC_32_ISO_HDLC};

/// zlib's CRC-32, the checksum U-Boot, `mkenvimage` and both Linux tools use.
const CRC32: Crc<u32> = Crc::<u32>::new(&CRC_32_ISO_HDLC);

/// Bytes of the stored CRC at the start of every copy.
pub const CRC_LEN: usize = 4;

/// Filler written after the terminating empty string. `mkenvimage` pads with 0xFF by default
/// (and an erased NOR/NAND reads 0xFF), so an image we write from sorted variables is
/// byte-identical to `mkenvimage`'s.
pub const FILL_BYTE: u8 = 0xFF;

/// Longest variable name this codec writes. U-Boot has no hard limit, but its console line
/// buffer (`CONFIG_SYS_CBSIZE`, 256 by default) could not `printenv`/`setenv` a longer name, so a
/// longer one is a caller bug, refused before it eats the environment.
pub const MAX_NAME_LEN: usize = 255;

/// Flag of the copy written last in the NOR (boolean) scheme (U-Boot `ENV_REDUND_ACTIVE`).
pub const FLAG_ACTIVE: u8 = 1;
/// Flag a NOR writer burns into the superseded copy (U-Boot `ENV_REDUND_OBSOLETE`).
pub const FLAG_OBSOLETE: u8 = 0;

/// Name of the variable that, when `1`, asks for the canary check (Mender's default env).
pub const CHECK_CANARY_VAR: &str = "mender_check_saveenv_canary";
/// Name of the variable U-Boot's `mender_setup` saves on first boot.
pub const CANARY_VAR: &str = "mender_saveenv_canary";
/// The official client's error text when the canary check fails (Go 3.x `checkEnvCanary`,
/// `errors.Wrapf(errors.New("…could not be parsed"), msg)`).
pub const CANARY_ERROR: &str = "Failed mender_saveenv_canary check. There is an error in the \
U-Boot setup. Likely causes are: 1) Mismatch between the U-Boot boot loader environment location \
and the location specified in /etc/fw_env.config. 2) 'mender_setup' is not run by the U-Boot \
boot script: mender_saveenv_canary variable could not be parsed";

/// Single or redundant copy: decides where the data starts and what the CRC covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// One copy: CRC, then data.
    Single,
    /// One of two copies: CRC, flag byte, then data.
    Redundant,
}

impl Layout {
    /// Offset of the data area inside a copy.
    pub const fn data_offset(self) -> usize {
        match self {
            Layout::Single => CRC_LEN,
            Layout::Redundant => CRC_LEN + 1,
        }
    }

    /// Smallest copy that can hold an empty environment (header plus the terminator).
    pub const fn min_size(self) -> usize {
        self.data_offset() + 1
    }
}

/// Why one copy cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageError {
    /// The copy is shorter than its header plus a terminator (also: a short read).
    TooSmall { len: usize },
    /// The stored CRC does not match the data (torn write, erased flash, wrong `envsize`).
    BadCrc { stored: u32, computed: u32 },
    /// The CRC matches but no empty string ends the variable list inside the data area.
    NotTerminated,
}

impl fmt::Display for ImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageError::TooSmall { len } => {
                write!(f, "environment copy too small ({len} bytes)")
            }
            ImageError::BadCrc { stored, computed } => write!(
                f,
                "bad CRC (stored {stored:#010x}, computed {computed:#010x})"
            ),
            ImageError::NotTerminated => f.write_str("environment not terminated"),
        }
    }
}

/// Why a variable given to [`serialize`] is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VarError {
    EmptyName,
    /// Longer than [`MAX_NAME_LEN`].
    NameTooLong {
        len: usize,
    },
    /// `=` ends the name when the environment is read, so it can never be part of one.
    NameHasEquals,
    /// NUL, a space or a control byte: U-Boot's importer skips leading blanks and the console
    /// cannot address such names.
    NameHasInvalidByte {
        byte: u8,
    },
    /// U-Boot's importer treats entries starting with `#` as comments and drops them.
    NameStartsWithHash,
    /// NUL ends an entry, so a value cannot hold it.
    ValueHasNul,
}

impl fmt::Display for VarError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VarError::EmptyName => f.write_str("empty variable name"),
            VarError::NameTooLong { len } => {
                write!(f, "variable name is {len} bytes, limit {MAX_NAME_LEN}")
            }
            VarError::NameHasEquals => f.write_str("variable name contains '='"),
            VarError::NameHasInvalidByte { byte } => {
                write!(f, "variable name contains byte {byte:#04x}")
            }
            VarError::NameStartsWithHash => f.write_str("variable name starts with '#'"),
            VarError::ValueHasNul => f.write_str("variable value contains NUL"),
        }
    }
}

/// Errors of reading a redundant pair or writing a new image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnvError {
    /// The (single) copy is unusable.
    Image(ImageError),
    /// Neither redundant copy is usable. There is no silent fallback to a default environment:
    /// inventing `mender_boot_part` could boot the wrong root filesystem.
    BothCopiesBad {
        first: ImageError,
        second: ImageError,
    },
    /// The variables do not fit; nothing was dropped and the caller must not write the output.
    Overflow { needed: usize, capacity: usize },
    /// `changes[index]` is not a valid variable.
    InvalidVar { index: usize, error: VarError },
}

impl From<ImageError> for EnvError {
    fn from(e: ImageError) -> Self {
        EnvError::Image(e)
    }
}

impl fmt::Display for EnvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnvError::Image(e) => e.fmt(f),
            EnvError::BothCopiesBad { first, second } => write!(
                f,
                "both environment copies are invalid (copy 1: {first}; copy 2: {second})"
            ),
            EnvError::Overflow { needed, capacity } => write!(
                f,
                "environment overflow: {needed} bytes needed, data area holds {capacity}"
            ),
            EnvError::InvalidVar { index, error } => write!(f, "variable #{index}: {error}"),
        }
    }
}

/// A validated copy: the variable list of one image, borrowed from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Env<'a> {
    /// Entries up to (not including) the terminating empty string; each ends with NUL.
    entries: &'a [u8],
    flag: Option<u8>,
}

impl<'a> Env<'a> {
    /// No variables; the base for building an image from scratch.
    pub const EMPTY: Env<'static> = Env {
        entries: &[],
        flag: None,
    };

    /// Checks the CRC and the terminator of one copy (the whole `envsize` bytes).
    pub fn parse(image: &'a [u8], layout: Layout) -> Result<Self, ImageError> {
        let too_small = ImageError::TooSmall { len: image.len() };
        if image.len() < layout.min_size() {
            return Err(too_small);
        }
        let (head, data) = image.split_at(layout.data_offset());
        let crc: [u8; CRC_LEN] = head
            .get(..CRC_LEN)
            .and_then(|b| b.try_into().ok())
            .ok_or(too_small)?;
        let stored = u32::from_le_bytes(crc);
        let computed = CRC32.checksum(data);
        if stored != computed {
            return Err(ImageError::BadCrc { stored, computed });
        }
        let end = terminator(data)?;
        Ok(Env {
            entries: data.get(..end).ok_or(ImageError::NotTerminated)?,
            flag: match layout {
                Layout::Single => None,
                Layout::Redundant => head.get(CRC_LEN).copied(),
            },
        })
    }

    /// The flag byte of a redundant copy.
    pub fn flag(&self) -> Option<u8> {
        self.flag
    }

    /// Value of `name`; the last entry wins when an image holds duplicates, as in U-Boot and
    /// libubootenv.
    pub fn get(&self, name: &[u8]) -> Option<&'a [u8]> {
        self.vars()
            .filter(|(n, _)| *n == name)
            .last()
            .map(|(_, v)| v)
    }

    /// `(name, value)` in stored order. Entries without `=` or with an empty name are skipped:
    /// U-Boot's importer ignores them too, and nothing can address them.
    pub fn vars(&self) -> Vars<'a> {
        Vars {
            entries: self.entries,
        }
    }

    /// Bytes of the data area in use, terminator included.
    pub fn used_len(&self) -> usize {
        self.entries.len() + 1
    }

    /// Mender's check that U-Boot and Linux use the same environment: if
    /// `mender_check_saveenv_canary=1` is set, `mender_saveenv_canary` must be `1`
    /// (otherwise report [`CANARY_ERROR`]).
    pub fn saveenv_canary_ok(&self) -> bool {
        self.get(CHECK_CANARY_VAR.as_bytes()) != Some(b"1")
            || self.get(CANARY_VAR.as_bytes()) == Some(b"1")
    }
}

/// Index of the NUL that forms the terminating empty string.
fn terminator(data: &[u8]) -> Result<usize, ImageError> {
    let mut pos = 0;
    loop {
        let rest = data.get(pos..).ok_or(ImageError::NotTerminated)?;
        match rest.iter().position(|&b| b == 0) {
            Some(0) => return Ok(pos),
            Some(n) => pos += n + 1,
            None => return Err(ImageError::NotTerminated),
        }
    }
}

/// Iterator over the variables of an [`Env`].
#[derive(Clone, Debug)]
pub struct Vars<'a> {
    entries: &'a [u8],
}

impl<'a> Iterator for Vars<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        while !self.entries.is_empty() {
            let len = self
                .entries
                .iter()
                .position(|&b| b == 0)
                .unwrap_or(self.entries.len());
            let (entry, rest) = self.entries.split_at(len);
            self.entries = rest.get(1..).unwrap_or(&[]);
            if let Some(eq) = entry.iter().position(|&b| b == b'=') {
                let (name, value) = entry.split_at(eq);
                if !name.is_empty() {
                    return Some((name, value.get(1..).unwrap_or(&[])));
                }
            }
        }
        None
    }
}

/// Checks one variable to be written. An empty value is allowed (it means "remove").
pub fn check_var(name: &str, value: &str) -> Result<(), VarError> {
    let n = name.as_bytes();
    if n.is_empty() {
        return Err(VarError::EmptyName);
    }
    if n.len() > MAX_NAME_LEN {
        return Err(VarError::NameTooLong { len: n.len() });
    }
    if n.first() == Some(&b'#') {
        return Err(VarError::NameStartsWithHash);
    }
    if let Some(&byte) = n.iter().find(|&&b| b <= b' ' || b == 0x7f) {
        return Err(VarError::NameHasInvalidByte { byte });
    }
    if n.contains(&b'=') {
        return Err(VarError::NameHasEquals);
    }
    if value.as_bytes().contains(&0) {
        return Err(VarError::ValueHasNul);
    }
    Ok(())
}

/// Writes a complete copy into `out` (`out.len()` is the env size): the variables of `base` with
/// `changes` applied (an empty value removes, the last change of a name wins), sorted by name
/// bytewise with no duplicates (as U-Boot's `saveenv` and libubootenv write), the terminator,
/// [`FILL_BYTE`] filler, the flag (`Some` = redundant layout) and the CRC.
///
/// Refuses rather than drops: on [`EnvError::Overflow`] or an invalid change, the contents of
/// `out` are unspecified and must not be written anywhere. Returns the data bytes in use.
///
/// Cost: one pass over `base` and `changes` per output variable (no allocation to sort in);
/// a Mender environment has a few dozen variables.
pub fn serialize(
    out: &mut [u8],
    flag: Option<u8>,
    base: &Env<'_>,
    changes: &[(&str, &str)],
) -> Result<usize, EnvError> {
    for (index, (name, value)) in changes.iter().enumerate() {
        check_var(name, value).map_err(|error| EnvError::InvalidVar { index, error })?;
    }
    let layout = if flag.is_some() {
        Layout::Redundant
    } else {
        Layout::Single
    };
    let too_small = ImageError::TooSmall { len: out.len() };
    if out.len() < layout.min_size() {
        return Err(too_small.into());
    }
    let (head, data) = out.split_at_mut(layout.data_offset());
    let capacity = data.len();

    let mut needed = 1; // the terminating empty string
    let mut pos = 0;
    let mut last: Option<&[u8]> = None;
    while let Some((name, value, changed)) = next_var(base, changes, last) {
        last = Some(name);
        if changed && value.is_empty() {
            continue;
        }
        needed += name.len() + value.len() + 2;
        if needed <= capacity {
            for part in [name, b"=", value, b"\0"] {
                let end = pos + part.len();
                data.get_mut(pos..end)
                    .ok_or(EnvError::Overflow { needed, capacity })?
                    .copy_from_slice(part);
                pos = end;
            }
        }
    }
    if needed > capacity {
        return Err(EnvError::Overflow { needed, capacity });
    }
    let (terminator, filler) = data
        .get_mut(pos..)
        .and_then(|rest| rest.split_first_mut())
        .ok_or(EnvError::Overflow { needed, capacity })?;
    *terminator = 0;
    filler.fill(FILL_BYTE);

    let crc = CRC32.checksum(data);
    let (crc_bytes, flag_byte) = head.split_at_mut(CRC_LEN);
    crc_bytes.copy_from_slice(&crc.to_le_bytes());
    if let (Some(f), Some(slot)) = (flag, flag_byte.first_mut()) {
        *slot = f;
    }
    Ok(needed)
}

/// The smallest name greater than `after` among `base` and `changes`, with its final value
/// (changes override the base, later entries override earlier ones) and whether it came from
/// `changes`.
fn next_var<'a>(
    base: &Env<'a>,
    changes: &[(&'a str, &'a str)],
    after: Option<&[u8]>,
) -> Option<(&'a [u8], &'a [u8], bool)> {
    let mut best: Option<(&'a [u8], &'a [u8], bool)> = None;
    let candidates = base.vars().map(|(n, v)| (n, v, false)).chain(
        changes
            .iter()
            .map(|(n, v)| (n.as_bytes(), v.as_bytes(), true)),
    );
    for (name, value, changed) in candidates {
        let later = after.is_none_or(|a| name > a);
        if later && best.is_none_or(|(b, _, _)| name <= b) {
            best = Some((name, value, changed));
        }
    }
    best
}

/// How the flag byte of a redundant pair says which copy is current (chosen by the device
/// type, not by the tool; spec §1.3–1.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlagScheme {
    /// Serial counter: files, block devices (eMMC/SD), NAND, UBI. The larger flag wins, except
    /// that 0 beats 255 (wrap); a tie means the first copy.
    Incremental,
    /// NOR flash: the new copy gets [`FLAG_ACTIVE`], the old one is cleared to
    /// [`FLAG_OBSOLETE`]; a never-written 0xFF copy is preferred; otherwise the first copy.
    Boolean,
}

impl FlagScheme {
    /// Index (0 or 1) of the current copy given each copy's flag (`None` = copy invalid).
    pub fn current(self, flags: [Option<u8>; 2]) -> Option<usize> {
        match flags {
            [None, None] => None,
            [Some(_), None] => Some(0),
            [None, Some(_)] => Some(1),
            [Some(a), Some(b)] => Some(usize::from(self.second_wins(a, b))),
        }
    }

    fn second_wins(self, a: u8, b: u8) -> bool {
        match self {
            FlagScheme::Incremental => match (a, b) {
                (255, 0) => true,
                (0, 255) => false,
                _ => b > a,
            },
            FlagScheme::Boolean => match (a, b) {
                (FLAG_ACTIVE, FLAG_OBSOLETE) => false,
                (FLAG_OBSOLETE, FLAG_ACTIVE) => true,
                _ if a == b || a == 0xFF => false,
                _ => b == 0xFF,
            },
        }
    }

    /// Flag for the copy written after one with flag `current`.
    pub fn next_flag(self, current: u8) -> u8 {
        match self {
            FlagScheme::Incremental => current.wrapping_add(1),
            FlagScheme::Boolean => FLAG_ACTIVE,
        }
    }
}

/// Parses both redundant copies and returns the index of the current one with its contents.
/// One bad copy is not an error (the other is used, as every U-Boot reader does).
pub fn select<'a>(copies: [&'a [u8]; 2], scheme: FlagScheme) -> Result<(usize, Env<'a>), EnvError> {
    let [a, b] = copies.map(|c| Env::parse(c, Layout::Redundant));
    match (a, b) {
        (Err(first), Err(second)) => Err(EnvError::BothCopiesBad { first, second }),
        (Ok(a), Err(_)) => Ok((0, a)),
        (Err(_), Ok(b)) => Ok((1, b)),
        (Ok(a), Ok(b)) => match scheme.current([a.flag(), b.flag()]) {
            Some(1) => Ok((1, b)),
            _ => Ok((0, a)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `printf '# c\nb=2\na=1\n' > e.txt; mkenvimage -s 0x100 -o s.bin e.txt` (first 16 bytes;
    /// the rest is 0xFF).
    const MKENV_HEAD: [u8; 14] = [
        0xee, 0x8b, 0x04, 0x69, b'b', b'=', b'2', 0, b'a', b'=', b'1', 0, 0, 0xff,
    ];

    fn mkenv_single() -> [u8; 0x100] {
        let mut img = [0xffu8; 0x100];
        img[..MKENV_HEAD.len()].copy_from_slice(&MKENV_HEAD);
        img
    }

    type Pairs<'a> = std::vec::Vec<(&'a [u8], &'a [u8])>;

    fn collect<'a>(env: &Env<'a>) -> Pairs<'a> {
        env.vars().collect()
    }

    #[test]
    fn parses_mkenvimage_output() {
        let img = mkenv_single();
        let env = Env::parse(&img, Layout::Single).unwrap();
        assert_eq!(
            collect(&env),
            [(&b"b"[..], &b"2"[..]), (&b"a"[..], &b"1"[..])]
        );
        assert_eq!(env.get(b"a"), Some(&b"1"[..]));
        assert_eq!(env.get(b"c"), None);
        assert_eq!(env.used_len(), 9);
        // The same bytes read as a redundant copy: the CRC covers other bytes.
        assert!(matches!(
            Env::parse(&img, Layout::Redundant),
            Err(ImageError::BadCrc { .. })
        ));
    }

    #[test]
    fn serialize_sorted_matches_mkenvimage() {
        let mut out = [0u8; 0x100];
        let used = serialize(&mut out, None, &Env::EMPTY, &[("b", "2"), ("a", "1")]).unwrap();
        assert_eq!(used, 9);
        // mkenvimage keeps input order; ours is sorted: a=1 then b=2.
        let env = Env::parse(&out, Layout::Single).unwrap();
        assert_eq!(
            collect(&env),
            [(&b"a"[..], &b"1"[..]), (&b"b"[..], &b"2"[..])]
        );
        assert!(out[4 + 9..].iter().all(|&b| b == FILL_BYTE));
        // Re-serializing mkenvimage's (unsorted) image gives sorted output with the same vars.
        let img = mkenv_single();
        let base = Env::parse(&img, Layout::Single).unwrap();
        let mut again = [0u8; 0x100];
        serialize(&mut again, None, &base, &[]).unwrap();
        assert_eq!(again, out);
    }

    #[test]
    fn empty_env_is_one_nul() {
        let mut out = [0u8; 16];
        assert_eq!(serialize(&mut out, Some(7), &Env::EMPTY, &[]).unwrap(), 1);
        assert_eq!(out[4], 7);
        assert_eq!(out[5], 0);
        assert!(out[6..].iter().all(|&b| b == 0xff));
        let env = Env::parse(&out, Layout::Redundant).unwrap();
        assert_eq!(env.vars().count(), 0);
        assert_eq!(env.flag(), Some(7));
        // mkenvimage -s 0x100 on empty input: CRC 2a45814f, then 00, then 0xFF filler.
        let mut img = [0xffu8; 0x100];
        img[..5].copy_from_slice(&[0x4f, 0x81, 0x45, 0x2a, 0]);
        assert_eq!(Env::parse(&img, Layout::Single).unwrap().vars().count(), 0);
    }

    #[test]
    fn changes_override_remove_and_dedup() {
        // Base with a duplicate (last wins) and an entry without '=' (ignored).
        let mut base_img = [0u8; 64];
        let data = b"z=1\0junk\0a=old\0z=2\0\0";
        base_img[4..4 + data.len()].copy_from_slice(data);
        base_img[4 + data.len()..].fill(0xff);
        let crc = CRC32.checksum(&base_img[4..]);
        base_img[..4].copy_from_slice(&crc.to_le_bytes());
        let base = Env::parse(&base_img, Layout::Single).unwrap();
        assert_eq!(base.get(b"z"), Some(&b"2"[..]));

        let mut out = [0u8; 64];
        serialize(
            &mut out,
            None,
            &base,
            &[("m", "x=y z"), ("a", ""), ("m", "last"), ("q", "")],
        )
        .unwrap();
        assert_eq!(&out[4..4 + 14], b"m=last\0z=2\0\0\xff\xff"[..14].as_ref());
    }

    #[test]
    fn overflow_is_refused_and_exact_fit_accepted() {
        // Data area 10 bytes: "ab=cdefg\0" (9) + terminator (1) fits exactly.
        let mut out = [0u8; 14];
        assert_eq!(
            serialize(&mut out, None, &Env::EMPTY, &[("ab", "cdefg")]).unwrap(),
            10
        );
        assert_eq!(&out[4..], b"ab=cdefg\0\0");
        assert_eq!(
            serialize(&mut out, None, &Env::EMPTY, &[("ab", "cdefgh")]),
            Err(EnvError::Overflow {
                needed: 11,
                capacity: 10
            })
        );
        // A later, smaller variable must not be written in place of an overflowing one.
        assert_eq!(
            serialize(
                &mut out,
                None,
                &Env::EMPTY,
                &[("a", "123456789"), ("b", "")]
            ),
            Err(EnvError::Overflow {
                needed: 13,
                capacity: 10
            })
        );
    }

    #[test]
    fn invalid_names_are_refused() {
        let mut out = [0u8; 64];
        let cases: [(&str, VarError); 6] = [
            ("", VarError::EmptyName),
            ("a=b", VarError::NameHasEquals),
            ("a b", VarError::NameHasInvalidByte { byte: b' ' }),
            ("a\0", VarError::NameHasInvalidByte { byte: 0 }),
            ("#x", VarError::NameStartsWithHash),
            (
                core::str::from_utf8(&[b'n'; MAX_NAME_LEN + 1]).unwrap(),
                VarError::NameTooLong {
                    len: MAX_NAME_LEN + 1,
                },
            ),
        ];
        for (name, error) in cases {
            assert_eq!(
                serialize(&mut out, None, &Env::EMPTY, &[("ok", "1"), (name, "v")]),
                Err(EnvError::InvalidVar { index: 1, error })
            );
        }
        assert_eq!(check_var("v", "a\0b"), Err(VarError::ValueHasNul));
        let longest = core::str::from_utf8(&[b'n'; MAX_NAME_LEN]).unwrap();
        assert_eq!(check_var(longest, "é=x y"), Ok(()));
    }

    #[test]
    fn bad_images() {
        assert_eq!(
            Env::parse(&[0; 4], Layout::Single),
            Err(ImageError::TooSmall { len: 4 })
        );
        assert_eq!(
            Env::parse(&[0; 5], Layout::Redundant),
            Err(ImageError::TooSmall { len: 5 })
        );
        // Erased flash.
        assert!(matches!(
            Env::parse(&[0xff; 64], Layout::Single),
            Err(ImageError::BadCrc { .. })
        ));
        // Valid CRC, but no empty string before the end.
        let mut img = [b'x'; 16];
        img[15] = 0;
        let crc = CRC32.checksum(&img[4..]);
        img[..4].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(
            Env::parse(&img, Layout::Single),
            Err(ImageError::NotTerminated)
        );
    }

    #[test]
    fn incremental_selection() {
        let s = FlagScheme::Incremental;
        assert_eq!(s.current([Some(1), Some(1)]), Some(0));
        assert_eq!(s.current([Some(1), Some(2)]), Some(1));
        assert_eq!(s.current([Some(3), Some(2)]), Some(0));
        assert_eq!(s.current([Some(255), Some(0)]), Some(1));
        assert_eq!(s.current([Some(0), Some(255)]), Some(0));
        assert_eq!(s.current([Some(254), Some(255)]), Some(1));
        assert_eq!(s.current([None, Some(9)]), Some(1));
        assert_eq!(s.current([Some(9), None]), Some(0));
        assert_eq!(s.current([None, None]), None);
        assert_eq!(s.next_flag(255), 0);
        assert_eq!(s.next_flag(1), 2);
    }

    #[test]
    fn boolean_selection() {
        let s = FlagScheme::Boolean;
        assert_eq!(s.current([Some(1), Some(0)]), Some(0));
        assert_eq!(s.current([Some(0), Some(1)]), Some(1));
        assert_eq!(s.current([Some(1), Some(1)]), Some(0));
        assert_eq!(s.current([Some(0xff), Some(0)]), Some(0));
        assert_eq!(s.current([Some(1), Some(0xff)]), Some(1));
        assert_eq!(s.current([Some(5), Some(7)]), Some(0));
        assert_eq!(s.next_flag(1), FLAG_ACTIVE);
    }

    #[test]
    fn select_uses_the_good_copy_and_refuses_two_bad() {
        let mut a = [0u8; 32];
        let mut b = [0u8; 32];
        serialize(&mut a, Some(1), &Env::EMPTY, &[("v", "old")]).unwrap();
        serialize(&mut b, Some(2), &Env::EMPTY, &[("v", "new")]).unwrap();
        let (i, env) = select([&a, &b], FlagScheme::Incremental).unwrap();
        assert_eq!((i, env.get(b"v")), (1, Some(&b"new"[..])));
        // The flag is not covered by the CRC: 255 vs 0 makes copy 2 current again after a wrap.
        a[4] = 255;
        b[4] = 0;
        assert_eq!(select([&a, &b], FlagScheme::Incremental).unwrap().0, 1);
        b[10] ^= 1;
        let (i, env) = select([&a, &b], FlagScheme::Incremental).unwrap();
        assert_eq!((i, env.get(b"v")), (0, Some(&b"old"[..])));
        a[10] ^= 1;
        assert!(matches!(
            select([&a, &b], FlagScheme::Incremental),
            Err(EnvError::BothCopiesBad {
                first: ImageError::BadCrc { .. },
                second: ImageError::BadCrc { .. }
            })
        ));
        assert!(matches!(
            select([&[], &[]], FlagScheme::Boolean),
            Err(EnvError::BothCopiesBad {
                first: ImageError::TooSmall { len: 0 },
                ..
            })
        ));
    }

    #[test]
    fn canary() {
        let mut img = [0u8; 128];
        let with = |img: &mut [u8], vars: &[(&str, &str)]| {
            serialize(img, None, &Env::EMPTY, vars).unwrap();
        };
        with(&mut img, &[("x", "1")]);
        assert!(Env::parse(&img, Layout::Single)
            .unwrap()
            .saveenv_canary_ok());
        with(&mut img, &[(CHECK_CANARY_VAR, "1")]);
        assert!(!Env::parse(&img, Layout::Single)
            .unwrap()
            .saveenv_canary_ok());
        with(&mut img, &[(CHECK_CANARY_VAR, "1"), (CANARY_VAR, "0")]);
        assert!(!Env::parse(&img, Layout::Single)
            .unwrap()
            .saveenv_canary_ok());
        with(&mut img, &[(CHECK_CANARY_VAR, "1"), (CANARY_VAR, "1")]);
        assert!(Env::parse(&img, Layout::Single)
            .unwrap()
            .saveenv_canary_ok());
        with(&mut img, &[(CHECK_CANARY_VAR, "0")]);
        assert!(Env::parse(&img, Layout::Single)
            .unwrap()
            .saveenv_canary_ok());
    }
}
