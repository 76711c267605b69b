//! ROOT input (feature `root`): reads chosen branches of a TTree into one row per jet, through
//! the pure-Rust reader `oxyroot` (no ROOT installation).
//!
//! - Jagged branches (NanoAOD `Float_t Jet_pt[nJet]`, read as `Slice<T>`, or `std::vector<T>`
//!   as in ATLAS PHYSLITE `AnalysisJetsAuxDyn.pt`) give one row per element: one row per jet.
//!   All jagged branches must have the same length in every event.
//! - Flat branches (`Float_t MET_pt`, `UInt_t run`) give one row per event when every branch
//!   is flat; mixed with jagged ones, their event value is repeated on every jet of the event.
//! - Element types: float, double, (u)int8/16/32/64 and bool, converted to f32 (integers above
//!   2^24 and doubles are rounded to the nearest f32). The integer type is read from each
//!   branch, so NanoAOD v6 (`int32_t`), v12+ (`uint8_t`, `int16_t`) and the counts (`uint32_t`
//!   or `int32_t`) all work.
//! - Column names: when every branch name has the same prefix up to its first `_` or `.`
//!   (`Jet_`, `AnalysisJetsAuxDyn.`), that prefix is dropped (`Jet_pt` → `pt`), which matches
//!   the shared CSV/NPY exports; otherwise the branch names are kept as they are.
//! - `event_idx` (optional, last column): the event's entry number in the tree.

use super::RowSource;
use check::{check_header, check_records, read_head, CORRUPT};

mod check;
pub mod pf_images;
use crate::error::{Error, Location, Result};
use oxyroot::{Branch, RootFile, Slice};
use std::path::{Path, PathBuf};

/// Which tree and branches to read.
#[derive(Clone, Debug)]
pub struct RootSelect {
    /// The TTree's name (`Events` in NanoAOD, `CollectionTree` in PHYSLITE).
    pub tree: String,
    /// Branch names, in output column order.
    pub branches: Vec<String>,
    /// When `branches` is empty: every numeric branch named `C_*` or `C.*` (e.g. `Jet`), in
    /// tree order. Branches of other types in the collection are skipped.
    pub collection: Option<String>,
    /// Append the event's entry number as a last column `event_idx`.
    pub event_idx: bool,
}

/// A ROOT selection read into memory: `rows × columns.len()` f32 values, row-major.
#[derive(Clone, Debug)]
pub struct RootTable {
    pub columns: Vec<String>,
    pub rows: usize,
    pub data: Vec<f32>,
    /// Events (tree entries) read.
    pub events: usize,
}

/// One branch's values over all entries.
enum Col {
    Flat(Vec<f32>),
    Jagged(Vec<Vec<f32>>),
}

impl Col {
    fn entries(&self) -> usize {
        match self {
            Col::Flat(v) => v.len(),
            Col::Jagged(v) => v.len(),
        }
    }
}

/// Runs one call into oxyroot, which panics (index out of range, `unwrap` on a failed
/// decompression, `assert_eq!`, `unimplemented!`, capacity overflow) on malformed input
/// instead of returning an error: the panic is caught here and becomes `None`, for the caller
/// to report as one error line naming file, tree and branch. The panic's own text (oxyroot's
/// internals) is dropped. No panic hook is touched: the `hepae` binary installs its own, once,
/// in `main`, which keeps Rust's panic message off the terminal.
fn guard<T>(f: impl FnOnce() -> T) -> Option<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).ok()
}

const ELEMENTS: [&str; 11] = ["f32", "f64", "i8", "u8", "i16", "u16", "i32", "u32", "i64", "u64", "bool"];

/// Whether [`read_branch`] reads this oxyroot interpretation.
fn supported(interp: &str) -> bool {
    let elem = interp
        .strip_prefix("Slice<")
        .or_else(|| interp.strip_prefix("Vec<"))
        .and_then(|s| s.strip_suffix('>'))
        .unwrap_or(interp);
    ELEMENTS.contains(&elem)
}

/// The numeric branches `C_*` / `C.*` of the tree, in tree order; None if there are none.
fn collection_branches(tree: &oxyroot::ReaderTree, c: &str) -> Option<Vec<String>> {
    let (a, b) = (format!("{c}_"), format!("{c}."));
    let mut names: Vec<String> = Vec::new();
    for br in tree.branches_r() {
        let n = br.name();
        if (n.starts_with(&a) || n.starts_with(&b)) && supported(&br.interpretation()) && !names.iter().any(|m| m == n)
        {
            names.push(n.to_string());
        }
    }
    (!names.is_empty()).then_some(names)
}

