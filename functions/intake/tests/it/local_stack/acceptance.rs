//! Issue 3's acceptance (and issue 15's `until`s): the intake function
//! against DynamoDB Local and the Twilio fake (every request checked against
//! Twilio's OpenAPI spec by Prism).
//! Run with `scripts/local-stack.sh run -- cargo test -p intake`.

use crate::common;

use std::time::Duration;

use common::{ANA, STRANGER, answer, call, sms};
use homeline_core::App;
use homeline_core::domain::hours::{Clock, ClockTime};
use homeline_core::model::{Activity, Duty, WorkerProfile};
use homeline_core::store::{DynamoStore, WorkerStore, now_secs};
use serde_json::json;
use testkit::dynamo::fresh_store;
use testkit::events;
use testkit::twilio_fake::{RecordedRequest, Route, TwilioFake};
use testkit::{ACTIVITY_AVAILABLE, ACTIVITY_OFFLINE, CALLER_ID};

struct Rig {
    app: App<DynamoStore>,
    twilio: TwilioFake,
}

/// A fresh table with Ana enrolled for `skills`, and a fresh Twilio fake.
async fn rig(skills: &[&str]) -> Rig {
    let twilio = TwilioFake::start().await;
    let app = App::new(twilio.config(), fresh_store().await);
    let ana = WorkerProfile::new(ANA, "Ana", skills.iter().map(|s| s.to_string()).collect());
    assert!(app.store.put_worker(&ana).await.expect("enroll").applied());
    Rig { app, twilio }
}

impl Rig {
    async fn ana(&self) -> WorkerProfile {
        self.app
            .store
            .get_worker(ANA)
            .await
            .expect("get")
            .expect("Ana enrolled")
    }

    /// Every item of the table, to prove a request wrote nothing.
    async fn table_items(&self) -> Vec<String> {
        let scan = self
            .app
            .store
            .client()
            .scan()
            .table_name(self.app.store.table())
            .consistent_read(true)
            .send()
            .await
            .expect("scan");
        let mut items: Vec<String> = scan
            .items()
            .iter()
            .map(|item| {
                let mut fields: Vec<String> =
                    item.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
                fields.sort();
                fields.join(",")
            })
            .collect();
        items.sort();
        items
    }

    async fn assert_online_for(&self, skills: &[&str]) {
        let ana = self.ana().await;
        assert_eq!(ana.activity, Some(Activity::Available));
        assert_eq!(ana.skills, skills);
    }

    async fn sms(&self, from: &str, body: &str) -> String {
        let (status, xml) = answer(&self.app, sms(from, body)).await;
        assert_eq!(status, 200, "{xml}");
        xml
    }

    async fn call(&self, path: &str, attempt: &str, digits: Option<&str>) -> String {
        let (status, xml) =
            answer(&self.app, call(path, &[("attempt", attempt)], ANA, digits)).await;
        assert_eq!(status, 200, "{xml}");
        xml
    }
}

/// The worker attributes a create or update sent.
fn attributes(request: &RecordedRequest) -> serde_json::Value {
    let raw = request.param("Attributes").expect("Attributes sent");
    serde_json::from_str(raw).expect("Attributes are JSON")
}

