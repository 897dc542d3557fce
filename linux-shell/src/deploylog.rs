//! Deployment logs: `<data>/deployments.NNNN.<id>.log`, one JSON object per line, as the Go 3.x
//! client writes them (client-behavior.md §8), so the files, their rotation and the upload body
//! look the same to a server and to people reading them.
//!
//! * Names: `NNNN` is four digits, `0001` the newest; at most [`MAX_LOG_FILES`] are kept.
//! * Opening for a deployment rotates first: delete the oldest while there are more than five;
//!   if the newest file belongs to the same deployment, append to it; otherwise trim to four
//!   and rename each `NNNN` to `NNNN+1` (oldest first, so nothing is overwritten), then create
//!   `0001`. Files whose names do not parse are left alone (Go would count and delete them).
//! * Lines: `{"level":"info","message":"...","timestamp":"2026-11-22T11:38:19Z"}` with keys in
//!   that order, RFC 3339 UTC, escaped like Go's encoder; each append is followed by
//!   `fdatasync`, standing in for Go's `O_SYNC`. New files get mode 0600.
//! * The first line of every open is "Running Mender client version: <v>".
//! * Standalone installs have no server deployment ID; they use
//!   [`standalone_deployment_id`]: `standalone-<unix seconds>` of the install start.
//!
//! Not done here: the Go client refuses to log with 100 KiB or less free space in the data
//! directory; std has no `statvfs`, so that check is left to the caller.
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::config::json;

/// Log files kept in the data directory.
pub const MAX_LOG_FILES: usize = 5;
/// Lines longer than this are skipped when building the upload body (Go's scanner limit).
pub const MAX_LINE_BYTES: usize = 64 * 1024;
/// Longest accepted deployment ID; keeps the file name under the usual 255-byte limit.
pub const MAX_ID_LEN: usize = 200;
const PREFIX: &str = "deployments.";

/// logrus level names, most severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Panic,
    Fatal,
    Error,
    Warning,
    Info,
    Debug,
    Trace,
}

impl Level {
    /// The name written in the `level` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Panic => "panic",
            Level::Fatal => "fatal",
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Info => "info",
            Level::Debug => "debug",
            Level::Trace => "trace",
        }
    }
}

/// The ID used for a standalone install started at `start`: `standalone-<unix seconds>`.
/// Store it with the install state so `commit`/`rollback` append to the same file.
pub fn standalone_deployment_id(start: SystemTime) -> String {
    format!("standalone-{}", unix_seconds(start))
}

/// `deployments.NNNN.<id>.log`.
pub fn file_name(seq: u32, id: &str) -> String {
    format!("{PREFIX}{seq:04}.{id}.log")
}

/// An open deployment log; every [`DeploymentLog::write`] is synced to disk before it returns.
#[derive(Debug)]
pub struct DeploymentLog {
    file: File,
    path: PathBuf,
    id: String,
}

impl DeploymentLog {
    /// Rotates the logs in `dir` for `deployment_id`, opens (or creates, mode 0600)
    /// `deployments.0001.<id>.log` for appending and writes the version line. The ID must be
    /// a plain file-name part: non-empty, at most [`MAX_ID_LEN`] bytes, without `/`, `.` or
    /// NUL (server-supplied IDs are UUIDs).
    pub fn open(dir: &Path, deployment_id: &str, client_version: &str) -> io::Result<Self> {
        check_id(deployment_id)?;
        rotate(dir, deployment_id)?;
        let path = dir.join(file_name(1, deployment_id));
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&path)?;
        // Make the renames and the new name durable; a failure here only risks the log.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        let mut log = DeploymentLog {
            file,
            path,
            id: deployment_id.to_string(),
        };
        log.write(
            Level::Info,
            &format!("Running Mender client version: {client_version}"),
        )?;
        Ok(log)
    }

    /// Appends one entry stamped with the current time.
    pub fn write(&mut self, level: Level, message: &str) -> io::Result<()> {
        self.write_at(level, message, SystemTime::now())
    }

    /// Appends one entry with the given time (tests, replay).
    pub fn write_at(&mut self, level: Level, message: &str, time: SystemTime) -> io::Result<()> {
        let line = entry_line(level, message, time);
        self.file.write_all(line.as_bytes())?;
        self.file.sync_data()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn deployment_id(&self) -> &str {
        &self.id
    }
}

