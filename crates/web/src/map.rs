//! The choropleth map (inline SVG, one `<path class="area">` per area inside a link to the
//! area's page), its legend, and the trend chart of the area pages.

use crate::data::{self, Data, Key, Value};
use crate::html::{Ctx, esc};
use crate::text::{self, Lang};
use aim_atlas::indicator::Unit;
use aim_maps::Level;
use std::fmt::Write;

/// The number of colour classes.
pub const CLASSES: usize = 5;

/// How an area is drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shade {
    /// A quantile class, 0 (lowest values) to 4.
    Class(usize, Value),
    /// Masked by the disclosure gate.
    Masked,
    /// No figure (nobody counted there) or no rate.
    Missing,
}

/// Quantile classes of values: the values sorted, class `⌊5·rank/n⌋` with ties given the
/// class of their first rank. Returns each value's class and each class's range.
pub fn classes(values: &[f64]) -> (Vec<usize>, Vec<Option<(f64, f64)>>) {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len().max(1);
    let class_of = |v: f64| {
        let rank = sorted.partition_point(|x| *x < v);
        (rank * CLASSES / n).min(CLASSES - 1)
    };
    let mut ranges: Vec<Option<(f64, f64)>> = vec![None; CLASSES];
    let cls: Vec<usize> = values
        .iter()
        .map(|&v| {
            let c = class_of(v);
            let r = ranges[c].get_or_insert((v, v));
            r.0 = r.0.min(v);
            r.1 = r.1.max(v);
            c
        })
        .collect();
    (cls, ranges)
}

/// The shading of every area of a selection, and the class ranges.
pub struct Shading {
    /// Per area code of the layer (in the layer's order).
    pub shades: Vec<Shade>,
    /// Each class's range.
    pub ranges: Vec<Option<(f64, f64)>>,
    /// Whether some area is masked.
    pub any_masked: bool,
    /// Whether some area has no figure.
    pub any_missing: bool,
}

/// Shades the areas of `key`'s level by the figures of `key`.
pub fn shading(data: &Data, key: &Key) -> Shading {
    let layer = data.maps.layer(key.level);
    let mut pre: Vec<Result<Value, bool>> = Vec::with_capacity(layer.areas.len());
    for a in &layer.areas {
        pre.push(match data.figure(key, &a.code) {
            Some(f) if !f.released => Err(true),
            Some(f) => data::shown(f).ok_or(false),
            None => Err(false),
        });
    }
    let values: Vec<f64> = pre.iter().filter_map(|p| p.ok().map(|v| v.value)).collect();
    let (cls, ranges) = classes(&values);
    let mut it = cls.into_iter();
    let mut any_masked = false;
    let mut any_missing = false;
    let shades = pre
        .into_iter()
        .map(|p| match p {
            Ok(v) => Shade::Class(it.next().expect("one class per value"), v),
            Err(true) => {
                any_masked = true;
                Shade::Masked
            }
            Err(false) => {
                any_missing = true;
                Shade::Missing
            }
        })
        .collect();
    Shading {
        shades,
        ranges,
        any_masked,
        any_missing,
    }
}

/// The map of a selection: an inline SVG. Each area is a link to its page holding a
/// `<path class="area …">` with `data-name`, `data-value` (the value as shown, or "masked")
/// and, for a released figure, `data-v` (the number) and `data-ci`; its `<title>` says the same.
pub fn svg(ctx: &Ctx, data: &Data, key: &Key, shading: &Shading) -> String {
    let lang = ctx.lang;
    let ind = &data.indicators()[key.indicator];
    let layer = data.maps.layer(key.level);
    let (x, y, w, h) = layer.view_box;
    let mut s = String::with_capacity(
        layer
            .areas
            .iter()
            .map(|a| a.path.len() + 400)
            .sum::<usize>()
            + 2000,
    );
    let _ = writeln!(
        s,
        "<svg class=\"map\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"{x} {y} {w} {h}\" \
         role=\"group\" aria-label=\"{label}\">\n<defs><pattern id=\"hatch\" \
         patternUnits=\"userSpaceOnUse\" width=\"5\" height=\"5\" patternTransform=\"rotate(45)\">\
         <rect width=\"5\" height=\"5\" fill=\"#f2f2f2\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"5\" \
         stroke=\"#8a8a8a\" stroke-width=\"2\"/></pattern></defs>\n<g class=\"areas\">",
        label = esc(&format!(
            "{} — {} {}",
            ind.title(lang.code()),
            text::level_plural(key.level, lang),
            key.year
        )),
    );
    let level = key.level.as_str();
    for (a, shade) in layer.areas.iter().zip(&shading.shades) {
        let name = match lang {
            Lang::Fr => &a.name_fr,
            Lang::Nl => &a.name_nl,
        };
        let href = ctx.href(
            &format!("/area/{level}/{}", crate::html::enc_segment(&a.code)),
            &[("indicator", &ind.id)],
        );
        let (class, shown, extra) = match shade {
            Shade::Class(c, v) => (
                format!("q{c}"),
                text::value(v.value, ind.unit, lang),
                format!(
                    " data-v=\"{:.4}\" data-ci=\"{}\"",
                    v.value,
                    esc(&text::interval(v.low, v.high, ind.unit, lang))
                ),
            ),
            Shade::Masked => (
                "masked".to_string(),
                text::masked(lang).to_string(),
                String::new(),
            ),
            Shade::Missing => (
                "missing".to_string(),
                text::no_data(lang).to_string(),
                String::new(),
            ),
        };
        let _ = writeln!(
            s,
            "<a href=\"{href}\" aria-label=\"{name}: {shown}\"><path class=\"area {class}\" \
             id=\"area-{code}\" data-code=\"{code}\" data-name=\"{name}\" data-value=\"{shown}\"{extra} \
             d=\"{d}\"><title>{name}: {shown}</title></path></a>",
            href = esc(&href),
            name = esc(name),
            shown = esc(&shown),
            code = esc(&a.code),
            d = a.path,
        );
    }
    s.push_str("</g>\n");
    // The provinces' borders over the municipalities and districts, for orientation.
    if matches!(key.level, Level::Municipality | Level::District) {
        s.push_str("<g class=\"borders\" aria-hidden=\"true\">");
        for a in &data.maps.layer(Level::Province).areas {
            let _ = write!(s, "<path d=\"{}\"/>", a.path);
        }
        s.push_str("</g>\n");
    }
    s.push_str("</svg>");
    s
}

