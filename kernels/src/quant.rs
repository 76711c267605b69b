//! Reduced-precision kernels: bf16/f16 weights × f32 activations, and int8 × int8 → int32
//! with a per-output-channel f32 rescale, for the quantised encoder (batch 1 first).
//!
//! - [`PackedHalf`]: a weight [n×k] (PyTorch layout) stored transposed, [k × npad] 16-bit
//!   values, npad = n rounded up to 16 (zero padding), so that every SIMD set reads whole
//!   vectors of 16-bit weights and widens them to f32 (bf16: shift left 16; f16: F16C).
//! - [`PackedI8`]: a weight [n×k] of int8 in [−127, 127], in groups of 4 inputs × 16 outputs,
//!   `[kg][nb][16][4]` (kg = ⌈k/4⌉, nb = ⌈n/16⌉, zero padding): one 64-byte vector per (input
//!   group, 16 outputs), the operand of AVX-512 VNNI's `vpdpbusd`; AVX2 and AVX-512BW read the
//!   same layout with `vpmaddubsw` + `vpmaddwd`. The column sums it keeps undo VNNI's unsigned
//!   offset (activation + 128).
//!
//! The int8 products are exact in every set (i32 accumulators), and the rescale is the same
//! f32 multiply then add, so [`QuantKernels::dense_i8`] gives bit-identical results on every
//! set; [`QuantKernels::dense_half`] differs from the scalar reference only by FMA rounding.
//!
//! Many rows at once run whole chains in row tiles: [`QuantKernels::batch_i8`]
//! ([`crate::quant_batch`], the bits of `quantize_i8` + `dense_i8` layer by layer) and
//! [`QuantKernels::batch_bf16_dot`] ([`crate::quant_batch_bf16`], the bits of this set's
//! `dense_bf16_dot` layer by layer).
//!
//! [`quant_sets`] lists every set this CPU runs (tests compare each with scalar);
//! [`quant_kernels`] is the one this process uses, following [`crate::kernels`]'s ISA choice
//! (`HEPAE_ISA`), with VNNI where the CPU has it.

use crate::Isa;
use std::sync::OnceLock;

/// Which 16-bit float a [`PackedHalf`] holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HalfKind {
    /// bfloat16: f32's exponent, 7 mantissa bits.
    Bf16,
    /// IEEE binary16: 5 exponent bits, 10 mantissa bits (max 65504).
    F16,
}

impl HalfKind {
    /// `x` rounded to this format (nearest, ties to even), as its bits.
    pub fn from_f32(self, x: f32) -> u16 {
        match self {
            HalfKind::Bf16 => f32_to_bf16(x),
            HalfKind::F16 => f32_to_f16(x),
        }
    }
    /// The value of `h` (exact).
    pub fn to_f32(self, h: u16) -> f32 {
        match self {
            HalfKind::Bf16 => bf16_to_f32(h),
            HalfKind::F16 => f16_to_f32(h),
        }
    }
}

/// bf16 bits → f32 (exact).
pub fn bf16_to_f32(h: u16) -> f32 {
    f32::from_bits((h as u32) << 16)
}

/// f32 → bf16 bits, round to nearest even; NaN stays a (quiet) NaN of the same sign.
pub fn f32_to_bf16(x: f32) -> u16 {
    let b = x.to_bits();
    if x.is_nan() {
        return ((b >> 16) as u16) | 0x0040;
    }
    let round = 0x7fff + ((b >> 16) & 1);
    (b.wrapping_add(round) >> 16) as u16
}

/// IEEE binary16 bits → f32 (exact, subnormals included).
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h as u32) & 0x8000) << 16;
    let exp = ((h >> 10) & 0x1f) as u32;
    let man = (h & 0x3ff) as u32;
    let bits = match exp {
        0 if man == 0 => sign,
        0 => {
            // Subnormal: man·2⁻²⁴, exact in f32.
            let v = man as f32 * f32::from_bits(0x3380_0000); // 2⁻²⁴
            return if sign != 0 { -v } else { v };
        }
        31 => sign | 0x7f80_0000 | (man << 13) | if man != 0 { 0x0040_0000 } else { 0 },
        _ => sign | ((exp + 112) << 23) | (man << 13),
    };
    f32::from_bits(bits)
}

