//! The customer number's status callback, the safety net for a caller who
//! left the queue for voicemail after `ABANDON_SECS` and hung up without a
//! message, on DynamoDB Local and the Twilio fake.
//! Run under `scripts/local-stack.sh run -- cargo test -p inbound`.

use homeline_core::domain::follow_up::LATE_ANNOUNCE_SECS;
use homeline_core::model::{CallRecord, FollowUpReason};
use homeline_core::service::call_record::{self, Step};
use homeline_core::service::follow_up;
use homeline_core::store::{CallRecordStore, DynamoStore, FollowUpStore, at_instant};
use homeline_core::{App, Deadline};
use lambda_http::http::StatusCode;
use std::time::Duration;
use testkit::dynamo::fresh_store;
use testkit::events::{badly_signed_form_request, form_request, unsigned_form_request};
use testkit::twilio_fake::TwilioFake;

const CUSTOMER: &str = "+15557654321";
const ADMIN: &str = "+15550000001";
const WORKER: &str = "+15550000011";
// 2026-12-03T10:00:00-06:00: open whatever the hours.
const T0: i64 = 1_796_313_600;

async fn line() -> (App<DynamoStore>, TwilioFake) {
    let twilio = TwilioFake::start().await;
    let mut overrides: Vec<(&str, &str)> = twilio.config_overrides().to_vec();
    overrides.push(("ADMIN_NUMBERS", ADMIN));
    let config = testkit::test_config(&overrides);
    (App::new(config, fresh_store().await), twilio)
}

fn call_sid(n: u32) -> String {
    format!("CA{n:032x}")
}

/// A webhook of call `n` at `at`, answered with its status.
async fn post(
    app: &App<DynamoStore>,
    at: i64,
    n: u32,
    path: &str,
    query: &[(&str, &str)],
    extra: &[(&str, &str)],
) -> StatusCode {
    let sid = call_sid(n);
    let mut params = vec![
        ("AccountSid", testkit::ACCOUNT_SID),
        ("CallSid", sid.as_str()),
        ("From", CUSTOMER),
        ("To", "+15550009999"),
        ("CallStatus", "in-progress"),
        ("Direction", "inbound"),
    ];
    params.retain(|(k, _)| extra.iter().all(|(e, _)| e != k));
    params.extend_from_slice(extra);
    let request = form_request(path, query, &params);
    // Boxed: a debug build's nested polls of the handler, inline in each
    // helper, outgrow the test thread's stack.
    at_instant(at, Box::pin(inbound::handle(app.clone(), request)))
        .await
        .status()
}

/// Call `n` arrives at `at` and chooses sales at once.
async fn queued(app: &App<DynamoStore>, at: i64, n: u32) {
    assert_eq!(post(app, at, n, "/inbound", &[], &[]).await, StatusCode::OK);
    let digits = [("Digits", "1")];
    let status = post(app, at, n, "/inbound/menu", &[("try", "1")], &digits).await;
    assert_eq!(status, StatusCode::OK);
}

