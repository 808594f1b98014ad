//! Workspace events through the handler, on DynamoDB Local and the Twilio
//! fake (every REST request checked against Twilio's spec). Attempts are
//! written straight into the store, as the assignment callback would.
//! Run under `scripts/local-stack.sh run -- cargo test -p taskrouter-events`.

use homeline_core::App;
use homeline_core::model::{Activity, Attempt, AttemptState, TaskKind, WorkerProfile};
use homeline_core::store::{AttemptStore, DynamoStore, Marker, WorkerStore, now_secs};
use lambda_http::http::StatusCode;
use serde_json::json;
use testkit::dynamo::fresh_store;
use testkit::events::{badly_signed_form_request, form_request};
use testkit::twilio_fake::{Route, TwilioFake};
use testkit::{
    ACCOUNT_SID, ACTIVITY_AVAILABLE, ACTIVITY_OFFLINE, ACTIVITY_UNAVAILABLE, NO_WORKER_QUEUE_SID,
    PUBLIC_BASE_URL, WORKSPACE_SID, sid,
};

const WORKER_PHONE: &str = "+15550001111";

struct Line {
    app: App<DynamoStore>,
    twilio: TwilioFake,
}

async fn line() -> Line {
    let twilio = TwilioFake::start().await;
    let config = twilio.config();
    Line {
        app: App::new(config, fresh_store().await),
        twilio,
    }
}

impl Line {
    async fn event(&self, params: &[(&str, &str)]) -> StatusCode {
        let mut all = vec![("AccountSid", ACCOUNT_SID), ("WorkspaceSid", WORKSPACE_SID)];
        all.extend_from_slice(params);
        taskrouter_events::handle(
            self.app.clone(),
            form_request("/taskrouter-events", &[], &all),
        )
        .await
        .status()
    }

    /// An attempt as the assignment callback records it, moved on to `state`.
    async fn attempt(&self, task: &str, reservation: &str, leg: &str, state: AttemptState) {
        let attempt = dialing(task, reservation, &sid("WK", 1), Some(leg));
        assert!(
            self.app
                .store
                .create_attempt(&attempt)
                .await
                .expect("create")
                .applied()
        );
        if state != AttemptState::Dialing {
            let moved = self
                .app
                .store
                .transition(
                    task,
                    reservation,
                    &[AttemptState::Dialing],
                    state,
                    &Default::default(),
                )
                .await
                .expect("transition");
            assert!(moved.applied());
        }
    }

    async fn state(&self, task: &str, reservation: &str) -> AttemptState {
        self.app
            .store
            .get_attempt(task, reservation)
            .await
            .expect("get")
            .expect("attempt exists")
            .state
    }

    /// Requests to `route`, answered or not.
    fn count(&self, route: Route) -> usize {
        self.twilio.requests_for(route).len()
    }

    /// Call updates for one call SID, as (Status, Url) pairs.
    fn updates_of(&self, call_sid: &str) -> Vec<(Option<String>, Option<String>)> {
        self.twilio
            .requests_for(Route::UpdateCall)
            .iter()
            .filter(|r| r.path_sid("Calls") == Some(call_sid))
            .map(|r| {
                (
                    r.param("Status").map(str::to_string),
                    r.param("Url").map(str::to_string),
                )
            })
            .collect()
    }
}

/// A fresh attempt of `worker_sid` whose leg is `leg` (`None`: not placed yet).
fn dialing(task: &str, reservation: &str, worker_sid: &str, leg: Option<&str>) -> Attempt {
    Attempt {
        reservation_sid: reservation.to_string(),
        task_sid: task.to_string(),
        worker_sid: worker_sid.to_string(),
        phone: WORKER_PHONE.to_string(),
        skill: "sales".to_string(),
        caller_call_sid: Some(sid("CA", 0xc0)),
        caller: None,
        returning: false,
        queued_at: None,
        kind: TaskKind::Call,
        call_sid: leg.map(str::to_string),
        state: AttemptState::Dialing,
        outcome: None,
        sip_response_code: None,
        created_at: now_secs(),
    }
}

