//! The warm phase: every function started once, one unrecorded onboarding,
//! then the recorded ones; afterwards the fixtures for the cold runs.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context;
use profile_link_core::session::SessionKeys;

use super::environment::spec;
use super::fixtures::{FIXTURE_ADDRESS, FIXTURE_SUBJECT, Fixtures, link_portal_fixture};
use super::onboarding::{link_in_last_email, onboarding, one_record, request_link};
use super::sessions::minted_browser;
use super::{FUNCTIONS, Settings, Warm, WarmFunction};
use crate::gateway::{Gateway, ms};
use crate::process::Function;
use crate::proxy::Proxy;
use crate::stream::{self, StreamReader};

pub(super) async fn warm_phase(
    settings: &Settings,
    proxy: &Arc<Proxy>,
    keys: &SessionKeys,
    stream: &mut StreamReader,
) -> anyhow::Result<(Warm, Fixtures)> {
    let mut functions = HashMap::new();
    for name in FUNCTIONS {
        let spec = spec(settings, proxy, name).await?;
        functions.insert(name.to_owned(), Function::spawn(&spec, &settings.log_dir).await?);
    }
    let mut after_init = HashMap::new();
    for (name, function) in &mut functions {
        function.ready().await?;
        after_init.insert(name.clone(), function.peak_rss_kib());
    }
    let mut gw = Gateway::new(settings.base.clone(), functions, proxy.clone());
    stream.read_new().await?;

    // One onboarding to warm every function up, then the recorded ones.
    onboarding(&mut gw, stream, 0).await.context("the warm-up onboarding")?;
    let before: HashMap<String, _> = gw.functions.iter().map(|(n, f)| (n.clone(), (f.cpu(), f.log_bytes()))).collect();
    gw.recording = true;
    for n in 1..=settings.onboardings {
        onboarding(&mut gw, stream, n).await.with_context(|| format!("onboarding {n}"))?;
        if n % 25 == 0 {
            eprintln!("    {n} onboardings");
        }
    }
    gw.recording = false;
    let mut warm_functions = Vec::new();
    for name in FUNCTIONS {
        let function = &gw.functions[name];
        let (cpu_before, log_before) = before[name];
        let invocations = gw.records.iter().filter(|r| r.function == name).count();
        warm_functions.push(WarmFunction {
            name: name.to_owned(),
            invocations,
            cpu_ms_per_invocation: ms(function.cpu().since(&cpu_before)) / invocations.max(1) as f64,
            peak_rss_after_init_kib: after_init[name],
            peak_rss_kib: function.peak_rss_kib(),
            log_bytes: function.log_bytes() - log_before,
        });
    }

    // Fixtures for the cold runs, made by the warm functions.
    let (mut fixture, csrf) = minted_browser(settings, keys, FIXTURE_SUBJECT, "203.0.113.9");
    request_link(&mut gw, &mut fixture, &csrf, FIXTURE_ADDRESS).await?;
    let records = one_record(stream, "LINK#").await?;
    gw.invoke("send-emails", "fixture", stream::event(&records)).await?;
    let sent_token = link_in_last_email(&gw)?;
    let mut pending_records = Vec::new();
    for n in 0..settings.pairs {
        let (mut person, csrf) = minted_browser(settings, keys, &format!("bench-cold-{n}"), "203.0.113.10");
        request_link(&mut gw, &mut person, &csrf, FIXTURE_ADDRESS).await?;
        pending_records.extend(one_record(stream, "LINK#").await?);
    }
    link_portal_fixture(&mut gw, settings, keys, stream).await.context("linking the portal fixture's profile")?;
    let records = std::mem::take(&mut gw.records);
    let mut portal_functions = HashMap::new();
    for name in ["authorize", "token"] {
        portal_functions.insert(name.to_owned(), gw.functions.remove(name).expect("started"));
    }
    for function in gw.functions.into_values() {
        function.stop();
    }
    let portal = Gateway::new(settings.base.clone(), portal_functions, proxy.clone());
    Ok((Warm { invocations: records, functions: warm_functions }, Fixtures { sent_token, pending_records, portal }))
}
