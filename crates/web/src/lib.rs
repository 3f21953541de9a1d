//! The web Atlas: the figures of `aim-atlas` as choropleth maps, tables, area pages and
//! open-data downloads, in French and Dutch, served by `aim serve` (docs/atlas-web.md).
//!
//! Everything is loaded once at start ([`AppState`]) and every page is built from memory.
//! Pages are plain HTML with inline SVG; one small hand-written script and one style sheet
//! are embedded in the binary, nothing is fetched from elsewhere, so the Atlas works offline.
//! A figure the disclosure gate did not release is shown as "cellule masquée" /
//! "afgeschermde cel" and carries no number on any page or in any file.
//!
//! The server is meant for the open internet (docs/deployment.md): every link and URL it
//! writes comes from the matched route or the configured [`PublicUrl`], never from the raw
//! request path or its `Host`; every response carries the security headers, a per-resource
//! `ETag` and compression when it is large ([`respond`]); connections are cut on slow
//! headers, bodies and writes, on idle keep-alive and above a connection cap ([`server`]);
//! HTTPS with rustls when given a certificate ([`tls`]).

#![warn(missing_docs)]

pub mod api;
pub mod assets;
pub mod data;
pub mod form;
pub mod guard;
pub mod html;
pub mod login;
pub mod map;
pub mod pages;
pub mod portal;
pub mod project_pages;
pub mod project_routes;
pub mod respond;
pub mod server;
pub mod sessions;
pub mod text;
pub mod tls;

use aim_atlas::Atlas;
use aim_maps::Maps;
use aim_model::geography::Geography;
use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use data::Data;
use html::{Ctx, NotFound};
use std::sync::{Arc, OnceLock};

pub use portal::{Portal, PortalConfig};
pub use server::{PeerAddr, ServeError, ServerConfig};

/// The public base URL of the Atlas (`aim serve --public-url`): scheme, host and optional
/// port, no path. The DCAT catalogue's identifiers and download URLs are built from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl(String);

/// Why a public URL is refused.
#[derive(Debug, thiserror::Error)]
pub enum PublicUrlError {
    /// Not a URL.
    #[error("not a URL: {0}")]
    Parse(#[from] url::ParseError),
    /// Not `http` or `https`, or no host.
    #[error("the public URL must be http:// or https:// with a host name, got {0}")]
    Scheme(String),
    /// A path, query, fragment or credentials: the Atlas is served at the root of its host.
    #[error(
        "the public URL must be only scheme, host and port (the Atlas is served at the root), got {0}"
    )]
    NotRoot(String),
}

impl PublicUrl {
    /// Parses `http(s)://host[:port][/]`.
    pub fn parse(s: &str) -> Result<PublicUrl, PublicUrlError> {
        let u = url::Url::parse(s)?;
        if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none_or(str::is_empty) {
            return Err(PublicUrlError::Scheme(s.to_string()));
        }
        if u.path() != "/"
            || u.query().is_some()
            || u.fragment().is_some()
            || !u.username().is_empty()
            || u.password().is_some()
        {
            return Err(PublicUrlError::NotRoot(s.to_string()));
        }
        Ok(PublicUrl(u.as_str().trim_end_matches('/').to_string()))
    }

    /// The URL without a trailing slash, e.g. `https://atlas.example.be`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether visitors reach the Atlas over HTTPS (then responses carry HSTS).
    pub fn is_https(&self) -> bool {
        self.0.starts_with("https://")
    }
}

impl std::fmt::Display for PublicUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

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
    public_url: PublicUrl,
    all_csv: OnceLock<axum::body::Bytes>,
}

/// The server's state: the Atlas, the maps and their indexes, shared by every request; and,
/// when `aim serve` is given an accounts store, the [`Portal`] of the signed-in pages.
#[derive(Clone)]
pub struct AppState(Arc<Inner>, Option<Arc<Portal>>);

