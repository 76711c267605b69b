//! The number formats of a quantised encoder's layers ([`super::quantized`]): [`Precision`]
//! (with hls4ml's `ap_fixed` modes), its parsing from `--precision`, the int8 scale
//! [`Granularity`], and the `ap_fixed` conversions.

use crate::error::{Error, Result};
use hepae_kernels::quant::HalfKind;
use serde::{Deserialize, Serialize};

/// One layer's number format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    F32,
    Bf16,
    /// bf16 weights and activations (each layer's input rounded to bf16), f32 sums: AVX-512
    /// BF16's `vdpbf16ps` where the CPU has it.
    Bf16Act,
    F16,
    Int8,
    /// `ap_fixed<width, int, mode>`: `width` bits, `int` of them integer (sign included).
    Fixed {
        width: u32,
        int: u32,
        mode: FixedMode,
    },
}

/// How an `ap_fixed` value is made from a wider one: the quantisation mode (what happens to
/// the dropped fraction bits) and the overflow mode. hls4ml's default is AP_TRN, AP_WRAP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct FixedMode {
    pub round: Rounding,
    /// AP_SAT (clamp to the range) instead of AP_WRAP (two's-complement wrap-around).
    pub saturate: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Rounding {
    /// AP_TRN: toward −∞ (the default).
    #[default]
    Trn,
    /// AP_RND: to nearest, ties toward +∞.
    Rnd,
    /// AP_RND_CONV: to nearest, ties to even.
    RndConv,
}

impl FixedMode {
    fn parse(parts: &[&str], s: &str) -> std::result::Result<FixedMode, String> {
        let mut m = FixedMode::default();
        for p in parts {
            match p.trim_start_matches("ap_") {
                "trn" => m.round = Rounding::Trn,
                "rnd" => m.round = Rounding::Rnd,
                "rnd_conv" => m.round = Rounding::RndConv,
                "wrap" => m.saturate = false,
                "sat" => m.saturate = true,
                _ => return Err(format!("'{s}': fixed-point mode '{p}' is not TRN, RND, RND_CONV, WRAP or SAT")),
            }
        }
        Ok(m)
    }
    /// The non-default modes as `,RND_CONV,SAT` (empty for AP_TRN, AP_WRAP).
    fn suffix(&self) -> String {
        let r = match self.round {
            Rounding::Trn => "",
            Rounding::Rnd => ",RND",
            Rounding::RndConv => ",RND_CONV",
        };
        format!("{r}{}", if self.saturate { ",SAT" } else { "" })
    }
}

impl Precision {
    /// Parses `f32`, `bf16`, `f16`, `int8` or `fixed<W,I>` (2 ≤ W ≤ 24, 0 ≤ I ≤ W).
    pub fn parse(s: &str) -> std::result::Result<Precision, String> {
        let t = s.trim().to_ascii_lowercase().replace(' ', "");
        match t.as_str() {
            "f32" => return Ok(Precision::F32),
            "bf16" => return Ok(Precision::Bf16),
            "bf16-act" => return Ok(Precision::Bf16Act),
            "f16" => return Ok(Precision::F16),
            "int8" => return Ok(Precision::Int8),
            _ => {}
        }
        let inner = t
            .strip_prefix("fixed<")
            .or_else(|| t.strip_prefix("ap_fixed<"))
            .and_then(|r| r.strip_suffix('>'))
            .ok_or_else(|| format!("'{s}' is not a precision (f32, bf16, bf16-act, f16, int8 or fixed<W,I>)"))?;
        let parts: Vec<&str> = inner.split(',').collect();
        if parts.len() < 2 {
            return Err(format!("'{s}': fixed point is written fixed<W,I> (or fixed<W,I,RND_CONV,SAT>)"));
        }
        let (w, i) = (parts[0], parts[1]);
        let mode = FixedMode::parse(&parts[2..], s)?;
        let (width, int) = match (w.parse::<u32>(), i.parse::<u32>()) {
            (Ok(w), Ok(i)) => (w, i),
            _ => return Err(format!("'{s}': W and I of fixed<W,I> must be whole numbers")),
        };
        if !(2..=24).contains(&width) || int > width {
            return Err(format!("'{s}': fixed<W,I> needs 2 ≤ W ≤ 24 and 0 ≤ I ≤ W"));
        }
        Ok(Precision::Fixed { width, int, mode })
    }

