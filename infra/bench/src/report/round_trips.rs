//! `## AWS calls and round trips`: each endpoint against its design minimum,
//! and what one onboarding uses.

use std::fmt::Write as _;

use super::Figures;
use super::endpoints::design_minimum;

pub(super) fn write(w: &mut String, figures: &Figures<'_>) {
    let Figures { ref all_endpoints, ref usage, .. } = *figures;
    let _ = writeln!(w, "## AWS calls and round trips\n");
    let _ = writeln!(
        w,
        "| endpoint | function | AWS calls (measured) | sequential AWS round trips | design minimum | why |"
    );
    let _ = writeln!(w, "|---|---|---|--:|--:|---|");
    for e in all_endpoints {
        let (minimum, why) = design_minimum(e.name);
        let measured = e.max_aws_round_trips();
        let extra = if measured > minimum { " **(extra)**" } else { "" };
        let provider = if e.provider_calls() > 0 { " + token exchange" } else { "" };
        let _ = writeln!(
            w,
            "| `{}`{} | {} | {} | {measured}{provider}{extra} | {minimum}{provider} | {why} |",
            e.name,
            if e.samples.iter().any(|s| s.onboarding) { "" } else { " ¹" },
            e.function,
            e.calls()
        );
    }
    let above: Vec<&str> =
        all_endpoints.iter().filter(|e| e.max_aws_round_trips() > design_minimum(e.name).0).map(|e| e.name).collect();
    let verdict_line = if above.is_empty() {
        "Every endpoint is at its design minimum".to_owned()
    } else {
        format!("Above the design minimum: {}", above.join(", "))
    };
    let _ = writeln!(
        w,
        "\n¹ After the onboarding, not part of it. Round trips are counted from the proxy's timestamps: calls that overlap \
count once; the most any one request made is shown. {verdict_line}; the stream consumers make three sequential calls per \
email, but no person waits on them.\n"
    );
    let _ = writeln!(w, "Per onboarding (one person, one profile):\n");
    let _ = writeln!(w, "| what | per onboarding |\n|---|--:|");
    let _ = writeln!(w, "| HTTP API requests | {:.0} |", usage.http_requests);
    let _ = writeln!(w, "| Lambda invocations | {:.0} |", usage.invocations);
    for (operation, count) in &usage.dynamodb_calls {
        let _ = writeln!(w, "| DynamoDB {operation} | {count:.0} |");
    }
    let _ = writeln!(w, "| DynamoDB write request units (estimated) | {:.0} |", usage.write_units);
    let _ = writeln!(w, "| DynamoDB read request units (estimated) | {:.1} |", usage.read_units);
    let _ = writeln!(w, "| SES emails | {:.0} |", usage.emails);
    let _ = writeln!(w, "| response bytes to the browser | {:.0} KB |\n", usage.response_bytes / 1000.0);
}
