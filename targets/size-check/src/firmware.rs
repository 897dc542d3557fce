//! The "Cortex-M firmware" table of memory-budget.md: flash, static RAM, peak stack and total
//! RAM of each firmware variant (`targets/mcu-firmware`, binaries `fw-gzip` and `fw-plain`).
//!
//! * flash = text + data of binutils `size` (vector table, code, read-only data, and the
//!   initial values of `.data`, which are stored in flash);
//! * static RAM = data + bss;
//! * stack peak = the largest `stack_peak` any QEMU run of the variant printed (the firmware
//!   paints its stack before `main` and finds the deepest word that lost the paint), read from
//!   the file tests/mcu-firmware.sh writes: one `VARIANT BYTES` line per run;
//! * RAM = static RAM + stack peak.
//!
//! The linker script of each variant (`targets/mcu-firmware/link/<variant>.x`) must give
//! FLASH and RAM exactly the table's flash and RAM budgets, so that a build whose code or
//! statics outgrow them already fails to link; a mismatch is an error here.
use super::{parse_berkeley, tool_output, workspace_root, Row, Spec};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub(crate) const FIRMWARE: Spec = Spec {
    section: "## Cortex-M firmware",
    keys: &[("variant", 10)],
    metrics: &["flash", "static RAM", "stack peak", "RAM"],
};

/// Where the firmware is built: tests/mcu-firmware.sh builds with the `firmware` profile.
pub(crate) fn default_elf_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from("target"), PathBuf::from);
    target.join("thumbv7em-none-eabihf").join("firmware")
}

/// The variants' linker scripts.
pub(crate) fn link_dir() -> PathBuf {
    workspace_root().join("targets/mcu-firmware/link")
}

/// Where tests/mcu-firmware.sh collects the stack peaks: next to the ELFs.
pub(crate) fn default_stack_file() -> PathBuf {
    default_elf_dir().join("stack-peaks.txt")
}

/// Flash (text + data) and static RAM (data + bss) of a firmware ELF.
fn sections(elf: &Path) -> Result<[u64; 2], String> {
    if !elf.is_file() {
        return Err(format!(
            "{}: no such firmware ELF (build it with `bash tests/mcu-firmware.sh`)",
            elf.display()
        ));
    }
    let size = tool_output("size", elf, &[])?;
    let [text, data, bss] = parse_berkeley(&size)
        .ok_or_else(|| format!("cannot read `size {}`: {size}", elf.display()))?;
    Ok([text + data, data + bss])
}

/// The largest stack peak of each variant in the stack file (`VARIANT BYTES` per line; blank
/// lines and `#` comments allowed).
fn parse_stack(text: &str) -> Result<BTreeMap<String, u64>, String> {
    let mut peaks = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        let (Some(variant), Some(bytes), None) = (words.next(), words.next(), words.next()) else {
            return Err(format!(
                "line {}: expected 'VARIANT BYTES': '{line}'",
                i + 1
            ));
        };
        let bytes: u64 = bytes
            .parse()
            .map_err(|_| format!("line {}: '{bytes}' is not a number of bytes", i + 1))?;
        let peak = peaks.entry(variant.to_owned()).or_insert(0);
        *peak = bytes.max(*peak);
    }
    Ok(peaks)
}

/// A linker-script length: decimal or 0x hex, with an optional K or M suffix.
fn parse_length(value: &str) -> Option<u64> {
    let value = value.trim();
    let (digits, unit) = match value.char_indices().last()? {
        (i, 'K') => (&value[..i], 1024),
        (i, 'M') => (&value[..i], 1024 * 1024),
        _ => (value, 1),
    };
    let n = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(hex) => u64::from_str_radix(hex, 16).ok()?,
        None => digits.parse().ok()?,
    };
    n.checked_mul(unit)
}

