//! The load run at a small size (the full one is `make simulate`).
//! Twice: under the inconvenient readings of what Twilio leaves open (the
//! default) and under the convenient ones.

use homeline_tests::Readings;
use homeline_tests::load::{Plan, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_callers_over_ten_minutes_keep_every_invariant() {
    twenty_callers_over_ten_minutes(Readings::inconvenient()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_callers_over_ten_minutes_keep_every_invariant_under_the_convenient_readings() {
    twenty_callers_over_ten_minutes(Readings::convenient()).await;
}

async fn twenty_callers_over_ten_minutes(readings: Readings) {
    let day = run(Plan {
        callers: 20,
        workers: 6,
        span: 600_000,
        seed: 11,
        chaos: true,
        answer_mode: None,
        readings,
        ordered: true,
    })
    .await;
    let outcome = &day.outcome;
    println!("{}\n{}", outcome.table(), day.follow_ups.table());
    let digest = day
        .digest
        .as_ref()
        .expect("a ten-minute day has its digest");
    println!("{digest:?}");
    // One withheld, one blocked and one spoofed caller join the twenty,
    // and those of the twenty who called again later.
    let screening = &day.screening;
    assert_eq!(
        (screening.withheld, screening.blocked, screening.spoofed),
        (1, 1, 1),
        "{}",
        screening.line()
    );
    assert_eq!(outcome.callers, 20 + 3 + day.returning.calls);
    println!("{}\n{}", day.estimates.line(), day.returning.line());
    assert!(
        day.invariant_failures().is_empty(),
        "{:?}\n{}\n{}\nanomalies: {:?}",
        day.invariant_failures(),
        outcome.table(),
        day.follow_ups.table(),
        outcome.anomalies
    );
    assert!(
        outcome.to_person > 0,
        "nobody reached a person:\n{}",
        outcome.table()
    );
    assert_eq!(
        outcome.to_person
            + outcome.voicemail
            + outcome.hung_up
            + outcome.callbacks
            + outcome.rejected,
        outcome.callers,
        "every caller ends with a person, in voicemail, by hanging up, with a callback booked or refused (blocked)"
    );
    let callbacks = &day.callbacks;
    println!("{}", callbacks.line());
    assert_eq!(callbacks.requested, outcome.callbacks);
    assert!(callbacks.completed <= callbacks.requested);
    assert_eq!(
        outcome.rejected, screening.rejected,
        "only the blocked are refused"
    );
    // The follow-up invariants above are not vacuous: the day has claims and call backs.
    let f = &day.follow_ups;
    assert!(
        f.created > 0 && f.claimed > 0 && f.reached > 0,
        "{}",
        f.table()
    );
    every_cost_line_is_counted(&day.cost);
}

/// The cost table is not made of zeros: every function was timed, the
/// store counted reads and writes, and every kind of Twilio unit the day
/// used is there (each caller's leg is at least a billed minute).
fn every_cost_line_is_counted(cost: &homeline_tests::cost::Cost) {
    println!("{}", cost.table());
    let functions = homeline_core::routes::Function::ALL.map(|f| f.binary());
    for function in functions.into_iter().chain(["scheduler"]) {
        assert!(
            cost.invocations
                .get(function)
                .is_some_and(|&(requests, ms)| requests > 0 && ms >= requests),
            "{function} not timed: {:?}",
            cost.invocations
        );
    }
    assert!(
        cost.dynamo.read_units > 0.0 && cost.dynamo.write_units > 0.0,
        "{:?}",
        cost.dynamo
    );
    let t = &cost.twilio;
    assert!(
        t.inbound_minutes >= 20
            && t.worker_leg_minutes > 0
            && t.machine_detections > 0
            && t.sms_segments_sent > 0
            && t.sms_segments_received > 0,
        "{t:?}"
    );
}