impl AppState {
    /// Indexes an Atlas with its maps. `public_url` is the address visitors use: the DCAT
    /// metadata's identifiers and download URLs are built from it, and HSTS is sent when it
    /// is `https`.
    pub fn new(atlas: Atlas, maps: Maps, geography: &Geography, public_url: PublicUrl) -> AppState {
        AppState(
            Arc::new(Inner {
                data: Data::new(atlas, maps, geography),
                public_url,
                all_csv: OnceLock::new(),
            }),
            None,
        )
    }

    /// The same Atlas with sign-in and the project pages on (docs/web-projects.md).
    pub fn with_portal(self, portal: Portal) -> AppState {
        AppState(self.0, Some(Arc::new(portal)))
    }

    /// The portal, when sign-in is on.
    pub fn portal(&self) -> Option<&Portal> {
        self.1.as_deref()
    }

    pub(crate) fn portal_arc(&self) -> Option<Arc<Portal>> {
        self.1.clone()
    }

    /// Loads the Atlas of a warehouse and the maps and geography of a reference folder.
    pub fn load(
        warehouse_root: &std::path::Path,
        reference_dir: &std::path::Path,
        public_url: PublicUrl,
    ) -> Result<AppState, LoadError> {
        let atlas = aim_atlas::store::load(warehouse_root)?
            .ok_or_else(|| LoadError::NoAtlas(warehouse_root.display().to_string()))?;
        let geography =
            Geography::load(reference_dir).map_err(|e| LoadError::Geography(e.to_string()))?;
        let maps = Maps::load(reference_dir, &geography)?;
        Ok(AppState::new(atlas, maps, &geography, public_url))
    }

    /// The public base URL.
    pub fn public_url(&self) -> &PublicUrl {
        &self.0.public_url
    }

    /// The indexed Atlas.
    pub fn data(&self) -> &Data {
        &self.0.data
    }
}

/// The Atlas's routes (all GET; see docs/atlas-web.md) with the default limits.
pub fn router(state: AppState) -> Router {
    router_with(state, &ServerConfig::default())
}

/// Every route: its pattern and handler. The Atlas's are GET and public; the signed-in
/// part's (`guard::ROUTES` says what each needs) answer 404 when no accounts store is given.
fn routes() -> Vec<(&'static str, MethodRouter<AppState>)> {
    use project_routes as pr;
    vec![
        ("/login", get(login::form).post(login::submit)),
        ("/logout", get(login::logout_get).post(login::logout)),
        ("/projects", get(pr::list)),
        ("/projects/new", get(pr::new_form).post(pr::file)),
        ("/projects/{id}", get(pr::show)),
        (
            "/projects/{id}/move",
            get(pr::to_project).post(pr::move_project),
        ),
        (
            "/projects/{id}/documents",
            get(pr::to_project).post(pr::add_document),
        ),
        ("/projects/{id}/quote.html", get(pr::quote_html)),
        ("/projects/{id}/quote.xlsx", get(pr::quote_xlsx)),
        ("/", get(front)),
        ("/indicators", get(indicators)),
        ("/indicator", get(indicator_redirect)),
        ("/indicator/{id}", get(indicator)),
        ("/area/{level}/{code}", get(area)),
        ("/api/figures/{id}", get(api_figures)),
        ("/download/{file}", get(download)),
        ("/dcat.jsonld", get(dcat)),
        ("/data", get(data_page)),
        ("/terms", get(terms)),
        ("/about", get(about)),
        ("/static/{name}", get(static_asset)),
    ]
}

/// The route patterns (`/indicator/{id}`…): the hostile-request tests try every one, so a
/// route added later is covered without touching them.
pub fn route_patterns() -> Vec<&'static str> {
    routes().into_iter().map(|(p, _)| p).collect()
}

/// The Atlas's routes behind [`respond::finish`] (request bodies bounded by `config`;
/// security headers, ETags, conditional requests, compression).
pub fn router_with(state: AppState, config: &ServerConfig) -> Router {
    let policy = respond::Policy::new(state.public_url().is_https(), config);
    let mut router = Router::new();
    for (pattern, handler) in routes() {
        router = router.route(pattern, handler);
    }
    router
        .fallback(fallback)
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(policy),
            respond::finish,
        ))
}