/// The legend of a map.
pub fn legend(lang: Lang, unit: Unit, shading: &Shading, measure: &str) -> String {
    let mut s = format!(
        "<div class=\"legend\"><p class=\"legend-title\">{}</p><ul>",
        esc(measure)
    );
    for (c, r) in shading.ranges.iter().enumerate() {
        if let Some((lo, hi)) = r {
            let range = if (hi - lo).abs() < 1e-12 {
                text::value(*lo, unit, lang)
            } else {
                format!(
                    "{} – {}",
                    text::number(*lo, text::decimals(unit), lang),
                    text::value(*hi, unit, lang)
                )
            };
            let _ = write!(
                s,
                "<li><span class=\"swatch q{c}\" aria-hidden=\"true\"></span>{}</li>",
                esc(&range)
            );
        }
    }
    if shading.any_masked {
        let _ = write!(
            s,
            "<li><span class=\"swatch masked\" aria-hidden=\"true\"></span>{}</li>",
            lang.t(
                "cellule masquée (moins de 5 personnes, ou protection d'une telle cellule)",
                "afgeschermde cel (minder dan 5 personen, of bescherming van zo'n cel)"
            )
        );
    }
    if shading.any_missing {
        let _ = write!(
            s,
            "<li><span class=\"swatch missing\" aria-hidden=\"true\"></span>{}</li>",
            text::no_data(lang)
        );
    }
    s.push_str("</ul><p class=\"legend-note\">");
    s.push_str(lang.t(
        "Cinq classes de même effectif (quantiles) des valeurs publiées.",
        "Vijf klassen met evenveel gebieden (kwantielen) van de gepubliceerde waarden.",
    ));
    s.push_str("</p></div>");
    s
}

/// One point of a trend: a year and, when released, the value.
pub type Point = (i32, Option<Value>);

