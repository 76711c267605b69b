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

/// What a corrupt file's error says after naming file, tree and branch.
const CORRUPT: &str = "corrupt or truncated ROOT file";

/// Checks the ROOT file header and the top directory record (the sizes and offsets oxyroot
/// trusts when it allocates and seeks) against the file's length, so a truncated or corrupt
/// header is reported plainly and never reaches the reader as an absurd allocation.
/// Layout: `root`, version, fBEGIN, then fEND, fSeekFree, fNbytesFree, nfree, fNbytesName,
/// fUnits, fCompress, fSeekInfo, fNbytesInfo (offsets 8 bytes wide from version 1000000).
fn check_header(bytes: &[u8], file_len: u64) -> std::result::Result<(i64, i64), String> {
    if bytes.len() < 4 || &bytes[..4] != b"root" {
        return Err("not a ROOT file (it does not begin with the ROOT signature 'root')".into());
    }
    let short = || format!("truncated ROOT file: {file_len} bytes, shorter than its header");
    let mut c = Cursor { bytes, at: 4 };
    let version = c.int(4).ok_or_else(short)?;
    let w = if version >= 1_000_000 { 8 } else { 4 };
    let begin = c.int(4).ok_or_else(short)?;
    let end = c.int(w).ok_or_else(short)?;
    let (seek_free, nbytes_free) = (c.int(w).ok_or_else(short)?, c.int(4).ok_or_else(short)?);
    let (_nfree, nbytes_name) = (c.int(4).ok_or_else(short)?, c.int(4).ok_or_else(short)?);
    c.at += 1 + 4; // fUnits, fCompress
    let (seek_info, nbytes_info) = (c.int(w).ok_or_else(short)?, c.int(4).ok_or_else(short)?);
    let len = i64::try_from(file_len).unwrap_or(i64::MAX);
    if end > len {
        return Err(format!("truncated ROOT file: its header says {end} bytes, the file has {len}"));
    }
    let inside = |seek: i64, n: i64| seek > 0 && n >= 0 && seek.checked_add(n).is_some_and(|e| e <= end);
    if !(begin > 0 && nbytes_name > 0 && inside(begin, nbytes_name)) {
        return Err(format!("{CORRUPT}: its header's top directory lies outside the file"));
    }
    if !inside(seek_info, nbytes_info) || (seek_free != 0 && !inside(seek_free, nbytes_free)) {
        return Err(format!("{CORRUPT}: its header's records lie outside the file"));
    }
    // The top directory (at fBEGIN + fNbytesName): version (2 bytes), two dates, fNbytesKeys,
    // fNbytesName, fSeekDir, fSeekParent, fSeekKeys (8-byte offsets from version 1000).
    let mut c = Cursor { bytes, at: (begin + nbytes_name) as usize };
    let keys = (|| {
        let w = if c.int(2)? > 1000 { 8 } else { 4 };
        c.at += 8;
        let nbytes_keys = c.int(4)?;
        c.at += 4 + 2 * w;
        Some((c.int(w)?, nbytes_keys))
    })();
    match keys {
        Some((seek_keys, nbytes_keys)) if inside(seek_keys, nbytes_keys) => Ok((begin, end)),
        _ => Err(format!("{CORRUPT}: its list of keys lies outside the file")),
    }
}

/// Big-endian integers read in sequence from a byte slice.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    /// The next `w`-byte (2, 4 or 8) signed big-endian integer; None past the end.
    fn int(&mut self, w: usize) -> Option<i64> {
        let b = self.bytes.get(self.at..self.at.checked_add(w)?)?;
        self.at += w;
        Some(match w {
            2 => i16::from_be_bytes(b.try_into().ok()?) as i64,
            4 => i32::from_be_bytes(b.try_into().ok()?) as i64,
            _ => i64::from_be_bytes(b.try_into().ok()?),
        })
    }
}

/// Walks the file's records from fBEGIN to fEND, as ROOT's `TFile::Map` does (each record a
/// TKey header whose fNbytes leads to the next; a negative fNbytes marks a free gap), and
/// checks each record's sizes before oxyroot allocates by them: the record fits in the file,
/// and a compressed record's blocks (9-byte headers: algorithm, method, compressed and
/// uncompressed sizes, 3 bytes each little-endian) fill it exactly and add up to its fObjlen.
/// A corrupt fObjlen or fNbytes would otherwise make the reader allocate up to 2 GiB per
/// basket, which aborts the process where memory is limited. The walk stops, accepting the
/// rest, at a record that does not name its own offset (fSeekKey): past that point it cannot
/// tell records from data.
fn check_records(file: &mut std::fs::File, begin: i64, end: i64) -> std::result::Result<(), String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut read_at = |at: i64, buf: &mut [u8]| -> bool {
        file.seek(SeekFrom::Start(at as u64)).is_ok() && file.read_exact(buf).is_ok()
    };
    let bad = |at: i64, what: &str| format!("{CORRUPT}: the record at byte {at} {what}");
    let mut pos = begin;
    while pos < end {
        let mut head = [0u8; 26];
        let n = head.len().min((end - pos) as usize);
        if n < 4 || !read_at(pos, &mut head[..n]) {
            return Err(bad(pos, "is cut short"));
        }
        let mut c = Cursor { bytes: &head[..n], at: 0 };
        let nbytes = c.int(4).unwrap_or(0);
        if nbytes < 0 {
            pos = pos.saturating_add(-nbytes); // a free gap
            continue;
        }
        let header = (|| {
            let version = c.int(2)?;
            let objlen = c.int(4)?;
            c.at += 4; // fDatime
            let keylen = c.int(2)?;
            c.at += 2; // fCycle
            let seek_key = c.int(if version > 1000 { 8 } else { 4 })?;
            Some((objlen, keylen, seek_key))
        })();
        let Some((objlen, keylen, _)) = header.filter(|h| h.2 == pos) else {
            return Ok(()); // not a record header we can trust: stop checking here
        };
        if nbytes == 0 {
            return Err(bad(pos, "has a size of 0"));
        }
        if pos.saturating_add(nbytes) > end {
            return Err(bad(pos, &format!("claims {nbytes} bytes, past the end of the file")));
        }
        if keylen < 18 || keylen > nbytes || objlen < 0 {
            return Err(bad(pos, "has impossible sizes in its header"));
        }
        if objlen != nbytes - keylen {
            // Compressed: the blocks must tile the record and add up to fObjlen.
            let (mut at, mut left, mut total) = (pos + keylen, nbytes - keylen, 0i64);
            while left > 0 {
                let mut h = [0u8; 9];
                if left < 9 || !read_at(at, &mut h) {
                    return Err(bad(pos, "ends inside a compressed block's header"));
                }
                let size3 = |b: &[u8]| b[0] as i64 | (b[1] as i64) << 8 | (b[2] as i64) << 16;
                let (csize, usize) = (size3(&h[3..6]), size3(&h[6..9]));
                if 9 + csize > left {
                    return Err(bad(pos, "has a compressed block larger than the record"));
                }
                total += usize;
                at += 9 + csize;
                left -= 9 + csize;
            }
            if total != objlen {
                return Err(bad(pos, &format!("says it holds {objlen} bytes, its compressed blocks hold {total}")));
            }
        }
        pos += nbytes;
    }
    Ok(())
}

/// The first bytes of `path` (enough for the header and the top directory record).
fn read_head(path: &Path) -> std::io::Result<(Vec<u8>, u64)> {
    use std::io::Read;
    let f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let mut head = Vec::with_capacity(4096);
    f.take(4096).read_to_end(&mut head)?;
    Ok((head, len))
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
