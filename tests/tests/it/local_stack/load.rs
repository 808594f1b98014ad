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
        outcome.to_person + outcome.voicemail + outcome.hung_up + outcome.rejected,
        outcome.callers,
        "every caller ends with a person, in voicemail, by hanging up or refused (blocked)"
    );
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
}
