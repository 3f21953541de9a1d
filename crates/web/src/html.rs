//! HTML by hand: escaping, URLs, the page frame and the 404 page.

use crate::text::{self, Lang};
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use std::fmt::Write;

/// Escapes text for HTML content and attribute values: the platform's one escaper.
pub use aim_model::html::esc;

/// Percent-encodes a query value (`application/x-www-form-urlencoded`).
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            b => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// Percent-encodes a path segment.
pub fn enc_segment(s: &str) -> String {
    enc(s).replace('+', "%20")
}

/// The request as a page sees it: its language, the path of its route and its query
/// parameters.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The page's language (`?lang=`, French by default).
    pub lang: Lang,
    /// The page's path, rebuilt from the matched route and its (re-encoded) parameters:
    /// never the raw request path, so a link built from it stays on this site.
    pub path: String,
    /// The query parameters, in order.
    pub params: Vec<(String, String)>,
}

/// Why a request has no page.
#[derive(Debug, Clone)]
pub struct NotFound {
    /// What was not found, in the page's language.
    pub what: String,
}

impl NotFound {
    /// A 404 with a message.
    pub fn new(what: impl Into<String>) -> NotFound {
        NotFound { what: what.into() }
    }
}

/// Decodes a query string strictly (`application/x-www-form-urlencoded`): `None` when a `%`
/// is not followed by two hexadecimal digits or a decoded name or value is not UTF-8.
pub fn parse_query(query: &str) -> Option<Vec<(String, String)>> {
    fn decode(s: &str) -> Option<String> {
        let b = s.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'+' => out.push(b' '),
                b'%' => {
                    let hex = b.get(i + 1..i + 3)?;
                    let hex = std::str::from_utf8(hex).ok()?;
                    out.push(u8::from_str_radix(hex, 16).ok()?);
                    i += 2;
                }
                c => out.push(c),
            }
            i += 1;
        }
        String::from_utf8(out).ok()
    }
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Some((decode(k)?, decode(v)?))
        })
        .collect()
}

impl Ctx {
    /// The context of a page whose route gave `path` (already percent-encoded, starting with
    /// a single `/`). A malformed query string or an unknown `lang` gives the context
    /// (French) and the reason, for a 404.
    pub fn new(path: impl Into<String>, uri: &Uri) -> Result<Ctx, (Ctx, NotFound)> {
        let mut ctx = Ctx {
            lang: Lang::Fr,
            path: path.into(),
            params: Vec::new(),
        };
        debug_assert!(ctx.path.starts_with('/') && !ctx.path.starts_with("//"));
        match parse_query(uri.query().unwrap_or("")) {
            Some(q) => ctx.params = q,
            None => {
                return Err((
                    ctx,
                    NotFound::new("Paramètres de requête illisibles / Onleesbare queryparameters"),
                ));
            }
        }
        match ctx.params.iter().find(|(k, _)| k == "lang") {
            None => {}
            Some((_, v)) if v.is_empty() => {}
            Some((_, v)) => match Lang::parse(v) {
                Some(l) => ctx.lang = l,
                None => {
                    let what = format!(
                        "Langue inconnue « {v} » (fr ou nl) / Onbekende taal '{v}' (fr of nl)"
                    );
                    return Err((ctx, NotFound::new(what)));
                }
            },
        }
        Ok(ctx)
    }

    /// The context of a request no route matched: its language switch leads to the front
    /// page in the other language, without the request's parameters.
    pub fn unknown_route(uri: &Uri) -> Ctx {
        let mut ctx = match Ctx::new("/", uri) {
            Ok(c) => c,
            Err((c, _)) => c,
        };
        ctx.params.clear();
        ctx
    }

    /// A query parameter (the first one of that name), `None` when absent or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// A link to `path` with `params` and the page's language.
    pub fn href(&self, path: &str, params: &[(&str, &str)]) -> String {
        href_lang(path, params, self.lang)
    }

    /// This page in the other language, with the same parameters.
    pub fn switch_href(&self) -> String {
        let params: Vec<(&str, &str)> = self
            .params
            .iter()
            .filter(|(k, _)| k != "lang")
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        href_lang(&self.path, &params, self.lang.other())
    }

    /// French or Dutch.
    pub fn t<'a>(&self, fr: &'a str, nl: &'a str) -> &'a str {
        self.lang.t(fr, nl)
    }
}

/// A link with the language as the last parameter.
pub fn href_lang(path: &str, params: &[(&str, &str)], lang: Lang) -> String {
    let mut s = String::from(path);
    let mut sep = '?';
    for (k, v) in params {
        let _ = write!(s, "{sep}{}={}", enc(k), enc(v));
        sep = '&';
    }
    let _ = write!(s, "{sep}lang={}", lang.code());
    s
}

/// A versioned URL of a static asset (the version changes with its content, so it can be
/// cached for a long time).
pub fn asset(name: &str) -> String {
    format!("/static/{name}?v={}", crate::assets::version())
}

