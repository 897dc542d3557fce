//! `mender install http://...`: a small blocking HTTP/1.1 GET whose body streams straight into
//! the install (never stored). `https://` needs a TLS stack, which comes with the daemon's
//! networking and its size budget; until then such URLs are refused with a clear message.
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Longest response head accepted.
const MAX_HEAD: usize = 16 * 1024;

/// An open download: the body and its length when the server says.
pub struct Download {
    pub body: Box<dyn Read>,
    pub size: Option<u64>,
}

fn split_url(url: &str) -> Result<(String, u16, String), String> {
    if url.starts_with("https://") {
        return Err(format!(
            "{}: https:// is not supported by this build yet (no TLS stack); download the Artifact and install the file",
            url
        ));
    }
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{}: not an http:// URL", url))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let bad_port = || format!("{}: bad port", url);
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, tail) = v6
            .split_once(']')
            .ok_or_else(|| format!("{}: unsupported URL", url))?;
        match tail.strip_prefix(':') {
            Some(p) => (h, p.parse().map_err(|_| bad_port())?),
            None if tail.is_empty() => (h, 80),
            None => return Err(format!("{}: unsupported URL", url)),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, p.parse().map_err(|_| bad_port())?),
            None => (authority, 80),
        }
    };
    if host.is_empty() || authority.contains('@') {
        return Err(format!("{}: unsupported URL", url));
    }
    Ok((host.to_string(), port, path.to_string()))
}

/// A body sent with `Transfer-Encoding: chunked`.
struct Chunked<R> {
    inner: R,
    left: u64,
    done: bool,
}

impl<R: BufRead> Read for Chunked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_string());
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        if self.left == 0 {
            let mut line = String::new();
            self.inner.by_ref().take(1024).read_line(&mut line)?;
            let size = line.trim().split(';').next().unwrap_or("");
            self.left = u64::from_str_radix(size, 16).map_err(|_| bad("bad chunk size"))?;
            if self.left == 0 {
                self.done = true;
                return Ok(0);
            }
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        self.left -= n as u64;
        if self.left == 0 {
            let mut crlf = [0u8; 2];
            self.inner.read_exact(&mut crlf)?;
            if &crlf != b"\r\n" {
                return Err(bad("bad chunk end"));
            }
        }
        Ok(n)
    }
}

/// Starts downloading `url`.
pub fn get(url: &str) -> Result<Download, String> {
    let (host, port, path) = split_url(url)?;
    let err = |e: std::io::Error| format!("Error while downloading {}: {}", url, e);
    let addr = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(err)?
        .next()
        .ok_or_else(|| format!("Error while downloading {}: no address for {}", url, host))?;
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(30)).map_err(err)?;
    // A stalled transfer fails; a slow but moving one may take as long as it needs.
    stream
        .set_read_timeout(Some(Duration::from_secs(300)))
        .map_err(err)?;
    write!(
        stream,
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: mender-rs/{}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        path,
        host,
        env!("CARGO_PKG_VERSION")
    )
    .map_err(err)?;
    let mut reader = BufReader::with_capacity(64 * 1024, stream);
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let n = reader
            .by_ref()
            .take(1024)
            .read_until(b'\n', &mut head)
            .map_err(err)?;
        if n == 0 || head.len() > MAX_HEAD {
            return Err(format!(
                "Error while downloading {}: malformed HTTP response",
                url
            ));
        }
    }
    let head = String::from_utf8_lossy(&head);
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            format!(
                "Error while downloading {}: malformed HTTP status line",
                url
            )
        })?;
    if status != 200 {
        return Err(format!(
            "Error while downloading {}: the server answered HTTP {}",
            url, status
        ));
    }
    let header = |name: &str| {
        head.split("\r\n").skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    };
    if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        return Ok(Download {
            body: Box::new(Chunked {
                inner: reader,
                left: 0,
                done: false,
            }),
            size: None,
        });
    }
    let size: Option<u64> = header("content-length").and_then(|v| v.parse().ok());
    let body: Box<dyn Read> = match size {
        Some(n) => Box::new(reader.take(n)),
        None => Box::new(reader),
    };
    Ok(Download { body, size })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            split_url("http://h/a.mender").unwrap(),
            ("h".into(), 80, "/a.mender".into())
        );
        assert_eq!(
            split_url("http://127.0.0.1:8080/x/y").unwrap(),
            ("127.0.0.1".into(), 8080, "/x/y".into())
        );
        assert_eq!(
            split_url("http://[::1]:81/z").unwrap(),
            ("::1".into(), 81, "/z".into())
        );
        assert_eq!(
            split_url("http://[::1]/z").unwrap(),
            ("::1".into(), 80, "/z".into())
        );
        assert!(split_url("http://h:x/a").is_err());
        assert!(split_url("https://h/a")
            .unwrap_err()
            .contains("https:// is not supported"));
        assert!(split_url("ftp://h/a").is_err());
        assert!(split_url("http://u@h/a").is_err());
    }

    #[test]
    fn chunked_bodies() {
        let raw = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n";
        let mut body = String::new();
        Chunked {
            inner: &raw[..],
            left: 0,
            done: false,
        }
        .read_to_string(&mut body)
        .unwrap();
        assert_eq!(body, "hello world");
        let cut = b"5\r\nhel";
        let mut out = Vec::new();
        assert!(Chunked {
            inner: &cut[..],
            left: 0,
            done: false
        }
        .read_to_end(&mut out)
        .is_err());
    }
}