/// f32 → IEEE binary16 bits, round to nearest even (as F16C's `vcvtps2ph` with rounding mode
/// 0): overflow to ±∞, gradual underflow, NaN stays a quiet NaN.
pub fn f32_to_f16(x: f32) -> u16 {
    let b = x.to_bits();
    let sign = ((b >> 16) & 0x8000) as u16;
    let exp = ((b >> 23) & 0xff) as i32;
    let man = b & 0x7f_ffff;
    if exp == 0xff {
        return sign | 0x7c00 | if man != 0 { 0x0200 | (man >> 13) as u16 } else { 0 };
    }
    let e = exp - 127 + 15; // the binary16 biased exponent
    if e >= 31 {
        return sign | 0x7c00;
    }
    if e <= 0 {
        // Subnormal or zero: the value is (1.man)·2^(exp−127); in units of 2⁻²⁴ it is
        // (0x80_0000 | man) >> (14 − e) (for normal inputs), rounded to nearest even.
        if e < -10 {
            return sign; // below half the smallest subnormal
        }
        let full = man | 0x80_0000;
        let shift = (14 - e) as u32;
        let q = full >> shift;
        let rem = full & ((1 << shift) - 1);
        let half = 1 << (shift - 1);
        let q = if rem > half || (rem == half && q & 1 == 1) { q + 1 } else { q };
        return sign | q as u16; // q = 0x400 carries into the smallest normal, as it should
    }
    let q = ((e as u32) << 10) | (man >> 13);
    let rem = man & 0x1fff;
    let q = if rem > 0x1000 || (rem == 0x1000 && q & 1 == 1) { q + 1 } else { q }; // may carry to ∞
    sign | q as u16
}

/// A dense weight in a 16-bit float, transposed and padded: [k × npad], element (q, j) the
/// weight from input q to output j; columns j ≥ n are zero.
#[derive(Clone, Debug, PartialEq)]
pub struct PackedHalf {
    kind: HalfKind,
    k: usize,
    n: usize,
    npad: usize,
    data: Vec<u16>,
}

impl PackedHalf {
    /// Packs `w` [n×k] (row j = output j's weights), already in `kind`'s bits. Panics unless
    /// `w.len()` = n·k.
    pub fn new(kind: HalfKind, w: &[u16], n: usize, k: usize) -> Self {
        crate::check::product("PackedHalf::new", "w", w.len(), ("n", n), ("k", k));
        let npad = n.div_ceil(16) * 16;
        let mut data = vec![0u16; k * npad];
        for j in 0..n {
            for q in 0..k {
                data[q * npad + j] = w[j * k + q];
            }
        }
        PackedHalf { kind, k, n, npad, data }
    }
    pub fn kind(&self) -> HalfKind {
        self.kind
    }
    /// Inputs.
    pub fn k(&self) -> usize {
        self.k
    }
    /// Outputs.
    pub fn n(&self) -> usize {
        self.n
    }
    /// Row stride of [`PackedHalf::data`] (n rounded up to 16).
    pub fn npad(&self) -> usize {
        self.npad
    }
    /// The packed values, [k × npad].
    pub fn data(&self) -> &[u16] {
        &self.data
    }
    /// Weight from input q to output j, as f32.
    pub fn get(&self, j: usize, q: usize) -> f32 {
        self.kind.to_f32(self.data[q * self.npad + j])
    }
}

