//! The hot paths allocate nothing: a batch-1 encode after the encoder is built, and a
//! training step (forward, loss, backward, Adam) after the first step has grown the GEMM's
//! per-thread packing buffer. A counting global allocator, armed only around the measured
//! calls on this thread, proves it.

use hepae::models::ae::{AeShape, Autoencoder, ModelKind, OutputActivation, StepOptions};
use hepae::nn::adam::Adam;
use rand::SeedableRng;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

/// Size of the last counted allocation (names the culprit in a failure message).
static LAST_SIZE: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Whether this thread is being measured, and its count: per thread, so tests running in
    /// parallel do not see each other's allocations.
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; counting touches only
// const-initialised thread-locals and an atomic, none of which allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if ARMED.with(Cell::get) {
            ALLOCATIONS.with(|n| n.set(n.get() + 1));
            LAST_SIZE.store(layout.size(), Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if ARMED.with(Cell::get) {
            ALLOCATIONS.with(|n| n.set(n.get() + 1));
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made on this thread while `f` runs.
fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    ARMED.with(|a| a.set(true));
    f();
    ARMED.with(|a| a.set(false));
    ALLOCATIONS.with(Cell::get) - before
}

fn reference_model(d: usize) -> Autoencoder {
    let mut m = Autoencoder::new(AeShape::standard(d, vec![200, 100, 50], 15, 0.01, OutputActivation::Linear));
    m.init(3);
    m
}

#[test]
fn the_counter_sees_allocations() {
    let n = allocations_during(|| {
        let v: Vec<u64> = Vec::with_capacity(10);
        std::hint::black_box(&v);
    });
    assert_eq!(n, 1, "the counting allocator must see a Vec");
}

#[test]
fn a_training_step_allocates_nothing() {
    let (d, batch) = (24, 512);
    let mut model = reference_model(d);
    let mut buf = model.plan(batch, true);
    let mut grads = vec![0.0f32; model.params.len()];
    let mut adam = Adam::new(model.params.len(), 1e-3);
    let x: Vec<f32> = (0..batch * d).map(|i| ((i * 37 % 101) as f32) / 101.0).collect();
    let opt = StepOptions { kind: ModelKind::Ae, beta: 0.0, lambda: 0.0, noise: 0.0, mask: 0.0 };
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let mut step = |model: &mut Autoencoder, grads: &mut Vec<f32>| {
        grads.fill(0.0);
        let loss = model.train_shard(grads, &x, &mut buf, batch, batch * d, batch, &opt, &mut rng);
        adam.step(&mut model.params.data, grads);
        loss.recon
    };
    step(&mut model, &mut grads); // grows the GEMM's packing buffer once
    let mut losses = [0.0f64; 5];
    let n = allocations_during(|| {
        for l in losses.iter_mut() {
            *l = step(&mut model, &mut grads);
        }
    });
    assert_eq!(n, 0, "five training steps allocated {n} times (last: {} bytes)", LAST_SIZE.load(Ordering::Relaxed));
    assert!(losses.iter().all(|l| l.is_finite()) && losses[4] < losses[0], "the steps trained: {losses:?}");
}

#[test]
fn a_batch_one_encode_allocates_nothing() {
    use hepae::data::normalize::Normalizer;
    use hepae::model_io::SavedModel;
    let d = 24;
    let ae = reference_model(d);
    let columns: Vec<String> = (0..d).map(|i| format!("c{i}")).collect();
    let model = SavedModel::new(ModelKind::Ae, ae, columns.clone(), Normalizer::identity(&columns));
    let mut enc = hepae::encoder::Encoder::new(&model, 1);
    let jet: Vec<f32> = (0..d).map(|i| i as f32 / d as f32).collect();
    let mut z = [0.0f32; 15];
    enc.encode(&jet, 1, &mut z).unwrap();
    let n = allocations_during(|| {
        for _ in 0..1000 {
            enc.encode(&jet, 1, &mut z).unwrap();
        }
    });
    assert_eq!(n, 0, "1000 batch-1 encodes allocated {n} times");
    assert!(z.iter().all(|v| v.is_finite()));
}
