//! Numeric CSV with a header row, streamed line by line ([`CsvReader`]), and the importer behind
//! `hepae import` ([`import_file`]): CSV or NPY in, filtered and column-selected `<f4` NPY out,
//! with memory bounded by one row (plus the writer's buffer) whatever the input size.
//!
//! CSV dialect: comma separated; fields may be quoted (`"pt"`) and padded with spaces or tabs;
//! CRLF line ends, a UTF-8 byte-order mark and trailing blank lines are accepted; a header line
//! starting with `#` (as `numpy.savetxt(header=…)` writes) is accepted with the `#` removed.
//! Numbers are parsed with `str::parse::<f32>()` directly (not via f64), so a CSV written from
//! f32 values with enough digits imports bit for bit.

use crate::data::filter::RowFilter;
use crate::data::npy::{read_column_names, NpyRowReader, NpyWriter};
use crate::error::{Error, Location, Result};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

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

// ---------------------------------------------------------------------------------------------
// Import
// ---------------------------------------------------------------------------------------------

/// What `hepae import` does besides converting.
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// Select and order these columns (cannot be combined with `first_columns`/`drop_columns`).
    pub columns: Option<Vec<String>>,
    /// Keep only the first N columns.
    pub first_columns: Option<usize>,
    /// Remove these columns (applied after `first_columns`).
    pub drop_columns: Vec<String>,
    /// Row cuts on the full input row, e.g. `pt<8000,mass<800`.
    pub filter: Option<String>,
    /// More row cuts (ANDed with `filter`), e.g. `hadronFlavour==5`.
    pub where_: Option<String>,
}

/// What an import did.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportReport {
    pub rows_read: u64,
    pub rows_kept: u64,
    pub columns: Vec<String>,
}

/// Input rows, CSV or NPY.
enum Source {
    Csv(CsvReader),
    Npy {
        reader: NpyRowReader,
        path: PathBuf,
        chunk: Vec<f32>,
        pos: usize,
        row: u64,
    },
    /// A table already in memory (ROOT input), `cols` values a row.
    #[allow(dead_code)]
    Mem {
        path: PathBuf,
        data: Vec<f32>,
        pos: usize,
        row: u64,
    },
}

