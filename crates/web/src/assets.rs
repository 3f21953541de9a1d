//! The static assets (one style sheet, one small hand-written script), embedded in the
//! binary and served with long cache lifetimes: their URLs carry a version derived from
//! their content. Each gets its own `ETag` from `respond::finish`, like every response.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use std::sync::OnceLock;

/// The style sheet.
pub const CSS: &str = include_str!("../static/atlas.css");
/// The script: tooltips on the map, sorting the tables, filtering the indicator list.
pub const JS: &str = include_str!("../static/atlas.js");

/// A short hash of the assets (FNV-1a), for their URLs.
pub fn version() -> &'static str {
    static V: OnceLock<String> = OnceLock::new();
    V.get_or_init(|| {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in CSS.bytes().chain(JS.bytes()) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        format!("{:08x}", h as u32)
    })
}

/// The asset of that name, or `None`.
pub fn get(name: &str) -> Option<Response> {
    let (body, mime) = match name {
        "atlas.css" => (CSS, "text/css; charset=utf-8"),
        "atlas.js" => (JS, "text/javascript; charset=utf-8"),
        _ => return None,
    };
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    Some(r)
}
