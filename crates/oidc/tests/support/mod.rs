//! The real provider for the tests (tests/oidc/provider.mjs: the npm `oidc-provider`, run
//! with the machine's Node.js on a loopback port) and a small user agent that logs in as a
//! browser would: a cookie jar, redirects followed, the provider's forms filled and posted.
//!
//! When Node.js or tests/oidc/node_modules is missing the tests are skipped, unless
//! `AIM_REQUIRE_OIDC=1` (set by ./scripts/test), where they fail.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;
use url::Url;

/// The secret of the provider's confidential clients.
pub const SECRET: &str = "test-client-secret-0123456789abcdefghij";
/// The test account's login at the provider.
pub const LOGIN: &str = "tester-01";

/// The repository's tests/oidc folder.
fn provider_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/oidc")
}

/// A running provider; stopped when dropped (and when the test process ends, since it
/// stops at the end of its standard input).
pub struct Provider {
    child: Child,
    _stdin: ChildStdin,
    /// Its issuer identifier, `http://127.0.0.1:PORT`.
    pub issuer: String,
    /// Its port.
    pub port: u16,
    /// The redirect URI registered for every client.
    pub redirect_uri: Url,
    /// The key ids it signs with.
    pub kids: Vec<String>,
    _redirect_port: Option<TcpListener>,
}

/// Whether the provider can run here; panics when it must (`AIM_REQUIRE_OIDC=1`).
pub fn available() -> bool {
    let node = Command::new(node())
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let installed = provider_dir()
        .join("node_modules/oidc-provider/package.json")
        .exists();
    if node && installed {
        return true;
    }
    let why = if node {
        "tests/oidc/node_modules is missing (run `npm ci --prefix tests/oidc`)"
    } else {
        "Node.js is not installed"
    };
    if std::env::var("AIM_REQUIRE_OIDC").as_deref() == Ok("1") {
        panic!("AIM_REQUIRE_OIDC=1 and the OpenID Connect provider cannot run: {why}");
    }
    eprintln!("skipped: the OpenID Connect provider cannot run: {why}");
    false
}

fn node() -> String {
    std::env::var("AIM_NODE").unwrap_or_else(|_| "node".into())
}

impl Provider {
    /// Starts a provider on a free port, with a redirect URI on a loopback port this test
    /// holds.
    pub fn start() -> Provider {
        let hold = TcpListener::bind("127.0.0.1:0").unwrap();
        let redirect = Url::parse(&format!(
            "http://127.0.0.1:{}/login/oidc/callback",
            hold.local_addr().unwrap().port()
        ))
        .unwrap();
        let mut p = Provider::start_on(0, redirect);
        p._redirect_port = Some(hold);
        p
    }

    /// Starts a provider on `port` (0: any free one), with this redirect URI.
    pub fn start_on(port: u16, redirect_uri: Url) -> Provider {
        let mut child = Command::new(node())
            .arg(provider_dir().join("provider.mjs"))
            .args(["--redirect-uri", redirect_uri.as_str(), "--port"])
            .arg(port.to_string())
            .env("AIM_TEST_OIDC_SECRET", SECRET)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cannot start node");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let first = lines.next().and_then(Result::ok).unwrap_or_default();
            let _ = tx.send(first);
            // The provider's later notices: read to its end, so that it never writes to a
            // closed pipe.
            for line in lines.map_while(Result::ok) {
                eprintln!("provider: {line}");
            }
        });
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the provider did not start within 30 s");
        let started: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("the provider printed {line:?}: {e}"));
        let issuer = started["issuer"].as_str().unwrap().to_string();
        let port = Url::parse(&issuer).unwrap().port().unwrap();
        let kids = started["kids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap().to_string())
            .collect();
        let stdin = child.stdin.take().unwrap();
        Provider {
            child,
            _stdin: stdin,
            issuer,
            port,
            redirect_uri,
            kids,
            _redirect_port: None,
        }
    }

    /// Stops it now.
    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP answer.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A user agent with a cookie jar, over plain HTTP/1.0 (the provider is on loopback).
#[derive(Default)]
pub struct Agent {
    jar: BTreeMap<String, String>,
}

