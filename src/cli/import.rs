//! `hepae import INPUT -o OUT.npy`: CSV, NPY or ROOT (`--tree`, `--branches`) in, a 2-D `<f4` C-order NPY (plus `OUT.columns`)
//! out, written atomically. Row cuts (`--filter`, `--where`) apply to the full input row before
//! the columns are selected, so a label column can choose rows without becoming an input.
//! `--shard i/n` imports only job i of n's share of the input rows (the split of
//! [`super::shard`]); `hepae merge` joins the n outputs into the whole import.

use crate::cli::progress::Progress;
use crate::data::import::{import_file_with, ImportOptions};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// Input table: a .csv with a header row, a numeric .npy (names from NAME.columns if present),
    /// or a .root file (with --branches; one row per jet).
    pub input: PathBuf,
    /// Output dataset (.npy); OUT.columns is written beside it.
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
    /// Select and order these columns (comma separated).
    #[arg(long, value_delimiter = ',', conflicts_with_all = ["first_columns", "drop_columns"])]
    pub columns: Option<Vec<String>>,
    /// Keep only the first N columns.
    #[arg(long)]
    #[arg(value_parser = super::values::at_least_one)]
    pub first_columns: Option<usize>,
    /// Remove these columns (comma separated).
    #[arg(long, value_delimiter = ',')]
    pub drop_columns: Vec<String>,
    /// Row cuts on the full input row, ANDed: e.g. 'pt<8000,mass<800' (ops < <= > >= == !=).
    #[arg(long)]
    pub filter: Option<String>,
    /// More row cuts, ANDed with --filter: e.g. 'hadronFlavour==5'.
    #[arg(long = "where")]
    pub where_: Option<String>,
    /// ROOT input: the tree to read.
    #[arg(long, default_value = "Events")]
    pub tree: String,
    /// ROOT input: branches to read, in column order (e.g. Jet_pt,Jet_eta,Jet_phi,Jet_mass).
    /// Jagged branches give one row per jet; a shared `Jet_` (or `X.`) prefix is dropped from
    /// the column names.
    #[arg(long, value_delimiter = ',')]
    pub branches: Vec<String>,
    /// ROOT input instead of --branches: every numeric branch of a collection, e.g. `Jet` for
    /// all `Jet_*` branches, in tree order.
    #[arg(long, conflicts_with = "branches")]
    pub collection: Option<String>,
    /// ROOT input: append the event's entry number as a last column `event_idx`.
    #[arg(long)]
    pub event_idx: bool,
    /// Jet images instead of a table: INPUT is an (N, M, 4) float32 NPY of constituents
    /// (pT, eta, phi, E; zero padded), OUT an (N, 1, S, S) image NPY: centred on the pT-weighted
    /// centroid (or the leading subjet: --centre), principal axis vertical, hardest quadrant upper right, row 0 at the top.
    #[arg(long, conflicts_with_all = ["columns", "first_columns", "drop_columns", "filter", "where_", "branches", "collection", "event_idx"])]
    pub images: bool,
    /// --images: pixels per side.
    #[arg(long, default_value_t = 40, requires = "images")]
    pub image_size: usize,
    /// --images: the image covers ±W in (Δη, Δφ) around the centroid.
    #[arg(long, default_value_t = 0.8, requires = "images")]
    pub half_width: f64,
    /// --images: centre on the pT-weighted `centroid` or on the `leading-subjet` (the hardest
    /// anti-kT subjet of radius --subjet-r of the constituents).
    #[arg(long, default_value = "centroid", requires = "images")]
    pub centre: String,
    /// --images --centre leading-subjet: the subjets' anti-kT radius.
    #[arg(long, default_value_t = crate::data::images::SUBJET_R, requires = "images")]
    pub subjet_r: f64,
    /// --images: `unit` (each image sums to 1) or `gev` (pixel = Σ pT in GeV).
    #[arg(long, default_value = "unit", requires = "images")]
    pub intensity: String,
    /// --images from a NanoAOD .root: the jet collection (one image per jet), e.g. FatJet or Jet.
    #[arg(long, default_value = "FatJet", requires = "images")]
    pub jets: String,
    /// --images from a NanoAOD .root: the PF candidates (PFCand in NanoAOD v15, PFCands in PFNano),
    /// linked to the jets by JETSPF_jetIdx and JETSPF_pfCandIdx.
    #[arg(long, default_value = "PFCand", requires = "images")]
    pub pf: String,
    /// Only job i of n's share of INPUT's rows (0-based, before the row cuts; ROOT: of its jets;
    /// see `hepae merge`).
    #[arg(long, conflicts_with = "images")]
    pub shard: Option<super::shard::ShardSpec>,
    /// No progress lines.
    #[arg(long, short)]
    pub quiet: bool,
}

