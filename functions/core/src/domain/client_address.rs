//! Which address a request is counted under by the per-network limits.
//!
//! By default API Gateway's source address: the TCP peer it saw, which no
//! client can choose. Behind a proxy (CloudFront, a WAF-fronted load
//! balancer) that peer is the proxy, so every person would share one budget;
//! a deployment can then trust the address the proxy reports, in
//! `CloudFront-Viewer-Address` or in the proxy's own entry of
//! `X-Forwarded-For`. That is honoured only on a request that carries the
//! proxy's secret origin header ([`ORIGIN_SECRET_HEADER`]), which CloudFront
//! sets (overwriting any a viewer sent): a request that reaches the API
//! without the proxy is counted under its own source address, so going
//! around the proxy never lets a client pick the address it is counted under.
//! A reported address that does not parse falls back to the source address
//! (the proxy's, one shared budget), never to anything the client wrote.

use std::net::IpAddr;

use http::HeaderMap;

use crate::config::{ConfigError, Env};
use crate::random::constant_time_eq;
use crate::secrets::Secret;

/// The header the proxy adds to every request it forwards, with the
/// deployment's `PROXY_ORIGIN_SECRET` as its value.
pub const ORIGIN_SECRET_HEADER: &str = "x-origin-verify";

/// The shortest origin secret accepted: 128 bits as hex.
pub const MIN_ORIGIN_SECRET_LEN: usize = 32;

/// Where the proxy reports the client's address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportedBy {
    /// CloudFront's `CloudFront-Viewer-Address: <ip>:<port>` (IPv6 unbracketed).
    CloudFrontViewerAddress,
    /// `X-Forwarded-For`, read from the right: API Gateway's own entry for
    /// the connection (equal to the source address) is skipped, then
    /// `proxies` entries back is the address the outermost trusted proxy saw.
    XForwardedFor { proxies: usize },
}

/// How a request's client address is found (see the module's comment).
#[derive(Debug, Clone, Default)]
pub struct ClientAddresses {
    trusted: Option<(ReportedBy, Secret)>,
}

impl ClientAddresses {
    /// `CLIENT_ADDRESS_HEADER` (`CloudFront-Viewer-Address` or
    /// `X-Forwarded-For`; unset: API Gateway's source address),
    /// `CLIENT_ADDRESS_PROXIES` (how many proxies append to
    /// `X-Forwarded-For`, 1 to 5) and `PROXY_ORIGIN_SECRET` (required with a header, and only with one).
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let proxies = env.number_in("CLIENT_ADDRESS_PROXIES", 1, 1..=5)?;
        let secret = env.get("PROXY_ORIGIN_SECRET");
        let reported_by = match env.get("CLIENT_ADDRESS_HEADER") {
            None => None,
            Some(name) if name.eq_ignore_ascii_case("CloudFront-Viewer-Address") => {
                Some(ReportedBy::CloudFrontViewerAddress)
            }
            Some(name) if name.eq_ignore_ascii_case("X-Forwarded-For") => Some(ReportedBy::XForwardedFor { proxies }),
            Some(other) => {
                return Err(ConfigError::invalid(
                    "CLIENT_ADDRESS_HEADER",
                    format!("expected CloudFront-Viewer-Address, X-Forwarded-For or nothing, got {other:?}"),
                ));
            }
        };
        match (reported_by, secret) {
            (None, None) => Ok(Self::default()),
            (None, Some(_)) => Err(ConfigError::invalid(
                "PROXY_ORIGIN_SECRET",
                "set without CLIENT_ADDRESS_HEADER: say which header the proxy reports the client's address in",
            )),
            (Some(_), None) => Err(ConfigError::invalid(
                "PROXY_ORIGIN_SECRET",
                "required with CLIENT_ADDRESS_HEADER: without it anyone could write their own address",
            )),
            (Some(reported_by), Some(secret)) => {
                if secret.len() < MIN_ORIGIN_SECRET_LEN || !secret.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err(ConfigError::invalid(
                        "PROXY_ORIGIN_SECRET",
                        format!("expected at least {MIN_ORIGIN_SECRET_LEN} visible ASCII characters"),
                    ));
                }
                Ok(Self::trusting(reported_by, Secret::new(secret)))
            }
        }
    }

    /// Trusts the address `reported_by` on requests that carry `origin_secret`.
    pub fn trusting(reported_by: ReportedBy, origin_secret: Secret) -> Self {
        Self { trusted: Some((reported_by, origin_secret)) }
    }

    /// The client's address: the proxy's report on a request that proves it
    /// came through the proxy and whose report parses; otherwise API
    /// Gateway's source address as it is.
    pub fn client_address(&self, source_ip: Option<&str>, headers: &HeaderMap) -> Option<String> {
        let reported = self.trusted.as_ref().and_then(|(reported_by, secret)| {
            if !carries_secret(headers, secret) {
                return None;
            }
            match *reported_by {
                ReportedBy::CloudFrontViewerAddress => cloudfront_viewer_address(headers),
                ReportedBy::XForwardedFor { proxies } => forwarded_for(headers, source_ip, proxies),
            }
        });
        reported.map(|ip| ip.to_string()).or_else(|| source_ip.map(str::to_owned))
    }
}

