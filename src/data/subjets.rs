//! Subjets of one jet, for centring a jet image on its hardest subjet
//! ([`crate::data::images::Centre::LeadingSubjet`]): the jet's constituents reclustered with
//! the anti-kT algorithm of radius R, written plainly (FastJet's "N2Plain" strategy, O(n²)
//! typical for n constituents).
//!
//! On (pT, x, y) with x = Δη and y = Δφ relative to the jet axis (already unwrapped):
//! - distances: d_ij = min(pT_i⁻², pT_j⁻²) · ΔR²_ij / R², d_iB = pT_i⁻², ΔR²_ij = Δx² + Δy²;
//! - repeat: take the smallest of all d_ij and d_iB; if d_ij, merge i and j into one
//!   pseudojet by the pT scheme (pT = pT_i + pT_j, (x, y) the pT-weighted mean; in these small
//!   angles the same as adding four-momenta to first order); if d_iB, i is a final subjet;
//! - the smallest d_ij is always between some i and its geometric nearest neighbour (the
//!   partner with the smaller pT⁻² has no closer neighbour), so each pseudojet keeps its
//!   nearest neighbour and only those whose neighbour changed are searched again.
//!
//! Work is f64; the scratch is reused across jets (no allocation once sized).

/// Pseudojet state for one clustering (reused across jets).
#[derive(Default, Debug)]
pub struct SubjetScratch {
    pt: Vec<f64>,
    x: Vec<f64>,
    y: Vec<f64>,
    /// pT⁻² (anti-kT's "kt²" factor).
    kt: Vec<f64>,
    alive: Vec<bool>,
    /// The geometric nearest alive neighbour and ΔR² to it (usize::MAX / ∞: none).
    nn: Vec<usize>,
    nn_dr2: Vec<f64>,
}

/// A final subjet: its pT and (x, y) (pT-weighted).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Subjet {
    pub pt: f64,
    pub x: f64,
    pub y: f64,
}

impl SubjetScratch {
    fn update_nn(&mut self, i: usize) {
        let (mut best, mut d) = (usize::MAX, f64::INFINITY);
        for j in 0..self.pt.len() {
            if j != i && self.alive[j] {
                let dr2 = (self.x[i] - self.x[j]).powi(2) + (self.y[i] - self.y[j]).powi(2);
                if dr2 < d {
                    (best, d) = (j, dr2);
                }
            }
        }
        self.nn[i] = best;
        self.nn_dr2[i] = d;
    }
}

