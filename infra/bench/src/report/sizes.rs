//! `## Binary and package sizes`.

use std::fmt::Write as _;

use super::Figures;

pub(super) fn write(w: &mut String, figures: &Figures<'_>) {
    let Figures { results, ref architecture, .. } = *figures;
    let get = |k: &str| figures.environment(k);
    let _ = writeln!(w, "## Binary and package sizes\n");
    let _ = writeln!(w, "| function | `bootstrap` (stripped) | zip |\n|---|--:|--:|");
    for size in &results.sizes {
        let _ = writeln!(
            w,
            "| {} | {:.2} MB | {} |",
            size.name,
            size.binary_bytes as f64 / 1_048_576.0,
            size.zip_bytes.map(|z| format!("{:.2} MB", z as f64 / 1_048_576.0)).unwrap_or_else(|| "—".into())
        );
    }
    let _ = writeln!(
        w,
        "\n{} binaries, measured here; the template defaults to {architecture}, whose zips `scripts/build` makes too (docs/development.md, \
Building for arm64). Zipped as `scripts/build` packages them: one executable `bootstrap` per zip, deflated.\n",
        get("arch")
    );
}
