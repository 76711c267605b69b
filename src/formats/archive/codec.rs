//! What goes inside the archive's blocks: latent values packed to their stored dtype and
//! byte-shuffled, and in error-bounded mode the residuals against the decoder's prediction,
//! quantised per value under its column's bound and written as zigzag varints.
//!
//! Residual stream of one block (before zstd): the CRC32 of the predictions it is relative to,
//! then per value (row-major, `rows × columns`) one of
//! * `varint(zigzag(q) + 2)`: the value is rebuilt as `p + q·step(bound, p)`
//!   (`round(p) + q` for an exact column);
//! * `1`: an exact +0.0 (common in jet data: empty energy fractions, which a relative bound
//!   could only store exactly);
//! * `0` followed by the value's 4 raw f32 bytes (the bound could not be met by quantisation).

use super::entropy::{get_varint, put_varint, unzigzag, zigzag};
use crate::data::normalize::{momentum_component, Momentum};
use crate::data::npy::Dataset;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// Storage type of the latent values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LatentDtype {
    #[default]
    F32,
    F16,
    Bf16,
}

impl LatentDtype {
    /// Bytes per stored value.
    pub fn bytes(self) -> usize {
        match self {
            LatentDtype::F32 => 4,
            _ => 2,
        }
    }
    /// Mantissa bits of the stored type (the most `truncate_bits` can zero).
    pub fn mantissa_bits(self) -> u32 {
        match self {
            LatentDtype::F32 => 23,
            LatentDtype::F16 => 10,
            LatentDtype::Bf16 => 7,
        }
    }
}

impl std::str::FromStr for LatentDtype {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "f32" => Ok(LatentDtype::F32),
            "f16" => Ok(LatentDtype::F16),
            "bf16" => Ok(LatentDtype::Bf16),
            _ => Err(Error::config(format!("--latent-dtype '{s}' is not f32, f16 or bf16"))),
        }
    }
}

/// The guarantee for one column in error-bounded mode.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "lowercase")]
pub enum Bound {
    /// |out − in| ≤ value·|in|.
    Rel { value: f64 },
    /// |out − in| ≤ value.
    Abs { value: f64 },
    /// out = in (integer-valued columns: multiplicities, flags).
    Exact,
}

/// The default bound policy for a relative bound `rel`: η and φ (which cross zero) get the
/// same value as an absolute bound in their own units, integer-valued columns are exact,
/// every other column gets the relative bound. `abs` overrides name → absolute bound.
pub fn default_bounds(data: &Dataset, rel: Option<f64>, abs: &[(String, f64)], abs_all: Option<f64>) -> Vec<Bound> {
    let integer = integer_columns(data);
    data.columns()
        .iter()
        .enumerate()
        .map(|(c, name)| {
            if let Some((_, v)) = abs.iter().find(|(n, _)| n == name) {
                return Bound::Abs { value: *v };
            }
            if integer[c] {
                return Bound::Exact;
            }
            if let Some(v) = abs_all {
                return Bound::Abs { value: v };
            }
            match (momentum_component(name), rel) {
                (Some(Momentum::Eta) | Some(Momentum::Phi), Some(r)) => Bound::Abs { value: r },
                (_, Some(r)) => Bound::Rel { value: r },
                (_, None) => Bound::Exact,
            }
        })
        .collect()
}

/// Columns whose every value is an integer of magnitude < 2²⁴ (scanned once, in blocks).
pub fn integer_columns(data: &Dataset) -> Vec<bool> {
    let d = data.cols();
    let mut int = vec![true; d];
    let all = data.as_slice();
    let block = crate::data::npy::RELEASE_BLOCK_ROWS;
    for start in (0..data.rows()).step_by(block) {
        let end = (start + block).min(data.rows());
        for row in all[start * d..end * d].chunks_exact(d) {
            for (flag, v) in int.iter_mut().zip(row) {
                if *flag && (v.fract() != 0.0 || v.abs() >= 16_777_216.0) {
                    *flag = false;
                }
            }
        }
        data.release_rows(start, end);
        if !int.contains(&true) {
            break;
        }
    }
    int
}

/// CRC32 of a block's predictions, to check that decompression reproduces them bit for bit.
pub fn prediction_crc(p: &[f32]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    for v in p {
        h.update(&v.to_bits().to_le_bytes());
    }
    h.finalize()
}

