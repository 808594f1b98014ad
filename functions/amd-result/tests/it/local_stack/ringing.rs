//! Acceptance scenarios for ringing a worker (issues 4 and 8): `assignment`,
//! `amd-result` and `dial-status` on DynamoDB Local and the Twilio fake, every
//! Twilio request checked against Twilio's OpenAPI spec (Prism).
//!
//! Run with `scripts/local-stack.sh run -- cargo test -p amd-result`.

use std::time::{Duration, Instant};

use homeline_core::App;
use homeline_core::model::{Activity, Attempt, AttemptState, FollowUpReason, WorkerProfile};
use homeline_core::service::{call_record, callback};
use homeline_core::store::{AttemptStore, DynamoStore, Marker, WaitStore, WorkerStore, now_secs};
use lambda_http::{Body, Response};
use serde_json::{Value, json};
use testkit::dynamo::fresh_store;
use testkit::events::{badly_signed_form_request, body_text, form_request};
use testkit::twilio_fake::{Failure, RecordedRequest, Route, TwilioFake};
use testkit::{
    ACTIVITY_AVAILABLE, ACTIVITY_UNAVAILABLE, CALLER_ID, PUBLIC_BASE_URL, sid, test_config,
};

const PHONE: &str = "+15551230001";

struct Rig {
    twilio: TwilioFake,
    app: App<DynamoStore>,
    worker_sid: String,
    task_sid: String,
    reservation_sid: String,
}

async fn setup(mode: &str) -> Rig {
    rig_with(&[("ANSWER_MODE", mode)]).await
}

async fn rig_with(settings: &[(&str, &str)]) -> Rig {
    let twilio = TwilioFake::start().await;
    let mut overrides: Vec<(&str, &str)> = twilio.config_overrides().to_vec();
    overrides.extend_from_slice(settings);
    let config = test_config(&overrides);
    let store = fresh_store().await;
    let worker_sid = twilio.add_worker(
        "Ann",
        &json!({"contact_uri": PHONE, "skills": ["sales"]}),
        ACTIVITY_AVAILABLE,
    );
    let mut profile = WorkerProfile::new(PHONE, "Ann", vec!["sales".into()]);
    profile.worker_sid = Some(worker_sid.clone());
    profile.activity = Some(Activity::Available);
    assert!(store.put_worker(&profile).await.expect("store").applied());
    let (task_sid, reservation_sid) = (sid("WT", 1), sid("WR", 1));
    twilio.add_reservation(&task_sid, &reservation_sid, &worker_sid);
    Rig {
        app: App::new(config, store),
        twilio,
        worker_sid,
        task_sid,
        reservation_sid,
    }
}

impl Rig {
    fn assignment_params(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AccountSid", testkit::ACCOUNT_SID.to_string()),
            ("WorkspaceSid", testkit::WORKSPACE_SID.to_string()),
            ("WorkflowSid", testkit::WORKFLOW_SID.to_string()),
            ("TaskQueueSid", sid("WQ", 1)),
            ("WorkerSid", self.worker_sid.clone()),
            (
                "WorkerAttributes",
                json!({"contact_uri": PHONE, "skills": ["sales"]}).to_string(),
            ),
            ("TaskSid", self.task_sid.clone()),
            (
                "TaskAttributes",
                json!({"skill": "sales", "call_sid": sid("CA", 9), "caller": "+15559870000"})
                    .to_string(),
            ),
            ("TaskAge", "3".into()),
            ("TaskPriority", "0".into()),
            ("ReservationSid", self.reservation_sid.clone()),
        ]
    }

    async fn assign(&self) -> Response<Body> {
        let owned = self.assignment_params();
        let pairs: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assignment::handle(self.app.clone(), form_request("/assignment", &[], &pairs)).await
    }

    /// The assignment callback for a task with these attributes.
    async fn assign_task(&self, task: &Value) -> Response<Body> {
        let mut owned = self.assignment_params();
        for (name, value) in &mut owned {
            if *name == "TaskAttributes" {
                *value = task.to_string();
            }
        }
        let pairs: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assignment::handle(self.app.clone(), form_request("/assignment", &[], &pairs)).await
    }

    /// The worker leg's SID (the fake's answer to the one Calls create).
    fn call_sid(&self) -> String {
        let created = self.twilio.calls_created();
        assert_eq!(created.len(), 1, "exactly one call to the worker");
        created[0]
            .sid
            .clone()
            .expect("the fake gave the call a SID")
    }

    /// A webhook about the worker leg, signed, with the attempt in the query.
    async fn leg(&self, path: &str, params: &[(&str, &str)]) -> (u16, String) {
        let call_sid = self.call_sid();
        let mut all = vec![
            ("AccountSid", testkit::ACCOUNT_SID),
            ("CallSid", call_sid.as_str()),
            ("From", CALLER_ID),
            ("To", PHONE),
            ("Direction", "outbound-api"),
        ];
        all.extend_from_slice(params);
        let query = [
            ("TaskSid", self.task_sid.as_str()),
            ("ReservationSid", self.reservation_sid.as_str()),
        ];
        let request = form_request(path, &query, &all);
        let response = if path == "/dial-status" {
            dial_status::handle(self.app.clone(), request).await
        } else {
            amd_result::handle(self.app.clone(), request).await
        };
        (response.status().as_u16(), body_text(&response))
    }

    async fn status(&self, status: &str, sip: &str) -> u16 {
        self.leg(
            "/dial-status",
            &[
                ("CallStatus", status),
                ("SipResponseCode", sip),
                ("CallDuration", "0"),
            ],
        )
        .await
        .0
    }

    async fn attempt(&self) -> Attempt {
        self.app
            .store
            .get_attempt(&self.task_sid, &self.reservation_sid)
            .await
            .expect("store")
            .expect("the attempt is recorded")
    }

    async fn profile(&self) -> WorkerProfile {
        self.app
            .store
            .get_worker(PHONE)
            .await
            .expect("store")
            .expect("profile")
    }

    /// Stores `profile` over the worker's (as the test arranges it).
    async fn put_profile(&self, profile: &WorkerProfile) {
        let written = self.app.store.put_worker(profile).await.expect("store");
        assert!(written.applied());
    }

    /// Every reject sent, whatever Twilio answered.
    fn rejects(&self) -> Vec<RecordedRequest> {
        self.twilio
            .requests_for(Route::UpdateReservation)
            .into_iter()
            .filter(|r| r.param("ReservationStatus") == Some("rejected"))
            .collect()
    }

    fn redirects(&self) -> Vec<RecordedRequest> {
        self.twilio
            .call_updates()
            .into_iter()
            .filter(|r| r.param("Url").is_some())
            .collect()
    }

    fn hangups(&self) -> Vec<RecordedRequest> {
        self.twilio
            .call_updates()
            .into_iter()
            .filter(|r| r.param("Status") == Some("completed"))
            .collect()
    }

    fn leg_url(&self, path: &str) -> String {
        format!(
            "{PUBLIC_BASE_URL}{path}?TaskSid={}&ReservationSid={}",
            self.task_sid, self.reservation_sid
        )
    }

    fn expected_bridge(&self) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Say>Homeline call for sales.</Say><Dial action="{}"><Queue reservationSid="{}" postWorkActivitySid="{ACTIVITY_AVAILABLE}"/></Dial></Response>"#,
            self.leg_url("/amd-result/after-bridge")
                .replace('&', "&amp;"),
            self.reservation_sid
        )
    }

    fn expected_prompt(&self) -> String {
        let key = self.leg_url("/amd-result/key").replace('&', "&amp;");
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Gather input="dtmf" numDigits="1" timeout="8" action="{key}"><Say>Homeline call for sales. Press 1 to take it.</Say></Gather><Redirect>{key}</Redirect></Response>"#
        )
    }

    /// One reject with the unavailable activity, the worker Unavailable in
    /// TaskRouter and in the table for the first miss's cooldown (120 s),
    /// and no SMS: the scheduler puts them back.
    async fn assert_one_miss(&self, outcome: &str) {
        let rejects = self.rejects();
        assert_eq!(rejects.len(), 1, "one reject: {rejects:?}");
        assert_eq!(
            rejects[0].param("WorkerActivitySid"),
            Some(ACTIVITY_UNAVAILABLE)
        );
        assert_eq!(
            rejects[0].path_sid("Reservations"),
            Some(self.reservation_sid.as_str())
        );
        let worker = self.twilio.worker(&self.worker_sid).expect("worker");
        assert_eq!(worker.activity_sid, ACTIVITY_UNAVAILABLE);
        let profile = self.profile().await;
        assert_eq!(profile.activity, Some(Activity::Unavailable));
        assert_eq!((profile.misses, profile.missed_total), (1, 1));
        let cooldown = profile.cooldown_until.expect("cooling down") - now_secs();
        assert!((110..=120).contains(&cooldown), "{cooldown} s");
        let sms = self.twilio.messages_sent();
        assert!(sms.is_empty(), "no SMS for a cooldown: {sms:?}");
        let attempt = self.attempt().await;
        assert_eq!(attempt.state, AttemptState::Missed);
        assert_eq!(attempt.outcome.as_deref(), Some(outcome));
        self.twilio.assert_spec_valid();
    }
}

