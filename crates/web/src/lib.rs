//! The web Atlas: the figures of `aim-atlas` as choropleth maps, tables, area pages and
//! open-data downloads, in French and Dutch, served by `aim serve` (docs/atlas-web.md).
//!
//! Everything is loaded once at start ([`AppState`]) and every page is built from memory.
//! Pages are plain HTML with inline SVG; one small hand-written script and one style sheet
//! are embedded in the binary, nothing is fetched from elsewhere, so the Atlas works offline.
//! A figure the disclosure gate did not release is shown as "cellule masquée" /
//! "afgeschermde cel" and carries no number on any page or in any file.

#![warn(missing_docs)]

pub mod api;
pub mod assets;
pub mod data;
pub mod html;
pub mod map;
pub mod pages;
pub mod text;

use aim_atlas::Atlas;
use aim_maps::Maps;
use aim_model::geography::Geography;
use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use data::Data;
use html::{Ctx, NotFound};
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

/// What can go wrong when loading the Atlas for the web.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The warehouse has no computed Atlas.
    #[error("the warehouse {0} has no Atlas yet: run `aim atlas build --warehouse {0}` first")]
    NoAtlas(String),
    /// The Atlas files cannot be read.
    #[error(transparent)]
    Atlas(#[from] aim_atlas::AtlasError),
    /// The reference geography cannot be read.
    #[error("reference data: {0}")]
    Geography(String),
    /// The map layers cannot be built.
    #[error(transparent)]
    Maps(#[from] aim_maps::MapError),
}

struct Inner {
    data: Data,
    base_url: String,
    all_csv: OnceLock<axum::body::Bytes>,
}

/// The server's state: the Atlas, the maps and their indexes, shared by every request.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

impl AppState {
    /// Indexes an Atlas with its maps. `base_url` (e.g. `http://127.0.0.1:8080`) is used in
    /// the DCAT metadata when a request has no `Host` header.
    pub fn new(atlas: Atlas, maps: Maps, geography: &Geography, base_url: &str) -> AppState {
        AppState(Arc::new(Inner {
            data: Data::new(atlas, maps, geography),
            base_url: base_url.trim_end_matches('/').to_string(),
            all_csv: OnceLock::new(),
        }))
    }

    /// Loads the Atlas of a warehouse and the maps and geography of a reference folder.
    pub fn load(
        warehouse_root: &std::path::Path,
        reference_dir: &std::path::Path,
        base_url: &str,
    ) -> Result<AppState, LoadError> {
        let atlas = aim_atlas::store::load(warehouse_root)?
            .ok_or_else(|| LoadError::NoAtlas(warehouse_root.display().to_string()))?;
        let geography =
            Geography::load(reference_dir).map_err(|e| LoadError::Geography(e.to_string()))?;
        let maps = Maps::load(reference_dir, &geography)?;
        Ok(AppState::new(atlas, maps, &geography, base_url))
    }

    /// The indexed Atlas.
    pub fn data(&self) -> &Data {
        &self.0.data
    }
}

/// The Atlas's routes (all GET; see docs/atlas-web.md).
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(front))
        .route("/indicators", get(indicators))
        .route("/indicator", get(indicator_redirect))
        .route("/indicator/{id}", get(indicator))
        .route("/area/{level}/{code}", get(area))
        .route("/api/figures/{id}", get(api_figures))
        .route("/download/{file}", get(download))
        .route("/dcat.jsonld", get(dcat))
        .route("/data", get(data_page))
        .route("/terms", get(terms))
        .route("/about", get(about))
        .route("/static/{name}", get(static_asset))
        .fallback(fallback)
        .with_state(state)
}

/// Binds `addr` and serves until Ctrl-C.
pub async fn serve(state: AppState, addr: SocketAddr) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    serve_on(state, listener).await
}

/// Serves on a bound listener until Ctrl-C.
pub async fn serve_on(state: AppState, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
}

/// Binds a listener (port 0: any free port).
pub async fn bind(host: &str, port: u16) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind((host, port)).await
}

/// An HTML page, or the 404 page in the page's language.
fn html_page(uri: &Uri, f: impl FnOnce(&Ctx) -> pages::PageResult) -> Response {
    match Ctx::from_uri(uri) {
        Err((ctx, nf)) => html::not_found(&ctx, &nf),
        Ok(ctx) => match f(&ctx) {
            Ok(body) => html::respond(StatusCode::OK, body),
            Err(nf) => html::not_found(&ctx, &nf),
        },
    }
}

fn bad_path(lang: text::Lang) -> NotFound {
    NotFound::new(lang.t("Adresse illisible", "Onleesbaar adres"))
}

async fn front(State(st): State<AppState>, uri: Uri) -> Response {
    html_page(&uri, |ctx| pages::front(ctx, st.data()))
}

async fn indicators(State(st): State<AppState>, uri: Uri) -> Response {
    html_page(&uri, |ctx| pages::indicators(ctx, st.data()))
}

async fn indicator(
    State(st): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    uri: Uri,
) -> Response {
    html_page(&uri, |ctx| match id {
        Ok(Path(id)) => pages::indicator(ctx, st.data(), &id),
        Err(_) => Err(bad_path(ctx.lang)),
    })
}

