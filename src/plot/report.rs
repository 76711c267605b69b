//! One static HTML page (no JavaScript, no network): the evaluation table, the model and its
//! training configuration, and the figures by relative path.

use crate::analysis::metrics::Evaluation;
use crate::plot::Figure;
use std::fmt::Write;
use std::path::Path;

/// Escapes text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

/// `path` relative to `base` with `/` separators (the file name if it is not under `base`).
pub fn relative(path: &Path, base: &Path) -> String {
    let rel = path.strip_prefix(base).unwrap_or(path);
    let rel = if rel.is_absolute() { Path::new(rel.file_name().unwrap_or_default()) } else { rel };
    rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect::<Vec<_>>().join("/")
}

/// Everything on the page.
pub struct ReportInput<'a> {
    pub title: &'a str,
    pub model_path: &'a str,
    pub evaluation: &'a Evaluation,
    /// Model facts and the training configuration, as (key, value) rows.
    pub model_info: &'a [(String, String)],
    pub figures: &'a [Figure],
    /// Directory the page is written in: figure paths are made relative to it.
    pub base: &'a Path,
    pub notes: &'a [String],
}

fn num(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.3e}")
    } else {
        "–".into()
    }
}

/// Flattens a JSON value into (dotted key, value) rows.
pub fn flatten_json(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, String)>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten_json(&key, x, out);
            }
        }
        serde_json::Value::String(s) => out.push((prefix.to_string(), s.clone())),
        serde_json::Value::Null => out.push((prefix.to_string(), "–".into())),
        x => out.push((prefix.to_string(), x.to_string())),
    }
}

