//! Rate limits, as fixed windows counted with DynamoDB atomic counters: on
//! association requests per identity, per identity and target address, per
//! client IP and per address per day; on sign-ins started per client network.

use unicode_normalization::UnicodeNormalization;

use crate::config::{ConfigError, Env};
use crate::domain::email::RegisteredEmail;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    pub per_identity: u32,
    /// Requests by one identity for one address, per window.
    pub per_address: u32,
    /// Requests from one client network per window: a ceiling against
    /// abuse, not a business limit (a company's people share one address).
    pub per_ip: u32,
    pub window_seconds: i64,
    /// Requests for one address per UTC day, by every identity together
    /// except the address's owner.
    pub per_address_per_day: u32,
    /// Sign-ins started (`GET /login`) per client network per window: each
    /// writes a transaction item before the provider answers.
    pub sign_ins_per_ip: u32,
}

/// The defaults let 1,000 people behind one corporate NAT onboard in one
/// hour's window: a person makes one request (for the address that holds
/// their profiles) and starts four sign-ins in the heavy case (the first, one
/// per link clicked for two profiles, the portal's), each allowed one retry,
/// with twice that as headroom: 1,000 × 2 × 2 = 4,000 requests and
/// 1,000 × 5 × 2 = 10,000 sign-ins. Per-identity and per-address limits do
/// the real work (`tests/association.rs` measures an onboarding against them).
impl Default for RateLimits {
    fn default() -> Self {
        Self {
            per_identity: 5,
            per_address: 5,
            per_ip: 4_000,
            window_seconds: 3600,
            per_address_per_day: 10,
            sign_ins_per_ip: 10_000,
        }
    }
}

impl RateLimits {
    /// The limits on association requests (what request-association and redeem-link read).
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let d = Self::default();
        Ok(Self {
            per_identity: env.number_in("RATE_LIMIT_PER_IDENTITY", d.per_identity, 1..=10_000)?,
            per_address: env.number_in("RATE_LIMIT_PER_ADDRESS", d.per_address, 1..=10_000)?,
            per_ip: env.number_in("RATE_LIMIT_PER_IP", d.per_ip, 1..=100_000)?,
            window_seconds: env.number_in("RATE_LIMIT_WINDOW_SECONDS", d.window_seconds, 60..=86_400)?,
            per_address_per_day: env.number_in("RATE_LIMIT_PER_ADDRESS_PER_DAY", d.per_address_per_day, 1..=100_000)?,
            sign_ins_per_ip: d.sign_ins_per_ip,
        })
    }

    /// The limit on sign-ins started (the login function's only one) and its window.
    pub fn sign_ins_from_env(env: &Env) -> Result<Self, ConfigError> {
        let d = Self::default();
        Ok(Self {
            window_seconds: env.number_in("RATE_LIMIT_WINDOW_SECONDS", d.window_seconds, 60..=86_400)?,
            sign_ins_per_ip: env.number_in("RATE_LIMIT_SIGN_INS_PER_IP", d.sign_ins_per_ip, 1..=1_000_000)?,
            ..d
        })
    }

    /// The current window's start and end.
    pub fn window(&self, now: i64) -> (i64, i64) {
        let start = now - now.rem_euclid(self.window_seconds);
        (start, start + self.window_seconds)
    }

    /// The current UTC day's start and end.
    pub fn day(&self, now: i64) -> (i64, i64) {
        const DAY: i64 = 86_400;
        let start = now - now.rem_euclid(DAY);
        (start, start + DAY)
    }
}

/// The key a client's per-IP limits count under: an IPv4 address as it is, an
/// IPv6 address by its /64 (one subscriber's network: a client holds every
/// address in it); anything unparseable as one shared `unknown`.
pub fn client_network(source_ip: Option<&str>) -> String {
    match source_ip.and_then(|ip| ip.parse::<std::net::IpAddr>().ok()) {
        Some(std::net::IpAddr::V4(v4)) => v4.to_string(),
        Some(std::net::IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        None => "unknown".to_owned(),
    }
}

/// How association requests are limited and how long their links live: read
/// once, the same way, by every function that creates links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestPolicy {
    pub limits: RateLimits,
    pub link_ttl_seconds: i64,
}

impl RequestPolicy {
    pub const DEFAULT_LINK_TTL_SECONDS: i64 = 3600;

    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            limits: RateLimits::from_env(env)?,
            link_ttl_seconds: env.number_in("LINK_TTL_SECONDS", Self::DEFAULT_LINK_TTL_SECONDS, 300..=86_400)?,
        })
    }
}