/// The task entered the queue nobody serves.
fn nobody_queue_entered<'a>(task_sid: &'a str, attributes: &'a str) -> [(&'a str, &'a str); 4] {
    [
        ("EventType", "task-queue.entered"),
        ("TaskSid", task_sid),
        ("TaskQueueSid", NO_WORKER_QUEUE_SID),
        ("TaskAttributes", attributes),
    ]
}

fn activity_update<'a>(
    worker_sid: &'a str,
    activity_sid: &'a str,
    attributes: &'a str,
) -> [(&'a str, &'a str); 4] {
    [
        ("EventType", "worker.activity.update"),
        ("WorkerSid", worker_sid),
        ("WorkerActivitySid", activity_sid),
        ("WorkerAttributes", attributes),
    ]
}

fn task_attributes(call_sid: &str) -> String {
    json!({"skill": "sales", "call_sid": call_sid, "from": "+15557654321", "to": "+15550009999"})
        .to_string()
}

#[tokio::test]
async fn no_worker_queue_entered_redirects_to_voicemail_and_cancels_the_task_once() {
    let line = line().await;
    let (task, caller) = (sid("WT", 1), sid("CA", 1));
    let attributes = task_attributes(&caller);
    let event = nobody_queue_entered(&task, &attributes);
    assert_eq!(line.event(&event).await, StatusCode::NO_CONTENT);
    assert_eq!(line.event(&event).await, StatusCode::NO_CONTENT, "repeated");

    let voicemail = format!("{PUBLIC_BASE_URL}/inbound/voicemail?skill=sales");
    assert_eq!(line.updates_of(&caller), vec![(None, Some(voicemail))]);
    let cancels = line.twilio.requests_for(Route::UpdateTask);
    assert_eq!(cancels.len(), 1);
    assert_eq!(cancels[0].path_sid("Tasks"), Some(task.as_str()));
    assert_eq!(cancels[0].param("AssignmentStatus"), Some("canceled"));
    assert!(cancels[0].param("Reason").is_some_and(|r| !r.is_empty()));
    line.twilio.assert_spec_valid();
}

#[tokio::test]
async fn workflow_timeout_tolerates_an_ended_call_and_a_settled_task() {
    let line = line().await;
    let (task, caller) = (sid("WT", 2), sid("CA", 2));
    line.twilio.set_call_status(&caller, "completed");
    line.twilio.set_task_status(&task, "canceled");
    let attributes = task_attributes(&caller);
    let event = [
        ("EventType", "workflow.timeout"),
        ("TaskSid", task.as_str()),
        ("TaskAttributes", attributes.as_str()),
    ];
    assert_eq!(line.event(&event).await, StatusCode::NO_CONTENT);
    assert_eq!(line.event(&event).await, StatusCode::NO_CONTENT);
    assert_eq!(line.count(Route::UpdateCall), 1, "tried once, not again");
    assert_eq!(line.count(Route::UpdateTask), 1);
    line.twilio.assert_spec_valid();
}

#[tokio::test]
async fn entering_a_staffed_queue_does_nothing() {
    let line = line().await;
    let attributes = task_attributes(&sid("CA", 3));
    let status = line
        .event(&[
            ("EventType", "task-queue.entered"),
            ("TaskSid", &sid("WT", 3)),
            ("TaskQueueSid", &sid("WQ", 0x5a1e5)),
            ("TaskAttributes", &attributes),
        ])
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(line.twilio.requests().is_empty());
}

#[tokio::test]
async fn caller_hangs_up_while_the_worker_phone_rings_the_leg_is_canceled_once() {
    let line = line().await;
    let (task, leg) = (sid("WT", 4), sid("CA", 0x40));
    let (ringing, decided) = (sid("WR", 1), sid("WR", 2));
    line.attempt(&task, &ringing, &leg, AttemptState::Dialing)
        .await;
    line.attempt(&task, &decided, &sid("CA", 0x41), AttemptState::Missed)
        .await;

    let event = [
        ("EventType", "task.canceled"),
        ("TaskSid", task.as_str()),
        ("TaskCanceledReason", "hangup"),
    ];
    assert_eq!(line.event(&event).await, StatusCode::NO_CONTENT);
    assert_eq!(line.event(&event).await, StatusCode::NO_CONTENT, "repeated");
    // The reservation's own cancel event arrives too.
    let reservation_canceled = [
        ("EventType", "reservation.canceled"),
        ("TaskSid", task.as_str()),
        ("ReservationSid", ringing.as_str()),
    ];
    assert_eq!(
        line.event(&reservation_canceled).await,
        StatusCode::NO_CONTENT
    );

    assert_eq!(
        line.updates_of(&leg),
        vec![(Some("canceled".to_string()), None)]
    );
    assert_eq!(
        line.count(Route::UpdateCall),
        1,
        "the decided attempt is left alone"
    );
    assert_eq!(line.state(&task, &ringing).await, AttemptState::Canceled);
    assert_eq!(line.state(&task, &decided).await, AttemptState::Missed);
    line.twilio.assert_spec_valid();
}

