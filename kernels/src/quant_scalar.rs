//! The reference implementation of the reduced-precision kernels ([`crate::quant`]): plain
//! loops, the specification the SIMD sets are tested against.

use crate::check;
use crate::quant::{bf16_to_f32, f32_to_bf16, PackedBf16Pairs, PackedHalf, PackedI8};

/// The shapes of a packed dense call: out [m×n], x [m×k], bias (and scale) [n].
pub(crate) fn dense_lengths(
    kernel: &str,
    out: usize,
    x: usize,
    per_out: &[(&str, usize)],
    m: usize,
    k: usize,
    n: usize,
) {
    check::product(kernel, "out", out, ("m", m), ("n", n));
    check::product(kernel, "x", x, ("m", m), ("k", k));
    for &(name, len) in per_out {
        check::product(kernel, name, len, ("1", 1), ("n", n));
    }
}

/// out[r, j] = leaky(bias\[j] + Σ_q x[r, q]·W[j, q]), W widened from its 16-bit format, the
/// sum over q in order, leaky(u) = u if u > 0 else slope·u.
pub fn dense_half(out: &mut [f32], x: &[f32], w: &PackedHalf, bias: &[f32], m: usize, slope: f32) {
    let (k, n) = (w.k(), w.n());
    dense_lengths("dense_half", out.len(), x.len(), &[("bias", bias.len())], m, k, n);
    for r in 0..m {
        let o = &mut out[r * n..(r + 1) * n];
        o.copy_from_slice(bias);
        for q in 0..k {
            let xv = x[r * k + q];
            for (j, oj) in o.iter_mut().enumerate() {
                *oj += xv * w.get(j, q);
            }
        }
        for v in o.iter_mut() {
            if *v <= 0.0 {
                *v *= slope;
            }
        }
    }
}

/// out[r, j] = leaky(f32(Σ_q x[r, q]·W[j, q])·scale\[j] + bias\[j]), the sum exact in i32 (a
/// multiply, then an add: no fused rounding, so every set gives the same bits).
#[allow(clippy::too_many_arguments)]
pub fn dense_i8(out: &mut [f32], x: &[i8], w: &PackedI8, scale: &[f32], bias: &[f32], m: usize, slope: f32) {
    let (k, n) = (w.k(), w.n());
    dense_lengths("dense_i8", out.len(), x.len(), &[("scale", scale.len()), ("bias", bias.len())], m, k, n);
    for r in 0..m {
        for j in 0..n {
            let acc: i32 = (0..k).map(|q| x[r * k + q] as i32 * w.get(j, q) as i32).sum();
            let u = acc as f32 * scale[j] + bias[j];
            out[r * n + j] = if u > 0.0 { u } else { slope * u };
        }
    }
}

/// dst\[i] = round_ties_even(clamp(src\[i]·inv_scale, −127, 127)) (NaN gives −127).
pub fn quantize_i8(dst: &mut [i8], src: &[f32], inv_scale: f32) {
    check::equal("quantize_i8", &[("dst", dst.len()), ("src", src.len())]);
    for (d, &s) in dst.iter_mut().zip(src) {
        // f32::max returns the other operand for NaN: NaN → −127, as the SIMD max does
        // (`clamp` would keep the NaN).
        #[allow(clippy::manual_clamp)]
        let v = (s * inv_scale).max(-127.0).min(127.0);
        *d = v.round_ties_even() as i8;
    }
}

/// out[r, j] = leaky(bias\[j] + Σ_q bf16(x[r, q])·W[j, q]), the sum over q in order (each
/// product exact in f32).
pub fn dense_bf16_dot(out: &mut [f32], x: &[f32], w: &PackedBf16Pairs, bias: &[f32], m: usize, slope: f32) {
    let (k, n) = (w.k(), w.n());
    dense_lengths("dense_bf16_dot", out.len(), x.len(), &[("bias", bias.len())], m, k, n);
    for r in 0..m {
        let o = &mut out[r * n..(r + 1) * n];
        o.copy_from_slice(bias);
        for q in 0..k {
            let xv = bf16_to_f32(f32_to_bf16(x[r * k + q]));
            for (j, oj) in o.iter_mut().enumerate() {
                *oj += xv * w.get(j, q);
            }
        }
        for v in o.iter_mut() {
            if *v <= 0.0 {
                *v *= slope;
            }
        }
    }
}
