//! What every response goes through ([`finish`]): the request body bounded in size and time,
//! then the security headers, a per-resource `ETag` with `If-None-Match` → 304, and gzip
//! for large text responses (docs/deployment.md lists the headers and why).

use crate::ServerConfig;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

/// The Content-Security-Policy of every response: only this site's own script, style sheet
/// and images (and the empty `data:` favicon); no inline script or style, no plugin, no
/// framing, forms and `<base>` only to this site.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; \
     frame-ancestors 'none'";

/// `Strict-Transport-Security` when visitors reach the Atlas over HTTPS (one year; not
/// `includeSubDomains`: the agency's other hosts are not ours to decide).
pub const HSTS: &str = "max-age=31536000";

/// Responses at least this large (bytes) are compressed when the client accepts gzip.
pub const COMPRESS_FROM: usize = 1024;

/// What [`finish`] needs to know: whether to send HSTS, and the request body's limits.
#[derive(Debug, Clone)]
pub struct Policy {
    hsts: bool,
    max_body_bytes: usize,
    body_timeout: Duration,
}

impl Policy {
    /// The policy of a server whose visitors use HTTPS (`hsts`) with `config`'s body limits.
    pub fn new(hsts: bool, config: &ServerConfig) -> Policy {
        Policy {
            hsts,
            max_body_bytes: config.max_body_bytes,
            body_timeout: config.body_timeout,
        }
    }
}

/// The middleware around every route: see the module's documentation.
pub async fn finish(State(policy): State<Arc<Policy>>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let if_none_match = req.headers().get(header::IF_NONE_MATCH).cloned();
    let gzip_ok = accepts_gzip(req.headers());
    let req = match read_body(&policy, req).await {
        Ok(r) => r,
        Err(status) => {
            let mut r = (status, status.canonical_reason().unwrap_or("")).into_response();
            r.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            secure(&policy, r.headers_mut());
            return r;
        }
    };
    let resp = next.run(req).await;
    let mut resp = shape(resp, &method, if_none_match.as_ref(), gzip_ok).await;
    secure(&policy, resp.headers_mut());
    resp
}

/// Reads a request's body, if it has one, within the size and time limits: 413 when it is
/// (or announces to be) larger, 408 when it is not complete in time, 400 when it breaks off.
/// No route takes a body today; reading it here keeps a slow sender from holding the
/// connection after the response.
async fn read_body(policy: &Policy, req: Request) -> Result<Request, StatusCode> {
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let chunked = req.headers().contains_key(header::TRANSFER_ENCODING);
    if announced.is_none_or(|n| n == 0) && !chunked {
        return Ok(req);
    }
    if announced.is_some_and(|n| n > policy.max_body_bytes as u64) {
        return Err(StatusCode::PAYLOAD_TOO_LARGE);
    }
    let (parts, body) = req.into_parts();
    match tokio::time::timeout(
        policy.body_timeout,
        axum::body::to_bytes(body, policy.max_body_bytes),
    )
    .await
    {
        Err(_) => Err(StatusCode::REQUEST_TIMEOUT),
        Ok(Err(e)) => {
            let too_large = e
                .into_inner()
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some();
            Err(if too_large {
                StatusCode::PAYLOAD_TOO_LARGE
            } else {
                StatusCode::BAD_REQUEST
            })
        }
        Ok(Ok(bytes)) => Ok(Request::from_parts(parts, Body::from(bytes))),
    }
}