fn is_empty_twiml(body: &str) -> bool {
    body.ends_with("<Response/>")
}

#[tokio::test]
async fn happy_path_sync_places_one_call_and_bridges_a_human() {
    let rig = setup("sync").await;
    let response = rig.assign().await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().expect("ascii"),
        "application/json"
    );
    assert_eq!(body_text(&response), "{}");
    let created = rig.twilio.calls_created();
    assert_eq!(created.len(), 1);
    let call = &created[0];
    assert_eq!(call.param("To"), Some(PHONE));
    assert_eq!(call.param("From"), Some(CALLER_ID));
    assert_eq!(call.param("Url"), Some(rig.leg_url("/amd-result").as_str()));
    assert_eq!(
        call.param("StatusCallback"),
        Some(rig.leg_url("/dial-status").as_str())
    );
    // Twilio's default: only the final `completed` event.
    assert!(call.params("StatusCallbackEvent").is_empty());
    assert_eq!(call.param("Timeout"), Some("20"));
    assert_eq!(call.param("MachineDetection"), Some("Enable"));
    assert_eq!(call.param("MachineDetectionTimeout"), Some("5"));
    assert_eq!(call.param("AsyncAmd"), None);
    let attempt = rig.attempt().await;
    assert_eq!(attempt.state, AttemptState::Dialing);
    assert_eq!(attempt.call_sid, Some(rig.call_sid()));

    let (status, twiml) = rig.leg("/amd-result", &[("AnsweredBy", "human")]).await;
    assert_eq!(status, 200);
    assert_eq!(twiml, rig.expected_bridge());
    assert_eq!(rig.status("completed", "200").await, 200);
    let attempt = rig.attempt().await;
    assert_eq!(attempt.state, AttemptState::Completed);
    assert_eq!(attempt.outcome.as_deref(), Some("human"));
    assert_eq!(attempt.sip_response_code, Some(200));
    assert!(rig.rejects().is_empty());
    // The `<Queue reservationSid>` accepts; never REST as well (docs/twilio.md,
    // "Pitfall: double accept").
    assert!(rig.twilio.requests_for(Route::UpdateReservation).is_empty());
    assert_eq!(rig.profile().await.answered_total, 1);
    rig.twilio.assert_spec_valid();
}

/// The wait estimate's samples (issue 15 point 3): an answer notes how long
/// its caller waited, from the task's creation (`TaskAge` at the offer) to
/// the answer, once; a miss notes nothing.
#[tokio::test]
async fn an_answer_notes_its_caller_s_wait_for_the_estimate_once() {
    let rig = setup("sync").await;
    rig.assign().await;
    let offered = rig.attempt().await;
    assert_eq!(offered.queued_at, Some(offered.created_at - 3));
    rig.leg("/amd-result", &[("AnsweredBy", "human")]).await;
    rig.leg("/amd-result", &[("AnsweredBy", "human")]).await;
    let waits = rig.app.store.recent_waits("sales").await.expect("readable");
    assert_eq!(waits.waits.len(), 1, "one answer, one sample: {waits:?}");
    let waited = waits.waits[0].wait_secs;
    assert!(
        (3..=5).contains(&waited),
        "TaskAge 3 and the ring: {waited}"
    );

    let missed = setup("sync").await;
    missed.assign().await;
    missed
        .leg("/amd-result", &[("AnsweredBy", "machine_start")])
        .await;
    let none = missed
        .app
        .store
        .recent_waits("sales")
        .await
        .expect("readable");
    assert!(none.waits.is_empty(), "{none:?}");
}

#[tokio::test]
async fn the_bridge_ending_completes_the_task_once() {
    let rig = setup("sync").await;
    rig.assign().await;
    rig.leg("/amd-result", &[("AnsweredBy", "human")]).await;
    // The `<Dial><Queue>` accepted; the call ended, the task wraps up.
    rig.twilio.set_task_status(&rig.task_sid, "wrapping");
    for _ in 0..2 {
        let (status, twiml) = rig
            .leg(
                "/amd-result/after-bridge",
                &[("DialCallStatus", "completed")],
            )
            .await;
        assert_eq!(status, 200);
        assert!(twiml.ends_with("<Response><Hangup/></Response>"), "{twiml}");
    }
    assert_eq!(
        rig.twilio.task_status(&rig.task_sid).as_deref(),
        Some("completed")
    );
    let updates = rig.twilio.requests_for(Route::UpdateTask);
    assert_eq!(updates.len(), 2, "each Dial action completes: {updates:?}");
    assert_eq!(updates[0].param("AssignmentStatus"), Some("completed"));
    assert_eq!(updates[1].status, 400, "the second finds it settled");
    rig.twilio.assert_spec_valid();
}

/// The worker attributes as Homeline writes them, with `score`.
fn scored(score: u32) -> Value {
    json!({"contact_uri": PHONE, "skills": ["sales"], "name": "Ann", "answer_score": score})
}

