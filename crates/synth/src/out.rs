//! Delivery writers: CSV parts (optionally gzip), SHA-256 of the stored bytes, row
//! counts, and the manifest.

use crate::SynthError;
use aim_model::delivery::{FORMAT_VERSION, Manifest, ManifestFile};
use aim_model::{Database, Insurer, Period};
use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Maximum number of data rows in one data file.
pub const MAX_ROWS_PER_FILE: u64 = 2_000_000;

/// A file writer that hashes what it writes.
pub struct HashWriter {
    file: File,
    hasher: Sha256,
}

impl Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

enum Sink {
    Gz(Box<BufWriter<GzEncoder<HashWriter>>>),
    Plain(BufWriter<HashWriter>),
}

/// A finished data file, under a temporary name until the delivery is assembled.
#[derive(Debug, Clone)]
pub struct Part {
    /// Temporary path.
    pub path: PathBuf,
    /// Data rows.
    pub rows: u64,
    /// SHA-256 of the stored bytes.
    pub sha256: String,
}

fn io_err(path: &Path, e: std::io::Error) -> SynthError {
    SynthError::Io {
        path: path.to_path_buf(),
        source: e,
    }
}

/// Header line of a database: the model's column names in schema order.
pub fn header(db: Database) -> Vec<u8> {
    let mut h = db
        .table()
        .columns
        .iter()
        .map(|c| c.name)
        .collect::<Vec<_>>()
        .join(";")
        .into_bytes();
    h.push(b'\n');
    h
}

/// Opens a data file for writing.
fn open(path: &Path, gzip: bool, header: &[u8]) -> Result<Sink, SynthError> {
    let file = File::create(path).map_err(|e| io_err(path, e))?;
    let hw = HashWriter {
        file,
        hasher: Sha256::new(),
    };
    let mut sink = if gzip {
        Sink::Gz(Box::new(BufWriter::with_capacity(
            128 * 1024,
            GzEncoder::new(hw, Compression::new(1)),
        )))
    } else {
        Sink::Plain(BufWriter::with_capacity(128 * 1024, hw))
    };
    write_sink(&mut sink, header).map_err(|e| io_err(path, e))?;
    Ok(sink)
}

#[inline]
fn write_sink(s: &mut Sink, bytes: &[u8]) -> std::io::Result<()> {
    match s {
        Sink::Gz(w) => w.write_all(bytes),
        Sink::Plain(w) => w.write_all(bytes),
    }
}

fn close(s: Sink) -> std::io::Result<String> {
    let hw = match s {
        Sink::Gz(w) => (*w).into_inner().map_err(|e| e.into_error())?.finish()?,
        Sink::Plain(w) => w.into_inner().map_err(|e| e.into_error())?,
    };
    let HashWriter { mut file, hasher } = hw;
    file.flush()?;
    Ok(hex::encode(hasher.finalize()))
}

/// Writes the rows of one delivery produced by one shard, rolling over to a new part
/// every [`MAX_ROWS_PER_FILE`] rows. Files are opened lazily; shard 0 always leaves at
/// least one (possibly empty) file so that every delivery has a data file.
pub struct PartWriter {
    dir: PathBuf,
    shard: usize,
    gzip: bool,
    header: std::sync::Arc<Vec<u8>>,
    cur: Option<(Sink, PathBuf, u64)>,
    /// Finished parts.
    pub parts: Vec<Part>,
}

impl PartWriter {
    /// A writer into the delivery folder `dir`.
    pub fn new(
        dir: PathBuf,
        shard: usize,
        gzip: bool,
        header: std::sync::Arc<Vec<u8>>,
    ) -> PartWriter {
        PartWriter {
            dir,
            shard,
            gzip,
            header,
            cur: None,
            parts: Vec::new(),
        }
    }

    fn start(&mut self) -> Result<(), SynthError> {
        let path = self.dir.join(format!(
            ".part-{}-{:03}.tmp",
            self.shard,
            self.parts.len() + 1
        ));
        let sink = open(&path, self.gzip, &self.header)?;
        self.cur = Some((sink, path, 0));
        Ok(())
    }

