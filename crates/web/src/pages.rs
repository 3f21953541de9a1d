//! The HTML pages.

use crate::data::{self, Data, Key, SEXES};
use crate::html::{Ctx, NotFound, enc_segment, esc, page};
use crate::map::{self, Point};
use crate::text::{self, Lang};
use aim_atlas::compute::{ALL, BELGIUM};
use aim_atlas::{Figure, Indicator};
use aim_maps::Level;
use std::collections::BTreeMap;
use std::fmt::Write;

/// A page's result: its HTML, or why there is none.
pub type PageResult = Result<String, NotFound>;

/// The indicator shown on the front page: GP contact when there is one, else the first.
pub fn default_indicator(data: &Data) -> Option<usize> {
    data.indicator("gp-contact")
        .or_else(|| (!data.indicators().is_empty()).then_some(0))
}

/// Parses an exact level name.
pub fn parse_level(s: &str) -> Option<Level> {
    Level::ALL.into_iter().find(|l| l.as_str() == s)
}

/// The selection of the query (`year`, `level`, `sex`, `age`) for an indicator; defaults:
/// the latest year, municipalities, both sexes, all ages. Unknown values, and a selection
/// without figures, are not found.
pub fn selection(ctx: &Ctx, data: &Data, indicator: usize) -> Result<Key, NotFound> {
    let lang = ctx.lang;
    let year = match ctx.get("year") {
        None => data
            .latest_year()
            .ok_or_else(|| NotFound::new(lang.t("L'Atlas est vide.", "De Atlas is leeg.")))?,
        Some(y) => y
            .parse::<i32>()
            .ok()
            .filter(|y| data.years.contains(y))
            .ok_or_else(|| {
                NotFound::new(format!(
                    "{} « {y} »",
                    lang.t("Année inconnue", "Onbekend jaar")
                ))
            })?,
    };
    let level = match ctx.get("level") {
        None => Level::Municipality,
        Some(l) => parse_level(l).ok_or_else(|| {
            NotFound::new(format!(
                "{} « {l} »",
                lang.t("Niveau géographique inconnu", "Onbekend geografisch niveau")
            ))
        })?,
    };
    let sex = match ctx.get("sex") {
        None => ALL,
        Some(s) => SEXES.iter().copied().find(|x| *x == s).ok_or_else(|| {
            NotFound::new(format!(
                "{} « {s} »",
                lang.t("Sexe inconnu", "Onbekend geslacht")
            ))
        })?,
    };
    let age = match ctx.get("age") {
        None => ALL,
        Some(a) => data::ages().into_iter().find(|x| *x == a).ok_or_else(|| {
            NotFound::new(format!(
                "{} « {a} »",
                lang.t("Groupe d'âge inconnu", "Onbekende leeftijdsgroep")
            ))
        })?,
    };
    let key = Key {
        indicator,
        year,
        level,
        sex,
        age,
    };
    if !data.has(&key) {
        return Err(NotFound::new(lang.t(
            "Aucun chiffre pour cette sélection (cet indicateur ne couvre pas ce groupe d'âge ou cette année).",
            "Geen cijfers voor deze selectie (deze indicator dekt die leeftijdsgroep of dat jaar niet).",
        )));
    }
    Ok(key)
}

/// The name of the measure a map shows.
fn measure_name(lang: Lang, key: &Key) -> &'static str {
    if key.age == ALL {
        lang.t(
            "Taux standardisé pour l'âge et le sexe",
            "Voor leeftijd en geslacht gestandaardiseerd cijfer",
        )
    } else {
        lang.t("Taux brut", "Ruw cijfer")
    }
}

fn selected(b: bool) -> &'static str {
    if b { " selected" } else { "" }
}

/// The `<option>`s of the indicators, grouped by theme.
fn indicator_options(lang: Lang, data: &Data, current: usize) -> String {
    let mut themes: BTreeMap<String, Vec<(usize, &Indicator)>> = BTreeMap::new();
    for (i, ind) in data.indicators().iter().enumerate() {
        themes
            .entry(text::theme(&ind.theme, lang))
            .or_default()
            .push((i, ind));
    }
    let mut s = String::new();
    for (theme, inds) in themes {
        let _ = write!(s, "<optgroup label=\"{}\">", esc(&theme));
        for (i, ind) in inds {
            let _ = write!(
                s,
                "<option value=\"{}\"{}>{}</option>",
                esc(&ind.id),
                selected(i == current),
                esc(ind.title(lang.code()))
            );
        }
        s.push_str("</optgroup>");
    }
    s
}

/// The selectors of a map: a GET form to `/indicator` (which redirects to the page of the
/// chosen indicator).
fn selectors(ctx: &Ctx, data: &Data, key: &Key) -> String {
    let lang = ctx.lang;
    let t = |fr, nl| lang.t(fr, nl);
    let mut s = format!(
        "<form class=\"selectors\" method=\"get\" action=\"/indicator\">\n\
         <input type=\"hidden\" name=\"lang\" value=\"{}\">\n\
         <label class=\"wide\">{}<select name=\"id\">{}</select></label>\n",
        lang.code(),
        t("Indicateur", "Indicator"),
        indicator_options(lang, data, key.indicator)
    );
    let _ = write!(s, "<label>{}<select name=\"year\">", t("Année", "Jaar"));
    for y in data.years.iter().rev() {
        let _ = write!(
            s,
            "<option value=\"{y}\"{}>{y}</option>",
            selected(*y == key.year)
        );
    }
    let _ = write!(
        s,
        "</select></label>\n<label>{}<select name=\"level\">",
        t("Niveau", "Niveau")
    );
    for l in Level::ALL {
        let _ = write!(
            s,
            "<option value=\"{}\"{}>{}</option>",
            l.as_str(),
            selected(l == key.level),
            text::level_plural(l, lang)
        );
    }
    let _ = write!(
        s,
        "</select></label>\n<label>{}<select name=\"sex\">",
        t("Sexe", "Geslacht")
    );
    for x in SEXES {
        let _ = write!(
            s,
            "<option value=\"{x}\"{}>{}</option>",
            selected(x == key.sex),
            text::sex(x, lang)
        );
    }
    let _ = write!(
        s,
        "</select></label>\n<label>{}<select name=\"age\">",
        t("Âge", "Leeftijd")
    );
    for a in data.ages_of(key.indicator) {
        let _ = write!(
            s,
            "<option value=\"{}\"{}>{}</option>",
            esc(a),
            selected(a == key.age),
            esc(&text::age(a, lang))
        );
    }
    let _ = writeln!(
        s,
        "</select></label>\n<button type=\"submit\">{}</button>\n</form>",
        t("Afficher", "Tonen")
    );
    s
}

