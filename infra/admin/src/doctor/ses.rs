//! SES: the sender's identity verified, the account out of the sandbox and
//! sending, and its quota and rate against the burst the onboarding expects.

use aws_sdk_sesv2::error::ProvideErrorMetadata;
use aws_sdk_sesv2::types::VerificationStatus;
use profile_link_core::config::Env;
use profile_link_core::mail::MailConfig;

use super::{Check, Stack, aws_problem};

pub(super) async fn checks(sdk: &aws_config::SdkConfig, stack: &Stack) -> Vec<Check> {
    let ses = aws_sdk_sesv2::Client::new(sdk);
    let mut checks = vec![identity(&ses, stack).await];
    match ses.get_account().send().await {
        Ok(account) => {
            let quota = account.send_quota();
            let facts = Account {
                production_access: account.production_access_enabled(),
                sending_enabled: account.sending_enabled(),
                max_24_hour_send: quota.map_or(0.0, |q| q.max24_hour_send()),
                max_send_rate: quota.map_or(0.0, |q| q.max_send_rate()),
                sent_last_24_hours: quota.map_or(0.0, |q| q.sent_last24_hours()),
            };
            checks.extend(judge(&facts, stack.expected_emails_per_hour()));
        }
        Err(error) => checks.push(Check::warn(
            "SES account",
            format!("could not read the account ({})", aws_problem(&error)),
            "check production access, quota and rate by hand: aws sesv2 get-account",
        )),
    }
    checks
}

/// The sender as MAIL_FROM names it: its domain's identity, or failing that
/// the address's own, verified for sending in this region.
async fn identity(ses: &aws_sdk_sesv2::Client, stack: &Stack) -> Check {
    const CHECK: &str = "SES identity";
    let Some(from) = stack.mail_from.as_deref() else {
        return Check::warn(CHECK, "not checked: no sender", "give --mail-from (the stack's MailFrom) or MAIL_FROM");
    };
    if let Err(error) = MailConfig::from_env(&Env::from_pairs([("MAIL_FROM", from)])) {
        return Check::fail(CHECK, error.to_string(), "send-emails does not start: set MailFrom to an address");
    }
    let address = from.rsplit_once('<').map_or(from, |(_, a)| a.trim_end_matches('>')).trim().to_owned();
    let domain = address.rsplit_once('@').map_or(address.as_str(), |(_, d)| d).to_owned();
    let mut seen = Vec::new();
    for candidate in [domain.as_str(), address.as_str()] {
        match ses.get_email_identity().email_identity(candidate).send().await {
            Ok(found) => {
                let status = found.verification_status();
                if found.verified_for_sending_status() || status == Some(&VerificationStatus::Success) {
                    return Check::ok(CHECK, format!("{candidate} is verified for sending"));
                }
                seen.push(format!("{candidate} is {}", status.map_or("not verified", |s| s.as_str())));
            }
            Err(error) if error.code() == Some("NotFoundException") => {}
            Err(error) => {
                return Check::warn(
                    CHECK,
                    format!("could not read {candidate} ({})", aws_problem(&error)),
                    "check it by hand: aws sesv2 get-email-identity",
                );
            }
        }
    }
    let seen = if seen.is_empty() { String::new() } else { format!(" ({})", seen.join(", ")) };
    Check::fail(
        CHECK,
        format!("neither {domain} nor {address} is a verified SES identity in this region{seen}"),
        "no email is sent: verify the domain (its DKIM records) in SES, in the stack's region",
    )
}

/// What GetAccount says.
#[derive(Debug, Clone, Copy)]
pub(super) struct Account {
    pub production_access: bool,
    pub sending_enabled: bool,
    /// Negative: no daily limit.
    pub max_24_hour_send: f64,
    pub max_send_rate: f64,
    pub sent_last_24_hours: f64,
}