/// Exactly one origin-secret header, equal to the secret.
fn carries_secret(headers: &HeaderMap, secret: &Secret) -> bool {
    let mut values = headers.get_all(ORIGIN_SECRET_HEADER).iter();
    match (values.next(), values.next()) {
        (Some(value), None) => constant_time_eq(value.as_bytes(), secret.expose().as_bytes()),
        _ => false,
    }
}

/// `CloudFront-Viewer-Address: 198.51.100.10:46532` or
/// `2001:db8::1:46532` (CloudFront writes IPv6 without brackets, so the port
/// is after the last colon); `[2001:db8::1]:46532` is read too. One header,
/// one value, a port: anything else is no report.
fn cloudfront_viewer_address(headers: &HeaderMap) -> Option<IpAddr> {
    let mut values = headers.get_all("cloudfront-viewer-address").iter();
    let (Some(value), None) = (values.next(), values.next()) else { return None };
    let (address, port) = value.to_str().ok()?.trim().rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    let address = address.strip_prefix('[').and_then(|a| a.strip_suffix(']')).unwrap_or(address);
    address.parse().ok()
}

/// The entry `proxies` back from the right of every `X-Forwarded-For`
/// value (API Gateway joins repeated headers with commas), after API
/// Gateway's own entry for the connection if it appended one. Entries to the
/// left of it are the client's to write and are never read.
fn forwarded_for(headers: &HeaderMap, source_ip: Option<&str>, proxies: usize) -> Option<IpAddr> {
    let mut entries = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        entries.extend(value.to_str().ok()?.split(',').map(str::trim));
    }
    let source: Option<IpAddr> = source_ip.and_then(|s| s.parse().ok());
    if source.is_some() && entries.last().and_then(|e| e.parse::<IpAddr>().ok()) == source {
        entries.pop();
    }
    let index = entries.len().checked_sub(proxies)?;
    entries[index].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";
    const PROXY: &str = "130.176.1.1";

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(http::HeaderName::from_bytes(name.as_bytes()).unwrap(), value.parse().unwrap());
        }
        map
    }

    fn cloudfront() -> ClientAddresses {
        ClientAddresses::trusting(ReportedBy::CloudFrontViewerAddress, Secret::new(SECRET))
    }

    fn forwarded(proxies: usize) -> ClientAddresses {
        ClientAddresses::trusting(ReportedBy::XForwardedFor { proxies }, Secret::new(SECRET))
    }

    fn seen(policy: &ClientAddresses, pairs: &[(&str, &str)]) -> Option<String> {
        policy.client_address(Some(PROXY), &headers(pairs))
    }

    #[test]
    fn by_default_the_source_address_is_used_whatever_the_headers_say() {
        let policy = ClientAddresses::default();
        let spoofed = [
            ("cloudfront-viewer-address", "198.51.100.7:443"),
            ("x-forwarded-for", "198.51.100.7"),
            (ORIGIN_SECRET_HEADER, SECRET),
        ];
        assert_eq!(seen(&policy, &spoofed).as_deref(), Some(PROXY));
        assert_eq!(policy.client_address(None, &headers(&spoofed)), None, "no source address stays none");
    }

    #[test]
    fn cloudfronts_viewer_address_is_read_with_its_port_in_both_families() {
        let with =
            |value: &str| seen(&cloudfront(), &[("cloudfront-viewer-address", value), (ORIGIN_SECRET_HEADER, SECRET)]);
        assert_eq!(with("198.51.100.7:46532").as_deref(), Some("198.51.100.7"));
        assert_eq!(with(" 198.51.100.7:46532 ").as_deref(), Some("198.51.100.7"), "surrounding space");
        assert_eq!(with("2001:db8:1:2::7:46532").as_deref(), Some("2001:db8:1:2::7"), "IPv6 as CloudFront writes it");
        assert_eq!(with("[2001:db8:1:2::7]:46532").as_deref(), Some("2001:db8:1:2::7"), "bracketed IPv6");
    }

    #[test]
    fn a_malformed_viewer_address_falls_back_to_the_source_address() {
        for value in [
            "198.51.100.7",                  // no port
            "198.51.100.7:",                 // empty port
            "198.51.100.7:99999",            // port out of range
            "198.51.100.7:x",                // not a port
            "198.51.100.300:443",            // not an address
            "example.com:443",               // a name
            "",                              // empty
            "198.51.100.7:1, 203.0.113.9:2", // two values in one
            "[2001:db8::1:443",              // unbalanced bracket
        ] {
            assert_eq!(
                seen(&cloudfront(), &[("cloudfront-viewer-address", value), (ORIGIN_SECRET_HEADER, SECRET)]).as_deref(),
                Some(PROXY),
                "{value:?}"
            );
        }
        let twice = [
            ("cloudfront-viewer-address", "198.51.100.7:1"),
            ("cloudfront-viewer-address", "203.0.113.9:2"),
            (ORIGIN_SECRET_HEADER, SECRET),
        ];
        assert_eq!(seen(&cloudfront(), &twice).as_deref(), Some(PROXY), "two headers: no report");
        assert_eq!(seen(&cloudfront(), &[(ORIGIN_SECRET_HEADER, SECRET)]).as_deref(), Some(PROXY), "no header");
    }

    #[test]
    fn a_report_without_the_proxys_secret_is_ignored() {
        let viewer = ("cloudfront-viewer-address", "198.51.100.7:443");
        for secret in [None, Some("wrong"), Some(&SECRET[1..]), Some("0123456789abcdef0123456789abcdeF")] {
            let mut pairs = vec![viewer];
            pairs.extend(secret.map(|s| (ORIGIN_SECRET_HEADER, s)));
            assert_eq!(seen(&cloudfront(), &pairs).as_deref(), Some(PROXY), "secret {secret:?}");
        }
        let doubled = [viewer, (ORIGIN_SECRET_HEADER, SECRET), (ORIGIN_SECRET_HEADER, SECRET)];
        assert_eq!(seen(&cloudfront(), &doubled).as_deref(), Some(PROXY), "the secret twice");
        assert_eq!(seen(&cloudfront(), &[viewer, (ORIGIN_SECRET_HEADER, SECRET)]).as_deref(), Some("198.51.100.7"));
    }

    #[test]
    fn forwarded_for_is_read_from_the_right_past_api_gateways_own_entry() {
        let with = |policy: &ClientAddresses, value: &str| {
            seen(policy, &[("x-forwarded-for", value), (ORIGIN_SECRET_HEADER, SECRET)])
        };
        // CloudFront appended the viewer; API Gateway appended CloudFront (the source address).
        assert_eq!(with(&forwarded(1), &format!("198.51.100.7, {PROXY}")).as_deref(), Some("198.51.100.7"));
        // The same without API Gateway's entry.
        assert_eq!(with(&forwarded(1), "198.51.100.7").as_deref(), Some("198.51.100.7"));
        // What the client wrote is to the left and is never read.
        assert_eq!(
            with(&forwarded(1), &format!("10.0.0.1, 203.0.113.66, 198.51.100.7,{PROXY}")).as_deref(),
            Some("198.51.100.7")
        );
        assert_eq!(with(&forwarded(1), &format!("not an ip, 198.51.100.7, {PROXY}")).as_deref(), Some("198.51.100.7"));
        // Two proxies (a WAF-fronted load balancer behind CloudFront): the outer one's report.
        assert_eq!(
            with(&forwarded(2), &format!("203.0.113.66, 198.51.100.7, 10.1.2.3, {PROXY}")).as_deref(),
            Some("198.51.100.7")
        );
        // IPv6 entries.
        assert_eq!(with(&forwarded(1), &format!("2001:db8:1:2::7, {PROXY}")).as_deref(), Some("2001:db8:1:2::7"));
        // Repeated headers count as one list, in order.
        let repeated = [
            ("x-forwarded-for", "203.0.113.66"),
            ("x-forwarded-for", "198.51.100.7"),
            ("x-forwarded-for", PROXY),
            (ORIGIN_SECRET_HEADER, SECRET),
        ];
        assert_eq!(seen(&forwarded(1), &repeated).as_deref(), Some("198.51.100.7"));
    }

    #[test]
    fn a_short_or_malformed_forwarded_for_falls_back_to_the_source_address() {
        for (proxies, value) in [
            (1, PROXY.to_owned()),                     // only API Gateway's entry
            (2, format!("198.51.100.7, {PROXY}")),     // fewer entries than proxies
            (1, format!("198.51.100.7:443, {PROXY}")), // a port where an address belongs
            (1, format!("unknown, {PROXY}")),          // not an address
            (1, format!(", {PROXY}")),                 // empty entry
            (1, String::new()),
        ] {
            assert_eq!(
                seen(&forwarded(proxies), &[("x-forwarded-for", &value), (ORIGIN_SECRET_HEADER, SECRET)]).as_deref(),
                Some(PROXY),
                "{proxies} proxies, {value:?}"
            );
        }
        assert_eq!(seen(&forwarded(1), &[(ORIGIN_SECRET_HEADER, SECRET)]).as_deref(), Some(PROXY), "no header");
        assert_eq!(
            seen(&forwarded(1), &[("x-forwarded-for", "198.51.100.7")]).as_deref(),
            Some(PROXY),
            "without the secret"
        );
    }

    #[test]
    fn configuration_names_the_header_and_requires_a_secret_with_it() {
        let parse = |pairs: &[(&str, &str)]| ClientAddresses::from_env(&Env::from_pairs(pairs.iter().copied()));
        assert!(parse(&[]).unwrap().trusted.is_none());
        let cloudfront =
            parse(&[("CLIENT_ADDRESS_HEADER", "cloudfront-viewer-address"), ("PROXY_ORIGIN_SECRET", SECRET)]);
        assert_eq!(cloudfront.unwrap().trusted.map(|(r, _)| r), Some(ReportedBy::CloudFrontViewerAddress));
        let forwarded = parse(&[
            ("CLIENT_ADDRESS_HEADER", "X-Forwarded-For"),
            ("CLIENT_ADDRESS_PROXIES", "2"),
            ("PROXY_ORIGIN_SECRET", SECRET),
        ]);
        assert_eq!(forwarded.unwrap().trusted.map(|(r, _)| r), Some(ReportedBy::XForwardedFor { proxies: 2 }));
        for (pairs, variable) in [
            (vec![("CLIENT_ADDRESS_HEADER", "X-Forwarded-For")], "PROXY_ORIGIN_SECRET"),
            (vec![("PROXY_ORIGIN_SECRET", SECRET)], "PROXY_ORIGIN_SECRET"),
            (
                vec![("CLIENT_ADDRESS_HEADER", "X-Forwarded-For"), ("PROXY_ORIGIN_SECRET", "short")],
                "PROXY_ORIGIN_SECRET",
            ),
            (vec![("CLIENT_ADDRESS_HEADER", "X-Real-IP"), ("PROXY_ORIGIN_SECRET", SECRET)], "CLIENT_ADDRESS_HEADER"),
            (vec![("CLIENT_ADDRESS_PROXIES", "0")], "CLIENT_ADDRESS_PROXIES"),
            (vec![("CLIENT_ADDRESS_PROXIES", "6")], "CLIENT_ADDRESS_PROXIES"),
        ] {
            let error = parse(&pairs).expect_err(&format!("{pairs:?} is refused"));
            assert_eq!(error.variable, variable, "{pairs:?}: {error}");
            assert!(!error.to_string().contains(SECRET), "the secret is never in a message: {error}");
        }
    }
}