/// The LENGTH of the FLASH and RAM regions of a `MEMORY` block.
fn memory_lengths(script: &str) -> Result<(u64, u64), String> {
    let mut flash = None;
    let mut ram = None;
    for line in script.lines() {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        let slot = match name.trim() {
            "FLASH" => &mut flash,
            "RAM" => &mut ram,
            _ => continue,
        };
        let length = rest
            .split(',')
            .find_map(|part| part.trim().strip_prefix("LENGTH"))
            .and_then(|v| v.trim_start().strip_prefix('='))
            .and_then(parse_length)
            .ok_or_else(|| format!("cannot read the LENGTH of {}", name.trim()))?;
        *slot = Some(length);
    }
    match (flash, ram) {
        (Some(f), Some(r)) => Ok((f, r)),
        _ => Err("no FLASH and RAM regions in MEMORY".to_owned()),
    }
}

/// Checks that a variant's linker script gives FLASH and RAM exactly its budgets.
fn check_link_script(variant: &str, script: &str, row: &Row) -> Result<(), String> {
    let (flash, ram) = memory_lengths(script).map_err(|e| format!("link/{variant}.x: {e}"))?;
    let (Some(&flash_budget), Some(&ram_budget)) = (row.budget.first(), row.budget.get(3)) else {
        return Err(format!("{variant}: the row has no flash and RAM budgets"));
    };
    if (flash, ram) != (flash_budget, ram_budget) {
        return Err(format!(
            "link/{variant}.x gives FLASH {flash} and RAM {ram} bytes, but \
             memory-budget.md budgets flash {flash_budget} and RAM {ram_budget}: keep them equal"
        ));
    }
    Ok(())
}