/// The hardest (largest-pT) anti-kT subjet of radius `r` of the constituents (`pt`, `x`, `y`;
/// every pT > 0). `None` only when there is no constituent. Ties keep the first subjet found.
pub fn hardest_subjet(pt: &[f64], x: &[f64], y: &[f64], r: f64, s: &mut SubjetScratch) -> Option<Subjet> {
    let n = pt.len();
    assert!(x.len() == n && y.len() == n, "one (x, y) per constituent");
    s.pt.clear();
    s.pt.extend_from_slice(pt);
    s.x.clear();
    s.x.extend_from_slice(x);
    s.y.clear();
    s.y.extend_from_slice(y);
    s.kt.clear();
    s.kt.extend(pt.iter().map(|p| 1.0 / (p * p)));
    s.alive.clear();
    s.alive.resize(n, true);
    s.nn.clear();
    s.nn.resize(n, usize::MAX);
    s.nn_dr2.clear();
    s.nn_dr2.resize(n, f64::INFINITY);
    for i in 0..n {
        s.update_nn(i);
    }
    let r2 = r * r;
    let mut best: Option<Subjet> = None;
    for _ in 0..n {
        // The smallest distance: i's beam distance, or i with its nearest neighbour.
        let (mut di, mut dmin, mut pair) = (usize::MAX, f64::INFINITY, false);
        for i in (0..n).filter(|&i| s.alive[i]) {
            if s.kt[i] < dmin {
                (di, dmin, pair) = (i, s.kt[i], false);
            }
            let j = s.nn[i];
            if j != usize::MAX {
                let dij = s.kt[i].min(s.kt[j]) * s.nn_dr2[i] / r2;
                if dij < dmin {
                    (di, dmin, pair) = (i, dij, true);
                }
            }
        }
        if di == usize::MAX {
            break;
        }
        if !pair {
            s.alive[di] = false;
            let sub = Subjet { pt: s.pt[di], x: s.x[di], y: s.y[di] };
            if best.is_none_or(|b| sub.pt > b.pt) {
                best = Some(sub);
            }
            // Those whose nearest neighbour was di look again.
            for k in 0..n {
                if s.alive[k] && s.nn[k] == di {
                    s.update_nn(k);
                }
            }
            continue;
        }
        // Merge j into i by the pT scheme.
        let (i, j) = (di, s.nn[di]);
        let p = s.pt[i] + s.pt[j];
        s.x[i] = (s.pt[i] * s.x[i] + s.pt[j] * s.x[j]) / p;
        s.y[i] = (s.pt[i] * s.y[i] + s.pt[j] * s.y[j]) / p;
        s.pt[i] = p;
        s.kt[i] = 1.0 / (p * p);
        s.alive[j] = false;
        s.update_nn(i);
        for k in 0..n {
            if !s.alive[k] || k == i {
                continue;
            }
            if s.nn[k] == i || s.nn[k] == j {
                s.update_nn(k);
            } else {
                let dr2 = (s.x[i] - s.x[k]).powi(2) + (s.y[i] - s.y[k]).powi(2);
                if dr2 < s.nn_dr2[k] {
                    s.nn[k] = i;
                    s.nn_dr2[k] = dr2;
                }
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Anti-kT by its definition: every pair and every beam distance searched at every step.
    fn brute_force(pt: &[f64], x: &[f64], y: &[f64], r: f64) -> Vec<Subjet> {
        let mut js: Vec<Subjet> = (0..pt.len()).map(|i| Subjet { pt: pt[i], x: x[i], y: y[i] }).collect();
        let mut out = Vec::new();
        while !js.is_empty() {
            let (mut best, mut d) = ((0, None), f64::INFINITY);
            for i in 0..js.len() {
                let kt = js[i].pt.powi(-2);
                if kt < d {
                    (best, d) = ((i, None), kt);
                }
                for j in i + 1..js.len() {
                    let dr2 = (js[i].x - js[j].x).powi(2) + (js[i].y - js[j].y).powi(2);
                    let dij = kt.min(js[j].pt.powi(-2)) * dr2 / (r * r);
                    if dij < d {
                        (best, d) = ((i, Some(j)), dij);
                    }
                }
            }
            match best {
                (i, None) => out.push(js.remove(i)),
                (i, Some(j)) => {
                    let (a, b) = (js[i], js.remove(j));
                    let p = a.pt + b.pt;
                    js[i] = Subjet { pt: p, x: (a.pt * a.x + b.pt * b.x) / p, y: (a.pt * a.y + b.pt * b.y) / p };
                }
            }
        }
        out
    }

    /// Three prongs: a hard one of two close constituents, a softer one 0.5 away that is
    /// harder than either constituent of the first, and a soft one; R = 0.2 keeps them apart.
    #[test]
    fn the_hardest_subjet_is_the_merged_prong_not_the_hardest_constituent() {
        let pt = [60.0, 70.0, 100.0, 5.0];
        let x = [0.30, 0.36, -0.2, 0.0];
        let y = [0.10, 0.14, -0.1, 0.5];
        let mut s = SubjetScratch::default();
        let h = hardest_subjet(&pt, &x, &y, 0.2, &mut s).unwrap();
        assert_eq!(h.pt, 130.0, "the two close constituents merge into the hardest subjet");
        assert!((h.x - (60.0 * 0.30 + 70.0 * 0.36) / 130.0).abs() < 1e-15);
        assert!((h.y - (60.0 * 0.10 + 70.0 * 0.14) / 130.0).abs() < 1e-15);
        // With R = 1 everything is one subjet.
        let all = hardest_subjet(&pt, &x, &y, 1.0, &mut s).unwrap();
        assert_eq!(all.pt, 235.0);
        assert_eq!(hardest_subjet(&[], &[], &[], 0.2, &mut s), None);
    }

    #[test]
    fn nearest_neighbour_clustering_agrees_with_the_definition() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut s = SubjetScratch::default();
        for n in [1, 2, 3, 17, 60] {
            for r in [0.1, 0.2, 0.4] {
                let pt: Vec<f64> = (0..n).map(|_| rng.random_range(0.5..100.0)).collect();
                let x: Vec<f64> = (0..n).map(|_| rng.random_range(-0.8..0.8)).collect();
                let y: Vec<f64> = (0..n).map(|_| rng.random_range(-0.8..0.8)).collect();
                let want = brute_force(&pt, &x, &y, r);
                let hardest = want.iter().copied().fold(None, |b: Option<Subjet>, j| match b {
                    Some(b) if b.pt >= j.pt => Some(b),
                    _ => Some(j),
                });
                let got = hardest_subjet(&pt, &x, &y, r, &mut s);
                let (g, w) = (got.unwrap(), hardest.unwrap());
                assert!((g.pt - w.pt).abs() < 1e-9 && (g.x - w.x).abs() < 1e-12, "n {n}, R {r}: {g:?} vs {w:?}");
            }
        }
    }
}