fn run_images(args: &ImportArgs) -> crate::Result<()> {
    use crate::data::images::{constituents_to_images, Centre, ImageOptions};
    let opt = ImageOptions {
        size: args.image_size,
        half_width: args.half_width,
        intensity: args.intensity.parse()?,
        centre: Centre::parse(&args.centre, args.subjet_r)?,
    };
    opt.check()?;
    let is_root = args.input.extension().is_some_and(|e| e.eq_ignore_ascii_case("root"));
    let guard = crate::io::outputs::Guard::new();
    let guard = if is_root { guard.input(args.input.as_path()) } else { guard.data(args.input.as_path()) };
    guard.rows("-o", args.output.as_path()).check()?;
    let r = if is_root {
        let mut progress = Progress::counting("images", "jets", args.quiet)?;
        let r = pf_images(args, &opt, &mut |n| progress.set(n))?;
        progress.finish();
        r
    } else {
        let total = crate::data::npy::Dataset::open(&args.input).map(|d| d.rows() as u64).unwrap_or(0);
        let mut progress = Progress::new("images", "jets", total, args.quiet)?;
        let r = constituents_to_images(&args.input, &args.output, &opt, &mut |n| progress.set(n))?;
        progress.finish();
        r
    };
    outln!(
        "imported {}: {} jets (up to {} constituents) -> {} {} ({} with no pT inside ±{})",
        args.input.display(),
        r.jets,
        r.max_constituents,
        crate::data::npy::describe_shape(r.shape),
        args.output.display(),
        r.empty_images,
        opt.half_width
    )?;
    if r.skipped > 0 {
        eprintln!("note: {} jets without linked {} candidates were skipped", r.skipped, args.pf);
    }
    Ok(())
}

pub fn run(args: &ImportArgs) -> crate::Result<()> {
    if args.images {
        return run_images(args);
    }
    let is_npy = args.input.extension().is_some_and(|e| e.eq_ignore_ascii_case("npy"));
    let guard = crate::io::outputs::Guard::new();
    let guard = if is_npy { guard.data(args.input.as_path()) } else { guard.input(args.input.as_path()) };
    guard.rows("-o", args.output.as_path()).check()?;
    let opts = ImportOptions {
        columns: args.columns.clone(),
        first_columns: args.first_columns,
        drop_columns: args.drop_columns.clone(),
        filter: args.filter.clone(),
        where_: args.where_.clone(),
        shard: args.shard.map(|s| (s.index, s.count)),
    };
    let is_root = args.input.extension().is_some_and(|e| e.eq_ignore_ascii_case("root"));
    let mut progress = Progress::counting("import", "rows", args.quiet)?;
    let r = if is_root {
        import_root(args, &opts, &mut |r| progress.set(r))?
    } else {
        import_file_with(&args.input, &args.output, &opts, &mut |r| progress.set(r))?
    };
    progress.set(r.rows_read);
    progress.finish();
    outln!(
        "imported {}: {} rows read, {} kept, {} columns -> {}",
        args.input.display(),
        r.rows_read,
        r.rows_kept,
        r.columns.len(),
        args.output.display()
    )?;
    Ok(())
}

#[cfg(feature = "root")]
fn pf_images(
    args: &ImportArgs,
    opt: &crate::data::images::ImageOptions,
    on_rows: &mut dyn FnMut(u64),
) -> crate::Result<crate::data::images::ImagesReport> {
    let sel = crate::data::import::root::pf_images::PfSelect {
        tree: args.tree.clone(),
        jets: args.jets.clone(),
        pf: args.pf.clone(),
    };
    crate::data::import::root::pf_images::pf_images(&args.input, &args.output, &sel, opt, on_rows)
}

#[cfg(not(feature = "root"))]
fn pf_images(
    args: &ImportArgs,
    _opt: &crate::data::images::ImageOptions,
    _on_rows: &mut dyn FnMut(u64),
) -> crate::Result<crate::data::images::ImagesReport> {
    Err(crate::Error::config(format!(
        "{}: this hepae was built without ROOT support (cargo feature `root`)",
        args.input.display()
    )))
}

#[cfg(feature = "root")]
fn import_root(
    args: &ImportArgs,
    opts: &ImportOptions,
    on_rows: &mut dyn FnMut(u64),
) -> crate::Result<crate::data::import::ImportReport> {
    let sel = crate::data::import::root::RootSelect {
        tree: args.tree.clone(),
        branches: args.branches.clone(),
        collection: args.collection.clone(),
        event_idx: args.event_idx,
    };
    crate::data::import::import_root_with(&args.input, &args.output, &sel, opts, on_rows)
}

#[cfg(not(feature = "root"))]
fn import_root(
    args: &ImportArgs,
    _opts: &ImportOptions,
    _on_rows: &mut dyn FnMut(u64),
) -> crate::Result<crate::data::import::ImportReport> {
    Err(crate::Error::config(format!(
        "{}: this hepae was built without ROOT support (cargo feature `root`)",
        args.input.display()
    )))
}
