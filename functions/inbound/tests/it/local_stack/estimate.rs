//! The estimated wait (issue 15 point 3) on DynamoDB Local: answers noted by
//! their one writer (`service::estimate::note_answer`), then the caller's
//! first wait document says the estimate only when it is honest. Run under
//! `scripts/local-stack.sh run -- cargo test -p inbound`.

use homeline_core::domain::attempt::dialing;
use homeline_core::model::Attempt;
use homeline_core::store::{DynamoStore, WaitStore, now_secs};
use homeline_core::{App, Deadline};
use testkit::dynamo::fresh_store;
use testkit::events::{body_text, form_request};
use testkit::{PUBLIC_BASE_URL, sid};

async fn line(extra: &[(&str, &str)]) -> App<DynamoStore> {
    App::new(testkit::test_config(extra), fresh_store().await)
}

/// `count` callers of sales answered just now, each after `wait` seconds.
async fn answered(app: &App<DynamoStore>, count: u64, wait: i64) {
    for n in 0..count {
        let attempt = Attempt {
            queued_at: Some(now_secs() - wait),
            ..dialing(
                &sid("WR", n),
                &sid("WT", n),
                &sid("WK", 1),
                "+15550001111",
                "sales",
                None,
                now_secs(),
            )
        };
        let deadline = Deadline::after(std::time::Duration::from_secs(5));
        homeline_core::service::estimate::note_answer(&app.store, &attempt, deadline).await;
    }
    let noted = app.store.recent_waits("sales").await.expect("readable");
    assert_eq!(noted.waits.len(), usize::try_from(count).expect("small"));
}

/// The wait document for the sales caller at `position` after `queue_time` s.
async fn wait(app: &App<DynamoStore>, position: &str, queue_time: &str) -> String {
    let params = [
        ("AccountSid", testkit::ACCOUNT_SID),
        ("CallSid", "CA00000000000000000000000000000c01"),
        ("From", "+15557654321"),
        ("To", "+15550009999"),
        ("QueuePosition", position),
        ("QueueTime", queue_time),
    ];
    let request = form_request("/inbound/wait", &[("skill", "sales")], &params);
    body_text(&inbound::handle(app.clone(), request).await)
}

/// Asserts `body` announces `position` and no estimate.
fn no_estimate(body: &str, position: u32, why: &str) {
    assert!(
        body.contains(&format!("caller number {position}.")) && !body.contains("Your wait"),
        "{why}: {body}"
    );
}

/// The same document as the golden `wait_hold_estimate`
/// (core/tests/fixtures/twiml/, written by Twilio's own library).
#[tokio::test]
async fn recent_answers_give_the_first_wait_document_an_estimate() {
    let app = line(&[]).await;
    answered(&app, 5, 40).await;
    assert_eq!(
        wait(&app, "2", "0").await,
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Gather input="dtmf" numDigits="1" action="{PUBLIC_BASE_URL}/inbound/wait-key?skill=sales" timeout="1"><Say>You are caller number 2.</Say><Say>Your wait is about 2 minutes.</Say><Say>Press 1 for a callback, 2 for voicemail.</Say><Play loop="1">{PUBLIC_BASE_URL}/inbound/hold-music</Play></Gather></Response>"#
        )
    );
    assert!(
        wait(&app, "1", "3")
            .await
            .contains("<Say>Your wait is less than a minute.</Say>"),
        "still the first fetch"
    );
    no_estimate(
        &wait(&app, "1", "30").await,
        1,
        "said on the first fetch only",
    );
}

#[tokio::test]
async fn too_few_recent_answers_say_no_estimate() {
    let app = line(&[]).await;
    answered(&app, 4, 40).await;
    no_estimate(&wait(&app, "1", "0").await, 1, "4 answers are too few");
}

#[tokio::test]
async fn an_estimate_beyond_max_wait_is_not_promised() {
    // 100 s a caller, position 2: about 4 minutes.
    let short = line(&[("MAX_WAIT_SECS", "180")]).await;
    answered(&short, 5, 100).await;
    no_estimate(
        &wait(&short, "2", "0").await,
        2,
        "180 s cannot keep 4 minutes",
    );
    let long = line(&[("MAX_WAIT_SECS", "300")]).await;
    answered(&long, 5, 100).await;
    assert!(
        wait(&long, "2", "0")
            .await
            .contains("<Say>Your wait is about 4 minutes.</Say>")
    );
}
