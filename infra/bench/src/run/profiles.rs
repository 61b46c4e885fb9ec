//! The bench profiles `scripts/bench` imports: one per onboarding, one address each.

/// The address of bench profile `n` (one profile each; see `profiles`).
pub fn bench_address(n: usize) -> String {
    format!("bench-{n:04}@example.com")
}

/// The bench profile linked for the portal's cold runs: the one after the
/// warm-up's and the recorded onboardings' (`scripts/bench` imports them all).
pub(super) fn portal_fixture_address(onboardings: usize) -> String {
    bench_address(onboardings + 1)
}

/// The CSV `scripts/bench` imports: `count` profiles, one per address.
pub fn profiles_csv(count: usize) -> String {
    let mut csv = String::from("profile_id,email,display_name,organization\n");
    for n in 0..count {
        csv.push_str(&format!("BENCH-{n:04},{},Bench Person {n},Bench Organisation {n}\n", bench_address(n)));
    }
    csv
}
