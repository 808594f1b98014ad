//! The daily digest on a known day, against DynamoDB Local and the Twilio
//! fake (every request checked against Twilio's OpenAPI spec).

use std::time::Duration;

use homeline_core::model::{FollowUpReason, FollowUpState, WorkerProfile};
use homeline_core::service::call_record::{Step, change};
use homeline_core::service::follow_up;
use homeline_core::store::{CallRecordStore, DynamoStore, FollowUpStore, WorkerStore};
use homeline_core::{App, Deadline};
use serde_json::json;
use testkit::dynamo::fresh_store;
use testkit::twilio_fake::{Failure, Route, TwilioFake};

const OWNER: &str = "+15550000001";
const MANAGER: &str = "+15550000002";
const ANN: &str = "+15550000011";
const BOB: &str = "+15550000012";
/// 2026-12-03 (a Thursday), 00:00 in Chicago (06:00Z).
pub(super) const MIDNIGHT: i64 = 1_796_277_600;
pub(super) const HOUR: i64 = 3600;

async fn rig(settings: &[(&str, &str)]) -> (App<DynamoStore>, TwilioFake) {
    let twilio = TwilioFake::start().await;
    let mut overrides: Vec<(&str, &str)> = twilio.config_overrides().to_vec();
    overrides.push(("ADMIN_NUMBERS", "+15550000001,+15550000002"));
    overrides.push(("TIME_ZONE", "America/Chicago"));
    overrides.push(("FOLLOW_UP_ESCALATE_MINS", "1440"));
    overrides.extend_from_slice(settings);
    let app = App::new(testkit::test_config(&overrides), fresh_store().await);
    for (phone, name) in [(ANN, "Ann"), (BOB, "Bob")] {
        let profile = WorkerProfile::new(phone, name, vec!["sales".into()]);
        assert!(app.store.put_worker(&profile).await.expect("put").applied());
    }
    (app, twilio)
}

