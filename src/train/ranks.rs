//! Data-parallel training across processes (ranks): what a run needs of them ([`Ranks`]),
//! and the [`World`] a session trains in, which splits every batch by rank, sums the ranks'
//! gradients in rank order, and makes every rank agree on each step's outcome.
//!
//! * Rows: rank r of R takes rows `[r·⌈n/R⌉, min((r+1)·⌈n/R⌉, n))` of every n-row batch
//!   (contiguous by rank, the same rule as the thread shards); its threads split those rows.
//! * Gradients: a rank-ordered reduce-scatter then all-gather. Parameter block j (of R equal
//!   blocks, the last padded) is summed by rank j as `g₀ + g₁ + … + g_{R−1}`, element by element
//!   in rank order, then every rank gathers every block. Each rank sends and receives 2·P·(R−1)/R
//!   values per step (P parameters), as a ring all-reduce does, but the order of the additions is
//!   fixed: the same (seed, ranks, threads) give the same bits, and R ranks × 1 thread give the
//!   bits of 1 rank × R threads (same rows, same summation order, same generators).
//! * Agreement: each step's status (a bad value, a non-finite loss) and loss are gathered from
//!   every rank, so that all ranks stop together with one error each, never with one rank
//!   waiting forever in a collective.
//!
//! [`ThreadRanks`] runs ranks as threads of one process (tests, and the proof of the above
//! without MPI); `super::mpi` implements [`Ranks`] over MPI behind the `mpi` feature.

use super::config::TrainConfig;
use crate::data::npy::Dataset;
use crate::error::{Error, Location, Result};
use crate::formats::model_file::DataFingerprint;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, Mutex};

/// The collectives a data-parallel run uses. Every rank calls the same collectives in the same
/// order with the same lengths; `all` receives every rank's `local`, in rank order.
pub trait Ranks {
    fn rank(&self) -> usize;
    fn size(&self) -> usize;
    fn all_gather_f64(&mut self, local: &[f64], all: &mut [f64]) -> Result<()>;
    fn all_gather_f32(&mut self, local: &[f32], all: &mut [f32]) -> Result<()>;
    /// Block j of `send` (`send.len() / size` values) goes to rank j; block i of `recv` comes
    /// from rank i.
    fn all_to_all_f32(&mut self, send: &[f32], recv: &mut [f32]) -> Result<()>;
}

/// Rows `[r·⌈n/R⌉, min((r+1)·⌈n/R⌉, n))` of `n` belong to rank `r` of `size`.
pub fn rank_range(n: usize, size: usize, rank: usize) -> Range<usize> {
    let per = n.div_ceil(size.max(1));
    let start = (rank * per).min(n);
    start..((rank + 1) * per).min(n)
}

/// The ranks a session trains on: one process alone ([`World::single`]) or R ranks, with the
/// buffers of the gradient sum (allocated once, for the largest parameter range).
pub struct World {
    ranks: Option<Box<dyn Ranks>>,
    send: Vec<f32>,
    recv: Vec<f32>,
    own: Vec<f32>,
    meta: Vec<f64>,
    /// Set when a collective saw a rank fail (this one or another): every rank knows, and
    /// stops with its own error; no rank is left waiting. Shared with the caller, who still
    /// holds it after the session (and this world) are gone.
    failed_together: Arc<AtomicBool>,
}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "World(rank {} of {})", self.rank(), self.size())
    }
}

/// Status words in the agreement buffers.
const OK: f64 = 0.0;
const FAILED: f64 = 1.0;

impl World {
    /// One process, no collectives.
    pub fn single() -> World {
        World {
            ranks: None,
            send: Vec::new(),
            recv: Vec::new(),
            own: Vec::new(),
            meta: Vec::new(),
            failed_together: Arc::default(),
        }
    }

    /// The ranks `ranks` (one rank is the same as [`World::single`], but still checked).
    pub fn new(ranks: Box<dyn Ranks>) -> World {
        World { ranks: Some(ranks), ..World::single() }
    }