#[tokio::test]
async fn an_answered_leg_is_hung_up_when_its_reservation_is_rescinded() {
    let line = line().await;
    let (task, reservation, leg) = (sid("WT", 5), sid("WR", 5), sid("CA", 0x50));
    line.attempt(&task, &reservation, &leg, AttemptState::Answered)
        .await;
    let event = [
        ("EventType", "reservation.rescinded"),
        ("TaskSid", task.as_str()),
        ("ReservationSid", reservation.as_str()),
    ];
    assert_eq!(line.event(&event).await, StatusCode::NO_CONTENT);
    assert_eq!(
        line.updates_of(&leg),
        vec![(Some("completed".to_string()), None)]
    );
    assert_eq!(
        line.state(&task, &reservation).await,
        AttemptState::Canceled
    );
    line.twilio.assert_spec_valid();
}

#[tokio::test]
async fn reservation_timeout_while_ringing_hangs_up_and_takes_the_worker_out_of_rotation() {
    let line = line().await;
    let worker_sid = line.twilio.add_worker(
        "Ann",
        &json!({"skills": ["sales"], "contact_uri": WORKER_PHONE}),
        ACTIVITY_AVAILABLE,
    );
    let mut profile = WorkerProfile::new(WORKER_PHONE, "Ann", vec!["sales".into()]);
    profile.worker_sid = Some(worker_sid.clone());
    profile.activity = Some(Activity::Available);
    assert!(
        line.app
            .store
            .put_worker(&profile)
            .await
            .expect("put")
            .applied()
    );
    let (task, reservation, leg) = (sid("WT", 6), sid("WR", 6), sid("CA", 0x60));
    let attempt = dialing(&task, &reservation, &worker_sid, Some(&leg));
    assert!(
        line.app
            .store
            .create_attempt(&attempt)
            .await
            .expect("create")
            .applied()
    );

    let event = [
        ("EventType", "reservation.timeout"),
        ("TaskSid", task.as_str()),
        ("ReservationSid", reservation.as_str()),
        ("WorkerSid", worker_sid.as_str()),
    ];
    assert_eq!(line.event(&event).await, StatusCode::NO_CONTENT);
    assert_eq!(line.event(&event).await, StatusCode::NO_CONTENT, "repeated");

    assert_eq!(
        line.updates_of(&leg),
        vec![(Some("canceled".to_string()), None)]
    );
    assert_eq!(
        line.state(&task, &reservation).await,
        AttemptState::Canceled
    );
    let stored = line
        .app
        .store
        .get_worker(WORKER_PHONE)
        .await
        .expect("get")
        .expect("profile");
    assert_eq!(stored.misses, 1, "one miss, counted once");
    assert!(stored.cooldown_until.is_some(), "cooling down");
    let fake_worker = line.twilio.worker(&worker_sid).expect("worker");
    assert_eq!(
        fake_worker.activity_sid, ACTIVITY_UNAVAILABLE,
        "out of rotation until the cooldown ends"
    );
    line.twilio.assert_spec_valid();
}

