//! `hepae demo`: the whole job on the embedded real CMS jets (tt̄ simulation, NanoAOD v15,
//! `datasets/ttbar_nano_v15.csv`): import the first 24 variables → train the reference
//! architecture for a short run → evaluate on the validation split → reconstruct.

use super::{sidecar, train::train_to_file, train::TrainOptions, Cli};
use crate::error::{Error, Result};
use crate::io::atomic::write_atomic;
use crate::models::ae::ModelKind;
use clap::Parser;
use std::path::PathBuf;

/// The embedded sample: 1636 real jets × 69 columns (see datasets/README.md for provenance).
pub const DEMO_CSV: &[u8] = include_bytes!("../../datasets/ttbar_nano_v15.csv");

#[derive(clap::Args, Debug, Clone)]
pub struct DemoArgs {
    /// Directory for everything the demo writes.
    #[arg(short, long, default_value = "hepae-demo")]
    pub output: PathBuf,
    /// Training options (the defaults size the schedule by the sample: small batches, many epochs).
    #[command(flatten)]
    pub train: TrainOptions,
    /// No progress bar or per-epoch lines.
    #[arg(long, short)]
    pub quiet: bool,
    /// Instead: the anomaly-detection demo. Light jets (hadronFlavour == 0) against b jets
    /// (hadronFlavour == 5) from the same tt̄ sample, both directions; the label only selects
    /// rows and is not an input.
    #[arg(long)]
    pub anomaly: bool,
}

/// The anomaly demo: import both classes, train an AE on each, score the other, report.
fn run_anomaly(args: &DemoArgs) -> Result<()> {
    let dir = &args.output;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let csv = dir.join("ttbar_nano_v15.csv");
    write_atomic(&csv, DEMO_CSV)?;
    let (light, b) = (dir.join("light.npy"), dir.join("bjets.npy"));
    for (out, cut) in [(&light, "hadronFlavour==0"), (&b, "hadronFlavour==5")] {
        let cmd = Cli::try_parse_from([
            "hepae",
            "import",
            &csv.to_string_lossy(),
            "-o",
            &out.to_string_lossy(),
            "--where",
            cut,
            "--first-columns",
            "24",
        ])
        .map_err(|e| Error::config(e.to_string()))?;
        super::run(cmd)?;
    }
    let json = dir.join("roc.json");
    eprintln!("training an autoencoder on each class (24 variables, latent 8) and scoring the other; background test jets are each model's validation split");
    let roc = Cli::try_parse_from([
        "hepae",
        "roc",
        "--both",
        "--a",
        &light.to_string_lossy(),
        "--b",
        &b.to_string_lossy(),
        "--score",
        "mse,mae",
        "--latent",
        "8",
        "--epochs",
        "200",
        "--batch",
        "64",
        "--json",
        &json.to_string_lossy(),
    ])
    .map_err(|e| Error::config(e.to_string()))?;
    super::run(roc)?;
    eprintln!("\nanomaly demo done; ROC curves and working points in {}", json.display());
    Ok(())
}

pub fn run(args: &DemoArgs) -> Result<()> {
    crate::io::outputs::Guard::new().dir("-o", args.output.as_path()).check()?;
    if args.anomaly {
        return run_anomaly(args);
    }
    let dir = &args.output;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let csv = dir.join("ttbar_nano_v15.csv");
    let data = dir.join("jets24.npy");
    let model = dir.join("ae24.safetensors");
    let eval_json = dir.join("evaluation.json");
    let recon = dir.join("reconstructed.csv");

    eprintln!("[1/4] import: the first 24 variables of {} real CMS tt̄ jets", 1636);
    write_atomic(&csv, DEMO_CSV)?;
    let import = Cli::try_parse_from([
        "hepae",
        "import",
        &csv.to_string_lossy(),
        "-o",
        &data.to_string_lossy(),
        "--first-columns",
        "24",
    ])
    .map_err(|e| Error::config(e.to_string()))?;
    super::run(import)?;

    let cfg = args.train.config(ModelKind::Ae)?;
    let widths: Vec<String> = cfg.hidden.iter().chain([&cfg.latent]).map(|w| w.to_string()).collect();
    eprintln!("[2/4] train: 24-{} autoencoder (mirrored decoder), LeakyReLU, Adam, {:?}", widths.join("-"), cfg.norm);
    train_to_file(&data, &model, None, &cfg, args.quiet)?;

    eprintln!("[3/4] evaluate on the validation split");
    let ev = super::evaluate::evaluate_files(&model, &data, "auto")?;
    super::print_out(&ev.table())?;
    let s = serde_json::to_string_pretty(&ev).map_err(|e| Error::config(e.to_string()))?;
    write_atomic(&eval_json, s.as_bytes())?;

    eprintln!("[4/4] reconstruct every jet in physical units");
    super::reconstruct::reconstruct_file(&model, &data, &recon)?;

    eprintln!("\ndemo done; wrote:");
    for (p, what) in [
        (&csv, "the embedded input (69 columns, CMS NanoAOD v15 tt̄ jets)"),
        (&data, "the imported dataset (f32 NPY, 24 columns; names in jets24.columns)"),
        (&model, "the trained model (safetensors, PyTorch layout)"),
        (&sidecar(&model, "history.csv"), "the loss history per epoch"),
        (&eval_json, "per-variable figures of merit with residual histograms"),
        (&recon, "the reconstructed jets"),
    ] {
        eprintln!("  {:<40} {what}", p.display());
    }

    eprintln!("\n[report] figures and one HTML page");
    let page = super::report::write_report(&model, &data, &dir.join("index.html"), "auto", 200_000)?;
    outln!("report: {}", page.display())?;
    Ok(())
}
