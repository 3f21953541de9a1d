//! The words of the Atlas in French and Dutch, and how numbers are written.

use aim_atlas::indicator::Unit;
use aim_maps::Level;

/// The language of a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// French (the default).
    Fr,
    /// Dutch.
    Nl,
}

impl Lang {
    /// The code used in URLs and `<html lang>`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::Nl => "nl",
        }
    }

    /// The other language.
    pub fn other(self) -> Lang {
        match self {
            Lang::Fr => Lang::Nl,
            Lang::Nl => Lang::Fr,
        }
    }

    /// Parses `fr` or `nl`.
    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "fr" => Some(Lang::Fr),
            "nl" => Some(Lang::Nl),
            _ => None,
        }
    }

    /// The language's own name (for the switch link).
    pub fn own_name(self) -> &'static str {
        match self {
            Lang::Fr => "Français",
            Lang::Nl => "Nederlands",
        }
    }

    /// The maps crate's language.
    pub fn maps(self) -> aim_maps::Lang {
        match self {
            Lang::Fr => aim_maps::Lang::Fr,
            Lang::Nl => aim_maps::Lang::Nl,
        }
    }

    /// French or Dutch text.
    pub fn t<'a>(self, fr: &'a str, nl: &'a str) -> &'a str {
        match self {
            Lang::Fr => fr,
            Lang::Nl => nl,
        }
    }
}

/// The site's name.
pub fn site(lang: Lang) -> &'static str {
    lang.t("Atlas aim de la santé", "aim-Gezondheidsatlas")
}

/// What a masked figure reads.
pub fn masked(lang: Lang) -> &'static str {
    lang.t("cellule masquée", "afgeschermde cel")
}

/// What an area without any figure reads.
pub fn no_data(lang: Lang) -> &'static str {
    lang.t("pas de données", "geen gegevens")
}

/// A level's name, plural (selectors, headings).
pub fn level_plural(level: Level, lang: Lang) -> &'static str {
    match level {
        Level::Municipality => lang.t("Communes", "Gemeenten"),
        Level::District => lang.t("Arrondissements", "Arrondissementen"),
        Level::Province => lang.t("Provinces", "Provincies"),
        Level::Region => lang.t("Régions", "Gewesten"),
        Level::Belgium => lang.t("Belgique", "België"),
    }
}

/// A level's name, singular.
pub fn level_singular(level: Level, lang: Lang) -> &'static str {
    match level {
        Level::Municipality => lang.t("Commune", "Gemeente"),
        Level::District => lang.t("Arrondissement", "Arrondissement"),
        Level::Province => lang.t("Province", "Provincie"),
        Level::Region => lang.t("Région", "Gewest"),
        Level::Belgium => lang.t("Pays", "Land"),
    }
}

/// A sex code's label.
pub fn sex(code: &str, lang: Lang) -> &'static str {
    match code {
        "F" => lang.t("Femmes", "Vrouwen"),
        "M" => lang.t("Hommes", "Mannen"),
        _ => lang.t("Femmes et hommes", "Vrouwen en mannen"),
    }
}

/// An age group's label.
pub fn age(code: &str, lang: Lang) -> String {
    match code {
        "all" => lang.t("Tous âges", "Alle leeftijden").to_string(),
        "75+" => lang.t("75 ans et plus", "75 jaar en ouder").to_string(),
        g => format!("{} {}", g.replace('-', "–"), lang.t("ans", "jaar")),
    }
}

/// A theme's label.
pub fn theme(code: &str, lang: Lang) -> String {
    let s = match code {
        "primary-care" => lang.t("Soins de première ligne", "Eerstelijnszorg"),
        "prevention" => lang.t("Prévention", "Preventie"),
        "hospital" => lang.t("Hôpital", "Ziekenhuis"),
        "medicines" => lang.t("Médicaments", "Geneesmiddelen"),
        "chronic-conditions" => lang.t("Maladies chroniques", "Chronische aandoeningen"),
        "social" => lang.t("Situation sociale", "Sociale situatie"),
        "costs" => lang.t("Coûts", "Kosten"),
        "long-term-care" => lang.t("Soins de longue durée", "Langdurige zorg"),
        "mortality" => lang.t("Mortalité", "Sterfte"),
        other => other,
    };
    s.to_string()
}

/// The label of a comparison with Belgium.
pub fn comparison(c: Option<aim_atlas::compute::Comparison>, lang: Lang) -> &'static str {
    use aim_atlas::compute::Comparison::*;
    match c {
        Some(Higher) => lang.t("plus élevé", "hoger"),
        Some(Lower) => lang.t("plus bas", "lager"),
        Some(Similar) => lang.t("semblable", "vergelijkbaar"),
        None => "",
    }
}

/// A number with `decimals` decimals, decimal comma and grouped thousands (narrow no-break
/// space in French, full stop in Dutch).
pub fn number(v: f64, decimals: usize, lang: Lang) -> String {
    let s = format!("{:.*}", decimals, v.abs());
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i.to_string(), Some(f.to_string())),
        None => (s, None),
    };
    let sep = lang.t("\u{202f}", ".");
    let mut grouped = String::new();
    let n = int.len();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (n - i) % 3 == 0 && n > 4 {
            grouped.push_str(sep);
        }
        grouped.push(c);
    }
    let negative = v < 0.0 && s_nonzero(&grouped, frac.as_deref());
    let mut out = String::new();
    if negative {
        out.push('−');
    }
    out.push_str(&grouped);
    if let Some(f) = frac {
        out.push(',');
        out.push_str(&f);
    }
    out
}

fn s_nonzero(int: &str, frac: Option<&str>) -> bool {
    int.chars()
        .chain(frac.unwrap_or("").chars())
        .any(|c| c.is_ascii_digit() && c != '0')
}

/// The number of decimals shown for a unit.
pub fn decimals(unit: Unit) -> usize {
    match unit {
        Unit::Euro => 0,
        _ => 1,
    }
}

/// A value with its unit, e.g. `85,3 %`.
pub fn value(v: f64, unit: Unit, lang: Lang) -> String {
    format!("{}\u{a0}{}", number(v, decimals(unit), lang), unit.symbol())
}

/// A 95 % interval, e.g. `84,1–86,4`.
pub fn interval(low: f64, high: f64, unit: Unit, lang: Lang) -> String {
    format!(
        "{}–{}",
        number(low, decimals(unit), lang),
        number(high, decimals(unit), lang)
    )
}

/// A count of persons.
pub fn persons(n: i64, lang: Lang) -> String {
    number(n as f64, 0, lang)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_written_the_belgian_way() {
        assert_eq!(number(85.26, 1, Lang::Fr), "85,3");
        assert_eq!(number(1234.0, 0, Lang::Fr), "1234");
        assert_eq!(number(12345.0, 0, Lang::Fr), "12\u{202f}345");
        assert_eq!(number(1234567.4, 0, Lang::Nl), "1.234.567");
        assert_eq!(number(-0.01, 1, Lang::Nl), "0,0");
        assert_eq!(number(-2.5, 1, Lang::Nl), "−2,5");
        assert_eq!(value(3.0, Unit::Percent, Lang::Fr), "3,0\u{a0}%");
    }
}