#[tokio::test]
async fn worker_activity_follows_taskrouter() {
    let line = line().await;
    let worker_sid = sid("WK", 7);
    let mut profile = WorkerProfile::new(WORKER_PHONE, "Ann", vec!["sales".into()]);
    profile.worker_sid = Some(worker_sid.clone());
    profile.activity = Some(Activity::Available);
    assert!(
        line.app
            .store
            .put_worker(&profile)
            .await
            .expect("put")
            .applied()
    );
    let attributes = json!({"skills": ["sales"], "contact_uri": WORKER_PHONE}).to_string();
    let update = |activity| activity_update(&worker_sid, activity, &attributes);

    assert_eq!(
        line.event(&update(ACTIVITY_OFFLINE)).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        line.event(&update(ACTIVITY_OFFLINE)).await,
        StatusCode::NO_CONTENT
    );
    let stored = line
        .app
        .store
        .get_worker(WORKER_PHONE)
        .await
        .expect("get")
        .expect("profile");
    assert_eq!(stored.activity, Some(Activity::Offline));
    assert_eq!(stored.version, 2, "a repeated update writes nothing");

    // An activity Homeline does not know, and a worker not enrolled: ignored.
    let unknown = sid("WA", 0xdd);
    assert_eq!(line.event(&update(&unknown)).await, StatusCode::NO_CONTENT);
    let stranger = json!({"contact_uri": "+15559990000"}).to_string();
    let status = line
        .event(&[
            ("EventType", "worker.activity.update"),
            ("WorkerSid", &sid("WK", 8)),
            ("WorkerActivitySid", ACTIVITY_AVAILABLE),
            ("WorkerAttributes", &stranger),
        ])
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let stored = line
        .app
        .store
        .get_worker(WORKER_PHONE)
        .await
        .expect("get")
        .expect("profile");
    assert_eq!(stored.activity, Some(Activity::Offline));
    assert!(
        line.app
            .store
            .get_worker("+15559990000")
            .await
            .expect("get")
            .is_none()
    );
    assert!(line.twilio.requests().is_empty());
}

#[tokio::test]
async fn unknown_events_are_acknowledged_and_ignored() {
    let line = line().await;
    let (task, reservation, leg) = (sid("WT", 9), sid("WR", 9), sid("CA", 0x90));
    line.attempt(&task, &reservation, &leg, AttemptState::Dialing)
        .await;
    for event_type in [
        "reservation.created",
        "task.created",
        "worker.capacity.update",
    ] {
        let status = line
            .event(&[
                ("EventType", event_type),
                ("TaskSid", &task),
                ("ReservationSid", &reservation),
            ])
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{event_type}");
    }
    assert_eq!(line.state(&task, &reservation).await, AttemptState::Dialing);
    assert!(line.twilio.requests().is_empty());
}

