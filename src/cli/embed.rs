//! `hepae embed DATA --latent L -o COORDS.npy`: the Laplacian-eigenmap coordinates of a
//! dataset's normalised rows (the embedding the spectral families train on), with the graph
//! and eigensolver cost and the spectrum. Rows beyond `--graph-rows` are placed by the
//! Nyström extension.

use crate::data::normalize::{NormKind, Normalizer};
use crate::data::npy::{write_npy, Dataset};
use crate::error::{Error, Result};
use crate::manifold::embed::{laplacian_eigenmaps, SpectralOptions};
use crate::manifold::graph::Weights;
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Args, Debug, Clone)]
pub struct EmbedArgs {
    /// Dataset (f32 NPY).
    pub data: PathBuf,
    /// Spectral coordinates per jet.
    #[arg(long, default_value_t = 3)]
    #[arg(value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=256))]
    pub latent: usize,
    /// Output NPY (rows × latent, columns psi1..psiL), in the dataset's row order.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// k of the k-nearest-neighbour graph.
    #[arg(long, default_value_t = 10)]
    #[arg(value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1000))]
    pub neighbours: usize,
    /// Edge weights: heat (self-tuning heat kernel) or binary.
    #[arg(long, default_value = "heat")]
    pub weights: Weights,
    /// Rows the graph is built on at most (the first ones); the rest by Nyström.
    #[arg(long)]
    pub graph_rows: Option<usize>,
    /// Normalisation of the rows before the graph (as `train --norm`).
    #[arg(long, default_value = "minmax")]
    pub norm: NormKind,
    /// Eigensolver residual tolerance.
    #[arg(long, default_value_t = 1e-5)]
    #[arg(value_parser = super::values::positive)]
    pub tol: f32,
    /// Threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

pub fn run(args: &EmbedArgs) -> Result<()> {
    crate::io::outputs::Guard::new().data(args.data.as_path()).file("-o", args.output.as_deref()).check()?;
    let data = Dataset::open(&args.data)?;
    let (n, d, l) = (data.rows(), data.cols(), args.latent);
    let graph_rows = args.graph_rows.unwrap_or(n).min(n);
    if args.neighbours >= graph_rows || l + 1 >= graph_rows {
        return Err(Error::config(format!(
            "--neighbours {} and --latent {l} need more than {graph_rows} graph rows",
            args.neighbours
        )));
    }
    let threads = args.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |t| t.get()));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()
        .map_err(|e| Error::config(format!("cannot start {threads} threads: {e}")))?;
    let all: Vec<u32> = (0..n as u32).collect();
    let norm = Normalizer::fit(args.norm, &data, &all, 1.0)?;
    let mut x = vec![0.0f32; n * d];
    norm.gather_normalized(&data, &all, &mut x)?;
    let opts = SpectralOptions { neighbours: args.neighbours, weights: args.weights, tol: args.tol as f64, seed: 1 };
    let emb = laplacian_eigenmaps(&x[..graph_rows * d], d, l, &opts, Some(&pool))?;
    let t = Instant::now();
    let mut coords = emb.coords();
    if graph_rows < n {
        coords.extend(emb.extend(&x[graph_rows * d..], Some(&pool)));
    }
    let nystrom = t.elapsed().as_secs_f64();
    eprintln!(
        "embed: {graph_rows} rows in the graph ({} components), k-NN graph {:.2} s, eigensolver {:.2} s ({} products){}",
        emb.components,
        emb.graph_seconds,
        emb.eigen_seconds,
        emb.products,
        if graph_rows < n { format!(", Nyström for {} rows {nystrom:.2} s", n - graph_rows) } else { String::new() }
    );
    eprintln!(
        "embed: normalised-Laplacian eigenvalues {} (largest residual ‖Mv − θv‖ {:.1e})",
        emb.laplacian.iter().map(|v| format!("{v:.4e}")).collect::<Vec<_>>().join(" "),
        emb.residuals.iter().cloned().fold(0.0, f64::max)
    );
    if emb.components > 1 {
        eprintln!(
            "embed: the {}-neighbour graph had {} connected components, each joined to the rest by its closest pair",
            args.neighbours, emb.components
        );
    }
    if let Some(p) = &args.output {
        let cols: Vec<String> = (1..=l).map(|i| format!("psi{i}")).collect();
        write_npy(p, l, &coords, Some(&cols))?;
        eprintln!("wrote {} ({n} × {l})", p.display());
    }
    Ok(())
}
