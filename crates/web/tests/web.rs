//! The web Atlas through its router (no socket): a small hand-built Atlas with masked
//! figures, on the real map layers.

mod common;

use aim_maps::Level;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use common::*;
use tower::ServiceExt;

async fn get_with(uri: &str, host: Option<&str>) -> (StatusCode, HeaderMap, String) {
    let mut req = Request::get(uri);
    if let Some(h) = host {
        req = req.header("host", h);
    }
    let resp = app()
        .oneshot(req.body(Body::empty()).expect("request"))
        .await
        .expect("response");
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .expect("body");
    (
        status,
        headers,
        String::from_utf8(body.to_vec()).expect("utf-8"),
    )
}

async fn get(uri: &str) -> (StatusCode, HeaderMap, String) {
    get_with(uri, None).await
}

async fn ok(uri: &str) -> String {
    let (status, _, body) = get(uri).await;
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    body
}

/// No trace of the masked figures' numbers in a data file (numbers with 4 decimals).
fn assert_no_secret_in_file(what: &str, body: &str) {
    for s in [
        "77.7777", "66.6666", "76.7777", "65.6666", "78.7777", "67.6666",
    ] {
        assert!(!body.contains(s), "{what} has a masked number ({s})");
    }
}

/// No trace of the masked figures' numbers on a page.
fn assert_no_secret(what: &str, body: &str) {
    assert_no_secret_in_file(what, body);
    for s in [
        "77,8", "77.7777", "77,7777", "66,7", "66.6666", "66,6666", "78,8", "76,8", "65,7", "67,7",
    ] {
        assert!(!body.contains(s), "{what} shows a masked number ({s})");
    }
}

fn count_areas(body: &str) -> usize {
    body.matches("<path class=\"area ").count()
}

fn area_tag<'a>(body: &'a str, code: &str) -> &'a str {
    let start = body
        .find(&format!("id=\"area-{code}\""))
        .unwrap_or_else(|| panic!("area {code} on the map"));
    let from = body[..start].rfind("<path").expect("path start");
    let end = start + body[start..].find("</path>").expect("path end");
    &body[from..end]
}

#[tokio::test]
async fn every_page_answers() {
    for uri in [
        "/",
        "/?lang=nl",
        "/indicators",
        "/indicators?q=g%C3%A9n%C3%A9raliste",
        "/indicator/gp-contact",
        "/indicator/gp-contact?year=2023&level=province&sex=F&age=75%2B",
        "/indicator/out-of-pocket?level=district&lang=nl",
        "/area/municipality/21004?indicator=gp-contact",
        "/area/district/21000",
        "/area/province/04000?lang=nl",
        "/area/region/02000",
        "/area/belgium/BE",
        "/about",
        "/terms",
        "/data",
    ] {
        let body = ok(uri).await;
        assert!(body.starts_with("<!doctype html>"), "{uri}");
        assert!(body.contains("</html>"), "{uri}");
        assert!(
            !body.contains("http://") || !body.contains("<script src=\"http"),
            "{uri}: an external script"
        );
        assert!(!body.contains("https://cdn"), "{uri}");
        assert_no_secret(uri, &body);
    }
}

#[tokio::test]
async fn the_map_has_one_path_per_area_of_its_level() {
    let f = fixture();
    for level in Level::ALL {
        let uri = format!("/indicator/gp-contact?level={}", level.as_str());
        let body = ok(&uri).await;
        assert_eq!(count_areas(&body), f.maps.layer(level).areas.len(), "{uri}");
        // Each area has a name and a value for its tooltip, and a title.
        let tag = area_tag(&body, &f.maps.layer(level).areas[0].code);
        assert!(
            tag.contains("data-name=\"") && tag.contains("data-value=\""),
            "{tag}"
        );
        assert!(tag.contains("<title>"), "{tag}");
    }
    // The front page shows the municipalities.
    let body = ok("/").await;
    assert_eq!(
        count_areas(&body),
        f.maps.layer(Level::Municipality).areas.len()
    );
    assert!(body.contains("gp-contact"));
}