#[tokio::test]
async fn a_reservation_event_without_its_sid_is_a_bad_request() {
    let line = line().await;
    let status = line
        .event(&[
            ("EventType", "reservation.timeout"),
            ("TaskSid", &sid("WT", 10)),
        ])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn bad_signature_is_403_and_changes_nothing() {
    let line = line().await;
    let (task, reservation, leg) = (sid("WT", 11), sid("WR", 11), sid("CA", 0xb0));
    line.attempt(&task, &reservation, &leg, AttemptState::Dialing)
        .await;
    let attributes = task_attributes(&sid("CA", 11));
    for params in [
        vec![("EventType", "task.canceled"), ("TaskSid", task.as_str())],
        nobody_queue_entered(&task, &attributes).to_vec(),
    ] {
        let request = badly_signed_form_request("/taskrouter-events", &[], &params);
        let response = taskrouter_events::handle(line.app.clone(), request).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
    }
    assert_eq!(line.state(&task, &reservation).await, AttemptState::Dialing);
    assert!(line.twilio.requests().is_empty());
}

#[tokio::test]
async fn a_redirect_that_timed_out_is_left_to_the_wait_urls_heartbeat() {
    let line = line().await;
    let (task, caller) = (sid("WT", 12), sid("CA", 12));
    let attributes = task_attributes(&caller);
    let event = nobody_queue_entered(&task, &attributes);
    // Twilio answers the redirect after its share of the budget.
    line.twilio
        .delay(Route::UpdateCall, std::time::Duration::from_secs(12));
    assert_eq!(line.event(&event).await, StatusCode::NO_CONTENT);
    let routes: Vec<_> = line.twilio.requests().iter().map(|r| r.route).collect();
    assert_eq!(
        routes,
        vec![Some(Route::UpdateCall), Some(Route::UpdateTask)],
        "the redirect first, then the cancel, in time"
    );
    let leaves = Marker::CallerLeaves { call_sid: &caller };
    assert!(
        leaves.is_claimed(&line.app.store).await.expect("readable"),
        "the wait URL's next fetch lets the caller leave"
    );

    // A redelivery (Twilio documents none) neither redirects nor cancels again.
    line.twilio
        .delay(Route::UpdateCall, std::time::Duration::ZERO);
    assert_eq!(line.event(&event).await, StatusCode::NO_CONTENT);
    assert_eq!(line.count(Route::UpdateCall), 1, "no second redirect");
    assert_eq!(line.count(Route::UpdateTask), 1);
    line.twilio.assert_spec_valid();
}

#[tokio::test]
async fn an_attempt_whose_call_is_not_placed_yet_is_closed_without_a_hang_up() {
    let line = line().await;
    let (task, reservation) = (sid("WT", 13), sid("WR", 13));
    let attempt = dialing(&task, &reservation, &sid("WK", 13), None);
    assert!(
        line.app
            .store
            .create_attempt(&attempt)
            .await
            .expect("create")
            .applied()
    );
    let event = [("EventType", "task.canceled"), ("TaskSid", task.as_str())];
    assert_eq!(line.event(&event).await, StatusCode::NO_CONTENT);
    let stored = line
        .app
        .store
        .get_attempt(&task, &reservation)
        .await
        .expect("get")
        .expect("attempt");
    assert_eq!(stored.state, AttemptState::Canceled);
    assert_eq!(stored.outcome.as_deref(), Some("task-canceled"));
    assert!(line.twilio.requests().is_empty());
}

#[tokio::test]
async fn a_hang_up_that_timed_out_reopens_the_attempt_for_the_redelivered_event() {
    let line = line().await;
    let (task, reservation, leg) = (sid("WT", 14), sid("WR", 14), sid("CA", 0xe0));
    line.attempt(&task, &reservation, &leg, AttemptState::Dialing)
        .await;
    let event = [("EventType", "task.canceled"), ("TaskSid", task.as_str())];

    line.twilio
        .delay(Route::UpdateCall, std::time::Duration::from_secs(12));
    assert_eq!(line.event(&event).await, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(line.state(&task, &reservation).await, AttemptState::Dialing);

    line.twilio
        .delay(Route::UpdateCall, std::time::Duration::ZERO);
    assert_eq!(line.event(&event).await, StatusCode::NO_CONTENT);
    assert_eq!(
        line.state(&task, &reservation).await,
        AttemptState::Canceled
    );
    assert_eq!(
        line.count(Route::UpdateCall),
        2,
        "tried again after the timeout"
    );
    line.twilio.assert_spec_valid();
}

/// A callback task nobody took before TaskRouter canceled it (its TTL):
/// the caller was promised a call, so they become a follow-up, once; a
/// waiting caller's task canceled the same way opens none.
#[tokio::test]
async fn a_callback_canceled_before_anyone_took_it_becomes_a_follow_up() {
    use homeline_core::model::FollowUpReason;
    use homeline_core::store::FollowUpStore as _;
    let line = line().await;
    let (task, caller) = (sid("WT", 21), sid("CA", 21));
    let callback = json!({
        "type": "callback",
        "skill": "sales",
        "callback_number": "+15557654321",
        "original_call_sid": caller,
        "queued_at": now_secs() - 600,
        "try": 1,
    })
    .to_string();
    let event = [
        ("EventType", "task.canceled"),
        ("TaskSid", task.as_str()),
        ("TaskCanceledReason", "Task TTL Exceeded"),
        ("TaskAttributes", callback.as_str()),
    ];
    assert_eq!(line.event(&event).await, StatusCode::NO_CONTENT);
    assert_eq!(line.event(&event).await, StatusCode::NO_CONTENT, "repeated");
    let follow_up = line
        .app
        .store
        .get_follow_up(&caller)
        .await
        .expect("read")
        .expect("a follow-up for the caller");
    assert_eq!(follow_up.reason, FollowUpReason::CallbackMissed);
    assert_eq!(follow_up.caller, "+15557654321");
    assert_eq!(follow_up.skill, "sales");
    assert!(
        line.twilio.requests_for(Route::UpdateCall).is_empty(),
        "nobody on the line to redirect"
    );
    line.twilio.assert_spec_valid();
}
