//! The replay buffer of latent chain ends (persistent chains): a FIFO of up to `capacity`
//! rows of `d` values; a chain starts from a uniformly drawn stored row with probability
//! `ratio`, else afresh (the reference's `SampleBufferV2`).

use rand::Rng;

/// A ring of rows, preallocated.
#[derive(Clone, Debug, PartialEq)]
pub struct Replay {
    pub d: usize,
    pub capacity: usize,
    rows: Vec<f32>,
    len: usize,
    /// Where the next pushed row goes.
    next: usize,
}

impl Replay {
    pub fn new(capacity: usize, d: usize) -> Self {
        Replay { d, capacity, rows: vec![0.0; capacity * d], len: 0, next: 0 }
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Stores the first `n` rows of `x`, the oldest stored rows giving way when full.
    pub fn push(&mut self, x: &[f32], n: usize) {
        let d = self.d;
        if self.capacity == 0 {
            return;
        }
        for r in 0..n {
            self.rows[self.next * d..(self.next + 1) * d].copy_from_slice(&x[r * d..(r + 1) * d]);
            self.next = (self.next + 1) % self.capacity;
            self.len = (self.len + 1).min(self.capacity);
        }
    }
    /// Row `i` of the stored rows (0 = the oldest still stored).
    pub fn row(&self, i: usize) -> &[f32] {
        let start = if self.len < self.capacity { 0 } else { self.next };
        let j = (start + i) % self.capacity;
        &self.rows[j * self.d..(j + 1) * self.d]
    }
    /// Fills each of the first `n` rows of `out`: with probability `ratio` (when anything is
    /// stored) a stored row drawn uniformly with replacement, else `fresh(row)`. Returns how
    /// many rows came from the buffer.
    pub fn draw<R: Rng>(
        &self,
        out: &mut [f32],
        n: usize,
        ratio: f32,
        rng: &mut R,
        fresh: &mut dyn FnMut(&mut [f32], &mut R),
    ) -> usize {
        let d = self.d;
        let mut replayed = 0;
        for r in 0..n {
            let row = &mut out[r * d..(r + 1) * d];
            if !self.is_empty() && rng.random::<f32>() < ratio {
                row.copy_from_slice(self.row(rng.random_range(0..self.len)));
                replayed += 1;
            } else {
                fresh(row, rng);
            }
        }
        replayed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn fifo_keeps_the_newest_rows_and_draws_only_stored_ones() {
        let mut b = Replay::new(3, 2);
        b.push(&[1.0, 1.0, 2.0, 2.0], 2);
        assert_eq!((b.len(), b.row(0), b.row(1)), (2, &[1.0f32, 1.0][..], &[2.0f32, 2.0][..]));
        b.push(&[3.0, 3.0, 4.0, 4.0], 2);
        assert_eq!(b.len(), 3);
        assert_eq!([b.row(0)[0], b.row(1)[0], b.row(2)[0]], [2.0, 3.0, 4.0], "the oldest row gave way");
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let mut out = vec![0.0; 2 * 1000];
        let replayed = b.draw(&mut out, 1000, 0.7, &mut rng, &mut |row, _| row.fill(-1.0));
        let from_buffer = out.chunks(2).filter(|r| r[0] > 0.0).count();
        assert_eq!(from_buffer, replayed);
        assert!(out.chunks(2).all(|r| [-1.0, 2.0, 3.0, 4.0].contains(&r[0]) && r[0] == r[1]));
        // 1000 draws at ratio 0.7: 700 ± 3σ (σ = √(1000·0.7·0.3) ≈ 14.5).
        assert!((656..=744).contains(&replayed), "{replayed} of 1000 replayed at ratio 0.7");
        let empty = Replay::new(4, 2);
        assert_eq!(
            empty.draw(&mut out, 10, 1.0, &mut rng, &mut |row, _| row.fill(-1.0)),
            0,
            "nothing stored: all fresh"
        );
    }
}