/// The HTML frame of every page around `main` (already HTML).
pub fn page(ctx: &Ctx, title: &str, main: &str) -> String {
    let lang = ctx.lang;
    let t = |fr, nl| lang.t(fr, nl);
    let mut s = String::with_capacity(main.len() + 3000);
    let other = lang.other();
    let _ = writeln!(
        s,
        "<!doctype html>\n<html lang=\"{code}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title} — {site}</title>\n\
         <meta name=\"description\" content=\"{desc}\">\n\
         <link rel=\"icon\" href=\"data:,\">\n\
         <link rel=\"stylesheet\" href=\"{css}\">\n\
         <link rel=\"alternate\" hreflang=\"{ocode}\" href=\"{switch}\">\n\
         <script src=\"{js}\" defer></script>\n</head>\n<body>\n\
         <a class=\"skip\" href=\"#main\">{skip}</a>\n\
         <header class=\"site\">\n<a class=\"brand\" href=\"{home}\">{site}</a>\n\
         <nav aria-label=\"{navlabel}\">\n\
         <a href=\"{home}\">{map}</a>\n<a href=\"{inds}\">{indicators}</a>\n\
         <a href=\"{about}\">{method}</a>\n<a href=\"{dcat}\">{data}</a>\n\
         <a class=\"lang-switch\" href=\"{switch}\" hreflang=\"{ocode}\" lang=\"{ocode}\">{oname}</a>\n\
         </nav>\n</header>\n<main id=\"main\">\n{main}\n</main>\n\
         <footer class=\"site\">\n<p>{footer} \
         <a href=\"https://creativecommons.org/licenses/by/4.0/\" rel=\"license\">CC BY 4.0</a> · \
         <a href=\"{terms}\">{termsl}</a> · <a href=\"{dcat}\">DCAT-AP</a> · \
         <a href=\"/download/all.csv\">{allcsv}</a></p>\n</footer>\n</body>\n</html>",
        code = lang.code(),
        title = esc(title),
        site = esc(text::site(lang)),
        desc = esc(t(
            "Indicateurs de santé par commune, arrondissement, province et région de Belgique, standardisés pour l'âge et le sexe.",
            "Gezondheidsindicatoren per gemeente, arrondissement, provincie en gewest van België, gestandaardiseerd voor leeftijd en geslacht."
        )),
        css = asset("atlas.css"),
        js = asset("atlas.js"),
        ocode = other.code(),
        oname = other.own_name(),
        switch = esc(&ctx.switch_href()),
        skip = t("Aller au contenu", "Naar de inhoud"),
        home = esc(&ctx.href("/", &[])),
        navlabel = t("Navigation principale", "Hoofdnavigatie"),
        map = t("Carte", "Kaart"),
        inds = esc(&ctx.href("/indicators", &[])),
        indicators = t("Indicateurs", "Indicatoren"),
        about = esc(&ctx.href("/about", &[])),
        method = t("Méthode", "Methode"),
        dcat = esc(&ctx.href("/data", &[])),
        data = t("Données ouvertes", "Open data"),
        footer = t(
            "Agence intermutualiste — données des sept organismes assureurs, publiées sous licence",
            "Intermutualistisch Agentschap — gegevens van de zeven verzekeringsinstellingen, gepubliceerd onder licentie"
        ),
        terms = esc(&ctx.href("/terms", &[])),
        termsl = t("Conditions d'utilisation", "Gebruiksvoorwaarden"),
        allcsv = t("Tous les chiffres (CSV)", "Alle cijfers (CSV)"),
    );
    s
}

/// An HTML response.
pub fn respond(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// The 404 page in the page's language.
pub fn not_found(ctx: &Ctx, nf: &NotFound) -> Response {
    let t = |fr, nl| ctx.lang.t(fr, nl);
    let main = format!(
        "<h1>{h}</h1>\n<p class=\"error\">{what}</p>\n<p>{hint} <a href=\"{home}\">{map}</a> · \
         <a href=\"{inds}\">{list}</a></p>",
        h = t("Page introuvable (404)", "Pagina niet gevonden (404)"),
        what = esc(&nf.what),
        hint = t(
            "L'adresse demandée n'existe pas dans l'Atlas. Continuez vers :",
            "Het gevraagde adres bestaat niet in de Atlas. Ga verder naar:"
        ),
        home = esc(&ctx.href("/", &[])),
        map = t("la carte", "de kaart"),
        inds = esc(&ctx.href("/indicators", &[])),
        list = t("la liste des indicateurs", "de lijst van indicatoren"),
    );
    respond(
        StatusCode::NOT_FOUND,
        page(ctx, t("Page introuvable", "Pagina niet gevonden"), &main),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_encoding() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(enc("75+ é"), "75%2B+%C3%A9");
        assert_eq!(
            href_lang("/indicator/x", &[("age", "75+")], Lang::Nl),
            "/indicator/x?age=75%2B&lang=nl"
        );
    }

    #[test]
    fn queries_are_decoded_strictly() {
        assert_eq!(
            parse_query("a=1&b=x+y%2B&&c"),
            Some(vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y+".into()),
                ("c".into(), String::new())
            ])
        );
        assert_eq!(
            parse_query("q=g%C3%A9n"),
            Some(vec![("q".into(), "gén".into())])
        );
        for bad in ["a=%", "a=%4", "a=%zz", "%=1", "a=%FF", "a=%C3"] {
            assert_eq!(parse_query(bad), None, "{bad}");
        }
    }
}
