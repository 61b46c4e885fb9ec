//! SES bounces and complaints: the events SES publishes through the
//! configuration set (the documented event-publishing shape, with the message
//! tags send-emails set), delivered to the ses-events function the way the
//! local stack does (`POST /dev/ses-event`, as SNS would). A hard bounce or a
//! complaint suppresses the address; a soft bounce is only recorded; an
//! operator can lift a suppression; garbage changes nothing.

use std::collections::HashMap;

use profile_link_core::domain::email::RegisteredEmail;
use profile_link_core::domain::profile::ProfileId;
use profile_link_core::store::audit::AuditRecord;
use profile_link_tests::browser::{Browser, Page};
use profile_link_tests::flow::{confirm, link_id, links_to, open, request};
use profile_link_tests::{TestApp, ses_events};
use reqwest::StatusCode;
use serde_json::json;

/// A bounce of `kind` and subtype `sub`, as SES publishes it, of the email with these tags.
fn bounce(kind: &str, sub: &str, recipient: &str, message_id: &str, tags: &HashMap<String, String>) -> String {
    ses_events::bounce(kind, sub, recipient, ses_events::mail(recipient, message_id, tags)).to_string()
}

/// A complaint, as SES publishes it, about the email with these tags.
fn complaint(recipient: &str, message_id: &str, tags: &HashMap<String, String>) -> String {
    ses_events::complaint(recipient, ses_events::mail(recipient, message_id, tags)).to_string()
}

async fn trail(app: &TestApp, profile: &str) -> Vec<AuditRecord> {
    app.store.audit_trail(&ProfileId::parse(profile).unwrap()).await.unwrap()
}

fn events(trail: &[AuditRecord]) -> Vec<&str> {
    trail.iter().map(|r| r.event.as_str()).collect()
}