/// The key the per-address limit counts under. Deliberately coarser than the
/// lookup key, so spelling variants of one mailbox share a budget: Unicode
/// compatibility forms folded (NFKC), look-alike letters mapped to one
/// skeleton (Unicode TR39: Cyrillic "а" counts as Latin "a"), case folded,
/// `+tag` dropped and dots in the local part removed (`P.A.T+x@Example.com`
/// counts as `pat@example.com`).
pub fn address_rate_key(email: &RegisteredEmail) -> String {
    use unicode_security::confusable_detection::skeleton;
    let folded: String = email.as_str().nfkc().collect::<String>().to_lowercase();
    let (local, domain) = folded.rsplit_once('@').unwrap_or((&folded, ""));
    let local = local.split('+').next().unwrap_or(local).replace('.', "");
    let fold = |part: &str| skeleton(part).collect::<String>().to_lowercase();
    format!("{}@{}", fold(&local), fold(domain))
}

/// Which limit refused a request: the `Limit` dimension of the
/// `RateLimitHits` metric and what logs name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    /// Requests per identity, per window.
    Identity,
    /// Requests per (identity, address), per window.
    Address,
    /// Requests per client network, per window: a ceiling against abuse.
    Ip,
    /// The per-address daily cap that the address's owner skips.
    AddressDay,
    /// Sign-ins started per client network, per window.
    SignInsIp,
}

impl Limit {
    pub const fn as_str(self) -> &'static str {
        match self {
            Limit::Identity => "identity",
            Limit::Address => "address",
            Limit::Ip => "ip",
            Limit::AddressDay => "address_day",
            Limit::SignInsIp => "sign_ins_ip",
        }
    }
}

impl Limit {
    /// How support reads it: which budget ran out.
    pub const fn describe(self) -> &'static str {
        match self {
            Limit::Identity => "per-sign-in",
            Limit::Address => "per-sign-in-and-address",
            Limit::Ip => "per-network",
            Limit::AddressDay => "per-address daily",
            Limit::SignInsIp => "sign-ins-per-network",
        }
    }
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(raw: &str) -> String {
        address_rate_key(&RegisteredEmail::parse(raw).unwrap())
    }

    #[test]
    fn spelling_variants_of_one_mailbox_share_a_key() {
        let base = key("pat@example.com");
        for variant in
            ["PAT@Example.com", "p.a.t@example.com", "pat+promo@example.com", "Ｐａｔ@example.com", "pat@ｅxample.com"]
        {
            assert_eq!(key(variant), base, "{variant}");
        }
        assert_ne!(key("pam@example.com"), base);
        assert_ne!(key("pat@example.org"), base);
    }

    #[test]
    fn windows_are_aligned() {
        let limits = RateLimits::default();
        assert_eq!(limits.window(7200), (7200, 10800));
        assert_eq!(limits.window(7300), (7200, 10800));
    }

    #[test]
    fn ipv6_clients_count_by_their_64() {
        assert_eq!(client_network(Some("2001:db8:1:2:aaaa::1")), "2001:db8:1:2::/64");
        assert_eq!(client_network(Some("2001:db8:1:2:ffff::9")), "2001:db8:1:2::/64");
        assert_ne!(client_network(Some("2001:db8:1:3::1")), "2001:db8:1:2::/64");
        assert_eq!(client_network(Some("198.51.100.7")), "198.51.100.7");
        assert_eq!(client_network(Some("::ffff:198.51.100.7")), "198.51.100.7");
        assert_eq!(client_network(Some("not an ip")), "unknown");
        assert_eq!(client_network(None), "unknown");
    }

    #[test]
    fn days_are_utc_days() {
        let limits = RateLimits::default();
        assert_eq!(limits.day(86_400 * 3 + 5), (86_400 * 3, 86_400 * 4));
    }

    #[test]
    fn limits_are_configurable() {
        let env = Env::from_pairs([("RATE_LIMIT_PER_IP", "7"), ("RATE_LIMIT_WINDOW_SECONDS", "600")]);
        let limits = RateLimits::from_env(&env).unwrap();
        assert_eq!((limits.per_ip, limits.window_seconds, limits.per_identity), (7, 600, 5));
        assert!(RateLimits::from_env(&Env::from_pairs([("RATE_LIMIT_PER_IP", "0")])).is_err());
    }
}
