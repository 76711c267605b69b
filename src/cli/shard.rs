//! `--shard i/n`: one batch job's share of one large dataset, for `import`, `compress`, `score`
//! and `reconstruct` on a batch farm (HTCondor, Slurm job arrays; see examples/). Job `i` (0-based,
//! as HTCondor's `$(Process)` and `--array=0-(n-1)` number them) takes rows
//! `[i·⌈N/n⌉, min((i+1)·⌈N/n⌉, N))` and writes its own output, atomically; `hepae merge` joins
//! the n outputs, in order, into one dataset or archive set.

use crate::data::npy::Dataset;
use crate::error::{Error, Result};
use std::path::Path;

/// Shard `index` of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShardSpec {
    pub index: usize,
    pub count: usize,
}

impl std::str::FromStr for ShardSpec {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let bad = || format!("'{s}' is not i/n with 0 ≤ i < n (job i of n, counted from 0)");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (usize, usize) =
            (i.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(ShardSpec { index, count })
    }
}

/// Opens `path`, or only its shard when `shard` is given.
pub fn open(path: &Path, shard: Option<ShardSpec>) -> Result<Dataset> {
    let data = Dataset::open(path)?;
    match shard {
        Some(s) => data.shard(s.index, s.count),
        None => Ok(data),
    }
}

/// The error for a shard with no rows (more jobs than rows): refused, so that a job never
/// writes an empty output that looks like a result.
pub fn check_not_empty(data: &Dataset, shard: Option<ShardSpec>) -> Result<()> {
    match shard {
        Some(s) if data.rows() == 0 => Err(Error::config(format!(
            "--shard {}/{}: no rows of {} fall in this shard (more shards than rows?)",
            s.index,
            s.count,
            data.path().display()
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_specs_are_i_of_n_from_zero() {
        assert_eq!("2/8".parse::<ShardSpec>(), Ok(ShardSpec { index: 2, count: 8 }));
        for bad in ["8/8", "1/0", "x/2", "3", "-1/2"] {
            assert!(bad.parse::<ShardSpec>().is_err(), "{bad}");
        }
    }

    #[test]
    fn shards_cover_the_file_in_order_and_name_its_rows() {
        let data =
            || Dataset::open(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/dy_nano_v6.npy").as_ref()).unwrap();
        let all = data();
        let mut seen = Vec::new();
        for i in 0..5 {
            let s = data().shard(i, 5).unwrap();
            assert_eq!(s.first_row(), seen.len() / all.cols());
            seen.extend_from_slice(s.as_slice());
        }
        assert_eq!(seen, all.as_slice(), "188 rows in 5 shards (38 × 4 + 36), in order");
        assert_eq!(data().shard(4, 5).unwrap().rows(), 36);
    }
}
