//! Atomic file output: write to a temporary file in the target's directory, fsync, rename.
//! A crash or `kill -9` mid-write leaves either the old file or nothing at the target path;
//! a failed command removes its temporary file (on drop) and leaves no partial output.

use crate::error::{Error, Result};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// A file being written; it appears at `target` only when [`AtomicFile::commit`] succeeds.
pub struct AtomicFile {
    target: PathBuf,
    tmp: PathBuf,
    writer: Option<BufWriter<File>>,
}

impl AtomicFile {
    /// Creates `.<name>.tmp-<pid>-<n>` beside `target`.
    pub fn create(target: &Path) -> Result<Self> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = target.file_name().ok_or_else(|| Error::config(format!("{}: not a file path", target.display())))?;
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(".{}.tmp-{}-{}", name.to_string_lossy(), std::process::id(), n));
        let file = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        Ok(AtomicFile { target: target.to_path_buf(), tmp, writer: Some(BufWriter::with_capacity(1 << 20, file)) })
    }

    /// The final path.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// The buffered writer over the temporary file.
    pub fn writer(&mut self) -> &mut BufWriter<File> {
        self.writer.as_mut().expect("AtomicFile used after commit")
    }

    /// Writes all of `bytes`, naming the target path on failure.
    pub fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        let target = self.target.clone();
        self.writer().write_all(bytes).map_err(|e| Error::io(&target, e))
    }

    /// Flushes, fsyncs, and renames over the target; then fsyncs the directory.
    pub fn commit(mut self) -> Result<()> {
        let w = self.writer.take().expect("AtomicFile committed twice");
        let file = w.into_inner().map_err(|e| Error::io(&self.target, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io(&self.target, e))?;
        drop(file);
        std::fs::rename(&self.tmp, &self.target).map_err(|e| Error::io(&self.target, e))?;
        if let Some(dir) = self.target.parent() {
            let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.writer.is_some() {
            self.writer = None;
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Writes `bytes` to `target` atomically.
pub fn write_atomic(target: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = AtomicFile::create(target)?;
    f.write_all(bytes)?;
    f.commit()
}
