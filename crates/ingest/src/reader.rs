//! A reader thread per data file: it decompresses, hashes and splits the file into CSV
//! records, and hands them over in chunks, so that the checker works on one core while
//! reading and decompressing run on another.

use sha2::{Digest, Sha256};
use std::io::Read;
use std::sync::mpsc::{Receiver, Sender, SyncSender, TryRecvError, channel, sync_channel};

/// Records per chunk.
const CHUNK: usize = 2048;
/// Chunks in flight between the reader and the checker.
const IN_FLIGHT: usize = 8;

/// What the reader thread says.
pub(crate) enum ReadMsg {
    /// The header record.
    Header(csv::ByteRecord),
    /// Data records, in file order.
    Rows(Vec<csv::ByteRecord>),
    /// Reading failed after this many data lines (the header is line 1).
    Failed { after_line: u64, message: String },
    /// End of file; SHA-256 of every byte of the file as stored.
    Done { sha256: String },
}

/// The checker's side: messages in, emptied chunks back for reuse.
pub(crate) struct FileReader {
    pub(crate) messages: Receiver<ReadMsg>,
    pub(crate) recycle: Sender<Vec<csv::ByteRecord>>,
}

/// Starts reading `file` (gzip-compressed when `gzip`) on its own thread. The thread ends
/// at the end of the file, on an error, or when the `FileReader` is dropped.
pub(crate) fn spawn(file: std::fs::File, gzip: bool) -> FileReader {
    let (tx, messages) = sync_channel(IN_FLIGHT);
    let (recycle, recycled) = channel();
    std::thread::Builder::new()
        .name("aim-ingest-reader".into())
        .spawn(move || {
            let hashing = HashingReader {
                inner: file,
                hasher: Sha256::new(),
            };
            if gzip {
                let mut d = flate2::read::MultiGzDecoder::new(hashing);
                if read_csv(&mut d, &tx, &recycled) {
                    finish(d.into_inner(), &tx);
                }
            } else {
                let mut r = hashing;
                if read_csv(&mut r, &tx, &recycled) {
                    finish(r, &tx);
                }
            }
        })
        .expect("the operating system starts a thread");
    FileReader { messages, recycle }
}

/// Reads every record; false when reading stopped (error, or the checker hung up).
fn read_csv<R: Read>(
    reader: &mut R,
    tx: &SyncSender<ReadMsg>,
    recycled: &Receiver<Vec<csv::ByteRecord>>,
) -> bool {
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(aim_model::delivery::SEPARATOR)
        .has_headers(true)
        .flexible(true)
        .buffer_capacity(1 << 20)
        .from_reader(reader);
    match rdr.byte_headers() {
        Ok(h) => {
            if tx.send(ReadMsg::Header(h.clone())).is_err() {
                return false;
            }
        }
        Err(e) => {
            let _ = tx.send(ReadMsg::Failed {
                after_line: 0,
                message: describe_csv_error(&e),
            });
            return false;
        }
    }
    let mut lines: u64 = 1;
    loop {
        let mut chunk = match recycled.try_recv() {
            Ok(c) => c,
            Err(TryRecvError::Empty | TryRecvError::Disconnected) => Vec::with_capacity(CHUNK),
        };
        chunk.resize_with(CHUNK, csv::ByteRecord::new);
        let mut n = 0;
        let mut failure = None;
        while n < CHUNK {
            match rdr.read_byte_record(&mut chunk[n]) {
                Ok(true) => n += 1,
                Ok(false) => break,
                Err(e) => {
                    failure = Some(describe_csv_error(&e));
                    break;
                }
            }
        }
        let full = n == CHUNK;
        chunk.truncate(n);
        lines += n as u64;
        if n > 0 && tx.send(ReadMsg::Rows(chunk)).is_err() {
            return false;
        }
        if let Some(message) = failure {
            let _ = tx.send(ReadMsg::Failed {
                after_line: lines,
                message,
            });
            return false;
        }
        if !full {
            return true;
        }
    }
}

fn finish<R: Read>(hashing: HashingReader<R>, tx: &SyncSender<ReadMsg>) {
    let _ = tx.send(ReadMsg::Done {
        sha256: hashing.finish(),
    });
}

fn describe_csv_error(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Io(io) => {
            format!("{io} (a gzip file that is truncated or corrupt reads this way)")
        }
        _ => e.to_string(),
    }
}

/// Hashes the bytes read through it.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

impl<R: Read> HashingReader<R> {
    /// Reads what is left (bytes after the CSV's end, gzip trailers) and returns the digest.
    fn finish(mut self) -> String {
        let mut rest = Vec::new();
        let _ = self.read_to_end(&mut rest);
        hex::encode(self.hasher.finalize())
    }
}
