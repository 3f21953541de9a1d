//! `aim table`: table requests through the disclosure gate's one door, each audited against
//! every earlier release (whoever asked, the Atlas included) and against the others of the run.

use aim_access::{Account, Grant};
use aim_disclosure::{Gate, Options, Source, TableRequest};
use aim_warehouse::Warehouse;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// Who asks: the account's e-mail for the run log, and for raw results the grant that
/// opens them.
pub struct Who {
    user: String,
    raw: Option<Grant>,
}

impl Who {
    /// The account, and its grant of raw sample results when `raw`.
    pub fn of(account: &Account, raw: bool) -> Result<Who> {
        Ok(Who {
            user: account.email.clone(),
            raw: if raw {
                Some(aim_access::authorize_raw_sample(account)?)
            } else {
                None
            },
        })
    }
}

/// Runs the requests in `specs` in order and writes their gated tables (or, with a raw
/// grant, the one raw sample table).
pub fn run(
    wh: &Warehouse,
    specs: &[PathBuf],
    source: Source,
    out: &Path,
    ext: &str,
    min_units: Option<i64>,
    who: &Who,
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
    if let Some(grant) = &who.raw {
        if source != Source::Sample {
            anyhow::bail!(
                "--raw is only available on the sample: results on the population leave only through the gate"
            );
        }
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
    let options = Options {
        min_units,
        user: who.user.clone(),
    };
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
            let o = gate.release(request, source, &options, &target).await?;
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
