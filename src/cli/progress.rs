//! Progress of long work on stderr, for every long command (compress, decompress, score, synth,
//! evaluate, plot, reconstruct, import, train).
//!
//! On a terminal: an `indicatif` bar with rate and ETA. Otherwise (a batch-farm log, CI, a file):
//! a plain line at most every [`DEFAULT_INTERVAL_S`] seconds, e.g.
//! `compress: 3.2 M / 10.0 M rows (32 %), 1.1 M rows/s, ETA 6 s`, so a log shows that the job
//! lives; and, in both cases, one summary line at the end
//! (`compress: 10.0 M rows in 9.1 s (1.1 M rows/s)`). `--quiet` silences all of it.
//!
//! The interval is read from `HEPAE_PROGRESS_INTERVAL_S` (seconds, ≥ 0; 0 prints every update),
//! so a test can see the plain lines on small data.
//!
//! Library loops report through a plain callback, `&mut dyn FnMut(u64)` called with the units
//! done so far: `lib_fn(…, &mut |done| progress.set(done))`.

use crate::error::{Error, Result};
use crate::train::Progress as TrainEvent;
use indicatif::{ProgressBar, ProgressStyle};
use std::cell::{Cell, RefCell};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// Seconds between plain progress lines when stderr is not a terminal.
pub const DEFAULT_INTERVAL_S: f64 = 10.0;
/// Environment variable that overrides [`DEFAULT_INTERVAL_S`].
pub const INTERVAL_ENV: &str = "HEPAE_PROGRESS_INTERVAL_S";

/// The plain-line interval: `HEPAE_PROGRESS_INTERVAL_S` if set, else [`DEFAULT_INTERVAL_S`].
pub fn interval() -> Result<Duration> {
    match std::env::var(INTERVAL_ENV) {
        Err(_) => Ok(Duration::from_secs_f64(DEFAULT_INTERVAL_S)),
        Ok(s) => match s.trim().parse::<f64>() {
            Ok(v) if v.is_finite() && (0.0..=86_400.0).contains(&v) => Ok(Duration::from_secs_f64(v)),
            _ => Err(Error::config(format!("{INTERVAL_ENV}='{s}' must be a number of seconds in [0, 86400]"))),
        },
    }
}

/// A count for humans: `950`, `12.3 k`, `3.2 M`, `1.1 G`.
pub fn fmt_count(v: f64) -> String {
    let a = v.abs();
    if a < 10_000.0 {
        format!("{}", v.round() as i64)
    } else if a < 1e6 {
        format!("{:.1} k", v / 1e3)
    } else if a < 1e9 {
        format!("{:.1} M", v / 1e6)
    } else {
        format!("{:.1} G", v / 1e9)
    }
}

/// A duration for humans: `6 s`, `4 min 10 s`, `2 h 05 min`.
pub fn fmt_duration(s: f64) -> String {
    if !s.is_finite() {
        return "?".into();
    }
    let t = s.max(0.0).round() as u64;
    if s < 1.0 {
        format!("{s:.2} s")
    } else if s < 10.0 {
        format!("{s:.1} s")
    } else if t < 60 {
        format!("{t} s")
    } else if t < 3600 {
        format!("{} min {:02} s", t / 60, t % 60)
    } else {
        format!("{} h {:02} min", t / 3600, (t % 3600) / 60)
    }
}

/// The plain progress line: `LABEL: DONE / TOTAL UNIT (P %), RATE UNIT/s, ETA T`.
pub fn progress_line(label: &str, unit: &str, done: u64, total: u64, seconds: f64) -> String {
    let rate = if seconds > 0.0 { done as f64 / seconds } else { f64::NAN };
    let pct = if total > 0 { 100.0 * done as f64 / total as f64 } else { 100.0 };
    let eta = if rate > 0.0 { fmt_duration(total.saturating_sub(done) as f64 / rate) } else { "?".into() };
    let rate_s = if rate.is_finite() { fmt_count(rate) } else { "?".into() };
    format!(
        "{label}: {} / {} {unit} ({pct:.0} %), {rate_s} {unit}/s, ETA {eta}",
        fmt_count(done as f64),
        fmt_count(total as f64)
    )
}

/// The plain line when the total is not known in advance: `LABEL: DONE UNIT, RATE UNIT/s`.
pub fn count_line(label: &str, unit: &str, done: u64, seconds: f64) -> String {
    let rate = if seconds > 0.0 { fmt_count(done as f64 / seconds) } else { "?".into() };
    format!("{label}: {} {unit}, {rate} {unit}/s", fmt_count(done as f64))
}