/// Reads one branch by its stored C++ type.
fn read_branch(b: &Branch) -> std::result::Result<Col, String> {
    let interp = b.interpretation();
    macro_rules! go {
        ($kind:ident, $t:ty, $conv:expr) => {{
            let conv = $conv;
            go!(@$kind, $t, conv)
        }};
        (@flat, $t:ty, $conv:ident) => {
            Col::Flat(
                b.as_iter::<$t>()
                    .map_err(|_| format!("{CORRUPT}: its baskets cannot be read"))?
                    .map($conv)
                    .collect(),
            )
        };
        (@slice, $t:ty, $conv:ident) => {
            Col::Jagged(
                b.as_iter::<Slice<$t>>()
                    .map_err(|_| format!("{CORRUPT}: its baskets cannot be read"))?
                    .map(|s| s.into_vec().into_iter().map($conv).collect())
                    .collect(),
            )
        };
        (@vec, $t:ty, $conv:ident) => {
            Col::Jagged(
                b.as_iter::<Vec<$t>>()
                    .map_err(|_| format!("{CORRUPT}: its baskets cannot be read"))?
                    .map(|s| s.into_iter().map($conv).collect())
                    .collect(),
            )
        };
    }
    macro_rules! by_elem {
        ($kind:ident, $elem:expr) => {
            match $elem {
                "f32" => go!($kind, f32, |v: f32| v),
                "f64" => go!($kind, f64, |v: f64| v as f32),
                "i8" => go!($kind, i8, |v: i8| v as f32),
                "u8" => go!($kind, u8, |v: u8| v as f32),
                "i16" => go!($kind, i16, |v: i16| v as f32),
                "u16" => go!($kind, u16, |v: u16| v as f32),
                "i32" => go!($kind, i32, |v: i32| v as f32),
                "u32" => go!($kind, u32, |v: u32| v as f32),
                "i64" => go!($kind, i64, |v: i64| v as f32),
                "u64" => go!($kind, u64, |v: u64| v as f32),
                "bool" => go!($kind, bool, |v: bool| v as u8 as f32),
                _ => return Err(unsupported(b)),
            }
        };
    }
    let col = if let Some(inner) = interp.strip_prefix("Slice<").and_then(|s| s.strip_suffix('>')) {
        by_elem!(slice, inner)
    } else if let Some(inner) = interp.strip_prefix("Vec<").and_then(|s| s.strip_suffix('>')) {
        by_elem!(vec, inner)
    } else {
        by_elem!(flat, interp.as_str())
    };
    Ok(col)
}

/// The per-event counts of the jagged branch `name` from its count branch, by the naming
/// conventions `nJet` (NanoAOD), `nJet_pt` (files rewritten by uproot) and `NJet` (older
/// flat ntuples), when such a flat integer branch exists. `Err(count branch)` when that
/// branch exists but cannot be decoded.
fn count_branch(
    tree: &oxyroot::ReaderTree,
    name: &str,
    entries: usize,
) -> std::result::Result<Option<(String, Vec<usize>)>, String> {
    let Some(stem) = name.split('_').next().filter(|s| s.len() < name.len()) else {
        return Ok(None);
    };
    for cname in [format!("n{name}"), format!("n{stem}"), format!("N{stem}")] {
        let Some(b) = guard(|| tree.branch(&cname)).ok_or_else(|| cname.clone())? else {
            continue;
        };
        match guard(|| read_branch(b)) {
            Some(Ok(Col::Flat(v))) => {
                if v.len() == entries && v.iter().all(|&c| c >= 0.0 && c.fract() == 0.0) {
                    return Ok(Some((cname, v.iter().map(|&c| c as usize).collect())));
                }
            }
            Some(Ok(Col::Jagged(_))) => {}
            // An unsupported type is not a count branch; a failed decode is a corrupt file.
            Some(Err(_)) if !supported(&b.interpretation()) => {}
            _ => return Err(cname),
        }
    }
    Ok(None)
}