/// Issue 17: the answer score the workflow orders a skill's workers by
/// (`domain::answers`). A miss lowers it in the one worker update that
/// starts the cooldown, keeping every other attribute.
#[tokio::test]
async fn a_miss_lowers_the_answer_score_in_the_update_that_cools_the_worker_down() {
    let rig = setup("sync").await;
    rig.assign().await;
    rig.status("no-answer", "487").await;
    rig.status("no-answer", "487").await;
    rig.assert_one_miss("no-answer").await;
    let updates = rig.twilio.worker_updates();
    assert_eq!(updates.len(), 1, "one update moves and scores: {updates:?}");
    assert_eq!(updates[0].param("ActivitySid"), Some(ACTIVITY_UNAVAILABLE));
    let worker = rig.twilio.worker(&rig.worker_sid).expect("worker");
    // One miss, the answer given in advance: 1 of 2.
    assert_eq!(worker.attributes_json(), scored(50));
    let profile = rig.profile().await;
    assert_eq!(profile.answers.letters(), "m");
    let missed_at = profile.answers.last_miss_at.expect("the miss's time");
    assert!((now_secs() - missed_at).abs() <= 5, "{missed_at}");
}

/// An answer raises the score when the bridge ends, before the task is
/// completed (the worker is offered nothing before that), never while the
/// caller waits for the bridge.
#[tokio::test]
async fn an_answer_raises_the_answer_score_when_the_bridge_ends_before_the_task_completes() {
    let rig = setup("sync").await;
    let mut profile = rig.profile().await;
    profile.answers.recent = vec![false];
    profile.answers.last_miss_at = Some(now_secs());
    rig.put_profile(&profile).await;
    rig.assign().await;
    let (_, twiml) = rig.leg("/amd-result", &[("AnsweredBy", "human")]).await;
    assert_eq!(twiml, rig.expected_bridge());
    assert!(
        rig.twilio.worker_updates().is_empty(),
        "nothing between the answer and the bridge"
    );
    assert_eq!(rig.profile().await.answers.letters(), "ma");
    rig.twilio.set_task_status(&rig.task_sid, "wrapping");
    rig.leg(
        "/amd-result/after-bridge",
        &[("DialCallStatus", "completed")],
    )
    .await;
    let worker = rig.twilio.worker(&rig.worker_sid).expect("worker");
    // 2 of 3 (the answer given in advance), the miss barely forgiven yet.
    assert_eq!(worker.attributes_json(), scored(75));
    let order: Vec<Route> = rig
        .twilio
        .requests()
        .into_iter()
        .filter_map(|r| r.route)
        .filter(|r| matches!(r, Route::UpdateWorker | Route::UpdateTask))
        .collect();
    assert_eq!(order, [Route::UpdateWorker, Route::UpdateTask]);
    let update = &rig.twilio.worker_updates()[0];
    assert_eq!(
        update.param("ActivitySid"),
        None,
        "the activity is TaskRouter's"
    );
    rig.twilio.assert_spec_valid();
}

#[tokio::test]
async fn hybrid_call_create_carries_async_amd_and_its_callback() {
    let rig = setup("hybrid").await;
    assert_eq!(body_text(&rig.assign().await), "{}");
    let created = rig.twilio.calls_created();
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].param("MachineDetection"), Some("Enable"));
    assert_eq!(created[0].param("AsyncAmd"), Some("true"));
    assert_eq!(
        created[0].param("AsyncAmdStatusCallback"),
        Some(rig.leg_url("/amd-result/verdict").as_str())
    );
    rig.twilio.assert_spec_valid();
}

#[tokio::test]
async fn machine_and_fax_verdicts_reject_hang_up_and_take_the_worker_out() {
    for verdict in ["machine_start", "fax"] {
        let rig = setup("sync").await;
        rig.assign().await;
        for _ in 0..2 {
            let (status, twiml) = rig.leg("/amd-result", &[("AnsweredBy", verdict)]).await;
            assert_eq!(status, 200);
            assert!(twiml.ends_with("<Response><Hangup/></Response>"), "{twiml}");
        }
        rig.assert_one_miss(verdict).await;
    }
}

#[tokio::test]
async fn unreached_statuses_reject_once_and_take_the_worker_out() {
    for (status, sip) in [
        ("busy", "486"),
        ("no-answer", "487"),
        ("failed", "503"),
        ("canceled", "487"),
    ] {
        let rig = setup("hybrid").await;
        rig.assign().await;
        assert_eq!(rig.status(status, sip).await, 200);
        assert_eq!(rig.status(status, sip).await, 200);
        rig.assert_one_miss(status).await;
        assert_eq!(
            rig.attempt().await.sip_response_code,
            Some(sip.parse().expect("number"))
        );
    }
}

#[tokio::test]
async fn sync_unknown_prompts_and_key_one_bridges() {
    let rig = setup("sync").await;
    rig.assign().await;
    let (_, twiml) = rig.leg("/amd-result", &[("AnsweredBy", "unknown")]).await;
    assert_eq!(twiml, rig.expected_prompt());
    let (_, twiml) = rig.leg("/amd-result/key", &[("Digits", "1")]).await;
    assert_eq!(twiml, rig.expected_bridge());
    assert_eq!(rig.attempt().await.outcome.as_deref(), Some("key"));
    assert!(rig.rejects().is_empty());
    rig.twilio.assert_spec_valid();
}

#[tokio::test]
async fn sync_unknown_without_a_key_is_a_miss() {
    let rig = setup("sync").await;
    rig.assign().await;
    rig.leg("/amd-result", &[("AnsweredBy", "unknown")]).await;
    // The prompt's fall-through: the key route without Digits.
    let (_, twiml) = rig.leg("/amd-result/key", &[]).await;
    assert!(twiml.ends_with("<Response><Hangup/></Response>"), "{twiml}");
    rig.assert_one_miss("no-key").await;
}

#[tokio::test]
async fn status_before_amd_and_amd_before_status_decide_once() {
    // Status first: busy decides; the late verdict only hangs up.
    let rig = setup("sync").await;
    rig.assign().await;
    rig.status("busy", "486").await;
    let (_, twiml) = rig
        .leg("/amd-result", &[("AnsweredBy", "machine_start")])
        .await;
    assert!(twiml.ends_with("<Response><Hangup/></Response>"), "{twiml}");
    rig.assert_one_miss("busy").await;

    // Verdict first: the machine decides; completed only records the SIP code.
    let rig = setup("sync").await;
    rig.assign().await;
    rig.leg("/amd-result", &[("AnsweredBy", "machine_start")])
        .await;
    rig.status("completed", "200").await;
    rig.status("completed", "200").await;
    rig.assert_one_miss("machine_start").await;
    assert_eq!(rig.attempt().await.sip_response_code, Some(200));
}

#[tokio::test]
async fn a_settled_reservation_answering_400_is_not_an_error() {
    let rig = setup("hybrid").await;
    rig.assign().await;
    rig.twilio
        .set_reservation_status(&rig.task_sid, &rig.reservation_sid, "timeout");
    assert_eq!(rig.status("no-answer", "487").await, 200);
    let rejects = rig.rejects();
    assert_eq!(rejects.len(), 1);
    assert_eq!(rejects[0].status, 400, "the fake answers as Twilio does");
    assert_eq!(rig.attempt().await.state, AttemptState::Missed);
    rig.twilio.assert_spec_valid();
}

#[tokio::test]
async fn a_reject_twilio_fails_at_first_is_retried_within_the_budget() {
    let rig = setup("hybrid").await;
    rig.assign().await;
    rig.twilio.fail_next(Route::UpdateReservation, 2, 503);
    assert_eq!(rig.status("busy", "486").await, 200);
    let accepted = rig.twilio.reservation_updates();
    assert_eq!(accepted.len(), 1, "{accepted:?}");
    assert_eq!(
        rig.twilio
            .reservation_status(&rig.reservation_sid)
            .as_deref(),
        Some("rejected")
    );
    assert!(rig.twilio.messages_sent().is_empty(), "a cooldown, no SMS");
    assert!(rig.profile().await.cooldown_until.is_some());
    rig.twilio.assert_spec_valid();
}

