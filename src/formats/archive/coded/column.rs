//! A column's code in one coded block: its grid, kind counts, model flags, value table and
//! identity sources, and their bytes in the block header; format 4 adds the delta walk's
//! start, the kind context and the prediction from earlier columns.

use super::predict::Pred;
use super::KINDS;
use crate::formats::archive::entropy::{get_varint, put_varint, unzigzag, zigzag, Hist};
use crate::formats::archive::grid::Grid;

/// How one column of one block is coded.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnCode {
    pub grid: Grid,
    pub kinds: [u32; KINDS],
    pub learned: bool,
    /// Grid integers coded as differences from the column's previous value in the block
    /// (sequential columns: event numbers, process labels).
    pub delta: bool,
    pub hist: Hist,
    /// Columns whose sum this one is, where its kind says so (empty: none).
    pub sources: Vec<u16>,
    /// Format 4: the value the delta walk starts from (format 3: 0).
    pub first: i64,
    /// Format 4: the kinds are coded under two tables, chosen by whether this column's value
    /// in the row is zero; `kinds0` are the counts of the rows where it is.
    pub kind_ctx: Option<u16>,
    pub kinds0: [u32; KINDS],
    /// Format 4: the grid integers are residuals against this prediction.
    pub pred: Pred,
}

impl ColumnCode {
    /// A plain code (no delta, prediction or context).
    pub fn plain(grid: Grid, kinds: [u32; KINDS], hist: Hist) -> ColumnCode {
        ColumnCode {
            grid,
            kinds,
            learned: false,
            delta: false,
            hist,
            sources: Vec::new(),
            first: 0,
            kind_ctx: None,
            kinds0: [0; KINDS],
            pred: Pred::None,
        }
    }

    /// The columns that must be decoded before this one.
    pub fn depends_on(&self) -> impl Iterator<Item = u16> + '_ {
        self.sources.iter().copied().chain(self.kind_ctx).chain(self.pred.sources().iter().copied())
    }

    /// What `--explain` adds after the grid: the model and the columns it reads.
    pub fn note(&self, names: &[String]) -> String {
        let name = |c: u16| names.get(c as usize).cloned().unwrap_or_else(|| format!("#{c}"));
        let list = |s: &[u16]| s.iter().map(|&c| name(c)).collect::<Vec<_>>().join("+");
        let mut out = String::new();
        if self.learned {
            out += ", learned";
        }
        if self.delta {
            out += &format!(", delta from {}", self.first);
        }
        if !self.sources.is_empty() {
            out += &format!(", identity ({} kinds)", self.kinds[4]);
        }
        match &self.pred {
            Pred::None => {}
            Pred::Complement(s) => out += &format!(", 1 - ({})", list(s)),
            Pred::Linear { sources, .. } => out += &format!(", linear in {} columns", sources.len()),
        }
        if let Some(c) = self.kind_ctx {
            out += &format!(", kinds given {} = 0", name(c));
        }
        out
    }

    /// Bytes of this code in a block header (with its format-4 part when `v4`).
    pub fn header_bytes(&self, v4: bool) -> usize {
        let mut b = Vec::new();
        self.write(&mut b);
        if v4 {
            self.write_ext(&mut b);
        }
        b.len()
    }

    /// The format-4 part of the code.
    pub(super) fn write_ext(&self, out: &mut Vec<u8>) {
        put_varint(zigzag(self.first), out);
        put_varint(self.kind_ctx.map_or(0, |c| c as u64 + 1), out);
        if self.kind_ctx.is_some() {
            for &k in &self.kinds0 {
                put_varint(k as u64, out);
            }
        }
        self.pred.write(out);
        out.push(self.hist.esc as u8);
    }

    /// Reads the format-4 part; `None` when malformed or inconsistent with the rest.
    pub(super) fn read_ext(&mut self, b: &[u8], pos: &mut usize, columns: usize) -> Option<()> {
        self.first = unzigzag(get_varint(b, pos)?);
        if self.first.abs() > crate::formats::archive::grid::MAX_Q {
            return None;
        }
        let ctx = get_varint(b, pos)?;
        if ctx > 0 {
            let c = u16::try_from(ctx - 1).ok().filter(|&c| (c as usize) < columns)?;
            self.kind_ctx = Some(c);
            for k in 0..KINDS {
                self.kinds0[k] = u32::try_from(get_varint(b, pos)?).ok().filter(|&v| v <= self.kinds[k])?;
            }
        }
        self.pred = Pred::read(b, pos, columns)?;
        self.hist.esc = match *b.get(*pos)? {
            0 => false,
            1 if self.hist.counts.len() >= 2 => true,
            _ => return None,
        };
        *pos += 1;
        let predicted = self.pred != Pred::None;
        if predicted && (self.learned || self.delta || !matches!(self.grid, Grid::Log { .. })) {
            return None;
        }
        Some(())
    }

    pub(super) fn write(&self, out: &mut Vec<u8>) {
        match self.grid {
            Grid::Log { delta } => {
                out.push(0);
                out.extend_from_slice(&delta.to_le_bytes());
            }
            Grid::Linear { step } => {
                out.push(1);
                out.extend_from_slice(&step.to_le_bytes());
            }
            Grid::Mantissa { bits } => out.extend_from_slice(&[2, bits as u8]),
            Grid::Integer => out.push(3),
        }
        for &k in &self.kinds {
            put_varint(k as u64, out);
        }
        out.push(self.learned as u8 | (self.delta as u8) << 1);
        self.hist.write(out);
        put_varint(self.sources.len() as u64, out);
        for &s in &self.sources {
            put_varint(s as u64, out);
        }
    }

    pub(super) fn read(b: &[u8], pos: &mut usize, columns: usize) -> Option<ColumnCode> {
        let tag = *b.get(*pos)?;
        *pos += 1;
        let f64_at = |pos: &mut usize| -> Option<f64> {
            let s = b.get(*pos..*pos + 8)?;
            *pos += 8;
            Some(f64::from_le_bytes(s.try_into().ok()?))
        };
        let grid = match tag {
            0 => Grid::Log { delta: f64_at(pos)? },
            1 => Grid::Linear { step: f64_at(pos)? },
            2 => {
                let bits = *b.get(*pos)? as u32;
                *pos += 1;
                Grid::Mantissa { bits }
            }
            3 => Grid::Integer,
            _ => return None,
        };
        if !grid.valid() {
            return None;
        }
        let mut kinds = [0u32; KINDS];
        for k in &mut kinds {
            *k = u32::try_from(get_varint(b, pos)?).ok()?;
        }
        let (learned, delta) = match *b.get(*pos)? {
            0 => (false, false),
            1 => (true, false),
            2 => (false, true),
            _ => return None,
        };
        *pos += 1;
        let hist = Hist::read(b, pos)?;
        let ns = get_varint(b, pos)? as usize;
        if ns > columns {
            return None;
        }
        let sources = (0..ns)
            .map(|_| get_varint(b, pos).and_then(|s| u16::try_from(s).ok()).filter(|&s| (s as usize) < columns))
            .collect::<Option<Vec<u16>>>()?;
        Some(ColumnCode { learned, delta, sources, ..ColumnCode::plain(grid, kinds, hist) })
    }
}
