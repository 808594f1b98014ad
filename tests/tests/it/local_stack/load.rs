//! The load run at a small size (the full one is `make simulate`).

use homeline_tests::load::{Plan, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_callers_over_ten_minutes_keep_every_invariant() {
    let outcome = run(Plan {
        callers: 20,
        workers: 6,
        span: 600_000,
        seed: 11,
        chaos: true,
        answer_mode: None,
    })
    .await;
    println!("{}", outcome.table());
    assert_eq!(outcome.callers, 20);
    assert!(
        outcome.invariant_failures().is_empty(),
        "{:?}\n{}\nanomalies: {:?}",
        outcome.invariant_failures(),
        outcome.table(),
        outcome.anomalies
    );
    assert!(
        outcome.to_person > 0,
        "nobody reached a person:\n{}",
        outcome.table()
    );
    assert_eq!(
        outcome.to_person + outcome.voicemail + outcome.hung_up,
        outcome.callers,
        "every caller ends with a person, in voicemail or by hanging up"
    );
}
