//! Renders `docs/performance.md` from a results file: the measured figures,
//! the targets they are held against, and the cost model built on them.
//!
//! One module per section of the report, in the order they appear; the
//! figures they share are computed first, in [`figures`].

use std::fmt::Write as _;

use crate::run::Results;

pub mod assume;
mod cold;
mod cost;
mod endpoints;
mod figures;
mod measurement;
mod numbers;
pub mod prices;
mod round_trips;
mod sizes;
mod targets;
mod template;
mod usage;
mod warm;

#[cfg(test)]
mod tests;

use figures::Figures;

pub fn render(results: &Results, template: &str, baseline: Option<&Results>) -> String {
    let figures = Figures::new(results, template, baseline);
    let mut md = String::new();
    let w = &mut md;
    measurement::heading(w, &figures);
    targets::write(w, &figures);
    measurement::write(w, &figures);
    cold::write(w, &figures);
    warm::write(w, &figures);
    round_trips::write(w, &figures);
    sizes::write(w, &figures);
    cost::write(w, &figures);
    let _ = writeln!(w, "{}", LIMITS);
    md
}

const LIMITS: &str = "## What a local measurement cannot show\n\n\
- **TLS and DNS**: loopback is plain HTTP. The first request to each AWS endpoint and to the provider costs a DNS lookup and \
a TLS 1.3 handshake on Lambda (tens of milliseconds at 128 MB); warm requests reuse the connection.\n\
- **CPU share**: at 128 MB Lambda gives a function about 7% of a vCPU; this machine's cores run the same code unthrottled, \
so absolute times here are lower bounds and ratios are what carries over.\n\
- **arm64**: measured on x86_64; the template deploys arm64 (Graviton), where the same code is typically as fast or faster \
per GB-second and 20% cheaper.\n\
- **The local servers**: DynamoDB Local and moto share the machine's two cores with the functions; DynamoDB answers in \
single-digit milliseconds on its own servers. Latencies that include them are indicative only; the handler columns exclude them.\n";
