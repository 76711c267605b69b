//! `hepae import`: a foreign table in, a filtered and column-selected 2-D `<f4` NPY (plus
//! `OUT.columns`) out, written atomically, with memory bounded by one row (plus the writer's
//! buffer) for the streamed formats.
//!
//! One file per input format, each a [`RowSource`]: `csv` (header row, streamed), `npy` (any
//! numeric NPY, names from its `.columns`), `root` (feature `root`: branches of a TTree, read
//! whole). The driver ([`import_file`], [`import_root`]) applies the row cuts to the full input
//! row, selects the columns and refuses non-finite values, the same for every format; adding a
//! format is one file plus one line in [`import_file_with`].

pub mod csv;
pub mod npy;
#[cfg(feature = "root")]
pub mod root;

use crate::data::filter::RowFilter;
use crate::data::npy::NpyWriter;
use crate::error::{Error, Location, Result};
use std::path::{Path, PathBuf};

/// Rows of one input table, read in order.
pub trait RowSource {
    /// Column names, one per value of a row.
    fn columns(&self) -> &[String];
    /// Reads the next row into `out` (`columns().len()` values); returns where it was read
    /// (file and line or 1-based row, for error messages), or None after the last row.
    fn next_row(&mut self, out: &mut [f32]) -> Result<Option<Location>>;
    /// The number of rows [`next_row`](RowSource::next_row) will give from a fresh source (for
    /// `--shard`, which needs it before the first row; a streamed format may read itself once).
    fn total_rows(&mut self) -> Result<u64>;
}

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
    /// `(i, n)`: import only shard `i` of `n` of the input rows (before the cuts), rows
    /// `[i·⌈N/n⌉, min((i+1)·⌈N/n⌉, N))`, the split of every command's `--shard`.
    pub shard: Option<(usize, usize)>,
}

/// What an import did.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportReport {
    pub rows_read: u64,
    pub rows_kept: u64,
    pub columns: Vec<String>,
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
    // The formats, by file extension: one line each.
    let mut source: Box<dyn RowSource> = match ext(input).as_str() {
        "csv" => Box::new(csv::CsvReader::open(input)?),
        "npy" => Box::new(npy::NpySource::open(input)?),
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
    import_rows(input, out, opts, source.as_mut(), on_rows)
}

/// Imports the branches `sel` of a ROOT tree (one row per jet, see [`root`]) into
/// `out` like [`import_file`]: the same column selection, row cuts and atomic output apply,
/// with the branch-derived column names (`Jet_pt` → `pt`).
#[cfg(feature = "root")]
pub fn import_root(input: &Path, out: &Path, sel: &root::RootSelect, opts: &ImportOptions) -> Result<ImportReport> {
    import_root_with(input, out, sel, opts, &mut |_| {})
}

