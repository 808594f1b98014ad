//! `make simulate`: 200 callers over a simulated hour against 20 workers with
//! mixed phones and three skills, through the real functions. Prints the
//! outcome table; fails when an invariant does not hold.
//! Sizes: `SIM_CALLERS`, `SIM_WORKERS`, `SIM_MINUTES`, `SIM_SEED`;
//! `SIM_SCALE=10` multiplies the default callers and workers (2,000 callers
//! and 200 workers over the same hour); `SIM_CHAOS=1`
//! duplicates and re-orders callbacks; `SIM_ANSWER_MODE=sync|screen|hybrid`
//! overrides Homeline's answer mode (compare the worker's silence);
//! `SIM_READINGS=convenient` reads what Twilio leaves open the convenient way
//! (the default is the inconvenient reading); `SIM_ORDER=idle` has the
//! stand-in's skill queues offer longest idle first alone, without the
//! answer score `homeline provision` orders them by (the comparison).

use homeline_tests::Readings;
use homeline_tests::load::{Plan, run};

fn var(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> std::process::ExitCode {
    let full = Plan::full();
    let scale = var("SIM_SCALE", 1);
    let plan = Plan {
        callers: var("SIM_CALLERS", full.callers as u64 * scale) as usize,
        workers: var("SIM_WORKERS", full.workers as u64 * scale) as usize,
        span: var("SIM_MINUTES", full.span / 60_000) * 60_000,
        seed: var("SIM_SEED", full.seed),
        chaos: var("SIM_CHAOS", 0) == 1,
        answer_mode: match std::env::var("SIM_ANSWER_MODE").as_deref() {
            Ok("sync") => Some("sync"),
            Ok("screen") => Some("screen"),
            Ok("hybrid") => Some("hybrid"),
            _ => None,
        },
        readings: match std::env::var("SIM_READINGS").as_deref() {
            Ok("convenient") => Readings::convenient(),
            _ => Readings::inconvenient(),
        },
        ordered: std::env::var("SIM_ORDER").as_deref() != Ok("idle"),
    };
    let started = std::time::Instant::now();
    let day = run(plan).await;
    let wall = started.elapsed().as_secs_f64();
    let outcome = &day.outcome;
    println!(
        "{} callers ({} of them call again later) over {} simulated minutes, {} workers, skills {:?}, answer mode {}, {} readings, {} (seed {}), in {:.1} s of real time\n",
        plan.callers,
        day.returning.calls,
        plan.span / 60_000,
        plan.workers,
        homeline_tests::load::SKILLS,
        plan.answer_mode.unwrap_or("default"),
        if plan.readings == Readings::convenient() {
            "convenient"
        } else {
            "inconvenient"
        },
        if plan.ordered {
            "answer score then longest idle"
        } else {
            "longest idle alone"
        },
        plan.seed,
        wall
    );
    println!(
        "wall time per caller: {:.1} ms\n",
        wall * 1000.0 / plan.callers.max(1) as f64
    );
    println!("{}", outcome.table());
    println!("{}", day.follow_ups.table());
    println!("{}", day.time_to_human.table());
    println!("{}", day.fairness.table());
    println!("{}\n", day.coverage.line());
    println!("{}\n", day.screening.line());
    println!("{}\n", day.estimates.line());
    println!("{}\n", day.returning.line());
    println!("{}\n", day.callbacks.line());
    println!("{}", day.cost.table());
    if let Some(text) = day.digest.as_ref().and_then(|d| d.text.as_ref()) {
        println!("the admin's daily digest, as texted at the day's end:\n{text}\n");
    }
    if let Some(kb) = peak_rss_kb() {
        println!(
            "peak RSS of this process (stand-in and all six functions in-process): {:.1} MB\n",
            kb as f64 / 1024.0
        );
    }
    let failures = day.invariant_failures();
    if !outcome.anomalies.is_empty() {
        println!("anomalies ({}):", outcome.anomalies.len());
        for a in outcome.anomalies.iter().take(20) {
            println!("  {a}");
        }
    }
    if failures.is_empty() {
        println!("invariants: all hold");
        std::process::ExitCode::SUCCESS
    } else {
        println!("INVARIANTS BROKEN:");
        for f in failures {
            println!("  {f}");
        }
        std::process::ExitCode::FAILURE
    }
}

/// `VmHWM` of /proc/self/status (Linux), in kB.
fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
