//! docs/performance.md is this function's output: the same results must
//! render the same bytes. The expected reports were rendered from the fixed
//! inputs in `testdata/report` (a synthetic run covering every function and
//! endpoint, and the kept baseline) by the code as it was when they were
//! written; a change to the report's text updates them deliberately.

use super::render;
use crate::run::Results;

fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/report").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn results(name: &str) -> Results {
    serde_json::from_str(&fixture(name)).unwrap()
}

/// Equal, or the first line that differs (the reports are too long for one assert_eq! to read).
/// `BENCH_WRITE_REPORTS=1` writes the rendered report instead, for a deliberate change to its text.
fn assert_same_report(rendered: &str, expected_file: &str) {
    if std::env::var_os("BENCH_WRITE_REPORTS").is_some() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/report").join(expected_file);
        std::fs::write(&path, rendered).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        return;
    }
    let expected = fixture(expected_file);
    if rendered == expected {
        return;
    }
    let line = rendered
        .lines()
        .zip(expected.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| rendered.lines().count().min(expected.lines().count()));
    panic!(
        "{expected_file} differs at line {}:\nrendered: {:?}\nexpected: {:?}",
        line + 1,
        rendered.lines().nth(line),
        expected.lines().nth(line)
    );
}

#[test]
fn renders_a_fixed_run_byte_for_byte() {
    let template = fixture("template.yaml");
    let baseline = results("baseline.json");
    let run = results("results.json");
    assert_same_report(&render(&run, &template, Some(&baseline)), "with-baseline.md");
    assert_same_report(&render(&run, &template, None), "without-baseline.md");
}

#[test]
fn renders_a_run_without_warm_figures_byte_for_byte() {
    let template = fixture("template.yaml");
    assert_same_report(&render(&results("baseline.json"), &template, None), "cold-only.md");
}
