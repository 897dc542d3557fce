//! End-to-end: a real TLS 1.3 server (python3 `ssl` + `http.server`) with a certificate made
//! by the openssl CLI, fetched through std's TcpStream wrapped as embedded-io.
use embedded_io_adapters::std::FromStd;
use mender_core::codec::Workspace;
use mender_core::reader::{Buffers, Config, Event, Reader, ARENA_SIZE_FULL};
use mender_mcu_net::{fetch_artifact, NetError, RecordBuffers, Request};
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const SERVER_PY: &str = r#"
import http.server, ssl, sys
root, cert, key = sys.argv[1], sys.argv[2], sys.argv[3]
class H(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *a, **k):
        super().__init__(*a, directory=root, **k)
    def log_message(self, *a):
        pass
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
ctx.load_cert_chain(cert, key)
srv = http.server.HTTPServer(("127.0.0.1", 0), H)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"#;

fn demo_artifact() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/demo/demo.mender")
}

fn require_tool(name: &str) {
    let ok = Command::new(name)
        .arg(if name == "openssl" {
            "version"
        } else {
            "--version"
        })
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "this test needs `{name}` on PATH (apt-get install {name})"
    );
}

/// A fresh directory, removed on drop.
struct TempDir(PathBuf);
impl TempDir {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("mcu-net-{}-{}", tag, std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A self-signed P-256 certificate for `localhost`: (cert PEM, key PEM, cert DER bytes).
fn make_cert(dir: &Path, name: &str) -> (PathBuf, PathBuf, Vec<u8>) {
    require_tool("openssl");
    let cert = dir.join(format!("{name}.pem"));
    let key = dir.join(format!("{name}.key"));
    let der = dir.join(format!("{name}.der"));
    let st = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "30",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run openssl req");
    assert!(st.success(), "openssl req failed");
    let st = Command::new("openssl")
        .args(["x509", "-outform", "DER", "-in"])
        .arg(&cert)
        .arg("-out")
        .arg(&der)
        .status()
        .expect("run openssl x509");
    assert!(st.success(), "openssl x509 -outform DER failed");
    (cert, key, std::fs::read(der).unwrap())
}

/// The running server; killed on drop so no test leaves it behind.
struct Server {
    child: Child,
    port: u16,
}
impl Server {
    fn start(root: &Path, cert: &Path, key: &Path) -> Self {
        require_tool("python3");
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(SERVER_PY)
            .arg(root)
            .arg(cert)
            .arg(key)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start python3 TLS server");
        let mut line = String::new();
        let read = BufReader::new(child.stdout.take().unwrap()).read_line(&mut line);
        let mut server = Server { child, port: 0 };
        assert!(read.is_ok(), "server did not report its port");
        server.port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("server printed {line:?} instead of its port"));
        server
    }
}
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Outcome {
    result: Result<u64, NetError>,
    events: Vec<String>,
    payload_sha: Vec<(String, [u8; 32])>,
    manifest_sha: Vec<(String, [u8; 32])>,
}

fn fetch(port: u16, path: &str, ca_der: &[u8]) -> Outcome {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to test server");
    let mut workspace = Box::new(Workspace::new());
    let mut arena = vec![0u8; ARENA_SIZE_FULL];
    let buffers = Buffers {
        arena: &mut arena,
        workspace: Some((&mut *workspace).into()),
    };
    let mut reader = Reader::new(buffers, Config::default());
    let mut buffers = Box::new(RecordBuffers::new());
    let mut events = Vec::new();
    let mut payload_sha = Vec::new();
    let mut current: Option<(String, Sha256)> = None;
    let request = Request {
        host: "localhost",
        port,
        path,
        ca_der,
    };
    let result = fetch_artifact(
        FromStd::new(stream),
        &request,
        rand::rngs::OsRng,
        &mut buffers,
        &mut reader,
        |ev| {
            match &ev {
                Event::PayloadFileStart { name, .. } => {
                    current = Some((name.to_string(), Sha256::new()));
                }
                Event::PayloadData(d) => {
                    if let Some((_, h)) = current.as_mut() {
                        h.update(d);
                    }
                }
                Event::PayloadFileVerified { .. } => {
                    if let Some((n, h)) = current.take() {
                        payload_sha.push((n, h.finalize().into()));
                    }
                }
                _ => {}
            }
            let kind = format!("{ev:?}");
            events.push(kind.split(['(', ' ']).next().unwrap_or("").to_string());
            Ok(())
        },
    );
    let manifest_sha = reader
        .files()
        .map(|f| (f.name.to_string(), f.sha256))
        .collect();
    Outcome {
        result,
        events,
        payload_sha,
        manifest_sha,
    }
}

#[test]
fn downloads_and_verifies_the_demo_artifact() {
    let dir = TempDir::new("ok");
    let (cert, key, der) = make_cert(&dir.0, "server");
    let www = dir.0.join("www");
    std::fs::create_dir_all(&www).unwrap();
    let size = std::fs::copy(demo_artifact(), www.join("demo.mender")).expect("demo artifact");
    let server = Server::start(&www, &cert, &key);

    let out = fetch(server.port, "/demo.mender", &der);
    let body = out.result.unwrap_or_else(|e| panic!("fetch failed: {e}"));
    assert_eq!(body, size, "body length must equal the file size");
    assert_eq!(out.events.first().map(String::as_str), Some("HeaderParsed"));
    assert_eq!(
        out.events.last().map(String::as_str),
        Some("ArtifactComplete"),
        "events: {:?}",
        out.events
    );
    assert!(out.events.iter().any(|e| e == "PayloadData"));
    assert!(!out.manifest_sha.is_empty());
    assert_eq!(
        out.payload_sha, out.manifest_sha,
        "streamed payload SHA-256 must equal the manifest's"
    );
}

#[test]
fn refuses_a_server_with_a_different_certificate() {
    let dir = TempDir::new("badcert");
    let (_, _, trusted_der) = make_cert(&dir.0, "trusted");
    let (cert, key, other_der) = make_cert(&dir.0, "other");
    assert_ne!(trusted_der, other_der);
    let www = dir.0.join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::copy(demo_artifact(), www.join("demo.mender")).expect("demo artifact");
    let server = Server::start(&www, &cert, &key);

    let out = fetch(server.port, "/demo.mender", &trusted_der);
    match out.result {
        Err(e @ NetError::CertificateRejected(_)) => {
            assert!(e.to_string().contains("certificate rejected"), "{e}");
        }
        other => panic!("expected a certificate rejection, got {other:?}"),
    }
    assert!(out.events.is_empty(), "no Artifact byte may be parsed");
}

#[test]
fn reports_http_404() {
    let dir = TempDir::new("404");
    let (cert, key, der) = make_cert(&dir.0, "server");
    let www = dir.0.join("www");
    std::fs::create_dir_all(&www).unwrap();
    let server = Server::start(&www, &cert, &key);

    let out = fetch(server.port, "/missing.mender", &der);
    match out.result {
        Err(e @ NetError::HttpStatus(404)) => {
            assert_eq!(e.to_string(), "HTTP status 404 (expected 200)");
        }
        other => panic!("expected HTTP 404, got {other:?}"),
    }
}
