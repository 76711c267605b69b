//! Gradient reduction, the seam between the shards' backward passes and the optimiser: every
//! shard leaves its gradient in its own slice of one buffer, a [`GradReduce`] sums them into
//! the first slice, then Adam steps on that. [`LocalShards`] sums this process's threads'
//! shards; across processes (MPI ranks) the session then sums the ranks' results in rank order
//! with [`super::ranks::World::sum_gradients`] (a collective that also needs mutable buffers and
//! can fail, so it is not this trait: see `ranks.rs`).

use rayon::prelude::*;
use std::ops::Range;
use std::sync::Arc;

/// Sums gradient shards in a fixed order, so that results do not depend on scheduling.
pub trait GradReduce: Send + Sync {
    /// `grads` holds `grads.len() / shard_len` shards of `shard_len` values each; on return the
    /// first shard's `range` holds the sum over all shards (added in shard order, element by
    /// element). Other values are unspecified.
    fn reduce(&self, grads: &mut [f32], shard_len: usize, range: Range<usize>);
}

/// Values per task of the parallel sum.
const CHUNK: usize = 8192;

/// The shards of this process's threads, summed in shard order, split across the pool by
/// parameter slices (same bits as the serial sum).
#[derive(Clone, Debug, Default)]
pub struct LocalShards {
    pub pool: Option<Arc<rayon::ThreadPool>>,
}

impl GradReduce for LocalShards {
    fn reduce(&self, grads: &mut [f32], shard_len: usize, range: Range<usize>) {
        if grads.len() <= shard_len {
            return;
        }
        let (first, rest) = grads.split_at_mut(shard_len);
        let rest: &[f32] = rest;
        let start = range.start;
        let g0 = &mut first[range];
        let work = |(i, gc): (usize, &mut [f32])| {
            let off = start + i * CHUNK;
            let len = gc.len();
            for s in rest.chunks_exact(shard_len) {
                for (g, h) in gc.iter_mut().zip(&s[off..off + len]) {
                    *g += h;
                }
            }
        };
        match &self.pool {
            Some(pool) => pool.install(|| g0.par_chunks_mut(CHUNK).enumerate().for_each(work)),
            None => g0.chunks_mut(CHUNK).enumerate().for_each(work),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_shards_sum_in_shard_order_over_the_range_only() {
        let p = 20_000; // more than two chunks
        let mut grads: Vec<f32> = (0..3 * p).map(|i| (i % 7) as f32 * 0.25 + (i / p) as f32).collect();
        let want: Vec<f32> = (0..p).map(|i| grads[i] + grads[p + i] + grads[2 * p + i]).collect();
        let before = grads[..p].to_vec();
        let pool = Arc::new(rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap());
        for reducer in [LocalShards { pool: None }, LocalShards { pool: Some(pool) }] {
            let mut g = grads.clone();
            reducer.reduce(&mut g, p, 5..p - 3);
            assert_eq!(&g[5..p - 3], &want[5..p - 3]);
            assert_eq!(&g[..5], &before[..5], "outside the range nothing is summed");
        }
        grads.truncate(p);
        LocalShards::default().reduce(&mut grads, p, 0..p);
        assert_eq!(grads, before, "one shard is its own sum");
    }
}
