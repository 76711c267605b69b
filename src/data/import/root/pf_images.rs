//! Jet images from NanoAOD PF candidates: one image per jet of a collection (default `FatJet`),
//! made from the candidates that the jet–candidate link table assigns to it, with the same
//! preprocessing as the constituent arrays ([`crate::data::images`]).
//!
//! Branches read (tree `--tree`, default `Events`), for `--jets J` and `--pf P`:
//! `P_pt`, `P_eta`, `P_phi`, `P_mass` (the candidates; NanoAOD v15 names them `PFCand_*`, PFNano
//! `PFCands_*`), `JP_jetIdx` and `JP_pfCandIdx` (or PFNano's `JP_pFCandsIdx`: per link, the jet
//! and the candidate, indices within the event) and `J_pt` (the jets, to count them). A candidate
//! index outside its event, or a jet index outside the collection, is refused naming the event.
//! A jet with no linked candidate (NanoAOD v15 stores candidates only for some jets: 2 of the 64
//! FatJets of `nano_tt_v15.root`, at |η| > 2.4, have none) is skipped and counted in
//! [`ImagesReport::skipped`].
//! E = √((pT cosh η)² + m²).

use super::{read_root, RootSelect};
use crate::data::images::{jet_image, ImageOptions, ImageScratch, ImagesReport, JetError};
use crate::data::npy::NpyWriter;
use crate::error::{Error, Location, Result};
use std::path::Path;

/// Which collections to read.
#[derive(Clone, Debug)]
pub struct PfSelect {
    pub tree: String,
    /// The jets, e.g. `FatJet` (AK8) or `Jet` (AK4).
    pub jets: String,
    /// The candidates, e.g. `PFCand` (NanoAOD v15) or `PFCands` (PFNano).
    pub pf: String,
}

/// Rows of one `read_root` table grouped by event: (event, first row, row count).
fn by_event(data: &[f32], width: usize, rows: usize, events: usize) -> Vec<(usize, usize)> {
    let mut span = vec![(0usize, 0usize); events];
    for r in 0..rows {
        let ev = data[r * width + width - 1] as usize;
        if span[ev].1 == 0 {
            span[ev].0 = r;
        }
        span[ev].1 += 1;
    }
    span
}

fn read(path: &Path, tree: &str, branches: &[String]) -> Result<super::RootTable> {
    read_root(
        path,
        &RootSelect { tree: tree.to_string(), branches: branches.to_vec(), collection: None, event_idx: true },
    )
}

/// Reads the PF candidates of every jet of `sel.jets` in the ROOT file at `input` and writes one
/// image per jet to `out` (N, 1, size, size), atomically.
pub fn pf_images(
    input: &Path,
    out: &Path,
    sel: &PfSelect,
    opt: &ImageOptions,
    on_rows: &mut dyn FnMut(u64),
) -> Result<ImagesReport> {
    opt.check()?;
    let names = |c: &str, fields: &[&str]| fields.iter().map(|f| format!("{c}_{f}")).collect::<Vec<String>>();
    let link = format!("{}{}", sel.jets, sel.pf);
    let cands = read(input, &sel.tree, &names(&sel.pf, &["pt", "eta", "phi", "mass"]))?;
    let links = read(input, &sel.tree, &names(&link, &["jetIdx", "pfCandIdx"]))
        .or_else(|e| read(input, &sel.tree, &names(&link, &["jetIdx", "pFCandsIdx"])).map_err(|_| e))?;
    let jets = read(input, &sel.tree, &names(&sel.jets, &["pt"]))?;
    let events = cands.events;
    let c_span = by_event(&cands.data, 5, cands.rows, events);
    let l_span = by_event(&links.data, 3, links.rows, events);
    let j_span = by_event(&jets.data, 2, jets.rows, events);
    let shape = opt.shape();
    let npix = shape.len();
    let mut writer = NpyWriter::create_images(out, shape)?;
    let mut scratch = ImageScratch::default();
    let (mut consts, mut img) = (Vec::new(), vec![0f32; npix]);
    let (mut n_jets, mut empty, mut most, mut skipped) = (0u64, 0u64, 0usize, 0u64);
    let at = |_ev: usize, what: &str| Location::file(input).column(format!("{}/{what}", sel.tree));
    for ev in 0..events {
        let (c0, nc) = c_span[ev];
        let (l0, nl) = l_span[ev];
        let (_, nj) = j_span[ev];
        for j in 0..nj {
            consts.clear();
            for l in l0..l0 + nl {
                let (ji, ci) = (links.data[l * 3], links.data[l * 3 + 1]);
                if !(ji >= 0.0 && (ji as usize) < nj) {
                    return Err(Error::data(
                        at(ev, &format!("{link}_jetIdx")),
                        format!("event {ev}: jet index {ji} outside the {nj} jets of {}", sel.jets),
                    ));
                }
                if ji as usize != j {
                    continue;
                }
                if !(ci >= 0.0 && (ci as usize) < nc) {
                    return Err(Error::data(
                        at(ev, &format!("{link}_pfCandIdx")),
                        format!("event {ev}: candidate index {ci} outside the {nc} candidates of {}", sel.pf),
                    ));
                }
                let r = &cands.data[(c0 + ci as usize) * 5..(c0 + ci as usize) * 5 + 4];
                let (pt, eta, m) = (r[0] as f64, r[1] as f64, r[3] as f64);
                let e = ((pt * eta.cosh()).powi(2) + m * m).sqrt();
                consts.extend_from_slice(&[r[0], r[1], r[2], e as f32]);
            }
            most = most.max(consts.len() / 4);
            if consts.is_empty() {
                skipped += 1;
                continue;
            }
            jet_image(&consts, opt, &mut scratch, &mut img).map_err(|e| {
                let why = match e {
                    JetError::Bad { k, f } => format!(
                        "event {ev}, {} {}: candidate {} has a bad {}",
                        sel.jets,
                        j,
                        k + 1,
                        ["pT", "eta", "phi", "E"][f]
                    ),
                    JetError::Empty => format!("event {ev}, {} {j}: no PF candidate with pT > 0", sel.jets),
                };
                Error::data(Location::file(input).column(format!("{}/{}", sel.tree, sel.pf)), why)
            })?;
            if img.iter().all(|&v| v == 0.0) {
                empty += 1;
            }
            writer.write_rows(&img)?;
            n_jets += 1;
        }
        on_rows(n_jets);
    }
    if n_jets == 0 {
        return Err(Error::data(
            Location::file(input),
            format!("has no {} jets with linked {} candidates ({skipped} without)", sel.jets, sel.pf),
        ));
    }
    writer.finish()?;
    Ok(ImagesReport { jets: n_jets, shape, empty_images: empty, max_constituents: most, skipped })
}
