//! The events/ fixtures: one signed API Gateway event per meaningful
//! situation of every function, with the status each must answer.
//!
//! `cargo run -p testkit --bin gen-events` writes them to `events/`; a test
//! checks the files equal what this catalogue generates, so they never drift,
//! and others feed each through its function: in-process
//! ([`assert_declared_answers`]), under cargo-lambda's emulator, and as the
//! built arm64 artifact.
//! The state they expect (an enrolled worker, open attempts) is described by
//! the constants here and seeded by [`seed_world`]; `sam local invoke`
//! against an empty table still gets a well-formed answer.

use homeline_core::model::{Attempt, AttemptState, TaskKind, WorkerProfile};
use homeline_core::routes::Function;
use homeline_core::store::{AttemptStore, DynamoStore, WorkerStore};
use serde_json::json;

use crate::events::{Signing, Webhook};
use crate::twilio_fake::TwilioFake;
use crate::{ACCOUNT_SID, CALLER_ID, NO_WORKER_QUEUE_SID, WORKFLOW_SID, WORKSPACE_SID};

/// The enrolled worker the fixtures speak for (skills: sales).
pub const WORKER_PHONE: &str = "+15551230001";
pub const WORKER_NAME: &str = "Ada";
pub const WORKER_SID: &str = "WK00000000000000000000000000000005";
/// A number that is not enrolled.
pub const STRANGER_PHONE: &str = "+15559990000";
/// The customer calling the business line.
pub const CUSTOMER_PHONE: &str = "+15557654321";
pub const CUSTOMER_CALL_SID: &str = "CA00000000000000000000000000000c01";
pub const WORKER_CALL_SID: &str = "CA00000000000000000000000000000c02";
pub const TASK_SID: &str = "WT00000000000000000000000000000003";
/// The reservation of the assignment fixture and of the human verdict.
pub const RESERVATION_SID: &str = "WR00000000000000000000000000000004";
/// Open attempts the other worker-leg fixtures refer to, one each.
pub const MACHINE_RESERVATION_SID: &str = "WR00000000000000000000000000000014";
pub const BUSY_RESERVATION_SID: &str = "WR00000000000000000000000000000024";
pub const NO_ANSWER_RESERVATION_SID: &str = "WR00000000000000000000000000000034";
pub const MESSAGE_SID: &str = "SM00000000000000000000000000000006";
pub const RECORDING_SID: &str = "RE00000000000000000000000000000007";
pub const SALES_QUEUE_SID: &str = "WQ00000000000000000000000000000008";

/// One fixture: its file name (without `.json`), the function (binary) it
/// is for, the webhook, and what the function must answer.
#[derive(Debug, Clone)]
pub struct Fixture {
    pub name: &'static str,
    pub function: &'static str,
    pub webhook: Webhook,
    pub status: u16,
    /// A fragment the body must contain (TwiML verbs, JSON).
    pub body_contains: Option<&'static str>,
}

impl Fixture {
    /// Checks an answer the fixture got `via` some entry point (HTTP, an
    /// emulator, a built artifact) against what the catalogue declares.
    pub fn assert_answer(&self, via: &str, status: u16, body: &str) {
        assert_eq!(status, self.status, "{} {via} answered {body}", self.name);
        if let Some(fragment) = self.body_contains {
            assert!(
                body.contains(fragment),
                "{} {via}: {fragment:?} not in {body}",
                self.name
            );
        }
    }
}

fn sms(body: &str, from: &str) -> Webhook {
    Webhook::form(
        "/intake/sms",
        &[
            ("ToCountry", "US"),
            ("SmsMessageSid", MESSAGE_SID),
            ("NumMedia", "0"),
            ("SmsSid", MESSAGE_SID),
            ("SmsStatus", "received"),
            ("Body", body),
            ("To", CALLER_ID),
            ("NumSegments", "1"),
            ("MessageSid", MESSAGE_SID),
            ("AccountSid", ACCOUNT_SID),
            ("From", from),
            ("ApiVersion", "2010-04-01"),
        ],
    )
}

fn voice(path: &str, call_sid: &str, from: &str, extra: &[(&str, &str)]) -> Webhook {
    let mut params = vec![
        ("AccountSid", ACCOUNT_SID),
        ("ApiVersion", "2010-04-01"),
        ("CallSid", call_sid),
        ("CallStatus", "in-progress"),
        ("Called", CALLER_ID),
        ("Caller", from),
        ("Direction", "inbound"),
        ("From", from),
        ("To", CALLER_ID),
    ];
    params.extend_from_slice(extra);
    Webhook::form(path, &params)
}

