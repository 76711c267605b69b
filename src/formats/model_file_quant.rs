//! The model file's section for a quantised encoder (additive: files without `meta.quant`
//! are read exactly as before). Per encoder op j, named as PyTorch would (`encoder.{2j}.…`):
//!
//! | precision    | `.weight` [O×I]                     | `.bias` \[O]     | extra                          |
//! |--------------|-------------------------------------|-----------------|--------------------------------|
//! | f32          | F32                                 | F32             |                                |
//! | bf16, bf16-act / f16 | BF16 / F16                  | F32             |                                |
//! | int8         | I8 in [−127, 127]                   | F32             | `.weight_scale` F32 \[O] or \[1] |
//! | fixed<W,I>   | I8/I16/I32 (W ≤ 8/16/24): value·2^(W−I) | same as weight |                                |
//!
//! int8's input scale is in the metadata (`quant.layers[j].input_scale`). `safetensors.torch`
//! loads every one of these dtypes; value = weight·scale (int8) or integer·2^−(W−I).

use crate::formats::model_file::ModelMeta;
use crate::infer::quantized::{Precision, QuantEncoder, QuantLayer, Stored};
use crate::models::Autoencoder;
use safetensors::{Dtype, SafeTensors};

/// One tensor as written: name, dtype name, shape, little-endian bytes.
pub(crate) struct StoredTensor {
    pub name: String,
    pub dtype: &'static str,
    pub shape: Vec<usize>,
    pub bytes: Vec<u8>,
}

fn names(j: usize) -> (String, String, String) {
    let p = format!("encoder.{}", 2 * j);
    (format!("{p}.weight"), format!("{p}.bias"), format!("{p}.weight_scale"))
}

/// The integer dtype of a fixed-point format of `width` bits.
fn int_dtype(width: u32) -> (&'static str, Dtype) {
    match width {
        0..=8 => ("I8", Dtype::I8),
        9..=16 => ("I16", Dtype::I16),
        _ => ("I32", Dtype::I32),
    }
}

fn int_bytes(v: &[i32], width: u32) -> Vec<u8> {
    match width {
        0..=8 => v.iter().map(|&x| x as i8 as u8).collect(),
        9..=16 => v.iter().flat_map(|&x| (x as i16).to_le_bytes()).collect(),
        _ => v.iter().flat_map(|&x| x.to_le_bytes()).collect(),
    }
}

/// The tensors a quantised encoder stores in place of (or beside) the f32 ones.
pub(crate) fn quant_tensors(ae: &Autoencoder) -> Vec<StoredTensor> {
    let Some(q) = &ae.quant else { return Vec::new() };
    let mut out = Vec::new();
    for (j, l) in q.layers.iter().enumerate() {
        let (wn, bn, sn) = names(j);
        let (k, n) = (l.k, l.n);
        match &l.stored {
            Stored::F32 => {}
            Stored::Half(h) => {
                let dtype = if l.precision == Precision::F16 { "F16" } else { "BF16" };
                let bytes = h.iter().flat_map(|v| v.to_le_bytes()).collect();
                out.push(StoredTensor { name: wn, dtype, shape: vec![n, k], bytes });
            }
            Stored::Int8 { w, scale } => {
                out.push(StoredTensor {
                    name: wn,
                    dtype: "I8",
                    shape: vec![n, k],
                    bytes: w.iter().map(|&v| v as u8).collect(),
                });
                let bytes = scale.iter().flat_map(|v| v.to_le_bytes()).collect();
                out.push(StoredTensor { name: sn, dtype: "F32", shape: vec![scale.len()], bytes });
            }
            Stored::Fixed { w, b } => {
                let width = match l.precision {
                    Precision::Fixed { width, .. } => width,
                    _ => 32,
                };
                let dtype = int_dtype(width).0;
                out.push(StoredTensor { name: wn, dtype, shape: vec![n, k], bytes: int_bytes(w, width) });
                out.push(StoredTensor { name: bn, dtype, shape: vec![n], bytes: int_bytes(b, width) });
            }
        }
    }
    out
}