#[tokio::test]
async fn released_areas_are_coloured_and_show_their_value() {
    let body = ok("/indicator/gp-contact?year=2024&level=municipality").await;
    // Brussels is released in 2024: a class, its value and interval.
    let tag = area_tag(&body, "21004");
    let f = figure("gp-contact", 2024, "municipality", "21004", "all", "all");
    let v = f.standardised.expect("standardised");
    assert!(
        tag.contains(&format!("data-v=\"{v:.4}\"")),
        "{tag} lacks {v:.4}"
    );
    let shown = aim_web::text::value(
        v,
        aim_atlas::indicator::Unit::Percent,
        aim_web::text::Lang::Fr,
    );
    assert!(tag.contains(&format!("data-value=\"{shown}\"")), "{tag}");
    assert!(tag.contains("class=\"area q"), "{tag}");
    // Five classes in the legend.
    for c in 0..5 {
        assert!(
            body.contains(&format!("swatch q{c}")),
            "class {c} in the legend"
        );
    }
    // The table lists every area of the level, Belgium first.
    assert!(body.contains("<table class=\"figures sortable\">"));
    let table = &body[body
        .find("<table class=\"figures sortable\">")
        .expect("a table")..];
    let be = table.find("<tr class=\"pinned\">").expect("Belgium's row");
    assert!(
        table[be..].starts_with("<tr class=\"pinned\"><th scope=\"row\" data-sort=\"belgique\">")
    );
    assert!(
        be < table
            .find("/area/municipality/")
            .expect("municipality rows")
    );
    assert_eq!(
        table.matches("<tr").count() - 1,
        fixture().maps.layer(Level::Municipality).areas.len(),
        "Belgium and every municipality with figures (one has none)"
    );
}

#[tokio::test]
async fn masked_figures_show_no_number() {
    for lang in ["fr", "nl"] {
        let body = ok(&format!(
            "/indicator/gp-contact?year=2023&level=municipality&lang={lang}"
        ))
        .await;
        let masked = if lang == "fr" {
            "cellule masquée"
        } else {
            "afgeschermde cel"
        };
        for code in ["21004", "11002"] {
            let tag = area_tag(&body, code);
            assert!(tag.contains("class=\"area masked\""), "{tag}");
            assert!(tag.contains(&format!("data-value=\"{masked}\"")), "{tag}");
            assert!(!tag.contains("data-v="), "{tag}");
        }
        // The area without figures is grey, with its own legend entry.
        let tag = area_tag(&body, "63087");
        assert!(tag.contains("class=\"area missing\""), "{tag}");
        assert!(body.contains("swatch masked") && body.contains("swatch missing"));
        assert_no_secret("map page", &body);
    }
    // The area page of a masked year.
    let body = ok("/area/municipality/21004?indicator=gp-contact").await;
    assert!(body.contains("cellule masquée"));
    assert_no_secret("area page", &body);
    let body = ok("/area/municipality/11002?indicator=out-of-pocket&lang=nl").await;
    assert!(body.contains("afgeschermde cel"));
    assert_no_secret("area page", &body);
    // The API: masked figures have released=false and no number at all.
    let (status, headers, body) = get("/api/figures/gp-contact?year=2023").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let figures = v["figures"].as_array().unwrap();
    let mut masked = 0;
    for f in figures {
        let o = f.as_object().unwrap();
        if o["released"] == false {
            masked += 1;
            for (k, v) in o {
                assert!(!v.is_number(), "masked figure has number {k}: {f}");
            }
            assert!(!o.contains_key("vs_belgium"));
        } else {
            assert!(o["persons"].as_i64().unwrap() >= 5);
            assert!(o["standardised"].is_number());
        }
    }
    assert!(masked >= 2, "{masked} masked figures");
    assert_no_secret("API", &body);
}

