//! Escalation runs against DynamoDB Local and the Twilio fake (every request
//! checked against Twilio's OpenAPI spec).

use std::time::Duration;

use homeline_core::model::{FollowUpReason, FollowUpState};
use homeline_core::service::call_record::{self, Step};
use homeline_core::service::follow_up;
use homeline_core::store::{CallRecordStore, DynamoStore, FollowUpStore, now_secs};
use homeline_core::{App, Deadline};
use serde_json::json;
use testkit::dynamo::fresh_store;
use testkit::twilio_fake::{Failure, Route, TwilioFake};

const OWNER: &str = "+15550000001";
const MANAGER: &str = "+15550000002";

async fn rig() -> (App<DynamoStore>, TwilioFake) {
    let twilio = TwilioFake::start().await;
    let mut overrides: Vec<(&str, &str)> = twilio.config_overrides().to_vec();
    overrides.push(("ADMIN_NUMBERS", "+15550000001,+15550000002"));
    overrides.push(("FOLLOW_UP_ESCALATE_MINS", "30"));
    (
        App::new(testkit::test_config(&overrides), fresh_store().await),
        twilio,
    )
}

/// Opens a follow-up of call `n`, `age_mins` old, in `state`.
async fn follow_up_of(app: &App<DynamoStore>, n: u32, age_mins: i64, state: FollowUpState) {
    let mut new = follow_up::new(
        &format!("CA{n:032}"),
        &format!("+1555765{n:04}"),
        "sales",
        FollowUpReason::Voicemail,
        None,
    );
    new.created_at = now_secs() - age_mins * 60;
    let mut opened = app.store.open_follow_up(&new).await.expect("open");
    if state != FollowUpState::Open {
        opened.state = state;
        opened.owner = Some("+15551230001".into());
        assert!(
            app.store
                .put_follow_up(&opened)
                .await
                .expect("put")
                .applied()
        );
    }
}

/// A tick at `at` (Unix seconds), as EventBridge sends it.
fn tick(at: i64) -> String {
    testkit::fixtures::scheduler_tick_at(at).to_string()
}

/// A job over worker profiles (cooldowns, untils, closing) with none due.
fn none_due() -> serde_json::Value {
    json!({ "due": 0, "moved": 0, "failed": 0, "cut_short": false })
}

fn deadline() -> Deadline {
    Deadline::after(Duration::from_secs(20))
}

