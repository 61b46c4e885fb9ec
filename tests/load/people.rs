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
