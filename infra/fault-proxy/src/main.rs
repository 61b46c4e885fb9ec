//! `profile-link-fault-proxy`: sits between the functions (dev server, load
//! runs) and the local AWS servers and injects faults into a share of calls.
//!
//!     profile-link-fault-proxy --dynamodb http://127.0.0.1:8000 --upstream http://127.0.0.1:4566 --port 4577 \
//!         --fault dynamodb:throttle:0.2 --fault dynamodb/TransactWriteItems:conflict:0.1 --fault ses/SendEmail:error:every5
//!
//! Point every `AWS_ENDPOINT_URL_<SERVICE>` at `http://127.0.0.1:4577`. On
//! Ctrl-C (or SIGTERM) it prints what it did as JSON: calls by operation and
//! outcome; `GET /fault-proxy/stats` shows the same while it runs.

use clap::Parser;
use profile_link_fault_proxy::{FaultProxy, Rule, Upstreams};

#[derive(Parser)]
#[command(version, about = "Fault-injecting proxy in front of the local AWS servers")]
struct Args {
    /// DynamoDB Local, for DynamoDB and DynamoDB Streams calls (loopback only).
    #[arg(long, env = "FAULT_PROXY_DYNAMODB", default_value = "http://127.0.0.1:8000")]
    dynamodb: String,
    /// moto, for SES v2 and SSM calls (loopback only).
    #[arg(long, env = "FAULT_PROXY_UPSTREAM", default_value = "http://127.0.0.1:4566")]
    upstream: String,
    /// Port on 127.0.0.1 to listen on (0: any free port, printed at start).
    #[arg(long, env = "FAULT_PROXY_PORT", default_value_t = 4577)]
    port: u16,
    /// SERVICE[/OPERATION]:KIND:SHARE, repeatable; SERVICE: dynamodb, streams, ses, ssm, any;
    /// KIND: throttle, error, drop, delay=<n>ms, late=<n>ms (done at once, answered late),
    /// conflict (DynamoDB writes), cancelthrottle (a transaction cancelled by throttling),
    /// empty (stream pages), unprocessed (DynamoDB batch calls), limit=<n> (page size);
    /// SHARE: 0–1, every<n>, first<n>, after<n> or always.
    /// Or an account's limit, SERVICE[/OPERATION]:ratelimit=<n>/s (a token bucket per
    /// operation) or SERVICE[/OPERATION]:quota=<n>/<period> (n calls, then refused for
    /// the period, e.g. 60s, 5m, 24h, then n more).
    #[arg(long = "fault", value_name = "RULE")]
    faults: Vec<Rule>,
    /// Seed for probabilistic shares (same seed, same faults for the same calls).
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let upstreams = Upstreams { dynamodb: args.dynamodb.clone(), other: args.upstream.clone() };
    let proxy = FaultProxy::new(&upstreams, args.faults, args.seed)?;
    let (address, server) = proxy.listen(&format!("127.0.0.1:{}", args.port)).await?;
    eprintln!("fault proxy on http://{address} → DynamoDB {}, SES and SSM {}", args.dynamodb, args.upstream);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    server.abort();
    println!("{}", serde_json::to_string_pretty(&proxy.stats())?);
    Ok(())
}