/// The trend chart of an area against Belgium: the area's line with its 95 % interval as a
/// band, Belgium's line dashed.
pub fn trend(lang: Lang, unit: Unit, years: &[i32], area: &[Point], belgium: &[Point]) -> String {
    let (w, h) = (640.0, 280.0);
    let (left, right, top, bottom) = (64.0, 16.0, 16.0, 40.0);
    let all: Vec<f64> = area
        .iter()
        .chain(belgium)
        .filter_map(|(_, v)| *v)
        .flat_map(|v| [v.value, v.low, v.high])
        .filter(|v| v.is_finite())
        .collect();
    let mut s = format!(
        "<svg class=\"trend\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-labelledby=\"trend-title\"><title id=\"trend-title\">{}</title>",
        lang.t(
            "Évolution : la zone (ligne pleine, intervalle de confiance à 95 % en bande) et la Belgique (tirets)",
            "Evolutie: het gebied (volle lijn, 95 %-betrouwbaarheidsinterval als band) en België (streepjes)"
        )
    );
    if all.is_empty() || years.is_empty() {
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text></svg>",
            w / 2.0,
            h / 2.0,
            lang.t(
                "Aucun chiffre publié pour cette zone.",
                "Geen gepubliceerde cijfers voor dit gebied."
            )
        );
        return s;
    }
    let (mut lo, mut hi) = all
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(*v), b.max(*v)));
    if (hi - lo).abs() < 1e-9 {
        lo -= 1.0;
        hi += 1.0;
    }
    let (lo, hi, step) = nice_range(lo, hi);
    let x_of = |year: i32| {
        let i = years.iter().position(|y| *y == year).unwrap_or(0) as f64;
        if years.len() == 1 {
            left + (w - left - right) / 2.0
        } else {
            left + 20.0 + i * (w - left - right - 40.0) / (years.len() - 1) as f64
        }
    };
    let y_of = |v: f64| top + (hi - v) / (hi - lo) * (h - top - bottom);
    // Grid and axes.
    let mut t = lo;
    while t <= hi + step * 0.001 {
        let y = y_of(t);
        let _ = write!(
            s,
            "<line class=\"grid\" x1=\"{left}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/>\
             <text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            w - right,
            left - 6.0,
            y + 4.0,
            esc(&text::number(t, tick_decimals(step), lang))
        );
        t += step;
    }
    for &year in years {
        let _ = write!(
            s,
            "<text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{year}</text>",
            x_of(year),
            h - bottom + 20.0
        );
    }
    let _ = write!(
        s,
        "<text class=\"tick unit\" x=\"8\" y=\"{:.1}\">{}</text>",
        top + 4.0,
        esc(unit.symbol())
    );
    // Runs of consecutive released years.
    let runs = |pts: &[Point]| -> Vec<Vec<(i32, Value)>> {
        let mut out: Vec<Vec<(i32, Value)>> = vec![Vec::new()];
        for (y, v) in pts {
            match v {
                Some(v) => out.last_mut().expect("one run").push((*y, *v)),
                None => out.push(Vec::new()),
            }
        }
        out.into_iter().filter(|r| !r.is_empty()).collect()
    };
    for run in runs(area) {
        let mut poly = String::new();
        for (y, v) in &run {
            let _ = write!(poly, "{:.1},{:.1} ", x_of(*y), y_of(v.high));
        }
        for (y, v) in run.iter().rev() {
            let _ = write!(poly, "{:.1},{:.1} ", x_of(*y), y_of(v.low));
        }
        if run.len() == 1 {
            let (y, v) = run[0];
            let _ = write!(
                s,
                "<line class=\"band-bar\" x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{:.1}\" y2=\"{:.1}\"/>",
                y_of(v.low),
                y_of(v.high),
                x = x_of(y)
            );
        } else {
            let _ = write!(s, "<polygon class=\"band\" points=\"{}\"/>", poly.trim());
        }
    }
    let line = |s: &mut String, pts: &[Point], class: &str, who: &str| {
        for run in runs(pts) {
            if run.len() > 1 {
                let p: Vec<String> = run
                    .iter()
                    .map(|(y, v)| format!("{:.1},{:.1}", x_of(*y), y_of(v.value)))
                    .collect();
                let _ = write!(
                    s,
                    "<polyline class=\"{class}\" points=\"{}\"/>",
                    p.join(" ")
                );
            }
            for (y, v) in &run {
                let _ = write!(
                    s,
                    "<circle class=\"{class}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\"><title>{who} {y}: {}</title></circle>",
                    x_of(*y),
                    y_of(v.value),
                    esc(&text::value(v.value, unit, lang))
                );
            }
        }
    };
    line(&mut s, belgium, "be-line", lang.t("Belgique", "België"));
    line(&mut s, area, "area-line", lang.t("Zone", "Gebied"));
    s.push_str("</svg>");
    s
}

/// A range and tick step of about five "nice" ticks covering [lo, hi].
fn nice_range(lo: f64, hi: f64) -> (f64, f64, f64) {
    let raw = (hi - lo) / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    ((lo / step).floor() * step, (hi / step).ceil() * step, step)
}

fn tick_decimals(step: f64) -> usize {
    if step >= 1.0 {
        0
    } else {
        (-step.log10().floor()) as usize
            + usize::from((step * 10f64.powf(-step.log10().floor())).fract() > 1e-9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_classes_split_the_values_in_five() {
        let v: Vec<f64> = (0..10).map(f64::from).collect();
        let (c, r) = classes(&v);
        assert_eq!(c, vec![0, 0, 1, 1, 2, 2, 3, 3, 4, 4]);
        assert_eq!(r[0], Some((0.0, 1.0)));
        assert_eq!(r[4], Some((8.0, 9.0)));
        let (c, _) = classes(&[1.0, 1.0, 1.0, 2.0]);
        assert_eq!(c, vec![0, 0, 0, 3]);
        let (c, _) = classes(&[5.0]);
        assert_eq!(c, vec![0]);
    }

    #[test]
    fn nice_ranges() {
        assert_eq!(nice_range(81.3, 88.9), (80.0, 90.0, 2.0));
        let (lo, hi, step) = nice_range(0.12, 0.31);
        assert!(lo <= 0.12 && hi >= 0.31 && step > 0.0);
        assert_eq!(tick_decimals(2.0), 0);
        assert_eq!(tick_decimals(0.05), 2);
        assert_eq!(tick_decimals(0.25), 2);
    }
}