#[tokio::test]
async fn slow_twilio_still_answers_inside_the_budget() {
    let rig = setup("hybrid").await;
    rig.twilio.delay(Route::CreateCall, Duration::from_secs(2));
    let started = Instant::now();
    let response = rig.assign().await;
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_millis(3600), "{elapsed:?}");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(body_text(&response), "{}");
    rig.twilio.assert_spec_valid();
}

#[tokio::test]
async fn failing_twilio_gets_a_reject_instruction_inside_the_budget() {
    let rig = rig_with(&[("ANSWER_MODE", "hybrid"), ("ADMIN_NUMBERS", "+15550000001")]).await;
    rig.twilio
        .fail_next_with(Route::CreateCall, 100, Failure::status(503));
    let started = Instant::now();
    let response = rig.assign().await;
    assert!(started.elapsed() < Duration::from_millis(3600));
    let body: Value = serde_json::from_str(&body_text(&response)).expect("json");
    assert_eq!(
        body,
        json!({"instruction": "reject", "activity_sid": testkit::ACTIVITY_OFFLINE})
    );
    assert_eq!(rig.attempt().await.state, AttemptState::Missed);
    // The instruction took the worker off duty; the SMS tells the admin.
    let sms = rig.twilio.messages_sent();
    assert_eq!(sms.len(), 1, "{sms:?}");
    assert_eq!(sms[0].param("To"), Some("+15550000001"));
    assert!(
        rig.rejects().is_empty(),
        "no REST reject besides the instruction"
    );

    // Twilio refusing the number outright (21211): the same.
    let rig = setup("hybrid").await;
    rig.twilio.fail_next_with(
        Route::CreateCall,
        1,
        Failure::twilio(400, 21211, "The 'To' number is not a valid phone number."),
    );
    let body: Value = serde_json::from_str(&body_text(&rig.assign().await)).expect("json");
    assert_eq!(body["instruction"], "reject");
}

#[tokio::test]
async fn a_repeated_assignment_callback_rings_once() {
    let rig = setup("hybrid").await;
    assert_eq!(body_text(&rig.assign().await), "{}");
    assert_eq!(body_text(&rig.assign().await), "{}");
    assert_eq!(rig.twilio.calls_created().len(), 1);
}

/// A caller who left the queue (pressed 2, had the last offer, went to
/// voicemail) while their task still routes: the offer rings nobody and
/// cancels the task; the worker is neither blamed nor moved.
#[tokio::test]
async fn an_offer_for_a_caller_who_left_the_queue_rings_nobody_and_cancels_the_task() {
    let rig = setup("hybrid").await;
    let caller = sid("CA", 9);
    let left = Marker::CallerLeaves { call_sid: &caller };
    assert!(left.claim(&rig.app.store).await.expect("store").applied());
    assert_eq!(body_text(&rig.assign().await), "{}");
    assert!(rig.twilio.calls_created().is_empty(), "no phone rung");
    let cancels = rig.twilio.requests_for(Route::UpdateTask);
    assert_eq!(cancels.len(), 1, "{cancels:?}");
    assert_eq!(cancels[0].path_sid("Tasks"), Some(rig.task_sid.as_str()));
    assert_eq!(cancels[0].param("AssignmentStatus"), Some("canceled"));
    let attempt = rig
        .app
        .store
        .get_attempt(&rig.task_sid, &rig.reservation_sid)
        .await
        .expect("store");
    assert!(attempt.is_none(), "no attempt: nothing to settle");
    let profile = rig.profile().await;
    assert_eq!((profile.misses, profile.missed_total), (0, 0), "not blamed");
    assert_eq!(profile.activity, Some(Activity::Available));
    rig.twilio.assert_spec_valid();
}

/// The task's cancel fails: the reservation is rejected keeping the worker
/// Available, still without ringing them.
#[tokio::test]
async fn a_failed_cancel_for_a_caller_who_left_rejects_and_keeps_the_worker_available() {
    let rig = setup("hybrid").await;
    let caller = sid("CA", 9);
    let left = Marker::CallerLeaves { call_sid: &caller };
    assert!(left.claim(&rig.app.store).await.expect("store").applied());
    rig.twilio.fail_next(Route::UpdateTask, 20, 500);
    let body: Value = serde_json::from_str(&body_text(&rig.assign().await)).expect("JSON");
    assert_eq!(
        body,
        json!({"instruction": "reject", "activity_sid": ACTIVITY_AVAILABLE})
    );
    assert!(rig.twilio.calls_created().is_empty(), "no phone rung");
}

#[tokio::test]
async fn bad_signature_on_each_function_is_403_with_no_effect() {
    let rig = setup("hybrid").await;
    let owned = rig.assignment_params();
    let pairs: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let response = assignment::handle(
        rig.app.clone(),
        badly_signed_form_request("/assignment", &[], &pairs),
    )
    .await;
    assert_eq!(response.status().as_u16(), 403);
    let query = [
        ("TaskSid", rig.task_sid.as_str()),
        ("ReservationSid", rig.reservation_sid.as_str()),
    ];
    let leg = [
        ("AnsweredBy", "machine_start"),
        ("CallStatus", "busy"),
        ("Digits", "1"),
    ];
    for path in ["/amd-result", "/amd-result/verdict", "/amd-result/key"] {
        let r = amd_result::handle(
            rig.app.clone(),
            badly_signed_form_request(path, &query, &leg),
        )
        .await;
        assert_eq!(r.status().as_u16(), 403, "{path}");
    }
    let r = dial_status::handle(
        rig.app.clone(),
        badly_signed_form_request("/dial-status", &query, &leg),
    )
    .await;
    assert_eq!(r.status().as_u16(), 403);
    assert!(
        rig.app
            .store
            .list_attempts(&rig.task_sid)
            .await
            .expect("store")
            .is_empty()
    );
    assert!(rig.twilio.requests().is_empty());
    assert_eq!(rig.profile().await.misses, 0);
}

#[tokio::test]
async fn the_last_miss_allowed_takes_the_worker_off_duty_with_one_sms() {
    let rig = rig_with(&[("MISSES_BEFORE_OFFLINE", "3")]).await;
    let mut profile = rig.profile().await;
    profile.misses = 2;
    rig.put_profile(&profile).await;
    rig.assign().await;
    rig.status("no-answer", "487").await;
    rig.status("no-answer", "487").await;
    assert_eq!(rig.rejects().len(), 1);
    let worker = rig.twilio.worker(&rig.worker_sid).expect("worker");
    assert_eq!(worker.activity_sid, testkit::ACTIVITY_OFFLINE);
    let profile = rig.profile().await;
    assert_eq!(
        (profile.activity, profile.misses, profile.cooldown_until),
        (Some(Activity::Offline), 3, None)
    );
    let sms = rig.twilio.messages_sent();
    assert_eq!(sms.len(), 1, "one SMS: {sms:?}");
    assert_eq!(sms[0].param("To"), Some(PHONE));
    assert_eq!(sms[0].param("From"), Some(CALLER_ID));
    assert!(
        sms[0].param("Body").is_some_and(|b| b.contains("Text ON")),
        "{sms:?}"
    );
    rig.twilio.assert_spec_valid();
}