/// A dense bf16 weight in pairs of inputs, the operand of AVX-512 BF16's `vdpbf16ps`:
/// `[kp][npad][2]` (kp = ⌈k/2⌉, npad = n rounded up to 16), element (p, j, t) the weight from
/// input 2p + t to output j (zero beyond k or n).
#[derive(Clone, Debug, PartialEq)]
pub struct PackedBf16Pairs {
    k: usize,
    n: usize,
    npad: usize,
    data: Vec<u16>,
}

impl PackedBf16Pairs {
    /// Packs `w` [n×k] of bf16 bits. Panics unless `w.len()` = n·k.
    pub fn new(w: &[u16], n: usize, k: usize) -> Self {
        crate::check::product("PackedBf16Pairs::new", "w", w.len(), ("n", n), ("k", k));
        let npad = n.div_ceil(16) * 16;
        let mut data = vec![0u16; k.div_ceil(2) * npad * 2];
        for j in 0..n {
            for q in 0..k {
                data[((q / 2) * npad + j) * 2 + q % 2] = w[j * k + q];
            }
        }
        PackedBf16Pairs { k, n, npad, data }
    }
    pub fn k(&self) -> usize {
        self.k
    }
    pub fn n(&self) -> usize {
        self.n
    }
    /// Outputs per packed pair row (n rounded up to 16).
    pub fn npad(&self) -> usize {
        self.npad
    }
    /// The packed bf16 bits, ⌈k/2⌉·npad·2 of them.
    pub fn data(&self) -> &[u16] {
        &self.data
    }
    /// Weight from input q to output j, as f32.
    pub fn get(&self, j: usize, q: usize) -> f32 {
        bf16_to_f32(self.data[((q / 2) * self.npad + j) * 2 + q % 2])
    }
}

/// A dense int8 weight in VNNI groups: `[kg][nb][16][4]`, byte t of lane l in block b of group
/// g the weight from input 4g + t to output 16b + l (zero beyond k or n), plus 128·Σ_q w[j, q]
/// per output (the VNNI offset correction).
#[derive(Clone, Debug, PartialEq)]
pub struct PackedI8 {
    k: usize,
    n: usize,
    kg: usize,
    nb: usize,
    data: Vec<i8>,
    colsum128: Vec<i32>,
}

impl PackedI8 {
    /// Packs `w` [n×k] (row j = output j's weights). Panics unless `w.len()` = n·k and every
    /// weight is in [−127, 127] (−128 would overflow the sign trick of the non-VNNI sets).
    pub fn new(w: &[i8], n: usize, k: usize) -> Self {
        crate::check::product("PackedI8::new", "w", w.len(), ("n", n), ("k", k));
        if let Some(i) = w.iter().position(|&v| v == i8::MIN) {
            panic!("hepae-kernels::PackedI8::new: weight {i} is −128 (the int8 kernels take [−127, 127])");
        }
        let (kg, nb) = (k.div_ceil(4), n.div_ceil(16));
        let mut data = vec![0i8; kg * nb * 64];
        let mut colsum128 = vec![0i32; nb * 16];
        for j in 0..n {
            for q in 0..k {
                let v = w[j * k + q];
                data[((q / 4 * nb + j / 16) * 16 + j % 16) * 4 + q % 4] = v;
                colsum128[j] += 128 * v as i32;
            }
        }
        PackedI8 { k, n, kg, nb, data, colsum128 }
    }
    /// Inputs.
    pub fn k(&self) -> usize {
        self.k
    }
    /// Outputs.
    pub fn n(&self) -> usize {
        self.n
    }
    /// Input groups of 4 (⌈k/4⌉).
    pub fn groups(&self) -> usize {
        self.kg
    }
    /// Output blocks of 16 (⌈n/16⌉).
    pub fn blocks(&self) -> usize {
        self.nb
    }
    /// The packed bytes, kg·nb·64 of them.
    pub fn data(&self) -> &[i8] {
        &self.data
    }
    /// 128·Σ_q w[j, q] per output, padded to nb·16.
    pub fn colsum128(&self) -> &[i32] {
        &self.colsum128
    }
    /// Weight from input q to output j.
    pub fn get(&self, j: usize, q: usize) -> i8 {
        self.data[((q / 4 * self.nb + j / 16) * 16 + j % 16) * 4 + q % 4]
    }
}

