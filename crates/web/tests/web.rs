//! The web Atlas through its router (no socket): a small hand-built Atlas with masked
//! figures, on the real map layers.

use aim_atlas::compute::{Comparison, GateSummary, Manifest};
use aim_atlas::{Atlas, Figure};
use aim_maps::{Level, Maps};
use aim_model::geography::{Geography, default_reference_dir};
use aim_web::{AppState, router};
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use std::sync::OnceLock;
use tower::ServiceExt;

const YEARS: [i32; 2] = [2023, 2024];
/// The numbers every masked figure of the fixture carries in its (broken) file: the server
/// must drop them. No released figure has a value in 60–99.
const SECRET_CRUDE: f64 = 77.7777;
const SECRET_STD: f64 = 66.6666;
const SECRET_PERSONS: i64 = 3;

struct Fixture {
    geography: Geography,
    maps: Maps,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = default_reference_dir();
        let geography = Geography::load(&dir).expect("reference data");
        let maps = Maps::load(&dir, &geography).expect("maps");
        Fixture { geography, maps }
    })
}

fn hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Masked: one municipality in seven (by code), every figure of 21004 (Brussels) in 2023,
/// and 11002 (Antwerp) in every year.
fn is_masked(level: &str, area: &str, year: i32) -> bool {
    level == "municipality"
        && (hash(area).is_multiple_of(7) || (area == "21004" && year == 2023) || area == "11002")
}

fn figure(ind: &str, year: i32, level: &str, area: &str, sex: &str, age: &str) -> Figure {
    let released = !is_masked(level, area, year);
    if !released {
        // A broken file: numbers on a masked figure. The server must never show them.
        return Figure {
            indicator: ind.into(),
            year,
            level: level.into(),
            area: area.into(),
            sex: sex.into(),
            age_group: age.into(),
            released: false,
            persons: Some(SECRET_PERSONS),
            numerator: Some(2.0),
            crude: Some(SECRET_CRUDE),
            crude_low: Some(SECRET_CRUDE - 1.0),
            crude_high: Some(SECRET_CRUDE + 1.0),
            standardised: Some(SECRET_STD),
            standardised_low: Some(SECRET_STD - 1.0),
            standardised_high: Some(SECRET_STD + 1.0),
            vs_belgium: Some(Comparison::Higher),
        };
    }
    let h = hash(&format!("{ind}{year}{level}{area}{sex}{age}"));
    let v = if level == "belgium" {
        40.0
    } else {
        20.0 + (h % 4000) as f64 / 100.0
    };
    let persons = 100 + (h % 900) as i64;
    let std = (age == "all").then_some(v + 0.5);
    Figure {
        indicator: ind.into(),
        year,
        level: level.into(),
        area: area.into(),
        sex: sex.into(),
        age_group: age.into(),
        released: true,
        persons: Some(persons),
        numerator: Some((persons as f64 * v / 100.0).round()),
        crude: Some(v),
        crude_low: Some(v - 2.0),
        crude_high: Some(v + 2.0),
        standardised: std,
        standardised_low: std.map(|s| s - 2.5),
        standardised_high: std.map(|s| s + 2.5),
        vs_belgium: (level != "belgium").then_some(match h % 3 {
            0 => Comparison::Higher,
            1 => Comparison::Lower,
            _ => Comparison::Similar,
        }),
    }
}

const INDICATORS: [(&str, &[&str]); 3] = [
    ("flu-vaccination-65", &["all", "65-74", "75+"]),
    ("gp-contact", &["all", "0-17", "75+"]),
    ("out-of-pocket", &["all", "18-44"]),
];

fn atlas() -> Atlas {
    let f = fixture();
    let all = aim_atlas::indicator::embedded().expect("embedded indicators");
    let indicators: Vec<_> = INDICATORS
        .iter()
        .map(|(id, _)| all.iter().find(|i| i.id == *id).expect("indicator").clone())
        .collect();
    let mut figures = Vec::new();
    for (id, ages) in INDICATORS {
        for year in YEARS {
            for layer in &f.maps.layers {
                for area in &layer.areas {
                    for sex in ["all", "F", "M"] {
                        for age in ages {
                            figures.push(figure(
                                id,
                                year,
                                layer.level.as_str(),
                                &area.code,
                                sex,
                                age,
                            ));
                        }
                    }
                }
            }
        }
    }
    // One municipality has no figure at all (nobody counted there).
    figures.retain(|f| !(f.level == "municipality" && f.area == "63087"));
    // Through JSON, so that fields added later with a default need no change here.
    let manifest: Manifest = serde_json::from_value(serde_json::json!({
        "created": "2026-05-01T10:00:00+00:00",
        "pati_version": 42,
        "definitions_sha256": "ab".repeat(32),
        "indicators": indicators,
        "years": YEARS,
        "standard_population_year": {"2023": 2021, "2024": 2021},
        "persons_without_municipality": {"2023": 0, "2024": 0},
        "gate": [GateSummary {
            indicator: "gp-contact".into(),
            year: 2024,
            cells: 1000,
            primary: 10,
            secondary: 20,
            audit_passed: true,
        }],
        "policy": aim_disclosure::Policy::POPULATION,
        "age_detail": true,
    }))
    .expect("a manifest");
    Atlas { manifest, figures }
}

fn app() -> Router {
    static S: OnceLock<AppState> = OnceLock::new();
    let state = S.get_or_init(|| {
        let f = fixture();
        AppState::new(atlas(), f.maps.clone(), &f.geography, "http://atlas.test")
    });
    router(state.clone())
}

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
    assert!(
        v["@id"]
            .as_str()
            .unwrap()
            .starts_with("http://example.org:1234/"),
        "{}",
        v["@id"]
    );
    // Without a Host header: the configured base URL.
    let body = ok("/dcat.jsonld").await;
    assert!(body.contains("http://atlas.test/download/gp-contact.csv"));
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
