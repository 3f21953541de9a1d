//! For tests only (a dev-dependency, never shipped): a throwaway PostgreSQL server started
//! from the distribution's binaries (`/usr/lib/postgresql/*/bin`: `initdb`, `pg_ctl`) in a
//! temporary folder, listening on a free loopback port, stopped and deleted when dropped.
//!
//! Started as the current user; as root (CI runs as root, and PostgreSQL refuses to run as
//! root) it runs as the `postgres` user that Debian's package creates, through `runuser`.
//! When the binaries are missing, [`PgServer::start`] returns `None` — unless
//! `AIM_REQUIRE_POSTGRES=1`, when it panics, so that CI never skips these tests silently
//! (`scripts/test` sets it and installs the `postgresql` package).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// A running server; stopped and deleted on drop.
pub struct PgServer {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    as_postgres: bool,
    _dir: tempfile::TempDir,
}

static DATABASES: AtomicU32 = AtomicU32::new(0);

fn bin_dir() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").exists() && bin.join("pg_ctl").exists()).then_some((v, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, b)| b)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl PgServer {
    /// Starts a server, or says why not: `None` when PostgreSQL is not installed (a panic
    /// instead under `AIM_REQUIRE_POSTGRES=1`).
    pub fn start() -> Option<PgServer> {
        let required = std::env::var("AIM_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
        let Some(bin) = bin_dir() else {
            assert!(
                !required,
                "AIM_REQUIRE_POSTGRES=1 but no PostgreSQL server binaries in /usr/lib/postgresql/*/bin: install the postgresql package"
            );
            eprintln!(
                "PostgreSQL is not installed (/usr/lib/postgresql/*/bin): the PostgreSQL store tests are SKIPPED (scripts/test installs it and requires them)"
            );
            return None;
        };
        let as_postgres = is_root();
        // As root, the server runs as `postgres`, which must reach the folder: /tmp, whatever
        // TMPDIR says (root's own temporary folder may be closed to other users).
        let mut builder = tempfile::Builder::new();
        builder.prefix("aim-pg-");
        let dir = if as_postgres {
            builder.tempdir_in("/tmp")
        } else {
            builder.tempdir()
        }
        .expect("a temporary folder");
        let data = dir.path().join("data");
        if as_postgres {
            let ok = Command::new("chown")
                .args(["-R", "postgres:"])
                .arg(dir.path())
                .status()
                .expect("chown runs")
                .success();
            assert!(
                ok,
                "cannot give {} to the postgres user",
                dir.path().display()
            );
        }
        let port = free_port();
        let server = PgServer {
            bin,
            data,
            port,
            as_postgres,
            _dir: dir,
        };
        server.run(
            "initdb",
            &[
                "-D",
                server.data.to_str().unwrap(),
                "-U",
                "aim",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        let log = server.data.parent().unwrap().join("server.log");
        let options = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -k {} -c fsync=off",
            server.data.parent().unwrap().display()
        );
        server.run(
            "pg_ctl",
            &[
                "-D",
                server.data.to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
                "-o",
                &options,
                "-w",
                "start",
            ],
        );
        Some(server)
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    fn run(&self, program: &str, args: &[&str]) {
        let out = self
            .command(program)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
        assert!(
            out.status.success(),
            "{program} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The port it listens on (loopback).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A new, empty database; its URL.
    pub fn new_database(&self) -> String {
        let name = format!("aim_test_{}", DATABASES.fetch_add(1, Ordering::Relaxed));
        let mut admin = postgres::Client::connect(&self.url("postgres"), postgres::NoTls)
            .expect("connect to the test server");
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create a test database");
        self.url(&name)
    }

    fn url(&self, db: &str) -> String {
        format!("postgres://aim@127.0.0.1:{}/{db}", self.port)
    }

    /// Its data folder.
    pub fn data_dir(&self) -> &Path {
        &self.data
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .args([
                "-D",
                self.data.to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ])
            .output();
    }
}