/// The selection as query parameters (for links).
fn key_params(key: &Key) -> Vec<(&'static str, String)> {
    vec![
        ("year", key.year.to_string()),
        ("level", key.level.as_str().to_string()),
        ("sex", key.sex.to_string()),
        ("age", key.age.to_string()),
    ]
}

fn params_ref<'a>(p: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    p.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// Belgium's value for a selection, as a sentence.
fn belgium_line(ctx: &Ctx, data: &Data, key: &Key) -> String {
    let lang = ctx.lang;
    let ind = &data.indicators()[key.indicator];
    let be = Key {
        level: Level::Belgium,
        ..*key
    };
    let v = match data.figure(&be, BELGIUM) {
        Some(f) if !f.released => text::masked(lang).to_string(),
        Some(f) => match data::shown(f) {
            Some(v) => format!(
                "{} ({} {})",
                text::value(v.value, ind.unit, lang),
                lang.t("IC 95 %", "BI 95 %"),
                text::interval(v.low, v.high, ind.unit, lang)
            ),
            None => text::no_data(lang).to_string(),
        },
        None => text::no_data(lang).to_string(),
    };
    format!(
        "<p class=\"belgium\">{} : <strong>{}</strong></p>",
        lang.t("Belgique", "België"),
        esc(&v)
    )
}

/// The map with its selectors, legend and tooltip.
fn map_block(ctx: &Ctx, data: &Data, key: &Key) -> String {
    let lang = ctx.lang;
    let ind = &data.indicators()[key.indicator];
    let shading = map::shading(data, key);
    let measure = format!(
        "{} ({}), {} {}, {}, {}",
        measure_name(lang, key),
        ind.unit.symbol(),
        text::level_plural(key.level, lang).to_lowercase(),
        key.year,
        text::sex(key.sex, lang).to_lowercase(),
        text::age(key.age, lang).to_lowercase()
    );
    format!(
        "{sel}<section class=\"map-block\" aria-label=\"{maplabel}\">\n\
         <p class=\"selection\">{measure}</p>\n{be}\n\
         <div class=\"map-wrap\">\n{svg}\n<div id=\"tooltip\" class=\"tooltip\" role=\"status\" aria-live=\"polite\" data-ci-label=\"{cil}\" data-more-label=\"{more}\" hidden></div>\n</div>\n\
         {legend}\n<p class=\"hint\">{hint}</p>\n</section>\n",
        sel = selectors(ctx, data, key),
        maplabel = lang.t("Carte", "Kaart"),
        cil = lang.t("IC 95 %", "BI 95 %"),
        more = lang.t("Voir la page de la zone →", "Naar de pagina van het gebied →"),
        measure = esc(&measure),
        be = belgium_line(ctx, data, key),
        svg = map::svg(ctx, data, key, &shading),
        legend = map::legend(lang, ind.unit, &shading, measure_name(lang, key)),
        hint = lang.t(
            "Survolez ou touchez une zone pour voir sa valeur ; suivez le lien pour sa page. Au clavier : Tab pour parcourir les zones, Entrée pour ouvrir.",
            "Beweeg over of tik op een gebied om de waarde te zien; volg de link naar de pagina ervan. Met het toetsenbord: Tab om de gebieden te doorlopen, Enter om te openen."
        ),
    )
}

/// A table cell with a sort key.
fn td_num(shown: &str, sort: Option<f64>) -> String {
    match sort {
        Some(v) => format!("<td class=\"num\" data-sort=\"{v:.6}\">{}</td>", esc(shown)),
        None => format!("<td class=\"num\" data-sort=\"\">{}</td>", esc(shown)),
    }
}

/// The table of a selection's figures: Belgium, then the areas by name.
fn figures_table(ctx: &Ctx, data: &Data, key: &Key) -> String {
    let lang = ctx.lang;
    let t = |fr, nl| lang.t(fr, nl);
    let ind = &data.indicators()[key.indicator];
    let unit = ind.unit;
    let mut s = format!(
        "<div class=\"table-wrap\"><table class=\"figures sortable\">\n<caption>{cap}</caption>\n<thead><tr>\
         <th scope=\"col\"><button type=\"button\" data-col=\"0\">{area}</button></th>\
         <th scope=\"col\" class=\"num\"><button type=\"button\" data-col=\"1\">{persons}</button></th>\
         <th scope=\"col\" class=\"num\"><button type=\"button\" data-col=\"2\">{crude} ({sym})</button></th>\
         <th scope=\"col\" class=\"num\">{ci}</th>\
         <th scope=\"col\" class=\"num\"><button type=\"button\" data-col=\"4\">{std} ({sym})</button></th>\
         <th scope=\"col\" class=\"num\">{ci}</th>\
         <th scope=\"col\"><button type=\"button\" data-col=\"6\">{vs}</button></th></tr></thead>\n<tbody>\n",
        cap = t(
            "Chiffres de la sélection (cliquez sur un en-tête pour trier)",
            "Cijfers van de selectie (klik op een kolomkop om te sorteren)"
        ),
        area = t("Zone", "Gebied"),
        persons = t("Personnes", "Personen"),
        crude = t("Taux brut", "Ruw cijfer"),
        std = t("Taux standardisé", "Gestandaardiseerd"),
        ci = t("IC 95 %", "BI 95 %"),
        vs = t("vs Belgique", "t.o.v. België"),
        sym = esc(unit.symbol()),
    );
    let mut rows: Vec<(String, String, &Figure)> = Vec::new();
    let be_key = Key {
        level: Level::Belgium,
        ..*key
    };
    let mut head = String::new();
    if key.level != Level::Belgium
        && let Some(f) = data.figure(&be_key, BELGIUM)
    {
        head = figure_row(ctx, data, Level::Belgium, f, unit, true);
    }
    for f in data.figures(key) {
        let name = data
            .name(key.level, &f.area, lang)
            .unwrap_or(&f.area)
            .to_string();
        rows.push((name.to_lowercase(), name, f));
    }
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    s.push_str(&head);
    for (_, _, f) in rows {
        s.push_str(&figure_row(ctx, data, key.level, f, unit, false));
    }
    s.push_str("</tbody></table></div>\n");
    s
}

