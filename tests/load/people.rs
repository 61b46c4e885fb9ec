//! Who the simulated people are. Person `n` signs in at the dev identity
//! provider as `load-n` (it has these users when started with
//! `DEV_IDP_LOAD_USERS`), password `demo`, and the customer system registered
//! `load-n@load.example.com` for them: one profile, two for every third person,
//! so multi-link flows and emails per link are covered.

/// The dev identity provider's password for every user.
pub const PASSWORD: &str = "demo";
/// The domain of every registered address; only mail to it is read.
pub const MAIL_DOMAIN: &str = "load.example.com";
/// Every load profile id starts with this; associations are counted by it.
pub const PROFILE_PREFIX: &str = "LOAD-";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Person {
    pub number: usize,
}

impl Person {
    pub fn login(&self) -> String {
        format!("load-{}", self.number)
    }

    pub fn address(&self) -> String {
        format!("load-{}@{MAIL_DOMAIN}", self.number)
    }

    /// The loopback address this person's browser connects from: people
    /// 1..=per_address share 127.0.0.1, the next as many 127.0.0.2, and so on
    /// (Linux routes all of 127/8 to this machine), as colleagues share a
    /// company's address.
    pub fn source_address(&self, per_address: usize) -> std::net::IpAddr {
        let index = (self.number - 1) / per_address.max(1);
        let address = u32::from(std::net::Ipv4Addr::LOCALHOST) + u32::try_from(index).unwrap_or(u32::MAX);
        // 100,000 people at most, one each: never past 127.1.134.160, well inside 127/8.
        std::net::IpAddr::V4(address.into())
    }

    pub fn profile_ids(&self) -> Vec<String> {
        let count = if self.number.is_multiple_of(3) { 2 } else { 1 };
        (1..=count).map(|k| format!("{PROFILE_PREFIX}{:06}-{k}", self.number)).collect()
    }
}

/// People 1 to `count`.
pub fn people(count: usize) -> Vec<Person> {
    (1..=count).map(|number| Person { number }).collect()
}

/// The profiles of people 1 to `count`, as `profile-link-admin profiles import` reads them.
pub fn profiles_csv(count: usize) -> String {
    let mut csv = String::from("profile_id,email,display_name,organization\n");
    for person in people(count) {
        for (k, id) in person.profile_ids().iter().enumerate() {
            csv.push_str(&format!(
                "{id},{},Load Person {n},Load Company {n}-{}\n",
                person.address(),
                k + 1,
                n = person.number
            ));
        }
    }
    csv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_third_person_has_two_profiles() {
        let counts: Vec<usize> = people(6).iter().map(|p| p.profile_ids().len()).collect();
        assert_eq!(counts, [1, 1, 2, 1, 1, 2]);
        assert_eq!(people(3)[2].profile_ids(), ["LOAD-000003-1", "LOAD-000003-2"]);
    }

    #[test]
    fn the_csv_has_a_row_per_profile_with_valid_values() {
        let csv = profiles_csv(3);
        let rows: Vec<&str> = csv.lines().collect();
        assert_eq!(rows[0], "profile_id,email,display_name,organization");
        assert_eq!(rows.len(), 1 + 4);
        assert_eq!(rows[3], "LOAD-000003-1,load-3@load.example.com,Load Person 3,Load Company 3-1");
        for row in &rows[1..] {
            let id = row.split(',').next().unwrap();
            assert!(profile_link_core::domain::profile::ProfileId::parse(id).is_some(), "{id}");
            let address = row.split(',').nth(1).unwrap();
            assert!(profile_link_core::domain::email::RegisteredEmail::parse(address).is_ok(), "{address}");
        }
    }

    #[test]
    fn people_share_a_source_address_in_groups_of_the_given_size() {
        let address = |n: usize, per: usize| Person { number: n }.source_address(per).to_string();
        assert_eq!([address(1, 300), address(300, 300), address(301, 300)], ["127.0.0.1", "127.0.0.1", "127.0.0.2"]);
        assert_eq!(address(2000, 500), "127.0.0.4");
        assert_eq!(address(300, 1), "127.0.1.44");
        assert_eq!(address(100_000, 1), "127.1.134.160");
        let distinct: std::collections::HashSet<String> =
            people(10_000).iter().map(|p| p.source_address(500).to_string()).collect();
        assert_eq!(distinct.len(), 20, "10,000 people at 500 an address");
    }

    #[test]
    fn addresses_do_not_share_a_rate_limit_budget() {
        let keys: std::collections::HashSet<String> = people(1000)
            .iter()
            .map(|p| {
                profile_link_core::domain::rate_limit::address_rate_key(
                    &profile_link_core::domain::email::RegisteredEmail::parse(&p.address()).unwrap(),
                )
            })
            .collect();
        assert_eq!(keys.len(), 1000);
    }
}
