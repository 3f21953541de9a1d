//! The server as a hostile visitor meets it: the real accept loop on a loopback port (short
//! limits so that the slow-client tests are quick), raw bytes on a socket, every route
//! family (`aim_web::route_patterns`, so a route added later is tried too). Waits are
//! bounded; nothing asserts a duration beyond "within the bound".

mod common;

use aim_web::{AppState, PublicUrl, ServerConfig, route_patterns, router_with};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

/// Long enough for any answer on a loaded 2-core machine; a test waits no longer.
const BOUND: Duration = Duration::from_secs(15);

fn limits() -> ServerConfig {
    ServerConfig {
        header_read_timeout: Duration::from_millis(800),
        keep_alive_timeout: Duration::from_millis(500),
        body_timeout: Duration::from_millis(800),
        write_timeout: Duration::from_secs(2),
        max_connections: 4,
        ..ServerConfig::default()
    }
}

struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

async fn start_with(
    state: AppState,
    config: ServerConfig,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel();
    let app = router_with(state, &config);
    tokio::spawn(aim_web::server::serve_until(
        app,
        listener,
        config,
        tls,
        async {
            let _ = rx.await;
        },
    ));
    Server {
        addr,
        stop: Some(tx),
    }
}

async fn start() -> Server {
    start_with(common::state(), limits(), None).await
}

/// A response read off a socket.
#[derive(Debug)]
struct Resp {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Reads one response (head, then `Content-Length` bytes or until EOF); `None` when the
/// server closed the connection without answering.
async fn read_response<S: AsyncRead + Unpin>(s: &mut S) -> Option<Resp> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = tokio::time::timeout(BOUND, s.read(&mut chunk))
            .await
            .expect("an answer within the bound")
            .unwrap_or(0);
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let mut resp = Resp {
        status,
        head,
        body: buf[head_end..].to_vec(),
    };
    match resp
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok())
    {
        Some(len) => {
            while resp.body.len() < len {
                let n = tokio::time::timeout(BOUND, s.read(&mut chunk))
                    .await
                    .expect("the body within the bound")
                    .unwrap_or(0);
                if n == 0 {
                    break;
                }
                resp.body.extend_from_slice(&chunk[..n]);
            }
        }
        None => {
            let _ = tokio::time::timeout(BOUND, s.read_to_end(&mut resp.body)).await;
        }
    }
    Some(resp)
}

/// Whether the server closes the connection (EOF or reset) within the bound, reading and
/// dropping whatever it sends first.
async fn closed_by_server<S: AsyncRead + Unpin>(s: &mut S) -> bool {
    let mut chunk = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + BOUND;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut chunk)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

/// Sends raw bytes and reads one response.
async fn raw(addr: SocketAddr, bytes: &[u8]) -> Option<Resp> {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(bytes).await.unwrap();
    read_response(&mut s).await
}

