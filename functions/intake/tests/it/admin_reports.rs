//! `stats` and `who`: admins get today's figures and the duty roster in one
//! segment; anyone else a one-line refusal that reveals nothing.

use crate::common;

use common::{ANA, STRANGER, answer, sms};
use homeline_core::App;
use homeline_core::domain::intake::replies::{SEGMENT, septets};
use homeline_core::model::{Activity, WorkerProfile};
use homeline_core::service::call_record::{self, Step, change};
use homeline_core::store::{CallRecordStore, MemoryStore, WorkerStore, now_secs};

const ADMIN: &str = "+15550000001";

async fn app() -> App<MemoryStore> {
    let app = App::new(
        testkit::test_config(&[("ADMIN_NUMBERS", ADMIN), ("TIME_ZONE", "UTC")]),
        MemoryStore::new(),
    );
    let mut ana = WorkerProfile::new(ANA, "Ana", vec!["sales".into()]);
    ana.activity = Some(Activity::Available);
    assert!(app.store.put_worker(&ana).await.expect("put").applied());
    // One call today, answered by Ana 12 s after it came.
    let now = now_secs() - 60;
    let today = call_record::day(app.config.time_zone, now);
    let steps = [
        (
            0,
            Step::Arrived {
                caller: "+15557654321",
                after_hours: false,
            },
        ),
        (
            12,
            Step::Answered {
                by: ANA,
                reservation: "WR00000000000000000000000000000c01",
            },
        ),
    ];
    for (after, step) in steps {
        let record = change("CA00000000000000000000000000000c01", now + after, &[step]);
        assert!(
            app.store
                .merge_call_record(&today, &record, true)
                .await
                .expect("merged")
                .applied()
        );
    }
    app
}

/// The one `<Message>` of the answer.
fn message(xml: &str) -> &str {
    let start = xml.find("<Message>").map(|i| i + "<Message>".len());
    let end = xml.find("</Message>");
    match (start, end) {
        (Some(start), Some(end)) => &xml[start..end],
        _ => panic!("no message: {xml}"),
    }
}

#[tokio::test]
async fn an_admin_gets_today_s_figures_and_who_is_on_duty_in_one_segment() {
    let app = app().await;
    let (status, xml) = answer(&app, sms(ADMIN, "Stats")).await;
    assert_eq!(status, 200);
    let stats = message(&xml);
    assert_eq!(
        stats,
        "Today so far: 1 calls, 1 answered, 0 voicemail, 0 abandoned, 0 after hours. Answer median 12s, p95 12s. Open follow-ups: 0."
    );
    let (_, xml) = answer(&app, sms(ADMIN, "who?")).await;
    assert_eq!(message(&xml), "On duty: Ana (sales)");
    for text in [stats, message(&xml)] {
        assert!(septets(text).is_some_and(|n| n <= SEGMENT), "{text}");
    }
}

#[tokio::test]
async fn a_worker_or_a_stranger_is_refused_and_told_nothing() {
    let app = app().await;
    for (from, refusal) in [
        (
            ANA,
            "Homeline: only the business's admins may ask for that.",
        ),
        (STRANGER, "This number is not on the Homeline roster"),
    ] {
        for body in ["stats", "who"] {
            let (status, xml) = answer(&app, sms(from, body)).await;
            assert_eq!(status, 200);
            let reply = message(&xml).replace("&apos;", "'");
            assert!(reply.starts_with(refusal), "{from} {body}: {reply}");
            assert!(
                !reply.contains("Ana") && !reply.contains("calls"),
                "{reply}"
            );
        }
    }
}