fn escalations_to(twilio: &TwilioFake, to: &str) -> Vec<String> {
    twilio
        .messages_sent()
        .iter()
        .filter(|m| m.param("To") == Some(to))
        .map(|m| m.param("Body").unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn an_unclaimed_follow_up_is_escalated_to_each_admin_once_however_often_the_clock_ticks() {
    let (app, twilio) = rig().await;
    follow_up_of(&app, 1, 31, FollowUpState::Open).await;
    follow_up_of(&app, 2, 5, FollowUpState::Open).await;
    follow_up_of(&app, 3, 45, FollowUpState::Claimed).await;

    let result = scheduler::handle(&app, &tick(now_secs()), deadline()).await;
    assert_eq!(
        result,
        json!({
            "escalation": { "due": 1, "sent": 2, "failed": 0, "cut_short": false },
            "late_announcements": { "due": 0, "failed": 0 },
            "digest": { "day": null, "sent": 0, "failed": 0 },
            "cooldowns": none_due(),
            "untils": none_due(),
            "off_at_close": none_due(),
            "coverage": { "uncovered": [], "sent": 0, "failed": 0, "cut_short": false },
            "callbacks": { "retried": 0, "failed": 0 },
        })
    );
    for admin in [OWNER, MANAGER] {
        let texts = escalations_to(&twilio, admin);
        assert_eq!(texts.len(), 1, "{admin}: {texts:?}");
        assert!(
            texts[0]
                .starts_with("Nobody has claimed #1 in 31 min: voicemail from +15557650001 at "),
            "{}",
            texts[0]
        );
    }
    // Overlapping and repeated runs (EventBridge may deliver a tick twice).
    let (this_minute, next_minute) = (tick(now_secs()), tick(now_secs() + 60));
    let (a, b) = tokio::join!(
        scheduler::handle(&app, &this_minute, deadline()),
        scheduler::handle(&app, &next_minute, deadline()),
    );
    for run in [a, b] {
        assert_eq!(run["escalation"]["sent"], 0, "{run}");
    }
    assert_eq!(twilio.messages_sent().len(), 2);
    twilio.assert_spec_valid();
}

#[tokio::test]
async fn a_failed_escalation_is_sent_by_the_next_run_and_other_events_do_nothing() {
    let (app, twilio) = rig().await;
    follow_up_of(&app, 1, 40, FollowUpState::Open).await;
    twilio.fail_next_with(
        Route::SendMessage,
        1,
        Failure::twilio(
            400,
            21611,
            "This 'From' number has exceeded the maximum number of queued messages",
        ),
    );
    let first = scheduler::handle(&app, &tick(now_secs()), deadline()).await;
    assert_eq!(first["escalation"]["failed"], 1, "{first}");
    assert_eq!(first["escalation"]["sent"], 1, "{first}");
    let second = scheduler::handle(&app, &tick(now_secs()), deadline()).await;
    assert_eq!(second["escalation"]["sent"], 1, "{second}");
    assert_eq!(escalations_to(&twilio, OWNER).len(), 1);
    assert_eq!(escalations_to(&twilio, MANAGER).len(), 1);

    let requests = twilio.requests().len();
    for odd in [
        "{}",
        "not json",
        r#"{"rawPath":"/inbound","requestContext":{}}"#,
    ] {
        let answer = scheduler::handle(&app, odd, deadline()).await;
        assert!(answer.get("ignored").is_some(), "{odd}: {answer}");
    }
    assert_eq!(
        twilio.requests().len(),
        requests,
        "no work for an odd event"
    );
}

#[tokio::test]
async fn a_run_near_its_deadline_stops_and_leaves_the_rest_for_the_next_minute() {
    let (app, twilio) = rig().await;
    follow_up_of(&app, 1, 40, FollowUpState::Open).await;
    let spent = Deadline::after(Duration::from_millis(500));
    let run = scheduler::handle(&app, &tick(now_secs()), spent).await;
    assert_eq!(
        run,
        json!({
            "escalation": { "due": 1, "sent": 0, "failed": 0, "cut_short": true },
            "late_announcements": { "due": 0, "failed": 0 },
            "digest": { "day": null, "sent": 0, "failed": 0 },
            "cooldowns": none_due(),
            "untils": none_due(),
            "off_at_close": none_due(),
            "coverage": { "uncovered": [], "sent": 0, "failed": 0, "cut_short": false },
            "callbacks": { "retried": 0, "failed": 0 },
        })
    );
    assert!(twilio.messages_sent().is_empty());
    let next = scheduler::handle(&app, &tick(now_secs()), deadline()).await;
    assert_eq!(next["escalation"]["sent"], 2, "{next}");
}

/// The scheduler is the clock of "tried once more after CALLBACK_RETRY_MINS":
/// a caller the first callback missed gets a second callback task, once,
/// in the place they had; a retry Twilio refuses becomes a follow-up.
#[tokio::test]
async fn a_missed_callback_is_retried_once_when_callback_retry_mins_are_up() {
    let (app, twilio) = rig().await;
    let now = now_secs();
    let caller = |n: u32| format!("CA{n:032}");
    // Seeded straight into the store: `call_record::note` gives up after a
    // second, and a loaded test machine must not lose the setup.
    let today = call_record::day(app.config.time_zone, now);
    for (n, missed_mins_ago) in [(1, 10), (2, 9), (3, 12)] {
        let number = format!("+1555765{n:04}");
        let steps = [
            (now - 900, Step::Queued { skill: "sales" }),
            (now - 800, Step::CallbackRequested { number: &number }),
            (now - missed_mins_ago * 60, Step::CallbackMissed),
        ];
        for (at, step) in steps {
            let record = call_record::change(&caller(n), at, &[step]);
            let write = app.store.merge_call_record(&today, &record, true).await;
            assert!(write.expect("stored").applied());
        }
    }
    twilio.fail_next(Route::CreateTask, 1, 400);
    let run = scheduler::handle(&app, &tick(now), deadline()).await;
    assert_eq!(
        run["callbacks"],
        json!({ "retried": 1, "failed": 1 }),
        "{run}"
    );
    let again = scheduler::handle(&app, &tick(now + 60), deadline()).await;
    assert_eq!(
        again["callbacks"],
        json!({ "retried": 1, "failed": 0 }),
        "the one 9 minutes old is due a minute later; the others not twice"
    );
    let created: Vec<_> = twilio
        .requests_for(Route::CreateTask)
        .into_iter()
        .filter(|r| r.succeeded())
        .collect();
    assert_eq!(created.len(), 2, "{created:?}");
    for task in &created {
        let attributes: serde_json::Value =
            serde_json::from_str(task.param("Attributes").expect("attributes")).expect("JSON");
        assert_eq!(attributes["try"], 2);
        assert_eq!(attributes["skill"], "sales");
    }
    let refused = app
        .store
        .get_follow_up(&caller(1))
        .await
        .expect("read")
        .or(app.store.get_follow_up(&caller(3)).await.expect("read"))
        .expect("the refused retry became a follow-up");
    assert_eq!(refused.reason, FollowUpReason::CallbackMissed);
    twilio.assert_spec_valid();
}
