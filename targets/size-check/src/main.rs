//! Holds the release binaries that `targets/build.sh` builds to the "Binary size" table of
//! memory-budget.md: stripped file bytes and the text/data/bss that binutils `size` reports,
//! per target. Every cell is printed as budget against measured, and any cell over its budget
//! fails the run, so CI stops growth where it happens rather than on a device.
//!
//! `size-check [--doc FILE] [--dir DIR] [--update]`: DIR holds `<target>/release/<binary>`
//! (default: as targets/build.sh, `${CROSS_TARGET_DIR:-${CARGO_TARGET_DIR:-target}/cross}` from
//! the workspace root); `--update` also writes the measured columns back into the table.
//! Binutils `size` and `readelf` read ELF of every architecture, so no cross binutils are needed.
//!
//! `size-check --firmware [--doc FILE] [--elf-dir DIR] [--stack FILE] [--update]` holds the
//! Cortex-M firmware to the "Cortex-M firmware" table instead (see [`firmware`]).
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

mod firmware;

/// A budget table of memory-budget.md: where it is, which columns name a row, and what is
/// measured (each metric has a "<metric> budget" and a "<metric> measured" column).
#[derive(Debug)]
struct Spec {
    /// The heading that opens the table's section.
    section: &'static str,
    /// Columns naming a row, with the width each gets in the report.
    keys: &'static [(&'static str, usize)],
    metrics: &'static [&'static str],
}

/// The release binaries of targets/build.sh.
const BINARIES: Spec = Spec {
    section: "## Binary size",
    keys: &[("binary", 8), ("target", 32)],
    metrics: &["file", "text", "data", "bss"],
};

/// Where the table's columns are.
#[derive(Debug, PartialEq)]
struct Layout {
    width: usize,
    keys: Vec<usize>,
    budget: Vec<usize>,
    measured: Vec<usize>,
}

/// One row of a table and its budgets, in the order of the spec's metrics.
#[derive(Debug, PartialEq)]
struct Row {
    /// 0-based line index in the document, for `--update`.
    line: usize,
    cells: Vec<String>,
    keys: Vec<String>,
    budget: Vec<u64>,
}

impl Row {
    /// The row's key cells, for messages.
    fn label(&self) -> String {
        self.keys.join(" ")
    }
}

fn cells(line: &str) -> Vec<String> {
    let line = line.trim();
    let line = line.strip_prefix('|').unwrap_or(line);
    let line = line.strip_suffix('|').unwrap_or(line);
    line.split('|').map(|c| c.trim().to_owned()).collect()
}