#[tokio::test]
async fn downloads_return_the_figures_with_masked_rows_empty() {
    let atlas = atlas();
    let expected = atlas
        .figures
        .iter()
        .filter(|f| f.indicator == "gp-contact")
        .count();
    let (status, headers, body) = get("/download/gp-contact.csv").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains("gp-contact.csv")
    );
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines[0], aim_atlas::store::HEADER);
    assert_eq!(lines.len() - 1, expected);
    let mut masked = 0;
    for l in &lines[1..] {
        let f: Vec<&str> = l.split(',').collect();
        assert_eq!(f.len(), 16, "{l}");
        if f[6] == "false" {
            masked += 1;
            assert!(
                f[7..].iter().all(|x| x.is_empty()),
                "masked row with numbers: {l}"
            );
        }
    }
    assert!(masked > 0);
    assert_no_secret_in_file("CSV", &body);

    let body = ok("/download/all.csv").await;
    assert_eq!(body.lines().count() - 1, atlas.figures.len());
    assert_no_secret_in_file("all.csv", &body);

    let body = ok("/download/out-of-pocket.json").await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["indicator"]["id"], "out-of-pocket");
    let figs = v["figures"].as_array().unwrap();
    assert_eq!(
        figs.len(),
        atlas
            .figures
            .iter()
            .filter(|f| f.indicator == "out-of-pocket")
            .count()
    );
    for f in figs.iter().filter(|f| f["released"] == false) {
        for (k, v) in f.as_object().unwrap() {
            assert!(
                k == "year" || !v.is_number(),
                "masked figure has number {k}: {f}"
            );
        }
    }
    assert_no_secret_in_file("JSON", &body);
}

#[tokio::test]
async fn dcat_lists_one_dataset_per_indicator() {
    let (status, headers, body) = get_with("/dcat.jsonld", Some("example.org:1234")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .contains("ld+json")
    );
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let datasets = v["dcat:dataset"].as_array().unwrap();
    assert_eq!(datasets.len(), INDICATORS.len());
    // Every URL under the configured public URL, whatever the request's Host says.
    assert!(
        v["@id"].as_str().unwrap().starts_with("http://atlas.test/"),
        "{}",
        v["@id"]
    );
    assert!(
        !body.contains("example.org"),
        "the Host header is not echoed"
    );
    assert!(body.contains("http://atlas.test/download/gp-contact.csv"));
    let (_, _, plain) = get("/dcat.jsonld").await;
    assert_eq!(plain, body, "the same catalogue with or without a Host");
}

#[tokio::test]
async fn the_language_switch_changes_the_title_and_keeps_the_selection() {
    let fr = ok("/indicator/gp-contact?year=2023&level=province").await;
    let nl = ok("/indicator/gp-contact?year=2023&level=province&lang=nl").await;
    let title = |b: &str| {
        let s = b.find("<title>").unwrap() + 7;
        b[s..s + b[s..].find("</title>").unwrap()].to_string()
    };
    assert_ne!(title(&fr), title(&nl));
    assert!(title(&fr).contains("médecin généraliste"), "{}", title(&fr));
    assert!(title(&nl).contains("huisarts"), "{}", title(&nl));
    assert!(fr.contains("<html lang=\"fr\">") && nl.contains("<html lang=\"nl\">"));
    assert!(
        fr.contains("href=\"/indicator/gp-contact?year=2023&amp;level=province&amp;lang=nl\""),
        "the switch keeps the parameters"
    );
    assert!(nl.contains("href=\"/indicator/gp-contact?year=2023&amp;level=province&amp;lang=fr\""));
    let nl_front = ok("/?lang=nl").await;
    assert!(title(&nl_front).contains("Gezondheidsatlas"));
}

