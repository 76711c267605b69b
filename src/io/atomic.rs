//! Atomic file output: write to a temporary file in the target's directory, fsync, rename.
//! A crash or `kill -9` mid-write leaves either the old file or nothing at the target path;
//! a failed command removes its temporary file (on drop, whichever step failed: a write, the
//! flush, the fsync or the rename) and leaves no partial output. A temporary left behind by a
//! killed process (`.NAME.tmp-PID-N`) is removed by the next [`AtomicFile::create`] of the same
//! target once that PID no longer runs.
//!
//! A symlink at the target is kept: the file it points to is replaced, beside itself.
//!
//! A target that is not a regular file (a device such as `/dev/null` or `/dev/full`, a pipe,
//! `/dev/stdout`, or `-` for standard output) is written straight through: it is never replaced
//! by a regular file through rename.

use crate::error::{Error, Result};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// A file being written; it appears at `target` only when [`AtomicFile::commit`] succeeds.
pub struct AtomicFile {
    /// The path as the caller gave it (for messages).
    target: PathBuf,
    /// What is replaced: `target`, or the file a symlink at `target` points to (the link stays).
    dest: PathBuf,
    /// The temporary beside the target; `None` when writing straight through (see module docs).
    tmp: Option<PathBuf>,
    writer: Option<BufWriter<File>>,
    committed: bool,
}

/// Whether `target` is written straight through rather than through a temporary and rename:
/// `-` (standard output), the stdio/fd aliases, and any existing path that is not a regular file.
pub fn is_direct(target: &Path) -> bool {
    let s = target.to_string_lossy();
    s == "-"
        || s.starts_with("/dev/std")
        || s.starts_with("/dev/fd/")
        || s.starts_with("/proc/self/fd/")
        || std::fs::metadata(target).is_ok_and(|m| !m.is_file() && !m.is_dir())
}

/// The directory a target's temporary goes in, and the target's file name.
fn dir_and_name(target: &Path) -> Result<(PathBuf, String)> {
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = target
        .file_name()
        .ok_or_else(|| Error::config(format!("{}: not a file path", target.display())))?
        .to_string_lossy()
        .into_owned();
    Ok((dir, name))
}

/// Whether process `pid` is alive, or `None` where that cannot be told (no `/proc`).
fn pid_alive(pid: u32) -> Option<bool> {
    if !Path::new("/proc/self").exists() {
        return None;
    }
    Some(Path::new(&format!("/proc/{pid}")).exists())
}

