//! Progress bars and printed summaries.

use aim_ingest::Verdict;
use aim_warehouse::load::{DeliveryOutcome, IngestProgress};
use aim_warehouse::{IngestSummary, Warehouse};
use anyhow::Result;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .expect("valid template")
        .progress_chars("=> ")
}

/// Runs the synthesiser with a progress bar.
pub fn synth(cfg: &aim_synth::SynthConfig) -> Result<aim_synth::SynthSummary> {
    let bar = ProgressBar::new(0).with_style(style("{msg:>12} [{bar:40}] {pos}/{len} ({eta})"));
    bar.set_draw_target(ProgressDrawTarget::stderr());
    let last = Mutex::new("");
    let summary = aim_synth::generate(cfg, &|p: aim_synth::Progress| {
        let mut stage = last.lock().expect("lock");
        if *stage != p.stage {
            *stage = p.stage;
            bar.set_message(p.stage);
        }
        bar.set_length(p.total);
        bar.set_position(p.done);
    })?;
    bar.finish_and_clear();
    Ok(summary)
}

struct Bars {
    all: ProgressBar,
    current: Mutex<Option<ProgressBar>>,
    multi: MultiProgress,
}

impl IngestProgress for Bars {
    fn delivery_started(&self, index: usize, total: usize, folder: &Path, expected_rows: u64) {
        self.all.set_length(total as u64);
        self.all.set_position(index as u64);
        let bar = self.multi.add(ProgressBar::new(expected_rows.max(1)));
        bar.set_style(style(
            "  {msg:<24} [{bar:30}] {human_pos}/{human_len} rows ({per_sec})",
        ));
        bar.set_message(
            folder
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
        *self.current.lock().expect("lock") = Some(bar);
    }

    fn rows_read(&self, rows: u64) {
        if let Some(b) = self.current.lock().expect("lock").as_ref() {
            b.set_position(rows);
        }
    }

    fn delivery_finished(&self, outcome: &DeliveryOutcome) {
        if let Some(b) = self.current.lock().expect("lock").take() {
            b.finish_and_clear();
            self.multi.remove(&b);
        }
        self.all.inc(1);
        if matches!(outcome.verdict, Verdict::Rejected | Verdict::Held) {
            let _ = self.multi.println(format!(
                "  {} {}: {}",
                if outcome.verdict == Verdict::Held {
                    "HELD"
                } else {
                    "REJECTED"
                },
                outcome.delivery_id,
                outcome.reasons.join(" | ")
            ));
        }
    }
}

/// Confirms a held correction and ingests it, with progress bars (or silently).
pub async fn confirm(
    wh: &Warehouse,
    delivery: &str,
    by: &str,
    reason: &str,
    show: bool,
) -> Result<IngestSummary> {
    let (bars, all) = bars(show);
    let summary = aim_warehouse::confirm(
        wh,
        delivery,
        by,
        reason,
        &aim_warehouse::IngestOptions::default(),
        bars,
    )
    .await?;
    all.finish_and_clear();
    Ok(summary)
}

fn bars(show: bool) -> (Arc<Bars>, ProgressBar) {
    let multi = MultiProgress::with_draw_target(if show {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    });
    let all = multi.add(ProgressBar::new(0));
    all.set_style(style(
        "{msg:>12} [{bar:40}] {pos}/{len} deliveries ({elapsed})",
    ));
    all.set_message("ingest");
    let bars = Arc::new(Bars {
        all: all.clone(),
        current: Mutex::new(None),
        multi,
    });
    (bars, all)
}

/// Ingests with progress bars (or silently).
pub async fn ingest(wh: &Warehouse, dirs: &[PathBuf], show: bool) -> Result<IngestSummary> {
    let (bars, all) = bars(show);
    let summary =
        aim_warehouse::ingest(wh, dirs, &aim_warehouse::IngestOptions::default(), bars).await?;
    all.finish_and_clear();
    Ok(summary)
}

/// Prints what an ingest did.
pub fn print_ingest_summary(wh: &Warehouse, summary: &IngestSummary) {
    let count = |v: Verdict| summary.outcomes.iter().filter(|o| o.verdict == v).count();
    let rows: u64 = summary.outcomes.iter().map(|o| o.rows_accepted).sum();
    let rejected_rows: u64 = summary
        .outcomes
        .iter()
        .filter(|o| !matches!(o.verdict, Verdict::Rejected | Verdict::Held))
        .map(|o| o.rows_rejected)
        .sum();
    let secs: f64 = summary.outcomes.iter().map(|o| o.seconds).sum();
    println!(
        "{} deliveries: {} accepted, {} accepted with rejected rows, {} rejected (quarantined), {} held (corrections that would lose rows), {} already loaded",
        summary.outcomes.len(),
        count(Verdict::Accepted),
        count(Verdict::AcceptedWithRejectedRows),
        count(Verdict::Rejected),
        count(Verdict::Held),
        count(Verdict::AlreadyLoaded)
    );
    println!("{rows} rows loaded, {rejected_rows} rows rejected into feedback files, {secs:.1} s");
    for o in summary
        .outcomes
        .iter()
        .filter(|o| o.verdict == Verdict::Rejected)
    {
        println!("  rejected {}: {}", o.delivery_id, o.reasons.join(" | "));
        println!("           report: {}", o.report_html.display());
    }
    for o in summary
        .outcomes
        .iter()
        .filter(|o| o.verdict == Verdict::Held)
    {
        println!("  HELD {}: {}", o.delivery_id, o.reasons.join(" | "));
        println!("       report: {}", o.report_html.display());
        println!(
            "       nothing applied; if the loss is intended: aim confirm --warehouse {} {} --by NAME --reason TEXT",
            wh.root().display(),
            o.delivery_id
        );
    }
    let warned: Vec<_> = summary
        .outcomes
        .iter()
        .filter(|o| !o.warnings.is_empty())
        .collect();
    if !warned.is_empty() {
        println!("warnings (nothing rejected for them; read the reports):");
        for o in warned {
            for w in &o.warnings {
                println!("  {}: {w}", o.delivery_id);
            }
        }
    }
    for o in &summary.overviews {
        println!("period overview: {}", o.display());
    }
    println!("warehouse: {}", wh.root().display());
}

struct BuildBar(ProgressBar);

impl aim_derive::BuildProgress for BuildBar {
    fn step(&self, year: i32, step: &str) {
        self.0.set_message(format!("{year}: {step}"));
    }
}

/// Derives the years that need it, with a spinner naming the step.
pub async fn build(
    wh: &Warehouse,
    opts: &aim_derive::BuildOptions,
    show: bool,
) -> Result<aim_derive::BuildSummary> {
    let bar = ProgressBar::new_spinner();
    bar.set_draw_target(if show {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    });
    bar.set_style(
        ProgressStyle::with_template("{spinner} build {msg} ({elapsed})").expect("valid"),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    let defs = aim_derive::Definitions::builtin();
    let summary = aim_derive::build(wh, &defs, opts, Arc::new(BuildBar(bar.clone()))).await;
    bar.finish_and_clear();
    Ok(summary?)
}

/// Prints what a build did.
pub fn print_build_summary(wh: &Warehouse, summary: &aim_derive::BuildSummary) {
    if summary.years.is_empty() {
        println!("nothing to build: no year with deliveries");
    }
    for y in &summary.years {
        match &y.counters {
            None => println!(
                "{}: up to date (inputs unchanged since the last build)",
                y.year
            ),
            Some(c) => {
                let members: u64 = c.sample_members.iter().sum();
                println!(
                    "{}: built in {:.1} s: {} persons, {} classic stays ({} transfers), {} day stays, {} sample members",
                    y.year,
                    y.seconds,
                    c.persons,
                    c.classic_stays,
                    c.transfers,
                    c.day_stays,
                    members
                );
                let notes = [
                    (
                        "billing lines of persons not in the population",
                        c.gzss_lines_person_not_in_population,
                    ),
                    (
                        "pharmacy lines of persons not in the population",
                        c.faru_lines_person_not_in_population,
                    ),
                    (
                        "lines dated after the person's death (kept)",
                        c.lines_after_death,
                    ),
                    (
                        "lines with a nomenclature code missing from the reference (spending group 'other')",
                        c.lines_unknown_nomenclature,
                    ),
                    ("cancelled hospital days", c.stays.cancelled_hospital_days),
                    (
                        "hospital days billed twice (counted once)",
                        c.stays.hospital_days_billed_twice,
                    ),
                    (
                        "overlapping hospital days dropped",
                        c.stays.overlapping_hospital_days,
                    ),
                    ("cancelled day stays", c.stays.cancelled_day_stays),
                    (
                        "doctors' fees outside any stay",
                        c.stays.hospital_fees_outside_stays,
                    ),
                ];
                for (what, n) in notes {
                    if n > 0 {
                        println!("    {n} {what}");
                    }
                }
                println!(
                    "    report: {}/qc/build-{}.json",
                    wh.root().display(),
                    y.year
                );
            }
        }
    }
}

/// Computes the Atlas with a progress bar, saves it in WH/atlas/ and logs the run.
pub fn atlas(
    wh: &Warehouse,
    indicators: Option<&Path>,
    reference: &Path,
    age_detail: bool,
) -> Result<aim_atlas::Atlas> {
    let indicators = match indicators {
        Some(dir) => aim_atlas::indicator::from_dir(dir)?,
        None => aim_atlas::indicator::embedded()?,
    };
    let geo = aim_model::geography::Geography::load(reference)?;
    let bar = ProgressBar::new(0).with_style(style(
        "gating {msg:>28} [{bar:40}] {pos}/{len} tables ({elapsed})",
    ));
    bar.set_draw_target(ProgressDrawTarget::stderr());
    let rt = crate::runtime()?;
    let atlas = rt.block_on(aim_atlas::compute(
        wh,
        &geo,
        &indicators,
        age_detail,
        &|msg: &str| {
            // "[done/total] indicator year"
            let (count, what) = msg.split_once(' ').unwrap_or((msg, ""));
            if let Some((done, total)) =
                count.trim_matches(|c| c == '[' || c == ']').split_once('/')
            {
                bar.set_length(total.parse().unwrap_or(0));
                bar.set_position(done.parse().unwrap_or(0));
            }
            bar.set_message(what.to_string());
        },
    ))?;
    bar.finish_and_clear();
    aim_atlas::store::save(wh.root(), &atlas)?;
    Ok(atlas)
}

/// Prints what `aim atlas build` computed.
pub fn print_atlas_summary(atlas: &aim_atlas::Atlas) {
    let m = &atlas.manifest;
    let released = atlas.figures.iter().filter(|f| f.released).count();
    println!(
        "Atlas: {} indicators × years {:?}: {} figures, {} released, {} hidden by the disclosure gate (population policy: no cell below {})",
        m.indicators.len(),
        m.years,
        atlas.figures.len(),
        released,
        atlas.figures.len() - released,
        m.policy.min_units
    );
    let cells: usize = m.gate.iter().map(|g| g.cells).sum();
    let primary: usize = m.gate.iter().map(|g| g.primary).sum();
    let secondary: usize = m.gate.iter().map(|g| g.secondary).sum();
    println!(
        "  gate: {} tables, {cells} cells, {primary} small cells, {secondary} more hidden to protect them; every audit passed",
        m.gate.len()
    );
    for (year, used) in &m.standard_population_year {
        println!("  {year}: standardised on the Belgian population of {used}");
    }
    for (year, n) in &m.persons_without_municipality {
        if *n > 0 {
            println!("  {year}: {n} persons without a 2025 municipality are counted in no area");
        }
    }
}
