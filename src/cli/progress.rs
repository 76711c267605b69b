//! Progress display for long runs: a bar over all batches of all epochs on a terminal, one
//! line per epoch otherwise (logs, CI).

use crate::train::Progress;
use indicatif::{ProgressBar, ProgressStyle};
use std::cell::{Cell, RefCell};
use std::io::IsTerminal;

/// Shows training progress on stderr.
pub struct EpochBar {
    quiet: bool,
    bar: RefCell<Option<ProgressBar>>,
    epochs: Cell<usize>,
}

impl EpochBar {
    pub fn new(quiet: bool) -> Self {
        EpochBar { quiet, bar: RefCell::new(None), epochs: Cell::new(0) }
    }

    pub fn update(&self, p: &Progress<'_>) {
        if self.quiet {
            return;
        }
        match p {
            Progress::Start { epochs, batches_per_epoch, train_rows, val_rows } => {
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
            Progress::Batch { .. } => {
                if let Some(bar) = self.bar.borrow().as_ref() {
                    bar.inc(1);
                }
            }
            Progress::Epoch(rec) => {
                let line = format!(
                    "epoch {:>4}/{}  train MSE {:.4e}  validation MSE {}  ({:.2} s)",
                    rec.epoch,
                    self.epochs.get(),
                    rec.train_loss,
                    rec.val_loss.map_or("-".into(), |v| format!("{v:.4e}")),
                    rec.seconds
                );
                match self.bar.borrow().as_ref() {
                    Some(bar) => bar.println(line),
                    None => eprintln!("{line}"),
                }
            }
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = self.bar.borrow_mut().take() {
            bar.finish_and_clear();
        }
    }
}