/// One log line including its `\n`.
pub fn entry_line(level: Level, message: &str, time: SystemTime) -> String {
    let mut s = String::with_capacity(message.len().saturating_add(80));
    s.push_str("{\"level\":\"");
    s.push_str(level.as_str());
    s.push_str("\",\"message\":");
    json::write_string(&mut s, message);
    s.push_str(",\"timestamp\":\"");
    s.push_str(&rfc3339_utc(time));
    s.push_str("\"}\n");
    s
}

fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => {
            let d = e.duration();
            let whole = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            // Round towards the past, so a time is printed in the second it falls in.
            let extra = i64::from(d.subsec_nanos() > 0);
            whole.saturating_neg().saturating_sub(extra)
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ`, Go's `time.RFC3339` for a UTC time (whole seconds).
pub fn rfc3339_utc(t: SystemTime) -> String {
    let secs = unix_seconds(t);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        y,
        m,
        d,
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (the "days from civil" inverse
/// from Howard Hinnant's date algorithms).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // |days| <= i64::MAX / 86400, so none of this can overflow.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32; // [1, 31]
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32; // [1, 12]
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn check_id(id: &str) -> io::Result<()> {
    if id.is_empty() || id.len() > MAX_ID_LEN || id.contains(['/', '.', '\0']) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid deployment ID for a log file name: {id:?}"),
        ));
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct LogFile {
    seq: u32,
    id: String,
    name: String,
}

fn parse_name(name: &str) -> Option<LogFile> {
    let rest = name.strip_prefix(PREFIX)?.strip_suffix(".log")?;
    let (num, id) = rest.split_once('.')?;
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) || id.is_empty() {
        return None;
    }
    if id.contains('.') {
        return None;
    }
    Some(LogFile {
        seq: num.parse().ok()?,
        id: id.to_string(),
        name: name.to_string(),
    })
}

/// Well-formed log files in `dir`, oldest (highest number) first.
fn list_logs(dir: &Path) -> io::Result<Vec<LogFile>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if let Some(f) = entry.file_name().to_str().and_then(parse_name) {
            out.push(f);
        }
    }
    // Insertion sort: a handful of files, and no sort routine pulled in for it.
    for i in 1..out.len() {
        let mut j = i;
        while j > 0 {
            let (Some(a), Some(b)) = (out.get(j - 1), out.get(j)) else {
                break;
            };
            if (a.seq, &a.name) >= (b.seq, &b.name) {
                break;
            }
            out.swap(j - 1, j);
            j -= 1;
        }
    }
    Ok(out)
}

/// §8 rotation. Like Go, failures to delete or rename single files are ignored: the new log
/// never overwrites an old one because the names differ.
fn rotate(dir: &Path, id: &str) -> io::Result<()> {
    let mut files = list_logs(dir)?;
    while files.len() > MAX_LOG_FILES {
        let f = files.remove(0);
        let _ = fs::remove_file(dir.join(&f.name));
    }
    if files.last().is_some_and(|f| f.id == id) {
        return Ok(());
    }
    while files.len() > MAX_LOG_FILES.saturating_sub(1) {
        let f = files.remove(0);
        let _ = fs::remove_file(dir.join(&f.name));
    }
    for f in &files {
        if let Some(next) = f.seq.checked_add(1) {
            let _ = fs::rename(dir.join(&f.name), dir.join(file_name(next, &f.id)));
        }
    }
    Ok(())
}

/// The newest log file of a deployment, if any.
pub fn find_log(dir: &Path, deployment_id: &str) -> io::Result<Option<PathBuf>> {
    Ok(list_logs(dir)?
        .into_iter()
        .rev()
        .find(|f| f.id == deployment_id)
        .map(|f| dir.join(f.name)))
}

/// The body of the log upload (`PUT .../log`, §9.5): `{"messages":[<line>,...]}` with each
/// line that is valid JSON, compacted with Go's HTML escaping; other lines are skipped, and
/// no file gives `{"messages":[]}`.
pub fn upload_body(dir: &Path, deployment_id: &str) -> io::Result<String> {
    let mut body = String::from("{\"messages\":[");
    if let Some(path) = find_log(dir, deployment_id)? {
        let mut reader = BufReader::new(File::open(path)?);
        let mut line = Vec::new();
        let mut first = true;
        loop {
            line.clear();
            let limit = u64::try_from(MAX_LINE_BYTES).unwrap_or(u64::MAX);
            let n = (&mut reader).take(limit + 1).read_until(b'\n', &mut line)?;
            if n == 0 {
                break;
            }
            if line.last() != Some(&b'\n') && line.len() > MAX_LINE_BYTES {
                skip_rest_of_line(&mut reader)?;
                continue;
            }
            let text = line.strip_suffix(b"\n").unwrap_or(&line);
            let text = text.strip_suffix(b"\r").unwrap_or(text);
            if json::parse(text).is_err() {
                continue;
            }
            if !first {
                body.push(',');
            }
            first = false;
            compact_into(&mut body, text);
        }
    }
    body.push_str("]}");
    Ok(body)
}

fn skip_rest_of_line(reader: &mut impl BufRead) -> io::Result<()> {
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(());
        }
        match buf.iter().position(|&b| b == b'\n') {
            Some(i) => {
                reader.consume(i.saturating_add(1));
                return Ok(());
            }
            None => {
                let n = buf.len();
                reader.consume(n);
            }
        }
    }
}

/// Go's `compact` with HTML escaping, for a document already known to be valid JSON:
/// whitespace outside strings dropped; `<`, `>`, `&`, U+2028, U+2029 in strings escaped.
fn compact_into(out: &mut String, doc: &[u8]) {
    let mut buf: Vec<u8> = Vec::with_capacity(doc.len());
    let mut in_string = false;
    let mut escaped = false;
    let mut i = 0;
    while let Some(&c) = doc.get(i) {
        i = i.saturating_add(1);
        if !in_string {
            match c {
                b' ' | b'\t' | b'\n' | b'\r' => {}
                b'"' => {
                    in_string = true;
                    buf.push(c);
                }
                _ => buf.push(c),
            }
            continue;
        }
        if escaped {
            escaped = false;
            buf.push(c);
            continue;
        }
        match c {
            b'\\' => {
                escaped = true;
                buf.push(c);
            }
            b'"' => {
                in_string = false;
                buf.push(c);
            }
            b'<' => buf.extend_from_slice(b"\\u003c"),
            b'>' => buf.extend_from_slice(b"\\u003e"),
            b'&' => buf.extend_from_slice(b"\\u0026"),
            0xE2 if doc.get(i) == Some(&0x80)
                && matches!(doc.get(i.saturating_add(1)), Some(0xA8 | 0xA9)) =>
            {
                let last = doc.get(i.saturating_add(1)).copied().unwrap_or(0xA8);
                buf.extend_from_slice(if last == 0xA8 { b"\\u2028" } else { b"\\u2029" });
                i = i.saturating_add(2);
            }
            _ => buf.push(c),
        }
    }
    // Valid JSON in, so the bytes are UTF-8 except where the source had invalid UTF-8 in a
    // string; Go passes such bytes through, here they become U+FFFD.
    out.push_str(&String::from_utf8_lossy(&buf));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    fn tmpdir(tag: &str) -> PathBuf {
        static N: AtomicUsize = AtomicUsize::new(0);
        let d = std::env::temp_dir().join(format!(
            "mender-deploylog-{}-{}-{}",
            tag,
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    }

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339_utc(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(at(1_795_347_499)), "2026-11-22T11:38:19Z");
        assert_eq!(rfc3339_utc(at(951_782_400)), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(at(4_107_542_399)), "2100-02-28T23:59:59Z");
        assert_eq!(rfc3339_utc(at(4_107_542_400)), "2100-03-01T00:00:00Z");
        assert_eq!(rfc3339_utc(at(253_402_300_799)), "9999-12-31T23:59:59Z");
        // Sub-second parts are truncated; times before 1970 round to the earlier second.
        assert_eq!(
            rfc3339_utc(UNIX_EPOCH + Duration::from_millis(1999)),
            "1970-01-01T00:00:01Z"
        );
        assert_eq!(
            rfc3339_utc(UNIX_EPOCH - Duration::from_millis(500)),
            "1969-12-31T23:59:59Z"
        );
        assert_eq!(
            rfc3339_utc(UNIX_EPOCH - Duration::from_secs(86_400 * 365)),
            "1969-01-01T00:00:00Z"
        );
    }

    #[test]
    fn civil_dates_match_a_day_by_day_walk() {
        // Walk forward from 1970-01-01 for 1000 years of days with an independent calendar.
        let (mut y, mut m, mut d) = (1970i64, 1u32, 1u32);
        for days in 0..366_000i64 {
            assert_eq!(civil_from_days(days), (y, m, d), "day {days}");
            let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            let len = match m {
                2 if leap => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            d += 1;
            if d > len {
                d = 1;
                m += 1;
                if m > 12 {
                    m = 1;
                    y += 1;
                }
            }
        }
    }

    #[test]
    fn entry_format_and_escaping() {
        let line = entry_line(Level::Warning, "a \"b\"\n<c>&\u{1b}", at(1_795_347_499));
        assert_eq!(
            line,
            "{\"level\":\"warning\",\"message\":\"a \\\"b\\\"\\n\\u003cc\\u003e\\u0026\\u001b\",\
             \"timestamp\":\"2026-11-22T11:38:19Z\"}\n"
        );
        let v = json::parse(line.trim_end().as_bytes()).unwrap();
        assert_eq!(
            v.get("message"),
            Some(&json::Value::String("a \"b\"\n<c>&\u{1b}".into()))
        );
    }

    #[test]
    fn open_writes_version_line_mode_0600_and_appends() {
        let d = tmpdir("open");
        let mut log = DeploymentLog::open(&d, "dep-1", "1.2.3").unwrap();
        log.write_at(Level::Error, "boom", at(10)).unwrap();
        assert_eq!(log.path(), d.join("deployments.0001.dep-1.log"));
        assert_eq!(log.deployment_id(), "dep-1");
        drop(log);
        let mode = fs::metadata(d.join("deployments.0001.dep-1.log"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        // Same deployment again (e.g. `commit` after `install`): appended, not rotated.
        let mut log = DeploymentLog::open(&d, "dep-1", "1.2.3").unwrap();
        log.write_at(Level::Info, "again", at(11)).unwrap();
        let text = fs::read_to_string(log.path()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(lines[0].starts_with(
            "{\"level\":\"info\",\"message\":\"Running Mender client version: 1.2.3\",\
             \"timestamp\":\""
        ));
        assert_eq!(
            lines[1],
            "{\"level\":\"error\",\"message\":\"boom\",\"timestamp\":\"1970-01-01T00:00:10Z\"}"
        );
        assert_eq!(names(&d), vec!["deployments.0001.dep-1.log"]);
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn rotation_keeps_five_newest_first() {
        let d = tmpdir("rot");
        for i in 1..=7 {
            let mut log = DeploymentLog::open(&d, &format!("dep-{i}"), "v").unwrap();
            log.write_at(Level::Info, &format!("msg {i}"), at(i))
                .unwrap();
        }
        assert_eq!(
            names(&d),
            vec![
                "deployments.0001.dep-7.log",
                "deployments.0002.dep-6.log",
                "deployments.0003.dep-5.log",
                "deployments.0004.dep-4.log",
                "deployments.0005.dep-3.log",
            ]
        );
        // Contents moved with their names.
        let t = fs::read_to_string(d.join("deployments.0004.dep-4.log")).unwrap();
        assert!(t.contains("msg 4"), "{t}");
        // An older deployment ID that is not the newest gets a fresh file.
        DeploymentLog::open(&d, "dep-4", "v").unwrap();
        assert_eq!(
            names(&d),
            vec![
                "deployments.0001.dep-4.log",
                "deployments.0002.dep-7.log",
                "deployments.0003.dep-6.log",
                "deployments.0004.dep-5.log",
                "deployments.0005.dep-4.log",
            ]
        );
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn rotation_trims_excess_and_ignores_foreign_files() {
        let d = tmpdir("trim");
        for (seq, id) in [
            (1, "a"),
            (2, "b"),
            (3, "c"),
            (4, "d"),
            (5, "e"),
            (6, "f"),
            (7, "g"),
        ] {
            fs::write(d.join(file_name(seq, id)), format!("{id}\n")).unwrap();
        }
        fs::write(d.join("deployments.junk"), "x").unwrap();
        fs::write(d.join("deployments.0001.x.y.log"), "x").unwrap();
        // Newest belongs to "a": only the two oldest go, nothing is renamed.
        DeploymentLog::open(&d, "a", "v").unwrap();
        assert_eq!(
            names(&d),
            vec![
                "deployments.0001.a.log",
                "deployments.0001.x.y.log",
                "deployments.0002.b.log",
                "deployments.0003.c.log",
                "deployments.0004.d.log",
                "deployments.0005.e.log",
                "deployments.junk",
            ]
        );
        assert!(fs::read_to_string(d.join("deployments.0001.a.log"))
            .unwrap()
            .starts_with("a\n{"));
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn renames_run_oldest_first_so_nothing_is_overwritten() {
        // Two files of one deployment at adjacent numbers (e.g. after a manual cleanup).
        let d = tmpdir("order");
        fs::write(d.join(file_name(2, "x")), "older\n").unwrap();
        fs::write(d.join(file_name(1, "x")), "newer\n").unwrap();
        DeploymentLog::open(&d, "z", "v").unwrap();
        assert_eq!(
            fs::read_to_string(d.join(file_name(3, "x"))).unwrap(),
            "older\n"
        );
        assert_eq!(
            fs::read_to_string(d.join(file_name(2, "x"))).unwrap(),
            "newer\n"
        );
        assert_eq!(names(&d).len(), 3);
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn bad_ids_are_refused() {
        let d = tmpdir("ids");
        for id in [
            "",
            "../x",
            "a/b",
            "a.b",
            "a\0b",
            &"x".repeat(MAX_ID_LEN + 1),
        ] {
            let e = DeploymentLog::open(&d, id, "v").unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{id:?}");
        }
        assert!(names(&d).is_empty());
        let id = standalone_deployment_id(at(1_795_347_499));
        assert_eq!(id, "standalone-1795347499");
        DeploymentLog::open(&d, &id, "v").unwrap();
        assert_eq!(
            names(&d),
            vec!["deployments.0001.standalone-1795347499.log"]
        );
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn missing_dir_is_an_error() {
        let d = tmpdir("gone");
        assert!(DeploymentLog::open(&d.join("nope"), "x", "v").is_err());
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn upload_body_keeps_valid_lines_compacted() {
        let d = tmpdir("up");
        assert_eq!(upload_body(&d, "dep").unwrap(), "{\"messages\":[]}");
        let mut log = DeploymentLog::open(&d, "dep", "v").unwrap();
        log.write_at(Level::Info, "x<y", at(1)).unwrap();
        drop(log);
        let mut f = OpenOptions::new()
            .append(true)
            .open(d.join(file_name(1, "dep")))
            .unwrap();
        f.write_all(b"not json\n{ \"a\" : [1, \"s p\\u003c\"] , \"b\":\"<\xe2\x80\xa8\"}\r\n")
            .unwrap();
        f.write_all(&vec![b'7'; MAX_LINE_BYTES + 10]).unwrap();
        f.write_all(b"\n{\"last\":true}").unwrap();
        drop(f);
        let body = upload_body(&d, "dep").unwrap();
        let v = json::parse(body.as_bytes()).unwrap();
        let json::Value::Array(msgs) = v.get("messages").unwrap() else {
            panic!("{body}")
        };
        assert_eq!(msgs.len(), 4, "{body}");
        assert!(body.contains(
            ",{\"level\":\"info\",\"message\":\"x\\u003cy\",\"timestamp\":\"1970-01-01T00:00:01Z\"},"
        ));
        assert!(body.contains(",{\"a\":[1,\"s p\\u003c\"],\"b\":\"\\u003c\\u2028\"},"));
        assert!(body.ends_with(",{\"last\":true}]}"));
        assert_eq!(find_log(&d, "other").unwrap(), None);
        let _ = fs::remove_dir_all(&d);
    }
}
