//! `mpirun -np 2 hepae train …` for real (the `mpi` feature and OpenMPI's `mpirun`): the model
//! two ranks write is the one a single process writes with two threads (bit for bit: same rows
//! per shard, same summation order), within the float-reduction tolerance of one thread (see
//! tests/mpi_ranks.rs: 1e-5 + 1e-4·|p|), the same bytes on every run; a rank with other options,
//! or a rank that dies, ends every rank and leaves no model file. Each test prints why it skips
//! when the feature is off or `mpirun` is absent (CI installs OpenMPI and runs it).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn real_jets() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/dy_nano_v6.npy"))
}

/// Why these tests cannot run here, if they cannot.
fn skip_reason() -> Option<String> {
    if !cfg!(feature = "mpi") {
        return Some("built without the `mpi` feature (cargo test --features mpi --test mpi_run)".into());
    }
    match Command::new("mpirun").arg("--version").output() {
        Ok(o) if o.status.success() => None,
        _ => Some("no working `mpirun` on PATH (apt-get install openmpi-bin libopenmpi-dev)".into()),
    }
}

macro_rules! skip_unless_mpi {
    () => {
        if let Some(why) = skip_reason() {
            eprintln!("skipped: {why}");
            return;
        }
    };
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hepae_mpi_run_{name}_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

const TRAIN: &[&str] = &["--epochs", "3", "--batch", "27", "--seed", "11", "--quiet"];

/// `mpirun -np N` (as root, and more ranks than cores allowed) running `program args`.
fn mpirun(n: usize, program: &str, args: &[&str]) -> Output {
    Command::new("mpirun")
        .args(["-np", &n.to_string(), "--allow-run-as-root", "--oversubscribe", "--bind-to", "none", program])
        .args(args)
        .env("OMPI_MCA_btl_vader_single_copy_mechanism", "none")
        .output()
        .expect("mpirun")
}

fn train_ranks(n: usize, out: &Path, extra: &[&str]) -> Output {
    let (data, out) = (real_jets(), out.to_str().unwrap().to_string());
    let mut args = vec!["train", data.to_str().unwrap(), "-o", &out];
    args.extend_from_slice(TRAIN);
    args.extend_from_slice(extra);
    mpirun(n, env!("CARGO_BIN_EXE_hepae"), &args)
}

fn train_alone(out: &Path, threads: &str) {
    let o = Command::new(env!("CARGO_BIN_EXE_hepae"))
        .args(["train", real_jets().to_str().unwrap(), "-o", out.to_str().unwrap(), "--threads", threads])
        .args(TRAIN)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn params(path: &Path) -> Vec<f32> {
    hepae::formats::model_file::SavedModel::load(path).unwrap().ae.params.data.clone()
}

#[test]
fn two_ranks_write_the_model_of_two_threads_and_the_same_bytes_every_run() {
    skip_unless_mpi!();
    let dir = scratch("same");
    let (a, b) = (dir.join("a.safetensors"), dir.join("b.safetensors"));
    for m in [&a, &b] {
        let o = train_ranks(2, m, &["--threads", "1"]);
        assert!(o.status.success(), "mpirun: {}", String::from_utf8_lossy(&o.stderr));
    }
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap(), "two runs at 2 ranks: same bytes");
    assert!(dir.join("a.history.csv").exists(), "rank 0 writes the history");

    let (t2, t1) = (dir.join("t2.safetensors"), dir.join("t1.safetensors"));
    train_alone(&t2, "2");
    train_alone(&t1, "1");
    let ranks = params(&a);
    assert_eq!(ranks, params(&t2), "2 ranks x 1 thread = 1 process x 2 threads, bit for bit");
    for (i, (&p, &q)) in params(&t1).iter().zip(&ranks).enumerate() {
        assert!((p - q).abs() as f64 <= 1e-5 + 1e-4 * p.abs() as f64, "parameter {i}: {p} alone, {q} on 2 ranks");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_rank_with_other_options_ends_every_rank_with_one_line_and_no_model() {
    skip_unless_mpi!();
    let dir = scratch("mismatch");
    let model = dir.join("m.safetensors");
    // Rank 1 asks for another learning rate: `sh -c` reads the rank the launcher gives it;
    // each rank's stderr goes to its own file (mpirun would interleave them).
    let script = format!(
        "exec '{}' train '{}' -o '{}' {} --threads 1 --lr 0.00$((1 + OMPI_COMM_WORLD_RANK)) 2> '{}/err.'$OMPI_COMM_WORLD_RANK",
        env!("CARGO_BIN_EXE_hepae"),
        real_jets().display(),
        model.display(),
        TRAIN.join(" "),
        dir.display()
    );
    let o = mpirun(2, "sh", &["-c", &script]);
    assert!(!o.status.success(), "mpirun succeeded: {}", String::from_utf8_lossy(&o.stderr));
    for r in 0..2 {
        let err = std::fs::read_to_string(dir.join(format!("err.{r}"))).unwrap();
        assert_eq!(err.lines().count(), 1, "rank {r}: one line: {err}");
        let want = format!("error: rank {r} stops: rank 1's options or data differ from rank 0's");
        assert!(err.starts_with(&want), "rank {r}: {err}");
    }
    assert!(!model.exists() && !dir.join("m.history.csv").exists(), "no model file");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_rank_that_dies_ends_every_rank_and_leaves_no_model() {
    skip_unless_mpi!();
    let dir = scratch("dead");
    let model = dir.join("m.safetensors");
    let err0 = dir.with_extension("rank0.err"); // beside the run's folder, which must stay empty
                                                // Rank 1 is killed (SIGKILL) a moment into a long run; rank 0 must not finish alone.
    let script = format!(
        "if [ \"$OMPI_COMM_WORLD_RANK\" = 1 ]; then exec timeout -s KILL 1 '{0}' train '{1}' -o '{2}' --epochs 100000 --batch 8 --threads 1 -q; else exec '{0}' train '{1}' -o '{2}' --epochs 100000 --batch 8 --threads 1 -q 2> '{3}'; fi",
        env!("CARGO_BIN_EXE_hepae"),
        real_jets().display(),
        model.display(),
        err0.display()
    );
    let t0 = std::time::Instant::now();
    let o = mpirun(2, "sh", &["-c", &script]);
    assert!(!o.status.success(), "mpirun succeeded: {}", String::from_utf8_lossy(&o.stderr));
    assert!(t0.elapsed().as_secs() < 60, "the job ended when rank 1 died ({:?})", t0.elapsed());
    assert!(!model.exists(), "no model file");
    let stray: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert!(stray.is_empty(), "nothing left beside it: {stray:?}");
    // The surviving rank says so in one line of its own.
    let err = std::fs::read_to_string(&err0).unwrap();
    assert_eq!(err.lines().count(), 1, "rank 0: one line: {err}");
    assert!(err.starts_with("error: rank 0: a peer rank ended unexpectedly"), "rank 0: {err}");
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_file(&err0).unwrap();
}

#[test]
fn without_the_feature_a_launchers_ranks_are_refused_before_any_output() {
    if cfg!(feature = "mpi") {
        eprintln!("skipped: built with the `mpi` feature (this checks the build without it)");
        return;
    }
    let dir = scratch("nofeature");
    let model = dir.join("m.safetensors");
    // What mpirun (OpenMPI) or srun (PMI) put in each rank's environment.
    for var in ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE"] {
        let o = Command::new(env!("CARGO_BIN_EXE_hepae"))
            .args(["train", real_jets().to_str().unwrap(), "-o", model.to_str().unwrap(), "--epochs", "1"])
            .env(var, "4")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(err.contains("one of 4 MPI ranks") && err.contains("--features mpi"), "{err}");
        assert!(!model.exists());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
