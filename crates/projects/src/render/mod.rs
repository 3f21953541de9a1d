//! A quote as documents: a printable one-page HTML (French and Dutch labels, the languages
//! the requesters read) and an XLSX workbook. The only module of the crate that writes, and
//! only where the caller says.

mod html;
mod xlsx;

pub use html::html;
pub use xlsx::xlsx_bytes;

use crate::quote::Quote;
use crate::workflow::Workflow;
use std::path::{Path, PathBuf};

/// Why a quote could not be written.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// Writing a file failed.
    #[error("writing {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The workbook could not be built.
    #[error("building the workbook: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
}

/// Writes `quote.html` and `quote.xlsx` into `dir` (created if missing); returns the paths.
pub fn write_quote(quote: &Quote, wf: &Workflow, dir: &Path) -> Result<Vec<PathBuf>, RenderError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| RenderError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let html_path = dir.join("quote.html");
    std::fs::write(&html_path, html(quote, wf)).map_err(io(&html_path))?;
    let xlsx_path = dir.join("quote.xlsx");
    std::fs::write(&xlsx_path, xlsx_bytes(quote, wf)?).map_err(io(&xlsx_path))?;
    Ok(vec![html_path, xlsx_path])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::HealthIndex;
    use crate::prices::PriceList;
    use crate::quote::{QuoteRequest, quote};
    use crate::sheet::ProjectSheet;
    use crate::sheet::tests::SHEET;
    use std::io::Read;

    fn sample_quote() -> Quote {
        let text = SHEET.replace(
            "title = \"Antidepressants in nursing homes\"",
            "title = \"Antidepressants <script>alert(1)</script> & co\"",
        );
        let sheet = ProjectSheet::from_toml(&text).unwrap();
        let mut req = QuoteRequest::new("2026-12-01".parse().unwrap());
        req.days_expert = "2.5".parse().unwrap();
        req.months_access = Some(30);
        quote(&PriceList::builtin(), &HealthIndex::builtin(), &sheet, &req).unwrap()
    }

    #[test]
    fn the_html_quote_is_bilingual_escaped_and_totals() {
        let q = sample_quote();
        let h = html(&q, &Workflow::builtin());
        assert!(h.contains("Antidepressants &lt;script&gt;alert(1)&lt;/script&gt; &amp; co"));
        assert!(!h.contains("<script>"));
        for label in [
            "Estimation des coûts",
            "Kostenraming",
            "Total hors TVA",
            "Totaal zonder btw",
        ] {
            assert!(h.contains(label), "{label}");
        }
        assert!(h.contains(&q.total.display()));
        assert!(
            h.contains("à fixer / te bepalen"),
            "the month beyond 24 is unpriced"
        );
        assert!(h.contains("Tarifs journaliers 2026"));
        assert!(
            h.contains("2017-12 : 106.15"),
            "the first index used is named"
        );
    }

    #[test]
    fn the_xlsx_quote_is_a_workbook_with_the_lines_and_the_total() {
        let q = sample_quote();
        let bytes = xlsx_bytes(&q, &Workflow::builtin()).unwrap();
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        let mut read = |name: &str| {
            let mut s = String::new();
            zip.by_name(name).unwrap().read_to_string(&mut s).unwrap();
            s
        };
        let sheet = read("xl/worksheets/sheet1.xml");
        let strings = read("xl/sharedStrings.xml");
        assert!(
            strings.contains("Totaal zonder btw") && strings.contains("Jours expert (tarif 2026)")
        );
        assert!(
            strings.contains("Antidepressants &lt;script&gt;"),
            "XML-escaped by the writer"
        );
        let total = format!("<v>{}</v>", q.total.euros_f64());
        assert!(sheet.contains(&total), "total {total} in {sheet}");
    }

    #[test]
    fn write_quote_writes_both_files() {
        let dir = std::env::temp_dir().join(format!("aim-quote-{}", std::process::id()));
        let paths = write_quote(&sample_quote(), &Workflow::builtin(), &dir).unwrap();
        assert_eq!(paths.len(), 2);
        assert!(std::fs::read(&paths[1]).unwrap().starts_with(b"PK"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
