//! Generates `docs/data-model.md` from the table definitions, so that the document
//! cannot drift from the code (a test compares them).

use crate::schema::{WAREHOUSE_COLUMNS, source_tables};
use std::fmt::Write;

/// The Markdown text of `docs/data-model.md`.
pub fn data_model_markdown() -> String {
    let mut out = String::new();
    out.push_str("# Data model\n\n");
    out.push_str(
        "<!-- Generated from crates/model/src/schema.rs by `aim docs data-model`; do not edit by hand. -->\n\n",
    );
    out.push_str(
        "The source databases each insurer delivers every quarter. Column names are the header of the \
         delivery file (see `delivery-format.md`) and of the warehouse table. Every table in the warehouse \
         also carries the columns listed under *Added by the warehouse*. Identifiers of persons and \
         providers are always coded by the trusted third party: a raw national number is rejected.\n\n",
    );
    for t in source_tables() {
        let _ = writeln!(out, "## {} (`{}`)\n", t.code, t.name);
        let _ = writeln!(out, "{}\n", t.description);
        let _ = writeln!(
            out,
            "Grain: {}. Row key within a delivery: `{}`.\n",
            t.grain,
            t.key.join("`, `")
        );
        out.push_str(
            "| column | type | required | Arrow type | meaning |\n|---|---|---|---|---|\n",
        );
        for c in t.columns {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | `{}` | {} |",
                c.name,
                c.ty.describe(),
                if c.nullable { "no" } else { "yes" },
                c.ty.arrow(),
                c.description
            );
        }
        out.push('\n');
    }
    out.push_str("## Added by the warehouse\n\n| column | type | meaning |\n|---|---|---|\n");
    for c in WAREHOUSE_COLUMNS {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} |",
            c.name,
            c.ty.describe(),
            c.description
        );
    }
    out
}

/// For tests: fails when the generated document `docs/<name>` differs from `expected`, or
/// rewrites it when `AIM_BLESS` is set. `crate_name` goes into the message.
pub fn check_generated(name: &str, expected: &str, crate_name: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs")
        .join(name);
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    if actual != expected {
        if std::env::var_os("AIM_BLESS").is_some() {
            std::fs::write(&path, expected).expect("docs/ is writable");
        } else {
            panic!(
                "docs/{name} is out of date: run `AIM_BLESS=1 cargo test -p {crate_name}` to regenerate it"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn docs_data_model_is_up_to_date() {
        super::check_generated("data-model.md", &super::data_model_markdown(), "aim-model");
    }
}
