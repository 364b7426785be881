//! More names for an image already in a registry, through the Distribution API itself: the
//! manifest fetched under one name is put under another, after its blobs are mounted into the
//! other repository (`POST /v2/<to>/blobs/uploads/?mount=<digest>&from=<from>`), as `docker push`
//! of a second tag ends up doing. The hub's storage build uses it for images with several names
//! (mysql:5.6, mysql:latest, mariadb:latest…): one `berth push` per image, not one per name —
//! each push compresses every layer again, which for the large images costs seconds per name.
//!
//! A minimal HTTP/1.1 client over a `TcpStream` (the registry runs without TLS or auth on the
//! hub's loopback); the connection is made from inside the hub's network namespace.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const ACCEPT: &str = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json";

/// A response: status, headers (lower-case names), body.
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

fn request(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Result<Response, String> {
    let mut s = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).and_then(|_| s.write_all(body)).map_err(|e| format!("{method} {path}: {e}"))?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(|e| format!("{method} {path}: {e}"))?;
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or_else(|| format!("{method} {path}: no HTTP head"))?;
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("{method} {path}: not an HTTP response"))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect::<Vec<_>>();
    let mut body = raw[end + 4..].to_vec();
    if headers.iter().any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked")) {
        body = dechunk(&body);
    }
    Ok(Response { status, headers, body })
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(i) = b.windows(2).position(|w| w == b"\r\n") {
        let n = usize::from_str_radix(String::from_utf8_lossy(&b[..i]).trim(), 16).unwrap_or(0);
        if n == 0 || b.len() < i + 2 + n {
            break;
        }
        out.extend_from_slice(&b[i + 2..i + 2 + n]);
        b = &b[(i + 4 + n).min(b.len())..];
    }
    out
}

/// Puts the manifest of `from` (`library/mysql:5.6`) under `to` (`library/mariadb:latest`) in
/// the registry at `addr`.
pub fn copy(addr: &str, from: (&str, &str), to: (&str, &str)) -> Result<(), String> {
    let (from_repo, from_tag) = from;
    let (to_repo, to_tag) = to;
    let m = request(addr, "GET", &format!("/v2/{from_repo}/manifests/{from_tag}"), &[("Accept", ACCEPT)], b"")?;
    if m.status != 200 {
        return Err(format!("GET {from_repo}:{from_tag} manifest: HTTP {}: {}", m.status, String::from_utf8_lossy(&m.body)));
    }
    let media = m.header("content-type").unwrap_or("application/vnd.docker.distribution.manifest.v2+json").to_string();
    if from_repo != to_repo {
        let v: serde_json::Value = serde_json::from_slice(&m.body).map_err(|e| format!("{from_repo}:{from_tag} manifest: {e}"))?;
        let digests = std::iter::once(&v["config"]).chain(v["layers"].as_array().into_iter().flatten()).filter_map(|d| d["digest"].as_str());
        for digest in digests {
            let path = format!("/v2/{to_repo}/blobs/uploads/?mount={digest}&from={from_repo}");
            let r = request(addr, "POST", &path, &[], b"")?;
            if r.status != 201 {
                return Err(format!("mounting {digest} from {from_repo} into {to_repo}: HTTP {}", r.status));
            }
        }
    }
    let r = request(addr, "PUT", &format!("/v2/{to_repo}/manifests/{to_tag}"), &[("Content-Type", &media)], &m.body)?;
    if r.status != 201 {
        return Err(format!("PUT {to_repo}:{to_tag} manifest: HTTP {}: {}", r.status, String::from_utf8_lossy(&r.body)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A registry stand-in that records requests and answers them in order.
    fn fake(answers: Vec<(u16, &'static str, &'static str)>) -> (String, std::thread::JoinHandle<Vec<String>>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let h = std::thread::spawn(move || {
            let mut seen = vec![];
            for (status, ctype, body) in answers {
                let (mut s, _) = l.accept().unwrap();
                // The head, then as many body bytes as it announces.
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let n = s.read(&mut chunk).unwrap();
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).into_owned();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let len: usize = head
                            .lines()
                            .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0)))
                            .unwrap_or(0);
                        if body.len() >= len {
                            break;
                        }
                    }
                    if n == 0 {
                        break;
                    }
                }
                let text = String::from_utf8_lossy(&buf).into_owned();
                seen.push(text.lines().next().unwrap_or("").to_string());
                if text.starts_with("PUT") {
                    seen.push(text.rsplit("\r\n\r\n").next().unwrap_or("").to_string());
                }
                write!(s, "HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\r\n{body}", body.len()).unwrap();
            }
            seen
        });
        (addr, h)
    }

    const MANIFEST: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"digest":"sha256:c"},"layers":[{"digest":"sha256:l1"},{"digest":"sha256:l2"}]}"#;

    #[test]
    fn another_repository_gets_the_blobs_mounted_then_the_manifest() {
        let oci = "application/vnd.oci.image.manifest.v1+json";
        let (addr, h) = fake(vec![(200, oci, MANIFEST), (201, "text/plain", ""), (201, "text/plain", ""), (201, "text/plain", ""), (201, "text/plain", "")]);
        copy(&addr, ("library/mysql", "5.6"), ("library/mariadb", "latest")).unwrap();
        let seen = h.join().unwrap();
        assert_eq!(seen[0], "GET /v2/library/mysql/manifests/5.6 HTTP/1.1");
        assert_eq!(seen[1], "POST /v2/library/mariadb/blobs/uploads/?mount=sha256:c&from=library/mysql HTTP/1.1");
        assert_eq!(seen[3], "POST /v2/library/mariadb/blobs/uploads/?mount=sha256:l2&from=library/mysql HTTP/1.1");
        assert_eq!(seen[4], "PUT /v2/library/mariadb/manifests/latest HTTP/1.1");
        assert_eq!(seen[5], MANIFEST, "the manifest's bytes unchanged (its digest is the image's)");
    }

    #[test]
    fn the_same_repository_needs_only_the_manifest_and_errors_say_which_step() {
        let (addr, h) = fake(vec![(200, "application/vnd.docker.distribution.manifest.v2+json", MANIFEST), (201, "text/plain", "")]);
        copy(&addr, ("library/mysql", "5.6"), ("library/mysql", "latest")).unwrap();
        assert_eq!(h.join().unwrap().len(), 3);
        let (addr, h) = fake(vec![(404, "application/json", r#"{"errors":[{"code":"MANIFEST_UNKNOWN"}]}"#)]);
        let e = copy(&addr, ("library/mysql", "9"), ("library/mysql", "latest")).unwrap_err();
        assert!(e.contains("HTTP 404") && e.contains("MANIFEST_UNKNOWN"), "{e}");
        h.join().unwrap();
    }
}