/// out[m×n] = leaky(x[m×k] · Wᵀ + bias), W a [`PackedHalf`]; `x`, `bias`, `out` exactly m·k,
/// n, m·n long.
pub type DenseHalfFn = fn(out: &mut [f32], x: &[f32], w: &PackedHalf, bias: &[f32], m: usize, slope: f32);
/// out[r, j] = leaky(f32(Σ_q x[r, q]·W[j, q]) · scale\[j] + bias\[j]) with the sum exact in i32,
/// W a [`PackedI8`]; `x` [m×k], `scale` and `bias` \[n], `out` [m×n] exactly.
pub type DenseI8Fn = fn(out: &mut [f32], x: &[i8], w: &PackedI8, scale: &[f32], bias: &[f32], m: usize, slope: f32);
/// out[r, j] = leaky(bias\[j] + Σ_q bf16(x[r, q])·W[j, q]): activations rounded to bf16 (nearest
/// even), products exact, sums in f32; W a [`PackedBf16Pairs`]; `x` [m×k], `bias` \[n], `out`
/// [m×n] exactly.
pub type DenseBf16DotFn = fn(out: &mut [f32], x: &[f32], w: &PackedBf16Pairs, bias: &[f32], m: usize, slope: f32);
/// dst\[i] = round_ties_even(clamp(src\[i]·inv_scale, −127, 127)); `dst`, `src` of equal length
/// (NaN gives −127).
pub type QuantizeI8Fn = fn(dst: &mut [i8], src: &[f32], inv_scale: f32);

/// One set of reduced-precision kernels.
#[derive(Clone, Copy)]
pub struct QuantKernels {
    /// The set's name: scalar, avx2, avx2-vnni, avx512, avx512-vnni, avx512-vnni-bf16.
    pub name: &'static str,
    /// The f32 set it goes with.
    pub isa: Isa,
    pub dense_half: DenseHalfFn,
    pub dense_i8: DenseI8Fn,
    pub quantize_i8: QuantizeI8Fn,
    /// bf16 × bf16 dot products (AVX-512 BF16 `vdpbf16ps` in the `-bf16` set; the other sets
    /// carry the scalar reference).
    pub dense_bf16_dot: DenseBf16DotFn,
    /// A whole int8 chain over many rows in row tiles ([`crate::quant_batch`]): the bits of
    /// `quantize_i8` then `dense_i8` layer by layer.
    pub batch_i8: crate::quant_batch::QuantBatchFn,
    /// A whole bf16 × bf16 chain over many rows in row tiles ([`crate::quant_batch_bf16`]):
    /// the bits of `dense_bf16_dot` layer by layer.
    pub batch_bf16_dot: crate::quant_batch_bf16::Bf16BatchFn,
}

/// The scalar reference set (the specification).
pub static SCALAR: QuantKernels = QuantKernels {
    name: "scalar",
    isa: Isa::Scalar,
    dense_half: crate::quant_scalar::dense_half,
    dense_i8: crate::quant_scalar::dense_i8,
    quantize_i8: crate::quant_scalar::quantize_i8,
    dense_bf16_dot: crate::quant_scalar::dense_bf16_dot,
    batch_i8: crate::quant_batch::forward_scalar,
    batch_bf16_dot: crate::quant_batch_bf16::forward_scalar,
};