/// pat (CUST-1 under pat@…) asked, and the email went out: its tags and SES message id.
async fn pat_was_sent_a_link() -> (TestApp, Browser, Page, String, HashMap<String, String>, String) {
    let app = TestApp::spawn().await;
    app.import_profiles(&[("CUST-1", "pat", "Pat Doe", "Bakery")]).await;
    let pat = app.signed_in("pat").await;
    let answer = request(&app, &pat, &app.address("pat")).await;
    assert_eq!(answer.status, StatusCode::OK);
    app.deliver_stream().await;
    let links = links_to(&app, &app.address("pat")).await;
    assert_eq!(links.len(), 1);
    let tags = app.faults.tags_sent_to(&app.address("pat")).pop().expect("the email was sent with tags");
    let item = app.link_item(link_id(&links[0])).await;
    let message_id = item["ses_message_id"].as_s().unwrap().clone();
    (app, pat, answer, links[0].clone(), tags, message_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hard_bounce_suppresses_the_address_until_an_operator_lifts_it() {
    let (app, pat, first_answer, link, tags, message_id) = pat_was_sent_a_link().await;
    let address = app.address("pat");

    // The email names its link and profile in SES message tags, never the address.
    assert_eq!(tags.get("pl-link").map(String::as_str), Some(link_id(&link).replace('_', "_5F").as_str()));
    assert_eq!(tags.get("pl-profile").map(String::as_str), Some("CUST-1"));
    assert!(tags.values().all(|v| !v.contains('@') && !v.contains(&app.mail_domain)), "{tags:?}");

    app.clock.advance(1);
    let summary = app.ses_event(&bounce("Permanent", "General", &address, &message_id, &tags)).await;
    assert_eq!((summary["hard_bounces"].as_u64(), summary["suppressed"].as_u64()), (Some(1), Some(1)), "{summary}");

    // Support sees it in the profile's timeline, with SES's type and subtype, the address masked.
    let bounced = trail(&app, "CUST-1").await.into_iter().find(|r| r.event == "bounced").expect("a bounced entry");
    let detail = bounced.detail.unwrap();
    assert!(detail.contains("Permanent/General") && detail.contains("p***@"), "{detail}");
    assert!(!detail.contains(&address), "saw {:?}", detail);
    assert_eq!(bounced.link_id.as_deref(), Some(link_id(&link)));
    // ...on the link...
    let item = app.link_item(link_id(&link)).await;
    assert_eq!(item["mail_feedback"].as_s().unwrap(), "bounced");
    assert_eq!(item["mail_feedback_detail"].as_s().unwrap(), "Permanent/General");
    // ...and the address is suppressed, its key not naming it.
    let registered = RegisteredEmail::parse(&address).unwrap();
    let suppression = app.store.suppression(&registered).await.unwrap().expect("suppressed");
    assert_eq!((suppression.reason.as_str(), suppression.profile_id.as_deref()), ("bounced", Some("CUST-1")));
    assert_eq!(suppression.link_id.as_deref(), Some(link_id(&link)));
    assert_eq!(suppression.ses_message_id.as_deref(), Some(message_id.as_str()));
    let keys: Vec<String> =
        app.keys().await.into_iter().map(|(pk, _)| pk).filter(|pk| pk.starts_with("SUPPRESSED#")).collect();
    assert_eq!(keys.len(), 1);
    assert!(!keys[0].contains('@') && !keys[0].contains(&app.mail_domain), "{keys:?}");
    let listed = app.store.suppressions().await.unwrap();
    assert_eq!(listed.iter().map(|s| s.address.as_str()).collect::<Vec<_>>(), [address.as_str()]);

    // A new request for the address: the same answer as before (nothing to enumerate), no email.
    app.clock.advance(1);
    let sent_before = app.faults.sent();
    let answer = request(&app, &pat, &address).await;
    assert_eq!((answer.status, &answer.body), (first_answer.status, &first_answer.body));
    assert_eq!(app.deliver_stream().await, 1);
    assert_eq!(app.faults.sent(), sent_before, "no SendEmail to a suppressed address");
    assert_eq!(app.emails_to(&address).await.len(), 1);
    let timeline = trail(&app, "CUST-1").await;
    assert_eq!(events(&timeline), ["requested", "sent", "bounced", "requested", "suppressed"]);
    let not_sent = timeline.last().unwrap();
    let new_link = not_sent.link_id.clone().unwrap();
    assert_eq!(app.link_item(&new_link).await["state"].as_s().unwrap(), "suppressed");
    assert!(!not_sent.detail.as_deref().unwrap().contains(&address), "saw {:?}", not_sent.detail.as_deref().unwrap());

    // A redelivery of that record changes nothing and sends nothing.
    app.replay_stream().await;
    assert_eq!(app.faults.sent(), sent_before);
    assert_eq!(events(&trail(&app, "CUST-1").await).len(), 5);

    // An operator lifts it (the mailbox was fixed): the next request is emailed again.
    app.clock.advance(1);
    let lifted = app.store.lift_suppression(&registered, "alice@support", app.clock_now()).await.unwrap();
    assert_eq!(lifted.map(|s| s.reason), Some("bounced".into()));
    assert_eq!(app.store.suppression(&registered).await.unwrap(), None);
    assert_eq!(
        app.store.lift_suppression(&registered, "alice@support", app.clock_now()).await.unwrap(),
        None,
        "lifting twice"
    );
    app.clock.advance(1);
    request(&app, &pat, &address).await;
    app.deliver_stream().await;
    assert_eq!(app.emails_to(&address).await.len(), 2);
    assert_eq!(
        events(&trail(&app, "CUST-1").await),
        ["requested", "sent", "bounced", "requested", "suppressed", "unsuppressed", "requested", "sent"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_soft_bounce_is_recorded_and_mail_still_goes() {
    let (app, pat, _, link, tags, message_id) = pat_was_sent_a_link().await;
    let address = app.address("pat");
    app.clock.advance(1);
    let summary = app.ses_event(&bounce("Transient", "MailboxFull", &address, &message_id, &tags)).await;
    assert_eq!((summary["soft_bounces"].as_u64(), summary["suppressed"].as_u64()), (Some(1), Some(0)), "{summary}");

    let timeline = trail(&app, "CUST-1").await;
    assert_eq!(events(&timeline), ["requested", "sent", "bounced"]);
    assert!(
        timeline[2].detail.as_deref().unwrap().starts_with("Transient/MailboxFull"),
        "saw {:?}",
        timeline[2].detail.as_deref().unwrap()
    );
    assert_eq!(app.store.suppression(&RegisteredEmail::parse(&address).unwrap()).await.unwrap(), None);
    assert!(!app.link_item(link_id(&link)).await.contains_key("mail_feedback"), "the audit only");
    assert_eq!(app.count_with_prefix("SUPPRESSED#").await, 0);

    app.clock.advance(1);
    request(&app, &pat, &address).await;
    app.deliver_stream().await;
    assert_eq!(app.emails_to(&address).await.len(), 2, "later sends still go");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_complaint_suppresses_the_address_and_the_now_linked_notice_is_not_sent() {
    let (app, pat, _, link, _, _) = pat_was_sent_a_link().await;
    let address = app.address("pat");

    // The dev server builds the event SES would publish for that link's email.
    app.clock.advance(1);
    let summary = app.ses_event_for_link(link_id(&link), "complaint").await;
    assert_eq!((summary["complaints"].as_u64(), summary["suppressed"].as_u64()), (Some(1), Some(1)), "{summary}");
    let suppression = app.store.suppression(&RegisteredEmail::parse(&address).unwrap()).await.unwrap().unwrap();
    assert_eq!((suppression.reason.as_str(), suppression.detail.as_str()), ("complained", "Complaint/abuse"));
    assert_eq!(app.link_item(link_id(&link)).await["mail_feedback"].as_s().unwrap(), "complained");

    // The link still works for the person who asked; the notice to the suppressed address is not sent.
    app.clock.advance(10);
    let page = open(&pat, &link, "pat").await;
    assert_eq!(confirm(&pat, &page, "confirm").await.status, StatusCode::OK);
    app.clock.advance(1);
    let sent_before = app.faults.sent();
    assert_eq!(app.deliver_stream().await, 1, "the notice reaches send-emails");
    assert_eq!(app.faults.sent(), sent_before, "but is not sent");
    let notices = app.keys().await.into_iter().filter(|(pk, _)| pk.starts_with("NOTICE#")).collect::<Vec<_>>();
    assert_eq!(notices.len(), 1);
    let timeline = trail(&app, "CUST-1").await;
    assert_eq!(events(&timeline), ["requested", "sent", "complained", "linked", "suppressed"]);
    assert!(timeline[4].detail.as_deref().unwrap().contains("notice"), "{:?}", timeline[4]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_complaint_about_a_notice_is_recorded_on_the_notice() {
    let (app, pat, _, link, _, _) = pat_was_sent_a_link().await;
    let address = app.address("pat");
    app.clock.advance(10);
    let page = open(&pat, &link, "pat").await;
    assert_eq!(confirm(&pat, &page, "confirm").await.status, StatusCode::OK);
    app.deliver_stream().await;
    let tags = app.faults.tags_sent_to(&address).pop().unwrap();
    let notice_id = tags.get("pl-notice").expect("the notice is tagged as one").replace("_5F", "_");
    assert_eq!(tags.get("pl-profile").map(String::as_str), Some("CUST-1"));

    app.clock.advance(1);
    app.ses_event(&complaint(&address, "0100-notice", &tags)).await;
    let timeline = trail(&app, "CUST-1").await;
    assert_eq!(events(&timeline).last(), Some(&"complained"));
    assert_eq!(timeline.last().unwrap().link_id, None);
    let notice = app
        .store
        .client()
        .get_item()
        .table_name(app.store.table())
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("NOTICE#{notice_id}")))
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S("NOTICE".into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(notice["mail_feedback"].as_s().unwrap(), "complained");
    assert_eq!(
        app.store.suppression(&RegisteredEmail::parse(&address).unwrap()).await.unwrap().unwrap().notice_id,
        Some(notice_id)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_is_dropped_without_a_panic_or_a_write() {
    let (app, _, _, link, tags, message_id) = pat_was_sent_a_link().await;
    let address = app.address("pat");
    let before = app.snapshot().await;

    let valid = bounce("Permanent", "General", &address, &message_id, &tags);
    let mut garbage: Vec<String> = vec![
        String::new(),
        "not json".into(),
        "null".into(),
        "[]".into(),
        "{}".into(),
        r#"{"Records": "x"}"#.into(),
        r#"{"Records": [1, null, {"Sns": 5}, {"Sns": {"Message": 7}}]}"#.into(),
        r#"{"eventType": "Bounce"}"#.into(),
        r#"{"eventType": "Bounce", "bounce": {"bounceType": ["Permanent"], "bouncedRecipients": []}}"#.into(),
        r#"{"eventType": "Complaint", "complaint": {"complainedRecipients": "everyone"}}"#.into(),
        r#"{"notificationType": "AmazonSnsSubscriptionSucceeded", "message": "ok"}"#.into(),
        json!({"eventType": "Delivery", "delivery": {"recipients": [address]}, "mail": {"tags": {}}}).to_string(),
        // Not an address, an address in a display name, an empty one.
        bounce("Permanent", "General", "not an address", &message_id, &tags),
        bounce("Permanent", "General", &format!("Pat <{address}>"), &message_id, &tags),
        bounce("Permanent", "General", "", &message_id, &tags),
        json!({"eventType": "Bounce", "bounce": {"bounceType": "Permanent", "bouncedRecipients": []}}).to_string(),
        format!("{}{}", "[".repeat(5000), "]".repeat(5000)),
        json!({"eventType": "Bounce", "bounce": {"bounceType": "x".repeat(100_000), "bouncedRecipients": []}})
            .to_string(),
        // Somebody else's SNS envelope.
        json!({"Records": [{"Sns": {"Type": "SubscriptionConfirmation", "Message": valid}}]}).to_string(),
    ];
    // The valid event cut short at many points: never valid JSON again.
    let step = (valid.len() / 60).max(1);
    garbage.extend((1..valid.len()).step_by(step).map(|end| valid[..end].to_owned()));

    for body in &garbage {
        let summary = app.ses_event(body).await;
        assert_eq!(summary["suppressed"], 0, "{body:.200}: {summary}");
        assert_eq!(summary["hard_bounces"], 0, "{body:.200}: {summary}");
        assert!(
            summary["dropped"].as_u64().unwrap() + summary["ignored"].as_u64().unwrap() >= 1,
            "{body:.200}: {summary}"
        );
    }
    // A soft bounce of mail whose tags name nothing readable: counted, nothing to write.
    let untagged = HashMap::from([("pl-link".into(), "_ZZ".into()), ("pl-profile".into(), "<x>".into())]);
    let summary = app.ses_event(&bounce("Transient", "General", &address, &message_id, &untagged)).await;
    assert_eq!(summary["soft_bounces"], 1, "{summary}");

    assert_eq!(app.snapshot().await, before, "nothing was written");
    assert!(
        !app.link_item(link_id(&link)).await.contains_key("mail_feedback"),
        "saw {:?}",
        app.link_item(link_id(&link)).await
    );
}

/// What `links list --profile` shows of a link's email (`email` column).
async fn email_outcome(app: &TestApp, link: &str) -> String {
    let report = app.store.links_for_profile(&ProfileId::parse("CUST-1").unwrap(), app.clock_now()).await.unwrap();
    let view = report.links.iter().find(|l| l.link_id == link_id(link)).expect("the link is listed");
    view.email.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_delays_and_rejects_show_on_the_link_once_each() {
    let (app, pat, _, link, _, message_id) = pat_was_sent_a_link().await;
    let id = link_id(&link).to_owned();
    assert_eq!(email_outcome(&app, &link).await, "sent", "SES accepted it; nothing more is known yet");

    // SES could not hand it over yet, then did: each event once, however often SNS delivers it.
    app.clock.advance(60);
    let summary = app.ses_event_for_link(&id, "delay").await;
    assert_eq!((summary["delays"].as_u64(), summary["dropped"].as_u64()), (Some(1), Some(0)), "{summary}");
    assert_eq!(email_outcome(&app, &link).await, "delayed");
    let again = app.ses_event_for_link(&id, "delay").await;
    assert_eq!((again["delays"].as_u64(), again["duplicates"].as_u64()), (Some(0), Some(1)), "{again}");
    app.clock.advance(600);
    let summary = app.ses_event_for_link(&id, "delivery").await;
    assert_eq!(summary["deliveries"], 1, "{summary}");
    assert_eq!(app.ses_event_for_link(&id, "delivery").await["duplicates"], 1, "a redelivered event");
    assert_eq!(email_outcome(&app, &link).await, "delivered");
    let item = app.link_item(&id).await;
    assert_eq!(item["ses_message_id"].as_s().unwrap(), &message_id, "the events were about this email");

    // The profile's trail tells the story, the address masked.
    let timeline = trail(&app, "CUST-1").await;
    assert_eq!(events(&timeline), ["requested", "sent", "delivery_delayed", "delivered"]);
    assert_eq!(
        timeline[2].detail.as_deref(),
        Some(format!("DeliveryDelay/MailboxFull to p***@{}", app.mail_domain).as_str())
    );
    assert_eq!(timeline[3].link_id.as_deref(), Some(id.as_str()));

    // A newer link's email that SES rejected after accepting it.
    app.clock.advance(10);
    request(&app, &pat, &app.address("pat")).await;
    app.deliver_stream().await;
    let newer = links_to(&app, &app.address("pat")).await.pop().unwrap();
    assert_ne!(link_id(&newer), id);
    assert_eq!(app.ses_event_for_link(link_id(&newer), "reject").await["rejects"], 1);
    assert_eq!(email_outcome(&app, &newer).await, "rejected");
    assert_eq!(events(&trail(&app, "CUST-1").await).last(), Some(&"rejected"));

    // An event about a link the table does not hold: counted, dropped, nothing written.
    let before = app.snapshot().await;
    let unknown = profile_link_core::domain::mail_subject::MailSubject::Link {
        link_id: profile_link_core::domain::link_token::LinkId::mint(),
        profile_id: ProfileId::parse("CUST-1").unwrap(),
    };
    let address = app.address("pat");
    let event = ses_events::delivery(&address, ses_events::mail(&address, "0100-unknown", unknown.tags()));
    let summary = app.ses_event(&event.to_string()).await;
    assert_eq!((summary["deliveries"].as_u64(), summary["dropped"].as_u64()), (Some(0), Some(1)), "{summary}");
    assert_eq!(app.snapshot().await, before, "nothing written for an unknown link");
}
