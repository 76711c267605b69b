//! Range checks for options, as clap value parsers (`#[arg(value_parser = values::…)]`), so a
//! bad value fails at parse time with one line naming the option and the accepted range, and
//! the checks that need the data (latent against the number of inputs, allocation sizes).

use crate::data::npy::Dataset;
use crate::error::{Error, Result};
use crate::models::ae::ModelKind;

fn whole(s: &str, lo: u64, hi: u64) -> Result<u64, String> {
    let v: u64 = s.trim().parse().map_err(|_| format!("'{s}' is not a whole number in {lo}..={hi}"))?;
    if (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is out of range: must be in {lo}..={hi}"))
    }
}

macro_rules! usize_range {
    ($(#[$doc:meta])* $name:ident, $lo:expr, $hi:expr) => {
        $(#[$doc])*
        pub fn $name(s: &str) -> Result<usize, String> {
            whole(s, $lo, $hi).map(|v| v as usize)
        }
    };
}

usize_range!(
    /// Epochs: 1..=1 000 000.
    epochs,
    1,
    1_000_000
);
usize_range!(
    /// A batch of rows (training batch, encode batch): 1..=1 048 576.
    batch,
    1,
    1 << 20
);
usize_range!(
    /// A latent width: 1..=65 536.
    latent,
    1,
    1 << 16
);
usize_range!(
    /// Worker threads: 1..=1024.
    threads,
    1,
    1024
);
usize_range!(
    /// Jets per archive block: 1..=4 194 304 (the block buffer is also capped in bytes).
    block_rows,
    1,
    1 << 22
);
usize_range!(
    /// Bootstrap replicas: 10..=100 000 (fewer give no meaningful error).
    bootstrap,
    10,
    100_000
);
usize_range!(
    /// A count that must be at least 1 (rows to plot, samples, repetitions, columns).
    at_least_one,
    1,
    u32::MAX as u64
);
usize_range!(
    /// Benchmark jets per repetition: 1..=16 777 216 (they are held in memory).
    bench_rows,
    1,
    1 << 24
);

/// A row count to generate or synthesise: 1..=10¹².
pub fn rows(s: &str) -> Result<u64, String> {
    whole(s, 1, 1_000_000_000_000)
}

/// zstd level: 1..=22.
pub fn zstd_level(s: &str) -> Result<i32, String> {
    whole(s, 1, 22).map(|v| v as i32)
}

/// Low mantissa bits to zero: 0..=23 (at most the latent dtype's mantissa: f16 10, bf16 7).
pub fn truncate_bits(s: &str) -> Result<u32, String> {
    whole(s, 0, 23).map(|v| v as u32)
}

fn real(s: &str) -> Result<f64, String> {
    let v: f64 = s.trim().parse().map_err(|_| format!("'{s}' is not a number"))?;
    if v.is_finite() {
        Ok(v)
    } else {
        Err(format!("{s} is not a finite number"))
    }
}

/// A number > 0 (learning rate, slope, jitter scale).
pub fn positive(s: &str) -> Result<f32, String> {
    let v = real(s)?;
    if v > 0.0 {
        Ok(v as f32)
    } else {
        Err(format!("{v} is out of range: must be > 0"))
    }
}

/// A number ≥ 0 (β, λ, noise σ, jitter).
pub fn non_negative(s: &str) -> Result<f32, String> {
    let v = real(s)?;
    if v >= 0.0 {
        Ok(v as f32)
    } else {
        Err(format!("{v} is out of range: must be ≥ 0"))
    }
}

/// A fraction in [0, 1) (validation fraction of train and compare, mask probability).
pub fn fraction(s: &str) -> Result<f64, String> {
    let v = real(s)?;
    if (0.0..1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is out of range: must be in [0, 1)"))
    }
}

/// A fraction in (0, 1) (the validation fraction of `split`, a target rate, ρ).
pub fn open_fraction(s: &str) -> Result<f64, String> {
    let v = real(s)?;
    if v > 0.0 && v < 1.0 {
        Ok(v)
    } else {
        Err(format!("{v} is out of range: must be in (0, 1)"))
    }
}

/// [`open_fraction`] as f32.
pub fn open_fraction_f32(s: &str) -> Result<f32, String> {
    open_fraction(s).map(|v| v as f32)
}

/// [`fraction`] as f32.
pub fn fraction_f32(s: &str) -> Result<f32, String> {
    fraction(s).map(|v| v as f32)
}

/// A latent of at least the number of inputs lets an autoencoder learn the identity. Refused for
/// the families that rely on the bottleneck (ae, vae, aae, pca, ae+pca); a warning for the
/// sparse and denoising families, whose penalty or noise is what makes them learn (they are
/// often overcomplete on purpose).
pub fn check_latent(option: &str, latent: usize, kind: ModelKind, data: &Dataset) -> Result<()> {
    let d = data.cols();
    if latent < d {
        return Ok(());
    }
    let what = format!(
        "{option} {latent} is not smaller than the {d} variables of {}: the {kind} can copy its input",
        data.path().display()
    );
    match kind {
        ModelKind::SparseL1 | ModelKind::SparseKl | ModelKind::Denoising => {
            eprintln!("warning: {what}; allowed for {kind}, whose penalty or noise is what keeps it from doing so");
            Ok(())
        }
        _ => Err(Error::config(format!("{what}; choose 1..={}", d.saturating_sub(1).max(1)))),
    }
}

/// Layer widths: each in 1..=65 536 (a wider layer's weights would not fit in memory).
pub fn check_widths(option: &str, widths: &[usize]) -> Result<()> {
    match widths.iter().find(|&&w| w == 0 || w > 1 << 16) {
        Some(w) => Err(Error::config(format!("{option}: width {w} is out of range: each must be in 1..=65536"))),
        None => Ok(()),
    }
}

/// Physical memory in bytes (MemTotal), or 16 GiB where it cannot be read.
fn memory_bytes() -> u128 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("MemTotal:"))?;
            line.split_whitespace().nth(1)?.parse::<u128>().ok()
        })
        .map_or(16 << 30, |kb| kb * 1024)
}