/// Every set this CPU can run, scalar first, then by width (VNNI after its plain set).
pub fn quant_sets() -> Vec<&'static QuantKernels> {
    #[allow(unused_mut)]
    let mut v: Vec<&'static QuantKernels> = vec![&SCALAR];
    #[cfg(target_arch = "x86_64")]
    {
        use crate::{quant_avx2, quant_avx512};
        let has = |f: &str| match f {
            "avx2" => {
                is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") && is_x86_feature_detected!("f16c")
            }
            "avxvnni" => is_x86_feature_detected!("avxvnni"),
            "avx512" => is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bw"),
            "avx512vnni" => is_x86_feature_detected!("avx512vnni"),
            "avx512bf16" => is_x86_feature_detected!("avx512bf16") && is_x86_feature_detected!("avx512vl"),
            _ => false,
        };
        if has("avx2") {
            v.push(&quant_avx2::TABLE);
            if has("avxvnni") {
                v.push(&quant_avx2::TABLE_VNNI);
            }
        }
        if has("avx512") {
            v.push(&quant_avx512::TABLE);
            if has("avx512vnni") {
                v.push(&quant_avx512::TABLE_VNNI);
                if has("avx512bf16") {
                    v.push(&quant_avx512::TABLE_VNNI_BF16);
                }
            }
        }
    }
    v
}

/// The best set of `isa`'s width this CPU runs (VNNI if present), or None.
pub fn quant_kernels_for(isa: Isa) -> Option<&'static QuantKernels> {
    quant_sets().into_iter().rfind(|k| k.isa == isa)
}

/// The set this process uses: the widest one at or below [`crate::kernels`]'s ISA (so
/// `HEPAE_ISA` forces it too), chosen once.
pub fn quant_kernels() -> &'static QuantKernels {
    static CHOSEN: OnceLock<&'static QuantKernels> = OnceLock::new();
    CHOSEN.get_or_init(|| {
        let isa = crate::kernels().isa;
        quant_sets().into_iter().rfind(|k| k.isa as u8 <= isa as u8).unwrap_or(&SCALAR)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_give_hand_computed_bits() {
        assert_eq!(f32_to_bf16(1.0), 0x3f80);
        assert_eq!(bf16_to_f32(0x3f80), 1.0);
        // 1 + 2⁻⁸ is halfway between bf16 1 and 1 + 2⁻⁷: ties to even (1).
        assert_eq!(f32_to_bf16(1.0 + 1.0 / 256.0), 0x3f80);
        assert_eq!(f32_to_bf16(1.0 + 3.0 / 256.0), 0x3f82);
        assert_eq!(f32_to_f16(1.0), 0x3c00);
        assert_eq!(f32_to_f16(65504.0), 0x7bff);
        assert_eq!(f32_to_f16(65520.0), 0x7c00, "rounds to ∞");
        assert_eq!(f32_to_f16(-2.0), 0xc000);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f32_to_f16(2f32.powi(-25)), 0, "half the smallest subnormal ties to 0");
        assert_eq!(f32_to_f16(2f32.powi(-25) * 1.5), 1);
        assert!(f16_to_f32(f32_to_f16(f32::NAN)).is_nan());
    }

    #[test]
    fn packing_keeps_every_weight_in_place() {
        let (n, k) = (17, 6);
        let w: Vec<i8> = (0..n * k).map(|i| (i % 200) as i8 - 90).map(|v: i8| v.max(-127)).collect();
        let p = PackedI8::new(&w, n, k);
        assert_eq!((p.groups(), p.blocks(), p.data().len()), (2, 2, 2 * 2 * 64));
        for j in 0..n {
            for q in 0..k {
                assert_eq!(p.get(j, q), w[j * k + q]);
            }
            assert_eq!(p.colsum128()[j], 128 * w[j * k..(j + 1) * k].iter().map(|&v| v as i32).sum::<i32>());
        }
        let h: Vec<u16> = (0..n * k).map(|i| f32_to_bf16(i as f32)).collect();
        let ph = PackedHalf::new(HalfKind::Bf16, &h, n, k);
        assert_eq!(ph.npad(), 32);
        assert_eq!(ph.get(16, 5), (16 * k + 5) as f32);
    }
}
