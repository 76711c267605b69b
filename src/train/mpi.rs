//! [`Ranks`] over MPI (the `mpi` feature): the rsmpi bindings over the system's MPI library.
//! `mpirun -np R hepae train …` starts R processes; each initialises MPI once ([`Mpi::init`]),
//! trains its rows of every batch, and meets the others in the collectives of
//! [`super::ranks::World`]. Only the main thread calls MPI (the thread pool never does), so the
//! library is asked for `MPI_THREAD_FUNNELED`.

use super::ranks::Ranks;
use crate::error::{Error, Result};
use mpi::collective::CommunicatorCollectives;
use mpi::environment::Universe;
use mpi::topology::{Communicator, SimpleCommunicator};
use mpi::Threading;
use std::sync::OnceLock;

/// This process's MPI session: MPI_Finalize runs when it is dropped (after training).
pub struct Mpi {
    _universe: Universe,
    world: SimpleCommunicator,
}

impl Mpi {
    /// Initialises MPI (once per process).
    pub fn init() -> Result<Mpi> {
        let (universe, _level) = mpi::initialize_with_threading(Threading::Funneled)
            .ok_or_else(|| Error::config("MPI was already initialised in this process"))?;
        let world = universe.world();
        Ok(Mpi { _universe: universe, world })
    }

    pub fn rank(&self) -> usize {
        self.world.rank() as usize
    }

    pub fn size(&self) -> usize {
        self.world.size() as usize
    }

    /// The ranks of MPI_COMM_WORLD, for a [`super::ranks::World`].
    pub fn ranks(&self) -> MpiRanks {
        MpiRanks { world: SimpleCommunicator::world() }
    }

    /// Waits until every rank has reached this call.
    pub fn barrier(&self) {
        self.world.barrier();
    }

    /// Ends every rank of the job with `code` (MPI_Abort): for a failure that the other ranks
    /// cannot learn of through a collective, so that none is left waiting in one.
    pub fn abort(&self, code: i32) -> ! {
        self.world.abort(code)
    }
}

/// MPI_COMM_WORLD as [`Ranks`]: MPI_Allgather and MPI_Alltoall on f32/f64 buffers.
pub struct MpiRanks {
    world: SimpleCommunicator,
}

impl Ranks for MpiRanks {
    fn rank(&self) -> usize {
        self.world.rank() as usize
    }
    fn size(&self) -> usize {
        self.world.size() as usize
    }
    fn all_gather_f64(&mut self, local: &[f64], all: &mut [f64]) -> Result<()> {
        self.world.all_gather_into(local, all);
        Ok(())
    }
    fn all_gather_f32(&mut self, local: &[f32], all: &mut [f32]) -> Result<()> {
        self.world.all_gather_into(local, all);
        Ok(())
    }
    fn all_to_all_f32(&mut self, send: &[f32], recv: &mut [f32]) -> Result<()> {
        self.world.all_to_all_into(send, recv);
        Ok(())
    }
}

/// The line a rank prints when the launcher stops it ([`stop_line_on_sigterm`]).
static STOP_LINE: OnceLock<Box<[u8]>> = OnceLock::new();

extern "C" {
    fn signal(signum: i32, handler: extern "C" fn(i32)) -> usize;
    fn write(fd: i32, buf: *const u8, count: usize) -> isize;
    fn _exit(status: i32) -> !;
}

const SIGTERM: i32 = 15;

extern "C" fn on_sigterm(_: i32) {
    if let Some(line) = STOP_LINE.get() {
        // SAFETY: write(2) is async-signal-safe; `line` is never freed (a static).
        unsafe { write(2, line.as_ptr(), line.len()) };
    }
    // SAFETY: _exit(2) is async-signal-safe and ends the process without unwinding.
    unsafe { _exit(1) }
}

/// When one rank dies, the launcher (OpenMPI 4: no fault-tolerant MPI, so no collective ever
/// returns an error) ends the others with SIGTERM. This makes that one hepae line on the
/// rank's stderr and exit 1, instead of a silent death. Process-wide, as signals are.
pub fn stop_line_on_sigterm(rank: usize) {
    let line = format!(
        "error: rank {rank}: a peer rank ended unexpectedly, or the job was cancelled: stopped by the MPI launcher (no model written)\n"
    );
    let _ = STOP_LINE.set(line.into_bytes().into_boxed_slice());
    // SAFETY: installs a handler that only calls async-signal-safe functions.
    unsafe { signal(SIGTERM, on_sigterm) };
}