/// The closing line: `LABEL: DONE UNIT in T (RATE UNIT/s)`.
pub fn summary_line(label: &str, unit: &str, done: u64, seconds: f64) -> String {
    let rate = if seconds > 0.0 { format!(" ({} {unit}/s)", fmt_count(done as f64 / seconds)) } else { String::new() };
    format!("{label}: {} {unit} in {}{rate}", fmt_count(done as f64), fmt_duration(seconds))
}

enum Mode {
    Quiet,
    Bar(ProgressBar),
    Lines { every: Duration, last: Option<Instant> },
}

/// Progress of one long loop over `total` units (rows, jets, figures).
pub struct Progress {
    label: String,
    unit: &'static str,
    /// None: not known in advance (a CSV being read); lines then show the count and rate.
    total: Option<u64>,
    done: u64,
    start: Instant,
    mode: Mode,
    finished: bool,
}

impl Progress {
    /// Starts showing progress of `label` over `total` `unit`s (nothing at all when `quiet`).
    pub fn new(label: &str, unit: &'static str, total: u64, quiet: bool) -> Result<Progress> {
        Progress::start(label, unit, Some(total), quiet)
    }

    /// Progress over a count not known in advance (a spinner on a terminal).
    pub fn counting(label: &str, unit: &'static str, quiet: bool) -> Result<Progress> {
        Progress::start(label, unit, None, quiet)
    }

    fn start(label: &str, unit: &'static str, total: Option<u64>, quiet: bool) -> Result<Progress> {
        let mode = if quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            let (bar, template) = match total {
                Some(t) => (
                    ProgressBar::new(t),
                    format!("{label}: {{bar:40}} {{human_pos}}/{{human_len}} {unit}  {{per_sec}}  ETA {{eta}}"),
                ),
                None => (ProgressBar::new_spinner(), format!("{label}: {{spinner}} {{human_pos}} {unit}  {{per_sec}}")),
            };
            if let Ok(style) = ProgressStyle::with_template(&template) {
                bar.set_style(style);
            }
            Mode::Bar(bar)
        } else {
            Mode::Lines { every: interval()?, last: None }
        };
        Ok(Progress { label: label.to_string(), unit, total, done: 0, start: Instant::now(), mode, finished: false })
    }

    /// Units done so far.
    pub fn done(&self) -> u64 {
        self.done
    }

    /// Sets the units done so far (a plain line when the interval has passed since the last).
    pub fn set(&mut self, done: u64) {
        self.done = done;
        let now = Instant::now();
        match &mut self.mode {
            Mode::Quiet => {}
            Mode::Bar(bar) => bar.set_position(self.done),
            Mode::Lines { every, last } => {
                let due = match last {
                    None => now.duration_since(self.start) >= *every,
                    Some(t) => now.duration_since(*t) >= *every,
                };
                if due && self.total.is_none_or(|t| self.done < t) {
                    *last = Some(now);
                    let secs = now.duration_since(self.start).as_secs_f64();
                    match self.total {
                        Some(t) => eprintln!("{}", progress_line(&self.label, self.unit, self.done, t, secs)),
                        None => eprintln!("{}", count_line(&self.label, self.unit, self.done, secs)),
                    }
                }
            }
        }
    }

    /// Adds `n` units.
    pub fn inc(&mut self, n: u64) {
        self.set(self.done + n);
    }

    /// Ends the display with the summary line (not printed when quiet).
    pub fn finish(mut self) {
        self.finished = true;
        let secs = self.start.elapsed().as_secs_f64();
        let line = summary_line(&self.label, self.unit, self.done, secs);
        match &self.mode {
            Mode::Quiet => {}
            Mode::Bar(bar) => {
                bar.finish_and_clear();
                eprintln!("{line}");
            }
            Mode::Lines { .. } => eprintln!("{line}"),
        }
    }
}

impl Drop for Progress {
    /// A loop that failed leaves no bar behind (and no summary: the error is the last word).
    fn drop(&mut self) {
        if let (false, Mode::Bar(bar)) = (self.finished, &self.mode) {
            bar.finish_and_clear();
        }
    }
}

/// Shows training progress on stderr: on a terminal a bar over all batches of all epochs with
/// a line per epoch; otherwise one line per epoch at most every interval, always the first
/// and the last.
pub struct EpochBar {
    quiet: bool,
    bar: RefCell<Option<ProgressBar>>,
    epochs: Cell<usize>,
    every: Duration,
    last_line: Cell<Option<Instant>>,
    /// The latest epoch line not yet printed (printed by `finish`, so the last epoch always shows).
    pending: RefCell<Option<String>>,
}