/// The names a quantised encoder's metadata makes non-f32 (read by [`load_quant`], not the
/// f32 loader) and the names it adds; both empty without `meta.quant`.
pub(crate) fn quant_names(meta: &ModelMeta) -> (Vec<String>, Vec<String>) {
    let (mut replaced, mut extra) = (Vec::new(), Vec::new());
    for (j, l) in meta.quant.iter().flat_map(|q| q.layers.iter().enumerate()) {
        let (wn, bn, sn) = names(j);
        match Precision::parse(&l.precision) {
            Ok(Precision::F32) | Err(_) => {}
            Ok(Precision::Fixed { .. }) => replaced.extend([wn, bn]),
            Ok(Precision::Int8) => {
                replaced.push(wn);
                extra.push(sn);
            }
            Ok(_) => replaced.push(wn),
        }
    }
    (replaced, extra)
}

fn read<'a>(st: &'a SafeTensors<'a>, name: &str, dtype: Dtype, shape: &[usize]) -> Result<&'a [u8], String> {
    let v = st.tensor(name).map_err(|_| format!("tensor {name} is missing"))?;
    if v.dtype() != dtype {
        return Err(format!("tensor {name} is {:?}, expected {dtype:?} (metadata: quantised encoder)", v.dtype()));
    }
    if v.shape() != shape {
        return Err(format!("tensor {name} has shape {:?}, expected {shape:?}", v.shape()));
    }
    Ok(v.data())
}

/// Builds the quantised encoder `meta.quant` describes from its tensors, and writes the
/// values it computes with (dequantised weights; fixed-point biases) into `ae`'s f32
/// parameters (the rest already loaded). Nothing to do without `meta.quant`.
pub(crate) fn load_quant(meta: &ModelMeta, ae: &mut Autoencoder, st: &SafeTensors<'_>) -> Result<(), String> {
    let Some(q) = &meta.quant else { return Ok(()) };
    let layers = ae.encoder.layers.clone();
    if q.layers.len() != layers.len() {
        return Err(format!(
            "metadata quantises {} encoder layers but the encoder has {}",
            q.layers.len(),
            layers.len()
        ));
    }
    let mut out = Vec::with_capacity(layers.len());
    for (j, (lm, l)) in q.layers.iter().zip(&layers).enumerate() {
        let prec = Precision::parse(&lm.precision).map_err(|e| format!("quantised layer {j}: {e}"))?;
        let dense = l.dense().ok_or_else(|| format!("quantised layer {j} is not a dense layer"))?;
        let (k, n) = (l.inp, l.out);
        let (wn, bn, sn) = names(j);
        let stored = match prec {
            Precision::F32 => Stored::F32,
            Precision::Bf16 | Precision::Bf16Act | Precision::F16 => {
                let dt = if prec == Precision::F16 { Dtype::F16 } else { Dtype::BF16 };
                let b = read(st, &wn, dt, &[n, k])?;
                Stored::Half(b.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect())
            }
            Precision::Int8 => {
                let w = read(st, &wn, Dtype::I8, &[n, k])?.iter().map(|&b| b as i8).collect();
                let sv = st.tensor(&sn).map_err(|_| format!("tensor {sn} is missing"))?;
                let len = sv.shape().first().copied().unwrap_or(0);
                let sb = read(st, &sn, Dtype::F32, &[len])?;
                let scale = sb.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
                Stored::Int8 { w, scale }
            }
            Precision::Fixed { width, .. } => {
                let (_, dt) = int_dtype(width);
                let ints = |b: &[u8]| -> Vec<i32> {
                    match width {
                        0..=8 => b.iter().map(|&x| x as i8 as i32).collect(),
                        9..=16 => b.chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]]) as i32).collect(),
                        _ => b.chunks_exact(4).map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(),
                    }
                };
                Stored::Fixed { w: ints(read(st, &wn, dt, &[n, k])?), b: ints(read(st, &bn, dt, &[n])?) }
            }
        };
        let p = &ae.params.data;
        let layer = QuantLayer::new(
            prec,
            dense.act,
            k,
            n,
            stored,
            lm.input_scale,
            &p[l.b()..l.b() + n],
            &p[l.w()..l.w() + k * n],
        )
        .map_err(|e| format!("quantised layer {j} ({wn}): {e}"))?;
        if let Some(wd) = layer.dequantised() {
            ae.params.data[l.w()..l.w() + k * n].copy_from_slice(&wd);
        }
        ae.params.data[l.b()..l.b() + n].copy_from_slice(&layer.bias);
        out.push(layer);
    }
    ae.quant = Some(QuantEncoder { layers: out });
    Ok(())
}
