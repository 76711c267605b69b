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

use crate::engine::tensor::Shape;
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

/// The dimensions after the row count of an array of `shape` rows: (F) or (C, H, W).
fn row_dims(shape: Shape) -> Vec<usize> {
    match shape {
        Shape::Features(f) => vec![f],
        Shape::Image { c, h, w } => vec![c, h, w],
    }
}

/// The header's shape dict entry for `rows` rows of dims `tail`: `(rows, a, b, )`.
fn shape_text(rows: u64, tail: &[usize]) -> String {
    let dims: String = tail.iter().map(|d| format!(", {d}")).collect();
    format!("({rows}{dims})")
}

/// Builds the header bytes (magic … newline) for a `<f4` array of `rows` rows of dims `tail`,
/// padded to `total` bytes.
fn build_header(rows: u64, tail: &[usize], total: usize) -> Vec<u8> {
    let dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {}, }}", shape_text(rows, tail));
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

/// Header size that fits any row count with rows of dims `tail`, rounded up to [`ALIGN`].
fn header_total(tail: &[usize]) -> usize {
    let widest = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {}, }}", shape_text(u64::MAX, tail));
    (10 + widest.len() + 1).div_ceil(ALIGN) * ALIGN
}

/// Refuses data whose size disagrees with the header's shape (`have` bytes after the header):
/// fewer bytes (truncated; names the first incomplete row) or more (trailing bytes), each with
/// both numbers. Every reader ([`Dataset::open`], [`NpyRowReader::open`]) goes through here.
pub fn check_data_size(path: &Path, descr: &str, rows: usize, cols: usize, item: usize, have: usize) -> Result<()> {
    check_data_size_dims(path, descr, &[rows, cols], item, have)
}

/// [`check_data_size`] for an array of any dimensions (`dims[0]` rows), named as in its header.
pub fn check_data_size_dims(path: &Path, descr: &str, dims: &[usize], item: usize, have: usize) -> Result<()> {
    let rows = dims.first().copied().unwrap_or(0);
    let dims_text = format!("({})", dims.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", "));
    let cols = dims[1..]
        .iter()
        .try_fold(1usize, |a, &b| a.checked_mul(b))
        .ok_or_else(|| data_err(path, format!("shape {dims_text} is too large")))?;
    let need = rows
        .checked_mul(cols)
        .and_then(|n| n.checked_mul(item))
        .ok_or_else(|| data_err(path, format!("shape {dims_text} is too large")))?;
    let row_bytes = (cols * item).max(1);
    let shape = format!("header declares shape {dims_text} of {descr}, {need} data bytes");
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

/// A little-endian f32 C-order NPY file (v1/v2/v3 header), memory-mapped, zero copy: 2-D
/// (N, F) tables with [`Shape::Features`] rows, or 3-D (N, H, W) and 4-D (N, C, H, W) jet images
/// with [`Shape::Image`] rows (C = 1 for 3-D). An image row is its C·H·W values in C order;
/// [`Dataset::cols`] is that count and the column names are the pixels' ([`pixel_name`]) unless
/// a `NAME.columns` file of that length sits beside it.
pub struct Dataset {
    path: PathBuf,
    mmap: memmap2::Mmap,
    rows: usize,
    cols: usize,
    shape: Shape,
    offset: usize,
    columns: Vec<String>,
}

/// The name of pixel (channel `c`, row `y`, column `x`) of an image row: `pix_c0_y12_x3`. Row 0
/// is the top of the image.
pub fn pixel_name(c: usize, y: usize, x: usize) -> String {
    format!("pix_c{c}_y{y}_x{x}")
}

/// The names of every pixel of an image row, in C order.
pub fn pixel_names(shape: Shape) -> Vec<String> {
    match shape {
        Shape::Features(f) => (0..f).map(|i| format!("c{i}")).collect(),
        Shape::Image { c, h, w } => {
            let mut v = Vec::with_capacity(c * h * w);
            for ci in 0..c {
                for y in 0..h {
                    for x in 0..w {
                        v.push(pixel_name(ci, y, x));
                    }
                }
            }
            v
        }
    }
}

/// The image shape that a list of column names describes, if they are exactly the names
/// [`pixel_names`] gives for some (C, H, W): how a model trained on images knows its input's shape.
pub fn shape_of_columns(columns: &[String]) -> Option<Shape> {
    let last = columns.last()?;
    let rest = last.strip_prefix("pix_c")?;
    let (c, rest) = rest.split_once("_y")?;
    let (y, x) = rest.split_once("_x")?;
    let (c, y, x): (usize, usize, usize) = (c.parse().ok()?, y.parse().ok()?, x.parse().ok()?);
    let shape = Shape::Image { c: c + 1, h: y + 1, w: x + 1 };
    if shape.len() != columns.len() || columns.first().map(String::as_str) != Some("pix_c0_y0_x0") {
        return None;
    }
    (pixel_names(shape) == columns).then_some(shape)
}