/// The SMS text of a `<Message>` reply, XML entities decoded.
fn message(xml: &str) -> String {
    let start = xml.find("<Message>").map_or(0, |i| i + "<Message>".len());
    let end = xml.find("</Message>").unwrap_or(xml.len());
    xml[start..end]
        .replace("&apos;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[tokio::test]
async fn stranger_sms_and_call_are_refused_with_no_writes_and_no_twilio_calls() {
    let rig = rig(&["sales"]).await;
    let before = rig.table_items().await;
    for body in ["on sales", "off", "status", "menu"] {
        let xml = rig.sms(STRANGER, body).await;
        assert!(
            message(&xml).starts_with("This number is not on the Homeline roster"),
            "{xml}"
        );
    }
    for (path, digits) in [
        ("/intake/voice", None),
        ("/intake/voice/menu", Some("1")),
        ("/intake/voice/skill", Some("1")),
    ] {
        let (status, xml) = answer(&rig.app, call(path, &[], STRANGER, digits)).await;
        assert_eq!(status, 200);
        assert!(
            xml.contains("not enrolled") && xml.ends_with("<Hangup/></Response>"),
            "{xml}"
        );
    }
    assert_eq!(rig.table_items().await, before);
    assert!(
        rig.twilio.requests().is_empty(),
        "{:?}",
        rig.twilio.requests()
    );
}

#[tokio::test]
async fn bad_signature_is_403_and_nothing_changes() {
    let rig = rig(&["sales"]).await;
    let before = rig.table_items().await;
    let params = [
        ("MessageSid", common::MESSAGE_SID),
        ("From", ANA),
        ("To", CALLER_ID),
        ("Body", "on sales"),
    ];
    for request in [
        events::badly_signed_form_request("/intake/sms", &[], &params),
        events::unsigned_form_request("/intake/sms", &[], &params),
        events::badly_signed_form_request("/intake/voice/skill", &[("attempt", "1")], &params),
    ] {
        assert_eq!(answer(&rig.app, request).await.0, 403);
    }
    // A signed URL whose query was changed afterwards (attempt=1 -> 2).
    let mut event = events::form_event("/intake/voice/menu", &[("attempt", "1")], &params);
    event["rawQueryString"] = json!("attempt=2");
    assert_eq!(answer(&rig.app, events::request(&event)).await.0, 403);
    assert_eq!(rig.table_items().await, before);
    assert!(rig.twilio.requests().is_empty());
}

#[tokio::test]
async fn on_sales_creates_the_worker_available_with_the_right_attributes() {
    let rig = rig(&["support"]).await;
    let xml = rig.sms(ANA, "  On SALES ").await;
    let reply = message(&xml);
    assert!(reply.starts_with("You're online for sales."), "{reply}");
    assert!(
        reply.contains(&format!("Save {CALLER_ID} as a contact")),
        "{reply}"
    );

    let created = rig.twilio.workers_created();
    assert_eq!(created.len(), 1);
    let request = &created[0];
    assert_eq!(request.param("FriendlyName"), Some(ANA));
    assert_eq!(request.param("ActivitySid"), Some(ACTIVITY_AVAILABLE));
    let attributes = attributes(request);
    // No offers yet: the full answer score (issue 17).
    assert_eq!(
        attributes,
        json!({"contact_uri": ANA, "skills": ["sales"], "name": "Ana", "answer_score": 100})
    );

    let worker_sid = request.sid.clone().expect("created SID");
    let worker = rig.twilio.worker(&worker_sid).expect("worker");
    assert_eq!(worker.activity_sid, ACTIVITY_AVAILABLE);

    let ana = rig.ana().await;
    assert_eq!(ana.worker_sid.as_deref(), Some(worker_sid.as_str()));
    assert_eq!(ana.activity, Some(Activity::Available));
    assert_eq!(ana.skills, vec!["sales"]);
    rig.twilio.assert_spec_valid();
}

#[tokio::test]
async fn repeating_on_is_harmless_and_on_alone_reuses_the_last_skills() {
    let rig = rig(&["sales"]).await;
    rig.sms(ANA, "on support").await;
    let xml = rig.sms(ANA, "on support").await;
    assert_eq!(
        message(&xml),
        "You're online for support. Text OFF to stop."
    );
    rig.sms(ANA, "off").await;
    let xml = rig.sms(ANA, "on").await;
    assert_eq!(
        message(&xml),
        "You're online for support. Text OFF to stop."
    );

    assert_eq!(rig.twilio.workers_created().len(), 1, "created once");
    assert_eq!(rig.twilio.workers().len(), 1);
    let last = rig.twilio.worker_updates().pop().expect("updates");
    assert_eq!(last.param("ActivitySid"), Some(ACTIVITY_AVAILABLE));
    let attributes = attributes(&last);
    assert_eq!(attributes["skills"], json!(["support"]));
    rig.assert_online_for(&["support"]).await;
    rig.twilio.assert_spec_valid();
}

#[tokio::test]
async fn off_sets_offline_rejecting_pending_reservations() {
    let rig = rig(&["sales"]).await;
    rig.sms(ANA, "on sales").await;
    let xml = rig.sms(ANA, "OFF").await;
    assert_eq!(message(&xml), "You're offline: no calls until you text ON.");

    let worker_sid = rig.ana().await.worker_sid.expect("worker SID");
    let updates = rig.twilio.worker_updates();
    let off = updates.last().expect("update");
    assert_eq!(off.path_sid("Workers"), Some(worker_sid.as_str()));
    assert_eq!(off.param("ActivitySid"), Some(ACTIVITY_OFFLINE));
    assert_eq!(off.param("RejectPendingReservations"), Some("true"));
    assert_eq!(
        rig.twilio.worker(&worker_sid).expect("worker").activity_sid,
        ACTIVITY_OFFLINE
    );
    assert_eq!(rig.ana().await.activity, Some(Activity::Offline));
    rig.twilio.assert_spec_valid();
}

#[tokio::test]
async fn status_reports_activity_and_skills_without_twilio() {
    let rig = rig(&["sales"]).await;
    let xml = rig.sms(ANA, "status").await;
    assert_eq!(
        message(&xml),
        "Homeline: you are offline. Text ON to take calls."
    );
    rig.sms(ANA, "on sales").await;
    let before = rig.twilio.requests().len();
    let xml = rig.sms(ANA, "Status").await;
    assert_eq!(
        message(&xml),
        "Homeline: you are online for sales. Text OFF to stop."
    );
    assert_eq!(
        rig.twilio.requests().len(),
        before,
        "status reads the table only"
    );
}

#[tokio::test]
async fn unknown_skill_and_unknown_command_change_nothing() {
    let rig = rig(&["sales"]).await;
    let before = rig.table_items().await;
    let xml = rig.sms(ANA, "on sales billing").await;
    assert_eq!(
        message(&xml),
        "Unknown skill billing. Nothing changed. Skills: sales, support."
    );
    for body in ["hello", "menu", "help me", "start sales"] {
        let xml = rig.sms(ANA, body).await;
        assert_eq!(
            message(&xml),
            "Homeline: text ON <skill> to take calls, OFF to stop, STATUS to check, MISSED for callers to call back, MENU for this list. Skills: sales, support.",
            "{body}"
        );
    }
    assert_eq!(rig.table_items().await, before);
    assert!(rig.twilio.requests().is_empty());
}

#[tokio::test]
async fn voice_menu_online_asks_the_skill_then_confirms() {
    let rig = rig(&["sales"]).await;
    let xml = rig.call("/intake/voice", "1", None).await;
    assert!(xml.contains("Hello Ana. You are offline."), "{xml}");
    let xml = rig.call("/intake/voice/menu", "1", Some("1")).await;
    assert!(
        xml.contains("For sales, press 1. For support, press 2."),
        "{xml}"
    );
    assert!(
        xml.contains("https://homeline.example.com/intake/voice/skill?attempt=1"),
        "{xml}"
    );
    let xml = rig.call("/intake/voice/skill", "1", Some("2")).await;
    assert!(
        xml.contains("<Say>You are now online for support. Goodbye.</Say><Hangup/>"),
        "{xml}"
    );

    let created = rig.twilio.workers_created();
    assert_eq!(created.len(), 1);
    let attributes = attributes(&created[0]);
    assert_eq!(attributes["skills"], json!(["support"]));
    rig.assert_online_for(&["support"]).await;
    // Caller ID is no proof: the worker's phone is texted of the change.
    let texts = rig.twilio.messages_sent();
    assert_eq!(texts.len(), 1);
    assert_eq!(texts[0].param("To"), Some(ANA));
    assert_eq!(
        texts[0].param("Body"),
        Some(
            "Homeline: you went on duty by phone just now, for support. Not you? Text OFF and tell your manager."
        )
    );
    rig.twilio.assert_spec_valid();
}

#[tokio::test]
async fn voice_menu_offline_and_status() {
    let rig = rig(&["sales"]).await;
    rig.sms(ANA, "on sales").await;
    let xml = rig.call("/intake/voice", "1", None).await;
    assert!(
        xml.contains("Hello Ana. You are online for sales."),
        "{xml}"
    );
    let xml = rig.call("/intake/voice/menu", "1", Some("3")).await;
    assert!(
        xml.contains("<Say>You are online for sales.</Say>"),
        "{xml}"
    );
    assert!(
        xml.contains("/intake/voice/menu?attempt=1"),
        "the menu is offered again: {xml}"
    );
    let xml = rig.call("/intake/voice/menu", "1", Some("2")).await;
    assert!(
        xml.contains("<Say>You are now offline. Goodbye.</Say><Hangup/>"),
        "{xml}"
    );
    let off = rig.twilio.worker_updates().pop().expect("update");
    assert_eq!(off.param("ActivitySid"), Some(ACTIVITY_OFFLINE));
    assert_eq!(off.param("RejectPendingReservations"), Some("true"));
    assert_eq!(rig.ana().await.activity, Some(Activity::Offline));
    let sent = rig.twilio.messages_sent();
    let by_phone: Vec<&str> = sent
        .iter()
        .filter_map(|m| m.param("Body"))
        .filter(|b| b.contains("by phone"))
        .collect();
    assert_eq!(
        by_phone,
        ["Homeline: you went off duty by phone just now. Not you? Text ON and tell your manager."],
        "the keypad's `off` is texted; the SMS `on` was answered by its reply"
    );
    rig.twilio.assert_spec_valid();
}

#[tokio::test]
async fn voice_menu_no_input_repeats_once_then_says_goodbye() {
    let rig = rig(&["sales"]).await;
    let before = rig.table_items().await;
    let xml = rig.call("/intake/voice/menu", "1", None).await;
    assert!(xml.contains("Sorry, I didn&apos;t get that."), "{xml}");
    assert!(
        xml.contains("<Gather") && xml.contains("/intake/voice/menu?attempt=2"),
        "{xml}"
    );
    let xml = rig.call("/intake/voice/menu", "2", None).await;
    assert!(
        xml.ends_with("<Say>Goodbye.</Say><Hangup/></Response>"),
        "{xml}"
    );
    assert!(!xml.contains("<Gather"), "{xml}");
    assert_eq!(rig.table_items().await, before);
    assert!(rig.twilio.requests().is_empty());
}

#[tokio::test]
async fn two_concurrent_first_on_create_one_taskrouter_worker() {
    let rig = rig(&["sales"]).await;
    // Both creates are in flight together: Twilio acts at once, answers late.
    rig.twilio
        .delay(Route::CreateWorker, Duration::from_millis(300));
    let (a, b) = tokio::join!(
        answer(&rig.app, sms(ANA, "on sales")),
        answer(&rig.app, sms(ANA, "on sales"))
    );
    for (status, xml) in [a, b] {
        assert_eq!(status, 200);
        assert!(
            message(&xml).starts_with("You're online for sales."),
            "{xml}"
        );
    }
    let workers = rig.twilio.workers();
    assert_eq!(workers.len(), 1, "{workers:?}");
    assert_eq!(
        rig.twilio.requests_for(Route::CreateWorker).len(),
        2,
        "both tried"
    );
    let ana = rig.ana().await;
    assert_eq!(ana.worker_sid.as_deref(), Some(workers[0].sid.as_str()));
    assert_eq!(ana.activity, Some(Activity::Available));
    rig.twilio.assert_spec_valid();
}

#[tokio::test]
async fn twilio_500_on_the_update_gets_a_friendly_reply_and_leaves_state_consistent() {
    let rig = rig(&["sales"]).await;
    rig.sms(ANA, "on sales").await;
    let online = rig.ana().await;
    let worker_sid = online.worker_sid.clone().expect("worker SID");
    // Twilio keeps failing for longer than the webhook's budget.
    rig.twilio.fail_next(Route::UpdateWorker, 10_000, 500);
    let xml = rig.sms(ANA, "off").await;
    assert_eq!(
        message(&xml),
        "Homeline couldn't update right now, please try again in a minute."
    );
    // Neither side moved: the table still says what TaskRouter says.
    assert_eq!(rig.ana().await, online);
    assert_eq!(
        rig.twilio.worker(&worker_sid).expect("worker").activity_sid,
        ACTIVITY_AVAILABLE
    );
    assert!(
        rig.twilio.requests_for(Route::UpdateWorker).len() > 1,
        "retried"
    );
    // The voice menu's offline meets the same failure: an apology, not silence.
    let xml = rig.call("/intake/voice/menu", "1", Some("2")).await;
    assert!(
        xml.contains("couldn&apos;t update right now") && xml.ends_with("<Hangup/></Response>"),
        "{xml}"
    );
    assert_eq!(rig.ana().await, online);
    rig.twilio.assert_spec_valid();
}

#[tokio::test]
async fn twilio_500_on_the_first_create_leaves_no_half_made_worker() {
    let rig = rig(&["sales"]).await;
    rig.twilio.fail_next(Route::CreateWorker, 10_000, 500);
    let before = rig.table_items().await;
    let xml = rig.sms(ANA, "on sales").await;
    assert!(
        message(&xml).starts_with("Homeline couldn't update right now"),
        "{xml}"
    );
    assert_eq!(rig.table_items().await, before);
    assert!(rig.twilio.workers().is_empty());
}

#[tokio::test]
async fn a_worker_in_taskrouter_but_not_in_the_table_is_found_not_duplicated() {
    // An earlier `on` reached TaskRouter but its table write failed.
    let rig = rig(&["sales"]).await;
    let attributes = json!({"contact_uri": ANA, "skills": ["sales"], "name": "Ana"});
    let stray = rig.twilio.add_worker(ANA, &attributes, ACTIVITY_AVAILABLE);
    // `off` finds it by FriendlyName and takes it offline.
    let xml = rig.sms(ANA, "off").await;
    assert_eq!(message(&xml), "You're offline: no calls until you text ON.");
    assert_eq!(
        rig.twilio.worker(&stray).expect("worker").activity_sid,
        ACTIVITY_OFFLINE
    );
    assert_eq!(rig.ana().await.worker_sid.as_deref(), Some(stray.as_str()));
    // And with the SID forgotten again, `on` meets the 409 and reuses it.
    let mut ana = rig.ana().await;
    ana.worker_sid = None;
    assert!(rig.app.store.put_worker(&ana).await.expect("put").applied());
    rig.sms(ANA, "on sales").await;
    assert_eq!(rig.twilio.workers().len(), 1);
    assert_eq!(
        rig.twilio.worker(&stray).expect("worker").activity_sid,
        ACTIVITY_AVAILABLE
    );
    let ana = rig.ana().await;
    assert_eq!(
        (ana.worker_sid.as_deref(), ana.activity),
        (Some(stray.as_str()), Some(Activity::Available))
    );
    rig.twilio.assert_spec_valid();
}

#[tokio::test]
async fn off_for_a_worker_never_online_changes_nothing() {
    let rig = rig(&["sales"]).await;
    let before = rig.table_items().await;
    let xml = rig.sms(ANA, "offline").await;
    assert_eq!(message(&xml), "You're offline: no calls until you text ON.");
    assert_eq!(rig.table_items().await, before);
    assert!(rig.twilio.worker_updates().is_empty());
    rig.twilio.assert_spec_valid();
}

#[tokio::test]
async fn going_online_clears_the_miss_count() {
    let rig = rig(&["sales"]).await;
    let mut ana = rig.ana().await;
    ana.misses = 2;
    ana.missed_total = 5;
    ana.activity = Some(Activity::Unavailable);
    assert!(rig.app.store.put_worker(&ana).await.expect("put").applied());
    rig.sms(ANA, "on").await;
    let ana = rig.ana().await;
    assert_eq!((ana.misses, ana.missed_total), (0, 5));
    assert_eq!(ana.activity, Some(Activity::Available));
}

/// Every word Twilio intercepts (docs/twilio.md, "Carrier keywords").
const CARRIER_KEYWORDS: [&str; 13] = [
    "STOP",
    "stopall",
    "Unsubscribe",
    "cancel",
    "END",
    "quit",
    "revoke",
    "optout",
    "START",
    "yes",
    "unstop",
    "HELP",
    "info",
];

/// An empty `<Response/>`: no second reply after Twilio's own.
fn assert_no_reply(xml: &str, body: &str) {
    assert!(!xml.contains("<Message"), "{body}: {xml}");
    assert!(xml.contains("<Response"), "{body}: {xml}");
}

#[tokio::test]
async fn no_carrier_keyword_gets_a_reply_from_anyone() {
    let rig = rig(&["sales"]).await;
    for body in CARRIER_KEYWORDS {
        assert_no_reply(&rig.sms(STRANGER, body).await, body);
        assert_no_reply(&rig.sms(ANA, body).await, body);
    }
    // START did not put Ana on duty, and no SMS went out over REST.
    assert_ne!(rig.ana().await.activity, Some(Activity::Available));
    assert!(rig.twilio.requests_for(Route::SendMessage).is_empty());
    // Twilio's OptOutType decides when it is sent, whatever the body.
    let typed = events::form_request(
        "/intake/sms",
        &[],
        &[
            ("MessageSid", common::MESSAGE_SID),
            ("From", ANA),
            ("To", CALLER_ID),
            ("Body", "Stop texting me"),
            ("OptOutType", "STOP"),
        ],
    );
    let (status, xml) = answer(&rig.app, typed).await;
    assert_eq!(status, 200);
    assert_no_reply(&xml, "OptOutType=STOP");
    assert!(rig.ana().await.sms_blocked);
}

#[tokio::test]
async fn stop_takes_the_worker_off_duty_at_once_and_blocks_sms_until_start() {
    let rig = rig(&["sales"]).await;
    rig.sms(ANA, "on sales").await;
    let worker_sid = rig.ana().await.worker_sid.expect("worker SID");

    assert_no_reply(&rig.sms(ANA, "Stop").await, "Stop");
    let updates = rig.twilio.worker_updates();
    let off = updates.last().expect("update");
    assert_eq!(off.path_sid("Workers"), Some(worker_sid.as_str()));
    assert_eq!(off.param("ActivitySid"), Some(ACTIVITY_OFFLINE));
    assert_eq!(off.param("RejectPendingReservations"), Some("true"));
    let ana = rig.ana().await;
    assert!(ana.sms_blocked);
    assert_eq!(ana.activity, Some(Activity::Offline));

    // Blocked: commands still work, without a reply Twilio would refuse.
    assert_no_reply(&rig.sms(ANA, "status").await, "status");

    let before = rig.twilio.worker_updates().len();
    assert_no_reply(&rig.sms(ANA, "start").await, "start");
    let ana = rig.ana().await;
    assert!(!ana.sms_blocked);
    assert_eq!(ana.activity, Some(Activity::Offline), "START is no `on`");
    assert_eq!(
        rig.twilio.worker_updates().len(),
        before,
        "TaskRouter untouched"
    );

    let xml = rig.sms(ANA, "on").await;
    assert_eq!(message(&xml), "You're online for sales. Text OFF to stop.");
    rig.assert_online_for(&["sales"]).await;
    rig.twilio.assert_spec_valid();
}

impl Rig {
    /// The line's clock (`TIME_ZONE`) now.
    fn clock(&self) -> Clock {
        Clock::new(self.app.config.time_zone, now_secs())
    }

    /// When `time` next comes, as an SMS sent between `before` and now
    /// resolved it.
    fn next(&self, time: &str, before: i64) -> Vec<i64> {
        let time = ClockTime::parse(time).expect("a time");
        let zone = self.app.config.time_zone;
        [before, now_secs()]
            .map(|now| Clock::new(zone, now).next(time))
            .to_vec()
    }
}

#[tokio::test]
async fn on_until_goes_on_duty_says_when_it_ends_and_a_plain_on_forgets_it() {
    let rig = rig(&["sales"]).await;
    let before = now_secs();
    let xml = rig.sms(ANA, "on sales until 5pm").await;
    let ana = rig.ana().await;
    let until = ana.duty_until.expect("a pending until");
    assert!(rig.next("5pm", before).contains(&until.at), "{until:?}");
    assert_eq!(until.then, Duty::Off);
    assert_eq!(ana.activity, Some(Activity::Available));
    let label = rig.clock().label(until.at);
    assert!(
        message(&xml).starts_with(&format!("You're online for sales until {label}. Save")),
        "{xml}"
    );
    let created = rig.twilio.workers_created();
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].param("ActivitySid"), Some(ACTIVITY_AVAILABLE));
    assert!(
        message(&rig.sms(ANA, "status").await).contains(&format!("for sales until {label}")),
        "status names the until"
    );
    // A plain `on` forgets it.
    rig.sms(ANA, "on").await;
    assert_eq!(rig.ana().await.duty_until, None);
    rig.twilio.assert_spec_valid();
}