    pub fn rank(&self) -> usize {
        self.ranks.as_ref().map_or(0, |r| r.rank())
    }

    pub fn size(&self) -> usize {
        self.ranks.as_ref().map_or(1, |r| r.size())
    }

    /// Whether this rank writes the run's files (rank 0).
    pub fn is_root(&self) -> bool {
        self.rank() == 0
    }

    /// Whether a collective saw a rank fail, so that every rank stops on its own (a failure
    /// outside a collective must instead abort the job: the others may be waiting in one).
    pub fn failed_together(&self) -> bool {
        self.failed_together.load(Ordering::Relaxed)
    }

    /// The flag behind [`World::failed_together`], to read after the world is dropped.
    pub fn failed_together_flag(&self) -> Arc<AtomicBool> {
        self.failed_together.clone()
    }

    /// Sizes the gradient buffers for parameter ranges up to `params` values (before the first
    /// step, so that the step allocates nothing).
    pub fn plan(&mut self, params: usize) {
        let r = self.size();
        if r > 1 {
            let block = params.div_ceil(r);
            self.send = vec![0.0; block * r];
            self.recv = vec![0.0; block * r];
            self.own = vec![0.0; block];
            self.meta = vec![0.0; 2 * r];
        }
    }

    /// Every rank's `local` outcome, agreed: this rank's own error if it failed; else an error
    /// naming the first rank that did (`what`: what was being done); else every rank's value,
    /// in rank order, through `each`. Allocates nothing once planned.
    pub fn agree(&mut self, local: Result<f64>, what: &str, mut each: impl FnMut(f64)) -> Result<()> {
        let Some(ranks) = self.ranks.as_mut() else {
            return local.map(each);
        };
        let r = ranks.size();
        let mine = match &local {
            Ok(v) => [OK, *v],
            Err(_) => [FAILED, 0.0],
        };
        if self.meta.len() < 2 * r {
            self.meta = vec![0.0; 2 * r];
        }
        ranks.all_gather_f64(&mine, &mut self.meta[..2 * r])?;
        let first_bad = (0..r).find(|&k| self.meta[2 * k] != OK);
        if first_bad.is_some() {
            self.failed_together.store(true, Ordering::Relaxed);
        }
        local?;
        if let Some(bad) = first_bad {
            return Err(Error::config(format!(
                "rank {} stops: rank {bad} of {r} failed while {what} (its error is in its output)",
                ranks.rank()
            )));
        }
        for k in 0..r {
            each(self.meta[2 * k + 1]);
        }
        Ok(())
    }

    /// The sum over ranks, in rank order, of `local`'s value (see [`World::agree`]).
    pub fn agree_sum(&mut self, local: Result<f64>, what: &str) -> Result<f64> {
        // Starts from rank 0's value (not 0.0), so that one rank's sum is its value's bits.
        let mut sum: Option<f64> = None;
        self.agree(local, what, |v| sum = Some(sum.map_or(v, |s| s + v)))?;
        Ok(sum.unwrap_or(0.0))
    }

    /// Checks that every rank runs the same configuration on the same data: `hash` (of the
    /// options and the data's fingerprint) must be rank 0's on every rank. `local` is this
    /// rank's start (its checks of the input), agreed first.
    pub fn check_same(&mut self, local: Result<()>, hash: u64) -> Result<()> {
        // f64 carries 52 bits exactly: the hash is compared in two 32-bit halves.
        let halves = [(hash >> 32) as f64, (hash & 0xffff_ffff) as f64];
        let mut seen = Vec::with_capacity(self.size());
        self.agree(local.map(|()| halves[0]), "starting", |v| seen.push(v))?;
        let mut lo = Vec::with_capacity(self.size());
        self.agree(Ok(halves[1]), "starting", |v| lo.push(v))?;
        if let Some(k) = (0..seen.len()).find(|&k| seen[k] != seen[0] || lo[k] != lo[0]) {
            self.failed_together.store(true, Ordering::Relaxed);
            return Err(Error::config(format!(
                "rank {} stops: rank {k}'s options or data differ from rank 0's (every rank must run the same command on the same dataset)",
                self.rank()
            )));
        }
        Ok(())
    }

