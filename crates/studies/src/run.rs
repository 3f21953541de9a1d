//! Running a study through the gate: each of its tables released for the grant's project
//! (audited against every earlier release and against the study's other tables), written by
//! the gate, then read back for the computation.

use crate::StudyError;
use crate::lorenz::{AreaResult, Definition};
use crate::released::ReleasedRow;
use aim_access::Grant;
use aim_disclosure::{Gate, Options, Outcome, TableRequest};
use std::path::{Path, PathBuf};

/// One table of the Lorenz study, as released, and what was computed from it.
#[derive(Debug, Clone)]
pub struct LorenzTable {
    /// The PATI column.
    pub measure: String,
    /// The breakdown's id.
    pub breakdown: String,
    /// The year.
    pub year: i32,
    /// The file the gate wrote.
    pub released_file: PathBuf,
    /// What the gate did.
    pub outcome: Outcome,
    /// Each area's curve, Gini and top shares from the released cells.
    pub areas: Vec<AreaResult>,
}

/// The folders of a study's run: the gate's files in `out/released/`, each request in
/// `out/requests/`; both created.
struct Folders {
    released: PathBuf,
    requests: PathBuf,
}

impl Folders {
    fn create(out: &Path) -> Result<Folders, StudyError> {
        let f = Folders {
            released: out.join("released"),
            requests: out.join("requests"),
        };
        for dir in [&f.released, &f.requests] {
            std::fs::create_dir_all(dir).map_err(|source| StudyError::Write {
                file: dir.clone(),
                source,
            })?;
        }
        Ok(f)
    }

    /// Writes `request` to `requests/<stem>.toml`, releases it through `gate` for the
    /// project of `grant` into `released/<stem>.csv`, and reads the released file back.
    async fn release(
        &self,
        gate: &mut Gate<'_>,
        grant: &Grant,
        request: &TableRequest,
        stem: &str,
        progress: &(dyn Fn(&str) + Sync),
    ) -> Result<(PathBuf, Outcome, Vec<ReleasedRow>), StudyError> {
        let request_file = self.requests.join(format!("{stem}.toml"));
        let text = toml::to_string(request).map_err(|e| StudyError::Definition(e.to_string()))?;
        std::fs::write(&request_file, text).map_err(|source| StudyError::Write {
            file: request_file.clone(),
            source,
        })?;
        progress(&request.title);
        let file = self.released.join(format!("{stem}.csv"));
        let outcome = gate
            .release(request, grant, &Options::default(), &file)
            .await
            .map_err(|source| StudyError::Gate {
                title: request.title.clone(),
                source,
            })?;
        let rows = crate::released::read(&file)?;
        Ok((file, outcome, rows))
    }
}

/// Releases the Lorenz study's tables for `years` through `gate` for the project of `grant`,
/// into `out/released/` (the gate's CSV and metadata; the request beside each, in
/// `out/requests/`), and computes the results from the released files. `progress` hears of
/// each table before it goes to the gate.
pub async fn lorenz(
    gate: &mut Gate<'_>,
    grant: &Grant,
    def: &Definition,
    years: &[i32],
    out: &Path,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Vec<LorenzTable>, StudyError> {
    let folders = Folders::create(out)?;
    let mut tables = Vec::new();
    for &year in years {
        for measure in &def.measure {
            for b in &measure.breakdowns {
                let breakdown = def
                    .breakdown(b)
                    .expect("checked when the definition was parsed");
                let request = def.request(measure, breakdown, year);
                let stem = format!("lorenz-{}-{}-{year}", measure.column, breakdown.id);
                let (file, outcome, rows) = folders
                    .release(gate, grant, &request, &stem, progress)
                    .await?;
                tables.push(LorenzTable {
                    measure: measure.column.clone(),
                    breakdown: breakdown.id.clone(),
                    year,
                    areas: crate::lorenz::results(def, &rows),
                    released_file: file,
                    outcome,
                });
            }
        }
    }
    Ok(tables)
}

/// One period of an Article 112 request, as released.
#[derive(Debug, Clone)]
pub struct Art112Table {
    /// `2024` or `2024Q3`.
    pub period: String,
    /// The file the gate wrote.
    pub released_file: PathBuf,
    /// What the gate did.
    pub outcome: Outcome,
    /// The released rows, read back.
    pub rows: Vec<ReleasedRow>,
}

/// Releases the tables of an Article 112 request (one per period) through `gate` for the
/// project of `grant`, into `out/released/` (the requests in `out/requests/`), and reads them
/// back.
pub async fn art112(
    gate: &mut Gate<'_>,
    grant: &Grant,
    request: &crate::art112::Request,
    out: &Path,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Vec<Art112Table>, StudyError> {
    let folders = Folders::create(out)?;
    let mut tables = Vec::new();
    for (year, quarter) in request.periods() {
        let period = crate::art112::period_label(year, quarter);
        let table = request.table(year, quarter);
        let stem = format!("{}-{period}", request.id);
        let (file, outcome, rows) = folders
            .release(gate, grant, &table, &stem, progress)
            .await?;
        tables.push(Art112Table {
            period,
            rows,
            released_file: file,
            outcome,
        });
    }
    Ok(tables)
}

/// One table of the hospital cost barometer (a year and a kind of stay), as released.
#[derive(Debug, Clone)]
pub struct BarometerTable {
    /// The year.
    pub year: i32,
    /// Classic or day stays.
    pub kind: crate::barometer::StayKind,
    /// The file the gate wrote.
    pub released_file: PathBuf,
    /// What the gate did.
    pub outcome: Outcome,
    /// The released rows, read back.
    pub rows: Vec<ReleasedRow>,
}

/// Releases the barometer's tables (per year, classic and day stays) through `gate` for the
/// project of `grant`, into `out/released/` (the requests in `out/requests/`), and reads them
/// back.
pub async fn barometer(
    gate: &mut Gate<'_>,
    grant: &Grant,
    years: &[i32],
    out: &Path,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Vec<BarometerTable>, StudyError> {
    let folders = Folders::create(out)?;
    let mut tables = Vec::new();
    for &year in years {
        for kind in crate::barometer::StayKind::ALL {
            let request = crate::barometer::table(year, kind);
            let stem = format!("barometer-{}-{year}", kind.as_str());
            let (file, outcome, rows) = folders
                .release(gate, grant, &request, &stem, progress)
                .await?;
            tables.push(BarometerTable {
                year,
                kind,
                rows,
                released_file: file,
                outcome,
            });
        }
    }
    Ok(tables)
}