/// A row shape in words: `24 columns`, `1×40×40 images`.
pub fn describe_shape(shape: Shape) -> String {
    match shape {
        Shape::Features(f) => format!("{f} columns"),
        Shape::Image { c, h, w } => format!("{c}×{h}×{w} images"),
    }
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
        let (rows, shape) = match h.shape[..] {
            [n, f] => (n, Shape::Features(f)),
            [n, h, w] => (n, Shape::Image { c: 1, h, w }),
            [n, c, h, w] => (n, Shape::Image { c, h, w }),
            _ => {
                return Err(data_err(
                    path,
                    format!(
                        "array is {}-D with shape {:?}; a dataset must be 2-D (rows, columns), 3-D (rows, H, W) or 4-D (rows, C, H, W)",
                        h.shape.len(),
                        h.shape
                    ),
                ))
            }
        };
        if h.data_offset % 4 != 0 {
            return Err(data_err(path, format!("data offset {} is not 4-byte aligned", h.data_offset)));
        }
        // Checks the dimensions' product for overflow before `shape.len()` multiplies them.
        check_data_size_dims(path, &h.descr, &h.shape, 4, mmap.len().saturating_sub(h.data_offset))?;
        let cols = shape.len();
        if matches!(shape, Shape::Image { .. }) && cols == 0 {
            return Err(data_err(path, format!("image shape {:?} has no pixels", h.shape)));
        }
        if bytemuck::try_cast_slice::<u8, f32>(&mmap[h.data_offset..]).is_err() {
            return Err(data_err(path, "data are not 4-byte aligned in memory"));
        }
        let columns = match shape {
            Shape::Features(_) => read_column_names(path, cols)?,
            Shape::Image { .. } if columns_path(path).exists() => read_column_names(path, cols)?,
            Shape::Image { .. } => pixel_names(shape),
        };
        Ok(Dataset { path: path.to_path_buf(), mmap, rows, cols, shape, offset: h.data_offset, columns })
    }

    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Values per row (C·H·W for images).
    pub fn cols(&self) -> usize {
        self.cols
    }
    /// The shape of one row: `Features(cols)` for a 2-D file, `Image { c, h, w }` for 3-D/4-D.
    pub fn shape(&self) -> Shape {
        self.shape
    }
    /// Whether the rows are images.
    pub fn is_image(&self) -> bool {
        matches!(self.shape, Shape::Image { .. })
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
                    Location::file(&self.path).row(r as u64 + 1).column(self.columns[c].clone()),
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
/// the target unless `finish` succeeds. [`NpyWriter::create_images`] writes (N, C, H, W).
pub struct NpyWriter {
    file: AtomicFile,
    columns: Vec<String>,
    tail: Vec<usize>,
    rows: u64,
    header_len: usize,
}

impl NpyWriter {
    /// A 2-D table with these column names; columns that are exactly an image's pixel names
    /// ([`shape_of_columns`]) make a 4-D (N, C, H, W) image file instead, so that a
    /// reconstruction or decompression of images is images again.
    pub fn create(path: &Path, columns: &[String]) -> Result<Self> {
        let shape = shape_of_columns(columns).unwrap_or(Shape::Features(columns.len()));
        Self::create_shaped(path, columns, shape)
    }

    /// A 4-D (N, C, H, W) image file; `NAME.columns` holds the pixel names ([`pixel_names`]).
    pub fn create_images(path: &Path, shape: Shape) -> Result<Self> {
        if !matches!(shape, Shape::Image { .. }) || shape.is_empty() {
            return Err(Error::config(format!("{}: {shape:?} is not an image shape", path.display())));
        }
        Self::create_shaped(path, &pixel_names(shape), shape)
    }

    fn create_shaped(path: &Path, columns: &[String], shape: Shape) -> Result<Self> {
        assert_eq!(shape.len(), columns.len(), "one column name per value of a row");
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
        let tail = row_dims(shape);
        let header_len = header_total(&tail);
        let mut file = AtomicFile::create(path)?;
        if file.is_direct() && !is_char_device(path) {
            return Err(Error::config(format!(
                "{}: an NPY output must be a regular file (its header is completed at the end), not a pipe or stdout",
                path.display()
            )));
        }
        file.write_all(&build_header(0, &tail, header_len))?;
        Ok(NpyWriter { file, columns: columns.to_vec(), tail, rows: 0, header_len })
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
        let header = build_header(self.rows, &self.tail, self.header_len);
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
            let total = header_total(&[cols]);
            assert_eq!(total % ALIGN, 0);
            let h = build_header(rows, &[cols], total);
            assert_eq!(h.len(), total);
            let p = parse_header(Path::new("x.npy"), &h).unwrap();
            assert_eq!(p.descr, "<f4");
            assert!(!p.fortran_order);
            assert_eq!(p.shape, vec![rows as usize, cols]);
            assert_eq!(p.data_offset, total);
        }
    }

    #[test]
    fn image_headers_and_pixel_names() {
        let total = header_total(&[1, 40, 40]);
        let h = build_header(7, &[1, 40, 40], total);
        let p = parse_header(Path::new("x.npy"), &h).unwrap();
        assert_eq!((p.shape, p.data_offset), (vec![7, 1, 40, 40], total));
        let shape = Shape::Image { c: 2, h: 3, w: 5 };
        let names = pixel_names(shape);
        assert_eq!(names.len(), 30);
        assert_eq!(
            (names[0].as_str(), names[7].as_str(), names[29].as_str()),
            ("pix_c0_y0_x0", "pix_c0_y1_x2", "pix_c1_y2_x4")
        );
        assert_eq!(shape_of_columns(&names), Some(shape), "a model knows its input shape from its columns");
        assert_eq!(shape_of_columns(&names[..29]), None);
        assert_eq!(shape_of_columns(&["pt".to_string(), "eta".to_string()]), None);
        assert_eq!(describe_shape(shape), "2×3×5 images");
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