/// Splits the values of all events again by `counts`. oxyroot 0.1.25 puts every value of a
/// basket into its first entry on some files (the 2015 NanoAOD test file); the count branch
/// gives the true event boundaries. `Err(total)` when the numbers of values disagree.
fn regroup(v: &[Vec<f32>], counts: &[usize]) -> std::result::Result<Vec<Vec<f32>>, usize> {
    if v.len() == counts.len() && v.iter().zip(counts).all(|(e, &c)| e.len() == c) {
        return Ok(v.to_vec());
    }
    let total: usize = v.iter().map(Vec::len).sum();
    if total != counts.iter().sum::<usize>() {
        return Err(total);
    }
    let mut flat = v.iter().flatten().copied();
    Ok(counts.iter().map(|&c| flat.by_ref().take(c).collect()).collect())
}

fn unsupported(b: &Branch) -> String {
    format!(
        "unsupported branch type '{}' (hepae reads numbers, fixed-size-count arrays and std::vector of numbers)",
        b.item_type_name()
    )
}

/// The output column name of each branch: the common `Prefix_` / `Prefix.` dropped when all
/// branches share it.
pub fn column_names(branches: &[String]) -> Vec<String> {
    let prefix = |s: &str| s.find(['_', '.']).map(|i| s[..=i].to_string());
    let common = branches
        .first()
        .and_then(|b| prefix(b))
        .filter(|p| branches.iter().all(|b| b.starts_with(p.as_str()) && b.len() > p.len()));
    branches
        .iter()
        .map(|b| match &common {
            Some(p) => b[p.len()..].to_string(),
            None => b.clone(),
        })
        .collect()
}

/// Reads `sel` from the ROOT file at `path` into one row per jet (or per event when every
/// branch is flat). Errors name the file, tree and branch (and event for ragged jets).
pub fn read_root(path: &Path, sel: &RootSelect) -> Result<RootTable> {
    let at = |branch: Option<&str>| {
        let mut l = Location::file(path);
        if let Some(b) = branch {
            l = l.column(format!("{}/{}", sel.tree, b));
        }
        l
    };
    if sel.branches.is_empty() && sel.collection.is_none() {
        return Err(Error::config(format!(
            "{}: ROOT input needs --branches (e.g. Jet_pt,Jet_eta,Jet_phi,Jet_mass) or --collection (e.g. Jet)",
            path.display()
        )));
    }
    for (i, b) in sel.branches.iter().enumerate() {
        if sel.branches[..i].contains(b) {
            return Err(Error::config(format!("--branches: '{b}' is listed twice")));
        }
    }
    let (head, file_len) = read_head(path).map_err(|e| Error::io(path, e))?;
    let (begin, end) = check_header(&head, file_len).map_err(|m| Error::data(at(None), m))?;
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    check_records(&mut f, begin, end).map_err(|m| Error::data(at(None), m))?;
    drop(f);
    let corrupt = |branch: Option<&str>, what: &str| Error::data(at(branch), format!("{CORRUPT}: {what}"));
    let mut file = match guard(|| RootFile::open(path)) {
        Some(Ok(f)) => f,
        _ => return Err(corrupt(None, "its top directory cannot be read")),
    };
    let keys: Vec<String> = guard(|| file.keys_name().map(str::to_string).collect()).unwrap_or_default();
    let tree = match guard(|| file.get_tree(&sel.tree)) {
        Some(Ok(t)) => t,
        _ if !keys.contains(&sel.tree) => {
            return Err(Error::data(at(None), format!("no tree '{}'; the file holds: {}", sel.tree, keys.join(", "))))
        }
        _ => return Err(corrupt(None, &format!("tree '{}' cannot be read", sel.tree))),
    };
    let tree_corrupt = || corrupt(None, &format!("the branch list of tree '{}' cannot be read", sel.tree));
    let entries = usize::try_from(guard(|| tree.entries()).ok_or_else(tree_corrupt)?).unwrap_or(0);
    let names = match (&sel.collection, sel.branches.is_empty()) {
        (Some(c), true) => guard(|| collection_branches(&tree, c)).ok_or_else(tree_corrupt)?.ok_or_else(|| {
            Error::data(at(None), format!("tree '{}' has no numeric branch {c}_* or {c}.*", sel.tree))
        })?,
        _ => sel.branches.clone(),
    };
    let mut cols = Vec::with_capacity(names.len());
    for name in &names {
        let b = guard(|| tree.branch(name))
            .ok_or_else(tree_corrupt)?
            .ok_or_else(|| Error::data(at(Some(name)), "no such branch in the tree".to_string()))?;
        let mut col = guard(|| read_branch(b))
            .ok_or_else(|| corrupt(Some(name), "its baskets cannot be decoded"))?
            .map_err(|m| Error::data(at(Some(name)), m))?;
        if let Col::Jagged(v) = &col {
            let counts = count_branch(&tree, name, entries)
                .map_err(|cname| corrupt(Some(&cname), "its baskets cannot be decoded"))?;
            if let Some((cname, counts)) = counts {
                col = Col::Jagged(regroup(v, &counts).map_err(|total| {
                    Error::data(
                        at(Some(name)),
                        format!(
                            "{total} values in all, but its count branch {cname} sums to {}",
                            counts.iter().sum::<usize>()
                        ),
                    )
                })?);
            }
        }
        if col.entries() != entries {
            return Err(Error::data(
                at(Some(name)),
                format!("branch has {} entries but the tree has {entries}", col.entries()),
            ));
        }
        cols.push(col);
    }

    let mut columns = column_names(&names);
    if sel.event_idx {
        if entries > (1 << 24) {
            return Err(Error::data(
                at(None),
                format!("{entries} events: event_idx above 2^24 is not exact in float32"),
            ));
        }
        columns.push("event_idx".into());
    }
    let width = columns.len();
    let jagged_ref = cols.iter().position(|c| matches!(c, Col::Jagged(_)));
    let mut data = Vec::new();
    let mut rows = 0usize;
    for ev in 0..entries {
        let n = match jagged_ref {
            None => 1,
            Some(r) => {
                let Col::Jagged(v) = &cols[r] else { unreachable!() };
                let n = v[ev].len();
                for (c, name) in cols.iter().zip(&names) {
                    if let Col::Jagged(w) = c {
                        if w[ev].len() != n {
                            return Err(Error::data(
                                at(Some(name)),
                                format!("event {ev}: {} values but {} has {n}", w[ev].len(), names[r]),
                            ));
                        }
                    }
                }
                n
            }
        };
        data.reserve(n * width);
        for j in 0..n {
            for c in &cols {
                data.push(match c {
                    Col::Flat(v) => v[ev],
                    Col::Jagged(v) => v[ev][j],
                });
            }
            if sel.event_idx {
                data.push(ev as f32);
            }
        }
        rows += n;
    }
    Ok(RootTable { columns, rows, data, events: entries })
}