/// A request on the worker's leg, as Twilio makes it for the call Homeline placed.
fn leg(path: &str, reservation_sid: &str, extra: &[(&str, &str)]) -> Webhook {
    let mut params = vec![
        ("AccountSid", ACCOUNT_SID),
        ("ApiVersion", "2010-04-01"),
        ("CallSid", WORKER_CALL_SID),
        ("Called", WORKER_PHONE),
        ("Direction", "outbound-api"),
        ("From", CALLER_ID),
        ("To", WORKER_PHONE),
    ];
    params.extend_from_slice(extra);
    Webhook::form(path, &params)
        .query(&[("TaskSid", TASK_SID), ("ReservationSid", reservation_sid)])
}

fn task_attributes() -> String {
    json!({
        "skill": "sales",
        "call_sid": CUSTOMER_CALL_SID,
        "from": CUSTOMER_PHONE,
        "to": CALLER_ID,
        "caller": CUSTOMER_PHONE,
        "called": CALLER_ID,
    })
    .to_string()
}

fn worker_attributes() -> String {
    json!({"contact_uri": WORKER_PHONE, "skills": ["sales"], "name": WORKER_NAME}).to_string()
}

fn event(event_type: &str, extra: &[(&str, &str)]) -> Webhook {
    let mut params = vec![
        ("AccountSid", ACCOUNT_SID),
        ("WorkspaceSid", WORKSPACE_SID),
        ("EventType", event_type),
        ("Timestamp", "1795615200"),
    ];
    params.extend_from_slice(extra);
    Webhook::form("/taskrouter-events", &params)
}

