//! Documented defects injected into a few deliveries of the first year, so that the
//! quality rules have something to find. Each is listed in `out/defects.json`.

use crate::SynthError;
use crate::out;
use crate::pop::Person;
use aim_model::delivery::{MANIFEST_FILE, Manifest};
use aim_model::{Database, Insurer, Period};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

mod other;
pub use other::NEVER_DELIVERED_ATC;

/// One injected defect.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct Defect {
    /// Delivery folder (inside the output folder).
    pub delivery: String,
    /// Kind of defect.
    pub kind: String,
    /// `row` (some rows are wrong) or `delivery` (the delivery as a whole is wrong).
    pub level: String,
    /// Rows affected (0 for delivery-level defects).
    pub rows_affected: u64,
    /// What the platform is expected to do.
    pub expected_rule: String,
    /// Details: which rows, which values.
    pub detail: String,
}

/// The unknown nomenclature code injected.
pub const UNKNOWN_NOMENCLATURE: &str = "999990";
/// The unknown ATC code injected.
pub const UNKNOWN_ATC: &str = "Z99ZZ99";
/// The implausibly large amount injected.
pub const HUGE_AMOUNT: &str = "2500000.00";

struct Loaded {
    dir: PathBuf,
    manifest: Manifest,
    header: String,
    files: Vec<Vec<String>>,
}

fn load(dir: &Path) -> Result<Loaded, SynthError> {
    let mpath = dir.join(MANIFEST_FILE);
    let text = std::fs::read_to_string(&mpath).map_err(|e| SynthError::Io {
        path: mpath.clone(),
        source: e,
    })?;
    let manifest: Manifest = serde_json::from_str(&text).map_err(|e| SynthError::Io {
        path: mpath,
        source: std::io::Error::other(e),
    })?;
    let mut header = String::new();
    let mut files = Vec::new();
    for f in &manifest.files {
        let data = out::read_data(&dir.join(&f.name))?;
        let mut lines = data.lines();
        header = lines.next().unwrap_or_default().to_string();
        files.push(lines.map(str::to_string).collect());
    }
    Ok(Loaded {
        dir: dir.to_path_buf(),
        manifest,
        header,
        files,
    })
}

impl Loaded {
    fn save(&mut self, gzip: bool) -> Result<(), SynthError> {
        for (f, rows) in self.manifest.files.iter_mut().zip(&self.files) {
            let mut text = String::with_capacity(rows.len() * 160 + self.header.len() + 1);
            text.push_str(&self.header);
            text.push('\n');
            for r in rows {
                text.push_str(r);
                text.push('\n');
            }
            f.sha256 = out::write_data(&self.dir.join(&f.name), text.as_bytes(), gzip)?;
            f.rows = rows.len() as u64;
        }
        self.manifest.write(&self.dir).map_err(|e| SynthError::Io {
            path: self.dir.clone(),
            source: e,
        })
    }

    fn col(&self, name: &str) -> usize {
        self.header
            .split(';')
            .position(|c| c == name)
            .expect("column present")
    }