#[tokio::test]
async fn the_indicator_list_is_grouped_and_searchable() {
    let body = ok("/indicators").await;
    for (id, _) in INDICATORS {
        assert!(body.contains(&format!("/indicator/{id}")), "{id}");
    }
    assert!(body.contains("<h2>Prévention</h2>"));
    let body = ok("/indicators?q=generaliste").await;
    assert!(body.contains("/indicator/gp-contact"));
    assert!(!body.contains("/indicator/out-of-pocket"));
    let body = ok("/indicators?q=huisarts&lang=nl").await;
    assert!(body.contains("/indicator/gp-contact"));
    assert!(!body.contains("/indicator/flu-vaccination-65"));
    let body = ok("/indicators?q=zzzz").await;
    assert!(body.contains("Aucun indicateur ne correspond."));
}

#[tokio::test]
async fn the_area_page_compares_with_belgium_over_the_years() {
    let body = ok("/area/municipality/21009?indicator=gp-contact").await;
    assert!(body.contains("<svg class=\"trend\""));
    assert!(body.contains("class=\"band\""), "a confidence band");
    assert!(
        body.contains("polyline class=\"be-line\""),
        "Belgium's line"
    );
    for y in YEARS {
        assert!(body.contains(&format!("<th scope=\"row\">{y}</th>")));
    }
    // Every indicator in the latest year's table.
    for (id, _) in INDICATORS {
        assert!(
            body.contains(&format!("/area/municipality/21009?indicator={id}")),
            "{id}"
        );
    }
    // Its parents: district, region (Brussels-Capital once).
    assert!(body.contains("/area/district/21000"));
    assert!(body.contains("/area/region/04000"));
    assert!(!body.contains("/area/province/04000"));
    // A district lists its municipalities.
    let body = ok("/area/district/21000?lang=nl").await;
    assert!(body.contains("/area/municipality/21009"));
    let body = ok("/area/belgium/BE").await;
    assert!(body.contains("/area/region/02000"));
}

#[tokio::test]
async fn the_selectors_form_redirects_to_the_indicator() {
    let resp = app()
        .oneshot(
            Request::get(
                "/indicator?id=flu-vaccination-65&year=2023&level=district&sex=F&age=0-17&lang=nl",
            )
            .body(Body::empty())
            .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        resp.headers()["location"],
        "/indicator/flu-vaccination-65?year=2023&level=district&sex=F&lang=nl",
        "the age group the indicator does not cover is dropped"
    );
}

#[tokio::test]
async fn bad_input_is_a_404_in_the_pages_language() {
    for (uri, lang) in [
        ("/indicator/nope", "fr"),
        ("/indicator/nope?lang=nl", "nl"),
        ("/indicator/gp-contact?level=county", "fr"),
        ("/indicator/gp-contact?level=Municipality", "fr"),
        ("/indicator/gp-contact?year=1999", "fr"),
        ("/indicator/gp-contact?year=abc&lang=nl", "nl"),
        ("/indicator/gp-contact?year=%FF", "fr"),
        ("/indicator/gp-contact?sex=X", "fr"),
        ("/indicator/gp-contact?age=99", "fr"),
        ("/indicator/gp-contact?age=65-74", "fr"),
        ("/indicator/gp-contact?lang=de", "fr"),
        ("/indicator?id=nope", "fr"),
        ("/indicator", "fr"),
        ("/area/municipality/99999", "fr"),
        ("/area/municipality/02000?lang=nl", "nl"),
        ("/area/county/21004", "fr"),
        ("/area/municipality/21004?indicator=nope", "fr"),
        ("/nope", "fr"),
        ("/nope?lang=nl", "nl"),
        ("/indicator/gp-contact/extra", "fr"),
        ("/download/nope.csv", "fr"),
        ("/download/gp-contact.txt", "fr"),
        ("/static/nope.css", "fr"),
        ("/?year=1800", "fr"),
    ] {
        let (status, headers, body) = get(uri).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{uri}"
        );
        assert!(body.contains(&format!("<html lang=\"{lang}\">")), "{uri}");
        assert!(
            body.contains(if lang == "fr" {
                "Page introuvable"
            } else {
                "Pagina niet gevonden"
            }),
            "{uri}"
        );
    }
    for uri in [
        "/api/figures/nope",
        "/api/figures/gp-contact?year=x",
        "/api/figures/gp-contact?level=county",
        "/api/figures/gp-contact?age=65-74",
        "/api/figures/gp-contact?lang=xx",
        "/api/nope",
    ] {
        let (status, headers, body) = get(uri).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json"),
            "{uri}"
        );
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["error"], "not found", "{uri}");
    }
}