/// [`import_root`], calling `on_rows` with the jets converted so far (after the tree is read).
#[cfg(feature = "root")]
pub fn import_root_with(
    input: &Path,
    out: &Path,
    sel: &root::RootSelect,
    opts: &ImportOptions,
    on_rows: &mut dyn FnMut(u64),
) -> Result<ImportReport> {
    check_paths(input, out)?;
    let mut source = root::RootSource::open(input, sel)?;
    import_rows(input, out, opts, &mut source, on_rows)
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
    source: &mut dyn RowSource,
    on_rows: &mut dyn FnMut(u64),
) -> Result<ImportReport> {
    let all: Vec<String> = source.columns().to_vec();
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

    // The shard's input rows, [lo, hi) (all of them without --shard).
    let (lo, hi) = match opts.shard {
        None => (0, u64::MAX),
        Some((i, n)) => {
            if n == 0 || i >= n {
                return Err(Error::config(format!("--shard {i}/{n}: needs 0 ≤ i < n")));
            }
            let total = source.total_rows()?;
            let per = total.div_ceil(n as u64);
            let (lo, hi) = ((i as u64 * per).min(total), ((i as u64 + 1) * per).min(total));
            if lo == hi {
                return Err(Error::config(format!(
                    "--shard {i}/{n}: no rows of {} fall in this shard (more shards than rows?)",
                    input.display()
                )));
            }
            (lo, hi)
        }
    };

    let mut writer = NpyWriter::create(out, &out_cols)?;
    let mut row = vec![0f32; all.len()];
    let mut picked = Vec::with_capacity(selected.len() * 1024);
    let (mut read, mut kept, mut index) = (0u64, 0u64, 0u64);
    while index < hi {
        let Some(at) = source.next_row(&mut row)? else { break };
        index += 1;
        if index <= lo {
            continue;
        }
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
    use super::npy::read_npy_any;
    use super::*;

    /// A format in a dozen lines: rows held in memory, located by 1-based row.
    struct Rows {
        columns: Vec<String>,
        data: Vec<Vec<f32>>,
        next: usize,
    }

    impl RowSource for Rows {
        fn columns(&self) -> &[String] {
            &self.columns
        }
        fn next_row(&mut self, out: &mut [f32]) -> Result<Option<Location>> {
            let Some(r) = self.data.get(self.next) else { return Ok(None) };
            out.copy_from_slice(r);
            self.next += 1;
            Ok(Some(Location::file(Path::new("mem.tbl")).row(self.next as u64)))
        }
        fn total_rows(&mut self) -> Result<u64> {
            Ok(self.data.len() as u64)
        }
    }

    fn rows(data: Vec<Vec<f32>>) -> Rows {
        Rows { columns: ["a", "b", "c"].map(String::from).to_vec(), data, next: 0 }
    }

    fn out_path(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("hepae-import-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("out.npy")
    }

    #[test]
    fn any_row_source_gets_the_same_cuts_and_column_selection() {
        let out = out_path("cuts");
        let opts = ImportOptions {
            columns: Some(vec!["c".into(), "a".into()]),
            filter: Some("b>1".into()),
            ..Default::default()
        };
        let mut src = rows(vec![vec![1.0, 0.0, 10.0], vec![2.0, 2.0, 20.0], vec![3.0, 5.0, 30.0]]);
        let r = import_rows(Path::new("mem.tbl"), &out, &opts, &mut src, &mut |_| {}).unwrap();
        assert_eq!(r, ImportReport { rows_read: 3, rows_kept: 2, columns: vec!["c".into(), "a".into()] });
        // The cut is on `b`, which is not kept; the columns come out in the order asked for.
        assert_eq!(read_npy_any(&out).unwrap(), (2, 2, vec![20.0, 2.0, 30.0, 3.0]));
        std::fs::remove_dir_all(out.parent().unwrap()).unwrap();
    }

    #[test]
    fn a_shard_takes_its_rows_of_the_input_before_the_cuts() {
        let out = out_path("shard");
        let five = || rows((1..=5).map(|k| vec![k as f32, (k % 2) as f32, 0.0]).collect());
        // 5 rows in 2 shards: rows 1-3 and 4-5; the cut b>0 keeps rows 1, 3 and 5 of the input.
        for (i, want) in [(0, vec![1.0, 3.0]), (1, vec![5.0])] {
            let opts = ImportOptions {
                columns: Some(vec!["a".into()]),
                filter: Some("b>0".into()),
                shard: Some((i, 2)),
                ..Default::default()
            };
            let r = import_rows(Path::new("mem.tbl"), &out, &opts, &mut five(), &mut |_| {}).unwrap();
            assert_eq!((r.rows_read, r.rows_kept), ([3, 2][i], want.len() as u64), "shard {i}/2");
            assert_eq!(read_npy_any(&out).unwrap(), (want.len(), 1, want));
        }
        // A NaN in shard 1's rows is not shard 0's business; shard 1 names the input row.
        let mut src = rows(vec![vec![1.0; 3], vec![1.0; 3], vec![1.0, f32::NAN, 1.0]]);
        let opts = ImportOptions { shard: Some((0, 2)), ..Default::default() };
        assert!(import_rows(Path::new("mem.tbl"), &out, &opts, &mut src, &mut |_| {}).is_ok());
        let mut src = rows(vec![vec![1.0; 3], vec![1.0; 3], vec![1.0, f32::NAN, 1.0]]);
        let opts = ImportOptions { shard: Some((1, 2)), ..Default::default() };
        let e = import_rows(Path::new("mem.tbl"), &out, &opts, &mut src, &mut |_| {}).unwrap_err();
        assert_eq!(e.to_string(), "mem.tbl, row 3, column b: value NaN is not finite");
        std::fs::remove_dir_all(out.parent().unwrap()).unwrap();
    }

    #[test]
    fn a_non_finite_value_is_refused_naming_the_source_row_and_column() {
        let out = out_path("nan");
        let mut src = rows(vec![vec![1.0, 2.0, 3.0], vec![1.0, f32::NAN, 3.0]]);
        let e = import_rows(Path::new("mem.tbl"), &out, &ImportOptions::default(), &mut src, &mut |_| {}).unwrap_err();
        assert_eq!(e.to_string(), "mem.tbl, row 2, column b: value NaN is not finite");
        assert!(!out.exists(), "no partial output survives the failure");
        std::fs::remove_dir_all(out.parent().unwrap()).unwrap();
    }
}
