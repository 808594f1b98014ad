//! Returning callers (`STICKY_DAYS`, issue 15 point 5): the task of a caller
//! a worker answered lately names that worker, for the same skill only, on
//! DynamoDB Local. Run under `scripts/local-stack.sh run -- cargo test -p inbound`.

use homeline_core::App;
use homeline_core::model::LastWorker;
use homeline_core::store::{DynamoStore, LastWorkerStore, now_secs};
use testkit::dynamo::fresh_store;
use testkit::events::{body_text, form_request};
use testkit::sid;

const CUSTOMER: &str = "+15557654321";
const DAY: i64 = 24 * 3600;
/// A TTL past any window these tests try, so only `STICKY_DAYS` decides.
const LONG_TTL: u64 = 400 * 24 * 3600;

async fn line(extra: &[(&str, &str)]) -> App<DynamoStore> {
    App::new(testkit::test_config(extra), fresh_store().await)
}

/// Remembers that worker `worker` answered `caller` for `skill`, `ago` seconds ago.
async fn answered(app: &App<DynamoStore>, caller: &str, skill: &str, worker: u64, ago: i64) {
    let last = LastWorker {
        caller: caller.into(),
        worker_sid: sid("WK", worker),
        phone: format!("+1555000{worker:04}"),
        skill: skill.into(),
        answered_at: now_secs() - ago,
    };
    let written = app.store.remember_last_worker(&last, LONG_TTL).await;
    assert!(written.expect("test setup").applied());
}

/// The `/inbound` answer to a call from `from`, with `extra` parameters.
async fn arrive(app: &App<DynamoStore>, from: &str, extra: &[(&str, &str)]) -> String {
    let mut params = vec![
        ("AccountSid", testkit::ACCOUNT_SID),
        ("CallSid", "CA00000000000000000000000000000c01"),
        ("From", from),
        ("To", "+15550009999"),
    ];
    params.extend_from_slice(extra);
    body_text(&inbound::handle(app.clone(), form_request("/inbound", &[], &params)).await)
}

/// The menu's answer to `digit` for a call from `from`.
async fn choose(app: &App<DynamoStore>, from: &str, digit: &str) -> String {
    let params = [
        ("AccountSid", testkit::ACCOUNT_SID),
        ("CallSid", "CA00000000000000000000000000000c01"),
        ("From", from),
        ("To", "+15550009999"),
        ("Digits", digit),
    ];
    let request = form_request("/inbound/menu", &[("try", "1")], &params);
    body_text(&inbound::handle(app.clone(), request).await)
}

/// The `<Task>` attributes naming worker `worker`, as the body escapes them.
fn names(worker: u64) -> String {
    format!(
        "&quot;last_worker_sid&quot;:&quot;{}&quot;,&quot;returning&quot;:true",
        sid("WK", worker)
    )
}

#[tokio::test]
async fn a_returning_caller_s_task_names_their_last_worker_within_sticky_days() {
    let app = line(&[("SKILLS", "sales")]).await;
    answered(&app, CUSTOMER, "sales", 7, 29 * DAY).await;
    let body = arrive(&app, CUSTOMER, &[]).await;
    assert!(body.contains("<Enqueue"), "{body}");
    assert!(body.contains(&names(7)), "{body}");

    // Through the menu, for the skill the worker answered them for only.
    let app = line(&[]).await;
    answered(&app, CUSTOMER, "support", 8, DAY).await;
    assert!(choose(&app, CUSTOMER, "2").await.contains(&names(8)));
    let sales = choose(&app, CUSTOMER, "1").await;
    assert!(
        sales.contains("<Enqueue") && !sales.contains("last_worker_sid"),
        "{sales}"
    );

    // Someone else calling is a stranger.
    let app = line(&[("SKILLS", "sales")]).await;
    answered(&app, CUSTOMER, "sales", 7, DAY).await;
    let stranger = arrive(&app, "+15557650000", &[]).await;
    assert!(!stranger.contains("last_worker_sid"), "{stranger}");
}

#[tokio::test]
async fn an_answer_older_than_sticky_days_names_nobody() {
    let app = line(&[("SKILLS", "sales"), ("STICKY_DAYS", "7")]).await;
    answered(&app, CUSTOMER, "sales", 7, 8 * DAY).await;
    let body = arrive(&app, CUSTOMER, &[]).await;
    assert!(body.contains("<Enqueue"), "{body}");
    assert!(!body.contains("last_worker_sid"), "{body}");
    assert!(!body.contains("returning"), "{body}");
}

#[tokio::test]
async fn sticky_days_zero_names_nobody() {
    let app = line(&[("SKILLS", "sales"), ("STICKY_DAYS", "0")]).await;
    answered(&app, CUSTOMER, "sales", 7, 60).await;
    let body = arrive(&app, CUSTOMER, &[]).await;
    assert!(body.contains("<Enqueue"), "{body}");
    assert!(!body.contains("last_worker_sid"), "{body}");
}

#[tokio::test]
async fn a_withheld_caller_is_never_a_returning_caller() {
    let app = line(&[("SKILLS", "sales"), ("ANONYMOUS_CALLERS", "allow")]).await;
    // Even were an answer stored under the number Twilio sends for some
    // withheld calls, no lookup is made for it.
    answered(&app, "+266696687", "sales", 7, 60).await;
    for withheld in ["+266696687", "anonymous", ""] {
        let body = arrive(&app, withheld, &[]).await;
        assert!(body.contains("<Enqueue"), "{withheld:?}: {body}");
        assert!(!body.contains("last_worker_sid"), "{withheld:?}: {body}");
    }
}

#[tokio::test]
async fn the_last_worker_rides_beside_the_call_token() {
    let app = line(&[("SKILLS", "sales"), ("WORKER_CALLER_ID", "caller")]).await;
    answered(&app, CUSTOMER, "sales", 7, 60).await;
    let body = arrive(&app, CUSTOMER, &[("CallToken", "calltoken-4f1e")]).await;
    assert!(body.contains(&names(7)), "{body}");
    assert!(
        body.contains("&quot;call_token&quot;:&quot;calltoken-4f1e&quot;"),
        "{body}"
    );
}