/// A table number; `,` `_` and spaces group digits for the reader.
fn parse_number(cell: &str) -> Option<u64> {
    let digits: String = cell
        .chars()
        .filter(|c| !matches!(c, ',' | '_' | ' '))
        .collect();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Finds the table under the spec's section and reads its budgets. Errors name the line.
fn parse_table(doc: &str, spec: &Spec) -> Result<(Layout, Vec<Row>), String> {
    let section = spec.section;
    let lines: Vec<&str> = doc.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with(section))
        .ok_or_else(|| format!("no section starting with '{section}'"))?;
    let mut at = start + 1;
    while let Some(line) = lines.get(at) {
        if line.trim_start().starts_with('|') {
            break;
        }
        if line.starts_with("## ") {
            return Err(format!("no table under '{section}'"));
        }
        at += 1;
    }
    let header = lines
        .get(at)
        .map(|l| cells(l))
        .ok_or_else(|| format!("no table under '{section}'"))?;
    let find = |name: &str| header.iter().position(|c| c == name);
    let mut missing = Vec::new();
    let mut column = |name: String| {
        find(&name).unwrap_or_else(|| {
            missing.push(name);
            0
        })
    };
    let keys: Vec<usize> = spec
        .keys
        .iter()
        .map(|(k, _)| column((*k).to_owned()))
        .collect();
    let budget: Vec<usize> = spec
        .metrics
        .iter()
        .map(|m| column(format!("{m} budget")))
        .collect();
    let measured: Vec<usize> = spec
        .metrics
        .iter()
        .map(|m| column(format!("{m} measured")))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "line {}: the table has no column {}",
            at + 1,
            missing.join(", ")
        ));
    }
    let layout = Layout {
        width: header.len(),
        keys,
        budget,
        measured,
    };
    let separator = lines.get(at + 1).map(|l| cells(l)).unwrap_or_default();
    let is_rule = |c: &String| !c.is_empty() && c.chars().all(|ch| matches!(ch, '-' | ':'));
    if separator.len() != layout.width || !separator.iter().all(is_rule) {
        return Err(format!("line {}: expected the table's |---| line", at + 2));
    }
    let mut rows = Vec::new();
    for (line, text) in lines.iter().enumerate().skip(at + 2) {
        if !text.trim_start().starts_with('|') {
            break;
        }
        let cells = cells(text);
        if cells.len() != layout.width {
            return Err(format!(
                "line {}: {} cells, the header has {}",
                line + 1,
                cells.len(),
                layout.width
            ));
        }
        let cell = |i: usize| cells.get(i).map_or("", String::as_str);
        let mut budget = Vec::with_capacity(spec.metrics.len());
        for (metric, &col) in spec.metrics.iter().zip(&layout.budget) {
            budget.push(parse_number(cell(col)).ok_or_else(|| {
                format!(
                    "line {}: '{metric} budget' is not a number: '{}'",
                    line + 1,
                    cell(col)
                )
            })?);
        }
        rows.push(Row {
            line,
            keys: layout.keys.iter().map(|&k| cell(k).to_owned()).collect(),
            cells,
            budget,
        });
    }
    if rows.is_empty() {
        return Err(format!("line {}: the table has no rows", at + 1));
    }
    Ok((layout, rows))
}

/// text, data and bss from the Berkeley format of binutils `size` (a header line, then
/// `text data bss dec hex filename`).
fn parse_berkeley(output: &str) -> Option<[u64; 3]> {
    let mut words = output.lines().nth(1)?.split_whitespace();
    let mut next = || words.next().and_then(|w| w.parse::<u64>().ok());
    Some([next()?, next()?, next()?])
}

/// Bytes of the `.relro_padding` section in `size -A` output (0 without one). rust-lld, the
/// default linker of x86_64-unknown-linux-gnu since Rust 1.90, pads the RELRO segment to a
/// page boundary with this NOBITS section; Berkeley `size` counts it as bss although nothing
/// lives there, and it swings between 0 and 4095 bytes with the layout.
fn relro_padding(sysv: &str) -> u64 {
    sysv.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            (w.next()? == ".relro_padding").then(|| w.next()?.parse::<u64>().ok())?
        })
        .sum()
}

/// Section names that show a binary was not stripped, from `readelf -S -W`.
fn unstripped_sections(readelf: &str) -> Vec<String> {
    readelf
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix('['))
        .filter_map(|l| l.split_once(']'))
        .filter_map(|(_, rest)| rest.split_whitespace().next())
        .filter(|name| *name == ".symtab" || name.starts_with(".debug"))
        .map(str::to_owned)
        .collect()
}

