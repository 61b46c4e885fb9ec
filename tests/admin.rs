//! [8] The operator command line, as support runs it: the real
//! `profile-link-admin` binary against a test's table on the emulator.

use std::process::{Command, Output, Stdio};

use profile_link_core::session::{SigningAlg, generate_ec_pem, generate_rsa_pem};
use profile_link_tests::flow::{associations, confirm, links_naming, open, request};
use profile_link_tests::{TestApp, local_aws};
use reqwest::StatusCode;
use serde_json::Value;

fn admin_binary() -> std::path::PathBuf {
    profile_link_tests::built_binary("profile-link-admin")
}

/// Runs `profile-link-admin ARGS` on the app's table with stdin not a terminal.
fn admin(app: &TestApp, args: &[&str]) -> Output {
    admin_through(&local_aws().dynamodb, app, args)
}

/// As [`admin`], reaching DynamoDB at `endpoint` (a fault proxy in front of it).
fn admin_through(endpoint: &str, app: &TestApp, args: &[&str]) -> Output {
    Command::new(admin_binary())
        .args(args)
        .env("TABLE_NAME", app.store.table())
        .env("AWS_ENDPOINT_URL_DYNAMODB", endpoint)
        .env("PROFILE_LINK_OPERATOR", "alice@support")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// `profile-link-admin ARGS` against the local SSM, with `env` set and stdin not a terminal.
fn admin_ssm(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(admin_binary())
        .args(args)
        .env("AWS_ENDPOINT_URL_SSM", local_aws().ssm)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn code(output: &Output) -> i32 {
    output.status.code().expect("exited")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {} / {}", stdout(output), String::from_utf8_lossy(&output.stderr)))
}

const BAKERY: &str = "Doe Family Bakery";
const NORTHWIND: &str = "Northwind Consulting";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn support_lists_revokes_and_sends_links() {
    let app = TestApp::spawn().await;
    app.import_profiles(&[("CUST-1", "pat", "Pat Doe", BAKERY), ("CUST-2", "pat", "Pat Doe", NORTHWIND)]).await;
    let pat = app.signed_in("pat").await;
    assert_eq!(request(&app, &pat, &app.address("pat")).await.status, StatusCode::OK);
    app.deliver_stream().await;
    let bakery = links_naming(&app, &app.address("pat"), BAKERY).await.remove(0);
    assert_eq!(confirm(&pat, &open(&pat, &bakery, "pat").await, "confirm").await.status, StatusCode::OK);

    // Who is linked to CUST-1, and what became of its link?
    let listed = admin(&app, &["links", "list", "--profile", "CUST-1", "--json"]);
    assert_eq!(code(&listed), 0, "{listed:?}");
    let report = json(&listed);
    assert_eq!(report[0]["linked_to"]["identity_sub"], "pat-7f3c9a");
    assert_eq!(report[0]["links"][0]["state"], "used");
    assert_eq!(report[0]["links"][0]["support_initiated"], false);
    let sent_to = report[0]["links"][0]["sent_to"].as_str().unwrap();
    assert!(sent_to.starts_with("p***@"), "addresses are masked: {sent_to}");

    // By address: both profiles, as a table for people.
    let table = stdout(&admin(&app, &["links", "list", "--email", &app.address("pat").to_uppercase()]));
    assert!(table.contains("profile CUST-1: linked to pat-7f3c9a at 127.0.0.1"), "{table}");
    assert!(table.contains("profile CUST-2: not linked") && table.contains("sent"), "{table}");

    // By sign-in: its profile and its still-pending link for CUST-2.
    let mine = json(&admin(&app, &["links", "list", "--identity", &app.issuer, "pat-7f3c9a", "--json"]));
    assert_eq!(mine["linked_profiles"], serde_json::json!(["CUST-1"]));
    let pending: Vec<&Value> = mine["links"].as_array().unwrap().iter().filter(|l| l["state"] == "sent").collect();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0]["profile_id"], "CUST-2");
    let northwind_link = pending[0]["link_id"].as_str().unwrap().to_owned();

    // Undo needs --yes when nobody is at a terminal to ask; declined, nothing changes.
    let before = app.snapshot().await;
    let refused = admin(&app, &["links", "revoke", "--profile", "CUST-1"]);
    assert_eq!(code(&refused), 3, "{refused:?}");
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("--yes"),
        "saw {:?}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert_eq!(app.snapshot().await, before);
    let revoked = admin(&app, &["links", "revoke", "--profile", "CUST-1", "--yes"]);
    assert_eq!(code(&revoked), 0, "{revoked:?}");
    assert_eq!(associations(&app).await, 0);
    assert_eq!(code(&admin(&app, &["links", "revoke", "--profile", "CUST-1", "--yes"])), 4, "nothing left to undo");

    // Burning the pending link: opening it is refused from then on.
    assert_eq!(code(&admin(&app, &["links", "revoke", "--link", &northwind_link, "--yes"])), 0);
    let northwind = links_naming(&app, &app.address("pat"), NORTHWIND).await.remove(0);
    let page = open(&pat, &northwind, "pat").await;
    assert!(page.status.is_client_error(), "{}: {}", page.status, page.body);

    // Support sends CUST-2's owner-to-be (sam) a link, at sam's request by phone.
    let sent = admin(
        &app,
        &[
            "links",
            "send",
            "--profile",
            "CUST-2",
            "--to-identity",
            &app.issuer,
            "sam-2b81d4",
            "--label",
            "Sam Roe",
            "--lifetime-hours",
            "48",
            "--yes",
            "--json",
        ],
    );
    assert_eq!(code(&sent), 0, "{sent:?}");
    let link_id = json(&sent)["link_id"].as_str().unwrap().to_owned();
    app.deliver_stream().await;
    let email = app.emails_to(&app.address("pat")).await.into_iter().last().unwrap();
    assert!(email.body.contains("Our support team prepared this link"), "{}", email.body);
    assert!(email.body.contains("for 48 hours") && email.body.contains("Sam Roe"), "{}", email.body);
    let link = email.links().into_iter().find(|l| l.contains("/redeem?token=")).unwrap();
    assert!(link.contains(&link_id), "saw {:?}", link);

    // Only sam can redeem it.
    let sam = app.signed_in("sam").await;
    let done = confirm(&sam, &open(&sam, &link, "sam").await, "confirm").await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    let trail = stdout(&admin(&app, &["audit", "show", "--profile", "CUST-2"]));
    for expected in ["support_requested", "by alice@support, valid 48 h", "revoked", "linked", "sam-2b81d4"] {
        assert!(trail.contains(expected), "{expected} missing from:\n{trail}");
    }
    let trail = stdout(&admin(&app, &["audit", "show", "--profile", "CUST-1"]));
    assert!(trail.contains("unlinked") && trail.contains("by alice@support"), "{trail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_support_requests_are_refused_and_write_nothing() {
    let app = TestApp::spawn().await;
    app.import_profiles(&[("CUST-1", "pat", "Pat Doe", BAKERY)]).await;
    let before = app.snapshot().await;
    for (args, says) in [
        (
            vec!["links", "send", "--profile", "NOPE-1", "--to-identity", "https://idp.example", "x", "--yes"],
            "no profile",
        ),
        (vec!["links", "send", "--profile", "CUST-1", "--to-identity", "ftp://idp", "x", "--yes"], "issuer"),
        (
            vec!["links", "send", "--profile", "CUST-1", "--to-identity", "https://idp.example", "a b", "--yes"],
            "subject",
        ),
        (
            vec![
                "links",
                "send",
                "--profile",
                "CUST-1",
                "--to-identity",
                "https://i.example",
                "x",
                "--lifetime-hours",
                "900",
                "--yes",
            ],
            "lifetime",
        ),
        (
            vec![
                "links",
                "send",
                "--profile",
                "CUST-1",
                "--to-identity",
                "https://i.example",
                "x",
                "--label",
                "{operator} https://evil.example",
                "--yes",
            ],
            "the label must be",
        ),
        (vec!["links", "list", "--profile", "not an id"], "not a profile id"),
        (vec!["links", "list", "--email", "nobody-at-all"], "@"),
    ] {
        let output = admin(&app, &args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(code(&output), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?} should say {says}: {stderr}");
    }
    let unknown = admin(&app, &["links", "list", "--email", "nobody@example.org"]);
    assert_eq!(code(&unknown), 4);
    assert_eq!(app.snapshot().await, before);
}

fn write_csv(rows: &[(&str, &str)]) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    use std::io::Write;
    writeln!(file, "profile_id,email,display_name,organization").unwrap();
    for (id, email) in rows {
        writeln!(file, "{id},{email},Someone,Somewhere").unwrap();
    }
    file
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_prune_shows_its_diff_asks_and_removes_only_what_the_export_lacks() {
    let app = TestApp::spawn().await;
    let first = write_csv(&[("C-1", "a@example.com"), ("C-2", "b@example.com"), ("C-3", "c@example.com")]);
    assert_eq!(code(&admin(&app, &["profiles", "import", "--quiet", first.path().to_str().unwrap()])), 0);
    let second = write_csv(&[("C-1", "a@example.com"), ("C-3", "c@example.org")]);
    let path = second.path().to_str().unwrap();

    let before = app.snapshot().await;
    let diff = admin(&app, &["profiles", "import", "--prune", "--dry-run", "--json", path]);
    assert_eq!(code(&diff), 0, "{diff:?}");
    let diff = json(&diff);
    assert_eq!((diff["unchanged"].as_u64(), diff["updated"].as_u64()), (Some(1), Some(1)));
    assert_eq!(diff["absent_from_export"], serde_json::json!(["C-2"]));
    assert_eq!(diff["pruned"], 0);
    assert_eq!(app.snapshot().await, before, "a dry run writes nothing");

    let declined = admin(&app, &["profiles", "import", "--prune", path]);
    assert_eq!(code(&declined), 3, "{declined:?}");
    assert!(
        stdout(&declined).contains("1 profile(s) in the table are not in the export: C-2"),
        "saw {:?}",
        stdout(&declined)
    );
    assert_eq!(app.count_with_prefix("PROFILE#C-2").await, 1, "not removed without --yes");

    let pruned = admin(&app, &["profiles", "import", "--prune", "--yes", path]);
    assert_eq!(code(&pruned), 0, "{pruned:?}");
    assert!(stdout(&pruned).contains("removed 1 profile(s)"), "saw {:?}", stdout(&pruned));
    assert_eq!(app.count_with_prefix("PROFILE#C-2").await, 0);
    assert_eq!(app.count_with_prefix("PROFILE#").await, 2);

    // An export with rejected rows never prunes: the rejected profile would go too.
    let broken = write_csv(&[("C-1", "a@example.com"), ("C-3", "not an address")]);
    let output = admin(&app, &["profiles", "import", "--prune", "--yes", broken.path().to_str().unwrap()]);
    assert_eq!(code(&output), 2);
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("not pruning"),
        "saw {:?}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(app.count_with_prefix("PROFILE#").await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parallel_import_writes_every_row_once() {
    let app = TestApp::spawn().await;
    // 2,000 rows: 20 batches, more than are ever in flight at once.
    let rows: Vec<(String, String)> =
        (0..2000).map(|i| (format!("P-{i:05}"), format!("person{i}@example.com"))).collect();
    let borrowed: Vec<(&str, &str)> = rows.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let file = write_csv(&borrowed);
    let path = file.path().to_str().unwrap();
    let first = json(&admin(&app, &["profiles", "import", "--json", path]));
    assert_eq!(first["imported"], 2000);
    assert_eq!(app.count_with_prefix("PROFILE#P-").await, 2000);
    let again = json(&admin(&app, &["profiles", "import", "--json", "--parallel", "1", path]));
    assert_eq!((again["imported"].as_u64(), again["unchanged"].as_u64()), (Some(0), Some(2000)));
}

/// A fault proxy in front of the local DynamoDB with these rules, and its address.
async fn dynamodb_behind(rules: &[&str]) -> (profile_link_fault_proxy::FaultProxy, String) {
    let local = local_aws();
    let upstreams = profile_link_fault_proxy::Upstreams { dynamodb: local.dynamodb, other: local.sesv2 };
    let rules = rules.iter().map(|rule| rule.parse().unwrap()).collect();
    let proxy = profile_link_fault_proxy::FaultProxy::new(&upstreams, rules, 7).unwrap();
    let (address, _serving) = proxy.listen("127.0.0.1:0").await.unwrap();
    (proxy, format!("http://{address}"))
}

/// `n` people's rows, one profile each.
fn people(n: usize) -> tempfile::NamedTempFile {
    let rows: Vec<(String, String)> = (0..n).map(|i| (format!("P-{i:05}"), format!("person{i}@example.com"))).collect();
    write_csv(&rows.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect::<Vec<_>>())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_import_resumes_after_its_checkpoint_and_ends_as_one_clean_import() {
    let app = TestApp::spawn().await;
    let file = people(600);
    let path = file.path().to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = dir.path().join("checkpoint");
    let checkpoint = checkpoint.to_str().unwrap();
    // One batch at a time: batches 1 and 2 (4 writes of 25 each) finish, batch 3
    // writes 2 of its 4 chunks, then every write is throttled and the import gives up.
    let (proxy, endpoint) = dynamodb_behind(&["dynamodb/BatchWriteItem:throttle:after10"]).await;
    let import = ["profiles", "import", "--quiet", "--parallel", "1", "--checkpoint", checkpoint];
    let stopped = admin_through(&endpoint, &app, &[&import[..], &["--give-up-after", "1", path]].concat());
    let stderr = String::from_utf8_lossy(&stopped.stderr).into_owned();
    assert_eq!(code(&stopped), 1, "a stalled import fails: {stderr}");
    assert!(stderr.contains("DynamoDB did none of the import's work for 1 s"), "saw {stderr}");
    assert!(
        stderr.contains("the first 200 row(s) are done") && stderr.contains("run the same command again"),
        "saw {stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(proxy.stats().count("dynamodb/BatchWriteItem", "throttle") > 0, "{:?}", proxy.stats());
    assert_eq!(app.count_with_prefix("PROFILE#P-").await, 250, "10 writes of 25 went through");
    let recorded: Value = serde_json::from_str(&std::fs::read_to_string(checkpoint).unwrap()).unwrap();
    assert_eq!(recorded["rows_done"], 200, "only whole batches count: {recorded}");

    // Another file is refused: the checkpoint is this file's.
    let other = people(601);
    let refused =
        admin(&app, &["profiles", "import", "--quiet", "--checkpoint", checkpoint, other.path().to_str().unwrap()]);
    let says = String::from_utf8_lossy(&refused.stderr).into_owned();
    assert_eq!(code(&refused), 1, "{says}");
    assert!(says.contains("another file") && says.contains("--restart"), "saw {says}");
    assert_eq!(app.count_with_prefix("PROFILE#P-").await, 250, "a refused import writes nothing");

    let resumed = admin(&app, &["profiles", "import", "--json", "--checkpoint", checkpoint, path]);
    assert_eq!(code(&resumed), 0, "{resumed:?}");
    let resumed = json(&resumed);
    assert_eq!(
        (resumed["resumed_rows"].as_u64(), resumed["unchanged"].as_u64(), resumed["imported"].as_u64()),
        (Some(200), Some(50), Some(350)),
        "skips the 200 rows done, finds the 50 written after them unchanged: {resumed}"
    );
    assert_eq!(resumed["write_units"], 700, "writes only the 350 missing profiles (2 units each): {resumed}");
    assert!(!std::path::Path::new(checkpoint).exists(), "a finished import leaves no checkpoint");

    let clean = TestApp::spawn().await;
    assert_eq!(code(&admin(&clean, &["profiles", "import", "--quiet", path])), 0);
    assert_eq!(app.snapshot().await, clean.snapshot().await, "the resumed table equals one clean import");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_import_slows_down_and_completes() {
    let app = TestApp::spawn().await;
    let file = people(1000);
    let path = file.path().to_str().unwrap();
    // Every third write refused outright, every fourth answered with every item
    // unprocessed, and a read in five too: progress throughout, so no give-up.
    let (proxy, endpoint) = dynamodb_behind(&[
        "dynamodb/BatchWriteItem:throttle:every3",
        "dynamodb/BatchWriteItem:unprocessed:every4",
        "dynamodb/BatchGetItem:unprocessed:every5",
    ])
    .await;
    let output = admin_through(&endpoint, &app, &["profiles", "import", "--json", "--give-up-after", "30", path]);
    assert_eq!(code(&output), 0, "{output:?}");
    let report = json(&output);
    let stats = proxy.stats();
    for kind in ["throttle", "unprocessed"] {
        assert!(stats.count("dynamodb/BatchWriteItem", kind) > 0, "no {kind} was injected: {stats:?}");
    }
    assert!(stats.count("dynamodb/BatchGetItem", "unprocessed") > 0, "{stats:?}");
    assert_eq!(report["imported"], 1000, "{report}");
    assert_eq!(report["write_units"], 2000, "each profile written once (item + index entry): {report}");
    let throttled =
        stats.count("dynamodb/BatchWriteItem", "throttle") + stats.count("dynamodb/BatchWriteItem", "unprocessed");
    assert_eq!(report["throttled_calls"], throttled, "every throttled write was seen and retried: {report}");
    assert!(report["slowdowns"].as_u64() >= Some(1), "throttling slowed the pace: {report}");
    assert_eq!(app.count_with_prefix("PROFILE#P-").await, 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn support_sees_and_lifts_a_suppression() {
    let app = TestApp::spawn().await;
    app.import_profiles(&[("CUST-1", "pat", "Pat Doe", BAKERY)]).await;
    let pat = app.signed_in("pat").await;
    assert_eq!(request(&app, &pat, &app.address("pat")).await.status, StatusCode::OK);
    app.deliver_stream().await;
    assert_eq!(stdout(&admin(&app, &["suppressions", "list"])).trim(), "no suppressed addresses");

    // SES reports a hard bounce for the link's email (the dev route builds SES's notification).
    let link = json(&admin(&app, &["links", "list", "--profile", "CUST-1", "--json"]))[0]["links"][0]["link_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let bounced = reqwest::Client::new()
        .post(app.url(&format!("/dev/ses-event?link={link}&event=hard-bounce")))
        .send()
        .await
        .unwrap();
    assert!(bounced.status().is_success(), "{}", bounced.text().await.unwrap());

    let table = stdout(&admin(&app, &["suppressions", "list"]));
    assert!(table.contains("p***@") && table.contains("bounced") && !table.contains(&app.address("pat")), "{table}");
    let listed = json(&admin(&app, &["suppressions", "list", "--json"]));
    assert_eq!(listed[0]["address"], app.address("pat"), "scripts get the address to act on");
    assert_eq!(listed[0]["link_id"], link.as_str());

    let address = app.address("pat");
    assert_eq!(code(&admin(&app, &["suppressions", "lift", "--email", &address])), 3, "needs --yes");
    assert_eq!(code(&admin(&app, &["suppressions", "lift", "--email", &address, "--yes"])), 0);
    assert_eq!(code(&admin(&app, &["suppressions", "lift", "--email", &address, "--yes"])), 4, "nothing left to lift");
    let trail = stdout(&admin(&app, &["audit", "show", "--profile", "CUST-1"]));
    assert!(
        trail.contains("bounced") && trail.contains("unsuppressed") && trail.contains("by alice@support"),
        "{trail}"
    );
}

/// Stacks deployed before owners moved to `OWNER#<id>` hold them at
/// `PROFILE#<id>` / `OWNER`; `table migrate-owners` moves them, and drops an
/// old one whose profile a redemption has linked at the new key since.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_owners_moves_owners_written_before_they_had_their_own_partition() {
    use aws_sdk_dynamodb::types::AttributeValue::S;
    let app = TestApp::spawn().await;
    app.import_profiles(&[("CUST-1", "pat", "Pat Doe", "Bakery"), ("CUST-2", "sam", "Sam Roe", "Roe Ltd")]).await;
    // sam's profile was linked since (at the new key); both have an old owner item.
    let sam = app.signed_in("sam").await;
    request(&app, &sam, &app.address("sam")).await;
    app.deliver_stream().await;
    let link = links_naming(&app, &app.address("sam"), "Roe Ltd").await.remove(0);
    assert_eq!(confirm(&sam, &open(&sam, &link, "sam").await, "confirm").await.status, StatusCode::OK);
    for (profile, subject) in [("CUST-1", "pat-old"), ("CUST-2", "sam-old")] {
        app.store
            .client()
            .put_item()
            .table_name(app.store.table())
            .item("pk", S(format!("PROFILE#{profile}")))
            .item("sk", S("OWNER".into()))
            .item("kind", S("owner".into()))
            .item("identity_key", S(format!("https://old.example#{subject}")))
            .item("identity_iss", S("https://old.example".into()))
            .item("identity_sub", S(subject.into()))
            .send()
            .await
            .unwrap();
    }
    let cust2_owner = app.store.owner_of("CUST-2").await.unwrap();

    let output = admin(&app, &["table", "migrate-owners"]);
    assert_eq!(code(&output), 0, "{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout(&output).contains("moved 1 profile owner"), "{}", stdout(&output));
    let keys = app.keys().await;
    assert!(!keys.iter().any(|(pk, sk)| pk.starts_with("PROFILE#") && sk == "OWNER"), "no old owner left: {keys:?}");
    let moved = app.store.owner_of("CUST-1").await.unwrap().expect("CUST-1's owner at the new key");
    assert_eq!(moved.subject, "pat-old");
    assert_eq!(app.store.owner_of("CUST-2").await.unwrap(), cust2_owner, "the newer owner is kept");
    let again = admin(&app, &["table", "migrate-owners"]);
    assert!(stdout(&again).contains("moved 0 profile owner"), "a second run moves nothing: {}", stdout(&again));
}

/// A session as a function holding `keys` issues it.
fn session_signed_by(keys: &profile_link_core::SessionKeys, now: i64) -> String {
    let identity = profile_link_core::Identity::new("https://idp.example", "pat-1");
    let (token, _) = keys.issue(profile_link_core::session::NewSession {
        identity: &identity,
        provider: ("dev", "Dev provider"),
        profile: Default::default(),
        auth_time: Some(now),
        profiles: vec![],
        now,
        ttl_seconds: 3600,
        generation: 0,
        csrf: None,
        signed_in_for: None,
    });
    token
}

/// An SSM client for the test's own reads and writes: they wait for moto, which
/// on a busy machine has taken longer than the functions' timeouts (seen with two suites at once).
async fn patient_ssm() -> aws_sdk_ssm::Client {
    let sdk = profile_link_tests::sdk_config().await;
    let patient = aws_config::timeout::TimeoutConfig::builder()
        .operation_attempt_timeout(std::time::Duration::from_secs(60))
        .operation_timeout(std::time::Duration::from_secs(120))
        .build();
    aws_sdk_ssm::Client::from_conf(aws_sdk_ssm::config::Builder::from(&sdk).timeout_config(patient).build())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_rotate_without_signing_anyone_out() {
    use profile_link_core::{SessionKeys, SessionVerifier};
    const ISSUER: &str = "https://link.example.com";
    let ssm = patient_ssm().await;
    let prefix = format!("/test-{}", profile_link_core::random::token(6).replace(['-', '_'], "x"));
    let (signing, public) = (format!("{prefix}/signing"), format!("{prefix}/public"));
    let keys_command = |args: &[&str]| admin_ssm(&[&["keys"], args].concat(), &[]);
    let read = |name: String| {
        let ssm = ssm.clone();
        async move {
            let got = ssm.get_parameter().name(name).with_decryption(true).send().await.unwrap();
            got.parameter.unwrap().value.unwrap()
        }
    };
    // As deployed: `keys generate` (a signing key and its next) into the SecureString.
    let generated = stdout(&keys_command(&["generate"]));
    profile_link_tests::put_secure_string(&ssm, &signing, &generated).await;
    let now = jsonwebtoken::get_current_timestamp() as i64;
    let before = SessionKeys::from_pem(ISSUER, &generated).unwrap();
    let old_session = session_signed_by(&before, now);
    let old_id_tokens = id_tokens_signed_by(&before, now);

    // Just written: a rotation now is refused, and changes nothing.
    // An interval that is no interval is a usage error, and changes nothing.
    let negative = keys_command(&[
        "rotate",
        "--signing-key-parameter",
        &signing,
        "--public-keys-parameter",
        &public,
        "--min-interval-hours=-1",
    ]);
    assert_eq!(code(&negative), 2, "{negative:?}");
    assert!(String::from_utf8_lossy(&negative.stderr).contains("--min-interval-hours"), "{negative:?}");
    assert_eq!(read(signing.clone()).await, generated, "a refused rotation wrote nothing");

    let refused = keys_command(&["rotate", "--signing-key-parameter", &signing, "--public-keys-parameter", &public]);
    assert_eq!(code(&refused), 3, "{refused:?}");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("rotate again in"), "{refused:?}");
    assert_eq!(read(signing.clone()).await, generated);

    let rotated =
        keys_command(&["rotate", "--signing-key-parameter", &signing, "--public-keys-parameter", &public, "--force"]);
    assert_eq!(code(&rotated), 0, "{rotated:?}");
    // Rotated, the keys pass SSM's Standard tier (4 KB): written Intelligent-Tiering, which
    // takes Advanced only when needed, or a real account refuses the rotation.
    let rotated_size = read(signing.clone()).await.len();
    assert!(rotated_size > 4096, "the rotated keys are {rotated_size} bytes: is the tier still needed?");
    let written = ssm
        .describe_parameters()
        .parameter_filters(
            aws_sdk_ssm::types::ParameterStringFilter::builder()
                .key("Name")
                .option("Equals")
                .values(&signing)
                .values(&public)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let tiers: Vec<_> = written.parameters().iter().map(|p| (p.name().unwrap_or("?"), p.tier().cloned())).collect();
    assert_eq!(tiers.len(), 2, "{tiers:?}");
    assert!(
        tiers.iter().all(|(_, tier)| tier == &Some(aws_sdk_ssm::types::ParameterTier::IntelligentTiering)),
        "{tiers:?}"
    );
    let after = SessionKeys::from_pem(ISSUER, &read(signing.clone()).await).unwrap();
    let verifier = SessionVerifier::from_jwks(ISSUER, &read(public.clone()).await).unwrap();
    assert_ne!(after.kid(), before.kid(), "a new key signs");
    let new_session = session_signed_by(&after, now);
    // A function started before the rotation and one started after trust each other's sessions.
    assert!(before.verify(&new_session, now).is_ok(), "the new signing key was published before it signed");
    assert!(after.verify(&old_session, now).is_ok(), "the old signing key verifies on");
    assert!(verifier.verify(&old_session, now).is_ok() && verifier.verify(&new_session, now).is_ok(), "JWKS");
    assert_eq!(verifier.jwks().keys.len(), 6, "signing, next and previous of each kind are published");
    for alg in [SigningAlg::Rs256, SigningAlg::Es256] {
        assert_ne!(after.portal_kid(alg), before.portal_kid(alg), "{alg}: a new key signs");
    }
    // ID tokens of either algorithm, signed before the rotation or after, verify with the published keys.
    for token in old_id_tokens.iter().chain(&id_tokens_signed_by(&after, now)) {
        assert!(verifier.id_token_hint::<serde_json::Value>(token).is_some(), "{token}");
        assert!(before.id_token_hint::<serde_json::Value>(token).is_some(), "known before it signed: {token}");
    }

    // The next rotation (forced here: a day later in life) drops the first key: what it signed stops verifying.
    let again =
        keys_command(&["rotate", "--signing-key-parameter", &signing, "--public-keys-parameter", &public, "--force"]);
    assert_eq!(code(&again), 0, "{again:?}");
    assert!(stdout(&again).contains("dropped"), "{}", stdout(&again));
    let third = SessionKeys::from_pem(ISSUER, &read(signing.clone()).await).unwrap();
    assert!(third.verify(&new_session, now).is_ok(), "the key before still verifies");
    assert!(third.verify(&old_session, now).is_err(), "the dropped key's sessions are over");
    assert!(old_id_tokens.iter().all(|t| third.id_token_hint::<serde_json::Value>(t).is_none()), "and its ID tokens");
}

/// An ID token of each algorithm, as the token endpoint signs them.
fn id_tokens_signed_by(keys: &profile_link_core::SessionKeys, now: i64) -> [String; 2] {
    let claims = serde_json::json!({"iss": "https://link.example.com", "aud": "portal", "sub": "s", "exp": now + 300});
    [SigningAlg::Rs256, SigningAlg::Es256].map(|alg| keys.sign_for_portal(alg, &claims))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_set_from_before_rsa_keys_gets_them_from_keys_rotate() {
    use profile_link_core::{SessionKeys, SessionVerifier};
    const ISSUER: &str = "https://link.example.com";
    let ssm = patient_ssm().await;
    let prefix = format!("/test-{}", profile_link_core::random::token(6).replace(['-', '_'], "x"));
    let (signing, public) = (format!("{prefix}/signing"), format!("{prefix}/public"));
    // What `keys generate` wrote before RSA keys: two EC keys. Such a set does not start, and says what to run.
    let old = format!("{}{}", generate_ec_pem(), generate_ec_pem());
    let refused = SessionKeys::from_pem(ISSUER, &old).unwrap_err().to_string();
    assert!(refused.contains("RSA") && refused.contains("profile-link-admin keys rotate"), "{refused}");
    profile_link_tests::put_secure_string(&ssm, &signing, &old).await;
    let before = SessionKeys::from_pem(ISSUER, &format!("{old}{}", generate_rsa_pem())).unwrap();
    let now = jsonwebtoken::get_current_timestamp() as i64;
    let old_session = session_signed_by(&before, now);

    // Just written, not forced: adding keys drops none, so it is never too soon.
    let rotated =
        admin_ssm(&["keys", "rotate", "--signing-key-parameter", &signing, "--public-keys-parameter", &public], &[]);
    assert_eq!(code(&rotated), 0, "{rotated:?}");
    let got = ssm.get_parameter().name(&signing).with_decryption(true).send().await.unwrap();
    let after = SessionKeys::from_pem(ISSUER, &got.parameter.unwrap().value.unwrap()).expect("the set starts now");
    assert_eq!(after.kid(), before.kid(), "the EC key that signed goes on signing: {}", stdout(&rotated));
    assert!(after.verify(&old_session, now).is_ok(), "nobody is signed out");
    let got = ssm.get_parameter().name(&public).send().await.unwrap();
    let verifier = SessionVerifier::from_jwks(ISSUER, &got.parameter.unwrap().value.unwrap()).unwrap();
    assert_eq!(verifier.jwks().keys.len(), 4, "two EC keys as before, an RSA key and its next");
    let id_token = id_tokens_signed_by(&after, now)[0].clone();
    assert!(verifier.id_token_hint::<serde_json::Value>(&id_token).is_some(), "RS256 tokens verify");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portals_are_added_listed_checked_and_removed_in_ssm_as_the_functions_read_them() {
    use profile_link_core::downstream::PortalClients;
    let sdk = profile_link_tests::sdk_config().await;
    let ssm = aws_sdk_ssm::Client::new(&sdk);
    let prefix = format!("/test-{}", profile_link_core::random::token(6).replace(['-', '_'], "x"));
    let (clients, secrets) = (format!("{prefix}/portal-clients"), format!("{prefix}/portals/"));
    let portals = |args: &[&str]| {
        admin_ssm(
            &[&["portals"], args].concat(),
            &[("PORTAL_CLIENTS_SSM_PARAMETER", clients.as_str()), ("PORTAL_SECRETS_PATH", secrets.as_str())],
        )
    };
    let read = |name: String| {
        let ssm = ssm.clone();
        async move {
            let got = ssm.get_parameter().name(&name).with_decryption(true).send().await;
            got.ok().and_then(|g| g.parameter).and_then(|p| p.value)
        }
    };

    // A confidential portal: its secret generated, stored on its own, printed once.
    let added = portals(&[
        "add",
        "--id",
        "contoso",
        "--name",
        "Contoso portal",
        "--redirect-uri",
        "https://portal.contoso.example/callback",
        "--redirect-uri",
        "https://portal.contoso.example/other",
        "--post-logout-redirect-uri",
        "https://portal.contoso.example/",
        "--auth",
        "client_secret_post",
        "--json",
    ]);
    assert_eq!(code(&added), 0, "{added:?}");
    let added = json(&added);
    let secret = added["client_secret"].as_str().unwrap().to_owned();
    assert!(secret.len() >= 43, "a strong secret: {secret}");
    assert_eq!(added["client_secret_parameter"], format!("{secrets}contoso"));
    assert_eq!(read(format!("{secrets}contoso")).await.as_deref(), Some(secret.as_str()));
    // A public one: no secret.
    let spa = portals(&[
        "add",
        "--id",
        "spa",
        "--name",
        "SPA",
        "--redirect-uri",
        "http://localhost:5173/cb",
        "--auth",
        "none",
    ]);
    assert_eq!(code(&spa), 0, "{spa:?}");
    assert!(!stdout(&spa).contains("secret"), "{}", stdout(&spa));

    // The functions' parser reads what was written.
    let stored = read(clients.clone()).await.unwrap();
    let parsed = PortalClients::parse(&stored).unwrap_or_else(|e| panic!("{e}: {stored}"));
    let contoso = parsed.get("contoso").unwrap();
    assert_eq!(contoso.redirect_uris.len(), 2);
    assert_eq!(contoso.auth.as_str(), "client_secret_post");
    assert_eq!(parsed.get("spa").unwrap().secret, None);

    // Refused before anything is written: a bad URI, an id listed already.
    let bad = portals(&["add", "--id", "bad", "--name", "Bad", "--redirect-uri", "http://bad.example/cb"]);
    assert_eq!(code(&bad), 1, "{bad:?}");
    assert!(String::from_utf8_lossy(&bad.stderr).contains("plain http only on 127.0.0.1"), "{bad:?}");
    let twice =
        portals(&["add", "--id", "spa", "--name", "SPA", "--redirect-uri", "http://localhost:1/cb", "--auth", "none"]);
    assert_eq!(code(&twice), 1, "{twice:?}");
    assert!(String::from_utf8_lossy(&twice.stderr).contains("listed already"), "{twice:?}");
    assert_eq!(read(clients.clone()).await.unwrap(), stored, "nothing written");
    assert_eq!(read(format!("{secrets}bad")).await, None);

    // list shows the clients, never a secret.
    let listed = portals(&["list"]);
    assert_eq!(code(&listed), 0, "{listed:?}");
    assert!(stdout(&listed).contains("contoso") && stdout(&listed).contains("spa"), "{}", stdout(&listed));
    assert!(!stdout(&listed).contains(&secret), "{}", stdout(&listed));

    // check: all well; then an entry edited by hand goes bad and a secret goes missing.
    let checked = portals(&["check"]);
    assert_eq!(code(&checked), 0, "{checked:?}");
    assert!(stdout(&checked).contains("2 client(s) work"), "{}", stdout(&checked));
    let mut edited: Vec<Value> = serde_json::from_str(&stored).unwrap();
    edited.push(serde_json::json!({"id": "short", "name": "Short", "redirect_uris": ["https://s.example/cb"], "client_secret": "short"}));
    profile_link_tests::put_secure_string(&ssm, &clients, &serde_json::to_string(&edited).unwrap()).await;
    ssm.delete_parameter().name(format!("{secrets}contoso")).send().await.unwrap();
    let checked = portals(&["check"]);
    assert_eq!(code(&checked), 2, "{checked:?}");
    let report = stdout(&checked);
    assert!(report.contains("1 client(s) work: spa"), "{report}");
    assert!(report.contains(r#"refused: client "contoso" (entry 1)"#) && report.contains("not in SSM"), "{report}");
    assert!(report.contains(r#"refused: client "short" (entry 3): client_secret: at least 16"#), "{report}");

    // remove: asks first; then the client and its secret are gone, the others kept as they were.
    profile_link_tests::put_secure_string(&ssm, &format!("{secrets}contoso"), &secret).await;
    let declined = portals(&["remove", "--id", "contoso"]);
    assert_eq!(code(&declined), 3, "{declined:?}");
    let removed = portals(&["remove", "--id", "contoso", "--yes"]);
    assert_eq!(code(&removed), 0, "{removed:?}");
    assert_eq!(read(format!("{secrets}contoso")).await, None, "its secret is deleted");
    let left: Vec<Value> = serde_json::from_str(&read(clients.clone()).await.unwrap()).unwrap();
    let ids: Vec<&str> = left.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["spa", "short"]);
    assert_eq!(code(&portals(&["remove", "--id", "contoso", "--yes"])), 4, "nothing left to remove");
}

/// [15] An operator's shell without AWS credentials gets one line saying so
/// and what to do, not the SDK's nested error dump (read or written alike).
#[test]
fn no_aws_credentials_is_one_line_saying_what_to_set() {
    for args in [&["links", "list", "--email", "pat@example.com"][..], &["portals", "list"][..]] {
        let output = Command::new(admin_binary())
            .args(args)
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_PROFILE")
            .env("AWS_CONFIG_FILE", "/nonexistent/aws-config")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_REGION", "eu-west-1")
            .env("TABLE_NAME", "profile-link")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(code(&output), 1, "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: one line: {stderr}");
        assert!(
            stderr.contains("no usable AWS credentials (none found): set AWS_PROFILE or the AWS_ACCESS_KEY_ID pair, or run `aws configure`"),
            "{args:?}: {stderr}"
        );
    }
}

/// `audit show --email ADDRESS` as support runs it, and its JSON lines (the request ids).
fn audit_by_email(app: &TestApp, address: &str) -> (String, Vec<Value>) {
    let shown = admin(app, &["audit", "show", "--email", address]);
    assert_eq!(code(&shown), 0, "{shown:?}");
    let lines = admin(app, &["audit", "show", "--email", address, "--json"]);
    let records = stdout(&lines).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    (stdout(&shown), records)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_by_email_explains_matched_unmatched_and_rate_limited_requests() {
    use profile_link_core::domain::rate_limit::RateLimits;
    use profile_link_core::mail::format_utc;
    use profile_link_tests::TestOptions;
    let limits = RateLimits { per_identity: 3, ..TestOptions::default().limits };
    let app = TestApp::spawn_with_options(TestOptions { limits, ..TestOptions::default() }).await;
    app.import_profiles(&[("CUST-1", "pat", "Pat Doe", BAKERY)]).await;
    let pat = app.signed_in("pat").await;
    let (now, domain) = (app.clock_now(), app.mail_domain.clone());
    let by = format!("by pat-7f3c9a at {}", app.issuer.trim_start_matches("http://"));

    // pat asks for the right address once, then twice for a misspelling of it,
    // then is refused twice by the per-identity limit (3 an hour).
    assert_eq!(request(&app, &pat, &app.address("pat")).await.status, StatusCode::OK);
    for _ in 0..2 {
        assert_eq!(request(&app, &pat, &app.address("pta")).await.status, StatusCode::OK);
    }
    for _ in 0..2 {
        assert_eq!(request(&app, &pat, &app.address("pta")).await.status, StatusCode::TOO_MANY_REQUESTS);
    }
    app.deliver_stream().await;

    // The misspelled address: both requests, what became of each, and the refusal, once.
    let (shown, records) = audit_by_email(&app, &app.address("pta"));
    let ids: Vec<&str> = records.iter().map(|r| r["request_id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 3, "two unmatched requests and one refusal record: {records:?}");
    let when = format_utc(now);
    let until = format_utc(limits.window(now).1);
    let expected = [
        format!("requests for p***@{domain} (kept 90 days):"),
        format!(
            "{when}  requested_unmatched  {by}  request {}  p***@{domain} via Dev provider: no profile registered under the address",
            ids[0]
        ),
        format!(
            "{when}  requested_unmatched  {by}  request {}  p***@{domain} via Dev provider: no profile registered under the address",
            ids[1]
        ),
        format!(
            "{when}  rate_limited  {by}  request {}  p***@{domain} via Dev provider: refused by the per-sign-in limit; later refusals by it until {until} are not recorded again",
            ids[2]
        ),
        format!("p***@{domain} is not suppressed: email goes to it"),
        format!("no profile is registered under p***@{domain}"),
    ];
    assert_eq!(shown.lines().collect::<Vec<_>>(), expected, "saw:\n{shown}");
    assert!(!shown.contains(&app.address("pta")) && !shown.contains(&app.address("pat")), "addresses masked:\n{shown}");

    // The right address: the request that matched, and what became of its link.
    let (shown, records) = audit_by_email(&app, &app.address("PAT"));
    assert_eq!(records.len(), 1, "{records:?}");
    let matched = format!(
        "{when}  requested  {by}  request {}  p***@{domain} via Dev provider: matched 1 profile (CUST-1)",
        records[0]["request_id"].as_str().unwrap()
    );
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines[..2], [format!("requests for p***@{domain} (kept 90 days):"), matched], "saw:\n{shown}");
    assert!(lines.contains(&format!("p***@{domain} is not suppressed: email goes to it").as_str()), "{shown}");
    assert!(lines.contains(&"profile CUST-1:") && shown.contains("sent"), "the profile's trail follows:\n{shown}");

    // The sign-in's view: all four requests it made, the refusal once.
    let by_identity = stdout(&admin(&app, &["audit", "show", "--identity", &app.issuer, "pat-7f3c9a"]));
    let events: Vec<&str> = by_identity.lines().skip(1).filter_map(|l| l.split("  ").nth(1)).collect();
    assert_eq!(events, ["requested", "requested_unmatched", "requested_unmatched", "rate_limited"], "{by_identity}");

    // One record per request by address, the refusal once; kept 90 days, not the audit trail's 400.
    let records = app.items_with_prefix("AUDIT#ADDRESS#", "").await;
    assert_eq!(records.len(), 4, "{records:?}");
    let number = |item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>, name: &str| {
        item[name].as_n().unwrap().parse::<i64>().unwrap()
    };
    for record in &records {
        assert_eq!(number(record, "expires_at") - number(record, "at"), 90 * 86_400, "{record:?}");
        assert!(!format!("{record:?}").contains(&app.address("pta")), "no address in clear: {record:?}");
    }

    // An address nobody asked for: nothing recorded, said so.
    let none = admin(&app, &["audit", "show", "--email", &app.address("nobody")]);
    assert_eq!(code(&none), 4, "{none:?}");
    assert!(stdout(&none).contains("none recorded"), "{}", stdout(&none));
}
