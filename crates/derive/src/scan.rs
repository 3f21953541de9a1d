//! Reading a year's Parquet files in parallel, only the columns needed, and helpers to get
//! typed columns and coded identifiers out of the batches.

use crate::DeriveError;
use aim_warehouse::tables::ActiveFile;
use deltalake::arrow::array::{
    Array, ArrayRef, BooleanArray, Date32Array, Decimal128Array, Float64Array, Int16Array,
    Int32Array, StringArray,
};
use deltalake::arrow::record_batch::RecordBatch;
use deltalake::parquet::arrow::ProjectionMask;
use deltalake::parquet::arrow::arrow_reader::{ParquetRecordBatchReaderBuilder, RowSelection};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Rows per decoded batch.
const BATCH_ROWS: usize = 16 * 1024;

/// A data file to read, with the partition values its rows carry.
#[derive(Debug, Clone)]
pub struct InputFile {
    /// Absolute path.
    pub path: PathBuf,
    /// The `insurer` partition value.
    pub insurer: String,
    /// The `period` partition value.
    pub period: String,
}

impl InputFile {
    /// From a table's active file.
    pub fn from_active(table_dir: &Path, f: &ActiveFile) -> InputFile {
        let get = |k: &str| f.partition.get(k).cloned().flatten().unwrap_or_default();
        InputFile {
            path: table_dir.join(&f.path),
            insurer: get("insurer"),
            period: get("period"),
        }
    }
}

/// Number of worker threads used to read files.
pub fn workers() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(1, 8)
}

/// Reads `files` on several threads; each thread makes a state with `init` and calls `each`
/// for every batch (only `columns` decoded; all when `columns` is empty). Returns the states.
pub fn scan<S: Send>(
    files: &[InputFile],
    columns: &[&str],
    init: impl Fn() -> S + Sync,
    each: impl Fn(&mut S, &InputFile, &RecordBatch) -> Result<(), DeriveError> + Sync,
) -> Result<Vec<S>, DeriveError> {
    scan_select(
        files,
        columns,
        init,
        |state, file, batch, _| each(state, file, batch),
        |_, _| Ok(()),
    )
}

/// Like [`scan`], but `each` also says which rows to select; the selected rows are then read
/// again with every column (decoding only them) and handed to `selected`. This is how the
/// sample's rows are copied without decoding every column of every row.
pub fn scan_select<S: Send>(
    files: &[InputFile],
    columns: &[&str],
    init: impl Fn() -> S + Sync,
    each: impl Fn(&mut S, &InputFile, &RecordBatch, &mut Vec<bool>) -> Result<(), DeriveError> + Sync,
    selected: impl Fn(&InputFile, RecordBatch) -> Result<(), DeriveError> + Sync,
) -> Result<Vec<S>, DeriveError> {
    let next = AtomicUsize::new(0);
    let n = workers().min(files.len().max(1));
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n)
            .map(|_| {
                scope.spawn(|| {
                    let mut state = init();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(file) = files.get(i) else { break };
                        let mut keep: Vec<bool> = Vec::new();
                        read_file(file, columns, None, &mut |b| {
                            each(&mut state, file, b, &mut keep)
                        })?;
                        if keep.iter().any(|&k| k) {
                            let selection = RowSelection::from_filters(&[BooleanArray::from(keep)]);
                            read_file(file, &[], Some(selection), &mut |b| {
                                selected(file, b.clone())
                            })?;
                        }
                    }
                    Ok(state)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(DeriveError::Thread)))
            .collect()
    })
}

fn read_file(
    file: &InputFile,
    columns: &[&str],
    selection: Option<RowSelection>,
    each: &mut dyn FnMut(&RecordBatch) -> Result<(), DeriveError>,
) -> Result<(), DeriveError> {
    let bad = |e: String| DeriveError::Read {
        path: file.path.clone(),
        message: e,
    };
    let f = std::fs::File::open(&file.path).map_err(|e| bad(e.to_string()))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(f).map_err(|e| bad(e.to_string()))?;
    let mut builder = builder.with_batch_size(BATCH_ROWS);
    if !columns.is_empty() {
        let mask = ProjectionMask::columns(builder.parquet_schema(), columns.iter().copied());
        builder = builder.with_projection(mask);
    }
    if let Some(s) = selection {
        builder = builder.with_row_selection(s);
    }
    let reader = builder.build().map_err(|e| bad(e.to_string()))?;
    for batch in reader {
        let batch = batch.map_err(|e| bad(e.to_string()))?;
        each(&batch)?;
    }
    Ok(())
}

fn column<'a>(b: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef, DeriveError> {
    b.column_by_name(name)
        .ok_or_else(|| DeriveError::Schema(format!("column {name} is missing from a data file")))
}

macro_rules! typed {
    ($fn:ident, $ty:ty, $what:literal) => {
        /// The named column with its expected Arrow type.
        pub fn $fn<'a>(b: &'a RecordBatch, name: &str) -> Result<&'a $ty, DeriveError> {
            column(b, name)?
                .as_any()
                .downcast_ref::<$ty>()
                .ok_or_else(|| DeriveError::Schema(format!("column {name} is not {}", $what)))
        }
    };
}

typed!(strings, StringArray, "text");
typed!(dates, Date32Array, "a date");
typed!(decimals, Decimal128Array, "an amount");
typed!(int32s, Int32Array, "a 32-bit integer");
typed!(int16s, Int16Array, "a 16-bit integer");
typed!(floats, Float64Array, "a float");
typed!(booleans, BooleanArray, "a boolean");

/// Value of a coded identifier (32 lowercase hex characters); `None` when empty or malformed.
#[inline]
pub fn coded(s: &str) -> Option<u128> {
    let b = s.as_bytes();
    if b.len() != 32 {
        return None;
    }
    let mut v: u128 = 0;
    for &c in b {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => return None,
        };
        v = (v << 4) | u128::from(d);
    }
    Some(v)
}

/// The 32-character text of a coded identifier.
pub fn coded_text(v: u128) -> String {
    format!("{v:032x}")
}

/// Coded identifier at row `i` (`None` when null or malformed).
#[inline]
pub fn coded_at(a: &StringArray, i: usize) -> Option<u128> {
    if a.is_null(i) {
        None
    } else {
        coded(a.value(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coded_identifiers_round_trip_and_reject_malformed_text() {
        let s = "0123456789abcdef0123456789abcdef";
        assert_eq!(coded_text(coded(s).unwrap()), s);
        assert_eq!(
            coded_text(coded("0000000000000000000000000000000a").unwrap()),
            "0000000000000000000000000000000a"
        );
        assert!(coded("0123456789ABCDEF0123456789abcdef").is_none());
        assert!(coded("").is_none());
        assert!(coded("12345").is_none());
    }
}
