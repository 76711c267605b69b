//! The cost of a data-parallel step over MPI (the `mpi` feature): run as
//! `mpirun -np R cargo run --release --features mpi --example mpi_step` (or the built binary
//! target/release/examples/mpi_step). Every rank trains the reference net
//! (24-200-100-50-15-50-100-200-24, batch 512 split across the ranks, one thread each) on the same
//! synthetic 24-variable rows (an optional argument sets the global batch), and rank 0 prints the mean step time, the gradient's size and the
//! time of the rank-ordered gradient sum alone (reduce-scatter + all-gather) for that net and
//! for a 0.22 M-parameter buffer (the CNN AE's size, as an assumption; see benches/README.md).

use hepae::data::npy::{write_npy, Dataset};
use hepae::train::mpi::Mpi;
use hepae::train::{Session, TrainConfig, World};
use std::time::Instant;

fn main() -> hepae::Result<()> {
    let mpi = Mpi::init()?;
    let (rank, size) = (mpi.rank(), mpi.size());
    // The global batch: the first argument, 512 by default.
    let batch: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(512);
    let (d, rows) = (24, 8192);
    let path = std::env::temp_dir().join(format!("hepae-mpi-step-{}.npy", std::process::id()));
    let x: Vec<f32> = (0..rows * d).map(|i| ((i * 37 % 101) as f32) / 101.0 + (i % d) as f32).collect();
    write_npy(&path, d, &x, None)?;
    let data = Dataset::open(&path)?;
    let cfg = TrainConfig { batch: Some(batch), threads: 1, val_fraction: 0.0, ..TrainConfig::default() };
    let mut session = Session::new_in(&data, &cfg, World::new(Box::new(mpi.ranks())))?;
    let params = session.model.params.len();
    session.begin_epoch(1);
    let batches: Vec<Vec<u32>> = session.split.train.chunks(batch).map(<[u32]>::to_vec).collect();
    for b in batches.iter().take(5) {
        session.step(b)?;
    }
    let steps = 60;
    let t0 = Instant::now();
    for k in 0..steps {
        session.step(&batches[k % batches.len()])?;
    }
    let step_us = t0.elapsed().as_secs_f64() * 1e6 / steps as f64;
    drop(session);

    let mut sums = Vec::new();
    for p in [params, 220_000] {
        let mut w = World::new(Box::new(mpi.ranks()));
        w.plan(p);
        let mut g = vec![1.0f32; p];
        for _ in 0..5 {
            w.sum_gradients(&mut g)?;
        }
        let reps = 100;
        let t0 = Instant::now();
        for _ in 0..reps {
            w.sum_gradients(&mut g)?;
        }
        sums.push((p, t0.elapsed().as_secs_f64() * 1e6 / reps as f64));
    }
    if rank == 0 {
        println!("ranks {size}, threads 1, batch {batch} ({} rows per rank)", batch.div_ceil(size));
        println!("step (reference net, {params} parameters): {step_us:.1} us");
        for (p, us) in sums {
            let bytes = if size > 1 { 2 * p * 4 * (size - 1) / size } else { 0 };
            println!("gradient sum of {p} f32: {us:.1} us, {bytes} bytes sent (and received) per rank per step");
        }
    }
    std::fs::remove_file(&path).ok();
    std::fs::remove_file(path.with_extension("columns")).ok();
    Ok(())
}