/// The page.
pub fn html(r: &ReportInput<'_>) -> String {
    let ev = r.evaluation;
    let mut s = String::new();
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{t}</title>\n<style>\n\
         body{{font-family:sans-serif;margin:1.5em auto;max-width:1400px;padding:0 1em;color:#222}}\n\
         table{{border-collapse:collapse;margin:0.5em 0 1.5em;font-size:0.9em}}\n\
         th,td{{border:1px solid #ccc;padding:0.25em 0.6em;text-align:right}}\n\
         th{{background:#eee}} td.l,th.l{{text-align:left}} tr:nth-child(even) td{{background:#f8f8f8}}\n\
         figure{{display:inline-block;margin:0.5em;vertical-align:top;max-width:100%}}\n\
         figure img{{max-width:100%;height:auto;border:1px solid #ddd}}\n\
         figcaption{{font-size:0.85em;max-width:900px}}\n\
         .note{{color:#a50}}\n</style>\n</head>\n<body>\n<h1>{t}</h1>\n",
        t = esc(r.title)
    );
    let _ = writeln!(
        s,
        "<p>Model <code>{}</code> on <code>{}</code>: {} ({} jets). Overall MSE (normalised) {}, RMSE {}, mean |residual| {}.</p>",
        esc(r.model_path),
        esc(&ev.data),
        esc(&ev.subset),
        ev.rows,
        num(ev.mse),
        num(ev.rmse),
        num(ev.mean_abs_residual)
    );
    for n in r.notes {
        let _ = writeln!(s, "<p class=\"note\">{}</p>", esc(n));
    }
    // Images: the whole-image figures instead of one table row per pixel.
    let per_pixel: &[crate::analysis::metrics::VariableMetrics] = match &ev.image {
        Some(im) => {
            let _ = writeln!(
                s,
                "<h2>Evaluation</h2>\n<p>{}: over all pixels MSE (norm) {}, RMSE (norm) {}, mean |res| (norm) {}.</p>",
                esc(&im.shape),
                num(ev.mse),
                num(ev.rmse),
                num(ev.mean_abs_residual)
            );
            if let Some(t) = &im.total_intensity {
                let _ = writeln!(
                    s,
                    "<p>Total intensity (Σ out − Σ in)/Σ in: mean {}, σ {}, 68 % half-width {} ({} images).</p>",
                    num(t.mean),
                    num(t.std),
                    num(t.half_width_68),
                    t.n
                );
            }
            let worst: Vec<String> = im.worst_pixels.iter().map(|(n, m)| format!("{} {}", esc(n), num(*m))).collect();
            let _ = writeln!(
                s,
                "<p>Largest per-pixel MSE (norm): {}. Per-pixel figures: <code>hepae evaluate --json</code>.</p>",
                worst.join(", ")
            );
            &[]
        }
        None => &ev.variables,
    };
    if ev.image.is_none() {
        s.push_str("<h2>Evaluation</h2>\n<table>\n<tr><th class=\"l\">variable</th><th>MSE (norm)</th><th>RMSE (norm)</th><th>mean |res| (norm)</th><th>rel. mean</th><th>rel. σ</th><th>rel. 68 % half-width</th><th>rel. n</th><th>abs. mean</th><th>abs. σ</th><th>abs. 68 % half-width</th></tr>\n");
    }
    for v in per_pixel {
        let rows = |x: &crate::analysis::metrics::ResidualStats| match &v.relative_method {
            Some(m) if m.fraction < 1.0 => format!("{} ({})", x.n, esc(&m.describe())),
            _ => x.n.to_string(),
        };
        let (rm, rs, rw, rn) = match &v.relative {
            Some(x) => (num(x.mean), num(x.std), num(x.half_width_68), rows(x)),
            None if v.relative_method.is_none() => ("–".into(), "–".into(), "–".into(), "absolute only".into()),
            None => ("–".into(), "–".into(), "–".into(), "0".into()),
        };
        let (am, as_, aw) = match &v.absolute {
            Some(x) => (num(x.mean), num(x.std), num(x.half_width_68)),
            None => ("–".into(), "–".into(), "–".into()),
        };
        let _ = writeln!(
            s,
            "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{rm}</td><td>{rs}</td><td>{rw}</td><td>{rn}</td><td>{am}</td><td>{as_}</td><td>{aw}</td></tr>",
            esc(&v.name),
            num(v.mse),
            num(v.rmse),
            num(v.mean_abs_residual)
        );
    }
    if ev.image.is_none() {
        let _ = writeln!(
            s,
            "<tr><th class=\"l\">all</th><th>{}</th><th>{}</th><th>{}</th><th colspan=\"8\"></th></tr>\n</table>",
            num(ev.mse),
            num(ev.rmse),
            num(ev.mean_abs_residual)
        );
    }
    if ev.image.is_none() {
        let _ = writeln!(
        s,
        "<p>Relative residual: (out − in)/in in physical units over the jets with |in| above {} % of the variable's mean |in| ≠ 0 (the share is given where it is not all of them); η and φ cross zero and get only the absolute residual out − in (Δφ wrapped into (−π, π]).</p>",
        crate::analysis::metrics::RELATIVE_FLOOR * 100.0
    );
    }
    s.push_str("<h2>Model and training configuration</h2>\n<table>\n");
    for (k, v) in r.model_info {
        let _ = writeln!(s, "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td></tr>", esc(k), esc(v));
    }
    s.push_str("</table>\n<h2>Figures</h2>\n");
    for f in r.figures {
        let png = relative(&f.png, r.base);
        let svg = relative(&f.svg, r.base);
        let _ = writeln!(
            s,
            "<figure id=\"{id}\"><a href=\"{svg}\"><img src=\"{png}\" width=\"{w}\" height=\"{h}\" alt=\"{t}\"></a>\
             <figcaption>{t} (<a href=\"{png}\">PNG</a>, <a href=\"{svg}\">SVG</a>)</figcaption></figure>",
            id = esc(&f.name),
            svg = esc(&svg),
            png = esc(&png),
            w = f.size.0,
            h = f.size.1,
            t = esc(&f.title)
        );
    }
    s.push_str("</body>\n</html>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_paths() {
        assert_eq!(esc("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
        assert_eq!(relative(Path::new("/x/y/figures/a.png"), Path::new("/x/y")), "figures/a.png");
        assert_eq!(relative(Path::new("/z/a.png"), Path::new("/x/y")), "a.png");
        let mut rows = Vec::new();
        flatten_json("", &serde_json::json!({"a": {"b": 1, "c": "x"}, "d": null}), &mut rows);
        assert_eq!(rows.len(), 3);
        assert!(rows.contains(&("a.b".into(), "1".into())));
    }
}