    /// Merges one pass of a normaliser fit over the ranks (see
    /// [`crate::data::normalize::Normalizer::fit_with`]): `local` agreed first, then `sum`
    /// summed in rank order, `min` and `max` taken elementwise, the same on every rank.
    pub fn combine_stats(
        &mut self,
        local: Result<()>,
        sum: &mut [f64],
        min: &mut [f64],
        max: &mut [f64],
    ) -> Result<()> {
        self.agree(local.map(|()| 0.0), "fitting the normaliser", |_| {})?;
        let Some(ranks) = self.ranks.as_mut() else {
            return Ok(());
        };
        let r = ranks.size();
        let mine: Vec<f64> = sum.iter().chain(min.iter()).chain(max.iter()).copied().collect();
        let m = mine.len();
        let mut all = vec![0.0; m * r];
        ranks.all_gather_f64(&mine, &mut all)?;
        let (ns, nm) = (sum.len(), min.len());
        sum.copy_from_slice(&all[..ns]);
        for part in all.chunks_exact(m).skip(1) {
            for (s, p) in sum.iter_mut().zip(part) {
                *s += p;
            }
        }
        for part in all.chunks_exact(m) {
            for (i, v) in min.iter_mut().enumerate() {
                *v = v.min(part[ns + i]);
            }
            for (i, v) in max.iter_mut().enumerate() {
                *v = v.max(part[ns + nm + i]);
            }
        }
        Ok(())
    }

    /// Sums `g` (one rank's gradient over a parameter range) over the ranks in rank order,
    /// in place on every rank. See the module docs; allocates nothing once planned for
    /// `g.len()` values.
    pub fn sum_gradients(&mut self, g: &mut [f32]) -> Result<()> {
        let Some(ranks) = self.ranks.as_mut() else {
            return Ok(());
        };
        let r = ranks.size();
        if r == 1 {
            return Ok(());
        }
        let block = g.len().div_ceil(r);
        if self.own.len() < block {
            self.send = vec![0.0; block * r];
            self.recv = vec![0.0; block * r];
            self.own = vec![0.0; block];
        }
        let (send, recv, own) = (&mut self.send[..block * r], &mut self.recv[..block * r], &mut self.own[..block]);
        send[..g.len()].copy_from_slice(g);
        send[g.len()..].fill(0.0);
        ranks.all_to_all_f32(send, recv)?;
        own.copy_from_slice(&recv[..block]);
        for from in recv[block..].chunks_exact(block) {
            for (o, v) in own.iter_mut().zip(from) {
                *o += v;
            }
        }
        ranks.all_gather_f32(own, send)?;
        g.copy_from_slice(&send[..g.len()]);
        Ok(())
    }
}

/// The first NaN/Inf among dataset rows `rows` (one rank's block of the whole file), as an error
/// naming the path, the 1-based row and the column, as [`Dataset::check_finite`] does for all.
pub fn check_finite_rows(data: &Dataset, rows: Range<usize>) -> Result<()> {
    let c = data.cols();
    if c == 0 {
        return Ok(());
    }
    let all = data.as_slice();
    let step = crate::data::npy::RELEASE_BLOCK_ROWS;
    for start in rows.clone().step_by(step) {
        let end = (start + step).min(rows.end);
        let block = &all[start * c..end * c];
        if let Some(k) = block.iter().position(|v| !v.is_finite()) {
            let (r, col) = (start + k / c, k % c);
            return Err(Error::data(
                Location::file(data.path()).row(r as u64 + 1).column(data.columns()[col].clone()),
                format!("value {} is not finite", block[k]),
            ));
        }
        data.release_rows(start, end);
    }
    Ok(())
}

