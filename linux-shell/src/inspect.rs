//! `mender inspect ARTIFACT|- [--verify-key PEM] [--json]`: stream an Artifact once, verify
//! every checksum (and the signature when a key is given), print a summary.
use crate::verify::load_keys;
use mender_core::reader::{
    ArtifactHeader, Config, Event, HeapBuffers, PayloadFile, Reader, SignatureStatus,
};
use std::fmt::Write as _;
use std::io::Read;

/// Input read size: large enough to amortise syscalls, small next to the RAM budget.
const READ_CHUNK: usize = 64 * 1024;

/// Options of `mender inspect`.
pub struct InspectArgs {
    pub artifact: String,
    pub verify_keys: Vec<String>,
    pub json: bool,
}

/// Reads the Artifact and returns the text to print, or the error message.
pub fn run(args: &InspectArgs) -> Result<String, String> {
    let verifier = load_keys(&args.verify_keys)?;
    let mut input: Box<dyn Read> = if args.artifact == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(
            std::fs::File::open(&args.artifact)
                .map_err(|e| format!("can not open {}: {}", args.artifact, e))?,
        )
    };
    let mut buffers = HeapBuffers::new();
    let config = Config {
        verifier: if args.verify_keys.is_empty() {
            None
        } else {
            Some(&verifier)
        },
        ..Config::default()
    };
    let mut reader = Reader::new(buffers.buffers(), config);
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("reading {}: {}", args.artifact, e)),
        };
        let mut chunk = &buf[..n];
        loop {
            let (used, ev) = reader.feed(chunk).map_err(|e| e.to_string())?;
            let done = ev == Event::NeedMore;
            chunk = &chunk[used..];
            if done {
                break;
            }
        }
    }
    reader.finish().map_err(|e| e.to_string())?;
    let header = reader
        .header()
        .ok_or("reader: the Artifact has no header")?;
    let files: Vec<PayloadFile<'_>> = reader.files().collect();
    Ok(if args.json {
        json(&header, &files)
    } else {
        text(&header, &files)
    })
}

fn hex(b: &[u8; 32]) -> String {
    b.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{:02x}", b);
        s
    })
}

/// A JSON string literal.
fn js(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn js_list<I: IntoIterator<Item = S>, S: AsRef<str>>(items: I) -> String {
    let parts: Vec<String> = items.into_iter().map(|s| js(s.as_ref())).collect();
    format!("[{}]", parts.join(","))
}

/// Removes insignificant whitespace from validated JSON so the output stays one line.
fn compact(raw: &[u8]) -> String {
    let mut out = Vec::with_capacity(raw.len());
    let (mut in_str, mut esc) = (false, false);
    for &c in raw {
        if in_str {
            out.push(c);
            if esc {
                esc = false;
            } else if c == b'\\' {
                esc = true;
            } else if c == b'"' {
                in_str = false;
            }
        } else if c == b'"' {
            in_str = true;
            out.push(c);
        } else if !c.is_ascii_whitespace() {
            out.push(c);
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Payload 0's meta-data as one compact object: the signed members, then the augment's.
fn meta_data(h: &ArtifactHeader<'_>) -> Option<String> {
    let parts: Vec<String> = [h.meta_data, h.augment.and_then(|a| a.meta_data)]
        .into_iter()
        .flatten()
        .map(compact)
        .collect();
    let members: Vec<&str> = parts
        .iter()
        .map(|p| p.trim_start_matches('{').trim_end_matches('}'))
        .filter(|p| !p.is_empty())
        .collect();
    (!parts.is_empty()).then(|| format!("{{{}}}", members.join(",")))
}

fn signature_word(s: SignatureStatus) -> &'static str {
    match s {
        SignatureStatus::None => "none",
        SignatureStatus::Present => "present",
        SignatureStatus::Verified => "verified",
    }
}

/// One payload as both output formats show it (payload 0 carries the type-info).
struct PayloadView<'a> {
    kind: Option<String>,
    provides: Vec<(String, String)>,
    /// Values are `Err(list)` for list-valued (any-of) depends.
    depends: Vec<(String, Result<String, Vec<String>>)>,
    clears: Option<Vec<String>>,
    meta_data: Option<String>,
    files: Vec<&'a PayloadFile<'a>>,
}

fn payloads<'a>(h: &ArtifactHeader<'_>, files: &'a [PayloadFile<'a>]) -> Vec<PayloadView<'a>> {
    (0..h.info.payload_count())
        .map(|i| {
            let first = i == 0;
            PayloadView {
                kind: h.payload_type(i).map(|t| t.to_string()),
                provides: if first {
                    h.provides()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect()
                } else {
                    Vec::new()
                },
                depends: if first {
                    h.depends()
                        .map(|(k, v)| {
                            let vals: Vec<String> = v.values().map(|s| s.to_string()).collect();
                            let v = if v.is_list() {
                                Err(vals)
                            } else {
                                Ok(vals.concat())
                            };
                            (k.to_string(), v)
                        })
                        .collect()
                } else {
                    Vec::new()
                },
                clears: h
                    .clears()
                    .filter(|_| first)
                    .map(|c| c.map(|s| s.to_string()).collect()),
                meta_data: if first { meta_data(h) } else { None },
                files: files
                    .iter()
                    .filter(|f| usize::from(f.payload) == i)
                    .collect(),
            }
        })
        .collect()
}