impl Source {
    /// Next row into `out`; returns the location for errors (CSV line or 1-based NPY row).
    fn next(&mut self, out: &mut [f32]) -> Result<Option<Location>> {
        match self {
            Source::Csv(r) => Ok(r.read_row(out)?.map(|l| Location::file(r.path()).line(l))),
            Source::Npy { reader, path, chunk, pos, row } => {
                let c = out.len();
                if *pos >= chunk.len() {
                    if reader.read_chunk(chunk, 4096)? == 0 {
                        return Ok(None);
                    }
                    *pos = 0;
                }
                out.copy_from_slice(&chunk[*pos..*pos + c]);
                *pos += c;
                *row += 1;
                Ok(Some(Location::file(path).row(*row)))
            }
            Source::Mem { path, data, pos, row } => {
                let c = out.len();
                if *pos + c > data.len() {
                    return Ok(None);
                }
                out.copy_from_slice(&data[*pos..*pos + c]);
                *pos += c;
                *row += 1;
                Ok(Some(Location::file(path).row(*row)))
            }
        }
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    let canon = |p: &Path| -> Option<PathBuf> {
        if let Ok(c) = p.canonicalize() {
            return Some(c);
        }
        let parent = match p.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        Some(parent.canonicalize().ok()?.join(p.file_name()?))
    };
    match (canon(a), canon(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn find_col(columns: &[String], name: &str, what: &str) -> Result<usize> {
    columns
        .iter()
        .position(|c| c == name)
        .ok_or_else(|| Error::config(format!("{what}: unknown column '{name}'; available: {}", columns.join(", "))))
}

/// Converts `input` (`.csv`, or any numeric `.npy` with names from its `.columns` file) into a
/// 2-D `<f4` `out` (`.npy`) plus `out.columns`, atomically: cuts apply to the full input row,
/// then the columns are selected. Refuses NaN/Inf values (naming file, line/row and column), an
/// import that keeps no rows, and writing over the input.
pub fn import_file(input: &Path, out: &Path, opts: &ImportOptions) -> Result<ImportReport> {
    import_file_with(input, out, opts, &mut |_| {})
}

/// [`import_file`], calling `on_rows` with the input rows read so far every 1 024 kept rows.
pub fn import_file_with(
    input: &Path,
    out: &Path,
    opts: &ImportOptions,
    on_rows: &mut dyn FnMut(u64),
) -> Result<ImportReport> {
    check_paths(input, out)?;
    let source = match ext(input).as_str() {
        "csv" => Source::Csv(CsvReader::open(input)?),
        "npy" => {
            let reader = NpyRowReader::open(input)?;
            Source::Npy { reader, path: input.to_path_buf(), chunk: Vec::new(), pos: 0, row: 0 }
        }
        "root" => {
            return Err(Error::config(format!(
                "{}: ROOT input needs a tree and branches (hepae import FILE.root --tree Events --branches Jet_pt,...)",
                input.display()
            )))
        }
        _ => {
            return Err(Error::config(format!(
                "{}: unknown input format (expected a .csv, .npy or .root file)",
                input.display()
            )))
        }
    };
    let all: Vec<String> = match &source {
        Source::Csv(r) => r.columns().to_vec(),
        Source::Npy { reader, .. } => read_column_names(input, reader.cols())?,
        Source::Mem { .. } => unreachable!(),
    };
    import_rows(input, out, opts, source, all, on_rows)
}

/// Imports the branches `sel` of a ROOT tree (one row per jet, see [`crate::data::import::root`]) into
/// `out` like [`import_file`]: the same column selection, row cuts and atomic output apply,
/// with the branch-derived column names (`Jet_pt` → `pt`).
#[cfg(feature = "root")]
pub fn import_root(
    input: &Path,
    out: &Path,
    sel: &crate::data::import::root::RootSelect,
    opts: &ImportOptions,
) -> Result<ImportReport> {
    import_root_with(input, out, sel, opts, &mut |_| {})
}

/// [`import_root`], calling `on_rows` with the jets converted so far (after the tree is read).
#[cfg(feature = "root")]
pub fn import_root_with(
    input: &Path,
    out: &Path,
    sel: &crate::data::import::root::RootSelect,
    opts: &ImportOptions,
    on_rows: &mut dyn FnMut(u64),
) -> Result<ImportReport> {
    check_paths(input, out)?;
    let t = crate::data::import::root::read_root(input, sel)?;
    let source = Source::Mem { path: input.to_path_buf(), data: t.data, pos: 0, row: 0 };
    import_rows(input, out, opts, source, t.columns, on_rows)
}

fn ext(p: &Path) -> String {
    p.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default()
}

fn check_paths(input: &Path, out: &Path) -> Result<()> {
    if ext(out) != "npy" {
        return Err(Error::config(format!("{}: the output must be a .npy file", out.display())));
    }
    if same_file(input, out) || same_file(input, &crate::data::npy::columns_path(out)) {
        return Err(Error::config(format!("{}: refusing to write the output over the input", out.display())));
    }
    Ok(())
}

fn import_rows(
    input: &Path,
    out: &Path,
    opts: &ImportOptions,
    mut source: Source,
    all: Vec<String>,
    on_rows: &mut dyn FnMut(u64),
) -> Result<ImportReport> {
    // Row cuts on the full row.
    let mut filter: Option<RowFilter> = None;
    for spec in [&opts.filter, &opts.where_].into_iter().flatten() {
        let f = RowFilter::parse(spec, &all)?;
        filter = Some(match filter {
            Some(g) => g.and(f),
            None => f,
        });
    }

    // Column selection.
    let selected: Vec<usize> = if let Some(cols) = &opts.columns {
        if opts.first_columns.is_some() || !opts.drop_columns.is_empty() {
            return Err(Error::config("--columns cannot be combined with --first-columns or --drop-columns"));
        }
        let mut idx = Vec::with_capacity(cols.len());
        for name in cols {
            let i = find_col(&all, name, "--columns")?;
            if idx.contains(&i) {
                return Err(Error::config(format!("--columns: column '{name}' is listed twice")));
            }
            idx.push(i);
        }
        idx
    } else {
        let n = match opts.first_columns {
            Some(0) => return Err(Error::config("--first-columns must be at least 1")),
            Some(n) if n > all.len() => {
                return Err(Error::config(format!(
                    "--first-columns {n}: {} has only {} columns",
                    input.display(),
                    all.len()
                )))
            }
            Some(n) => n,
            None => all.len(),
        };
        let mut keep: Vec<usize> = (0..n).collect();
        for name in &opts.drop_columns {
            let i = find_col(&all, name, "--drop-columns")?;
            keep.retain(|&k| k != i);
        }
        keep
    };
    if selected.is_empty() {
        return Err(Error::config("no columns left to import"));
    }
    let out_cols: Vec<String> = selected.iter().map(|&i| all[i].clone()).collect();

    let mut writer = NpyWriter::create(out, &out_cols)?;
    let mut row = vec![0f32; all.len()];
    let mut picked = Vec::with_capacity(selected.len() * 1024);
    let (mut read, mut kept) = (0u64, 0u64);
    while let Some(at) = source.next(&mut row)? {
        read += 1;
        if let Some(k) = row.iter().position(|v| !v.is_finite()) {
            return Err(Error::data(at.column(all[k].clone()), format!("value {} is not finite", row[k])));
        }
        if filter.as_ref().is_some_and(|f| !f.keep(&row)) {
            continue;
        }
        kept += 1;
        picked.extend(selected.iter().map(|&i| row[i]));
        if picked.len() >= selected.len() * 1024 {
            writer.write_rows(&picked)?;
            picked.clear();
            on_rows(read);
        }
    }
    writer.write_rows(&picked)?;
    if read == 0 {
        return Err(Error::data(Location::file(input), "has no data rows"));
    }
    if kept == 0 {
        return Err(Error::data(Location::file(input), format!("none of the {read} rows passes the row cuts")));
    }
    writer.finish()?;
    Ok(ImportReport { rows_read: read, rows_kept: kept, columns: out_cols })
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