/// Every fixture, in the order the emulator test feeds them.
pub fn all() -> Vec<Fixture> {
    let task_attributes = task_attributes();
    let worker_attributes = worker_attributes();
    let fixture = |name, function, webhook, status, body_contains| Fixture {
        name,
        function,
        webhook,
        status,
        body_contains,
    };
    vec![
        // intake: the worker line
        fixture("intake-sms-on", "intake", sms("on sales", WORKER_PHONE), 200, Some("<Message>")),
        fixture("intake-sms-status", "intake", sms("status", WORKER_PHONE), 200, Some("<Message>")),
        fixture("intake-sms-off", "intake", sms("off", WORKER_PHONE), 200, Some("<Message>")),
        fixture("intake-sms-stranger", "intake", sms("on sales", STRANGER_PHONE), 200, Some("<Message>")),
        fixture(
            "intake-sms-bad-signature",
            "intake",
            sms("on sales", WORKER_PHONE).signing(Signing::Wrong),
            403,
            None,
        ),
        fixture(
            "intake-voice-call",
            "intake",
            voice("/intake/voice", "CA00000000000000000000000000000c03", WORKER_PHONE, &[]),
            200,
            Some("<Gather"),
        ),
        fixture(
            "intake-voice-menu-status",
            "intake",
            voice("/intake/voice/menu", "CA00000000000000000000000000000c03", WORKER_PHONE, &[("Digits", "3")]),
            200,
            Some("<Say"),
        ),
        // inbound: the customer line
        fixture(
            "inbound-call",
            "inbound",
            voice("/inbound", CUSTOMER_CALL_SID, CUSTOMER_PHONE, &[("CallStatus", "ringing")]),
            200,
            Some("<Gather"),
        ),
        fixture(
            "inbound-menu-digit",
            "inbound",
            voice("/inbound/menu", CUSTOMER_CALL_SID, CUSTOMER_PHONE, &[("Digits", "1")]),
            200,
            Some("<Enqueue"),
        ),
        fixture(
            "inbound-wait",
            "inbound",
            voice(
                "/inbound/wait",
                CUSTOMER_CALL_SID,
                CUSTOMER_PHONE,
                &[("QueuePosition", "2"), ("QueueTime", "30"), ("AvgQueueTime", "45"), ("CurrentQueueSize", "2")],
            ),
            200,
            Some("<Play"),
        ),
        fixture(
            "inbound-callback",
            "inbound",
            voice("/inbound/callback", CUSTOMER_CALL_SID, CUSTOMER_PHONE, &[]).query(&[("skill", "sales")]),
            200,
            Some("Press 1 to confirm"),
        ),
        fixture(
            "inbound-callback-key",
            "inbound",
            voice("/inbound/callback-key", CUSTOMER_CALL_SID, CUSTOMER_PHONE, &[("Digits", "911")])
                .query(&[("skill", "sales"), ("try", "1")]),
            200,
            Some("Sorry, we cannot call that number back."),
        ),
        fixture(
            "inbound-recording-completed",
            "inbound",
            Webhook::form(
                "/inbound/recording-status",
                &[
                    ("AccountSid", ACCOUNT_SID),
                    ("CallSid", CUSTOMER_CALL_SID),
                    ("RecordingSid", RECORDING_SID),
                    ("RecordingUrl", "https://api.twilio.com/2010-04-01/Accounts/AC00000000000000000000000000000001/Recordings/RE00000000000000000000000000000007"),
                    ("RecordingStatus", "completed"),
                    ("RecordingDuration", "14"),
                    ("RecordingChannels", "1"),
                    ("RecordingSource", "RecordVerb"),
                    ("RecordingStartTime", "Wed, 25 Nov 2026 14:00:00 +0000"),
                ],
            )
            .query(&[("skill", "sales"), ("caller", CUSTOMER_PHONE)]),
            200,
            None,
        ),
        // inbound: the customer's call ended (the number's status callback)
        fixture(
            "inbound-call-ended",
            "inbound",
            Webhook::form(
                "/inbound/call-ended",
                &[
                    ("AccountSid", ACCOUNT_SID),
                    ("ApiVersion", "2010-04-01"),
                    ("CallSid", CUSTOMER_CALL_SID),
                    ("CallStatus", "completed"),
                    ("CallDuration", "75"),
                    ("Called", CALLER_ID),
                    ("Caller", CUSTOMER_PHONE),
                    ("Direction", "inbound"),
                    ("From", CUSTOMER_PHONE),
                    ("To", CALLER_ID),
                ],
            ),
            200,
            None,
        ),
        // assignment: TaskRouter offers the task to the worker
        fixture(
            "assignment",
            "assignment",
            Webhook::form(
                "/assignment",
                &[
                    ("AccountSid", ACCOUNT_SID),
                    ("WorkspaceSid", WORKSPACE_SID),
                    ("WorkflowSid", WORKFLOW_SID),
                    ("TaskQueueSid", SALES_QUEUE_SID),
                    ("WorkerSid", WORKER_SID),
                    ("WorkerAttributes", &worker_attributes),
                    ("TaskSid", TASK_SID),
                    ("TaskAttributes", &task_attributes),
                    ("TaskAge", "3"),
                    ("TaskPriority", "0"),
                    ("ReservationSid", RESERVATION_SID),
                    ("Timestamp", "1795615200"),
                ],
            ),
            200,
            Some("{"),
        ),
        // amd-result: the worker's phone answered
        fixture(
            "amd-result-answered",
            "amd-result",
            leg("/amd-result", RESERVATION_SID, &[("CallStatus", "in-progress")]),
            200,
            Some("<Gather"),
        ),
        fixture(
            "amd-result-verdict-human",
            "amd-result",
            leg(
                "/amd-result/verdict",
                RESERVATION_SID,
                &[("AnsweredBy", "human"), ("MachineDetectionDuration", "1340")],
            ),
            200,
            None,
        ),
        fixture(
            "amd-result-verdict-machine",
            "amd-result",
            leg(
                "/amd-result/verdict",
                MACHINE_RESERVATION_SID,
                &[("AnsweredBy", "machine_start"), ("MachineDetectionDuration", "3120")],
            ),
            200,
            None,
        ),
        // dial-status: the worker's phone did not answer
        fixture(
            "dial-status-busy",
            "dial-status",
            leg(
                "/dial-status",
                BUSY_RESERVATION_SID,
                &[("CallStatus", "busy"), ("SipResponseCode", "486"), ("CallDuration", "0"), ("SequenceNumber", "0")],
            ),
            200,
            None,
        ),
        fixture(
            "dial-status-no-answer",
            "dial-status",
            leg(
                "/dial-status",
                NO_ANSWER_RESERVATION_SID,
                &[("CallStatus", "no-answer"), ("SipResponseCode", "487"), ("CallDuration", "0"), ("SequenceNumber", "0")],
            ),
            200,
            None,
        ),
        // taskrouter-events
        fixture(
            "taskrouter-events-no-worker-queue",
            "taskrouter-events",
            event(
                "task-queue.entered",
                &[
                    ("ResourceType", "task"),
                    ("ResourceSid", "WT00000000000000000000000000000013"),
                    ("TaskSid", "WT00000000000000000000000000000013"),
                    ("TaskAttributes", &task_attributes),
                    ("TaskQueueSid", NO_WORKER_QUEUE_SID),
                    ("TaskQueueName", "Nobody"),
                    ("WorkflowSid", WORKFLOW_SID),
                ],
            ),
            204,
            None,
        ),
        fixture(
            "taskrouter-events-task-canceled",
            "taskrouter-events",
            event(
                "task.canceled",
                &[
                    ("ResourceType", "task"),
                    ("ResourceSid", TASK_SID),
                    ("TaskSid", TASK_SID),
                    ("TaskAttributes", &task_attributes),
                    ("TaskAssignmentStatus", "canceled"),
                    ("TaskCanceledReason", "hangup"),
                ],
            ),
            204,
            None,
        ),
    ]
}

