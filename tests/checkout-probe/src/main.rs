//! Prints where it was built from and what it was built as, for
//! `tests/checkouts.sh`: two checkouts built one after the other must each
//! run their own code and read their own files.

/// The one line the test changes in one checkout's copy.
const MARK: &str = "as committed";

fn main() {
    let at_run_time = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    println!("mark={MARK}");
    println!("built_in={}", env!("CARGO_MANIFEST_DIR"));
    println!("run_in={at_run_time}");
}