    /// `k` rows spread over the delivery (file index, row index), deterministic.
    fn spread(&self, k: usize, salt: u64) -> Vec<(usize, usize)> {
        let all: Vec<(usize, usize)> = self
            .files
            .iter()
            .enumerate()
            .flat_map(|(f, rows)| (0..rows.len()).map(move |r| (f, r)))
            .collect();
        if all.is_empty() {
            return Vec::new();
        }
        let k = k.min(all.len());
        let off = (crate::util::mix(salt) % all.len() as u64) as usize;
        let mut v: Vec<(usize, usize)> = (0..k)
            .map(|i| all[(off + i * all.len() / k) % all.len()])
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    fn set(&mut self, at: (usize, usize), col: usize, value: &str) {
        let row = &mut self.files[at.0][at.1];
        let mut fields: Vec<&str> = row.split(';').collect();
        fields[col] = value;
        *row = fields.join(";");
    }

    fn get(&self, at: (usize, usize), col: usize) -> &str {
        self.files[at.0][at.1].split(';').nth(col).unwrap_or("")
    }
}

/// Counts the data rows actually present in a delivery folder.
pub fn count_rows(dir: &Path) -> Result<u64, SynthError> {
    let l = load(dir)?;
    Ok(l.files.iter().map(|f| f.len() as u64).sum())
}

fn folder(out: &Path, ins: Insurer, db: Database, year: i32, q: u8) -> (PathBuf, String) {
    let name = crate::folder_name(ins, db, Period::new(year, q));
    (out.join(&name), name)
}

fn record(
    delivery: &str,
    kind: &str,
    level: &str,
    rows: u64,
    rule: &str,
    detail: String,
) -> Defect {
    Defect {
        delivery: delivery.into(),
        kind: kind.into(),
        level: level.into(),
        rows_affected: rows,
        expected_rule: rule.into(),
        detail,
    }
}

/// Injects the defects into the deliveries of `year` under `out`.
pub fn inject(
    out: &Path,
    year: i32,
    persons: &[Person],
    coder: &aim_ttp::Coder,
    gzip: bool,
    seed: u64,
) -> Result<Vec<Defect>, SynthError> {
    use Insurer::*;
    let mut found = Vec::new();
    let niss_of: HashMap<&[u8], u64> = persons.iter().map(|p| (&p.code[..], p.niss)).collect();

    // 1. Raw national numbers in person_id.
    let (dir, name) = folder(out, Neutral, Database::Gzss, year, 1);
    let mut d = load(&dir)?;
    let c = d.col("person_id");
    let mut n = 0;
    for at in d.spread(3, seed ^ 1) {
        if let Some(niss) = niss_of.get(d.get(at, c).as_bytes()) {
            let raw = format!("{niss:011}");
            d.set(at, c, &raw);
            n += 1;
        }
    }
    if n > 0 {
        d.save(gzip)?;
        found.push(record(&name, "raw_national_number", "row", n, "privacy: a field holds a raw national number (11 digits, valid mod 97); the whole delivery is refused and must never reach the warehouse", "person_id replaced by the person's national number".into()));
    }

    // 2. Unknown nomenclature codes.
    let (dir, name) = folder(out, Liberal, Database::Gzss, year, 1);
    let mut d = load(&dir)?;
    let c = d.col("nomenclature");
    let rows = d.spread(25, seed ^ 2);
    for at in &rows {
        d.set(*at, c, UNKNOWN_NOMENCLATURE);
    }
    if !rows.is_empty() {
        d.save(gzip)?;
        found.push(record(
            &name,
            "unknown_nomenclature",
            "row",
            rows.len() as u64,
            "validity: nomenclature code not in the reference list; rows flagged",
            format!("nomenclature set to {UNKNOWN_NOMENCLATURE}"),
        ));
    }

    // 3. Service dates outside the quarter.
    let (dir, name) = folder(out, Auxiliary, Database::Gzss, year, 1);
    let mut d = load(&dir)?;
    let c = d.col("service_date");
    let rows = d.spread(10, seed ^ 3);
    let outside = crate::util::date(crate::util::day(year, 1, 1) - 5).to_string();
    for at in &rows {
        d.set(*at, c, &outside);
    }
    if !rows.is_empty() {
        d.save(gzip)?;
        found.push(record(
            &name,
            "date_outside_period",
            "row",
            rows.len() as u64,
            "plausibility: service date outside the delivered quarter; rows flagged",
            format!("service_date set to {outside}"),
        ));
    }

    // 4. A service after the person's death.
    let candidates = [
        (Neutral, 2),
        (Neutral, 3),
        (Neutral, 4),
        (Socialist, 4),
        (Independent, 4),
        (Christian, 4),
    ];
    for (ins, q) in candidates {
        let period = Period::new(year, q);
        let (pdir, _) = folder(out, ins, Database::Popu, year, q);
        let popu = load(&pdir)?;
        let (pc, dc) = (popu.col("person_id"), popu.col("death_date"));
        let mut deaths: HashMap<String, chrono::NaiveDate> = HashMap::new();
        for rows in &popu.files {
            for row in rows {
                let f: Vec<&str> = row.split(';').collect();
                if let Ok(dd) = f[dc].parse::<chrono::NaiveDate>()
                    && dd < period.end()
                {
                    deaths.insert(f[pc].to_string(), dd);
                }
            }
        }
        let (dir, name) = folder(out, ins, Database::Gzss, year, q);
        let mut d = load(&dir)?;
        let (c, sc) = (d.col("person_id"), d.col("service_date"));
        let mut n = 0;
        let mut who = Vec::new();
        'files: for fi in 0..d.files.len() {
            for ri in 0..d.files[fi].len() {
                if let Some(dd) = deaths.get(d.get((fi, ri), c)) {
                    let after = (*dd + chrono::Days::new(1 + n % 3)).min(period.end());
                    let person = d.get((fi, ri), c).to_string();
                    d.set((fi, ri), sc, &after.to_string());
                    if !who.contains(&person) {
                        who.push(person);
                    }
                    n += 1;
                    if n >= 5 {
                        break 'files;
                    }
                }
            }
        }
        if n > 0 {
            d.save(gzip)?;
            found.push(record(&name, "service_after_death", "row", n, "consistency with POPU: service date after the person's date of death; rows flagged", format!("persons {}", who.join(", "))));
            break;
        }
    }