/// Measures every variant of the table: flash, static RAM, stack peak, RAM.
pub(crate) fn measure_all(
    elf_dir: &Path,
    stack_file: &Path,
    link_dir: &Path,
    rows: &[Row],
) -> Result<Vec<Vec<u64>>, String> {
    let stack = std::fs::read_to_string(stack_file).map_err(|e| {
        format!(
            "cannot read the stack peaks {}: {e} (tests/mcu-firmware.sh writes them)",
            stack_file.display()
        )
    })?;
    let peaks = parse_stack(&stack).map_err(|e| format!("{}: {e}", stack_file.display()))?;
    let mut measured = Vec::with_capacity(rows.len());
    let mut errors = Vec::new();
    for row in rows {
        let variant = row.label();
        let script = link_dir.join(format!("{variant}.x"));
        let checked = std::fs::read_to_string(&script)
            .map_err(|e| format!("cannot read {}: {e}", script.display()))
            .and_then(|text| check_link_script(&variant, &text, row));
        let values = checked.and_then(|()| {
            let [flash, static_ram] = sections(&elf_dir.join(&variant))?;
            let peak = *peaks
                .get(&variant)
                .ok_or_else(|| format!("{}: no stack peak of {variant}", stack_file.display()))?;
            Ok(vec![flash, static_ram, peak, static_ram + peak])
        });
        match values {
            Ok(v) => measured.push(v),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(measured)
    } else {
        Err(errors.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{parse_table, report, update_doc};
    use super::*;

    const DOC: &str = "# B\n\n## Cortex-M firmware\n\nWords.\n\n\
| variant | flash budget | flash measured | static RAM budget | static RAM measured | stack peak budget | stack peak measured | RAM budget | RAM measured |\n\
|---|---|---|---|---|---|---|---|---|\n\
| fw-gzip | 49152 | - | 1024 | - | 48000 | - | 49152 | - |\n\
| fw-plain | 49152 | - | 1024 | - | 15000 | - | 16384 | - |\n\
\n## Next\n";

    #[test]
    fn reads_the_firmware_table_and_reports_over_budget() {
        let (layout, rows) = parse_table(DOC, &FIRMWARE).expect("parses");
        assert_eq!(layout.budget, [1, 3, 5, 7]);
        assert_eq!(rows[1].keys, ["fw-plain"]);
        assert_eq!(rows[1].budget, [49152, 1024, 15000, 16384]);
        let measured = [vec![40000, 8, 45000, 45008], vec![49153, 0, 16000, 16000]];
        let (table, over) = report(&FIRMWARE, &rows, &measured);
        assert_eq!(
            over,
            [
                "fw-plain flash: 49153 > 49152 (+1)",
                "fw-plain stack peak: 16000 > 15000 (+1000)"
            ]
        );
        assert!(table.contains("fw-gzip    RAM             49152      45008       4144"));
        let updated = update_doc(DOC, &layout, &rows, &measured);
        assert!(updated
            .contains("| fw-gzip | 49152 | 40000 | 1024 | 8 | 48000 | 45000 | 49152 | 45008 |"));
    }

    #[test]
    fn stack_file_keeps_the_largest_peak_per_variant() {
        let peaks = parse_stack("# runs\nfw-gzip 100\nfw-plain 7\n\nfw-gzip 300\nfw-gzip 200\n")
            .expect("parses");
        assert_eq!(peaks.get("fw-gzip"), Some(&300));
        assert_eq!(peaks.get("fw-plain"), Some(&7));
        assert!(parse_stack("fw-gzip\n").unwrap_err().contains("line 1"));
        assert!(parse_stack("fw-gzip 1 2\n").is_err());
        assert!(parse_stack("fw-gzip lots\n")
            .unwrap_err()
            .contains("'lots'"));
    }

    #[test]
    fn linker_script_lengths_must_equal_the_budgets() {
        let script = "MEMORY\n{\n  FLASH : ORIGIN = 0x00000000, LENGTH = 48K\n  RAM : ORIGIN = 0x20000000, LENGTH = 0x4000\n}\n";
        assert_eq!(memory_lengths(script), Ok((49152, 16384)));
        assert_eq!(parse_length("1M"), Some(1 << 20));
        assert_eq!(parse_length("12"), Some(12));
        assert_eq!(parse_length("K"), None);
        assert!(memory_lengths("MEMORY { }").is_err());
        let (_, rows) = parse_table(DOC, &FIRMWARE).expect("parses");
        assert_eq!(check_link_script("fw-plain", script, &rows[1]), Ok(()));
        let err = check_link_script("fw-gzip", script, &rows[0]).expect_err("RAM differs");
        assert!(
            err.contains("RAM 16384") && err.contains("RAM 49152"),
            "{err}"
        );
    }

    /// The real table and the real linker scripts agree, so a build over budget cannot link.
    #[test]
    fn the_budget_document_matches_the_linker_scripts() {
        let doc = std::fs::read_to_string(workspace_root().join("memory-budget.md"))
            .expect("memory-budget.md");
        let (_, rows) = parse_table(&doc, &FIRMWARE).expect("memory-budget.md firmware table");
        let names: Vec<String> = rows.iter().map(Row::label).collect();
        assert_eq!(names, ["fw-gzip", "fw-plain"]);
        for row in &rows {
            let path = link_dir().join(format!("{}.x", row.label()));
            let script = std::fs::read_to_string(&path).expect("linker script");
            check_link_script(&row.label(), &script, row).expect("script matches budget");
        }
    }

    #[test]
    fn a_missing_elf_or_stack_peak_is_an_error() {
        let (_, rows) = parse_table(DOC, &FIRMWARE).expect("parses");
        let dir = std::env::temp_dir().join(format!("size-check-fw-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let stack = dir.join("stack.txt");
        std::fs::write(&stack, "fw-gzip 10\n").expect("stack file");
        for (variant, ram) in [("fw-gzip", "48K"), ("fw-plain", "16K")] {
            let script = format!("MEMORY {{\n FLASH : ORIGIN = 0, LENGTH = 48K\n RAM : ORIGIN = 0x20000000, LENGTH = {ram}\n}}\n");
            std::fs::write(dir.join(format!("{variant}.x")), script).expect("script");
        }
        let err = measure_all(&dir, &stack, &dir, &rows).expect_err("no ELFs");
        assert!(err.contains("no such firmware ELF"), "{err}");
        let err = measure_all(&dir, &dir.join("none.txt"), &dir, &rows).expect_err("no stack file");
        assert!(err.contains("tests/mcu-firmware.sh"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
