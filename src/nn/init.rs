//! Parameter initialisation, matching PyTorch's `nn.Linear.reset_parameters`:
//! weight ~ kaiming_uniform(a = √5) = U(−1/√I, 1/√I), bias ~ U(−1/√I, 1/√I).
//! (gain = √(2/(1+a²)) = √(1/3); bound = gain·√(3/I) = 1/√I.)

use rand::Rng;

/// Fills `weight` [O×I] and `bias` \[O] for a layer with `fan_in = I` inputs.
pub fn init_linear<R: Rng>(weight: &mut [f32], bias: &mut [f32], fan_in: usize, rng: &mut R) {
    let bound = 1.0 / (fan_in as f64).sqrt();
    for w in weight.iter_mut() {
        *w = rng.random_range(-bound..bound) as f32;
    }
    for b in bias.iter_mut() {
        *b = rng.random_range(-bound..bound) as f32;
    }
}