impl EpochBar {
    /// A quiet bar prints nothing. A malformed `HEPAE_PROGRESS_INTERVAL_S` falls back to the
    /// default here (training must not fail over its display); the other commands report it.
    pub fn new(quiet: bool) -> Self {
        let every = interval().unwrap_or(Duration::from_secs_f64(DEFAULT_INTERVAL_S));
        EpochBar {
            quiet,
            bar: RefCell::new(None),
            epochs: Cell::new(0),
            every,
            last_line: Cell::new(None),
            pending: RefCell::new(None),
        }
    }

    pub fn update(&self, p: &TrainEvent<'_>) {
        if self.quiet {
            return;
        }
        match p {
            TrainEvent::Start { epochs, batches_per_epoch, train_rows, val_rows } => {
                self.epochs.set(*epochs);
                eprintln!("training on {train_rows} rows, validating on {val_rows}; {epochs} epochs of {batches_per_epoch} batches");
                if std::io::stderr().is_terminal() {
                    let bar = ProgressBar::new((*epochs * *batches_per_epoch) as u64);
                    if let Ok(style) =
                        ProgressStyle::with_template("{bar:40} {pos}/{len} batches  {elapsed_precise} (eta {eta})")
                    {
                        bar.set_style(style);
                    }
                    *self.bar.borrow_mut() = Some(bar);
                }
            }
            TrainEvent::Batch { .. } => {
                if let Some(bar) = self.bar.borrow().as_ref() {
                    bar.inc(1);
                }
            }
            TrainEvent::Epoch(rec) => {
                let line = format!(
                    "epoch {:>4}/{}  train MSE {:.4e}  validation MSE {}  ({:.2} s)",
                    rec.epoch,
                    self.epochs.get(),
                    rec.train_loss,
                    rec.val_loss.map_or("-".into(), |v| format!("{v:.4e}")),
                    rec.seconds
                );
                if let Some(bar) = self.bar.borrow().as_ref() {
                    bar.println(line);
                    return;
                }
                let now = Instant::now();
                let due = self.last_line.get().is_none_or(|t| now.duration_since(t) >= self.every);
                if due || rec.epoch >= self.epochs.get() {
                    eprintln!("{line}");
                    self.last_line.set(Some(now));
                    *self.pending.borrow_mut() = None;
                } else {
                    *self.pending.borrow_mut() = Some(line);
                }
            }
        }
    }

    /// Clears the bar and prints the last epoch's line if the interval held it back.
    pub fn finish(&self) {
        if let Some(bar) = self.bar.borrow_mut().take() {
            bar.finish_and_clear();
        }
        if let Some(line) = self.pending.borrow_mut().take() {
            eprintln!("{line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_durations_read_as_a_person_writes_them() {
        assert_eq!(fmt_count(950.0), "950");
        assert_eq!(fmt_count(12_345.0), "12.3 k");
        assert_eq!(fmt_count(3.2e6), "3.2 M");
        assert_eq!(fmt_count(1.1e9), "1.1 G");
        assert_eq!(fmt_duration(6.04), "6.0 s");
        assert_eq!(fmt_duration(42.4), "42 s");
        assert_eq!(fmt_duration(250.0), "4 min 10 s");
        assert_eq!(fmt_duration(7500.0), "2 h 05 min");
    }

    #[test]
    fn plain_line_has_count_total_percent_rate_and_eta() {
        // 3.2 M of 10 M rows in 2.9 s: 1.1 M rows/s, 6.8 M rows left → ETA ≈ 6 s.
        let l = progress_line("compress", "rows", 3_200_000, 10_000_000, 2.9);
        assert_eq!(l, "compress: 3.2 M / 10.0 M rows (32 %), 1.1 M rows/s, ETA 6.2 s");
        let s = summary_line("compress", "rows", 10_000_000, 9.1);
        assert_eq!(s, "compress: 10.0 M rows in 9.1 s (1.1 M rows/s)");
        // Nothing done yet: no rate, no ETA, and no division by zero.
        assert_eq!(progress_line("score", "jets", 0, 100, 0.0), "score: 0 / 100 jets (0 %), ? jets/s, ETA ?");
        // An unknown total (a CSV being read): the count and the rate.
        assert_eq!(count_line("import", "rows", 2_500_000, 2.0), "import: 2.5 M rows, 1.2 M rows/s");
    }
}
