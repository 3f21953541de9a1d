//! Synthetic deliveries of the seven Belgian insurers (POPU, GZSS, FARU), calibrated on
//! published Belgian figures, deterministic for a seed. See `docs/synthetic-data.md`.
//!
//! ```no_run
//! # use aim_synth::*;
//! let cfg = SynthConfig {
//!     persons: 10_000,
//!     years: 2024..=2024,
//!     seed: 42,
//!     out: "out".into(),
//!     defects: false,
//!     reference_dir: aim_model::geography::default_reference_dir(),
//!     ttp_key: None,
//!     gzip: true,
//! };
//! let summary = generate(&cfg, &|_p| {}).unwrap();
//! println!("{} deliveries", summary.deliveries.len());
//! ```

pub mod care;
pub mod cond;
pub mod defects;
pub mod out;
pub mod pop;
pub mod util;

use aim_model::delivery::Manifest;
use aim_model::{Database, Insurer, Period};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Number of shards (threads). Fixed, so that the output does not depend on the machine.
pub const SHARDS: usize = 2;

/// What to generate.
#[derive(Debug, Clone)]
pub struct SynthConfig {
    /// Persons in the population on 1 January of the first year.
    pub persons: u64,
    /// Calendar years to generate (four quarterly deliveries each).
    pub years: std::ops::RangeInclusive<i32>,
    /// Random seed: the same seed gives byte-identical output.
    pub seed: u64,
    /// Output folder (created if needed).
    pub out: PathBuf,
    /// Inject the documented defects into a few deliveries of the first year.
    pub defects: bool,
    /// The public reference data folder (`shared/data`).
    pub reference_dir: PathBuf,
    /// TTP key file; without one a synthetic key is derived from the seed.
    pub ttp_key: Option<PathBuf>,
    /// Gzip the data files (`.csv.gz`, level 1) rather than plain `.csv`.
    pub gzip: bool,
}

/// Progress report (called every 10,000 persons or so).
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// `population`, `care`, `defects` or `truth`.
    pub stage: &'static str,
    /// Units done.
    pub done: u64,
    /// Units in the stage.
    pub total: u64,
}

/// One written delivery.
#[derive(Debug, Clone)]
pub struct DeliverySummary {
    /// Folder name inside `out`.
    pub folder: String,
    /// Insurer (of the rows).
    pub insurer: Insurer,
    /// Database.
    pub database: Database,
    /// Quarter.
    pub period: Period,
    /// Data rows written (as counted, even where a defect makes the manifest say otherwise).
    pub rows: u64,
}

/// What was generated.
#[derive(Debug, Clone)]
pub struct SynthSummary {
    /// Every delivery, in (year, insurer, database, quarter) order.
    pub deliveries: Vec<DeliverySummary>,
    /// Distinct persons generated (initial population, births and immigrants).
    pub persons: u64,
    /// Person-years written.
    pub person_years: u64,
    /// Total data rows over all deliveries.
    pub rows: u64,
    /// Defects injected (empty without `defects`).
    pub defects: Vec<defects::Defect>,
    /// Wall-clock time.
    pub elapsed: Duration,
}

