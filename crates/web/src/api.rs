//! The data endpoints: the figures of a map as JSON, the downloads, DCAT-AP. A masked figure
//! is listed with `released: false` and carries no number.

use crate::data::{Data, Key};
use aim_atlas::Figure;
use aim_atlas::compute::Comparison;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// A JSON response. `<`, `>` and `&` (only ever inside strings) are written as `\u003c`,
/// `\u003e` and `\u0026`, so that no reflected markup appears even in a JSON body.
pub fn json_response(status: StatusCode, v: &Value) -> Response {
    let mut body = v.to_string();
    if body.contains(['<', '>', '&']) {
        body = body
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026");
    }
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// The JSON 404 of the API.
pub fn json_not_found(what: &str) -> Response {
    json_response(
        StatusCode::NOT_FOUND,
        &json!({"error": "not found", "detail": what}),
    )
}

/// One figure of a map as JSON: numbers only when released.
pub fn figure(data: &Data, key: &Key, f: &Figure) -> Value {
    let mut o = Map::new();
    o.insert("area".into(), json!(f.area));
    let name = |l| data.name(key.level, &f.area, l);
    o.insert("name_fr".into(), json!(name(crate::text::Lang::Fr)));
    o.insert("name_nl".into(), json!(name(crate::text::Lang::Nl)));
    o.insert("released".into(), json!(f.released));
    if f.released {
        let mut put = |k: &str, v: Option<f64>| {
            if let Some(v) = v {
                o.insert(k.into(), json!(v));
            }
        };
        put("numerator", f.numerator);
        put("crude", f.crude);
        put("crude_low", f.crude_low);
        put("crude_high", f.crude_high);
        put("standardised", f.standardised);
        put("standardised_low", f.standardised_low);
        put("standardised_high", f.standardised_high);
        if let Some(p) = f.persons {
            o.insert("persons".into(), json!(p));
        }
        if let Some(c) = f.vs_belgium {
            o.insert(
                "vs_belgium".into(),
                json!(match c {
                    Comparison::Higher => "higher",
                    Comparison::Lower => "lower",
                    Comparison::Similar => "similar",
                }),
            );
        }
    }
    Value::Object(o)
}

/// The figures of a selection as JSON.
pub fn figures(data: &Data, key: &Key) -> Value {
    let ind = &data.indicators()[key.indicator];
    json!({
        "indicator": ind.id,
        "title_fr": ind.title_fr,
        "title_nl": ind.title_nl,
        "kind": ind.kind,
        "unit": ind.unit,
        "year": key.year,
        "level": key.level.as_str(),
        "sex": key.sex,
        "age_group": key.age,
        "measure": if key.age == aim_atlas::compute::ALL { "standardised" } else { "crude" },
        "min_units": data.atlas.manifest.policy.min_units,
        "licence": aim_atlas::export::LICENCE,
        "figures": data.figures(key).map(|f| figure(data, key, f)).collect::<Vec<_>>(),
    })
}

/// A file to download.
pub fn download(body: impl Into<axum::body::Body>, mime: &'static str, name: &str) -> Response {
    let mut r = axum::body::Body::new(body.into()).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// The CSV of some figures (as `WH/atlas/figures.csv`).
pub fn csv<'a>(figures: impl Iterator<Item = &'a Figure>) -> String {
    let mut s = String::from(aim_atlas::store::HEADER);
    s.push('\n');
    for f in figures {
        s.push_str(&aim_atlas::store::csv_line(f));
        s.push('\n');
    }
    s
}