/// A ROOT table read whole ([`read_root`]), served row by row to the import driver.
pub struct RootSource {
    path: PathBuf,
    table: RootTable,
    pos: usize,
    row: u64,
}

impl RootSource {
    pub fn open(path: &Path, sel: &RootSelect) -> Result<Self> {
        Ok(RootSource { path: path.to_path_buf(), table: read_root(path, sel)?, pos: 0, row: 0 })
    }
}

impl RowSource for RootSource {
    fn columns(&self) -> &[String] {
        &self.table.columns
    }

    fn next_row(&mut self, out: &mut [f32]) -> Result<Option<Location>> {
        let c = out.len();
        if self.pos + c > self.table.data.len() {
            return Ok(None);
        }
        out.copy_from_slice(&self.table.data[self.pos..self.pos + c]);
        self.pos += c;
        self.row += 1;
        Ok(Some(Location::file(&self.path).row(self.row)))
    }

    /// Jets (one row each).
    fn total_rows(&mut self) -> Result<u64> {
        Ok((self.table.data.len() / self.table.columns.len().max(1)) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::column_names;

    #[test]
    fn common_prefix_is_dropped_only_when_shared() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(column_names(&s(&["Jet_pt", "Jet_eta"])), s(&["pt", "eta"]));
        assert_eq!(column_names(&s(&["AnalysisJetsAuxDyn.pt", "AnalysisJetsAuxDyn.m"])), s(&["pt", "m"]));
        assert_eq!(column_names(&s(&["Jet_pt", "MET_pt"])), s(&["Jet_pt", "MET_pt"]));
        assert_eq!(column_names(&s(&["nJet"])), s(&["nJet"]));
    }
}
