//! What SES publishes about a sent email, as the local stack and the tests
//! play it (moto never bounces nor delivers): bounce, complaint, delivery,
//! delivery-delay and reject records in the documented event-publishing shape, carrying the message tags
//! send-emails set, and the SNS event that delivers them to ses-events.

use profile_link_core::domain::mail_subject::MailSubject;
use profile_link_core::store::Feedback;
use profile_link_core::store::deliveries::Delivery;
use serde_json::{Map, Value, json};

/// The documented `mail` object of an event-publishing record, with these
/// tags (name → value) and the ones SES adds; a tag of someone else's is
/// there too, as on a real configuration set.
pub fn mail<N, V>(recipient: &str, message_id: &str, tags: impl IntoIterator<Item = (N, V)>) -> Value
where
    N: Into<String>,
    V: Into<String>,
{
    let mut published: Map<String, Value> =
        tags.into_iter().map(|(name, value)| (name.into(), json!([value.into()]))).collect();
    // SES adds its own tags; a tag of someone else's is ignored too.
    published.insert("ses:configuration-set".into(), json!(["profile-link"]));
    published.insert("ses:from-domain".into(), json!(["example.com"]));
    published.insert("campaign".into(), json!(["spring"]));
    json!({
        "timestamp": "2026-03-01T10:00:00.000Z",
        "source": "Example Ltd <no-reply@example.com>",
        "sourceArn": "arn:aws:ses:eu-west-1:123456789012:identity/example.com",
        "sendingAccountId": "123456789012",
        "messageId": message_id,
        "destination": [recipient],
        "headersTruncated": false,
        "headers": [{ "name": "To", "value": recipient }],
        "commonHeaders": { "from": ["Example Ltd <no-reply@example.com>"], "to": [recipient], "subject": "Link" },
        "tags": published,
    })
}

/// A `Bounce` record of `kind` (`Permanent`, `Transient` …) and subtype `sub` for an email to `recipient`.
pub fn bounce(kind: &str, sub: &str, recipient: &str, mail: Value) -> Value {
    let status = if kind == "Permanent" { "5.1.1" } else { "4.2.2" };
    json!({
        "eventType": "Bounce",
        "bounce": {
            "bounceType": kind,
            "bounceSubType": sub,
            "bouncedRecipients": [{
                "emailAddress": recipient,
                "action": "failed",
                "status": status,
                "diagnosticCode": format!("smtp; 550 {status} <{recipient}>: user unknown"),
            }],
            "timestamp": "2026-03-01T10:00:02.669Z",
            "feedbackId": "01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000000",
            "reportingMTA": "dsn; mta.example.com",
        },
        "mail": mail,
    })
}

/// A `Complaint` record (feedback type `abuse`) about an email to `recipient`.
pub fn complaint(recipient: &str, mail: Value) -> Value {
    json!({
        "eventType": "Complaint",
        "complaint": {
            "feedbackId": "01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000000",
            "complaintSubType": null,
            "complainedRecipients": [{ "emailAddress": recipient }],
            "timestamp": "2026-03-01T10:05:00.000Z",
            "userAgent": "Mozilla/5.0",
            "complaintFeedbackType": "abuse",
            "arrivalDate": "2026-03-01T10:04:58.000Z",
        },
        "mail": mail,
    })
}

/// A `Delivery` record: the recipient's server accepted the email.
pub fn delivery(recipient: &str, mail: Value) -> Value {
    json!({
        "eventType": "Delivery",
        "delivery": {
            "timestamp": "2026-03-01T10:00:01.512Z",
            "processingTimeMillis": 546,
            "recipients": [recipient],
            "smtpResponse": "250 2.6.0 Message received",
            "reportingMTA": "a8-70.smtp-out.amazonses.com",
        },
        "mail": mail,
    })
}