/// Call `n` left the queue at `at` for voicemail (`QueueResult`: `result`).
async fn sent_to_voicemail(app: &App<DynamoStore>, at: i64, n: u32, result: &str, waited: &str) {
    let left = [("QueueResult", result), ("QueueTime", waited)];
    let status = post(
        app,
        at,
        n,
        "/inbound/after-queue",
        &[("skill", "sales")],
        &left,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

/// The status callback of call `n`, ended at `at`.
async fn ended(app: &App<DynamoStore>, at: i64, n: u32) -> StatusCode {
    let completed = [("CallStatus", "completed"), ("CallDuration", "75")];
    post(app, at, n, "/inbound/call-ended", &[], &completed).await
}

/// The recording status callback of call `n`'s message, at `at`.
async fn left_message(app: &App<DynamoStore>, at: i64, n: u32) -> StatusCode {
    let recording_url = format!(
        "https://api.twilio.com/2010-04-01/Accounts/AC00000000000000000000000000000001/Recordings/RE{n:032x}"
    );
    let recording_sid = format!("RE{n:032x}");
    let recording = [
        ("RecordingSid", recording_sid.as_str()),
        ("RecordingUrl", recording_url.as_str()),
        ("RecordingStatus", "completed"),
        ("RecordingDuration", "12"),
    ];
    let query = [("skill", "sales"), ("caller", CUSTOMER)];
    post(app, at, n, "/inbound/recording-status", &query, &recording).await
}

async fn record(app: &App<DynamoStore>, n: u32) -> CallRecord {
    let day = call_record::day(app.config.time_zone, T0);
    app.store
        .get_call_record(&day, &call_sid(n))
        .await
        .expect("read")
        .expect("recorded")
}

/// The scheduler's late announcements at `at`.
async fn announce_late(app: &App<DynamoStore>, at: i64) {
    let deadline = Deadline::after(Duration::from_secs(10));
    let run = at_instant(at, follow_up::announce_late(app, at, deadline)).await;
    assert_eq!(run.expect("listed").failed, 0);
}

fn texted_admin(twilio: &TwilioFake) -> usize {
    twilio
        .messages_sent()
        .iter()
        .filter(|m| m.param("To") == Some(ADMIN))
        .count()
}

#[tokio::test]
async fn a_caller_gone_from_voicemail_without_a_message_is_abandoned_once() {
    let (app, twilio) = line().await;
    queued(&app, T0, 1).await;
    sent_to_voicemail(&app, T0 + 60, 1, "redirected", "60").await;
    for delivery in 0..2 {
        let status = ended(&app, T0 + 70, 1).await;
        assert_eq!(status, StatusCode::OK, "delivery {delivery}");
    }

    let follow_up = app
        .store
        .get_follow_up(&call_sid(1))
        .await
        .expect("read")
        .expect("a follow-up for the caller");
    assert_eq!(follow_up.reason, FollowUpReason::Abandoned);
    assert_eq!(
        (follow_up.caller.as_str(), follow_up.skill.as_str()),
        (CUSTOMER, "sales")
    );
    assert_eq!(
        app.store.list_follow_ups().await.expect("listed").len(),
        1,
        "one follow-up whatever is repeated"
    );
    assert_eq!(
        texted_admin(&twilio),
        0,
        "not before a message could arrive"
    );
    for late in [LATE_ANNOUNCE_SECS, LATE_ANNOUNCE_SECS + 60] {
        announce_late(&app, T0 + 70 + late).await;
    }
    assert_eq!(texted_admin(&twilio), 1, "announced once, late");
    let record = record(&app, 1).await;
    assert_eq!(record.abandoned_at, Some(T0 + 70));
    assert_eq!(record.hung_up_in_queue_at, None);
    twilio.assert_spec_valid();
}

#[tokio::test]
async fn a_message_reported_after_the_call_s_end_makes_its_follow_up_a_voicemail() {
    let (app, twilio) = line().await;
    queued(&app, T0, 1).await;
    sent_to_voicemail(&app, T0 + 60, 1, "redirected", "60").await;
    // The call's end is reported before the recording's callback.
    assert_eq!(ended(&app, T0 + 90, 1).await, StatusCode::OK);
    for delivery in 0..2 {
        let status = left_message(&app, T0 + 95, 1).await;
        assert_eq!(status, StatusCode::OK, "delivery {delivery}");
    }

    let follow_ups = app.store.list_follow_ups().await.expect("listed");
    assert_eq!(follow_ups.len(), 1, "one follow-up for the call");
    let follow_up = &follow_ups[0];
    assert_eq!(follow_up.reason, FollowUpReason::Voicemail);
    assert_eq!(
        follow_up.recording_url.as_deref(),
        Some(format!("https://api.twilio.com/2010-04-01/Accounts/AC00000000000000000000000000000001/Recordings/RE{:032x}", 1).as_str()),
        "the message reached the follow-up"
    );
    let texts: Vec<String> = twilio
        .messages_sent()
        .iter()
        .filter(|m| m.param("To") == Some(ADMIN))
        .filter_map(|m| m.param("Body").map(str::to_string))
        .collect();
    assert_eq!(texts.len(), 1, "announced once, as a voicemail: {texts:?}");
    assert!(texts[0].starts_with("Voicemail #1"), "{texts:?}");
    announce_late(&app, T0 + 90 + LATE_ANNOUNCE_SECS).await;
    assert_eq!(texted_admin(&twilio), 1, "never as a missed call");
    twilio.assert_spec_valid();
}

#[tokio::test]
async fn every_other_ending_changes_nothing() {
    let (app, twilio) = line().await;
    // 1: bridged to a worker.
    queued(&app, T0, 1).await;
    let answered = [Step::Answered {
        by: WORKER,
        reservation: "WR1",
    }];
    let deadline = Deadline::after(Duration::from_secs(5));
    call_record::note(&app, &call_sid(1), T0 + 20, &answered, deadline).await;
    // 2: a voicemail left.
    queued(&app, T0, 2).await;
    sent_to_voicemail(&app, T0 + 60, 2, "leave", "60").await;
    assert_eq!(left_message(&app, T0 + 90, 2).await, StatusCode::OK);
    // 3: redirected after a wait shorter than ABANDON_SECS.
    queued(&app, T0, 3).await;
    sent_to_voicemail(&app, T0 + 3, 3, "redirected", "3").await;
    // 4: hung up in the menu, never queued.
    assert_eq!(
        post(&app, T0, 4, "/inbound", &[], &[]).await,
        StatusCode::OK
    );

    let texted = texted_admin(&twilio);
    let day = call_record::day(app.config.time_zone, T0);
    let records_before = app.store.list_call_records(&day).await.expect("listed");
    let ends = [(1, T0 + 300), (2, T0 + 100), (3, T0 + 5), (4, T0 + 60)];
    for (n, at) in ends {
        assert_eq!(ended(&app, at, n).await, StatusCode::OK, "call {n}");
    }
    assert_eq!(
        app.store.list_call_records(&day).await.expect("listed"),
        records_before
    );
    let open = app.store.list_follow_ups().await.expect("listed");
    let reasons: Vec<FollowUpReason> = open.iter().map(|f| f.reason).collect();
    assert_eq!(reasons, [FollowUpReason::Voicemail], "the voicemail's only");
    assert_eq!(texted_admin(&twilio), texted);
    twilio.assert_spec_valid();
}

#[tokio::test]
async fn a_ringing_call_or_a_malformed_callback_changes_nothing() {
    let (app, twilio) = line().await;
    queued(&app, T0, 1).await;
    let ringing = [("CallStatus", "ringing")];
    let status = post(&app, T0 + 60, 1, "/inbound/call-ended", &[], &ringing).await;
    assert_eq!(status, StatusCode::OK);
    let bogus = [("CallStatus", "over")];
    let status = post(&app, T0 + 60, 1, "/inbound/call-ended", &[], &bogus).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(record(&app, 1).await.abandoned_at, None);
    assert!(twilio.messages_sent().is_empty());
}

#[tokio::test]
async fn a_badly_signed_callback_is_403_and_writes_nothing() {
    let (app, twilio) = line().await;
    queued(&app, T0, 1).await;
    let sid = call_sid(1);
    let params = [
        ("AccountSid", testkit::ACCOUNT_SID),
        ("CallSid", sid.as_str()),
        ("CallStatus", "completed"),
    ];
    for request in [
        badly_signed_form_request("/inbound/call-ended", &[], &params),
        unsigned_form_request("/inbound/call-ended", &[], &params),
    ] {
        let response = at_instant(T0 + 60, inbound::handle(app.clone(), request)).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
    }
    assert_eq!(record(&app, 1).await.abandoned_at, None);
    assert_eq!(app.store.get_follow_up(&sid).await.expect("read"), None);
    assert!(twilio.requests().is_empty());
}
