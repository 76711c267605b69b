//! Axis labels and tick formats: what a column is (momentum, η, φ, fraction, count), its
//! title with units, and numbers printed short.

/// How a column is labelled on an axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VarKind {
    /// pT, mass, energy: momentum units.
    Momentum,
    Eta,
    Phi,
    /// Energy fractions: unitless, in [0, 1].
    Fraction,
    /// Multiplicities: counts.
    Count,
    Other,
}

/// Classifies a column by its name (the part after the last `_` or `.`).
pub fn var_kind(name: &str) -> VarKind {
    let base = name.rsplit(['_', '.']).next().unwrap_or(name);
    let l = base.to_ascii_lowercase();
    if crate::analysis::metrics::is_phi(name) {
        VarKind::Phi
    } else if l == "eta" {
        VarKind::Eta
    } else if matches!(l.as_str(), "pt" | "mass" | "m" | "energy" | "e" | "et") || l.starts_with("pt") {
        VarKind::Momentum
    } else if base.ends_with("EF") || l.contains("frac") {
        VarKind::Fraction
    } else if (base.starts_with('n') && base.chars().nth(1).is_some_and(|c| c.is_ascii_uppercase()))
        || l.contains("multiplicity")
    {
        VarKind::Count
    } else {
        VarKind::Other
    }
}

/// The axis title for a column, with its unit (`momentum_unit`: "GeV" or "MeV").
pub fn axis_label(name: &str, momentum_unit: &str) -> String {
    match var_kind(name) {
        VarKind::Momentum => format!("{name} [{momentum_unit}]"),
        VarKind::Eta if name == "eta" => "η".to_string(),
        VarKind::Eta => format!("{name} (η)"),
        VarKind::Phi if name == "phi" => "φ [rad]".to_string(),
        VarKind::Phi => format!("{name} (φ) [rad]"),
        VarKind::Fraction => format!("{name} (fraction)"),
        VarKind::Count => format!("{name} (count)"),
        VarKind::Other => name.to_string(),
    }
}

pub use crate::analysis::stats::fmt_num;

/// Tick labels of a linear axis spanning `span`: enough digits to tell ticks about span/8
/// apart, and rounding noise near zero printed as 0.
pub(super) fn axis_fmt(span: f64) -> impl Fn(&f64) -> String {
    let step = if span.is_finite() && span > 0.0 { span / 8.0 } else { 1.0 };
    move |v: &f64| {
        let a = v.abs();
        if !v.is_finite() {
            return format!("{v}");
        }
        if a <= step * 1e-8 {
            return "0".to_string();
        }
        let s = if !(1e-3..1e5).contains(&a) {
            let dec = ((a.log10().floor() - step.log10().floor()).max(0.0) as usize).min(6);
            format!("{v:.dec$e}")
        } else {
            let dec = (-step.log10().floor()).clamp(0.0, 8.0) as usize;
            format!("{v:.dec$}")
        };
        match s.split_once('e') {
            Some((m, e)) if m.contains('.') => {
                format!("{}e{e}", m.trim_end_matches('0').trim_end_matches('.'))
            }
            None if s.contains('.') => s.trim_end_matches('0').trim_end_matches('.').to_string(),
            _ => s,
        }
    }
}

/// Tick label of a log10 coordinate: 10^k for whole k, else the value.
pub(super) fn fmt_pow10(x: f64) -> String {
    let r = x.round();
    if (x - r).abs() < 1e-9 {
        let k = r as i32;
        match k {
            0 => "1".into(),
            1 => "10".into(),
            2 => "100".into(),
            -1 => "0.1".into(),
            -2 => "0.01".into(),
            _ => format!("10{}", superscript(k)),
        }
    } else {
        fmt_num(10f64.powf(x))
    }
}

pub(super) fn superscript(k: i32) -> String {
    k.to_string()
        .chars()
        .map(|c| match c {
            '-' => '⁻',
            '0' => '⁰',
            '1' => '¹',
            '2' => '²',
            '3' => '³',
            '4' => '⁴',
            '5' => '⁵',
            '6' => '⁶',
            '7' => '⁷',
            '8' => '⁸',
            _ => '⁹',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_labels() {
        assert_eq!(axis_label("pt", "GeV"), "pt [GeV]");
        assert_eq!(axis_label("Jet_mass", "MeV"), "Jet_mass [MeV]");
        assert_eq!(axis_label("eta", "GeV"), "η");
        assert_eq!(axis_label("phi", "GeV"), "φ [rad]");
        assert_eq!(var_kind("chEmEF"), VarKind::Fraction);
        assert_eq!(var_kind("nConstituents"), VarKind::Count);
        assert_eq!(var_kind("area"), VarKind::Other);
    }
    #[test]
    fn axis_ticks_resolve_narrow_ranges() {
        let f = axis_fmt(0.025);
        assert_eq!(f(&2.975), "2.975");
        assert_eq!(f(&3.0), "3");
        assert_eq!(f(&-5.55e-17), "0");
        let g = axis_fmt(2e5);
        assert_eq!(g(&150000.0), "1.5e5");
        assert_eq!(axis_fmt(4.0)(&0.5), "0.5");
    }
    #[test]
    fn numbers() {
        assert_eq!(fmt_num(0.0), "0");
        assert_eq!(fmt_num(1234.6), "1235");
        assert_eq!(fmt_num(0.012345), "0.0123");
        assert_eq!(fmt_num(1e7), "1.00e7");
        assert_eq!(fmt_pow10(3.0), "10³");
        assert_eq!(fmt_pow10(-5.0), "10⁻⁵");
    }
}
