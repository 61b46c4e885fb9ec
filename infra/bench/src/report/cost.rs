//! `## Cost model`: list prices, the cost of 1,000 onboardings and why, what
//! the service costs idle, and what managed sign-in services would cost.

use std::fmt::Write as _;

use super::numbers::{median, money, thousands};
use super::targets::TARGET_PER_THOUSAND;
use super::template::template_log_retention;
use super::{Figures, assume, prices};
use crate::run::{ONBOARDING_FUNCTIONS, Results};

pub(super) fn write(w: &mut String, figures: &Figures<'_>) {
    model(w, figures);
    idle(w, figures);
    against_managed_services(w, figures);
}

/// The prices, the cost lines per 1,000 onboardings, and how the billed duration is estimated.
fn model(w: &mut String, figures: &Figures<'_>) {
    let Figures {
        results,
        memory_mb,
        ref architecture,
        ref usage,
        gb_second,
        ref lines,
        per_thousand,
        ses_share,
        without_notice,
        ..
    } = *figures;
    let _ = writeln!(w, "## Cost model\n");
    let _ = writeln!(w, "List prices ({}):\n", prices::CHECKED);
    let _ = writeln!(w, "| service | price |\n|---|---|");
    let _ = writeln!(
        w,
        "| Lambda arm64 duration | $0.0000133334 per GB-second (x86_64: $0.0000166667); init is billed too |"
    );
    let _ = writeln!(w, "| Lambda requests | $0.20 per million |");
    let _ = writeln!(w, "| API Gateway HTTP API | $1.00 per million requests (first 300 million a month) |");
    let _ = writeln!(
        w,
        "| DynamoDB on-demand | $0.625 per million write request units, $0.125 per million read request units (November 2024 prices) |"
    );
    let _ = writeln!(w, "| SES | $0.10 per 1,000 emails |");
    let _ = writeln!(w, "| CloudWatch Logs | $0.50 per GB ingested, $0.03 per GB-month stored |");
    let _ = writeln!(w, "| CloudWatch alarms | $0.10 per standard alarm a month (10 free) |\n");
    let _ = writeln!(w, "Per 1,000 onboardings, from the counts measured above ({architecture}, {memory_mb:.0} MB):\n");
    let _ = writeln!(w, "| item | per onboarding | per 1,000 onboardings |\n|---|---|--:|");
    for line in lines {
        let _ = writeln!(w, "| {} | {} | {} |", line.item, line.quantity, money(line.cost));
    }
    let _ = writeln!(w, "| **total** | | **{}** |\n", money(per_thousand));
    let _ = writeln!(
        w,
        "**The target of {} is missed, and by the emails alone**: an onboarding sends two, the link email and the \"your profile is \
now linked\" notice to the registered address, and SES's $0.10 per 1,000 makes that {} before anything else. Everything except \
email costs {} per 1,000. What it would take, none of it done here because each changes what the product promises:\n\
- make the notice optional (a setting, off by default for low-risk deployments): one email per onboarding, {} per 1,000{}. \
The notice is the registered address's only warning that someone else linked its profile, so it is a security decision, \
not a performance one;\n\
- send one email per address listing all its profiles instead of one per profile (only helps people with several profiles);\n\
- SES has no cheaper volume tier for outbound email; a dedicated IP ($24.95/month) does not change the per-email price.\n",
        money(TARGET_PER_THOUSAND),
        money(ses_share),
        money(per_thousand - ses_share),
        money(without_notice),
        if without_notice <= TARGET_PER_THOUSAND { ", within the target" } else { ", still above the target" }
    );
    let cpu_scale = assume::FULL_VCPU_MB / memory_mb;
    let cold_init_ms = cold_init_ms(results, cpu_scale);
    let _ = writeln!(
        w,
        "*Billed duration* is estimated, because this machine is neither Lambda nor AWS: each invocation's measured CPU time × {cpu_scale:.1} \
(at {memory_mb:.0} MB Lambda gives {:.0}% of a vCPU, so CPU-bound work runs up to that much slower; this machine's core is also \
not a Graviton), plus {:.0} ms per DynamoDB call, {:.0} ms per SES send and {:.0} ms per call to the identity provider, rounded up \
to the millisecond. Doubling every one of these changes the total by less than a cent per 1,000. Cold starts add their init \
(billed since August 2025): even if every onboarding met a cold start in each of its four functions, that is four inits of well \
under a second at {memory_mb:.0} MB ({cold_init_ms:.0} ms together, estimated as above from their CPU and calls), about {} per 1,000. Data transfer out ({:.0} KB of pages per onboarding) is free within \
the account's 100 GB a month (≈ {:.1} million onboardings), then {} per 1,000. DynamoDB Streams reads by Lambda, SSM standard \
parameters and the AWS-managed KMS keys cost nothing per onboarding; the SSM SecureString read at each cold start is one KMS \
request ($0.03 per 10,000).\n",
        100.0 / cpu_scale,
        assume::DYNAMODB_MS,
        assume::SES_MS,
        assume::PROVIDER_MS,
        money(cold_init_ms * 1000.0 / 1000.0 * memory_mb / 1024.0 * gb_second),
        usage.response_bytes / 1000.0,
        100e9 / usage.response_bytes.max(1.0) / 1e6,
        money(usage.response_bytes * 1000.0 / 1e9 * prices::TRANSFER_OUT_GB),
    );
}