#[tokio::test]
async fn static_assets_are_cached_and_pages_load_nothing_external() {
    let (status, headers, body) = get("/static/atlas.css").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age")
    );
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    assert!(body.contains(".tooltip"));
    let (status, headers, body) = get("/static/atlas.js").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(!body.contains("http"), "the script fetches nothing");
    let page = ok("/").await;
    for attr in ["src=\"", "href=\""] {
        for part in page.split(attr).skip(1) {
            let url = &part[..part.find('"').unwrap()];
            assert!(
                url.starts_with('/')
                    || url.starts_with('#')
                    || url == "data:,"
                    || url == "https://creativecommons.org/licenses/by/4.0/",
                "external resource {url}"
            );
        }
    }
}

// ---- The findings of issue 16 (each failed on the code before it) ----

/// Every `href`/`src` of a page: on this site (a single `/`, `#`, the empty favicon) or the
/// licence.
fn assert_links_stay_on_site(what: &str, body: &str) {
    for attr in ["src=\"", "href=\""] {
        for part in body.split(attr).skip(1) {
            let url = &part[..part.find('"').unwrap()];
            let on_site =
                (url.starts_with('/') && !url.starts_with("//") && !url.starts_with("/\\"))
                    || url.starts_with('#')
                    || url == "data:,";
            assert!(
                on_site || url == "https://creativecommons.org/licenses/by/4.0/",
                "{what}: off-site link {url}"
            );
        }
    }
}

#[tokio::test]
async fn a_404_never_links_to_another_site() {
    for uri in [
        "//evil.example/phish",
        "//evil.example/phish?lang=nl",
        "/\\evil.example/phish",
        "//evil.example/%2e%2e/x?lang=nl&year=1",
        "/%2F%2Fevil.example/phish",
        "/indicator/%2F%2Fevil.example",
        "/area/%2F%2Fevil.example/x?lang=nl",
    ] {
        let (status, _, body) = get(uri).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        assert_links_stay_on_site(uri, &body);
        let alternate = body
            .split("<link rel=\"alternate\"")
            .nth(1)
            .expect("an alternate link");
        let tag = &alternate[..alternate.find('>').unwrap()];
        let href = tag.split("href=\"").nth(1).expect("href");
        assert!(
            href.starts_with('/') && !href.starts_with("//"),
            "{uri}: {tag}"
        );
    }
    // A matched route keeps its path in the switch, re-encoded from the route.
    let (_, _, body) = get("/indicator/gp-contact?lang=nl").await;
    assert!(body.contains("href=\"/indicator/gp-contact?lang=fr\""));
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    for uri in [
        "/",
        "/indicator/gp-contact",
        "/indicator?id=gp-contact",
        "/api/figures/gp-contact",
        "/api/nope",
        "/download/gp-contact.csv",
        "/dcat.jsonld",
        "/static/atlas.css",
        "/static/atlas.js",
        "/nope",
        "/?a=%",
    ] {
        let (_, h, _) = get(uri).await;
        let csp = h["content-security-policy"].to_str().unwrap();
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(directive), "{uri}: {csp}");
        }
        assert!(!csp.contains("unsafe-inline"), "{uri}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{uri}");
        assert_eq!(h["referrer-policy"], "same-origin", "{uri}");
        assert_eq!(h["x-frame-options"], "DENY", "{uri}");
        assert!(
            !h.contains_key("strict-transport-security"),
            "{uri}: no HSTS over plain HTTP"
        );
    }
    // No page needs inline script or style (the CSP forbids both).
    for uri in [
        "/",
        "/indicator/gp-contact?level=province",
        "/area/municipality/21009",
        "/about",
    ] {
        let body = ok(uri).await;
        assert!(
            !body.contains("<script>") && !body.contains("<style"),
            "{uri}"
        );
        assert!(!body.contains(" style=\""), "{uri}: inline style attribute");
        assert!(!body.contains(" onclick="), "{uri}: inline handler");
    }
}

