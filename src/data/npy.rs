//! TEMPORARY stub (replaced by the data branch).
use crate::error::{Error, Location, Result};
use std::path::{Path, PathBuf};
pub struct Dataset {
    path: PathBuf,
    data: Vec<f32>,
    rows: usize,
    cols: usize,
    columns: Vec<String>,
}
impl Dataset {
    pub fn open(path: &Path) -> Result<Dataset> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let hl = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        let header = String::from_utf8_lossy(&bytes[10..10 + hl]).to_string();
        let shape = header
            .split("'shape': (")
            .nth(1)
            .unwrap()
            .split(')')
            .next()
            .unwrap();
        let dims: Vec<usize> = shape
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(|s| s.trim().parse().unwrap())
            .collect();
        let data: Vec<f32> = bytes[10 + hl..]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let cp = columns_path(path);
        let columns = match std::fs::read_to_string(&cp) {
            Ok(s) => s.lines().map(String::from).collect(),
            Err(_) => (0..dims[1]).map(|i| format!("c{i}")).collect(),
        };
        Ok(Dataset {
            path: path.into(),
            data,
            rows: dims[0],
            cols: dims[1],
            columns,
        })
    }
    pub fn rows(&self) -> usize {
        self.rows
    }
    pub fn cols(&self) -> usize {
        self.cols
    }
    pub fn columns(&self) -> &[String] {
        &self.columns
    }
    pub fn path(&self) -> &Path {
        &self.path
    }
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }
    pub fn gather(&self, idx: &[u32], out: &mut [f32]) {
        for (o, &i) in out.chunks_exact_mut(self.cols).zip(idx) {
            o.copy_from_slice(self.row(i as usize));
        }
    }
    pub fn check_finite(&self) -> Result<()> {
        if let Some(p) = self.data.iter().position(|v| !v.is_finite()) {
            return Err(Error::data(
                Location::file(&self.path).row(p as u64 / self.cols as u64 + 1),
                "not finite",
            ));
        }
        Ok(())
    }
}
pub fn columns_path(npy: &Path) -> PathBuf {
    npy.with_extension("columns")
}
pub fn write_npy(path: &Path, cols: usize, data: &[f32], columns: Option<&[String]>) -> Result<()> {
    let rows = if cols == 0 { 0 } else { data.len() / cols };
    let mut h = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    while (10 + h.len() + 1) % 64 != 0 {
        h.push(' ');
    }
    h.push('\n');
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    b.extend((h.len() as u16).to_le_bytes());
    b.extend(h.as_bytes());
    b.extend(bytemuck::cast_slice(data));
    crate::atomic::write_atomic(path, &b)?;
    if let Some(c) = columns {
        crate::atomic::write_atomic(&columns_path(path), (c.join("\n") + "\n").as_bytes())?;
    }
    Ok(())
}
pub struct NpyWriter {
    path: PathBuf,
    cols: usize,
    columns: Vec<String>,
    buf: Vec<f32>,
}
impl NpyWriter {
    pub fn create(path: &Path, columns: &[String]) -> Result<Self> {
        Ok(NpyWriter {
            path: path.into(),
            cols: columns.len(),
            columns: columns.to_vec(),
            buf: Vec::new(),
        })
    }
    pub fn write_rows(&mut self, rows: &[f32]) -> Result<()> {
        self.buf.extend_from_slice(rows);
        Ok(())
    }
    pub fn rows_written(&self) -> u64 {
        (self.buf.len() / self.cols) as u64
    }
    pub fn finish(self) -> Result<()> {
        write_npy(&self.path, self.cols, &self.buf, Some(&self.columns))
    }
}