    // 5. Duplicated billing lines.
    let (dir, name) = folder(out, Liberal, Database::Gzss, year, 2);
    let mut d = load(&dir)?;
    let rows = d.spread(20, seed ^ 5);
    let copies: Vec<String> = rows.iter().map(|at| d.files[at.0][at.1].clone()).collect();
    if let Some(last) = d.files.last_mut() {
        last.extend(copies.iter().cloned());
    }
    if !copies.is_empty() {
        d.save(gzip)?;
        found.push(record(
            &name,
            "duplicate_line",
            "row",
            copies.len() as u64,
            "duplicates: the same line_id twice in a delivery; the copies are flagged",
            "exact copies appended to the last file".into(),
        ));
    }

    // 6. Persons absent from the insurer's POPU.
    let (dir, name) = folder(out, Auxiliary, Database::Gzss, year, 2);
    let mut d = load(&dir)?;
    let c = d.col("person_id");
    // Born 1 January 1900, serial 998: a number the generator never allocates.
    let ghost = coder.code_person(aim_ttp::niss::Niss::from_base(101_998, false).digits())?;
    let rows = d.spread(10, seed ^ 6);
    for at in &rows {
        d.set(*at, c, &ghost);
    }
    if !rows.is_empty() {
        d.save(gzip)?;
        found.push(record(&name, "person_not_in_popu", "row", rows.len() as u64, "consistency with POPU: the person is not in the insurer's population file for the quarter; rows flagged", format!("person_id set to {ghost}")));
    }

    // 7. Negative reimbursement on a positive-units line.
    let (dir, name) = folder(out, Railway, Database::Gzss, year, 2);
    let mut d = load(&dir)?;
    let (c, uc) = (d.col("amount_reimbursed"), d.col("units"));
    let rows: Vec<_> = d
        .spread(5, seed ^ 7)
        .into_iter()
        .filter(|at| d.get(*at, uc).parse::<i64>().is_ok_and(|u| u > 0))
        .collect();
    for at in &rows {
        let v = d.get(*at, c).trim_start_matches('-').to_string();
        d.set(*at, c, &format!("-{v}"));
    }
    if !rows.is_empty() {
        d.save(gzip)?;
        found.push(record(
            &name,
            "negative_amount",
            "row",
            rows.len() as u64,
            "plausibility: negative amount reimbursed on a line with positive units; rows flagged",
            "amount_reimbursed negated".into(),
        ));
    }

    // 8. Implausibly large amounts.
    let (dir, name) = folder(out, Railway, Database::Gzss, year, 3);
    let mut d = load(&dir)?;
    let c = d.col("amount_reimbursed");
    let rows = d.spread(3, seed ^ 8);
    for at in &rows {
        d.set(*at, c, HUGE_AMOUNT);
    }
    if !rows.is_empty() {
        d.save(gzip)?;
        found.push(record(
            &name,
            "implausible_amount",
            "row",
            rows.len() as u64,
            "plausibility: amount far beyond the plausible range for the code; rows flagged",
            format!("amount_reimbursed set to {HUGE_AMOUNT}"),
        ));
    }

    // 9. Unknown ATC codes.
    let (dir, name) = folder(out, Liberal, Database::Faru, year, 1);
    let mut d = load(&dir)?;
    let c = d.col("atc");
    let rows = d.spread(15, seed ^ 9);
    for at in &rows {
        d.set(*at, c, UNKNOWN_ATC);
    }
    if !rows.is_empty() {
        d.save(gzip)?;
        found.push(record(
            &name,
            "unknown_atc",
            "row",
            rows.len() as u64,
            "validity: ATC code not in the reference list; rows flagged",
            format!("atc set to {UNKNOWN_ATC}"),
        ));
    }

    // 10. Manifest row count that does not match the file.
    let (dir, name) = folder(out, Auxiliary, Database::Faru, year, 2);
    let mut d = load(&dir)?;
    d.save(gzip)?;
    d.manifest.files[0].rows += 7;
    d.manifest.write(&dir).map_err(|e| SynthError::Io {
        path: dir.clone(),
        source: e,
    })?;
    found.push(record(
        &name,
        "manifest_row_count",
        "delivery",
        0,
        "delivery: the manifest's row count differs from the file; the delivery is refused",
        format!(
            "manifest says {} rows for {}, the file holds {}",
            d.manifest.files[0].rows,
            d.manifest.files[0].name,
            d.manifest.files[0].rows - 7
        ),
    ));

    // 11. Manifest naming another insurer than its rows.
    let (dir, name) = folder(out, Railway, Database::Faru, year, 3);
    let mut d = load(&dir)?;
    d.manifest.insurer = Neutral;
    d.manifest.write(&dir).map_err(|e| SynthError::Io {
        path: dir.clone(),
        source: e,
    })?;
    found.push(record(&name, "manifest_wrong_insurer", "delivery", 0, "delivery: the manifest names insurer 200 over rows of insurer 900; the delivery is refused", "manifest insurer set to 200; rows and folder name say 900".into()));

    found.extend(other::inject(out, year, coder, gzip, seed)?);
    Ok(found)
}
