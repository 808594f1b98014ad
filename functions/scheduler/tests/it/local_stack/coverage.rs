//! The coverage guard against DynamoDB Local and the Twilio fake (every
//! request checked against Twilio's OpenAPI spec): a skill whose only worker
//! went off during business hours is texted to the admins once per
//! `COVERAGE_ALERT_MINS`, never while the line is closed.

use homeline_core::App;
use homeline_core::domain::worker::WorkerEvent;
use homeline_core::model::{Activity, WorkerProfile};
use homeline_core::service::call_record::{Step, change};
use homeline_core::service::worker;
use homeline_core::store::{CallRecordStore, DynamoStore, WorkerStore};
use serde_json::json;
use testkit::dynamo::fresh_store;
use testkit::twilio_fake::TwilioFake;

use super::digest::{HOUR, MIDNIGHT, deadline, texts_to, tick};

const OWNER: &str = "+15550000001";
const ANA: &str = "+15550000011";
const CALLER: &str = "+15557654321";
/// Thursday 2026-12-03, 10:00 in Chicago.
const TEN: i64 = MIDNIGHT + 10 * HOUR;

async fn rig() -> (App<DynamoStore>, TwilioFake) {
    let twilio = TwilioFake::start().await;
    let mut overrides: Vec<(&str, &str)> = twilio.config_overrides().to_vec();
    overrides.extend_from_slice(&[
        ("ADMIN_NUMBERS", OWNER),
        ("TIME_ZONE", "America/Chicago"),
        ("BUSINESS_HOURS", "mon-fri 09:00-17:00"),
        ("SKILLS", "sales"),
        ("COVERAGE_ALERT_MINS", "30"),
        ("FOLLOW_UP_ESCALATE_MINS", "1440"),
    ]);
    let app = App::new(testkit::test_config(&overrides), fresh_store().await);
    let mut ana = WorkerProfile::new(ANA, "Ana", vec!["sales".into()]);
    ana.activity = Some(Activity::Available);
    assert!(app.store.put_worker(&ana).await.expect("put").applied());
    (app, twilio)
}

async fn coverage(app: &App<DynamoStore>, at: i64) -> serde_json::Value {
    scheduler::handle(app, &tick(at), deadline()).await["coverage"].clone()
}

#[tokio::test]
async fn an_uncovered_skill_is_texted_to_the_admins_once_per_window_during_hours_only() {
    let (app, twilio) = rig().await;
    assert_eq!(
        coverage(&app, TEN).await,
        json!({ "uncovered": [], "sent": 0, "failed": 0, "cut_short": false }),
        "Ana covers sales"
    );
    // Ana texts `off` at 10:01: the state change her SMS makes.
    let off = WorkerEvent::OffDuty {
        worker_sid: None,
        until: None,
    };
    worker::apply(&app.store, ANA, &off)
        .await
        .expect("off")
        .expect("enrolled");
    // A caller for sales goes to voicemail meanwhile.
    let steps = [
        (
            0,
            Step::Arrived {
                caller: CALLER,
                after_hours: false,
            },
        ),
        (3, Step::Queued { skill: "sales" }),
        (40, Step::Voicemail),
    ];
    for (after, step) in steps {
        let record = change("CA1", TEN + 90 + after, &[step]);
        let merged = app
            .store
            .merge_call_record("2026-12-03", &record, true)
            .await;
        assert!(merged.expect("merged").applied());
    }

    let alert = "Homeline: nobody is on duty for sales. To voicemail: +15557654321. Workers: text 'on sales'.";
    let first = coverage(&app, TEN + 180).await;
    assert_eq!(
        first,
        json!({ "uncovered": ["sales"], "sent": 1, "failed": 0, "cut_short": false })
    );
    assert_eq!(texts_to(&twilio, OWNER), [alert]);
    for later in [TEN + 180, TEN + 240, TEN + 30 * 60 - 60] {
        assert_eq!(
            coverage(&app, later).await["sent"],
            0,
            "same window at {later}"
        );
    }
    assert_eq!(texts_to(&twilio, OWNER).len(), 1);
    assert_eq!(
        coverage(&app, TEN + 30 * 60).await["sent"],
        1,
        "the next window"
    );
    assert_eq!(texts_to(&twilio, OWNER).len(), 2);

    // Closed at 17:00 and before 09:00: nobody is expected on duty.
    for closed in [
        MIDNIGHT + 17 * HOUR,
        MIDNIGHT + 8 * HOUR + 59 * 60,
        MIDNIGHT + 24 * HOUR + 8 * HOUR,
    ] {
        assert_eq!(
            coverage(&app, closed).await,
            json!({ "uncovered": [], "sent": 0, "failed": 0, "cut_short": false }),
            "closed at {closed}"
        );
    }
    // (17:00 also brings the digest, which is no alert.)
    let texts = texts_to(&twilio, OWNER);
    let alerts = texts.iter().filter(|t| t.contains("nobody is on duty"));
    assert_eq!(alerts.count(), 2);
}
