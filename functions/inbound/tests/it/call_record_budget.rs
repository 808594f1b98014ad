//! A call record write that hangs never holds the caller's answer past
//! `call_record::RECORD_BUDGET`.

use std::time::{Duration, Instant};

use homeline_core::App;
use homeline_core::service::call_record::RECORD_BUDGET;
use homeline_core::store::DynamoStore;
use lambda_http::http::StatusCode;
use testkit::events::{body_text, form_request};

/// A store at an endpoint that accepts connections and never answers:
/// DynamoDB at its slowest (the sockets stay open for the test's life).
async fn hanging_store() -> DynamoStore {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    DynamoStore::local(&endpoint, "homeline-test")
}

#[tokio::test]
async fn a_hanging_store_delays_the_greeting_by_the_record_budget_at_most() {
    let store = hanging_store().await;
    let app = App::new(testkit::test_config(&[]), store);
    let params = [
        ("AccountSid", testkit::ACCOUNT_SID),
        ("CallSid", "CA00000000000000000000000000000c01"),
        ("From", "+15557654321"),
        ("To", "+15550009999"),
    ];
    let started = Instant::now();
    let response = inbound::handle(app, form_request("/inbound", &[], &params)).await;
    let took = started.elapsed();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        body_text(&response).contains("<Gather"),
        "the menu, as ever"
    );
    assert!(
        took < RECORD_BUDGET + Duration::from_millis(500),
        "{took:?}"
    );
}

#[tokio::test]
async fn a_hanging_store_never_holds_the_queue_for_the_caller_s_last_worker() {
    // One skill: the entry reads the caller's last worker before it enqueues.
    let store = hanging_store().await;
    let app = App::new(testkit::test_config(&[("SKILLS", "sales")]), store);
    let params = [
        ("AccountSid", testkit::ACCOUNT_SID),
        ("CallSid", "CA00000000000000000000000000000c02"),
        ("From", "+15557654321"),
        ("To", "+15550009999"),
    ];
    let started = Instant::now();
    let response = inbound::handle(app, form_request("/inbound", &[], &params)).await;
    let took = started.elapsed();
    let body = body_text(&response);
    assert!(body.contains("<Enqueue"), "{body}");
    assert!(!body.contains("last_worker_sid"), "no stickiness: {body}");
    assert!(
        took < RECORD_BUDGET + Duration::from_millis(500),
        "{took:?}"
    );
}
