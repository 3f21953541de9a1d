//! Small hand-made deliveries for tests and examples (the synthetic generator makes the
//! realistic ones). Every helper writes real files in the delivery format.

use aim_model::delivery::{FORMAT_VERSION, Manifest, ManifestFile};
use aim_model::{Database, Insurer, Period};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

/// A deterministic coded person identifier for tests.
pub fn person(n: u64) -> String {
    let c = aim_ttp::Coder::new(&[42u8; 32]).expect("key");
    c.code(aim_ttp::IdKind::Person, &format!("test-person-{n}"))
}

/// A deterministic coded provider identifier for tests.
pub fn provider(n: u64) -> String {
    let c = aim_ttp::Coder::new(&[42u8; 32]).expect("key");
    c.code_provider(&format!("test-provider-{n}"))
}

/// A population row (schema order) for a person living in Antwerpen (11002).
pub fn popu_row(person_n: u64, insurer: Insurer, period: Period) -> Vec<String> {
    vec![
        person(person_n),
        insurer.code().into(),
        "1970".into(),
        if person_n.is_multiple_of(2) { "F" } else { "M" }.into(),
        "11002".into(),
        String::new(),
        "false".into(),
        "false".into(),
        String::new(),
        String::new(),
        String::new(),
        period.end().to_string(),
    ]
}

/// A GP consultation billing line (schema order).
pub fn gzss_row(line: u64, person_n: u64, insurer: Insurer, date: &str) -> Vec<String> {
    vec![
        format!("L{line}"),
        person(person_n),
        insurer.code().into(),
        "101032".into(),
        date.into(),
        provider(1),
        "004".into(),
        String::new(),
        String::new(),
        String::new(),
        "1".into(),
        "25.50".into(),
        "4.00".into(),
        "0.00".into(),
    ]
}

/// A pharmacy delivery line (schema order): metformin.
pub fn faru_row(line: u64, person_n: u64, insurer: Insurer, date: &str) -> Vec<String> {
    vec![
        format!("F{line}"),
        person(person_n),
        insurer.code().into(),
        date.into(),
        "1234567".into(),
        "A10BA02".into(),
        "30".into(),
        "1".into(),
        provider(2),
        provider(3),
        "8.20".into(),
        "1.10".into(),
    ]
}

/// A New Attest row (schema order) extending the GZSS line `L<line>`.
pub fn pgdp_row(line: u64, person_n: u64, insurer: Insurer, date: &str) -> Vec<String> {
    vec![
        format!("L{line}"),
        person(person_n),
        insurer.code().into(),
        date.into(),
        "E".into(),
        format!("A{line}"),
        "true".into(),
        date.into(),
    ]
}

/// A chapter IV authorisation (schema order) of `atc`, decided on `date`, valid a year.
pub fn chiv_row(id: u64, person_n: u64, insurer: Insurer, atc: &str, date: &str) -> Vec<String> {
    let d: chrono::NaiveDate = date.parse().expect("a date");
    vec![
        format!("C{id}"),
        person(person_n),
        insurer.code().into(),
        "6350000".into(),
        atc.into(),
        "A".into(),
        date.into(),
        date.into(),
        (d + chrono::Days::new(364)).to_string(),
    ]
}

/// A work-incapacity episode (schema order); `end` empty when it goes on.
pub fn itao_row(
    id: u64,
    person_n: u64,
    insurer: Insurer,
    kind: &str,
    start: &str,
    end: &str,
) -> Vec<String> {
    vec![
        format!("E{id}"),
        person(person_n),
        insurer.code().into(),
        start.into(),
        end.into(),
        kind.into(),
        "E".into(),
        "13".into(),
    ]
}

/// A Katz assessment (schema order) with the six scores and the category.
pub fn kats_row(
    id: u64,
    person_n: u64,
    insurer: Insurer,
    date: &str,
    scores: [i32; 6],
    category: &str,
) -> Vec<String> {
    let mut r = vec![
        format!("K{id}"),
        person(person_n),
        insurer.code().into(),
        date.into(),
        "N".into(),
    ];
    r.extend(scores.iter().map(|s| s.to_string()));
    r.push(category.into());
    r
}