#[tokio::test]
async fn a_number_that_does_not_exist_takes_the_worker_off_and_texts_the_admins_once() {
    let rig = rig_with(&[("ADMIN_NUMBERS", "+15550000001")]).await;
    rig.assign().await;
    rig.status("failed", "404").await;
    rig.status("failed", "404").await;
    assert_eq!(rig.rejects().len(), 1);
    let worker = rig.twilio.worker(&rig.worker_sid).expect("worker");
    assert_eq!(worker.activity_sid, testkit::ACTIVITY_OFFLINE);
    let profile = rig.profile().await;
    assert_eq!(
        (profile.activity, profile.misses, profile.cooldown_until),
        (Some(Activity::Offline), 1, None)
    );
    let sms = rig.twilio.messages_sent();
    assert_eq!(sms.len(), 1, "one SMS, to the admin: {sms:?}");
    assert_eq!(sms[0].param("To"), Some("+15550000001"));
    assert!(
        sms[0]
            .param("Body")
            .is_some_and(|b| b.contains(PHONE) && b.contains("may be wrong")),
        "{sms:?}"
    );
    rig.twilio.assert_spec_valid();
}

#[tokio::test]
async fn a_worker_who_went_offline_meanwhile_stays_offline_untold() {
    let rig = setup("hybrid").await;
    rig.assign().await;
    let mut profile = rig.profile().await;
    profile.activity = Some(Activity::Offline);
    rig.put_profile(&profile).await;
    rig.status("no-answer", "487").await;
    assert_eq!(rig.rejects().len(), 1);
    assert_eq!(
        rig.twilio
            .worker(&rig.worker_sid)
            .expect("worker")
            .activity_sid,
        testkit::ACTIVITY_OFFLINE
    );
    assert!(rig.twilio.messages_sent().is_empty());
    assert_eq!(rig.profile().await.activity, Some(Activity::Offline));
    rig.twilio.assert_spec_valid();
}

// ---- hybrid: async AMD under the whisper, press 1 on doubt ----

#[tokio::test]
async fn hybrid_answer_plays_the_prompt_at_once() {
    let rig = setup("hybrid").await;
    rig.assign().await;
    let (_, twiml) = rig.leg("/amd-result", &[]).await;
    assert_eq!(twiml, rig.expected_prompt());
    assert_eq!(rig.attempt().await.state, AttemptState::Answered);
    assert!(rig.twilio.call_updates().is_empty());
}

#[tokio::test]
async fn hybrid_human_verdict_first_redirects_once_and_a_late_key_does_nothing() {
    let rig = setup("hybrid").await;
    rig.assign().await;
    rig.leg("/amd-result", &[]).await;
    for _ in 0..2 {
        let (status, body) = rig
            .leg("/amd-result/verdict", &[("AnsweredBy", "human")])
            .await;
        assert_eq!(status, 200);
        assert!(is_empty_twiml(&body), "{body}");
    }
    let redirects = rig.redirects();
    assert_eq!(redirects.len(), 1);
    assert_eq!(
        redirects[0].param("Url"),
        Some(rig.leg_url("/amd-result/bridge").as_str())
    );
    assert_eq!(
        redirects[0].path_sid("Calls"),
        Some(rig.call_sid().as_str())
    );
    let (_, bridge) = rig.leg("/amd-result/bridge", &[]).await;
    assert_eq!(bridge, rig.expected_bridge());
    let before = rig.twilio.requests().len();
    let (_, late) = rig.leg("/amd-result/key", &[("Digits", "1")]).await;
    assert!(!late.contains("<Dial"), "{late}");
    assert_eq!(rig.twilio.requests().len(), before);
    assert!(rig.rejects().is_empty());
    assert_eq!(rig.attempt().await.outcome.as_deref(), Some("human"));
    rig.twilio.assert_spec_valid();
}

#[tokio::test]
async fn hybrid_key_first_bridges_and_late_verdicts_do_nothing() {
    let rig = setup("hybrid").await;
    rig.assign().await;
    rig.leg("/amd-result", &[]).await;
    let (_, twiml) = rig.leg("/amd-result/key", &[("Digits", "1")]).await;
    assert_eq!(twiml, rig.expected_bridge());
    for verdict in ["human", "machine_start"] {
        rig.leg("/amd-result/verdict", &[("AnsweredBy", verdict)])
            .await;
    }
    assert!(rig.twilio.call_updates().is_empty());
    assert!(rig.rejects().is_empty());
    assert_eq!(rig.attempt().await.outcome.as_deref(), Some("key"));
    rig.status("completed", "200").await;
    assert_eq!(rig.attempt().await.state, AttemptState::Completed);
}

#[tokio::test]
async fn hybrid_machine_first_rejects_hangs_up_and_a_late_key_gets_a_goodbye() {
    let rig = setup("hybrid").await;
    rig.assign().await;
    rig.leg("/amd-result", &[]).await;
    rig.leg("/amd-result/verdict", &[("AnsweredBy", "machine_start")])
        .await;
    rig.leg("/amd-result/verdict", &[("AnsweredBy", "machine_start")])
        .await;
    let (_, late) = rig.leg("/amd-result/key", &[("Digits", "1")]).await;
    assert!(
        late.contains("Goodbye") && late.contains("<Hangup/>"),
        "{late}"
    );
    assert!(!late.contains("<Dial"));
    let hangups = rig.hangups();
    assert_eq!(hangups.len(), 1);
    assert_eq!(hangups[0].path_sid("Calls"), Some(rig.call_sid().as_str()));
    rig.status("completed", "200").await;
    rig.assert_one_miss("machine_start").await;
}

#[tokio::test]
async fn hybrid_no_key_and_unknown_is_one_miss_in_either_order() {
    for unknown_first in [true, false] {
        let rig = setup("hybrid").await;
        rig.assign().await;
        rig.leg("/amd-result", &[]).await;
        let unknown = [("AnsweredBy", "unknown")];
        if unknown_first {
            rig.leg("/amd-result/verdict", &unknown).await;
            assert!(rig.rejects().is_empty(), "unknown waits for the key");
        }
        rig.leg("/amd-result/key", &[]).await;
        rig.leg("/amd-result/key", &[]).await;
        if !unknown_first {
            rig.leg("/amd-result/verdict", &unknown).await;
        }
        rig.status("completed", "200").await;
        rig.assert_one_miss("no-key").await;
    }
}

#[tokio::test]
async fn hybrid_every_callback_twice_and_reordered_decides_once() {
    let rig = setup("hybrid").await;
    rig.assign().await;
    let human = [("AnsweredBy", "human")];
    // The verdict overtakes the answer URL, then everything comes twice.
    rig.leg("/amd-result/verdict", &human).await;
    let (_, first) = rig.leg("/amd-result", &[]).await;
    assert!(
        !first.contains("<Dial"),
        "never bridge in the first TwiML: {first}"
    );
    rig.leg("/amd-result", &[]).await;
    rig.leg("/amd-result/verdict", &human).await;
    rig.leg("/amd-result/bridge", &[]).await;
    rig.leg("/amd-result/bridge", &[]).await;
    rig.status("completed", "200").await;
    rig.status("completed", "200").await;
    assert_eq!(rig.redirects().len(), 1);
    assert!(rig.rejects().is_empty());
    assert!(rig.twilio.messages_sent().is_empty());
    assert_eq!(rig.profile().await.answered_total, 1);
    assert_eq!(rig.attempt().await.state, AttemptState::Completed);
    rig.twilio.assert_spec_valid();
}

