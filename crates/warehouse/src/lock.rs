//! The writer's lock: one process at a time writes to a warehouse.

use crate::{Result, Warehouse, WarehouseError, io};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};

/// Held while a process writes to the warehouse; released when dropped (or when the
/// process dies: the operating system releases the lock with the file).
#[derive(Debug)]
pub struct WarehouseLock {
    _file: File,
}

impl WarehouseLock {
    /// Takes the lock, or says who holds it.
    pub fn acquire(wh: &Warehouse, what: &str) -> Result<WarehouseLock> {
        let path = wh.root().join(".aim.lock");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io(format!("cannot open the lock file {}", path.display())))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                return Err(WarehouseError::Locked(format!(
                    "the warehouse {} is busy: another process is writing to it ({}). Wait for it to finish and run again.",
                    wh.root().display(),
                    holder.trim()
                )));
            }
            Err(TryLockError::Error(e)) => return Err(io("cannot lock the warehouse")(e)),
        }
        let _ = file.set_len(0);
        let _ = file.rewind();
        let _ = write!(
            file,
            "{what}, pid {}, since {}",
            std::process::id(),
            chrono::Utc::now().to_rfc3339()
        );
        let _ = file.flush();
        Ok(WarehouseLock { _file: file })
    }
}