fn tool_output(tool: &str, bin: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new(tool)
        .args(args)
        .arg(bin)
        .output()
        .map_err(|e| format!("cannot run `{tool}` (binutils): {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`{tool} {} {}` failed: {}",
            args.join(" "),
            bin.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// File bytes, text, data and bss of a stripped binary; an unstripped one is an error, since
/// its file size says nothing about flash use.
fn measure(bin: &Path) -> Result<[u64; 4], String> {
    let file = std::fs::metadata(bin)
        .map_err(|e| {
            format!(
                "{}: {e} (build it with `bash targets/build.sh`)",
                bin.display()
            )
        })?
        .len();
    let symbols = unstripped_sections(&tool_output("readelf", bin, &["-S", "-W"])?);
    if !symbols.is_empty() {
        return Err(format!(
            "{} is not stripped (has {}): the release profile must keep strip = true",
            bin.display(),
            symbols.join(", ")
        ));
    }
    let size = tool_output("size", bin, &[])?;
    let [text, data, bss] = parse_berkeley(&size)
        .ok_or_else(|| format!("cannot read `size {}`: {size}", bin.display()))?;
    let padding = relro_padding(&tool_output("size", bin, &["-A"])?);
    Ok([file, text, data, bss.saturating_sub(padding)])
}

/// The budget-against-measured table, and one line per cell over its budget.
fn report(spec: &Spec, rows: &[Row], measured: &[Vec<u64>]) -> (String, Vec<String>) {
    let mut text = String::new();
    let mut over = Vec::new();
    let metric_width = spec
        .metrics
        .iter()
        .map(|m| m.len())
        .max()
        .unwrap_or(0)
        .max(6);
    for (name, width) in spec.keys {
        let _ = write!(text, "{name:<width$} ");
    }
    let _ = writeln!(
        text,
        "{:<metric_width$} {:>10} {:>10} {:>10}",
        "column", "budget", "measured", "headroom"
    );
    for (row, values) in rows.iter().zip(measured) {
        for ((metric, &budget), &value) in spec.metrics.iter().zip(&row.budget).zip(values) {
            let verdict = match budget.checked_sub(value) {
                Some(room) => room.to_string(),
                None => {
                    let excess = value.saturating_sub(budget);
                    over.push(format!(
                        "{} {metric}: {value} > {budget} (+{excess})",
                        row.label()
                    ));
                    format!("OVER by {excess}")
                }
            };
            for ((_, width), key) in spec.keys.iter().zip(&row.keys) {
                let _ = write!(text, "{key:<width$} ");
            }
            let _ = writeln!(
                text,
                "{metric:<metric_width$} {budget:>10} {value:>10} {verdict:>10}"
            );
        }
    }
    (text, over)
}

/// The document with the measured columns of every row replaced; every other line as it was.
fn update_doc(doc: &str, layout: &Layout, rows: &[Row], measured: &[Vec<u64>]) -> String {
    let mut lines: Vec<String> = doc.lines().map(str::to_owned).collect();
    for (row, values) in rows.iter().zip(measured) {
        let mut cells = row.cells.clone();
        for (&col, value) in layout.measured.iter().zip(values) {
            if let Some(cell) = cells.get_mut(col) {
                *cell = value.to_string();
            }
        }
        if let Some(line) = lines.get_mut(row.line) {
            *line = format!("| {} |", cells.join(" | "));
        }
    }
    let mut out = lines.join("\n");
    if doc.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// Prints the report, writes the measured columns with `update`, and says whether every
/// cell is within its budget.
fn conclude(
    spec: &Spec,
    doc_path: &Path,
    doc: &str,
    (layout, rows): (&Layout, &[Row]),
    measured: &[Vec<u64>],
    update: bool,
) -> Result<bool, String> {
    let (table, over) = report(spec, rows, measured);
    print!("{table}");
    if update {
        std::fs::write(doc_path, update_doc(doc, layout, rows, measured))
            .map_err(|e| format!("cannot write {}: {e}", doc_path.display()))?;
        println!(
            "size-check: measured columns written to {}",
            doc_path.display()
        );
    }
    if over.is_empty() {
        println!(
            "size-check: {} rows of '{}' within budget ({})",
            rows.len(),
            spec.section,
            doc_path.display()
        );
        Ok(true)
    } else {
        eprintln!("size-check: over budget:\n  {}", over.join("\n  "));
        Ok(false)
    }
}

fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .nth(2)
        .map_or_else(|| manifest.to_path_buf(), Path::to_path_buf)
}

fn from_root(path: PathBuf) -> PathBuf {
    if path.is_absolute() {
        path
    } else {
        workspace_root().join(path)
    }
}

/// The output dir of targets/build.sh, found the same way it picks it.
fn default_dir() -> PathBuf {
    let set = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    match (set("CROSS_TARGET_DIR"), set("CARGO_TARGET_DIR")) {
        (Some(dir), _) => PathBuf::from(dir),
        (None, Some(target)) => PathBuf::from(target).join("cross"),
        (None, None) => PathBuf::from("target/cross"),
    }
}

/// Which table is checked, and where its measurements come from.
#[derive(Debug, PartialEq)]
enum Mode {
    /// The release binaries of targets/build.sh, under `dir`.
    Binaries { dir: PathBuf },
    /// The firmware ELFs under `elf_dir` and the stack peaks their QEMU runs printed.
    Firmware { elf_dir: PathBuf, stack: PathBuf },
}

#[derive(Debug)]
struct Args {
    doc: PathBuf,
    update: bool,
    mode: Mode,
}

const USAGE: &str = "usage: size-check [--doc FILE] [--dir DIR] [--update]\n       size-check --firmware [--doc FILE] [--elf-dir DIR] [--stack FILE] [--update]";

fn parse_args(mut args: impl Iterator<Item = OsString>) -> Result<Args, String> {
    let mut doc = PathBuf::from("memory-budget.md");
    let mut dir = None;
    let mut elf_dir = None;
    let mut stack = None;
    let mut firmware = false;
    let mut update = false;
    while let Some(arg) = args.next() {
        match arg.to_str() {
            Some("--doc") => doc = args.next().ok_or("--doc needs a file")?.into(),
            Some("--dir") => dir = Some(args.next().ok_or("--dir needs a directory")?.into()),
            Some("--elf-dir") => {
                elf_dir = Some(args.next().ok_or("--elf-dir needs a directory")?.into())
            }
            Some("--stack") => stack = Some(args.next().ok_or("--stack needs a file")?.into()),
            Some("--firmware") => firmware = true,
            Some("--update") => update = true,
            _ => return Err(format!("unknown argument {arg:?}")),
        }
    }
    let mode = if firmware {
        if dir.is_some() {
            return Err("--dir is for the binaries; the firmware takes --elf-dir".into());
        }
        Mode::Firmware {
            elf_dir: from_root(elf_dir.unwrap_or_else(firmware::default_elf_dir)),
            stack: from_root(stack.unwrap_or_else(firmware::default_stack_file)),
        }
    } else {
        if elf_dir.is_some() || stack.is_some() {
            return Err("--elf-dir and --stack need --firmware".into());
        }
        Mode::Binaries {
            dir: from_root(dir.unwrap_or_else(default_dir)),
        }
    };
    Ok(Args {
        doc: from_root(doc),
        update,
        mode,
    })
}

fn run(args: &Args) -> Result<bool, String> {
    let doc = std::fs::read_to_string(&args.doc)
        .map_err(|e| format!("cannot read {}: {e}", args.doc.display()))?;
    let spec = match args.mode {
        Mode::Binaries { .. } => &BINARIES,
        Mode::Firmware { .. } => &firmware::FIRMWARE,
    };
    let (layout, rows) =
        parse_table(&doc, spec).map_err(|e| format!("{}: {e}", args.doc.display()))?;
    let measured = match &args.mode {
        Mode::Binaries { dir } => measure_binaries(dir, &rows)?,
        Mode::Firmware { elf_dir, stack } => {
            firmware::measure_all(elf_dir, stack, &firmware::link_dir(), &rows)?
        }
    };
    conclude(
        spec,
        &args.doc,
        &doc,
        (&layout, &rows),
        &measured,
        args.update,
    )
}

/// Measures the binary of every row of the binary table.
fn measure_binaries(dir: &Path, rows: &[Row]) -> Result<Vec<Vec<u64>>, String> {
    let mut measured = Vec::with_capacity(rows.len());
    let mut errors = Vec::new();
    for row in rows {
        let (binary, target) = match row.keys.as_slice() {
            [binary, target] => (binary, target),
            _ => return Err(format!("row {}: expected binary and target", row.label())),
        };
        let bin = dir.join(target).join("release").join(binary);
        match measure(&bin) {
            Ok(values) => measured.push(values.to_vec()),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(measured)
    } else {
        Err(errors.join("\n"))
    }
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args_os().skip(1)) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("size-check: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("size-check: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "# Budgets\n\n## Binary size (stripped)\n\nSome words.\n\n\
| binary | target | file budget | file measured | text budget | text measured | data budget | data measured | bss budget | bss measured |\n\
|---|---|---|---|---|---|---|---|---|---|\n\
| mender | aarch64-unknown-linux-musl | 1,600,000 | - | 1000 | - | 200 | - | 30 | - |\n\
| mender | x86_64-unknown-linux-musl | 1_900_000 | 5 | 1000 | 5 | 200 | 5 | 30 | 5 |\n\
\nGoal: less.\n\n## RAM\n\n| item | budget |\n|---|---|\n| Reader | 1 |\n";

    #[test]
    fn reads_budgets_by_column_name() {
        let (layout, rows) = parse_table(DOC, &BINARIES).expect("parses");
        assert_eq!(layout.width, 10);
        assert_eq!(layout.budget, [2, 4, 6, 8]);
        assert_eq!(layout.measured, [3, 5, 7, 9]);
        assert_eq!(rows.len(), 2);
        assert_eq!(layout.keys, [0, 1]);
        assert_eq!(rows[0].keys, ["mender", "aarch64-unknown-linux-musl"]);
        assert_eq!(rows[0].budget, [1_600_000, 1000, 200, 30]);
        assert_eq!(rows[1].budget, [1_900_000, 1000, 200, 30]);
        assert_eq!(rows[1].line, 9);
    }

    #[test]
    fn rejects_malformed_tables() {
        let no_column = DOC.replace("bss budget", "bss limit");
        let err = parse_table(&no_column, &BINARIES).expect_err("missing column");
        assert!(err.contains("no column bss budget"), "{err}");
        let bad_number = DOC.replace("| 1000 | - |", "| lots | - |");
        let err = parse_table(&bad_number, &BINARIES).expect_err("bad number");
        assert!(
            err.contains("line 9") && err.contains("'text budget'"),
            "{err}"
        );
        let short_row = DOC.replace("| 30 | 5 |\n", "| 30 |\n");
        assert!(parse_table(&short_row, &BINARIES)
            .expect_err("short")
            .contains("line 10"));
        let no_section = DOC.replace("## Binary size", "## Sizes");
        assert!(parse_table(&no_section, &BINARIES).is_err());
        assert!(parse_table(
            "## Binary size\n\ntext\n\n## RAM\n| a |\n|---|\n",
            &BINARIES
        )
        .is_err());
        assert_eq!(parse_number("-"), None);
        assert_eq!(parse_number(""), None);
        assert_eq!(parse_number("+5"), None);
        assert_eq!(parse_number("99999999999999999999999"), None);
    }

    #[test]
    fn over_budget_is_reported_at_the_first_byte() {
        let (_, rows) = parse_table(DOC, &BINARIES).expect("parses");
        let measured = [vec![1_600_000, 1000, 200, 30], vec![1_900_001, 999, 201, 0]];
        let (table, over) = report(&BINARIES, &rows, &measured);
        assert_eq!(
            over,
            vec![
                "mender x86_64-unknown-linux-musl file: 1900001 > 1900000 (+1)".to_owned(),
                "mender x86_64-unknown-linux-musl data: 201 > 200 (+1)".to_owned(),
            ]
        );
        assert_eq!(table.lines().count(), 1 + 8);
        assert_eq!(table.matches("OVER by 1").count(), 2);
        assert!(table
            .contains("aarch64-unknown-linux-musl       file      1600000    1600000          0"));
    }

    #[test]
    fn update_rewrites_only_measured_cells() {
        let (layout, rows) = parse_table(DOC, &BINARIES).expect("parses");
        let measured = [vec![11, 12, 13, 14], vec![21, 22, 23, 24]];
        let updated = update_doc(DOC, &layout, &rows, &measured);
        let (_, again) = parse_table(&updated, &BINARIES).expect("still parses");
        assert_eq!(again[0].budget, rows[0].budget);
        let changed: Vec<(&str, &str)> = DOC
            .lines()
            .zip(updated.lines())
            .filter(|(a, b)| a != b)
            .collect();
        assert_eq!(changed.len(), 2);
        assert_eq!(
            changed[0].1,
            "| mender | aarch64-unknown-linux-musl | 1,600,000 | 11 | 1000 | 12 | 200 | 13 | 30 | 14 |"
        );
        assert_eq!(DOC.lines().count(), updated.lines().count());
        assert!(updated.ends_with("| Reader | 1 |\n"));
    }

    #[test]
    fn reads_size_and_readelf_output() {
        let berkeley = "   text\t   data\t    bss\t    dec\t    hex\tfilename\n 904824\t  40420\t   3960\t 949204\t  e7bd4\tmender\n";
        assert_eq!(parse_berkeley(berkeley), Some([904_824, 40_420, 3960]));
        assert_eq!(parse_berkeley("text data bss\n"), None);
        let sections = "  [Nr] Name Type\n  [ 0]                   NULL\n  [ 1] .text PROGBITS\n  [27] .symtab SYMTAB\n  [28] .debug_info PROGBITS\n";
        assert_eq!(
            unstripped_sections(sections),
            vec![".symtab", ".debug_info"]
        );
        assert!(unstripped_sections("  [ 1] .text PROGBITS\n  [ 2] .strtab STRTAB\n").is_empty());
        // `size -A` of an x86_64-gnu build by rust-lld: the padding is not counted as bss.
        let sysv = "mender  :\nsection             size      addr\n.tbss                 24    960528\n.relro_padding      3808   1003808\n.bss                 228   1010504\nTotal            1028000\n";
        assert_eq!(relro_padding(sysv), 3808);
        assert_eq!(relro_padding(".bss 228 1010504\n"), 0);
    }

    /// A binary with its symbols must be refused rather than measured; stripped, the same
    /// binary measures as `size` and the file system say.
    #[test]
    fn only_stripped_binaries_are_measured() {
        let dir = std::env::temp_dir().join(format!("size-check-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let src = dir.join("hello.c");
        std::fs::write(&src, "int main(void) { return 0; }\n").expect("write C source");
        let bin = dir.join("hello");
        let built = Command::new("gcc").arg("-o").arg(&bin).arg(&src).status();
        assert!(
            built.is_ok_and(|s| s.success()),
            "gcc (tests/setup.sh) failed"
        );
        let err = measure(&bin).expect_err("unstripped");
        assert!(
            err.contains("is not stripped") && err.contains(".symtab"),
            "{err}"
        );
        let stripped = Command::new("strip").arg(&bin).status();
        assert!(stripped.is_ok_and(|s| s.success()), "strip failed");
        let [file, text, _, _] = measure(&bin).expect("stripped");
        assert_eq!(file, std::fs::metadata(&bin).expect("stat").len());
        assert!(text > 0 && text < file, "text {text}, file {file}");
        let _ = std::fs::remove_dir_all(&dir);
        let err = measure(Path::new("/nonexistent/mender")).expect_err("missing");
        assert!(err.contains("targets/build.sh"), "{err}");
    }

    /// The table CI reads must parse and hold a row for each target targets/build.sh builds.
    #[test]
    fn the_budget_document_has_every_target() {
        let doc = std::fs::read_to_string(workspace_root().join("memory-budget.md"))
            .expect("memory-budget.md");
        let (_, rows) = parse_table(&doc, &BINARIES).expect("memory-budget.md binary table");
        for target in [
            "x86_64-unknown-linux-gnu",
            "aarch64-unknown-linux-musl",
            "armv7-unknown-linux-gnueabihf",
            "x86_64-unknown-linux-musl",
        ] {
            assert!(
                rows.iter().any(|r| r.keys == ["mender", target]),
                "no mender row for {target}"
            );
        }
    }
}