fn figure_row(
    ctx: &Ctx,
    data: &Data,
    level: Level,
    f: &Figure,
    unit: aim_atlas::indicator::Unit,
    pinned: bool,
) -> String {
    let lang = ctx.lang;
    let name = data.name(level, &f.area, lang).unwrap_or(&f.area);
    let href = ctx.href(
        &format!("/area/{}/{}", level.as_str(), enc_segment(&f.area)),
        &[("indicator", &f.indicator)],
    );
    let mut s = format!(
        "<tr{}><th scope=\"row\" data-sort=\"{}\"><a href=\"{}\">{}</a></th>",
        if pinned { " class=\"pinned\"" } else { "" },
        esc(&name.to_lowercase()),
        esc(&href),
        esc(name)
    );
    if !f.released {
        let _ = writeln!(
            s,
            "<td class=\"masked\" colspan=\"6\" data-sort=\"\">{}</td></tr>",
            text::masked(lang)
        );
        return s;
    }
    let dash = "—";
    s.push_str(&td_num(
        &f.persons
            .map(|p| text::persons(p, lang))
            .unwrap_or_else(|| dash.into()),
        f.persons.map(|p| p as f64),
    ));
    let num = |v: Option<f64>| {
        v.map(|v| text::number(v, text::decimals(unit), lang))
            .unwrap_or_else(|| dash.into())
    };
    let ci = |lo: Option<f64>, hi: Option<f64>| match (lo, hi) {
        (Some(l), Some(h)) => text::interval(l, h, unit, lang),
        _ => dash.into(),
    };
    s.push_str(&td_num(&num(f.crude), f.crude));
    s.push_str(&td_num(&ci(f.crude_low, f.crude_high), None));
    s.push_str(&td_num(&num(f.standardised), f.standardised));
    s.push_str(&td_num(&ci(f.standardised_low, f.standardised_high), None));
    let cmp = text::comparison(f.vs_belgium, lang);
    let _ = writeln!(
        s,
        "<td class=\"cmp {cls}\" data-sort=\"{cmp}\">{cmp}</td></tr>",
        cls = match f.vs_belgium {
            Some(aim_atlas::compute::Comparison::Higher) => "higher",
            Some(aim_atlas::compute::Comparison::Lower) => "lower",
            Some(aim_atlas::compute::Comparison::Similar) => "similar",
            None => "",
        },
        cmp = esc(cmp)
    );
    s
}

/// The front page.
pub fn front(ctx: &Ctx, data: &Data) -> PageResult {
    let lang = ctx.lang;
    let t = |fr, nl| lang.t(fr, nl);
    let Some(ind) = default_indicator(data) else {
        return Err(NotFound::new(t("L'Atlas est vide.", "De Atlas is leeg.")));
    };
    let key = selection(ctx, data, ind)?;
    let indicator = &data.indicators()[ind];
    let params = key_params(&key);
    let main = format!(
        "<h1>{h1}</h1>\n<p class=\"intro\">{intro}</p>\n\
         <h2>{title}</h2>\n{block}\n\
         <p class=\"more\"><a href=\"{table}\">{tablel}</a> · <a href=\"{list}\">{listl}</a> · \
         <a href=\"{about}\">{aboutl}</a> · <a href=\"{data}\">{datal}</a></p>",
        h1 = text::site(lang),
        intro = t(
            "Des indicateurs de santé pour chaque commune, arrondissement, province et région de Belgique, calculés à partir des données des sept organismes assureurs. Les taux sont standardisés pour l'âge et le sexe, avec leur intervalle de confiance à 95 % ; les chiffres de moins de 5 personnes sont masqués.",
            "Gezondheidsindicatoren voor elke gemeente, elk arrondissement, elke provincie en elk gewest van België, berekend uit de gegevens van de zeven verzekeringsinstellingen. De cijfers zijn gestandaardiseerd voor leeftijd en geslacht, met hun 95 %-betrouwbaarheidsinterval; cijfers van minder dan 5 personen zijn afgeschermd."
        ),
        title = esc(indicator.title(lang.code())),
        block = map_block(ctx, data, &key),
        table = esc(&ctx.href(
            &format!("/indicator/{}", indicator.id),
            &params_ref(&params)
        )),
        tablel = t(
            "Tableau, définition et téléchargements de cet indicateur",
            "Tabel, definitie en downloads van deze indicator"
        ),
        list = esc(&ctx.href("/indicators", &[])),
        listl = t("Tous les indicateurs", "Alle indicatoren"),
        about = esc(&ctx.href("/about", &[])),
        aboutl = t("Méthode", "Methode"),
        data = esc(&ctx.href("/data", &[])),
        datal = t("Données ouvertes", "Open data"),
    );
    Ok(page(ctx, t("Carte", "Kaart"), &main))
}

