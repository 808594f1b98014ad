//! Each step of a customer call fills its record, once, on DynamoDB Local.
//! Run under `scripts/local-stack.sh run -- cargo test -p inbound`.

use chrono::{Datelike, Duration, Utc};
use homeline_core::App;
use homeline_core::model::CallRecord;
use homeline_core::service::call_record;
use homeline_core::store::{CallRecordStore, DynamoStore, now_secs};
use lambda_http::http::StatusCode;
use testkit::dynamo::fresh_store;
use testkit::events::form_request;
use testkit::twilio_fake::TwilioFake;

const CUSTOMER: &str = "+15557654321";
const CALL_SID: &str = "CA00000000000000000000000000000c01";

async fn line(extra: &[(&str, &str)]) -> (App<DynamoStore>, TwilioFake) {
    let twilio = TwilioFake::start().await;
    let mut overrides: Vec<(&str, &str)> = twilio.config_overrides().to_vec();
    overrides.extend_from_slice(extra);
    (
        App::new(testkit::test_config(&overrides), fresh_store().await),
        twilio,
    )
}

async fn post(app: &App<DynamoStore>, path: &str, query: &[(&str, &str)], extra: &[(&str, &str)]) {
    let mut params = vec![
        ("AccountSid", testkit::ACCOUNT_SID),
        ("CallSid", CALL_SID),
        ("From", CUSTOMER),
        ("To", "+15550009999"),
        ("CallStatus", "in-progress"),
    ];
    params.extend_from_slice(extra);
    let response = inbound::handle(app.clone(), form_request(path, query, &params)).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
}

/// Today's records (the test runs well inside one local day).
async fn records(app: &App<DynamoStore>) -> Vec<CallRecord> {
    let today = call_record::day(app.config.time_zone, now_secs());
    app.store.list_call_records(&today).await.expect("listed")
}

fn around_now(at: Option<i64>) -> bool {
    at.is_some_and(|at| (now_secs() - 60..=now_secs()).contains(&at))
}

#[tokio::test]
async fn an_abandoned_call_is_recorded_once_whatever_is_repeated() {
    let (app, _twilio) = line(&[("ADMIN_NUMBERS", "+15550000001")]).await;
    let hung_up = [("QueueResult", "hangup"), ("QueueTime", "30")];
    for _ in 0..2 {
        post(&app, "/inbound", &[], &[]).await;
        post(&app, "/inbound/menu", &[("try", "1")], &[("Digits", "1")]).await;
        post(
            &app,
            "/inbound/after-queue",
            &[("skill", "sales")],
            &hung_up,
        )
        .await;
    }
    let first = records(&app).await;
    // A late, different menu answer changes nothing already known.
    post(&app, "/inbound/menu", &[("try", "1")], &[("Digits", "2")]).await;
    assert_eq!(records(&app).await, first);

    let [record] = first.as_slice() else {
        panic!("one record per call: {first:?}");
    };
    assert_eq!(record.call_sid, CALL_SID);
    assert_eq!(record.caller.as_deref(), Some(CUSTOMER));
    assert_eq!(record.skill.as_deref(), Some("sales"));
    assert!(!record.after_hours);
    assert!(around_now(record.arrived_at), "{record:?}");
    assert!(around_now(record.queued_at), "{record:?}");
    assert!(around_now(record.abandoned_at), "{record:?}");
    assert!(around_now(record.hung_up_in_queue_at), "{record:?}");
    assert_eq!(
        (record.answers.as_slice(), record.voicemail_at),
        ([].as_slice(), None)
    );
}

/// The record of one call queued for sales that left the queue with `left`.
async fn left_the_queue(left: &[(&str, &str)]) -> CallRecord {
    let (app, _twilio) = line(&[]).await;
    post(&app, "/inbound", &[], &[]).await;
    post(&app, "/inbound/menu", &[("try", "1")], &[("Digits", "1")]).await;
    post(&app, "/inbound/after-queue", &[("skill", "sales")], left).await;
    let [record] = records(&app).await.try_into().expect("one record");
    record
}

#[tokio::test]
async fn a_short_hang_up_in_the_queue_is_recorded_but_not_abandoned() {
    let record = left_the_queue(&[("QueueResult", "hangup"), ("QueueTime", "5")]).await;
    assert!(around_now(record.hung_up_in_queue_at), "{record:?}");
    assert_eq!(record.abandoned_at, None);
    // Bridged callers leave the queue too, but not by hanging up.
    let record = left_the_queue(&[("QueueResult", "bridged"), ("QueueTime", "40")]).await;
    assert_eq!(
        (record.hung_up_in_queue_at, record.abandoned_at),
        (None, None)
    );
}

#[tokio::test]
async fn an_after_hours_voicemail_is_recorded() {
    // Open only on the day after tomorrow: closed now, whatever the hour.
    let day = (Utc::now() + Duration::days(2)).weekday().to_string();
    let hours = format!("{day} 00:00-24:00");
    let (app, _twilio) = line(&[("BUSINESS_HOURS", &hours), ("TIME_ZONE", "UTC")]).await;
    post(&app, "/inbound", &[], &[]).await;
    let recording = [
        ("RecordingSid", "RE00000000000000000000000000000e01"),
        (
            "RecordingUrl",
            "https://api.twilio.com/2010-04-01/Accounts/AC00000000000000000000000000000001/Recordings/RE00000000000000000000000000000e01",
        ),
        ("RecordingStatus", "completed"),
        ("RecordingDuration", "42"),
    ];
    let query = [("skill", "general"), ("caller", CUSTOMER)];
    post(&app, "/inbound/recording-status", &query, &recording).await;

    let records = records(&app).await;
    let [record] = records.as_slice() else {
        panic!("one record per call: {records:?}");
    };
    assert!(record.after_hours);
    assert!(around_now(record.arrived_at), "{record:?}");
    assert!(around_now(record.voicemail_at), "{record:?}");
    assert_eq!((record.skill.as_ref(), record.queued_at), (None, None));
}