/// What must be the same on every rank: the options (threads included) and the data (shape and
/// content fingerprint, not the file's name), hashed (first 8 bytes of a SHA-256).
pub fn run_hash(data: &Dataset, cfg: &TrainConfig) -> u64 {
    use sha2::{Digest, Sha256};
    let fp = DataFingerprint::of(data);
    let mut h = Sha256::new();
    h.update(serde_json::to_vec(cfg).unwrap_or_default());
    h.update((fp.rows as u64).to_le_bytes());
    h.update((fp.cols as u64).to_le_bytes());
    h.update(fp.sample_hash.as_bytes());
    h.update(fp.content_sha256.unwrap_or_default().as_bytes());
    let d = h.finalize();
    u64::from_le_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
}

/// What the ranks of one process share: a slot per rank and a barrier.
struct Board {
    size: usize,
    barrier: Barrier,
    slots: Mutex<Vec<Vec<f64>>>,
    /// Set when a rank's thread ended before the others (a dead rank).
    gone: Mutex<Option<usize>>,
}

/// Ranks as threads of one process: rank r of [`ThreadRanks::world`]'s R handles. Each
/// collective exchanges through shared slots between two barriers. For tests and the in-process
/// proof of the rank split; a rank whose handle is dropped early makes the others' next
/// collective an error instead of a hang only if they have not yet reached the barrier, so tests
/// drop handles only after the run.
pub struct ThreadRanks {
    rank: usize,
    board: Arc<Board>,
}

impl ThreadRanks {
    /// R handles, one per rank (move each to its thread).
    pub fn world(size: usize) -> Vec<ThreadRanks> {
        let board = Arc::new(Board {
            size,
            barrier: Barrier::new(size),
            slots: Mutex::new(vec![Vec::new(); size]),
            gone: Mutex::new(None),
        });
        (0..size).map(|rank| ThreadRanks { rank, board: board.clone() }).collect()
    }

    /// Posts `mine`, waits for every rank, reads with `read` (slot of each rank, in rank
    /// order), then waits again so that no slot is overwritten while read.
    fn exchange(&mut self, mine: Vec<f64>, read: &mut dyn FnMut(&[Vec<f64>])) -> Result<()> {
        if let Some(r) = *self.board.gone.lock().map_err(|_| poisoned())? {
            return Err(Error::config(format!("rank {r} is gone")));
        }
        self.board.slots.lock().map_err(|_| poisoned())?[self.rank] = mine;
        self.board.barrier.wait();
        read(&self.board.slots.lock().map_err(|_| poisoned())?);
        self.board.barrier.wait();
        Ok(())
    }
}

fn poisoned() -> Error {
    Error::config("a rank thread panicked")
}

impl Ranks for ThreadRanks {
    fn rank(&self) -> usize {
        self.rank
    }
    fn size(&self) -> usize {
        self.board.size
    }
    fn all_gather_f64(&mut self, local: &[f64], all: &mut [f64]) -> Result<()> {
        let n = local.len();
        self.exchange(local.to_vec(), &mut |slots| {
            for (k, s) in slots.iter().enumerate() {
                all[k * n..(k + 1) * n].copy_from_slice(s);
            }
        })
    }
    fn all_gather_f32(&mut self, local: &[f32], all: &mut [f32]) -> Result<()> {
        let n = local.len();
        self.exchange(local.iter().map(|&v| v as f64).collect(), &mut |slots| {
            for (k, s) in slots.iter().enumerate() {
                for (a, &v) in all[k * n..(k + 1) * n].iter_mut().zip(s) {
                    *a = v as f32;
                }
            }
        })
    }
    fn all_to_all_f32(&mut self, send: &[f32], recv: &mut [f32]) -> Result<()> {
        let (size, me) = (self.board.size, self.rank);
        let block = send.len() / size;
        self.exchange(send.iter().map(|&v| v as f64).collect(), &mut |slots| {
            for (k, s) in slots.iter().enumerate() {
                for (a, &v) in recv[k * block..(k + 1) * block].iter_mut().zip(&s[me * block..(me + 1) * block]) {
                    *a = v as f32;
                }
            }
        })
    }
}

