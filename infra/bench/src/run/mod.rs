//! The measurements: warm onboardings through the four functions a
//! person's onboarding reaches, each followed by a portal's sign-in through
//! the two OpenID Provider functions; then alternating cold starts of each
//! function and the hello-world floor.

use std::path::PathBuf;
use std::sync::Arc;

use profile_link_core::session::SessionKeys;
use url::Url;

use crate::proxy::Proxy;
use crate::stream::StreamReader;

mod cold;
mod environment;
mod first_request;
mod fixtures;
mod onboarding;
mod portal_sign_in;
mod profiles;
mod results;
mod sessions;
mod warm;

pub use profiles::profiles_csv;
pub use results::{BTreeEnv, ColdFunction, ColdPair, ColdSample, ColdVariant, Results, Size, Warm, WarmFunction};

/// The functions, in the order they are reported.
pub const FUNCTIONS: [&str; 6] = ["login", "request-association", "redeem-link", "send-emails", "authorize", "token"];
/// Those an onboarding goes through: the ones the cost model counts.
pub const ONBOARDING_FUNCTIONS: [&str; 4] = ["login", "request-association", "redeem-link", "send-emails"];
pub const HELLO: &str = "hello";
/// The same-calls baseline (`infra/bench/same-calls`).
pub const SAME_CALLS: &str = "same-calls";

pub struct Settings {
    pub bin_dir: PathBuf,
    pub zip_dir: Option<PathBuf>,
    pub log_dir: PathBuf,
    pub pairs: usize,
    pub onboardings: usize,
    /// The local AWS servers the functions' calls are forwarded to.
    pub aws: profile_link_core::aws::Endpoints,
    pub table: String,
    pub base: Url,
    pub issuer: String,
    pub client_secret: String,
    pub session_key_pem: String,
    pub mail_from: String,
}

pub async fn run(settings: Settings) -> anyhow::Result<Results> {
    std::fs::create_dir_all(&settings.log_dir)?;
    let sdk = profile_link_core::aws::sdk_config_with_endpoints(&settings.aws).await;
    environment::prepare_emulator(&sdk, &settings).await?;
    let keys =
        Arc::new(SessionKeys::from_pem(&settings.base.origin().ascii_serialization(), &settings.session_key_pem)?);
    let proxy = Proxy::new(&settings.aws);
    let mut stream = StreamReader::new(&sdk, &settings.table).await?;

    eprintln!("==> warm: {} onboardings, each followed by a portal's sign-in", settings.onboardings);
    let (warm, mut fixtures) = warm::warm_phase(&settings, &proxy, &keys, &mut stream).await?;
    eprintln!(
        "==> cold: {} interleaved runs per first request (hello world, same-calls baseline and its variants, function)",
        settings.pairs
    );
    let cold = cold::cold_phase(&settings, &proxy, &keys, &mut fixtures).await;
    for function in fixtures.portal.functions.into_values() {
        function.stop();
    }
    let cold = cold?;

    let mut sizes = Vec::new();
    for name in FUNCTIONS.iter().chain([&HELLO, &SAME_CALLS]) {
        let binary_bytes = std::fs::metadata(settings.bin_dir.join(name)).map(|m| m.len()).unwrap_or(0);
        let zip_bytes = settings
            .zip_dir
            .as_ref()
            .and_then(|dir| std::fs::metadata(dir.join(format!("{name}.zip"))).ok())
            .map(|m| m.len());
        sizes.push(Size { name: (*name).to_owned(), binary_bytes, zip_bytes });
    }
    Ok(Results {
        generated: String::new(),
        environment: BTreeEnv::new(),
        pairs: settings.pairs,
        onboardings: settings.onboardings,
        cold,
        warm,
        sizes,
    })
}