/// The security headers (every response, whatever its status).
fn secure(policy: &Policy, h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    if policy.hsts {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
}

/// Whether `Accept-Encoding` allows gzip (`gzip`, `x-gzip` or `*`, with a non-zero `q`).
pub fn accepts_gzip(h: &HeaderMap) -> bool {
    let mut gzip = None;
    let mut star = None;
    for v in h.get_all(header::ACCEPT_ENCODING) {
        let Ok(v) = v.to_str() else { continue };
        for item in v.split(',') {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            match name.as_str() {
                "gzip" | "x-gzip" => gzip = Some(q > 0.0),
                "*" => star = Some(q > 0.0),
                _ => {}
            }
        }
    }
    gzip.or(star).unwrap_or(false)
}

/// Whether a content type is text worth compressing.
fn compressible(h: &HeaderMap) -> bool {
    let Some(ct) = h.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    ct.starts_with("text/") || ct.contains("json") || ct.contains("svg") || ct.contains("xml")
}

/// A strong entity tag of a representation: FNV-1a (64 bits) of its bytes, with `-gz` for
/// the gzip one.
pub fn etag(body: &[u8], gzip: bool) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in body {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("\"{h:016x}{}\"", if gzip { "-gz" } else { "" })
}

/// Whether `If-None-Match` matches `tag` (weak comparison, `*` matches any).
pub fn none_match(if_none_match: &HeaderValue, tag: &str) -> bool {
    let Ok(v) = if_none_match.to_str() else {
        return false;
    };
    v.split(',').map(str::trim).any(|t| {
        t == "*" || t.strip_prefix("W/").unwrap_or(t) == tag.strip_prefix("W/").unwrap_or(tag)
    })
}

/// ETag, 304 and gzip on a response.
async fn shape(
    resp: Response,
    method: &Method,
    if_none_match: Option<&HeaderValue>,
    gzip_ok: bool,
) -> Response {
    let cacheable =
        resp.status() == StatusCode::OK && matches!(*method, Method::GET | Method::HEAD);
    let text = compressible(resp.headers());
    if !cacheable && !text {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let bytes: Bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    let gzip = gzip_ok && text && bytes.len() >= COMPRESS_FROM;
    if text {
        parts
            .headers
            .insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    if cacheable {
        let tag = etag(&bytes, gzip);
        if let Ok(v) = HeaderValue::from_str(&tag) {
            parts.headers.insert(header::ETAG, v);
        }
        if if_none_match.is_some_and(|inm| none_match(inm, &tag)) {
            parts.status = StatusCode::NOT_MODIFIED;
            for h in [
                header::CONTENT_TYPE,
                header::CONTENT_LENGTH,
                header::CONTENT_DISPOSITION,
            ] {
                parts.headers.remove(h);
            }
            return Response::from_parts(parts, Body::empty());
        }
    }
    if !gzip {
        return Response::from_parts(parts, Body::from(bytes));
    }
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 4),
        flate2::Compression::fast(),
    );
    let compressed = enc.write_all(&bytes).and_then(|()| enc.finish());
    match compressed {
        Ok(z) => {
            parts
                .headers
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::from(z))
        }
        Err(_) => Response::from_parts(parts, Body::from(bytes)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_encoding_and_if_none_match() {
        let mut h = HeaderMap::new();
        assert!(!accepts_gzip(&h));
        h.insert(header::ACCEPT_ENCODING, "br, gzip;q=0.5".parse().unwrap());
        assert!(accepts_gzip(&h));
        h.insert(header::ACCEPT_ENCODING, "gzip;q=0, *".parse().unwrap());
        assert!(!accepts_gzip(&h));
        h.insert(header::ACCEPT_ENCODING, "identity, *;q=1".parse().unwrap());
        assert!(accepts_gzip(&h));
        let tag = etag(b"x", false);
        assert_ne!(tag, etag(b"y", false));
        assert_ne!(tag, etag(b"x", true));
        assert!(none_match(&HeaderValue::from_str(&tag).unwrap(), &tag));
        assert!(none_match(
            &HeaderValue::from_str(&format!("\"a\", W/{tag}")).unwrap(),
            &tag
        ));
        assert!(none_match(&HeaderValue::from_static("*"), &tag));
        assert!(!none_match(&HeaderValue::from_static("\"a\""), &tag));
    }
}