/// Refuses a network whose training buffers would not fit in this machine's memory, before
/// they are allocated (an abort otherwise): parameters with their gradients and two Adam
/// moments (16 bytes each) plus activations and their gradients for one batch of at most
/// `rows` rows, for the encoder `inputs → hidden → latent` and its mirror.
pub fn check_training_memory(batch: usize, rows: usize, inputs: usize, hidden: &[usize], latent: usize) -> Result<()> {
    let mut widths = vec![inputs];
    widths.extend_from_slice(hidden);
    widths.push(latent);
    widths.extend(hidden.iter().rev());
    widths.push(inputs);
    let w: Vec<u128> = widths.iter().map(|&x| x as u128).collect();
    let params: u128 = w.windows(2).map(|p| p[0] * p[1] + p[1]).sum();
    let acts: u128 = w.iter().sum::<u128>() * batch.min(rows.max(1)) as u128;
    let need = params * 16 + acts * 12;
    let limit = memory_bytes();
    if need > limit {
        return Err(Error::config(format!(
            "--batch {batch} with --hidden {} needs about {:.1} GB of training buffers, more than this machine's {:.1} GB; use smaller widths or batch",
            hidden.iter().map(|h| h.to_string()).collect::<Vec<_>>().join(","),
            need as f64 / 1e9,
            limit as f64 / 1e9
        )));
    }
    Ok(())
}

/// Refuses a buffer of `count × bytes_each` over `limit` bytes, naming the option that sets it.
pub fn check_alloc(option: &str, value: usize, count: u128, bytes_each: u128, limit: u128) -> Result<()> {
    let need = count.saturating_mul(bytes_each);
    if need > limit {
        return Err(Error::config(format!(
            "{option} {value} needs a {:.1} GB buffer; the limit is {:.1} GB, choose at most {}",
            need as f64 / 1e9,
            limit as f64 / 1e9,
            (value as u128 * limit / need.max(1)).max(1)
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_name_the_accepted_values() {
        assert_eq!(epochs("3"), Ok(3));
        assert_eq!(epochs("0").unwrap_err(), "0 is out of range: must be in 1..=1000000");
        assert!(epochs("-1").unwrap_err().contains("1..=1000000"));
        assert!(block_rows("6000000000000").unwrap_err().contains("1..=4194304"));
        assert_eq!(zstd_level("22"), Ok(22));
        assert!(zstd_level("23").is_err() && zstd_level("0").is_err());
        assert!(positive("-1").unwrap_err().contains("> 0"));
        assert!(positive("nan").is_err() && positive("inf").is_err());
        assert_eq!(fraction("0"), Ok(0.0));
        assert!(open_fraction("0").unwrap_err().contains("(0, 1)"));
        assert!(fraction("1").unwrap_err().contains("[0, 1)"));
        assert!(bootstrap("0").unwrap_err().contains("10..=100000"));
        let e = check_alloc("--block-rows", 1 << 22, 1 << 22, 1 << 20, 1 << 30).unwrap_err().to_string();
        assert!(e.contains("4398.0 GB") && e.contains("at most 1024"), "{e}");
        assert!(check_alloc("--block-rows", 10, 10, 4, 1 << 30).is_ok());
    }
}
