//! Commands started by an MPI launcher (`mpirun -np R hepae train …`): how many ranks the
//! launcher says there are, and the run of one rank: MPI started, the command run in its
//! [`World`], and a failure that the other ranks cannot learn of ending the whole job.

use crate::error::{Error, Result};
use crate::train::World;

/// The number of ranks the launcher started, from its environment: OpenMPI's
/// `OMPI_COMM_WORLD_SIZE`, or `PMI_SIZE` (MPICH, Intel MPI, Slurm's `srun`). None outside one.
pub fn launched_ranks() -> Option<usize> {
    ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE"].iter().find_map(|v| std::env::var(v).ok()?.trim().parse().ok())
}

/// Runs `f` as this process's rank of an `n`-rank MPI job. An error that every rank learnt of
/// in a collective is printed by every rank (one line, one write), then the ranks meet in a
/// barrier, so that none exits (and has the launcher end the job) before all have printed, and
/// exit 1; any other error is printed and ends the job (MPI_Abort), so that no rank waits
/// forever for this one.
#[cfg(feature = "mpi")]
pub fn run_ranked(n: usize, f: impl FnOnce(World) -> Result<()>) -> Result<()> {
    let mpi = crate::train::mpi::Mpi::init()?;
    if mpi.size() != n {
        return Err(Error::config(format!(
            "the launcher announced {n} ranks but MPI started {} (a mismatched MPI library?)",
            mpi.size()
        )));
    }
    let world = World::new(Box::new(mpi.ranks()));
    let agreed = world.failed_together_flag();
    let rank = mpi.rank();
    crate::train::mpi::stop_line_on_sigterm(rank);
    let res = f(world);
    if let Err(e) = &res {
        use std::io::Write;
        if !agreed.load(std::sync::atomic::Ordering::Relaxed) {
            let _ = std::io::stderr().write_all(format!("error: rank {rank}: {e}\n").as_bytes());
            mpi.abort(1);
        }
        let _ = std::io::stderr().write_all(format!("error: {e}\n").as_bytes());
        mpi.barrier();
        drop(mpi);
        std::process::exit(1);
    }
    res
}

/// Without the `mpi` feature a launcher's ranks would each train alone and write the same
/// files: refused.
#[cfg(not(feature = "mpi"))]
pub fn run_ranked(n: usize, _f: impl FnOnce(World) -> Result<()>) -> Result<()> {
    Err(Error::config(format!(
        "started as one of {n} MPI ranks, but this hepae was built without the `mpi` feature (each rank would train alone): rebuild with `cargo build --release --features mpi`"
    )))
}
