//! Miss cooldowns against DynamoDB Local and the Twilio fake (every request
//! checked against Twilio's OpenAPI spec): a miss benches the worker, the
//! scheduler's tick after the cooldown puts them back, once.

use std::time::Duration;

use homeline_core::model::{Activity, Attempt, AttemptState, TaskKind, WorkerProfile};
use homeline_core::service::worker;
use homeline_core::store::{DynamoStore, WorkerStore, now_secs};
use homeline_core::{App, Deadline};
use serde_json::json;
use testkit::dynamo::fresh_store;
use testkit::twilio_fake::{Route, TwilioFake};
use testkit::{ACTIVITY_AVAILABLE, ACTIVITY_OFFLINE, ACTIVITY_UNAVAILABLE};

const PHONE: &str = "+15551230001";

struct Rig {
    app: App<DynamoStore>,
    twilio: TwilioFake,
    worker_sid: String,
}

async fn rig() -> Rig {
    let twilio = TwilioFake::start().await;
    let mut overrides: Vec<(&str, &str)> = twilio.config_overrides().to_vec();
    overrides.push(("MISS_COOLDOWN_SECS", "120"));
    let app = App::new(testkit::test_config(&overrides), fresh_store().await);
    let worker_sid = twilio.add_worker(
        "Ana",
        &json!({"contact_uri": PHONE, "skills": ["sales"]}),
        ACTIVITY_AVAILABLE,
    );
    let mut profile = WorkerProfile::new(PHONE, "Ana", vec!["sales".into()]);
    profile.worker_sid = Some(worker_sid.clone());
    profile.activity = Some(Activity::Available);
    assert!(app.store.put_worker(&profile).await.expect("put").applied());
    Rig {
        app,
        twilio,
        worker_sid,
    }
}

impl Rig {
    /// The worker's leg `n` ended as dial-status reports it.
    async fn missed(&self, n: u32, reason: &str) {
        let attempt = Attempt {
            reservation_sid: format!("WR{n:032}"),
            task_sid: format!("WT{n:032}"),
            worker_sid: self.worker_sid.clone(),
            phone: PHONE.into(),
            skill: "sales".into(),
            caller_call_sid: None,
            caller: None,
            returning: false,
            queued_at: None,
            kind: TaskKind::Call,
            call_sid: Some(format!("CA{n:032}")),
            state: AttemptState::Missed,
            outcome: Some(reason.into()),
            sip_response_code: None,
            created_at: now_secs(),
        };
        worker::record_miss(&self.app, &attempt, reason, deadline())
            .await
            .expect("miss recorded");
    }

    fn activity_sid(&self) -> String {
        self.twilio
            .worker(&self.worker_sid)
            .expect("worker")
            .activity_sid
    }

    async fn profile(&self) -> WorkerProfile {
        self.app
            .store
            .get_worker(PHONE)
            .await
            .expect("get")
            .expect("stored")
    }

    async fn tick(&self, at: i64) -> serde_json::Value {
        scheduler::handle(&self.app, &tick(at), deadline()).await["cooldowns"].clone()
    }
}

/// A tick at `at` (Unix seconds), as EventBridge sends it.
fn tick(at: i64) -> String {
    testkit::fixtures::scheduler_tick_at(at).to_string()
}

fn deadline() -> Deadline {
    Deadline::after(Duration::from_secs(20))
}

fn report(due: usize, moved: usize) -> serde_json::Value {
    json!({ "due": due, "moved": moved, "failed": 0, "cut_short": false })
}

/// Issue 17: the answer score the workflow orders by recovers with the time
/// since the last miss; the update that ends the cooldown carries it, with
/// the worker's other attributes.
#[tokio::test]
async fn the_cooldown_s_end_puts_the_worker_back_with_the_score_recovered_so_far() {
    let rig = rig().await;
    rig.missed(1, "no-answer").await;
    rig.missed(2, "busy").await;
    let attributes = |at: usize| -> serde_json::Value {
        let updates = rig.twilio.worker_updates();
        serde_json::from_str(updates[at].param("Attributes").expect("attributes")).expect("JSON")
    };
    let scored = |score: u32| json!({"contact_uri": PHONE, "skills": ["sales"], "name": "Ana", "answer_score": score});
    // Two misses, the answer given in advance: 1 of 3.
    assert_eq!(attributes(1), scored(25));
    let until = rig.profile().await.cooldown_until.expect("cooling down");
    assert_eq!(rig.tick(until).await, report(1, 1));
    // 240 s of the 30 minutes that forgive every miss: the next step.
    assert_eq!(attributes(2), scored(50));
    assert_eq!(rig.activity_sid(), ACTIVITY_AVAILABLE);
    rig.twilio.assert_spec_valid();
}