impl Drop for ThreadRanks {
    fn drop(&mut self) {
        if std::thread::panicking() {
            if let Ok(mut g) = self.board.gone.lock() {
                *g = Some(self.rank);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `f` on every rank of an in-process world of `size` ranks; results in rank order.
    fn on_ranks<T: Send + 'static>(size: usize, f: impl Fn(World) -> T + Send + Sync + 'static) -> Vec<T> {
        let f = Arc::new(f);
        let handles: Vec<_> = ThreadRanks::world(size)
            .into_iter()
            .map(|r| {
                let f = f.clone();
                std::thread::spawn(move || f(World::new(Box::new(r))))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    }

    #[test]
    fn rank_ranges_cover_a_batch_contiguously_in_rank_order() {
        for (n, size) in [(10, 3), (7, 7), (3, 5), (0, 2), (512, 2)] {
            let all: Vec<usize> = (0..size).flat_map(|r| rank_range(n, size, r)).collect();
            assert_eq!(all, (0..n).collect::<Vec<_>>(), "n {n}, {size} ranks");
        }
        assert_eq!(rank_range(10, 3, 2), 8..10);
    }

    #[test]
    fn gradients_are_summed_in_rank_order_the_same_on_every_rank() {
        // 3 ranks, 10 parameters (blocks of 4, the last padded); values whose sum depends on order.
        let out = on_ranks(3, |mut w| {
            let r = w.rank();
            let mut g: Vec<f32> = (0..10).map(|i| [1e8f32, 1.0, -1e8][r] + i as f32 * (r as f32 + 1.0) * 0.1).collect();
            w.plan(10);
            w.sum_gradients(&mut g).unwrap();
            g
        });
        let want: Vec<f32> = (0..10)
            .map(|i| {
                let v = |r: usize| [1e8f32, 1.0, -1e8][r] + i as f32 * (r as f32 + 1.0) * 0.1;
                v(0) + v(1) + v(2)
            })
            .collect();
        for g in &out {
            assert_eq!(g, &want, "every rank holds the rank-ordered sum");
        }
    }

    #[test]
    fn a_failing_rank_stops_every_rank_with_its_own_error_or_a_named_one() {
        let out = on_ranks(3, |mut w| {
            let r = w.rank();
            let local = if r == 1 { Err(Error::config("bad value on rank 1")) } else { Ok(r as f64) };
            let res = w.agree_sum(local, "training").map_err(|e| e.to_string());
            (res, w.failed_together())
        });
        assert_eq!(out[1], (Err("bad value on rank 1".into()), true));
        for k in [0, 2] {
            let (res, together) = &out[k];
            assert!(res.as_ref().unwrap_err().contains("rank 1 of 3 failed while training"), "{res:?}");
            assert!(together);
        }
        let sums = on_ranks(2, |mut w| w.agree_sum(Ok(w.rank() as f64 + 0.5), "x").unwrap());
        assert_eq!(sums, vec![2.0, 2.0]);
    }

    #[test]
    fn a_rank_with_other_options_stops_every_rank() {
        let out = on_ranks(2, |mut w| {
            // (hashes that differ only in the low bits, below an f64's 52-bit mantissa of the high half)
            let h = if w.rank() == 1 { 0x1234_5678_9abc_def1 } else { 0x1234_5678_9abc_def0 };
            w.check_same(Ok(()), h).map_err(|e| e.to_string())
        });
        for res in &out {
            assert!(res.as_ref().unwrap_err().contains("rank 1's options or data differ from rank 0's"), "{res:?}");
        }
        let same = on_ranks(2, |mut w| w.check_same(Ok(()), u64::MAX).is_ok());
        assert_eq!(same, vec![true, true]);
    }

    #[test]
    fn one_process_is_its_own_world() {
        let mut w = World::single();
        let mut g = vec![1.5f32, -2.0];
        w.sum_gradients(&mut g).unwrap();
        assert_eq!(g, vec![1.5, -2.0]);
        assert_eq!(w.agree_sum(Ok(3.0), "x").unwrap(), 3.0);
        assert!(w.agree_sum(Err(Error::config("mine")), "x").unwrap_err().to_string().contains("mine"));
        assert!(w.is_root() && w.size() == 1);
    }
}