#[tokio::test]
async fn concurrent_machine_verdict_and_key_press_decide_once() {
    for _ in 0..5 {
        let rig = setup("hybrid").await;
        rig.assign().await;
        rig.leg("/amd-result", &[]).await;
        let ((_, _), (_, key), status) = tokio::join!(
            rig.leg("/amd-result/verdict", &[("AnsweredBy", "machine_start")]),
            rig.leg("/amd-result/key", &[("Digits", "1")]),
            rig.status("busy", "486"),
        );
        assert_eq!(status, 200);
        let bridged = key.contains("<Dial");
        let rejects = rig.rejects().len();
        assert_eq!(
            usize::from(bridged) + rejects,
            1,
            "key reply {key}, {rejects} rejects"
        );
        assert!(rig.twilio.messages_sent().len() <= 1);
        let state = rig.attempt().await.state;
        // A bridged leg's later busy status only closes the attempt.
        let decided_bridge = matches!(state, AttemptState::Bridging | AttemptState::Completed);
        assert_eq!(decided_bridge, bridged, "{state:?}");
        rig.twilio.assert_spec_valid();
    }
}

/// The caller hanging up while the phone rings (docs/twilio.md, "Pitfall: caller
/// hangs up while ringing") at its narrowest: the caller hangs up (taskrouter-events closes
/// the attempt) while assignment is still placing the call, before it knows
/// the leg's SID. The new leg must be stopped, not left ringing.
#[tokio::test]
async fn a_leg_placed_after_the_caller_left_is_stopped_at_once() {
    let rig = setup("hybrid").await;
    rig.twilio
        .delay(Route::CreateCall, Duration::from_millis(800));
    let canceler = {
        let store = rig.app.store.clone();
        let (task_sid, reservation_sid) = (rig.task_sid.clone(), rig.reservation_sid.clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            store
                .transition(
                    &task_sid,
                    &reservation_sid,
                    &[AttemptState::Dialing, AttemptState::Answered],
                    AttemptState::Canceled,
                    &Default::default(),
                )
                .await
                .expect("store")
        })
    };
    let response = rig.assign().await;
    assert!(
        canceler.await.expect("joined").applied(),
        "the attempt was open when the caller left"
    );
    assert_eq!(response.status().as_u16(), 200);
    let call_sid = rig.call_sid();
    let cancels: Vec<_> = rig
        .twilio
        .call_updates()
        .into_iter()
        .filter(|r| r.param("Status") == Some("canceled"))
        .collect();
    assert_eq!(cancels.len(), 1, "the late leg is canceled once");
    assert_eq!(cancels[0].path_sid("Calls"), Some(call_sid.as_str()));
    rig.twilio.assert_spec_valid();
}

/// The caller's call record on the day of `rig`'s task (the test runs well
/// inside one local day).
async fn caller_record(rig: &Rig) -> homeline_core::model::CallRecord {
    use homeline_core::service::call_record;
    use homeline_core::store::{CallRecordStore, now_secs};
    let today = call_record::day(rig.app.config.time_zone, now_secs());
    let records = rig
        .app
        .store
        .list_call_records(&today)
        .await
        .expect("store");
    match records.as_slice() {
        [record] if record.call_sid == sid("CA", 9) => record.clone(),
        other => panic!("one record, of the caller's call: {other:?}"),
    }
}

#[tokio::test]
async fn the_caller_s_record_names_who_answered_and_who_missed_once() {
    let rig = setup("hybrid").await;
    rig.assign().await;
    rig.leg("/amd-result", &[]).await;
    let before = homeline_core::store::now_secs();
    for _ in 0..2 {
        rig.leg("/amd-result/key", &[("Digits", "1")]).await;
    }
    let record = caller_record(&rig).await;
    let answer = record.answer().expect("answered");
    assert_eq!(
        (answer.phone.as_str(), answer.reservation_sid.as_str()),
        (PHONE, rig.reservation_sid.as_str())
    );
    assert!(answer.at >= before, "{record:?}");
    assert_eq!(record.answers.len(), 1, "noted once: {record:?}");
    assert_eq!(record.missed_by, Vec::<String>::new());

    let rig = setup("sync").await;
    rig.assign().await;
    for _ in 0..2 {
        rig.leg("/amd-result", &[("AnsweredBy", "machine_start")])
            .await;
    }
    let record = caller_record(&rig).await;
    assert_eq!(record.missed_by, [PHONE]);
    assert_eq!(record.answers, []);
}

/// The worker pressed 1 as the caller left the queue (or as the reservation
/// went elsewhere): the bridge's `<Dial>` failed, so the caller's record
/// does not count that answer as theirs; the next worker's may.
#[tokio::test]
async fn an_answer_whose_bridge_failed_does_not_answer_the_caller() {
    let rig = setup("sync").await;
    rig.assign().await;
    let (_, twiml) = rig.leg("/amd-result", &[("AnsweredBy", "human")]).await;
    assert_eq!(twiml, rig.expected_bridge());
    let record = caller_record(&rig).await;
    assert_eq!(record.answer().map(|a| a.phone.as_str()), Some(PHONE));
    for _ in 0..2 {
        let (status, _) = rig
            .leg("/amd-result/after-bridge", &[("DialCallStatus", "failed")])
            .await;
        assert_eq!(status, 200);
    }
    let record = caller_record(&rig).await;
    assert_eq!(
        record.unbridged,
        std::slice::from_ref(&rig.reservation_sid),
        "once"
    );
    assert_eq!(record.answer(), None, "{record:?}");
    assert_eq!(
        homeline_core::domain::report::outcome(&record),
        homeline_core::domain::report::CallOutcome::Other
    );
    rig.twilio.assert_spec_valid();
}

// ---- what the worker's phone shows (WORKER_CALLER_ID) ----

const CUSTOMER: &str = "+15557654321";

/// A customer's call waiting in the queue, as inbound enqueued it under
/// `WORKER_CALLER_ID=caller`: the task names the call, TaskRouter's `from`
/// and the token Twilio gave the call.
fn customer_task(call_sid: &str, from: &str, token: &str) -> Value {
    json!({"skill": "sales", "call_sid": call_sid, "from": from, "call_token": token})
}

#[tokio::test]
async fn with_caller_the_worker_sees_the_customer_s_number_and_the_whisper_names_the_business() {
    let rig = rig_with(&[("ANSWER_MODE", "hybrid"), ("WORKER_CALLER_ID", "caller")]).await;
    let (call_sid, token) = rig.twilio.inbound_call(CUSTOMER);
    let answer = rig
        .assign_task(&customer_task(&call_sid, CUSTOMER, &token))
        .await;
    assert_eq!(body_text(&answer), "{}");
    let created = rig.twilio.requests_for(Route::CreateCall);
    assert_eq!(created.len(), 1, "one create, accepted: {created:?}");
    assert!(created[0].succeeded());
    assert_eq!(created[0].param("From"), Some(CUSTOMER));
    assert_eq!(created[0].param("CallToken"), Some(token.as_str()));
    assert_eq!(created[0].param("To"), Some(PHONE));
    // The whisper is the business's, whatever the phone showed.
    let (_, twiml) = rig.leg("/amd-result", &[]).await;
    assert_eq!(twiml, rig.expected_prompt());
    rig.twilio.assert_spec_valid();
}

