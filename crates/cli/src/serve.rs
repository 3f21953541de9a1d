//! `aim serve`: the web Atlas (crates/web, docs/atlas-web.md) on a local port, over HTTP or
//! HTTPS, with the limits of docs/deployment.md.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How the Atlas is exposed: its public address, TLS, and the server's limits (defaults in
/// `aim_web::ServerConfig`, docs/deployment.md).
#[derive(Debug, Default, Clone, clap::Args)]
pub struct ServeOptions {
    /// The address visitors use, e.g. https://atlas.example.be (scheme, host, port; no path).
    /// Links in the DCAT catalogue are built from it; `https` turns on HSTS. Default: the
    /// address listened on.
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Seconds a client has to send its request headers (default 10).
    #[arg(long, value_name = "SECONDS")]
    pub header_timeout: Option<f64>,
    /// Seconds an idle kept-alive connection stays open (default 5).
    #[arg(long, value_name = "SECONDS")]
    pub keep_alive_timeout: Option<f64>,
    /// Seconds a client has to send a request body (default 10).
    #[arg(long, value_name = "SECONDS")]
    pub body_timeout: Option<f64>,
    /// Seconds a client may take no response bytes before it is cut (default 30).
    #[arg(long, value_name = "SECONDS")]
    pub write_timeout: Option<f64>,
    /// Connections served at once; more wait to be accepted (default 512).
    #[arg(long, value_name = "N")]
    pub max_connections: Option<usize>,
    /// The accounts store (a SQLite file or a postgres:// URL): sign-in and the project pages
    /// are on (docs/web-projects.md). Default: $AIM_STORE, then the warehouse's access.db when
    /// it exists; with neither, the server is the public Atlas only.
    #[arg(long, value_name = "FILE|URL")]
    pub store: Option<String>,
    /// Serve the public Atlas only, even when an accounts store is found.
    #[arg(long, conflicts_with = "store")]
    pub public_only: bool,
}

/// The accounts store `aim serve` opens, if any: `--store`, `AIM_STORE`, or the warehouse's
/// `access.db` when it exists.
fn accounts_store(
    options: &ServeOptions,
    warehouse: &Path,
) -> Result<Option<aim_access::StoreLocation>> {
    if options.public_only {
        return Ok(None);
    }
    let explicit =
        options.store.is_some() || std::env::var("AIM_STORE").is_ok_and(|s| !s.is_empty());
    let location = crate::access::store_location(options.store.as_deref(), Some(warehouse))?;
    match &location {
        aim_access::StoreLocation::Sqlite(p) if !explicit && !p.exists() => Ok(None),
        _ => Ok(Some(location)),
    }
}

fn seconds(name: &str, v: Option<f64>, default: Duration) -> Result<Duration> {
    match v {
        None => Ok(default),
        Some(s) if s.is_finite() && s > 0.0 && s < 86_400.0 => Ok(Duration::from_secs_f64(s)),
        Some(s) => bail!("--{name} must be a number of seconds above 0 and below a day, got {s}"),
    }
}

impl ServeOptions {
    fn config(&self) -> Result<aim_web::ServerConfig> {
        let d = aim_web::ServerConfig::default();
        let config = aim_web::ServerConfig {
            header_read_timeout: seconds(
                "header-timeout",
                self.header_timeout,
                d.header_read_timeout,
            )?,
            keep_alive_timeout: seconds(
                "keep-alive-timeout",
                self.keep_alive_timeout,
                d.keep_alive_timeout,
            )?,
            body_timeout: seconds("body-timeout", self.body_timeout, d.body_timeout)?,
            write_timeout: seconds("write-timeout", self.write_timeout, d.write_timeout)?,
            max_connections: self.max_connections.unwrap_or(d.max_connections),
            ..d
        };
        config.validate()?;
        Ok(config)
    }
}

/// Loads the warehouse's Atlas, the maps and the geography, and serves until Ctrl-C.
pub fn run(
    warehouse: &Path,
    reference: Option<&Path>,
    host: &str,
    port: u16,
    options: &ServeOptions,
) -> Result<u8> {
    let wh = aim_warehouse::Warehouse::open(warehouse)?;
    let reference = crate::reference_dir(reference);
    let config = options.config()?;
    let tls = match (&options.tls_cert, &options.tls_key) {
        (Some(cert), Some(key)) => Some(aim_web::tls::acceptor(cert, key)?),
        _ => None,
    };
    let rt = crate::runtime()?;
    rt.block_on(async {
        let listener = aim_web::bind(host, port)
            .await
            .with_context(|| format!("cannot listen on {host}:{port}"))?;
        let addr = listener.local_addr()?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let local = format!("{scheme}://{addr}");
        let public_url = match &options.public_url {
            Some(u) => aim_web::PublicUrl::parse(u).context("--public-url")?,
            None => aim_web::PublicUrl::parse(&local).context("the listening address")?,
        };
        if tls.is_some() && !public_url.is_https() {
            bail!("--tls-cert serves HTTPS: the --public-url must be https://, got {public_url}");
        }
        let state = aim_web::AppState::load(wh.root(), &reference, public_url.clone()).map_err(
            |e| match e {
                aim_web::LoadError::NoAtlas(_) => anyhow::anyhow!(
                    "the warehouse has no Atlas yet: run `aim atlas build --warehouse {}` first",
                    warehouse.display()
                ),
                e => anyhow::Error::new(e),
            },
        )?;
        let state = match accounts_store(options, warehouse)? {
            Some(location) => {
                let store = aim_access::Store::open_existing(&location)
                    .with_context(|| format!("the accounts store {}", location.display()))?;
                println!(
                    "Sign-in and project pages: {public_url}/login  (accounts store {})",
                    location.display()
                );
                state.with_portal(aim_web::Portal::new(
                    store,
                    aim_web::PortalConfig::default(),
                ))
            }
            None => state,
        };
        if options.public_url.is_some() {
            println!("Atlas: {local}/  (public URL {public_url}/; Ctrl-C to stop)");
        } else {
            println!("Atlas: {local}/  (Ctrl-C to stop)");
        }
        aim_web::serve_on(state, listener, config, tls)
            .await
            .context("the web server stopped")?;
        Ok(0)
    })
}