/// The page of one indicator: map, table, definition, downloads.
pub fn indicator(ctx: &Ctx, data: &Data, id: &str) -> PageResult {
    let lang = ctx.lang;
    let t = |fr, nl| lang.t(fr, nl);
    let ind = data.indicator(id).ok_or_else(|| {
        NotFound::new(format!(
            "{} « {id} »",
            t("Indicateur inconnu", "Onbekende indicator")
        ))
    })?;
    let key = selection(ctx, data, ind)?;
    let i = &data.indicators()[ind];
    let params = key_params(&key);
    let api = crate::html::href_lang(
        &format!("/api/figures/{}", i.id),
        &params_ref(&params),
        lang,
    );
    let ages = if i.age_min == 0 && i.age_max >= 120 {
        t("toute la population", "de hele bevolking").to_string()
    } else if i.age_max >= 120 {
        format!("{} {}", i.age_min, t("ans et plus", "jaar en ouder"))
    } else {
        format!("{}–{} {}", i.age_min, i.age_max, t("ans", "jaar"))
    };
    let main = format!(
        "<p class=\"crumbs\"><a href=\"{list}\">{listl}</a> › {theme}</p>\n\
         <h1>{title}</h1>\n<p class=\"description\">{desc}</p>\n{block}\n\
         <h2>{tableh}</h2>\n{table}\n\
         <h2>{defh}</h2>\n<dl class=\"definition\">\
         <dt>{agesl}</dt><dd>{ages}</dd>\
         <dt>{unitl}</dt><dd>{unit}</dd>\
         <dt>{varsl}</dt><dd><code>{vars}</code></dd>\
         <dt>{refl}</dt><dd>{reference}</dd></dl>\n\
         <h2>{dlh}</h2>\n<ul class=\"downloads\">\
         <li><a href=\"/download/{id}.csv\" download>{id}.csv</a> — {csvl}</li>\
         <li><a href=\"/download/{id}.json\" download>{id}.json</a> — {jsonl}</li>\
         <li><a href=\"{api}\">API JSON</a> — {apil}</li>\
         <li><a href=\"{terms}\">{termsl}</a></li></ul>",
        list = esc(&ctx.href("/indicators", &[])),
        listl = t("Indicateurs", "Indicatoren"),
        theme = esc(&text::theme(&i.theme, lang)),
        title = esc(i.title(lang.code())),
        desc = esc(i.description(lang.code())),
        block = map_block(ctx, data, &key),
        tableh = t("Tableau", "Tabel"),
        table = figures_table(ctx, data, &key),
        defh = t("Définition", "Definitie"),
        agesl = t("Âges", "Leeftijden"),
        unitl = t("Unité", "Eenheid"),
        unit = esc(match i.unit {
            aim_atlas::indicator::Unit::Percent => t("pour cent (%)", "procent (%)"),
            aim_atlas::indicator::Unit::Per1000 => t("pour mille (‰)", "promille (‰)"),
            aim_atlas::indicator::Unit::Euro => t("euros par personne (€)", "euro per persoon (€)"),
        }),
        varsl = t("Variables PATI", "PATI-variabelen"),
        vars = esc(&i.source_variables.join(", ")),
        refl = t("Référence", "Referentie"),
        reference = esc(&i.reference),
        dlh = t("Télécharger", "Downloaden"),
        id = esc(&i.id),
        csvl = t(
            "tous les chiffres de l'indicateur (CSV ; cellules masquées sans nombre, released=false)",
            "alle cijfers van de indicator (CSV; afgeschermde cellen zonder getal, released=false)"
        ),
        jsonl = t(
            "la définition et les chiffres (JSON)",
            "de definitie en de cijfers (JSON)"
        ),
        api = esc(&api),
        apil = t("les chiffres de cette carte", "de cijfers van deze kaart"),
        terms = esc(&ctx.href("/terms", &[])),
        termsl = t(
            "Conditions d'utilisation (CC BY 4.0)",
            "Gebruiksvoorwaarden (CC BY 4.0)"
        ),
    );
    Ok(page(ctx, i.title(lang.code()), &main))
}

/// Lower case without accents, for searching.
pub fn fold(s: &str) -> String {
    s.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'à' | 'á' | 'â' | 'ä' | 'ã' => 'a',
            'ç' => 'c',
            'è' | 'é' | 'ê' | 'ë' => 'e',
            'ì' | 'í' | 'î' | 'ï' => 'i',
            'ò' | 'ó' | 'ô' | 'ö' | 'õ' => 'o',
            'ù' | 'ú' | 'û' | 'ü' => 'u',
            'ÿ' => 'y',
            '’' => '\'',
            c => c,
        })
        .collect()
}

/// The indicator list by theme, filtered by `q` (titles and descriptions in the page's
/// language; every word must match).
pub fn indicators(ctx: &Ctx, data: &Data) -> PageResult {
    let lang = ctx.lang;
    let t = |fr, nl| lang.t(fr, nl);
    let q = ctx.get("q").unwrap_or("");
    let words: Vec<String> = fold(q).split_whitespace().map(str::to_string).collect();
    let mut themes: BTreeMap<String, Vec<&Indicator>> = BTreeMap::new();
    let mut shown = 0;
    for ind in data.indicators() {
        let hay = fold(&format!(
            "{} {} {}",
            ind.title(lang.code()),
            ind.description(lang.code()),
            text::theme(&ind.theme, lang)
        ));
        if words.iter().all(|w| hay.contains(w.as_str())) {
            shown += 1;
            themes
                .entry(text::theme(&ind.theme, lang))
                .or_default()
                .push(ind);
        }
    }
    let mut list = String::new();
    for (theme, inds) in &themes {
        let _ = write!(
            list,
            "<section class=\"theme\"><h2>{}</h2><ul class=\"indicator-list\">",
            esc(theme)
        );
        for ind in inds {
            let hay = fold(&format!(
                "{} {} {}",
                ind.title(lang.code()),
                ind.description(lang.code()),
                theme
            ));
            let _ = write!(
                list,
                "<li data-search=\"{hay}\"><a href=\"{href}\">{title}</a><p>{desc}</p></li>",
                hay = esc(&hay),
                href = esc(&ctx.href(&format!("/indicator/{}", ind.id), &[])),
                title = esc(ind.title(lang.code())),
                desc = esc(ind.description(lang.code())),
            );
        }
        list.push_str("</ul></section>\n");
    }
    let main = format!(
        "<h1>{h1}</h1>\n<form class=\"search\" method=\"get\" action=\"/indicators\" role=\"search\">\
         <input type=\"hidden\" name=\"lang\" value=\"{code}\">\
         <label for=\"q\">{label}</label> <input type=\"search\" id=\"q\" name=\"q\" value=\"{q}\" data-filter=\"indicator-list\" autocomplete=\"off\">\
         <button type=\"submit\">{go}</button></form>\n\
         <p class=\"count\" id=\"count\" data-none=\"{none}\" data-label=\"{label_n}\">{count}</p>\n{list}",
        h1 = t("Indicateurs", "Indicatoren"),
        code = lang.code(),
        label = t("Rechercher", "Zoeken"),
        q = esc(q),
        go = t("Rechercher", "Zoeken"),
        none = t(
            "Aucun indicateur ne correspond.",
            "Geen enkele indicator komt overeen."
        ),
        label_n = t("indicateur(s)", "indicator(en)"),
        count = if shown == 0 {
            t(
                "Aucun indicateur ne correspond.",
                "Geen enkele indicator komt overeen.",
            )
            .to_string()
        } else {
            format!("{shown} {}", t("indicateur(s)", "indicator(en)"))
        },
        list = list,
    );
    Ok(page(ctx, t("Indicateurs", "Indicatoren"), &main))
}