fn json(h: &ArtifactHeader<'_>, files: &[PayloadFile]) -> String {
    let info = &h.info;
    let mut depends = Vec::new();
    if let Some(names) = info.depends_names() {
        depends.push(format!("\"artifact_name\":{}", js_list(names)));
    }
    if let Some(groups) = info.depends_groups() {
        depends.push(format!("\"artifact_group\":{}", js_list(groups)));
    }
    let mut scripts: Vec<&str> = h.scripts.iter().collect();
    scripts.sort_unstable();
    let payloads: Vec<String> = payloads(h, files)
        .iter()
        .map(|p| {
            let provides: Vec<String> =
                p.provides.iter().map(|(k, v)| format!("{}:{}", js(k), js(v))).collect();
            let deps: Vec<String> = p
                .depends
                .iter()
                .map(|(k, v)| match v {
                    Ok(one) => format!("{}:{}", js(k), js(one)),
                    Err(list) => format!("{}:{}", js(k), js_list(list)),
                })
                .collect();
            let pfiles: Vec<String> = p
                .files
                .iter()
                .map(|f| {
                    format!(
                        "{{\"name\":{},\"size\":{},\"sha256\":\"{}\"}}",
                        js(f.name),
                        f.size,
                        hex(&f.sha256)
                    )
                })
                .collect();
            format!(
                "{{\"type\":{},\"provides\":{{{}}},\"depends\":{{{}}},\"clears_provides\":{},\"meta_data\":{},\"files\":[{}]}}",
                p.kind.as_deref().map_or("null".to_string(), js),
                provides.join(","),
                deps.join(","),
                p.clears.as_ref().map_or("null".to_string(), js_list),
                p.meta_data.as_deref().unwrap_or("null"),
                pfiles.join(",")
            )
        })
        .collect();
    format!(
        "{{\"format\":\"mender\",\"version\":{},\"name\":{},\"group\":{},\"compatible_devices\":{},\"depends\":{{{}}},\"signature\":\"{}\",\"scripts\":{},\"payloads\":[{}]}}\n",
        h.format,
        js(&info.name()),
        info.group().map_or("null".to_string(), |g| js(&g)),
        js_list(info.device_types()),
        depends.join(","),
        signature_word(h.signature),
        js_list(scripts),
        payloads.join(",")
    )
}

/// The same summary as `mender-artifact read`, without file modification times (tar headers
/// are not covered by the signature, so they are not shown).
fn text(h: &ArtifactHeader<'_>, files: &[PayloadFile]) -> String {
    let info = &h.info;
    let mut o = String::new();
    let _ = writeln!(o, "Mender artifact:");
    let _ = writeln!(o, "  Name: {}", info.name());
    let _ = writeln!(o, "  Format: mender");
    let _ = writeln!(o, "  Version: {}", h.format);
    let sig = match h.signature {
        SignatureStatus::None => "no signature",
        SignatureStatus::Present => {
            "signed but no key for verification provided; please use `-k` option"
        }
        SignatureStatus::Verified => "signed and verified correctly",
    };
    let _ = writeln!(o, "  Signature: {}", sig);
    let devices: Vec<String> = info.device_types().map(|d| d.to_string()).collect();
    let _ = writeln!(o, "  Compatible devices: '[{}]'", devices.join(" "));
    let _ = writeln!(
        o,
        "  Provides group: {}",
        info.group().as_deref().unwrap_or("")
    );
    let names: Vec<String> = info
        .depends_names()
        .map(|i| i.map(|n| n.to_string()).collect())
        .unwrap_or_default();
    let groups: Vec<String> = info
        .depends_groups()
        .map(|i| i.map(|n| n.to_string()).collect())
        .unwrap_or_default();
    let _ = writeln!(o, "  Depends on one of artifact(s): [{}]", names.join(", "));
    let _ = writeln!(o, "  Depends on one of group(s): [{}]", groups.join(", "));
    let _ = writeln!(o, "  State scripts:");
    for s in h.scripts {
        let _ = writeln!(o, "    {}", s);
    }
    let _ = writeln!(o, "\nUpdates:");
    for (i, p) in payloads(h, files).iter().enumerate() {
        let _ = writeln!(o, "    {}:", i);
        let _ = writeln!(
            o,
            "    Type:   {}",
            p.kind.as_deref().unwrap_or("Empty type")
        );
        let provides: Vec<String> = p
            .provides
            .iter()
            .map(|(k, v)| format!("\t{}: {}", k, v))
            .collect();
        let depends: Vec<String> = p
            .depends
            .iter()
            .map(|(k, v)| match v {
                Ok(one) => format!("\t{}: {}", k, one),
                Err(list) => format!("\t{}: [{}]", k, list.join(", ")),
            })
            .collect();
        for (title, lines) in [("Provides", provides), ("Depends", depends)] {
            if lines.is_empty() {
                let _ = writeln!(o, "    {}: Nothing", title);
            } else {
                let _ = writeln!(o, "    {}:\n{}", title, lines.join("\n"));
            }
        }
        match &p.clears {
            Some(c) => {
                let c: Vec<String> = c.iter().map(|s| js(s)).collect();
                let _ = writeln!(o, "    Clears Provides: [{}]", c.join(", "));
            }
            None => {
                let _ = writeln!(o, "    Clears Provides: Nothing");
            }
        }
        let _ = writeln!(
            o,
            "    Metadata: {}",
            p.meta_data.as_deref().unwrap_or("Nothing")
        );
        if p.files.is_empty() {
            let _ = writeln!(o, "    Files: None");
        } else {
            let _ = writeln!(o, "    Files:");
            for f in &p.files {
                let _ = writeln!(o, "      name:     {}", f.name);
                let _ = writeln!(o, "      size:     {}", f.size);
                let _ = writeln!(o, "      checksum: {}", hex(&f.sha256));
            }
        }
    }
    o
}