#[tokio::test]
async fn with_caller_a_withheld_number_rings_the_worker_from_the_business() {
    let rig = rig_with(&[("WORKER_CALLER_ID", "caller")]).await;
    let (call_sid, token) = rig.twilio.inbound_call("anonymous");
    let answer = rig
        .assign_task(&customer_task(&call_sid, "anonymous", &token))
        .await;
    assert_eq!(body_text(&answer), "{}");
    let created = rig.twilio.requests_for(Route::CreateCall);
    assert_eq!(created.len(), 1, "{created:?}");
    assert_eq!(created[0].param("From"), Some(CALLER_ID));
    assert_eq!(created[0].param("CallToken"), None);
    assert!(created[0].succeeded());
    rig.twilio.assert_spec_valid();
}

/// The customer's call ended before the worker was rung (or Twilio no
/// longer takes its token): Twilio refuses the customer's number (21210),
/// and the worker is rung from the business's number instead, once.
#[tokio::test]
async fn with_caller_a_refused_token_still_rings_the_worker_from_the_business() {
    let rig = rig_with(&[("ANSWER_MODE", "hybrid"), ("WORKER_CALLER_ID", "caller")]).await;
    let (call_sid, token) = rig.twilio.inbound_call(CUSTOMER);
    rig.twilio.set_call_status(&call_sid, "completed");
    let answer = rig
        .assign_task(&customer_task(&call_sid, CUSTOMER, &token))
        .await;
    assert_eq!(body_text(&answer), "{}", "pending: the worker is rung");
    let creates = rig.twilio.requests_for(Route::CreateCall);
    assert_eq!(creates.len(), 2, "{creates:?}");
    assert_eq!(
        (creates[0].status, creates[0].param("From")),
        (400, Some(CUSTOMER))
    );
    assert_eq!(creates[1].param("From"), Some(CALLER_ID));
    assert_eq!(creates[1].param("CallToken"), None);
    let leg = rig.call_sid();
    let attempt = rig.attempt().await;
    assert_eq!(attempt.state, AttemptState::Dialing);
    assert_eq!(attempt.call_sid.as_deref(), Some(leg.as_str()));
    assert!(rig.rejects().is_empty(), "no miss for the display");
    rig.twilio.assert_spec_valid();
}

#[tokio::test]
async fn with_business_the_worker_sees_the_business_even_when_the_task_has_a_token() {
    let rig = setup("hybrid").await;
    let (call_sid, token) = rig.twilio.inbound_call(CUSTOMER);
    rig.assign_task(&customer_task(&call_sid, CUSTOMER, &token))
        .await;
    let created = rig.twilio.requests_for(Route::CreateCall);
    assert_eq!(created.len(), 1, "{created:?}");
    assert_eq!(created[0].param("From"), Some(CALLER_ID));
    assert_eq!(created[0].param("CallToken"), None);
    rig.twilio.assert_spec_valid();
}

// ---- returning callers (STICKY_DAYS) ----

/// Who the store remembers as `caller`'s last worker.
async fn last_worker_of(rig: &Rig, caller: &str) -> Option<homeline_core::model::LastWorker> {
    use homeline_core::store::LastWorkerStore as _;
    rig.app.store.last_worker(caller).await.expect("store")
}

#[tokio::test]
async fn an_answer_remembers_the_worker_for_the_caller_and_a_miss_does_not() {
    let task = json!({"skill": "sales", "call_sid": sid("CA", 9), "from": CUSTOMER});
    let rig = setup("sync").await;
    rig.assign_task(&task).await;
    let before = now_secs();
    rig.leg("/amd-result", &[("AnsweredBy", "human")]).await;
    let last = last_worker_of(&rig, CUSTOMER).await.expect("remembered");
    assert_eq!(last.worker_sid, rig.worker_sid);
    assert_eq!((last.phone.as_str(), last.skill.as_str()), (PHONE, "sales"));
    assert!(last.answered_at >= before, "{last:?}");

    let rig = setup("sync").await;
    rig.assign_task(&task).await;
    rig.leg("/amd-result", &[("AnsweredBy", "machine_start")])
        .await;
    assert_eq!(last_worker_of(&rig, CUSTOMER).await, None, "a miss");
}

#[tokio::test]
async fn a_withheld_caller_or_sticky_days_zero_is_never_remembered() {
    for (from, sticky_days) in [("+266696687", "30"), (CUSTOMER, "0")] {
        let rig = rig_with(&[("ANSWER_MODE", "sync"), ("STICKY_DAYS", sticky_days)]).await;
        let task = json!({"skill": "sales", "call_sid": sid("CA", 9), "from": from});
        rig.assign_task(&task).await;
        rig.leg("/amd-result", &[("AnsweredBy", "human")]).await;
        assert_eq!(rig.profile().await.answered_total, 1, "answered");
        assert_eq!(
            last_worker_of(&rig, from).await,
            None,
            "{from} {sticky_days}"
        );
    }
}

#[tokio::test]
async fn the_whisper_says_returning_caller_only_to_the_worker_the_task_names() {
    let rig = setup("hybrid").await;
    let task = json!({
        "skill": "sales",
        "call_sid": sid("CA", 9),
        "from": CUSTOMER,
        "last_worker_sid": rig.worker_sid,
        "returning": true,
    });
    rig.assign_task(&task).await;
    assert!(rig.attempt().await.returning, "stored with the attempt");
    let (_, twiml) = rig.leg("/amd-result", &[]).await;
    let returning = "Homeline call for sales, returning caller. Press 1 to take it.";
    assert_eq!(
        twiml,
        rig.expected_prompt()
            .replace("Homeline call for sales. Press 1 to take it.", returning)
    );
    // The bridge's whisper (sync AMD) says it too.
    let rig = setup("sync").await;
    let task = json!({"skill": "sales", "from": CUSTOMER, "last_worker_sid": rig.worker_sid});
    rig.assign_task(&task).await;
    let (_, twiml) = rig.leg("/amd-result", &[("AnsweredBy", "human")]).await;
    assert!(
        twiml.contains("<Say>Homeline call for sales, returning caller.</Say><Dial"),
        "{twiml}"
    );

    // Everyone else (the known worker's step timed out) hears the usual whisper.
    let rig = setup("hybrid").await;
    let task = json!({"skill": "sales", "from": CUSTOMER, "last_worker_sid": sid("WK", 0x77)});
    rig.assign_task(&task).await;
    assert!(!rig.attempt().await.returning);
    let (_, twiml) = rig.leg("/amd-result", &[]).await;
    assert_eq!(twiml, rig.expected_prompt());
}

// ---- callbacks (keep my place): the same leg, a different bridge ----

const WAITED_SECS: i64 = 240;

/// A callback task's attributes, as `service::callback` writes them.
fn callback_task(try_no: u32) -> Value {
    json!({
        "type": "callback",
        "skill": "sales",
        "callback_number": CUSTOMER,
        "original_call_sid": sid("CA", 9),
        "queued_at": now_secs() - WAITED_SECS,
        "try": try_no,
    })
}