/// The fixture file's text: the event as pretty JSON with a final newline.
pub fn render(fixture: &Fixture) -> String {
    pretty(&fixture.webhook.event(), fixture.name)
}

/// The `scheduler`'s fixture (`events/scheduler-tick.json`): EventBridge's
/// scheduled event, no webhook. Its time is fixed and past, so a follow-up
/// made by the other fixtures is never due in it.
pub const SCHEDULER_TICK: &str = "scheduler-tick";

pub fn scheduler_tick() -> serde_json::Value {
    // 2026-11-25T14:00:00Z
    scheduler_tick_at(1_795_615_200)
}

/// EventBridge's scheduled event at `at` (Unix seconds), as it invokes the
/// `scheduler` every minute: every test and the simulated day tick with it.
pub fn scheduler_tick_at(at: i64) -> serde_json::Value {
    let time = chrono::DateTime::from_timestamp(at, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    json!({
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": time,
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/homeline-scheduler"],
        "detail": {},
    })
}

/// `events/scheduler-tick.json`'s text.
pub fn render_scheduler_tick() -> String {
    pretty(&scheduler_tick(), SCHEDULER_TICK)
}

fn pretty(event: &serde_json::Value, name: &str) -> String {
    let mut text = serde_json::to_string_pretty(event)
        .unwrap_or_else(|e| panic!("fixture {name} does not serialise: {e}"));
    text.push('\n');
    text
}

/// Runs every fixture, in catalogue order, through `handle` of the function
/// the route table says serves its path (which must be the function the
/// fixture names) and checks the declared answer, so every function keeps the
/// catalogue's promises. The catalogue must cover every function.
pub async fn assert_declared_answers<F, Fut>(handle: F)
where
    F: Fn(Function, lambda_http::Request) -> Fut,
    Fut: std::future::Future<Output = lambda_http::Response<lambda_http::Body>>,
{
    let all = all();
    for function in Function::ALL {
        assert!(
            all.iter().any(|f| f.function == function.binary()),
            "the catalogue lists no {} fixtures",
            function.binary()
        );
    }
    for fixture in all {
        let path = fixture.webhook.path();
        let function = Function::serving(path)
            .unwrap_or_else(|| panic!("{}: no function serves {path}", fixture.name));
        assert_eq!(
            function.binary(),
            fixture.function,
            "{}: the route table has {path} served by another function",
            fixture.name
        );
        let response = handle(function, fixture.webhook.request()).await;
        let body = crate::events::body_text(&response);
        fixture.assert_answer("through its handle", response.status().as_u16(), &body);
    }
}

/// The fixtures' world: their worker enrolled (and known to TaskRouter), and
/// an open attempt for each reservation a worker-leg fixture names.
pub async fn seed_world(store: &DynamoStore, twilio: &TwilioFake) {
    let worker_sid = twilio.add_worker(
        WORKER_PHONE,
        &json!({"contact_uri": WORKER_PHONE, "skills": ["sales"], "name": WORKER_NAME}),
        crate::ACTIVITY_OFFLINE,
    );
    let mut profile = WorkerProfile::new(WORKER_PHONE, WORKER_NAME, vec!["sales".into()]);
    profile.worker_sid = Some(worker_sid);
    assert!(
        store
            .put_worker(&profile)
            .await
            .expect("seed worker")
            .applied()
    );
    for reservation_sid in [
        MACHINE_RESERVATION_SID,
        BUSY_RESERVATION_SID,
        NO_ANSWER_RESERVATION_SID,
    ] {
        let attempt = Attempt {
            reservation_sid: reservation_sid.into(),
            task_sid: TASK_SID.into(),
            worker_sid: WORKER_SID.into(),
            phone: WORKER_PHONE.into(),
            skill: "sales".into(),
            caller_call_sid: Some(CUSTOMER_CALL_SID.into()),
            caller: None,
            returning: false,
            queued_at: None,
            kind: TaskKind::Call,
            call_sid: Some(WORKER_CALL_SID.into()),
            state: AttemptState::Dialing,
            outcome: None,
            sip_response_code: None,
            created_at: homeline_core::store::now_secs(),
        };
        assert!(
            store
                .create_attempt(&attempt)
                .await
                .expect("seed attempt")
                .applied()
        );
    }
}