/// `### Idle`: what AWS bills with nobody using the service.
fn idle(w: &mut String, figures: &Figures<'_>) {
    let Figures { template, alarms, idle_alarms, .. } = *figures;
    let _ = writeln!(w, "### Idle\n");
    let _ = writeln!(
        w,
        "Nothing is provisioned: Lambda, the HTTP API, DynamoDB on-demand, SES, the stream mapping and the dead-letter queue cost \
nothing while no one uses them, so the service itself costs **$0 a month idle**. What AWS bills regardless of traffic: DynamoDB \
storage (${:.2} per GB-month beyond 25 GB free; 100,000 profiles are about 30 MB) and point-in-time recovery (${:.2} per \
GB-month of table), and CloudWatch log storage (${:.2} per GB-month, kept {} days by default). What the template adds that is \
not free at idle: its {alarms} CloudWatch alarms, $0.10 each a month with the account's first 10 free, so between {} and {} a \
month. Making them optional (a template condition) would bring idle to $0; they are kept because an undelivered link email \
or a failing function should wake someone.\n",
        prices::DYNAMODB_STORAGE_GB_MONTH,
        prices::DYNAMODB_PITR_GB_MONTH,
        prices::LOGS_STORED_GB_MONTH,
        template_log_retention(template),
        money((alarms as f64 - 10.0).max(0.0) * prices::ALARM_MONTH),
        money(idle_alarms)
    );
}

/// `### Against managed sign-in services`.
fn against_managed_services(w: &mut String, figures: &Figures<'_>) {
    let per_thousand = figures.per_thousand;
    let _ = writeln!(w, "### Against managed sign-in services\n");
    let _ = writeln!(
        w,
        "| people onboarding in a month | profile-link | Amazon Cognito Essentials | Microsoft Entra External ID | Auth0 B2C Essentials |"
    );
    let _ = writeln!(w, "|--:|--:|--:|--:|--:|");
    for people in [10_000.0, 100_000.0] {
        let cognito = (people - prices::COGNITO_FREE_MAU).max(0.0) * prices::COGNITO_ESSENTIALS_MAU;
        let entra = (people - prices::ENTRA_FREE_MAU).max(0.0) * prices::ENTRA_EXTERNAL_ID_MAU;
        let auth0 = people * prices::AUTH0_ESSENTIALS_MAU;
        let auth0 = if people > prices::AUTH0_SELF_SERVE_MAX_MAU {
            format!("Enterprise (quoted; ≈ {} at the Essentials rate)", money(auth0))
        } else {
            format!("≈ {}", money(auth0))
        };
        let _ = writeln!(
            w,
            "| {} | {} | {} | {} | {} |",
            thousands(people),
            money(people / 1000.0 * per_thousand),
            money(cognito),
            money(entra),
            auth0
        );
    }
    let _ = writeln!(
        w,
        "\nAssumptions: every person is a monthly active user of the managed service in the month they onboard. Cognito Essentials \
${}/MAU after 10,000 free MAU; Entra External ID free for the first 50,000 MAU, then ≈ ${}/MAU; Auth0 B2C Essentials from its \
published monthly plans (≈ ${}/MAU, self-serve up to {} MAU, Enterprise beyond) — check the vendors' pages before relying on \
these. They are not like for like: the managed services are the identity provider, while profile-link links the sign-in people \
already have (Entra ID, Microsoft accounts, Google, any OIDC provider) to the company's customer profiles; when that provider \
is one the company already runs, profile-link's column is the whole cost. Later sign-ins of an onboarded person cost about \
two HTTP API requests, two Lambda invocations and three DynamoDB calls each (`GET /login` and the callback): under a cent \
per 1,000.\n",
        prices::COGNITO_ESSENTIALS_MAU,
        prices::ENTRA_EXTERNAL_ID_MAU,
        prices::AUTH0_ESSENTIALS_MAU,
        thousands(prices::AUTH0_SELF_SERVE_MAX_MAU)
    );
}

/// Each onboarding function's cold start (to its first answer) as Lambda would bill it, by the same estimate.
fn cold_init_ms(results: &Results, cpu_scale: f64) -> f64 {
    results
        .cold
        .iter()
        .filter(|f| ONBOARDING_FUNCTIONS.contains(&f.name.as_str()))
        .map(|f| {
            median(
                &mut f
                    .runs
                    .iter()
                    .map(|r| {
                        let waits: f64 = r
                            .function
                            .init_calls
                            .iter()
                            .chain(&r.function.invocation_calls)
                            .map(|c| match c.split(' ').next() {
                                Some("DynamoDB") => assume::DYNAMODB_MS,
                                Some("SES") => assume::SES_MS,
                                Some("SSM") => assume::SSM_MS,
                                Some("provider") => assume::PROVIDER_MS,
                                _ => 0.0,
                            })
                            .sum();
                        r.function.cpu_ms * cpu_scale + waits
                    })
                    .collect::<Vec<_>>(),
            )
        })
        .sum()
}
