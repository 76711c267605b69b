//! The encoder embedded the way a trigger would use it: jets arrive one at a time, each is
//! encoded at batch 1 (no allocation, no thread pool, no lock), and its latent vector is
//! written out. Reports the per-event encode cost (median, p99) over ≥ 100 000 encodes,
//! cycling the embedded real jets.
//!
//! ```sh
//! cargo run --release --example trigger_loop                       # trains a reference net first
//! cargo run --release --example trigger_loop -- DATA.npy MODEL.safetensors [OUT.npy] [N]
//! ```
//!
//! Without arguments it imports the first 24 columns of `datasets/ttbar_nano_v15.csv` (1636
//! real CMS jets), trains the reference 24-200-100-50-15 net for a few epochs and uses it.

use hepae::data::import::csv::{import_file, ImportOptions};
use hepae::data::npy::NpyWriter;
use hepae::{Dataset, Encoder, Model, TrainConfig, Trainer};
use std::path::PathBuf;
use std::time::Instant;

fn main() -> hepae::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let tmp = std::env::temp_dir().join(format!("hepae-trigger-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).map_err(|e| hepae::Error::io(&tmp, e))?;

    let (data_path, model_path) = if args.len() >= 2 {
        (PathBuf::from(&args[0]), PathBuf::from(&args[1]))
    } else {
        let csv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("datasets/ttbar_nano_v15.csv");
        let npy = tmp.join("jets.npy");
        let opts = ImportOptions { first_columns: Some(24), ..ImportOptions::default() };
        import_file(&csv, &npy, &opts)?;
        let data = Dataset::open(&npy)?;
        let cfg = TrainConfig {
            epochs: Some(5),
            ..TrainConfig::default() // the reference net 24-200-100-50-15
        };
        let model = tmp.join("ae.safetensors");
        Trainer::new(cfg).fit(&data)?.save(&model)?;
        (npy, model)
    };
    let out_path = args.get(2).map(PathBuf::from).unwrap_or_else(|| tmp.join("latents.npy"));
    let n_encodes: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(200_000);

    let data = Dataset::open(&data_path)?;
    let model = Model::load(&model_path)?;
    model.check_data(&data, &model_path)?;
    let mut enc = Encoder::new(&model, 1);
    let (d, l) = (enc.input_dim(), enc.latent_dim());
    let latent_names: Vec<String> = (0..l).map(|i| format!("z{i}")).collect();
    let mut writer = NpyWriter::create(&out_path, &latent_names)?;

    // The loop: one event in, one latent vector out.
    let mut z = vec![0f32; l];
    let mut jet = vec![0f32; d];
    let mut ns = Vec::with_capacity(n_encodes);
    let mut latents = Vec::with_capacity(64 * l);
    for i in 0..n_encodes {
        jet.copy_from_slice(data.row(i % data.rows())); // the event arrives
        let t0 = Instant::now();
        let r = enc.encode(&jet, 1, &mut z);
        let dt = t0.elapsed();
        if let Err(b) = r {
            eprintln!("event {i}: column {} not encodable, skipped", b.col);
            continue;
        }
        ns.push(dt.as_nanos() as u64);
        latents.extend_from_slice(&z);
        if latents.len() >= 64 * l {
            writer.write_rows(&latents)?;
            latents.clear();
        }
    }
    writer.write_rows(&latents)?;
    let written = writer.rows_written();
    writer.finish()?;

    ns.sort_unstable();
    let q = |p: f64| ns[((ns.len() - 1) as f64 * p).round() as usize] as f64 / 1000.0;
    let mean = ns.iter().sum::<u64>() as f64 / ns.len() as f64 / 1000.0;
    println!(
        "model {}: {d} inputs -> {l} latents; {} encodes at batch 1 over {} real jets (cycled)",
        model_path.display(),
        ns.len(),
        data.rows()
    );
    println!(
        "encode µs/event: median {:.3}, p99 {:.3}, mean {:.3}, max {:.1}  ({:.0} events/s at the median)",
        q(0.5),
        q(0.99),
        mean,
        q(1.0),
        1e6 / q(0.5)
    );
    println!("{written} latent rows written to {}", out_path.display());
    if args.len() < 3 {
        std::fs::remove_dir_all(&tmp).ok();
    }
    Ok(())
}