fn area_href(ctx: &Ctx, level: Level, code: &str, indicator: &str) -> String {
    ctx.href(
        &format!("/area/{}/{}", level.as_str(), enc_segment(code)),
        &[("indicator", indicator)],
    )
}

/// A figure's shown value as text, and its interval.
fn value_cells(
    lang: Lang,
    f: Option<&Figure>,
    unit: aim_atlas::indicator::Unit,
) -> (String, String) {
    match f {
        None => (text::no_data(lang).into(), String::new()),
        Some(f) if !f.released => (text::masked(lang).into(), String::new()),
        Some(f) => match data::shown(f) {
            Some(v) => (
                text::value(v.value, unit, lang),
                text::interval(v.low, v.high, unit, lang),
            ),
            None => (text::no_data(lang).into(), String::new()),
        },
    }
}

/// The page of an area: the chosen indicator over the years against Belgium, and every
/// indicator of the latest year.
pub fn area(ctx: &Ctx, data: &Data, level: &str, code: &str) -> PageResult {
    let lang = ctx.lang;
    let t = |fr, nl| lang.t(fr, nl);
    let lvl = parse_level(level).ok_or_else(|| {
        NotFound::new(format!(
            "{} « {level} »",
            t("Niveau géographique inconnu", "Onbekend geografisch niveau")
        ))
    })?;
    let name = data.name(lvl, code, lang).ok_or_else(|| {
        NotFound::new(format!(
            "{} « {code} » ({})",
            t("Zone inconnue", "Onbekend gebied"),
            text::level_singular(lvl, lang).to_lowercase()
        ))
    })?;
    let ind = match ctx.get("indicator") {
        None => 0,
        Some(id) => data.indicator(id).ok_or_else(|| {
            NotFound::new(format!(
                "{} « {id} »",
                t("Indicateur inconnu", "Onbekende indicator")
            ))
        })?,
    };
    let Some(i) = data.indicators().get(ind) else {
        return Err(NotFound::new(t("L'Atlas est vide.", "De Atlas is leeg.")));
    };
    let unit = i.unit;
    let key_of = |year: i32, level: Level, indicator: usize| Key {
        indicator,
        year,
        level,
        sex: ALL,
        age: ALL,
    };
    let mut s = String::new();
    // Breadcrumbs: the areas containing this one.
    let parents = data.parents(lvl, code);
    if !parents.is_empty() {
        s.push_str("<p class=\"crumbs\">");
        for (k, (pl, pc)) in parents.iter().rev().enumerate() {
            if k > 0 {
                s.push_str(" › ");
            }
            let _ = write!(
                s,
                "<a href=\"{}\">{}</a>",
                esc(&area_href(ctx, *pl, pc, &i.id)),
                esc(data.name(*pl, pc, lang).unwrap_or(pc))
            );
        }
        s.push_str("</p>\n");
    }
    let _ = writeln!(
        s,
        "<h1>{}</h1>\n<p class=\"subtitle\">{} · {} {}</p>",
        esc(name),
        text::level_singular(lvl, lang),
        t("code INS", "NIS-code"),
        esc(code)
    );
    // Indicator selector.
    let _ = writeln!(
        s,
        "<form class=\"selectors\" method=\"get\" action=\"/area/{lv}/{code}\">\
         <input type=\"hidden\" name=\"lang\" value=\"{lang}\">\
         <label class=\"wide\">{label}<select name=\"indicator\">{opts}</select></label>\
         <button type=\"submit\">{go}</button></form>",
        lv = lvl.as_str(),
        code = esc(&enc_segment(code)),
        lang = lang.code(),
        label = t("Indicateur", "Indicator"),
        opts = indicator_options(lang, data, ind),
        go = t("Afficher", "Tonen"),
    );
    // Trend.
    let mut area_pts: Vec<Point> = Vec::new();
    let mut be_pts: Vec<Point> = Vec::new();
    let mut rows = String::new();
    for &year in &data.years {
        let f = data.figure(&key_of(year, lvl, ind), code);
        let b = data.figure(&key_of(year, Level::Belgium, ind), BELGIUM);
        area_pts.push((year, f.and_then(data::shown)));
        be_pts.push((year, b.and_then(data::shown)));
        let (av, aci) = value_cells(lang, f, unit);
        let (bv, bci) = value_cells(lang, b, unit);
        let persons = f
            .filter(|f| f.released)
            .and_then(|f| f.persons)
            .map(|p| text::persons(p, lang))
            .unwrap_or_default();
        let _ = writeln!(
            rows,
            "<tr><th scope=\"row\">{year}</th><td class=\"num{m}\">{av}</td><td class=\"num\">{aci}</td>\
             <td class=\"num\">{persons}</td><td class=\"num\">{bv}</td><td class=\"num\">{bci}</td><td>{cmp}</td></tr>",
            m = if f.is_some_and(|f| !f.released) {
                " masked"
            } else {
                ""
            },
            av = esc(&av),
            aci = esc(&aci),
            persons = esc(&persons),
            bv = esc(&bv),
            bci = esc(&bci),
            cmp = esc(text::comparison(f.and_then(|f| f.vs_belgium), lang)),
        );
    }
    let _ = writeln!(
        s,
        "<h2>{title}</h2>\n<p class=\"selection\">{measure}</p>\n<figure class=\"trend-figure\">{chart}\
         <figcaption><span class=\"key area-key\"></span> {name} ({band}) \
         <span class=\"key be-key\"></span> {be}</figcaption></figure>\n\
         <div class=\"table-wrap\"><table class=\"figures\"><thead><tr><th scope=\"col\">{year}</th>\
         <th scope=\"col\" class=\"num\">{name}</th><th scope=\"col\" class=\"num\">{ci}</th>\
         <th scope=\"col\" class=\"num\">{persons}</th><th scope=\"col\" class=\"num\">{be}</th>\
         <th scope=\"col\" class=\"num\">{ci}</th><th scope=\"col\">{vs}</th></tr></thead>\n<tbody>{rows}</tbody></table></div>\n\
         <p class=\"more\"><a href=\"{maphref}\">{mapl}</a></p>",
        title = esc(i.title(lang.code())),
        measure = t(
            "Taux standardisé pour l'âge et le sexe, femmes et hommes, tous âges",
            "Voor leeftijd en geslacht gestandaardiseerd cijfer, vrouwen en mannen, alle leeftijden"
        ),
        chart = map::trend(lang, unit, &data.years, &area_pts, &be_pts),
        name = esc(name),
        band = t(
            "intervalle de confiance à 95 %",
            "95 %-betrouwbaarheidsinterval"
        ),
        be = t("Belgique", "België"),
        year = t("Année", "Jaar"),
        ci = t("IC 95 %", "BI 95 %"),
        persons = t("Personnes", "Personen"),
        vs = t("vs Belgique", "t.o.v. België"),
        rows = rows,
        maphref = esc(&ctx.href(&format!("/indicator/{}", i.id), &[("level", lvl.as_str())])),
        mapl = t(
            "Voir la carte de cet indicateur",
            "Bekijk de kaart van deze indicator"
        ),
    );
    // Every indicator, latest year.
    if let Some(year) = data.latest_year() {
        let _ = writeln!(
            s,
            "<h2>{h} {year}</h2>\n<div class=\"table-wrap\"><table class=\"figures sortable\"><thead><tr>\
             <th scope=\"col\"><button type=\"button\" data-col=\"0\">{ind}</button></th>\
             <th scope=\"col\" class=\"num\">{name}</th><th scope=\"col\" class=\"num\">{ci}</th>\
             <th scope=\"col\" class=\"num\">{be}</th><th scope=\"col\"><button type=\"button\" data-col=\"4\">{vs}</button></th></tr></thead>\n<tbody>",
            h = t("Tous les indicateurs en", "Alle indicatoren in"),
            ind = t("Indicateur", "Indicator"),
            name = esc(name),
            ci = t("IC 95 %", "BI 95 %"),
            be = t("Belgique", "België"),
            vs = t("vs Belgique", "t.o.v. België"),
        );
        for (k, other) in data.indicators().iter().enumerate() {
            let f = data.figure(&key_of(year, lvl, k), code);
            let b = data.figure(&key_of(year, Level::Belgium, k), BELGIUM);
            let (av, aci) = value_cells(lang, f, other.unit);
            let (bv, _) = value_cells(lang, b, other.unit);
            let cmp = text::comparison(f.and_then(|f| f.vs_belgium), lang);
            let _ = writeln!(
                s,
                "<tr><th scope=\"row\" data-sort=\"{sort}\"><a href=\"{href}\">{title}</a></th>\
                 <td class=\"num{m}\">{av}</td><td class=\"num\">{aci}</td><td class=\"num\">{bv}</td>\
                 <td class=\"cmp\" data-sort=\"{cmp}\">{cmp}</td></tr>",
                sort = esc(&fold(other.title(lang.code()))),
                href = esc(&area_href(ctx, lvl, code, &other.id)),
                title = esc(other.title(lang.code())),
                m = if f.is_some_and(|f| !f.released) {
                    " masked"
                } else {
                    ""
                },
                av = esc(&av),
                aci = esc(&aci),
                bv = esc(&bv),
                cmp = esc(cmp),
            );
        }
        s.push_str("</tbody></table></div>\n");
    }
    // The areas it is made of.
    let children = data.children(lvl, code);
    if !children.is_empty() {
        let mut items: Vec<(String, String)> = children
            .iter()
            .map(|(cl, cc)| {
                let n = data.name(*cl, cc, lang).unwrap_or(cc).to_string();
                (
                    n.clone(),
                    format!(
                        "<li><a href=\"{}\">{}</a></li>",
                        esc(&area_href(ctx, *cl, cc, &i.id)),
                        esc(&n)
                    ),
                )
            })
            .collect();
        items.sort_by_key(|a| fold(&a.0));
        let _ = writeln!(
            s,
            "<h2>{}</h2>\n<ul class=\"children\">{}</ul>",
            t("Zones qui la composent", "Gebieden waaruit het bestaat"),
            items.into_iter().map(|i| i.1).collect::<String>()
        );
    }
    Ok(page(ctx, name, &s))
}