/// A call: its SID, when it came (after midnight), its steps (seconds later).
type Call<'a> = (&'a str, i64, Vec<(i64, Step<'a>)>);

/// The known day: five calls, as the functions record them.
async fn a_day_of_calls(app: &App<DynamoStore>) {
    let arrived = Step::Arrived {
        caller: "+15557654321",
        after_hours: false,
    };
    let sales = Step::Queued { skill: "sales" };
    let calls: [Call<'_>; 5] = [
        (
            "CA1",
            10 * HOUR,
            vec![
                (0, arrived),
                (3, sales),
                (
                    20,
                    Step::Answered {
                        by: ANN,
                        reservation: "WR1",
                    },
                ),
            ],
        ),
        (
            "CA2",
            11 * HOUR,
            vec![
                (0, arrived),
                (3, sales),
                (25, Step::Missed { by: BOB }),
                // Offered to Bob again, he pressed 1 as that reservation
                // timed out: his bridge failed; the call is Ann's from 40 s.
                (
                    30,
                    Step::Answered {
                        by: BOB,
                        reservation: "WR2",
                    },
                ),
                (31, Step::Unbridged { reservation: "WR2" }),
                (
                    40,
                    Step::Answered {
                        by: ANN,
                        reservation: "WR3",
                    },
                ),
            ],
        ),
        (
            "CA3",
            12 * HOUR,
            vec![
                (0, arrived),
                (3, sales),
                (30, Step::Missed { by: BOB }),
                (60, Step::Voicemail),
            ],
        ),
        (
            "CA4",
            13 * HOUR,
            vec![(0, arrived), (3, sales), (45, Step::Abandoned)],
        ),
        (
            "CA5",
            8 * HOUR,
            vec![(
                0,
                Step::Arrived {
                    caller: "+15557654321",
                    after_hours: true,
                },
            )],
        ),
    ];
    for (call, at, steps) in &calls {
        for (after, step) in steps {
            let record = change(call, MIDNIGHT + at + after, &[*step]);
            let merged = app
                .store
                .merge_call_record("2026-12-03", &record, true)
                .await;
            assert!(merged.expect("merged").applied());
        }
    }
    // Bob called CA3 back; CA4 is still owed a call.
    // Opened when the calls ended; none is due for escalation that day.
    let owed = [
        ("CA3", FollowUpReason::Voicemail, 12 * HOUR + 60),
        ("CA4", FollowUpReason::Abandoned, 13 * HOUR + 45),
    ];
    for (call, reason, at) in owed {
        let mut new = follow_up::new(call, "+15557654321", "sales", reason, None);
        new.created_at = MIDNIGHT + at;
        app.store.open_follow_up(&new).await.expect("opened");
    }
    let mut done = app
        .store
        .get_follow_up("CA3")
        .await
        .expect("read")
        .expect("stored");
    done.state = FollowUpState::Done;
    done.owner = Some(BOB.into());
    assert!(app.store.put_follow_up(&done).await.expect("put").applied());
}

const DIGEST: &str = "Homeline, Thu 3 Dec: 5 calls, 2 answered, 1 voicemail, 1 abandoned, 1 after hours. Answer median 20s, p95 40s. Open follow-ups: 1.\nAnn: 2 answered, 0 missed, 0 called back\nBob: 0 answered, 2 missed, 1 called back";

/// A tick at `at` (Unix seconds), as EventBridge sends it.
pub(super) fn tick(at: i64) -> String {
    testkit::fixtures::scheduler_tick_at(at).to_string()
}

pub(super) fn deadline() -> Deadline {
    Deadline::after(Duration::from_secs(20))
}

pub(super) fn texts_to(twilio: &TwilioFake, to: &str) -> Vec<String> {
    twilio
        .messages_sent()
        .iter()
        .filter(|m| m.param("To") == Some(to))
        .map(|m| m.param("Body").unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn the_digest_goes_to_each_admin_once_when_business_hours_end() {
    // Nobody is on duty: coverage alerts (their own scenario) kept out of the count.
    let (app, twilio) = rig(&[
        ("BUSINESS_HOURS", "mon-sat 09:00-17:00"),
        ("COVERAGE_ALERT_MINS", "0"),
    ])
    .await;
    a_day_of_calls(&app).await;

    let before = scheduler::handle(&app, &tick(MIDNIGHT + 17 * HOUR - 60), deadline()).await;
    assert_eq!(
        before["digest"],
        json!({ "day": null, "sent": 0, "failed": 0 })
    );
    assert!(twilio.messages_sent().is_empty());

    let closing = scheduler::handle(&app, &tick(MIDNIGHT + 17 * HOUR), deadline()).await;
    assert_eq!(
        closing["digest"],
        json!({ "day": "2026-12-03", "sent": 2, "failed": 0 })
    );
    for admin in [OWNER, MANAGER] {
        assert_eq!(texts_to(&twilio, admin), [DIGEST], "{admin}");
    }
    // The same tick again, and two overlapping runs later that evening.
    let again = scheduler::handle(&app, &tick(MIDNIGHT + 17 * HOUR), deadline()).await;
    let (next_minute, late) = (tick(MIDNIGHT + 17 * HOUR + 60), tick(MIDNIGHT + 23 * HOUR));
    let (a, b) = tokio::join!(
        scheduler::handle(&app, &next_minute, deadline()),
        scheduler::handle(&app, &late, deadline()),
    );
    for run in [again, a, b] {
        assert_eq!(run["digest"]["sent"], 0, "{run}");
    }
    // After midnight the new day's digest waits for its own closing.
    let next_day = scheduler::handle(&app, &tick(MIDNIGHT + 24 * HOUR + 300), deadline()).await;
    assert_eq!(next_day["digest"]["day"], json!(null), "{next_day}");
    assert_eq!(twilio.messages_sent().len(), 2);
    twilio.assert_spec_valid();
}

#[tokio::test]
async fn at_digest_time_a_failed_digest_is_sent_by_the_next_run() {
    let (app, twilio) = rig(&[("DIGEST_TIME", "12:30")]).await;
    a_day_of_calls(&app).await;
    twilio.fail_next_with(
        Route::SendMessage,
        1,
        Failure::twilio(
            400,
            21611,
            "This 'From' number has exceeded the maximum number of queued messages",
        ),
    );
    let first = scheduler::handle(&app, &tick(MIDNIGHT + 12 * HOUR + 1800), deadline()).await;
    assert_eq!(
        first["digest"],
        json!({ "day": "2026-12-03", "sent": 1, "failed": 1 })
    );
    let second = scheduler::handle(&app, &tick(MIDNIGHT + 12 * HOUR + 1860), deadline()).await;
    assert_eq!(
        second["digest"],
        json!({ "day": "2026-12-03", "sent": 1, "failed": 0 })
    );
    for admin in [OWNER, MANAGER] {
        assert_eq!(texts_to(&twilio, admin), [DIGEST], "{admin}");
    }
}