/// A `DeliveryDelay` record (delay type `MailboxFull`) for an email to `recipient`.
pub fn delivery_delay(recipient: &str, mail: Value) -> Value {
    json!({
        "eventType": "DeliveryDelay",
        "deliveryDelay": {
            "timestamp": "2026-03-01T10:15:00.000Z",
            "delayType": "MailboxFull",
            "expirationTime": "2026-03-01T22:00:00.000Z",
            "delayedRecipients": [{
                "emailAddress": recipient,
                "status": "4.2.2",
                "diagnosticCode": format!("smtp; 452 4.2.2 <{recipient}>: mailbox full"),
            }],
        },
        "mail": mail,
    })
}

/// A `Reject` record: SES found the email unsendable (it names no recipient; `mail.destination` does).
pub fn reject(mail: Value) -> Value {
    json!({ "eventType": "Reject", "reject": { "reason": "Bad content" }, "mail": mail })
}

/// The record SES would publish for `delivery` of an email to `recipient` tagged with `about`.
pub fn example_delivery_event(delivery: Delivery, recipient: &str, ses_message_id: &str, about: &MailSubject) -> Value {
    let mail = mail(recipient, ses_message_id, about.tags());
    match delivery {
        Delivery::Delivered => self::delivery(recipient, mail),
        Delivery::Delayed => delivery_delay(recipient, mail),
        Delivery::Rejected => reject(mail),
    }
}

/// The record SES would publish through the configuration set for `feedback`
/// on an email to `recipient` tagged with `about` (the documented shape of an
/// event-publishing record). The dev server's `/dev/ses-event` uses it, as
/// moto never bounces.
pub fn example_ses_event(feedback: Feedback, recipient: &str, ses_message_id: &str, about: &MailSubject) -> Value {
    let mail = mail(recipient, ses_message_id, about.tags());
    match feedback {
        Feedback::HardBounce => bounce("Permanent", "General", recipient, mail),
        Feedback::SoftBounce => bounce("Transient", "MailboxFull", recipient, mail),
        Feedback::Complaint => complaint(recipient, mail),
    }
}

/// The Lambda event an SNS topic delivers for these messages (SES event
/// records as JSON text, each in the `Message` of its SNS envelope).
pub fn sns_event(messages: &[String]) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|message| {
            json!({
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": "arn:aws:sns:eu-west-1:123456789012:mail-events:local",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": profile_link_core::random::token(12),
                    "TopicArn": "arn:aws:sns:eu-west-1:123456789012:mail-events",
                    "Subject": null,
                    "Message": message,
                    "Timestamp": "2026-01-01T00:00:02.000Z",
                    "SignatureVersion": "1",
                    "Signature": "local",
                    "SigningCertUrl": "https://sns.eu-west-1.amazonaws.com/local.pem",
                    "UnsubscribeUrl": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe",
                    "MessageAttributes": {},
                }
            })
        })
        .collect();
    json!({ "Records": records })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_carry_the_tags_and_the_feedback() {
        let about = MailSubject::Link {
            link_id: profile_link_core::domain::link_token::LinkId::parse("abcdefghijklmnopqrstuv").unwrap(),
            profile_id: profile_link_core::domain::profile::ProfileId::parse("CUST-1").unwrap(),
        };
        let hard = example_ses_event(Feedback::HardBounce, "pat@example.com", "m-1", &about);
        assert_eq!(hard["bounce"]["bounceType"], "Permanent");
        assert_eq!(hard["bounce"]["bouncedRecipients"][0]["emailAddress"], "pat@example.com");
        assert_eq!(hard["mail"]["messageId"], "m-1");
        for (name, value) in about.tags() {
            assert_eq!(hard["mail"]["tags"][name], json!([value]), "{name}");
        }
        let soft = example_ses_event(Feedback::SoftBounce, "pat@example.com", "m-1", &about);
        assert_eq!(soft["bounce"]["bounceType"], "Transient");
        let complained = example_ses_event(Feedback::Complaint, "pat@example.com", "m-1", &about);
        assert_eq!(complained["complaint"]["complainedRecipients"][0]["emailAddress"], "pat@example.com");
        let event = sns_event(&[hard.to_string()]);
        assert_eq!(
            event["Records"][0]["Sns"]["Message"].as_str().map(serde_json::from_str::<Value>).unwrap().unwrap(),
            hard
        );
    }
}