#[tokio::test]
async fn off_until_goes_off_duty_until_then_and_a_keypad_on_forgets_it() {
    let rig = rig(&["sales"]).await;
    rig.sms(ANA, "on sales").await;
    let before = now_secs();
    let xml = rig.sms(ANA, "Off until 1 PM").await;
    let ana = rig.ana().await;
    let until = ana.duty_until.expect("a pending until");
    assert!(rig.next("1pm", before).contains(&until.at), "{until:?}");
    assert_eq!(
        (until.then, ana.activity),
        (Duty::On, Some(Activity::Offline))
    );
    let label = rig.clock().label(until.at);
    assert_eq!(
        message(&xml),
        format!(
            "You're offline until {label}, then back on for sales. Text ON to come back sooner."
        )
    );
    let off = rig.twilio.worker_updates().pop().expect("update");
    assert_eq!(off.param("ActivitySid"), Some(ACTIVITY_OFFLINE));
    assert_eq!(off.param("RejectPendingReservations"), Some("true"));
    // On by the keypad (1, then sales) forgets it.
    rig.call("/intake/voice/skill", "1", Some("1")).await;
    let ana = rig.ana().await;
    assert_eq!(
        (ana.activity, ana.duty_until),
        (Some(Activity::Available), None)
    );
    rig.twilio.assert_spec_valid();
}

#[tokio::test]
async fn an_unreadable_until_gets_an_example_and_changes_nothing() {
    let rig = rig(&["sales"]).await;
    rig.sms(ANA, "on sales").await;
    let before = rig.table_items().await;
    let requests = rig.twilio.requests().len();
    for body in [
        "on sales until 5",
        "on until",
        "off until later",
        "off till 25:00",
    ] {
        assert_eq!(
            message(&rig.sms(ANA, body).await),
            "Nothing changed: give a time like 5pm, 5:30pm, 17:00 or noon, e.g. ON SALES UNTIL 5PM or OFF UNTIL 1PM.",
            "{body}"
        );
    }
    assert_eq!(rig.table_items().await, before);
    assert_eq!(rig.twilio.requests().len(), requests, "no Twilio request");
}

#[tokio::test]
async fn a_stranger_s_until_changes_nothing() {
    let rig = rig(&["sales"]).await;
    let before = rig.table_items().await;
    for body in ["on sales until 5pm", "off until 1pm"] {
        assert!(
            message(&rig.sms(STRANGER, body).await)
                .starts_with("This number is not on the Homeline roster"),
            "{body}"
        );
    }
    assert_eq!(rig.table_items().await, before);
    assert!(rig.twilio.requests().is_empty());
}