/// The open-data page: every download and the API.
pub fn data_page(ctx: &Ctx, data: &Data) -> PageResult {
    let lang = ctx.lang;
    let t = |fr, nl| lang.t(fr, nl);
    let mut items = String::new();
    for i in data.indicators() {
        let _ = write!(
            items,
            "<li>{title} — <a href=\"/download/{id}.csv\" download>CSV</a> · \
             <a href=\"/download/{id}.json\" download>JSON</a></li>",
            title = esc(i.title(lang.code())),
            id = esc(&i.id)
        );
    }
    let main = format!(
        "<h1>{h1}</h1>\n<p>{intro}</p>\n<ul class=\"downloads\">\
         <li><a href=\"/download/all.csv\" download>all.csv</a> — {all}</li>\
         <li><a href=\"/dcat.jsonld\">dcat.jsonld</a> — {dcat}</li>\
         <li><a href=\"{terms}\">{termsl}</a></li></ul>\n\
         <h2>{per}</h2>\n<ul class=\"downloads\">{items}</ul>\n\
         <h2>API</h2>\n<p><code>/api/figures/&lt;id&gt;?year=&amp;level=&amp;sex=&amp;age=</code> — {api}</p>\n\
         <p>{cols}</p>",
        h1 = t("Données ouvertes", "Open data"),
        intro = t(
            "Tous les chiffres de l'Atlas sont téléchargeables sous licence CC BY 4.0. Une cellule masquée par le contrôle de divulgation figure avec released=false et sans aucun nombre.",
            "Alle cijfers van de Atlas zijn te downloaden onder licentie CC BY 4.0. Een door de openbaarmakingscontrole afgeschermde cel staat erin met released=false en zonder enig getal."
        ),
        all = t(
            "tous les indicateurs, années, niveaux, sexes et groupes d'âge (CSV)",
            "alle indicatoren, jaren, niveaus, geslachten en leeftijdsgroepen (CSV)"
        ),
        dcat = t(
            "métadonnées DCAT-AP (JSON-LD)",
            "DCAT-AP-metadata (JSON-LD)"
        ),
        terms = esc(&ctx.href("/terms", &[])),
        termsl = t("Conditions d'utilisation", "Gebruiksvoorwaarden"),
        per = t("Par indicateur", "Per indicator"),
        items = items,
        api = t(
            "les chiffres d'une carte en JSON (par défaut : dernière année, communes, deux sexes, tous âges).",
            "de cijfers van een kaart in JSON (standaard: laatste jaar, gemeenten, beide geslachten, alle leeftijden)."
        ),
        cols = t(
            "Colonnes : indicator, year, level, area (code INS ; BE pour la Belgique), sex, age_group, released, persons, numerator, crude, crude_low, crude_high, standardised, standardised_low, standardised_high, vs_belgium.",
            "Kolommen: indicator, year, level, area (NIS-code; BE voor België), sex, age_group, released, persons, numerator, crude, crude_low, crude_high, standardised, standardised_low, standardised_high, vs_belgium."
        ),
    );
    Ok(page(ctx, t("Données ouvertes", "Open data"), &main))
}

