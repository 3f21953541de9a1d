//! `aim serve`: the web Atlas (crates/web, docs/atlas-web.md) on a local port.

use anyhow::{Context, Result};
use std::path::Path;

/// Loads the warehouse's Atlas, the maps and the geography, and serves until Ctrl-C.
pub fn run(warehouse: &Path, reference: Option<&Path>, host: &str, port: u16) -> Result<u8> {
    let wh = aim_warehouse::Warehouse::open(warehouse)?;
    let reference = crate::reference_dir(reference);
    let rt = crate::runtime()?;
    rt.block_on(async {
        let listener = aim_web::bind(host, port)
            .await
            .with_context(|| format!("cannot listen on {host}:{port}"))?;
        let addr = listener.local_addr()?;
        let state = aim_web::AppState::load(wh.root(), &reference, &format!("http://{addr}"))
            .map_err(|e| match e {
                aim_web::LoadError::NoAtlas(_) => anyhow::anyhow!(
                    "the warehouse has no Atlas yet: run `aim atlas build --warehouse {}` first",
                    warehouse.display()
                ),
                e => anyhow::Error::new(e),
            })?;
        println!("Atlas: http://{addr}/  (Ctrl-C to stop)");
        aim_web::serve_on(state, listener)
            .await
            .context("the web server stopped")?;
        Ok(0)
    })
}