/// Latent f32 values → stored bytes (dtype, `truncate` low mantissa bits zeroed), shuffled.
/// `raw` is scratch space.
pub(crate) fn pack_latents(z: &[f32], dtype: LatentDtype, truncate: u32, raw: &mut Vec<u8>, out: &mut Vec<u8>) {
    raw.clear();
    for &v in z {
        match dtype {
            LatentDtype::F32 => raw.extend_from_slice(&(v.to_bits() & !((1u32 << truncate.min(23)) - 1)).to_le_bytes()),
            LatentDtype::F16 => raw.extend_from_slice(
                &(half::f16::from_f32(v).to_bits() & !((1u16 << truncate.min(10)) - 1)).to_le_bytes(),
            ),
            LatentDtype::Bf16 => raw.extend_from_slice(
                &(half::bf16::from_f32(v).to_bits() & !((1u16 << truncate.min(7)) - 1)).to_le_bytes(),
            ),
        }
    }
    shuffle(raw, dtype.bytes(), out);
}

/// Stored (shuffled) bytes → latent f32 values. `raw` is scratch space.
pub(crate) fn unpack_latents(bytes: &[u8], dtype: LatentDtype, raw: &mut Vec<u8>, out: &mut Vec<f32>) {
    let s = dtype.bytes();
    unshuffle(bytes, s, raw);
    out.clear();
    for c in raw.chunks_exact(s) {
        out.push(match dtype {
            LatentDtype::F32 => f32::from_le_bytes([c[0], c[1], c[2], c[3]]),
            LatentDtype::F16 => half::f16::from_bits(u16::from_le_bytes([c[0], c[1]])).to_f32(),
            LatentDtype::Bf16 => half::bf16::from_bits(u16::from_le_bytes([c[0], c[1]])).to_f32(),
        });
    }
}

/// Byte-shuffle: byte b of every element together (helps the lossless stage on floats).
pub fn shuffle(raw: &[u8], size: usize, out: &mut Vec<u8>) {
    let n = raw.len() / size;
    out.clear();
    out.resize(raw.len(), 0);
    for i in 0..n {
        for b in 0..size {
            out[b * n + i] = raw[i * size + b];
        }
    }
}

/// Inverse of [`shuffle`].
pub fn unshuffle(sh: &[u8], size: usize, out: &mut Vec<u8>) {
    let n = sh.len() / size;
    out.clear();
    out.resize(n * size, 0);
    for i in 0..n {
        for b in 0..size {
            out[i * size + b] = sh[b * n + i];
        }
    }
}

/// The most bytes one value takes in a residual stream (a 10-byte varint; raw values take 5).
pub(crate) const MAX_RESIDUAL_BYTES_PER_VALUE: usize = 10;

/// Quantisation step of a value under a bound, from the prediction `p` only (the
/// decompressor knows p, not the original).
fn step_for(bound: Bound, p: f32) -> f32 {
    match bound {
        // 2·ε·|p|/(1 + ε) keeps |x − x̂| ≤ ε·|x| when x is near p; verified per value anyway.
        Bound::Rel { value } => (2.0 * value * (p.abs() as f64) / (1.0 + value)) as f32,
        Bound::Abs { value } => (2.0 * value) as f32,
        Bound::Exact => 1.0,
    }
}

/// The value a decompressor rebuilds from prediction p and quantum q.
fn rebuild(bound: Bound, p: f32, q: i64) -> f32 {
    match bound {
        Bound::Exact => p.round() + q as f32,
        _ => p + (q as f32) * step_for(bound, p),
    }
}

/// Whether `y` stands for `x` under `bound`.
pub fn within(bound: Bound, x: f32, y: f32) -> bool {
    let e = (x as f64 - y as f64).abs();
    match bound {
        Bound::Rel { value } => e <= value * (x as f64).abs(),
        Bound::Abs { value } => e <= value,
        Bound::Exact => x.to_bits() == y.to_bits() || x == y,
    }
}

/// Format 2's writer (`CompressOptions::format = 2`). Appends the residual stream of rows `x` (row-major, `bounds.len()` columns) against
/// predictions `p` to `out`, and writes into `decoded` exactly what [`decode_residuals`] will
/// rebuild. Returns the number of values stored raw.
pub(crate) fn encode_residuals(x: &[f32], p: &[f32], bounds: &[Bound], out: &mut Vec<u8>, decoded: &mut [f32]) -> u64 {
    let d = bounds.len();
    let mut raw = 0;
    for (i, ((&xv, &pv), dv)) in x.iter().zip(p).zip(decoded.iter_mut()).enumerate() {
        let b = bounds[i % d];
        let st = step_for(b, pv);
        let q = if b == Bound::Exact {
            (xv as f64 - pv.round() as f64).round()
        } else {
            ((xv as f64 - pv as f64) / st as f64).round()
        };
        let rebuilt = if q.is_finite() && q.abs() < 1e15 { rebuild(b, pv, q as i64) } else { f32::NAN };
        let ok =
            q.is_finite() && q.abs() < 1e15 && pv.is_finite() && st.is_finite() && (st > 0.0) && within(b, xv, rebuilt);
        if xv == 0.0 && xv.is_sign_positive() {
            out.push(1);
            *dv = 0.0;
        } else if ok {
            put_varint(zigzag(q as i64) + 2, out);
            *dv = rebuilt;
        } else {
            out.push(0);
            out.extend_from_slice(&xv.to_bits().to_le_bytes());
            *dv = xv;
            raw += 1;
        }
    }
    raw
}

