//! NPY input for `hepae import`: any numeric C-order NPY (1-D = one column, or 2-D), every
//! dtype converted to f32 ([`NpyRowReader`]), column names from `NAME.columns` (or `c0`, `c1`,
//! …), streamed in chunks of 4 096 rows ([`NpySource`]).

use super::RowSource;
use crate::data::npy::{check_data_size, data_err, parse_header, read_column_names};
use crate::error::{Error, Location, Result};
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug)]
enum Kind {
    F,
    I,
    U,
    B,
}

/// Streams the rows of any numeric C-order NPY (1-D = one column, or 2-D), converting to f32:
/// `f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1` in either byte order. Values that do not fit f32 become
/// ±Inf, which `hepae import` then refuses with the row and column named.
pub struct NpyRowReader {
    path: PathBuf,
    reader: BufReader<File>,
    rows: usize,
    cols: usize,
    kind: Kind,
    size: usize,
    big: bool,
    next_row: usize,
    buf: Vec<u8>,
}

impl NpyRowReader {
    pub fn open(path: &Path) -> Result<Self> {
        let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        let mut head = vec![0u8; (len as usize).min(1 << 16)];
        file.read_exact(&mut head).map_err(|e| Error::io(path, e))?;
        let h = parse_header(path, &head)?;
        let d = h.descr.as_bytes();
        let unsupported = || data_err(path, format!("dtype {} is not a supported numeric type", h.descr));
        if d.len() < 3 {
            return Err(unsupported());
        }
        let big = match d[0] {
            b'<' | b'|' | b'=' => false,
            b'>' => true,
            _ => return Err(unsupported()),
        };
        let kind = match d[1] {
            b'f' => Kind::F,
            b'i' => Kind::I,
            b'u' => Kind::U,
            b'b' => Kind::B,
            _ => return Err(unsupported()),
        };
        let size: usize = h.descr[2..].parse().map_err(|_| unsupported())?;
        let ok = matches!((kind, size), (Kind::F, 4 | 8) | (Kind::I | Kind::U, 1 | 2 | 4 | 8) | (Kind::B, 1));
        if !ok {
            return Err(unsupported());
        }
        if h.fortran_order && h.shape.len() > 1 && h.shape[1] > 1 {
            return Err(data_err(path, "fortran_order True is not supported; save with numpy.ascontiguousarray"));
        }
        let (rows, cols) = match h.shape.as_slice() {
            [n] => (*n, 1),
            [r, c] => (*r, *c),
            s => return Err(data_err(path, format!("array is {}-D with shape {:?}; expected 1-D or 2-D", s.len(), s))),
        };
        check_data_size(path, &h.descr, rows, cols, size, (len as usize).saturating_sub(h.data_offset))?;
        file.seek(SeekFrom::Start(h.data_offset as u64)).map_err(|e| Error::io(path, e))?;
        Ok(NpyRowReader {
            path: path.to_path_buf(),
            reader: BufReader::with_capacity(1 << 20, file),
            rows,
            cols,
            kind,
            size,
            big,
            next_row: 0,
            buf: Vec::new(),
        })
    }

    pub fn rows(&self) -> usize {
        self.rows
    }
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Reads up to `max_rows` rows into `out` (cleared first); returns the number read, 0 at the end.
    pub fn read_chunk(&mut self, out: &mut Vec<f32>, max_rows: usize) -> Result<usize> {
        out.clear();
        let n = max_rows.min(self.rows - self.next_row);
        if n == 0 {
            return Ok(0);
        }
        let count = n * self.cols;
        self.buf.resize(count * self.size, 0);
        self.reader.read_exact(&mut self.buf).map_err(|e| Error::io(&self.path, e))?;
        out.reserve(count);
        let (big, size) = (self.big, self.size);
        for b in self.buf.chunks_exact(size) {
            let mut a = [0u8; 8];
            a[..size].copy_from_slice(b);
            if big {
                a[..size].reverse();
            }
            let v = match (self.kind, size) {
                (Kind::F, 4) => f32::from_le_bytes([a[0], a[1], a[2], a[3]]),
                (Kind::F, _) => f64::from_le_bytes(a) as f32,
                (Kind::B, _) | (Kind::U, _) => u64::from_le_bytes(a) as f32,
                (Kind::I, 1) => a[0] as i8 as f32,
                (Kind::I, 2) => i16::from_le_bytes([a[0], a[1]]) as f32,
                (Kind::I, 4) => i32::from_le_bytes([a[0], a[1], a[2], a[3]]) as f32,
                (Kind::I, _) => i64::from_le_bytes(a) as f32,
            };
            out.push(v);
        }
        self.next_row += n;
        Ok(n)
    }
}

/// Reads a whole numeric NPY (see [`NpyRowReader`]) as `(rows, cols, values)`.
pub fn read_npy_any(path: &Path) -> Result<(usize, usize, Vec<f32>)> {
    let mut r = NpyRowReader::open(path)?;
    let (rows, cols) = (r.rows(), r.cols());
    let mut out = Vec::new();
    r.read_chunk(&mut out, rows)?;
    Ok((rows, cols, out))
}

/// The rows of a numeric NPY for the import driver, with the names of its `.columns` file.
pub struct NpySource {
    reader: NpyRowReader,
    path: PathBuf,
    columns: Vec<String>,
    chunk: Vec<f32>,
    pos: usize,
    row: u64,
}

impl NpySource {
    pub fn open(path: &Path) -> Result<Self> {
        let reader = NpyRowReader::open(path)?;
        let columns = read_column_names(path, reader.cols())?;
        Ok(NpySource { reader, path: path.to_path_buf(), columns, chunk: Vec::new(), pos: 0, row: 0 })
    }
}

impl RowSource for NpySource {
    fn columns(&self) -> &[String] {
        &self.columns
    }

    fn next_row(&mut self, out: &mut [f32]) -> Result<Option<Location>> {
        let c = out.len();
        if self.pos >= self.chunk.len() {
            if self.reader.read_chunk(&mut self.chunk, 4096)? == 0 {
                return Ok(None);
            }
            self.pos = 0;
        }
        out.copy_from_slice(&self.chunk[self.pos..self.pos + c]);
        self.pos += c;
        self.row += 1;
        Ok(Some(Location::file(&self.path).row(self.row)))
    }

    fn total_rows(&mut self) -> Result<u64> {
        Ok(self.reader.rows() as u64)
    }
}