#[tokio::test]
async fn a_miss_benches_the_worker_until_the_first_tick_after_the_cooldown_once() {
    let rig = rig().await;
    rig.missed(1, "no-answer").await;
    assert_eq!(rig.activity_sid(), ACTIVITY_UNAVAILABLE);
    let until = rig.profile().await.cooldown_until.expect("cooling down");
    let updates = rig.twilio.worker_updates().len();

    assert_eq!(rig.tick(until - 1).await, report(0, 0), "not over yet");
    assert_eq!(rig.twilio.worker_updates().len(), updates);
    assert_eq!(rig.activity_sid(), ACTIVITY_UNAVAILABLE);

    assert_eq!(rig.tick(until).await, report(1, 1));
    let moves = rig.twilio.worker_updates();
    assert_eq!(moves.len(), updates + 1, "one REST update: {moves:?}");
    let back = moves.last().expect("the update");
    assert_eq!(back.path_sid("Workers"), Some(rig.worker_sid.as_str()));
    assert_eq!(back.param("ActivitySid"), Some(ACTIVITY_AVAILABLE));
    assert_eq!(rig.activity_sid(), ACTIVITY_AVAILABLE);
    let profile = rig.profile().await;
    assert_eq!(
        (profile.activity, profile.cooldown_until),
        (Some(Activity::Available), None)
    );

    // A repeated tick, and two overlapping ones, do nothing more.
    let (a, b) = tokio::join!(rig.tick(until + 60), rig.tick(until + 60));
    for run in [rig.tick(until).await, a, b] {
        assert_eq!(run, report(0, 0));
    }
    assert_eq!(rig.twilio.worker_updates().len(), updates + 1);
    assert!(
        rig.twilio.messages_sent().is_empty(),
        "no SMS for a cooldown"
    );
    rig.twilio.assert_spec_valid();
}

#[tokio::test]
async fn consecutive_misses_double_the_cooldown_and_the_third_takes_the_worker_off_with_one_sms() {
    let rig = rig().await;
    rig.missed(1, "busy").await;
    let first = rig.profile().await.cooldown_until.expect("cooling down");
    assert_eq!(rig.tick(first).await, report(1, 1));
    let before = now_secs();
    rig.missed(2, "machine_start").await;
    let second = rig.profile().await.cooldown_until.expect("cooling down");
    assert!(
        (before + 240..=now_secs() + 240).contains(&second),
        "doubled"
    );
    assert_eq!(rig.tick(second).await, report(1, 1));
    rig.missed(3, "no-key").await;
    assert_eq!(rig.activity_sid(), ACTIVITY_OFFLINE);
    let profile = rig.profile().await;
    assert_eq!(
        (profile.activity, profile.misses, profile.cooldown_until),
        (Some(Activity::Offline), 3, None)
    );
    let sms = rig.twilio.messages_sent();
    assert_eq!(sms.len(), 1, "one SMS: {sms:?}");
    assert_eq!(sms[0].param("To"), Some(PHONE));
    assert!(
        sms[0].param("Body").is_some_and(|b| b.contains("Text ON")),
        "{sms:?}"
    );
    // A later tick leaves an Offline worker Offline.
    let updates = rig.twilio.worker_updates().len();
    assert_eq!(rig.tick(second + 3_600).await, report(0, 0));
    assert_eq!(rig.twilio.worker_updates().len(), updates);
    rig.twilio.assert_spec_valid();
}

/// TaskRouter refuses the move back at the cooldown's end: the profile is
/// put back as it was, so the next tick tries again, and the worker is not
/// left benched while their profile says they are back.
#[tokio::test]
async fn a_move_back_that_failed_is_tried_again_at_the_next_tick() {
    let rig = rig().await;
    rig.missed(1, "no-answer").await;
    let until = rig.profile().await.cooldown_until.expect("cooling down");
    rig.twilio.fail_next(Route::UpdateWorker, 1, 400);
    assert_eq!(
        rig.tick(until).await,
        json!({ "due": 1, "moved": 0, "failed": 1, "cut_short": false })
    );
    assert_eq!(rig.activity_sid(), ACTIVITY_UNAVAILABLE);
    assert_eq!(
        rig.profile().await.cooldown_until,
        Some(until),
        "put back, still due"
    );
    assert_eq!(rig.tick(until + 60).await, report(1, 1));
    assert_eq!(rig.activity_sid(), ACTIVITY_AVAILABLE);
    let profile = rig.profile().await;
    assert_eq!(
        (profile.activity, profile.cooldown_until),
        (Some(Activity::Available), None)
    );
    rig.twilio.assert_spec_valid();
}

#[tokio::test]
async fn a_worker_who_went_off_during_the_cooldown_stays_off() {
    let rig = rig().await;
    rig.missed(1, "no-answer").await;
    let mut profile = rig.profile().await;
    let until = profile.cooldown_until.expect("cooling down");
    // TaskRouter reported the console's Offline (taskrouter-events).
    profile.activity = Some(Activity::Offline);
    assert!(
        rig.app
            .store
            .put_worker(&profile)
            .await
            .expect("put")
            .applied()
    );
    let updates = rig.twilio.worker_updates().len();
    assert_eq!(rig.tick(until).await, report(1, 0));
    assert_eq!(rig.twilio.worker_updates().len(), updates, "no REST update");
    assert_eq!(rig.profile().await.cooldown_until, None);
    rig.twilio.assert_spec_valid();
}
