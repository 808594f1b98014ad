//! The metric lines the customer line emits, through the handler.

use chrono::{Datelike, Duration, Utc};
use homeline_core::App;
use homeline_core::store::MemoryStore;
use lambda_http::http::StatusCode;
use serde_json::Value;
use testkit::events::form_request;
use testkit::metrics::{metric_lines, names};

const CALL: [(&str, &str); 4] = [
    ("AccountSid", testkit::ACCOUNT_SID),
    ("CallSid", "CA00000000000000000000000000000c01"),
    ("From", "+15557654321"),
    ("To", "+15550009999"),
];

async fn post(
    overrides: &[(&str, &str)],
    path: &str,
    query: &[(&str, &str)],
    extra: &[(&str, &str)],
) -> Vec<Value> {
    let app = App::new(testkit::test_config(overrides), MemoryStore::new());
    let params: Vec<(&str, &str)> = CALL.iter().chain(extra).copied().collect();
    let (response, lines) =
        metric_lines(inbound::handle(app, form_request(path, query, &params))).await;
    assert_eq!(response.status(), StatusCode::OK);
    lines
}

#[tokio::test]
async fn a_call_after_hours_is_counted_and_its_voicemail_reason_given() {
    // Open only on the day after tomorrow: closed now.
    let hours = format!("{} 00:00-24:00", (Utc::now() + Duration::days(2)).weekday());
    let lines = post(&[("BUSINESS_HOURS", &hours)], "/inbound", &[], &[]).await;
    assert_eq!(names(&lines), ["CallsArrived", "Voicemails"]);
    assert_eq!(lines[1]["Reason"], "after_hours");
    assert_eq!(
        lines[1]["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "Homeline"
    );
}

#[tokio::test]
async fn a_call_during_hours_is_counted_once() {
    let lines = post(&[], "/inbound", &[], &[]).await;
    assert_eq!(names(&lines), ["CallsArrived"]);
    assert_eq!(lines[0]["CallsArrived"], 1.0);
}

#[tokio::test]
async fn leaving_the_queue_is_an_answer_with_its_wait_an_abandon_or_a_voicemail() {
    let after_queue = |result: &'static str| async move {
        let params = [("QueueResult", result), ("QueueTime", "12")];
        post(&[], "/inbound/after-queue", &[("skill", "sales")], &params).await
    };
    let answered = after_queue("bridged").await;
    assert_eq!(names(&answered), ["CallsAnswered", "TimeToAnswer"]);
    assert_eq!(answered[0]["TimeToAnswer"], 12.0);
    assert_eq!(names(&after_queue("hangup").await), ["CallsAbandoned"]);
    let unanswered = after_queue("leave").await;
    assert_eq!(names(&unanswered), ["Voicemails"]);
    assert_eq!(unanswered[0]["Reason"], "no_answer");
    assert!(after_queue("redirected").await.is_empty());
}
