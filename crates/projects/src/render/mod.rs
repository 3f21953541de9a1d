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
