//! `fw_env.config`: where the environment lives (spec §1.5).
//!
//! Each line is `device offset envsize [sectorsize [nsectors [disablelock]]]`, read by the
//! tools as `sscanf("%s %lli %lx %lx %lx")`: the offset is decimal, `0x` hex or `0` octal and
//! may be negative (counted from the end of the device); **sizes are always hex**, even
//! without `0x` (`16384` means 0x16384). `#` starts a comment. One line means a single copy,
//! two lines a redundant pair.
//!
//! Stricter than the tools on purpose: they silently skip a line they cannot scan, which turns
//! a typo in the second line into a single-copy setup that writes the wrong format. Here every
//! non-comment line must parse, and the error names the line.

use core::fmt;

/// One environment copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceLine<'a> {
    /// Device node or file path.
    pub device: &'a str,
    /// Byte offset; negative counts back from the end of the device.
    pub offset: i64,
    /// Size of the copy (U-Boot's `CONFIG_ENV_SIZE`).
    pub env_size: u64,
    /// Erase-sector size (MTD only).
    pub sector_size: Option<u64>,
    /// Number of sectors (MTD only).
    pub sectors: Option<u64>,
    /// 1-based line number in the file.
    pub line: usize,
}

/// A parsed `fw_env.config`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FwEnvConfig<'a> {
    pub first: DeviceLine<'a>,
    /// Present for a redundant environment.
    pub second: Option<DeviceLine<'a>>,
}

/// What is wrong with a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineError {
    /// Fewer than the three required fields.
    MissingFields,
    /// More than `device offset envsize sectorsize nsectors disablelock`.
    TooManyFields,
    /// The offset is not a decimal, `0x` hex or `0` octal integer.
    BadOffset,
    /// A size field (named) is not hexadecimal.
    BadHex { field: &'static str },
    /// The environment size is zero.
    ZeroSize,
    /// A third device line; an environment has at most two copies.
    ExtraDevice,
    /// The second copy's size differs from the first (the tools refuse this too).
    UnequalSizes,
}

/// A configuration error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// No device line at all.
    NoDevice,
    /// `line` (1-based) is malformed.
    Line { line: usize, error: LineError },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::NoDevice => f.write_str("fw_env.config: no device line"),
            ConfigError::Line { line, error } => {
                write!(f, "fw_env.config line {line}: ")?;
                match error {
                    LineError::MissingFields => {
                        f.write_str("expected `device offset envsize [sectorsize [nsectors]]`")
                    }
                    LineError::TooManyFields => f.write_str("too many fields"),
                    LineError::BadOffset => {
                        f.write_str("offset is not a decimal, 0x-hex or 0-octal integer")
                    }
                    LineError::BadHex { field } => {
                        write!(f, "{field} is not a hexadecimal number")
                    }
                    LineError::ZeroSize => f.write_str("environment size is zero"),
                    LineError::ExtraDevice => f.write_str("more than two device lines"),
                    LineError::UnequalSizes => {
                        f.write_str("the two copies have different environment sizes")
                    }
                }
            }
        }
    }
}

/// Parses the text of an `fw_env.config`.
pub fn parse(text: &str) -> Result<FwEnvConfig<'_>, ConfigError> {
    let mut lines: [Option<DeviceLine<'_>>; 2] = [None, None];
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let err = |error| ConfigError::Line { line, error };
        let Some(dev) = parse_line(raw, line).map_err(err)? else {
            continue;
        };
        match &mut lines {
            [slot @ None, _] => *slot = Some(dev),
            [Some(first), slot @ None] => {
                if first.env_size != dev.env_size {
                    return Err(err(LineError::UnequalSizes));
                }
                *slot = Some(dev);
            }
            [Some(_), Some(_)] => return Err(err(LineError::ExtraDevice)),
        }
    }
    match lines {
        [Some(first), second] => Ok(FwEnvConfig { first, second }),
        [None, _] => Err(ConfigError::NoDevice),
    }
}