async fn get_headers(uri: &str, headers: &[(&str, &str)]) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut req = Request::get(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = app()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let h = resp.headers().clone();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, h, body.to_vec())
}

#[tokio::test]
async fn etags_are_per_resource_and_if_none_match_gives_304() {
    let (_, css, _) = get("/static/atlas.css").await;
    let (_, js, _) = get("/static/atlas.js").await;
    assert_ne!(
        css["etag"], js["etag"],
        "the CSS and the JS have their own ETag"
    );
    for uri in [
        "/static/atlas.css",
        "/static/atlas.js",
        "/indicator/gp-contact?level=province",
        "/api/figures/gp-contact?level=region",
        "/download/gp-contact.csv",
        "/dcat.jsonld",
    ] {
        let (status, h, body) = get_headers(uri, &[]).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        let tag = h["etag"].to_str().unwrap().to_string();
        assert!(tag.starts_with('"') && tag.ends_with('"'), "{uri}: {tag}");
        let (status, h304, body304) = get_headers(uri, &[("if-none-match", &tag)]).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED, "{uri}");
        assert!(body304.is_empty(), "{uri}");
        assert_eq!(h304["etag"], tag.as_str(), "{uri}");
        let (status, _, again) = get_headers(uri, &[("if-none-match", "\"other\"")]).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert_eq!(again, body, "{uri}");
    }
    // Another selection, another tag.
    let (_, a, _) = get("/api/figures/gp-contact?level=region").await;
    let (_, b, _) = get("/api/figures/gp-contact?level=province").await;
    assert_ne!(a["etag"], b["etag"]);
}

#[tokio::test]
async fn a_malformed_query_is_a_404() {
    for uri in [
        "/?a=%",
        "/indicators?q=%zz",
        "/indicator/gp-contact?year=%2",
        "/about?x=%C3",
    ] {
        let (status, h, body) = get(uri).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
        assert!(body.contains("Paramètres de requête illisibles"), "{uri}");
    }
    let (status, h, _) = get("/api/figures/gp-contact?a=%").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        h["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let (status, _, _) = get("/download/gp-contact.csv?a=%").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn large_responses_are_gzipped_for_clients_that_accept_it() {
    use std::io::Read;
    for uri in [
        "/",
        "/api/figures/gp-contact",
        "/download/gp-contact.csv",
        "/static/atlas.js",
    ] {
        let (_, plain_h, plain) = get_headers(uri, &[]).await;
        assert!(!plain_h.contains_key("content-encoding"), "{uri}");
        let (status, h, z) = get_headers(uri, &[("accept-encoding", "gzip, deflate, br")]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(h["content-encoding"], "gzip", "{uri}");
        assert_eq!(h["vary"], "accept-encoding", "{uri}");
        assert_ne!(
            h["etag"], plain_h["etag"],
            "{uri}: each representation its own tag"
        );
        assert!(z.len() < plain.len(), "{uri}");
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&z[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, plain, "{uri}");
    }
    // Small responses and clients that refuse gzip get identity.
    let (_, h, _) = get_headers("/api/nope", &[("accept-encoding", "gzip")]).await;
    assert!(!h.contains_key("content-encoding"));
    let (_, h, _) = get_headers("/", &[("accept-encoding", "gzip;q=0")]).await;
    assert!(!h.contains_key("content-encoding"));
}

#[tokio::test]
async fn head_has_the_same_etag_as_get() {
    let (_, g, _) = get_headers("/indicators", &[]).await;
    let resp = app()
        .oneshot(Request::head("/indicators").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["etag"], g["etag"]);
}