/// A GP patient file row (schema order) at practice `practice_n`, since 2020.
pub fn chta_row(
    person_n: u64,
    insurer: Insurer,
    practice_n: u64,
    gmf: bool,
    flat_fee: bool,
    period: Period,
) -> Vec<String> {
    vec![
        person(person_n),
        insurer.code().into(),
        provider(practice_n),
        gmf.to_string(),
        flat_fee.to_string(),
        "2020-01-01".into(),
        String::new(),
        period.end().to_string(),
    ]
}

/// A documents N row (schema order).
pub fn docn_row(insurer: Insurer, booking: &str, service: &str, nomenclature: &str) -> Vec<String> {
    vec![
        insurer.code().into(),
        booking.into(),
        service.into(),
        nomenclature.into(),
        "10".into(),
        "12".into(),
        "306.00".into(),
    ]
}

/// Builds a delivery folder.
#[derive(Debug, Clone)]
pub struct DeliveryBuilder {
    /// Insurer.
    pub insurer: Insurer,
    /// Database.
    pub database: Database,
    /// Period.
    pub period: Period,
    /// Sequence.
    pub sequence: u32,
    /// Gzip the data file.
    pub gzip: bool,
    /// Header (default: the model's columns).
    pub header: Vec<String>,
    /// Data rows.
    pub rows: Vec<Vec<String>>,
}

impl DeliveryBuilder {
    /// A delivery with the model's header and no rows.
    pub fn new(insurer: Insurer, database: Database, period: Period) -> DeliveryBuilder {
        DeliveryBuilder {
            insurer,
            database,
            period,
            sequence: 1,
            gzip: false,
            header: database
                .table()
                .columns
                .iter()
                .map(|c| c.name.to_string())
                .collect(),
            rows: Vec::new(),
        }
    }

    /// The CSV bytes of the data file (uncompressed).
    pub fn csv_bytes(&self) -> Vec<u8> {
        let mut w = csv::WriterBuilder::new()
            .delimiter(b';')
            .flexible(true)
            .from_writer(Vec::new());
        w.write_record(&self.header).expect("write");
        for r in &self.rows {
            w.write_record(r).expect("write");
        }
        w.into_inner().expect("flush")
    }

    /// Writes the folder `parent/<folder name>` with a correct manifest; returns it.
    pub fn write(&self, parent: &Path) -> PathBuf {
        let csv = self.csv_bytes();
        let (name, bytes) = if self.gzip {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(&csv).expect("gzip");
            (
                format!("{}-001.csv.gz", self.database.table_name()),
                enc.finish().expect("gzip"),
            )
        } else {
            (format!("{}-001.csv", self.database.table_name()), csv)
        };
        self.write_files(parent, &[(name, bytes, self.rows.len() as u64)])
    }

    /// Writes the folder with the given files (name, bytes, rows declared).
    pub fn write_files(&self, parent: &Path, files: &[(String, Vec<u8>, u64)]) -> PathBuf {
        let manifest = Manifest {
            format_version: FORMAT_VERSION.into(),
            insurer: self.insurer,
            database: self.database,
            period: self.period,
            sequence: self.sequence,
            created: "2025-01-15T00:00:00Z".into(),
            files: files
                .iter()
                .map(|(n, b, rows)| ManifestFile {
                    name: n.clone(),
                    rows: *rows,
                    sha256: hex::encode(Sha256::digest(b)),
                })
                .collect(),
        };
        let dir = parent.join(manifest.folder_name());
        std::fs::create_dir_all(&dir).expect("create delivery folder");
        for (n, b, _) in files {
            std::fs::write(dir.join(n), b).expect("write data file");
        }
        manifest.write(&dir).expect("write manifest");
        dir
    }
}

/// Rewrites the manifest of a delivery folder through a closure.
pub fn edit_manifest(dir: &Path, f: impl FnOnce(&mut Manifest)) {
    let path = dir.join(aim_model::delivery::MANIFEST_FILE);
    let mut m: Manifest = serde_json::from_slice(&std::fs::read(&path).expect("read manifest"))
        .expect("parse manifest");
    f(&mut m);
    m.write(dir).expect("write manifest");
}
