//! NPY files: the memory-mapped, zero-copy [`Dataset`] the trainer reads (2-D little-endian
//! `<f4`, C order) and the streaming atomic [`NpyWriter`]. [`NpyRowReader`] / [`read_npy_any`],
//! which convert any numeric NPY to f32 rows for `hepae import`, live in
//! [`crate::data::import::npy`].
//!
//! Column names live beside the data in `NAME.columns` (one name per line); see [`columns_path`].
//! [`Dataset::open`] refuses, each with a one-line [`Error`] naming the file: a missing or empty
//! file, bad magic, an unknown format version, a truncated header, a dtype other than `<f4` ("dtype
//! <f8 is not float32; convert with `hepae import`"), `fortran_order: True`, a shape that is not
//! 2-D, a data offset that is not 4-byte aligned, data shorter than the shape needs (naming the
//! first incomplete row) or longer (both byte counts named; [`NpyRowReader`] refuses the same,
//! see [`check_data_size`]), and a `.columns` file whose count differs from the shape.
//!
//! Big-endian hosts are not supported (the data are read and written as native little-endian).

use crate::error::{Error, Location, Result};
use crate::io::atomic::AtomicFile;
use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::path::{Path, PathBuf};

#[cfg(not(target_endian = "little"))]
compile_error!("hepae's NPY reader and writer assume a little-endian host");

// The any-dtype reader's paths before `data::import::npy`.
pub use crate::data::import::npy::{read_npy_any, NpyRowReader};

const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// Data offsets written by [`NpyWriter`] are multiples of this (numpy itself uses 64).
const ALIGN: usize = 64;

/// `x/foo.npy` → `x/foo.columns`.
pub fn columns_path(npy: &Path) -> PathBuf {
    npy.with_extension("columns")
}

pub(crate) fn data_err(path: &Path, msg: impl Into<String>) -> Error {
    Error::data(Location::file(path), msg)
}

// ---------------------------------------------------------------------------------------------
// Header parsing
// ---------------------------------------------------------------------------------------------

/// The parsed NPY header.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyHeader {
    /// The dtype string, e.g. `<f4`.
    pub descr: String,
    pub fortran_order: bool,
    pub shape: Vec<usize>,
    /// Byte offset of the first data element.
    pub data_offset: usize,
}

/// Parses the header from the first bytes of a file (`bytes` may be longer than the header).
pub fn parse_header(path: &Path, bytes: &[u8]) -> Result<NpyHeader> {
    if bytes.is_empty() {
        return Err(data_err(path, "file is empty, not an NPY file"));
    }
    let n = bytes.len().min(6);
    if bytes[..n] != MAGIC[..n] {
        return Err(data_err(path, "bad magic: not an NPY file (expected \\x93NUMPY)"));
    }
    if bytes.len() < 10 {
        return Err(data_err(path, "truncated NPY header"));
    }
    let major = bytes[6];
    let (len, start) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10usize),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err(data_err(path, "truncated NPY header"));
            }
            (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12usize)
        }
        v => return Err(data_err(path, format!("unsupported NPY format version {v}.{}", bytes[7]))),
    };
    let end = start
        .checked_add(len)
        .filter(|&e| e <= bytes.len())
        .ok_or_else(|| data_err(path, format!("truncated NPY header (declares {len} bytes)")))?;
    let text = std::str::from_utf8(&bytes[start..end]).map_err(|_| data_err(path, "NPY header is not valid text"))?;
    let descr = dict_value(text, "descr")
        .and_then(parse_py_str)
        .ok_or_else(|| data_err(path, "NPY header has no readable 'descr'"))?;
    let fortran_order = match dict_value(text, "fortran_order").map(|v| v.split([',', '}']).next().unwrap_or("").trim())
    {
        Some("False") => false,
        Some("True") => true,
        _ => return Err(data_err(path, "NPY header has no readable 'fortran_order'")),
    };
    let shape = dict_value(text, "shape")
        .and_then(parse_py_tuple)
        .ok_or_else(|| data_err(path, "NPY header has no readable 'shape'"))?;
    Ok(NpyHeader { descr, fortran_order, shape, data_offset: end })
}