/// Serves on a bound listener until Ctrl-C, over TLS when `tls` is given
/// ([`server::serve_until`] has the details).
pub async fn serve_on(
    state: AppState,
    listener: tokio::net::TcpListener,
    config: ServerConfig,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> std::io::Result<()> {
    let app = router_with(state, &config);
    server::serve_until(app, listener, config, tls, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}

/// Binds a listener (port 0: any free port).
pub async fn bind(host: &str, port: u16) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind((host, port)).await
}

/// An HTML page at the route path `path`, or the 404 page in the page's language.
fn html_page(path: &str, uri: &Uri, f: impl FnOnce(&Ctx) -> pages::PageResult) -> Response {
    match Ctx::new(path, uri) {
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
    html_page("/", &uri, |ctx| pages::front(ctx, st.data()))
}

async fn indicators(State(st): State<AppState>, uri: Uri) -> Response {
    html_page("/indicators", &uri, |ctx| pages::indicators(ctx, st.data()))
}

async fn indicator(
    State(st): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    uri: Uri,
) -> Response {
    match id {
        Ok(Path(id)) => html_page(
            &format!("/indicator/{}", html::enc_segment(&id)),
            &uri,
            |ctx| pages::indicator(ctx, st.data(), &id),
        ),
        Err(_) => html_page("/indicators", &uri, |ctx| Err(bad_path(ctx.lang))),
    }
}

/// `/indicator?id=X&…` (the selectors' form) → `/indicator/X?…`; an age group the
/// indicator does not cover is dropped.
async fn indicator_redirect(State(st): State<AppState>, uri: Uri) -> Response {
    let ctx = match Ctx::new("/indicators", &uri) {
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
    match p {
        Ok(Path((level, code))) => html_page(
            &format!(
                "/area/{}/{}",
                html::enc_segment(&level),
                html::enc_segment(&code)
            ),
            &uri,
            |ctx| pages::area(ctx, st.data(), &level, &code),
        ),
        Err(_) => html_page("/", &uri, |ctx| Err(bad_path(ctx.lang))),
    }
}

async fn data_page(State(st): State<AppState>, uri: Uri) -> Response {
    html_page("/data", &uri, |ctx| pages::data_page(ctx, st.data()))
}

async fn terms(uri: Uri) -> Response {
    html_page("/terms", &uri, pages::terms)
}

async fn about(State(st): State<AppState>, uri: Uri) -> Response {
    html_page("/about", &uri, |ctx| pages::about(ctx, st.data()))
}

async fn api_figures(
    State(st): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    uri: Uri,
) -> Response {
    let ctx = match Ctx::new("/", &uri) {
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
    let ctx = match Ctx::new("/data", &uri) {
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

/// The DCAT-AP catalogue under the configured public URL (never the request's `Host`: a
/// shared cache would keep an attacker's host for everyone).
async fn dcat(State(st): State<AppState>) -> Response {
    let v = aim_atlas::export::dcat(&st.data().atlas, st.public_url().as_str());
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

pub(crate) async fn fallback(uri: Uri) -> Response {
    if uri.path().starts_with("/api/") || uri.path() == "/api" {
        return api::json_not_found(&format!("no such endpoint: {}", uri.path()));
    }
    let ctx = Ctx::unknown_route(&uri);
    let what = format!(
        "{} {}",
        ctx.lang
            .t("Aucune page à l'adresse", "Geen pagina op het adres"),
        uri.path()
    );
    html::not_found(&ctx, &NotFound::new(what))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_urls_are_scheme_host_and_port_only() {
        let u = PublicUrl::parse("https://atlas.example.be/").unwrap();
        assert_eq!(u.as_str(), "https://atlas.example.be");
        assert!(u.is_https());
        let u = PublicUrl::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(u.as_str(), "http://127.0.0.1:8080");
        assert!(!u.is_https());
        for bad in [
            "atlas.example.be",
            "ftp://atlas.example.be",
            "https://atlas.example.be/atlas",
            "https://atlas.example.be/?a=1",
            "https://user:pw@atlas.example.be",
            "javascript:alert(1)",
        ] {
            assert!(PublicUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