    /// Writes one row (including its trailing newline).
    #[inline]
    pub fn row(&mut self, bytes: &[u8]) -> Result<(), SynthError> {
        if self.cur.as_ref().is_none_or(|c| c.2 >= MAX_ROWS_PER_FILE) {
            self.finish_part()?;
            self.start()?;
        }
        let (sink, path, rows) = self.cur.as_mut().expect("open");
        *rows += 1;
        write_sink(sink, bytes).map_err(|e| io_err(path, e))
    }

    fn finish_part(&mut self) -> Result<(), SynthError> {
        if let Some((sink, path, rows)) = self.cur.take() {
            let sha256 = close(sink).map_err(|e| io_err(&path, e))?;
            self.parts.push(Part { path, rows, sha256 });
        }
        Ok(())
    }

    /// Closes the current part; returns all parts.
    pub fn finish(mut self) -> Result<Vec<Part>, SynthError> {
        if self.cur.is_none() && self.parts.is_empty() && self.shard == 0 {
            self.start()?;
        }
        self.finish_part()?;
        Ok(self.parts)
    }
}

/// Deterministic creation time of a delivery: 09:00 UTC on the first day of the second
/// month after the quarter (a quarter ending 30 June is delivered on 1 August).
pub fn created(period: Period) -> String {
    use chrono::Datelike;
    let next = period.next().start();
    let (y, m) = if next.month() == 12 {
        (next.year() + 1, 1)
    } else {
        (next.year(), next.month() + 1)
    };
    format!("{y:04}-{m:02}-01T09:00:00Z")
}

/// File name of part `n` (1-based) of a database.
pub fn file_name(db: Database, n: usize, gzip: bool) -> String {
    format!(
        "{}-{:03}.csv{}",
        db.table_name(),
        n,
        if gzip { ".gz" } else { "" }
    )
}

/// Assembles a delivery: renames the parts in order and writes the manifest.
pub fn assemble(
    dir: &Path,
    insurer: Insurer,
    db: Database,
    period: Period,
    parts: Vec<Part>,
    gzip: bool,
) -> Result<Manifest, SynthError> {
    let mut files = Vec::with_capacity(parts.len());
    for (i, p) in parts.into_iter().enumerate() {
        let name = file_name(db, i + 1, gzip);
        let dest = dir.join(&name);
        std::fs::rename(&p.path, &dest).map_err(|e| io_err(&dest, e))?;
        files.push(ManifestFile {
            name,
            rows: p.rows,
            sha256: p.sha256,
        });
    }
    let m = Manifest {
        format_version: FORMAT_VERSION.into(),
        insurer,
        database: db,
        period,
        sequence: 1,
        created: created(period),
        files,
    };
    m.write(dir).map_err(|e| io_err(dir, e))?;
    Ok(m)
}

/// Reads a data file whole (decompressing `.gz`).
pub fn read_data(path: &Path) -> Result<String, SynthError> {
    use std::io::Read;
    let bytes = std::fs::read(path).map_err(|e| io_err(path, e))?;
    if path.extension().is_some_and(|e| e == "gz") {
        let mut s = String::new();
        flate2::read::MultiGzDecoder::new(&bytes[..])
            .read_to_string(&mut s)
            .map_err(|e| io_err(path, e))?;
        Ok(s)
    } else {
        String::from_utf8(bytes).map_err(|e| io_err(path, std::io::Error::other(e)))
    }
}

/// Writes a data file whole; returns its SHA-256.
pub fn write_data(path: &Path, text: &[u8], gzip: bool) -> Result<String, SynthError> {
    let mut sink = {
        let file = File::create(path).map_err(|e| io_err(path, e))?;
        let hw = HashWriter {
            file,
            hasher: Sha256::new(),
        };
        if gzip {
            Sink::Gz(Box::new(BufWriter::new(GzEncoder::new(
                hw,
                Compression::new(1),
            ))))
        } else {
            Sink::Plain(BufWriter::new(hw))
        }
    };
    write_sink(&mut sink, text).map_err(|e| io_err(path, e))?;
    close(sink).map_err(|e| io_err(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_is_after_the_quarter() {
        assert_eq!(created("2024Q2".parse().unwrap()), "2024-08-01T09:00:00Z");
        assert_eq!(created("2024Q4".parse().unwrap()), "2025-02-01T09:00:00Z");
        assert_eq!(created("2024Q3".parse().unwrap()), "2024-11-01T09:00:00Z");
    }
}