/// The text after `'key':` in a Python dict literal.
fn dict_value<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    for q in ['\'', '"'] {
        let pat = format!("{q}{key}{q}");
        if let Some(i) = text.find(&pat) {
            let rest = text[i + pat.len()..].trim_start();
            return rest.strip_prefix(':').map(str::trim_start);
        }
    }
    None
}

fn parse_py_str(v: &str) -> Option<String> {
    let q = v.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let rest = &v[1..];
    let end = rest.find(q)?;
    Some(rest[..end].to_string())
}

fn parse_py_tuple(v: &str) -> Option<Vec<usize>> {
    let rest = v.strip_prefix('(')?;
    let end = rest.find(')')?;
    let mut out = Vec::new();
    for part in rest[..end].split(',') {
        let p = part.trim();
        if p.is_empty() {
            continue;
        }
        let p = p.trim_end_matches('L');
        out.push(p.parse::<usize>().ok()?);
    }
    Some(out)
}

/// Builds the header bytes (magic … newline) for a 2-D `<f4` array, padded to `total` bytes.
fn build_header(rows: u64, cols: usize, total: usize) -> Vec<u8> {
    let dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    let mut h = Vec::with_capacity(total);
    h.extend_from_slice(MAGIC);
    h.extend_from_slice(&[1, 0]);
    let hlen = total - 10;
    h.extend_from_slice(&(hlen as u16).to_le_bytes());
    h.extend_from_slice(dict.as_bytes());
    while h.len() < total - 1 {
        h.push(b' ');
    }
    h.push(b'\n');
    h
}

/// Header size that fits any row count with `cols` columns, rounded up to [`ALIGN`].
fn header_total(cols: usize) -> usize {
    let widest = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({}, {cols}), }}", u64::MAX);
    (10 + widest.len() + 1).div_ceil(ALIGN) * ALIGN
}