async fn get(addr: SocketAddr, target: &str) -> Resp {
    raw(
        addr,
        format!("GET {target} HTTP/1.1\r\nHost: atlas.test\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )
    .await
    .unwrap_or_else(|| panic!("{target}: no answer"))
}

/// The security headers every answer of the Atlas carries.
fn assert_secure(what: &str, r: &Resp) {
    let csp = r.header("content-security-policy").unwrap_or_default();
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {}", r.head);
    assert_eq!(
        r.header("x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
}

/// A sample URL of a route pattern with every `{param}` replaced by `value`.
fn fill(pattern: &str, value: &str) -> String {
    let mut out = String::new();
    let mut rest = pattern;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        out.push_str(value);
        rest = &rest[i + rest[i..].find('}').unwrap() + 1..];
    }
    out.push_str(rest);
    out
}

#[tokio::test]
async fn every_route_family_answers_over_the_socket() {
    let srv = start().await;
    assert!(route_patterns().len() >= 12);
    for pattern in route_patterns() {
        let r = get(srv.addr, &fill(pattern, "gp-contact")).await;
        assert!(
            [200, 303, 404].contains(&r.status),
            "{pattern}: {}",
            r.status
        );
        assert_secure(pattern, &r);
    }
}

#[tokio::test]
async fn slow_headers_are_cut_and_others_are_still_served() {
    let srv = start().await;
    // Fill every connection slot with a client that never finishes its headers.
    let mut slow = Vec::new();
    for _ in 0..limits().max_connections {
        let mut s = TcpStream::connect(srv.addr).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: atlas.test\r\nX-Slow: ")
            .await
            .unwrap();
        slow.push(s);
    }
    // A normal visitor is served once the slow ones are cut (before: never).
    let r = get(srv.addr, "/about").await;
    assert_eq!(r.status, 200);
    for s in &mut slow {
        assert!(closed_by_server(s).await, "a slow client is cut");
    }
    // Half a request line, then nothing: cut too.
    let mut s = TcpStream::connect(srv.addr).await.unwrap();
    s.write_all(b"GE").await.unwrap();
    assert!(closed_by_server(&mut s).await);
    // A connection that sends nothing at all: cut.
    let mut s = TcpStream::connect(srv.addr).await.unwrap();
    assert!(closed_by_server(&mut s).await);
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed() {
    let srv = start().await;
    let mut s = TcpStream::connect(srv.addr).await.unwrap();
    for _ in 0..2 {
        s.write_all(b"GET /terms HTTP/1.1\r\nHost: atlas.test\r\n\r\n")
            .await
            .unwrap();
        let r = read_response(&mut s).await.expect("a response");
        assert_eq!(r.status, 200, "kept alive between requests");
    }
    assert!(closed_by_server(&mut s).await, "closed once idle");
}

#[tokio::test]
async fn a_slow_body_is_cut_with_408() {
    let srv = start().await;
    let mut s = TcpStream::connect(srv.addr).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: atlas.test\r\nContent-Length: 100\r\n\r\nab")
        .await
        .unwrap();
    let r = read_response(&mut s).await.expect("an answer");
    assert_eq!(r.status, 408);
    assert_secure("408", &r);
    assert!(closed_by_server(&mut s).await);
}

#[tokio::test]
async fn oversize_bodies_and_headers_are_refused() {
    let srv = start().await;
    let r = raw(
        srv.addr,
        b"GET / HTTP/1.1\r\nHost: atlas.test\r\nContent-Length: 100000000\r\n\r\n",
    )
    .await
    .expect("an answer");
    assert_eq!(r.status, 413);
    // A chunked body larger than the limit.
    let mut s = TcpStream::connect(srv.addr).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: atlas.test\r\nTransfer-Encoding: chunked\r\n\r\n")
        .await
        .unwrap();
    let chunk = vec![b'a'; 16 * 1024];
    for _ in 0..8 {
        let mut c = format!("{:x}\r\n", chunk.len()).into_bytes();
        c.extend_from_slice(&chunk);
        c.extend_from_slice(b"\r\n");
        if s.write_all(&c).await.is_err() {
            break;
        }
    }
    let _ = s.write_all(b"0\r\n\r\n").await;
    let r = read_response(&mut s).await.expect("an answer");
    assert_eq!(r.status, 413);
    // Headers larger than the limit: 431, never a page.
    let big = "a".repeat(64 * 1024);
    let r = raw(
        srv.addr,
        format!("GET / HTTP/1.1\r\nHost: atlas.test\r\nX-Big: {big}\r\n\r\n").as_bytes(),
    )
    .await;
    if let Some(r) = r {
        assert_eq!(r.status, 431);
    }
    // Many headers.
    let many: String = (0..500).map(|i| format!("X-H{i}: v\r\n")).collect();
    let r = raw(
        srv.addr,
        format!("GET / HTTP/1.1\r\nHost: atlas.test\r\n{many}\r\n").as_bytes(),
    )
    .await;
    if let Some(r) = r {
        assert!([400, 431].contains(&r.status), "{}", r.status);
    }
    // The server still answers.
    assert_eq!(get(srv.addr, "/").await.status, 200);
}

#[tokio::test]
async fn odd_methods_are_refused_on_every_route() {
    let srv = start().await;
    for pattern in route_patterns() {
        let target = fill(pattern, "gp-contact");
        for method in [
            "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND", "FOO",
        ] {
            let r = raw(
                srv.addr,
                format!(
                    "{method} {target} HTTP/1.1\r\nHost: atlas.test\r\nX-Probe: <b>probe</b>\r\n\
                     Content-Length: 0\r\nConnection: close\r\n\r\n"
                )
                .as_bytes(),
            )
            .await
            .expect("an answer");
            assert!(
                [404, 405].contains(&r.status),
                "{method} {target}: {}",
                r.status
            );
            assert!(
                !r.text().contains("probe"),
                "{method} {target} echoes the request"
            );
            assert_secure(&format!("{method} {target}"), &r);
        }
    }
    let r = raw(
        srv.addr,
        b"CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n",
    )
    .await;
    if let Some(r) = r {
        assert!(r.status >= 400 && r.status < 500, "CONNECT: {}", r.status);
    }
}

#[tokio::test]
async fn traversal_reaches_no_file() {
    let srv = start().await;
    for target in [
        "/../../../../etc/passwd",
        "/static/../Cargo.toml",
        "/static/..%2f..%2fCargo.toml",
        "/static/%2e%2e%2f%2e%2e%2fCargo.toml",
        "/static/..%5c..%5cCargo.toml",
        "/static/atlas.css%00.txt",
        "/static/%2fetc%2fpasswd",
        "/download/..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/download/....%2f%2f....%2f%2fetc%2fpasswd",
        "/download/%2e%2e%2fCargo.toml",
        "/area/..%2f..%2f/etc%2fpasswd",
        "/indicator/..%2f..%2f..%2fetc%2fpasswd",
        "/api/figures/..%2f..%2fetc%2fpasswd",
        "/static//etc/passwd",
    ] {
        let r = get(srv.addr, target).await;
        assert!([400, 404].contains(&r.status), "{target}: {}", r.status);
        let body = r.text();
        for secret in ["root:", "[package]", "[workspace]"] {
            assert!(!body.contains(secret), "{target}");
        }
    }
}

#[tokio::test]
async fn reflected_markup_is_escaped_everywhere() {
    let srv = start().await;
    let payload = "\"'><script>alert(1)</script><svg onload=alert(2)>";
    let enc: String = payload.bytes().map(|b| format!("%{b:02X}")).collect();
    let query: String = [
        "id",
        "year",
        "level",
        "sex",
        "age",
        "lang",
        "q",
        "indicator",
        "v",
        "x",
    ]
    .iter()
    .map(|k| format!("{k}={enc}&"))
    .collect();
    for pattern in route_patterns() {
        for (path_value, q) in [
            (enc.as_str(), ""),
            ("gp-contact", query.as_str()),
            (enc.as_str(), query.as_str()),
            ("gp-contact", "lang=nl&q="),
        ] {
            let target = format!("{}?{q}", fill(pattern, path_value));
            for t in [target.clone(), format!("{target}{enc}")] {
                let r = get(srv.addr, &t).await;
                let body = r.text();
                for bad in ["<script>alert", "<svg onload"] {
                    assert!(!body.contains(bad), "{t}: {bad} in {}", r.status);
                }
                for h in ["location", "content-disposition"] {
                    if let Some(v) = r.header(h) {
                        assert!(!v.contains('<'), "{t}: {h}: {v}");
                    }
                }
                assert!(r.status < 500, "{t}: {}", r.status);
            }
        }
    }
    // The unknown route's page shows the path as it came, percent-encoded, in escaped text.
    let r = get(srv.addr, &format!("/{enc}")).await;
    assert_eq!(r.status, 404);
    assert!(r.text().contains("Aucune page") && r.text().contains("%3C%73%63%72%69%70%74%3E"));
}

#[tokio::test]
async fn crlf_never_reaches_a_header() {
    let srv = start().await;
    for target in [
        "/indicator?id=gp-contact&year=2024%0d%0aSet-Cookie:%20pwn=1",
        "/indicator?id=gp-contact&level=%0d%0aLocation:%20http://evil.example/",
        "/indicator?id=gp-contact%0d%0aSet-Cookie:%20pwn=1",
        "/download/gp-contact.csv%0d%0aSet-Cookie:%20pwn=1",
        "/%0d%0aSet-Cookie:%20pwn=1",
        "/?lang=%0d%0aSet-Cookie:%20pwn=1",
    ] {
        let r = get(srv.addr, target).await;
        let head = r.head.to_ascii_lowercase();
        assert!(
            !head.lines().any(|l| l.starts_with("set-cookie")),
            "{target}: {}",
            r.head
        );
        assert_eq!(
            head.matches("\nlocation:").count(),
            usize::from(r.status == 303),
            "{target}"
        );
        if let Some(loc) = r.header("location") {
            assert!(
                loc.starts_with("/indicator/") && !loc.contains('\r'),
                "{loc}"
            );
        }
    }
    // Raw CR or LF inside the request line or a header: refused before any route.
    for bytes in [
        &b"GET /?a=1\rSet-Cookie: x HTTP/1.1\r\nHost: a\r\n\r\n"[..],
        &b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\rSet-Cookie: x\r\n\r\n"[..],
        &b"GET / HTTP/1.1\r\nHost: a\r\n X-Folded: y\r\n\r\n"[..],
    ] {
        if let Some(r) = raw(srv.addr, bytes).await {
            assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(bytes));
            assert!(
                !r.head
                    .to_ascii_lowercase()
                    .lines()
                    .any(|l| l.starts_with("set-cookie"))
            );
        }
    }
}

#[tokio::test]
async fn the_404_page_links_stay_on_this_site_over_the_socket() {
    let srv = start().await;
    for target in [
        "//evil.example/phish",
        "//evil.example/phish?lang=nl",
        "/\\evil.example/phish",
        "/\\/evil.example/phish?lang=nl",
    ] {
        let r = get(srv.addr, target).await;
        assert_eq!(r.status, 404, "{target}");
        let body = r.text();
        for part in body.split("href=\"").skip(1) {
            let url = &part[..part.find('"').unwrap()];
            assert!(
                !url.starts_with("//") && !url.starts_with("/\\"),
                "{target}: {url}"
            );
        }
    }
    // The catalogue ignores Host.
    let r = raw(
        srv.addr,
        b"GET /dcat.jsonld HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    assert!(!r.text().contains("evil.example"));
    assert!(r.text().contains("http://atlas.test/"));
}

fn tls_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tls")
}

#[tokio::test]
async fn https_with_rustls_sends_hsts() {
    let dir = tls_dir();
    let acceptor = aim_web::tls::acceptor(&dir.join("cert.pem"), &dir.join("key.pem"))
        .expect("the test certificate");
    let f = common::fixture();
    let state = AppState::new(
        common::atlas(),
        f.maps.clone(),
        &f.geography,
        PublicUrl::parse("https://localhost").unwrap(),
    );
    let srv = start_with(state, limits(), Some(acceptor)).await;

    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_file_iter(dir.join("ca.pem")).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let tcp = TcpStream::connect(srv.addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut s = connector.connect(name, tcp).await.expect("a TLS handshake");
    s.write_all(b"GET /about HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let r = read_response(&mut s).await.expect("an answer over TLS");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("strict-transport-security"),
        Some("max-age=31536000")
    );
    assert_secure("https", &r);

    // Plain HTTP on the TLS port gets no page.
    let r = raw(srv.addr, b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n").await;
    assert!(r.is_none_or(|r| r.status != 200));
    // A client that never starts its handshake is cut.
    let mut idle = TcpStream::connect(srv.addr).await.unwrap();
    assert!(closed_by_server(&mut idle).await);
    // Over plain HTTP there is no HSTS (the other tests' server).
    let plain = start().await;
    assert_eq!(
        get(plain.addr, "/about")
            .await
            .header("strict-transport-security"),
        None
    );
}

/// The write half: a peer that takes no bytes is cut (on an in-memory pipe whose other end
/// never reads).
#[tokio::test]
async fn a_peer_that_reads_nothing_is_cut() {
    let (a, _b) = tokio::io::duplex(64);
    let mut w = aim_web::server::WriteTimeout::new(a, Duration::from_millis(200));
    let r = tokio::time::timeout(BOUND, w.write_all(&[0u8; 4096]))
        .await
        .expect("within the bound");
    assert_eq!(r.unwrap_err().kind(), std::io::ErrorKind::TimedOut);
}
