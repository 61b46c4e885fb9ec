//! The recorded invocations grouped by endpoint, and why each endpoint makes
//! the AWS calls it makes.

use std::collections::BTreeMap;

use crate::gateway::Invocation;
use crate::proxy::Service;

/// Why an endpoint makes the calls it makes: (design minimum of sequential AWS round trips, reason).
pub(super) fn design_minimum(endpoint: &str) -> (usize, &'static str) {
    match endpoint {
        "GET /login" | "GET /login?fresh=1" => (
            1,
            "the sign-in transaction (state, nonce, PKCE verifier) is stored so that it can be used exactly once, counted against the network's sign-ins in the same transaction",
        ),
        "GET /login/callback" => (
            2,
            "consume the transaction (it holds the PKCE verifier the code exchange needs), exchange the code at the provider (not AWS), then read the identity's profiles (known only from the ID token)",
        ),
        "POST /associate" => (2, "the index query finds the profiles the one transaction writes links for"),
        "link email (stream)" | "notice email (stream)" => (
            3,
            "claim before sending, record after: exactly one working email under redelivery; asynchronous, on nobody's request path",
        ),
        "GET /redeem (confirm page)" => (1, "the page names the profile the link is for"),
        "POST /redeem" => (2, "the link's item holds the profile and identity that the one transaction writes"),
        "GET / (account)" | "GET /me" => (1, "read from the table so an unlink shows at once"),
        "POST /profiles/unlink" => (
            2,
            "the identity's partition first (a signed-out session may not unlink; the re-issued session lists the profiles left), then one transaction",
        ),
        "GET /authorize" => (
            2,
            "read the identity's profiles and sign-outs (the session may be out of date), then store the code with them",
        ),
        "POST /token" => (1, "one conditional update uses the code once and returns what it was issued for"),
        "GET /userinfo" => {
            (2, "the access token names only its code, whose grant names the identity; then its profiles, read fresh")
        }
        _ => (0, "no table access needed"),
    }
}

/// Per-endpoint figures over the recorded invocations.
pub(super) struct Endpoint<'a> {
    pub(super) function: &'a str,
    pub(super) name: &'a str,
    pub(super) samples: Vec<&'a Invocation>,
}

impl Endpoint<'_> {
    pub(super) fn column(&self, f: impl Fn(&Invocation) -> f64) -> Vec<f64> {
        self.samples.iter().map(|i| f(i)).collect()
    }

    /// The calls, by the most common sequence.
    pub(super) fn calls(&self) -> String {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for sample in &self.samples {
            let aws: Vec<&str> =
                sample.calls.iter().filter(|c| c.service.is_aws()).map(|c| c.operation.as_str()).collect();
            *counts.entry(aws.join(", ")).or_default() += 1;
        }
        let list = counts.into_iter().max_by_key(|(_, n)| *n).map(|(calls, _)| calls).unwrap_or_default();
        if list.is_empty() { "—".into() } else { list }
    }

    pub(super) fn provider_calls(&self) -> usize {
        self.samples.first().map(|s| s.calls.iter().filter(|c| c.service == Service::Provider).count()).unwrap_or(0)
    }

    pub(super) fn max_aws_round_trips(&self) -> usize {
        self.samples.iter().map(|s| s.aws_round_trips).max().unwrap_or(0)
    }
}

pub(super) fn endpoints(invocations: &[Invocation]) -> Vec<Endpoint<'_>> {
    let mut out: Vec<Endpoint<'_>> = Vec::new();
    for invocation in invocations {
        match out.iter_mut().find(|e| e.name == invocation.endpoint && e.function == invocation.function) {
            Some(endpoint) => endpoint.samples.push(invocation),
            None => out.push(Endpoint {
                function: &invocation.function,
                name: &invocation.endpoint,
                samples: vec![invocation],
            }),
        }
    }
    out
}
