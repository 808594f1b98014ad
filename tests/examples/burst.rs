//! `make bench` (under load): bursts of 50 concurrent signed webhooks to one
//! function process, `inbound`, on DynamoDB Local and the Twilio stand-in,
//! with 20 workers enrolled. Each burst is 50 new callers at once, then the
//! same 50 pressing 1 at the menu at once. Prints p50/p99 latency and the
//! error count of each kind (an error: not a 200 with the expected TwiML);
//! exits non-zero on any error. Built like `make simulate` (debug profile).
//! `BURST_SIZE` (default 50) and `BURST_ROUNDS` (default 5) change the size.

use std::time::{Duration, Instant};

use homeline_core::routes::Function;
use homeline_tests::Phone;
use homeline_tests::harness::Stage;
use homeline_tests::homeline::handle;
use testkit::events::{Webhook, body_text};

fn var(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The webhook Twilio sends on `path` for caller `n`.
fn webhook(path: &str, n: usize, extra: &[(&str, &str)]) -> Webhook {
    let call_sid = format!("CA{n:032x}");
    let from = format!("+1555800{n:04}");
    let mut params = vec![
        ("AccountSid", testkit::ACCOUNT_SID),
        ("ApiVersion", "2010-04-01"),
        ("CallSid", call_sid.as_str()),
        ("CallStatus", "in-progress"),
        ("Called", testkit::CALLER_ID),
        ("Caller", from.as_str()),
        ("Direction", "inbound"),
        ("From", from.as_str()),
        ("To", testkit::CALLER_ID),
    ];
    params.extend_from_slice(extra);
    Webhook::form(path, &params)
}

/// Sends `webhooks` at once; each one's latency, and how many failed (not
/// a 200 with TwiML holding `verb`).
async fn burst(stage: &Stage, webhooks: Vec<Webhook>, verb: &str) -> (Vec<Duration>, usize) {
    let tasks: Vec<_> = webhooks
        .into_iter()
        .map(|webhook| {
            let app = stage.app.clone();
            let request = webhook.request();
            tokio::spawn(async move {
                let started = Instant::now();
                let response = handle(Function::Inbound, app, request).await;
                let took = started.elapsed();
                (took, response.status().as_u16(), body_text(&response))
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        match task.await {
            Ok((took, status, body)) => {
                latencies.push(took);
                errors += usize::from(status != 200 || !body.contains(verb));
            }
            Err(_) => errors += 1,
        }
    }
    (latencies, errors)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> std::process::ExitCode {
    let size = var("BURST_SIZE", 50);
    let rounds = var("BURST_ROUNDS", 5);
    let stage = Stage::start(&[], 1).await;
    for i in 0..20 {
        let skill = ["sales", "support"][i % 2];
        stage
            .worker(&format!("+1555100{i:04}"), skill, Phone::fast_human())
            .await;
    }
    let mut calls = (Vec::new(), 0);
    let mut digits = (Vec::new(), 0);
    for round in 0..rounds {
        let callers = round * size..(round + 1) * size;
        let (l, e) = burst(
            &stage,
            callers
                .clone()
                .map(|n| webhook("/inbound", n, &[("CallStatus", "ringing")]))
                .collect(),
            "<Gather",
        )
        .await;
        calls.0.extend(l);
        calls.1 += e;
        let (l, e) = burst(
            &stage,
            callers
                .map(|n| webhook("/inbound/menu", n, &[("Digits", "1")]))
                .collect(),
            "<Enqueue",
        )
        .await;
        digits.0.extend(l);
        digits.1 += e;
    }
    println!(
        "{rounds} bursts of {size} concurrent webhooks to one in-process inbound (DynamoDB Local, Twilio stand-in):"
    );
    println!(
        "  {:<28} {:>8} {:>9} {:>9} {:>7}",
        "webhook", "requests", "p50 ms", "p99 ms", "errors"
    );
    let mut failed = false;
    for (name, (mut latencies, errors)) in [
        ("inbound call (greeting)", calls),
        ("menu digit (enqueue)", digits),
    ] {
        latencies.sort();
        println!(
            "  {name:<28} {:>8} {:>9.1} {:>9.1} {errors:>7}",
            latencies.len(),
            percentile(&latencies, 0.50),
            percentile(&latencies, 0.99),
        );
        failed |= errors > 0;
    }
    stage.assert_spec_clean().await;
    if failed {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    }
}