/// `/indicator?id=X&…` (the selectors' form) → `/indicator/X?…`; an age group the
/// indicator does not cover is dropped.
async fn indicator_redirect(State(st): State<AppState>, uri: Uri) -> Response {
    let ctx = match Ctx::from_uri(&uri) {
        Ok(c) => c,
        Err((ctx, nf)) => return html::not_found(&ctx, &nf),
    };
    let data = st.data();
    let t = |fr, nl| ctx.lang.t(fr, nl);
    let Some(id) = ctx.get("id") else {
        return html::not_found(
            &ctx,
            &NotFound::new(t("Indicateur manquant", "Indicator ontbreekt")),
        );
    };
    let Some(ind) = data.indicator(id) else {
        return html::not_found(
            &ctx,
            &NotFound::new(format!(
                "{} « {id} »",
                t("Indicateur inconnu", "Onbekende indicator")
            )),
        );
    };
    let ages = data.ages_of(ind);
    let params: Vec<(&str, &str)> = ["year", "level", "sex", "age"]
        .into_iter()
        .filter_map(|k| ctx.get(k).map(|v| (k, v)))
        .filter(|(k, v)| *k != "age" || ages.contains(v))
        .collect();
    let location = ctx.href(&format!("/indicator/{}", html::enc_segment(id)), &params);
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

async fn area(
    State(st): State<AppState>,
    p: Result<Path<(String, String)>, PathRejection>,
    uri: Uri,
) -> Response {
    html_page(&uri, |ctx| match p {
        Ok(Path((level, code))) => pages::area(ctx, st.data(), &level, &code),
        Err(_) => Err(bad_path(ctx.lang)),
    })
}

async fn data_page(State(st): State<AppState>, uri: Uri) -> Response {
    html_page(&uri, |ctx| pages::data_page(ctx, st.data()))
}

async fn terms(uri: Uri) -> Response {
    html_page(&uri, pages::terms)
}

async fn about(State(st): State<AppState>, uri: Uri) -> Response {
    html_page(&uri, |ctx| pages::about(ctx, st.data()))
}

async fn api_figures(
    State(st): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    uri: Uri,
) -> Response {
    let ctx = match Ctx::from_uri(&uri) {
        Ok(c) => c,
        Err((_, nf)) => return api::json_not_found(&nf.what),
    };
    let Ok(Path(id)) = id else {
        return api::json_not_found("malformed path");
    };
    let data = st.data();
    let Some(ind) = data.indicator(&id) else {
        return api::json_not_found(&format!("unknown indicator '{id}'"));
    };
    match pages::selection(&ctx, data, ind) {
        Ok(key) => api::json_response(StatusCode::OK, &api::figures(data, &key)),
        Err(nf) => api::json_not_found(&nf.what),
    }
}

async fn download(
    State(st): State<AppState>,
    file: Result<Path<String>, PathRejection>,
    uri: Uri,
) -> Response {
    let ctx = match Ctx::from_uri(&uri) {
        Ok(c) => c,
        Err((ctx, nf)) => return html::not_found(&ctx, &nf),
    };
    let unknown = |what: &str| {
        html::not_found(
            &ctx,
            &NotFound::new(format!(
                "{} « {what} »",
                ctx.lang.t("Fichier inconnu", "Onbekend bestand")
            )),
        )
    };
    let Ok(Path(file)) = file else {
        return unknown("?");
    };
    if file == "all.csv" {
        let st2 = st.clone();
        let body = match tokio::task::spawn_blocking(move || {
            st2.0
                .all_csv
                .get_or_init(|| api::csv(st2.data().atlas.figures.iter()).into())
                .clone()
        })
        .await
        {
            Ok(b) => b,
            Err(_) => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
        };
        return api::download(body, "text/csv; charset=utf-8", "atlas-figures.csv");
    }
    let data = st.data();
    let (id, ext) = match file.rsplit_once('.') {
        Some((id, ext @ ("csv" | "json"))) => (id, ext),
        _ => return unknown(&file),
    };
    let Some(ind) = data.indicator(id) else {
        return unknown(&file);
    };
    let ind = &data.indicators()[ind];
    if ext == "csv" {
        let figures = data.atlas.figures.iter().filter(|f| f.indicator == ind.id);
        api::download(api::csv(figures), "text/csv; charset=utf-8", &file)
    } else {
        let v = aim_atlas::export::indicator_json(&data.atlas, ind);
        api::download(v.to_string(), "application/json", &file)
    }
}

/// The server's base URL: from the request's `Host` when it looks like a host name.
fn base_url(st: &AppState, headers: &HeaderMap) -> String {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        })
        .map(|h| format!("http://{h}"))
        .unwrap_or_else(|| st.0.base_url.clone())
}

async fn dcat(State(st): State<AppState>, headers: HeaderMap) -> Response {
    let v = aim_atlas::export::dcat(&st.data().atlas, &base_url(&st, &headers));
    (
        [(header::CONTENT_TYPE, "application/ld+json")],
        serde_json::to_string_pretty(&v).unwrap_or_default(),
    )
        .into_response()
}

async fn static_asset(name: Result<Path<String>, PathRejection>, uri: Uri) -> Response {
    if let Ok(Path(name)) = name
        && let Some(r) = assets::get(&name)
    {
        return r;
    }
    fallback(uri).await
}

async fn fallback(uri: Uri) -> Response {
    if uri.path().starts_with("/api/") || uri.path() == "/api" {
        return api::json_not_found(&format!("no such endpoint: {}", uri.path()));
    }
    let ctx = match Ctx::from_uri(&uri) {
        Ok(c) => c,
        Err((ctx, _)) => ctx,
    };
    let what = format!(
        "{} {}",
        ctx.lang
            .t("Aucune page à l'adresse", "Geen pagina op het adres"),
        uri.path()
    );
    html::not_found(&ctx, &NotFound::new(what))
}
