//! Numeric CSV with a header row, streamed line by line ([`CsvReader`], a [`RowSource`] for
//! `hepae import`), with memory bounded by one line whatever the input size.
//!
//! CSV dialect: comma separated; fields may be quoted (`"pt"`) and padded with spaces or tabs;
//! CRLF line ends, a UTF-8 byte-order mark and trailing blank lines are accepted; a header line
//! starting with `#` (as `numpy.savetxt(header=…)` writes) is accepted with the `#` removed.
//! Numbers are parsed with `str::parse::<f32>()` directly (not via f64), so a CSV written from
//! f32 values with enough digits imports bit for bit.

use super::RowSource;
use crate::error::{Error, Location, Result};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
// The import driver's paths before `data::import`.
pub use super::{import_file, import_file_with, ImportOptions, ImportReport};
#[cfg(feature = "root")]
pub use super::{import_root, import_root_with};

/// Splits one CSV line into trimmed fields (quotes removed, commas inside quotes kept).
fn split_fields<'a>(line: &'a str, out: &mut Vec<&'a str>) {
    out.clear();
    let bytes = line.as_bytes();
    let mut start = 0;
    let mut in_quotes = false;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'"' => in_quotes = !in_quotes,
            b',' if !in_quotes => {
                out.push(clean_field(&line[start..i]));
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(clean_field(&line[start..]));
}

fn clean_field(f: &str) -> &str {
    let t = f.trim_matches([' ', '\t']);
    if t.len() >= 2 && t.starts_with('"') && t.ends_with('"') {
        t[1..t.len() - 1].trim_matches([' ', '\t'])
    } else {
        t
    }
}

/// A streaming reader of a numeric CSV with a header row.
pub struct CsvReader {
    path: PathBuf,
    reader: BufReader<File>,
    columns: Vec<String>,
    /// Number of the last line read (header = line 1).
    line: u64,
    rows: u64,
    buf: Vec<u8>,
    /// First blank line seen since the last data row (blank lines are fine only at the end).
    blank: Option<u64>,
}

