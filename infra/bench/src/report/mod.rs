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

/// The "Email throughput per invocation" section `scripts/bench-emails`
/// writes into the page (between these markers), carried from the page's
/// `previous` text into the `rendered` one, before its last section.
pub fn keep_email_section(rendered: &str, previous: &str) -> String {
    const BEGIN: &str = "<!-- emails:begin -->";
    const END: &str = "<!-- emails:end -->";
    const BEFORE: &str = "\n## What a local measurement cannot show";
    let Some(section) = previous
        .split_once(BEGIN)
        .and_then(|(_, rest)| rest.split_once(END))
        .map(|(inner, _)| format!("{BEGIN}{inner}{END}\n"))
    else {
        return rendered.to_owned();
    };
    match rendered.split_once(BEFORE) {
        Some((head, tail)) => format!("{}\n\n{section}{BEFORE}{tail}", head.trim_end_matches('\n')),
        None => format!("{}\n\n{section}", rendered.trim_end_matches('\n')),
    }
}

#[cfg(test)]
mod email_section_tests {
    use super::keep_email_section;

    #[test]
    fn the_email_section_survives_a_regenerated_page() {
        let previous = "# P\n\n## A\n\n<!-- emails:begin -->\n## Email throughput per invocation\n\nold figures\n<!-- emails:end -->\n\n## What a local measurement cannot show\n\nx\n";
        let rendered = "# P\n\n## A\nnew\n\n## What a local measurement cannot show\n\nx\n";
        let kept = keep_email_section(rendered, previous);
        assert_eq!(
            kept,
            "# P\n\n## A\nnew\n\n<!-- emails:begin -->\n## Email throughput per invocation\n\nold figures\n<!-- emails:end -->\n\n## What a local measurement cannot show\n\nx\n"
        );
        assert_eq!(keep_email_section(rendered, "no section"), rendered);
    }
}
