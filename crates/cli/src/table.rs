//! `aim table`: table requests through the disclosure gate's one door, each audited against
//! every earlier release (whoever asked, the Atlas included) and against the others of the run.

use aim_access::{Capability, Grant};
use aim_disclosure::{Gate, Options, TableRequest};
use aim_warehouse::Warehouse;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// Runs the requests in `specs` in order for the project of `grant` and writes their gated
/// tables (or, with a grant of raw sample results, the one raw sample table).
pub fn run(
    wh: &Warehouse,
    specs: &[PathBuf],
    out: &Path,
    ext: &str,
    min_units: Option<i64>,
    grant: &Grant,
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
    let mut gate = Gate::open(wh)?;
    if grant.capability() == Capability::RawSampleTable {
        if requests.len() != 1 {
            anyhow::bail!("--raw takes one --spec");
        }
        let file = rt.block_on(gate.release_raw_sample(&requests[0].1, grant, out))?;
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
    if gate.earlier_releases() > 0 {
        eprintln!(
            "replaying {} earlier release(s) for the audit…",
            gate.earlier_releases()
        );
    }
    let options = Options { min_units };
    rt.block_on(async {
        for (spec, request) in &requests {
            let target = if many {
                let stem = spec
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "table".into());
                out.join(format!("{stem}.{ext}"))
            } else {
                out.to_path_buf()
            };
            let o = gate.release(request, grant, &options, &target).await?;
            println!(
                "{}: {} cells, {} small cells suppressed, {} more suppressed to protect them, {} by the contributor rule, {} by the provider rule, {} against combination with {} earlier release(s); audit passed",
                o.id,
                o.cells,
                o.primary,
                o.secondary,
                o.contributor,
                o.provider,
                o.differencing,
                o.audited_against,
            );
            for f in &o.files {
                println!("wrote {}", f.display());
            }
        }
        Ok::<_, anyhow::Error>(())
    })
}