/// Removes `.NAME.tmp-PID-N` beside `target` for every PID that no longer runs (never ours).
/// Returns how many were removed. Best effort: unreadable directories are skipped.
pub fn remove_stale_temps(target: &Path) -> usize {
    let Ok((dir, name)) = dir_and_name(target) else { return 0 };
    let Ok(entries) = std::fs::read_dir(&dir) else { return 0 };
    let prefix = format!(".{name}.tmp-");
    let own = std::process::id();
    let mut removed = 0;
    for entry in entries.flatten() {
        let file = entry.file_name();
        let file = file.to_string_lossy();
        let Some(rest) = file.strip_prefix(&prefix) else { continue };
        let Some((pid, n)) = rest.split_once('-') else { continue };
        let (Ok(pid), Ok(_)) = (pid.parse::<u32>(), n.parse::<u64>()) else { continue };
        if pid != own && pid_alive(pid) == Some(false) && std::fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

impl AtomicFile {
    /// Creates `.<name>.tmp-<pid>-<n>` beside `target` (after removing stale ones), or opens a
    /// device, pipe or standard output for writing straight through. An existing directory at
    /// `target` is refused. Errors name `target`, never the temporary.
    pub fn create(target: &Path) -> Result<Self> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        if is_direct(target) {
            let file = if target.as_os_str() == "-" {
                use std::os::fd::AsFd;
                // What was printed before goes first: our writes bypass std's stdout buffer.
                let _ = std::io::stdout().flush();
                let fd = std::io::stdout().as_fd().try_clone_to_owned().map_err(|e| Error::io(target, e))?;
                File::from(fd)
            } else {
                // Append: a /dev/stdout redirected to a file keeps what was already printed.
                std::fs::OpenOptions::new().append(true).open(target).map_err(|e| Error::io(target, e))?
            };
            return Ok(AtomicFile {
                target: target.to_path_buf(),
                dest: target.to_path_buf(),
                tmp: None,
                writer: Some(BufWriter::with_capacity(1 << 16, file)),
                committed: false,
            });
        }
        if std::fs::metadata(target).is_ok_and(|m| m.is_dir()) {
            return Err(Error::config(format!("{}: is a directory, not a file", target.display())));
        }
        // A symlink to an existing file: replace that file, beside it, and keep the link.
        let is_link = std::fs::symlink_metadata(target).is_ok_and(|m| m.file_type().is_symlink());
        let dest = match is_link.then(|| std::fs::canonicalize(target)) {
            Some(Ok(real)) => real,
            _ => target.to_path_buf(),
        };
        let (dir, name) = dir_and_name(&dest)?;
        remove_stale_temps(&dest);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(".{name}.tmp-{}-{n}", std::process::id()));
        let file = File::create_new(&tmp).map_err(|e| Error::io(target, e))?;
        Ok(AtomicFile {
            target: target.to_path_buf(),
            dest,
            tmp: Some(tmp),
            writer: Some(BufWriter::with_capacity(1 << 20, file)),
            committed: false,
        })
    }

    /// The final path.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Whether this writes straight through to a device, pipe or standard output.
    pub fn is_direct(&self) -> bool {
        self.tmp.is_none()
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

    /// Flushes, fsyncs, and renames over the target; then fsyncs the directory. On any failure
    /// the temporary is removed (by drop) and the target is untouched.
    pub fn commit(mut self) -> Result<()> {
        let w = self.writer.take().expect("AtomicFile committed twice");
        let file = w.into_inner().map_err(|e| Error::io(&self.target, e.into_error()))?;
        let Some(tmp) = self.tmp.clone() else {
            // A pipe or terminal cannot be fsynced (EINVAL); the data were written by the flush.
            let _ = file.sync_all();
            self.committed = true;
            return Ok(());
        };
        file.sync_all().map_err(|e| Error::io(&self.target, e))?;
        drop(file);
        std::fs::rename(&tmp, &self.dest).map_err(|e| Error::io(&self.target, e))?;
        self.committed = true;
        if let Some(dir) = self.dest.parent() {
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
        if !self.committed {
            self.writer = None;
            if let Some(tmp) = &self.tmp {
                let _ = std::fs::remove_file(tmp);
            }
        }
    }
}

/// Writes `bytes` to `target` atomically.
pub fn write_atomic(target: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = AtomicFile::create(target)?;
    f.write_all(bytes)?;
    f.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("hepae-atomic-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        v.sort();
        v
    }

    #[test]
    fn a_failed_rename_removes_the_temporary_and_names_the_target() {
        let dir = tmpdir("rename");
        let target = dir.join("out.json");
        let mut f = AtomicFile::create(&target).unwrap();
        f.write_all(b"{}").unwrap();
        // The rename cannot replace a non-empty directory that appeared meanwhile.
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("keep"), b"x").unwrap();
        let err = f.commit().unwrap_err().to_string();
        assert!(err.contains("out.json") && !err.contains(".tmp-"), "{err}");
        assert_eq!(names(&dir), vec!["out.json".to_string()], "the temporary survived");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_dropped_file_leaves_nothing_and_the_old_target_stays() {
        let dir = tmpdir("drop");
        let target = dir.join("m.bin");
        std::fs::write(&target, b"old").unwrap();
        let mut f = AtomicFile::create(&target).unwrap();
        f.write_all(b"new, never committed").unwrap();
        drop(f);
        assert_eq!(names(&dir), vec!["m.bin".to_string()]);
        assert_eq!(std::fs::read(&target).unwrap(), b"old");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_full_device_is_written_through_and_fails_without_a_temporary() {
        if !Path::new("/dev/full").exists() {
            return;
        }
        let mut f = AtomicFile::create(Path::new("/dev/full")).unwrap();
        assert!(f.is_direct());
        f.write_all(&[0u8; 4096]).unwrap_or(());
        let err = f.commit().map(|_| ()).unwrap_err().to_string();
        assert!(err.starts_with("/dev/full:"), "{err}");
        assert!(!names(Path::new("/dev")).iter().any(|n| n.starts_with(".full.tmp-")));
    }

    #[test]
    fn a_symlinked_target_replaces_the_file_it_points_to_and_keeps_the_link() {
        let dir = tmpdir("link");
        std::fs::create_dir(dir.join("real")).unwrap();
        let real = dir.join("real/out.json");
        std::fs::write(&real, b"old").unwrap();
        let link = dir.join("out.json");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_atomic(&link, b"new").unwrap();
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link was replaced");
        assert_eq!(std::fs::read(&real).unwrap(), b"new");
        assert_eq!(names(&dir.join("real")), vec!["out.json".to_string()]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_existing_directory_is_refused() {
        let dir = tmpdir("isdir");
        let err = AtomicFile::create(&dir).map(|_| ()).unwrap_err().to_string();
        assert!(err.contains("is a directory"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A PID with no process: counts down from the top of the usual pid range.
    fn dead_pid() -> u32 {
        (1_000_000..4_000_000u32).rev().find(|p| !Path::new(&format!("/proc/{p}")).exists()).unwrap()
    }

    #[test]
    fn stale_temporaries_of_dead_processes_are_removed_and_live_ones_kept() {
        if !Path::new("/proc/self").exists() {
            return;
        }
        let dir = tmpdir("stale");
        let target = dir.join("jets.npy");
        let dead = format!(".jets.npy.tmp-{}-0", dead_pid());
        let live = format!(".jets.npy.tmp-{}-0", std::os::unix::process::parent_id());
        let other = format!(".other.npy.tmp-{}-0", dead_pid());
        for n in [&dead, &live, &other] {
            std::fs::write(dir.join(n), b"partial").unwrap();
        }
        write_atomic(&target, b"data").unwrap();
        let mut want = vec![live.clone(), other.clone(), "jets.npy".to_string()];
        want.sort();
        assert_eq!(names(&dir), want, "only the dead process's temporary of this target goes");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
