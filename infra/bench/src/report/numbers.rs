//! The statistics and number formats every section uses.

pub(super) fn median(values: &mut [f64]) -> f64 {
    percentile(values, 50.0)
}

/// Nearest-rank percentile.
pub(super) fn percentile(values: &mut [f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let rank = ((p / 100.0) * values.len() as f64).ceil().max(1.0) as usize;
    values[rank.min(values.len()) - 1]
}

pub(super) fn money(value: f64) -> String {
    if value == 0.0 {
        "$0".into()
    } else if value < 0.01 {
        format!("${value:.4}")
    } else if value < 1.0 {
        let text = format!("{value:.3}");
        format!("${}", if text.ends_with('0') { &text[..text.len() - 1] } else { &text })
    } else if value < 100.0 {
        format!("${value:.2}")
    } else {
        format!("${}", thousands(value))
    }
}

/// 12,345 (rounded to a whole number).
pub(super) fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.round());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub(super) fn mb(kib: u64) -> f64 {
    kib as f64 / 1024.0
}