    pub fn name(&self) -> String {
        match self {
            Precision::F32 => "f32".into(),
            Precision::Bf16 => "bf16".into(),
            Precision::Bf16Act => "bf16-act".into(),
            Precision::F16 => "f16".into(),
            Precision::Int8 => "int8".into(),
            Precision::Fixed { width, int, mode } => format!("fixed<{width},{int}{}>", mode.suffix()),
        }
    }

    pub(crate) fn half(&self) -> Option<HalfKind> {
        match self {
            Precision::Bf16 | Precision::Bf16Act => Some(HalfKind::Bf16),
            Precision::F16 => Some(HalfKind::F16),
            _ => None,
        }
    }
}

/// Parses `--precision`: one precision, or a comma-separated list with one per layer
/// ("int8,fixed<16,6>": the comma inside <…> belongs to fixed<W,I>).
pub fn parse_precisions(s: &str) -> Result<Vec<Precision>> {
    let (mut out, mut cur, mut depth) = (Vec::new(), String::new(), 0i32);
    for c in s.chars() {
        match c {
            '<' => depth += 1,
            '>' => depth -= 1,
            _ => {}
        }
        if c == ',' && depth == 0 {
            out.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    out.push(cur);
    let v = out
        .iter()
        .filter(|t| !t.trim().is_empty())
        .map(|t| Precision::parse(t).map_err(|e| Error::config(format!("--precision: {e}"))))
        .collect::<Result<Vec<_>>>()?;
    if v.is_empty() {
        return Err(Error::config("--precision: no precision given"));
    }
    Ok(v)
}

/// How many int8 weight scales a layer has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Granularity {
    /// One per output channel (row of the weight).
    #[default]
    PerChannel,
    /// One for the whole layer.
    PerLayer,
}

impl std::str::FromStr for Granularity {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "per-channel" | "channel" => Ok(Granularity::PerChannel),
            "per-layer" | "layer" => Ok(Granularity::PerLayer),
            _ => Err(format!("'{s}' is not a scale granularity (per-channel or per-layer)")),
        }
    }
}

/// `ap_fixed<width, int>` with AP_TRN and AP_WRAP: ⌊v·2^F⌋ wrapped to `width` bits, F = W − I.
pub fn fixed_int(v: f32, width: u32, int: u32) -> i32 {
    fixed_int_mode(v, width, int, FixedMode::default())
}

/// `ap_fixed<width, int, mode>`: v·2^F rounded as `mode.round` says, then wrapped to (or,
/// with AP_SAT, clamped into) the `width`-bit two's-complement range.
pub fn fixed_int_mode(v: f32, width: u32, int: u32, mode: FixedMode) -> i32 {
    let x = v as f64 * 2f64.powi((width - int) as i32);
    let m = match mode.round {
        Rounding::Trn => x.floor(),
        Rounding::Rnd => (x + 0.5).floor(),
        Rounding::RndConv => x.round_ties_even(),
    };
    let span = 2f64.powi(width as i32);
    if mode.saturate {
        m.clamp(-span / 2.0, span / 2.0 - 1.0) as i32
    } else {
        ((m + span / 2.0).rem_euclid(span) - span / 2.0) as i32
    }
}

/// The value of an `ap_fixed<width, int>` integer.
pub fn fixed_value(m: i32, width: u32, int: u32) -> f32 {
    (m as f64 * 2f64.powi(-((width - int) as i32))) as f32
}
