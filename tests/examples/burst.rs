//! `make bench` (under load): bursts of 50 concurrent signed webhooks to one
//! function process, `inbound`, on DynamoDB Local and the Twilio stand-in,
//! with 20 workers enrolled. Each burst is 50 new callers at once, then the
//! same 50 pressing 1 at the menu at once. Prints p50/p99 latency and the
//! error count of each kind (an error: not a 200 with the expected TwiML);
//! exits non-zero on any error. Built like `make simulate` (debug profile).
//! `BURST_SIZE` (default 50) and `BURST_ROUNDS` (default 5) change the size.

use std::ops::Range;
use std::time::{Duration, Instant};

use homeline_core::routes::Function;
use homeline_tests::Phone;
use homeline_tests::harness::Stage;
use homeline_tests::homeline::handle;
use homeline_tests::report::percentile;
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

/// The `p`th percentile of `latencies` in milliseconds (nearest rank).
fn ms(latencies: &[Duration], p: usize) -> f64 {
    percentile(latencies, p).unwrap_or_default().as_secs_f64() * 1000.0
}

/// Latencies and errors of the call webhooks, then of the menu digits.
type Kinds = [(Vec<Duration>, usize); 2];

/// Callers `callers` through the call and then the menu, `at_once` at a time.
async fn wave(stage: &Stage, callers: Range<usize>, at_once: usize) -> Kinds {
    let mut kinds: Kinds = Default::default();
    let callers: Vec<usize> = callers.collect();
    for group in callers.chunks(at_once) {
        let steps = [
            ("/inbound", ("CallStatus", "ringing"), "<Gather"),
            ("/inbound/menu", ("Digits", "1"), "<Enqueue"),
        ];
        for ((path, extra, verb), kind) in steps.into_iter().zip(kinds.iter_mut()) {
            let webhooks = group.iter().map(|&n| webhook(path, n, &[extra])).collect();
            let (latencies, errors) = burst(stage, webhooks, verb).await;
            kind.0.extend(latencies);
            kind.1 += errors;
        }
    }
    kinds
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
    // The same requests one at a time first: the machine's own speed, which
    // the ratio below divides out.
    let alone = wave(&stage, 0..size, 1).await;
    let loaded = wave(&stage, size..size * (rounds + 1), size).await;
    println!(
        "{rounds} bursts of {size} concurrent webhooks to one in-process inbound (DynamoDB Local, Twilio stand-in), \
         after {size} one at a time:"
    );
    println!(
        "  {:<24} {:>8} {:>13} {:>13} {:>9} {:>14} {:>7}",
        "webhook", "requests", "alone p50 ms", "burst p50 ms", "p99 ms", "p50 x alone", "errors"
    );
    let mut failed = false;
    for (name, (alone, loaded)) in ["inbound call (greeting)", "menu digit (enqueue)"]
        .into_iter()
        .zip(alone.into_iter().zip(loaded))
    {
        let (alone_p50, p50) = (ms(&alone.0, 50), ms(&loaded.0, 50));
        let errors = alone.1 + loaded.1;
        println!(
            "  {name:<24} {:>8} {alone_p50:>13.1} {p50:>13.1} {:>9.1} {:>14.1} {errors:>7}",
            loaded.0.len(),
            ms(&loaded.0, 99),
            p50 / alone_p50,
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