pub(super) fn judge(account: &Account, per_hour: u64) -> Vec<Check> {
    let burst = per_hour as f64;
    let mut checks = Vec::new();
    checks.push(if account.sending_enabled {
        Check::ok("SES sending", "the account may send")
    } else {
        Check::fail(
            "SES sending",
            "sending is paused for the account",
            "no email leaves: see the SES account dashboard, then aws sesv2 put-account-sending-attributes --sending-enabled",
        )
    });
    checks.push(if account.production_access {
        Check::ok("SES production", "production access: mail goes to any address")
    } else {
        Check::fail(
            "SES production",
            format!(
                "the account is in the SES sandbox: it sends only to verified addresses, {} a day",
                account.max_24_hour_send
            ),
            "request production access (SES console, Account dashboard) before onboarding anyone",
        )
    });
    let daily = account.max_24_hour_send;
    let left = daily - account.sent_last_24_hours;
    // Sends past the quota or the rate are not lost: send-emails paces itself to
    // the account's rate and leaves what SES refuses in the outbox (the table),
    // which the sweep sends once SES takes mail again; the person waits for it.
    // Past the rate that is minutes (a warning); past the quota it is hours,
    // after each person was told to check their inbox: no go.
    checks.push(if daily >= 0.0 && left < burst {
        let hours = left.max(0.0) / burst;
        Check::fail(
            "SES quota",
            format!(
                "{left} of today's {daily} emails are left: {per_hour} an hour spend them in {}; the rest wait in the outbox until SES's 24-hour window frees quota",
                minutes(hours * 60.0)
            ),
            "emails past it are hours late, not lost: ask AWS for a higher sending quota before the day, or onboard in smaller waves",
        )
    } else if daily >= 0.0 {
        Check::ok("SES quota", format!("{daily} emails a day ({left} left) carry {per_hour} in an hour"))
    } else {
        Check::ok("SES quota", format!("no daily limit; {per_hour} expected in an hour"))
    });
    let hourly = account.max_send_rate * 3600.0;
    checks.push(if hourly < burst {
        // The backlog an hour at this rate leaves: its last email waits this long.
        let backlog_minutes = (burst - hourly) / account.max_send_rate.max(f64::MIN_POSITIVE) / 60.0;
        Check::warn(
            "SES rate",
            format!(
                "{} a second is {hourly} emails an hour, under the {per_hour} expected: the outbox paces sends to it, and an hour's backlog takes {} more to send",
                account.max_send_rate,
                minutes(backlog_minutes)
            ),
            "emails are delayed, not lost: ask AWS for a higher sending rate before the day (docs/capacity.md)",
        )
    } else {
        Check::ok("SES rate", format!("{} a second carries {per_hour} emails an hour", account.max_send_rate))
    });
    checks
}

/// "3 h 20 min", "45 min", "under a minute".
fn minutes(total: f64) -> String {
    let total = total.round() as u64;
    match (total / 60, total % 60) {
        (0, 0) => "under a minute".to_owned(),
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Status;

    fn statuses(account: Account, per_hour: u64) -> Vec<(String, Status)> {
        judge(&account, per_hour).into_iter().map(|c| (c.check, c.status)).collect()
    }

    const PRODUCTION: Account = Account {
        production_access: true,
        sending_enabled: true,
        max_24_hour_send: 50_000.0,
        max_send_rate: 14.0,
        sent_last_24_hours: 0.0,
    };

    #[test]
    fn a_sandbox_account_fails_a_burst_its_quota_cannot_carry() {
        let sandbox = Account { production_access: false, max_24_hour_send: 200.0, max_send_rate: 1.0, ..PRODUCTION };
        let checks = judge(&sandbox, 1000);
        let lines: Vec<String> = checks.iter().map(Check::line).collect();
        assert_eq!(checks.iter().filter(|c| c.status == Status::Fail).count(), 2, "{lines:#?}");
        assert!(lines[1].starts_with("FAIL  SES production        the account is in the SES sandbox"), "{lines:#?}");
        assert!(
            lines[2].starts_with(
                "FAIL  SES quota             200 of today's 200 emails are left: 1000 an hour spend them in 12 min"
            ),
            "{lines:#?}"
        );
        assert_eq!(statuses(sandbox, 1000)[3], ("SES rate".into(), Status::Ok), "1/s is 3600 an hour");
    }

    #[test]
    fn a_production_account_carries_the_default_burst_fails_when_spent_and_warns_when_slow() {
        assert!(judge(&PRODUCTION, 1000).iter().all(|c| c.status == Status::Ok));
        // Spent delays emails by hours (the outbox keeps them): no go, saying how soon it is spent.
        let spent = Account { sent_last_24_hours: 49_500.0, ..PRODUCTION };
        let quota = &judge(&spent, 1000)[2];
        assert_eq!((quota.check.as_str(), quota.status), ("SES quota", Status::Fail), "{}", quota.line());
        assert!(quota.line().contains("1000 an hour spend them in 30 min"), "{}", quota.line());
        let slow = &judge(&PRODUCTION, 60_000)[3];
        assert_eq!(
            (slow.check.as_str(), slow.status),
            ("SES rate", Status::Warn),
            "14/s is 50400 an hour: {}",
            slow.line()
        );
        assert!(slow.line().contains("an hour's backlog takes 11 min more"), "9600 at 14/s: {}", slow.line());
        let unlimited = Account { max_24_hour_send: -1.0, ..PRODUCTION };
        assert_eq!(statuses(unlimited, 40_000)[2], ("SES quota".into(), Status::Ok));
        let paused = Account { sending_enabled: false, ..PRODUCTION };
        assert_eq!(statuses(paused, 1)[0], ("SES sending".into(), Status::Fail));
        // Slow delays them by minutes: a warning that says how long, and go ahead.
        assert!(go_ahead_with(&judge(&unlimited, 60_000)), "{:#?}", judge(&unlimited, 60_000));
        assert!(!go_ahead_with(&judge(&spent, 1000)), "a spent quota is no go");
    }

    fn go_ahead_with(checks: &[Check]) -> bool {
        crate::doctor::go_ahead(checks)
    }
}