/// Why generation failed.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// Invalid configuration.
    #[error("invalid synthetic-data configuration: {0}")]
    Config(String),
    /// The reference data could not be loaded.
    #[error("cannot load the reference data: {0}")]
    Geography(#[from] aim_model::geography::GeographyError),
    /// The reference data are unusable.
    #[error("the reference data are unusable for generation: {0}")]
    Reference(String),
    /// The TTP key could not be used.
    #[error("TTP key: {0}")]
    Ttp(#[from] aim_ttp::TtpError),
    /// Writing failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A worker thread panicked.
    #[error("a generator thread failed: {0}")]
    Thread(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SynthError + '_ {
    move |source| SynthError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The synthetic-only TTP key derived from the seed: SHA-256 of
/// `"aim synthetic TTP key"` followed by the seed (8 bytes, little endian).
pub fn synthetic_key(seed: u64) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"aim synthetic TTP key");
    h.update(seed.to_le_bytes());
    h.finalize().into()
}

/// The folder name of a first delivery.
pub fn folder_name(insurer: Insurer, db: Database, period: Period) -> String {
    Manifest {
        format_version: aim_model::delivery::FORMAT_VERSION.into(),
        insurer,
        database: db,
        period,
        sequence: 1,
        created: String::new(),
        files: Vec::new(),
    }
    .folder_name()
}

/// Generates the deliveries described by `cfg` into `cfg.out`.
pub fn generate(
    cfg: &SynthConfig,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<SynthSummary, SynthError> {
    let started = Instant::now();
    if cfg.persons == 0 || cfg.persons > 20_000_000 {
        return Err(SynthError::Config(format!(
            "persons must be between 1 and 20,000,000 (got {})",
            cfg.persons
        )));
    }
    let (first, last) = (*cfg.years.start(), *cfg.years.end());
    if first > last || first < 2000 || last > 2100 {
        return Err(SynthError::Config(format!(
            "years must be a non-empty range within 2000..=2100 (got {first}..={last})"
        )));
    }
    let geo = aim_model::geography::Geography::load(&cfg.reference_dir)?;
    let coder = match &cfg.ttp_key {
        Some(path) => aim_ttp::Coder::from_key_file(path)?,
        None => aim_ttp::Coder::new(&synthetic_key(cfg.seed))?,
    };
    let world = pop::World::new(&geo)?;
    drop(geo);
    let mut maker = pop::Maker::new(&world, &coder, cfg.seed);
    let y0 = util::day(first, 1, 1);
    let mut persons: Vec<pop::Person> =
        Vec::with_capacity(cfg.persons as usize + cfg.persons as usize / 50);
    for i in 0..cfg.persons {
        persons.push(maker.initial(y0, first));
        if (i + 1) % 10_000 == 0 {
            progress(Progress {
                stage: "population",
                done: i + 1,
                total: cfg.persons,
            });
        }
    }
    progress(Progress {
        stage: "population",
        done: cfg.persons,
        total: cfg.persons,
    });
    // Fit the calibration on (up to) the first 200,000 persons.
    let sample: Vec<_> = persons
        .iter()
        .take(200_000)
        .map(|p| (p.key, p.age(first), p.male, p.nh, p.z))
        .collect();
    let cal = cond::Calibration::fit(&sample, maker.nh_norm);
    let care_sample: Vec<_> = persons
        .iter()
        .take(200_000)
        .map(|p| {
            (
                p.key,
                p.age(first),
                p.male,
                p.nh,
                p.z,
                p.bim,
                p.conditions(first, &cal),
            )
        })
        .collect();
    let care_cal = care::CareCal::fit(&care_sample);
    drop((sample, care_sample));
    let prov = care::Providers::new(&coder, cfg.persons, cfg.seed);
    let pharma = care::Pharmacopoeia::new();
    let dates = util::Dates::new(first - 1, last + 1);
    let truth_dir = cfg.out.join("truth");
    std::fs::create_dir_all(&truth_dir).map_err(io(&truth_dir))?;
    let headers: [Arc<Vec<u8>>; care::NDB] = Database::ALL.map(|d| Arc::new(out::header(d)));

    let mut deliveries = Vec::new();
    let mut injected = Vec::new();
    let mut person_years = 0;
    for year in first..=last {
        let (ys, ye) = (util::day(year, 1, 1), util::day(year, 12, 31));
        // Newcomers: births and immigrants.
        let n = persons.len() as f64;
        let mut r = util::rng(&[cfg.seed, 0xB1B1, year as u64]);
        let births = (n * pop::BIRTHS).round() as u64;
        let immigrants = (n * pop::IMMIGRATION).round() as u64;
        for k in 0..births + immigrants {
            let entry = util::range(&mut r, ys, ye);
            persons.push(maker.newcomer(year, entry, k < births));
        }
        for p in persons.iter_mut() {
            pop::draw_events(p, &world, &cal, cfg.seed, year, ys, ye);
        }
        // Delivery folders.
        let periods = Period::quarters(year);
        let mut dirs = Vec::with_capacity(7 * care::NDB * 4);
        let mut keys = Vec::with_capacity(7 * care::NDB * 4);
        for ins in Insurer::ALL {
            for db in Database::ALL {
                for q in periods {
                    let dir = cfg.out.join(folder_name(ins, db, q));
                    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
                    dirs.push(dir);
                    keys.push((ins, db, q));
                }
            }
        }
        let q_start = [
            ys,
            util::day(year, 4, 1),
            util::day(year, 7, 1),
            util::day(year, 10, 1),
            ye + 1,
        ];
        let shared = care::Shared {
            world: &world,
            prov: &prov,
            pharma: &pharma,
            cal: &cal,
            care: &care_cal,
            dates: &dates,
            seed: cfg.seed,
            year,
            q_start,
        };
        let total = persons.len() as u64;
        let done = AtomicU64::new(0);
        let chunk = persons.len().div_ceil(SHARDS).max(1);
        type ShardOut = (Vec<out::PartWriter>, care::DocnTotals, u64);
        let results: Vec<Result<ShardOut, SynthError>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..SHARDS)
                .map(|k| {
                    let slice = &persons
                        [(k * chunk).min(persons.len())..((k + 1) * chunk).min(persons.len())];
                    let (shared, dirs, headers, truth_dir, done) =
                        (&shared, &dirs, &headers, &truth_dir, &done);
                    s.spawn(move || -> Result<ShardOut, SynthError> {
                        let mut shard =
                            care::Shard::new(dirs, k, cfg.gzip, headers, truth_dir, year)?;
                        for (i, p) in slice.iter().enumerate() {
                            shard.person(shared, p)?;
                            if (i + 1) % 10_000 == 0 {
                                let d = done.fetch_add(10_000, Ordering::Relaxed) + 10_000;
                                progress(Progress {
                                    stage: "care",
                                    done: d,
                                    total,
                                });
                            }
                        }
                        let py = shard.stats.persons;
                        let (writers, docn) = shard.finish()?;
                        Ok((writers, docn, py))
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(SynthError::Thread("panic".into())))
                })
                .collect()
        });
        let mut writers_of_shards = Vec::new();
        let mut docn = care::DocnTotals::default();
        for r in results {
            let (w, d, py) = r?;
            person_years += py;
            docn.merge(d);
            writers_of_shards.push(w);
        }
        // The documents N aggregate every shard's billing lines: written once, by shard 0.
        if let Some(first) = writers_of_shards.first_mut() {
            care::write_docn(&docn, first, &dates, year)?;
        }
        let mut shard_writers: Vec<Vec<Option<out::PartWriter>>> = writers_of_shards
            .into_iter()
            .map(|w| w.into_iter().map(Some).collect())
            .collect();
        progress(Progress {
            stage: "care",
            done: total,
            total,
        });
        for (i, (ins, db, q)) in keys.iter().enumerate() {
            let mut parts = Vec::new();
            for sw in shard_writers.iter_mut() {
                parts.extend(sw[i].take().expect("writer").finish()?);
            }
            let m = out::assemble(&dirs[i], *ins, *db, *q, parts, cfg.gzip)?;
            deliveries.push(DeliverySummary {
                folder: folder_name(*ins, *db, *q),
                insurer: *ins,
                database: *db,
                period: *q,
                rows: m.total_rows(),
            });
        }
        if cfg.defects && year == first {
            progress(Progress {
                stage: "defects",
                done: 0,
                total: 1,
            });
            let found = defects::inject(&cfg.out, year, &persons, &coder, cfg.gzip, cfg.seed)?;
            for d in &found {
                if let Some(s) = deliveries.iter_mut().find(|s| s.folder == d.delivery) {
                    s.rows = defects::count_rows(&cfg.out.join(&s.folder))?;
                }
            }
            injected.extend(found);
            progress(Progress {
                stage: "defects",
                done: 1,
                total: 1,
            });
        }
        // Advance to the next year.
        persons.retain(|p| p.ev.death.is_none() && p.ev.emigration.is_none());
        for p in persons.iter_mut() {
            if let Some((_, muni, sector)) = p.ev.moved {
                p.muni = muni;
                p.sector = sector;
            }
            if let Some((_, ins)) = p.ev.switch {
                p.insurer = ins;
            }
            if p.ev.nh_entry.is_some() {
                p.nh = true;
            }
            p.ev = pop::Events::default();
        }
    }
    progress(Progress {
        stage: "truth",
        done: 0,
        total: 1,
    });
    merge_truth(
        &truth_dir,
        "persons.csv",
        "year,person_id,birth_year,sex,municipality,insurer,increased_reimbursement,nursing_home,entry_date,exit_date,death_date,conditions,reimbursed,copayment,supplement,reimbursed_faru\n",
        "persons",
        first..=last,
    )?;
    merge_truth(
        &truth_dir,
        "stays.csv",
        "person_id,insurer,institution_id,admission,discharge,kind,transfer,room_type\n",
        "stays",
        first..=last,
    )?;
    if cfg.defects {
        let path = cfg.out.join("defects.json");
        let text = serde_json::to_string_pretty(&injected).expect("defects serialise");
        std::fs::write(&path, text + "\n").map_err(io(&path))?;
    }
    progress(Progress {
        stage: "truth",
        done: 1,
        total: 1,
    });
    let rows = deliveries.iter().map(|d| d.rows).sum();
    Ok(SynthSummary {
        deliveries,
        persons: u64::from(maker.next_idx),
        person_years,
        rows,
        defects: injected,
        elapsed: started.elapsed(),
    })
}

fn merge_truth(
    dir: &Path,
    name: &str,
    header: &str,
    stem: &str,
    years: std::ops::RangeInclusive<i32>,
) -> Result<(), SynthError> {
    let path = dir.join(name);
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).map_err(io(&path))?);
    out.write_all(header.as_bytes()).map_err(io(&path))?;
    for year in years {
        for shard in 0..SHARDS {
            let tmp = dir.join(format!(".{stem}-{year}-{shard}.tmp"));
            let mut f = std::fs::File::open(&tmp).map_err(io(&tmp))?;
            std::io::copy(&mut f, &mut out).map_err(io(&path))?;
            std::fs::remove_file(&tmp).map_err(io(&tmp))?;
        }
    }
    out.flush().map_err(io(&path))
}
