//! Row cuts such as `pt<8000,mass<800` or `hadronFlavour==5`: a comma means AND; the operators
//! are `<  <=  >  >=  ==  !=`; the value is parsed as f32 and compared in f32, so `==` on integer
//! codes stored as float is exact. Column names are checked against the header.

use crate::error::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl CmpOp {
    fn apply(self, a: f32, b: f32) -> bool {
        match self {
            CmpOp::Lt => a < b,
            CmpOp::Le => a <= b,
            CmpOp::Gt => a > b,
            CmpOp::Ge => a >= b,
            CmpOp::Eq => a == b,
            CmpOp::Ne => a != b,
        }
    }
}

/// One `column op value` condition.
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    pub column: usize,
    pub op: CmpOp,
    pub value: f32,
}

/// A conjunction of conditions on full input rows.
#[derive(Clone, Debug, PartialEq)]
pub struct RowFilter {
    pub conditions: Vec<Condition>,
}

const OPS: &str = "one of < <= > >= == !=";

impl RowFilter {
    /// Parses `spec` against the input's `columns`.
    pub fn parse(spec: &str, columns: &[String]) -> Result<Self> {
        if spec.trim().is_empty() {
            return Err(Error::config("row cut: empty condition list (expected e.g. 'pt<8000,mass<800')"));
        }
        let mut conditions = Vec::new();
        for clause in spec.split(',') {
            let c = clause.trim();
            if c.is_empty() {
                return Err(Error::config(format!("row cut '{spec}': empty condition between commas")));
            }
            let Some(pos) = c.find(['<', '>', '=', '!']) else {
                return Err(Error::config(format!("row cut '{c}': no comparison operator ({OPS})")));
            };
            let rest = &c[pos..];
            let (op, len) = if rest.starts_with("<=") {
                (CmpOp::Le, 2)
            } else if rest.starts_with(">=") {
                (CmpOp::Ge, 2)
            } else if rest.starts_with("==") {
                (CmpOp::Eq, 2)
            } else if rest.starts_with("!=") {
                (CmpOp::Ne, 2)
            } else if rest.starts_with('<') {
                (CmpOp::Lt, 1)
            } else if rest.starts_with('>') {
                (CmpOp::Gt, 1)
            } else {
                return Err(Error::config(format!("row cut '{c}': bad operator ({OPS}; use == for equality)")));
            };
            let name = c[..pos].trim();
            let value_text = c[pos + len..].trim();
            if name.is_empty() {
                return Err(Error::config(format!("row cut '{c}': no column name before the operator")));
            }
            let column = columns.iter().position(|n| n == name).ok_or_else(|| {
                Error::config(format!("row cut '{c}': unknown column '{name}'; available: {}", columns.join(", ")))
            })?;
            if value_text.starts_with(['<', '>', '=', '!']) {
                return Err(Error::config(format!("row cut '{c}': bad operator ({OPS})")));
            }
            let value = match value_text.parse::<f32>() {
                Ok(v) if !v.is_nan() => v,
                _ => {
                    return Err(Error::config(format!("row cut '{c}': '{value_text}' is not a number (column {name})")))
                }
            };
            conditions.push(Condition { column, op, value });
        }
        Ok(RowFilter { conditions })
    }

    /// Whether a full input row passes every condition.
    pub fn keep(&self, row: &[f32]) -> bool {
        self.conditions.iter().all(|c| c.op.apply(row[c.column], c.value))
    }

    /// Both filters' conditions.
    pub fn and(mut self, other: RowFilter) -> RowFilter {
        self.conditions.extend(other.conditions);
        self
    }
}