/// Rebuilds `out.len()` values from a residual stream and their predictions `p`; `None` when
/// the stream is malformed or does not end exactly after the last value.
pub(crate) fn decode_residuals(bytes: &[u8], p: &[f32], bounds: &[Bound], out: &mut [f32]) -> Option<()> {
    let d = bounds.len();
    let mut pos = 0;
    for (i, o) in out.iter_mut().enumerate() {
        let v = get_varint(bytes, &mut pos)?;
        *o = match v {
            0 => {
                let b = bytes.get(pos..pos + 4)?;
                pos += 4;
                f32::from_bits(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            }
            1 => 0.0,
            _ => rebuild(bounds[i % d], p[i], unzigzag(v - 2)),
        };
    }
    (pos == bytes.len()).then_some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuffle_and_varints_invert() {
        let raw: Vec<u8> = (0..=255u8).cycle().take(4 * 37).collect();
        let (mut sh, mut back) = (Vec::new(), Vec::new());
        shuffle(&raw, 4, &mut sh);
        assert_ne!(sh, raw);
        unshuffle(&sh, 4, &mut back);
        assert_eq!(back, raw);
        for q in [0i64, 1, -1, 63, -64, 1 << 40, -(1 << 40), i64::MAX / 4] {
            let mut b = Vec::new();
            put_varint(zigzag(q), &mut b);
            assert!(b.len() <= MAX_RESIDUAL_BYTES_PER_VALUE);
            let mut pos = 0;
            assert_eq!(get_varint(&b, &mut pos).map(unzigzag), Some(q));
            assert_eq!(pos, b.len());
        }
    }

    #[test]
    fn residuals_rebuild_what_the_encoder_promised_and_meet_every_bound() {
        let bounds = [Bound::Rel { value: 1e-3 }, Bound::Abs { value: 1e-2 }, Bound::Exact];
        let x = [100.0f32, 0.5, 7.0, 0.0, -2.25, 3.0, 1e30, f32::MIN_POSITIVE, 12.0, -0.0, 1.0, -4.0];
        let p = [99.0f32, 0.49, 6.6, 1.0, -2.0, 2.0, 0.0, 1.0, 11.0, 0.0, f32::NAN, -3.0];
        let (mut stream, mut promised, mut rebuilt) = (Vec::new(), vec![0.0; 12], vec![0.0; 12]);
        let raw = encode_residuals(&x, &p, &bounds, &mut stream, &mut promised);
        assert!(raw >= 2, "1e30 against a prediction of 0 and a NaN prediction are stored raw");
        decode_residuals(&stream, &p, &bounds, &mut rebuilt).unwrap();
        for (i, (&a, &b)) in promised.iter().zip(&rebuilt).enumerate() {
            assert_eq!(a.to_bits(), b.to_bits(), "value {i}");
            assert!(within(bounds[i % 3], x[i], b), "value {i}: {} rebuilt as {b}", x[i]);
        }
        assert!(decode_residuals(&stream[..stream.len() - 1], &p, &bounds, &mut rebuilt).is_none());
        stream.push(1);
        assert!(decode_residuals(&stream, &p, &bounds, &mut rebuilt).is_none(), "trailing bytes");
    }

    #[test]
    fn latents_pack_to_their_dtype_and_back() {
        let z = [1.0f32, -0.333_333_34, 1234.5678, 0.0, -1e-3];
        let (mut scratch, mut packed, mut back) = (Vec::new(), Vec::new(), Vec::new());
        for (dtype, tol) in [(LatentDtype::F32, 0.0), (LatentDtype::F16, 1e-3), (LatentDtype::Bf16, 8e-3)] {
            pack_latents(&z, dtype, 0, &mut scratch, &mut packed);
            assert_eq!(packed.len(), z.len() * dtype.bytes());
            unpack_latents(&packed, dtype, &mut scratch, &mut back);
            for (a, b) in z.iter().zip(&back) {
                assert!((a - b).abs() <= tol * a.abs(), "{dtype:?}: {a} -> {b}");
            }
        }
        pack_latents(&z, LatentDtype::F32, 8, &mut scratch, &mut packed);
        unpack_latents(&packed, LatentDtype::F32, &mut scratch, &mut back);
        assert!(back.iter().all(|v| v.to_bits() & 0xff == 0));
    }
}