/// The terms of use.
pub fn terms(ctx: &Ctx) -> PageResult {
    let lang = ctx.lang;
    let mut main = String::new();
    for block in aim_atlas::export::TERMS.split("\n\n") {
        let block = block.trim();
        if let Some(h) = block.strip_prefix("# ") {
            let _ = writeln!(main, "<h1>{}</h1>", esc(h));
        } else if !block.is_empty() {
            let l = if block.starts_with("NL") {
                "nl"
            } else if block.starts_with("EN") {
                "en"
            } else {
                "fr"
            };
            let _ = writeln!(
                main,
                "<p lang=\"{l}\">{}</p>",
                esc(&block.replace('\n', " "))
            );
        }
    }
    let _ = write!(
        main,
        "<p><a href=\"{}\" rel=\"license\">Creative Commons Attribution 4.0</a></p>",
        aim_atlas::export::LICENCE
    );
    Ok(page(
        ctx,
        lang.t("Conditions d'utilisation", "Gebruiksvoorwaarden"),
        &main,
    ))
}

/// The method and the Atlas's provenance.
pub fn about(ctx: &Ctx, data: &Data) -> PageResult {
    let lang = ctx.lang;
    let t = |fr, nl| lang.t(fr, nl);
    let m = &data.atlas.manifest;
    let mut gate = String::new();
    for g in &m.gate {
        let title = data
            .indicator(&g.indicator)
            .map(|i| data.indicators()[i].title(lang.code()).to_string())
            .unwrap_or_else(|| g.indicator.clone());
        let _ = writeln!(
            gate,
            "<tr><th scope=\"row\">{}</th><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            esc(&title),
            g.year,
            g.cells,
            g.primary,
            g.secondary,
            if g.audit_passed {
                t("réussi", "geslaagd")
            } else {
                t("échoué", "mislukt")
            }
        );
    }
    let std_years: Vec<String> = m
        .standard_population_year
        .iter()
        .map(|(y, s)| format!("{y} → {s}"))
        .collect();
    let without: Vec<String> = m
        .persons_without_municipality
        .iter()
        .map(|(y, n)| format!("{y}: {}", text::persons(*n, lang)))
        .collect();
    let main = format!(
        "<h1>{h1}</h1>\n\
         <h2>{srch}</h2><p>{src}</p>\n\
         <h2>{stdh}</h2><p>{std}</p>\n\
         <h2>{cih}</h2><p>{ci}</p>\n\
         <h2>{gateh}</h2><p>{gatep}</p>\n\
         <h2>{maph}</h2><p>{mapp}</p>\n\
         <h2>{provh}</h2>\n<dl class=\"definition\">\
         <dt>{createdl}</dt><dd>{created}</dd>\
         <dt>{patil}</dt><dd>{pati}</dd>\
         <dt>{defl}</dt><dd><code>{sha}</code></dd>\
         <dt>{yearsl}</dt><dd>{years}</dd>\
         <dt>{stdl}</dt><dd>{stdy}</dd>\
         <dt>{withoutl}</dt><dd>{without}</dd>\
         <dt>{minl}</dt><dd>{min}</dd>\
         <dt>{webl}</dt><dd>aim-web {ver}</dd></dl>\n\
         <h3>{gatet}</h3>\n<div class=\"table-wrap\"><table class=\"figures\"><thead><tr>\
         <th scope=\"col\">{indl}</th><th scope=\"col\" class=\"num\">{yearl}</th><th scope=\"col\" class=\"num\">{cellsl}</th>\
         <th scope=\"col\" class=\"num\">{priml}</th><th scope=\"col\" class=\"num\">{secl}</th><th scope=\"col\">{auditl}</th></tr></thead>\n<tbody>{gate}</tbody></table></div>",
        h1 = t("Méthode", "Methode"),
        srch = t("Source", "Bron"),
        src = t(
            "Les indicateurs sont calculés à partir de PATI, une ligne par personne assurée et par année, construite par l'Agence intermutualiste à partir des données des sept organismes assureurs (population, soins remboursés, pharmacie). Chaque personne est comptée dans sa commune de résidence, dans les limites des communes de 2025.",
            "De indicatoren worden berekend uit PATI, één rij per verzekerde persoon en per jaar, opgebouwd door het Intermutualistisch Agentschap uit de gegevens van de zeven verzekeringsinstellingen (bevolking, terugbetaalde zorg, apotheek). Elke persoon wordt geteld in de woongemeente, binnen de gemeentegrenzen van 2025."
        ),
        stdh = t("Standardisation", "Standaardisatie"),
        std = t(
            "Le taux brut est la part (ou la moyenne) observée dans la zone. Le taux standardisé est le taux qu'aurait la zone si sa population avait la structure par âge et sexe de la Belgique (standardisation directe, population de référence : la population belge de l'année selon Statbel) : il permet de comparer des zones plus jeunes et plus âgées. Les cartes « tous âges » montrent le taux standardisé, les cartes d'un groupe d'âge le taux brut.",
            "Het ruwe cijfer is het aandeel (of het gemiddelde) dat in het gebied wordt waargenomen. Het gestandaardiseerde cijfer is het cijfer dat het gebied zou hebben als zijn bevolking de leeftijds- en geslachtsopbouw van België had (directe standaardisatie, standaardbevolking: de Belgische bevolking van het jaar volgens Statbel): zo kunnen jongere en oudere gebieden vergeleken worden. Kaarten voor alle leeftijden tonen het gestandaardiseerde cijfer, kaarten van een leeftijdsgroep het ruwe cijfer."
        ),
        cih = t(
            "Intervalles de confiance et comparaison",
            "Betrouwbaarheidsintervallen en vergelijking"
        ),
        ci = t(
            "Chaque taux est donné avec son intervalle de confiance à 95 %. Une zone est « plus élevée » (« plus basse ») que la Belgique quand la valeur belge est sous (au-dessus de) cet intervalle, « semblable » sinon. Dans une petite commune, l'intervalle est large : une différence apparente peut n'être que le hasard.",
            "Elk cijfer wordt gegeven met zijn 95 %-betrouwbaarheidsinterval. Een gebied is \"hoger\" (\"lager\") dan België wanneer de Belgische waarde onder (boven) dat interval ligt, anders \"vergelijkbaar\". In een kleine gemeente is het interval breed: een schijnbaar verschil kan toeval zijn."
        ),
        gateh = t("Contrôle de divulgation", "Openbaarmakingscontrole"),
        gatep = t(
            "Chaque chiffre passe par le contrôle de divulgation de la plateforme avant publication : une cellule de moins de 5 personnes (dénominateur, ou nombre de personnes avec et sans la caractéristique) est masquée, ainsi que les cellules qui permettraient de la recalculer à partir des totaux (suppression secondaire, vérifiée par programmation linéaire). Une cellule masquée ne porte aucun nombre, ni sur les pages, ni dans les fichiers.",
            "Elk cijfer gaat vóór publicatie door de openbaarmakingscontrole van het platform: een cel van minder dan 5 personen (noemer, of aantal personen met en zonder het kenmerk) wordt afgeschermd, net als de cellen waaruit ze via de totalen herberekend zou kunnen worden (secundaire onderdrukking, gecontroleerd met lineaire programmering). Een afgeschermde cel draagt geen enkel getal, niet op de pagina's en niet in de bestanden."
        ),
        maph = t("Cartes", "Kaarten"),
        mapp = t(
            "Limites administratives : © IGN/NGI (données ouvertes), communes de 2025 reconstituées par fusion des communes de 2019. Les couleurs sont cinq classes de même effectif (quantiles) des valeurs publiées ; les zones hachurées sont masquées, les zones grises n'ont pas de données. Le site fonctionne hors ligne : aucune bibliothèque ni ressource externe n'est chargée.",
            "Administratieve grenzen: © NGI/IGN (open data), gemeenten van 2025 samengesteld door fusie van de gemeenten van 2019. De kleuren zijn vijf klassen met evenveel gebieden (kwantielen) van de gepubliceerde waarden; gearceerde gebieden zijn afgeschermd, grijze gebieden hebben geen gegevens. De site werkt offline: er wordt geen externe bibliotheek of bron geladen."
        ),
        provh = t("Provenance", "Herkomst"),
        createdl = t("Calculé le", "Berekend op"),
        created = esc(&m.created),
        patil = t("Version de PATI", "Versie van PATI"),
        pati = m.pati_version,
        defl = t("Définitions (SHA-256)", "Definities (SHA-256)"),
        sha = esc(&m.definitions_sha256),
        yearsl = t("Années", "Jaren"),
        years = m
            .years
            .iter()
            .map(|y| y.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        stdl = t(
            "Population de référence (année)",
            "Standaardbevolking (jaar)"
        ),
        stdy = esc(&std_years.join(", ")),
        withoutl = t(
            "Personnes sans commune de 2025",
            "Personen zonder gemeente van 2025"
        ),
        without = esc(&without.join(", ")),
        minl = t("Seuil", "Drempel"),
        min = esc(&format!(
            "{} {}",
            m.policy.min_units,
            t(
                "personnes par cellule au moins",
                "personen per cel minstens"
            )
        )),
        webl = t("Application", "Toepassing"),
        ver = env!("CARGO_PKG_VERSION"),
        gatet = t(
            "Contrôle de divulgation par indicateur et année",
            "Openbaarmakingscontrole per indicator en jaar"
        ),
        indl = t("Indicateur", "Indicator"),
        yearl = t("Année", "Jaar"),
        cellsl = t("Cellules", "Cellen"),
        priml = t("Masquées (petites)", "Afgeschermd (klein)"),
        secl = t("Masquées (secondaires)", "Afgeschermd (secundair)"),
        auditl = t("Audit", "Audit"),
        gate = gate,
    );
    Ok(page(ctx, t("Méthode", "Methode"), &main))
}
