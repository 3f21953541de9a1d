//! `aim table`: table requests through the disclosure gate, audited against the requester's
//! earlier releases (the ledger) and against each other when several run together.

use aim_disclosure::{Release, Source, TableRequest, ledger, release};
use aim_warehouse::Warehouse;
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Runs the requests in `specs` in order and writes their gated tables.
#[allow(clippy::too_many_arguments)]
pub fn run(
    wh: &Warehouse,
    specs: &[PathBuf],
    source: Source,
    out: &Path,
    ext: &str,
    min_units: Option<i64>,
    user: &str,
    raw: bool,
) -> Result<()> {
    let mut requests = Vec::new();
    for spec in specs {
        let text = std::fs::read_to_string(spec)
            .with_context(|| format!("cannot read {}", spec.display()))?;
        let request =
            TableRequest::parse(&text).with_context(|| format!("in {}", spec.display()))?;
        requests.push((spec, request));
    }
    let rt = crate::runtime()?;
    if raw {
        if source != Source::Sample {
            anyhow::bail!(
                "--raw is only available on the sample: results on the population leave only through the gate"
            );
        }
        if requests.len() != 1 {
            anyhow::bail!("--raw takes one --spec");
        }
        let file = rt.block_on(release::run_raw(wh, &requests[0].1, user, out))?;
        println!(
            "raw sample table (not for release, logged) written to {}",
            file.display()
        );
        return Ok(());
    }
    let many = requests.len() > 1;
    if many {
        std::fs::create_dir_all(out)
            .with_context(|| format!("cannot create the folder {}", out.display()))?;
    }
    let mut policy = source.policy();
    if let Some(m) = min_units {
        policy.min_units = m;
    }
    rt.block_on(async {
        let mut replayed: BTreeMap<String, Vec<ledger::Replayed>> = BTreeMap::new();
        let mut this_run: Vec<Release> = Vec::new();
        for (spec, request) in &requests {
            if !replayed.contains_key(&request.requester) {
                let entries = ledger::entries(wh, &request.requester)?;
                if !entries.is_empty() {
                    eprintln!(
                        "replaying {} earlier release(s) to {} for the audit…",
                        entries.len(),
                        request.requester
                    );
                }
                let mut done = Vec::new();
                for e in &entries {
                    done.push(ledger::replay(wh, e).await?);
                }
                replayed.insert(request.requester.clone(), done);
            }
            let earlier: Vec<_> = replayed[&request.requester]
                .iter()
                .map(ledger::Replayed::earlier)
                .chain(
                    this_run
                        .iter()
                        .filter(|r| r.request.requester == request.requester)
                        .map(Release::earlier),
                )
                .collect();
            let rel = release::run(wh, request, source, policy, user, &earlier).await?;
            let target = if many {
                let stem = spec
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "table".into());
                out.join(format!("{stem}.{ext}"))
            } else {
                out.to_path_buf()
            };
            let files = release::write(&rel, &target)?;
            release::record(wh, &rel, &files)?;
            let meta = release::metadata(&rel);
            println!(
                "{}: {} cells, {} small cells suppressed, {} more suppressed to protect them, {} against differencing with {} earlier release(s); audit {}",
                rel.id,
                meta.cells,
                meta.primary_suppressed,
                meta.secondary_suppressed,
                meta.differencing_suppressed,
                rel.audited_against.len(),
                meta.audit.result
            );
            for f in files {
                println!("wrote {}", f.display());
            }
            this_run.push(rel);
        }
        Ok::<_, anyhow::Error>(())
    })
}
