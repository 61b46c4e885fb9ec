//! Metrics are CloudWatch Embedded Metric Format lines: a whole onboarding
//! (with a replayed confirmation, a hard bounce, a suppressed send and a
//! rate-limited request) runs with every EMF line captured, and the lines
//! must be valid EMF documents that count exactly what happened, under
//! low-cardinality dimensions only.

use profile_link_core::domain::rate_limit::RateLimits;
use profile_link_core::metrics;
use profile_link_tests::flow::{confirm, link_id, links_to, open, request};
use profile_link_tests::{TestApp, TestOptions};
use reqwest::StatusCode;
use serde_json::Value;

const NAMESPACE: &str = "profile-link-test";
const FUNCTIONS: [&str; 5] = ["login", "request-association", "redeem-link", "send-emails", "ses-events"];

/// The sum of `metric` over the lines that carry it under these dimension values.
fn sum(lines: &[Value], metric: &str, dimensions: &[(&str, &str)]) -> f64 {
    lines
        .iter()
        .filter(|line| {
            let names = line["_aws"]["CloudWatchMetrics"][0]["Metrics"].as_array().unwrap();
            names.iter().any(|m| m["Name"] == metric) && dimensions.iter().all(|(name, value)| line[*name] == *value)
        })
        .map(|line| line[metric].as_f64().unwrap())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_onboarding_emits_emf_lines_that_count_what_happened() {
    let captured = metrics::capture(NAMESPACE);
    let limits = RateLimits { per_address: 2, ..TestOptions::default().limits };
    let app = TestApp::spawn_with_options(TestOptions { limits, ..TestOptions::default() }).await;
    app.import_profiles(&[("CUST-1", "pat", "Pat Doe", "Bakery")]).await;
    let pat = app.signed_in("pat").await;
    let address = app.address("pat");

    assert_eq!(request(&app, &pat, &address).await.status, StatusCode::OK);
    app.deliver_stream().await;
    let link = links_to(&app, &address).await.pop().unwrap();
    app.clock.advance(10);
    let page = open(&pat, &link, "pat").await;
    assert_eq!(confirm(&pat, &page, "confirm").await.status, StatusCode::OK);
    assert_eq!(confirm(&pat, &page, "confirm").await.status, StatusCode::CONFLICT, "a replayed confirmation");
    app.deliver_stream().await; // the "now linked" notice
    app.ses_event_for_link(link_id(&link), "hard-bounce").await;
    assert_eq!(request(&app, &pat, &address).await.status, StatusCode::OK);
    app.deliver_stream().await; // suppressed
    assert_eq!(request(&app, &pat, &address).await.status, StatusCode::TOO_MANY_REQUESTS);

    let lines = captured.take();
    assert!(!lines.is_empty(), "saw {:?}", lines);
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    for line in &lines {
        // A valid EMF document: the directive names dimensions and metrics that the line carries.
        let timestamp = line["_aws"]["Timestamp"].as_i64().expect("Timestamp in milliseconds");
        assert!((now_ms - timestamp).abs() < 600_000, "{line}");
        let directives = line["_aws"]["CloudWatchMetrics"].as_array().unwrap();
        assert_eq!(directives.len(), 1, "{line}");
        let directive = &directives[0];
        assert_eq!(directive["Namespace"], NAMESPACE);
        for set in directive["Dimensions"].as_array().unwrap() {
            for name in set.as_array().unwrap() {
                let name = name.as_str().unwrap();
                assert!(["Function", "Outcome", "Limit"].contains(&name), "unexpected dimension {name}");
                let value = line[name].as_str().unwrap_or_else(|| panic!("{name} has no value: {line}"));
                assert!(value.len() <= 32 && !value.contains('@') && !value.contains(link_id(&link)), "{line}");
            }
        }
        assert!(FUNCTIONS.contains(&line["Function"].as_str().unwrap()), "{line}");
        for metric in directive["Metrics"].as_array().unwrap() {
            assert!(["Count", "Milliseconds"].contains(&metric["Unit"].as_str().unwrap()), "{line}");
            let value = line[metric["Name"].as_str().unwrap()].as_f64().expect("every metric has a value");
            assert!(value >= 0.0, "{line}");
        }
    }

    // Requests by function and status class.
    assert!(sum(&lines, "Requests", &[("Function", "login"), ("Outcome", "2xx")]) >= 1.0, "the account page");
    assert!(sum(&lines, "Requests", &[("Function", "login"), ("Outcome", "3xx")]) >= 2.0, "saw {lines:?}");
    assert_eq!(sum(&lines, "Requests", &[("Function", "request-association"), ("Outcome", "4xx")]), 1.0);
    assert_eq!(sum(&lines, "Requests", &[("Function", "redeem-link"), ("Outcome", "4xx")]), 1.0, "the replay (409)");
    assert!(sum(&lines, "Latency", &[("Function", "redeem-link")]) > 0.0, "saw {lines:?}");
    // Emails: the link and the notice sent, the second link suppressed.
    assert_eq!(sum(&lines, "EmailsSent", &[("Function", "send-emails")]), 2.0);
    assert_eq!(sum(&lines, "EmailsSuppressed", &[("Function", "send-emails")]), 1.0);
    assert_eq!(sum(&lines, "EmailsFailed", &[("Function", "send-emails")]), 0.0);
    // Redemptions by outcome.
    assert_eq!(sum(&lines, "LinksRedeemed", &[("Outcome", "linked")]), 1.0);
    assert_eq!(sum(&lines, "LinksRedeemed", &[("Outcome", "used")]), 1.0);
    assert_eq!(sum(&lines, "LinksRedeemed", &[]), 2.0);
    // Rate limits by limit.
    assert_eq!(sum(&lines, "RateLimitHits", &[("Function", "request-association"), ("Limit", "address")]), 1.0);
    assert_eq!(sum(&lines, "RateLimitHits", &[]), 1.0);
    // Bounces and complaints.
    assert_eq!(sum(&lines, "HardBounces", &[("Function", "ses-events")]), 1.0);
    assert_eq!(sum(&lines, "AddressesSuppressed", &[("Function", "ses-events")]), 1.0);
    assert_eq!(sum(&lines, "Complaints", &[]) + sum(&lines, "SesEventsDropped", &[]), 0.0);
}