/// Refuses data whose size disagrees with the header's shape (`have` bytes after the header):
/// fewer bytes (truncated; names the first incomplete row) or more (trailing bytes), each with
/// both numbers. Every reader ([`Dataset::open`], [`NpyRowReader::open`]) goes through here.
pub fn check_data_size(path: &Path, descr: &str, rows: usize, cols: usize, item: usize, have: usize) -> Result<()> {
    let need = rows
        .checked_mul(cols)
        .and_then(|n| n.checked_mul(item))
        .ok_or_else(|| data_err(path, format!("shape ({rows}, {cols}) is too large")))?;
    let row_bytes = (cols * item).max(1);
    let shape = format!("header declares shape ({rows}, {cols}) of {descr}, {need} data bytes");
    if have < need {
        let full = have / row_bytes;
        return Err(Error::data(
            Location::file(path).row(full as u64 + 1),
            format!("truncated: {shape}, but the file holds {have} ({full} whole rows)"),
        ));
    }
    if have > need {
        return Err(data_err(
            path,
            format!("{shape}, but the file holds {have}: {} unexpected bytes after the data", have - need),
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Column names
// ---------------------------------------------------------------------------------------------

/// Reads `NAME.columns` beside `npy` if it exists (count must equal `cols`), else `c0`, `c1`, ….
pub fn read_column_names(npy: &Path, cols: usize) -> Result<Vec<String>> {
    let cpath = columns_path(npy);
    match std::fs::read(&cpath) {
        Ok(bytes) => {
            let text = String::from_utf8(bytes).map_err(|_| data_err(&cpath, "column names are not valid UTF-8"))?;
            let mut names: Vec<String> = text.lines().map(|l| l.trim_end_matches('\r').trim().to_string()).collect();
            while names.last().is_some_and(|n| n.is_empty()) {
                names.pop();
            }
            if names.len() != cols {
                return Err(data_err(
                    &cpath,
                    format!("has {} column names but {} has {} columns", names.len(), npy.display(), cols),
                ));
            }
            for (i, n) in names.iter().enumerate() {
                if n.is_empty() {
                    return Err(Error::data(Location::file(&cpath).line(i as u64 + 1), "empty column name"));
                }
                if let Some(j) = names[..i].iter().position(|m| m == n) {
                    return Err(Error::data(
                        Location::file(&cpath).line(i as u64 + 1).column(n.clone()),
                        format!("duplicate column name (also on line {})", j + 1),
                    ));
                }
            }
            Ok(names)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok((0..cols).map(|i| format!("c{i}")).collect()),
        Err(e) => Err(Error::io(&cpath, e)),
    }
}

// ---------------------------------------------------------------------------------------------
// Dataset
// ---------------------------------------------------------------------------------------------

/// Rows scanned between two calls of [`Dataset::release_rows`] in full scans.
pub const RELEASE_BLOCK_ROWS: usize = 1 << 16;

/// A 2-D little-endian f32 C-order NPY file (v1/v2/v3 header), memory-mapped, zero copy.
pub struct Dataset {
    path: PathBuf,
    mmap: memmap2::Mmap,
    rows: usize,
    cols: usize,
    offset: usize,
    columns: Vec<String>,
    /// The file's row that is this dataset's row 0 (0 unless it is a [`Dataset::shard`]).
    first_row: usize,
}

impl std::fmt::Debug for Dataset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dataset")
            .field("path", &self.path)
            .field("rows", &self.rows)
            .field("cols", &self.cols)
            .field("columns", &self.columns)
            .finish()
    }
}

impl Dataset {
    /// Opens and validates `path`; see the module docs for what is refused.
    ///
    /// ```
    /// use hepae::Dataset;
    /// // 188 real CMS NanoAOD Drell-Yan jets; names from dy_nano_v6.columns beside it.
    /// let data = Dataset::open("tests/data/dy_nano_v6.npy".as_ref())?;
    /// assert_eq!((data.rows(), data.cols()), (188, 37));
    /// assert_eq!(data.columns()[0], "pt");
    /// let first_jet: &[f32] = data.row(0);
    /// # let _ = first_jet;
    /// # Ok::<(), hepae::Error>(())
    /// ```
    pub fn open(path: &Path) -> Result<Dataset> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        if len == 0 {
            return Err(data_err(path, "file is empty, not an NPY file"));
        }
        // SAFETY: the map is read-only; hepae never writes a file it has open as a Dataset (outputs
        // are written to a temporary and renamed over), so the mapped bytes do not change under us
        // unless another process truncates the file, which the documentation warns against.
        let mmap = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
        let h = parse_header(path, &mmap)?;
        if h.descr != "<f4" {
            return Err(data_err(path, format!("dtype {} is not float32; convert with `hepae import`", h.descr)));
        }
        if h.fortran_order {
            return Err(data_err(path, "fortran_order True is not supported; convert with `hepae import`"));
        }
        if h.shape.len() != 2 {
            return Err(data_err(
                path,
                format!("array is {}-D with shape {:?}; a dataset must be 2-D (rows, columns)", h.shape.len(), h.shape),
            ));
        }
        let (rows, cols) = (h.shape[0], h.shape[1]);
        if h.data_offset % 4 != 0 {
            return Err(data_err(path, format!("data offset {} is not 4-byte aligned", h.data_offset)));
        }
        check_data_size(path, &h.descr, rows, cols, 4, mmap.len().saturating_sub(h.data_offset))?;
        if bytemuck::try_cast_slice::<u8, f32>(&mmap[h.data_offset..]).is_err() {
            return Err(data_err(path, "data are not 4-byte aligned in memory"));
        }
        let columns = read_column_names(path, cols)?;
        Ok(Dataset { path: path.to_path_buf(), mmap, rows, cols, offset: h.data_offset, columns, first_row: 0 })
    }

    /// Shard `i` of `n` (0-based): the file's rows `[i·⌈N/n⌉, min((i+1)·⌈N/n⌉, N))` only, a view
    /// of the same map (a batch job's `--shard i/n` of one large file). Errors name the
    /// file's rows ([`Dataset::first_row`]).
    pub fn shard(mut self, i: usize, n: usize) -> Result<Dataset> {
        if n == 0 || i >= n {
            return Err(Error::config(format!("--shard {i}/{n}: needs 0 ≤ i < n")));
        }
        let per = self.rows.div_ceil(n);
        let start = (i * per).min(self.rows);
        let end = ((i + 1) * per).min(self.rows);
        self.offset += start * self.cols * 4;
        self.first_row += start;
        self.rows = end - start;
        Ok(self)
    }

    /// The file's row (0-based) that is row 0 here: 0, or a shard's first row.
    pub fn first_row(&self) -> usize {
        self.first_row
    }

    pub fn rows(&self) -> usize {
        self.rows
    }
    pub fn cols(&self) -> usize {
        self.cols
    }
    pub fn columns(&self) -> &[String] {
        &self.columns
    }
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// All `rows × cols` values, row-major, straight from the map.
    pub fn as_slice(&self) -> &[f32] {
        // Alignment and length were checked in `open`.
        bytemuck::cast_slice(&self.mmap[self.offset..self.offset + self.rows * self.cols * 4])
    }

    /// Row `i` (0-based). Panics if `i >= rows` (a programming error, not bad input).
    pub fn row(&self, i: usize) -> &[f32] {
        &self.as_slice()[i * self.cols..(i + 1) * self.cols]
    }

    /// `out` = the rows `indices` concatenated; `out.len()` must be `indices.len() * cols`.
    /// Panics on an out-of-range index or a wrong `out` length (programming errors).
    pub fn gather(&self, indices: &[u32], out: &mut [f32]) {
        let c = self.cols;
        assert_eq!(out.len(), indices.len() * c, "gather: out has the wrong length");
        let all = self.as_slice();
        for (dst, &i) in out.chunks_exact_mut(c.max(1)).zip(indices) {
            let i = i as usize;
            dst.copy_from_slice(&all[i * c..(i + 1) * c]);
        }
    }

    /// The first NaN/Inf as an error naming the path, the 1-based row and the column name.
    /// Scans in blocks and releases each scanned block's pages (see [`Dataset::release_rows`]).
    pub fn check_finite(&self) -> Result<()> {
        if self.cols == 0 {
            return Ok(());
        }
        let all = self.as_slice();
        for start in (0..self.rows).step_by(RELEASE_BLOCK_ROWS) {
            let end = (start + RELEASE_BLOCK_ROWS).min(self.rows);
            let block = &all[start * self.cols..end * self.cols];
            if let Some(k) = block.iter().position(|v| !v.is_finite()) {
                let (r, c) = (start + k / self.cols, k % self.cols);
                return Err(Error::data(
                    Location::file(&self.path).row((self.first_row + r) as u64 + 1).column(self.columns[c].clone()),
                    format!("value {} is not finite", block[k]),
                ));
            }
            self.release_rows(start, end);
        }
        Ok(())
    }

    /// Tells the kernel this process is done with rows `[start, end)` for now: their pages
    /// leave the process's resident set (they stay in the OS page cache, and a later read
    /// maps them back with the same contents). Scans and windowed shuffles call this so that
    /// a dataset larger than memory is processed with bounded RSS. Advisory only.
    pub fn release_rows(&self, start: usize, end: usize) {
        let end = end.min(self.rows);
        if start >= end {
            return;
        }
        let page = 4096usize;
        let lo = (self.offset + start * self.cols * 4).div_ceil(page) * page;
        let hi = ((self.offset + end * self.cols * 4) / page) * page;
        if hi > lo {
            // SAFETY: the map is a read-only, file-backed mapping; MADV_DONTNEED on it only
            // drops this process's page-table entries, and the next access faults the same
            // file contents back in. No Rust reference observes different bytes afterwards.
            let _ = unsafe { self.mmap.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, lo, hi - lo) };
        }
    }

    /// Index of column `name`; the error lists the available names.
    pub fn column_index(&self, name: &str) -> Result<usize> {
        self.columns
            .iter()
            .position(|c| c == name)
            .ok_or_else(|| data_err(&self.path, format!("no column '{name}'; available: {}", self.columns.join(", "))))
    }
}

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

/// Streaming NPY writer over [`AtomicFile`]: the header is written with room for any row count
/// and fixed at [`NpyWriter::finish`] (seek back), so rows can be streamed without knowing their
/// number; the data offset is a multiple of 64. `NAME.columns` is written too. Nothing appears at
/// the target unless `finish` succeeds.
pub struct NpyWriter {
    file: AtomicFile,
    columns: Vec<String>,
    rows: u64,
    header_len: usize,
}

impl NpyWriter {
    pub fn create(path: &Path, columns: &[String]) -> Result<Self> {
        if columns.is_empty() {
            return Err(Error::config(format!("{}: cannot write an NPY file with no columns", path.display())));
        }
        for (i, c) in columns.iter().enumerate() {
            if c.is_empty() || c.contains(['\n', '\r']) {
                return Err(Error::config(format!(
                    "{}: column {} has an empty name or a line break in its name",
                    path.display(),
                    i + 1
                )));
            }
            if columns[..i].contains(c) {
                return Err(Error::config(format!("{}: duplicate column name '{c}'", path.display())));
            }
        }
        let header_len = header_total(columns.len());
        let mut file = AtomicFile::create(path)?;
        if file.is_direct() && !is_char_device(path) {
            return Err(Error::config(format!(
                "{}: an NPY output must be a regular file (its header is completed at the end), not a pipe or stdout",
                path.display()
            )));
        }
        file.write_all(&build_header(0, columns.len(), header_len))?;
        Ok(NpyWriter { file, columns: columns.to_vec(), rows: 0, header_len })
    }

    /// Appends whole rows (`rows.len()` must be a multiple of the column count).
    pub fn write_rows(&mut self, rows: &[f32]) -> Result<()> {
        let c = self.columns.len();
        if !rows.len().is_multiple_of(c) {
            return Err(Error::config(format!(
                "{}: {} values are not a whole number of {c}-column rows",
                self.file.target().display(),
                rows.len()
            )));
        }
        self.file.write_all(bytemuck::cast_slice(rows))?;
        self.rows += (rows.len() / c) as u64;
        Ok(())
    }

    pub fn rows_written(&self) -> u64 {
        self.rows
    }

    /// Fixes the header's shape, then commits the data and `NAME.columns`.
    pub fn finish(mut self) -> Result<()> {
        let target = self.file.target().to_path_buf();
        if self.file.is_direct() {
            // A character device such as /dev/null: no header to fix, no `.columns` beside it.
            return self.file.commit();
        }
        let header = build_header(self.rows, self.columns.len(), self.header_len);
        {
            use std::io::Write;
            let w = self.file.writer();
            w.seek(SeekFrom::Start(0)).map_err(|e| Error::io(&target, e))?;
            w.write_all(&header).map_err(|e| Error::io(&target, e))?;
            w.seek(SeekFrom::End(0)).map_err(|e| Error::io(&target, e))?;
        }
        let cpath = columns_path(&target);
        let mut cols = AtomicFile::create(&cpath)?;
        let mut text = self.columns.join("\n");
        text.push('\n');
        cols.write_all(text.as_bytes())?;
        cols.commit()?;
        if let Err(e) = self.file.commit() {
            let _ = std::fs::remove_file(&cpath);
            return Err(e);
        }
        Ok(())
    }
}

fn is_char_device(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata(path).is_ok_and(|m| m.file_type().is_char_device())
}

/// Writes `data` (row-major, `cols` columns) to `path` plus `NAME.columns` (names `c0`, `c1`, …
/// when `columns` is `None`), atomically.
pub fn write_npy(path: &Path, cols: usize, data: &[f32], columns: Option<&[String]>) -> Result<()> {
    let names: Vec<String> = match columns {
        Some(c) => {
            if c.len() != cols {
                return Err(Error::config(format!("{}: {} column names for {cols} columns", path.display(), c.len())));
            }
            c.to_vec()
        }
        None => (0..cols).map(|i| format!("c{i}")).collect(),
    };
    let mut w = NpyWriter::create(path, &names)?;
    w.write_rows(data)?;
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip() {
        for (rows, cols) in [(0u64, 1usize), (1636, 69), (u64::MAX, 100_000)] {
            let total = header_total(cols);
            assert_eq!(total % ALIGN, 0);
            let h = build_header(rows, cols, total);
            assert_eq!(h.len(), total);
            let p = parse_header(Path::new("x.npy"), &h).unwrap();
            assert_eq!(p.descr, "<f4");
            assert!(!p.fortran_order);
            assert_eq!(p.shape, vec![rows as usize, cols]);
            assert_eq!(p.data_offset, total);
        }
    }

    #[test]
    fn python_literals() {
        assert_eq!(parse_py_tuple("(3,), }"), Some(vec![3]));
        assert_eq!(parse_py_tuple("(), }"), Some(vec![]));
        assert_eq!(parse_py_tuple("(2L, 5L)}"), Some(vec![2, 5]));
        assert_eq!(parse_py_tuple("(2, x)"), None);
        assert_eq!(parse_py_str("\"<f8\", "), Some("<f8".to_string()));
        assert_eq!(columns_path(Path::new("x/foo.npy")), PathBuf::from("x/foo.columns"));
    }
}
