//! A column's code in one coded block: its grid, kind counts, model flags, value table and
//! identity sources, and their bytes in the block header.

use super::KINDS;
use crate::formats::archive::entropy::{get_varint, put_varint, Hist};
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
}

impl ColumnCode {
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
        Some(ColumnCode { grid, kinds, learned, delta, hist, sources })
    }
}