impl Agent {
    /// Sends one request.
    pub fn request(
        &mut self,
        method: &str,
        url: &Url,
        headers: &[(&str, String)],
        form: Option<&[(&str, &str)]>,
    ) -> Answer {
        assert_eq!(url.scheme(), "http");
        let host = url.host_str().unwrap();
        let port = url.port_or_known_default().unwrap();
        let mut s = TcpStream::connect((host, port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut target = url.path().to_string();
        if let Some(q) = url.query() {
            target.push('?');
            target.push_str(q);
        }
        let mut head = format!(
            "{method} {target} HTTP/1.0\r\nHost: {host}:{port}\r\nUser-Agent: aim-test-agent\r\nAccept: text/html,application/json\r\n"
        );
        if !self.jar.is_empty() {
            let cookies: Vec<String> = self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
            head.push_str(&format!("Cookie: {}\r\n", cookies.join("; ")));
        }
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        let body = form
            .map(|f| {
                url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(f)
                    .finish()
            })
            .unwrap_or_default();
        if form.is_some() {
            head.push_str(&format!(
                "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        head.push_str("\r\n");
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(body.as_bytes()).unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        let text = String::from_utf8_lossy(&raw).to_string();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let mut lines = head.split("\r\n");
        let status: u16 = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        for (k, v) in &headers {
            if k.eq_ignore_ascii_case("set-cookie") {
                self.keep_cookie(v);
            }
        }
        Answer {
            status,
            headers,
            body: body.to_string(),
        }
    }

    fn keep_cookie(&mut self, header: &str) {
        let mut parts = header.split(';');
        let Some((name, value)) = parts.next().and_then(|p| p.split_once('=')) else {
            return;
        };
        let expired = parts.any(|a| {
            let a = a.trim().to_ascii_lowercase();
            a.starts_with("expires=thu, 01 jan 1970") || a == "max-age=0"
        });
        if expired || value.is_empty() {
            self.jar.remove(name.trim());
        } else {
            self.jar.insert(name.trim().into(), value.trim().into());
        }
    }

    /// Logs in at the provider from the authorization URL as `login` (consenting, or
    /// cancelling at the login page when `cancel`), following redirects and posting forms,
    /// until the provider sends the browser to `redirect_uri`: returns that URL's query.
    pub fn log_in(
        &mut self,
        authorization: &Url,
        redirect_uri: &Url,
        login: &str,
        cancel: bool,
    ) -> String {
        let mut url = authorization.clone();
        let mut form: Option<Vec<(String, String)>> = None;
        for _ in 0..12 {
            let pairs: Option<Vec<(&str, &str)>> = form
                .as_ref()
                .map(|f| f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect());
            let method = if pairs.is_some() { "POST" } else { "GET" };
            let a = self.request(method, &url, &[], pairs.as_deref());
            form = None;
            if (300..400).contains(&a.status) {
                let next = url
                    .join(a.header("location").expect("a redirect has a location"))
                    .unwrap();
                if next.as_str().starts_with(redirect_uri.as_str()) {
                    return next.query().unwrap_or("").to_string();
                }
                url = next;
                continue;
            }
            assert_eq!(a.status, 200, "{method} {url}: {}", a.body);
            let page = Page(&a.body);
            if cancel && let Some(abort) = page.link_to("/abort") {
                url = url.join(&abort).unwrap();
                continue;
            }
            let (action, mut fields) = page
                .form()
                .unwrap_or_else(|| panic!("no form at {url}: {}", a.body));
            if fields.iter().any(|(k, _)| k == "prompt") && a.body.contains("name=\"login\"") {
                fields.push(("login".into(), login.into()));
                fields.push(("password".into(), "any password".into()));
            }
            url = url.join(&action).unwrap();
            form = Some(fields);
        }
        panic!("the login did not come back to {redirect_uri} within 12 steps");
    }
}

/// Just enough HTML reading for the provider's pages.
struct Page<'a>(&'a str);

fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!("{name}=\"");
    let start = tag.find(&key)? + key.len();
    let end = tag[start..].find('"')? + start;
    Some(
        tag[start..end]
            .replace("&amp;", "&")
            .replace("&#x2F;", "/")
            .replace("&#39;", "'")
            .replace("&quot;", "\""),
    )
}

impl Page<'_> {
    /// The first form's action and its hidden fields.
    fn form(&self) -> Option<(String, Vec<(String, String)>)> {
        let start = self.0.find("<form")?;
        let end = self.0[start..].find("</form>")? + start;
        let form = &self.0[start..end];
        let action = attr(&form[..form.find('>')?], "action")?;
        let mut fields = Vec::new();
        for piece in form.split("<input").skip(1) {
            let tag = &piece[..piece.find('>').unwrap_or(piece.len())];
            if attr(tag, "type").as_deref() == Some("hidden")
                && let (Some(n), Some(v)) = (attr(tag, "name"), attr(tag, "value"))
            {
                fields.push((n, v));
            }
        }
        Some((action, fields))
    }

    /// The first link whose target contains `needle`.
    fn link_to(&self, needle: &str) -> Option<String> {
        self.0
            .split("<a ")
            .skip(1)
            .filter_map(|tag| attr(&tag[..tag.find('>')?], "href"))
            .find(|h| h.contains(needle))
    }
}
