//! `aim project` end to end on the real binary: a quote written as HTML and XLSX from a project
//! sheet, its refusals, and the workflow listing.

use std::path::Path;
use std::process::{Command, Output};

fn aim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aim"))
        .env("AIM_LOG", "error")
        .args(args)
        .output()
        .expect("aim runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn example_sheet() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/project-sheet.toml")
        .to_string_lossy()
        .into_owned()
}

#[test]
fn quote_writes_html_and_xlsx_with_the_seeds_prices() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("quote");
    let sheet = example_sheet();
    // 2018: the basis rates. € 7 000 + 4 expert days × € 1 062 + 24 months of VPN × € 35.
    let o = aim(&[
        "project",
        "quote",
        "--sheet",
        &sheet,
        "--days-expert",
        "4",
        "--date",
        "2018-05-02",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("total € 12.088,00 without VAT"),
        "{}",
        text(&o)
    );
    let html = std::fs::read_to_string(out.join("quote.html")).unwrap();
    assert!(html.contains("Estimation des coûts") && html.contains("Kostenraming"));
    assert!(html.contains("€ 12.088,00"));
    assert!(html.contains("Antidepressants in nursing homes, 2019–2023"));
    let xlsx = std::fs::read(out.join("quote.xlsx")).unwrap();
    assert!(xlsx.starts_with(b"PK"), "an XLSX file is a zip archive");

    // 2026: the day rate indexed with the health index (December 2025 against December 2017,
    // year by year), printed with the quote.
    let o = aim(&[
        "project",
        "quote",
        "--sheet",
        &sheet,
        "--days-analyst",
        "1.5",
        "--date",
        "2026-12-01",
        "--months-vpn",
        "0",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("day rates 2026: analyst € 768,"),
        "{}",
        text(&o)
    );
}

#[test]
fn quote_refusals_say_why() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("q");
    let sheet = tmp.path().join("sheet.toml");
    let base = std::fs::read_to_string(example_sheet()).unwrap();

    // VPN on an aggregate: not in the seed.
    std::fs::write(
        &sheet,
        base.replace("type = \"coded-data\"", "type = \"population-aggregate\""),
    )
    .unwrap();
    let o = aim(&[
        "project",
        "quote",
        "--sheet",
        sheet.to_str().unwrap(),
        "--months-vpn",
        "3",
        "--date",
        "2024-01-10",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("VPN access does not apply to a population-aggregate request"),
        "{}",
        text(&o)
    );

    // A year whose December index is not in the file yet.
    let o = aim(&[
        "project",
        "quote",
        "--sheet",
        sheet.to_str().unwrap(),
        "--date",
        "2031-01-10",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("is not in the health index file"),
        "{}",
        text(&o)
    );

    // An incomplete sheet.
    std::fs::write(&sheet, base.replace("legal_basis = \"Scientific research in the public interest (GDPR art. 89); the university's research mission\"", "legal_basis = \"\"")).unwrap();
    let o = aim(&[
        "project",
        "quote",
        "--sheet",
        sheet.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("`legal_basis` is empty"), "{}", text(&o));
    assert!(
        !out.join("quote.html").exists(),
        "nothing written on a refusal"
    );
}

#[test]
fn workflow_lists_states_transitions_documents_and_lead_times() {
    let o = aim(&["project", "workflow", "--type", "coded-data"]);
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("privacy — Authorisation by the privacy committee (expected 60 days)"),
        "{t}"
    );
    assert!(t.contains("authorise → contract; documents: privacy_decision; with the committee's decision number"), "{t}");
    assert!(
        t.contains("with linkage:") && t.contains("ttp_dossier"),
        "{t}"
    );
    assert!(!t.contains("sample_committee"), "{t}");
    let o = aim(&["project", "workflow", "--type", "extract"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("unknown request type `extract`"),
        "{}",
        text(&o)
    );
}