/// `None` for blank and comment lines.
fn parse_line(raw: &str, line: usize) -> Result<Option<DeviceLine<'_>>, LineError> {
    // A field starting with '#' ends the line (the tools' sscanf stops there too).
    let mut fields = raw
        .split_ascii_whitespace()
        .take_while(|f| !f.starts_with('#'));
    let Some(device) = fields.next() else {
        return Ok(None);
    };
    let (Some(offset), Some(size)) = (fields.next(), fields.next()) else {
        return Err(LineError::MissingFields);
    };
    let offset = parse_offset(offset).ok_or(LineError::BadOffset)?;
    let env_size = parse_hex(size).ok_or(LineError::BadHex { field: "envsize" })?;
    if env_size == 0 {
        return Err(LineError::ZeroSize);
    }
    let mut opt_hex = |field| match fields.next() {
        None => Ok(None),
        Some(text) => parse_hex(text).map(Some).ok_or(LineError::BadHex { field }),
    };
    let sector_size = opt_hex("sectorsize")?;
    let sectors = opt_hex("nsectors")?;
    // libubootenv >= 0.3.3 `disablelock`: accepted, the lock is configured by the caller.
    opt_hex("disablelock")?;
    if fields.next().is_some() {
        return Err(LineError::TooManyFields);
    }
    Ok(Some(DeviceLine {
        device,
        offset,
        env_size,
        sector_size,
        sectors,
        line,
    }))
}

/// `%lli`: optional sign, then `0x` hex, `0` octal or decimal.
fn parse_offset(text: &str) -> Option<i64> {
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let magnitude = if let Some(hex) = strip_hex_prefix(body) {
        digits(hex, 16)?
    } else if let Some(oct) = body.strip_prefix('0').filter(|r| !r.is_empty()) {
        digits(oct, 8)?
    } else {
        digits(body, 10)?
    };
    let value = i64::try_from(magnitude).ok()?;
    if negative {
        value.checked_neg()
    } else {
        Some(value)
    }
}

/// `%lx`: hex with or without `0x`.
fn parse_hex(text: &str) -> Option<u64> {
    digits(strip_hex_prefix(text).unwrap_or(text), 16)
}

fn strip_hex_prefix(text: &str) -> Option<&str> {
    text.strip_prefix("0x").or_else(|| text.strip_prefix("0X"))
}

fn digits(text: &str, radix: u32) -> Option<u64> {
    if text.is_empty() || !text.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(text, radix).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    #[test]
    fn mender_block_config() {
        let cfg = parse(
            "# Mender\n/dev/mmcblk0 0x800000 0x20000\n\n  /dev/mmcblk0  0x1000000 0x20000 # copy 2\n",
        )
        .unwrap();
        assert_eq!(cfg.first.device, "/dev/mmcblk0");
        assert_eq!(cfg.first.offset, 0x800000);
        assert_eq!(cfg.first.env_size, 0x20000);
        assert_eq!(cfg.first.line, 2);
        let second = cfg.second.unwrap();
        assert_eq!((second.offset, second.line), (0x1000000, 4));
        assert_eq!(second.sector_size, None);
    }

    #[test]
    fn number_bases() {
        fn one(l: &str) -> DeviceLine<'_> {
            parse(l).unwrap().first
        }
        // Sizes are hex even without 0x; offsets are decimal unless prefixed.
        assert_eq!(one("f 16384 16384").env_size, 0x16384);
        assert_eq!(one("f 16384 16384").offset, 16384);
        assert_eq!(one("f 010 4000").offset, 8);
        assert_eq!(one("f 0 4000").offset, 0);
        assert_eq!(one("f -0x4000 4000").offset, -0x4000);
        assert_eq!(one("f -8192 0X2000").offset, -8192);
        assert_eq!(one("f +5 2000").offset, 5);
        let l = one("/dev/mtd1 0 0x4000 0x1000 2");
        assert_eq!((l.sector_size, l.sectors), (Some(0x1000), Some(2)));
        assert!(parse("f 0 4000 1000 2 1").is_ok());
    }

    #[test]
    fn errors_name_the_line() {
        let line = |text, line, error| {
            assert_eq!(
                parse(text),
                Err(ConfigError::Line { line, error }),
                "{text:?}"
            )
        };
        line("# c\nf 0", 2, LineError::MissingFields);
        line("f 0x 4000", 1, LineError::BadOffset);
        line("f 09 4000", 1, LineError::BadOffset);
        line("f 1e3 4000", 1, LineError::BadOffset);
        line("f 0 40g0", 1, LineError::BadHex { field: "envsize" });
        line(
            "f 0 4000 zz",
            1,
            LineError::BadHex {
                field: "sectorsize",
            },
        );
        line("f 0 4000 1 1 1 1", 1, LineError::TooManyFields);
        line("f 0 0", 1, LineError::ZeroSize);
        line("a 0 4000\nb 0 2000", 2, LineError::UnequalSizes);
        line("a 0 4000\nb 0 4000\n\nc 0 4000", 4, LineError::ExtraDevice);
        assert_eq!(parse("# only\n\n"), Err(ConfigError::NoDevice));
        let text = parse("x\n").unwrap_err().to_string();
        assert!(text.starts_with("fw_env.config line 1: "), "{text}");
    }
}