impl CsvReader {
    /// Opens `path` and reads the header. Refuses an empty file, empty or duplicate column names,
    /// and a first line that looks like data rather than a header.
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let mut r = CsvReader {
            path: path.to_path_buf(),
            reader: BufReader::with_capacity(1 << 20, file),
            columns: Vec::new(),
            line: 0,
            rows: 0,
            buf: Vec::new(),
            blank: None,
        };
        // The header: the first non-blank line.
        let header = loop {
            if !r.next_line()? {
                return Err(Error::data(Location::file(path), "file is empty (expected a header row of column names)"));
            }
            let mut text = r.line_text()?;
            if r.line == 1 {
                text = text.strip_prefix('\u{feff}').unwrap_or(text);
            }
            if !text.trim().is_empty() {
                break text.trim_start().strip_prefix('#').unwrap_or(text).to_string();
            }
        };
        let mut fields = Vec::new();
        split_fields(&header, &mut fields);
        let line = r.line;
        let mut columns: Vec<String> = Vec::with_capacity(fields.len());
        for (i, f) in fields.iter().enumerate() {
            let name = f.replace("\"\"", "\"");
            if name.is_empty() {
                return Err(Error::data(
                    Location::file(path).line(line).column(format!("#{}", i + 1)),
                    "empty column name in the header",
                ));
            }
            if let Some(j) = columns.iter().position(|c| *c == name) {
                return Err(Error::data(
                    Location::file(path).line(line).column(name),
                    format!("duplicate column name (fields {} and {} of the header)", j + 1, i + 1),
                ));
            }
            columns.push(name);
        }
        if columns.iter().all(|c| c.parse::<f64>().is_ok()) {
            let shown: Vec<String> = columns.iter().take(3).map(|c| shorten(c)).collect();
            let more = if columns.len() > 3 { ", …" } else { "" };
            return Err(Error::data(
                Location::file(path),
                format!(
                    "line {line} looks like data, not a header row (every field is a number: {}{more}); \
                     add a first line of column names, e.g. pt,eta,phi,mass",
                    shown.join(", ")
                ),
            ));
        }
        r.columns = columns;
        Ok(r)
    }

    pub fn columns(&self) -> &[String] {
        &self.columns
    }
    pub fn path(&self) -> &Path {
        &self.path
    }
    /// Data rows read so far.
    pub fn rows_read(&self) -> u64 {
        self.rows
    }

    fn next_line(&mut self) -> Result<bool> {
        self.buf.clear();
        let n = self.reader.read_until(b'\n', &mut self.buf).map_err(|e| Error::io(&self.path, e))?;
        if n == 0 {
            return Ok(false);
        }
        self.line += 1;
        while matches!(self.buf.last(), Some(b'\n' | b'\r')) {
            self.buf.pop();
        }
        Ok(true)
    }

    fn line_text(&self) -> Result<&str> {
        std::str::from_utf8(&self.buf)
            .map_err(|_| Error::data(Location::file(&self.path).line(self.line), "line is not valid UTF-8 text"))
    }

    /// Reads the next data row into `out` (`out.len()` = number of columns). Returns the row's
    /// line number, or `None` at the end of the file. Errors on ragged rows, empty, non-numeric and
    /// non-finite cells, blank lines between data rows, and a file with a header but no data rows.
    pub fn read_row(&mut self, out: &mut [f32]) -> Result<Option<u64>> {
        loop {
            if !self.next_line()? {
                if self.rows == 0 {
                    return Err(Error::data(
                        Location::file(&self.path),
                        format!("has a header ({} columns) but no data rows", self.columns.len()),
                    ));
                }
                return Ok(None);
            }
            let line = self.line;
            if self.buf.iter().all(|b| b.is_ascii_whitespace()) {
                self.blank.get_or_insert(line);
                continue;
            }
            if let Some(b) = self.blank {
                return Err(Error::data(Location::file(&self.path).line(b), "blank line between data rows"));
            }
            let text = self.line_text()?;
            let mut fields = Vec::with_capacity(self.columns.len());
            split_fields(text, &mut fields);
            let ncols = self.columns.len();
            if fields.len() != ncols {
                let mut at = Location::file(&self.path).line(line);
                at = if fields.len() < ncols {
                    at.column(self.columns[fields.len()].clone()) // the first missing one
                } else {
                    at.column(format!("#{}", ncols + 1)) // the first field beyond the header
                };
                return Err(Error::data(at, format!("line {line} has {} fields, header has {ncols}", fields.len())));
            }
            for ((dst, f), name) in out.iter_mut().zip(&fields).zip(&self.columns) {
                let bad = |msg: String| Error::data(Location::file(&self.path).line(line).column(name.clone()), msg);
                if f.is_empty() {
                    return Err(bad("empty value".to_string()));
                }
                match f.parse::<f32>() {
                    Ok(v) if v.is_finite() => *dst = v,
                    Ok(_) => {
                        let lower = f.to_ascii_lowercase();
                        let named = lower.contains("nan") || lower.contains("inf");
                        let why = if named { "is not finite" } else { "is not finite (out of float32 range)" };
                        return Err(bad(format!("value '{}' {why}", shorten(f))));
                    }
                    Err(_) => return Err(bad(format!("value '{}' is not a number", shorten(f)))),
                }
            }
            self.rows += 1;
            return Ok(Some(line));
        }
    }
}

fn shorten(s: &str) -> String {
    let clean: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if clean.chars().count() > 40 {
        let mut t: String = clean.chars().take(40).collect();
        t.push('…');
        t
    } else {
        clean
    }
}

/// Reads a whole CSV into memory: `(columns, rows, values)` (for tests and small files).
pub fn read_csv(path: &Path) -> Result<(Vec<String>, usize, Vec<f32>)> {
    let mut r = CsvReader::open(path)?;
    let mut row = vec![0f32; r.columns().len()];
    let mut data = Vec::new();
    while r.read_row(&mut row)?.is_some() {
        data.extend_from_slice(&row);
    }
    Ok((r.columns().to_vec(), r.rows_read() as usize, data))
}

impl RowSource for CsvReader {
    fn columns(&self) -> &[String] {
        CsvReader::columns(self)
    }

    fn next_row(&mut self, out: &mut [f32]) -> Result<Option<Location>> {
        Ok(self.read_row(out)?.map(|l| Location::file(self.path()).line(l)))
    }

    /// Reads the file once more, from the top, with a second reader: the same rows, counted.
    fn total_rows(&mut self) -> Result<u64> {
        let mut counter = CsvReader::open(&self.path)?;
        let mut row = vec![0f32; self.columns.len()];
        while counter.read_row(&mut row)?.is_some() {}
        Ok(counter.rows_read())
    }
}

#[cfg(test)]
mod tests {
    use super::split_fields;

    #[test]
    fn fields_are_split_trimmed_and_unquoted() {
        let mut v = Vec::new();
        split_fields(" a ,\"b, c\" ,\t\" 3 \",,x", &mut v);
        assert_eq!(v, vec!["a", "b, c", "3", "", "x"]);
        split_fields("", &mut v);
        assert_eq!(v, vec![""]);
    }
}