impl Rig {
    /// A callback task offered, answered as unknown, 1 pressed: the answer.
    async fn callback_key_one(&self, try_no: u32) -> String {
        assert_eq!(
            body_text(&self.assign_task(&callback_task(try_no)).await),
            "{}"
        );
        let (_, prompt) = self.leg("/amd-result", &[("AnsweredBy", "unknown")]).await;
        let key = self.leg_url("/amd-result/key").replace('&', "&amp;");
        assert_eq!(
            prompt,
            format!(
                r#"<?xml version="1.0" encoding="UTF-8"?><Response><Gather input="dtmf" numDigits="1" timeout="8" action="{key}"><Say>Callback for sales, caller waited 4 minutes. Press 1 to call them.</Say></Gather><Redirect>{key}</Redirect></Response>"#
            )
        );
        self.leg("/amd-result/key", &[("Digits", "1")]).await.1
    }

    fn expected_callback_dial(&self) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Say>Callback for sales, caller waited 4 minutes.</Say><Dial action="{}" callerId="{CALLER_ID}" timeout="20"><Number>{CUSTOMER}</Number></Dial></Response>"#,
            self.leg_url("/amd-result/after-bridge")
                .replace('&', "&amp;"),
        )
    }

    async fn after_callback(&self, dial_call_status: &str) -> String {
        let (status, twiml) = self
            .leg(
                "/amd-result/after-bridge",
                &[("DialCallStatus", dial_call_status)],
            )
            .await;
        assert_eq!(status, 200);
        twiml
    }

    /// The original call's record, today.
    async fn original_record(&self) -> Option<homeline_core::model::CallRecord> {
        use homeline_core::store::CallRecordStore as _;
        let today = call_record::day(self.app.config.time_zone, now_secs());
        let records = self
            .app
            .store
            .list_call_records(&today)
            .await
            .expect("listed");
        records.into_iter().find(|r| r.call_sid == sid("CA", 9))
    }
}

#[tokio::test]
async fn a_callback_rings_the_worker_with_the_wait_and_1_dials_the_customer_from_the_business() {
    let rig = setup("sync").await;
    let answer = rig.callback_key_one(1).await;
    assert_eq!(answer, rig.expected_callback_dial());
    let accepts: Vec<RecordedRequest> = rig
        .twilio
        .requests_for(Route::UpdateReservation)
        .into_iter()
        .filter(|r| r.param("ReservationStatus") == Some("accepted"))
        .collect();
    assert_eq!(
        accepts.len(),
        1,
        "the reservation is taken over REST: {accepts:?}"
    );
    assert_eq!(
        rig.twilio.task_status(&rig.task_sid).as_deref(),
        Some("assigned")
    );
    // They talked for 90 s: the Dial's action comes when they hang up.
    let (status, after) = rig
        .leg(
            "/amd-result/after-bridge",
            &[("DialCallStatus", "completed"), ("DialCallDuration", "90")],
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        after,
        r#"<?xml version="1.0" encoding="UTF-8"?><Response><Hangup/></Response>"#
    );
    let ended = now_secs();
    assert_eq!(
        rig.twilio.task_status(&rig.task_sid).as_deref(),
        Some("completed"),
        "the customer reached: the task is done"
    );
    let record = rig.original_record().await.expect("the call's record");
    let answer = record.answer().expect("answered");
    assert_eq!(answer.phone, PHONE);
    assert_eq!(record.callback_missed_at, None);
    let answered = answer.at;
    assert!(
        (ended - 95..=ended - 89).contains(&answered),
        "answered when the customer picked up, not when they hung up: {answered} vs {ended}"
    );
    rig.twilio.assert_spec_valid();
}

#[tokio::test]
async fn a_callback_whose_reservation_is_gone_dials_nobody() {
    let rig = setup("sync").await;
    rig.twilio
        .set_reservation_status(&rig.task_sid, &rig.reservation_sid, "timeout");
    let answer = rig.callback_key_one(1).await;
    assert!(
        answer.ends_with(
            "<Say>This call is no longer waiting for you. Goodbye.</Say><Hangup/></Response>"
        ),
        "{answer}"
    );
    assert!(!answer.contains("<Dial"), "{answer}");
    rig.twilio.assert_spec_valid();
}

#[tokio::test]
async fn a_customer_who_does_not_answer_is_tried_once_more_after_callback_retry_mins() {
    let rig = rig_with(&[("ANSWER_MODE", "sync"), ("CALLBACK_RETRY_MINS", "10")]).await;
    // The caller's call as inbound recorded it: queued for sales, then 1.
    let deadline = homeline_core::Deadline::after(Duration::from_secs(10));
    let steps = [
        call_record::Step::Queued { skill: "sales" },
        call_record::Step::CallbackRequested { number: CUSTOMER },
    ];
    let queued_at = now_secs() - WAITED_SECS;
    call_record::note(&rig.app, &sid("CA", 9), queued_at, &steps, deadline).await;
    assert_eq!(rig.callback_key_one(1).await, rig.expected_callback_dial());
    let said = rig.after_callback("no-answer").await;
    assert!(said.contains("We will try them again later."), "{said}");
    assert_eq!(
        rig.twilio.task_status(&rig.task_sid).as_deref(),
        Some("completed"),
        "the worker is free again"
    );
    let missed_at = rig
        .original_record()
        .await
        .and_then(|r| r.callback_missed_at)
        .expect("the miss is noted on the call's record");
    let early = callback::retry_due(&rig.app, missed_at + 599, deadline)
        .await
        .expect("run");
    assert_eq!(early.retried, 0, "not before CALLBACK_RETRY_MINS");
    assert!(rig.twilio.requests_for(Route::CreateTask).is_empty());
    for _ in 0..2 {
        callback::retry_due(&rig.app, missed_at + 600, deadline)
            .await
            .expect("run");
    }
    let created = rig.twilio.requests_for(Route::CreateTask);
    assert_eq!(created.len(), 1, "retried once: {created:?}");
    let attributes: Value =
        serde_json::from_str(created[0].param("Attributes").expect("attributes")).expect("JSON");
    assert_eq!(attributes["type"], "callback");
    assert_eq!(attributes["try"], 2);
    assert_eq!(attributes["callback_number"], CUSTOMER);
    let place = chrono::DateTime::from_timestamp(queued_at, 0)
        .expect("a time")
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    assert_eq!(
        created[0].param("VirtualStartTime"),
        Some(place.as_str()),
        "the retry keeps the caller's place too"
    );
    rig.twilio.assert_spec_valid();
}

#[tokio::test]
async fn a_customer_the_retry_does_not_reach_becomes_a_follow_up() {
    use homeline_core::store::FollowUpStore as _;
    let rig = setup("sync").await;
    assert_eq!(rig.callback_key_one(2).await, rig.expected_callback_dial());
    let said = rig.after_callback("busy").await;
    assert!(said.contains("They are now a follow-up"), "{said}");
    let follow_up = rig
        .app
        .store
        .get_follow_up(&sid("CA", 9))
        .await
        .expect("read")
        .expect("a follow-up for the caller");
    assert_eq!(follow_up.reason, FollowUpReason::CallbackMissed);
    assert_eq!(follow_up.caller, CUSTOMER);
    assert_eq!(follow_up.skill, "sales");
    assert_eq!(
        rig.twilio.task_status(&rig.task_sid).as_deref(),
        Some("completed")
    );
    rig.twilio.assert_spec_valid();
}
